/* Kernels against straightforward double-precision math: matmul for every supported
 * weight type, batch sizes and column counts that hit every tail path, 1 vs 3 threads;
 * in SIMD builds the SIMD128 kernels too, and against the scalar ones. */
#include <float.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "../../csrc/kernels.h"
#include "../../csrc/quant.h"
#include "../../csrc/util.h"
#include "check.h"

#ifdef __wasm_simd128__
#include "../../csrc/simd.h"
#endif


/* IEEE half of a float (round to nearest even; test values are normal or zero). */
static uint16_t to_f16(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    uint32_t sign = (u >> 16) & 0x8000, exp = (u >> 23) & 0xff, mant = u & 0x7fffff;
    if (exp < 103) return (uint16_t)sign;                      /* flush tiny values */
    if (exp < 113) {                                           /* subnormal half */
        mant |= 0x800000;
        uint32_t shift = 126 - exp, h = mant >> shift, rem = mant & ((1u << shift) - 1), halfway = 1u << (shift - 1);
        if (rem > halfway || (rem == halfway && (h & 1))) h++;
        return (uint16_t)(sign | h);
    }
    uint32_t h = ((exp - 112) << 10) | (mant >> 13), rem = mant & 0x1fff;
    if (rem > 0x1000 || (rem == 0x1000 && (h & 1))) h++;
    return (uint16_t)(sign | h);
}

static uint16_t to_bf16(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    return (uint16_t)((u + 0x7fff + ((u >> 16) & 1)) >> 16);
}

static void check_f16_conversion(void) {
    CHECK(pl_f16_to_f32(0x3c00) == 1.0f);
    CHECK(pl_f16_to_f32(0xc000) == -2.0f);
    CHECK(pl_f16_to_f32(0x7bff) == 65504.0f);
    CHECK(pl_f16_to_f32(0x0001) == 0x1p-24f);                  /* smallest subnormal */
    CHECK(pl_f16_to_f32(0x03ff) == 1023 * 0x1p-24f);           /* largest subnormal */
    CHECK(pl_f16_to_f32(0x8000) == 0.0f);
    CHECK(pl_bf16_to_f32(0x3f80) == 1.0f);
    CHECK(pl_bf16_to_f32(to_bf16(3.140625f)) == 3.140625f);
    for (uint32_t h = 0; h < 0x10000; h++)                       /* every finite half, both ways */
        if ((h & 0x7c00) != 0x7c00) CHECK(pl_f16_to_f32_finite((uint16_t)h) == pl_f16_to_f32((uint16_t)h));
    for (int i = 0; i < 1000; i++) {                           /* round trip of halves */
        uint16_t h = (uint16_t)(check_rng % 0x7c00);
        frand();
        CHECK_EQ_INT(to_f16(pl_f16_to_f32(h)), h);
    }
}

/* y = x · Wᵀ in double from the weights as decoded, and Σ|w·x| per output for the
 * error bound of float summation in any order: |error| <= cols · 2^-24 · Σ|w·x|
 * (Higham, Accuracy and Stability of Numerical Algorithms, §4.2). */
static void reference_matmul(double *y, double *bound, const float *w, const float *x, int n_tok, int rows, int cols) {
    for (int t = 0; t < n_tok; t++)
        for (int r = 0; r < rows; r++) {
            double s = 0, a = 0;
            for (int k = 0; k < cols; k++) {
                double p = (double)w[(size_t)r * cols + k] * x[(size_t)t * cols + k];
                s += p;
                a += fabs(p);
            }
            y[(size_t)t * rows + r] = s;
            bound[(size_t)t * rows + r] = cols * 0x1p-24 * a * 1.01 + 1e-30;
        }
}

