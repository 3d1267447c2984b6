/* llama2.c checkpoints: the legacy format karpathy/llama2.c run.c reads. A header of 7
 * int32 (dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size, seq_len), then f32
 * weights in this order, used in place:
 *   token_embedding[vocab][dim], rms_att[L][dim], wq[L][dim][dim], wk[L][kv_dim][dim],
 *   wv[L][kv_dim][dim], wo[L][dim][dim], rms_ffn[L][dim], w1[L][hidden][dim],
 *   w2[L][dim][hidden], w3[L][hidden][dim], rms_final[dim],
 *   freq_cis_real[seq_len][head_size/2], freq_cis_imag[seq_len][head_size/2] (unused),
 *   wcls[vocab][dim] only when vocab_size < 0 (an unshared classifier).
 * Matrices are [out][in], i.e. ne = {in, out}; w1 = gate, w3 = up, w2 = down. */
#include "model.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HEADER_BYTES 28
#define EXPORT_MAGIC 0x616b3432u    /* "ak42": llama2.c's newer export versions */
/* Sanity limits (far above any llama2.c model); they also keep size sums from overflowing. */
#define MAX_DIM (1 << 16)
#define MAX_HIDDEN (1 << 20)
#define MAX_LAYERS (1 << 12)
#define MAX_VOCAB (1 << 24)
#define MAX_SEQ (1 << 24)
#define N_LAYER_WEIGHTS 9
#define NAME_LEN 48                 /* "blk.<int>.attn_output.weight" fits */

typedef struct {
    int32_t dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size, seq_len;
} config;

/* Why the header cannot be a checkpoint's, or NULL. */
static const char *header_problem(const config *c) {
    if (c->dim <= 0 || c->dim > MAX_DIM) return "dim out of range";
    if (c->hidden_dim <= 0 || c->hidden_dim > MAX_HIDDEN) return "hidden_dim out of range";
    if (c->n_layers <= 0 || c->n_layers > MAX_LAYERS) return "n_layers out of range";
    if (c->n_heads <= 0 || c->dim % c->n_heads != 0) return "n_heads does not divide dim";
    if (c->n_kv_heads <= 0 || c->n_heads % c->n_kv_heads != 0)
        return "n_kv_heads does not divide n_heads";
    if ((c->dim / c->n_heads) % 2 != 0) return "head size is odd";
    if (c->vocab_size == 0 || c->vocab_size < -MAX_VOCAB || c->vocab_size > MAX_VOCAB)
        return "vocab_size out of range";
    if (c->seq_len <= 0 || c->seq_len > MAX_SEQ) return "seq_len out of range";
    return NULL;
}

/* Number of f32 values after the header. */
static uint64_t weight_count(const config *c) {
    const uint64_t dim = (uint64_t)c->dim, hidden = (uint64_t)c->hidden_dim;
    const uint64_t vocab = (uint64_t)(c->vocab_size < 0 ? -(int64_t)c->vocab_size : c->vocab_size);
    const uint64_t head_size = dim / (uint64_t)c->n_heads;
    const uint64_t kv_dim = dim * (uint64_t)c->n_kv_heads / (uint64_t)c->n_heads;
    const uint64_t per_layer = 2 * dim + 2 * dim * dim + 2 * kv_dim * dim + 3 * hidden * dim;
    uint64_t n = vocab * dim + (uint64_t)c->n_layers * per_layer + dim +
                 2 * (uint64_t)c->seq_len * (head_size / 2);
    return c->vocab_size < 0 ? n + vocab * dim : n;
}

/* An F32 view of [ne1][ne0] floats at *p; advances *p past them. */
static void take(pl_tensor *t, const char *name, int64_t ne0, int64_t ne1, const uint8_t **p) {
    memset(t, 0, sizeof *t);
    t->name = name;
    t->name_len = (uint32_t)strlen(name);
    t->type = PL_TYPE_F32;
    t->n_dims = ne1 == 1 ? 1 : 2;
    t->ne[0] = ne0;
    t->ne[1] = ne1;
    t->ne[2] = t->ne[3] = 1;
    t->data = *p;
    t->nbytes = (size_t)(ne0 * ne1) * sizeof(float);
    *p += t->nbytes;
}

