/* T5 encoder-decoders against an independent PyTorch forward pass: tiny random-weight
 * models written as llama.cpp's converter writes T5 (scripts/make_t5_fixtures.py) and the
 * decoder's logits after positions 0, 1, 7, 63, 64, 129 and 139 of a 140-token decoder
 * input over a 150-token encoder input (relative distances past 128: every bucket kind):
 *   t5_gated      FLAN-T5 style: gated GELU, untied output, 4 heads x 24 != d_model 64,
 *                 2 encoder and 3 decoder layers, F32
 *   t5_relu_tied  T5 v1.0 style: ReLU, tied output (scaled by d_model^-0.5), F16 matrices;
 *                 t5_relu_tied_copy the same with output.weight written as a copy
 * Through the public C API: pl_encode, then the decoder tokens in batches that end at
 * those positions (sizes 1, 1, 6, 56, 1, 65, 10: one crosses the 64-token batch), with 1
 * and 2 threads (the same bits); then the calls that must fail, and the gated model
 * quantized to Q8_0 and Q4_0. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../../csrc/pocketlm.h"
#include "testutil.h"

#define DIR "tests/fixtures/t5/"
#define MAX_IDS 256
#define MAX_POSITIONS 8
#define MAX_VOCAB 512

/* The reference is float64 on the same (float32 / float16-rounded) weights: the difference
 * is the engine's float32 rounding through 5 layers (150-key softmaxes, dot products of
 * 64..128 terms) on logits up to ~6. */
#define ATOL 1e-4f
#define RTOL 1e-5f

typedef struct {
    int n_enc, n_dec, n_pos, n_vocab;
    int32_t enc[MAX_IDS], dec[MAX_IDS];
    int positions[MAX_POSITIONS];
    float logits[MAX_POSITIONS][MAX_VOCAB];
} reference;

static char *after(char *json, const char *key) {
    char *p = strstr(json, key);
    if (!p) { fprintf(stderr, "reference has no %s\n", key); exit(1); }
    return p + strlen(key);
}

static int read_ints(char *s, int32_t *out, int cap) {
    int n = 0;
    while (*s != ']' && n < cap) {
        out[n++] = (int32_t)strtol(s, &s, 10);
        s += strspn(s, ", ");
    }
    return n;
}

static void read_reference(reference *r, const char *name, int n_vocab) {
    char path[128];
    size_t size;
    snprintf(path, sizeof path, DIR "%s.json", name);
    char *json = read_text(path, &size);
    int32_t pos[MAX_POSITIONS];
    r->n_vocab = n_vocab;
    r->n_enc = read_ints(after(json, "\"encoder\": ["), r->enc, MAX_IDS);
    r->n_dec = read_ints(after(json, "\"decoder\": ["), r->dec, MAX_IDS);
    r->n_pos = read_ints(after(json, "\"positions\": ["), pos, MAX_POSITIONS);
    char *s = after(json, "\"logits\": [");
    for (int p = 0; p < r->n_pos; p++) {
        r->positions[p] = pos[p];
        s = strchr(s, '[') + 1;
        for (int i = 0; i < n_vocab; i++) {
            r->logits[p][i] = strtof(s, &s);
            s++;   /* ',' or ']' */
        }
    }
    pl_dealloc(json);
}

static pl_ctx *load(const char *name, int n_threads) {
    char path[128];
    size_t size;
    snprintf(path, sizeof path, DIR "%s.gguf", name);
    void *buf = read_file(path, &size);
    pl_ctx *ctx = pl_create(n_threads);
    int st = pl_load(ctx, buf, size, NULL, 0, 0);
    if (st != PL_OK) fprintf(stderr, "load %s: %s\n", name, pl_last_error(ctx));
    CHECK_EQ_INT(st, PL_OK);
    return ctx;
}

/* Encodes, then feeds the decoder in batches ending at the reference positions; returns
 * the worst error (fraction of the tolerance) and keeps each position's logits in got. */
