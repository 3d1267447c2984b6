/* Small wasm SIMD128 helpers shared by the SIMD kernel files. */
#ifndef PL_SIMD_H
#define PL_SIMD_H

#include <wasm_simd128.h>

static inline float pl_hsum_f32x4(v128_t v) {
    return wasm_f32x4_extract_lane(v, 0) + wasm_f32x4_extract_lane(v, 1) +
           wasm_f32x4_extract_lane(v, 2) + wasm_f32x4_extract_lane(v, 3);
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

#endif
