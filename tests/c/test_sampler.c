/* Sampler: greedy, RNG stream, filters (statistically), repetition penalty, seeding. */
#include "check.h"
#include "sampler.h"

#include <string.h>

static pl_sampling params(float temperature, int top_k, float top_p, float min_p, uint64_t seed) {
    pl_sampling p = {temperature, top_k, top_p, min_p, 1.0f, 0, seed};
    return p;
}

/* First random_u32 outputs of xorshift64* (run.c's random_u32) for seed 42, computed
 * independently with /usr/bin/python3 in integer arithmetic mod 2^64:
 *   s ^= s >> 12; s ^= (s << 25) & M; s ^= s >> 27; out = ((s * 0x2545F4914F6CDD1D) & M) >> 32
 * → 1456360119, 3359763283, 3393612768, 4054632243, 3283045847.
 * Seed 0 is replaced by 0x9E3779B97F4A7C15, whose first output is 226735074. */
static const uint32_t SEED42[5] = {1456360119u, 3359763283u, 3393612768u, 4054632243u, 3283045847u};

/* With n equal logits (n a power of two) every probability is exactly 1/n and the CDF
 * steps are exact, so the sampled token is floor(coin * n) = random_u32 >> (32 - log2 n):
 * the RNG stream is visible through the public interface. */
static void test_rng_stream(void) {
    static float flat[65536];
    pl_sampler s;
    pl_err err;
    CHECK_EQ_INT(pl_sampler_init(&s, 65536, &err), PL_OK);
    pl_sampling p = params(1.0f, 0, 1.0f, 0.0f, 42);
    pl_sampler_set(&s, &p);
    for (int i = 0; i < 5; i++) CHECK_EQ_INT(pl_sampler_sample(&s, flat, NULL, 0), SEED42[i] >> 16);
    p.seed = 0;
    pl_sampler_set(&s, &p);
    CHECK_EQ_INT(pl_sampler_sample(&s, flat, NULL, 0), 226735074u >> 16);
    pl_sampler_free(&s);

    CHECK_EQ_INT(pl_sampler_init(&s, 256, &err), PL_OK);
    p.seed = 42;
    pl_sampler_set(&s, &p);
    for (int i = 0; i < 5; i++) CHECK_EQ_INT(pl_sampler_sample(&s, flat, NULL, 0), SEED42[i] >> 24);
    /* run.c's top-p walk, 256 equal probabilities, p = 0.5: the nucleus is the first 129
     * tokens (129/256 > 0.5), r = coin * 129/256 in float, token = first i with
     * r < (i+1)/256. Expected values from the same python script with numpy.float32. */
    static const int topp_expect[5] = {43, 100, 101, 121, 98};
    p.top_p = 0.5f;
    pl_sampler_set(&s, &p);
    for (int i = 0; i < 5; i++) CHECK_EQ_INT(pl_sampler_sample(&s, flat, NULL, 0), topp_expect[i]);
    pl_sampler_free(&s);
}

static void test_greedy(void) {
    pl_sampler s;
    pl_err err;
    const float logits[6] = {0.5f, 3.0f, -1.0f, 3.0f, 2.9f, -7.0f};
    CHECK_EQ_INT(pl_sampler_init(&s, 6, &err), PL_OK);
    pl_sampling p = params(0.0f, 0, 1.0f, 0.0f, 1);
    pl_sampler_set(&s, &p);
    CHECK_EQ_INT(pl_sampler_sample(&s, logits, NULL, 0), 1);   /* lowest index on a tie */
    p.temperature = -1.0f;
    pl_sampler_set(&s, &p);
    CHECK_EQ_INT(pl_sampler_sample(&s, logits, NULL, 0), 1);
    /* top-k = 1 is argmax whatever the temperature and seed */
    int all = 1;
    for (uint64_t seed = 1; seed < 200; seed++) {
        p = params(5.0f, 1, 1.0f, 0.0f, seed);
        pl_sampler_set(&s, &p);
        all &= pl_sampler_sample(&s, logits, NULL, 0) == 1;
    }
    CHECK(all);
    /* the caller's logits are left alone */
    CHECK(logits[0] == 0.5f && logits[3] == 3.0f);
    pl_sampler_free(&s);
}