static float run(pl_ctx *ctx, const reference *r, float got[][MAX_VOCAB]) {
    float worst = 0;
    if (pl_encode(ctx, r->enc, r->n_enc) != PL_OK) return INFINITY;
    for (int p = 0, next = 0; p < r->n_pos; p++) {
        int end = r->positions[p] + 1;
        if (pl_eval(ctx, r->dec + next, end - next) != PL_OK) return INFINITY;
        next = end;
        memcpy(got[p], pl_logits(ctx), (size_t)r->n_vocab * sizeof(float));
        float e = worst_error(got[p], r->logits[p], (size_t)r->n_vocab, ATOL, RTOL);
        if (!(e <= worst)) worst = e;
    }
    return worst;
}

static void check_model(const char *name, const char *ffn) {
    pl_ctx *ctx = load(name, 1), *threaded = load(name, 2);
    const char *info = pl_info_json(ctx);
    CHECK(info && strstr(info, "\"arch\":\"t5\"") && strstr(info, "\"encoder_decoder\":true") &&
          strstr(info, "\"decoder_start_token\":0") && strstr(info, "\"tokenizer\":\"ugm\""));
    int n_vocab = info ? atoi(strstr(info, "\"vocab\":") + 8) : 0;
    CHECK(n_vocab > 0 && n_vocab <= MAX_VOCAB);
    static reference r;
    static float got[MAX_POSITIONS][MAX_VOCAB], got2[MAX_POSITIONS][MAX_VOCAB];
    read_reference(&r, name, n_vocab);
    float worst = run(ctx, &r, got), worst2 = run(threaded, &r, got2);
    printf("  %-13s (%s): worst error %.3f of tolerance over %d positions; 2 threads %.3f\n", name, ffn, worst,
           r.n_pos, worst2);
    CHECK(worst <= 1.0f);
    CHECK(memcmp(got, got2, sizeof got) == 0);   /* threads split heads and rows, not sums */

    /* each prompt replaces the one before: another, shorter one decoded a little, then the
     * reference's again gives the same logits */
    CHECK_EQ_INT(pl_encode(ctx, r.enc + 40, 30), PL_OK);
    CHECK_EQ_INT(pl_eval(ctx, r.dec, 5), PL_OK);
    CHECK(run(ctx, &r, got2) <= 1.0f && memcmp(got, got2, sizeof got) == 0);

    /* refused: decoding before encoding, encoding past the context, bad ids, introspection */
    CHECK_EQ_INT(pl_reset(ctx), PL_OK);
    CHECK_EQ_INT(pl_eval(ctx, r.dec, 1), PL_ERR_INVALID_STATE);
    static int32_t many[600];
    CHECK_EQ_INT(pl_encode(ctx, many, pl_context_length(ctx) + 1), PL_ERR_CONTEXT_OVERFLOW);
    int32_t bad = n_vocab;
    CHECK_EQ_INT(pl_encode(ctx, &bad, 1), PL_ERR_INVALID_ARGUMENT);
    CHECK_EQ_INT(pl_encode(ctx, r.enc, 0), PL_ERR_INVALID_ARGUMENT);
    float buf[16];
    CHECK_EQ_INT(pl_set_inspect(ctx, buf, NULL, 1), PL_ERR_INVALID_STATE);
    pl_destroy(ctx);
    pl_destroy(threaded);
}

/* The model quantized (pl_quantize_gguf, in memory, matrices repacked into 4-row groups
 * at load, cross-attention's included): its logits follow the reference's as the
 * weights' rounding allows. These random models amplify rounding (unscaled attention
 * scores of a few units, 150 keys, 5 layers): the PyTorch forward itself, on weights
 * rounded per 32-block to 8 and 4 bits, correlates 0.996 and 0.69 with its unrounded
 * logits (moving single ones by 0.46 and 3.2); the engine, which also rounds activations
 * to 8 bits, gets 0.989 and 0.685. A mix-up of matrices or heads takes that to ~0.
 * Returns the correlation over all positions. */