static int load(pl_model *m, const uint8_t *buf, size_t size, const uint8_t *tok, size_t tok_size,
                pl_err *err) {
    config c;
    if (size < HEADER_BYTES)
        return pl_fail(err, PL_ERR_TRUNCATED,
                       "llama2.c checkpoint truncated: %zu bytes, the header alone is %d",
                       size, HEADER_BYTES);
    memcpy(&c, buf, HEADER_BYTES);   /* 7 x int32, no padding; little-endian like the file */
    if ((uint32_t)c.dim == EXPORT_MAGIC)
        return pl_fail(err, PL_ERR_BAD_FORMAT,
                       "llama2.c export with \"ak42\" header is not supported (only the legacy "
                       "format run.c reads)");
    const char *problem = header_problem(&c);
    if (problem)
        return pl_fail(err, PL_ERR_BAD_FORMAT,
                       "not a llama2.c checkpoint: %s (dim=%d hidden_dim=%d n_layers=%d "
                       "n_heads=%d n_kv_heads=%d vocab_size=%d seq_len=%d)",
                       problem, c.dim, c.hidden_dim, c.n_layers, c.n_heads, c.n_kv_heads,
                       c.vocab_size, c.seq_len);
    const uint64_t expected = HEADER_BYTES + 4 * weight_count(&c);
    if ((uint64_t)size < expected)
        return pl_fail(err, PL_ERR_TRUNCATED,
                       "llama2.c checkpoint truncated: expected %llu bytes, file has %zu",
                       (unsigned long long)expected, size);
    if ((uint64_t)size > expected)
        return pl_fail(err, PL_ERR_BAD_FORMAT,
                       "llama2.c checkpoint has %zu bytes, header says %llu (not a llama2.c "
                       "checkpoint, or a different export version)",
                       size, (unsigned long long)expected);
    const uint8_t *p = buf + HEADER_BYTES;
    if ((uintptr_t)p % sizeof(float) != 0)   /* weights are read in place as float arrays */
        return pl_fail(err, PL_ERR_BAD_FORMAT, "llama2.c weights are not 4-byte aligned in memory");

    pl_hparams *hp = &m->hp;
    hp->arch = PL_ARCH_LLAMA;
    strcpy(hp->arch_name, "llama");
    hp->dim = c.dim;
    hp->hidden_dim = c.hidden_dim;
    hp->n_layers = c.n_layers;
    hp->n_heads = c.n_heads;
    hp->n_kv_heads = c.n_kv_heads;
    hp->head_dim = c.dim / c.n_heads;
    hp->n_vocab = c.vocab_size < 0 ? -c.vocab_size : c.vocab_size;
    hp->n_ctx_train = c.seq_len;
    hp->norm_eps = 1e-5f;
    hp->rope_base = 10000.0f;
    hp->rope_pos_scale = 1.0f;
    hp->rope_dims = hp->head_dim;
    hp->rope_type = PL_ROPE_NORMAL;   /* run.c rotates adjacent pairs */
    m->format = "llama2c";

    /* The per-layer tensor names live in the same allocation, after the layers, so that
     * pl_model_free releases them together. */
    const size_t n_layers = (size_t)c.n_layers;
    m->layers = calloc(1, n_layers * (sizeof(pl_layer) + N_LAYER_WEIGHTS * NAME_LEN));
    if (!m->layers)
        return pl_fail(err, PL_ERR_OUT_OF_MEMORY, "out of memory for %d layers", c.n_layers);
    char *names = (char *)(m->layers + n_layers);

    const int64_t dim = c.dim, hidden = c.hidden_dim;
    const int64_t kv_dim = (int64_t)hp->n_kv_heads * hp->head_dim;
    take(&m->tok_embd, "token_embd.weight", dim, hp->n_vocab, &p);
    /* file order: each weight kind for all layers, then the next kind */
    static const char *kind_names[N_LAYER_WEIGHTS] = {
        "attn_norm", "attn_q", "attn_k", "attn_v", "attn_output",
        "ffn_norm", "ffn_gate", "ffn_down", "ffn_up"};
    const int64_t kind_ne[N_LAYER_WEIGHTS][2] = {
        {dim, 1}, {dim, dim}, {dim, kv_dim}, {dim, kv_dim}, {dim, dim},
        {dim, 1}, {dim, hidden}, {hidden, dim}, {dim, hidden}};
    for (int k = 0; k < N_LAYER_WEIGHTS; k++) {
        for (size_t l = 0; l < n_layers; l++) {
            pl_layer *L = &m->layers[l];
            pl_tensor *slot[N_LAYER_WEIGHTS] = {&L->attn_norm, &L->wq, &L->wk, &L->wv, &L->wo,
                                                &L->ffn_norm, &L->w_gate, &L->w_down, &L->w_up};
            char *name = names + (l * N_LAYER_WEIGHTS + (size_t)k) * NAME_LEN;
            snprintf(name, NAME_LEN, "blk.%zu.%s.weight", l, kind_names[k]);
            take(slot[k], name, kind_ne[k][0], kind_ne[k][1], &p);
        }
    }
    take(&m->out_norm, "output_norm.weight", dim, 1, &p);
    p += 2 * (size_t)c.seq_len * (size_t)(hp->head_dim / 2) * sizeof(float);   /* freq_cis */
    if (c.vocab_size < 0) {
        take(&m->output, "output.weight", dim, hp->n_vocab, &p);
    } else {
        m->output = m->tok_embd;
        m->tied_output = 1;
    }

    if (tok) {
        int st = pl_vocab_from_llama2c(&m->vocab, tok, tok_size, hp->n_vocab, err);
        if (st) return st;
        m->has_vocab = 1;
    }
    return PL_OK;
}

/* On failure everything allocated here is freed and m is zeroed except for m->file and
 * m->file_size, which belong to the caller (pl_model_free releases them later). */
int pl_model_from_llama2c(pl_model *m, const uint8_t *buf, size_t size, const uint8_t *tok,
                          size_t tok_size, pl_err *err) {
    pl_model tmp;
    memset(&tmp, 0, sizeof tmp);
    int st = load(&tmp, buf, size, tok, tok_size, err);
    if (st) pl_model_free(&tmp);   /* leaves tmp zeroed */
    tmp.file = m->file;
    tmp.file_size = m->file_size;
    *m = tmp;
    return st;
}