static void check_matmul(uint32_t type, int n_tok, int rows, int cols, pl_compute *cx1, pl_compute *cx3) {
    size_t n_w = (size_t)rows * cols;
    float *w = malloc(n_w * sizeof(float)), *x = malloc((size_t)n_tok * cols * sizeof(float));
    uint16_t *w16 = malloc(n_w * sizeof(uint16_t));
    for (size_t i = 0; i < n_w; i++) {
        float v = frand() * (i % 7 ? 1.0f : 1e-6f);   /* some subnormal halves too */
        if (type == PL_TYPE_F16) { w16[i] = to_f16(v); v = pl_f16_to_f32(w16[i]); }
        if (type == PL_TYPE_BF16) { w16[i] = to_bf16(v); v = pl_bf16_to_f32(w16[i]); }
        w[i] = v;
    }
    for (int i = 0; i < n_tok * cols; i++) x[i] = frand();
    pl_tensor t = {.name = "w", .name_len = 1, .type = type, .n_dims = 2, .ne = {cols, rows, 1, 1},
                   .data = type == PL_TYPE_F32 ? (const void *)w : (const void *)w16};
    size_t n_y = (size_t)n_tok * rows;
    double *ref = malloc(n_y * sizeof(double)), *bound = malloc(n_y * sizeof(double));
    float *y1 = malloc(n_y * sizeof(float)), *y3 = malloc(n_y * sizeof(float));
    float *y_scalar = malloc(n_y * sizeof(float));
    reference_matmul(ref, bound, w, x, n_tok, rows, cols);

    for (int simd = 0; simd <= pl_simd_available(); simd++) {
        cx1->simd = cx3->simd = simd;
        pl_matmul(y1, &t, x, n_tok, cx1);
        pl_matmul(y3, &t, x, n_tok, cx3);
        int bad = 0;
        for (size_t i = 0; i < n_y; i++) {
            if (fabs(y1[i] - ref[i]) > bound[i]) bad++;
            /* SIMD vs scalar: both within the bound of the exact value, so within twice it */
            if (simd && fabs(y1[i] - y_scalar[i]) > 2 * bound[i]) bad++;
        }
        if (bad)
            fprintf(stderr, "type %u simd %d n_tok %d rows %d cols %d: %d outputs out of bound\n",
                    type, simd, n_tok, rows, cols, bad);
        CHECK_EQ_INT(bad, 0);
        /* threads split rows only: each dot product is summed the same way */
        CHECK(memcmp(y1, y3, n_y * sizeof(float)) == 0);
        /* the 4-row kernel prompt tokens go through gives the row kernel's bits */
        pl_kernel k;
        pl_kernel_for(type, simd, &k);
        for (int r = 0; r < rows; r++)
            k.row((const uint8_t *)t.data + (size_t)r * pl_row_bytes(type, cols), x, (size_t)cols * sizeof(float),
                  n_tok, cols, y3 + r, rows);
        CHECK(memcmp(y1, y3, n_y * sizeof(float)) == 0);
        if (!simd) memcpy(y_scalar, y1, n_y * sizeof(float));
    }
    free(ref); free(bound); free(y_scalar); free(y1); free(y3);
    free(w); free(x); free(w16);
}

static void check_softmax_rmsnorm(void) {
    float x[5] = {1, 2, 3, 4, 1000};
    pl_softmax(x, 4);  /* exp(i) / sum */
    double sum = exp(1) + exp(2) + exp(3) + exp(4);
    for (int i = 0; i < 4; i++) CHECK_NEAR(x[i], exp(i + 1) / sum, 1e-7);
    CHECK(x[4] == 1000); /* past n: untouched */
    float big[3] = {1000, 1000, 999};  /* must not overflow */
    pl_softmax(big, 3);
    CHECK_NEAR(big[0], 1 / (2 + exp(-1)), 1e-6);

    float v[4] = {1, -2, 3, -4}, w[4] = {1, 0.5f, 2, 1}, o[4];
    pl_rmsnorm(o, v, w, 4, 1e-5f);
    double rms = sqrt((1 + 4 + 9 + 16) / 4.0 + 1e-5);
    for (int i = 0; i < 4; i++) CHECK_NEAR(o[i], w[i] * v[i] / rms, 1e-6);
}

#ifdef __wasm_simd128__
/* Error of a float against the exact value, in units in the last place of the latter. */
static double ulps(float got, double exact) {
    int e;
    frexp(exact, &e);   /* exact = m·2^e, 0.5 <= m < 1: the float ulp there is 2^(e - 24) */
    return fabs(got - exact) / ldexp(1.0, e - 24);
}

static float exp_simd(float x) {
    return wasm_f32x4_extract_lane(pl_exp_f32x4(wasm_f32x4_splat(x)), 0);
}

