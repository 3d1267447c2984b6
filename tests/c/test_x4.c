/* The 4-row interleaved layout (csrc/kernels_x4.c) against the plain row layout:
 * - kernels: the scalar x4 kernels give the plain scalar kernels' outputs bit for bit; the
 *   SIMD ones stay within the float-summation bound of them; 1 and 3 threads agree bit for
 *   bit; rows past the last group of 4 and every row of pl_get_row come out unchanged;
 *   subnormal block scales (rescaled at the repack) included; so do random bytes (every
 *   scale, min and quant bit pattern).
 * - a whole model: synthetic Q8_0, Q4_0, Q5_0, Q4_1, Q5_1 and Q2_K .. Q6_K models (all matrices repacked
 *   at load, the output with rows past the groups) give logits close to the same weights in F32, the
 *   same at 1 and 3 threads. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../../csrc/kernels.h"
#include "../../csrc/quant.h"
#include "check.h"
#include "testutil.h"

/* Weights of a type: a quantizer's blocks of random floats, row 0's scales subnormal
 * halves (raw 0); or random bytes (raw 1: every scale, min and quant bit pattern), the
 * halves kept finite. w gets them dequantized. */
static void fill_weights(uint32_t type, int rows, int cols, int raw, uint8_t *data, float *w) {
    size_t row_bytes = pl_row_bytes(type, cols), n = row_bytes * rows;
    if (raw) {
        int elems, block;
        pl_type_block(type, &elems, &block);
        for (size_t k = 0; k < n; k++) data[k] = (uint8_t)((frand() + 1) * 128);
        /* d (and Q4_1/Q5_1's m, Q4_K/Q5_K's dmin after it; Q3_K's and Q6_K's d ends its block,
         * Q2_K's d and dmin do), exponent <= 15 */
        int first = type == PL_TYPE_Q2_K ? block - 4 : type == PL_TYPE_Q3_K || type == PL_TYPE_Q6_K ? block - 2 : 0;
        int two = type == PL_TYPE_Q4_1 || type == PL_TYPE_Q5_1 || type == PL_TYPE_Q4_K || type == PL_TYPE_Q5_K;
        int last = two ? 2 : type == PL_TYPE_Q2_K ? block - 2 : first;
        for (size_t off = 0; off < n; off += block)
            for (int h = first; h <= last; h += 2) data[off + h + 1] &= 0xbf;
    }
    for (int r = 0; r < rows; r++) {
        if (!raw) {
            for (int k = 0; k < cols; k++) w[(size_t)r * cols + k] = frand() * (r % 5 ? 1.0f : 1e-4f);
            pl_quantize_row(type, w + (size_t)r * cols, data + r * row_bytes, cols);
        }
        pl_dequantize_row(type, data + r * row_bytes, w + (size_t)r * cols, cols);
    }
}

