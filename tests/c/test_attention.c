/* Attention (llama.c pl_attention) against a plain double-precision reference: causal
 * softmax(q·k / sqrt(d)) · v per query head over random caches, with grouped-query heads,
 * a batch of tokens and enough positions that keys and values go through several cache
 * blocks; the scalar and SIMD kernels, and 1 and 3 threads (3 threads split a KV head's
 * query heads across items) giving the same bits. Also the cache's layout as pl_kv_append
 * fills it, and a cache too large for the address space. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../../csrc/arch.h"
#include "check.h"

#define N_CTX 400
#define LAYER 1

/* out[q_dim] of token t at position pos, in doubles. */
static void reference(const pl_hparams *hp, const pl_state *s, int t, int pos, double *out) {
    int hd = hp->head_dim, group = hp->n_heads / hp->n_kv_heads;
    double *w = malloc((size_t)(pos + 1) * sizeof(double));
    for (int h = 0; h < hp->n_heads; h++) {
        const float *q = s->q + (size_t)t * hp->n_heads * hd + h * hd;
        /* [layer][KV head][position][head_dim], written out here rather than pl_kv_offset */
        size_t base = ((size_t)LAYER * hp->n_kv_heads + h / group) * s->n_ctx * hd;
        double max = -INFINITY, sum = 0;
        for (int j = 0; j <= pos; j++) {
            double dot = 0;
            for (int d = 0; d < hd; d++) dot += (double)q[d] * s->key_cache[base + (size_t)j * hd + d];
            w[j] = dot / sqrt((double)hd);
            if (w[j] > max) max = w[j];
        }
        for (int j = 0; j <= pos; j++) sum += (w[j] = exp(w[j] - max));
        for (int d = 0; d < hd; d++) {
            double acc = 0;
            for (int j = 0; j <= pos; j++) acc += w[j] / sum * s->value_cache[base + (size_t)j * hd + d];
            out[h * hd + d] = acc;
        }
    }
    free(w);
}

/* n tokens at positions pos0.. of a model with the given heads, at 1 and 3 threads. */
static void check_attention(int n_heads, int n_kv_heads, int head_dim, int pos0, int n) {
    pl_hparams hp = {.arch = PL_ARCH_LLAMA, .dim = n_heads * head_dim, .n_layers = LAYER + 1,
                     .n_heads = n_heads, .n_kv_heads = n_kv_heads, .head_dim = head_dim,
                     .hidden_dim = 32, .n_vocab = 8, .rope_dims = head_dim};
    pl_state s;
    pl_err err;
    CHECK_EQ_INT(pl_state_init(&s, &hp, N_CTX, 3, &err), PL_OK);
    int q_dim = n_heads * head_dim, kv_dim = n_kv_heads * head_dim;
    for (size_t i = 0; i < (size_t)(LAYER + 1) * N_CTX * kv_dim; i++) {
        s.key_cache[i] = frand();
        s.value_cache[i] = frand();
    }
    for (int i = 0; i < n * q_dim; i++) s.q[i] = 2 * frand();
    s.pos = pos0;
    double *ref = malloc((size_t)n * q_dim * sizeof(double));
    for (int t = 0; t < n; t++) reference(&hp, &s, t, pos0 + t, ref + (size_t)t * q_dim);

    float *first = malloc((size_t)n * q_dim * sizeof(float));
    for (int simd = 0; simd <= pl_simd_available(); simd++)
        for (int threads = 1; threads <= 3; threads += 2) {
            pl_pool *pool = pl_pool_create(threads);
            pl_compute cx = {pool, simd, NULL, 0};
            for (int i = 0; i < n * q_dim; i++) s.att_out[i] = 1000 * frand();   /* attention overwrites it */
            pl_attention(&hp, &s, LAYER, n, &cx);
            double worst = 0;
            for (int i = 0; i < n * q_dim; i++) worst = fmax(worst, fabs(s.att_out[i] - ref[i]));
            if (worst > 1e-5)
                fprintf(stderr, "attention heads %d/%d x %d, positions %d..%d, simd %d, %d threads: error %g\n",
                        n_heads, n_kv_heads, head_dim, pos0, pos0 + n - 1, simd, threads, worst);
            CHECK(worst <= 1e-5);
            if (threads == 1) memcpy(first, s.att_out, (size_t)n * q_dim * sizeof(float));
            else CHECK(memcmp(first, s.att_out, (size_t)n * q_dim * sizeof(float)) == 0);
            pl_pool_destroy(pool);
        }
    free(first);
    free(ref);
    pl_state_free(&s);
}

