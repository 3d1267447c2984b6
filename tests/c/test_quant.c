/* Block formats (csrc/quant.c), the GGUF writer (csrc/gguf_write.c) and the tools
 * (csrc/tools.c).
 * - Dequantization of hand-packed blocks: bytes and expected values worked out by hand
 *   from the layouts in ggml's ggml-common.h / dequantize_row_* (not from our code).
 * - Quantize -> dequantize round trips of Gaussian data within per-type bounds, exact on
 *   data the format represents exactly.
 * - The writer: every metadata type (nested arrays too) and tensor data through csrc/gguf.c.
 * - pl_quantize_gguf on stories260K and pl_synth_gguf: parsed back and compared. */
#include <stdlib.h>
#include <string.h>

#include "gguf_write.h"
#include "quant.h"
#include "testutil.h"

/* ---- helpers ------------------------------------------------------------------------- */

/* A write callback collecting the output in memory; fail_after > 0 makes the write that
 * would exceed that many bytes fail. */
typedef struct {
    uint8_t *data;
    size_t len, cap;
    size_t fail_after;
    int calls;
} sink;

static int sink_write(void *user, const void *data, size_t n) {
    sink *s = user;
    s->calls++;
    if (s->fail_after && s->len + n > s->fail_after) return -1;
    if (s->len + n > s->cap) {
        s->cap = (s->len + n) * 2;
        s->data = realloc(s->data, s->cap);
    }
    memcpy(s->data + s->len, data, n);
    s->len += n;
    return 0;
}

/* Deterministic standard normal values (Box-Muller on an LCG). */
static uint64_t lcg = 88172645463325252ull;
static float uniform(void) {
    lcg = lcg * 6364136223846793005ull + 1442695040888963407ull;
    return ((float)(lcg >> 40) + 0.5f) / 16777216.0f;
}
static float gauss(void) {
    return sqrtf(-2 * logf(uniform())) * cosf(6.2831853f * uniform());
}

static double rel_rms_error(const float *x, const float *y, int64_t n) {
    double err = 0, ref = 0;
    for (int64_t i = 0; i < n; i++) {
        err += (double)(x[i] - y[i]) * (x[i] - y[i]);
        ref += (double)x[i] * x[i];
    }
    return ref > 0 ? sqrt(err / ref) : sqrt(err);
}

static int all_finite(const float *x, int64_t n) {
    for (int64_t i = 0; i < n; i++)
        if (!isfinite(x[i])) return 0;
    return 1;
}

/* ---- hand-packed blocks -------------------------------------------------------------- */
/* Half constants: 0x3C00 = 1, 0x3800 = 0.5, 0x3400 = 0.25, 0x3000 = 0.125, 0x4000 = 2,
 * 0xBC00 = -1. */

static void test_f16_bf16(void) {
    const uint16_t h[4] = {0x3C00, 0xC000, 0x0001, 0x7BFF};   /* 1, -2, 2^-24, 65504 */
    const uint16_t b[2] = {0x3F80, 0x4049};                    /* 1, 3.140625 */
    float y[4];
    CHECK_EQ_INT(pl_dequantize_row(PL_TYPE_F16, h, y, 4), PL_OK);
    CHECK(y[0] == 1.0f && y[1] == -2.0f && y[2] == ldexpf(1, -24) && y[3] == 65504.0f);
    CHECK_EQ_INT(pl_dequantize_row(PL_TYPE_BF16, b, y, 2), PL_OK);
    CHECK(y[0] == 1.0f && y[1] == 3.140625f);
    /* rounding to nearest even: 1 + 2^-11 is halfway between 1 and 1 + 2^-10 -> 1 (even);
     * 1 + 3 * 2^-11 is halfway between 1 + 2^-10 and 1 + 2^-9 -> 1 + 2^-9 (even) */
    CHECK_EQ_INT(pl_f32_to_f16(1.0f + ldexpf(1, -11)), 0x3C00);
    CHECK_EQ_INT(pl_f32_to_f16(1.0f + 3 * ldexpf(1, -11)), 0x3C02);
    CHECK_EQ_INT(pl_f32_to_f16(65519.0f), 0x7BFF);    /* below the midpoint to infinity */
    CHECK_EQ_INT(pl_f32_to_f16(65520.0f), 0x7C00);    /* the midpoint: to even = infinity */
    CHECK_EQ_INT(pl_f32_to_f16(-ldexpf(1, -24)), 0x8001);   /* smallest subnormal */
    CHECK_EQ_INT(pl_f32_to_f16(ldexpf(1, -25)), 0x0000);    /* half of it: ties to even 0 */
    CHECK_EQ_INT(pl_f32_to_f16(ldexpf(3, -26)), 0x0001);    /* 0.75 of it: up */
    CHECK_EQ_INT(pl_f32_to_f16(ldexpf(1023, -24) + ldexpf(1, -25)), 0x0400);  /* carries into the exponent */
    CHECK_EQ_INT(pl_f32_to_f16(NAN) & 0x7C00, 0x7C00);
    CHECK(pl_f32_to_f16(NAN) & 0x3FF);
    CHECK_EQ_INT(pl_f32_to_bf16(1.0f + ldexpf(1, -8)), 0x3F80);       /* tie to even */
    CHECK_EQ_INT(pl_f32_to_bf16(1.0f + 3 * ldexpf(1, -8)), 0x3F82);   /* tie to even, up */
}

static void test_q4_0_q4_1_blocks(void) {
    pl_block_q4_0 a = {.d = 0x3800};   /* d = 0.5, x = d * (q - 8) */
    a.qs[0] = 0x9F;    /* element 0: q 15 -> 3.5; element 16: q 9 -> 0.5 */
    a.qs[1] = 0x08;    /* element 1: q 8 -> 0;    element 17: q 0 -> -4 */
    float y[32];
    CHECK_EQ_INT(pl_dequantize_row(PL_TYPE_Q4_0, &a, y, 32), PL_OK);
    CHECK(y[0] == 3.5f && y[16] == 0.5f && y[1] == 0.0f && y[17] == -4.0f && y[2] == -4.0f);

    pl_block_q4_1 b = {.d = 0x3400, .m = 0xBC00};   /* x = 0.25 q - 1 */
    b.qs[0] = 0x3C;    /* element 0: q 12 -> 2; element 16: q 3 -> -0.25 */
    CHECK_EQ_INT(pl_dequantize_row(PL_TYPE_Q4_1, &b, y, 32), PL_OK);
    CHECK(y[0] == 2.0f && y[16] == -0.25f && y[5] == -1.0f);
}