static void check_kernels(uint32_t type, int n_tok, int rows, int cols, int raw, pl_compute *cx1, pl_compute *cx3) {
    size_t row_bytes = pl_row_bytes(type, cols), n_y = (size_t)n_tok * rows;
    uint8_t *plain = malloc(row_bytes * rows), *packed = malloc(row_bytes * rows);
    float *w = malloc((size_t)rows * cols * sizeof(float)), *x = malloc((size_t)n_tok * cols * sizeof(float));
    float *y_plain = malloc(n_y * sizeof(float)), *y1 = malloc(n_y * sizeof(float)), *y3 = malloc(n_y * sizeof(float));
    float *row_a = malloc(cols * sizeof(float)), *row_b = malloc(cols * sizeof(float));
    void *xq = malloc(pl_matmul_workspace(n_tok, cols));
    fill_weights(type, rows, cols, raw, plain, w);
    for (int i = 0; i < n_tok * cols; i++) x[i] = frand();
    pl_quantize_activations(x, n_tok, cols, xq);
    memcpy(packed, plain, row_bytes * rows);
    pl_tensor tp = {.name = "w", .name_len = 1, .type = type, .n_dims = 2, .ne = {cols, rows, 1, 1},
                    .data = plain, .nbytes = row_bytes * rows};
    pl_tensor tx = tp;
    tx.data = packed;
    CHECK_EQ_INT(pl_repack_x4(&tx), 1);
    CHECK_EQ_INT(tx.layout, PL_LAYOUT_X4);
    CHECK_EQ_INT(pl_repack_x4(&tx), 0);   /* once only */
    /* row 0's scales are subnormal halves: made normal, except the K types' (converted as they are) */
    if (!raw) CHECK(type >= PL_TYPE_Q2_K ? tx.scale_shift == 0 : tx.scale_shift > 0);
    /* rows past the last group keep their bytes */
    int tail = rows / 4 * 4;
    CHECK(memcmp(plain + tail * row_bytes, packed + tail * row_bytes, (rows - tail) * row_bytes) == 0);
    int same_rows = 1;
    for (int r = 0; r < rows; r++) {
        pl_get_row(row_a, &tp, r);
        pl_get_row(row_b, &tx, r);
        same_rows &= memcmp(row_a, row_b, cols * sizeof(float)) == 0;
    }
    CHECK(same_rows);

    for (int simd = 0; simd <= pl_simd_available(); simd++) {
        cx1->simd = cx3->simd = simd;
        if (!simd) pl_matmul(y_plain, &tp, x, n_tok, cx1);
        pl_matmul(y1, &tx, x, n_tok, cx1);
        pl_matmul(y3, &tx, x, n_tok, cx3);
        CHECK(memcmp(y1, y3, n_y * sizeof(float)) == 0);
        if (!simd) {
            CHECK(memcmp(y1, y_plain, n_y * sizeof(float)) == 0);
            continue;
        }
        /* float block results added in another order: (blocks + 3) · 2^-24 · Σ|w·x| */
        int bad = 0;
        for (int t = 0; t < n_tok; t++)
            for (int r = 0; r < rows; r++) {
                double mag = 0;
                for (int k = 0; k < cols; k++) {
                    const pl_act_block *b = &pl_act_row(xq, pl_act_row_bytes(cols), t)[k / 32];
                    mag += fabs((double)w[(size_t)r * cols + k] * b->d * b->q[k % 32]);
                }
                double bound = 2 * (cols / 32 + 3) * 0x1p-24 * mag + 1e-30;
                if (fabs(y1[(size_t)t * rows + r] - y_plain[(size_t)t * rows + r]) > bound) bad++;
            }
        if (bad) fprintf(stderr, "%s x4 simd n_tok %d rows %d cols %d: %d out of bound\n", pl_type_name(type), n_tok, rows, cols, bad);
        CHECK_EQ_INT(bad, 0);
    }
    free(plain); free(packed); free(w); free(x); free(y_plain); free(y1); free(y3);
    free(row_a); free(row_b); free(xq);
}

static void check_not_repacked(void) {
    uint8_t data[3 * 34] = {0};
    pl_tensor t = {.type = PL_TYPE_Q8_0, .n_dims = 2, .ne = {32, 3, 1, 1}, .data = data};
    CHECK_EQ_INT(pl_repack_x4(&t), 0);   /* fewer than 4 rows */
    CHECK_EQ_INT(t.layout, PL_LAYOUT_ROWS);
    float f[4 * 32] = {0};
    pl_tensor tf = {.type = PL_TYPE_F32, .n_dims = 2, .ne = {32, 4, 1, 1}, .data = f};
    CHECK_EQ_INT(pl_repack_x4(&tf), 0);  /* a type without a 4-row kernel */
    CHECK(pl_x4_kernel(PL_TYPE_F32, 0) == NULL && pl_x4_kernel(PL_TYPE_Q8_0, 0) != NULL);
    /* scales from the smallest subnormal half to the largest half: no power of two makes
     * them all normal, so the matrix keeps its bytes and its plain layout */
    uint8_t wide[4 * 34] = {0}, before[sizeof wide];
    const uint16_t d_small = 0x0001, d_large = 0x7bff;
    memcpy(wide, &d_small, 2);
    memcpy(wide + 3 * 34, &d_large, 2);
    memcpy(before, wide, sizeof wide);
    pl_tensor tw = {.type = PL_TYPE_Q8_0, .n_dims = 2, .ne = {32, 4, 1, 1}, .data = wide};
    CHECK_EQ_INT(pl_repack_x4(&tw), 0);
    CHECK(tw.layout == PL_LAYOUT_ROWS && memcmp(wide, before, sizeof wide) == 0);
    /* the same span between a Q4_1 block's scale d and another's offset m (which the kernels
     * convert alike) */
    uint8_t wide1[4 * 20] = {0}, before1[sizeof wide1];
    memcpy(wide1, &d_small, 2);
    memcpy(wide1 + 3 * 20 + 2, &d_large, 2);
    memcpy(before1, wide1, sizeof wide1);
    pl_tensor tw1 = {.type = PL_TYPE_Q4_1, .n_dims = 2, .ne = {32, 4, 1, 1}, .data = wide1};
    CHECK_EQ_INT(pl_repack_x4(&tw1), 0);
    CHECK(tw1.layout == PL_LAYOUT_ROWS && memcmp(wide1, before1, sizeof wide1) == 0);
}