/* Draws n tokens and returns their frequencies. */
#define N_DRAWS 100000
static void frequencies(pl_sampler *s, const pl_sampling *p, const float *logits, int n_vocab, double *freq) {
    pl_sampler_set(s, p);
    for (int i = 0; i < n_vocab; i++) freq[i] = 0;
    for (int i = 0; i < N_DRAWS; i++) {
        int t = pl_sampler_sample(s, logits, NULL, 0);
        if (t >= 0 && t < n_vocab) freq[t] += 1.0 / N_DRAWS;
    }
}

/* Frequencies from 10^5 draws match the distribution after each filter. The tolerance
 * (0.01) is over 6 standard deviations for these probabilities. */
static void test_distributions(void) {
    pl_sampler s;
    pl_err err;
    const double prob[5] = {0.1, 0.2, 0.3, 0.4, 0.0};
    float logits[5];
    for (int i = 0; i < 4; i++) logits[i] = (float)log(prob[i]);
    logits[4] = -1e30f;   /* probability 0 */
    CHECK_EQ_INT(pl_sampler_init(&s, 5, &err), PL_OK);
    double f[5];
    const double tol = 0.01;

    pl_sampling p = params(1.0f, 0, 1.0f, 0.0f, 7);
    frequencies(&s, &p, logits, 5, f);
    for (int i = 0; i < 5; i++) CHECK_NEAR(f[i], prob[i], tol);

    /* temperature 2 flattens: p ∝ prob^(1/2) */
    double z = 0, q[4];
    for (int i = 0; i < 4; i++) z += q[i] = sqrt(prob[i]);
    p = params(2.0f, 0, 1.0f, 0.0f, 8);
    frequencies(&s, &p, logits, 5, f);
    for (int i = 0; i < 4; i++) CHECK_NEAR(f[i], q[i] / z, tol);

    p = params(1.0f, 2, 1.0f, 0.0f, 9);   /* top-k 2: tokens 3 and 2, renormalised */
    frequencies(&s, &p, logits, 5, f);
    CHECK_NEAR(f[0] + f[1] + f[4], 0.0, 0.0);
    CHECK_NEAR(f[2], 0.3 / 0.7, tol);
    CHECK_NEAR(f[3], 0.4 / 0.7, tol);

    p = params(1.0f, 0, 0.65f, 0.0f, 10);   /* top-p: 0.4 < 0.65 < 0.4 + 0.3 */
    frequencies(&s, &p, logits, 5, f);
    CHECK_NEAR(f[0] + f[1] + f[4], 0.0, 0.0);
    CHECK_NEAR(f[2], 0.3 / 0.7, tol);
    CHECK_NEAR(f[3], 0.4 / 0.7, tol);
    p = params(1.0f, 0, 0.35f, 0.0f, 11);   /* 0.4 alone already exceeds 0.35 */
    frequencies(&s, &p, logits, 5, f);
    CHECK_NEAR(f[3], 1.0, 1e-9);
    p = params(1.0f, 0, 0.95f, 0.0f, 12);   /* 0.4+0.3+0.2 = 0.9 < 0.95: all four */
    frequencies(&s, &p, logits, 5, f);
    for (int i = 0; i < 5; i++) CHECK_NEAR(f[i], prob[i], tol);

    p = params(1.0f, 0, 1.0f, 0.45f, 13);   /* min-p: keep p >= 0.45 * 0.4 = 0.18 */
    frequencies(&s, &p, logits, 5, f);
    CHECK_NEAR(f[0] + f[4], 0.0, 0.0);
    for (int i = 1; i < 4; i++) CHECK_NEAR(f[i], prob[i] / 0.9, tol);
    p = params(1.0f, 0, 1.0f, 0.6f, 14);    /* keep p >= 0.24 */
    frequencies(&s, &p, logits, 5, f);
    CHECK_NEAR(f[2], 0.3 / 0.7, tol);
    CHECK_NEAR(f[3], 0.4 / 0.7, tol);
    const float two_best[5] = {2.0f, 2.0f, 1.0f, 0.0f, -1.0f};
    p = params(1.0f, 0, 1.0f, 1.0f, 17);    /* min-p 1 keeps every token equal to the best */
    frequencies(&s, &p, two_best, 5, f);
    CHECK_NEAR(f[0], 0.5, tol);
    CHECK_NEAR(f[1], 0.5, tol);
    p = params(1.0f, 0, 1.0f, 5.0f, 15);    /* min-p above 1 still keeps the best */
    frequencies(&s, &p, logits, 5, f);
    CHECK_NEAR(f[3], 1.0, 1e-9);

    /* combined: top-k 3 → {3,2,1} renormalised to 4/9,3/9,2/9; top-p 0.5 → 4/9 < 0.5,
     * so {3,2}; min-p 0.1 removes nothing more */
    p = params(1.0f, 3, 0.5f, 0.1f, 16);
    frequencies(&s, &p, logits, 5, f);
    CHECK_NEAR(f[0] + f[1] + f[4], 0.0, 0.0);
    CHECK_NEAR(f[2], 3.0 / 7.0, tol);
    CHECK_NEAR(f[3], 4.0 / 7.0, tol);

    /* top-k >= n_vocab is off: the same stream as no filter */
    int same = 1;
    pl_sampler s2;
    CHECK_EQ_INT(pl_sampler_init(&s2, 5, &err), PL_OK);
    pl_sampling a = params(1.0f, 0, 1.0f, 0.0f, 99), b = params(1.0f, 5, 1.0f, 0.0f, 99);
    pl_sampler_set(&s, &a);
    pl_sampler_set(&s2, &b);
    for (int i = 0; i < 1000; i++)
        same &= pl_sampler_sample(&s, logits, NULL, 0) == pl_sampler_sample(&s2, logits, NULL, 0);
    CHECK(same);
    pl_sampler_free(&s2);
    pl_sampler_free(&s);
}