static void test_q5_blocks(void) {
    /* qh is little-endian: bit j of qh (byte j / 8, bit j % 8) is bit 4 of element j */
    pl_block_q5_0 a = {.d = 0x3C00, .qh = {0x01, 0x00, 0x02, 0x00}};   /* bits 0, 17 */
    a.qs[0] = 0x21;    /* element 0: 1 | 16 -> 1; element 16: 2 -> -14 */
    float y[32];
    CHECK_EQ_INT(pl_dequantize_row(PL_TYPE_Q5_0, &a, y, 32), PL_OK);
    CHECK(y[0] == 1.0f && y[16] == -14.0f);
    CHECK(y[1] == -16.0f && y[17] == 0.0f);   /* q 0, and q 16 from the high bit alone */

    pl_block_q5_1 b = {.d = 0x3800, .m = 0x4000, .qh = {0, 0, 0x01, 0}};   /* bit 16 */
    b.qs[0] = 0xF0;    /* element 0: 0 -> 2; element 16: 15 | 16 = 31 -> 17.5 */
    CHECK_EQ_INT(pl_dequantize_row(PL_TYPE_Q5_1, &b, y, 32), PL_OK);
    CHECK(y[0] == 2.0f && y[16] == 17.5f && y[31] == 2.0f);
}

static void test_q8_blocks(void) {
    pl_block_q8_0 a = {.d = 0x3000};
    a.qs[0] = -128;
    a.qs[31] = 127;
    float y[256];
    CHECK_EQ_INT(pl_dequantize_row(PL_TYPE_Q8_0, &a, y, 32), PL_OK);
    CHECK(y[0] == -16.0f && y[31] == 15.875f && y[1] == 0.0f);

    pl_block_q8_K k = {.d = 0.5f};
    k.qs[0] = -7;
    k.qs[255] = 100;
    CHECK_EQ_INT(pl_dequantize_row(PL_TYPE_Q8_K, &k, y, 256), PL_OK);
    CHECK(y[0] == -3.5f && y[255] == 50.0f && y[100] == 0.0f);
}

static void test_q2_K_block(void) {
    /* x = d * (scales[s] & 15) * q - dmin * (scales[s] >> 4); d = 1, dmin = 0.5 */
    pl_block_q2_K b = {.d = 0x3C00, .dmin = 0x3800};
    b.scales[0] = 0x23;   /* scale 3, min 2 */
    b.scales[1] = 0x01;
    b.scales[2] = 0x11;
    b.scales[6] = 0x05;
    b.scales[8] = 0x12;
    b.qs[0] = 0xE4;       /* 2-bit fields 0, 1, 2, 3: elements 0, 32, 64, 96 */
    b.qs[16] = 0x02;      /* element 16 */
    b.qs[32] = 0x03;      /* element 128 */
    float y[256];
    CHECK_EQ_INT(pl_dequantize_row(PL_TYPE_Q2_K, &b, y, 256), PL_OK);
    CHECK_NEAR(y[0], 1 * 3 * 0 - 0.5 * 2, 0);      /* sub-block 0 */
    CHECK_NEAR(y[1], -1.0, 0);                     /* q 0 too */
    CHECK_NEAR(y[16], 1 * 1 * 2 - 0.0, 0);         /* sub-block 1 */
    CHECK_NEAR(y[32], 1 * 1 * 1 - 0.5 * 1, 0);     /* sub-block 2 */
    CHECK_NEAR(y[64], 0.0, 0);                     /* sub-block 4: scale and min 0 */
    CHECK_NEAR(y[96], 1 * 5 * 3 - 0.0, 0);         /* sub-block 6 */
    CHECK_NEAR(y[128], 1 * 2 * 3 - 0.5 * 1, 0);    /* sub-block 8 */
}

static void test_q3_K_block(void) {
    /* 6-bit scales (value - 32): s0 = 33, s5 = 0, s10 = 63, s15 = 36, all others 32 (-> 0).
     * Low nibbles: byte s % 8, low half for s < 8, high half for s >= 8:
     *   byte 0 = s0 1 | s8 0; byte 2 = s2 0 | s10 15 << 4; byte 7 = s7 0 | s15 4 << 4.
     * High 2 bits at bit 2 * (s / 4) of byte 8 + s % 4:
     *   byte 8 (s0, s4, s8, s12) = 2,2,2,2; byte 9 (s1, s5, s9, s13) = 2,0,2,2;
     *   byte 10 (s2, s6, s10, s14) = 2,2,3,2; byte 11 (s3, s7, s11, s15) = 2,2,2,2. */
    pl_block_q3_K b = {.d = 0x3800,
                       .scales = {0x01, 0, 0xF0, 0, 0, 0, 0, 0x40, 0xAA, 0xA2, 0xBA, 0xAA}};
    int8_t sc[16];
    pl_q3_K_scales(b.scales, sc);
    CHECK(sc[0] == 1 && sc[5] == -32 && sc[10] == 31 && sc[15] == 4 && sc[1] == 0 && sc[14] == 0);
    /* x = d * sc * (q - 4), q = low 2 bits + 4 * (bit e / 32 of hmask[e % 32]) */
    b.qs[0] = 0x03;     /* element 0: low 3 */
    b.hmask[0] = 0x21;  /* element 0: bit 0 set; element 160: bit 5 set */
    b.qs[16] = 0x10;    /* element 80 = 32 * 2 + 16: bits 4-5 = 1, high bit clear */
    b.qs[32] = 0x08;    /* element 160 = 128 + 32: bits 2-3 of qs[32] = 2 */
    b.qs[63] = 0x40;    /* element 255 = 128 + 96 + 31: bits 6-7 = 1 */
    b.hmask[31] = 0x80; /* element 255: bit 7 */
    float y[256];
    CHECK_EQ_INT(pl_dequantize_row(PL_TYPE_Q3_K, &b, y, 256), PL_OK);
    CHECK_NEAR(y[0], 0.5 * 1 * (7 - 4), 0);
    CHECK_NEAR(y[1], 0.5 * 1 * (0 - 4), 0);
    CHECK_NEAR(y[80], 0.5 * -32 * (1 - 4), 0);
    CHECK_NEAR(y[160], 0.5 * 31 * (6 - 4), 0);
    CHECK_NEAR(y[255], 0.5 * 4 * (5 - 4), 0);
    CHECK_NEAR(y[20], 0.0, 0);   /* sub-block 1: scale 0 */
}