static float quantized_correlation(const char *name, const char *type) {
    char path[128];
    size_t size;
    snprintf(path, sizeof path, DIR "%s.gguf", name);
    void *file = read_file(path, &size);
    mem_sink out = {0};
    char msg[256];
    CHECK_EQ_INT(pl_quantize_gguf(file, size, type, mem_sink_write, &out, msg, sizeof msg), PL_OK);
    pl_dealloc(file);
    void *buf = pl_alloc(out.len);
    memcpy(buf, out.data, out.len);
    free(out.data);
    pl_ctx *ctx = pl_create(1);
    CHECK_EQ_INT(pl_load(ctx, buf, out.len, NULL, 0, 0), PL_OK);
    static reference r;
    static float got[MAX_POSITIONS][MAX_VOCAB];
    read_reference(&r, name, atoi(strstr(pl_info_json(ctx), "\"vocab\":") + 8));
    CHECK(run(ctx, &r, got) < INFINITY);
    double sx = 0, sy = 0, sxx = 0, syy = 0, sxy = 0, n = (double)r.n_pos * r.n_vocab;
    for (int p = 0; p < r.n_pos; p++)
        for (int i = 0; i < r.n_vocab; i++) {
            double x = got[p][i], y = r.logits[p][i];
            sx += x, sy += y, sxx += x * x, syy += y * y, sxy += x * y;
        }
    pl_destroy(ctx);
    return (float)((n * sxy - sx * sy) / sqrt((n * sxx - sx * sx) * (n * syy - sy * sy)));
}

/* A tied model whose file has output.weight as a copy of token_embd is read as tied (the
 * output scaled, one matrix in memory): the same logits as without the copy. */
static void check_output_copy(void) {
    static reference r;
    static float got[MAX_POSITIONS][MAX_VOCAB], copy[MAX_POSITIONS][MAX_VOCAB];
    pl_ctx *ctx = load("t5_relu_tied", 1), *dup = load("t5_relu_tied_copy", 1);
    read_reference(&r, "t5_relu_tied", atoi(strstr(pl_info_json(ctx), "\"vocab\":") + 8));
    CHECK(strstr(pl_info_json(dup), "\"tied_output\":true") != NULL);
    CHECK(run(ctx, &r, got) <= 1.0f && run(dup, &r, copy) <= 1.0f && memcmp(got, copy, sizeof got) == 0);
    pl_destroy(ctx);
    pl_destroy(dup);
}

/* pl_encode on a decoder-only model is an error, not a crash. */
static void check_decoder_only(void) {
    size_t size;
    void *buf = read_file("models/stories260K.gguf", &size);
    pl_ctx *ctx = pl_create(1);
    CHECK_EQ_INT(pl_load(ctx, buf, size, NULL, 0, 0), PL_OK);
    int32_t id = 1;
    CHECK_EQ_INT(pl_encode(ctx, &id, 1), PL_ERR_INVALID_STATE);
    CHECK(strstr(pl_last_error(ctx), "not an encoder-decoder") != NULL);
    pl_destroy(ctx);
}

int main(void) {
    check_model("t5_gated", "gated GELU");
    check_model("t5_relu_tied", "ReLU, tied");
    for (int i = 0; i < 2; i++) {
        static const char *const types[] = {"Q8_0", "Q4_0"};
        static const float least[] = {0.98f, 0.6f};
        float corr = quantized_correlation("t5_gated", types[i]);
        printf("  t5_gated as %s: logits' correlation with the reference %.4f (at least %.2f)\n", types[i], corr,
               least[i]);
        CHECK(corr >= least[i]);
    }
    check_output_copy();
    check_decoder_only();
    return check_report("t5");
}
