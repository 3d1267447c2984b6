/* Models from GGUF files: the llama architecture here, gpt2 in gguf_gpt2.c (with the
 * helpers below for reading hyper-parameters and weights), plus the two helpers every
 * reader shares: pl_check_tensor and pl_model_free. */
#include "model.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Types the kernels read in place: matrices F32/F16/BF16, norm vectors F32. */
static int weight_type_ok(uint32_t type, int is_vector) {
    if (is_vector) return type == PL_TYPE_F32;
    return type == PL_TYPE_F32 || type == PL_TYPE_F16 || type == PL_TYPE_BF16;
}

int pl_check_tensor(const pl_tensor *t, int64_t ne0, int64_t ne1, pl_err *err) {
    const int nl = (int)t->name_len;
    const char *type_name = pl_type_name(t->type);
    int block_elems, block_bytes;
    if (t->ne[0] != ne0 || t->ne[1] != ne1 || t->ne[2] != 1 || t->ne[3] != 1)
        return pl_fail(err, PL_ERR_BAD_FORMAT,
                       "tensor %.*s has shape [%lld, %lld, %lld, %lld], expected [%lld, %lld]",
                       nl, t->name, (long long)t->ne[0], (long long)t->ne[1], (long long)t->ne[2],
                       (long long)t->ne[3], (long long)ne0, (long long)ne1);
    if (!weight_type_ok(t->type, ne1 == 1))
        return pl_fail(err, PL_ERR_UNSUPPORTED_TYPE, "tensor %.*s has type %s, not supported",
                       nl, t->name, type_name ? type_name : "unknown");
    /* plain element types are read as C arrays, so they must be naturally aligned */
    pl_type_block(t->type, &block_elems, &block_bytes);
    if (block_elems == 1 && (uintptr_t)t->data % (uintptr_t)block_bytes != 0)
        return pl_fail(err, PL_ERR_BAD_FORMAT, "tensor %.*s: %s data is not %d-byte aligned",
                       nl, t->name, type_name, block_bytes);
    return PL_OK;
}

void pl_model_free(pl_model *m) {
    if (m->has_vocab) pl_vocab_free(&m->vocab);
    pl_gguf_free(&m->gguf);
    free(m->layers);
    free(m->file);
    memset(m, 0, sizeof *m);
}

int pl_gguf_hp_int(const pl_gguf *g, const char *arch, const char *suffix, int64_t dflt, int *out,
                   pl_err *err) {
    char key[96];
    int64_t v = 0;
    snprintf(key, sizeof key, "%s.%s", arch, suffix);
    int st = dflt < 0 ? pl_gguf_get_i64(g, key, &v, err) : pl_gguf_i64_or(g, key, dflt, &v, err);
    if (st) return st;
    if (v <= 0 || v > INT32_MAX)
        return pl_fail(err, PL_ERR_BAD_FORMAT, "%s = %lld is out of range", key, (long long)v);
    *out = (int)v;
    return PL_OK;
}

int pl_gguf_hp_float(const pl_gguf *g, const char *arch, const char *suffix, float dflt,
                     float *out, pl_err *err) {
    char key[96];
    snprintf(key, sizeof key, "%s.%s", arch, suffix);
    int st = pl_gguf_f32_or(g, key, dflt, out, err);
    if (st) return st;
    if (!(*out > 0) || !isfinite(*out))
        return pl_fail(err, PL_ERR_BAD_FORMAT, "%s = %g must be positive", key, (double)*out);
    return PL_OK;
}

/* {arch}.rope.scaling.type: none, or linear (positions divided by the factor). */
static int read_rope_scaling(const pl_gguf *g, const char *arch, float *pos_scale, pl_err *err) {
    char key[96];
    const char *type;
    uint64_t len;
    float factor = 1;
    *pos_scale = 1;
    snprintf(key, sizeof key, "%s.rope.scaling.type", arch);
    if (!pl_gguf_find(g, key)) return PL_OK;
    int st = pl_gguf_get_str(g, key, &type, &len, err);
    if (st) return st;
    if (len == 4 && memcmp(type, "none", 4) == 0) return PL_OK;
    if (len != 6 || memcmp(type, "linear", 6) != 0)
        return pl_fail(err, PL_ERR_UNSUPPORTED_ARCH,
                       "rope scaling type \"%.*s\" is not supported (only linear)",
                       len > 64 ? 64 : (int)len, type);
    if ((st = pl_gguf_hp_float(g, arch, "rope.scaling.factor", 1, &factor, err))) return st;
    *pos_scale = 1 / factor;
    return PL_OK;
}

