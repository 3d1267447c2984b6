/* Llama-family forward pass (llama, qwen2, phi3): RMSNorm, rotary attention with
 * grouped-query KV heads and a KV cache, SwiGLU feed-forward; optional q/k/v/output biases
 * (qwen2) and fused q|k|v and gate|up matrices (phi3). Prompt tokens go through as a batch
 * so every weight row is read once per batch (matrix-matrix work); decoding is the batch
 * of one. */
#include "arch.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kernels.h"

int pl_state_init(pl_state *s, const pl_hparams *hp, int n_ctx, int n_threads, pl_err *err) {
    memset(s, 0, sizeof *s);
    size_t kv_dim = (size_t)hp->n_kv_heads * hp->head_dim;
    size_t q_dim = (size_t)hp->n_heads * hp->head_dim;
    /* both caches' bytes must fit a size_t: in wasm32, 32 layers x 131072 positions x 1024
     * floats wrapped to 0 */
    uint64_t cache_bytes = pl_kv_cache_bytes(hp, n_ctx);
    if (cache_bytes != (size_t)cache_bytes)
        return pl_fail(err, PL_ERR_OUT_OF_MEMORY,
                       "a %d-token context needs a %llu MiB KV cache, more than this build can address",
                       n_ctx, (unsigned long long)(cache_bytes >> 20));
    size_t cache = (size_t)cache_bytes / 2 / sizeof(float);   /* floats in each cache */
    s->n_ctx = n_ctx;
    s->key_cache = calloc(cache, sizeof(float));
    s->value_cache = calloc(cache, sizeof(float));
    s->x = calloc((size_t)PL_MAX_BATCH * hp->dim, sizeof(float));
    s->xb = calloc((size_t)PL_MAX_BATCH * hp->dim, sizeof(float));
    s->q = calloc(PL_MAX_BATCH * q_dim, sizeof(float));
    s->qkv = calloc(PL_MAX_BATCH * (hp->arch == PL_ARCH_GPT2 ? q_dim + 2 * kv_dim : 2 * kv_dim), sizeof(float));
    s->att_out = calloc(PL_MAX_BATCH * q_dim, sizeof(float));
    s->hb = calloc((size_t)PL_MAX_BATCH * hp->hidden_dim, sizeof(float));
    s->hb2 = calloc((size_t)PL_MAX_BATCH * hp->hidden_dim, sizeof(float));
    s->att = calloc((size_t)n_threads * (hp->n_heads / hp->n_kv_heads) * n_ctx, sizeof(float));
    s->rope_cos = calloc((size_t)PL_MAX_BATCH * (hp->rope_dims / 2 + 1), sizeof(float));
    s->rope_sin = calloc((size_t)PL_MAX_BATCH * (hp->rope_dims / 2 + 1), sizeof(float));
    s->logits = calloc((size_t)hp->n_vocab, sizeof(float));
    if (!s->key_cache || !s->value_cache || !s->x || !s->xb || !s->q || !s->qkv || !s->att_out ||
        !s->hb || !s->hb2 || !s->att || !s->rope_cos || !s->rope_sin || !s->logits) {
        pl_state_free(s);
        return pl_fail(err, PL_ERR_OUT_OF_MEMORY,
                       "out of memory for a %d-token context (KV cache %llu MiB)", n_ctx,
                       (unsigned long long)(cache_bytes >> 20));
    }
    return PL_OK;
}

void pl_state_free(pl_state *s) {
    free(s->key_cache); free(s->value_cache); free(s->x); free(s->xb); free(s->q); free(s->qkv);
    free(s->att_out); free(s->hb); free(s->hb2); free(s->att); free(s->rope_cos);
    free(s->rope_sin); free(s->logits);
    free(s->enc); free(s->enc_k); free(s->enc_v); free(s->cross_k); free(s->cross_v); free(s->enc_bias);
    free(s->dec_bias);
    memset(s, 0, sizeof *s);
}

