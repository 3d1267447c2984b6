/* Scalar reference conversions between float and ggml's block formats (layouts: quant.h).
 *
 * Dequantization does ggml's dequantize_row_* arithmetic in the same order, so the floats
 * are bit-identical to llama.cpp's. Quantization of Q4_0, Q4_1, Q5_0, Q5_1, Q8_0 and Q8_K
 * is ggml's reference quantizer (same bytes). Q2_K .. Q6_K use a simpler quantizer than
 * ggml's error-minimizing search:
 *   - each sub-block gets a scale (and for Q2_K/Q4_K/Q5_K a min <= 0) from its extremes:
 *     affine types map [min(0, lo), hi] onto 0..nmax, symmetric types map the element of
 *     largest magnitude onto the most negative quant (as Q4_0 does);
 *   - the sub-block scales and mins are rounded to the super-block's 4-, 6- or 8-bit steps;
 *   - every value is then rounded against the rounded scale and min, clamped to the range.
 * Its error is 5-10% above that of ggml's reference quantizers: RMS error / RMS of
 * Gaussian data is about Q2_K 0.33, Q3_K 0.16, Q4_K 0.079, Q5_K 0.038, Q6_K 0.019 (for
 * comparison Q4_0 0.086, Q8_0 0.0054); tests/c/test_quant.c holds bounds slightly above. */
#include "quant.h"

#include <math.h>
#include <string.h>
#include "util.h"

_Static_assert(sizeof(pl_block_q4_0) == 18, "Q4_0 block");
_Static_assert(sizeof(pl_block_q4_1) == 20, "Q4_1 block");
_Static_assert(sizeof(pl_block_q5_0) == 22, "Q5_0 block");
_Static_assert(sizeof(pl_block_q5_1) == 24, "Q5_1 block");
_Static_assert(sizeof(pl_block_q8_0) == 34, "Q8_0 block");
_Static_assert(sizeof(pl_block_q2_K) == 84, "Q2_K block");
_Static_assert(sizeof(pl_block_q3_K) == 110, "Q3_K block");
_Static_assert(sizeof(pl_block_q4_K) == 144, "Q4_K block");
_Static_assert(sizeof(pl_block_q5_K) == 176, "Q5_K block");
_Static_assert(sizeof(pl_block_q6_K) == 210, "Q6_K block");
_Static_assert(sizeof(pl_block_q8_K) == 292, "Q8_K block");

/* ---- half floats ---------------------------------------------------------------------- */

/* m >> shift (1 <= shift <= 24), rounded to nearest, ties to even. */
static uint32_t shift_round_even(uint32_t m, int shift) {
    uint32_t q = m >> shift, rem = m & ((1u << shift) - 1), half = 1u << (shift - 1);
    return q + (rem > half || (rem == half && (q & 1)));
}

uint16_t pl_f32_to_f16(float f) {
    uint32_t x;
    memcpy(&x, &f, 4);
    uint16_t sign = (uint16_t)((x >> 16) & 0x8000);
    uint32_t abs = x & 0x7fffffff;
    if (abs > 0x7f800000) return sign | 0x7e00;         /* NaN (quiet) */
    if (abs >= 0x477ff000) return sign | 0x7c00;        /* >= 65520 rounds to infinity */
    if (abs >= 0x38800000)                              /* normal half: rebias 127 -> 15; */
        return sign | (uint16_t)shift_round_even(abs - (112u << 23), 13); /* carries are fine */
    /* subnormal half: mantissa = value / 2^-24 = (1.m << 23) >> (126 - exponent) */
    int shift = 126 - (int)(abs >> 23);
    if (shift > 24) return sign;
    return sign | (uint16_t)shift_round_even((abs & 0x7fffff) | 0x800000, shift);
}

uint16_t pl_f32_to_bf16(float f) {
    uint32_t x;
    memcpy(&x, &f, 4);
    if ((x & 0x7fffffff) > 0x7f800000) return (uint16_t)((x >> 16) | 64);   /* quiet NaN */
    return (uint16_t)((x + 0x7fff + ((x >> 16) & 1)) >> 16);
}

static float h2f(uint16_t h) { return pl_f16_to_f32(h); }

/* ---- rounding helpers ----------------------------------------------------------------- */

