/* Row kernels for block-quantized weights.
 *
 * Q8_0 and Q4_0 (the common quantizations) take activations quantized to Q8_0 once per
 * matmul, as ggml does, and compute each block's dot product in integers: the scalar and
 * SIMD128 versions give identical per-block sums and differ only in the order the float
 * block results are added. Every other type pl_dequantize_row knows takes float
 * activations and dequantizes one block at a time (a correct but slow path). */
#include "kernels.h"

#include "quant.h"
#include "util.h"

#ifdef __wasm_simd128__
#include <wasm_simd128.h>
#endif

/* Activations for the integer kernels: rows of cols/32 Q8_0 blocks. */
void pl_quantize_activations(const float *x, int n_tok, int cols, void *out) {
    size_t row_bytes = pl_row_bytes(PL_TYPE_Q8_0, cols);
    for (int t = 0; t < n_tok; t++)
        pl_quantize_row(PL_TYPE_Q8_0, x + (size_t)t * cols, (uint8_t *)out + t * row_bytes, cols);
}

/* --- scalar ------------------------------------------------------------------------- */

static int dot_q8(const int8_t *a, const int8_t *b) {
    int sum = 0;
    for (int i = 0; i < PL_QK; i++) sum += a[i] * b[i];
    return sum;
}

static void row_q8_0(const void *row, const void *x, size_t x_row_bytes, int n_tok, int cols,
                     float *y, int ldy) {
    const pl_block_q8_0 *w = row;
    for (int t = 0; t < n_tok; t++) {
        const pl_block_q8_0 *xb = (const void *)((const uint8_t *)x + t * x_row_bytes);
        float sum = 0;
        for (int b = 0; b < cols / PL_QK; b++)
            sum += (float)dot_q8(w[b].qs, xb[b].qs) * (pl_f16_to_f32(w[b].d) * pl_f16_to_f32(xb[b].d));
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
        const pl_block_q8_0 *xb = (const void *)((const uint8_t *)x + t * x_row_bytes);
        float sum = 0;
        for (int b = 0; b < cols / PL_QK; b++) {
            int8_t q[PL_QK];
            unpack_q4_0(&w[b], q);
            sum += (float)dot_q8(q, xb[b].qs) * (pl_f16_to_f32(w[b].d) * pl_f16_to_f32(xb[b].d));
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
    case PL_TYPE_Q8_0: *k = (pl_kernel){row_q8_0, PL_TYPE_Q8_0}; return 1;
    case PL_TYPE_Q4_0: *k = (pl_kernel){row_q4_0, PL_TYPE_Q8_0}; return 1;
    case PL_TYPE_Q4_1: *k = (pl_kernel){row_q4_1, PL_TYPE_F32}; return 1;
    case PL_TYPE_Q5_0: *k = (pl_kernel){row_q5_0, PL_TYPE_F32}; return 1;
    case PL_TYPE_Q5_1: *k = (pl_kernel){row_q5_1, PL_TYPE_F32}; return 1;
    case PL_TYPE_Q2_K: *k = (pl_kernel){row_q2_K, PL_TYPE_F32}; return 1;
    case PL_TYPE_Q3_K: *k = (pl_kernel){row_q3_K, PL_TYPE_F32}; return 1;
    case PL_TYPE_Q4_K: *k = (pl_kernel){row_q4_K, PL_TYPE_F32}; return 1;
    case PL_TYPE_Q5_K: *k = (pl_kernel){row_q5_K, PL_TYPE_F32}; return 1;
    case PL_TYPE_Q6_K: *k = (pl_kernel){row_q6_K, PL_TYPE_F32}; return 1;
    default: return 0;
    }
}

/* --- SIMD128 ------------------------------------------------------------------------ */
#ifdef __wasm_simd128__

/* Sum of a[i]*b[i] over 16 int8 pairs as four i32 lanes: widen to i16, then pairwise
 * multiply-add (i32x4.dot_i16x8_s). */
static inline v128_t dot16_i8(v128_t a, v128_t b) {
    v128_t lo = wasm_i32x4_dot_i16x8(wasm_i16x8_extend_low_i8x16(a), wasm_i16x8_extend_low_i8x16(b));
    v128_t hi = wasm_i32x4_dot_i16x8(wasm_i16x8_extend_high_i8x16(a), wasm_i16x8_extend_high_i8x16(b));
    return wasm_i32x4_add(lo, hi);
}

static inline float hsum(v128_t v) {
    return wasm_f32x4_extract_lane(v, 0) + wasm_f32x4_extract_lane(v, 1) +
           wasm_f32x4_extract_lane(v, 2) + wasm_f32x4_extract_lane(v, 3);
}

/* One block: the integer dot product of 32 weights (w0: 0..15, w1: 16..31) with an
 * activation block, scaled, added lane-wise to acc. */
static inline v128_t block_madd(v128_t acc, v128_t w0, v128_t w1, const pl_block_q8_0 *xb, float dw) {
    v128_t isum = wasm_i32x4_add(dot16_i8(w0, wasm_v128_load(xb->qs)), dot16_i8(w1, wasm_v128_load(xb->qs + 16)));
    v128_t scale = wasm_f32x4_splat(dw * pl_f16_to_f32(xb->d));
    return wasm_f32x4_add(acc, wasm_f32x4_mul(wasm_f32x4_convert_i32x4(isum), scale));
}

static void row_q8_0_simd(const void *row, const void *x, size_t x_row_bytes, int n_tok, int cols,
                          float *y, int ldy) {
    const pl_block_q8_0 *w = row;
    for (int t = 0; t < n_tok; t++) {
        const pl_block_q8_0 *xb = (const void *)((const uint8_t *)x + t * x_row_bytes);
        v128_t acc = wasm_f32x4_splat(0);
        for (int b = 0; b < cols / PL_QK; b++)
            acc = block_madd(acc, wasm_v128_load(w[b].qs), wasm_v128_load(w[b].qs + 16), &xb[b],
                             pl_f16_to_f32(w[b].d));
        y[(size_t)t * ldy] = hsum(acc);
    }
}

static void row_q4_0_simd(const void *row, const void *x, size_t x_row_bytes, int n_tok, int cols,
                          float *y, int ldy) {
    const pl_block_q4_0 *w = row;
    const v128_t low_nibble = wasm_i8x16_splat(15), eight = wasm_i8x16_splat(8);
    for (int t = 0; t < n_tok; t++) {
        const pl_block_q8_0 *xb = (const void *)((const uint8_t *)x + t * x_row_bytes);
        v128_t acc = wasm_f32x4_splat(0);
        for (int b = 0; b < cols / PL_QK; b++) {
            v128_t packed = wasm_v128_load(w[b].qs);
            v128_t w0 = wasm_i8x16_sub(wasm_v128_and(packed, low_nibble), eight);
            v128_t w1 = wasm_i8x16_sub(wasm_u8x16_shr(packed, 4), eight);
            acc = block_madd(acc, w0, w1, &xb[b], pl_f16_to_f32(w[b].d));
        }
        y[(size_t)t * ldy] = hsum(acc);
    }
}

int pl_quant_kernel_simd(uint32_t type, pl_kernel *k) {
    switch (type) {
    case PL_TYPE_Q8_0: *k = (pl_kernel){row_q8_0_simd, PL_TYPE_Q8_0}; return 1;
    case PL_TYPE_Q4_0: *k = (pl_kernel){row_q4_0_simd, PL_TYPE_Q8_0}; return 1;
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
