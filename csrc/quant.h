/* Block-quantized weight formats, byte for byte as ggml stores them in GGUF (ggml-common.h),
 * with scalar reference conversions to and from float.
 *
 * Every block holds a fixed number of consecutive values of one row. Halves (uint16_t
 * fields d, m, dmin) are IEEE binary16. In all formats the value of element i is
 * (integer quant of i) * (a scale) [- or + (an offset)]; the comments give the exact formula
 * and the bit positions, which the matmul kernels reproduce. */
#ifndef PL_QUANT_H
#define PL_QUANT_H

#include <stdint.h>
#include "tensor.h"

#define PL_QK 32     /* elements per block of the Q4_0 .. Q8_0 formats */
#define PL_QK_K 256  /* elements per super-block of the K formats */

/* Q4_0: x[j] = d * (q[j] - 8), q in 0..15. Byte qs[j] holds q[j] in its low nibble and
 * q[j + 16] in its high nibble. */
typedef struct {
    uint16_t d;
    uint8_t qs[PL_QK / 2];
} pl_block_q4_0;

/* Q4_1: x[j] = d * q[j] + m, q in 0..15; nibbles as Q4_0. */
typedef struct {
    uint16_t d, m;
    uint8_t qs[PL_QK / 2];
} pl_block_q4_1;

/* Q5_0: x[j] = d * (q[j] - 16), q in 0..31. Low 4 bits as Q4_0's nibbles; bit 4 of q[j] is
 * bit j of the little-endian u32 qh. */
typedef struct {
    uint16_t d;
    uint8_t qh[4];
    uint8_t qs[PL_QK / 2];
} pl_block_q5_0;

/* Q5_1: x[j] = d * q[j] + m, q in 0..31; bits as Q5_0. */
typedef struct {
    uint16_t d, m;
    uint8_t qh[4];
    uint8_t qs[PL_QK / 2];
} pl_block_q5_1;

/* Q8_0: x[j] = d * qs[j]. */
typedef struct {
    uint16_t d;
    int8_t qs[PL_QK];
} pl_block_q8_0;

/* Q2_K: 16 sub-blocks of 16. Sub-block s: x = d * (scales[s] & 15) * q - dmin * (scales[s] >> 4),
 * q in 0..3. Element e (0..255): half h = e / 128, r = e % 128, shift = 2 * (r / 32):
 * q = (qs[32 * h + r % 32] >> shift) & 3. */
typedef struct {
    uint8_t scales[PL_QK_K / 16];
    uint8_t qs[PL_QK_K / 4];
    uint16_t d, dmin;
} pl_block_q2_K;

/* Q3_K: 16 sub-blocks of 16. x = d * (sc[s] - 32) * (q - 4), q in 0..7: the low 2 bits sit
 * like Q2_K's, bit 2 is bit (e / 32) of hmask[e % 32]. The 6-bit scales sc[s] are packed
 * in 12 bytes: low 4 bits of sc[s] in scales[s % 8] (low nibble for s < 8, high nibble
 * for s >= 8), high 2 bits at bit 2 * (s / 4) of scales[8 + s % 4] (pl_q3_K_scales). */
typedef struct {
    uint8_t hmask[PL_QK_K / 8];
    uint8_t qs[PL_QK_K / 4];
    uint8_t scales[12];
    uint16_t d;
} pl_block_q3_K;

/* Q4_K: 8 sub-blocks of 32. x = d * sc[s] * q - dmin * mn[s], q in 0..15, with 6-bit sc, mn
 * (pl_k_scale_min). Sub-blocks 2p and 2p+1 share qs[32p .. 32p+31]: low nibbles, high nibbles. */
typedef struct {
    uint16_t d, dmin;
    uint8_t scales[12];
    uint8_t qs[PL_QK_K / 2];
} pl_block_q4_K;

/* Q5_K: as Q4_K with q in 0..31; bit 4 of the element at offset l of sub-block s is bit s
 * of qh[l]. */
typedef struct {
    uint16_t d, dmin;
    uint8_t scales[12];
    uint8_t qh[PL_QK_K / 8];
    uint8_t qs[PL_QK_K / 2];
} pl_block_q5_K;

/* Q6_K: 16 sub-blocks of 16. x = d * scales[s] * (q - 32), q in 0..63. For e = 128h + 32k + l
 * (k 0..3, l 0..31): low 4 bits from ql[64h + 32(k & 1) + l] (low nibble for k < 2, high
 * for k >= 2), high 2 bits at bit 2k of qh[32h + l]; s = e / 16. */
typedef struct {
    uint8_t ql[PL_QK_K / 2];
    uint8_t qh[PL_QK_K / 4];
    int8_t scales[PL_QK_K / 16];
    uint16_t d;
} pl_block_q6_K;

/* Q8_K: activations for K-format dot products (never stored in files). x[j] = d * qs[j];
 * bsums[g] = sum of qs[16g .. 16g+15]. */
typedef struct {
    float d;
    int8_t qs[PL_QK_K];
    int16_t bsums[PL_QK_K / 16];
} pl_block_q8_K;

/* 6-bit scale and min of sub-block j (0..7) of Q4_K/Q5_K: j < 4 in the low 6 bits of
 * scales[j] and scales[j + 4]; j >= 4 low 4 bits in the nibbles of scales[j + 4], high
 * 2 bits in the top bits of scales[j - 4] (scale) and scales[j] (min). */
static inline void pl_k_scale_min(int j, const uint8_t *scales, uint8_t *sc, uint8_t *mn) {
    if (j < 4) {
        *sc = scales[j] & 63;
        *mn = scales[j + 4] & 63;
    } else {
        *sc = (uint8_t)((scales[j + 4] & 15) | ((scales[j - 4] >> 6) << 4));
        *mn = (uint8_t)((scales[j + 4] >> 4) | ((scales[j] >> 6) << 4));
    }
}

/* The 16 signed scales (sc - 32, in -32..31) of a Q3_K block. */
static inline void pl_q3_K_scales(const uint8_t *packed, int8_t *out) {
    for (int s = 0; s < 16; s++) {
        int lo = s < 8 ? packed[s] & 15 : packed[s - 8] >> 4;
        int hi = (packed[8 + s % 4] >> (2 * (s / 4))) & 3;
        out[s] = (int8_t)((lo | hi << 4) - 32);
    }
}

/* IEEE binary16 / bfloat16 from float, rounding to nearest even (ggml's conversions). */
uint16_t pl_f32_to_f16(float f);
uint16_t pl_f32_to_bf16(float f);

/* 1 if pl_quantize_row / pl_dequantize_row handle the type: F32, F16, BF16, Q4_0, Q4_1,
 * Q5_0, Q5_1, Q8_0, Q2_K .. Q6_K, Q8_K. */
int pl_quant_supported(uint32_t type);

/* Bytes of n values of a type (n a multiple of its block size). */
size_t pl_row_bytes(uint32_t type, int64_t n);

/* n values (a multiple of the type's block size) from packed form to float, with the
 * arithmetic of ggml's dequantize_row_* (so results are bit-identical). */
int pl_dequantize_row(uint32_t type, const void *src, float *dst, int64_t n);

/* n floats to packed form. Q4_0, Q4_1, Q5_0, Q5_1, Q8_0 and Q8_K give the same bytes as
 * ggml's quantize_row_*_ref. Q2_K .. Q6_K use a simpler quantizer (min/max per sub-block,
 * scales rounded to the nearest representable step, quants re-rounded against the
 * rounded scales) that writes valid blocks of the same layout; see quant.c for its error. */
int pl_quantize_row(uint32_t type, const float *src, void *dst, int64_t n);

#endif
