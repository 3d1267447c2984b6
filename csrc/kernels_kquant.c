/* Integer row kernels for the K formats Q2_K .. Q6_K (quant.h has the layouts).
 *
 * They take pl_act_block activations like Q8_0/Q4_0: a super-block of 256 weights meets
 * 8 activation blocks of 32. For each activation block j the weights' integer quants
 * (offsets of Q3_K/Q6_K applied) times their integer sub-block scale are dotted with the
 * int8 activations in integers, then scaled once in float by d·dx_j. Mins (w = ... - dmin·mn):
 * Q4_K/Q5_K sub-blocks are 32 wide, so their min meets the activation block's sum s;
 * Q2_K's are 16 wide, so the kernel sums the 16-value halves of q_x in integers.
 *
 * Scale decoding and the bit positions of the quants (kq_fields) are shared by the scalar
 * and SIMD128 versions: their integer sums per activation block are identical and results
 * differ only in the order the float products are added. */
#include "kernels.h"

#include <string.h>

#include "quant.h"
#include "util.h"

#ifdef __wasm_simd128__
#include "kernels_tile.h"
#endif

/* Helpers are written for any K type; each kernel passes a constant type, so after
 * forced inlining the per-type switches and branches fold away. */
#define KQ_INLINE static inline __attribute__((always_inline))

enum { KQ_ACT_BLOCKS = PL_QK_K / PL_QK };   /* activation blocks per super-block */

static int kq_min16(uint32_t type) { return type == PL_TYPE_Q2_K; }
/* Q4_K and Q5_K: sub-blocks of 32 (one per activation block) with mins. */
static int kq_wide(uint32_t type) { return type == PL_TYPE_Q4_K || type == PL_TYPE_Q5_K; }

KQ_INLINE size_t kq_block_bytes(uint32_t type) {
    switch (type) {
    case PL_TYPE_Q2_K: return sizeof(pl_block_q2_K);
    case PL_TYPE_Q3_K: return sizeof(pl_block_q3_K);
    case PL_TYPE_Q4_K: return sizeof(pl_block_q4_K);
    case PL_TYPE_Q5_K: return sizeof(pl_block_q5_K);
    default: return sizeof(pl_block_q6_K);
    }
}

/* A super-block's scales, decoded once for its 8 activation blocks. */
typedef struct {
    float d, dmin;
    int8_t sc[16];   /* integer scale of each sub-block (16 of 16 values, or 8 of 32) */
    int8_t mn[16];   /* integer min of each sub-block (Q2_K, Q4_K, Q5_K) */
} kq_scales;

/* Sub-block of half h (0 or 1) of activation block j. */
KQ_INLINE int kq_sub(uint32_t type, int j, int h) { return kq_wide(type) ? j : 2 * j + h; }

/* Scale bytes are unpacked four at a time in little-endian words (as everywhere pocketlm
 * runs); the results equal pl_k_scale_min's and pl_q3_K_scales'. */
static inline uint32_t kq_word(const uint8_t *p) {
    uint32_t w;
    memcpy(&w, p, 4);
    return w;
}

#define KQ_LOW4 0x0f0f0f0fu
#define KQ_BITS45 0x30303030u   /* where 6-bit scales keep their top 2 bits */

