/* The exported C API: one context = model + KV cache + sampler + last error. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "arch.h"
#include "info.h"
#include "kernels.h"
#include "sampler.h"
#include "unicode.h"

#define PL_DEFAULT_CONTEXT 2048

struct pl_ctx {
    pl_err err;
    int n_threads;
    pl_compute cx;           /* thread pool, kernel choice, activation workspace */
    int loaded;
    int vocab_only;          /* pl_load_vocab: a tokenizer and no weights */
    pl_model model;
    pl_state state;
    pl_sampler sampler;
    int32_t *history;        /* the tokens in the KV cache, in order (state.pos of them) */
    char *info_json;
    uint8_t pending[4];      /* streaming decode: start of a UTF-8 character not yet complete */
    int n_pending;
    int decoded;             /* streaming decode: some text came out since the last reset */
};

static const char *const status_codes[PL_STATUS_COUNT] = {
    "ok", "invalid_argument", "out_of_memory", "truncated_file", "bad_format",
    "unsupported_architecture", "unsupported_tensor_type", "missing_tokenizer",
    "context_overflow", "invalid_state",
};

const char *pl_status_code(int status) {
    return status >= 0 && status < PL_STATUS_COUNT ? status_codes[status] : "unknown_error";
}

pl_ctx *pl_create(int n_threads) {
    pl_ctx *ctx = calloc(1, sizeof(pl_ctx));
    if (!ctx) return NULL;
    ctx->cx.pool = pl_pool_create(n_threads < 1 ? 1 : n_threads);
    if (!ctx->cx.pool) {
        free(ctx);
        return NULL;
    }
    ctx->n_threads = pl_pool_size(ctx->cx.pool);
    ctx->cx.simd = pl_simd_available();
    return ctx;
}

static void unload(pl_ctx *ctx) {
    if (!ctx->loaded) return;
    ctx->vocab_only = 0;
    pl_model_free(&ctx->model);
    pl_state_free(&ctx->state);
    pl_sampler_free(&ctx->sampler);
    free(ctx->history);
    free(ctx->info_json);
    free(ctx->cx.act);
    ctx->history = NULL;
    ctx->info_json = NULL;
    ctx->cx.act = NULL;
    ctx->loaded = 0;
}

void pl_destroy(pl_ctx *ctx) {
    if (!ctx) return;
    unload(ctx);
    pl_pool_destroy(ctx->cx.pool);
    free(ctx);
}

const char *pl_last_error(const pl_ctx *ctx) { return ctx ? ctx->err.msg : "no context"; }

void *pl_alloc(size_t size) { return malloc(size ? size : 1); }
void pl_dealloc(void *ptr) { free(ptr); }

/* Records the outcome of a call in ctx->err (clearing it on success). */
static int done(pl_ctx *ctx, int status) {
    if (status == PL_OK) {
        ctx->err.status = PL_OK;
        ctx->err.msg[0] = 0;
    }
    return status;
}

/* A tokenizer is enough for tokenize/detokenize; everything else needs the weights. */
static int need_vocab(pl_ctx *ctx) {
    return ctx->loaded ? PL_OK : pl_fail(&ctx->err, PL_ERR_INVALID_STATE, "no model is loaded");
}

static int need_model(pl_ctx *ctx) {
    int st = need_vocab(ctx);
    if (st == PL_OK && ctx->vocab_only)
        st = pl_fail(&ctx->err, PL_ERR_INVALID_STATE, "only a tokenizer is loaded, no weights");
    return st;
}

/* Matrices whose type has a 4-row kernel go into PL_LAYOUT_X4 in place (the file buffer
 * is ours). Fused matrices only when every part starts on a group of 4, since a part is a
 * range of rows; a tied output matrix is also the embedding table, read by pl_get_row. */
