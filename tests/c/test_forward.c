/* Forward pass against llama2.c run.c: the logits it printed at every position of
 * "Once upon a time" + its greedy continuation (tests/fixtures/reference_logits_*.jsonl),
 * token by token (decode path) and as one batch (prefill path), for the .bin and the
 * .gguf copy of stories260K, through the public C API. Introspection (pl_set_inspect)
 * against an independent PyTorch forward pass of the same tokens
 * (tests/fixtures/stories260K-inspect.json, from gen_llama_inspect.py, whose own logits
 * agree with run.c's). */
#include <stdlib.h>
#include <string.h>

#include "../../csrc/pocketlm.h"
#include "testutil.h"

#define N_POS 24
#define N_VOCAB 512
#define N_LAYERS 5
#define N_HEADS 8
#define DIM 64

static int ref_tokens[N_POS];
static float ref_logits[N_POS][N_VOCAB];

/* Lines look like {"pos": 3, "token": 261, "logits": [-6.71424,...]} */
static void read_reference(void) {
    FILE *f = fopen("tests/fixtures/reference_logits_once_upon_a_time.jsonl", "r");
    if (!f) { fprintf(stderr, "missing reference logits\n"); exit(1); }
    static char line[1 << 16];
    for (int p = 0; p < N_POS; p++) {
        if (!fgets(line, sizeof line, f)) { fprintf(stderr, "short reference\n"); exit(1); }
        int pos;
        sscanf(strstr(line, "\"pos\":") + 6, "%d", &pos);
        sscanf(strstr(line, "\"token\":") + 8, "%d", &ref_tokens[p]);
        CHECK_EQ_INT(pos, p);
        char *s = strchr(line, '[') + 1;
        for (int i = 0; i < N_VOCAB; i++) {
            ref_logits[p][i] = strtof(s, &s);
            s++; /* ',' or ']' */
        }
    }
    fclose(f);
}

static pl_ctx *load(const char *model, const char *tokenizer) {
    pl_ctx *ctx = pl_create(1);
    size_t size, tok_size = 0;
    void *buf = read_file(model, &size);
    void *tok = tokenizer ? read_file(tokenizer, &tok_size) : NULL;
    int st = pl_load(ctx, buf, size, tok, tok_size, 0);
    if (st != PL_OK) fprintf(stderr, "load %s: %s\n", model, pl_last_error(ctx));
    CHECK_EQ_INT(st, PL_OK);
    pl_dealloc(tok);
    return ctx;
}

/* run.c printed 6 significant digits: compare at that precision. */
static float max_error(const float *logits, const float *ref) {
    float worst = 0;
    for (int i = 0; i < N_VOCAB; i++) {
        float e = fabsf(logits[i] - ref[i]) / (1e-4f + 1e-5f * fabsf(ref[i]));
        if (e > worst) worst = e;
    }
    return worst;
}

static void check_model(const char *name, pl_ctx *ctx, float saved[N_POS][N_VOCAB]) {
    int32_t ids[32];
    int n = 0;
    CHECK_EQ_INT(pl_tokenize(ctx, "Once upon a time", 16, 1, 0, ids, 32, &n), PL_OK);
    CHECK_EQ_INT(n, 5);
    for (int i = 0; i < n && i < 5; i++) CHECK_EQ_INT(ids[i], ref_tokens[i]);

    /* decode path: one token at a time */
    CHECK_EQ_INT(pl_reset(ctx), PL_OK);
    float worst = 0;
    for (int p = 0; p < N_POS; p++) {
        int32_t tok = ref_tokens[p];
        CHECK_EQ_INT(pl_eval(ctx, &tok, 1), PL_OK);
        float e = max_error(pl_logits(ctx), ref_logits[p]);
        if (e > worst) worst = e;
        memcpy(saved[p], pl_logits(ctx), sizeof saved[p]);
    }
    printf("%s token by token: worst logit error %.3f of tolerance\n", name, worst);
    CHECK(worst <= 1.0f);

    /* prefill path: all positions in one batch give the last position's logits */
    CHECK_EQ_INT(pl_reset(ctx), PL_OK);
    int32_t all[N_POS];
    for (int p = 0; p < N_POS; p++) all[p] = ref_tokens[p];
    CHECK_EQ_INT(pl_eval(ctx, all, N_POS), PL_OK);
    float e = max_error(pl_logits(ctx), ref_logits[N_POS - 1]);
    printf("%s batched: logit error %.3f of tolerance\n", name, e);
    CHECK(e <= 1.0f);
    CHECK_EQ_INT(pl_position(ctx), N_POS);
}