/* Q4_K / Q5_K scales: s0 sc 10 mn 4; s1 sc 1 mn 0; s5 sc 37 (2 << 4 | 5) mn 50 (3 << 4 | 2);
 * s7 sc 63 mn 63; others 0. Bytes: [0..3] = sc0..3 + (sc4..7 >> 4) << 6,
 * [4..7] = mn0..3 + (mn4..7 >> 4) << 6, [8..11] = (sc & 15) | (mn & 15) << 4 of s4..7. */
static const uint8_t k_scales[12] = {0x0A, 0x01 | 2 << 6, 0, 3 << 6, 0x04, 3 << 6, 0, 3 << 6,
                                     0, 0x25, 0, 0xFF};

static void test_q4_K_q5_K_blocks(void) {
    uint8_t sc, mn;
    pl_k_scale_min(5, k_scales, &sc, &mn);
    CHECK(sc == 37 && mn == 50);
    pl_k_scale_min(7, k_scales, &sc, &mn);
    CHECK(sc == 63 && mn == 63);
    pl_k_scale_min(1, k_scales, &sc, &mn);
    CHECK(sc == 1 && mn == 0);

    /* x = d * sc * q - dmin * mn; d = 0.5, dmin = 0.25; sub-blocks 2p, 2p + 1 are the low
     * and high nibbles of qs[32p ..] */
    pl_block_q4_K a = {.d = 0x3800, .dmin = 0x3400};
    memcpy(a.scales, k_scales, 12);
    a.qs[0] = 0x37;    /* element 0 (s0): 7; element 32 (s1): 3 */
    a.qs[64] = 0xF0;   /* element 160 (s5, high nibble): 15 */
    a.qs[96] = 0x10;   /* element 224 (s7, high nibble): 1; element 192 (s6): 0 */
    float y[256];
    CHECK_EQ_INT(pl_dequantize_row(PL_TYPE_Q4_K, &a, y, 256), PL_OK);
    CHECK_NEAR(y[0], 0.5 * 10 * 7 - 0.25 * 4, 0);
    CHECK_NEAR(y[32], 0.5 * 1 * 3 - 0, 0);
    CHECK_NEAR(y[160], 0.5 * 37 * 15 - 0.25 * 50, 0);
    CHECK_NEAR(y[224], 0.5 * 63 * 1 - 0.25 * 63, 0);
    CHECK_NEAR(y[192], 0.0, 0);

    /* Q5_K: bit 4 of element l of sub-block s is bit s of qh[l] */
    pl_block_q5_K b = {.d = 0x3800, .dmin = 0x3400, .qh = {0x21, 0x02}};
    memcpy(b.scales, k_scales, 12);
    memcpy(b.qs, a.qs, sizeof b.qs);
    CHECK_EQ_INT(pl_dequantize_row(PL_TYPE_Q5_K, &b, y, 256), PL_OK);
    CHECK_NEAR(y[0], 0.5 * 10 * (7 + 16) - 0.25 * 4, 0);
    CHECK_NEAR(y[160], 0.5 * 37 * (15 + 16) - 0.25 * 50, 0);
    CHECK_NEAR(y[33], 0.5 * 1 * (0 + 16) - 0, 0);
    CHECK_NEAR(y[224], 0.5 * 63 * 1 - 0.25 * 63, 0);
}

static void test_q6_K_block(void) {
    /* x = d * scales[e / 16] * (q - 32); e = 128h + 32k + l: low 4 bits in
     * ql[64h + 32(k & 1) + l] (low nibble k < 2), high 2 bits at 2k of qh[32h + l] */
    pl_block_q6_K b = {.d = 0x3400};
    b.scales[0] = 2;
    b.scales[3] = -4;
    b.scales[9] = 127;
    b.scales[15] = -128;
    b.ql[0] = 0x5F;     /* element 0: 15 */
    b.qh[0] = 0x09;     /* element 0: high 1 -> q 31; element 32: high 2 */
    b.ql[48] = 0x03;    /* element 48 (k 1, l 16): 3 */
    b.qh[16] = 0x0C;    /* element 48: high 3 -> q 51 */
    b.qh[48] = 0x03;    /* element 144 (h 1, k 0, l 16): high 3, low 0 -> q 48 */
    b.ql[127] = 0xF0;   /* element 255 (h 1, k 3, l 31): 15 */
    b.qh[63] = 0xC0;    /* element 255: high 3 -> q 63 */
    float y[256];
    CHECK_EQ_INT(pl_dequantize_row(PL_TYPE_Q6_K, &b, y, 256), PL_OK);
    CHECK_NEAR(y[0], 0.25 * 2 * (31 - 32), 0);
    CHECK_NEAR(y[48], 0.25 * -4 * (51 - 32), 0);
    CHECK_NEAR(y[144], 0.25 * 127 * (48 - 32), 0);
    CHECK_NEAR(y[255], 0.25 * -128 * (63 - 32), 0);
    CHECK_NEAR(y[32], 0.0, 0);   /* sub-block 2: scale 0 */
    CHECK_NEAR(y[1], 0.25 * 2 * -32, 0);
}

/* ---- round trips --------------------------------------------------------------------- */

/* Relative RMS error bounds on Gaussian data: ggml's reference quantizers for the 32-element
 * types, ours for the K types (ggml's own reach about 10% lower there). */
static const struct {
    uint32_t type;
    double max_rel_rms;
} round_trip_bounds[] = {
    {PL_TYPE_F16, 0.0005}, {PL_TYPE_BF16, 0.004}, {PL_TYPE_Q8_0, 0.008},
    {PL_TYPE_Q4_0, 0.11},  {PL_TYPE_Q4_1, 0.10},  {PL_TYPE_Q5_0, 0.055},
    {PL_TYPE_Q5_1, 0.05},  {PL_TYPE_Q2_K, 0.40},  {PL_TYPE_Q3_K, 0.20},
    {PL_TYPE_Q4_K, 0.10},  {PL_TYPE_Q5_K, 0.05},  {PL_TYPE_Q6_K, 0.025},
    {PL_TYPE_Q8_K, 0.01},
};
#define N_TYPES (sizeof round_trip_bounds / sizeof round_trip_bounds[0])

