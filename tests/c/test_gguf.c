/* GGUF reader and GGUF model loader: the real stories260K.gguf and llama.cpp vocab files
 * (facts checked independently with a separate Python struct-based reader), plus small
 * GGUFs built here covering every metadata type and every kind of damage. */
#include <stdlib.h>
#include <string.h>

#include "gguf_builder.h"
#include "model.h"
#include "testutil.h"

/* ---- a tiny llama model ------------------------------------------------------------ */

typedef struct {
    const char *arch;
    int dim, hidden, n_layers, n_heads, n_kv_heads, n_vocab;
    int omit_kv_heads;            /* leave head_count_kv out (defaults to head_count) */
    uint32_t q_type, norm_type;   /* types of blk.0.attn_q and blk.0.attn_norm */
    int tied;                     /* no output.weight */
    const char *omit_tensor;      /* leave this tensor out */
    const char *rope_scaling;     /* rope.scaling.type, NULL = absent */
    float rope_factor;
    int rope_dims;                /* 0 = key absent */
    uint32_t alignment;           /* 0 = key absent */
    int n_tokens;                 /* > 0: an SPM tokenizer with this many tokens */
    uint32_t version;
} llama_opts;

static llama_opts tiny(void) {
    llama_opts o = {.arch = "llama", .dim = 8, .hidden = 12, .n_layers = 2, .n_heads = 2,
                    .n_kv_heads = 1, .n_vocab = 16, .q_type = PL_TYPE_F32,
                    .norm_type = PL_TYPE_F32, .version = 3};
    return o;
}

/* Tensor k's data: F32 values k + i/1024 (exact in binary), other types a byte pattern. */
static void add_weight(gguf_builder *b, int k, const char *name, uint32_t type, int64_t ne0,
                       int64_t ne1) {
    int block_elems, block_bytes;
    pl_type_block(type, &block_elems, &block_bytes);
    size_t nbytes = (size_t)(ne0 * ne1 / block_elems * block_bytes);
    uint8_t *data = malloc(nbytes);
    if (type == PL_TYPE_F32)
        for (size_t i = 0; i < nbytes / 4; i++) ((float *)data)[i] = (float)k + (float)i / 1024;
    else
        for (size_t i = 0; i < nbytes; i++) data[i] = (uint8_t)(k * 7 + i);
    gb_tensor(b, name, type, (uint64_t)ne0, (uint64_t)ne1, data, nbytes);
    free(data);
}

/* Tensors in this order: token_embd (0), output_norm (1), output (2), then per layer
 * attn_norm, attn_q, attn_k, attn_v, attn_output, ffn_norm, ffn_gate, ffn_up, ffn_down. */
static uint8_t *build_llama(const llama_opts *o, size_t *size) {
    gguf_builder b;
    char key[96];
    gb_init(&b);
    if (o->alignment) gb_set_alignment(&b, o->alignment);
    gb_str(&b, "general.architecture", o->arch);
#define ARCH_KEY(suffix) (snprintf(key, sizeof key, "%s.%s", o->arch, suffix), key)
    gb_u32(&b, ARCH_KEY("context_length"), 128);
    gb_u32(&b, ARCH_KEY("embedding_length"), (uint32_t)o->dim);
    gb_u32(&b, ARCH_KEY("block_count"), (uint32_t)o->n_layers);
    gb_u32(&b, ARCH_KEY("feed_forward_length"), (uint32_t)o->hidden);
    gb_u32(&b, ARCH_KEY("attention.head_count"), (uint32_t)o->n_heads);
    if (!o->omit_kv_heads) gb_u32(&b, ARCH_KEY("attention.head_count_kv"), (uint32_t)o->n_kv_heads);
    if (o->rope_dims) gb_u32(&b, ARCH_KEY("rope.dimension_count"), (uint32_t)o->rope_dims);
    if (o->rope_scaling) {
        gb_str(&b, ARCH_KEY("rope.scaling.type"), o->rope_scaling);
        gb_f32(&b, ARCH_KEY("rope.scaling.factor"), o->rope_factor);
    }
#undef ARCH_KEY
    if (o->n_tokens > 0) {
        gb_str(&b, "tokenizer.ggml.model", "llama");
        wbuf *w = gb_array(&b, "tokenizer.ggml.tokens", GGUF_STRING, (uint64_t)o->n_tokens);
        for (int i = 0; i < o->n_tokens; i++) {
            char piece[16];
            snprintf(piece, sizeof piece, "t%d", i);
            put_str(w, piece);
        }
    }
    const int64_t dim = o->dim, hd = o->dim / o->n_heads, kv_dim = hd * o->n_kv_heads;
    int k = 0;
#define W(name, type, ne0, ne1) do { \
        if (!o->omit_tensor || strcmp(o->omit_tensor, name) != 0) \
            add_weight(&b, k, name, type, ne0, ne1); \
        k++; } while (0)
    W("token_embd.weight", PL_TYPE_F32, dim, o->n_vocab);
    W("output_norm.weight", PL_TYPE_F32, dim, 1);
    if (!o->tied) W("output.weight", PL_TYPE_F32, dim, o->n_vocab);
    else k++;
    for (int l = 0; l < o->n_layers; l++) {
        char name[9][64];
        const char *parts[9] = {"attn_norm", "attn_q", "attn_k", "attn_v", "attn_output",
                                "ffn_norm", "ffn_gate", "ffn_up", "ffn_down"};
        for (int i = 0; i < 9; i++) snprintf(name[i], 64, "blk.%d.%s.weight", l, parts[i]);
        W(name[0], l == 0 ? o->norm_type : PL_TYPE_F32, dim, 1);
        W(name[1], l == 0 ? o->q_type : PL_TYPE_F32, dim, dim);
        W(name[2], PL_TYPE_F32, dim, kv_dim);
        W(name[3], PL_TYPE_F32, dim, kv_dim);
        W(name[4], PL_TYPE_F32, dim, dim);
        W(name[5], PL_TYPE_F32, dim, 1);
        W(name[6], PL_TYPE_F32, dim, o->hidden);
        W(name[7], PL_TYPE_F32, dim, o->hidden);
        W(name[8], PL_TYPE_F32, o->hidden, dim);
    }
#undef W
    return gb_finish(&b, o->version, size);
}

/* Loads a model from an exact-size copy; m->file is a sentinel the loader must keep. */
static int load_model(const uint8_t *buf, size_t size, pl_model *m, pl_err *err) {
    static uint8_t sentinel;
    memset(m, 0, sizeof *m);
    m->file = &sentinel;
    m->file_size = 1;
    int st = pl_model_from_gguf(m, buf, size, err);
    CHECK(m->file == &sentinel && m->file_size == 1);
    m->file = NULL;   /* not ours to free */
    if (st) {
        /* failure leaves nothing behind */
        CHECK(m->layers == NULL && m->gguf.kv == NULL && m->gguf.tensors == NULL);
        CHECK(m->has_vocab == 0 && m->format == NULL);
    }
    return st;
}