void pl_put_heads(float *dst, int cap, int pos, const float *src, size_t stride, int n, int n_heads, int hd) {
    for (int t = 0; t < n; t++)
        for (int h = 0; h < n_heads; h++)
            memcpy(dst + ((size_t)h * cap + pos + t) * hd, src + t * stride + (size_t)h * hd, (size_t)hd * sizeof(float));
}

void pl_kv_append(const pl_hparams *hp, pl_state *s, int layer, int n, const float *k, const float *v,
                  size_t stride) {
    size_t at = pl_kv_offset(hp, s, layer, 0, 0);
    pl_put_heads(s->key_cache + at, s->n_ctx, s->pos, k, stride, n, hp->n_kv_heads, hp->head_dim);
    pl_put_heads(s->value_cache + at, s->n_ctx, s->pos, v, stride, n, hp->n_kv_heads, hp->head_dim);
}

typedef struct {
    const pl_hparams *hp;
    pl_state *s;
    int layer;
    int n;                   /* tokens in the batch */
    int parts;               /* items per KV head and token: its query heads split this many ways */
    int simd;                /* query heads two at a time (pl_scores2_simd) */
    pl_row_kernel dot;       /* the F32 row kernel: q as a row, the cached keys as its inputs */
    void (*softmax)(float *x, int n);
    pl_pool *pool;
} attention_task;

/* Cached positions per block: a block of one KV head's keys (then values) is read from
 * the cache once for all the query heads of an item, then from L1 by each. Read once per
 * query head, a KV head's cache had outgrown L2 at long contexts (1800 positions: 13 of
 * a 31 ms decode step). */
#define ATT_BLOCK_FLOATS 4096

/* Item i = (token t, KV head g, part p of g's query heads): for each of those heads,
 * causal softmax(q·k / sqrt(d)) · v over the cache; att holds a row of scores per head,
 * n_ctx apart. */
static void attend(const attention_task *a, int i, float *att) {
    const pl_hparams *hp = a->hp;
    pl_state *s = a->s;
    int hd = hp->head_dim, q_dim = hp->n_heads * hd;
    int group = hp->n_heads / hp->n_kv_heads;   /* query heads per KV head */
    int p = i % a->parts, g = i / a->parts % hp->n_kv_heads, t = i / a->parts / hp->n_kv_heads;
    int h0 = g * group + p * group / a->parts, h1 = g * group + (p + 1) * group / a->parts;
    int n_pos = s->pos + t + 1;                 /* this token attends to positions 0..n_pos-1 */
    int block = ATT_BLOCK_FLOATS / hd / 4 * 4;  /* a multiple of 4: the dot kernel's key groups stay whole */
    if (block < 4) block = 4;
    size_t kv_off = pl_kv_offset(hp, s, a->layer, g, 0);
    const float *keys = s->key_cache + kv_off, *values = s->value_cache + kv_off;
    const float *q = s->q + (size_t)t * q_dim;
    float *out = s->att_out + (size_t)t * q_dim;
    float scale = sqrtf((float)hd);
    for (int j0 = 0; j0 < n_pos; j0 += block) {   /* scores; a call shares each q vector among 4 keys */
        int nb = n_pos - j0 < block ? n_pos - j0 : block, h = h0;
        const float *kb = keys + (size_t)j0 * hd;
        float *row = att + j0;
        for (; a->simd && h + 2 <= h1; h += 2, row += 2 * (size_t)s->n_ctx)
            pl_scores2_simd(q + h * hd, q + (h + 1) * hd, kb, hd, nb, hd, row, row + s->n_ctx);
        for (; h < h1; h++, row += s->n_ctx)
            a->dot(q + h * hd, kb, (size_t)hd * sizeof(float), nb, hd, row, 1);
    }
    int inspect = s->inspect_attention && n_pos <= s->inspect_positions;
    for (int h = h0; h < h1; h++) {
        float *row = att + (size_t)(h - h0) * s->n_ctx;
        for (int j = 0; j < n_pos; j++) row[j] /= scale;
        a->softmax(row, n_pos);
        memset(out + h * hd, 0, (size_t)hd * sizeof(float));
        if (inspect) {   /* row n_pos - 1 of this head's matrix */
            size_t positions = (size_t)s->inspect_positions;
            memcpy(s->inspect_attention + (((size_t)a->layer * hp->n_heads + h) * positions + n_pos - 1) * positions,
                   row, (size_t)n_pos * sizeof(float));
        }
    }
    for (int j0 = 0; j0 < n_pos; j0 += block) {
        int nb = n_pos - j0 < block ? n_pos - j0 : block;
        for (int h = h0; h < h1; h++)
            pl_weighted_sum(out + h * hd, att + (size_t)(h - h0) * s->n_ctx + j0, values + (size_t)j0 * hd,
                            hd, nb, hd);
    }
}

