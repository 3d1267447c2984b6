/* Row kernels for block-quantized weights.
 *
 * Q8_0 and Q4_0 (the common quantizations) take activations quantized to int8 once per
 * matmul (ggml's Q8_0 rule, pl_act_block) and compute each block's dot product in
 * integers: the scalar and SIMD128 versions give identical per-block sums and differ only
 * in the order the float block results are added. Every other type pl_dequantize_row knows takes float
 * activations and dequantizes one block at a time (a correct but slow path). */
#include "kernels.h"

#include <math.h>

#include "quant.h"
#include "util.h"

#ifdef __wasm_simd128__
#include <wasm_simd128.h>
#endif

void pl_quantize_activations(const float *x, int n_tok, int cols, pl_act_block *out) {
    for (int b = 0; b < n_tok * (cols / PL_QK); b++, x += PL_QK) {
        float amax = 0;
        for (int i = 0; i < PL_QK; i++) amax = fmaxf(amax, fabsf(x[i]));
        float d = amax / 127, id = d ? 1 / d : 0;
        int sum = 0;
        for (int i = 0; i < PL_QK; i++) sum += out[b].q[i] = (int16_t)lrintf(x[i] * id);
        out[b].d = d;
        out[b].s = d * (float)sum;
    }
}

/* --- scalar ------------------------------------------------------------------------- */

static const pl_act_block *act_row(const void *x, size_t x_row_bytes, int t) {
    return (const pl_act_block *)((const uint8_t *)x + t * x_row_bytes);
}

static int dot_block(const int8_t *w, const int16_t *x) {
    int sum = 0;
    for (int i = 0; i < PL_QK; i++) sum += w[i] * x[i];
    return sum;
}

static void row_q8_0(const void *row, const void *x, size_t x_row_bytes, int n_tok, int cols,
                     float *y, int ldy) {
    const pl_block_q8_0 *w = row;
    for (int t = 0; t < n_tok; t++) {
        const pl_act_block *xb = act_row(x, x_row_bytes, t);
        float sum = 0;
        for (int b = 0; b < cols / PL_QK; b++)
            sum += (float)dot_block(w[b].qs, xb[b].q) * (pl_f16_to_f32_finite(w[b].d) * xb[b].d);
        y[(size_t)t * ldy] = sum;
    }
}

/* Q4_0's nibbles as signed values -8..7: element j and j+16 share byte j. */
static void unpack_q4_0(const pl_block_q4_0 *w, int8_t *q) {
    for (int j = 0; j < PL_QK / 2; j++) {
        q[j] = (int8_t)((w->qs[j] & 15) - 8);
        q[j + PL_QK / 2] = (int8_t)((w->qs[j] >> 4) - 8);
    }
}

static void row_q4_0(const void *row, const void *x, size_t x_row_bytes, int n_tok, int cols,
                     float *y, int ldy) {
    const pl_block_q4_0 *w = row;
    for (int t = 0; t < n_tok; t++) {
        const pl_act_block *xb = act_row(x, x_row_bytes, t);
        float sum = 0;
        for (int b = 0; b < cols / PL_QK; b++) {
            int8_t q[PL_QK];
            unpack_q4_0(&w[b], q);
            sum += (float)dot_block(q, xb[b].q) * (pl_f16_to_f32_finite(w[b].d) * xb[b].d);
        }
        y[(size_t)t * ldy] = sum;
    }
}

/* Any other type: dequantize a block of the row, then multiply with float activations. */
static void row_dequantize(uint32_t type, const void *row, const void *x, size_t x_row_bytes,
                           int n_tok, int cols, float *y, int ldy) {
    int block_elems, block_bytes;
    pl_type_block(type, &block_elems, &block_bytes);
    for (int t = 0; t < n_tok; t++) y[(size_t)t * ldy] = 0;
    for (int b = 0; b < cols / block_elems; b++) {
        float w[PL_QK_K];
        pl_dequantize_row(type, (const uint8_t *)row + (size_t)b * block_bytes, w, block_elems);
        for (int t = 0; t < n_tok; t++) {
            const float *xt = (const float *)((const uint8_t *)x + t * x_row_bytes) + b * block_elems;
            float sum = 0;
            for (int k = 0; k < block_elems; k++) sum += w[k] * xt[k];
            y[(size_t)t * ldy] += sum;
        }
    }
}

