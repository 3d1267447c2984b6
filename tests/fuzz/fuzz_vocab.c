/* libFuzzer target: arbitrary bytes as the tokenizer files pl_load_vocab and pl_load read,
 * chosen by the first byte as a user's file would be:
 *   "GGUF..."  a GGUF vocabulary (pl_load_vocab);
 *   "{..."     GPT-2's encoder.json, then a NUL byte, then vocab.bpe (pl_load_vocab);
 *   else       a llama2.c tokenizer.bin, loaded with models/stories260K.bin (pl_load).
 * A tokenizer that loads must tokenize plain text (or refuse a character it cannot
 * encode with invalid_argument) and detokenize what it made.
 * Seeds: tests/fuzz/seeds_vocab and models/ (its GGUF files and tok512.bin). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../csrc/pocketlm.h"
#include "../c/testutil.h"

static void *checkpoint;   /* models/stories260K.bin */
static size_t checkpoint_size;

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc, (void)argv;
    checkpoint = must_read_file("models/stories260K.bin", 0, &checkpoint_size);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    pl_ctx *ctx = pl_create(1);
    int st;
    if (size >= 1 && data[0] == '{') {
        const uint8_t *nul = memchr(data, 0, size);
        size_t json_size = nul ? (size_t)(nul - data) : size;
        void *json = pl_alloc(json_size);
        memcpy(json, data, json_size);
        st = pl_load_vocab(ctx, json, json_size, nul ? nul + 1 : NULL, nul ? size - json_size - 1 : 0);
    } else if (size >= 4 && memcmp(data, "GGUF", 4) == 0) {
        void *buf = pl_alloc(size);
        memcpy(buf, data, size);
        st = pl_load_vocab(ctx, buf, size, NULL, 0);
    } else {
        void *buf = pl_alloc(checkpoint_size);
        memcpy(buf, checkpoint, checkpoint_size);
        st = pl_load(ctx, buf, checkpoint_size, data, size, 16);
    }
    if (st == PL_OK) {
        static const char text[] = "Once upon a time, h\xc3\xa9llo \xe6\x97\xa5\xe6\x9c\xac <s> 123\n";
        int32_t ids[sizeof text + 2];
        int n = 0, need = 0, len = 0;
        /* a vocabulary without byte or unknown tokens may refuse a character: invalid_argument */
        st = pl_tokenize(ctx, text, (int)sizeof text - 1, 1, 0, ids, (int)sizeof text + 2, &n);
        if (st != PL_OK && st != PL_ERR_INVALID_ARGUMENT) {
            fprintf(stderr, "fuzz_vocab: tokenize failed with %s: %s\n", pl_status_code(st), pl_last_error(ctx));
            abort();
        }
        if (st == PL_OK) {   /* and what it gives detokenizes, into the room it asks for */
            st = pl_detokenize(ctx, ids, n, NULL, 0, &need);
            char *back = st == PL_OK || st == PL_ERR_INVALID_ARGUMENT ? malloc((size_t)need + 1) : NULL;
            if (!back || pl_detokenize(ctx, ids, n, back, need, &len) != PL_OK || len != need) {
                fprintf(stderr, "fuzz_vocab: detokenize failed: %s\n", pl_last_error(ctx));
                abort();
            }
            free(back);
        }
    }
    pl_destroy(ctx);
    return 0;
}