static int model_status(const llama_opts *o, pl_err *err) {
    size_t size;
    uint8_t *buf = build_llama(o, &size);
    uint8_t *exact = exact_copy(buf, size);
    pl_model m;
    int st = load_model(exact, size, &m, err);
    pl_model_free(&m);
    free(exact);
    free(buf);
    return st;
}

static float f32_at(const void *data, size_t i) {
    float v;
    memcpy(&v, (const uint8_t *)data + 4 * i, 4);
    return v;
}

/* ---- tests ------------------------------------------------------------------------- */

static void test_type_table(void) {
    static const struct { uint32_t type; const char *name; int elems, bytes; } expect[] = {
        {PL_TYPE_F32, "F32", 1, 4},       {PL_TYPE_F16, "F16", 1, 2},
        {PL_TYPE_BF16, "BF16", 1, 2},     {PL_TYPE_Q4_0, "Q4_0", 32, 18},
        {PL_TYPE_Q4_1, "Q4_1", 32, 20},   {PL_TYPE_Q5_0, "Q5_0", 32, 22},
        {PL_TYPE_Q5_1, "Q5_1", 32, 24},   {PL_TYPE_Q8_0, "Q8_0", 32, 34},
        {PL_TYPE_Q8_1, "Q8_1", 32, 36},   {PL_TYPE_Q2_K, "Q2_K", 256, 84},
        {PL_TYPE_Q3_K, "Q3_K", 256, 110}, {PL_TYPE_Q4_K, "Q4_K", 256, 144},
        {PL_TYPE_Q5_K, "Q5_K", 256, 176}, {PL_TYPE_Q6_K, "Q6_K", 256, 210},
        {PL_TYPE_Q8_K, "Q8_K", 256, 292}, {PL_TYPE_I8, "I8", 1, 1},
        {PL_TYPE_I16, "I16", 1, 2},       {PL_TYPE_I32, "I32", 1, 4},
        {PL_TYPE_I64, "I64", 1, 8},       {PL_TYPE_F64, "F64", 1, 8},
        {16, "IQ2_XXS", 256, 66},         {17, "IQ2_XS", 256, 74},
        {18, "IQ3_XXS", 256, 98},         {19, "IQ1_S", 256, 50},
        {20, "IQ4_NL", 32, 18},           {21, "IQ3_S", 256, 110},
        {22, "IQ2_S", 256, 82},           {23, "IQ4_XS", 256, 136},
        {29, "IQ1_M", 256, 56},
    };
    for (size_t i = 0; i < sizeof expect / sizeof expect[0]; i++) {
        int e = -1, b = -1;
        pl_type_block(expect[i].type, &e, &b);
        CHECK_EQ_INT(e, expect[i].elems);
        CHECK_EQ_INT(b, expect[i].bytes);
        CHECK(pl_type_name(expect[i].type) && strcmp(pl_type_name(expect[i].type), expect[i].name) == 0);
    }
    const uint32_t unknown[] = {4, 5, 31, 39, 1000, 0xffffffffu};
    for (size_t i = 0; i < sizeof unknown / sizeof unknown[0]; i++) {
        int e = -1, b = -1;
        pl_type_block(unknown[i], &e, &b);
        CHECK(e == 0 && b == 0);
        CHECK(pl_type_name(unknown[i]) == NULL);
    }
    pl_tensor t = {.ne = {3, 5, 7, 2}};
    CHECK_EQ_INT(pl_tensor_nelems(&t), 210);
}