/* The 4-lane exp against exp in double over its whole range, lane by lane, and its ends. */
static void check_exp_simd(void) {
    double worst = 0;
    for (int i = 0; i < 700000; i += 4) {   /* -87 <= x < 88 */
        float x[4];
        for (int l = 0; l < 4; l++) x[l] = -87.0f + 175.0f * (float)(i + l) / 700000;
        float y[4];
        wasm_v128_store(y, pl_exp_f32x4(wasm_v128_load(x)));
        for (int l = 0; l < 4; l++) {
            double u = ulps(y[l], exp((double)x[l]));
            if (u > worst) worst = u;
        }
    }
    for (int i = 0; i < 20000; i++) {   /* small arguments, where e^x is near 1 */
        float x = frand() * 1e-3f;
        double u = ulps(exp_simd(x), exp((double)x));
        if (u > worst) worst = u;
    }
    printf("exp_f32x4: worst error %.2f ulp\n", worst);
    CHECK(worst <= 2.0);
    CHECK(exp_simd(0.0f) == 1.0f);
    CHECK(exp_simd(-87.5f) == 0.0f && exp_simd(-INFINITY) == 0.0f);
    CHECK(exp_simd(100.0f) == exp_simd(88.0f) && exp_simd(INFINITY) == exp_simd(88.0f));
    CHECK(isnan(exp_simd(NAN)));
}
#endif

/* The SIMD softmax and swiglu (the scalar ones in a build without SIMD) against the
 * formulas in double, every length from 1 to 13 (tails) and a long one; values past n
 * stay untouched. */
static void check_softmax_swiglu_simd(void) {
    enum { N = 300 };
    float x[N + 1], g[N + 1], u[N + 1];
    for (int n = 1; n <= N; n = n == 13 ? N : n + 1) {
        for (int i = 0; i <= N; i++) {
            x[i] = 20 * frand();
            g[i] = i % 7 == 3 ? 200 * frand() : 8 * frand();   /* some far out: e^-g overflows */
            u[i] = frand();
        }
        x[n] = g[n] = 12345;
        double sum = 0, max = -INFINITY, err_sm = 0, err_sw = 0;
        for (int i = 0; i < n; i++) max = x[i] > max ? x[i] : max;
        for (int i = 0; i < n; i++) sum += exp((float)(x[i] - (float)max));
        double sm[N], sw[N];
        for (int i = 0; i < n; i++) {
            sm[i] = exp((float)(x[i] - (float)max)) / sum;   /* the float difference is the input */
            sw[i] = g[i] / (1 + exp(-(double)g[i])) * u[i];
        }
        pl_softmax_simd(x, n);
        pl_swiglu_simd(g, u, n);
        for (int i = 0; i < n; i++) {
            err_sm = fmax(err_sm, fabs(x[i] - sm[i]) / (sm[i] + 1e-30));
            err_sw = fmax(err_sw, fabs(g[i] - sw[i]) / (fabs(sw[i]) + 1e-30));
        }
        if (err_sm > 1e-6 || err_sw > 1e-6) fprintf(stderr, "n %d: softmax %g swiglu %g\n", n, err_sm, err_sw);
        CHECK(err_sm <= 1e-6 && err_sw <= 1e-6);
        CHECK(x[n] == 12345 && g[n] == 12345);
    }
}

/* pl_scores2_simd: for each of its two rows, the F32 row kernel's bits (the SIMD one in
 * SIMD builds), over key counts around its 4-key steps and head sizes with column tails;
 * keys a stride apart (wider than the head: the kernel must not assume the cache's
 * contiguous keys). */
