/* Tools that write GGUF files (pocketlm quantize, pocketlm synth): tensors are converted or
 * generated a few rows at a time and streamed to the caller's write function, so memory
 * stays at the input file plus about one chunk of output. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gguf.h"
#include "gguf_write.h"
#include "quant.h"
#include "util.h"

#ifdef __EMSCRIPTEN__
#include <emscripten.h>
/* The wasm default sink: JS writes the bytes (see pl_write_fn in pocketlm.h). */
EM_JS(int, js_write, (void *user, const void *data, size_t n), {
    return Module['plWrite'](user, HEAPU8.subarray(data >>> 0, (data >>> 0) + (n >>> 0)));
});
static int js_sink(void *user, const void *data, size_t n) { return js_write(user, data, n); }
#endif

#define CHUNK_BYTES (1 << 20)     /* output bytes converted between two writes */
#define QUANT_VERSION 2           /* ggml's GGML_QNT_VERSION: the current block layouts */

/* Types the tools write, with llama.cpp's general.file_type for a model of that type. */
static const struct {
    uint32_t type, file_type;
} output_types[] = {
    {PL_TYPE_F32, 0},   {PL_TYPE_F16, 1},   {PL_TYPE_BF16, 32}, {PL_TYPE_Q4_0, 2},
    {PL_TYPE_Q4_1, 3},  {PL_TYPE_Q5_0, 8},  {PL_TYPE_Q5_1, 9},  {PL_TYPE_Q8_0, 7},
    {PL_TYPE_Q2_K, 10}, {PL_TYPE_Q3_K, 11}, {PL_TYPE_Q4_K, 14}, {PL_TYPE_Q5_K, 16},
    {PL_TYPE_Q6_K, 18},   /* K types: llama.cpp's "_S" mixes, the ones of a single type */
};
#define N_OUTPUT_TYPES (sizeof output_types / sizeof output_types[0])

static int same_name(const char *a, const char *b) {   /* ASCII, case-insensitive */
    for (; *a && *b; a++, b++) {
        char x = *a >= 'a' && *a <= 'z' ? *a - 32 : *a, y = *b >= 'a' && *b <= 'z' ? *b - 32 : *b;
        if (x != y) return 0;
    }
    return *a == *b;
}

/* Index into output_types of a type name. */
static int parse_type(const char *name, int *index, pl_err *err) {
    char list[160] = "";
    for (size_t i = 0; i < N_OUTPUT_TYPES; i++) {
        const char *t = pl_type_name(output_types[i].type);
        if (name && same_name(name, t)) {
            *index = (int)i;
            return PL_OK;
        }
        strcat(strcat(list, i ? " " : ""), t);
    }
    return pl_fail(err, PL_ERR_INVALID_ARGUMENT, "unknown output type '%s' (types: %s)",
                   name ? name : "(none)", list);
}

/* The type a matrix with rows of ne0 values gets when type is asked for: llama.cpp's
 * fallbacks when the row is not a whole number of blocks. */
static uint32_t row_type(uint32_t type, int64_t ne0) {
    int block_elems, block_bytes;
    pl_type_block(type, &block_elems, &block_bytes);
    if (ne0 % block_elems == 0) return type;
    switch (type) {
    case PL_TYPE_Q2_K: case PL_TYPE_Q3_K: type = PL_TYPE_Q4_0; break;
    case PL_TYPE_Q4_K: type = PL_TYPE_Q5_0; break;
    case PL_TYPE_Q5_K: type = PL_TYPE_Q5_1; break;
    case PL_TYPE_Q6_K: type = PL_TYPE_Q8_0; break;
    default: break;
    }
    return ne0 % PL_QK == 0 ? type : PL_TYPE_F16;
}

static int finish(int st, const pl_err *err, char *msg, int msg_cap) {
    if (st && msg && msg_cap > 0) snprintf(msg, (size_t)msg_cap, "%s", err->msg);
    return st;
}