static void repack_layers(const pl_hparams *hp, pl_layer *layers, int n) {
    int q_dim = hp->n_heads * hp->head_dim, kv_dim = hp->n_kv_heads * hp->head_dim;
    for (int l = 0; l < n; l++) {
        pl_layer *L = &layers[l];
        pl_tensor *plain[] = {&L->wq, &L->wk, &L->wv, &L->wo, &L->cwq, &L->cwk, &L->cwv, &L->cwo,
                              &L->w_gate, &L->w_up, &L->w_down};
        for (size_t i = 0; i < sizeof plain / sizeof *plain; i++)
            if (plain[i]->data) pl_repack_x4(plain[i]);
        if (L->wqkv.data && q_dim % 4 == 0 && kv_dim % 4 == 0) pl_repack_x4(&L->wqkv);
        if (L->w_gate_up.data && hp->hidden_dim % 4 == 0) pl_repack_x4(&L->w_gate_up);
    }
}

static void repack_weights(pl_model *m) {
    repack_layers(&m->hp, m->layers, m->hp.n_layers);
    if (m->enc_layers) repack_layers(&m->hp, m->enc_layers, m->hp.n_enc_layers);
    if (pl_repack_x4(&m->output) && m->tied_output) {
        m->tok_embd.layout = m->output.layout;
        m->tok_embd.scale_shift = m->output.scale_shift;
    }
}

static int load_model(pl_ctx *ctx, uint8_t *buf, size_t size, const void *tok, size_t tok_size,
                      int n_ctx) {
    pl_model *m = &ctx->model;
    pl_err *err = &ctx->err;
    int st = size >= 4 && memcmp(buf, "GGUF", 4) == 0
                 ? pl_model_from_gguf(m, buf, size, err)
                 : pl_model_from_llama2c(m, buf, size, tok, tok_size, err);
    if (st != PL_OK) return st;
    if (!m->has_vocab)
        return pl_fail(err, PL_ERR_NO_TOKENIZER,
                       "the model has no tokenizer: a llama2.c checkpoint needs its tokenizer.bin");
    if (m->vocab.n_vocab != m->hp.n_vocab)
        return pl_fail(err, PL_ERR_BAD_FORMAT, "tokenizer has %d tokens but the model has %d",
                       m->vocab.n_vocab, m->hp.n_vocab);
    repack_weights(m);
    if (n_ctx <= 0) n_ctx = m->hp.n_ctx_train < PL_DEFAULT_CONTEXT ? m->hp.n_ctx_train : PL_DEFAULT_CONTEXT;
    if (n_ctx > m->hp.n_ctx_train) n_ctx = m->hp.n_ctx_train;
    if ((st = pl_state_init(&ctx->state, &m->hp, n_ctx, ctx->n_threads, err)) != PL_OK ||
        (m->hp.arch == PL_ARCH_T5 && (st = pl_t5_state_init(m, &ctx->state, err)) != PL_OK))
        return st;
    if ((st = pl_sampler_init(&ctx->sampler, m->hp.n_vocab, err)) != PL_OK) return st;
    ctx->history = malloc((size_t)n_ctx * sizeof(int32_t));
    /* every matrix has dim, hidden_dim or n_heads * head_dim columns */
    int widest = m->hp.dim > m->hp.hidden_dim ? m->hp.dim : m->hp.hidden_dim;
    if (m->hp.n_heads * m->hp.head_dim > widest) widest = m->hp.n_heads * m->hp.head_dim;
    ctx->cx.act_bytes = pl_matmul_workspace(PL_MAX_BATCH, widest);
    ctx->cx.act = malloc((size_t)ctx->n_threads * ctx->cx.act_bytes);
    ctx->info_json = pl_model_info_json(m, n_ctx, ctx->n_threads);
    if (!ctx->history || !ctx->info_json || !ctx->cx.act)
        return pl_fail(err, PL_ERR_OUT_OF_MEMORY, "out of memory");
    pl_sampler_set(&ctx->sampler, &(pl_sampling){.temperature = 0, .repeat_penalty = 1});
    return PL_OK;
}

typedef int (*load_fn)(pl_ctx *ctx, uint8_t *buf, size_t size, const void *tok, size_t tok_size,
                       int n_ctx);