/* v clamped to [lo, hi] (NaN to lo) before the conversion, so no input is undefined; for
 * values already in range the results are ggml's. */
static float clampf(float v, int lo, int hi) {
    if (!(v >= (float)lo)) return (float)lo;
    return v > (float)hi ? (float)hi : v;
}

/* Truncation toward zero, as ggml's (int8_t)(x + 8.5f). */
static int trunc_clamp(float v, int lo, int hi) { return (int)clampf(v, lo, hi); }

/* Nearest, ties to even: ggml's nearest_int (lrintf in the default rounding mode). */
static int round_clamp(float v, int lo, int hi) { return (int)lrintf(clampf(v, lo, hi)); }

/* Element of largest magnitude (the first one on ties), signed. */
static float signed_absmax(const float *x, int n) {
    float amax = 0, max = 0;
    for (int i = 0; i < n; i++)
        if (fabsf(x[i]) > amax) {
            amax = fabsf(x[i]);
            max = x[i];
        }
    return max;
}

/* ---- 32-element formats: ggml's reference quantizers ---------------------------------- */

static void quantize_q4_0(const float *x, pl_block_q4_0 *y) {
    const float d = signed_absmax(x, PL_QK) / -8;
    const float id = d ? 1.0f / d : 0.0f;
    y->d = pl_f32_to_f16(d);
    for (int j = 0; j < PL_QK / 2; j++) {
        int q0 = trunc_clamp(x[j] * id + 8.5f, 0, 15);
        int q1 = trunc_clamp(x[j + PL_QK / 2] * id + 8.5f, 0, 15);
        y->qs[j] = (uint8_t)(q0 | q1 << 4);
    }
}

static void dequantize_q4_0(const pl_block_q4_0 *x, float *y) {
    const float d = h2f(x->d);
    for (int j = 0; j < PL_QK / 2; j++) {
        y[j] = ((x->qs[j] & 15) - 8) * d;
        y[j + PL_QK / 2] = ((x->qs[j] >> 4) - 8) * d;
    }
}

/* min and max of a block, for the affine formats */
static void block_range(const float *x, int n, float *lo, float *hi) {
    *lo = x[0];
    *hi = x[0];
    for (int i = 1; i < n; i++) {
        if (x[i] < *lo) *lo = x[i];
        if (x[i] > *hi) *hi = x[i];
    }
}

static void quantize_q4_1(const float *x, pl_block_q4_1 *y) {
    float min, max;
    block_range(x, PL_QK, &min, &max);
    const float d = (max - min) / 15;
    const float id = d ? 1.0f / d : 0.0f;
    y->d = pl_f32_to_f16(d);
    y->m = pl_f32_to_f16(min);
    for (int j = 0; j < PL_QK / 2; j++) {
        int q0 = trunc_clamp((x[j] - min) * id + 0.5f, 0, 15);
        int q1 = trunc_clamp((x[j + PL_QK / 2] - min) * id + 0.5f, 0, 15);
        y->qs[j] = (uint8_t)(q0 | q1 << 4);
    }
}

static void dequantize_q4_1(const pl_block_q4_1 *x, float *y) {
    const float d = h2f(x->d), m = h2f(x->m);
    for (int j = 0; j < PL_QK / 2; j++) {
        y[j] = (x->qs[j] & 15) * d + m;
        y[j + PL_QK / 2] = (x->qs[j] >> 4) * d + m;
    }
}

/* Low nibbles into qs, fifth bits into the u32 qh (element j -> bit j). */
static void pack_5bit(const int *q, uint8_t *qs, uint8_t *qh_bytes) {
    uint32_t qh = 0;
    for (int j = 0; j < PL_QK / 2; j++) {
        qs[j] = (uint8_t)((q[j] & 15) | (q[j + PL_QK / 2] & 15) << 4);
        qh |= (uint32_t)(q[j] >> 4) << j;
        qh |= (uint32_t)(q[j + PL_QK / 2] >> 4) << (j + PL_QK / 2);
    }
    memcpy(qh_bytes, &qh, 4);
}

static void quantize_q5_0(const float *x, pl_block_q5_0 *y) {
    const float d = signed_absmax(x, PL_QK) / -16;
    const float id = d ? 1.0f / d : 0.0f;
    int q[PL_QK];
    y->d = pl_f32_to_f16(d);
    for (int j = 0; j < PL_QK; j++) q[j] = trunc_clamp(x[j] * id + 16.5f, 0, 31);
    pack_5bit(q, y->qs, y->qh);
}