/* Facts from SOURCE.txt and a separate Python reader (tensor offsets, first values). */
static void test_stories_gguf(void) {
    size_t size;
    uint8_t *buf = read_file("models/stories260K.gguf", &size);
    pl_gguf g;
    pl_err err = {0};
    CHECK_EQ_INT(size, 1185376);
    CHECK_EQ_INT(pl_gguf_parse(&g, buf, size, &err), PL_OK);
    CHECK_EQ_INT(g.version, 3);
    CHECK_EQ_INT(g.n_kv, 19);
    CHECK_EQ_INT(g.n_tensors, 48);
    CHECK_EQ_INT(g.alignment, 32);
    CHECK_EQ_INT(g.data_offset, 14176);
    for (uint64_t i = 0; i < g.n_tensors; i++) CHECK_EQ_INT(g.tensors[i].type, PL_TYPE_F32);

    const pl_tensor *t = pl_gguf_tensor(&g, "token_embd.weight");
    CHECK(t && t->n_dims == 2 && t->ne[0] == 64 && t->ne[1] == 512 && t->ne[2] == 1);
    CHECK(t && t->data == buf + 14176 && t->nbytes == 64 * 512 * 4);
    CHECK(t && f32_at(t->data, 0) == -0.29474878311157227f && f32_at(t->data, 3) == 0.34057360887527466f);
    t = pl_gguf_tensor(&g, "output_norm.weight");
    CHECK(t && t->n_dims == 1 && t->ne[0] == 64 && t->ne[1] == 1 && t->data == buf + 14176 + 131072);
    t = pl_gguf_tensor(&g, "blk.0.attn_k.weight");
    CHECK(t && t->ne[0] == 64 && t->ne[1] == 32 && t->data == buf + 14176 + 278784);
    t = pl_gguf_tensor(&g, "blk.0.ffn_down.weight");
    CHECK(t && t->ne[0] == 172 && t->ne[1] == 64 && t->data == buf + 14176 + 355840);
    t = pl_gguf_tensor(&g, "blk.4.ffn_norm.weight");   /* the last one ends exactly at EOF */
    CHECK(t && t->data == buf + 14176 + 1170944 && (const uint8_t *)t->data + t->nbytes == buf + size);
    CHECK(t && f32_at(t->data, 0) == 1.0344241857528687f && f32_at(t->data, 2) == 1.3162471055984497f);
    CHECK(pl_gguf_tensor(&g, "blk.5.ffn_norm.weight") == NULL);
    CHECK(pl_gguf_tensor(&g, "token_embd") == NULL);

    int64_t v = 0;
    float f = 0;
    const char *s;
    uint64_t len;
    CHECK(pl_gguf_get_i64(&g, "llama.context_length", &v, &err) == PL_OK && v == 2048);
    CHECK(pl_gguf_get_i64(&g, "llama.block_count", &v, &err) == PL_OK && v == 5);
    CHECK(pl_gguf_get_i64(&g, "tokenizer.ggml.padding_token_id", &v, &err) == PL_OK && v == 4294967295);
    CHECK(pl_gguf_get_f32(&g, "llama.attention.layer_norm_rms_epsilon", &f, &err) == PL_OK && f == 1e-5f);
    CHECK(pl_gguf_get_str(&g, "general.architecture", &s, &len, &err) == PL_OK && len == 5 &&
          memcmp(s, "llama", 5) == 0);
    CHECK_EQ_INT(pl_gguf_get_i64(&g, "llama.rope.freq_base", &v, &err), PL_ERR_BAD_FORMAT);
    CHECK(contains(err.msg, "llama.rope.freq_base") && contains(err.msg, "missing"));
    CHECK_EQ_INT(pl_gguf_get_f32(&g, "llama.block_count", &f, &err), PL_ERR_BAD_FORMAT);
    CHECK(contains(err.msg, "llama.block_count") && contains(err.msg, "u32"));
    CHECK_EQ_INT(pl_gguf_get_str(&g, "llama.block_count", &s, &len, &err), PL_ERR_BAD_FORMAT);
    CHECK(pl_gguf_i64_or(&g, "llama.nope", 7, &v, &err) == PL_OK && v == 7);
    CHECK(pl_gguf_f32_or(&g, "llama.rope.freq_base", 10000, &f, &err) == PL_OK && f == 10000);

    /* tokenizer arrays: token 300 is "▁ha" with score -41 and type 1 */
    const pl_gguf_kv *tokens = pl_gguf_find(&g, "tokenizer.ggml.tokens");
    CHECK(tokens && tokens->type == GGUF_ARRAY && tokens->arr_type == GGUF_STRING && tokens->arr_n == 512);
    if (tokens) {
        const uint8_t *cursor = tokens->value;
        for (int i = 0; i <= 300; i++) pl_gguf_str_next(&cursor, &s, &len);
        CHECK(len == 5 && memcmp(s, "\xe2\x96\x81ha", 5) == 0);
    }
    const pl_gguf_kv *scores = pl_gguf_find(&g, "tokenizer.ggml.scores");
    const pl_gguf_kv *types = pl_gguf_find(&g, "tokenizer.ggml.token_type");
    double d = 0;
    CHECK(scores && scores->arr_type == GGUF_F32 && pl_gguf_arr_num(scores, 300, &d) == PL_OK && d == -41);
    CHECK(types && types->arr_type == GGUF_I32 && pl_gguf_arr_num(types, 300, &d) == PL_OK && d == 1);
    CHECK(types && pl_gguf_arr_num(types, 0, &d) == PL_OK && d == 2);
    CHECK(types && pl_gguf_arr_num(types, 512, &d) == PL_ERR_INVALID_ARGUMENT);
    CHECK(pl_gguf_arr_num(tokens, 0, &d) == PL_ERR_BAD_FORMAT);
    pl_gguf_free(&g);

    /* the model; m.file owns the buffer, so pl_model_free releases it */
    pl_model m;
    memset(&m, 0, sizeof m);
    m.file = buf;
    m.file_size = size;
    CHECK_EQ_INT(pl_model_from_gguf(&m, buf, size, &err), PL_OK);
    CHECK(m.file == buf && m.file_size == size);
    CHECK(m.format && strcmp(m.format, "gguf") == 0);
    CHECK(m.hp.arch == PL_ARCH_LLAMA && strcmp(m.hp.arch_name, "llama") == 0);
    CHECK_EQ_INT(m.hp.dim, 64);
    CHECK_EQ_INT(m.hp.n_layers, 5);
    CHECK_EQ_INT(m.hp.n_heads, 8);
    CHECK_EQ_INT(m.hp.n_kv_heads, 4);
    CHECK_EQ_INT(m.hp.head_dim, 8);
    CHECK_EQ_INT(m.hp.hidden_dim, 172);
    CHECK_EQ_INT(m.hp.n_vocab, 512);
    CHECK_EQ_INT(m.hp.n_ctx_train, 2048);
    CHECK_EQ_INT(m.hp.rope_dims, 8);
    CHECK_EQ_INT(m.hp.rope_type, PL_ROPE_NORMAL);
    CHECK(m.hp.norm_eps == 1e-5f && m.hp.rope_base == 10000 && m.hp.rope_pos_scale == 1);
    CHECK(m.tied_output == 0 && m.output.data == buf + 14176 + 131328);
    CHECK(m.tok_embd.data == buf + 14176 && m.out_norm.data == buf + 14176 + 131072);
    CHECK(m.layers[0].wq.data == buf + 14176 + 262400 && m.layers[0].wq.ne[1] == 64);
    CHECK(m.layers[4].ffn_norm.data == buf + 14176 + 1170944);
    CHECK(m.layers[2].w_up.ne[0] == 64 && m.layers[2].w_up.ne[1] == 172);
    CHECK(m.layers[2].w_down.ne[0] == 172 && m.layers[2].w_down.ne[1] == 64);
    CHECK(m.has_vocab == 1 && m.vocab.n_vocab == 512);
    pl_model_free(&m);
    CHECK(m.file == NULL && m.layers == NULL);
}

/* Every prefix of the header of stories260K.gguf (each an exact-size allocation). */
static void test_stories_prefixes(void) {
    size_t size;
    uint8_t *buf = read_file("models/stories260K.gguf", &size);
    int bad = 0;
    for (size_t n = 0; n < 14176 + 300; n++) {
        uint8_t *p = exact_copy(buf, n);
        pl_gguf g;
        pl_err err = {0};
        if (pl_gguf_parse(&g, p, n, &err) != PL_ERR_TRUNCATED || g.kv || g.tensors) bad++;
        free(p);
    }
    CHECK_EQ_INT(bad, 0);
    free(buf);
}

/* llama.cpp's tokenizer-only GGUFs: metadata parses; a model load fails cleanly. */
static void test_vocab_files(void) {
    static const struct {
        const char *name;
        int n_kv;
        const char *arch;
        int n_tokens;
        size_t data_offset;
        const char *last_token;
    } files[] = {
        {"baichuan", 18, "baichuan", 64000, 1341024, "\xef\x87\xa9"},
        {"bert-bge", 20, "bert", 30522, 627552, "\xef\xbd\x9e"},
        {"deepseek-coder", 25, "llama", 32256, 1156096, "[PAD32255]"},
        {"deepseek-llm", 23, "llama", 102400, 3970176, "[PAD102399]"},
        {"falcon", 18, "falcon", 65024, 2287744, "\xc4\xa0" "victoria"},
        {"gpt-2", 16, "gpt2", 50257, 1766816, "<|endoftext|>"},
        {"gpt-neox", 17, "gptneox", 50432, 1771456, "[PAD50431]"},
        {"llama-spm", 22, "llama", 32000, 723872, "\xe7\xbb\x99"},
        {"mpt", 17, "mpt", 50432, 1771424, "[PAD50431]"},
        {"phi-3", 26, "phi3", 32064, 726048, "[PAD32063]"},
        {"refact", 18, "refact", 49216, 1720736, "[PAD49215]"},
        {"starcoder", 19, "starcoder2", 49152, 1719360, "sdb"},
    };
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        char path[256];
        snprintf(path, sizeof path, SHARED_MODELS "llamacpp-vocab-tests/ggml-vocab-%s.gguf",
                 files[i].name);
        size_t size;
        uint8_t *buf = read_file(path, &size);
        pl_gguf g;
        pl_err err = {0};
        int st = pl_gguf_parse(&g, buf, size, &err);
        CHECK_EQ_INT(st, PL_OK);
        if (st) {
            fprintf(stderr, "%s: %s\n", path, err.msg);
            free(buf);
            continue;
        }
        CHECK(g.version == 3 && g.n_tensors == 0 && g.alignment == 32);
        CHECK_EQ_INT(g.n_kv, files[i].n_kv);
        /* the header's padding is missing at EOF: fine when there is no tensor data */
        CHECK_EQ_INT(g.data_offset, files[i].data_offset);
        const char *s;
        uint64_t len;
        CHECK(pl_gguf_get_str(&g, "general.architecture", &s, &len, &err) == PL_OK &&
              len == strlen(files[i].arch) && memcmp(s, files[i].arch, len) == 0);
        const pl_gguf_kv *tokens = pl_gguf_find(&g, "tokenizer.ggml.tokens");
        CHECK(tokens && tokens->arr_type == GGUF_STRING);
        if (tokens) {
            CHECK_EQ_INT(tokens->arr_n, files[i].n_tokens);
            const uint8_t *cursor = tokens->value;
            for (uint64_t k = 0; k < tokens->arr_n; k++) pl_gguf_str_next(&cursor, &s, &len);
            CHECK(len == strlen(files[i].last_token) && memcmp(s, files[i].last_token, len) == 0);
            /* the last token is the last thing before the tensor-less end of the header */
            CHECK(cursor <= buf + size);
        }
        pl_gguf_free(&g);

        pl_model m;
        st = load_model(buf, size, &m, &err);
        if (strcmp(files[i].arch, "llama") == 0 || strcmp(files[i].arch, "gpt2") == 0 ||
            strcmp(files[i].arch, "phi3") == 0) {
            CHECK_EQ_INT(st, PL_ERR_BAD_FORMAT);
            CHECK(contains(err.msg, "missing tensor token_embd.weight"));
        } else {
            CHECK_EQ_INT(st, PL_ERR_UNSUPPORTED_ARCH);
            CHECK(contains(err.msg, files[i].arch));
        }
        pl_model_free(&m);
        free(buf);
    }
}