/* Takes ownership of model_buf, runs a loader, and leaves ctx empty if it fails. */
static int load_with(pl_ctx *ctx, load_fn fn, void *model_buf, size_t model_size,
                     const void *tok_buf, size_t tok_size, int n_ctx) {
    if (!ctx) {
        free(model_buf);
        return PL_ERR_INVALID_ARGUMENT;
    }
    unload(ctx);
    if (!model_buf) return pl_fail(&ctx->err, PL_ERR_INVALID_ARGUMENT, "no model data");
    memset(&ctx->model, 0, sizeof ctx->model);
    ctx->model.file = model_buf;
    ctx->model.file_size = model_size;
    /* from here on the model owns the buffer: unload() frees it on any failure */
    ctx->loaded = 1;
    ctx->n_pending = 0;
    ctx->decoded = 0;
    int st = fn(ctx, model_buf, model_size, tok_buf, tok_size, n_ctx);
    if (st != PL_OK) {
        unload(ctx);
        return st;
    }
    return done(ctx, PL_OK);
}

int pl_load(pl_ctx *ctx, void *model_buf, size_t model_size, const void *tok_buf,
            size_t tok_size, int n_ctx) {
    return load_with(ctx, load_model, model_buf, model_size, tok_buf, tok_size, n_ctx);
}

static int load_vocab(pl_ctx *ctx, uint8_t *buf, size_t size, const void *tok, size_t tok_size,
                      int n_ctx) {
    pl_model *m = &ctx->model;
    pl_err *err = &ctx->err;
    int st;
    if (size >= 4 && memcmp(buf, "GGUF", 4) == 0) {
        m->format = "gguf";
        if ((st = pl_gguf_parse(&m->gguf, buf, size, err)) != PL_OK) return st;
        if (!pl_gguf_find(&m->gguf, "tokenizer.ggml.tokens"))
            return pl_fail(err, PL_ERR_NO_TOKENIZER, "the GGUF file has no tokenizer");
        st = pl_vocab_from_gguf(&m->vocab, &m->gguf, err);
    } else if (size >= 1 && buf[0] == '{') {
        m->format = "gpt2-files";
        if (!tok)
            return pl_fail(err, PL_ERR_NO_TOKENIZER, "GPT-2's encoder.json needs its vocab.bpe");
        st = pl_vocab_from_gpt2_files(&m->vocab, (const char *)buf, size, tok, tok_size, err);
    } else {
        return load_model(ctx, buf, size, tok, tok_size, n_ctx);   /* llama2.c: needs the header */
    }
    if (st != PL_OK) return st;
    m->has_vocab = 1;
    ctx->vocab_only = 1;
    ctx->info_json = pl_vocab_info_json(m);
    return ctx->info_json ? PL_OK : pl_fail(err, PL_ERR_OUT_OF_MEMORY, "out of memory");
}

int pl_load_vocab(pl_ctx *ctx, void *model_buf, size_t model_size, const void *tok_buf,
                  size_t tok_size) {
    return load_with(ctx, load_vocab, model_buf, model_size, tok_buf, tok_size, 0);
}

const char *pl_info_json(pl_ctx *ctx) { return ctx && ctx->loaded ? ctx->info_json : NULL; }

int pl_tokenize(pl_ctx *ctx, const char *text, int text_len, int add_bos, int parse_special,
                int32_t *out, int cap, int *n_out) {
    if (!ctx) return PL_ERR_INVALID_ARGUMENT;
    int st = need_vocab(ctx);
    if (st != PL_OK) return st;
    if ((!text && text_len) || text_len < 0 || !out || !n_out || cap < 0)
        return pl_fail(&ctx->err, PL_ERR_INVALID_ARGUMENT, "invalid tokenize arguments");
    st = pl_tokenize_text(&ctx->model.vocab, text ? text : "", text_len, add_bos, parse_special,
                          out, cap, n_out, &ctx->err);
    return done(ctx, st);
}

static int check_ids(pl_ctx *ctx, const int32_t *ids, int n) {
    for (int i = 0; i < n; i++)
        if (ids[i] < 0 || ids[i] >= ctx->model.vocab.n_vocab)
            return pl_fail(&ctx->err, PL_ERR_INVALID_ARGUMENT,
                           "token id %d is outside the vocabulary (0..%d)", ids[i], ctx->model.vocab.n_vocab - 1);
    return PL_OK;
}

