/* libFuzzer target: arbitrary bytes as text for every tokenizer family (SentencePiece,
 * byte-level BPE with several pre-tokenizers, WordPiece, SentencePiece unigram). Byte 0
 * picks the vocabulary, byte 1 the flags (add BOS, parse special tokens), the rest is the text. Besides the
 * sanitizers it checks what the API promises:
 *   - plain text always tokenizes into text_len + 2 ids (unigram vocabularies: unless
 *     their normalization expands it past that, as U+FDFA's 18 characters), a text that
 *     needs more says how many and tokenizes into that room, and the ids detokenize;
 *   - streaming the ids one by one gives valid UTF-8 (split characters held back,
 *     invalid bytes as U+FFFD; streaming needs a model, so the one vocabulary loaded with
 *     its weights);
 *   - byte-level BPE gives back exactly the text it was given (valid UTF-8 or not),
 *     SentencePiece exactly valid UTF-8 text without control characters.
 * Run from the repository root (the vocabularies are read from models/ and ../shared/). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../csrc/pocketlm.h"
#include "../c/testutil.h"

#define REQUIRE(cond, what)                                                                 \
    do {                                                                                      \
        if (!(cond)) {                                                                        \
            fprintf(stderr, "fuzz_text: %s (%s; last error: %s)\n", what, vocabs[which].path, \
                    pl_last_error(ctx));                                                      \
            abort();                                                                          \
        }                                                                                     \
    } while (0)

enum roundtrip { NONE, BYTES, VALID_UTF8 };

static struct {
    const char *path, *tok_path;
    enum roundtrip roundtrip;
    int weights;   /* loaded as a model (pl_load), else as a tokenizer (pl_load_vocab) */
    int expands;   /* normalization can make more than text_len + 2 ids */
    pl_ctx *ctx;
} vocabs[] = {
    {"models/stories260K.gguf", NULL, VALID_UTF8, 1, 0, NULL},
    {"../shared/models/llamacpp-vocab-tests/ggml-vocab-llama-spm.gguf", NULL, VALID_UTF8, 0, 0, NULL},
    {"../shared/models/llamacpp-vocab-tests/ggml-vocab-gpt-2.gguf", NULL, BYTES, 0, 0, NULL},
    {"../shared/models/gpt2-tokenizer/encoder.json", "../shared/models/gpt2-tokenizer/vocab.bpe", BYTES, 0, 0, NULL},
    {"../shared/models/llamacpp-vocab-tests/ggml-vocab-deepseek-llm.gguf", NULL, NONE, 0, 0, NULL},
    {"../shared/models/llamacpp-vocab-tests/ggml-vocab-falcon.gguf", NULL, NONE, 0, 0, NULL},
    {"../shared/models/llamacpp-vocab-tests/ggml-vocab-refact.gguf", NULL, NONE, 0, 0, NULL},
    {"../shared/models/llamacpp-vocab-tests/ggml-vocab-bert-bge.gguf", NULL, NONE, 0, 0, NULL},
    {"tests/fixtures/ugm_t5.gguf", NULL, NONE, 0, 1, NULL},
    {"tests/fixtures/ugm_t5_bytes.gguf", NULL, NONE, 0, 1, NULL},
};
#define N_VOCABS (int)(sizeof vocabs / sizeof vocabs[0])

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc, (void)argv;
    int loaded = 0;
    for (int i = 0; i < N_VOCABS; i++) {
        size_t size = 0, tok_size = 0;
        void *buf = try_read_file(vocabs[i].path, 0, &size), *tok = NULL;
        if (vocabs[i].tok_path) tok = try_read_file(vocabs[i].tok_path, 0, &tok_size);
        if (!buf || (vocabs[i].tok_path && !tok)) {
            fprintf(stderr, "fuzz_text: %s not found, skipped\n", vocabs[i].path);
            continue;
        }
        pl_ctx *ctx = pl_create(1);
        int st = vocabs[i].weights ? pl_load(ctx, buf, size, tok, tok_size, 0)
                                   : pl_load_vocab(ctx, buf, size, tok, tok_size);
        if (st != PL_OK) {
            fprintf(stderr, "fuzz_text: %s: %s\n", vocabs[i].path, pl_last_error(ctx));
            abort();
        }
        pl_dealloc(tok);
        vocabs[i].ctx = ctx;
        loaded++;
    }
    if (!loaded) abort();
    return 0;
}