static int read_hparams(const pl_gguf *g, pl_hparams *hp, pl_err *err) {
    const char *a = hp->arch_name;
    int st;
    if ((st = pl_gguf_hp_int(g, a, "context_length", -1, &hp->n_ctx_train, err)) ||
        (st = pl_gguf_hp_int(g, a, "embedding_length", -1, &hp->dim, err)) ||
        (st = pl_gguf_hp_int(g, a, "block_count", -1, &hp->n_layers, err)) ||
        (st = pl_gguf_hp_int(g, a, "feed_forward_length", -1, &hp->hidden_dim, err)) ||
        (st = pl_gguf_hp_int(g, a, "attention.head_count", -1, &hp->n_heads, err)) ||
        (st = pl_gguf_hp_int(g, a, "attention.head_count_kv", hp->n_heads, &hp->n_kv_heads, err)))
        return st;
    if (hp->dim % hp->n_heads != 0 || hp->n_heads % hp->n_kv_heads != 0)
        return pl_fail(err, PL_ERR_BAD_FORMAT,
                       "bad attention shape: embedding_length %d, head_count %d, head_count_kv %d "
                       "(need head_count | embedding_length and head_count_kv | head_count)",
                       hp->dim, hp->n_heads, hp->n_kv_heads);
    hp->head_dim = hp->dim / hp->n_heads;
    st = pl_gguf_hp_int(g, a, "rope.dimension_count", hp->head_dim, &hp->rope_dims, err);
    if (st) return st;
    if (hp->rope_dims % 2 != 0 || hp->rope_dims > hp->head_dim)
        return pl_fail(err, PL_ERR_BAD_FORMAT,
                       "%s.rope.dimension_count = %d must be even and at most the head size %d",
                       a, hp->rope_dims, hp->head_dim);
    if ((st = pl_gguf_hp_float(g, a, "attention.layer_norm_rms_epsilon", 1e-5f, &hp->norm_eps,
                               err)) ||
        (st = pl_gguf_hp_float(g, a, "rope.freq_base", 10000.0f, &hp->rope_base, err)) ||
        (st = read_rope_scaling(g, a, &hp->rope_pos_scale, err)))
        return st;
    /* llama.cpp's convention: GGUF llama weights are stored for adjacent-pair rotation */
    hp->rope_type = PL_ROPE_NORMAL;
    return PL_OK;
}

int pl_gguf_weight(const pl_gguf *g, const char *name, int64_t ne0, int64_t ne1, pl_tensor *out,
                   pl_err *err) {
    const pl_tensor *t = pl_gguf_tensor(g, name);
    if (!t) return pl_fail(err, PL_ERR_BAD_FORMAT, "missing tensor %s", name);
    *out = *t;
    return pl_check_tensor(t, ne0, ne1, err);
}

static int read_layer(const pl_gguf *g, const pl_hparams *hp, int l, pl_layer *L, pl_err *err) {
    const int64_t dim = hp->dim, hidden = hp->hidden_dim;
    const int64_t q_dim = (int64_t)hp->n_heads * hp->head_dim;
    const int64_t kv_dim = (int64_t)hp->n_kv_heads * hp->head_dim;
    const struct { const char *name; pl_tensor *t; int64_t ne0, ne1; } weights[] = {
        {"attn_norm", &L->attn_norm, dim, 1},     {"attn_q", &L->wq, dim, q_dim},
        {"attn_k", &L->wk, dim, kv_dim},          {"attn_v", &L->wv, dim, kv_dim},
        {"attn_output", &L->wo, q_dim, dim},      {"ffn_norm", &L->ffn_norm, dim, 1},
        {"ffn_gate", &L->w_gate, dim, hidden},    {"ffn_up", &L->w_up, dim, hidden},
        {"ffn_down", &L->w_down, hidden, dim},
    };
    char name[64];
    for (size_t i = 0; i < sizeof weights / sizeof weights[0]; i++) {
        snprintf(name, sizeof name, "blk.%d.%s.weight", l, weights[i].name);
        int st = pl_gguf_weight(g, name, weights[i].ne0, weights[i].ne1, weights[i].t, err);
        if (st) return st;
    }
    return PL_OK;
}

