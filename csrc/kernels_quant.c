/* Row kernels for block-quantized weights.
 *
 * The 32-element types (Q8_0, Q4_0, Q4_1, Q5_0, Q5_1) take activations quantized to int8
 * once per matmul and thread (ggml's Q8_0 rule, pl_act_block) and compute each block's dot product
 * in integers; the offset types (w = d·q + m) add m times the block's activation sum. The
 * scalar and SIMD128 versions give identical integer block sums and differ only in the
 * order the float block results are added. The K types have theirs in kernels_kquant.c. */
#include "kernels.h"

#include <float.h>
#include <math.h>

#include "quant.h"
#include "util.h"

#ifdef __wasm_simd128__
#include "kernels_tile.h"
#endif

/* The rule's edges, so that SIMD and scalar code agree on every block without a NaN (a NaN
 * product's rounding they do not share): 1/d is clamped below infinity, where d is under
 * ~2^-128 (all of the block's values under ~4e-37; its quants then come out smaller than
 * x/d, and a zero stays 0 instead of 0·inf); and a block with an infinity (d = inf, 1/d =
 * 0) quantizes to zeros, as its finite values do by the rule. */
static float inverse_scale(float d) {
    float id = d ? 1 / d : 0;
    return id > FLT_MAX ? FLT_MAX : id;
}

/* lrintf in vector ops: adding 1.5·2^23 rounds a float below 2^22 in magnitude to an
 * integer, half to even, and leaves that integer in the low bits of the sum (one add and
 * one subtract, where nearest + trunc_sat cost ~8 x86 instructions; a NaN's result is
 * unspecified either way). */
#ifdef __wasm_simd128__
static inline v128_t round_to_i32(v128_t v) {
    const v128_t magic = wasm_f32x4_splat(12582912.0f);
    return wasm_i32x4_sub(wasm_f32x4_add(v, magic), magic);
}

/* One block: the 32 quants, their sum; and what pl_act_mid keeps of them. */
static void quantize_block(const float *x, pl_act_block *blk, pl_act_mid *mid) {
    v128_t v[8], m = wasm_f32x4_splat(0);
    for (int i = 0; i < 8; i++) {
        v[i] = wasm_v128_load(x + 4 * i);
        m = wasm_f32x4_pmax(m, wasm_f32x4_abs(v[i]));   /* max is exact in any order */
    }
    float d = pl_hmax_f32x4(m) / 127, id = inverse_scale(d);
    if (d > FLT_MAX)   /* an infinity: zeros (see inverse_scale) */
        for (int i = 0; i < 8; i++) v[i] = wasm_f32x4_splat(0);
    v128_t vid = wasm_f32x4_splat(id), sum[2] = {wasm_i32x4_splat(0), wasm_i32x4_splat(0)}, q[4];
    for (int i = 0; i < 4; i++) {
        v128_t lo = round_to_i32(wasm_f32x4_mul(v[2 * i], vid));
        v128_t hi = round_to_i32(wasm_f32x4_mul(v[2 * i + 1], vid));
        sum[i / 2] = wasm_i32x4_add(sum[i / 2], wasm_i32x4_add(lo, hi));
        q[i] = wasm_i16x8_narrow_i32x4(lo, hi);
        wasm_v128_store(blk->q + 8 * i, q[i]);
    }
    int sum_lo = pl_hsum_i32x4(sum[0]), sum_hi = pl_hsum_i32x4(sum[1]);
    blk->d = d;
    blk->sum = sum_lo + sum_hi;
    blk->s = d * (float)blk->sum;
    mid->s_lo = d * (float)sum_lo;
    mid->s_hi = d * (float)sum_hi;
    wasm_v128_store(mid->q, wasm_i16x8_shl(q[1], 4));
    wasm_v128_store(mid->q + 8, wasm_i16x8_shl(q[2], 8));
    mid->sum_mid = pl_hsum_i32x4(wasm_i32x4_extadd_pairwise_i16x8(wasm_i16x8_add(q[1], q[2])));
}
#else
static void quantize_block(const float *x, pl_act_block *blk, pl_act_mid *mid) {
    float amax = 0;
    for (int i = 0; i < PL_QK; i++) amax = fmaxf(amax, fabsf(x[i]));
    float d = amax / 127, id = inverse_scale(d);
    int sum_lo = 0, sum_hi = 0, sum_mid = 0;
    for (int i = 0; i < PL_QK; i++) {
        blk->q[i] = d > FLT_MAX ? 0 : (int16_t)lrintf(x[i] * id);
        *(i < 16 ? &sum_lo : &sum_hi) += blk->q[i];
    }
    for (int i = 0; i < 8; i++) {
        mid->q[i] = (int16_t)(blk->q[8 + i] * 16);
        mid->q[8 + i] = (int16_t)(blk->q[16 + i] * 256);
        sum_mid += blk->q[8 + i] + blk->q[16 + i];
    }
    blk->d = d;
    blk->sum = sum_lo + sum_hi;
    blk->s = d * (float)blk->sum;
    mid->sum_mid = sum_mid;
    mid->s_lo = d * (float)sum_lo;
    mid->s_hi = d * (float)sum_hi;
}
#endif

