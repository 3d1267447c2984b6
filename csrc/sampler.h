/* Sampling: penalties, temperature, top-k, top-p, min-p, seeded RNG. */
#ifndef PL_SAMPLER_H
#define PL_SAMPLER_H

#include <stdint.h>
#include "util.h"

typedef struct {
    float temperature;       /* <= 0: greedy (argmax) */
    int top_k;               /* <= 0: off */
    float top_p;             /* >= 1 or <= 0: off */
    float min_p;             /* <= 0: off */
    float repeat_penalty;    /* 1: off */
    int repeat_last_n;       /* window over the history; -1 = whole history, 0 = off */
    uint64_t seed;
} pl_sampling;

typedef struct {
    int index;
    float value;             /* logit, then probability */
} pl_candidate;

/* What the last draw chose from (pl_sampler_candidates reads it back). */
typedef enum {
    PL_DRAW_NONE,            /* nothing sampled yet */
    PL_DRAW_ONE,             /* greedy: drawn_id alone */
    PL_DRAW_ALL,             /* every token, its probability in logits[] */
    PL_DRAW_CAND             /* cand[0..drawn_n), best first, weights summing to drawn_total */
} pl_draw;

typedef struct {
    pl_sampling p;
    uint64_t rng;            /* xorshift64* state, as llama2.c run.c */
    int n_vocab;
    float *logits;           /* working copy, n_vocab */
    pl_candidate *cand;      /* n_vocab */
    pl_draw drawn;
    int drawn_id, drawn_n;
    float drawn_total;
} pl_sampler;

int pl_sampler_init(pl_sampler *s, int n_vocab, pl_err *err);
void pl_sampler_free(pl_sampler *s);
void pl_sampler_set(pl_sampler *s, const pl_sampling *p);
/* Picks a token from logits (not modified). history: tokens seen so far (prompt and
 * generated), for the repetition penalty. */
int pl_sampler_sample(pl_sampler *s, const float *logits, const int32_t *history, int n_history);
/* The tokens the last pl_sampler_sample drew from, best first, with their probabilities
 * after penalty, temperature and filters (renormalised): up to cap into ids/probs.
 * Returns how many there were in all (0 before the first draw). Uses s->cand as scratch
 * when the draw was over every token. */
int pl_sampler_candidates(pl_sampler *s, int32_t *ids, float *probs, int cap);

#endif
