/* Byte-level BPE and WordPiece tokenizers against llama.cpp's test-tokenizer-0 vectors
 * (ids from llama.cpp itself, add_special = false, parse_special = false), GPT-2's own
 * encoder.json + vocab.bpe, round trips, and random input. Run from the repo root; the
 * shared models are looked up in ../shared/models. */
#include "gguf_builder.h"
#include "vocab_util.h"

#include <stdlib.h>
#include <string.h>

/* Loads llamacpp-vocab-tests/<name>.gguf; returns the status, message in err. */
static int load_vocab(pl_vocab *v, const char *name, pl_err *err) {
    char path[256];
    snprintf(path, sizeof path, "llamacpp-vocab-tests/ggml-vocab-%s.gguf", name);
    size_t size;
    uint8_t *buf = read_shared(path, 0, &size);
    if (!buf) return pl_fail(err, PL_ERR_INVALID_ARGUMENT, "no file");
    int st = vocab_from_gguf_bytes(v, buf, size, err);
    free(buf);   /* the vocab must not point into the file */
    return st;
}

/* encode then decode gives the text back; 1 if so. */
static int round_trips(const pl_vocab *v, const char *text, int len) {
    int n, out_len;
    int *ids = encode(v, text, len, 0, 0, &n);
    if (!ids) return 0;
    /* the first token read as if after BOS, as pl_detokenize does */
    char *out = decode(v, v->bos, ids, n, &out_len);
    int ok = out_len == len && memcmp(out, text, (size_t)len) == 0;
    free(ids);
    free(out);
    return ok;
}

/* ---- test-tokenizer-0 vectors ---- */

/* Every vector of `file` through vocab v: ids exactly, and decode(encode(x)) == x when
 * lossless (SPM: after BOS, so the dummy prefix goes). Prints and returns passes. */
static int run_vectors(const pl_vocab *v, const char *what, const vectors *t, int lossless) {
    int pass = 0, trips = 0;
    for (int i = 0; i < t->n; i++) {
        int n;
        int *ids = encode(v, t->text[i], t->len[i], 0, 0, &n);
        pass += check_ids(what, t->text[i], ids, n, t->ids[i], t->n_ids[i]);
        if (lossless) {
            int rt = round_trips(v, t->text[i], t->len[i]);
            CHECK(rt);
            trips += rt;
        }
        free(ids);
    }
    printf("%-24s %2d/%d ids match", what, pass, t->n);
    if (lossless) printf(", %d/%d round-trip", trips, t->n);
    printf("\n");
    return pass;
}

static void test_vectors(void) {
    /* name of the vocab, name of its vector files, lossless */
    static const struct {
        const char *vocab, *vec;
        int lossless;
    } cases[] = {
        {"gpt-2", "gpt-2", 1}, {"falcon", "falcon", 1}, {"deepseek-llm", "deepseek-llm", 1},
        {"refact", "refact", 1}, {"llama-spm", "llama-spm", 0}, {"bert-bge", "bert-bge", 0},
        /* SOURCE.txt: upstream's phi-3 .inp/.out have the same sha256 as llama-spm's */
        {"phi-3", "llama-spm", 0},
        /* present upstream but not here; used when someone adds them */
        {"mpt", "mpt", 1}, {"starcoder", "starcoder", 1}, {"deepseek-coder", "deepseek-coder", 1},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        vectors t;
        if (!load_vectors(&t, cases[c].vec)) {
            printf("%-24s no .inp/.out here\n", cases[c].vocab);
            continue;
        }
        pl_vocab v;
        pl_err err = {0};
        int st = load_vocab(&v, cases[c].vocab, &err);
        CHECK_EQ_INT(st, PL_OK);
        if (st == PL_OK) {
            CHECK_EQ_INT(t.n, 46);
            run_vectors(&v, cases[c].vocab, &t, cases[c].lossless);
            pl_vocab_free(&v);
        } else {
            fprintf(stderr, "%s: %s\n", cases[c].vocab, err.msg);
        }
        free_vectors(&t);
    }
}

/* ---- vocabularies without vectors: load, right kind, round trips ---- */