KQ_INLINE void kq_decode_scales(uint32_t type, const uint8_t *blk, kq_scales *ks) {
    uint32_t sc[4], mn[4];
    switch (type) {
    case PL_TYPE_Q2_K: {
        const pl_block_q2_K *b = (const pl_block_q2_K *)blk;
        ks->d = pl_f16_to_f32_finite(b->d);
        ks->dmin = pl_f16_to_f32_finite(b->dmin);
        for (int i = 0; i < 4; i++) {
            uint32_t w = kq_word(b->scales + 4 * i);
            sc[i] = w & KQ_LOW4;
            mn[i] = (w >> 4) & KQ_LOW4;
        }
        memcpy(ks->sc, sc, 16);
        memcpy(ks->mn, mn, 16);
        break;
    }
    case PL_TYPE_Q3_K: {
        /* low 4 bits: nibbles of bytes 0..7 (low for s < 8); top 2 bits: bytes 8..11 at
         * bit 2·(s / 4) */
        const pl_block_q3_K *b = (const pl_block_q3_K *)blk;
        uint32_t w0 = kq_word(b->scales), w1 = kq_word(b->scales + 4), w2 = kq_word(b->scales + 8);
        ks->d = pl_f16_to_f32_finite(b->d);
        sc[0] = (w0 & KQ_LOW4) | ((w2 << 4) & KQ_BITS45);
        sc[1] = (w1 & KQ_LOW4) | ((w2 << 2) & KQ_BITS45);
        sc[2] = ((w0 >> 4) & KQ_LOW4) | (w2 & KQ_BITS45);
        sc[3] = ((w1 >> 4) & KQ_LOW4) | ((w2 >> 2) & KQ_BITS45);
        /* minus 32 in every byte (0..63): the borrow stops at each byte's set top bit */
        for (int i = 0; i < 4; i++) sc[i] = ((sc[i] | 0x80808080u) - 0x20202020u) ^ 0x80808080u;
        memcpy(ks->sc, sc, 16);
        break;
    }
    case PL_TYPE_Q4_K: case PL_TYPE_Q5_K: {
        /* Q5_K begins like Q4_K. Sub-blocks 0..3: low 6 bits of bytes 0..3 (scale), 4..7
         * (min); 4..7: nibbles of bytes 8..11 and the top 2 bits of bytes 0..3 / 4..7. */
        const pl_block_q4_K *b = (const pl_block_q4_K *)blk;
        uint32_t w0 = kq_word(b->scales), w1 = kq_word(b->scales + 4), w2 = kq_word(b->scales + 8);
        ks->d = pl_f16_to_f32_finite(b->d);
        ks->dmin = pl_f16_to_f32_finite(b->dmin);
        sc[0] = w0 & 0x3f3f3f3fu;
        sc[1] = (w2 & KQ_LOW4) | ((w0 >> 2) & KQ_BITS45);
        mn[0] = w1 & 0x3f3f3f3fu;
        mn[1] = ((w2 >> 4) & KQ_LOW4) | ((w1 >> 2) & KQ_BITS45);
        memcpy(ks->sc, sc, 8);
        memcpy(ks->mn, mn, 8);
        break;
    }
    default: {
        const pl_block_q6_K *b = (const pl_block_q6_K *)blk;
        ks->d = pl_f16_to_f32_finite(b->d);
        memcpy(ks->sc, b->scales, 16);
    }
    }
}

/* Q4_K/Q5_K: dmin · Σ mn_j·s_j over a super-block's 8 activation blocks, added as a tree
 * so the products do not wait on one another. */
KQ_INLINE float kq_mins(const kq_scales *ks, const pl_act_block *xb) {
    float m[KQ_ACT_BLOCKS];
    for (int j = 0; j < KQ_ACT_BLOCKS; j++) m[j] = ks->mn[j] * xb[j].s;
    return ks->dmin * (((m[0] + m[1]) + (m[2] + m[3])) + ((m[4] + m[5]) + (m[6] + m[7])));
}

/* Where the quants of values 32j .. 32j+31 sit: every K format keeps them as bit fields of
 * 32-byte runs, value l being ((lo[l] >> lo_shift) & lo_mask) | ((hi[l] >> hi_shift) &
 * hi_mask) << hi_pos, minus offset (hi_mask 0: no high bits). */
typedef struct {
    const uint8_t *lo, *hi;
    int lo_shift, hi_shift, hi_pos, offset;
    uint8_t lo_mask, hi_mask;
} kq_fields;

