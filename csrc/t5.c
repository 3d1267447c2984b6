/* T5 encoder-decoder forward passes (Raffel et al. 2020, as Hugging Face's modeling_t5.py
 * and llama.cpp's t5 graph run it): RMSNorm without mean or bias (T5's LayerNorm),
 * attention without the 1/sqrt(head size) scale and with a learned bias per head and
 * relative-position bucket (block 0's table, shared by every layer; none in
 * cross-attention), a ReLU or gated-GELU (tanh form) feed-forward, no biases anywhere.
 *
 * pl_t5_encode runs the encoder over the whole prompt (each token attends to every other)
 * and gives each decoder layer the keys and values of its cross-attention over the
 * encoder's output, once. pl_t5_forward then runs decoder tokens like a decoder-only
 * model: causal self-attention over the KV cache, cross-attention over the encoder, the
 * feed-forward. With a tied output matrix the last hidden state is scaled by dim^-0.5
 * first, as Hugging Face does (llama.cpp leaves the factor out: its logits are sqrt(dim)
 * times larger; the greedy choice is the same). */
#include "arch.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels.h"

/* Hugging Face's _relative_position_bucket for rel = key position - query position: exact
 * buckets for short distances, logarithmic ones up to 128, in float32 as PyTorch computes
 * it (the truncation decides the bucket at each boundary). */
static int rel_bucket(int rel, int n_buckets, int bidirectional) {
    const int max_distance = 128;
    int bucket = 0;
    if (bidirectional) {
        n_buckets /= 2;
        if (rel > 0) bucket += n_buckets;
        rel = rel < 0 ? -rel : rel;
    } else {
        rel = rel < 0 ? -rel : 0;
    }
    int max_exact = n_buckets / 2;
    if (rel < max_exact) return bucket + rel;
    float scaled = logf((float)rel / (float)max_exact) / (float)log((double)max_distance / max_exact) *
                   (float)(n_buckets - max_exact);
    int large = max_exact + (int)scaled;
    return bucket + (large < n_buckets - 1 ? large : n_buckets - 1);
}

/* bias[(rel + n_ctx - 1) * n_heads + h] for every rel in -(n_ctx-1)..n_ctx-1. */
static void bias_table(float *bias, const pl_tensor *table, int n_ctx, int n_buckets, int bidirectional,
                       int n_heads) {
    for (int rel = -(n_ctx - 1); rel < n_ctx; rel++)
        pl_get_row(bias + (size_t)(rel + n_ctx - 1) * n_heads, table, rel_bucket(rel, n_buckets, bidirectional));
}

int pl_t5_state_init(const pl_model *m, pl_state *s, pl_err *err) {
    const pl_hparams *hp = &m->hp;
    size_t inner = (size_t)hp->n_heads * hp->head_dim, n_ctx = (size_t)s->n_ctx;
    size_t bias = (2 * n_ctx - 1) * hp->n_heads;
    s->enc = calloc(n_ctx * hp->dim, sizeof(float));
    s->enc_k = calloc(n_ctx * inner, sizeof(float));
    s->enc_v = calloc(n_ctx * inner, sizeof(float));
    s->cross_k = calloc((size_t)hp->n_layers * n_ctx * inner, sizeof(float));
    s->cross_v = calloc((size_t)hp->n_layers * n_ctx * inner, sizeof(float));
    s->enc_bias = malloc(bias * sizeof(float));
    s->dec_bias = malloc(bias * sizeof(float));
    if (!s->enc || !s->enc_k || !s->enc_v || !s->cross_k || !s->cross_v || !s->enc_bias || !s->dec_bias)
        return pl_fail(err, PL_ERR_OUT_OF_MEMORY, "out of memory for the encoder's %d positions", s->n_ctx);
    bias_table(s->enc_bias, &m->enc_rel_bias, s->n_ctx, hp->n_rel_buckets, 1, hp->n_heads);
    bias_table(s->dec_bias, &m->dec_rel_bias, s->n_ctx, hp->n_rel_buckets, 0, hp->n_heads);
    return PL_OK;
}

/* Attention of n queries over keys/values laid out [n_heads][cap][head_dim]. */
typedef struct {
    const float *q;               /* [n][n_heads * head_dim] */
    const float *keys, *values;
    int cap;                      /* positions per head in keys/values */
    int n, pos;                   /* queries, the first one's position */
    int n_keys;                   /* keys every query sees; 0: causal (pos + t + 1) */
    const float *bias;            /* pl_t5_state_init's table, or NULL */
    int bias_zero;                /* its row of rel = 0 (n_ctx - 1) */
    float *out;                   /* [n][n_heads * head_dim] */
    float *att;                   /* [threads][att_stride] scores */
    int att_stride;
    int n_heads, hd;
    pl_row_kernel dot;            /* the F32 row kernel: q as a row, the keys as its inputs */
    void (*softmax)(float *x, int n);
    pl_pool *pool;
} t5_attention;