static void test_other_vocabs(void) {
    static const struct {
        const char *name;
        int kind;
    } vocabs[] = {
        {"gpt-neox", PL_VOCAB_BPE}, {"mpt", PL_VOCAB_BPE}, {"starcoder", PL_VOCAB_BPE},
        {"deepseek-coder", PL_VOCAB_BPE}, {"baichuan", PL_VOCAB_SPM}, {"phi-3", PL_VOCAB_SPM},
    };
    vectors t;
    if (!load_vectors(&t, "gpt-2")) {
        check_failed++;
        return;
    }
    for (size_t c = 0; c < sizeof vocabs / sizeof vocabs[0]; c++) {
        pl_vocab v;
        pl_err err = {0};
        int st = load_vocab(&v, vocabs[c].name, &err);
        CHECK_EQ_INT(st, PL_OK);
        if (st != PL_OK) {
            fprintf(stderr, "%s: %s\n", vocabs[c].name, err.msg);
            continue;
        }
        CHECK_EQ_INT(v.kind, vocabs[c].kind);
        int trips = 0;
        for (int i = 0; i < t.n; i++) {
            if (v.kind == PL_VOCAB_SPM) {   /* through BOS: its dummy-prefix space goes */
                int n, out_len;
                int *ids = encode(&v, t.text[i], t.len[i], 1, 0, &n);
                char *out = ids ? decode(&v, v.bos, ids + 1, n - 1, &out_len) : NULL;
                trips += out && out_len == t.len[i] && memcmp(out, t.text[i], (size_t)t.len[i]) == 0;
                free(ids);
                free(out);
            } else {
                trips += round_trips(&v, t.text[i], t.len[i]);
            }
        }
        CHECK_EQ_INT(trips, t.n);
        printf("%-24s loads, %d/%d vector texts round-trip\n", vocabs[c].name, trips, t.n);
        pl_vocab_free(&v);
    }
    free_vectors(&t);
}

/* ---- GPT-2's encoder.json + vocab.bpe ---- */

static void test_gpt2_files(void) {
    size_t json_size, bpe_size;
    char *json = (char *)read_shared("gpt2-tokenizer/encoder.json", 0, &json_size);
    char *bpe = (char *)read_shared("gpt2-tokenizer/vocab.bpe", 0, &bpe_size);
    pl_vocab files, gguf;
    pl_err err = {0};
    if (!json || !bpe) goto done;
    int st = pl_vocab_from_gpt2_files(&files, json, json_size, bpe, bpe_size, &err);
    CHECK_EQ_INT(st, PL_OK);
    if (st != PL_OK) {
        fprintf(stderr, "gpt2 files: %s\n", err.msg);
        goto done;
    }
    CHECK_EQ_INT(files.n_vocab, 50257);
    CHECK_EQ_INT(files.bos, 50256);
    CHECK_EQ_INT(files.type[50256], PL_TOK_CONTROL);
    static const int hello[] = {15496, 11, 995, 0};   /* the well-known GPT-2 ids */
    int n;
    int *ids = encode(&files, "Hello, world!", 13, 0, 0, &n);
    CHECK(ids && n == 4 && memcmp(ids, hello, sizeof hello) == 0);
    free(ids);

    if (load_vocab(&gguf, "gpt-2", &err) == PL_OK) {
        ids = encode(&gguf, "Hello, world!", 13, 0, 0, &n);
        CHECK(ids && n == 4 && memcmp(ids, hello, sizeof hello) == 0);
        free(ids);
        /* SOURCE.txt: the GGUF's tokens are encoder.json's */
        int same = files.n_vocab == gguf.n_vocab;
        for (int id = 0; same && id < files.n_vocab; id++)
            same = files.piece_len[id] == gguf.piece_len[id] &&
                   memcmp(files.piece[id], gguf.piece[id], (size_t)files.piece_len[id]) == 0;
        CHECK(same);
        pl_vocab_free(&gguf);
    }
    vectors t;
    if (load_vectors(&t, "gpt-2")) {
        CHECK_EQ_INT(run_vectors(&files, "gpt2 encoder.json", &t, 1), 46);
        free_vectors(&t);
    }
    pl_vocab_free(&files);

    /* malformed encoder.json: clear errors, no crash */
    static const char *bad[] = {"", "[]", "{\"a\":0,}", "{\"a\" 0}", "{\"a\":1}", "{\"a\":0,\"b\":0}",
                                "{\"\\u12\":0}", "{\"a\":0} x", "{\"a", "{\"a\":99999999999999}"};
    int all_bad = 1;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        all_bad &= pl_vocab_from_gpt2_files(&files, bad[i], strlen(bad[i]), "", 0, &err) == PL_ERR_BAD_FORMAT;
    CHECK(all_bad);
    /* escapes: \u00e9 and a surrogate pair decode to UTF-8 */
    static const char esc[] = "{\"\\u00e9\": 0, \"\\ud83e\\udd99\": 1, \"a\\\"b\\\\\": 2}";
    CHECK_EQ_INT(pl_vocab_from_gpt2_files(&files, esc, strlen(esc), "#version: 0.2\n", 14, &err), PL_OK);
    CHECK_EQ_INT(pl_vocab_find(&files, "\xc3\xa9", 2), 0);
    CHECK_EQ_INT(pl_vocab_find(&files, "\xf0\x9f\xa6\x99", 4), 1);
    CHECK_EQ_INT(pl_vocab_find(&files, "a\"b\\", 4), 2);
    pl_vocab_free(&files);
done:
    free(json);
    free(bpe);
}

