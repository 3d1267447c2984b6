/* Llama-family variants against an independent PyTorch reference: tiny random-weight
 * models written as llama.cpp would convert them (scripts/make_variant_fixtures.py) and the
 * logits scripts/torch_reference.py computed at every position of a 24-token sequence
 * (tests/fixtures/variants/NAME.json):
 *   llama3  arch llama: rope base 500000, 2 query heads per KV head, q/k rows permuted, F32
 *   smollm  arch llama: tied output, 3 query heads per KV head, F16 matrices
 *   qwen2   q/k/v biases, NeoX rope, base 1e6, tied output, F16
 *   phi3    fused q|k|v and gate|up, NeoX rope on 3/4 of each head, GQA, sliding window, F16
 *   llama31 llama3 plus Llama 3.1 rope scaling (frequency divisors in rope_freqs.weight)
 * Everything goes through the public C API: logits token by token (decode path), after a
 * batch of every prefix length (prefill path), with two threads, and greedy picks. Then
 * the test shows it would catch mistakes (wrong rope pairing, base or rotary width) and
 * that unsupported variants and missing tensors fail with messages naming them. */
#include <stdlib.h>
#include <string.h>

#include "../../csrc/pocketlm.h"
#include "testutil.h"

#define DIR "tests/fixtures/variants/"
#define MAX_POS 32
#define MAX_VOCAB 512

/* Tolerance. The reference computes in float64 from the same (float32 / float16-rounded)
 * weights, so the difference is the engine's float32 rounding alone: dot products of
 * length 48..96 summed in another order (~1e-7 relative each), through two layers of
 * RMSNorm, softmax and SwiGLU, on logits of magnitude up to ~8. Measured worst: 6e-6
 * absolute (a few float32 ulps of the largest logits). |got - want| <= 5e-5 + 1e-5 |want|
 * leaves ~10x room for other compilers and the SIMD kernels' summation order, and is tens
 * of thousands of times smaller than the mistakes check_sensitivity makes (wrong rope
 * pairing, base or rotary width move logits by 0.1 to several units). */
#define ATOL 5e-5f
#define RTOL 1e-5f

typedef struct {
    const char *name, *arch;
    int n_pos, n_vocab, context;
    int32_t tokens[MAX_POS];
    float logits[MAX_POS][MAX_VOCAB];
} reference;

static const char *after(const char *json, const char *key) {
    const char *p = strstr(json, key);
    if (!p) { fprintf(stderr, "reference has no %s\n", key); exit(1); }
    return p + strlen(key);
}

/* NAME.json: {"name", "arch", "n_vocab", "context", "tokens": [...], "logits": [[...], ...]} */
static void read_reference(reference *r, const char *name, const char *arch) {
    char path[128];
    size_t size;
    snprintf(path, sizeof path, DIR "%s.json", name);
    char *json = read_text(path, &size);
    char *s;
    r->name = name;
    r->arch = arch;
    r->n_vocab = (int)strtol(after(json, "\"n_vocab\":"), NULL, 10);
    r->context = (int)strtol(after(json, "\"context\":"), NULL, 10);
    if (r->n_vocab <= 0 || r->n_vocab > MAX_VOCAB) { fprintf(stderr, "bad n_vocab\n"); exit(1); }
    s = (char *)after(json, "\"tokens\": [");
    for (r->n_pos = 0; *s != ']' && r->n_pos < MAX_POS; r->n_pos++) {
        r->tokens[r->n_pos] = (int32_t)strtol(s, &s, 10);
        s += strspn(s, ", ");
    }
    s = (char *)after(json, "\"logits\": [");
    for (int p = 0; p < r->n_pos; p++) {
        s = strchr(s, '[') + 1;
        for (int i = 0; i < r->n_vocab; i++) {
            r->logits[p][i] = strtof(s, &s);
            s++;   /* ',' or ']' */
        }
    }
    pl_dealloc(json);
}

static int argmax(const float *x, int n) {
    int best = 0;
    for (int i = 1; i < n; i++)
        if (x[i] > x[best]) best = i;
    return best;
}

/* Loads a model buffer (pl_alloc'd; the context takes it). */
static pl_ctx *load_buffer(void *buf, size_t size, int n_threads, int *status) {
    pl_ctx *ctx = pl_create(n_threads);
    *status = pl_load(ctx, buf, size, NULL, 0, 0);
    return ctx;
}

static void *read_model(const char *name, size_t *size) {
    char path[128];
    snprintf(path, sizeof path, DIR "%s.gguf", name);
    return read_file(path, size);
}