static void check_scores2(void) {
    enum { MAX_KEYS = 11, MAX_COLS = 67, STRIDE = 80 };
    static float q[2][MAX_COLS], keys[MAX_KEYS * STRIDE], y[2][MAX_KEYS + 1], ref[2][MAX_KEYS + 1];
    pl_kernel f32;
    pl_kernel_for(PL_TYPE_F32, 1, &f32);
    for (int i = 0; i < MAX_COLS; i++) q[0][i] = frand(), q[1][i] = frand();
    for (int i = 0; i < MAX_KEYS * STRIDE; i++) keys[i] = frand();
    const int cols[] = {3, 8, 64, 67};
    int same = 1;
    for (int ci = 0; ci < 4; ci++)
        for (int n = 0; n <= MAX_KEYS; n++) {
            y[0][n] = y[1][n] = 12345;   /* past the last key: untouched */
            pl_scores2_simd(q[0], q[1], keys, STRIDE, n, cols[ci], y[0], y[1]);
            for (int r = 0; r < 2; r++) {
                f32.row(q[r], keys, STRIDE * sizeof(float), n, cols[ci], ref[r], 1);
                same &= memcmp(y[r], ref[r], (size_t)n * sizeof(float)) == 0 && y[r][n] == 12345;
            }
        }
    CHECK(same);
}

/* Rotary embedding against the rotation written out in double: pair (a, b) of frequency
 * j at position p turns by the angle p·scale·base^(-2j/dims); values past dims stay. */
static void check_rope(int rope_type, int dims, float base, float scale) {
    enum { HEADS = 3, HEAD_DIM = 16 };
    float vec[HEADS * HEAD_DIM], orig[HEADS * HEAD_DIM], c[HEAD_DIM / 2], sn[HEAD_DIM / 2];
    for (int pos = 0; pos < 2000; pos += 333) {
        for (int i = 0; i < HEADS * HEAD_DIM; i++) orig[i] = vec[i] = frand();
        pl_rope_table(c, sn, pos, dims, base, scale, NULL);
        pl_rope_apply(vec, HEADS, HEAD_DIM, dims, rope_type, c, sn);
        for (int h = 0; h < HEADS; h++) {
            const float *o = orig + h * HEAD_DIM, *v = vec + h * HEAD_DIM;
            for (int j = 0; j < dims / 2; j++) {
                int a = rope_type == PL_ROPE_NEOX ? j : 2 * j, b = rope_type == PL_ROPE_NEOX ? j + dims / 2 : 2 * j + 1;
                double angle = pos * (double)scale * pow(base, -2.0 * j / dims);
                /* float angles lose ~pos·2^-24 radians; cos/sin error follows */
                double tol = 1e-5 + pos * 2e-7;
                CHECK_NEAR(v[a], o[a] * cos(angle) - o[b] * sin(angle), tol);
                CHECK_NEAR(v[b], o[a] * sin(angle) + o[b] * cos(angle), tol);
            }
            for (int i = dims; i < HEAD_DIM; i++) CHECK(v[i] == o[i]);
        }
    }
}

/* Activation quantization (SIMD in SIMD builds) against ggml's Q8_0 rule written out here:
 * d = max|x| / 127, q = x / d rounded half to even (lrint), sum = Σq, s = d·sum, and
 * pl_act_mid's middle quants, their sum and d·Σq of each 16-value half; 1/d
 * clamped to FLT_MAX where it overflows. Blocks with exact ties (q·d + d/2 for small q),
 * zeros, a NaN, +-0, huge and tiny values, values so tiny that 1/d overflows (zeros among
 * them), and infinities (every quant 0). */