static void attention_heads(void *p, int ith) {
    const attention_task copy = *(const attention_task *)p, *a = &copy;   /* see pl_pool_run */
    const pl_hparams *hp = a->hp;
    float *att = a->s->att + (size_t)ith * (hp->n_heads / hp->n_kv_heads) * a->s->n_ctx;
    for (int i0, i1; pl_pool_next(a->pool, ith, 1, &i0, &i1);)
        for (int i = i0; i < i1; i++) attend(a, i, att);
}

void pl_attention(const pl_hparams *hp, pl_state *s, int layer, int n, const pl_compute *cx) {
    pl_kernel f32;
    pl_kernel_for(PL_TYPE_F32, cx->simd, &f32);
    /* a KV head's query heads as one item, split only as far as the threads need items */
    int group = hp->n_heads / hp->n_kv_heads, threads = pl_pool_size(cx->pool);
    int parts = (threads + hp->n_kv_heads - 1) / hp->n_kv_heads;
    if (parts > group) parts = group;
    attention_task task = {hp, s, layer, n, parts, cx->simd, f32.row, cx->simd ? pl_softmax_simd : pl_softmax, cx->pool};
    int items = n * hp->n_kv_heads * parts;
    /* float multiply-adds (scores and values) cost several times a matmul's int8 ones */
    if (8.0 * n * (s->pos + n) * hp->n_heads * hp->head_dim < PL_MIN_PARALLEL_WORK)
        pl_pool_run_here(cx->pool, attention_heads, &task, items);   /* too little work to share */
    else
        pl_pool_run(cx->pool, attention_heads, &task, items);
}

void pl_inspect_hidden(const pl_hparams *hp, pl_state *s, int slot, int n) {
    if (!s->inspect_hidden) return;
    for (int t = 0; t < n && s->pos + t < s->inspect_positions; t++)
        memcpy(s->inspect_hidden + ((size_t)(s->pos + t) * (hp->n_layers + 1) + slot) * hp->dim,
               s->x + (size_t)t * hp->dim, (size_t)hp->dim * sizeof(float));
}

/* Rows first..first+n-1 of a weight matrix, as a matrix of its own: a fused projection
 * multiplies straight into the buffers of its parts. */
static pl_tensor row_range(const pl_tensor *w, int64_t first, int64_t n) {
    int block_elems, block_bytes;
    pl_type_block(w->type, &block_elems, &block_bytes);
    size_t row_bytes = (size_t)(w->ne[0] / block_elems) * (size_t)block_bytes;
    pl_tensor part = *w;
    part.ne[1] = n;
    part.data = (const uint8_t *)w->data + (size_t)first * row_bytes;
    part.nbytes = (size_t)n * row_bytes;
    return part;
}