static void test_round_trips(void) {
    enum { N = 256 * 32 };
    float *x = malloc(N * sizeof *x), *y = malloc(N * sizeof *y);
    uint8_t *q = malloc(N * 4);
    for (size_t k = 0; k < N_TYPES; k++) {
        uint32_t type = round_trip_bounds[k].type;
        for (int i = 0; i < N; i++) x[i] = 0.02f * gauss() + (i >= N / 2 ? 0.01f : 0);   /* offset half */
        CHECK_EQ_INT(pl_quantize_row(type, x, q, N), PL_OK);
        CHECK_EQ_INT(pl_dequantize_row(type, q, y, N), PL_OK);
        double e = rel_rms_error(x, y, N);
        if (e > round_trip_bounds[k].max_rel_rms)
            fprintf(stderr, "%s: relative RMS error %.4f\n", pl_type_name(type), e);
        CHECK(e <= round_trip_bounds[k].max_rel_rms);
        CHECK(e >= round_trip_bounds[k].max_rel_rms / 20);   /* the data was not trivial */
        /* zero blocks stay exactly zero, and nothing is NaN or infinite */
        memset(x, 0, 256 * sizeof *x);
        CHECK_EQ_INT(pl_quantize_row(type, x, q, 256), PL_OK);
        CHECK_EQ_INT(pl_dequantize_row(type, q, y, 256), PL_OK);
        int zeros = 1;
        for (int i = 0; i < 256; i++) zeros &= y[i] == 0;
        CHECK(zeros);
        for (int i = 0; i < 256; i++) x[i] = 0.02f * gauss();
        x[7] = 3e4f;   /* outliers (within the half-float scales' range) stay finite */
        x[9] = -6e4f;
        CHECK_EQ_INT(pl_quantize_row(type, x, q, 256), PL_OK);
        CHECK_EQ_INT(pl_dequantize_row(type, q, y, 256), PL_OK);
        CHECK(all_finite(y, 256));
        CHECK_NEAR(y[9], -6e4, 6e4 * 0.07);
    }
    free(x);
    free(y);
    free(q);
}

/* Values the format represents exactly come back exactly (Q4_0, Q5_0, Q8_0, Q4_1). */
static void test_exact_round_trips(void) {
    float x[32], y[32];
    uint8_t q[64];
    for (int i = 0; i < 32; i++) x[i] = 0.25f * (float)(i % 16 - 8);   /* d 0.25, q 0..15 */
    CHECK_EQ_INT(pl_quantize_row(PL_TYPE_Q4_0, x, q, 32), PL_OK);
    pl_dequantize_row(PL_TYPE_Q4_0, q, y, 32);
    CHECK(memcmp(x, y, sizeof x) == 0);
    for (int i = 0; i < 32; i++) x[i] = 0.5f * (float)(i - 16);        /* d 0.5, q 0..31 */
    CHECK_EQ_INT(pl_quantize_row(PL_TYPE_Q5_0, x, q, 32), PL_OK);
    pl_dequantize_row(PL_TYPE_Q5_0, q, y, 32);
    CHECK(memcmp(x, y, sizeof x) == 0);
    for (int i = 0; i < 32; i++) x[i] = 0.0625f * (float)(i * 8 - 127); /* d 1/16, amax 127 d */
    x[31] = 0.0625f * 127;
    CHECK_EQ_INT(pl_quantize_row(PL_TYPE_Q8_0, x, q, 32), PL_OK);
    pl_dequantize_row(PL_TYPE_Q8_0, q, y, 32);
    CHECK(memcmp(x, y, sizeof x) == 0);
    for (int i = 0; i < 32; i++) x[i] = 1.0f + 0.5f * (float)(i % 16); /* min 1, d 0.5 */
    CHECK_EQ_INT(pl_quantize_row(PL_TYPE_Q4_1, x, q, 32), PL_OK);
    pl_dequantize_row(PL_TYPE_Q4_1, q, y, 32);
    CHECK(memcmp(x, y, sizeof x) == 0);
}

static void test_row_errors(void) {
    float x[64] = {0};
    uint8_t q[256];
    CHECK_EQ_INT(pl_quantize_row(PL_TYPE_Q4_0, x, q, 33), PL_ERR_INVALID_ARGUMENT);
    CHECK_EQ_INT(pl_dequantize_row(PL_TYPE_Q4_K, q, x, 64), PL_ERR_INVALID_ARGUMENT);
    CHECK_EQ_INT(pl_quantize_row(PL_TYPE_I32, x, q, 4), PL_ERR_UNSUPPORTED_TYPE);
    CHECK_EQ_INT(pl_dequantize_row(23, q, x, 256), PL_ERR_UNSUPPORTED_TYPE);   /* IQ4_XS */
    CHECK_EQ_INT(pl_row_bytes(PL_TYPE_Q6_K, 512), 420);
    CHECK_EQ_INT(pl_row_bytes(PL_TYPE_Q5_0, 64), 44);
}

/* ---- GGUF writer ------------------------------------------------------------------------ */

/* A GGUF with one nested array (two arrays of u16: {1, 2} and {3}), hand-packed. */
static size_t nested_gguf(uint8_t *buf) {
    size_t n = 0;
#define PUT(v, size) do { uint64_t v_ = (v); memcpy(buf + n, &v_, size); n += size; } while (0)
    memcpy(buf, "GGUF", 4);
    n = 4;
    PUT(3, 4); PUT(0, 8); PUT(1, 8);                 /* version, tensors, kvs */
    PUT(6, 8); memcpy(buf + n, "nested", 6); n += 6;
    PUT(GGUF_ARRAY, 4); PUT(GGUF_ARRAY, 4); PUT(2, 8);
    PUT(GGUF_U16, 4); PUT(2, 8); PUT(1, 2); PUT(2, 2);
    PUT(GGUF_U16, 4); PUT(1, 8); PUT(3, 2);
#undef PUT
    return n;
}