static void quantize_q5_1(const float *x, pl_block_q5_1 *y) {
    float min, max;
    block_range(x, PL_QK, &min, &max);
    const float d = (max - min) / 31;
    const float id = d ? 1.0f / d : 0.0f;
    int q[PL_QK];
    y->d = pl_f32_to_f16(d);
    y->m = pl_f32_to_f16(min);
    for (int j = 0; j < PL_QK; j++) q[j] = trunc_clamp((x[j] - min) * id + 0.5f, 0, 31);
    pack_5bit(q, y->qs, y->qh);
}

/* The 5-bit quant of element j (0..31) of a Q5_0/Q5_1 block. */
static int q5_value(const uint8_t *qs, const uint8_t *qh_bytes, int j) {
    uint32_t qh;
    memcpy(&qh, qh_bytes, 4);
    int low = j < PL_QK / 2 ? qs[j] & 15 : qs[j - PL_QK / 2] >> 4;
    return low | (int)((qh >> j) & 1) << 4;
}

static void dequantize_q5_0(const pl_block_q5_0 *x, float *y) {
    const float d = h2f(x->d);
    for (int j = 0; j < PL_QK; j++) y[j] = (q5_value(x->qs, x->qh, j) - 16) * d;
}

static void dequantize_q5_1(const pl_block_q5_1 *x, float *y) {
    const float d = h2f(x->d), m = h2f(x->m);
    for (int j = 0; j < PL_QK; j++) y[j] = q5_value(x->qs, x->qh, j) * d + m;
}

static void quantize_q8_0(const float *x, pl_block_q8_0 *y) {
    float amax = fabsf(signed_absmax(x, PL_QK));
    const float d = amax / 127;
    const float id = d ? 1.0f / d : 0.0f;
    y->d = pl_f32_to_f16(d);
    for (int j = 0; j < PL_QK; j++) y->qs[j] = (int8_t)trunc_clamp(roundf(x[j] * id), -128, 127);
}

static void dequantize_q8_0(const pl_block_q8_0 *x, float *y) {
    const float d = h2f(x->d);
    for (int j = 0; j < PL_QK; j++) y[j] = x->qs[j] * d;
}

/* ---- K formats: dequantization ------------------------------------------------------- */

/* Q2_K and Q3_K keep their 2 low bits the same way: element 128h + 32k + l (k 0..3,
 * l 0..31) at bits 2k of qs[32h + l]. */
static int low2(const uint8_t *qs, int e) {
    return (qs[32 * (e / 128) + e % 32] >> (2 * ((e % 128) / 32))) & 3;
}

static void dequantize_q2_K(const pl_block_q2_K *x, float *y) {
    const float d = h2f(x->d), dmin = h2f(x->dmin);
    for (int s = 0; s < 16; s++) {
        const float dl = d * (x->scales[s] & 15), ml = dmin * (x->scales[s] >> 4);
        for (int l = 0; l < 16; l++) y[16 * s + l] = dl * low2(x->qs, 16 * s + l) - ml;
    }
}

static void dequantize_q3_K(const pl_block_q3_K *x, float *y) {
    const float d = h2f(x->d);
    int8_t sc[16];
    pl_q3_K_scales(x->scales, sc);
    for (int s = 0; s < 16; s++) {
        const float dl = d * sc[s];
        for (int l = 0; l < 16; l++) {
            int e = 16 * s + l;
            int high = (x->hmask[e % 32] >> (e / 32)) & 1;
            y[e] = dl * (low2(x->qs, e) - (high ? 0 : 4));
        }
    }
}

static void dequantize_q4_K(const pl_block_q4_K *x, float *y) {
    const float d = h2f(x->d), dmin = h2f(x->dmin);
    for (int s = 0; s < 8; s++) {
        uint8_t sc, mn;
        pl_k_scale_min(s, x->scales, &sc, &mn);
        const float dl = d * sc, ml = dmin * mn;
        const uint8_t *q = x->qs + 32 * (s / 2);
        for (int l = 0; l < 32; l++) y[32 * s + l] = dl * (s & 1 ? q[l] >> 4 : q[l] & 15) - ml;
    }
}