int pl_detokenize(pl_ctx *ctx, const int32_t *ids, int n, char *out, int cap, int *len_out) {
    if (!ctx) return PL_ERR_INVALID_ARGUMENT;
    int st = need_vocab(ctx);
    if (st == PL_OK && (n < 0 || (n && !ids) || !len_out || (cap && !out) || cap < 0))
        st = pl_fail(&ctx->err, PL_ERR_INVALID_ARGUMENT, "invalid detokenize arguments");
    if (st == PL_OK) st = check_ids(ctx, ids, n);
    if (st != PL_OK) return st;
    const pl_vocab *v = &ctx->model.vocab;
    int len = 0;
    for (int i = 0; i < n; i++) {
        char byte;
        int piece_len;
        /* the first token is read as if it followed BOS, so the dummy-prefix space goes */
        const char *piece = pl_token_bytes(v, i ? ids[i - 1] : v->bos, len == 0, ids[i], &byte, &piece_len);
        if (piece_len && len + piece_len <= cap) memcpy(out + len, piece, (size_t)piece_len);   /* out may be NULL when cap is 0 */
        len += piece_len;
    }
    *len_out = len;
    if (len > cap)
        return pl_fail(&ctx->err, PL_ERR_INVALID_ARGUMENT, "detokenize needs %d bytes of room, has %d", len, cap);
    return done(ctx, PL_OK);
}

int pl_reset(pl_ctx *ctx) {
    if (!ctx) return PL_ERR_INVALID_ARGUMENT;
    int st = need_model(ctx);
    if (st != PL_OK) return st;
    ctx->state.pos = 0;
    ctx->state.n_enc = 0;
    ctx->n_pending = 0;
    ctx->decoded = 0;
    return done(ctx, PL_OK);
}

int pl_encode(pl_ctx *ctx, const int32_t *ids, int n) {
    if (!ctx) return PL_ERR_INVALID_ARGUMENT;
    int st = need_model(ctx);
    if (st == PL_OK && ctx->model.hp.arch != PL_ARCH_T5)
        st = pl_fail(&ctx->err, PL_ERR_INVALID_STATE, "%s is not an encoder-decoder model: use pl_eval",
                     ctx->model.hp.arch_name);
    if (st == PL_OK && (n <= 0 || !ids))
        st = pl_fail(&ctx->err, PL_ERR_INVALID_ARGUMENT, "encode needs at least one token");
    if (st == PL_OK) st = check_ids(ctx, ids, n);
    if (st == PL_OK && n > ctx->state.n_ctx)
        st = pl_fail(&ctx->err, PL_ERR_CONTEXT_OVERFLOW, "%d tokens do not fit the encoder's %d-token context",
                     n, ctx->state.n_ctx);
    if (st != PL_OK) return st;
    pl_t5_encode(&ctx->model, &ctx->state, ids, n, &ctx->cx);
    ctx->n_pending = 0;
    ctx->decoded = 0;
    return done(ctx, PL_OK);
}

/* One batch through the model's architecture. */
static void forward(pl_ctx *ctx, const int32_t *ids, int n) {
    switch (ctx->model.hp.arch) {
    case PL_ARCH_LLAMA:
    case PL_ARCH_QWEN2:
    case PL_ARCH_PHI3: pl_llama_forward(&ctx->model, &ctx->state, ids, n, &ctx->cx); break;
    case PL_ARCH_GPT2: pl_gpt2_forward(&ctx->model, &ctx->state, ids, n, &ctx->cx); break;
    case PL_ARCH_T5: pl_t5_forward(&ctx->model, &ctx->state, ids, n, &ctx->cx); break;
    }
}

int pl_eval(pl_ctx *ctx, const int32_t *ids, int n) {
    if (!ctx) return PL_ERR_INVALID_ARGUMENT;
    int st = need_model(ctx);
    if (st == PL_OK && (n <= 0 || !ids))
        st = pl_fail(&ctx->err, PL_ERR_INVALID_ARGUMENT, "eval needs at least one token");
    if (st == PL_OK) st = check_ids(ctx, ids, n);
    if (st == PL_OK && ctx->model.hp.arch == PL_ARCH_T5 && ctx->state.n_enc == 0)
        st = pl_fail(&ctx->err, PL_ERR_INVALID_STATE, "an encoder-decoder model decodes after pl_encode");
    if (st == PL_OK && n > ctx->state.n_ctx - ctx->state.pos)
        st = pl_fail(&ctx->err, PL_ERR_CONTEXT_OVERFLOW,
                     "%d more tokens do not fit: %d of the %d-token context are used",
                     n, ctx->state.pos, ctx->state.n_ctx);
    if (st != PL_OK) return st;
    for (int i = 0; i < n; i += PL_MAX_BATCH) {
        int batch = n - i < PL_MAX_BATCH ? n - i : PL_MAX_BATCH;
        memcpy(ctx->history + ctx->state.pos, ids + i, (size_t)batch * sizeof(int32_t));
        forward(ctx, ids + i, batch);
    }
    return done(ctx, PL_OK);
}