/* SIMD and scalar give the same results bit for bit on every block without a NaN. */
void pl_quantize_activations(const float *x, int n_tok, int cols, void *out) {
    int n_blocks = cols / PL_QK;
    for (int t = 0; t < n_tok; t++) {
        pl_act_block *blocks = (pl_act_block *)((uint8_t *)out + (size_t)t * pl_act_row_bytes(cols));
        pl_act_mid *mids = (pl_act_mid *)(blocks + n_blocks);
        for (int b = 0; b < n_blocks; b++, x += PL_QK) quantize_block(x, &blocks[b], &mids[b]);
    }
}

/* --- scalar ------------------------------------------------------------------------- */

static uint32_t le32(const uint8_t *b) {
    return b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
}

/* Q4/Q5 quants as int8 minus zero (8 or 16 for the _0 types, 0 for the _1 types, whose
 * offset m is added apart): byte j of qs holds the low 4 bits of elements j (low
 * nibble) and j + 16 (high nibble); bit j of qh is element j's fifth bit (Q5 only). */
static void unpack_q(const uint8_t *qs, uint32_t qh, int zero, int8_t *q) {
    for (int j = 0; j < PL_QK / 2; j++) {
        q[j] = (int8_t)(((qs[j] & 15) | (qh >> j & 1) << 4) - zero);
        q[j + PL_QK / 2] = (int8_t)(((qs[j] >> 4) | (qh >> (j + PL_QK / 2) & 1) << 4) - zero);
    }
}

/* Each type's quants as int8: in its block (Q8_0) or unpacked into buf. */
static const int8_t *unpack_q8_0(const pl_block_q8_0 *w, int8_t *buf) {
    (void)buf;
    return w->qs;
}
static const int8_t *unpack_q4_0(const pl_block_q4_0 *w, int8_t *buf) {
    unpack_q(w->qs, 0, 8, buf);
    return buf;
}
static const int8_t *unpack_q4_1(const pl_block_q4_1 *w, int8_t *buf) {
    unpack_q(w->qs, 0, 0, buf);
    return buf;
}
static const int8_t *unpack_q5_0(const pl_block_q5_0 *w, int8_t *buf) {
    unpack_q(w->qs, le32(w->qh), 16, buf);
    return buf;
}
static const int8_t *unpack_q5_1(const pl_block_q5_1 *w, int8_t *buf) {
    unpack_q(w->qs, le32(w->qh), 0, buf);
    return buf;
}

/* Σ m·s over blocks b0 .. n_blocks - 1 of a row of an offset type (w = d·q + m adds m·Σx
 * per block, Σx = s); m holds the first block's offset, stride the block size in halves. */
static float min_sum(const uint16_t *m, int stride, const pl_act_block *xb, int b0, int n_blocks) {
    float sum = 0;
    for (int b = b0; b < n_blocks; b++) sum += pl_f16_to_f32_finite(m[b * stride]) * xb[b].s;
    return sum;
}

