/* wasm SIMD128 row kernels for float weights, and softmax and swiglu with a 4-lane exp.
 * Each lane accumulates every fourth product, so sums are reordered relative to the
 * scalar reference: results agree within float rounding (tests bound the difference), not
 * bit for bit. */
#include "kernels.h"

#ifdef __wasm_simd128__

#include <math.h>
#include <string.h>

#include "kernels_scalar.h"
#include "kernels_tile.h"

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

/* Four rows by the first n_tok & ~3 tokens (up to ROWS4_TOKENS at a time): the rows'
 * weights go as floats into a panel, ROWS4_COLS columns at a time, converted once for all
 * tokens, and token pairs run through it with the 8 sums of a 4 x 2 tile in registers (a
 * weight vector read once per 2 tokens, an activation vector once per 4 rows). Each
 * (row, token) sum gets its products in the order the row kernel's 4-token loop adds
 * them, carried across panels in acc, then the same lane sum and scalar tail: the same
 * bits. The other tokens go through the row kernel. */
#define ROWS4_TOKENS 64
#define ROWS4_COLS 256

/* *a += w * x for the 4 rows' weight vectors w[] and one token's x: a tile column. */
static inline void madd4(v128_t *a0, v128_t *a1, v128_t *a2, v128_t *a3, const v128_t w[4], v128_t x) {
    *a0 = wasm_f32x4_add(*a0, wasm_f32x4_mul(w[0], x));
    *a1 = wasm_f32x4_add(*a1, wasm_f32x4_mul(w[1], x));
    *a2 = wasm_f32x4_add(*a2, wasm_f32x4_mul(w[2], x));
    *a3 = wasm_f32x4_add(*a3, wasm_f32x4_mul(w[3], x));
}

#define DEFINE_SIMD_ROWS4_KERNEL(name, LOAD4, LOAD1, ROW)                                         \
    static void name(const void *rows, size_t row_bytes, const void *x, size_t x_row_bytes,     \
                     int n_tok, int cols, float *y, int ldy) {                                   \
        const size_t ldx = x_row_bytes / sizeof(float);                                          \
        const int cols4 = cols & ~3, n4 = n_tok & ~3;                                             \
        const uint8_t *row[4] = {rows, (const uint8_t *)rows + row_bytes,                        \
                                 (const uint8_t *)rows + 2 * row_bytes, (const uint8_t *)rows + 3 * row_bytes}; \
        float panel[4][ROWS4_COLS];                                                               \
        v128_t acc[ROWS4_TOKENS][4];                                                              \
        for (int t0 = 0; t0 < n4; t0 += ROWS4_TOKENS) {                                           \
            const int nt = n4 - t0 < ROWS4_TOKENS ? n4 - t0 : ROWS4_TOKENS;                       \
            const float *xt0 = (const float *)x + (size_t)t0 * ldx;                               \
            for (int t = 0; t < nt; t++)                                                          \
                for (int i = 0; i < 4; i++) acc[t][i] = wasm_f32x4_splat(0);                      \
            for (int k0 = 0; k0 < cols4; k0 += ROWS4_COLS) {                                      \
                const int nk = cols4 - k0 < ROWS4_COLS ? cols4 - k0 : ROWS4_COLS;                 \
                for (int i = 0; i < 4; i++)                                                       \
                    for (int k = 0; k < nk; k += 4) wasm_v128_store(panel[i] + k, LOAD4(row[i], k0 + k)); \
                for (int t = 0; t < nt; t += 2) {                                                 \
                    const float *xa = xt0 + (size_t)t * ldx + k0, *xb = xa + ldx;                 \
                    v128_t a0 = acc[t][0], a1 = acc[t][1], a2 = acc[t][2], a3 = acc[t][3];        \
                    v128_t b0 = acc[t + 1][0], b1 = acc[t + 1][1], b2 = acc[t + 1][2], b3 = acc[t + 1][3]; \
                    for (int k = 0; k < nk; k += 4) {                                             \
                        const v128_t w[4] = {wasm_v128_load(panel[0] + k), wasm_v128_load(panel[1] + k), \
                                             wasm_v128_load(panel[2] + k), wasm_v128_load(panel[3] + k)}; \
                        madd4(&a0, &a1, &a2, &a3, w, wasm_v128_load(xa + k));                     \
                        madd4(&b0, &b1, &b2, &b3, w, wasm_v128_load(xb + k));                     \
                    }                                                                             \
                    acc[t][0] = a0, acc[t][1] = a1, acc[t][2] = a2, acc[t][3] = a3;               \
                    acc[t + 1][0] = b0, acc[t + 1][1] = b1, acc[t + 1][2] = b2, acc[t + 1][3] = b3; \
                }                                                                                 \
            }                                                                                     \
            for (int t = 0; t < nt; t += 4) {                                                     \
                const float *x0 = xt0 + (size_t)t * ldx, *x1 = x0 + ldx, *x2 = x1 + ldx, *x3 = x2 + ldx; \
                for (int i = 0; i < 4; i++) {                                                     \
                    float s[4] = {pl_hsum_f32x4(acc[t][i]), pl_hsum_f32x4(acc[t + 1][i]),         \
                                  pl_hsum_f32x4(acc[t + 2][i]), pl_hsum_f32x4(acc[t + 3][i])};    \
                    pl_dot4_scalar(LOAD1, row[i], cols4, cols, x0, x1, x2, x3, s);                \
                    for (int j = 0; j < 4; j++) y[(size_t)(t0 + t + j) * ldy + i] = s[j];         \
                }                                                                                 \
            }                                                                                     \
        }                                                                                         \
        pl_rows4_rest(ROW, rows, row_bytes, x, x_row_bytes, n4, n_tok, cols, y, ldy);             \
    }