/* What each draw chose from (pl_sampler_candidates), against the distributions worked
 * out by hand above: the filters' survivors best first, renormalised; the drawn token is
 * always one of them. */
static void expect_candidates(pl_sampler *s, const pl_sampling *p, const float *logits, int n_want,
                              const int *want_ids, const double *want_probs) {
    int32_t ids[5];
    float probs[5];
    pl_sampler_set(s, p);
    for (int draw = 0; draw < 50; draw++) {
        int id = pl_sampler_sample(s, logits, NULL, 0), n = pl_sampler_candidates(s, ids, probs, 5), found = 0;
        CHECK_EQ_INT(n, n_want);
        for (int i = 0; i < n && i < 5; i++) {
            CHECK_EQ_INT(ids[i], want_ids[i]);
            CHECK_NEAR(probs[i], want_probs[i], 1e-6);
            found |= ids[i] == id;
        }
        CHECK(found);
    }
}

static void test_candidates(void) {
    pl_sampler s;
    pl_err err;
    const double prob[4] = {0.1, 0.2, 0.3, 0.4};
    float logits[5];
    for (int i = 0; i < 4; i++) logits[i] = (float)log(prob[i]);
    logits[4] = -1e30f;
    CHECK_EQ_INT(pl_sampler_init(&s, 5, &err), PL_OK);
    int32_t ids[5];
    float probs[5];
    CHECK_EQ_INT(pl_sampler_candidates(&s, ids, probs, 5), 0);   /* nothing drawn yet */

    const int order[5] = {3, 2, 1, 0, 4};
    pl_sampling p = params(1.0f, 0, 1.0f, 0.0f, 1);
    expect_candidates(&s, &p, logits, 5, order, (const double[]){0.4, 0.3, 0.2, 0.1, 0.0});
    p = params(2.0f, 0, 1.0f, 0.0f, 2);   /* p ∝ prob^(1/2) */
    double z = 0;
    for (int i = 0; i < 4; i++) z += sqrt(prob[i]);
    expect_candidates(&s, &p, logits, 5, order,
                      (const double[]){sqrt(0.4) / z, sqrt(0.3) / z, sqrt(0.2) / z, sqrt(0.1) / z, 0.0});
    p = params(1.0f, 2, 1.0f, 0.0f, 3);   /* top-k 2 */
    expect_candidates(&s, &p, logits, 2, order, (const double[]){0.4 / 0.7, 0.3 / 0.7});
    p = params(1.0f, 0, 0.65f, 0.0f, 4);  /* top-p, run.c's walk */
    expect_candidates(&s, &p, logits, 2, order, (const double[]){0.4 / 0.7, 0.3 / 0.7});
    p = params(1.0f, 0, 1.0f, 0.45f, 5);  /* min-p: p >= 0.18 */
    expect_candidates(&s, &p, logits, 3, order, (const double[]){0.4 / 0.9, 0.3 / 0.9, 0.2 / 0.9});
    p = params(1.0f, 3, 0.5f, 0.1f, 6);   /* combined, as above */
    expect_candidates(&s, &p, logits, 2, order, (const double[]){4.0 / 7.0, 3.0 / 7.0});
    p = params(0.0f, 0, 1.0f, 0.0f, 7);   /* greedy */
    expect_candidates(&s, &p, logits, 1, order, (const double[]){1.0});
    /* fewer places than candidates: the best ones */
    p = params(1.0f, 0, 1.0f, 0.0f, 8);
    pl_sampler_set(&s, &p);
    pl_sampler_sample(&s, logits, NULL, 0);
    CHECK_EQ_INT(pl_sampler_candidates(&s, ids, probs, 2), 5);
    CHECK(ids[0] == 3 && ids[1] == 2);
    pl_sampler_free(&s);
}