/* A random matrix of a type, quantized, repacked when pack is set. */
static pl_tensor random_matrix(uint32_t type, int rows, int cols, int pack) {
    size_t row_bytes = pl_row_bytes(type, cols);
    uint8_t *data = malloc(row_bytes * rows);
    float *w = malloc((size_t)cols * sizeof(float));
    for (int r = 0; r < rows; r++) {
        for (int k = 0; k < cols; k++) w[k] = frand();
        pl_quantize_row(type, w, data + r * row_bytes, cols);
    }
    free(w);
    pl_tensor t = {.name = "w", .name_len = 1, .type = type, .n_dims = 2, .ne = {cols, rows, 1, 1},
                   .data = data, .nbytes = row_bytes * rows};
    if (pack) pl_repack_x4(&t);
    return t;
}

/* pl_matmul_n and pl_matmul_swiglu against pl_matmul one matrix at a time (and
 * pl_swiglu): the same kernels on the same rows, so bit for bit, at 1 and 3 threads; mixed
 * types and layouts, rows that are not multiples of 4. */
static void check_fused(pl_compute *cx1, pl_compute *cx3) {
    enum { COLS = 256, N_TOK = 5 };
    const int rows[3] = {44, 13, 7};
    pl_tensor w[3] = {random_matrix(PL_TYPE_Q4_0, rows[0], COLS, 1), random_matrix(PL_TYPE_Q4_K, rows[1], COLS, 1),
                      random_matrix(PL_TYPE_Q4_1, rows[2], COLS, 0)};
    pl_tensor gate = random_matrix(PL_TYPE_Q6_K, 30, COLS, 1), up = random_matrix(PL_TYPE_Q5_0, 30, COLS, 0);
    float x[N_TOK * COLS], ref[3][N_TOK * 44], out[3][N_TOK * 44], g_ref[N_TOK * 30], u_ref[N_TOK * 30],
        g[N_TOK * 30], u[N_TOK * 30];
    for (int i = 0; i < N_TOK * COLS; i++) x[i] = frand();
    for (int simd = 0; simd <= pl_simd_available(); simd++)
        for (int n_tok = 1; n_tok <= N_TOK; n_tok += N_TOK - 1) {
            cx1->simd = cx3->simd = simd;
            for (int i = 0; i < 3; i++) pl_matmul(ref[i], &w[i], x, n_tok, cx1);
            pl_matmul(g_ref, &gate, x, n_tok, cx1);
            pl_matmul(u_ref, &up, x, n_tok, cx1);
            (simd ? pl_swiglu_simd : pl_swiglu)(g_ref, u_ref, n_tok * 30);   /* elementwise */
            for (int threads = 1; threads <= 3; threads += 2) {
                pl_compute *cx = threads == 1 ? cx1 : cx3;
                pl_matmul_n(3, (float *const[]){out[0], out[1], out[2]},
                            (const pl_tensor *const[]){&w[0], &w[1], &w[2]}, x, n_tok, cx);
                for (int i = 0; i < 3; i++) CHECK(memcmp(out[i], ref[i], (size_t)n_tok * rows[i] * sizeof(float)) == 0);
                pl_matmul_swiglu(g, u, &gate, &up, x, n_tok, cx);
                CHECK(memcmp(g, g_ref, (size_t)n_tok * 30 * sizeof(float)) == 0);
            }
        }
    for (int i = 0; i < 3; i++) free((void *)w[i].data);
    free((void *)gate.data);
    free((void *)up.data);
}

/* --- a whole model -------------------------------------------------------------------- */

enum { LAYERS = 2, VOCAB = 302, N_PROMPT = 12 };

/* Logits after a prompt, from a synthetic model of the given type and width (seed 7: the
 * same weights before quantization for every type). */
static float *model_logits(const char *type, int dim, int ffn, int threads, int simd) {
    mem_sink file = {0};
    if (pl_synth_gguf(dim, LAYERS, 4, 2, ffn, VOCAB, 64, type, 7, mem_sink_write, &file, NULL, 0) != PL_OK) return NULL;
    void *buf = pl_alloc(file.len);
    memcpy(buf, file.data, file.len);
    free(file.data);
    pl_ctx *ctx = pl_create(threads);
    float *out = malloc(VOCAB * sizeof(float));
    int32_t ids[N_PROMPT];
    for (int i = 0; i < N_PROMPT; i++) ids[i] = 1 + (i * 37) % (VOCAB - 1);
    if (pl_load(ctx, buf, file.len, NULL, 0, 0) != PL_OK || pl_set_simd(ctx, simd) != PL_OK ||
        pl_eval(ctx, ids, N_PROMPT - 3) != PL_OK || pl_eval(ctx, ids + N_PROMPT - 3, 1) != PL_OK ||
        pl_eval(ctx, ids + N_PROMPT - 2, 2) != PL_OK) {
        fprintf(stderr, "%s: %s\n", type, pl_last_error(ctx));
        free(out);
        out = NULL;
    } else {
        memcpy(out, pl_logits(ctx), VOCAB * sizeof(float));
    }
    pl_destroy(ctx);
    return out;
}