static void test_writer_metadata(void) {
    sink out = {0};
    pl_gguf_writer w;
    pl_gguf_writer_init(&w, sink_write, &out);
    uint8_t u8 = 200; int8_t i8 = -100; uint16_t u16 = 60000; int16_t i16 = -30000;
    uint64_t u64 = 1ull << 60; int64_t i64 = -(1ll << 50); double f64 = 0.1;
    pl_gguf_add_scalar(&w, "u8", GGUF_U8, &u8);
    pl_gguf_add_scalar(&w, "i8", GGUF_I8, &i8);
    pl_gguf_add_scalar(&w, "u16", GGUF_U16, &u16);
    pl_gguf_add_scalar(&w, "i16", GGUF_I16, &i16);
    pl_gguf_add_u32(&w, "u32", 4000000000u);
    pl_gguf_add_i32(&w, "i32", -2000000000);
    pl_gguf_add_f32(&w, "f32", 1.5f);
    pl_gguf_add_bool(&w, "bool", 1);
    pl_gguf_add_str(&w, "str", "h\xc3\xa9llo");
    pl_gguf_add_scalar(&w, "u64", GGUF_U64, &u64);
    pl_gguf_add_scalar(&w, "i64", GGUF_I64, &i64);
    pl_gguf_add_scalar(&w, "f64", GGUF_F64, &f64);
    const int32_t ints[3] = {-1, 0, 7};
    const float floats[2] = {0.5f, -2.0f};
    const char *strs[3] = {"a", "", "ccc"};
    const uint64_t lens[2] = {2, 1};
    pl_gguf_add_array(&w, "arr.i32", GGUF_I32, ints, 3);
    pl_gguf_add_array(&w, "arr.f32", GGUF_F32, floats, 2);
    pl_gguf_add_array(&w, "arr.empty", GGUF_U8, NULL, 0);
    pl_gguf_add_str_array(&w, "arr.str", strs, NULL, 3);
    pl_gguf_add_str_array(&w, "arr.str_len", strs + 2, lens, 1);   /* "cc" */
    uint8_t nested_buf[128];
    pl_gguf nested;
    CHECK_EQ_INT(pl_gguf_parse(&nested, nested_buf, nested_gguf(nested_buf), NULL), PL_OK);
    pl_gguf_add_kv_copy(&w, &nested.kv[0]);
    CHECK_EQ_INT(pl_gguf_finish(&w), PL_OK);
    pl_gguf_writer_free(&w);
    CHECK_EQ_INT(out.len % 32, 0);   /* header padded to the alignment */

    pl_gguf g;
    pl_err err = {0};
    CHECK_EQ_INT(pl_gguf_parse(&g, out.data, out.len, &err), PL_OK);
    CHECK_EQ_INT(g.version, 3);
    CHECK_EQ_INT(g.n_kv, 18);
    int64_t v = 0;
    float f = 0;
    int b = 0;
    const char *s;
    uint64_t len;
    CHECK(pl_gguf_get_i64(&g, "u8", &v, &err) == PL_OK && v == 200);
    CHECK(pl_gguf_get_i64(&g, "i8", &v, &err) == PL_OK && v == -100);
    CHECK(pl_gguf_get_i64(&g, "u16", &v, &err) == PL_OK && v == 60000);
    CHECK(pl_gguf_get_i64(&g, "i16", &v, &err) == PL_OK && v == -30000);
    CHECK(pl_gguf_get_i64(&g, "u32", &v, &err) == PL_OK && v == 4000000000ll);
    CHECK(pl_gguf_get_i64(&g, "i32", &v, &err) == PL_OK && v == -2000000000);
    CHECK(pl_gguf_get_f32(&g, "f32", &f, &err) == PL_OK && f == 1.5f);
    CHECK(pl_gguf_get_bool(&g, "bool", &b, &err) == PL_OK && b == 1);
    CHECK(pl_gguf_get_str(&g, "str", &s, &len, &err) == PL_OK && len == 6 && !memcmp(s, "h\xc3\xa9llo", 6));
    CHECK(pl_gguf_get_i64(&g, "u64", &v, &err) == PL_OK && v == (int64_t)(1ull << 60));
    CHECK(pl_gguf_get_i64(&g, "i64", &v, &err) == PL_OK && v == -(1ll << 50));
    CHECK(pl_gguf_get_f32(&g, "f64", &f, &err) == PL_OK && f == 0.1f);
    CHECK_EQ_INT(pl_gguf_find(&g, "f64")->type, GGUF_F64);
    const pl_gguf_kv *kv = pl_gguf_find(&g, "arr.i32");
    double d = 0;
    CHECK(kv && kv->arr_type == GGUF_I32 && kv->arr_n == 3);
    CHECK(kv && pl_gguf_arr_num(kv, 0, &d) == PL_OK && d == -1);
    CHECK(kv && pl_gguf_arr_num(kv, 2, &d) == PL_OK && d == 7);
    kv = pl_gguf_find(&g, "arr.f32");
    CHECK(kv && pl_gguf_arr_num(kv, 1, &d) == PL_OK && d == -2.0);
    kv = pl_gguf_find(&g, "arr.empty");
    CHECK(kv && kv->arr_n == 0 && kv->arr_type == GGUF_U8);
    kv = pl_gguf_find(&g, "arr.str");
    CHECK(kv && kv->arr_type == GGUF_STRING && kv->arr_n == 3);
    if (kv) {
        const uint8_t *cursor = kv->value;
        for (int i = 0; i < 3; i++) {
            pl_gguf_str_next(&cursor, &s, &len);
            CHECK(len == strlen(strs[i]) && memcmp(s, strs[i], len) == 0);
        }
    }
    kv = pl_gguf_find(&g, "arr.str_len");
    if (kv) {
        const uint8_t *cursor = kv->value;
        pl_gguf_str_next(&cursor, &s, &len);
        CHECK(len == 2 && memcmp(s, "cc", 2) == 0);
    }
    kv = pl_gguf_find(&g, "nested");   /* copied byte for byte: 2 arrays, 12 + 4 and 12 + 2 bytes */
    CHECK(kv && kv->arr_type == GGUF_ARRAY && kv->arr_n == 2);
    CHECK(kv && memcmp(kv->value, nested.kv[0].value, 12 + 4 + 12 + 2) == 0);

    /* copying every entry again gives the same file */
    sink again = {0};
    pl_gguf_writer_init(&w, sink_write, &again);
    for (uint64_t i = 0; i < g.n_kv; i++) pl_gguf_add_kv_copy(&w, &g.kv[i]);
    CHECK_EQ_INT(pl_gguf_finish(&w), PL_OK);
    pl_gguf_writer_free(&w);
    CHECK(again.len == out.len && memcmp(again.data, out.data, out.len) == 0);
    pl_gguf_free(&g);
    pl_gguf_free(&nested);
    free(out.data);
    free(again.data);
}