/* Worst error over all positions, token by token. */
static float decode_error(pl_ctx *ctx, const reference *r) {
    float worst = 0;
    pl_reset(ctx);
    for (int t = 0; t < r->n_pos; t++) {
        if (pl_eval(ctx, &r->tokens[t], 1) != PL_OK) return INFINITY;
        float e = worst_error(pl_logits(ctx), r->logits[t], r->n_vocab, ATOL, RTOL);
        if (!(e <= worst)) worst = e;
    }
    return worst;
}

static void check_model(const reference *r) {
    size_t size;
    int st;
    void *buf = read_model(r->name, &size);
    pl_ctx *ctx = load_buffer(buf, size, 1, &st);
    if (st != PL_OK) fprintf(stderr, "load %s: %s\n", r->name, pl_last_error(ctx));
    CHECK_EQ_INT(st, PL_OK);
    if (st != PL_OK) { pl_destroy(ctx); return; }
    char arch[48];
    snprintf(arch, sizeof arch, "\"arch\":\"%s\"", r->arch);
    CHECK(strstr(pl_info_json(ctx), arch) != NULL);
    /* phi3's context is capped at its sliding window, where attention is still global */
    CHECK_EQ_INT(pl_context_length(ctx), r->context);

    /* decode path, and greedy agreement at every position */
    float worst = 0, margin = INFINITY;
    int greedy_agree = 0;
    CHECK_EQ_INT(pl_reset(ctx), PL_OK);
    for (int t = 0; t < r->n_pos; t++) {
        CHECK_EQ_INT(pl_eval(ctx, &r->tokens[t], 1), PL_OK);
        const float *got = pl_logits(ctx), *want = r->logits[t];
        float e = worst_error(got, want, r->n_vocab, ATOL, RTOL);
        if (!(e <= worst)) worst = e;
        int best = argmax(want, r->n_vocab);
        greedy_agree += argmax(got, r->n_vocab) == best;
        for (int i = 0; i < r->n_vocab; i++)
            if (i != best && want[best] - want[i] < margin) margin = want[best] - want[i];
    }
    printf("  %-7s token by token: worst error %.3f of tolerance; greedy %d/%d "
           "(smallest reference top-2 margin %.3f)\n", r->name, worst, greedy_agree, r->n_pos, margin);
    CHECK(worst <= 1.0f);
    CHECK_EQ_INT(greedy_agree, r->n_pos);

    /* prefill path: a batch of each prefix length, then one more token decoded */
    pl_ctx *threaded = pl_create(2);
    void *buf2 = read_model(r->name, &size);
    CHECK_EQ_INT(pl_load(threaded, buf2, size, NULL, 0, 0), PL_OK);
    worst = 0;
    int same_bits = 1;
    for (int k = 1; k < r->n_pos; k++) {
        CHECK_EQ_INT(pl_reset(ctx), PL_OK);
        CHECK_EQ_INT(pl_eval(ctx, r->tokens, k), PL_OK);
        float e = worst_error(pl_logits(ctx), r->logits[k - 1], r->n_vocab, ATOL, RTOL);
        if (!(e <= worst)) worst = e;
        /* two threads split rows and heads, not sums: the same bits */
        CHECK_EQ_INT(pl_reset(threaded), PL_OK);
        CHECK_EQ_INT(pl_eval(threaded, r->tokens, k), PL_OK);
        same_bits &= memcmp(pl_logits(threaded), pl_logits(ctx), (size_t)r->n_vocab * sizeof(float)) == 0;
        CHECK_EQ_INT(pl_eval(ctx, &r->tokens[k], 1), PL_OK);
        e = worst_error(pl_logits(ctx), r->logits[k], r->n_vocab, ATOL, RTOL);
        if (!(e <= worst)) worst = e;
    }
    printf("  %-7s batches of 1..%d: worst error %.3f of tolerance\n", r->name, r->n_pos - 1, worst);
    CHECK(worst <= 1.0f);
    CHECK(same_bits);
    pl_destroy(threaded);
    pl_destroy(ctx);
}

/* Overwrites every occurrence of from with to (same length) in buf. */
static void replace_all(uint8_t *buf, size_t size, const char *from, const char *to) {
    size_t n = strlen(from);
    for (size_t i = 0; i + n <= size; i++)
        if (memcmp(buf + i, from, n) == 0) memcpy(buf + i, to, n);
}

/* The value of metadata key (GGUF: key bytes, u32 type, value). */
static uint8_t *value_of(uint8_t *buf, size_t size, const char *key) {
    size_t n = strlen(key);
    for (size_t i = 0; i + n + 8 <= size; i++)
        if (memcmp(buf + i, key, n) == 0) return buf + i + n + 4;
    fprintf(stderr, "no key %s\n", key);
    exit(1);
}

