/* Small wasm SIMD128 helpers shared by the SIMD kernel files. */
#ifndef PL_SIMD_H
#define PL_SIMD_H

#include <wasm_simd128.h>

static inline float pl_hsum_f32x4(v128_t v) {
    return wasm_f32x4_extract_lane(v, 0) + wasm_f32x4_extract_lane(v, 1) +
           wasm_f32x4_extract_lane(v, 2) + wasm_f32x4_extract_lane(v, 3);
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
