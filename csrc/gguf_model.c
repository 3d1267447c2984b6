/* Models from GGUF files: the Llama family here (llama -- also Llama 3, SmolLM, TinyLlama,
 * Mistral --, qwen2 and phi3, with llama.cpp's names, keys and shapes), gpt2 in
 * gguf_gpt2.c (with the helpers below for reading hyper-parameters and weights), plus the
 * two helpers every reader shares: pl_check_tensor and pl_model_free. */
#include "model.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Types the kernels read in place: matrices of any type with a matmul kernel (it can
 * then also be dequantized, for embedding rows), norm and bias vectors F32. */
static int weight_type_ok(uint32_t type, int is_vector) {
    pl_kernel k;
    if (is_vector) return type == PL_TYPE_F32;
    return pl_kernel_for(type, 0, &k);
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
    free(m->enc_layers);
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
    /* head sizes other than embedding_length / head_count (Gemma, Qwen3) need other shapes */
    int key_len, value_len;
    if ((st = pl_gguf_hp_int(g, a, "attention.key_length", hp->head_dim, &key_len, err)) ||
        (st = pl_gguf_hp_int(g, a, "attention.value_length", hp->head_dim, &value_len, err)))
        return st;
    if (key_len != hp->head_dim || value_len != hp->head_dim)
        return pl_fail(err, PL_ERR_UNSUPPORTED_ARCH,
                       "%s.attention.key_length/value_length %d/%d differ from embedding_length / "
                       "head_count = %d: not supported", a, key_len, value_len, hp->head_dim);
    /* llama.cpp's convention: the converter permutes llama's q/k rows for adjacent-pair
     * rotation; qwen2 and phi3 keep Hugging Face's layout, rotated as halves (NeoX) */
    hp->rope_type = hp->arch == PL_ARCH_LLAMA ? PL_ROPE_NORMAL : PL_ROPE_NEOX;
    /* phi3's attention is local to the last sliding_window tokens (llama.cpp masks keys
     * with query pos - key pos >= window; 0 = none, as in Phi-4): a context no longer
     * than the window is exact */
    if (hp->arch == PL_ARCH_PHI3) {
        char key[96];
        int64_t window;
        snprintf(key, sizeof key, "%s.attention.sliding_window", a);
        if ((st = pl_gguf_i64_or(g, key, 0, &window, err))) return st;
        if (window > 0 && window < hp->n_ctx_train) hp->n_ctx_train = (int)window;
    }
    return PL_OK;
}

/* Rope frequency factors come as tensors: Llama 3.1's rope scaling as rope_freqs (each
 * frequency divided by its factor, read here), Phi-3's long-context (longrope) factors
 * (not implemented: refused). */
static int read_rope_factors(pl_model *m, pl_err *err) {
    static const char *const longrope[] = {"rope_factors_long.weight", "rope_factors_short.weight"};
    for (size_t i = 0; i < sizeof longrope / sizeof *longrope; i++)
        if (pl_gguf_tensor(&m->gguf, longrope[i]))
            return pl_fail(err, PL_ERR_UNSUPPORTED_ARCH,
                           "tensor %s: Phi-3 longrope rope factors are not supported", longrope[i]);
    if (!pl_gguf_tensor(&m->gguf, "rope_freqs.weight")) return PL_OK;
    return pl_gguf_weight(&m->gguf, "rope_freqs.weight", m->hp.rope_dims / 2, 1, &m->rope_freqs, err);
}

int pl_gguf_weight(const pl_gguf *g, const char *name, int64_t ne0, int64_t ne1, pl_tensor *out,
                   pl_err *err) {
    const pl_tensor *t = pl_gguf_tensor(g, name);
    if (!t) return pl_fail(err, PL_ERR_BAD_FORMAT, "missing tensor %s", name);
    *out = *t;
    return pl_check_tensor(t, ne0, ne1, err);
}

