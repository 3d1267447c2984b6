/* libFuzzer target: arbitrary bytes as a model file (GGUF or llama2.c, chosen by the
 * magic as pl_load does) and, when it loads, as text to tokenize (else a few valid ids),
 * run with introspection on (pl_set_inspect, buffers sized from pl_info_json), sample,
 * read back the distribution and the candidates, decode.
 * Encoder-decoders (t5) encode the ids first and decode from their start token.
 * Seeds: models/stories260K.gguf and models/stories260K.bin (with tok512.bin it needs),
 * the T5 fixtures (tests/fixtures/t5). */
#include <stdlib.h>
#include <string.h>

#include "../../csrc/pocketlm.h"

/* The integer after "key": in the model's info JSON, or -1. */
static long info_int(const char *json, const char *key) {
    const char *p = strstr(json, key);
    return p ? strtol(p + strlen(key), NULL, 10) : -1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static pl_ctx *ctx;
    if (!ctx) ctx = pl_create(1);
    void *buf = pl_alloc(size);
    memcpy(buf, data, size);
    if (pl_load(ctx, buf, size, NULL, 0, 64) != PL_OK) return 0;
    const char *info = pl_info_json(ctx);
    long layers = info_int(info, "\"n_layers\":"), heads = info_int(info, "\"n_heads\":");
    long dim = info_int(info, "\"dim\":"), vocab = info_int(info, "\"vocab\":");
    int32_t ids[66];
    int n = 0, room = pl_context_length(ctx);
    if (pl_tokenize(ctx, (const char *)data, size < 64 ? (int)size : 64, 1, 1, ids, 66, &n) != PL_OK || n == 0 ||
        n > room) {   /* text the vocabulary cannot spell, or too long: a few valid ids instead */
        n = room < 4 ? room : 4;
        for (int i = 0; i < n; i++) ids[i] = (int32_t)(vocab > 0 ? i % vocab : 0);
    }
    enum { POSITIONS = 8 };
    size_t att_floats = (size_t)layers * heads * POSITIONS * POSITIONS, hid_floats = (size_t)POSITIONS * (layers + 1) * dim;
    float *att = NULL, *hid = NULL, *probs = NULL;
    if (layers > 0 && heads > 0 && dim > 0 && att_floats + hid_floats < (16u << 20)) {
        att = malloc(att_floats * sizeof(float));
        hid = malloc(hid_floats * sizeof(float));
        pl_set_inspect(ctx, att, hid, POSITIONS);
    }
    long start = info_int(info, "\"decoder_start_token\":");   /* encoder-decoders: encode first */
    if (start >= 0 && pl_encode(ctx, ids, n) == PL_OK) {
        ids[0] = (int32_t)start;
        n = 1;
    }
    if (pl_eval(ctx, ids, n) == PL_OK) {
        int32_t next, top[4];
        float top_p[4];
        char text[4096];
        int len, count;
        pl_sample(ctx, &next);
        pl_sample_candidates(ctx, top, top_p, 4, &count);
        if (vocab > 0 && vocab < (1 << 22) && (probs = malloc((size_t)vocab * sizeof(float))))
            pl_probabilities(ctx, 0.7f, probs);
        pl_decode_stream(ctx, next, 1, text, sizeof text, &len);
        pl_detokenize(ctx, ids, n, text, sizeof text, &len);
    }
    pl_set_inspect(ctx, NULL, NULL, 0);
    pl_reset(ctx);
    free(att);
    free(hid);
    free(probs);
    return 0;
}