/* dim and ffn: multiples of 256 for the K types (else synth falls back to Q5_0) */
static void check_model(const char *type, int dim, int ffn, double rel_tol) {
    float *ref = model_logits("F32", dim, ffn, 1, 0);
    for (int simd = 0; simd <= pl_simd_available(); simd++) {
        float *one = model_logits(type, dim, ffn, 1, simd), *three = model_logits(type, dim, ffn, 3, simd);
        CHECK(ref && one && three);
        if (ref && one && three) {
            CHECK(memcmp(one, three, VOCAB * sizeof(float)) == 0);
            double err = 0, scale = 0;
            for (int i = 0; i < VOCAB; i++) {
                err = fmax(err, fabs(one[i] - ref[i]));
                scale = fmax(scale, fabs(ref[i]));
            }
            printf("%s simd %d: max |logit - F32 logit| = %.4g of max |logit| %.4g\n", type, simd, err, scale);
            CHECK(scale > 0 && err <= rel_tol * scale);
        }
        free(one);
        free(three);
    }
    free(ref);
}

int main(void) {
    enum { MAX_TOK = 130, MAX_COLS = 2304 };
    size_t act_bytes = pl_matmul_workspace(MAX_TOK, MAX_COLS);   /* per thread */
    pl_compute cx1 = {pl_pool_create(1), 0, malloc(act_bytes), act_bytes};
    pl_compute cx3 = {pl_pool_create(3), 0, malloc(3 * act_bytes), act_bytes};
    check_not_repacked();
    check_fused(&cx1, &cx3);
    const uint32_t types[] = {PL_TYPE_Q8_0, PL_TYPE_Q4_0, PL_TYPE_Q5_0, PL_TYPE_Q4_1, PL_TYPE_Q5_1,
                              PL_TYPE_Q2_K, PL_TYPE_Q3_K, PL_TYPE_Q4_K, PL_TYPE_Q5_K, PL_TYPE_Q6_K};
    const int n_types = (int)(sizeof types / sizeof *types);
    const int n_toks[] = {1, 2, 3, 4, 5, 9};
    /* rows, cols; 2080 columns: more blocks than one prompt-token panel (PANEL_BLOCKS) */
    const int shapes[][2] = {{4, 32}, {7, 96}, {13, 512}, {301, 256}, {5, 2080}};
    /* K types: rows of whole super-blocks; 1024 columns: one whole prompt-token panel (4
     * super-blocks), 2304: two and a part */
    const int k_shapes[][2] = {{4, 256}, {7, 1024}, {13, 256}, {301, 256}, {5, 2304}};
    for (int ti = 0; ti < n_types; ti++)
        for (int ni = 0; ni < 6; ni++)
            for (int si = 0; si < 5; si++) {
                const int *shape = types[ti] >= PL_TYPE_Q2_K ? k_shapes[si] : shapes[si];
                check_kernels(types[ti], n_toks[ni], shape[0], shape[1], 0, &cx1, &cx3);
            }
    /* random bytes; and a prompt longer than the scalar K groups' run of tokens (64) */
    for (int ti = 0; ti < n_types; ti++) check_kernels(types[ti], 5, 9, 512, 1, &cx1, &cx3);
    check_kernels(PL_TYPE_Q4_K, 130, 5, 512, 1, &cx1, &cx3);
    check_kernels(PL_TYPE_Q6_K, 130, 4, 512, 0, &cx1, &cx3);
    check_kernels(PL_TYPE_Q2_K, 130, 6, 512, 1, &cx1, &cx3);
    /* quantization error only: measured 0.04% (Q8_0), 0.1% (Q4_0), 0.08% (Q5_0), 0.26% (Q4_1),
     * 0.14% (Q5_1), 1.1% (Q2_K), 0.3% (Q3_K),
     * 0.6% (Q4_K), 0.4% (Q5_K) and 0.1% (Q6_K) of the largest logit (the K types at another width, with
     * random weights in their sub-block scales); a row mixed up with another is off by the
     * logits' own size */
    check_model("Q8_0", 128, 352, 0.005);
    check_model("Q4_0", 128, 352, 0.01);
    check_model("Q5_0", 128, 352, 0.01);
    check_model("Q4_1", 128, 352, 0.01);
    check_model("Q5_1", 128, 352, 0.01);
    check_model("Q2_K", 256, 512, 0.02);
    check_model("Q3_K", 256, 512, 0.01);
    check_model("Q4_K", 256, 512, 0.01);
    check_model("Q5_K", 256, 512, 0.01);
    check_model("Q6_K", 256, 512, 0.01);
    pl_pool_destroy(cx1.pool);
    pl_pool_destroy(cx3.pool);
    free(cx1.act);
    free(cx3.act);
    return check_report("x4 layout");
}