static int setup_sink(pl_write_fn *write, pl_err *err) {
#ifdef __EMSCRIPTEN__
    if (!*write) *write = js_sink;
#endif
    return *write ? PL_OK : pl_fail(err, PL_ERR_INVALID_ARGUMENT, "no write function given");
}

/* Fills out[n] with row `row` of a tensor. */
typedef void (*row_source)(void *state, int64_t row, float *out, int64_t n);

/* Writes a rows x ne0 matrix of the given type, produced row by row by source. */
static int write_rows(pl_gguf_writer *w, int64_t rows, int64_t ne0, uint32_t type,
                      row_source source, void *state) {
    const size_t row_bytes = pl_row_bytes(type, ne0);
    const int64_t chunk_rows = row_bytes >= CHUNK_BYTES ? 1 : (int64_t)(CHUNK_BYTES / row_bytes);
    float *row = malloc((size_t)ne0 * sizeof *row);
    uint8_t *chunk = malloc((size_t)(rows < chunk_rows ? rows : chunk_rows) * row_bytes);
    if (!row || !chunk) {
        free(row);
        free(chunk);
        return pl_fail(&w->err, PL_ERR_OUT_OF_MEMORY, "out of memory for rows of %lld values",
                       (long long)ne0);
    }
    for (int64_t r0 = 0; r0 < rows && !w->err.status; r0 += chunk_rows) {
        int64_t n = rows - r0 < chunk_rows ? rows - r0 : chunk_rows;
        for (int64_t r = 0; r < n; r++) {
            source(state, r0 + r, row, ne0);
            pl_quantize_row(type, row, chunk + (size_t)r * row_bytes, ne0);
        }
        pl_gguf_write_data(w, chunk, (size_t)n * row_bytes);
    }
    free(row);
    free(chunk);
    return w->err.status;
}

/* ---- quantize -------------------------------------------------------------------------- */

static int ends_with(const pl_tensor *t, const char *suffix) {
    size_t n = strlen(suffix);
    return t->name_len >= n && memcmp(t->name + t->name_len - n, suffix, n) == 0;
}

/* What a tensor of the input becomes. */
static uint32_t quantized_type(const pl_tensor *t, uint32_t type) {
    int is_matrix = t->n_dims >= 2 && ends_with(t, "weight");
    if (!is_matrix || !pl_quant_supported(t->type)) return t->type;
    return row_type(type, t->ne[0]);
}

static void dequantized_row(void *state, int64_t row, float *out, int64_t n) {
    const pl_tensor *t = state;
    pl_dequantize_row(t->type, (const uint8_t *)t->data + (size_t)row * pl_row_bytes(t->type, n),
                      out, n);
}

static int quantize(const pl_gguf *g, int type_index, pl_gguf_writer *w) {
    static const char *const replaced[] = {"general.alignment", "general.file_type",
                                           "general.quantization_version"};
    const uint32_t type = output_types[type_index].type;
    for (uint64_t i = 0; i < g->n_kv; i++) {
        const pl_gguf_kv *kv = &g->kv[i];
        int keep = 1;
        for (size_t k = 0; k < sizeof replaced / sizeof *replaced; k++)
            if (kv->key_len == strlen(replaced[k]) && memcmp(kv->key, replaced[k], kv->key_len) == 0)
                keep = 0;
        if (keep) pl_gguf_add_kv_copy(w, kv);
    }
    pl_gguf_add_u32(w, "general.file_type", output_types[type_index].file_type);
    pl_gguf_add_u32(w, "general.quantization_version", QUANT_VERSION);

    char name[256];
    for (uint64_t i = 0; i < g->n_tensors; i++) {
        const pl_tensor *t = &g->tensors[i];
        if (t->name_len >= sizeof name)
            return pl_fail(&w->err, PL_ERR_INVALID_ARGUMENT, "tensor name of %u bytes is too long",
                           t->name_len);
        snprintf(name, sizeof name, "%.*s", (int)t->name_len, t->name);
        pl_gguf_add_tensor(w, name, t->n_dims, t->ne, quantized_type(t, type));
    }
    pl_gguf_write_header(w);
    for (uint64_t i = 0; i < g->n_tensors && !w->err.status; i++) {
        pl_tensor t = g->tensors[i];   /* a copy: the row source takes a mutable state */
        uint32_t out_type = quantized_type(&t, type);
        if (out_type == t.type)
            pl_gguf_write_data(w, t.data, t.nbytes);
        else
            write_rows(w, pl_tensor_nelems(&t) / t.ne[0], t.ne[0], out_type, dequantized_row, &t);
    }
    return pl_gguf_finish(w);
}