DEFINE_SIMD_ROWS4_KERNEL(rows4_f32_simd, load4_f32, pl_load_f32, row_f32_simd)
DEFINE_SIMD_ROWS4_KERNEL(rows4_f16_simd, load4_f16, pl_load_f16, row_f16_simd)
DEFINE_SIMD_ROWS4_KERNEL(rows4_bf16_simd, load4_bf16, pl_load_bf16, row_bf16_simd)

/* a += w·x and b += v·x for one vector x of a key, loaded once. */
static inline void madd2(v128_t *a, v128_t *b, v128_t w, v128_t v, const float *key) {
    v128_t x = wasm_v128_load(key);
    *a = wasm_f32x4_add(*a, wasm_f32x4_mul(w, x));
    *b = wasm_f32x4_add(*b, wasm_f32x4_mul(v, x));
}

/* Two query rows against 4 keys at a time, 8 sums in flight and each key vector loaded
 * once for both rows; every (row, key) sum in row_f32_simd's order, so the same bits.
 * The last n % 4 keys go through row_f32_simd itself. */
void pl_scores2_simd(const float *q0, const float *q1, const float *keys, size_t ldk, int n, int cols,
                     float *y0, float *y1) {
    int cols4 = cols & ~3, t = 0;
    for (; t + 4 <= n; t += 4) {
        const float *x0 = keys + t * ldk, *x1 = x0 + ldk, *x2 = x1 + ldk, *x3 = x2 + ldk;
        v128_t a0 = wasm_f32x4_splat(0), a1 = a0, a2 = a0, a3 = a0, b0 = a0, b1 = a0, b2 = a0, b3 = a0;
        for (int k = 0; k < cols4; k += 4) {
            v128_t w = wasm_v128_load(q0 + k), v = wasm_v128_load(q1 + k);
            madd2(&a0, &b0, w, v, x0 + k);
            madd2(&a1, &b1, w, v, x1 + k);
            madd2(&a2, &b2, w, v, x2 + k);
            madd2(&a3, &b3, w, v, x3 + k);
        }
        float s[4] = {pl_hsum_f32x4(a0), pl_hsum_f32x4(a1), pl_hsum_f32x4(a2), pl_hsum_f32x4(a3)};
        float r[4] = {pl_hsum_f32x4(b0), pl_hsum_f32x4(b1), pl_hsum_f32x4(b2), pl_hsum_f32x4(b3)};
        pl_dot4_scalar(pl_load_f32, q0, cols4, cols, x0, x1, x2, x3, s);
        pl_dot4_scalar(pl_load_f32, q1, cols4, cols, x0, x1, x2, x3, r);
        memcpy(y0 + t, s, sizeof s);
        memcpy(y1 + t, r, sizeof r);
    }
    row_f32_simd(q0, keys + t * ldk, ldk * sizeof(float), n - t, cols, y0 + t, 1);
    row_f32_simd(q1, keys + t * ldk, ldk * sizeof(float), n - t, cols, y1 + t, 1);
}