#define DEFINE_DEQUANTIZE_ROW(name, TYPE)                                                   \
    static void name(const void *row, const void *x, size_t x_row_bytes, int n_tok, int cols, \
                     float *y, int ldy) {                                                     \
        row_dequantize(TYPE, row, x, x_row_bytes, n_tok, cols, y, ldy);                       \
    }
DEFINE_DEQUANTIZE_ROW(row_q4_1, PL_TYPE_Q4_1)
DEFINE_DEQUANTIZE_ROW(row_q5_0, PL_TYPE_Q5_0)
DEFINE_DEQUANTIZE_ROW(row_q5_1, PL_TYPE_Q5_1)
DEFINE_DEQUANTIZE_ROW(row_q2_K, PL_TYPE_Q2_K)
DEFINE_DEQUANTIZE_ROW(row_q3_K, PL_TYPE_Q3_K)
DEFINE_DEQUANTIZE_ROW(row_q4_K, PL_TYPE_Q4_K)
DEFINE_DEQUANTIZE_ROW(row_q5_K, PL_TYPE_Q5_K)
DEFINE_DEQUANTIZE_ROW(row_q6_K, PL_TYPE_Q6_K)

int pl_quant_kernel(uint32_t type, pl_kernel *k) {
    switch (type) {
    case PL_TYPE_Q8_0: *k = (pl_kernel){row_q8_0, PL_ACT_Q8}; return 1;
    case PL_TYPE_Q4_0: *k = (pl_kernel){row_q4_0, PL_ACT_Q8}; return 1;
    case PL_TYPE_Q4_1: *k = (pl_kernel){row_q4_1, PL_ACT_F32}; return 1;
    case PL_TYPE_Q5_0: *k = (pl_kernel){row_q5_0, PL_ACT_F32}; return 1;
    case PL_TYPE_Q5_1: *k = (pl_kernel){row_q5_1, PL_ACT_F32}; return 1;
    case PL_TYPE_Q2_K: *k = (pl_kernel){row_q2_K, PL_ACT_F32}; return 1;
    case PL_TYPE_Q3_K: *k = (pl_kernel){row_q3_K, PL_ACT_F32}; return 1;
    case PL_TYPE_Q4_K: *k = (pl_kernel){row_q4_K, PL_ACT_F32}; return 1;
    case PL_TYPE_Q5_K: *k = (pl_kernel){row_q5_K, PL_ACT_F32}; return 1;
    case PL_TYPE_Q6_K: *k = (pl_kernel){row_q6_K, PL_ACT_F32}; return 1;
    default: return 0;
    }
}

/* --- SIMD128 ------------------------------------------------------------------------ */
#ifdef __wasm_simd128__

static inline float hsum(v128_t v) {
    return wasm_f32x4_extract_lane(v, 0) + wasm_f32x4_extract_lane(v, 1) +
           wasm_f32x4_extract_lane(v, 2) + wasm_f32x4_extract_lane(v, 3);
}

/* 32 int8 weights (w0: 0..15, w1: 16..31) widened to four int16 vectors. */
static inline void widen(v128_t w0, v128_t w1, v128_t w16[4]) {
    w16[0] = wasm_i16x8_extend_low_i8x16(w0);
    w16[1] = wasm_i16x8_extend_high_i8x16(w0);
    w16[2] = wasm_i16x8_extend_low_i8x16(w1);
    w16[3] = wasm_i16x8_extend_high_i8x16(w1);
}

/* acc += (Σ w·x over one block, in integers: i32x4.dot_i16x8_s) · dw · dx, lane-wise. */
static inline v128_t block_madd(v128_t acc, const v128_t w16[4], const pl_act_block *xb, float dw) {
    v128_t isum = wasm_i32x4_add(
        wasm_i32x4_add(wasm_i32x4_dot_i16x8(w16[0], wasm_v128_load(xb->q)),
                       wasm_i32x4_dot_i16x8(w16[1], wasm_v128_load(xb->q + 8))),
        wasm_i32x4_add(wasm_i32x4_dot_i16x8(w16[2], wasm_v128_load(xb->q + 16)),
                       wasm_i32x4_dot_i16x8(w16[3], wasm_v128_load(xb->q + 24))));
    return wasm_f32x4_add(acc, wasm_f32x4_mul(wasm_f32x4_convert_i32x4(isum), wasm_f32x4_splat(dw * xb->d)));
}