/* A model changed in one respect (buf) loads, but its logits are far outside the
 * tolerance: the fixtures would catch that mistake. */
static void check_caught(void *buf, size_t size, const reference *r, const char *mistake) {
    int st;
    pl_ctx *ctx = load_buffer(buf, size, 1, &st);
    CHECK_EQ_INT(st, PL_OK);
    float e = decode_error(ctx, r);
    printf("  %s: worst error %.0f of tolerance\n", mistake, e);
    CHECK(e > 100);
    pl_destroy(ctx);
}

/* The fixtures would catch the mistakes a conversion or an architecture can make. */
static void check_sensitivity(const reference *llama3, const reference *qwen2, const reference *phi3,
                              const reference *llama31) {
    size_t size;
    uint8_t *buf;

    /* qwen2 read as llama: adjacent-pair rotation instead of NeoX halves */
    buf = read_model("qwen2", &size);
    replace_all(buf, size, "qwen2", "llama");
    check_caught(buf, size, qwen2, "qwen2 with llama's rope pairing");

    /* Llama 3 with Llama 2's rope base */
    buf = read_model("llama3", &size);
    float base = 10000;
    memcpy(value_of(buf, size, "llama.rope.freq_base"), &base, sizeof base);
    check_caught(buf, size, llama3, "llama3 with rope base 10000");

    /* phi3 rotating whole heads instead of rope.dimension_count = 12 of 16 values */
    buf = read_model("phi3", &size);
    uint32_t dims = 16;
    memcpy(value_of(buf, size, "phi3.rope.dimension_count"), &dims, sizeof dims);
    check_caught(buf, size, phi3, "phi3 with full rotary");

    /* Llama 3.1 without its rope frequency factors (the tensor renamed away) */
    buf = read_model("llama31", &size);
    replace_all(buf, size, "rope_freqs.weight", "rope_freqX.weight");
    check_caught(buf, size, llama31, "llama31 without rope_freqs");
}

/* Loading fails with the given status and a message containing want. */
static void check_refused(void *buf, size_t size, int status, const char *want) {
    int st;
    pl_ctx *ctx = load_buffer(buf, size, 1, &st);
    const char *msg = pl_last_error(ctx);
    printf("  refused: %s\n", msg);
    CHECK_EQ_INT(st, status);
    CHECK(strstr(msg, want) != NULL);
    pl_destroy(ctx);
}

static void check_errors(void) {
    size_t size;
    uint8_t *buf;
    /* llama weights read as qwen2, which requires q/k/v biases */
    buf = read_model("llama3", &size);
    replace_all(buf, size, "llama", "qwen2");
    check_refused(buf, size, PL_ERR_BAD_FORMAT, "missing tensor blk.0.attn_q.bias");
    /* a layer tensor renamed away */
    buf = read_model("llama3", &size);
    replace_all(buf, size, "blk.1.ffn_gate.weight", "blk.1.ffn_gatX.weight");
    check_refused(buf, size, PL_ERR_BAD_FORMAT, "missing tensor blk.1.ffn_gate.weight");
    /* phi3 without its fused gate|up matrix */
    buf = read_model("phi3", &size);
    replace_all(buf, size, "blk.0.ffn_up.weight", "blk.0.ffn_uX.weight");
    check_refused(buf, size, PL_ERR_BAD_FORMAT, "missing tensor blk.0.ffn_up.weight");
    /* rope variants that are not implemented */
    buf = read_model("rope_yarn", &size);
    check_refused(buf, size, PL_ERR_UNSUPPORTED_ARCH, "rope scaling type \"yarn\"");
    buf = read_model("rope_longrope", &size);
    check_refused(buf, size, PL_ERR_UNSUPPORTED_ARCH, "rope_factors_long.weight");
    /* an architecture outside the family */
    buf = read_model("qwen2", &size);
    replace_all(buf, size, "qwen2", "qwen3");
    check_refused(buf, size, PL_ERR_UNSUPPORTED_ARCH, "architecture \"qwen3\" is not supported");
}

int main(void) {
    static reference refs[5];
    const char *models[5][2] = {{"llama3", "llama"}, {"smollm", "llama"}, {"qwen2", "qwen2"}, {"phi3", "phi3"},
                                {"llama31", "llama"}};
    for (int i = 0; i < 5; i++) {
        read_reference(&refs[i], models[i][0], models[i][1]);
        check_model(&refs[i]);
    }
    check_sensitivity(&refs[0], &refs[2], &refs[3], &refs[4]);
    check_errors();
    return check_report("variants");
}