/* One key of every metadata type, nested arrays included, read back through the getters. */
static uint8_t *build_all_types(uint32_t version, size_t *size) {
    gguf_builder b;
    gb_init(&b);
    uint8_t u8 = 200; int8_t i8 = -5; uint16_t u16 = 60000; int16_t i16 = -30000;
    uint32_t u32 = 4000000000u; int32_t i32 = -2000000000; float f32 = 0.25f;
    uint8_t yes = 1; uint64_t u64 = 18000000000000000000ull; int64_t i64 = -9000000000000000000ll;
    double f64 = 1e300; uint64_t u64_small = 12345;
    put(gb_key(&b, "t.u8", GGUF_U8), &u8, 1);
    put(gb_key(&b, "t.i8", GGUF_I8), &i8, 1);
    put(gb_key(&b, "t.u16", GGUF_U16), &u16, 2);
    put(gb_key(&b, "t.i16", GGUF_I16), &i16, 2);
    put(gb_key(&b, "t.u32", GGUF_U32), &u32, 4);
    put(gb_key(&b, "t.i32", GGUF_I32), &i32, 4);
    put(gb_key(&b, "t.f32", GGUF_F32), &f32, 4);
    put(gb_key(&b, "t.bool", GGUF_BOOL), &yes, 1);
    put_str(gb_key(&b, "t.string", GGUF_STRING), "h\xc3\xa9llo");
    put_str(gb_key(&b, "t.empty", GGUF_STRING), "");
    put(gb_key(&b, "t.u64", GGUF_U64), &u64, 8);
    put(gb_key(&b, "t.u64_small", GGUF_U64), &u64_small, 8);
    put(gb_key(&b, "t.i64", GGUF_I64), &i64, 8);
    put(gb_key(&b, "t.f64", GGUF_F64), &f64, 8);
    double half = 0.5;
    put(gb_key(&b, "t.f64_small", GGUF_F64), &half, 8);
    /* numeric arrays of every scalar type: elements 0, 1, 2 (as the type) */
    for (uint32_t type = 0; type < GGUF_TYPE_COUNT; type++) {
        size_t es = pl_gguf_type_size(type);
        if (es == 0) continue;
        char key[32];
        snprintf(key, sizeof key, "arr.%u", type);
        wbuf *w = gb_array(&b, key, type, 3);
        for (int i = 0; i < 3; i++) {
            uint8_t e[8] = {0};
            if (type == GGUF_F32) { float x = (float)i; memcpy(e, &x, 4); }
            else if (type == GGUF_F64) { double x = i; memcpy(e, &x, 8); }
            else e[0] = (uint8_t)(type == GGUF_BOOL ? i != 0 : i);
            put(w, e, es);
        }
    }
    static const char *const strings[] = {"a", "", "xyz"};
    gb_strs(&b, "arr.strings", strings, 3);
    gb_array(&b, "arr.empty", GGUF_I32, 0);
    /* [[1, 2], [], [3]] as i32 and [["p", "q"], ["r"]] */
    wbuf *w = gb_array(&b, "arr.nested_i32", GGUF_ARRAY, 3);
    int32_t one = 1, two = 2, three = 3;
    put_u32(w, GGUF_I32); put_u64(w, 2); put(w, &one, 4); put(w, &two, 4);
    put_u32(w, GGUF_I32); put_u64(w, 0);
    put_u32(w, GGUF_I32); put_u64(w, 1); put(w, &three, 4);
    w = gb_array(&b, "arr.nested_str", GGUF_ARRAY, 2);
    put_u32(w, GGUF_STRING); put_u64(w, 2); put_str(w, "p"); put_str(w, "q");
    put_u32(w, GGUF_STRING); put_u64(w, 1); put_str(w, "r");
    /* three levels: [[[7]]] */
    w = gb_array(&b, "arr.nested3", GGUF_ARRAY, 1);
    put_u32(w, GGUF_ARRAY); put_u64(w, 1);
    put_u32(w, GGUF_U8); put_u64(w, 1); put(w, &u8, 1);
    gb_str(&b, "t.after", "end");   /* proves the walk over the arrays ended in the right place */
    return gb_finish(&b, version, size);
}