/* pl_kv_append puts each token's KV heads at their places (read back here with the
 * layout written out, as in reference) from rows a stride apart, and nothing else. */
static void check_kv_append(void) {
    enum { HEADS = 3, HD = 8, CTX = 10, POS = 4, N = 3, STRIDE = HEADS * HD + 5 };
    pl_hparams hp = {.arch = PL_ARCH_LLAMA, .dim = HEADS * HD, .n_layers = 2, .n_heads = HEADS,
                     .n_kv_heads = HEADS, .head_dim = HD, .hidden_dim = 32, .n_vocab = 8, .rope_dims = HD};
    pl_state s;
    pl_err err;
    CHECK_EQ_INT(pl_state_init(&s, &hp, CTX, 1, &err), PL_OK);
    float k[N * STRIDE], v[N * STRIDE];
    for (int i = 0; i < N * STRIDE; i++) k[i] = frand(), v[i] = frand();
    s.pos = POS;
    pl_kv_append(&hp, &s, 1, N, k, v, STRIDE);
    int misplaced = 0;
    for (int l = 0; l < 2; l++)
        for (int g = 0; g < HEADS; g++)
            for (int p = 0; p < CTX; p++)
                for (int d = 0; d < HD; d++) {
                    size_t at = (((size_t)l * HEADS + g) * CTX + p) * HD + d;
                    int mine = l == 1 && p >= POS && p < POS + N;
                    size_t from = (size_t)(p - POS) * STRIDE + (size_t)g * HD + d;
                    misplaced += s.key_cache[at] != (mine ? k[from] : 0.0f);
                    misplaced += s.value_cache[at] != (mine ? v[from] : 0.0f);
                }
    CHECK_EQ_INT(misplaced, 0);
    pl_state_free(&s);
}

/* A context whose KV cache cannot be addressed is refused, not allocated at a wrapped
 * size: 32 layers x 1024 floats x 131072 positions x 2 caches is 2^35 bytes. Only a
 * 32-bit build (wasm) can meet it; a 64-bit one would try to allocate 32 GiB. */
static void check_cache_too_large(void) {
    if (sizeof(size_t) > 4) return;
    pl_hparams hp = {.arch = PL_ARCH_LLAMA, .dim = 4096, .n_layers = 32, .n_heads = 32, .n_kv_heads = 8,
                     .head_dim = 128, .hidden_dim = 32, .n_vocab = 8, .rope_dims = 128};
    pl_state s;
    pl_err err = {0};
    CHECK_EQ_INT(pl_state_init(&s, &hp, 131072, 1, &err), PL_ERR_OUT_OF_MEMORY);
    CHECK(strstr(err.msg, "KV cache") != NULL);
}

int main(void) {
    check_kv_append();
    check_cache_too_large();
    check_attention(6, 2, 64, 0, 1);      /* one position */
    check_attention(6, 2, 64, 250, 1);    /* decode: 251 positions, several blocks */
    check_attention(7, 1, 64, 190, 5);    /* a batch, one KV head for 7 query heads */
    check_attention(4, 4, 128, 300, 2);   /* no grouping, wide heads */
    check_attention(8, 4, 8, 380, 3);     /* stories260K's heads (one block) */
    return check_report("attention");
}