/* A row's sum of block results: as is, or plus the offset terms. */
#define NO_OFFSET(sum, w, xb, n_blocks) (sum)
#define MIN_OFFSET(sum, w, xb, n_blocks)                                                      \
    ((sum) + min_sum(&(w)->m, sizeof *(w) / 2, xb, 0, n_blocks))

/* Each block: (Σ q·xq in integers) · dw · dx; the offset terms are added per row. */
#define DEFINE_Q_ROW(name, BLOCK, UNPACK, OFFSET)                                             \
    static void name(const void *row, const void *x, size_t x_row_bytes, int n_tok, int cols, \
                     float *y, int ldy) {                                                     \
        const BLOCK *w = row;                                                                 \
        for (int t = 0; t < n_tok; t++) {                                                     \
            const pl_act_block *xb = pl_act_row(x, x_row_bytes, t);                           \
            float sum = 0;                                                                    \
            for (int b = 0; b < cols / PL_QK; b++) {                                          \
                int8_t buf[PL_QK];                                                            \
                float dw = pl_f16_to_f32_finite(w[b].d);                                      \
                sum += (float)pl_act_dot(UNPACK(&w[b], buf), xb[b].q) * (dw * xb[b].d);       \
            }                                                                                 \
            y[(size_t)t * ldy] = OFFSET(sum, w, xb, cols / PL_QK);                            \
        }                                                                                     \
    }

DEFINE_Q_ROW(row_q8_0, pl_block_q8_0, unpack_q8_0, NO_OFFSET)
DEFINE_Q_ROW(row_q4_0, pl_block_q4_0, unpack_q4_0, NO_OFFSET)
DEFINE_Q_ROW(row_q4_1, pl_block_q4_1, unpack_q4_1, MIN_OFFSET)
DEFINE_Q_ROW(row_q5_0, pl_block_q5_0, unpack_q5_0, NO_OFFSET)
DEFINE_Q_ROW(row_q5_1, pl_block_q5_1, unpack_q5_1, MIN_OFFSET)

int pl_quant_kernel(uint32_t type, pl_kernel *k) {
    switch (type) {
    case PL_TYPE_Q8_0: *k = (pl_kernel){.row = row_q8_0, .act = PL_ACT_Q8}; return 1;
    case PL_TYPE_Q4_0: *k = (pl_kernel){.row = row_q4_0, .act = PL_ACT_Q8}; return 1;
    case PL_TYPE_Q4_1: *k = (pl_kernel){.row = row_q4_1, .act = PL_ACT_Q8}; return 1;
    case PL_TYPE_Q5_0: *k = (pl_kernel){.row = row_q5_0, .act = PL_ACT_Q8}; return 1;
    case PL_TYPE_Q5_1: *k = (pl_kernel){.row = row_q5_1, .act = PL_ACT_Q8}; return 1;
    default: return 0;
    }
}

/* --- SIMD128 ------------------------------------------------------------------------ */
#ifdef __wasm_simd128__

/* One block's Σ w·x in integers (i32x4.dot_i16x8_s), times dw · dx: four lanes to add. */
static inline v128_t block_dot(const v128_t w16[4], const pl_act_block *xb, float dw) {
    v128_t isum = pl_dot_i16x32(w16, xb->q);
    return wasm_f32x4_mul(wasm_f32x4_convert_i32x4(isum), wasm_f32x4_splat(dw * xb->d));
}

/* min_sum for n_tok rows of activations (1 or 4), four blocks at a time: the blocks'
 * halves m are gathered into lanes and converted once for all rows (as
 * pl_f16_to_f32_finite does), each row's sums s gathered beside them. A pass of its own,
 * rather than a term in every block's update, so one conversion serves four blocks. */