/* Well-formed UTF-8 (RFC 3629: no overlong forms, no surrogates, nothing past U+10FFFF). */
static int utf8_valid(const char *text, int len) {
    const unsigned char *s = (const unsigned char *)text;
    for (int i = 0; i < len;) {
        int need = s[i] < 0x80 ? 0 : s[i] >= 0xc2 && s[i] <= 0xdf ? 1 : s[i] >= 0xe0 && s[i] <= 0xef ? 2
                 : s[i] >= 0xf0 && s[i] <= 0xf4 ? 3 : -1;
        if (need < 0 || i + need >= len) return 0;   /* a bad lead byte, or cut short */
        unsigned lo = 0x80, hi = 0xbf;   /* the second byte's range */
        if (s[i] == 0xe0) lo = 0xa0;
        if (s[i] == 0xed) hi = 0x9f;
        if (s[i] == 0xf0) lo = 0x90;
        if (s[i] == 0xf4) hi = 0x8f;
        for (int k = 1; k <= need; k++)
            if (s[i + k] < (k == 1 ? lo : 0x80) || s[i + k] > (k == 1 ? hi : 0xbf)) return 0;
        i += need + 1;
    }
    return 1;
}

static int has_control(const char *text, int len) {
    for (int i = 0; i < len; i++)
        if ((unsigned char)text[i] < 0x20 || text[i] == 0x7f) return 1;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 2 || size > 4096) return 0;
    int which = data[0] % N_VOCABS, add_bos = data[1] & 1, parse_special = (data[1] >> 1) & 1;
    pl_ctx *ctx = vocabs[which].ctx;
    if (!ctx) return 0;
    const char *text = (const char *)data + 2;
    int len = (int)size - 2, cap = len + 2, n = 0;
    int32_t *ids = malloc(sizeof *ids * (size_t)cap);
    int st = pl_tokenize(ctx, text, len, add_bos, parse_special, ids, cap, &n);
    if (st == PL_ERR_INVALID_ARGUMENT && n > cap) {   /* dense special tokens, or expanded */
        REQUIRE(parse_special || vocabs[which].expands, "plain text needed more than text_len + 2 ids");
        int need = n;
        ids = realloc(ids, sizeof *ids * (size_t)(cap = need));
        st = pl_tokenize(ctx, text, len, add_bos, parse_special, ids, cap, &n);
        REQUIRE(st == PL_OK && n == need, "tokenize into the room it asked for failed");
    }
    if (parse_special && st == PL_ERR_INVALID_ARGUMENT) goto out;   /* e.g. no piece for a character */
    REQUIRE(st == PL_OK, "plain text did not tokenize");
    REQUIRE(n >= 0 && n <= cap, "token count out of range");

    int need = 0;
    st = pl_detokenize(ctx, ids, n, NULL, 0, &need);
    REQUIRE(st == PL_OK || st == PL_ERR_INVALID_ARGUMENT, "detokenize failed");
    char *back = malloc((size_t)need + 1);
    int back_len = 0;
    REQUIRE(pl_detokenize(ctx, ids, n, back, need + 1, &back_len) == PL_OK && back_len == need,
          "detokenize into the room it asked for failed");

    char piece[1024];
    for (int i = 0; i < n && vocabs[which].weights; i++) {
        int piece_len = 0;
        REQUIRE(pl_decode_stream(ctx, ids[i], i == n - 1, piece, sizeof piece, &piece_len) == PL_OK,
              "streaming decode failed");
        REQUIRE(utf8_valid(piece, piece_len), "streaming decode gave invalid UTF-8");
    }

    enum roundtrip rt = vocabs[which].roundtrip;
    int plain = !add_bos && !parse_special;
    if (plain && (rt == BYTES || (rt == VALID_UTF8 && utf8_valid(text, len) && !has_control(text, len))))
        REQUIRE(back_len == len && memcmp(back, text, (size_t)len) == 0, "detokenize(tokenize(text)) != text");
    free(back);
out:
    free(ids);
    return 0;
}