static void test_all_metadata_types(void) {
    size_t size;
    uint8_t *buf = build_all_types(3, &size);
    pl_gguf g;
    pl_err err = {0};
    int64_t v;
    float f;
    int bl;
    const char *s;
    uint64_t len;
    CHECK_EQ_INT(pl_gguf_parse(&g, buf, size, &err), PL_OK);
    CHECK_EQ_INT(g.n_kv, 32);
    CHECK_EQ_INT(g.n_tensors, 0);
    CHECK(pl_gguf_get_i64(&g, "t.u8", &v, &err) == PL_OK && v == 200);
    CHECK(pl_gguf_get_i64(&g, "t.i8", &v, &err) == PL_OK && v == -5);
    CHECK(pl_gguf_get_i64(&g, "t.u16", &v, &err) == PL_OK && v == 60000);
    CHECK(pl_gguf_get_i64(&g, "t.i16", &v, &err) == PL_OK && v == -30000);
    CHECK(pl_gguf_get_i64(&g, "t.u32", &v, &err) == PL_OK && v == 4000000000ll);
    CHECK(pl_gguf_get_i64(&g, "t.i32", &v, &err) == PL_OK && v == -2000000000);
    CHECK(pl_gguf_get_i64(&g, "t.i64", &v, &err) == PL_OK && v == -9000000000000000000ll);
    CHECK(pl_gguf_get_i64(&g, "t.u64_small", &v, &err) == PL_OK && v == 12345);
    CHECK_EQ_INT(pl_gguf_get_i64(&g, "t.u64", &v, &err), PL_ERR_BAD_FORMAT);   /* > INT64_MAX */
    CHECK(contains(err.msg, "t.u64") && contains(err.msg, "range"));
    CHECK_EQ_INT(pl_gguf_get_i64(&g, "t.f32", &v, &err), PL_ERR_BAD_FORMAT);
    CHECK(contains(err.msg, "t.f32") && contains(err.msg, "f32"));
    CHECK_EQ_INT(pl_gguf_get_i64(&g, "t.bool", &v, &err), PL_ERR_BAD_FORMAT);
    CHECK_EQ_INT(pl_gguf_get_i64(&g, "arr.4", &v, &err), PL_ERR_BAD_FORMAT);
    CHECK(pl_gguf_get_f32(&g, "t.f32", &f, &err) == PL_OK && f == 0.25f);
    CHECK(pl_gguf_get_f32(&g, "t.f64_small", &f, &err) == PL_OK && f == 0.5f);
    CHECK_EQ_INT(pl_gguf_get_f32(&g, "t.f64", &f, &err), PL_ERR_BAD_FORMAT);   /* 1e300 */
    CHECK_EQ_INT(pl_gguf_get_f32(&g, "t.i32", &f, &err), PL_ERR_BAD_FORMAT);
    CHECK(pl_gguf_get_bool(&g, "t.bool", &bl, &err) == PL_OK && bl == 1);
    CHECK_EQ_INT(pl_gguf_get_bool(&g, "t.u8", &bl, &err), PL_ERR_BAD_FORMAT);
    CHECK(pl_gguf_bool_or(&g, "t.nothing", 1, &bl, &err) == PL_OK && bl == 1);
    CHECK(pl_gguf_bool_or(&g, "t.bool", 0, &bl, &err) == PL_OK && bl == 1);
    CHECK(pl_gguf_get_str(&g, "t.string", &s, &len, &err) == PL_OK && len == 6 &&
          memcmp(s, "h\xc3\xa9llo", 6) == 0);
    CHECK(pl_gguf_get_str(&g, "t.empty", &s, &len, &err) == PL_OK && len == 0);
    CHECK(pl_gguf_get_str(&g, "t.after", &s, &len, &err) == PL_OK && len == 3 && memcmp(s, "end", 3) == 0);
    CHECK_EQ_INT(pl_gguf_get_str(&g, "arr.strings", &s, &len, &err), PL_ERR_BAD_FORMAT);
    CHECK(contains(err.msg, "array"));
    CHECK_EQ_INT(pl_gguf_get_bool(&g, "t.missing", &bl, &err), PL_ERR_BAD_FORMAT);
    CHECK(contains(err.msg, "t.missing"));

    for (uint32_t type = 0; type < GGUF_TYPE_COUNT; type++) {
        if (pl_gguf_type_size(type) == 0) continue;
        char key[32];
        snprintf(key, sizeof key, "arr.%u", type);
        const pl_gguf_kv *kv = pl_gguf_find(&g, key);
        CHECK(kv && kv->type == GGUF_ARRAY && kv->arr_type == type && kv->arr_n == 3);
        for (uint64_t i = 0; kv && i < 3; i++) {
            double d = -1;
            CHECK(pl_gguf_arr_num(kv, i, &d) == PL_OK && d == (type == GGUF_BOOL ? i != 0 : (double)i));
        }
    }
    const pl_gguf_kv *kv = pl_gguf_find(&g, "arr.strings");
    CHECK(kv && kv->arr_type == GGUF_STRING && kv->arr_n == 3);
    if (kv) {
        const uint8_t *cursor = kv->value;
        pl_gguf_str_next(&cursor, &s, &len);
        CHECK(len == 1 && s[0] == 'a');
        pl_gguf_str_next(&cursor, &s, &len);
        CHECK(len == 0);
        pl_gguf_str_next(&cursor, &s, &len);
        CHECK(len == 3 && memcmp(s, "xyz", 3) == 0);
    }
    kv = pl_gguf_find(&g, "arr.empty");
    CHECK(kv && kv->arr_n == 0);
    double d;
    CHECK(kv && pl_gguf_arr_num(kv, 0, &d) == PL_ERR_INVALID_ARGUMENT);
    kv = pl_gguf_find(&g, "arr.nested_i32");
    CHECK(kv && kv->arr_type == GGUF_ARRAY && kv->arr_n == 3);
    CHECK(kv && pl_gguf_arr_num(kv, 0, &d) == PL_ERR_BAD_FORMAT);
    kv = pl_gguf_find(&g, "arr.nested_str");
    CHECK(kv && kv->arr_type == GGUF_ARRAY && kv->arr_n == 2);
    kv = pl_gguf_find(&g, "arr.nested3");
    CHECK(kv && kv->arr_type == GGUF_ARRAY && kv->arr_n == 1);
    pl_gguf_free(&g);

    /* every prefix is reported as truncated */
    int bad = 0;
    for (size_t n = 0; n < size; n++) {
        uint8_t *p = exact_copy(buf, n);
        if (pl_gguf_parse(&g, p, n, &err) != PL_ERR_TRUNCATED) bad++;
        free(p);
    }
    CHECK_EQ_INT(bad, 0);
    free(buf);
}

static void test_versions_and_magic(void) {
    size_t size;
    pl_gguf g;
    pl_err err = {0};
    uint8_t *v2 = build_all_types(2, &size);
    CHECK_EQ_INT(pl_gguf_parse(&g, v2, size, &err), PL_OK);
    CHECK(g.version == 2 && g.n_kv == 32);
    int64_t v;
    CHECK(pl_gguf_get_i64(&g, "t.i16", &v, &err) == PL_OK && v == -30000);
    pl_gguf_free(&g);

    uint32_t version = 1;
    memcpy(v2 + 4, &version, 4);
    CHECK_EQ_INT(pl_gguf_parse(&g, v2, size, &err), PL_ERR_BAD_FORMAT);
    CHECK(strcmp(err.msg, "GGUF version 1 is not supported") == 0);
    CHECK(g.kv == NULL);
    version = 4;
    memcpy(v2 + 4, &version, 4);
    CHECK_EQ_INT(pl_gguf_parse(&g, v2, size, &err), PL_ERR_BAD_FORMAT);
    CHECK(contains(err.msg, "version 4"));
    version = 0x03000000;   /* what a big-endian v3 file reads as */
    memcpy(v2 + 4, &version, 4);
    CHECK_EQ_INT(pl_gguf_parse(&g, v2, size, &err), PL_ERR_BAD_FORMAT);
    CHECK(contains(err.msg, "big-endian"));
    version = 3;
    memcpy(v2 + 4, &version, 4);
    v2[0] = 'g';
    CHECK_EQ_INT(pl_gguf_parse(&g, v2, size, &err), PL_ERR_BAD_FORMAT);
    CHECK(contains(err.msg, "magic"));
    CHECK_EQ_INT(pl_gguf_parse(&g, v2, 3, &err), PL_ERR_TRUNCATED);
    free(v2);
}