static inline void min_sums_simd(const uint16_t *m, int stride, const pl_act_block *const *xb,
                                 int n_tok, int n_blocks, float *out) {
    v128_t zero = wasm_f32x4_splat(0), acc[4] = {zero, zero, zero, zero};
    int b = 0;
    for (; b + 4 <= n_blocks; b += 4) {
        const uint16_t *mb = m + b * stride;
        v128_t mf = pl_f16x4_to_f32x4(wasm_u32x4_make(mb[0], mb[stride], mb[2 * stride], mb[3 * stride]));
        for (int t = 0; t < n_tok; t++) {
            const pl_act_block *x = xb[t] + b;
            v128_t s = wasm_f32x4_make(x[0].s, x[1].s, x[2].s, x[3].s);
            acc[t] = wasm_f32x4_add(acc[t], wasm_f32x4_mul(mf, s));
        }
    }
    for (int t = 0; t < n_tok; t++) out[t] = pl_hsum_f32x4(acc[t]) + min_sum(m, stride, xb[t], b, n_blocks);
}

/* Each row's offset terms into off[0 .. n_tok - 1], which starts at zero. */
#define NO_OFFSETS(w, xb, n_tok, n_blocks, off) (void)0
#define MIN_OFFSETS(w, xb, n_tok, n_blocks, off)                                              \
    min_sums_simd(&(w)->m, sizeof *(w) / 2, xb, n_tok, n_blocks, off)

/* Prompt batches go four tokens at a time, so each weight block is unpacked and widened
 * once for four dot products; a lone token alternates two accumulators over the blocks to
 * keep two float add chains in flight. Offset types add their m·s terms per row. */
#define DEFINE_SIMD_Q_ROW(name, BLOCK, UNPACK, OFFSETS)                                       \
    static void name(const void *row, const void *x, size_t x_row_bytes, int n_tok, int cols, \
                     float *y, int ldy) {                                                     \
        const BLOCK *w = row;                                                                 \
        int n_blocks = cols / PL_QK, t = 0;                                                   \
        for (; t + 4 <= n_tok; t += 4) {                                                      \
            const pl_act_block *xb[4];                                                        \
            v128_t acc[4];                                                                    \
            for (int i = 0; i < 4; i++) {                                                     \
                xb[i] = pl_act_row(x, x_row_bytes, t + i);                                    \
                acc[i] = wasm_f32x4_splat(0);                                                 \
            }                                                                                 \
            for (int b = 0; b < n_blocks; b++) {                                              \
                v128_t wq[2], w16[4];                                                         \
                UNPACK(&w[b], wq);                                                            \
                pl_widen_i8x32(wq, w16);                                                      \
                float dw = pl_f16_to_f32_finite(w[b].d);                                      \
                for (int i = 0; i < 4; i++)                                                   \
                    acc[i] = wasm_f32x4_add(acc[i], block_dot(w16, &xb[i][b], dw));           \
            }                                                                                 \
            float off[4] = {0, 0, 0, 0};                                                      \
            OFFSETS(w, xb, 4, n_blocks, off);                                                 \
            for (int i = 0; i < 4; i++) y[(size_t)(t + i) * ldy] = pl_hsum_f32x4(acc[i]) + off[i]; \
        }                                                                                     \
        for (; t < n_tok; t++) {                                                              \
            const pl_act_block *xb = pl_act_row(x, x_row_bytes, t);                           \
            v128_t acc[2] = {wasm_f32x4_splat(0), wasm_f32x4_splat(0)};                       \
            for (int b = 0; b < n_blocks; b++) {                                              \
                v128_t wq[2], w16[4];                                                         \
                UNPACK(&w[b], wq);                                                            \
                pl_widen_i8x32(wq, w16);                                                      \
                float dw = pl_f16_to_f32_finite(w[b].d);                                      \
                acc[b & 1] = wasm_f32x4_add(acc[b & 1], block_dot(w16, &xb[b], dw));          \
            }                                                                                 \
            float off = 0;                                                                    \
            OFFSETS(w, &xb, 1, n_blocks, &off);                                               \
            y[(size_t)t * ldy] = pl_hsum_f32x4(wasm_f32x4_add(acc[0], acc[1])) + off;         \
        }                                                                                     \
    }

/* Q4/Q5 low bits as unsigned 0..15: low nibbles are elements 0..15, high nibbles 16..31.
 * A 16-bit shift and a mask, not u8x16.shr: V8 rebuilds that one's byte mask on every
 * use, while a v128 constant is loaded into a register once, outside the loop. */