void pl_llama_forward(const pl_model *m, pl_state *s, const int32_t *tokens, int n,
                      const pl_compute *cx) {
    const pl_hparams *hp = &m->hp;
    int dim = hp->dim, hidden = hp->hidden_dim, hd = hp->head_dim, half = hp->rope_dims / 2;
    int kv_dim = hp->n_kv_heads * hd, q_dim = hp->n_heads * hd;

    for (int t = 0; t < n; t++) pl_get_row(s->x + (size_t)t * dim, &m->tok_embd, tokens[t]);
    for (int t = 0; t < n; t++)
        pl_rope_table(s->rope_cos + t * half, s->rope_sin + t * half, s->pos + t, hp->rope_dims,
                      hp->rope_base, hp->rope_pos_scale, m->rope_freqs.data);
    pl_inspect_hidden(hp, s, 0, n);

    for (int l = 0; l < hp->n_layers; l++) {
        const pl_layer *L = &m->layers[l];
        float *k_new = s->qkv, *v_new = s->qkv + (size_t)PL_MAX_BATCH * kv_dim;

        /* attention: x[n][dim] -> q[n][q_dim], k/v[n][kv_dim] appended to the cache */
        pl_rmsnorm_rows(s->xb, s->x, L->attn_norm.data, n, dim, hp->norm_eps);
        pl_tensor wq = L->wq, wk = L->wk, wv = L->wv;
        if (L->wqkv.data) {   /* fused rows: q, then k, then v */
            wq = row_range(&L->wqkv, 0, q_dim);
            wk = row_range(&L->wqkv, q_dim, kv_dim);
            wv = row_range(&L->wqkv, q_dim + kv_dim, kv_dim);
        }
        pl_matmul_n(3, (float *const[]){s->q, k_new, v_new}, (const pl_tensor *const[]){&wq, &wk, &wv},
                    s->xb, n, cx);
        if (L->bq.data) pl_add_bias(s->q, L->bq.data, n, q_dim);
        if (L->bk.data) pl_add_bias(k_new, L->bk.data, n, kv_dim);
        if (L->bv.data) pl_add_bias(v_new, L->bv.data, n, kv_dim);
        for (int t = 0; t < n; t++) {
            const float *c = s->rope_cos + t * half, *sn = s->rope_sin + t * half;
            pl_rope_apply(s->q + (size_t)t * q_dim, hp->n_heads, hd, hp->rope_dims, hp->rope_type, c, sn);
            pl_rope_apply(k_new + (size_t)t * kv_dim, hp->n_kv_heads, hd, hp->rope_dims, hp->rope_type, c, sn);
        }
        pl_kv_append(hp, s, l, n, k_new, v_new, kv_dim);
        pl_attention(hp, s, l, n, cx);
        /* att_out[n][q_dim] -> xb[n][dim], added to the residual */
        pl_matmul(s->xb, &L->wo, s->att_out, n, cx);
        if (L->bo.data) pl_add_bias(s->xb, L->bo.data, n, dim);
        pl_add(s->x, s->xb, (size_t)n * dim);

        /* feed-forward: silu(x·Wgate) * (x·Wup) -> ·Wdown, [n][dim] -> [n][hidden] -> [n][dim] */
        pl_rmsnorm_rows(s->xb, s->x, L->ffn_norm.data, n, dim, hp->norm_eps);
        pl_tensor w_gate = L->w_gate, w_up = L->w_up;
        if (L->w_gate_up.data) {   /* fused rows: gate, then up */
            w_gate = row_range(&L->w_gate_up, 0, hidden);
            w_up = row_range(&L->w_gate_up, hidden, hidden);
        }
        pl_matmul_swiglu(s->hb, s->hb2, &w_gate, &w_up, s->xb, n, cx);
        pl_matmul(s->xb, &L->w_down, s->hb, n, cx);
        pl_add(s->x, s->xb, (size_t)n * dim);
        pl_inspect_hidden(hp, s, l + 1, n);
    }

    /* logits of the last token only: [dim] -> [n_vocab] */
    pl_rmsnorm(s->xb, s->x + (size_t)(n - 1) * dim, m->out_norm.data, dim, hp->norm_eps);
    pl_matmul(s->logits, &m->output, s->xb, 1, cx);
    s->pos += n;
}
