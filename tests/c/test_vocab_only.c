/* pl_load_vocab: a tokenizer without weights (llama.cpp's vocab-only GGUFs, GPT-2's
 * encoder.json + vocab.bpe) tokenizes as the reference says and refuses model calls. */
#include <stdlib.h>
#include <string.h>

#include "../../csrc/pocketlm.h"
#include "testutil.h"

/* GPT-2's ids for "Hello, world!", as in OpenAI's tokenizer (and llama.cpp's vectors). */
static void check_hello(pl_ctx *ctx) {
    const int32_t expected[] = {15496, 11, 995, 0};
    int32_t ids[16];
    int n = 0;
    CHECK_EQ_INT(pl_tokenize(ctx, "Hello, world!", 13, 0, 0, ids, 16, &n), PL_OK);
    CHECK_EQ_INT(n, 4);
    for (int i = 0; i < 4 && i < n; i++) CHECK_EQ_INT(ids[i], expected[i]);
    char text[64];
    int len;
    CHECK_EQ_INT(pl_detokenize(ctx, ids, n, text, sizeof text, &len), PL_OK);
    CHECK(len == 13 && memcmp(text, "Hello, world!", 13) == 0);
}

int main(void) {
    pl_ctx *ctx = pl_create(1);
    size_t size, tok_size;

    void *buf = read_file(SHARED_MODELS "llamacpp-vocab-tests/ggml-vocab-gpt-2.gguf", &size);
    CHECK_EQ_INT(pl_load_vocab(ctx, buf, size, NULL, 0), PL_OK);
    check_hello(ctx);
    CHECK(strstr(pl_info_json(ctx), "\"vocab_only\":true") != NULL);
    CHECK(strstr(pl_info_json(ctx), "\"tokenizer\":\"bpe\"") != NULL);
    int32_t id = 15496;
    CHECK_EQ_INT(pl_eval(ctx, &id, 1), PL_ERR_INVALID_STATE);
    CHECK_EQ_INT(pl_sample(ctx, &id), PL_ERR_INVALID_STATE);
    CHECK(pl_logits(ctx) == NULL);
    /* the same file as a model: it has no weights */
    buf = read_file(SHARED_MODELS "llamacpp-vocab-tests/ggml-vocab-gpt-2.gguf", &size);
    CHECK_EQ_INT(pl_load(ctx, buf, size, NULL, 0, 0), PL_ERR_BAD_FORMAT);

    buf = read_file(SHARED_MODELS "gpt2-tokenizer/encoder.json", &size);
    void *bpe = read_file(SHARED_MODELS "gpt2-tokenizer/vocab.bpe", &tok_size);
    CHECK_EQ_INT(pl_load_vocab(ctx, buf, size, bpe, tok_size), PL_OK);
    check_hello(ctx);
    buf = read_file(SHARED_MODELS "gpt2-tokenizer/encoder.json", &size);
    CHECK_EQ_INT(pl_load_vocab(ctx, buf, size, NULL, 0), PL_ERR_NO_TOKENIZER);
    pl_dealloc(bpe);

    /* the chat template travels in info as a JSON string (phi-3's uses <|user|> etc.) */
    buf = read_file(SHARED_MODELS "llamacpp-vocab-tests/ggml-vocab-phi-3.gguf", &size);
    CHECK_EQ_INT(pl_load_vocab(ctx, buf, size, NULL, 0), PL_OK);
    const char *info = pl_info_json(ctx);
    CHECK(strstr(info, "\"chat_template\":\"{{") != NULL && strstr(info, "<|user|>") != NULL);

    /* a llama2.c checkpoint + tokenizer.bin loads whole; bytes that are neither fail */
    buf = read_file("models/stories260K.bin", &size);
    void *tok = read_file("models/tok512.bin", &tok_size);
    CHECK_EQ_INT(pl_load_vocab(ctx, buf, size, tok, tok_size), PL_OK);
    CHECK(strstr(pl_info_json(ctx), "\"vocab_only\"") == NULL);
    pl_dealloc(tok);
    buf = pl_alloc(100);
    memset(buf, 0x5a, 100);
    CHECK_EQ_INT(pl_load_vocab(ctx, buf, 100, NULL, 0), PL_ERR_BAD_FORMAT);
    int n;
    CHECK_EQ_INT(pl_tokenize(ctx, "x", 1, 0, 0, &id, 3, &n), PL_ERR_INVALID_STATE);

    pl_destroy(ctx);
    return check_report("vocab_only");
}