/* Item i = (query t, head h): softmax(q·k + bias) · v. */
static void attend(const t5_attention *a, int i, float *att) {
    int h = i % a->n_heads, t = i / a->n_heads, qpos = a->pos + t, hd = a->hd;
    int n_keys = a->n_keys ? a->n_keys : qpos + 1;
    size_t row = (size_t)t * a->n_heads * hd + (size_t)h * hd, head = (size_t)h * a->cap * hd;
    a->dot(a->q + row, a->keys + head, (size_t)hd * sizeof(float), n_keys, hd, att, 1);
    if (a->bias)
        for (int j = 0; j < n_keys; j++) att[j] += a->bias[(size_t)(j - qpos + a->bias_zero) * a->n_heads + h];
    a->softmax(att, n_keys);
    memset(a->out + row, 0, (size_t)hd * sizeof(float));
    pl_weighted_sum(a->out + row, att, a->values + head, hd, n_keys, hd);
}

static void attention_items(void *p, int ith) {
    const t5_attention copy = *(const t5_attention *)p, *a = &copy;   /* see pl_pool_run */
    float *att = a->att + (size_t)ith * a->att_stride;
    for (int i0, i1; pl_pool_next(a->pool, ith, 1, &i0, &i1);)
        for (int i = i0; i < i1; i++) attend(a, i, att);
}

static void attention(t5_attention *a, const pl_compute *cx) {
    pl_kernel f32;
    pl_kernel_for(PL_TYPE_F32, cx->simd, &f32);
    a->dot = f32.row;
    a->softmax = cx->simd ? pl_softmax_simd : pl_softmax;
    a->pool = cx->pool;
    int keys = a->n_keys ? a->n_keys : a->pos + a->n;
    if (4.0 * a->n * keys * a->n_heads * a->hd < PL_MIN_PARALLEL_WORK)
        pl_pool_run_here(cx->pool, attention_items, a, a->n * a->n_heads);   /* too little work to share */
    else
        pl_pool_run(cx->pool, attention_items, a, a->n * a->n_heads);
}

/* xb[n][dim] -> hb[n][hidden] -> xb[n][dim]: gelu(x·Wgate) * (x·Wup), or relu(x·Wup), ·Wdown. */
static void feed_forward(const pl_layer *L, pl_state *s, int n, int hidden, const pl_compute *cx) {
    size_t count = (size_t)n * hidden;
    if (L->w_gate.data) {
        pl_matmul_n(2, (float *const[]){s->hb, s->hb2}, (const pl_tensor *const[]){&L->w_gate, &L->w_up}, s->xb, n, cx);
        pl_gelu(s->hb, count);
        for (size_t i = 0; i < count; i++) s->hb[i] *= s->hb2[i];
    } else {
        pl_matmul(s->hb, &L->w_up, s->xb, n, cx);
        for (size_t i = 0; i < count; i++) s->hb[i] = s->hb[i] > 0 ? s->hb[i] : 0;
    }
    pl_matmul(s->xb, &L->w_down, s->hb, n, cx);
}

/* The n queries in s->q at positions pos.. over keys/values with n_ctx positions per head,
 * into s->att_out. */
static t5_attention attention_over(pl_state *s, const pl_hparams *hp, const float *keys, const float *values,
                                   int n, int pos, int n_keys, const float *bias) {
    return (t5_attention){.q = s->q, .keys = keys, .values = values, .cap = s->n_ctx, .n = n, .pos = pos,
                          .n_keys = n_keys, .bias = bias, .bias_zero = s->n_ctx - 1, .out = s->att_out,
                          .att = s->att, .att_stride = s->n_ctx, .n_heads = hp->n_heads, .hd = hp->head_dim};
}