static void check_quantize_activations(void) {
    enum { BLOCKS = 48 };
    float x[BLOCKS * 32];
    for (int b = 0; b < BLOCKS; b++)
        for (int i = 0; i < 32; i++) {
            float v = frand();
            switch (b % 8) {
            case 1: v = i == 7 ? 127.0f : (float)(i % 9 - 4) + 0.5f; break;   /* d = 1: .5 ties */
            case 2: v = 0.0f; break;
            case 3: v = i % 2 ? -0.0f : 0.0f; break;
            case 4: v *= 1e30f; break;
            case 5: v = b < 40 ? v * 1e-30f : i == 3 ? INFINITY : i == 9 ? -INFINITY : v; break;
            case 6: if (i == 5) v = NAN; break;
            case 7: if (b >= 40) v = i % 3 ? v * 1e-38f : 0.0f; break;   /* 1/d overflows */
            }
            x[b * 32 + i] = v;
        }
    enum { COLS = BLOCKS / 2 * 32 };   /* two rows */
    void *out_rows = malloc(pl_matmul_workspace(2, COLS));
    pl_quantize_activations(x, 2, COLS, out_rows);
    int bad = 0;
    for (int b = 0; b < BLOCKS; b++) {
        const pl_act_block *row = pl_act_row(out_rows, pl_act_row_bytes(COLS), b / (BLOCKS / 2));
        const pl_act_block *blk = &row[b % (BLOCKS / 2)];
        const pl_act_mid *mid_b = &pl_act_mids(row, COLS)[b % (BLOCKS / 2)];
        const float *xb = x + b * 32;
        float amax = 0;
        for (int i = 0; i < 32; i++)
            if (fabsf(xb[i]) > amax) amax = fabsf(xb[i]);   /* NaN never compares greater */
        float d = amax / 127, id = d ? 1 / d : 0;
        if (id > FLT_MAX) id = FLT_MAX;
        int sum = 0, mid = 0, half[2] = {0, 0}, same = blk->d == d;
        for (int i = 0; i < 32; i++) {
            int q = d > FLT_MAX ? 0 : (int)lrintf(xb[i] * id);   /* an infinity: zeros */
            sum += q;
            half[i / 16] += q;
            mid += i >= 8 && i < 24 ? q : 0;
            same &= blk->q[i] == q;
            if (i >= 8 && i < 24) same &= mid_b->q[i - 8] == q * (i < 16 ? 16 : 256);
        }
        float s = d * (float)sum;   /* NaN for an infinity's block (inf·0) */
        same &= blk->sum == sum && (blk->s == s || (isnan(blk->s) && isnan(s))) && mid_b->sum_mid == mid;
        for (int h = 0; h < 2; h++) {
            float sh = d * (float)half[h], got = h ? mid_b->s_hi : mid_b->s_lo;
            same &= got == sh || (isnan(got) && isnan(sh));
        }
        bad += !same && b % 8 != 6;   /* a NaN's own quant is unspecified; its block's d is */
        bad += b % 8 == 6 && blk->d != d;
    }
    CHECK_EQ_INT(bad, 0);
    free(out_rows);
}

/* Bytes of a K block's packed sub-block scales (none for other types). */
static size_t k_scales_at(uint32_t type, size_t *len) {
    switch (type) {
    case PL_TYPE_Q2_K: *len = 16; return offsetof(pl_block_q2_K, scales);
    case PL_TYPE_Q3_K: *len = 12; return offsetof(pl_block_q3_K, scales);
    case PL_TYPE_Q4_K: *len = 12; return offsetof(pl_block_q4_K, scales);
    case PL_TYPE_Q5_K: *len = 12; return offsetof(pl_block_q5_K, scales);
    case PL_TYPE_Q6_K: *len = 16; return offsetof(pl_block_q6_K, scales);
    default: *len = 0; return 0;
    }
}

/* |m| of weight block b for the types with an offset (w = d·q + m), else 0. */
static double block_offset(uint32_t type, const uint8_t *row, int b) {
    if (type == PL_TYPE_Q4_1) return fabs(pl_f16_to_f32(((const pl_block_q4_1 *)row)[b].m));
    if (type == PL_TYPE_Q5_1) return fabs(pl_f16_to_f32(((const pl_block_q5_1 *)row)[b].m));
    return 0;
}

/* Quantized weights against dequantize-then-double math. Kernels that quantize the
 * activations to int8 (pl_kernel.act) are held to two bounds: against the dequantized
 * activations they are exact per block up to float rounding, (blocks + 7) · 2^-24 · T
 * with T = Σ|w·x| (for offset types Σ(|w - m| + |m|)·|x|: d·q·x and m·x are rounded
 * before they cancel). A term is rounded at most 2 times when formed, once when m·s joins
 * it, blocks - 1 times in its accumulator, 3 times in the SIMD horizontal sum, and the
 * reference rounds d·q + m and the dequantized activations once each. Against the float
 * activations they add at most Σ|w_k| · |x_k - dequantized x_k|. Float-activation kernels
 * get the plain float bound. extreme: block 1 of every other token's activations is all
 * zeros (scale d = 0), and K sub-block scales (and mins) are overwritten with all-ones /
 * all-zero / 0x80 / 0x7f bytes, the extremes of every packing (63, 15, -32, 31, -128,
 * 127, 0), by row. */