/* ---- random input ---- */

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
static uint32_t rnd(void) {   /* xorshift64* */
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return (uint32_t)((rng_state * 0x2545F4914F6CDD1Dull) >> 32);
}

/* A random code point from a mix of scripts, marks, digits, spaces, emoji, anything. */
static uint32_t random_cp(void) {
    static const uint32_t pools[][2] = {
        {0x20, 0x7E}, {0x20, 0x20}, {'0', '9'}, {0x09, 0x0D}, {0xA0, 0x17F}, {0x300, 0x36F},
        {0x370, 0x3FF}, {0x400, 0x4FF}, {0x600, 0x6FF}, {0x900, 0x97F}, {0xE00, 0xE7F},
        {0x1780, 0x17FF}, {0x2000, 0x206F}, {0x3000, 0x30FF}, {0x4E00, 0x9FFF}, {0xAC00, 0xD7A3},
        {0xFF00, 0xFFEF}, {0x1F300, 0x1FAFF}, {0x1D400, 0x1D7FF}, {0x200D, 0x200D}, {0xFE0F, 0xFE0F},
        {0x1, 0x10FFFF},
    };
    const uint32_t *p = pools[rnd() % (sizeof pools / sizeof pools[0])];
    uint32_t cp = p[0] + rnd() % (p[1] - p[0] + 1);
    return cp >= 0xD800 && cp < 0xE000 ? 0xFFFD : cp;
}

static int utf8_put(uint32_t cp, char *o) {
    if (cp < 0x80) { o[0] = (char)cp; return 1; }
    if (cp < 0x800) { o[0] = (char)(0xC0 | cp >> 6); o[1] = (char)(0x80 | (cp & 63)); return 2; }
    if (cp < 0x10000) {
        o[0] = (char)(0xE0 | cp >> 12); o[1] = (char)(0x80 | (cp >> 6 & 63)); o[2] = (char)(0x80 | (cp & 63));
        return 3;
    }
    o[0] = (char)(0xF0 | cp >> 18); o[1] = (char)(0x80 | (cp >> 12 & 63));
    o[2] = (char)(0x80 | (cp >> 6 & 63)); o[3] = (char)(0x80 | (cp & 63));
    return 4;
}

/* Bytes the vocab can give back: the token of the byte's stand-in exists and decodes to
 * it. Vocabs from HF tokenizers lack some (falcon: most controls; others: bytes that never
 * occur in UTF-8), and DeepSeek's added tokens "ø" etc. are also the stand-ins of bytes
 * 0xF8.., so a lone byte 0xF8 comes back as "ø" (as in llama.cpp). */