void pl_t5_encode(const pl_model *m, pl_state *s, const int32_t *tokens, int n, const pl_compute *cx) {
    const pl_hparams *hp = &m->hp;
    const int dim = hp->dim, inner = hp->n_heads * hp->head_dim;
    float *k_new = s->qkv, *v_new = s->qkv + (size_t)PL_MAX_BATCH * inner;
    for (int t = 0; t < n; t++) pl_get_row(s->enc + (size_t)t * dim, &m->tok_embd, tokens[t]);

    for (int l = 0; l < hp->n_enc_layers; l++) {
        const pl_layer *L = &m->enc_layers[l];
        /* every position's keys and values first: each token attends to all of them */
        for (int c = 0; c < n; c += PL_MAX_BATCH) {
            int nb = n - c < PL_MAX_BATCH ? n - c : PL_MAX_BATCH;
            pl_rmsnorm_rows(s->xb, s->enc + (size_t)c * dim, L->attn_norm.data, nb, dim, hp->norm_eps);
            pl_matmul_n(2, (float *const[]){k_new, v_new}, (const pl_tensor *const[]){&L->wk, &L->wv}, s->xb, nb, cx);
            pl_put_heads(s->enc_k, s->n_ctx, c, k_new, inner, nb, hp->n_heads, hp->head_dim);
            pl_put_heads(s->enc_v, s->n_ctx, c, v_new, inner, nb, hp->n_heads, hp->head_dim);
        }
        for (int c = 0; c < n; c += PL_MAX_BATCH) {
            int nb = n - c < PL_MAX_BATCH ? n - c : PL_MAX_BATCH;
            float *x = s->enc + (size_t)c * dim;
            /* attention: x[nb][dim] -> q[nb][inner] -> att_out[nb][inner] -> xb[nb][dim] */
            pl_rmsnorm_rows(s->xb, x, L->attn_norm.data, nb, dim, hp->norm_eps);
            pl_matmul(s->q, &L->wq, s->xb, nb, cx);
            t5_attention a = attention_over(s, hp, s->enc_k, s->enc_v, nb, c, n, s->enc_bias);
            attention(&a, cx);
            pl_matmul(s->xb, &L->wo, s->att_out, nb, cx);
            pl_add(x, s->xb, (size_t)nb * dim);
            pl_rmsnorm_rows(s->xb, x, L->ffn_norm.data, nb, dim, hp->norm_eps);
            feed_forward(L, s, nb, hp->hidden_dim, cx);
            pl_add(x, s->xb, (size_t)nb * dim);
        }
    }
    pl_rmsnorm_rows(s->enc, s->enc, m->enc_norm.data, n, dim, hp->norm_eps);

    /* each decoder layer's cross-attention keys and values: enc[n][dim] -> [n][inner] */
    size_t layer = (size_t)hp->n_heads * s->n_ctx * hp->head_dim;
    for (int l = 0; l < hp->n_layers; l++)
        for (int c = 0; c < n; c += PL_MAX_BATCH) {
            int nb = n - c < PL_MAX_BATCH ? n - c : PL_MAX_BATCH;
            const pl_layer *L = &m->layers[l];
            pl_matmul_n(2, (float *const[]){k_new, v_new}, (const pl_tensor *const[]){&L->cwk, &L->cwv},
                        s->enc + (size_t)c * dim, nb, cx);
            pl_put_heads(s->cross_k + l * layer, s->n_ctx, c, k_new, inner, nb, hp->n_heads, hp->head_dim);
            pl_put_heads(s->cross_v + l * layer, s->n_ctx, c, v_new, inner, nb, hp->n_heads, hp->head_dim);
        }
    s->n_enc = n;
    s->pos = 0;
}

void pl_t5_forward(const pl_model *m, pl_state *s, const int32_t *tokens, int n, const pl_compute *cx) {
    const pl_hparams *hp = &m->hp;
    const int dim = hp->dim, inner = hp->n_heads * hp->head_dim;
    float *k_new = s->qkv, *v_new = s->qkv + (size_t)PL_MAX_BATCH * inner;
    size_t layer = (size_t)hp->n_heads * s->n_ctx * hp->head_dim;
    for (int t = 0; t < n; t++) pl_get_row(s->x + (size_t)t * dim, &m->tok_embd, tokens[t]);

    for (int l = 0; l < hp->n_layers; l++) {
        const pl_layer *L = &m->layers[l];
        /* causal self-attention over the cache: x[n][dim] -> q, k, v [n][inner] -> xb[n][dim] */
        pl_rmsnorm_rows(s->xb, s->x, L->attn_norm.data, n, dim, hp->norm_eps);
        pl_matmul_n(3, (float *const[]){s->q, k_new, v_new}, (const pl_tensor *const[]){&L->wq, &L->wk, &L->wv},
                    s->xb, n, cx);
        pl_kv_append(hp, s, l, n, k_new, v_new, inner);
        size_t cache = pl_kv_offset(hp, s, l, 0, 0);
        t5_attention a = attention_over(s, hp, s->key_cache + cache, s->value_cache + cache, n, s->pos, 0, s->dec_bias);
        attention(&a, cx);
        pl_matmul(s->xb, &L->wo, s->att_out, n, cx);
        pl_add(s->x, s->xb, (size_t)n * dim);

        /* cross-attention over the encoder's n_enc positions, no position bias */
        pl_rmsnorm_rows(s->xb, s->x, L->cross_norm.data, n, dim, hp->norm_eps);
        pl_matmul(s->q, &L->cwq, s->xb, n, cx);
        a = attention_over(s, hp, s->cross_k + l * layer, s->cross_v + l * layer, n, s->pos, s->n_enc, NULL);
        attention(&a, cx);
        pl_matmul(s->xb, &L->cwo, s->att_out, n, cx);
        pl_add(s->x, s->xb, (size_t)n * dim);

        pl_rmsnorm_rows(s->xb, s->x, L->ffn_norm.data, n, dim, hp->norm_eps);
        feed_forward(L, s, n, hp->hidden_dim, cx);
        pl_add(s->x, s->xb, (size_t)n * dim);
    }

    /* logits of the last token only: [dim] -> [n_vocab] */
    pl_rmsnorm(s->xb, s->x + (size_t)(n - 1) * dim, m->out_norm.data, dim, hp->norm_eps);
    if (m->tied_output) {
        const float scale = (float)pow(dim, -0.5);
        for (int i = 0; i < dim; i++) s->xb[i] *= scale;
    }
    pl_matmul(s->logits, &m->output, s->xb, 1, cx);
    s->pos += n;
}