static void check_quant_matmul(uint32_t type, int n_tok, int rows, int cols, int extreme, pl_compute *cx1,
                               pl_compute *cx3) {
    size_t row_bytes = pl_row_bytes(type, cols), n_y = (size_t)n_tok * rows;
    uint8_t *wq = malloc(row_bytes * rows);
    float *w = malloc((size_t)rows * cols * sizeof(float)), *x = malloc((size_t)n_tok * cols * sizeof(float));
    float *xq = malloc((size_t)n_tok * cols * sizeof(float)), *y1 = malloc(n_y * sizeof(float));
    float *y3 = malloc(n_y * sizeof(float)), *y_scalar = malloc(n_y * sizeof(float));
    void *xblocks = malloc(pl_matmul_workspace(n_tok, cols));
    for (int r = 0; r < rows; r++) {
        float *wr = w + (size_t)r * cols;
        for (int k = 0; k < cols; k++) wr[k] = frand();
        pl_quantize_row(type, wr, wq + r * row_bytes, cols);
        size_t scales_len, scales_at = k_scales_at(type, &scales_len);
        const uint8_t fills[4] = {0xff, 0x00, 0x80, 0x7f};
        for (int b = 0; extreme && scales_len && r % 5 < 4 && b < cols / PL_QK_K; b++)
            memset(wq + r * row_bytes + b * row_bytes / (cols / PL_QK_K) + scales_at, fills[r % 5], scales_len);
        pl_dequantize_row(type, wq + r * row_bytes, wr, cols);   /* the weights as stored */
    }
    for (int i = 0; i < n_tok * cols; i++) x[i] = extreme && i / cols % 2 == 0 && i % cols / 32 == 1 ? 0 : frand();
    pl_quantize_activations(x, n_tok, cols, xblocks);
    for (int i = 0; i < n_tok * cols; i++) {
        const pl_act_block *b = &pl_act_row(xblocks, pl_act_row_bytes(cols), i / cols)[i % cols / 32];
        xq[i] = b->d * b->q[i % 32];
    }
    pl_tensor t = {.name = "w", .name_len = 1, .type = type, .n_dims = 2, .ne = {cols, rows, 1, 1}, .data = wq};

    for (int simd = 0; simd <= pl_simd_available(); simd++) {
        pl_kernel k;
        CHECK(pl_kernel_for(type, simd, &k));
        int quantized_x = k.act == PL_ACT_Q8;
        cx1->simd = cx3->simd = simd;
        memset(y1, 0x7f, n_y * sizeof(float));   /* an output a kernel leaves unwritten fails */
        memset(y3, 0x7f, n_y * sizeof(float));
        pl_matmul(y1, &t, x, n_tok, cx1);
        pl_matmul(y3, &t, x, n_tok, cx3);
        int bad = 0;
        for (int tk = 0; tk < n_tok; tk++)
            for (int r = 0; r < rows; r++) {
                const float *wr = w + (size_t)r * cols, *xt = x + (size_t)tk * cols, *xqt = xq + (size_t)tk * cols;
                double exact = 0, exact_q = 0, mag = 0, act_err = 0;
                for (int c = 0; c < cols; c++) {
                    exact += (double)wr[c] * xt[c];
                    exact_q += (double)wr[c] * xqt[c];
                    double m = quantized_x ? block_offset(type, wq + r * row_bytes, c / 32) : 0;
                    mag += (fabs(wr[c] - m) + m) * fabs(quantized_x ? xqt[c] : xt[c]);
                    act_err += fabs((double)wr[c]) * fabs((double)xt[c] - xqt[c]);
                }
                double got = y1[(size_t)tk * rows + r];
                double bound = (quantized_x ? cols / 32 + 7 : cols) * 0x1p-24 * mag * 1.01 + 1e-30;
                if (!(fabs(got - (quantized_x ? exact_q : exact)) <= bound)) bad++;
                if (quantized_x && !(fabs(got - exact) <= act_err * 1.01 + bound)) bad++;
                if (simd && !(fabs(got - y_scalar[(size_t)tk * rows + r]) <= 2 * bound)) bad++;
            }
        if (bad)
            fprintf(stderr, "%s simd %d n_tok %d cols %d: %d outputs out of bound\n", pl_type_name(type), simd, n_tok, cols, bad);
        CHECK_EQ_INT(bad, 0);
        CHECK(memcmp(y1, y3, n_y * sizeof(float)) == 0);
        if (!simd) memcpy(y_scalar, y1, n_y * sizeof(float));
    }
    free(wq); free(w); free(x); free(xq); free(y1); free(y3); free(y_scalar); free(xblocks);
}