static float bin_logits[N_POS][N_VOCAB], gguf_logits[N_POS][N_VOCAB];

enum { INSPECT_ATT = N_LAYERS * N_HEADS * N_POS * N_POS, INSPECT_HID = N_POS * (N_LAYERS + 1) * DIM };

/* Every layer's and head's attention weights and the residual stream after the embedding
 * and each layer, at every position, batched or token by token, against PyTorch (float64):
 * attention weights within 2e-6 + 1e-4 relative (the buffer's zeros above the diagonal
 * exactly), the residual stream (values up to ~10) within 1e-5 + 1e-4 relative. */
static void check_inspect(pl_ctx *ctx, int by_token, float *att, float *hid) {
    size_t size;
    char *json = read_text("tests/fixtures/stories260K-inspect.json", &size);
    float *idx = fixture_tensor(json, "idx", N_POS);
    float *want_att = fixture_tensor(json, "attention", INSPECT_ATT);
    float *want_hid = fixture_tensor(json, "hidden", INSPECT_HID);
    int32_t ids[N_POS];
    for (int p = 0; p < N_POS; p++) {
        ids[p] = (int32_t)idx[p];
        CHECK_EQ_INT(ids[p], ref_tokens[p]);
    }
    memset(att, 0, INSPECT_ATT * sizeof(float));
    CHECK_EQ_INT(pl_reset(ctx), PL_OK);
    CHECK_EQ_INT(pl_set_inspect(ctx, att, hid, N_POS), PL_OK);
    for (int p = 0; p < N_POS; p += by_token ? 1 : N_POS)
        CHECK_EQ_INT(pl_eval(ctx, ids + p, by_token ? 1 : N_POS), PL_OK);
    float e_att = worst_error(att, want_att, INSPECT_ATT, 2e-6f, 1e-4f);
    float e_hid = worst_error(hid, want_hid, INSPECT_HID, 1e-5f, 1e-4f);
    printf("inspect %s: attention worst error %.3f, hidden %.3f of tolerance\n",
           by_token ? "token by token" : "batched", e_att, e_hid);
    CHECK(e_att <= 1.0f && e_hid <= 1.0f);
    CHECK_EQ_INT(pl_set_inspect(ctx, NULL, NULL, 0), PL_OK);
    free(idx);
    free(want_att);
    free(want_hid);
    pl_dealloc(json);
}

static float inspect_att[2][INSPECT_ATT], inspect_hid[2][INSPECT_HID];

/* Across the forward pass's batches (PL_MAX_BATCH = 64 tokens): 120 tokens of a text
 * evaluated at once record what they record token by token (the path checked against
 * PyTorch above), within float rounding. */
static void check_inspect_long(pl_ctx *ctx) {
    enum { P = 120 };
    static const char text[] = "Once upon a time, there was a little girl named Lily. She loved to play outside in the "
                               "park. One day, she saw a big, red ball. She wanted to play with it, but it was too high. "
                               "Lily's mom said, \"Lily, let's go to the park.\" Lily was sad and didn't know what to do. "
                               "She said, \"I want to play with your ball, but I can't find it.\"";
    static int32_t ids[sizeof text + 2];
    int n = 0;
    CHECK_EQ_INT(pl_tokenize(ctx, text, (int)sizeof text - 1, 1, 0, ids, (int)sizeof text + 2, &n), PL_OK);
    CHECK(n >= P);
    static float att[2][N_LAYERS * N_HEADS * P * P], hid[2][P * (N_LAYERS + 1) * DIM];
    for (int k = 0; k < 2; k++) {
        CHECK_EQ_INT(pl_reset(ctx), PL_OK);
        CHECK_EQ_INT(pl_set_inspect(ctx, att[k], hid[k], P), PL_OK);
        for (int t = 0; t < P; t += k ? 1 : P) CHECK_EQ_INT(pl_eval(ctx, ids + t, k ? 1 : P), PL_OK);
    }
    CHECK_EQ_INT(pl_set_inspect(ctx, NULL, NULL, 0), PL_OK);
    float e_att = 0, e_hid = 0;
    for (int lh = 0; lh < N_LAYERS * N_HEADS; lh++)   /* the rows' written parts */
        for (int i = 0; i < P; i++) {
            size_t at = ((size_t)lh * P + i) * P;
            e_att = fmaxf(e_att, worst_error(att[0] + at, att[1] + at, (size_t)i + 1, 2e-6f, 1e-4f));
        }
    e_hid = worst_error(hid[0], hid[1], (size_t)P * (N_LAYERS + 1) * DIM, 1e-5f, 1e-4f);
    printf("inspect, %d tokens batched against token by token: attention %.3f, hidden %.3f of tolerance\n",
           P, e_att, e_hid);
    CHECK(e_att <= 1.0f && e_hid <= 1.0f);
}

