/* Small wasm SIMD128 helpers shared by the SIMD kernel files. */
#ifndef PL_SIMD_H
#define PL_SIMD_H

#include <math.h>
#include <wasm_simd128.h>

static inline float pl_hsum_f32x4(v128_t v) {
    return wasm_f32x4_extract_lane(v, 0) + wasm_f32x4_extract_lane(v, 1) +
           wasm_f32x4_extract_lane(v, 2) + wasm_f32x4_extract_lane(v, 3);
}

/* {Σa, Σb, Σc, Σd} of int32 lanes: each vector's lanes summed, as one vector (4 rows'
 * integer sums into one, for one float scaling). */
static inline v128_t pl_transpose_sum_i32x4(v128_t a, v128_t b, v128_t c, v128_t d) {
    v128_t ab = wasm_i32x4_add(wasm_i32x4_shuffle(a, b, 0, 4, 1, 5), wasm_i32x4_shuffle(a, b, 2, 6, 3, 7));
    v128_t cd = wasm_i32x4_add(wasm_i32x4_shuffle(c, d, 0, 4, 1, 5), wasm_i32x4_shuffle(c, d, 2, 6, 3, 7));
    return wasm_i32x4_add(wasm_i32x4_shuffle(ab, cd, 0, 1, 4, 5), wasm_i32x4_shuffle(ab, cd, 2, 3, 6, 7));
}

/* The largest lane of a vector without NaNs (a running pmax from a number keeps out NaN
 * inputs). In vector ops: wasm's scalar max propagates NaN, so fmaxf is a libc call. */
static inline float pl_hmax_f32x4(v128_t v) {
    v = wasm_f32x4_pmax(v, wasm_i32x4_shuffle(v, v, 2, 3, 0, 1));
    v = wasm_f32x4_pmax(v, wasm_i32x4_shuffle(v, v, 1, 0, 3, 2));
    return wasm_f32x4_extract_lane(v, 0);
}

static inline int pl_hsum_i32x4(v128_t v) {
    return wasm_i32x4_extract_lane(v, 0) + wasm_i32x4_extract_lane(v, 1) +
           wasm_i32x4_extract_lane(v, 2) + wasm_i32x4_extract_lane(v, 3);
}

/* Four finite halves (zero-extended into u32 lanes, as i32x4.load16x4_u gives them) to
 * floats as pl_f16_to_f32_finite converts them, never through a subnormal float: normal
 * halves are rebiased by an integer add, giving 2^(e-15)·(1 + m/1024); read the same way a
 * subnormal m·2^-24 gives 2^-15·(1 + m/1024), and twice that minus 2^-14 is its value,
 * exactly (Sterbenz). The lanes first go through i32x4.dot_i16x8_s with 1 (sign-extending
 * each half): clang cannot see through it, and otherwise narrows this to 16-bit lanes
 * with byte shuffles that cost V8 three instructions per shuffle constant. */
static inline v128_t pl_f16x4_to_f32x4(v128_t h) {
    v128_t s = wasm_i32x4_dot_i16x8(h, wasm_i32x4_splat(1));
    v128_t mag = wasm_v128_and(s, wasm_i32x4_splat(0x7fff));
    v128_t normal = wasm_i32x4_add(wasm_i32x4_shl(mag, 13), wasm_i32x4_splat(112 << 23));
    v128_t subnormal = wasm_f32x4_sub(wasm_f32x4_add(normal, normal), wasm_f32x4_splat(0x1p-14f));
    v128_t value = wasm_v128_bitselect(subnormal, normal, wasm_i32x4_lt(mag, wasm_i32x4_splat(0x400)));
    return wasm_v128_or(value, wasm_v128_and(s, wasm_i32x4_splat((int32_t)0x80000000)));
}

/* e^x in 4 lanes, within 2 ulp of expf for -87 <= x <= 88 (tests/c/test_kernels.c): x =
 * n·ln 2 + r with |r| <= ln 2 / 2 (ln 2 in two parts, the first short enough that n times
 * it is exact), e^r by its Taylor series to r^7 (the first term left out is below 0.05
 * ulp), times 2^n built in the exponent bits. Below -87 it gives 0 and above 88 it gives e^88, so no
 * lane ever makes a subnormal or an overflowed exponent; NaN stays NaN. */
static inline v128_t pl_exp_f32x4(v128_t x) {
    v128_t xc = wasm_f32x4_pmin(wasm_f32x4_pmax(x, wasm_f32x4_splat(-87.0f)), wasm_f32x4_splat(88.0f));
    v128_t n = wasm_f32x4_nearest(wasm_f32x4_mul(xc, wasm_f32x4_splat(1.44269504f)));
    v128_t r = wasm_f32x4_sub(xc, wasm_f32x4_mul(n, wasm_f32x4_splat(0.693359375f)));   /* ln 2 to 9 bits */
    r = wasm_f32x4_sub(r, wasm_f32x4_mul(n, wasm_f32x4_splat(-2.12194440e-4f)));       /* the rest */
    v128_t p = wasm_f32x4_splat(1.0f / 5040);
    static const float inv_fact[7] = {1.0f / 720, 1.0f / 120, 1.0f / 24, 1.0f / 6, 0.5f, 1.0f, 1.0f};
    for (int k = 0; k < 7; k++) p = wasm_f32x4_add(wasm_f32x4_mul(p, r), wasm_f32x4_splat(inv_fact[k]));
    v128_t scale = wasm_i32x4_shl(wasm_i32x4_add(wasm_i32x4_trunc_sat_f32x4(n), wasm_i32x4_splat(127)), 23);
    return wasm_v128_andnot(wasm_f32x4_mul(p, scale), wasm_f32x4_lt(x, wasm_f32x4_splat(-87.0f)));
}

/* 32 int8 weights (w[0]: 0..15, w[1]: 16..31) widened to four int16 vectors. */
static inline void pl_widen_i8x32(const v128_t w[2], v128_t w16[4]) {
    w16[0] = wasm_i16x8_extend_low_i8x16(w[0]);
    w16[1] = wasm_i16x8_extend_high_i8x16(w[0]);
    w16[2] = wasm_i16x8_extend_low_i8x16(w[1]);
    w16[3] = wasm_i16x8_extend_high_i8x16(w[1]);
}

/* Σ w·x over 32 int16 pairs (i32x4.dot_i16x8_s) as 4 int32 partial sums. */
static inline v128_t pl_dot_i16x32(const v128_t w16[4], const int16_t *xq) {
    v128_t a = wasm_i32x4_dot_i16x8(w16[0], wasm_v128_load(xq));
    v128_t b = wasm_i32x4_dot_i16x8(w16[1], wasm_v128_load(xq + 8));
    v128_t c = wasm_i32x4_dot_i16x8(w16[2], wasm_v128_load(xq + 16));
    v128_t d = wasm_i32x4_dot_i16x8(w16[3], wasm_v128_load(xq + 24));
    return wasm_i32x4_add(wasm_i32x4_add(a, b), wasm_i32x4_add(c, d));
}

#endif