static void test_writer_tensors(void) {
    sink out = {0};
    pl_gguf_writer w;
    pl_gguf_writer_init(&w, sink_write, &out);
    const int64_t ne_a[1] = {3}, ne_b[2] = {32, 2}, ne_c[3] = {5, 1, 2};
    pl_gguf_add_str(&w, "general.architecture", "test");
    pl_gguf_add_tensor(&w, "a", 1, ne_a, PL_TYPE_F32);   /* 12 bytes */
    pl_gguf_add_tensor(&w, "b", 2, ne_b, PL_TYPE_Q8_0);  /* 68 bytes */
    pl_gguf_add_tensor(&w, "c", 3, ne_c, PL_TYPE_F16);   /* 20 bytes */
    CHECK_EQ_INT(pl_gguf_write_header(&w), PL_OK);
    uint8_t data[100];
    for (int i = 0; i < 100; i++) data[i] = (uint8_t)(i * 7 + 1);
    for (int i = 0; i < 100; i += 7) pl_gguf_write_data(&w, data + i, i + 7 <= 100 ? 7 : 100 - (size_t)i);
    CHECK_EQ_INT(pl_gguf_finish(&w), PL_OK);
    pl_gguf_writer_free(&w);

    pl_gguf g;
    pl_err err = {0};
    CHECK_EQ_INT(pl_gguf_parse(&g, out.data, out.len, &err), PL_OK);
    CHECK_EQ_INT(g.n_tensors, 3);
    const pl_tensor *a = pl_gguf_tensor(&g, "a"), *b = pl_gguf_tensor(&g, "b"),
                    *c = pl_gguf_tensor(&g, "c");
    CHECK(a && b && c);
    if (a && b && c) {
        CHECK(a->type == PL_TYPE_F32 && a->n_dims == 1 && a->ne[0] == 3 && a->nbytes == 12);
        CHECK(b->type == PL_TYPE_Q8_0 && b->n_dims == 2 && b->ne[1] == 2 && b->nbytes == 68);
        CHECK(c->type == PL_TYPE_F16 && c->n_dims == 3 && c->ne[2] == 2 && c->nbytes == 20);
        CHECK(memcmp(a->data, data, 12) == 0);
        CHECK(memcmp(b->data, data + 12, 68) == 0);
        CHECK(memcmp(c->data, data + 80, 20) == 0);
        CHECK_EQ_INT((const uint8_t *)b->data - (const uint8_t *)a->data, 32);
        CHECK_EQ_INT((const uint8_t *)c->data - (const uint8_t *)b->data, 96);
        CHECK_EQ_INT(out.len, (size_t)((const uint8_t *)c->data - out.data) + 32);   /* padded */
    }
    pl_gguf_free(&g);
    free(out.data);

    /* misuse and failures */
    sink s = {0};
    pl_gguf_writer_init(&w, sink_write, &s);
    pl_gguf_add_tensor(&w, "a", 1, ne_a, PL_TYPE_F32);
    pl_gguf_write_header(&w);
    CHECK_EQ_INT(pl_gguf_write_data(&w, data, 13), PL_ERR_INVALID_ARGUMENT);   /* too much */
    pl_gguf_writer_free(&w);
    pl_gguf_writer_init(&w, sink_write, &s);
    pl_gguf_add_tensor(&w, "a", 1, ne_a, PL_TYPE_F32);
    pl_gguf_write_header(&w);
    pl_gguf_write_data(&w, data, 11);
    CHECK_EQ_INT(pl_gguf_finish(&w), PL_ERR_INVALID_STATE);   /* too little */
    pl_gguf_writer_free(&w);
    pl_gguf_writer_init(&w, sink_write, &s);
    CHECK_EQ_INT(pl_gguf_add_tensor(&w, "q", 1, ne_a, PL_TYPE_Q4_0), PL_ERR_INVALID_ARGUMENT);
    CHECK(strstr(w.err.msg, "multiple of 32") != NULL);
    CHECK_EQ_INT(pl_gguf_add_u32(&w, "later", 1), PL_ERR_INVALID_ARGUMENT);   /* sticky */
    pl_gguf_writer_free(&w);
    pl_gguf_writer_init(&w, sink_write, &s);
    CHECK_EQ_INT(pl_gguf_add_tensor(&w, "x", 1, ne_a, 4), PL_ERR_UNSUPPORTED_TYPE);   /* Q4_2 */
    pl_gguf_writer_free(&w);
    sink failing = {.fail_after = 10};
    pl_gguf_writer_init(&w, sink_write, &failing);
    pl_gguf_add_str(&w, "k", "v");
    CHECK_EQ_INT(pl_gguf_finish(&w), PL_ERR_INVALID_STATE);
    CHECK(strstr(w.err.msg, "writing") != NULL);
    pl_gguf_writer_free(&w);
    free(s.data);
    free(failing.data);
}

/* ---- tools ------------------------------------------------------------------------------- */

static char *tensor_name(const pl_tensor *t, char *buf, size_t cap) {
    snprintf(buf, cap, "%.*s", (int)t->name_len, t->name);
    return buf;
}

/* Dequantized copy of a tensor. */
static float *dequantized(const pl_tensor *t) {
    int64_t n = pl_tensor_nelems(t);
    float *x = malloc((size_t)n * sizeof *x);
    if (pl_dequantize_row(t->type, t->data, x, n) != PL_OK) {
        free(x);
        return NULL;
    }
    return x;
}

/* What pl_quantize_gguf promises for a tensor of rows of ne0: the type, or its fallback. */
static uint32_t expected_type(uint32_t type, int64_t ne0) {
    if (ne0 % 256 && type >= PL_TYPE_Q2_K && type <= PL_TYPE_Q6_K) {
        static const uint32_t fallback[] = {PL_TYPE_Q4_0, PL_TYPE_Q4_0, PL_TYPE_Q5_0,
                                            PL_TYPE_Q5_1, PL_TYPE_Q8_0};
        type = fallback[type - PL_TYPE_Q2_K];
    }
    return ne0 % 32 && type != PL_TYPE_F32 && type != PL_TYPE_F16 && type != PL_TYPE_BF16
               ? PL_TYPE_F16 : type;
}

static double bound_for(uint32_t type) {
    for (size_t k = 0; k < N_TYPES; k++)
        if (round_trip_bounds[k].type == type) return round_trip_bounds[k].max_rel_rms;
    return 0;   /* F32 */
}

/* Quantizes in[] to the type, parses the result, checks every tensor and the metadata.
 * Matrices must come back within slack x the Gaussian round-trip bound of their type. */