static void dequantize_q5_K(const pl_block_q5_K *x, float *y) {
    const float d = h2f(x->d), dmin = h2f(x->dmin);
    for (int s = 0; s < 8; s++) {
        uint8_t sc, mn;
        pl_k_scale_min(s, x->scales, &sc, &mn);
        const float dl = d * sc, ml = dmin * mn;
        const uint8_t *q = x->qs + 32 * (s / 2);
        for (int l = 0; l < 32; l++) {
            int low = s & 1 ? q[l] >> 4 : q[l] & 15;
            y[32 * s + l] = dl * (low + ((x->qh[l] >> s) & 1 ? 16 : 0)) - ml;
        }
    }
}

/* The 6-bit quant (0..63) of element e of a Q6_K block. */
static int q6_value(const pl_block_q6_K *x, int e) {
    int h = e / 128, k = (e % 128) / 32, l = e % 32;
    uint8_t ql = x->ql[64 * h + 32 * (k & 1) + l];
    int low = k < 2 ? ql & 15 : ql >> 4;
    return low | ((x->qh[32 * h + l] >> (2 * k)) & 3) << 4;
}

static void dequantize_q6_K(const pl_block_q6_K *x, float *y) {
    const float d = h2f(x->d);
    for (int e = 0; e < PL_QK_K; e++) y[e] = d * x->scales[e / 16] * (q6_value(x, e) - 32);
}

static void dequantize_q8_K(const pl_block_q8_K *x, float *y) {
    for (int j = 0; j < PL_QK_K; j++) y[j] = x->d * x->qs[j];
}

/* ---- K formats: quantization --------------------------------------------------------- */

/* Inverse of low2(): 2-bit quants L[256] into qs[64]. */
static void pack_low2(const uint8_t *L, uint8_t *qs) {
    memset(qs, 0, PL_QK_K / 4);
    for (int e = 0; e < PL_QK_K; e++)
        qs[32 * (e / 128) + e % 32] |= (uint8_t)((L[e] & 3) << (2 * ((e % 128) / 32)));
}

/* Affine sub-blocks (Q2_K, Q4_K, Q5_K): scale and min (>= 0, subtracted) of each of n_sub
 * sub-blocks of len values mapping [min(0, lo), hi] onto 0..nmax. Returns the largest of
 * each in *max_scale, *max_min. */
static void affine_subblocks(const float *x, int n_sub, int len, int nmax, float *scale,
                             float *min, float *max_scale, float *max_min) {
    *max_scale = 0;
    *max_min = 0;
    for (int s = 0; s < n_sub; s++) {
        float lo, hi;
        block_range(x + s * len, len, &lo, &hi);
        if (lo > 0) lo = 0;
        scale[s] = (hi - lo) / nmax;
        min[s] = -lo;
        if (scale[s] > *max_scale) *max_scale = scale[s];
        if (min[s] > *max_min) *max_min = min[s];
    }
}

/* Affine quants of len values given the decoded sub-block scale and min. */
static void affine_quants(const float *x, int len, int nmax, float d, float dm, uint8_t *L) {
    for (int l = 0; l < len; l++) L[l] = d ? (uint8_t)round_clamp((x[l] + dm) / d, 0, nmax) : 0;
}

static void quantize_q2_K(const float *x, pl_block_q2_K *y) {
    float scale[16], min[16], max_scale, max_min;
    uint8_t L[PL_QK_K];
    affine_subblocks(x, 16, 16, 3, scale, min, &max_scale, &max_min);
    const float is = max_scale > 0 ? 15 / max_scale : 0, im = max_min > 0 ? 15 / max_min : 0;
    for (int s = 0; s < 16; s++)
        y->scales[s] = (uint8_t)(round_clamp(is * scale[s], 0, 15) |
                                 round_clamp(im * min[s], 0, 15) << 4);
    y->d = pl_f32_to_f16(max_scale / 15);
    y->dmin = pl_f32_to_f16(max_min / 15);
    for (int s = 0; s < 16; s++)
        affine_quants(x + 16 * s, 16, 3, h2f(y->d) * (y->scales[s] & 15),
                      h2f(y->dmin) * (y->scales[s] >> 4), L + 16 * s);
    pack_low2(L, y->qs);
}