/* Builds a file whose metadata is one key written by fill(), plus an optional tensor. */
static int parse_status(void (*fill)(gguf_builder *), pl_err *err) {
    gguf_builder b;
    size_t size;
    pl_gguf g;
    gb_init(&b);
    fill(&b);
    uint8_t *buf = gb_finish(&b, 3, &size);
    uint8_t *exact = exact_copy(buf, size);
    int st = pl_gguf_parse(&g, exact, size, err);
    if (st == PL_OK) pl_gguf_free(&g);
    free(exact);
    free(buf);
    return st;
}

static const float ones[64] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
                               1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1};
static void huge_kv_count(gguf_builder *b) { gb_u32(b, "a", 1); b->n_kv = 1ull << 60; }
static void huge_tensor_count(gguf_builder *b) {
    gb_u32(b, "a", 1);
    b->n_tensors = 0xffffffffffffffffull;
}
static void kv_count_one_too_many(gguf_builder *b) { gb_u32(b, "a", 1); b->n_kv = 2; }
static void huge_array(gguf_builder *b) {
    wbuf *w = gb_array(b, "a", GGUF_U64, 1ull << 61);   /* * 8 bytes wraps to 0 in 64 bits */
    put_u64(w, 0);
}
static void huge_string_array(gguf_builder *b) {
    put_str(gb_array(b, "a", GGUF_STRING, 0xffffffffffffffffull), "x");
}
static void huge_string(gguf_builder *b) {
    wbuf *w = gb_key(b, "a", GGUF_STRING);
    put_u64(w, 0xfffffffffffffff0ull);
    put(w, "abc", 3);
}
static void huge_key(gguf_builder *b) {
    put_u64(&b->meta, 0x8000000000000000ull);
    put(&b->meta, ones, 16);
    b->n_kv = 1;
}
static void empty_key(gguf_builder *b) { gb_u32(b, "", 1); }
static void unknown_kv_type(gguf_builder *b) { put_u32(gb_key(b, "a", 13), 0); }
static void unknown_elem_type(gguf_builder *b) {
    put_u32(gb_array(b, "arr", 77, 1), 0);
}
static void deep_nesting(gguf_builder *b) {
    wbuf *w = gb_key(b, "deep", GGUF_ARRAY);
    for (int i = 0; i < 20; i++) {
        put_u32(w, GGUF_ARRAY);
        put_u64(w, 1);
    }
    put_u32(w, GGUF_U8);
    put_u64(w, 0);
}
static void duplicate_key(gguf_builder *b) {
    gb_u32(b, "k.one", 1);
    gb_u32(b, "k.two", 2);
    gb_str(b, "k.one", "again");
}
static void alignment_48(gguf_builder *b) { gb_u32(b, "general.alignment", 48); }
static void alignment_0(gguf_builder *b) { gb_u32(b, "general.alignment", 0); }
static void alignment_str(gguf_builder *b) { gb_str(b, "general.alignment", "32"); }

static void tensor_ok(gguf_builder *b) { gb_tensor(b, "t", PL_TYPE_F32, 8, 2, ones, 64); }
static void dims_0(gguf_builder *b) {
    uint64_t ne[1] = {4};
    gb_info(b, "t", 0, 0, ne, 0);
    put(&b->infos, ones, 16);   /* room for the one dimension a tensor info needs at least */
}
static void dims_5(gguf_builder *b) {
    uint64_t ne[5] = {1, 1, 1, 1, 1};
    gb_info(b, "t", 0, 5, ne, 0);
}
static void zero_dim(gguf_builder *b) { uint64_t ne[2] = {4, 0}; gb_info(b, "t", 0, 2, ne, 0); }
static void overflow_dims(gguf_builder *b) {
    uint64_t ne[3] = {1ull << 32, 1ull << 32, 1ull << 32};
    gb_info(b, "t", PL_TYPE_I8, 3, ne, 0);
}
static void huge_tensor(gguf_builder *b) {
    uint64_t ne[2] = {1ull << 31, 1ull << 31};   /* fits int64, far bigger than the file */
    gb_info(b, "t", PL_TYPE_F32, 2, ne, 0);
}
static void unknown_tensor_type(gguf_builder *b) {
    uint64_t ne[1] = {4};
    gb_info(b, "weird.weight", 4, 1, ne, 0);   /* Q4_2: removed from ggml */
}
static void bad_block_multiple(gguf_builder *b) {
    uint64_t ne[2] = {48, 2};
    gb_info(b, "q.weight", PL_TYPE_Q8_0, 2, ne, 0);
    put(&b->data, ones, 64);
}
static void misaligned_offset(gguf_builder *b) {
    uint64_t ne[1] = {4};
    gb_info(b, "t", PL_TYPE_F32, 1, ne, 16);
    put(&b->data, ones, 64);
}
static void past_end(gguf_builder *b) {
    uint64_t ne[1] = {16};
    gb_info(b, "t", PL_TYPE_F32, 1, ne, 32);   /* bytes 32..96 of a 64-byte data section */
    put(&b->data, ones, 64);
}
static void offset_wraps(gguf_builder *b) {
    uint64_t ne[1] = {16};
    gb_info(b, "t", PL_TYPE_F32, 1, ne, 0xffffffffffffffe0ull);
    put(&b->data, ones, 64);
}
static void duplicate_tensor(gguf_builder *b) {
    gb_tensor(b, "same", PL_TYPE_F32, 4, 1, ones, 16);
    gb_tensor(b, "other", PL_TYPE_F32, 4, 1, ones, 16);
    gb_tensor(b, "same", PL_TYPE_F32, 4, 1, ones, 16);
}