static inline void nibbles(const uint8_t *qs, v128_t w[2]) {
    v128_t packed = wasm_v128_load(qs);
    w[0] = wasm_v128_and(packed, wasm_i8x16_splat(15));
    w[1] = wasm_v128_and(wasm_u16x8_shr(packed, 4), wasm_i8x16_splat(15));
}

/* Q5 fifth bits as byte masks, 0xff where the bit is clear, elements 0..15 and 16..31:
 * byte k of qh is copied into 8 lanes and each lane tests its own bit of it. Swizzles with
 * constant indices, not i8x16.shuffle: V8 builds a shuffle's mask inside the loop (four
 * instructions), a swizzle's indices are a constant kept in a register. The test is
 * against 0: a test against the bit becomes i8x16.ne, three x64 instructions in V8. */
static inline void fifth_bits(const uint8_t *qh, v128_t h[2]) {
    v128_t v = wasm_v128_load32_splat(qh);
    const v128_t bit = wasm_u8x16_const(1, 2, 4, 8, 16, 32, 64, 128, 1, 2, 4, 8, 16, 32, 64, 128);
    const v128_t bytes01 = wasm_i8x16_const(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1);
    const v128_t bytes23 = wasm_i8x16_const(2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3);
    v128_t lo = wasm_i8x16_swizzle(v, bytes01), hi = wasm_i8x16_swizzle(v, bytes23);
    h[0] = wasm_i8x16_eq(wasm_v128_and(lo, bit), wasm_i8x16_splat(0));
    h[1] = wasm_i8x16_eq(wasm_v128_and(hi, bit), wasm_i8x16_splat(0));
}

static inline void unpack_q8_0_simd(const pl_block_q8_0 *blk, v128_t w[2]) {
    w[0] = wasm_v128_load(blk->qs);
    w[1] = wasm_v128_load(blk->qs + 16);
}

/* -8..7 */
static inline void unpack_q4_0_simd(const pl_block_q4_0 *blk, v128_t w[2]) {
    nibbles(blk->qs, w);
    for (int i = 0; i < 2; i++) w[i] = wasm_i8x16_sub(w[i], wasm_i8x16_splat(8));
}

/* 0..15 */
static inline void unpack_q4_1_simd(const pl_block_q4_1 *blk, v128_t w[2]) { nibbles(blk->qs, w); }

/* -16..15: a clear fifth bit makes the byte nibble | 0xf0 = nibble - 16, a set one leaves
 * nibble = (nibble + 16) - 16. */
static inline void unpack_q5_0_simd(const pl_block_q5_0 *blk, v128_t w[2]) {
    v128_t h[2];
    nibbles(blk->qs, w);
    fifth_bits(blk->qh, h);
    for (int i = 0; i < 2; i++)
        w[i] = wasm_v128_or(w[i], wasm_v128_and(h[i], wasm_i8x16_splat(-16)));
}

/* 0..31 */
static inline void unpack_q5_1_simd(const pl_block_q5_1 *blk, v128_t w[2]) {
    v128_t h[2];
    nibbles(blk->qs, w);
    fifth_bits(blk->qh, h);
    for (int i = 0; i < 2; i++)
        w[i] = wasm_v128_or(w[i], wasm_v128_andnot(wasm_i8x16_splat(16), h[i]));
}

DEFINE_SIMD_Q_ROW(row_q8_0_simd, pl_block_q8_0, unpack_q8_0_simd, NO_OFFSETS)
DEFINE_SIMD_Q_ROW(row_q4_0_simd, pl_block_q4_0, unpack_q4_0_simd, NO_OFFSETS)
DEFINE_SIMD_Q_ROW(row_q4_1_simd, pl_block_q4_1, unpack_q4_1_simd, MIN_OFFSETS)
DEFINE_SIMD_Q_ROW(row_q5_0_simd, pl_block_q5_0, unpack_q5_0_simd, NO_OFFSETS)
DEFINE_SIMD_Q_ROW(row_q5_1_simd, pl_block_q5_1, unpack_q5_1_simd, MIN_OFFSETS)

