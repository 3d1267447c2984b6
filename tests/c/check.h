/* Minimal assertions for the native C unit tests. Each test file is one executable whose
 * main() calls its tests and returns check_report(); it prints "N passed, N failed". */
#ifndef PL_CHECK_H
#define PL_CHECK_H

#include <math.h>
#include <stdint.h>
#include <stdio.h>

static int check_passed, check_failed;

#define CHECK(cond) do { if (cond) check_passed++; else { check_failed++; \
    fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); } } while (0)
#define CHECK_EQ_INT(a, b) do { long long a_ = (long long)(a), b_ = (long long)(b); \
    if (a_ == b_) check_passed++; else { check_failed++; \
    fprintf(stderr, "%s:%d: %s == %lld, expected %lld\n", __FILE__, __LINE__, #a, a_, b_); } } while (0)
#define CHECK_NEAR(a, b, tol) do { double a_ = (a), b_ = (b); \
    if (fabs(a_ - b_) <= (tol)) check_passed++; else { check_failed++; \
    fprintf(stderr, "%s:%d: %s = %.9g, expected %.9g (tol %g)\n", __FILE__, __LINE__, #a, a_, b_, (double)(tol)); } } while (0)

/* Test data: uniform in [-1, 1), from a xorshift generator with a fixed seed. */
static uint64_t check_rng = 0x9e3779b97f4a7c15ull;
static inline float frand(void) {
    check_rng ^= check_rng << 13; check_rng ^= check_rng >> 7; check_rng ^= check_rng << 17;
    return (float)((check_rng >> 40) / 8388608.0 - 1.0);
}

static inline int check_report(const char *suite) {
    printf("%s: %d passed, %d failed\n", suite, check_passed, check_failed);
    return check_failed ? 1 : 0;
}

#endif