int pl_set_inspect(pl_ctx *ctx, float *attention, float *hidden, int positions) {
    if (!ctx) return PL_ERR_INVALID_ARGUMENT;
    int st = need_model(ctx);
    if (st == PL_OK && (attention || hidden) && ctx->model.hp.arch == PL_ARCH_T5)
        st = pl_fail(&ctx->err, PL_ERR_INVALID_STATE, "introspection is not available for t5 models");
    if (st == PL_OK && (attention || hidden) && (positions < 1 || positions > ctx->state.n_ctx))
        st = pl_fail(&ctx->err, PL_ERR_INVALID_ARGUMENT, "inspect needs 1 to %d positions, not %d",
                     ctx->state.n_ctx, positions);
    if (st != PL_OK) return st;
    ctx->state.inspect_attention = attention;
    ctx->state.inspect_hidden = hidden;
    ctx->state.inspect_positions = attention || hidden ? positions : 0;
    return done(ctx, PL_OK);
}

int pl_position(const pl_ctx *ctx) { return ctx && ctx->loaded ? ctx->state.pos : 0; }
int pl_context_length(const pl_ctx *ctx) { return ctx && ctx->loaded ? ctx->state.n_ctx : 0; }

float *pl_logits(pl_ctx *ctx) {
    return ctx && ctx->loaded && ctx->state.pos > 0 ? ctx->state.logits : NULL;
}

int pl_probabilities(pl_ctx *ctx, float temperature, float *out) {
    if (!ctx) return PL_ERR_INVALID_ARGUMENT;
    int st = need_model(ctx);
    if (st == PL_OK && (!out || !(temperature > 0.0f)))
        st = pl_fail(&ctx->err, PL_ERR_INVALID_ARGUMENT, "probabilities need an output and a temperature above 0");
    if (st == PL_OK && ctx->state.pos == 0)
        st = pl_fail(&ctx->err, PL_ERR_INVALID_STATE, "nothing evaluated yet: no logits");
    if (st != PL_OK) return st;
    int n = ctx->model.hp.n_vocab;
    const float *logits = ctx->state.logits;
    float max = logits[0];
    for (int i = 1; i < n; i++)
        if (logits[i] > max) max = logits[i];
    /* the largest off first: a tiny temperature then scales differences, not values to inf */
    for (int i = 0; i < n; i++) out[i] = (logits[i] - max) / temperature;
    pl_softmax(out, n);
    return done(ctx, PL_OK);
}

int pl_set_sampler(pl_ctx *ctx, float temperature, int top_k, float top_p, float min_p,
                   float repeat_penalty, int repeat_last_n, double seed) {
    if (!ctx) return PL_ERR_INVALID_ARGUMENT;
    int st = need_model(ctx);
    if (st != PL_OK) return st;
    if (!isfinite(temperature) || temperature < 0 || !(top_p >= 0 && top_p <= 1) ||
        !(min_p >= 0 && min_p <= 1) || !(repeat_penalty > 0) || !isfinite(repeat_penalty) ||
        repeat_last_n < -1 || !(seed >= 0 && seed < 18446744073709551616.0))
        return pl_fail(&ctx->err, PL_ERR_INVALID_ARGUMENT,
                       "invalid sampler settings: temperature >= 0, top_p and min_p in [0, 1], "
                       "repeat_penalty > 0, repeat_last_n >= -1, seed a non-negative integer");
    pl_sampling p = {temperature, top_k, top_p, min_p, repeat_penalty, repeat_last_n, (uint64_t)seed};
    pl_sampler_set(&ctx->sampler, &p);
    return done(ctx, PL_OK);
}