KQ_INLINE kq_fields kq_fields_of(uint32_t type, const uint8_t *blk, int j) {
    int h = j >> 2, k = j & 3;   /* Q2_K, Q3_K, Q6_K: j = 4h + k, 2-bit fields at bit 2k */
    switch (type) {
    case PL_TYPE_Q2_K: {
        const uint8_t *qs = ((const pl_block_q2_K *)blk)->qs + 32 * h;
        return (kq_fields){qs, qs, 2 * k, 0, 0, 0, 3, 0};
    }
    case PL_TYPE_Q3_K: {
        const pl_block_q3_K *b = (const pl_block_q3_K *)blk;
        return (kq_fields){b->qs + 32 * h, b->hmask, 2 * k, j, 2, 4, 3, 1};
    }
    case PL_TYPE_Q4_K: {
        const uint8_t *qs = ((const pl_block_q4_K *)blk)->qs + 32 * (j >> 1);
        return (kq_fields){qs, qs, 4 * (j & 1), 0, 0, 0, 15, 0};
    }
    case PL_TYPE_Q5_K: {
        const pl_block_q5_K *b = (const pl_block_q5_K *)blk;
        return (kq_fields){b->qs + 32 * (j >> 1), b->qh, 4 * (j & 1), j, 4, 0, 15, 1};
    }
    default: {
        const pl_block_q6_K *b = (const pl_block_q6_K *)blk;
        return (kq_fields){b->ql + 64 * h + 32 * (k & 1), b->qh + 32 * h, 4 * (k >> 1), 2 * k, 4, 32, 15, 3};
    }
    }
}

static const pl_act_block *kq_act(const void *x, size_t x_row_bytes, int t, int sb) {
    return pl_act_row(x, x_row_bytes, t) + sb * KQ_ACT_BLOCKS;
}

/* --- scalar ------------------------------------------------------------------------- */

KQ_INLINE int kq_quant(const kq_fields *f, int l) {
    int lo = (f->lo[l] >> f->lo_shift) & f->lo_mask, hi = (f->hi[l] >> f->hi_shift) & f->hi_mask;
    return (lo | hi << f->hi_pos) - f->offset;
}

/* One super-block of a row against its 8 activation blocks: the block results into *sum,
 * the Q4_K/Q5_K mins into *msum (subtracted at the end of the row). */
KQ_INLINE void kq_superblock_scalar(uint32_t type, const uint8_t *blk, const pl_act_block *xb, float *sum,
                                    float *msum) {
    kq_scales ks;
    kq_decode_scales(type, blk, &ks);
    for (int j = 0; j < KQ_ACT_BLOCKS; j++) {
        kq_fields f = kq_fields_of(type, blk, j);
        int isum = 0, imin = 0;
        for (int l = 0; l < PL_QK; l++) {
            int s = kq_sub(type, j, l / 16);
            isum += ks.sc[s] * kq_quant(&f, l) * xb[j].q[l];
            if (kq_min16(type)) imin += ks.mn[s] * xb[j].q[l];
        }
        float part = (float)isum * (ks.d * xb[j].d);
        if (kq_min16(type)) part -= (float)imin * (ks.dmin * xb[j].d);
        *sum += part;
    }
    if (kq_wide(type)) *msum += kq_mins(&ks, xb);
}

void pl_kq_superblock(uint32_t type, const void *blk, const pl_act_block *xb, float *sum, float *msum) {
    switch (type) {   /* a constant type each, for the folding above */
    case PL_TYPE_Q2_K: kq_superblock_scalar(PL_TYPE_Q2_K, blk, xb, sum, msum); break;
    case PL_TYPE_Q3_K: kq_superblock_scalar(PL_TYPE_Q3_K, blk, xb, sum, msum); break;
    case PL_TYPE_Q4_K: kq_superblock_scalar(PL_TYPE_Q4_K, blk, xb, sum, msum); break;
    case PL_TYPE_Q5_K: kq_superblock_scalar(PL_TYPE_Q5_K, blk, xb, sum, msum); break;
    case PL_TYPE_Q6_K: kq_superblock_scalar(PL_TYPE_Q6_K, blk, xb, sum, msum); break;
    default: break;   /* not a K type: callers pass only these */
    }
}