static void test_damaged_files(void) {
    static const struct {
        void (*fill)(gguf_builder *);
        int status;
        const char *msg_part;
    } cases[] = {
        {tensor_ok, PL_OK, ""},
        {huge_kv_count, PL_ERR_TRUNCATED, "metadata entries"},
        {huge_tensor_count, PL_ERR_TRUNCATED, "tensor infos"},
        {kv_count_one_too_many, PL_ERR_TRUNCATED, ""},
        {huge_array, PL_ERR_TRUNCATED, "array elements"},
        {huge_string_array, PL_ERR_TRUNCATED, "array elements"},
        {huge_string, PL_ERR_TRUNCATED, "string"},
        {huge_key, PL_ERR_TRUNCATED, "string"},
        {empty_key, PL_ERR_BAD_FORMAT, "metadata key"},
        {unknown_kv_type, PL_ERR_BAD_FORMAT, "unknown value type 13"},
        {unknown_elem_type, PL_ERR_BAD_FORMAT, "unknown array element type 77"},
        {deep_nesting, PL_ERR_BAD_FORMAT, "nested"},
        {duplicate_key, PL_ERR_BAD_FORMAT, "duplicate metadata key k.one"},
        {alignment_48, PL_ERR_BAD_FORMAT, "general.alignment = 48"},
        {alignment_0, PL_ERR_BAD_FORMAT, "general.alignment = 0"},
        {alignment_str, PL_ERR_BAD_FORMAT, "general.alignment"},
        {dims_0, PL_ERR_BAD_FORMAT, "0 dimensions"},
        {dims_5, PL_ERR_BAD_FORMAT, "5 dimensions"},
        {zero_dim, PL_ERR_BAD_FORMAT, "dimension 1"},
        {overflow_dims, PL_ERR_BAD_FORMAT, "overflow"},
        {huge_tensor, PL_ERR_TRUNCATED, "larger than the whole file"},
        {unknown_tensor_type, PL_ERR_UNSUPPORTED_TYPE, "tensor weird.weight has unknown type id 4"},
        {bad_block_multiple, PL_ERR_BAD_FORMAT, "Q8_0 block size 32"},
        {misaligned_offset, PL_ERR_BAD_FORMAT, "not a multiple of the alignment 32"},
        {past_end, PL_ERR_TRUNCATED, "tensor t"},
        {offset_wraps, PL_ERR_TRUNCATED, "tensor t"},
        {duplicate_tensor, PL_ERR_BAD_FORMAT, "duplicate tensor name same"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        pl_err err = {0};
        int st = parse_status(cases[i].fill, &err);
        CHECK_EQ_INT(st, cases[i].status);
        CHECK(contains(err.msg, cases[i].msg_part));
        if (st != cases[i].status || !contains(err.msg, cases[i].msg_part))
            fprintf(stderr, "  case %zu: status %d, message \"%s\"\n", i, st, err.msg);
    }
}

static void test_custom_alignment(void) {
    gguf_builder b;
    size_t size;
    pl_gguf g;
    pl_err err = {0};
    gb_init(&b);
    gb_set_alignment(&b, 256);
    gb_str(&b, "x", "abc");
    gb_tensor(&b, "a", PL_TYPE_F32, 3, 1, ones, 12);
    gb_tensor(&b, "b", PL_TYPE_F16, 4, 2, ones, 16);
    uint8_t *buf = gb_finish(&b, 3, &size);
    CHECK_EQ_INT(pl_gguf_parse(&g, buf, size, &err), PL_OK);
    CHECK_EQ_INT(g.alignment, 256);
    CHECK_EQ_INT(g.data_offset, 256);
    const pl_tensor *t = pl_gguf_tensor(&g, "b");
    CHECK(t && t->data == buf + 512 && t->nbytes == 16 && t->type == PL_TYPE_F16);
    t = pl_gguf_tensor(&g, "a");
    CHECK(t && t->data == buf + 256 && t->nbytes == 12 && t->n_dims == 1);
    pl_gguf_free(&g);
    free(buf);

    /* alignment 64 stored as u64, tensor at offset 32: misaligned for this file */
    gb_init(&b);
    uint64_t a64 = 64;
    put(gb_key(&b, "general.alignment", GGUF_U64), &a64, 8);
    uint64_t ne[1] = {8};
    gb_info(&b, "t", PL_TYPE_F32, 1, ne, 32);
    put(&b.data, ones, 64);
    buf = gb_finish(&b, 3, &size);
    CHECK_EQ_INT(pl_gguf_parse(&g, buf, size, &err), PL_ERR_BAD_FORMAT);
    CHECK(contains(err.msg, "alignment 64"));
    free(buf);
}

static void test_tiny_model(void) {
    llama_opts o = tiny();
    size_t size;
    uint8_t *buf = build_llama(&o, &size);
    pl_model m;
    pl_err err = {0};
    CHECK_EQ_INT(load_model(buf, size, &m, &err), PL_OK);
    CHECK(m.hp.dim == 8 && m.hp.n_layers == 2 && m.hp.n_heads == 2 && m.hp.n_kv_heads == 1);
    CHECK(m.hp.head_dim == 4 && m.hp.hidden_dim == 12 && m.hp.n_vocab == 16);
    CHECK(m.hp.n_ctx_train == 128 && m.hp.rope_dims == 4 && m.hp.norm_eps == 1e-5f);
    CHECK(m.hp.rope_base == 10000 && m.hp.rope_pos_scale == 1 && m.has_vocab == 0);
    CHECK(m.tied_output == 0);
    /* each view holds the data written for it: tensor k starts with value k */
    CHECK(f32_at(m.tok_embd.data, 0) == 0 && f32_at(m.tok_embd.data, 9) == 9.0f / 1024);
    CHECK(f32_at(m.out_norm.data, 0) == 1 && f32_at(m.output.data, 0) == 2);
    const pl_tensor *order[9] = {&m.layers[1].attn_norm, &m.layers[1].wq, &m.layers[1].wk,
                                 &m.layers[1].wv, &m.layers[1].wo, &m.layers[1].ffn_norm,
                                 &m.layers[1].w_gate, &m.layers[1].w_up, &m.layers[1].w_down};
    for (int i = 0; i < 9; i++) CHECK(f32_at(order[i]->data, 0) == (float)(3 + 9 + i));
    CHECK(m.layers[1].wk.ne[0] == 8 && m.layers[1].wk.ne[1] == 4);
    CHECK(m.layers[1].w_down.ne[0] == 12 && m.layers[1].w_down.ne[1] == 8);
    CHECK(m.layers[0].wq.name_len == 19 && memcmp(m.layers[0].wq.name, "blk.0.attn_q.weight", 19) == 0);
    pl_model_free(&m);

    /* every prefix fails as truncated, and the loader leaves nothing behind */
    int bad = 0;
    for (size_t n = 0; n < size; n++) {
        uint8_t *p = exact_copy(buf, n);
        if (load_model(p, n, &m, &err) != PL_ERR_TRUNCATED) bad++;
        pl_model_free(&m);
        free(p);
    }
    CHECK_EQ_INT(bad, 0);
    free(buf);

    /* defaults and options */
    o = tiny();
    o.tied = 1;
    o.omit_kv_heads = 1;
    o.n_kv_heads = o.n_heads;
    o.rope_dims = 2;
    o.rope_scaling = "linear";
    o.rope_factor = 4;
    o.alignment = 64;
    o.version = 2;
    o.q_type = PL_TYPE_F16;
    buf = build_llama(&o, &size);
    CHECK_EQ_INT(load_model(buf, size, &m, &err), PL_OK);
    CHECK(m.tied_output == 1 && m.output.data == m.tok_embd.data);
    CHECK(m.hp.n_kv_heads == 2 && m.hp.rope_dims == 2 && m.hp.rope_pos_scale == 0.25f);
    CHECK(m.gguf.alignment == 64 && m.gguf.version == 2 && m.layers[0].wq.type == PL_TYPE_F16);
    pl_model_free(&m);
    free(buf);

    o = tiny();
    o.q_type = PL_TYPE_BF16;
    o.rope_scaling = "none";
    o.rope_factor = 8;
    buf = build_llama(&o, &size);
    CHECK_EQ_INT(load_model(buf, size, &m, &err), PL_OK);
    CHECK(m.hp.rope_pos_scale == 1 && m.layers[0].wq.type == PL_TYPE_BF16);
    pl_model_free(&m);
    free(buf);
}

/* The tokenizer must cover exactly the embedding's rows. */
static void test_tokenizer_size(void) {
    pl_err err = {0};
    llama_opts o = tiny();
    o.n_tokens = 16;
    size_t size;
    uint8_t *buf = build_llama(&o, &size);
    pl_model m;
    CHECK_EQ_INT(load_model(buf, size, &m, &err), PL_OK);
    CHECK(m.has_vocab == 1 && m.vocab.n_vocab == 16);
    pl_model_free(&m);
    free(buf);
    o.n_tokens = 15;
    CHECK_EQ_INT(model_status(&o, &err), PL_ERR_BAD_FORMAT);
    CHECK(contains(err.msg, "tokenizer has 15 tokens but token_embd.weight has 16 rows"));
    o.n_tokens = 17;
    CHECK_EQ_INT(model_status(&o, &err), PL_ERR_BAD_FORMAT);
}

/* Any single corrupted byte gives a status, never a crash (ASan/UBSan watch the reads). */
static void test_corruption(void) {
    llama_opts o = tiny();
    o.n_tokens = 16;
    size_t size;
    uint8_t *buf = build_llama(&o, &size);
    static const uint8_t values[] = {0x00, 0x01, 0x7f, 0x80, 0xff};
    int out_of_range = 0, ok = 0;
    pl_gguf g;
    pl_err perr;
    CHECK_EQ_INT(pl_gguf_parse(&g, buf, size, &perr), PL_OK);
    const size_t header_end = g.data_offset + 64;   /* tensor data beyond is not interpreted */
    pl_gguf_free(&g);
    for (size_t i = 0; i < header_end; i++) {
        for (size_t v = 0; v < sizeof values; v++) {
            uint8_t *p = exact_copy(buf, size);
            p[i] = values[v];
            pl_model m;
            pl_err err = {0};
            int st = load_model(p, size, &m, &err);
            if (st < PL_OK || st >= PL_STATUS_COUNT || (st != PL_OK && err.msg[0] == 0))
                out_of_range++;
            ok += st == PL_OK;
            pl_model_free(&m);
            free(p);
        }
    }
    CHECK_EQ_INT(out_of_range, 0);
    CHECK(ok > 0);   /* bytes inside tensor data change nothing the loader checks */
    free(buf);
}

static void test_model_errors(void) {
    pl_err err = {0};
    llama_opts o = tiny();
    o.arch = "falcon";
    CHECK_EQ_INT(model_status(&o, &err), PL_ERR_UNSUPPORTED_ARCH);
    CHECK(contains(err.msg, "\"falcon\""));

    /* quantized matrices with a kernel load (Q4_K needs rows of 256); IQ types have none */
    o = tiny();
    o.dim = 256;
    o.q_type = PL_TYPE_Q4_K;
    CHECK_EQ_INT(model_status(&o, &err), PL_OK);
    o.q_type = 16;
    CHECK_EQ_INT(model_status(&o, &err), PL_ERR_UNSUPPORTED_TYPE);
    CHECK(strcmp(err.msg, "tensor blk.0.attn_q.weight has type IQ2_XXS, not supported") == 0);
    o = tiny();
    o.dim = 32;
    o.q_type = PL_TYPE_Q8_0;
    CHECK_EQ_INT(model_status(&o, &err), PL_OK);
    o = tiny();
    o.norm_type = PL_TYPE_F16;
    CHECK_EQ_INT(model_status(&o, &err), PL_ERR_UNSUPPORTED_TYPE);
    CHECK(contains(err.msg, "blk.0.attn_norm.weight has type F16"));

    o = tiny();
    o.omit_tensor = "blk.1.ffn_up.weight";
    CHECK_EQ_INT(model_status(&o, &err), PL_ERR_BAD_FORMAT);
    CHECK(strcmp(err.msg, "missing tensor blk.1.ffn_up.weight") == 0);
    o.omit_tensor = "output_norm.weight";
    CHECK_EQ_INT(model_status(&o, &err), PL_ERR_BAD_FORMAT);
    CHECK(contains(err.msg, "output_norm.weight"));

    /* metadata says 2 kv heads but attn_k holds one head's rows */
    o = tiny();
    o.omit_kv_heads = 1;
    CHECK_EQ_INT(model_status(&o, &err), PL_ERR_BAD_FORMAT);
    CHECK(contains(err.msg, "blk.0.attn_k.weight has shape [8, 4, 1, 1], expected [8, 8]"));

    o = tiny();
    o.n_heads = 3;
    CHECK_EQ_INT(model_status(&o, &err), PL_ERR_BAD_FORMAT);
    CHECK(contains(err.msg, "head_count 3"));
    o = tiny();
    o.n_kv_heads = 3;
    o.n_heads = 4;
    CHECK_EQ_INT(model_status(&o, &err), PL_ERR_BAD_FORMAT);
    o = tiny();
    o.rope_dims = 3;
    CHECK_EQ_INT(model_status(&o, &err), PL_ERR_BAD_FORMAT);
    CHECK(contains(err.msg, "llama.rope.dimension_count = 3"));
    o.rope_dims = 6;
    CHECK_EQ_INT(model_status(&o, &err), PL_ERR_BAD_FORMAT);
    o = tiny();
    o.n_layers = 0;
    CHECK_EQ_INT(model_status(&o, &err), PL_ERR_BAD_FORMAT);
    CHECK(contains(err.msg, "llama.block_count = 0"));
    o = tiny();
    o.rope_scaling = "yarn";
    o.rope_factor = 4;
    CHECK_EQ_INT(model_status(&o, &err), PL_ERR_UNSUPPORTED_ARCH);
    CHECK(contains(err.msg, "\"yarn\""));
    o.rope_scaling = "linear";
    o.rope_factor = -2;
    CHECK_EQ_INT(model_status(&o, &err), PL_ERR_BAD_FORMAT);
    CHECK(contains(err.msg, "llama.rope.scaling.factor"));

    /* a metadata-only file: missing architecture, then a missing hyper-parameter */
    gguf_builder b;
    size_t size;
    pl_model m;
    gb_init(&b);
    gb_str(&b, "general.name", "x");
    uint8_t *buf = gb_finish(&b, 3, &size);
    CHECK_EQ_INT(load_model(buf, size, &m, &err), PL_ERR_BAD_FORMAT);
    CHECK(contains(err.msg, "general.architecture"));
    free(buf);
    gb_init(&b);
    gb_str(&b, "general.architecture", "llama");
    gb_u32(&b, "llama.context_length", 64);
    buf = gb_finish(&b, 3, &size);
    CHECK_EQ_INT(load_model(buf, size, &m, &err), PL_ERR_BAD_FORMAT);
    CHECK(contains(err.msg, "llama.embedding_length") && contains(err.msg, "missing"));
    free(buf);

    /* garbage is not a GGUF model */
    uint8_t junk[64] = "this is not a model file at all";
    CHECK_EQ_INT(load_model(junk, sizeof junk, &m, &err), PL_ERR_BAD_FORMAT);
}

int main(void) {
    test_type_table();
    test_stories_gguf();
    test_stories_prefixes();
    test_vocab_files();
    test_all_metadata_types();
    test_versions_and_magic();
    test_damaged_files();
    test_custom_alignment();
    test_tiny_model();
    test_tokenizer_size();
    test_corruption();
    test_model_errors();
    return check_report("test_gguf");
}