PL_API int pl_quantize_gguf(const void *in, size_t in_size, const char *type, pl_write_fn write,
                            void *user, char *msg, int msg_cap) {
    pl_err err = {0};
    pl_gguf g;
    int type_index = 0;
    int st = parse_type(type, &type_index, &err);
    if (!st) st = setup_sink(&write, &err);
    if (!st && !in) st = pl_fail(&err, PL_ERR_INVALID_ARGUMENT, "no input given");
    if (st || (st = pl_gguf_parse(&g, in, in_size, &err))) return finish(st, &err, msg, msg_cap);
    pl_gguf_writer w;
    pl_gguf_writer_init(&w, write, user);
    st = quantize(&g, type_index, &w);
    if (st) err = w.err;
    pl_gguf_writer_free(&w);
    pl_gguf_free(&g);
    return finish(st, &err, msg, msg_cap);
}

/* ---- synthetic models -------------------------------------------------------------------- */

#define N_SPECIAL 3                    /* <unk> <s> </s> */
#define N_FIXED (N_SPECIAL + 256)      /* ... and the byte tokens */
#define MAX_VOCAB (1 << 20)
#define INIT_STD 0.02f
/* Every token embedding gets this value in channel 0; the output rows of normal tokens get
 * OUT_CHANNEL there and those of special and byte tokens are all zero. The residual stream
 * then keeps a large positive channel 0 (about 16 after the final norm at dim 256, more
 * for wider models), so normal tokens' logits sit 30 or more above the fixed tokens' 0:
 * random weights never sample a lone byte (invalid UTF-8 that some runtimes cannot
 * print) or end of text. */
#define EMBD_CHANNEL 8.0f
#define OUT_CHANNEL 2.0f

/* splitmix64: small, fast, good enough for weights. */
typedef struct {
    uint64_t state;
    float spare;
    int has_spare;
} rng;