int pl_sample(pl_ctx *ctx, int32_t *id_out) {
    if (!ctx) return PL_ERR_INVALID_ARGUMENT;
    int st = need_model(ctx);
    if (st == PL_OK && !id_out) st = pl_fail(&ctx->err, PL_ERR_INVALID_ARGUMENT, "no output");
    if (st == PL_OK && ctx->state.pos == 0)
        st = pl_fail(&ctx->err, PL_ERR_INVALID_STATE, "nothing evaluated yet: no logits to sample from");
    if (st != PL_OK) return st;
    *id_out = pl_sampler_sample(&ctx->sampler, ctx->state.logits, ctx->history, ctx->state.pos);
    return done(ctx, PL_OK);
}

int pl_sample_candidates(pl_ctx *ctx, int32_t *ids, float *probs, int cap, int *n_out) {
    if (!ctx) return PL_ERR_INVALID_ARGUMENT;
    int st = need_model(ctx);
    if (st == PL_OK && (cap < 0 || (cap && (!ids || !probs)) || !n_out))
        st = pl_fail(&ctx->err, PL_ERR_INVALID_ARGUMENT, "invalid candidate buffers");
    if (st != PL_OK) return st;
    *n_out = pl_sampler_candidates(&ctx->sampler, ids, probs, cap);
    return done(ctx, PL_OK);
}

int pl_decode_stream(pl_ctx *ctx, int32_t id, int flush, char *out, int cap, int *len_out) {
    if (!ctx) return PL_ERR_INVALID_ARGUMENT;
    int st = need_model(ctx);
    if (st != PL_OK) return st;
    const pl_vocab *v = &ctx->model.vocab;
    const char *piece = "";
    int piece_len = 0;
    char byte;
    if (id >= 0) {
        if ((st = check_ids(ctx, &id, 1)) != PL_OK) return st;
        int prev = ctx->state.pos > 0 ? ctx->history[ctx->state.pos - 1] : -1;
        piece = pl_token_bytes(v, prev, !ctx->decoded, id, &byte, &piece_len);
        ctx->decoded |= piece_len > 0;
    }
    /* worst case every byte becomes a 3-byte U+FFFD */
    if (!out || !len_out || cap < 3 * (ctx->n_pending + piece_len))
        return pl_fail(&ctx->err, PL_ERR_INVALID_ARGUMENT, "decode needs %d bytes of room",
                       3 * (ctx->n_pending + piece_len));
    /* bytes = held-back bytes followed by the new piece */
    int n = ctx->n_pending + piece_len, len = 0, i = 0;
#define BYTE_AT(k) ((uint8_t)((k) < ctx->n_pending ? ctx->pending[k] : piece[(k) - ctx->n_pending]))
    while (i < n) {
        uint8_t c = BYTE_AT(i);
        int need = pl_utf8_lead_len(c), ok = need > 0, have = 1;
        while (ok && have < need && i + have < n) {
            uint8_t b = BYTE_AT(i + have);
            ok = have == 1 ? pl_utf8_second_ok(c, b) : (b & 0xc0) == 0x80;
            if (ok) have++;
        }
        if (ok && have < need && !flush) break;      /* incomplete: wait for more bytes */
        if (ok && have == need) {
            for (int k = 0; k < need; k++) out[len++] = (char)BYTE_AT(i + k);
            i += need;
        } else {                                      /* invalid: one replacement char */
            memcpy(out + len, "\xef\xbf\xbd", 3);
            len += 3;
            i += ok ? have : 1;
        }
    }
    uint8_t rest[4];
    int n_rest = n - i;
    for (int k = 0; k < n_rest; k++) rest[k] = BYTE_AT(i + k);
#undef BYTE_AT
    memcpy(ctx->pending, rest, (size_t)n_rest);
    ctx->n_pending = n_rest;
    *len_out = len;
    return done(ctx, PL_OK);
}

int pl_set_simd(pl_ctx *ctx, int enable) {
    if (!ctx) return PL_ERR_INVALID_ARGUMENT;
    if (enable && !pl_simd_available())
        return pl_fail(&ctx->err, PL_ERR_INVALID_ARGUMENT, "this build has no SIMD kernels");
    ctx->cx.simd = enable != 0;
    return done(ctx, PL_OK);
}