/* 6-bit scales and mins of 8 sub-blocks into the 12 scale bytes (see pl_k_scale_min). */
static void pack_k_scales(const float *scale, const float *min, float max_scale, float max_min,
                          uint8_t *packed) {
    const float is = max_scale > 0 ? 63 / max_scale : 0, im = max_min > 0 ? 63 / max_min : 0;
    memset(packed, 0, 12);
    for (int s = 0; s < 8; s++) {
        int ls = round_clamp(is * scale[s], 0, 63), lm = round_clamp(im * min[s], 0, 63);
        if (s < 4) {
            packed[s] = (uint8_t)ls;
            packed[s + 4] = (uint8_t)lm;
        } else {
            packed[s + 4] = (uint8_t)((ls & 15) | (lm & 15) << 4);
            packed[s - 4] |= (uint8_t)((ls >> 4) << 6);
            packed[s] |= (uint8_t)((lm >> 4) << 6);
        }
    }
}

/* Q4_K and Q5_K share everything but the quant width: 0..nmax quants into L[256]. */
static void quantize_k_affine(const float *x, int nmax, uint16_t *d, uint16_t *dmin,
                              uint8_t *scales, uint8_t *L) {
    float scale[8], min[8], max_scale, max_min;
    affine_subblocks(x, 8, 32, nmax, scale, min, &max_scale, &max_min);
    pack_k_scales(scale, min, max_scale, max_min, scales);
    *d = pl_f32_to_f16(max_scale / 63);
    *dmin = pl_f32_to_f16(max_min / 63);
    for (int s = 0; s < 8; s++) {
        uint8_t sc, mn;
        pl_k_scale_min(s, scales, &sc, &mn);
        affine_quants(x + 32 * s, 32, nmax, h2f(*d) * sc, h2f(*dmin) * mn, L + 32 * s);
    }
}

static void quantize_q4_K(const float *x, pl_block_q4_K *y) {
    uint8_t L[PL_QK_K];
    quantize_k_affine(x, 15, &y->d, &y->dmin, y->scales, L);
    for (int s = 0; s < 8; s += 2)
        for (int l = 0; l < 32; l++)
            y->qs[16 * s + l] = (uint8_t)(L[32 * s + l] | L[32 * s + 32 + l] << 4);
}

static void quantize_q5_K(const float *x, pl_block_q5_K *y) {
    uint8_t L[PL_QK_K];
    quantize_k_affine(x, 31, &y->d, &y->dmin, y->scales, L);
    memset(y->qh, 0, sizeof y->qh);
    for (int s = 0; s < 8; s++)
        for (int l = 0; l < 32; l++) y->qh[l] |= (uint8_t)((L[32 * s + l] >> 4) << s);
    for (int s = 0; s < 8; s += 2)
        for (int l = 0; l < 32; l++)
            y->qs[16 * s + l] = (uint8_t)((L[32 * s + l] & 15) | (L[32 * s + 32 + l] & 15) << 4);
}

/* Symmetric sub-blocks of 16 (Q3_K, Q6_K): scale[s] maps the sub-block's element of largest
 * magnitude onto -qmax. Returns the scale of largest magnitude. */
static float symmetric_subblocks(const float *x, int qmax, float *scale) {
    float max_scale = 0;
    for (int s = 0; s < 16; s++) {
        scale[s] = signed_absmax(x + 16 * s, 16) / -qmax;
        if (fabsf(scale[s]) > fabsf(max_scale)) max_scale = scale[s];
    }
    return max_scale;
}

/* Quants q - lo (lo = -qmax) for 16 values with decoded sub-block scale d. */
static void symmetric_quants(const float *x, int qmax, float d, uint8_t *L) {
    for (int l = 0; l < 16; l++)
        L[l] = (uint8_t)((d ? round_clamp(x[l] / d, -qmax, qmax - 1) : 0) + qmax);
}