static void faithful_bytes(const pl_vocab *v, int ok[256]) {
    for (int b = 0; b < 256; b++) {
        int len;
        char byte_buf[1];
        const char *p = v->byte_token[b] >= 0 ? pl_token_bytes(v, -1, 1, v->byte_token[b], byte_buf, &len) : NULL;
        ok[b] = p && len == 1 && (uint8_t)p[0] == b;
    }
}

/* Encodes text (must succeed, ids in range); if all its bytes are faithful, it must also
 * round-trip. Returns 1 when it round-tripped, 0 when not checked, -1 on failure. */
static int fuzz_one(const pl_vocab *v, const int ok[256], const char *text, int len) {
    int n, all = 1;
    int *ids = encode(v, text, len, 0, 0, &n);
    if (!ids) return -1;
    for (int i = 0; i < n; i++) all &= ids[i] >= 0 && ids[i] < v->n_vocab;
    free(ids);
    if (!all) return -1;
    for (int i = 0; i < len; i++) all &= ok[(uint8_t)text[i]];
    if (!all) return 0;
    return round_trips(v, text, len) ? 1 : -1;
}

static void test_fuzz(void) {
    static const char *names[] = {"gpt-2", "falcon", "deepseek-llm", "deepseek-coder", "refact", "mpt",
                                  "starcoder", "gpt-neox", "bert-bge"};
    char text[1024];
    for (size_t k = 0; k < sizeof names / sizeof names[0]; k++) {
        pl_vocab v;
        pl_err err = {0};
        if (load_vocab(&v, names[k], &err) != PL_OK) {
            check_failed++;
            continue;
        }
        int ok[256], runs = 300, stats[2][3] = {{0}};   /* [unicode/bytes][failed, unchecked, round-trip] */
        faithful_bytes(&v, ok);
        if (v.kind != PL_VOCAB_BPE) memset(ok, 0, sizeof ok);   /* WordPiece is lossy: encode only */
        for (int r = 0; r < runs; r++) {
            int len = 0, n_cp = (int)(rnd() % 60);
            for (int i = 0; i < n_cp; i++) len += utf8_put(random_cp(), text + len);
            stats[0][fuzz_one(&v, ok, text, len) + 1]++;
            /* arbitrary bytes, mostly invalid UTF-8: still encoded byte by byte */
            len = (int)(rnd() % 64);
            for (int i = 0; i < len; i++) text[i] = (char)(rnd() % 4 ? rnd() & 0xFF : 0x80 | (rnd() & 0x3F));
            stats[1][fuzz_one(&v, ok, text, len) + 1]++;
        }
        CHECK_EQ_INT(stats[0][0], 0);
        CHECK_EQ_INT(stats[1][0], 0);
        if (v.kind == PL_VOCAB_BPE) CHECK(stats[0][2] > runs / 2);
        printf("%-24s fuzz: random Unicode %d round-trip + %d encode-only, random bytes %d + %d, %d failures\n",
               names[k], stats[0][2], stats[0][1], stats[1][2], stats[1][1], stats[0][0] + stats[1][0]);
        pl_vocab_free(&v);
    }
}

/* ---- behaviour beyond the vectors ---- */

/* gpt2 vocab: byte stand-ins a b c Ġ (space) + "ab" "Ġab" "<|end|>", merges a+b, Ġ+ab. */
static int tiny_bpe(pl_vocab *v, const char *pre, pl_err *err) {
    static const char *const tokens[] = {"a", "b", "c", "\xc4\xa0", "ab", ("\xc4\xa0" "ab"), "<|end|>", "xyz"};
    static const char *const merges[] = {"a b", "\xc4\xa0 ab"};
    static const int32_t types[] = {1, 1, 1, 1, 1, 1, 3, 4};
    gguf_builder b;
    gb_init(&b);
    gb_str(&b, "tokenizer.ggml.model", "gpt2");
    if (pre) gb_str(&b, "tokenizer.ggml.pre", pre);
    gb_strs(&b, "tokenizer.ggml.tokens", tokens, 8);
    gb_strs(&b, "tokenizer.ggml.merges", merges, 2);
    put(gb_array(&b, "tokenizer.ggml.token_type", GGUF_I32, 8), types, sizeof types);
    size_t size;
    uint8_t *buf = gb_finish(&b, 3, &size);
    int st = vocab_from_gguf_bytes(v, buf, size, err);
    free(buf);
    return st;
}