/* Prompt tokens, 4 rows at a time (for the types not repacked into kernels_x4.c's
 * groups): PANEL_BLOCKS blocks of the 4 rows are unpacked to int16 once for all tokens,
 * with the rows' d (and m) per block as vectors, and token pairs run through them in
 * kernels_tile.h's 4 x 2 tile (pl_tile_pairs). An odd last token goes through the row
 * kernel. */
#define PANEL_BLOCKS 32

#define BLOCK_M(blk) pl_f16_to_f32_finite((blk)->m)
#define NO_M(blk) 0.0f
#define DEFINE_SIMD_Q_ROWS4(name, BLOCK, UNPACK, HAS_M, M_OF, ROW)                                  \
    static void name(const void *rows, size_t row_bytes, const void *x, size_t x_row_bytes,          \
                     int n_tok, int cols, float *y, int ldy) {                                        \
        const int n_blocks = cols / PL_QK, paired = n_tok & ~1;                                       \
        int16_t w[PANEL_BLOCKS][4][PL_QK];                                                            \
        v128_t d[PANEL_BLOCKS], m[PANEL_BLOCKS];                                                      \
        for (int b0 = 0; b0 < n_blocks; b0 += PANEL_BLOCKS) {                                         \
            const int nb = n_blocks - b0 < PANEL_BLOCKS ? n_blocks - b0 : PANEL_BLOCKS;               \
            for (int b = 0; b < nb; b++) {                                                            \
                float db[4], mb[4];                                                                   \
                for (int r = 0; r < 4; r++) {                                                         \
                    const BLOCK *blk = (const BLOCK *)((const uint8_t *)rows + r * row_bytes) + b0 + b; \
                    v128_t wq[2], w16[4];                                                             \
                    UNPACK(blk, wq);                                                                  \
                    pl_widen_i8x32(wq, w16);                                                          \
                    for (int k = 0; k < 4; k++) wasm_v128_store(w[b][r] + 8 * k, w16[k]);             \
                    db[r] = pl_f16_to_f32_finite(blk->d);                                             \
                    mb[r] = M_OF(blk);                                                                \
                }                                                                                     \
                d[b] = wasm_v128_load(db);                                                            \
                m[b] = wasm_v128_load(mb);                                                            \
            }                                                                                         \
            pl_tile_pairs(w[0][0], d, HAS_M ? m : NULL, nb, x, x_row_bytes, b0, b0 > 0, paired, y, ldy); \
        }                                                                                             \
        pl_rows4_rest(ROW, rows, row_bytes, x, x_row_bytes, paired, n_tok, cols, y, ldy);             \
    }

DEFINE_SIMD_Q_ROWS4(rows4_q4_1_simd, pl_block_q4_1, unpack_q4_1_simd, 1, BLOCK_M, row_q4_1_simd)
DEFINE_SIMD_Q_ROWS4(rows4_q5_0_simd, pl_block_q5_0, unpack_q5_0_simd, 0, NO_M, row_q5_0_simd)
DEFINE_SIMD_Q_ROWS4(rows4_q5_1_simd, pl_block_q5_1, unpack_q5_1_simd, 1, BLOCK_M, row_q5_1_simd)

int pl_quant_kernel_simd(uint32_t type, pl_kernel *k) {
    switch (type) {
    case PL_TYPE_Q8_0: *k = (pl_kernel){.row = row_q8_0_simd, .act = PL_ACT_Q8}; return 1;
    case PL_TYPE_Q4_0: *k = (pl_kernel){.row = row_q4_0_simd, .act = PL_ACT_Q8}; return 1;
    case PL_TYPE_Q4_1: *k = (pl_kernel){.row = row_q4_1_simd, .act = PL_ACT_Q8, .rows4 = rows4_q4_1_simd}; return 1;
    case PL_TYPE_Q5_0: *k = (pl_kernel){.row = row_q5_0_simd, .act = PL_ACT_Q8, .rows4 = rows4_q5_0_simd}; return 1;
    case PL_TYPE_Q5_1: *k = (pl_kernel){.row = row_q5_1_simd, .act = PL_ACT_Q8, .rows4 = rows4_q5_1_simd}; return 1;
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