static void check_quantized(const uint8_t *in, size_t in_size, const char *type_name, uint32_t type,
                            double slack) {
    sink out = {0};
    char msg[256] = "";
    int st = pl_quantize_gguf(in, in_size, type_name, sink_write, &out, msg, sizeof msg);
    CHECK_EQ_INT(st, PL_OK);
    if (st) {
        fprintf(stderr, "quantize %s: %s\n", type_name, msg);
        return;
    }
    pl_gguf a, b;
    pl_err err = {0};
    CHECK_EQ_INT(pl_gguf_parse(&a, in, in_size, &err), PL_OK);
    CHECK_EQ_INT(pl_gguf_parse(&b, out.data, out.len, &err), PL_OK);
    CHECK_EQ_INT(b.n_tensors, a.n_tensors);
    int64_t ft = -1, qv = -1;
    CHECK(pl_gguf_get_i64(&b, "general.file_type", &ft, &err) == PL_OK && ft >= 0);
    CHECK(pl_gguf_get_i64(&b, "general.quantization_version", &qv, &err) == PL_OK && qv == 2);
    for (uint64_t i = 0; i < a.n_kv; i++) {   /* every other entry kept, same value bytes */
        const pl_gguf_kv *x = &a.kv[i];
        char key[128];
        snprintf(key, sizeof key, "%.*s", (int)x->key_len, x->key);
        if (!strcmp(key, "general.file_type") || !strcmp(key, "general.quantization_version")) continue;
        const pl_gguf_kv *y = pl_gguf_find(&b, key);
        size_t size = i + 1 < a.n_kv ? (size_t)((const uint8_t *)a.kv[i + 1].key - 8 - x->value) : 4;
        CHECK(y && y->type == x->type && y->arr_n == x->arr_n && memcmp(x->value, y->value, size) == 0);
    }
    char name[128];
    for (uint64_t i = 0; i < a.n_tensors; i++) {
        const pl_tensor *x = &a.tensors[i];
        const pl_tensor *y = pl_gguf_tensor(&b, tensor_name(x, name, sizeof name));
        CHECK(y != NULL);
        if (!y) continue;
        CHECK(y->n_dims == x->n_dims && memcmp(y->ne, x->ne, sizeof x->ne) == 0);
        if (x->n_dims == 1) {   /* norms stay as they are */
            CHECK(y->type == x->type && y->nbytes == x->nbytes && !memcmp(x->data, y->data, x->nbytes));
            continue;
        }
        uint32_t want = expected_type(type, x->ne[0]);
        CHECK_EQ_INT(y->type, want);
        float *fx = dequantized(x), *fy = dequantized(y);
        CHECK(fx && fy);
        if (fx && fy) {
            double e = rel_rms_error(fx, fy, pl_tensor_nelems(x));
            if (e > slack * bound_for(want))
                fprintf(stderr, "%s %s: error %.4f\n", type_name, name, e);
            CHECK(e <= slack * bound_for(want));
        }
        free(fx);
        free(fy);
    }
    pl_gguf_free(&a);
    pl_gguf_free(&b);
    free(out.data);
}

static void test_quantize_stories(void) {
    size_t size;
    uint8_t *in = read_file("models/stories260K.gguf", &size);
    /* stories260K: rows of 64 (K types fall back) and 172 (every block type falls back
     * to F16) */
    check_quantized(in, size, "F16", PL_TYPE_F16, 1);
    check_quantized(in, size, "q8_0", PL_TYPE_Q8_0, 1);
    check_quantized(in, size, "Q4_0", PL_TYPE_Q4_0, 1);
    check_quantized(in, size, "Q5_1", PL_TYPE_Q5_1, 1);
    check_quantized(in, size, "Q4_K", PL_TYPE_Q4_K, 1);

    /* F32 -> F32 copies the tensors unchanged */
    sink out = {0};
    CHECK_EQ_INT(pl_quantize_gguf(in, size, "F32", sink_write, &out, NULL, 0), PL_OK);
    pl_gguf a, b;
    pl_err err = {0};
    pl_gguf_parse(&a, in, size, &err);
    CHECK_EQ_INT(pl_gguf_parse(&b, out.data, out.len, &err), PL_OK);
    int same = b.n_tensors == a.n_tensors;
    for (uint64_t i = 0; same && i < a.n_tensors; i++)
        same = a.tensors[i].nbytes == b.tensors[i].nbytes &&
               !memcmp(a.tensors[i].data, b.tensors[i].data, a.tensors[i].nbytes);
    CHECK(same);
    pl_gguf_free(&a);
    pl_gguf_free(&b);
    free(out.data);

    char msg[256] = "";
    sink s = {0};
    CHECK_EQ_INT(pl_quantize_gguf(in, size, "Q4_9", sink_write, &s, msg, sizeof msg),
                 PL_ERR_INVALID_ARGUMENT);
    CHECK(strstr(msg, "Q4_9") && strstr(msg, "Q6_K"));
    CHECK_EQ_INT(pl_quantize_gguf(in, size - 100, "Q8_0", sink_write, &s, msg, sizeof msg),
                 PL_ERR_TRUNCATED);
    sink failing = {.fail_after = 100000};
    CHECK_EQ_INT(pl_quantize_gguf(in, size, "Q8_0", sink_write, &failing, msg, sizeof msg),
                 PL_ERR_INVALID_STATE);
    CHECK(strstr(msg, "writing") != NULL);
    free(failing.data);
    free(s.data);
    free(in);
}

enum { TINY_DIM = 256, TINY_LAYERS = 2, TINY_FFN = 768, TINY_VOCAB = 1000 };

static int synth_tiny(const char *type, double seed, sink *out) {
    return pl_synth_gguf(TINY_DIM, TINY_LAYERS, 4, 2, TINY_FFN, TINY_VOCAB, 128, type, seed,
                         sink_write, out, NULL, 0);
}

