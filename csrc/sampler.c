/* Sampling a token from logits: repetition penalty, temperature, top-k, softmax, top-p,
 * min-p, then one draw from a seeded xorshift64* RNG.
 *
 * With only temperature (and optionally top-p) set, every float operation and the RNG
 * follow llama2.c run.c step for step, so a seed gives the same tokens as run.c. */
#include "sampler.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels.h"

/* xorshift64* never leaves state 0, so seed 0 is replaced by this fixed constant. */
#define SEED_FOR_ZERO 0x9E3779B97F4A7C15ULL

static uint32_t random_u32(uint64_t *state) {
    *state ^= *state >> 12;
    *state ^= *state << 25;
    *state ^= *state >> 27;
    return (uint32_t)((*state * 0x2545F4914F6CDD1DULL) >> 32);
}

/* Uniform float in [0, 1) from the top 24 bits, as run.c. */
static float random_f32(uint64_t *state) { return (float)(random_u32(state) >> 8) / 16777216.0f; }

int pl_sampler_init(pl_sampler *s, int n_vocab, pl_err *err) {
    memset(s, 0, sizeof *s);
    if (n_vocab <= 0) return pl_fail(err, PL_ERR_INVALID_ARGUMENT, "sampler: vocabulary size %d", n_vocab);
    s->n_vocab = n_vocab;
    s->logits = malloc((size_t)n_vocab * sizeof *s->logits);
    s->cand = malloc((size_t)n_vocab * sizeof *s->cand);
    if (!s->logits || !s->cand) {
        pl_sampler_free(s);
        return pl_fail(err, PL_ERR_OUT_OF_MEMORY, "out of memory for a %d-token sampler", n_vocab);
    }
    /* Until pl_sampler_set: plain sampling at temperature 1, no filters. */
    const pl_sampling dflt = {1.0f, 0, 1.0f, 0.0f, 1.0f, 0, 0};
    pl_sampler_set(s, &dflt);
    return PL_OK;
}

void pl_sampler_free(pl_sampler *s) {
    free(s->logits);
    free(s->cand);
    memset(s, 0, sizeof *s);
}

void pl_sampler_set(pl_sampler *s, const pl_sampling *p) {
    s->p = *p;
    s->rng = p->seed ? p->seed : SEED_FOR_ZERO;
}

/* llama.cpp's rule, once per distinct token in the window: shrink positive logits,
 * push negative ones further down. cand[].index marks tokens already penalised. */
static void apply_repeat_penalty(pl_sampler *s, const int32_t *history, int n_history) {
    const pl_sampling *p = &s->p;
    if (p->repeat_penalty == 1.0f || p->repeat_last_n == 0 || !history || n_history <= 0) return;
    int start = p->repeat_last_n < 0 || p->repeat_last_n >= n_history ? 0 : n_history - p->repeat_last_n;
    for (int i = 0; i < s->n_vocab; i++) s->cand[i].index = 0;
    for (int i = start; i < n_history; i++) {
        int t = history[i];
        if (t < 0 || t >= s->n_vocab || s->cand[t].index) continue;
        s->cand[t].index = 1;
        float *x = &s->logits[t];
        *x = *x > 0.0f ? *x / p->repeat_penalty : *x * p->repeat_penalty;
    }
}

static int argmax(const float *x, int n) {
    int best = 0;
    for (int i = 1; i < n; i++)
        if (x[i] > x[best]) best = i;
    return best;
}

/* Descending by value, then ascending index: a total order, so the result does not
 * depend on the C library's qsort (run.c gets the same order from glibc's stable sort,
 * since it gathers candidates in index order). */
static int cand_cmp(const void *pa, const void *pb) {
    const pl_candidate *a = pa, *b = pb;
    if (a->value != b->value) return a->value > b->value ? -1 : 1;
    return (a->index > b->index) - (a->index < b->index);
}

/* run.c sample_mult: the first index whose cumulative probability exceeds coin. */
static int sample_mult(const float *probs, int n, float coin) {
    float cdf = 0.0f;
    for (int i = 0; i < n; i++) {
        cdf += probs[i];
        if (coin < cdf) return i;
    }
    return n - 1;
}

/* run.c sample_topp: drop tokens that cannot be in the nucleus, sort, keep the smallest
 * prefix whose mass exceeds topp, draw within it. */
static int sample_topp(pl_sampler *s, const float *probs, int n, float topp, float coin) {
    if (n == 1) return 0;
    pl_candidate *cand = s->cand;
    const float cutoff = (1.0f - topp) / (float)(n - 1);
    int n0 = 0;
    for (int i = 0; i < n; i++)
        if (probs[i] >= cutoff) cand[n0++] = (pl_candidate){i, probs[i]};
    if (n0 == 0) return argmax(probs, n);   /* only with NaN probabilities */
    qsort(cand, (size_t)n0, sizeof *cand, cand_cmp);
    float cumulative_prob = 0.0f;
    int last_idx = n0 - 1;
    for (int i = 0; i < n0; i++) {
        cumulative_prob += cand[i].value;
        if (cumulative_prob > topp) {
            last_idx = i;
            break;
        }
    }
    s->drawn = PL_DRAW_CAND, s->drawn_n = last_idx + 1, s->drawn_total = cumulative_prob;
    float r = coin * cumulative_prob;
    float cdf = 0.0f;
    for (int i = 0; i <= last_idx; i++) {
        cdf += cand[i].value;
        if (r < cdf) return cand[i].index;
    }
    return cand[last_idx].index;
}

/* Keeps the k best logits in cand[0..k), best first. A min-heap of the k best so far
 * (root = the worst of them) makes it O(n log k). */
static int ranks_below(const pl_candidate *a, const pl_candidate *b) { return cand_cmp(a, b) > 0; }