static void test_edge_cases(void) {
    pl_vocab v;
    pl_err err = {0};
    CHECK_EQ_INT(tiny_bpe(&v, "no-such-pre", &err), PL_ERR_UNSUPPORTED_ARCH);
    CHECK(strstr(err.msg, "'no-such-pre'") != NULL);

    /* no tokenizer.ggml.pre: llama.cpp's "default" pre-tokenizer */
    CHECK_EQ_INT(tiny_bpe(&v, NULL, &err), PL_OK);
    int ids[16], n;
    CHECK_EQ_INT(pl_tokenize_text(&v, "ab ab", 5, 0, 0, ids, (int)(sizeof ids / sizeof *ids), &n, &err), PL_OK);
    CHECK(n == 2 && ids[0] == 4 && ids[1] == 5);
    /* control tokens are text unless parse_special; user-defined ones always cut out */
    CHECK_EQ_INT(pl_tokenize_text(&v, "a<|end|>xyz", 11, 0, 1, ids, (int)(sizeof ids / sizeof *ids), &n, &err), PL_OK);
    CHECK(n == 3 && ids[0] == 0 && ids[1] == 6 && ids[2] == 7);
    CHECK_EQ_INT(pl_tokenize_text(&v, "cxyzc", 5, 0, 0, ids, (int)(sizeof ids / sizeof *ids), &n, &err), PL_OK);
    CHECK(n == 3 && ids[0] == 2 && ids[1] == 7 && ids[2] == 2);
    /* characters the vocab lacks are dropped, as llama.cpp does; add_bos uses BOS (absent: none) */
    CHECK_EQ_INT(pl_tokenize_text(&v, "a!", 2, 1, 0, ids, (int)(sizeof ids / sizeof *ids), &n, &err), PL_OK);
    CHECK(n == 1 && ids[0] == 0);
    int len;
    char byte_buf[1];
    pl_token_bytes(&v, -1, 1, 6, byte_buf, &len);
    CHECK_EQ_INT(len, 0);   /* control: nothing */
    const char *p = pl_token_bytes(&v, -1, 1, 5, byte_buf, &len);
    CHECK(len == 3 && memcmp(p, " ab", 3) == 0);
    CHECK_EQ_INT(v.byte_token[' '], 3);
    pl_vocab_free(&v);

    /* gpt2 model without merges */
    static const char *const one[] = {"a"};
    gguf_builder b;
    gb_init(&b);
    gb_str(&b, "tokenizer.ggml.model", "gpt2");
    gb_strs(&b, "tokenizer.ggml.tokens", one, 1);
    size_t size;
    uint8_t *buf = gb_finish(&b, 3, &size);
    pl_gguf g;
    CHECK_EQ_INT(pl_gguf_parse(&g, buf, size, &err), PL_OK);
    CHECK_EQ_INT(pl_vocab_from_gguf(&v, &g, &err), PL_ERR_BAD_FORMAT);
    pl_gguf_free(&g);
    free(buf);
}

/* Pre-tokenizer details checked against the original regexes (Python `regex` semantics). */
static void test_pretokenizer_details(void) {
    pl_vocab v;
    pl_err err = {0};
    if (load_vocab(&v, "gpt-2", &err) != PL_OK) {
        check_failed++;
        return;
    }
    /* "  x": \s+(?!\S) takes one space, " x" is a word: ids of " " and " x" */
    int n;
    int *ids = encode(&v, "  x", 3, 0, 0, &n);
    CHECK(ids && n == 2 && ids[0] == 220 && ids[1] == 2124);
    free(ids);
    /* "'s" splits off, "'S" does not in GPT-2's case-sensitive pattern */
    ids = encode(&v, "it's", 4, 0, 0, &n);
    CHECK(ids && n == 2 && ids[0] == 270 && ids[1] == 338);
    free(ids);
    pl_vocab_free(&v);
}

int main(void) {
    test_vectors();
    test_other_vocabs();
    test_gpt2_files();
    test_fuzz();
    test_edge_cases();
    test_pretokenizer_details();
    return check_report("tokenizer_bpe");
}
