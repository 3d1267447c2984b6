/* libFuzzer target: arbitrary bytes as a model file (GGUF or llama2.c, chosen by the
 * magic as pl_load does) and, when it loads, as text to tokenize, decode and run.
 * Seeds: models/stories260K.gguf and models/stories260K.bin (with tok512.bin it needs). */
#include <stdlib.h>
#include <string.h>

#include "../../csrc/pocketlm.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static pl_ctx *ctx;
    if (!ctx) ctx = pl_create(1);
    void *buf = pl_alloc(size);
    memcpy(buf, data, size);
    if (pl_load(ctx, buf, size, NULL, 0, 64) != PL_OK) return 0;
    int32_t ids[66];
    int n = 0;
    if (pl_tokenize(ctx, (const char *)data, size < 64 ? (int)size : 64, 1, 1, ids, 66, &n) == PL_OK &&
        n > 0 && pl_eval(ctx, ids, n) == PL_OK) {
        int32_t next;
        char text[4096];
        int len;
        pl_sample(ctx, &next);
        pl_decode_stream(ctx, next, 1, text, sizeof text, &len);
        pl_detokenize(ctx, ids, n, text, sizeof text, &len);
    }
    return 0;
}