static void sift_down(pl_candidate *h, int k, int i) {
    for (;;) {
        int worst = i, l = 2 * i + 1, r = l + 1;
        if (l < k && ranks_below(&h[l], &h[worst])) worst = l;
        if (r < k && ranks_below(&h[r], &h[worst])) worst = r;
        if (worst == i) return;
        pl_candidate t = h[i];
        h[i] = h[worst];
        h[worst] = t;
        i = worst;
    }
}

static int select_top_k(const float *x, int n, int k, pl_candidate *h) {
    for (int i = 0; i < k; i++) h[i] = (pl_candidate){i, x[i]};
    for (int i = k / 2 - 1; i >= 0; i--) sift_down(h, k, i);
    for (int i = k; i < n; i++) {
        pl_candidate c = {i, x[i]};
        if (ranks_below(&h[0], &c)) {
            h[0] = c;
            sift_down(h, k, 0);
        }
    }
    qsort(h, (size_t)k, sizeof *h, cand_cmp);
    return k;
}

/* With top-k or min-p: softmax over the top-k candidates, top-p and min-p on those
 * probabilities, renormalise what is left and draw from it, best first. */
static int sample_filtered(pl_sampler *s) {
    const pl_sampling *p = &s->p;
    const float *x = s->logits;
    pl_candidate *c = s->cand;
    int n = s->n_vocab, nc;
    if (p->top_k > 0 && p->top_k < n) {
        nc = select_top_k(x, n, p->top_k, c);
    } else {
        nc = n;
        for (int i = 0; i < n; i++) c[i] = (pl_candidate){i, x[i]};
    }
    float max_val = c[0].value;
    for (int i = 1; i < nc; i++)
        if (c[i].value > max_val) max_val = c[i].value;
    float sum = 0.0f;
    for (int i = 0; i < nc; i++) {
        c[i].value = expf(c[i].value - max_val);
        sum += c[i].value;
    }
    float coin = random_f32(&s->rng);
    /* min-p: p >= min_p * p_max, and p_max = 1/sum, so compare exp(l - max) with min_p
     * (at most 1, so the best token always stays). Filtering before the sort keeps it
     * short; the kept set is a best-first prefix either way, so doing it before top-p
     * changes nothing. */
    if (p->min_p > 0.0f) {
        float keep = p->min_p < 1.0f ? p->min_p : 1.0f;
        int kept = 0;
        for (int i = 0; i < nc; i++)
            if (c[i].value >= keep) c[kept++] = c[i];
        nc = kept;
    }
    for (int i = 0; i < nc; i++) c[i].value /= sum;
    qsort(c, (size_t)nc, sizeof *c, cand_cmp);
    if (p->top_p > 0.0f && p->top_p < 1.0f) {
        float cumulative_prob = 0.0f;
        for (int i = 0; i < nc; i++) {
            cumulative_prob += c[i].value;
            if (cumulative_prob > p->top_p) {
                nc = i + 1;
                break;
            }
        }
    }
    if (nc == 0) return argmax(x, n);   /* only when every logit is -inf */
    float total = 0.0f;
    for (int i = 0; i < nc; i++) total += c[i].value;
    s->drawn = PL_DRAW_CAND, s->drawn_n = nc, s->drawn_total = total;
    float r = coin * total, cdf = 0.0f;
    for (int i = 0; i < nc; i++) {
        cdf += c[i].value;
        if (r < cdf) return c[i].index;
    }
    return c[nc - 1].index;
}

static int draw(pl_sampler *s) {
    const pl_sampling *p = &s->p;
    int n = s->n_vocab;
    float *x = s->logits;
    if (p->temperature <= 0.0f) return argmax(x, n);
    for (int i = 0; i < n; i++) x[i] /= p->temperature;
    if ((p->top_k > 0 && p->top_k < n) || p->min_p > 0.0f) return sample_filtered(s);
    /* run.c's path */
    pl_softmax(x, n);   /* run.c's softmax: same float operations, same order */
    s->drawn = PL_DRAW_ALL;
    float coin = random_f32(&s->rng);
    if (p->top_p <= 0.0f || p->top_p >= 1.0f) return sample_mult(x, n, coin);
    return sample_topp(s, x, n, p->top_p, coin);
}

int pl_sampler_sample(pl_sampler *s, const float *logits, const int32_t *history, int n_history) {
    int n = s->n_vocab;
    /* NaN would break the orderings below; it ranks with -inf instead. */
    for (int i = 0; i < n; i++) s->logits[i] = isnan(logits[i]) ? -INFINITY : logits[i];
    apply_repeat_penalty(s, history, n_history);
    s->drawn = PL_DRAW_ONE;   /* until a path that draws from several says otherwise */
    s->drawn_id = draw(s);
    return s->drawn_id;
}

int pl_sampler_candidates(pl_sampler *s, int32_t *ids, float *probs, int cap) {
    switch (s->drawn) {
    case PL_DRAW_NONE: return 0;
    case PL_DRAW_ONE:
        if (cap > 0) ids[0] = s->drawn_id, probs[0] = 1.0f;
        return 1;
    case PL_DRAW_ALL: {   /* softmax over all of them: the cap best, in the cand scratch */
        int k = cap < s->n_vocab ? cap : s->n_vocab;
        if (k > 0) select_top_k(s->logits, s->n_vocab, k, s->cand);
        for (int i = 0; i < k; i++) ids[i] = s->cand[i].index, probs[i] = s->cand[i].value;
        return s->n_vocab;
    }
    case PL_DRAW_CAND:
        for (int i = 0; i < cap && i < s->drawn_n; i++)
            ids[i] = s->cand[i].index, probs[i] = s->cand[i].value / s->drawn_total;
        return s->drawn_n;
    }
    return 0;
}