/* Prompt batches go four tokens at a time, so each weight block is unpacked and widened
 * once for four dot products; a lone token alternates two accumulators over the blocks to
 * keep two float add chains in flight. */
#define DEFINE_SIMD_Q_ROW(name, BLOCK, UNPACK)                                                \
    static void name(const void *row, const void *x, size_t x_row_bytes, int n_tok, int cols, \
                     float *y, int ldy) {                                                     \
        const BLOCK *w = row;                                                                 \
        int n_blocks = cols / PL_QK, t = 0;                                                   \
        for (; t + 4 <= n_tok; t += 4) {                                                      \
            const pl_act_block *xb[4];                                                        \
            v128_t acc[4];                                                                    \
            for (int i = 0; i < 4; i++) {                                                     \
                xb[i] = act_row(x, x_row_bytes, t + i);                                       \
                acc[i] = wasm_f32x4_splat(0);                                                 \
            }                                                                                 \
            for (int b = 0; b < n_blocks; b++) {                                              \
                v128_t w0, w1, w16[4];                                                        \
                UNPACK(&w[b], w0, w1);                                                        \
                widen(w0, w1, w16);                                                           \
                float dw = pl_f16_to_f32_finite(w[b].d);                                      \
                for (int i = 0; i < 4; i++) acc[i] = block_madd(acc[i], w16, &xb[i][b], dw);  \
            }                                                                                 \
            for (int i = 0; i < 4; i++) y[(size_t)(t + i) * ldy] = hsum(acc[i]);              \
        }                                                                                     \
        for (; t < n_tok; t++) {                                                              \
            const pl_act_block *xb = act_row(x, x_row_bytes, t);                              \
            v128_t acc[2] = {wasm_f32x4_splat(0), wasm_f32x4_splat(0)};                       \
            for (int b = 0; b < n_blocks; b++) {                                              \
                v128_t w0, w1, w16[4];                                                        \
                UNPACK(&w[b], w0, w1);                                                        \
                widen(w0, w1, w16);                                                           \
                acc[b & 1] = block_madd(acc[b & 1], w16, &xb[b], pl_f16_to_f32_finite(w[b].d)); \
            }                                                                                 \
            y[(size_t)t * ldy] = hsum(wasm_f32x4_add(acc[0], acc[1]));                        \
        }                                                                                     \
    }

#define UNPACK_Q8_0(blk, w0, w1) (w0 = wasm_v128_load((blk)->qs), w1 = wasm_v128_load((blk)->qs + 16))
/* nibbles to -8..7: low nibbles are elements 0..15, high nibbles 16..31 */
#define UNPACK_Q4_0(blk, w0, w1)                                                               \
    do {                                                                                      \
        v128_t packed = wasm_v128_load((blk)->qs);                                            \
        w0 = wasm_i8x16_sub(wasm_v128_and(packed, wasm_i8x16_splat(15)), wasm_i8x16_splat(8)); \
        w1 = wasm_i8x16_sub(wasm_u8x16_shr(packed, 4), wasm_i8x16_splat(8));                  \
    } while (0)

DEFINE_SIMD_Q_ROW(row_q8_0_simd, pl_block_q8_0, UNPACK_Q8_0)
DEFINE_SIMD_Q_ROW(row_q4_0_simd, pl_block_q4_0, UNPACK_Q4_0)

int pl_quant_kernel_simd(uint32_t type, pl_kernel *k) {
    switch (type) {
    case PL_TYPE_Q8_0: *k = (pl_kernel){row_q8_0_simd, PL_ACT_Q8}; return 1;
    case PL_TYPE_Q4_0: *k = (pl_kernel){row_q4_0_simd, PL_ACT_Q8}; return 1;
    default: return 0;
    }
}

#else

int pl_quant_kernel_simd(uint32_t type, pl_kernel *k) {
    (void)type;
    (void)k;
    return 0;
}

#endif