int pl_float_kernel_simd(uint32_t type, pl_kernel *k) {
    switch (type) {
    case PL_TYPE_F32: *k = (pl_kernel){.row = row_f32_simd, .act = PL_ACT_F32, .rows4 = rows4_f32_simd}; return 1;
    case PL_TYPE_F16: *k = (pl_kernel){.row = row_f16_simd, .act = PL_ACT_F32, .rows4 = rows4_f16_simd}; return 1;
    case PL_TYPE_BF16: *k = (pl_kernel){.row = row_bf16_simd, .act = PL_ACT_F32, .rows4 = rows4_bf16_simd}; return 1;
    default: return 0;
    }
}

/* The first k < 4 floats at p as a vector, the other lanes `pad`; and back. */
static inline v128_t load_tail(const float *p, int k, float pad) {
    float v[4] = {pad, pad, pad, pad};
    memcpy(v, p, (size_t)k * sizeof(float));
    return wasm_v128_load(v);
}

static inline void store_tail(float *p, int k, v128_t v) {
    float o[4];
    wasm_v128_store(o, v);
    memcpy(p, o, (size_t)k * sizeof(float));
}

void pl_softmax_simd(float *x, int n) {
    int n4 = n & ~3, k = n - n4, i;
    v128_t vmax = wasm_f32x4_splat(-INFINITY), sum = wasm_f32x4_splat(0);
    for (i = 0; i < n4; i += 4) vmax = wasm_f32x4_pmax(vmax, wasm_v128_load(x + i));
    if (k) vmax = wasm_f32x4_pmax(vmax, load_tail(x + n4, k, -INFINITY));
    v128_t max = wasm_f32x4_splat(pl_hmax_f32x4(vmax));
    for (i = 0; i < n4; i += 4) {
        v128_t e = pl_exp_f32x4(wasm_f32x4_sub(wasm_v128_load(x + i), max));
        wasm_v128_store(x + i, e);
        sum = wasm_f32x4_add(sum, e);
    }
    if (k) {   /* the padding lanes' e^-inf = 0 add nothing */
        v128_t e = pl_exp_f32x4(wasm_f32x4_sub(load_tail(x + n4, k, -INFINITY), max));
        store_tail(x + n4, k, e);
        sum = wasm_f32x4_add(sum, e);
    }
    v128_t total = wasm_f32x4_splat(pl_hsum_f32x4(sum));
    for (i = 0; i < n4; i += 4) wasm_v128_store(x + i, wasm_f32x4_div(wasm_v128_load(x + i), total));
    if (k) store_tail(x + n4, k, wasm_f32x4_div(load_tail(x + n4, k, 0), total));
}

/* silu(g) * u = g / (1 + e^-g) * u; 0 below g = -88, where the 4-lane exp stops at e^88
 * (g / (1 + e^88) would be -6e-33 at g = -1e6; silu's true value is under 1e-36 there). */
static inline v128_t swiglu4(v128_t g, v128_t u) {
    v128_t one = wasm_f32x4_splat(1.0f);
    v128_t silu = wasm_f32x4_div(g, wasm_f32x4_add(one, pl_exp_f32x4(wasm_f32x4_neg(g))));
    return wasm_f32x4_mul(wasm_v128_andnot(silu, wasm_f32x4_lt(g, wasm_f32x4_splat(-88.0f))), u);
}

void pl_swiglu_simd(float *gate, const float *up, int n) {
    int n4 = n & ~3, k = n - n4;
    for (int i = 0; i < n4; i += 4)
        wasm_v128_store(gate + i, swiglu4(wasm_v128_load(gate + i), wasm_v128_load(up + i)));
    if (k) store_tail(gate + n4, k, swiglu4(load_tail(gate + n4, k, 0), load_tail(up + n4, k, 0)));
}

int pl_simd_available(void) { return 1; }

#else

int pl_float_kernel_simd(uint32_t type, pl_kernel *k) {
    (void)type;
    (void)k;
    return 0;
}

void pl_scores2_simd(const float *q0, const float *q1, const float *keys, size_t ldk, int n, int cols,
                     float *y0, float *y1) {
    pl_kernel f32;
    pl_float_kernel(PL_TYPE_F32, &f32);
    f32.row(q0, keys, ldk * sizeof(float), n, cols, y0, 1);
    f32.row(q1, keys, ldk * sizeof(float), n, cols, y1, 1);
}
void pl_softmax_simd(float *x, int n) { pl_softmax(x, n); }
void pl_swiglu_simd(float *gate, const float *up, int n) { pl_swiglu(gate, up, n); }

int pl_simd_available(void) { return 0; }

#endif
