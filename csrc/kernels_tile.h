/* The 4 x 2 tile the prompt-batch kernels share (kernels_x4.c, kernels_quant.c,
 * kernels_kquant.c): one 32-value block of 4 weight rows, unpacked to int16 in a panel
 * ([row][32], rows 32 values apart), against the blocks of two tokens; and the loop of
 * token pairs over a panel of such blocks. Per 8 values, 2
 * activation loads and 4 weight loads feed 8 dot products; the 4 rows' integer sums of
 * each token fold into one vector (pl_transpose_sum_i32x4), scaled by the rows' d4 times
 * the token's dx and added with one multiply and one add. The 4 steps run as a loop, not
 * unrolled: unrolled, V8 hoists the block's weight loads ahead of their use and spills. */
#ifndef PL_KERNELS_TILE_H
#define PL_KERNELS_TILE_H

#include "kernels.h"
#include "simd.h"

static inline void pl_tile_block(const int16_t *w, v128_t d4, const pl_act_block *xa, const pl_act_block *xb,
                                 v128_t *fa, v128_t *fb) {
    v128_t a0 = wasm_v128_load(xa->q), a1 = wasm_v128_load(xb->q), v;
    v = wasm_v128_load(w);      v128_t s00 = wasm_i32x4_dot_i16x8(v, a0), s01 = wasm_i32x4_dot_i16x8(v, a1);
    v = wasm_v128_load(w + 32); v128_t s10 = wasm_i32x4_dot_i16x8(v, a0), s11 = wasm_i32x4_dot_i16x8(v, a1);
    v = wasm_v128_load(w + 64); v128_t s20 = wasm_i32x4_dot_i16x8(v, a0), s21 = wasm_i32x4_dot_i16x8(v, a1);
    v = wasm_v128_load(w + 96); v128_t s30 = wasm_i32x4_dot_i16x8(v, a0), s31 = wasm_i32x4_dot_i16x8(v, a1);
#pragma clang loop unroll(disable)
    for (int k = 8; k < 32; k += 8) {
        a0 = wasm_v128_load(xa->q + k);
        a1 = wasm_v128_load(xb->q + k);
        v = wasm_v128_load(w + k);
        s00 = wasm_i32x4_add(s00, wasm_i32x4_dot_i16x8(v, a0));
        s01 = wasm_i32x4_add(s01, wasm_i32x4_dot_i16x8(v, a1));
        v = wasm_v128_load(w + 32 + k);
        s10 = wasm_i32x4_add(s10, wasm_i32x4_dot_i16x8(v, a0));
        s11 = wasm_i32x4_add(s11, wasm_i32x4_dot_i16x8(v, a1));
        v = wasm_v128_load(w + 64 + k);
        s20 = wasm_i32x4_add(s20, wasm_i32x4_dot_i16x8(v, a0));
        s21 = wasm_i32x4_add(s21, wasm_i32x4_dot_i16x8(v, a1));
        v = wasm_v128_load(w + 96 + k);
        s30 = wasm_i32x4_add(s30, wasm_i32x4_dot_i16x8(v, a0));
        s31 = wasm_i32x4_add(s31, wasm_i32x4_dot_i16x8(v, a1));
    }
    v128_t ia = pl_transpose_sum_i32x4(s00, s10, s20, s30), ib = pl_transpose_sum_i32x4(s01, s11, s21, s31);
    *fa = wasm_f32x4_add(*fa, wasm_f32x4_mul(wasm_f32x4_convert_i32x4(ia), wasm_f32x4_mul(d4, wasm_f32x4_splat(xa->d))));
    *fb = wasm_f32x4_add(*fb, wasm_f32x4_mul(wasm_f32x4_convert_i32x4(ib), wasm_f32x4_mul(d4, wasm_f32x4_splat(xb->d))));
}

/* Token pairs 0, 1 .. paired-2, paired-1 through nb blocks of a panel ([block][row][32]
 * int16) whose 4 rows' scales are d4[b] and, for weights with an offset (w = d·q + m),
 * m4[b] (m·s added per block and token; NULL: none), against activation blocks b0.. of
 * each token. The 4 rows' sums of token t are at y[t * ldy]: added to what is there
 * with carry (the panels before), else written. */
static inline void pl_tile_pairs(const int16_t *panel, const v128_t *d4, const v128_t *m4, int nb, const void *x,
                                 size_t x_row_bytes, int b0, int carry, int paired, float *y, int ldy) {
    for (int t = 0; t < paired; t += 2) {
        const pl_act_block *xa = pl_act_row(x, x_row_bytes, t) + b0, *xb = pl_act_row(x, x_row_bytes, t + 1) + b0;
        float *ya = y + (size_t)t * ldy, *yb = ya + ldy;
        v128_t fa = carry ? wasm_v128_load(ya) : wasm_f32x4_splat(0);
        v128_t fb = carry ? wasm_v128_load(yb) : wasm_f32x4_splat(0);
        for (int b = 0; b < nb; b++) {
            pl_tile_block(panel + (size_t)b * 4 * 32, d4[b], &xa[b], &xb[b], &fa, &fb);
            if (m4) {
                fa = wasm_f32x4_add(fa, wasm_f32x4_mul(m4[b], wasm_f32x4_splat(xa[b].s)));
                fb = wasm_f32x4_add(fb, wasm_f32x4_mul(m4[b], wasm_f32x4_splat(xb[b].s)));
            }
        }
        wasm_v128_store(ya, fa);
        wasm_v128_store(yb, fb);
    }
}

/* For weights with an offset per 16-value half (Q2_K's mins, w = d·q + m): token pairs'
 * blocks b0 .. b0+nb-1 (of rows of cols values), each half's m4 (mlo, mhi) times the
 * half's activation sum added to the 4 rows' sums in y. */
static inline void pl_tile_half_mins(const v128_t *mlo, const v128_t *mhi, int nb, const void *x, size_t x_row_bytes,
                                     int b0, int cols, int paired, float *y, int ldy) {
    for (int t = 0; t < paired; t++) {
        const pl_act_mid *xm = pl_act_mids(pl_act_row(x, x_row_bytes, t), cols) + b0;
        v128_t acc = wasm_v128_load(y + (size_t)t * ldy);
        for (int b = 0; b < nb; b++)
            acc = wasm_f32x4_add(acc, wasm_f32x4_add(wasm_f32x4_mul(mlo[b], wasm_f32x4_splat(xm[b].s_lo)),
                                                     wasm_f32x4_mul(mhi[b], wasm_f32x4_splat(xm[b].s_hi))));
        wasm_v128_store(y + (size_t)t * ldy, acc);
    }
}

/* Tokens t0 .. n_tok-1 of 4 rows (row_bytes apart) through their row kernel: what a 4-row
 * kernel leaves to it (an odd last token, or the last n_tok % 4). */
static inline void pl_rows4_rest(pl_row_kernel row, const void *rows, size_t row_bytes, const void *x,
                                 size_t x_row_bytes, int t0, int n_tok, int cols, float *y, int ldy) {
    for (int i = 0; i < 4 && t0 < n_tok; i++)
        row((const uint8_t *)rows + i * row_bytes, (const uint8_t *)x + (size_t)t0 * x_row_bytes, x_row_bytes,
            n_tok - t0, cols, y + (size_t)t0 * ldy + i, ldy);
}

#endif
