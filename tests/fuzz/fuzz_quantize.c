/* libFuzzer target: arbitrary bytes as the input of `pocketlm quantize` (pl_quantize_gguf),
 * to a type chosen by the last byte (so the GGUF header stays in front). When it succeeds
 * the output must be a GGUF file with the input's tensors.
 * Seeds: the GGUF models in models/. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../csrc/gguf.h"
#include "../../csrc/pocketlm.h"
#include "../c/testutil.h"

static const char *const types[] = {"F32",  "F16",  "BF16", "Q8_0", "Q4_0", "Q4_1", "Q5_0",
                                    "Q5_1", "Q2_K", "Q3_K", "Q4_K", "Q5_K", "Q6_K"};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    const char *type = types[data[size - 1] % (sizeof types / sizeof types[0])];
    mem_sink out = {0};
    char msg[256];
    if (pl_quantize_gguf(data, size, type, mem_sink_write, &out, msg, sizeof msg) == PL_OK) {
        pl_gguf in, back;
        pl_err err = {0};
        if (pl_gguf_parse(&in, data, size, &err) != PL_OK || pl_gguf_parse(&back, out.data, out.len, &err) != PL_OK ||
            back.n_tensors != in.n_tensors) {
            fprintf(stderr, "fuzz_quantize: the %s output is no GGUF file with the input's tensors: %s\n", type, err.msg);
            abort();
        }
        pl_gguf_free(&in);
        pl_gguf_free(&back);
    }
    free(out.data);
    return 0;
}