int main(void) {
    read_reference();
    pl_ctx *bin = load("models/stories260K.bin", "models/tok512.bin");
    pl_ctx *gguf = load("models/stories260K.gguf", NULL);
    check_model("stories260K.bin", bin, bin_logits);
    check_model("stories260K.gguf", gguf, gguf_logits);
    /* same weights, same kernels: the two formats give the same bits */
    CHECK(memcmp(bin_logits, gguf_logits, sizeof bin_logits) == 0);

    /* 2 threads split rows and heads differently but sum each dot product the same way */
    pl_ctx *threaded = pl_create(2);
    size_t size;
    void *buf = read_file("models/stories260K.gguf", &size);
    CHECK_EQ_INT(pl_load(threaded, buf, size, NULL, 0, 0), PL_OK);
    int32_t all[N_POS];
    for (int p = 0; p < N_POS; p++) all[p] = ref_tokens[p];
    CHECK_EQ_INT(pl_eval(threaded, all, N_POS), PL_OK);
    CHECK_EQ_INT(pl_eval(gguf, all, 0), PL_ERR_INVALID_ARGUMENT);
    CHECK_EQ_INT(pl_reset(gguf), PL_OK);
    CHECK_EQ_INT(pl_eval(gguf, all, N_POS), PL_OK);
    CHECK(memcmp(pl_logits(threaded), pl_logits(gguf), N_VOCAB * sizeof(float)) == 0);

    /* the next-token distribution: softmax of run.c's logits (in double) at temperatures 1 and 0.5 */
    static float probs[N_VOCAB], want[N_VOCAB];
    for (int k = 1; k <= 2; k++) {
        double max = ref_logits[N_POS - 1][0], sum = 0;
        for (int i = 1; i < N_VOCAB; i++) max = fmax(max, ref_logits[N_POS - 1][i]);
        for (int i = 0; i < N_VOCAB; i++) sum += exp((ref_logits[N_POS - 1][i] - max) * k);
        for (int i = 0; i < N_VOCAB; i++) want[i] = (float)(exp((ref_logits[N_POS - 1][i] - max) * k) / sum);
        CHECK_EQ_INT(pl_probabilities(gguf, 1.0f / (float)k, probs), PL_OK);
        float e = worst_error(probs, want, N_VOCAB, 1e-6f, 1e-3f);
        printf("probabilities at temperature %g: worst error %.3f of tolerance\n", 1.0 / k, e);
        CHECK(e <= 1.0f);
    }
    /* a tiny temperature: all of it on the best token, no overflow to NaN */
    CHECK_EQ_INT(pl_probabilities(gguf, 1e-30f, probs), PL_OK);
    int best = 0;
    for (int i = 1; i < N_VOCAB; i++) best = ref_logits[N_POS - 1][i] > ref_logits[N_POS - 1][best] ? i : best;
    CHECK(probs[best] == 1.0f);
    CHECK_EQ_INT(pl_probabilities(gguf, 0.0f, probs), PL_ERR_INVALID_ARGUMENT);
    CHECK_EQ_INT(pl_reset(gguf), PL_OK);
    CHECK_EQ_INT(pl_probabilities(gguf, 1.0f, probs), PL_ERR_INVALID_STATE);

    check_inspect(gguf, 1, inspect_att[0], inspect_hid[0]);
    check_inspect(gguf, 0, inspect_att[0], inspect_hid[0]);
    check_inspect(threaded, 0, inspect_att[1], inspect_hid[1]);   /* 2 threads: the same bits */
    check_inspect_long(gguf);
    CHECK(memcmp(inspect_att[0], inspect_att[1], sizeof inspect_att[0]) == 0);
    CHECK(memcmp(inspect_hid[0], inspect_hid[1], sizeof inspect_hid[0]) == 0);

    pl_destroy(bin);
    pl_destroy(gguf);
    pl_destroy(threaded);
    return check_report("forward");
}
