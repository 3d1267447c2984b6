/* wasm SIMD128 row kernels. Each lane accumulates every fourth product, so sums are
 * reordered relative to the scalar reference: results agree within float rounding
 * (tests bound the difference), not bit for bit. */
#include "kernels.h"

#ifdef __wasm_simd128__

#include "kernels_scalar.h"
#include "simd.h"

static inline v128_t load4_f32(const void *row, int k) { return wasm_v128_load((const float *)row + k); }

static inline v128_t load4_f16(const void *row, int k) {
    return pl_f16x4_to_f32x4(wasm_u32x4_load16x4((const uint16_t *)row + k));
}

static inline v128_t load4_bf16(const void *row, int k) {
    return wasm_i32x4_shl(wasm_u32x4_load16x4((const uint16_t *)row + k), 16);
}

/* Four activation rows share each weight vector; a lone row uses two accumulators to
 * keep two multiply-add chains in flight. Columns past the last multiple of 4 (or 8) are
 * added by the scalar kernels' loop, continuing the vector sums. */
#define DEFINE_SIMD_ROW_KERNEL(name, LOAD4, LOAD1)                                        \
    static void name(const void *row, const void *x, size_t x_row_bytes, int n_tok,      \
                     int cols, float *y, int ldy) {                                       \
        size_t ldx = x_row_bytes / sizeof(float);                                         \
        int cols4 = cols & ~3, cols8 = cols & ~7;                                         \
        int t = 0;                                                                        \
        for (; t + 4 <= n_tok; t += 4) {                                                  \
            const float *x0 = (const float *)x + t * ldx, *x1 = x0 + ldx, *x2 = x1 + ldx, \
                        *x3 = x2 + ldx;                                                   \
            v128_t a0 = wasm_f32x4_splat(0), a1 = a0, a2 = a0, a3 = a0;                   \
            for (int k = 0; k < cols4; k += 4) {                                          \
                v128_t w = LOAD4(row, k);                                                 \
                a0 = wasm_f32x4_add(a0, wasm_f32x4_mul(w, wasm_v128_load(x0 + k)));       \
                a1 = wasm_f32x4_add(a1, wasm_f32x4_mul(w, wasm_v128_load(x1 + k)));       \
                a2 = wasm_f32x4_add(a2, wasm_f32x4_mul(w, wasm_v128_load(x2 + k)));       \
                a3 = wasm_f32x4_add(a3, wasm_f32x4_mul(w, wasm_v128_load(x3 + k)));       \
            }                                                                             \
            float s[4] = {pl_hsum_f32x4(a0), pl_hsum_f32x4(a1), pl_hsum_f32x4(a2), pl_hsum_f32x4(a3)};                        \
            pl_dot4_scalar(LOAD1, row, cols4, cols, x0, x1, x2, x3, s);                   \
            y[(size_t)t * ldy] = s[0]; y[(size_t)(t + 1) * ldy] = s[1];                   \
            y[(size_t)(t + 2) * ldy] = s[2]; y[(size_t)(t + 3) * ldy] = s[3];             \
        }                                                                                 \
        for (; t < n_tok; t++) {                                                          \
            const float *xt = (const float *)x + t * ldx;                                 \
            v128_t a0 = wasm_f32x4_splat(0), a1 = a0;                                     \
            for (int k = 0; k < cols8; k += 8) {                                          \
                a0 = wasm_f32x4_add(a0, wasm_f32x4_mul(LOAD4(row, k), wasm_v128_load(xt + k)));         \
                a1 = wasm_f32x4_add(a1, wasm_f32x4_mul(LOAD4(row, k + 4), wasm_v128_load(xt + k + 4))); \
            }                                                                             \
            y[(size_t)t * ldy] = pl_dot1_scalar(LOAD1, row, cols8, cols, xt,               \
                                                pl_hsum_f32x4(wasm_f32x4_add(a0, a1)));            \
        }                                                                                 \
    }

DEFINE_SIMD_ROW_KERNEL(row_f32_simd, load4_f32, pl_load_f32)
DEFINE_SIMD_ROW_KERNEL(row_f16_simd, load4_f16, pl_load_f16)
DEFINE_SIMD_ROW_KERNEL(row_bf16_simd, load4_bf16, pl_load_bf16)

int pl_float_kernel_simd(uint32_t type, pl_kernel *k) {
    switch (type) {
    case PL_TYPE_F32: *k = (pl_kernel){row_f32_simd, PL_ACT_F32}; return 1;
    case PL_TYPE_F16: *k = (pl_kernel){row_f16_simd, PL_ACT_F32}; return 1;
    case PL_TYPE_BF16: *k = (pl_kernel){row_bf16_simd, PL_ACT_F32}; return 1;
    default: return 0;
    }
}

int pl_simd_available(void) { return 1; }

#else

int pl_float_kernel_simd(uint32_t type, pl_kernel *k) {
    (void)type;
    (void)k;
    return 0;
}

int pl_simd_available(void) { return 0; }

#endif