static void test_repeat_penalty(void) {
    pl_sampler s;
    pl_err err;
    CHECK_EQ_INT(pl_sampler_init(&s, 3, &err), PL_OK);
    pl_sampling p = params(0.0f, 0, 1.0f, 0.0f, 1);
    p.repeat_penalty = 2.0f;
    p.repeat_last_n = 64;
    pl_sampler_set(&s, &p);
    const float pos_tie[3] = {1.0f, 1.0f, -5.0f}, neg_tie[3] = {-1.0f, -1.0f, -5.0f};
    const int32_t hist0[1] = {0}, hist01[2] = {0, 1}, hist00[2] = {0, 0}, bad[3] = {-4, 3, 99};
    CHECK_EQ_INT(pl_sampler_sample(&s, pos_tie, NULL, 0), 0);
    CHECK_EQ_INT(pl_sampler_sample(&s, pos_tie, hist0, 1), 1);   /* 1 / 2 < 1 */
    CHECK_EQ_INT(pl_sampler_sample(&s, neg_tie, hist0, 1), 1);   /* -1 * 2 < -1 */
    /* each distinct token once: 4 → 2 (> 1.5), not 4 → 1 */
    const float once[3] = {4.0f, 1.5f, -5.0f};
    CHECK_EQ_INT(pl_sampler_sample(&s, once, hist00, 2), 0);
    /* window: only the last token counts */
    p.repeat_last_n = 1;
    pl_sampler_set(&s, &p);
    CHECK_EQ_INT(pl_sampler_sample(&s, pos_tie, hist01, 2), 0);
    p.repeat_last_n = -1;   /* whole history */
    pl_sampler_set(&s, &p);
    const float three[3] = {1.0f, 1.0f, 0.9f};
    CHECK_EQ_INT(pl_sampler_sample(&s, three, hist01, 2), 2);
    p.repeat_last_n = 0;    /* off */
    pl_sampler_set(&s, &p);
    CHECK_EQ_INT(pl_sampler_sample(&s, pos_tie, hist0, 1), 0);
    p.repeat_last_n = 64;   /* out-of-range ids in the history are ignored */
    pl_sampler_set(&s, &p);
    CHECK_EQ_INT(pl_sampler_sample(&s, pos_tie, bad, 3), 0);
    pl_sampler_free(&s);
}