int pl_gguf_token_embd(pl_model *m, pl_err *err) {
    /* the vocabulary size is the embedding's row count */
    const pl_tensor *embd = pl_gguf_tensor(&m->gguf, "token_embd.weight");
    if (!embd) return pl_fail(err, PL_ERR_BAD_FORMAT, "missing tensor token_embd.weight");
    if (embd->ne[1] > INT32_MAX)
        return pl_fail(err, PL_ERR_BAD_FORMAT, "token_embd.weight has too many rows");
    m->hp.n_vocab = (int)embd->ne[1];
    return pl_gguf_weight(&m->gguf, "token_embd.weight", m->hp.dim, m->hp.n_vocab, &m->tok_embd, err);
}

int pl_gguf_output(pl_model *m, pl_err *err) {
    if (pl_gguf_tensor(&m->gguf, "output.weight"))
        return pl_gguf_weight(&m->gguf, "output.weight", m->hp.dim, m->hp.n_vocab, &m->output, err);
    m->output = m->tok_embd;
    m->tied_output = 1;
    return PL_OK;
}

int pl_gguf_layer_set(pl_model *m, int n, int min_tensors, pl_layer_reader read_layer, pl_layer **out,
                      pl_err *err) {
    /* a huge block_count must not reach the allocator */
    if ((uint64_t)n > m->gguf.n_tensors / (uint64_t)min_tensors)
        return pl_fail(err, PL_ERR_BAD_FORMAT, "%s has %d blocks but the file has only %llu tensors",
                       m->hp.arch_name, n, (unsigned long long)m->gguf.n_tensors);
    if (!(*out = calloc((size_t)n, sizeof **out)))
        return pl_fail(err, PL_ERR_OUT_OF_MEMORY, "out of memory for %d layers", n);
    for (int l = 0; l < n; l++) {
        int st = read_layer(&m->gguf, &m->hp, l, &(*out)[l], err);
        if (st) return st;
    }
    return PL_OK;
}

int pl_gguf_layers(pl_model *m, int min_tensors, pl_layer_reader read_layer, pl_err *err) {
    return pl_gguf_layer_set(m, m->hp.n_layers, min_tensors, read_layer, &m->layers, err);
}

enum { SKIP, OPTIONAL, REQUIRED };   /* how a layer tensor is read */

/* llama and qwen2 have separate q, k, v and gate, up matrices; phi3 may fuse q|k|v into
 * attn_qkv (llama.cpp reads q at row 0, k at q_dim, v at q_dim + kv_dim) and always fuses
 * gate|up into ffn_up, gate rows first (ggml_swiglu: silu of the first half times the
 * second). q, k, v biases are required by qwen2, optional elsewhere, as in llama.cpp. */
