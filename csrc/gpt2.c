/* GPT-2 forward pass (pre-LayerNorm): learned position embeddings, LayerNorm with bias,
 * one fused q/k/v projection with bias, causal attention over the KV cache, GELU
 * feed-forward with biases, final LayerNorm and the output projection. Batched like
 * llama.c: each matrix product covers all n tokens of the batch. */
#include "arch.h"

#include <string.h>

#include "kernels.h"

void pl_gpt2_forward(const pl_model *m, pl_state *s, const int32_t *tokens, int n,
                     const pl_compute *cx) {
    const pl_hparams *hp = &m->hp;
    int dim = hp->dim, hidden = hp->hidden_dim;
    int q_dim = hp->n_heads * hp->head_dim, kv_dim = hp->n_kv_heads * hp->head_dim;
    int qkv_dim = q_dim + 2 * kv_dim;

    /* x = token embedding + embedding of the absolute position (xb as the row buffer) */
    for (int t = 0; t < n; t++) {
        float *x = s->x + (size_t)t * dim, *p = s->xb + (size_t)t * dim;
        pl_get_row(x, &m->tok_embd, tokens[t]);
        pl_get_row(p, &m->pos_embd, s->pos + t);
        for (int i = 0; i < dim; i++) x[i] += p[i];
    }
    pl_inspect_hidden(hp, s, 0, n);

    for (int l = 0; l < hp->n_layers; l++) {
        const pl_layer *L = &m->layers[l];
        /* attention: x[n][dim] -> qkv[n][q|k|v], split into q and the cache */
        for (int t = 0; t < n; t++)
            pl_layernorm(s->xb + (size_t)t * dim, s->x + (size_t)t * dim, L->attn_norm.data,
                         L->attn_norm_b.data, dim, hp->norm_eps);
        pl_matmul(s->qkv, &L->wqkv, s->xb, n, cx);
        pl_add_bias(s->qkv, L->bqkv.data, n, qkv_dim);
        for (int t = 0; t < n; t++)
            memcpy(s->q + (size_t)t * q_dim, s->qkv + (size_t)t * qkv_dim, (size_t)q_dim * sizeof(float));
        pl_kv_append(hp, s, l, n, s->qkv + q_dim, s->qkv + q_dim + kv_dim, qkv_dim);
        pl_attention(hp, s, l, n, cx);
        /* att_out[n][q_dim] -> xb[n][dim], added to the residual */
        pl_matmul(s->xb, &L->wo, s->att_out, n, cx);
        pl_add_bias(s->xb, L->bo.data, n, dim);
        pl_add(s->x, s->xb, (size_t)n * dim);

        /* feed-forward: gelu(x·Wup + b) ·Wdown + b, [n][dim] -> [n][hidden] -> [n][dim] */
        for (int t = 0; t < n; t++)
            pl_layernorm(s->xb + (size_t)t * dim, s->x + (size_t)t * dim, L->ffn_norm.data,
                         L->ffn_norm_b.data, dim, hp->norm_eps);
        pl_matmul(s->hb, &L->w_up, s->xb, n, cx);
        pl_add_bias(s->hb, L->b_up.data, n, hidden);
        pl_gelu(s->hb, (size_t)n * hidden);
        pl_matmul(s->xb, &L->w_down, s->hb, n, cx);
        pl_add_bias(s->xb, L->b_down.data, n, dim);
        pl_add(s->x, s->xb, (size_t)n * dim);
        pl_inspect_hidden(hp, s, l + 1, n);
    }

    /* logits of the last token only: [dim] -> [n_vocab] (GPT-2's output has no bias) */
    pl_layernorm(s->xb, s->x + (size_t)(n - 1) * dim, m->out_norm.data, m->out_norm_b.data, dim,
                 hp->norm_eps);
    pl_matmul(s->logits, &m->output, s->xb, 1, cx);
    s->pos += n;
}