KQ_INLINE void kq_row_scalar(uint32_t type, const void *row, const void *x, size_t x_row_bytes, int n_tok,
                             int cols, float *y, int ldy) {
    size_t block_bytes = kq_block_bytes(type);
    for (int t = 0; t < n_tok; t++) {
        float sum = 0, msum = 0;
        for (int sb = 0; sb < cols / PL_QK_K; sb++)
            kq_superblock_scalar(type, (const uint8_t *)row + sb * block_bytes, kq_act(x, x_row_bytes, t, sb), &sum,
                                 &msum);
        y[(size_t)t * ldy] = sum - msum;
    }
}

#define KQ_DEFINE_ROW(name, impl, TYPE)                                                        \
    static void name(const void *row, const void *x, size_t x_row_bytes, int n_tok, int cols, \
                     float *y, int ldy) {                                                      \
        impl(TYPE, row, x, x_row_bytes, n_tok, cols, y, ldy);                                  \
    }
/* One kernel per type for both versions, in PL_TYPE_Q2_K .. PL_TYPE_Q6_K order. */
#define KQ_DEFINE_ROWS(suffix, impl)                             \
    KQ_DEFINE_ROW(row_q2_K##suffix, impl, PL_TYPE_Q2_K)          \
    KQ_DEFINE_ROW(row_q3_K##suffix, impl, PL_TYPE_Q3_K)          \
    KQ_DEFINE_ROW(row_q4_K##suffix, impl, PL_TYPE_Q4_K)          \
    KQ_DEFINE_ROW(row_q5_K##suffix, impl, PL_TYPE_Q5_K)          \
    KQ_DEFINE_ROW(row_q6_K##suffix, impl, PL_TYPE_Q6_K)          \
    static const pl_row_kernel kq_rows##suffix[] = {row_q2_K##suffix, row_q3_K##suffix, \
                                                   row_q4_K##suffix, row_q5_K##suffix, \
                                                   row_q6_K##suffix};

static int kq_pick(uint32_t type, const pl_row_kernel *rows, pl_kernel *k) {
    if (type < PL_TYPE_Q2_K || type > PL_TYPE_Q6_K) return 0;
    *k = (pl_kernel){.row = rows[type - PL_TYPE_Q2_K], .act = PL_ACT_Q8};
    return 1;
}

KQ_DEFINE_ROWS(, kq_row_scalar)

int pl_kquant_kernel(uint32_t type, pl_kernel *k) { return kq_pick(type, kq_rows, k); }

/* --- SIMD128 ------------------------------------------------------------------------ */
#ifdef __wasm_simd128__

/* 16 quants (half 0 or 1 of an activation block's 32) as int8. The bytes are shifted in
 * 16-bit lanes (x86 has no 8-bit shifts; V8 masks after each emulated one): bits that
 * cross into a neighbouring byte land outside the field masks. */
KQ_INLINE v128_t kq_quants16(const kq_fields *f, int half) {
    v128_t lo = wasm_u16x8_shr(wasm_v128_load(f->lo + 16 * half), f->lo_shift);
    v128_t q = wasm_v128_and(lo, wasm_i8x16_splat((int8_t)f->lo_mask));
    if (f->hi_mask) {
        v128_t hi = wasm_i16x8_shl(wasm_u16x8_shr(wasm_v128_load(f->hi + 16 * half), f->hi_shift), f->hi_pos);
        q = wasm_v128_or(q, wasm_v128_and(hi, wasm_i8x16_splat((int8_t)(f->hi_mask << f->hi_pos))));
    }
    return f->offset ? wasm_i8x16_sub(q, wasm_i8x16_splat((int8_t)f->offset)) : q;
}

/* Activation block j of a super-block against nt activation rows (xb[i]: the row's 8
 * blocks for it, acc[i] its accumulator). The 32 weights are unpacked and multiplied by
 * their scales once (int16: |scale·q| <= 128·32), then serve all nt rows. */
KQ_INLINE void kq_block_simd(uint32_t type, const uint8_t *blk, const kq_scales *ks, int j,
                             const pl_act_block *const *xb, int nt, v128_t *acc) {
    kq_fields f = kq_fields_of(type, blk, j);
    v128_t q0 = kq_quants16(&f, 0), q1 = kq_quants16(&f, 1);
    v128_t s0 = wasm_i16x8_splat(ks->sc[kq_sub(type, j, 0)]);
    v128_t s1 = wasm_i16x8_splat(ks->sc[kq_sub(type, j, 1)]);
    v128_t w0 = wasm_i16x8_mul(wasm_i16x8_extend_low_i8x16(q0), s0);
    v128_t w1 = wasm_i16x8_mul(wasm_i16x8_extend_high_i8x16(q0), s0);
    v128_t w2 = wasm_i16x8_mul(wasm_i16x8_extend_low_i8x16(q1), s1);
    v128_t w3 = wasm_i16x8_mul(wasm_i16x8_extend_high_i8x16(q1), s1);
    for (int i = 0; i < nt; i++) {
        const pl_act_block *a = &xb[i][j];
        v128_t x0 = wasm_v128_load(a->q), x1 = wasm_v128_load(a->q + 8);
        v128_t x2 = wasm_v128_load(a->q + 16), x3 = wasm_v128_load(a->q + 24);
        v128_t isum = wasm_i32x4_add(
            wasm_i32x4_add(wasm_i32x4_dot_i16x8(w0, x0), wasm_i32x4_dot_i16x8(w1, x1)),
            wasm_i32x4_add(wasm_i32x4_dot_i16x8(w2, x2), wasm_i32x4_dot_i16x8(w3, x3)));
        v128_t part = wasm_f32x4_mul(wasm_f32x4_convert_i32x4(isum), wasm_f32x4_splat(ks->d * a->d));
        if (kq_min16(type)) {
            /* Σ mn·q_x over each 16-value half: the halves' two vectors added first */
            v128_t imin = wasm_i32x4_add(
                wasm_i32x4_dot_i16x8(wasm_i16x8_add(x0, x1), wasm_i16x8_splat(ks->mn[kq_sub(type, j, 0)])),
                wasm_i32x4_dot_i16x8(wasm_i16x8_add(x2, x3), wasm_i16x8_splat(ks->mn[kq_sub(type, j, 1)])));
            part = wasm_f32x4_sub(part, wasm_f32x4_mul(wasm_f32x4_convert_i32x4(imin),
                                                       wasm_f32x4_splat(ks->dmin * a->d)));
        }
        acc[i] = wasm_f32x4_add(acc[i], part);
    }
}

/* The loops stay rolled: fully unrolled (constant shifts) they ran slower in V8, too
 * large for its register allocation. */
KQ_INLINE void kq_superblock_simd(uint32_t type, const uint8_t *blk, const pl_act_block *const *xb, int nt,
                                  v128_t *acc, float *msum) {
    kq_scales ks;
    kq_decode_scales(type, blk, &ks);
    if (nt == 1) {
#pragma clang loop unroll(disable)
        for (int j = 0; j < KQ_ACT_BLOCKS; j += 2) {
            kq_block_simd(type, blk, &ks, j, xb, 1, &acc[0]);
            kq_block_simd(type, blk, &ks, j + 1, xb, 1, &acc[1]);
        }
    } else {
#pragma clang loop unroll(disable)
        for (int j = 0; j < KQ_ACT_BLOCKS; j++) kq_block_simd(type, blk, &ks, j, xb, nt, acc);
    }
    for (int i = 0; kq_wide(type) && i < nt; i++) msum[i] += kq_mins(&ks, xb[i]);
}

/* Prompt batches go four rows at a time, sharing each unpacked super-block; a lone row
 * alternates two accumulators over the blocks to keep two float add chains in flight. */
KQ_INLINE void kq_row_simd(uint32_t type, const void *row, const void *x, size_t x_row_bytes, int n_tok,
                           int cols, float *y, int ldy) {
    size_t block_bytes = kq_block_bytes(type);
    int n_sb = cols / PL_QK_K, t = 0;
    for (; t + 4 <= n_tok; t += 4) {
        v128_t acc[4];
        float msum[4] = {0, 0, 0, 0};
        for (int i = 0; i < 4; i++) acc[i] = wasm_f32x4_splat(0);
        for (int sb = 0; sb < n_sb; sb++) {
            const pl_act_block *xb[4];
            for (int i = 0; i < 4; i++) xb[i] = kq_act(x, x_row_bytes, t + i, sb);
            kq_superblock_simd(type, (const uint8_t *)row + sb * block_bytes, xb, 4, acc, msum);
        }
        for (int i = 0; i < 4; i++) y[(size_t)(t + i) * ldy] = pl_hsum_f32x4(acc[i]) - msum[i];
    }
    for (; t < n_tok; t++) {
        v128_t acc[2] = {wasm_f32x4_splat(0), wasm_f32x4_splat(0)};
        float msum = 0;
        for (int sb = 0; sb < n_sb; sb++) {
            const pl_act_block *xb = kq_act(x, x_row_bytes, t, sb);
            kq_superblock_simd(type, (const uint8_t *)row + sb * block_bytes, &xb, 1, acc, &msum);
        }
        y[(size_t)t * ldy] = pl_hsum_f32x4(wasm_f32x4_add(acc[0], acc[1])) - msum;
    }
}

KQ_DEFINE_ROWS(_simd, kq_row_simd)

/* Prompt tokens, 4 rows at a time: KQ_PANEL_SB super-blocks of the 4 rows go into a panel
 * once for all tokens -- per 32-value block the int16 weights with their sub-block
 * scales multiplied in (as kq_block_simd makes them), the rows' d, and for Q4_K/Q5_K the
 * min term -dmin·mn as the block's offset -- and token pairs run through it in
 * kernels_tile.h's 4 x 2 tile (pl_tile_pairs). Q2_K's mins belong to 16-value halves:
 * -dmin·mn of each half times the half's activation sum (pl_tile_half_mins). An odd last
 * token goes through the row kernel. */
#define KQ_PANEL_SB 4
#define KQ_PANEL_BLOCKS (KQ_PANEL_SB * KQ_ACT_BLOCKS)

typedef struct {
    int16_t w[KQ_PANEL_BLOCKS][4][PL_QK];    /* [block][row][value] */
    v128_t d[KQ_PANEL_BLOCKS];               /* the 4 rows' d */
    v128_t m[KQ_PANEL_BLOCKS];               /* Q4_K/Q5_K: -dmin·mn of the block */
    v128_t m_half[2][KQ_PANEL_BLOCKS];       /* Q2_K: -dmin·mn of each half */
} kq_panel;

KQ_INLINE void kq_panel_fill(uint32_t type, const uint8_t *rows, size_t row_bytes, int sb0, int n_sb, kq_panel *p) {
    size_t block_bytes = kq_block_bytes(type);
    for (int s = 0; s < n_sb; s++) {
        float d[4], m[KQ_ACT_BLOCKS][4], m_half[2][KQ_ACT_BLOCKS][4];
        for (int r = 0; r < 4; r++) {
            const uint8_t *blk = rows + r * row_bytes + (size_t)(sb0 + s) * block_bytes;
            kq_scales ks = {0};   /* dmin, mn: only where the type has them */
            kq_decode_scales(type, blk, &ks);
            d[r] = ks.d;
#pragma clang loop unroll(disable)
            for (int j = 0; j < KQ_ACT_BLOCKS; j++) {
                kq_fields f = kq_fields_of(type, blk, j);
                v128_t q0 = kq_quants16(&f, 0), q1 = kq_quants16(&f, 1);
                v128_t s0 = wasm_i16x8_splat(ks.sc[kq_sub(type, j, 0)]);
                v128_t s1 = wasm_i16x8_splat(ks.sc[kq_sub(type, j, 1)]);
                int16_t *w = p->w[s * KQ_ACT_BLOCKS + j][r];
                wasm_v128_store(w, wasm_i16x8_mul(wasm_i16x8_extend_low_i8x16(q0), s0));
                wasm_v128_store(w + 8, wasm_i16x8_mul(wasm_i16x8_extend_high_i8x16(q0), s0));
                wasm_v128_store(w + 16, wasm_i16x8_mul(wasm_i16x8_extend_low_i8x16(q1), s1));
                wasm_v128_store(w + 24, wasm_i16x8_mul(wasm_i16x8_extend_high_i8x16(q1), s1));
                m[j][r] = kq_wide(type) ? -ks.dmin * ks.mn[j] : 0;
                for (int h = 0; h < 2; h++) m_half[h][j][r] = kq_min16(type) ? -ks.dmin * ks.mn[kq_sub(type, j, h)] : 0;
            }
        }
        for (int j = 0; j < KQ_ACT_BLOCKS; j++) {
            p->d[s * KQ_ACT_BLOCKS + j] = wasm_v128_load(d);
            p->m[s * KQ_ACT_BLOCKS + j] = wasm_v128_load(m[j]);
            for (int h = 0; h < 2; h++) p->m_half[h][s * KQ_ACT_BLOCKS + j] = wasm_v128_load(m_half[h][j]);
        }
    }
}

KQ_INLINE void kq_rows4_simd(uint32_t type, const void *rows, size_t row_bytes, const void *x, size_t x_row_bytes,
                             int n_tok, int cols, float *y, int ldy) {
    const int n_sb = cols / PL_QK_K, paired = n_tok & ~1;
    kq_panel panel;
    for (int sb0 = 0; sb0 < n_sb; sb0 += KQ_PANEL_SB) {
        int n = n_sb - sb0 < KQ_PANEL_SB ? n_sb - sb0 : KQ_PANEL_SB, b0 = sb0 * KQ_ACT_BLOCKS;
        kq_panel_fill(type, rows, row_bytes, sb0, n, &panel);
        pl_tile_pairs(panel.w[0][0], panel.d, kq_wide(type) ? panel.m : NULL, n * KQ_ACT_BLOCKS, x, x_row_bytes, b0,
                      b0 > 0, paired, y, ldy);
        if (kq_min16(type))   /* added to the sums just made */
            pl_tile_half_mins(panel.m_half[0], panel.m_half[1], n * KQ_ACT_BLOCKS, x, x_row_bytes, b0, cols, paired, y, ldy);
    }
    pl_rows4_rest(kq_rows_simd[type - PL_TYPE_Q2_K], rows, row_bytes, x, x_row_bytes, paired, n_tok, cols, y, ldy);
}

#define KQ_DEFINE_ROWS4(name, TYPE)                                                                  \
    static void name(const void *rows, size_t row_bytes, const void *x, size_t x_row_bytes, int n_tok, \
                     int cols, float *y, int ldy) {                                                  \
        kq_rows4_simd(TYPE, rows, row_bytes, x, x_row_bytes, n_tok, cols, y, ldy);                   \
    }
KQ_DEFINE_ROWS4(rows4_q2_K_simd, PL_TYPE_Q2_K)
KQ_DEFINE_ROWS4(rows4_q3_K_simd, PL_TYPE_Q3_K)
KQ_DEFINE_ROWS4(rows4_q4_K_simd, PL_TYPE_Q4_K)
KQ_DEFINE_ROWS4(rows4_q5_K_simd, PL_TYPE_Q5_K)
KQ_DEFINE_ROWS4(rows4_q6_K_simd, PL_TYPE_Q6_K)
static const pl_rows4_kernel kq_rows4_simd_of[] = {rows4_q2_K_simd, rows4_q3_K_simd, rows4_q4_K_simd,
                                                   rows4_q5_K_simd, rows4_q6_K_simd};

int pl_kquant_kernel_simd(uint32_t type, pl_kernel *k) {
    if (!kq_pick(type, kq_rows_simd, k)) return 0;
    k->rows4 = kq_rows4_simd_of[type - PL_TYPE_Q2_K];
    return 1;
}

#else

int pl_kquant_kernel_simd(uint32_t type, pl_kernel *k) {
    (void)type;
    (void)k;
    return 0;
}

#endif