static int read_layer(const pl_gguf *g, const pl_hparams *hp, int l, pl_layer *L, pl_err *err) {
    const int64_t dim = hp->dim, hidden = hp->hidden_dim;
    const int64_t q_dim = (int64_t)hp->n_heads * hp->head_dim;
    const int64_t kv_dim = (int64_t)hp->n_kv_heads * hp->head_dim;
    const int phi3 = hp->arch == PL_ARCH_PHI3;
    char name[64];
    snprintf(name, sizeof name, "blk.%d.attn_qkv.weight", l);
    const int fused = phi3 && pl_gguf_tensor(g, name) != NULL;
    const int split = fused ? SKIP : REQUIRED;
    const int bias = fused ? SKIP : hp->arch == PL_ARCH_QWEN2 ? REQUIRED : OPTIONAL;
    const struct { const char *name; pl_tensor *t; int64_t ne0, ne1; int use; } tensors[] = {
        {"attn_norm.weight", &L->attn_norm, dim, 1, REQUIRED},
        {"attn_qkv.weight", &L->wqkv, dim, q_dim + 2 * kv_dim, fused ? REQUIRED : SKIP},
        {"attn_q.weight", &L->wq, dim, q_dim, split},
        {"attn_k.weight", &L->wk, dim, kv_dim, split},
        {"attn_v.weight", &L->wv, dim, kv_dim, split},
        {"attn_q.bias", &L->bq, q_dim, 1, bias},
        {"attn_k.bias", &L->bk, kv_dim, 1, bias},
        {"attn_v.bias", &L->bv, kv_dim, 1, bias},
        {"attn_output.weight", &L->wo, q_dim, dim, REQUIRED},
        {"attn_output.bias", &L->bo, dim, 1, OPTIONAL},
        {"ffn_norm.weight", &L->ffn_norm, dim, 1, REQUIRED},
        {"ffn_gate.weight", &L->w_gate, dim, hidden, phi3 ? SKIP : REQUIRED},
        {"ffn_up.weight", &L->w_up, dim, hidden, phi3 ? SKIP : REQUIRED},
        {"ffn_up.weight", &L->w_gate_up, dim, 2 * hidden, phi3 ? REQUIRED : SKIP},
        {"ffn_down.weight", &L->w_down, hidden, dim, REQUIRED},
    };
    for (size_t i = 0; i < sizeof tensors / sizeof tensors[0]; i++) {
        snprintf(name, sizeof name, "blk.%d.%s", l, tensors[i].name);
        if (tensors[i].use == SKIP || (tensors[i].use == OPTIONAL && !pl_gguf_tensor(g, name)))
            continue;
        int st = pl_gguf_weight(g, name, tensors[i].ne0, tensors[i].ne1, tensors[i].t, err);
        if (st) return st;
    }
    return PL_OK;
}

static int load_llama(pl_model *m, pl_err *err) {
    pl_hparams *hp = &m->hp;
    const pl_gguf *g = &m->gguf;
    int st = read_hparams(g, hp, err);
    if (st || (st = read_rope_factors(m, err))) return st;

    if ((st = pl_gguf_token_embd(m, err)) ||
        (st = pl_gguf_weight(g, "output_norm.weight", hp->dim, 1, &m->out_norm, err)) ||
        (st = pl_gguf_output(m, err)))
        return st;
    return pl_gguf_layers(m, 7, read_layer, err);   /* phi3's fused layers have 7 tensors */
}

static int load(pl_model *m, const uint8_t *buf, size_t size, pl_err *err) {
    pl_hparams *hp = &m->hp;
    const pl_gguf *g = &m->gguf;
    const char *arch;
    uint64_t arch_len;
    int st = pl_gguf_parse(&m->gguf, buf, size, err);
    if (st || (st = pl_gguf_get_str(g, "general.architecture", &arch, &arch_len, err))) return st;
    m->format = "gguf";
    static const struct { const char *name; int arch; } archs[] = {
        {"llama", PL_ARCH_LLAMA}, {"qwen2", PL_ARCH_QWEN2}, {"phi3", PL_ARCH_PHI3},
        {"gpt2", PL_ARCH_GPT2}, {"t5", PL_ARCH_T5},
    };
    for (size_t i = 0; i < sizeof archs / sizeof *archs; i++)
        if (arch_len == strlen(archs[i].name) && memcmp(arch, archs[i].name, arch_len) == 0)
            hp->arch = archs[i].arch;
    if (!hp->arch)
        return pl_fail(err, PL_ERR_UNSUPPORTED_ARCH,
                       "architecture \"%.*s\" is not supported (supported: llama, qwen2, phi3, gpt2, t5)",
                       arch_len > 64 ? 64 : (int)arch_len, arch);
    memcpy(hp->arch_name, arch, arch_len);
    st = hp->arch == PL_ARCH_GPT2 ? pl_gpt2_from_gguf(m, err)
       : hp->arch == PL_ARCH_T5   ? pl_t5_from_gguf(m, err)
                                  : load_llama(m, err);
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