static void test_synth(void) {
    sink out = {0};
    CHECK_EQ_INT(synth_tiny("F32", 1, &out), PL_OK);
    pl_gguf g;
    pl_err err = {0};
    CHECK_EQ_INT(pl_gguf_parse(&g, out.data, out.len, &err), PL_OK);
    CHECK_EQ_INT(g.n_tensors, 3 + 9 * TINY_LAYERS);
    const char *s;
    uint64_t len;
    CHECK(pl_gguf_get_str(&g, "general.architecture", &s, &len, &err) == PL_OK && len == 5 &&
          !memcmp(s, "llama", 5));
    CHECK(pl_gguf_get_str(&g, "tokenizer.ggml.model", &s, &len, &err) == PL_OK && len == 5);
    const pl_gguf_kv *tokens = pl_gguf_find(&g, "tokenizer.ggml.tokens");
    const pl_gguf_kv *types = pl_gguf_find(&g, "tokenizer.ggml.token_type");
    CHECK(tokens && tokens->arr_n == TINY_VOCAB && types && types->arr_n == TINY_VOCAB);
    if (tokens && types) {
        /* <unk> <s> </s> <0x00> .. <0xFF> "!" ..., all unique */
        static const struct {
            int id;
            const char *text;
        } want[] = {{0, "<unk>"}, {1, "<s>"}, {2, "</s>"}, {3, "<0x00>"}, {13, "<0x0A>"},
                    {258, "<0xFF>"}, {259, "!"}, {353, "\342\226\201"}, {354, "\342\226\201a"},
                    {380, "aa"}, {381, "ab"}};
        const uint8_t *cursor = tokens->value;
        char prev[16] = "";
        int ok = 1, k = 0, distinct = 1;
        for (int i = 0; i < TINY_VOCAB; i++) {
            pl_gguf_str_next(&cursor, &s, &len);
            if (k < (int)(sizeof want / sizeof *want) && i == want[k].id) {
                ok &= len == strlen(want[k].text) && !memcmp(s, want[k].text, len);
                k++;
            }
            /* normal pieces are distinct (generated in order: never equal to the last) */
            if (i > 259) distinct &= !(strlen(prev) == len && !memcmp(prev, s, len));
            snprintf(prev, sizeof prev, "%.*s", (int)len, s);
        }
        CHECK(ok);
        CHECK(distinct);
        double t0, t1, t3, t300;
        pl_gguf_arr_num(types, 0, &t0);
        pl_gguf_arr_num(types, 1, &t1);
        pl_gguf_arr_num(types, 3, &t3);
        pl_gguf_arr_num(types, 300, &t300);
        CHECK(t0 == 2 && t1 == 3 && t3 == 6 && t300 == 1);
    }
    /* weights: norms are ones; attn_q ~ N(0, 0.02); output rows of fixed tokens are zero */
    const pl_tensor *norm = pl_gguf_tensor(&g, "blk.1.ffn_norm.weight");
    const pl_tensor *wq = pl_gguf_tensor(&g, "blk.0.attn_q.weight");
    const pl_tensor *out_w = pl_gguf_tensor(&g, "output.weight");
    const pl_tensor *embd = pl_gguf_tensor(&g, "token_embd.weight");
    CHECK(norm && wq && out_w && embd);
    if (norm && wq && out_w && embd) {
        const float *n = norm->data, *q = wq->data, *o = out_w->data, *e = embd->data;
        CHECK(norm->type == PL_TYPE_F32 && norm->ne[0] == TINY_DIM && n[0] == 1 && n[TINY_DIM - 1] == 1);
        double sum = 0, sum2 = 0;
        int64_t count = pl_tensor_nelems(wq);
        for (int64_t i = 0; i < count; i++) {
            sum += q[i];
            sum2 += (double)q[i] * q[i];
        }
        CHECK_NEAR(sum / (double)count, 0, 0.001);
        CHECK_NEAR(sqrt(sum2 / (double)count), 0.02, 0.001);
        int zero = 1;
        for (int64_t i = 0; i < 259 * TINY_DIM; i++) zero &= o[i] == 0;
        CHECK(zero);
        CHECK(o[259 * TINY_DIM] == 2.0f && e[0] == 8.0f && e[5 * TINY_DIM] == 8.0f);
    }
    pl_gguf_free(&g);

    /* reproducible from the seed */
    sink same = {0}, other = {0};
    CHECK_EQ_INT(synth_tiny("F32", 1, &same), PL_OK);
    CHECK_EQ_INT(synth_tiny("F32", 2, &other), PL_OK);
    CHECK(same.len == out.len && !memcmp(same.data, out.data, out.len));
    CHECK(other.len == out.len && memcmp(other.data, out.data, out.len) != 0);

    /* every type: a K type really is used for these rows (256 and 768), and quantizing the
     * F32 model gives the same tensors as synthesizing the type directly */
    static const char *const names[] = {"Q2_K", "Q3_K", "Q4_K", "Q5_K", "Q6_K", "Q8_0", "BF16"};
    for (size_t k = 0; k < sizeof names / sizeof *names; k++) {
        sink direct = {0}, via = {0};
        CHECK_EQ_INT(synth_tiny(names[k], 1, &direct), PL_OK);
        CHECK_EQ_INT(pl_quantize_gguf(out.data, out.len, names[k], sink_write, &via, NULL, 0), PL_OK);
        CHECK(direct.len == via.len);
        pl_gguf d;
        CHECK_EQ_INT(pl_gguf_parse(&d, direct.data, direct.len, &err), PL_OK);
        const pl_tensor *w2 = pl_gguf_tensor(&d, "blk.0.ffn_down.weight");
        CHECK(w2 && !strcmp(pl_type_name(w2->type), names[k]));
        /* the tensor data sections agree (the metadata differs in general.name) */
        size_t data_d = d.data_offset;
        pl_gguf v;
        CHECK_EQ_INT(pl_gguf_parse(&v, via.data, via.len, &err), PL_OK);
        CHECK(direct.len - data_d == via.len - v.data_offset &&
              !memcmp(direct.data + data_d, via.data + v.data_offset, direct.len - data_d));
        pl_gguf_free(&d);
        pl_gguf_free(&v);
        free(direct.data);
        free(via.data);
    }
    /* the synthetic weights have an outlier (channel 0) in every row: more error */
    check_quantized(out.data, out.len, "Q3_K", PL_TYPE_Q3_K, 1.5);
    check_quantized(out.data, out.len, "Q6_K", PL_TYPE_Q6_K, 1.5);

    char msg[256] = "";
    CHECK_EQ_INT(pl_synth_gguf(100, 1, 3, 1, 64, 512, 64, "F16", 0, sink_write, &other, msg, sizeof msg),
                 PL_ERR_INVALID_ARGUMENT);   /* 3 heads do not divide 100 */
    CHECK(strstr(msg, "heads") != NULL);
    CHECK_EQ_INT(pl_synth_gguf(64, 1, 2, 1, 64, 259, 64, "F16", 0, sink_write, &other, msg, sizeof msg),
                 PL_ERR_INVALID_ARGUMENT);   /* no room for a normal token */
    CHECK_EQ_INT(pl_synth_gguf(64, 1, 2, 1, 64, 512, 64, "Q8_K", 0, sink_write, &other, msg, sizeof msg),
                 PL_ERR_INVALID_ARGUMENT);   /* not a file type */
    CHECK_EQ_INT(pl_synth_gguf(64, 1, 2, 1, 64, 512, 64, "F16", -1, sink_write, &other, msg, sizeof msg),
                 PL_ERR_INVALID_ARGUMENT);
#ifndef __EMSCRIPTEN__   /* in wasm, NULL means "write through Module.plWrite" */
    CHECK_EQ_INT(pl_synth_gguf(64, 1, 2, 1, 64, 512, 64, "F16", 0, NULL, NULL, msg, sizeof msg),
                 PL_ERR_INVALID_ARGUMENT);
#endif
    free(out.data);
    free(same.data);
    free(other.data);
}

int main(void) {
    test_f16_bf16();
    test_q4_0_q4_1_blocks();
    test_q5_blocks();
    test_q8_blocks();
    test_q2_K_block();
    test_q3_K_block();
    test_q4_K_q5_K_blocks();
    test_q6_K_block();
    test_round_trips();
    test_exact_round_trips();
    test_row_errors();
    test_writer_metadata();
    test_writer_tensors();
    test_quantize_stories();
    test_synth();
    return check_report("test_quant");
}