static void test_seeding(void) {
    pl_sampler s;
    pl_err err;
    float logits[100];
    for (int i = 0; i < 100; i++) logits[i] = (float)((i * 37) % 11) * 0.3f;
    CHECK_EQ_INT(pl_sampler_init(&s, 100, &err), PL_OK);
    int a[64], b[64], c[64];
    pl_sampling p = params(1.0f, 40, 0.9f, 0.0f, 1234);
    pl_sampler_set(&s, &p);
    for (int i = 0; i < 64; i++) a[i] = pl_sampler_sample(&s, logits, NULL, 0);
    pl_sampler_set(&s, &p);   /* setting again restarts the stream */
    for (int i = 0; i < 64; i++) b[i] = pl_sampler_sample(&s, logits, NULL, 0);
    p.seed = 1235;
    pl_sampler_set(&s, &p);
    for (int i = 0; i < 64; i++) c[i] = pl_sampler_sample(&s, logits, NULL, 0);
    CHECK(memcmp(a, b, sizeof a) == 0);
    CHECK(memcmp(a, c, sizeof a) != 0);
    /* greedy calls draw nothing from the RNG */
    p = params(0.0f, 0, 1.0f, 0.0f, 1234);
    pl_sampler_set(&s, &p);
    for (int i = 0; i < 10; i++) pl_sampler_sample(&s, logits, NULL, 0);
    p.temperature = 1.0f;
    p.top_k = 40;
    p.top_p = 0.9f;
    s.p = p;   /* change parameters without reseeding */
    for (int i = 0; i < 64; i++) b[i] = pl_sampler_sample(&s, logits, NULL, 0);
    CHECK(memcmp(a, b, sizeof a) == 0);
    pl_sampler_free(&s);
}

/* Degenerate logits never crash and give an index in range. */
static void test_degenerate(void) {
    pl_sampler s;
    pl_err err;
    CHECK_EQ_INT(pl_sampler_init(&s, 0, &err), PL_ERR_INVALID_ARGUMENT);
    CHECK_EQ_INT(pl_sampler_init(&s, 4, &err), PL_OK);
    const float nan_l[4] = {NAN, 1.0f, NAN, 0.5f}, inf_l[4] = {-INFINITY, -INFINITY, -INFINITY, -INFINITY};
    const pl_sampling ps[4] = {params(1.0f, 0, 1.0f, 0.0f, 3), params(1.0f, 0, 0.5f, 0.0f, 3),
                               params(1.0f, 2, 0.5f, 0.1f, 3), params(0.0f, 0, 1.0f, 0.0f, 3)};
    int ok = 1;
    for (int i = 0; i < 4; i++) {
        pl_sampler_set(&s, &ps[i]);
        for (int k = 0; k < 50; k++) {
            int t = pl_sampler_sample(&s, nan_l, NULL, 0);
            ok &= t == 1 || t == 3;
            t = pl_sampler_sample(&s, inf_l, NULL, 0);
            ok &= t >= 0 && t < 4;
        }
    }
    CHECK(ok);
    pl_sampler_free(&s);

    CHECK_EQ_INT(pl_sampler_init(&s, 1, &err), PL_OK);   /* one token: always it */
    const float one[1] = {0.3f};
    pl_sampling p = params(1.0f, 0, 0.9f, 0.0f, 5);
    pl_sampler_set(&s, &p);
    CHECK_EQ_INT(pl_sampler_sample(&s, one, NULL, 0), 0);
    pl_sampler_free(&s);
}

int main(void) {
    test_rng_stream();
    test_greedy();
    test_distributions();
    test_candidates();
    test_repeat_penalty();
    test_seeding();
    test_degenerate();
    return check_report("sampler");
}