static void quantize_q3_K(const float *x, pl_block_q3_K *y) {
    float scale[16];
    uint8_t L[PL_QK_K];
    const float max_scale = symmetric_subblocks(x, 4, scale);
    const float iscale = max_scale ? -32 / max_scale : 0;
    memset(y->scales, 0, 12);
    for (int s = 0; s < 16; s++) {
        int l = round_clamp(iscale * scale[s], -32, 31) + 32;
        y->scales[s % 8] |= (uint8_t)((l & 15) << (s < 8 ? 0 : 4));
        y->scales[8 + s % 4] |= (uint8_t)((l >> 4) << (2 * (s / 4)));
    }
    y->d = pl_f32_to_f16(iscale ? 1 / iscale : 0);
    int8_t sc[16];
    pl_q3_K_scales(y->scales, sc);
    for (int s = 0; s < 16; s++) symmetric_quants(x + 16 * s, 4, h2f(y->d) * sc[s], L + 16 * s);
    memset(y->hmask, 0, sizeof y->hmask);
    for (int e = 0; e < PL_QK_K; e++) y->hmask[e % 32] |= (uint8_t)((L[e] >> 2) << (e / 32));
    pack_low2(L, y->qs);
}

static void quantize_q6_K(const float *x, pl_block_q6_K *y) {
    float scale[16];
    uint8_t L[PL_QK_K];
    const float max_scale = symmetric_subblocks(x, 32, scale);
    const float iscale = max_scale ? -128 / max_scale : 0;
    for (int s = 0; s < 16; s++) y->scales[s] = (int8_t)round_clamp(iscale * scale[s], -128, 127);
    y->d = pl_f32_to_f16(iscale ? 1 / iscale : 0);
    for (int s = 0; s < 16; s++)
        symmetric_quants(x + 16 * s, 32, h2f(y->d) * y->scales[s], L + 16 * s);
    memset(y->ql, 0, sizeof y->ql);
    memset(y->qh, 0, sizeof y->qh);
    for (int e = 0; e < PL_QK_K; e++) {   /* inverse of q6_value() */
        int h = e / 128, k = (e % 128) / 32, l = e % 32;
        y->ql[64 * h + 32 * (k & 1) + l] |= (uint8_t)((L[e] & 15) << (k < 2 ? 0 : 4));
        y->qh[32 * h + l] |= (uint8_t)((L[e] >> 4) << (2 * k));
    }
}

/* ggml's quantize_row_q8_K_ref. */
static void quantize_q8_K(const float *x, pl_block_q8_K *y) {
    const float max = signed_absmax(x, PL_QK_K);
    memset(y, 0, sizeof *y);
    if (max == 0) return;
    const float iscale = -127.f / max;
    for (int j = 0; j < PL_QK_K; j++) y->qs[j] = (int8_t)round_clamp(iscale * x[j], -128, 127);
    for (int g = 0; g < PL_QK_K / 16; g++) {
        int sum = 0;
        for (int l = 0; l < 16; l++) sum += y->qs[16 * g + l];
        y->bsums[g] = (int16_t)sum;
    }
    y->d = 1 / iscale;
}

/* ---- rows ------------------------------------------------------------------------------ */

int pl_quant_supported(uint32_t type) {
    switch (type) {
    case PL_TYPE_F32: case PL_TYPE_F16: case PL_TYPE_BF16:
    case PL_TYPE_Q4_0: case PL_TYPE_Q4_1: case PL_TYPE_Q5_0: case PL_TYPE_Q5_1:
    case PL_TYPE_Q8_0: case PL_TYPE_Q2_K: case PL_TYPE_Q3_K: case PL_TYPE_Q4_K:
    case PL_TYPE_Q5_K: case PL_TYPE_Q6_K: case PL_TYPE_Q8_K:
        return 1;
    default:
        return 0;
    }
}

size_t pl_row_bytes(uint32_t type, int64_t n) {
    int block_elems, block_bytes;
    pl_type_block(type, &block_elems, &block_bytes);
    return block_elems ? (size_t)(n / block_elems) * (size_t)block_bytes : 0;
}

static int check_row(uint32_t type, int64_t n, int *block_elems) {
    int block_bytes;
    pl_type_block(type, block_elems, &block_bytes);
    if (!pl_quant_supported(type)) return PL_ERR_UNSUPPORTED_TYPE;
    return n >= 0 && n % *block_elems == 0 ? PL_OK : PL_ERR_INVALID_ARGUMENT;
}

/* f on every block of the row; blocks of type T, be elements each. */
#define DEQUANTIZE_BLOCKS(f, T) \
    for (int64_t b = 0; b < n / be; b++) f((const T *)src + b, dst + b * be); \
    return PL_OK
