/* Run-time state of a forward pass (KV cache, activations) and the architectures' entry
 * points. Everything is allocated once at load; a forward pass allocates nothing. */
#ifndef PL_ARCH_H
#define PL_ARCH_H

#include <stdint.h>

#include "model.h"
#include "threads.h"

#define PL_MAX_BATCH 64   /* prompt tokens per forward pass; longer prompts are chunked */

typedef struct {
    int n_ctx;               /* KV cache length */
    int pos;                 /* tokens already in the cache */
    float *key_cache;        /* [n_layers][n_kv_heads][n_ctx][head_dim] (pl_kv_offset) */
    float *value_cache;      /* the same layout */
    float *x;                /* [PL_MAX_BATCH][dim] residual stream */
    float *xb;               /* [PL_MAX_BATCH][dim] normed input / sublayer output */
    float *q;                /* [PL_MAX_BATCH][n_heads*head_dim] queries */
    float *qkv;              /* [PL_MAX_BATCH][q_dim + 2*kv_dim] gpt2's fused projection;
                                llama's new keys [PL_MAX_BATCH][kv_dim], then values */
    float *att_out;          /* [PL_MAX_BATCH][n_heads*head_dim] attention output */
    float *hb, *hb2;         /* [PL_MAX_BATCH][hidden_dim] FFN gate and up */
    float *att;              /* [n_threads][heads per KV head][n_ctx] attention scores */
    float *rope_cos, *rope_sin; /* [PL_MAX_BATCH][rope_dims/2] */
    float *logits;           /* [n_vocab] after the last token */
    /* introspection (pl_set_inspect), for the first inspect_positions positions; NULL = off */
    float *inspect_attention;   /* [n_layers][n_heads][inspect_positions][inspect_positions] */
    float *inspect_hidden;      /* [inspect_positions][n_layers + 1][dim] */
    int inspect_positions;
    /* t5 (pl_t5_state_init): the encoder's work and what the decoder keeps of it */
    int n_enc;               /* positions pl_t5_encode ran; 0 before */
    float *enc;              /* [n_ctx][dim] the encoder's residual stream, then its output */
    float *enc_k, *enc_v;    /* [n_heads][n_ctx][head_dim] an encoder layer's keys, values */
    float *cross_k, *cross_v;   /* [n_layers][n_heads][n_ctx][head_dim] each decoder layer's
                                   keys and values over the encoder's output */
    float *enc_bias, *dec_bias; /* [2 n_ctx - 1][n_heads] relative position bias of key
                                   position - query position + n_ctx - 1, by head */
} pl_state;

int pl_state_init(pl_state *s, const pl_hparams *hp, int n_ctx, int n_threads, pl_err *err);
void pl_state_free(pl_state *s);

/* Bytes of both caches for n_ctx positions, in 64 bits: in wasm32 a long context's can
 * exceed size_t (pl_state_init refuses it). */
static inline uint64_t pl_kv_cache_bytes(const pl_hparams *hp, int n_ctx) {
    return 2 * (uint64_t)hp->n_layers * (uint64_t)n_ctx * (uint64_t)hp->n_kv_heads * hp->head_dim *
           sizeof(float);
}

/* Where layer's KV head g keeps position pos in either cache. A KV head's positions are
 * contiguous: each thread of the attention streams its heads' keys and values on its own
 * (interleaved by position, a thread fetched the lines its neighbour's heads needed). */
static inline size_t pl_kv_offset(const pl_hparams *hp, const pl_state *s, int layer, int g, int pos) {
    return (((size_t)layer * hp->n_kv_heads + g) * s->n_ctx + pos) * hp->head_dim;
}

/* n rows of n_heads heads of hd floats (rows `stride` floats apart) into a buffer laid out
 * [n_heads][cap][hd], at positions pos.. (a KV cache layer's layout). */
void pl_put_heads(float *dst, int cap, int pos, const float *src, size_t stride, int n, int n_heads, int hd);

/* Copies n tokens' keys and values (rows of n_kv_heads * head_dim floats, `stride` floats
 * apart) into layer's cache at positions s->pos.. */
void pl_kv_append(const pl_hparams *hp, pl_state *s, int layer, int n, const float *k, const float *v,
                  size_t stride);

/* Introspection: the n batch tokens' residual streams (s->x) as slot `slot` of
 * s->inspect_hidden (0 = the embedding, l + 1 = after layer l), if it is on. */
void pl_inspect_hidden(const pl_hparams *hp, pl_state *s, int slot, int n);

/* Causal attention of the n batch queries in s->q (at positions s->pos..) over layer's
 * KV cache, keys and values of the batch already appended: s->att_out[n][q_dim]. With
 * introspection on, each head's attention weights go to s->inspect_attention too. */
void pl_attention(const pl_hparams *hp, pl_state *s, int layer, int n, const pl_compute *cx);

/* Runs n (<= PL_MAX_BATCH) tokens at positions s->pos.. through the model, appends their
 * keys/values to the cache, advances s->pos and leaves the last token's logits. The
 * caller has checked ids and context room. */
void pl_llama_forward(const pl_model *m, pl_state *s, const int32_t *tokens, int n,
                      const pl_compute *cx);
/* Same contract for GPT-2 (gpt2.c). Afterwards the scratch buffers hold the last layer's
 * values for all n tokens (qkv, att_out, hb = GELU output), x the residual stream. */
void pl_gpt2_forward(const pl_model *m, pl_state *s, const int32_t *tokens, int n,
                     const pl_compute *cx);

/* T5 (t5.c): the state's encoder buffers and bias tables, after pl_state_init. */
int pl_t5_state_init(const pl_model *m, pl_state *s, pl_err *err);
/* Runs the encoder over n (1..n_ctx) tokens, computes every decoder layer's cross-attention
 * keys and values, and empties the decoder's cache (s->pos = 0). */
void pl_t5_encode(const pl_model *m, pl_state *s, const int32_t *tokens, int n, const pl_compute *cx);
/* Decoder tokens, pl_llama_forward's contract, after pl_t5_encode. */
void pl_t5_forward(const pl_model *m, pl_state *s, const int32_t *tokens, int n, const pl_compute *cx);

#endif