static int load_llama(pl_model *m, pl_err *err) {
    pl_hparams *hp = &m->hp;
    const pl_gguf *g = &m->gguf;
    int st = read_hparams(g, hp, err);
    if (st) return st;

    /* the vocabulary size is the embedding's row count */
    const pl_tensor *embd = pl_gguf_tensor(g, "token_embd.weight");
    if (!embd) return pl_fail(err, PL_ERR_BAD_FORMAT, "missing tensor token_embd.weight");
    if (embd->ne[1] > INT32_MAX)
        return pl_fail(err, PL_ERR_BAD_FORMAT, "token_embd.weight has too many rows");
    hp->n_vocab = (int)embd->ne[1];
    if ((st = pl_gguf_weight(g, "token_embd.weight", hp->dim, hp->n_vocab, &m->tok_embd, err)) ||
        (st = pl_gguf_weight(g, "output_norm.weight", hp->dim, 1, &m->out_norm, err)))
        return st;
    if (pl_gguf_tensor(g, "output.weight")) {
        st = pl_gguf_weight(g, "output.weight", hp->dim, hp->n_vocab, &m->output, err);
        if (st) return st;
    } else {
        m->output = m->tok_embd;
        m->tied_output = 1;
    }

    /* each layer has 9 tensors: a huge block_count must not reach the allocator */
    if ((uint64_t)hp->n_layers > g->n_tensors / 9)
        return pl_fail(err, PL_ERR_BAD_FORMAT,
                       "%s.block_count = %d but the file has only %llu tensors", hp->arch_name,
                       hp->n_layers, (unsigned long long)g->n_tensors);
    if (!(m->layers = calloc((size_t)hp->n_layers, sizeof *m->layers)))
        return pl_fail(err, PL_ERR_OUT_OF_MEMORY, "out of memory for %d layers", hp->n_layers);
    for (int l = 0; l < hp->n_layers; l++)
        if ((st = read_layer(g, hp, l, &m->layers[l], err))) return st;
    return PL_OK;
}

static int load(pl_model *m, const uint8_t *buf, size_t size, pl_err *err) {
    pl_hparams *hp = &m->hp;
    const pl_gguf *g = &m->gguf;
    const char *arch;
    uint64_t arch_len;
    int st = pl_gguf_parse(&m->gguf, buf, size, err);
    if (st || (st = pl_gguf_get_str(g, "general.architecture", &arch, &arch_len, err))) return st;
    m->format = "gguf";
    if (arch_len == 5 && memcmp(arch, "llama", 5) == 0) hp->arch = PL_ARCH_LLAMA;
    else if (arch_len == 4 && memcmp(arch, "gpt2", 4) == 0) hp->arch = PL_ARCH_GPT2;
    else
        return pl_fail(err, PL_ERR_UNSUPPORTED_ARCH,
                       "architecture \"%.*s\" is not supported (supported: llama, gpt2)",
                       arch_len > 64 ? 64 : (int)arch_len, arch);
    memcpy(hp->arch_name, arch, arch_len);
    st = hp->arch == PL_ARCH_GPT2 ? pl_gpt2_from_gguf(m, err) : load_llama(m, err);
    if (st) return st;

    if (pl_gguf_find(g, "tokenizer.ggml.tokens")) {
        if ((st = pl_vocab_from_gguf(&m->vocab, g, err))) return st;
        m->has_vocab = 1;
        /* every id the model can produce must have a piece, and no more */
        if (m->vocab.n_vocab != hp->n_vocab)
            return pl_fail(err, PL_ERR_BAD_FORMAT,
                           "tokenizer has %d tokens but token_embd.weight has %d rows",
                           m->vocab.n_vocab, hp->n_vocab);
    }
    return PL_OK;
}

/* On failure everything allocated here is freed and m is zeroed except for m->file and
 * m->file_size, which belong to the caller (pl_model_free releases them later). */
int pl_model_from_gguf(pl_model *m, const uint8_t *buf, size_t size, pl_err *err) {
    pl_model tmp;
    memset(&tmp, 0, sizeof tmp);
    int st = load(&tmp, buf, size, err);
    if (st) pl_model_free(&tmp);   /* leaves tmp zeroed */
    tmp.file = m->file;
    tmp.file_size = m->file_size;
    *m = tmp;
    return st;
}