int main(void) {
    enum { MAX_TOK = 9, MAX_COLS = 1280 };
    size_t act_bytes = pl_matmul_workspace(MAX_TOK, MAX_COLS);   /* per thread */
    pl_compute cx1 = {pl_pool_create(1), 0, malloc(act_bytes), act_bytes};
    pl_compute cx3 = {pl_pool_create(3), 0, malloc(3 * act_bytes), act_bytes};
    check_f16_conversion();
    check_softmax_rmsnorm();
    check_softmax_swiglu_simd();
#ifdef __wasm_simd128__
    check_exp_simd();
#endif
    check_quantize_activations();
    check_scores2();
    check_rope(PL_ROPE_NORMAL, 16, 10000.0f, 1.0f);
    check_rope(PL_ROPE_NEOX, 16, 10000.0f, 1.0f);
    check_rope(PL_ROPE_NORMAL, 8, 500000.0f, 0.25f);   /* partial rotary, linear scaling */
    check_rope(PL_ROPE_NEOX, 8, 1000000.0f, 0.5f);
    printf("SIMD kernels %s\n", pl_simd_available() ? "checked against scalar" : "not in this build");
    const uint32_t types[] = {PL_TYPE_F32, PL_TYPE_F16, PL_TYPE_BF16};
    const int n_toks[] = {1, 3, 4, 5, 9};
    const int cols[] = {1, 3, 4, 7, 8, 64, 67, 256};
    for (int ti = 0; ti < 3; ti++)
        for (int ni = 0; ni < 5; ni++)
            for (int ci = 0; ci < 8; ci++) check_matmul(types[ti], n_toks[ni], 13, cols[ci], &cx1, &cx3);
    /* big enough to be shared by the pool (PL_MIN_PARALLEL_WORK); past the 4-row kernel's
     * 256-column panel and 64-token pass */
    for (int ti = 0; ti < 3; ti++) {
        check_matmul(types[ti], 5, 701, 259, &cx1, &cx3);
        check_matmul(types[ti], 70, 13, 600, &cx1, &cx3);
        check_matmul(types[ti], 8, 16, 515, &cx1, &cx3);
    }
    const uint32_t quant_types[] = {PL_TYPE_Q8_0, PL_TYPE_Q4_0, PL_TYPE_Q4_1, PL_TYPE_Q5_0, PL_TYPE_Q5_1,
                                    PL_TYPE_Q2_K, PL_TYPE_Q3_K, PL_TYPE_Q4_K, PL_TYPE_Q5_K, PL_TYPE_Q6_K};
    for (size_t qi = 0; qi < sizeof quant_types / sizeof *quant_types; qi++) {
        check_quant_matmul(quant_types[qi], 1, 13, 256, 0, &cx1, &cx3);
        check_quant_matmul(quant_types[qi], 5, 13, 512, 0, &cx1, &cx3);
        check_quant_matmul(quant_types[qi], 9, 300, 512, 0, &cx1, &cx3);   /* shared by the pool */
        check_quant_matmul(quant_types[qi], 6, 13, 512, 1, &cx1, &cx3);
        check_quant_matmul(quant_types[qi], 7, 8, 1280, 0, &cx1, &cx3);   /* past a 4-row kernel's panel; odd */
        int block_elems, block_bytes;
        pl_type_block(quant_types[qi], &block_elems, &block_bytes);
        for (int c = 96; block_elems == 32 && c <= 224; c += 128) {   /* rows of 3 and 7 blocks */
            check_quant_matmul(quant_types[qi], 1, 13, c, 0, &cx1, &cx3);
            check_quant_matmul(quant_types[qi], 6, 13, c, 1, &cx1, &cx3);
        }
    }
    pl_pool_destroy(cx1.pool);
    pl_pool_destroy(cx3.pool);
    free(cx1.act);
    free(cx3.act);
    return check_report("kernels");
}