#define QUANTIZE_BLOCKS(f, T) \
    for (int64_t b = 0; b < n / be; b++) f(src + b * be, (T *)dst + b); \
    return PL_OK

int pl_dequantize_row(uint32_t type, const void *src, float *dst, int64_t n) {
    int be, st = check_row(type, n, &be);
    if (st) return st;
    const uint16_t *h = src;
    switch (type) {
    case PL_TYPE_F32: memcpy(dst, src, (size_t)n * 4); return PL_OK;
    case PL_TYPE_F16: for (int64_t i = 0; i < n; i++) dst[i] = pl_f16_to_f32(h[i]); return PL_OK;
    case PL_TYPE_BF16: for (int64_t i = 0; i < n; i++) dst[i] = pl_bf16_to_f32(h[i]); return PL_OK;
    case PL_TYPE_Q4_0: DEQUANTIZE_BLOCKS(dequantize_q4_0, pl_block_q4_0);
    case PL_TYPE_Q4_1: DEQUANTIZE_BLOCKS(dequantize_q4_1, pl_block_q4_1);
    case PL_TYPE_Q5_0: DEQUANTIZE_BLOCKS(dequantize_q5_0, pl_block_q5_0);
    case PL_TYPE_Q5_1: DEQUANTIZE_BLOCKS(dequantize_q5_1, pl_block_q5_1);
    case PL_TYPE_Q8_0: DEQUANTIZE_BLOCKS(dequantize_q8_0, pl_block_q8_0);
    case PL_TYPE_Q2_K: DEQUANTIZE_BLOCKS(dequantize_q2_K, pl_block_q2_K);
    case PL_TYPE_Q3_K: DEQUANTIZE_BLOCKS(dequantize_q3_K, pl_block_q3_K);
    case PL_TYPE_Q4_K: DEQUANTIZE_BLOCKS(dequantize_q4_K, pl_block_q4_K);
    case PL_TYPE_Q5_K: DEQUANTIZE_BLOCKS(dequantize_q5_K, pl_block_q5_K);
    case PL_TYPE_Q6_K: DEQUANTIZE_BLOCKS(dequantize_q6_K, pl_block_q6_K);
    default: DEQUANTIZE_BLOCKS(dequantize_q8_K, pl_block_q8_K);   /* Q8_K */
    }
}

int pl_quantize_row(uint32_t type, const float *src, void *dst, int64_t n) {
    int be, st = check_row(type, n, &be);
    if (st) return st;
    uint16_t *h = dst;
    switch (type) {
    case PL_TYPE_F32: memcpy(dst, src, (size_t)n * 4); return PL_OK;
    case PL_TYPE_F16: for (int64_t i = 0; i < n; i++) h[i] = pl_f32_to_f16(src[i]); return PL_OK;
    case PL_TYPE_BF16: for (int64_t i = 0; i < n; i++) h[i] = pl_f32_to_bf16(src[i]); return PL_OK;
    case PL_TYPE_Q4_0: QUANTIZE_BLOCKS(quantize_q4_0, pl_block_q4_0);
    case PL_TYPE_Q4_1: QUANTIZE_BLOCKS(quantize_q4_1, pl_block_q4_1);
    case PL_TYPE_Q5_0: QUANTIZE_BLOCKS(quantize_q5_0, pl_block_q5_0);
    case PL_TYPE_Q5_1: QUANTIZE_BLOCKS(quantize_q5_1, pl_block_q5_1);
    case PL_TYPE_Q8_0: QUANTIZE_BLOCKS(quantize_q8_0, pl_block_q8_0);
    case PL_TYPE_Q2_K: QUANTIZE_BLOCKS(quantize_q2_K, pl_block_q2_K);
    case PL_TYPE_Q3_K: QUANTIZE_BLOCKS(quantize_q3_K, pl_block_q3_K);
    case PL_TYPE_Q4_K: QUANTIZE_BLOCKS(quantize_q4_K, pl_block_q4_K);
    case PL_TYPE_Q5_K: QUANTIZE_BLOCKS(quantize_q5_K, pl_block_q5_K);
    case PL_TYPE_Q6_K: QUANTIZE_BLOCKS(quantize_q6_K, pl_block_q6_K);
    default: QUANTIZE_BLOCKS(quantize_q8_K, pl_block_q8_K);   /* Q8_K */
    }
}
