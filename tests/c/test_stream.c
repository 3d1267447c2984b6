/* Streaming detokenization through the public API: characters that byte-fallback tokens
 * split across several tokens come out whole, exactly once; invalid UTF-8 becomes U+FFFD
 * (the WHATWG decoder's rule: one per maximal invalid subpart); flush ends a partial one. */
#include <stdlib.h>
#include <string.h>

#include "../../csrc/pocketlm.h"
#include "testutil.h"

static pl_ctx *load_stories(void) {
    size_t size;
    void *buf = read_file("models/stories260K.gguf", &size);
    pl_ctx *ctx = pl_create(1);
    if (pl_load(ctx, buf, size, NULL, 0, 0) != PL_OK) { fprintf(stderr, "%s\n", pl_last_error(ctx)); exit(1); }
    return ctx;
}

/* Whether s[0..n) is well-formed UTF-8 with no partial character. */
static int valid_utf8(const unsigned char *s, int n) {
    for (int i = 0; i < n;) {
        int len = s[i] < 0x80 ? 1 : (s[i] & 0xe0) == 0xc0 ? 2 : (s[i] & 0xf0) == 0xe0 ? 3 : (s[i] & 0xf8) == 0xf0 ? 4 : 0;
        if (!len || i + len > n) return 0;
        for (int k = 1; k < len; k++) if ((s[i + k] & 0xc0) != 0x80) return 0;
        i += len;
    }
    return 1;
}

/* Streams ids as a generation would: decode each id, then "evaluate" it (the decoder reads
 * the previous token from the history). Returns the concatenated text; counts chunks. */
static int stream(pl_ctx *ctx, const int32_t *ids, int n, char *text, int *empty_chunks) {
    char chunk[256];
    int len = 0, chunk_len;
    *empty_chunks = 0;
    CHECK_EQ_INT(pl_reset(ctx), PL_OK);
    for (int i = 0; i < n; i++) {
        if (i > 0) {
            CHECK_EQ_INT(pl_decode_stream(ctx, ids[i], 0, chunk, sizeof chunk, &chunk_len), PL_OK);
            CHECK(valid_utf8((unsigned char *)chunk, chunk_len));
            if (chunk_len == 0) (*empty_chunks)++;
            memcpy(text + len, chunk, (size_t)chunk_len);
            len += chunk_len;
        }
        CHECK_EQ_INT(pl_eval(ctx, &ids[i], 1), PL_OK);
    }
    CHECK_EQ_INT(pl_decode_stream(ctx, -1, 1, chunk, sizeof chunk, &chunk_len), PL_OK);
    memcpy(text + len, chunk, (size_t)chunk_len);
    return len + chunk_len;
}

/* SentencePiece vocabularies put <0x00>..<0xFF> right after <unk>, <s>, </s>; checked
 * by decoding the id. */
static int byte_token(pl_ctx *ctx, int byte) {
    int32_t pair[2] = {1, 3 + byte};
    char out[8];
    int len;
    int ok = pl_detokenize(ctx, pair, 2, out, sizeof out, &len) == PL_OK && len == 1 && (unsigned char)out[0] == byte;
    CHECK(ok);
    return 3 + byte;
}

int main(void) {
    pl_ctx *ctx = load_stories();
    /* tok512 (SentencePiece says) has é but no piece for 😀, 世 or 界: those become the
     * tokens of their UTF-8 bytes */
    const char *text = "Once héllo 😀 世界!";
    int32_t ids[64];
    int n;
    CHECK_EQ_INT(pl_tokenize(ctx, text, (int)strlen(text), 1, 0, ids, 64, &n), PL_OK);
    char out[512];
    int empty;
    int len = stream(ctx, ids, n, out, &empty);
    CHECK_EQ_INT(len, strlen(text));
    CHECK(len == (int)strlen(text) && memcmp(out, text, (size_t)len) == 0);
    /* 😀: 3 bytes held back, 世 and 界: 2 each -> 7 tokens released nothing */
    CHECK_EQ_INT(empty, 7);
    printf("streamed %d tokens, %d of them released no text yet\n", n - 1, empty);

    /* invalid UTF-8 from byte tokens: a lone continuation byte, a truncated sequence, an
     * overlong encoding; and a partial character at the end, flushed */
    int b80 = byte_token(ctx, 0x80), be2 = byte_token(ctx, 0xe2), bc0 = byte_token(ctx, 0xc0),
        bf0 = byte_token(ctx, 0xf0), b9f = byte_token(ctx, 0x9f), b41 = byte_token(ctx, 'A');
    int32_t bad[] = {1, b80, be2, b41, bc0, b80, bf0, b9f};
    len = stream(ctx, bad, 8, out, &empty);
    const char *expected = "\xef\xbf\xbd" "\xef\xbf\xbd" "A" "\xef\xbf\xbd" "\xef\xbf\xbd" "\xef\xbf\xbd";
    CHECK_EQ_INT(len, strlen(expected));
    CHECK(len == (int)strlen(expected) && memcmp(out, expected, (size_t)len) == 0);

    /* too small an output buffer is an error, not an overflow */
    char tiny[2];
    int tiny_len;
    CHECK_EQ_INT(pl_reset(ctx), PL_OK);
    CHECK_EQ_INT(pl_decode_stream(ctx, ids[1], 0, tiny, sizeof tiny, &tiny_len), PL_ERR_INVALID_ARGUMENT);
    CHECK_EQ_INT(pl_decode_stream(ctx, 100000, 0, out, sizeof out, &tiny_len), PL_ERR_INVALID_ARGUMENT);

    pl_destroy(ctx);
    return check_report("stream");
}