static uint64_t rng_next(rng *r) {
    uint64_t z = (r->state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* Standard normal, Box-Muller (two values per pair of uniforms). */
static float rng_normal(rng *r) {
    if (r->has_spare) {
        r->has_spare = 0;
        return r->spare;
    }
    uint64_t bits = rng_next(r);
    float u1 = ((float)(bits >> 40) + 1.0f) / 16777216.0f;   /* (0, 1] */
    float u2 = (float)((bits >> 16) & 0xffffff) / 16777216.0f;
    float radius = sqrtf(-2.0f * logf(u1)), angle = 6.2831853f * u2;
    r->spare = radius * sinf(angle);
    r->has_spare = 1;
    return radius * cosf(angle);
}

enum { INIT_ONES, INIT_NORMAL, INIT_EMBD, INIT_OUTPUT };

typedef struct {
    rng rng;
    int init;
    float std;
} synth_tensor;

static void synth_row(void *state, int64_t row, float *out, int64_t n) {
    synth_tensor *s = state;
    if (s->init == INIT_ONES) {
        for (int64_t i = 0; i < n; i++) out[i] = 1.0f;
        return;
    }
    for (int64_t i = 0; i < n; i++) out[i] = s->std * rng_normal(&s->rng);
    if (s->init == INIT_EMBD) out[0] = EMBD_CHANNEL;
    if (s->init == INIT_OUTPUT) {
        if (row < N_FIXED) memset(out, 0, (size_t)n * sizeof *out);
        else out[0] = OUT_CHANNEL;
    }
}

/* Piece k of the normal tokens: the 94 printable ASCII characters, "▁" (SentencePiece's
 * space), then for lengths L = 1, 2, ...: the L-letter words over a..z (for L > 1) and
 * "▁" + each of them. Every piece's prefixes come earlier, so SPM merges reach them all. */
static void piece_text(int64_t k, char *out) {
    static const char space[] = "\xe2\x96\x81";
    if (k < 94) {
        out[0] = (char)(0x21 + k);
        out[1] = 0;
        return;
    }
    if (k == 94) {
        strcpy(out, space);
        return;
    }
    k -= 95;
    for (int len = 1;; len++) {
        int64_t count = 1;
        for (int i = 0; i < len; i++) count *= 26;
        for (int spaced = len == 1; spaced < 2; spaced++) {
            if (k < count) {
                char *p = spaced ? strcpy(out, space) + 3 : out;
                for (int i = len - 1; i >= 0; i--, k /= 26) p[i] = (char)('a' + k % 26);
                p[len] = 0;
                return;
            }
            k -= count;
        }
    }
}

typedef struct {
    char **text;
    float *scores;
    int32_t *types;
    char *storage;
} synth_vocab;

static void free_vocab(synth_vocab *v) {
    free(v->text);
    free(v->scores);
    free(v->types);
    free(v->storage);
}

#define PIECE_CAP 16   /* bytes per piece text: "▁" + up to 5 letters + NUL */

static int make_vocab(synth_vocab *v, int n_vocab, pl_err *err) {
    v->text = malloc((size_t)n_vocab * sizeof *v->text);
    v->scores = malloc((size_t)n_vocab * sizeof *v->scores);
    v->types = malloc((size_t)n_vocab * sizeof *v->types);
    v->storage = malloc((size_t)n_vocab * PIECE_CAP);
    if (!v->text || !v->scores || !v->types || !v->storage)
        return pl_fail(err, PL_ERR_OUT_OF_MEMORY, "out of memory for %d tokens", n_vocab);
    static const char *const special[N_SPECIAL] = {"<unk>", "<s>", "</s>"};
    for (int i = 0; i < n_vocab; i++) {
        char *text = v->text[i] = v->storage + (size_t)i * PIECE_CAP;
        v->scores[i] = 0;
        if (i < N_SPECIAL) {
            strcpy(text, special[i]);
            v->types[i] = i == 0 ? 2 : 3;   /* llama.cpp token types: unknown, control */
        } else if (i < N_FIXED) {
            snprintf(text, PIECE_CAP, "<0x%02X>", i - N_SPECIAL);
            v->types[i] = 6;                /* byte */
        } else {
            piece_text(i - N_FIXED, text);
            v->scores[i] = -(float)(i - N_FIXED);   /* earlier pieces merge first */
            v->types[i] = 1;                /* normal */
        }
    }
    return PL_OK;
}

typedef struct {
    int dim, n_layers, n_heads, n_kv_heads, ffn_dim, n_vocab, n_ctx;
} synth_shape;

static int check_shape(const synth_shape *s, pl_err *err) {
    if (s->dim < 1 || s->n_layers < 1 || s->n_heads < 1 || s->n_kv_heads < 1 || s->ffn_dim < 1 ||
        s->n_ctx < 1 || s->dim % s->n_heads || s->n_heads % s->n_kv_heads ||
        (s->dim / s->n_heads) % 2)
        return pl_fail(err, PL_ERR_INVALID_ARGUMENT,
                       "bad model shape: dim %d, %d layers, %d heads, %d KV heads, FFN %d, "
                       "context %d (heads must divide dim into even head sizes, KV heads divide "
                       "heads)", s->dim, s->n_layers, s->n_heads, s->n_kv_heads, s->ffn_dim,
                       s->n_ctx);
    if (s->n_vocab <= N_FIXED || s->n_vocab > MAX_VOCAB)
        return pl_fail(err, PL_ERR_INVALID_ARGUMENT, "vocabulary of %d tokens (must be %d..%d)",
                       s->n_vocab, N_FIXED + 1, MAX_VOCAB);
    return PL_OK;
}

static void add_metadata(pl_gguf_writer *w, const synth_shape *s, int type_index,
                         const synth_vocab *v) {
    char name[96];
    snprintf(name, sizeof name, "pocketlm synthetic %dx%d %s", s->dim, s->n_layers,
             pl_type_name(output_types[type_index].type));
    pl_gguf_add_str(w, "general.architecture", "llama");
    pl_gguf_add_str(w, "general.name", name);
    pl_gguf_add_u32(w, "general.file_type", output_types[type_index].file_type);
    pl_gguf_add_u32(w, "general.quantization_version", QUANT_VERSION);
    pl_gguf_add_u32(w, "llama.context_length", (uint32_t)s->n_ctx);
    pl_gguf_add_u32(w, "llama.embedding_length", (uint32_t)s->dim);
    pl_gguf_add_u32(w, "llama.block_count", (uint32_t)s->n_layers);
    pl_gguf_add_u32(w, "llama.feed_forward_length", (uint32_t)s->ffn_dim);
    pl_gguf_add_u32(w, "llama.attention.head_count", (uint32_t)s->n_heads);
    pl_gguf_add_u32(w, "llama.attention.head_count_kv", (uint32_t)s->n_kv_heads);
    pl_gguf_add_u32(w, "llama.rope.dimension_count", (uint32_t)(s->dim / s->n_heads));
    pl_gguf_add_f32(w, "llama.attention.layer_norm_rms_epsilon", 1e-5f);
    pl_gguf_add_f32(w, "llama.rope.freq_base", 10000.0f);
    pl_gguf_add_u32(w, "llama.vocab_size", (uint32_t)s->n_vocab);
    pl_gguf_add_str(w, "tokenizer.ggml.model", "llama");
    pl_gguf_add_str_array(w, "tokenizer.ggml.tokens", (const char *const *)v->text, NULL,
                          (uint64_t)s->n_vocab);
    pl_gguf_add_array(w, "tokenizer.ggml.scores", GGUF_F32, v->scores, (uint64_t)s->n_vocab);
    pl_gguf_add_array(w, "tokenizer.ggml.token_type", GGUF_I32, v->types, (uint64_t)s->n_vocab);
    pl_gguf_add_u32(w, "tokenizer.ggml.unknown_token_id", 0);
    pl_gguf_add_u32(w, "tokenizer.ggml.bos_token_id", 1);
    pl_gguf_add_u32(w, "tokenizer.ggml.eos_token_id", 2);
    pl_gguf_add_bool(w, "tokenizer.ggml.add_bos_token", 1);
    pl_gguf_add_bool(w, "tokenizer.ggml.add_eos_token", 0);
}

typedef struct {
    char name[64];
    int64_t ne0, ne1;
    int init;
    float std;
} synth_spec;

/* Tensor i of the model (0 .. 3 + 9 * n_layers - 1), in llama.cpp's naming. */
static void tensor_spec(const synth_shape *s, int i, synth_spec *t) {
    static const struct {
        const char *name;
        int in, out, init;   /* dims: 0 = dim, 1 = q dim, 2 = kv dim, 3 = ffn, -1 = none */
    } layer[9] = {
        {"attn_norm", 0, -1, INIT_ONES}, {"attn_q", 0, 1, INIT_NORMAL},
        {"attn_k", 0, 2, INIT_NORMAL},   {"attn_v", 0, 2, INIT_NORMAL},
        {"attn_output", 1, 0, INIT_NORMAL}, {"ffn_norm", 0, -1, INIT_ONES},
        {"ffn_gate", 0, 3, INIT_NORMAL}, {"ffn_up", 0, 3, INIT_NORMAL},
        {"ffn_down", 3, 0, INIT_NORMAL},
    };
    const int64_t dims[4] = {s->dim, s->dim, (int64_t)s->dim / s->n_heads * s->n_kv_heads,
                             s->ffn_dim};
    t->std = INIT_STD;
    if (i < 3) {
        static const char *const names[3] = {"token_embd.weight", "output_norm.weight",
                                             "output.weight"};
        static const int inits[3] = {INIT_EMBD, INIT_ONES, INIT_OUTPUT};
        strcpy(t->name, names[i]);
        t->init = inits[i];
        t->ne0 = s->dim;
        t->ne1 = i == 1 ? 1 : s->n_vocab;
        return;
    }
    const int l = (i - 3) / 9, k = (i - 3) % 9;
    snprintf(t->name, sizeof t->name, "blk.%d.%s.weight", l, layer[k].name);
    t->init = layer[k].init;
    t->ne0 = dims[layer[k].in];
    t->ne1 = layer[k].out < 0 ? 1 : dims[layer[k].out];
    /* projections back into the residual stream: GPT-2's 1/sqrt(2 * layers) scaling keeps
     * the stream's size about constant over depth */
    if (k == 4 || k == 8) t->std = INIT_STD / sqrtf(2.0f * (float)s->n_layers);
}

static int synth(const synth_shape *s, int type_index, uint64_t seed, pl_gguf_writer *w,
                 pl_err *err) {
    synth_vocab v = {0};
    int st = make_vocab(&v, s->n_vocab, err);
    if (!st) add_metadata(w, s, type_index, &v);
    free_vocab(&v);
    if (st) return st;

    const int n_tensors = 3 + 9 * s->n_layers;
    synth_spec t;
    for (int i = 0; i < n_tensors; i++) {
        tensor_spec(s, i, &t);
        int64_t ne[2] = {t.ne0, t.ne1};
        uint32_t type = t.init == INIT_ONES ? PL_TYPE_F32
                                            : row_type(output_types[type_index].type, t.ne0);
        pl_gguf_add_tensor(w, t.name, t.ne1 == 1 ? 1 : 2, ne, type);
    }
    pl_gguf_write_header(w);
    for (int i = 0; i < n_tensors && !w->err.status; i++) {
        tensor_spec(s, i, &t);
        synth_tensor state = {{seed ^ (0x9e3779b97f4a7c15ull * (uint64_t)(i + 1)), 0, 0},
                              t.init, t.std};
        uint32_t type = t.init == INIT_ONES ? PL_TYPE_F32
                                            : row_type(output_types[type_index].type, t.ne0);
        write_rows(w, t.ne1, t.ne0, type, synth_row, &state);
    }
    return pl_gguf_finish(w);
}

PL_API int pl_synth_gguf(int dim, int n_layers, int n_heads, int n_kv_heads, int ffn_dim,
                         int n_vocab, int n_ctx, const char *type, double seed,
                         pl_write_fn write, void *user, char *msg, int msg_cap) {
    pl_err err = {0};
    const synth_shape shape = {dim, n_layers, n_heads, n_kv_heads, ffn_dim, n_vocab, n_ctx};
    int type_index = 0;
    int st = parse_type(type, &type_index, &err);
    if (!st) st = check_shape(&shape, &err);
    if (!st) st = setup_sink(&write, &err);
    if (!st && !(seed >= 0 && seed < 18446744073709551616.0))
        st = pl_fail(&err, PL_ERR_INVALID_ARGUMENT, "seed %g is not in 0..2^64", seed);
    if (st) return finish(st, &err, msg, msg_cap);
    pl_gguf_writer w;
    pl_gguf_writer_init(&w, write, user);
    st = synth(&shape, type_index, (uint64_t)seed, &w, &err);
    if (st && w.err.status) err = w.err;
    pl_gguf_writer_free(&w);
    return finish(st, &err, msg, msg_cap);
}
