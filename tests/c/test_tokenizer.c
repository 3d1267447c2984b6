/* Vocabulary loading (tokenizer.bin, GGUF), SentencePiece encoding and decoding.
 * Expected ids come from SentencePiece itself (tests/fixtures/spm_*.json, made by
 * gen_spm_fixtures.py) and from llama.cpp's test-tokenizer-0 vectors. Run from the repo
 * root; the shared models are looked up in ../shared/models. */
#include "gguf_builder.h"
#include "vocab_util.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

static int load_bin(pl_vocab *v, const uint8_t *buf, size_t size, int n_vocab) {
    pl_err err = {0};
    int st = pl_vocab_from_llama2c(v, buf, size, n_vocab, &err);
    if (st) fprintf(stderr, "pl_vocab_from_llama2c: %s\n", err.msg);
    return st;
}

static int load_gguf(pl_vocab *v, const uint8_t *buf, size_t size) {
    pl_err err = {0};
    int st = vocab_from_gguf_bytes(v, buf, size, &err);
    if (st) fprintf(stderr, "vocab from GGUF: %s\n", err.msg);
    return st;
}

/* Checks encode(text) == expected; returns 1 when equal. */
static int check_encode(const pl_vocab *v, const char *what, const char *text, int len,
                        const int *expect, int n_expect) {
    int n = 0;
    int *ids = encode(v, text, len, 0, 0, &n);
    int ok = check_ids(what, text, ids, n, expect, n_expect);
    free(ids);
    return ok;
}

/* encode(text) with BOS, then decode: must give text back. */
static int round_trips(const pl_vocab *v, const char *text, int len) {
    int n = 0, out_len = 0;
    int *ids = encode(v, text, len, 1, 0, &n);
    if (!ids) return 0;
    char *out = decode(v, -1, ids, n, &out_len);
    int ok = n >= 1 && ids[0] == v->bos && out_len == len && memcmp(out, text, (size_t)len) == 0;
    free(ids);
    free(out);
    return ok;
}

static void test_fixture(const pl_vocab *v, const char *what, const char *path) {
    fixture_case *cases;
    int n = load_fixture(path, &cases), pass = 0, trips = 0;
    CHECK(n >= 40);
    for (int i = 0; i < n; i++) {
        pass += check_encode(v, what, cases[i].text, cases[i].len, cases[i].ids, cases[i].n_ids);
        int rt = round_trips(v, cases[i].text, cases[i].len);
        CHECK(rt);
        trips += rt;
    }
    fprintf(stderr, "%s: %d/%d SentencePiece cases match, %d round-trip\n", what, pass, n, trips);
    free_fixture(cases, n);
}

/* ---- llama.cpp test-tokenizer-0 vectors ---- */

static void test_llamacpp_vectors(const pl_vocab *v) {
    vectors t;
    if (!load_vectors(&t, "llama-spm")) {
        fprintf(stderr, "missing ggml-vocab-llama-spm.gguf.inp/.out\n");
        check_failed++;
        return;
    }
    int n_pass = 0;
    for (int i = 0; i < t.n; i++)
        n_pass += check_encode(v, "llama.cpp llama-spm", t.text[i], t.len[i], t.ids[i], t.n_ids[i]);
    fprintf(stderr, "llama.cpp ggml-vocab-llama-spm: %d/%d tests pass\n", n_pass, t.n);
    CHECK_EQ_INT(t.n, 46);
    free_vectors(&t);
}

/* ---- loading ---- */

static void test_vocab_tables(const pl_vocab *bin, const pl_vocab *gguf) {
    /* stories260K.gguf's metadata vocab and tok512.bin describe the same 512 tokens. */
    CHECK_EQ_INT(bin->n_vocab, 512);
    CHECK_EQ_INT(gguf->n_vocab, 512);
    int same = 1;
    for (int id = 0; id < 512; id++) {
        same &= bin->type[id] == gguf->type[id] && bin->score[id] == gguf->score[id];
        if (id > 2) same &= bin->piece_len[id] == gguf->piece_len[id] &&
                            memcmp(bin->piece[id], gguf->piece[id], (size_t)bin->piece_len[id]) == 0;
    }
    CHECK(same);
    const pl_vocab *vs[2] = {bin, gguf};
    for (int i = 0; i < 2; i++) {
        const pl_vocab *v = vs[i];
        CHECK_EQ_INT(v->bos, 1);
        CHECK_EQ_INT(v->eos, 2);
        CHECK_EQ_INT(v->unk, 0);
        CHECK_EQ_INT(v->add_bos, 1);
        CHECK_EQ_INT(v->add_space_prefix, 1);
        CHECK_EQ_INT(v->type[0], PL_TOK_UNKNOWN);
        CHECK_EQ_INT(v->type[1], PL_TOK_CONTROL);
        CHECK_EQ_INT(v->byte_token[0], 3);
        CHECK_EQ_INT(v->byte_token[255], 258);
        CHECK_EQ_INT(v->max_piece_len, 7);   /* " friend", " little" */
        /* every piece finds itself (first id among duplicates) */
        int found = 1;
        for (int id = 0; id < v->n_vocab; id++) {
            int f = pl_vocab_find(v, v->piece[id], v->piece_len[id]);
            found &= f >= 0 && f <= id && v->piece_len[f] == v->piece_len[id];
        }
        CHECK(found);
        CHECK_EQ_INT(pl_vocab_find(v, "zzzzzz", 6), -1);
        CHECK_EQ_INT(pl_vocab_find(v, "", 0), -1);
    }
}

static void test_gguf_32k(const pl_vocab *bin, const pl_vocab *gguf) {
    /* ggml-vocab-llama-spm.gguf is the Llama 2 vocab, as the 32k tokenizer.bin. */
    CHECK_EQ_INT(gguf->n_vocab, 32000);
    CHECK_EQ_INT(bin->n_vocab, 32000);
    int same = 1;
    for (int id = 3; id < 32000; id++)
        same &= bin->piece_len[id] == gguf->piece_len[id] && bin->score[id] == gguf->score[id] &&
                memcmp(bin->piece[id], gguf->piece[id], (size_t)bin->piece_len[id]) == 0;
    CHECK(same);   /* also shows U+2581 became ' ' in the GGUF pieces */
    CHECK_EQ_INT(pl_vocab_find(gguf, " ", 1), 29871);   /* "▁" in llama.cpp's expected ids */
    CHECK_EQ_INT(gguf->type[13], PL_TOK_BYTE);           /* <0x0A> */
    CHECK_EQ_INT(gguf->byte_token['\n'], 13);
}

/* Truncated or corrupt tokenizer.bin files fail with the right status, never crash. */
static void test_bad_tokenizer_bin(const uint8_t *buf, size_t size) {
    pl_vocab v;
    pl_err err;
    int all_truncated = 1;
    for (size_t n = 0; n < size; n++) {
        uint8_t *copy = exact_copy(buf, n);
        all_truncated &= pl_vocab_from_llama2c(&v, copy, n, 512, &err) == PL_ERR_TRUNCATED;
        free(copy);
    }
    CHECK(all_truncated);
    CHECK_EQ_INT(pl_vocab_from_llama2c(&v, buf, size, 513, &err), PL_ERR_TRUNCATED);
    CHECK_EQ_INT(pl_vocab_from_llama2c(&v, buf, size, 0, &err), PL_ERR_BAD_FORMAT);
    CHECK_EQ_INT(pl_vocab_from_llama2c(&v, buf, size, -5, &err), PL_ERR_BAD_FORMAT);

    uint8_t *bad = malloc(size);
    int32_t x;
    memcpy(bad, buf, size);
    x = -1;   /* negative max_token_length */
    memcpy(bad, &x, 4);
    CHECK_EQ_INT(pl_vocab_from_llama2c(&v, bad, size, 512, &err), PL_ERR_BAD_FORMAT);
    memcpy(bad, buf, size);
    x = -3;   /* token 0's length */
    memcpy(bad + 8, &x, 4);
    CHECK_EQ_INT(pl_vocab_from_llama2c(&v, bad, size, 512, &err), PL_ERR_BAD_FORMAT);
    x = 8;    /* longer than max_token_length (7) */
    memcpy(bad + 8, &x, 4);
    CHECK_EQ_INT(pl_vocab_from_llama2c(&v, bad, size, 512, &err), PL_ERR_BAD_FORMAT);
    x = 0x7fffffff;
    memcpy(bad + 8, &x, 4);
    CHECK_EQ_INT(pl_vocab_from_llama2c(&v, bad, size, 512, &err), PL_ERR_BAD_FORMAT);
    memcpy(bad, &x, 4);   /* huge max too: then the length runs past the end */
    CHECK_EQ_INT(pl_vocab_from_llama2c(&v, bad, size, 512, &err), PL_ERR_TRUNCATED);
    free(bad);
}

/* tokens: <unk> <s> </s> ▁a b ▁ab (6 tokens), with the given optional arrays; the
 * caller may add keys before gguf_status. */
static void gguf_vocab(gguf_builder *b, const char *model, int n_scores, int n_types) {
    static const char *const pieces[] = {"<unk>", "<s>", "</s>", "\xe2\x96\x81" "a", "b", "\xe2\x96\x81" "ab"};
    static const int32_t types[] = {2, 3, 3, 1, 1, 1};
    gb_init(b);
    gb_str(b, "tokenizer.ggml.model", model);
    gb_strs(b, "tokenizer.ggml.tokens", pieces, 6);
    if (n_scores) {
        wbuf *w = gb_array(b, "tokenizer.ggml.scores", GGUF_F32, (uint64_t)n_scores);
        for (int i = 0; i < n_scores; i++) {
            float s = -(float)i;
            put(w, &s, 4);
        }
    }
    if (n_types) {
        wbuf *w = gb_array(b, "tokenizer.ggml.token_type", GGUF_I32, (uint64_t)n_types);
        for (int i = 0; i < n_types; i++) put(w, &types[i % 6], 4);
    }
}

/* Finishes the GGUF (version 3) and loads its vocab into v. */
static int gguf_status(gguf_builder *b, pl_vocab *v) {
    size_t size;
    uint8_t *buf = gb_finish(b, 3, &size);
    pl_gguf g;
    pl_err err = {0};
    int st = pl_gguf_parse(&g, buf, size, &err);
    if (st == PL_OK) {
        st = pl_vocab_from_gguf(v, &g, &err);
        pl_gguf_free(&g);
    } else {
        fprintf(stderr, "test GGUF does not parse: %s\n", err.msg);
    }
    free(buf);
    return st;
}

static void test_gguf_metadata(void) {
    gguf_builder o;
    pl_vocab v;
    /* defaults: no ids, no flags, no scores/types */
    gguf_vocab(&o, "llama", 0, 0);
    CHECK_EQ_INT(gguf_status(&o, &v), PL_OK);
    CHECK_EQ_INT(v.bos, 1);
    CHECK_EQ_INT(v.eos, 2);
    CHECK_EQ_INT(v.unk, 0);
    CHECK_EQ_INT(v.add_bos, 1);
    CHECK_EQ_INT(v.add_space_prefix, 1);
    CHECK_EQ_INT(v.type[1], PL_TOK_NORMAL);
    CHECK(v.score[5] == 0.0f);
    CHECK_EQ_INT(v.piece_len[5], 3);
    CHECK(memcmp(v.piece[5], " ab", 3) == 0);
    pl_vocab_free(&v);

    /* explicit values: out-of-range ids become -1, flags are read */
    gguf_vocab(&o, "llama", 6, 6);
    gb_u32(&o, "tokenizer.ggml.bos_token_id", 0xFFFFFFFFu);
    gb_u32(&o, "tokenizer.ggml.eos_token_id", 4);
    put(gb_key(&o, "tokenizer.ggml.add_bos_token", GGUF_BOOL), "\0", 1);
    put(gb_key(&o, "tokenizer.ggml.add_space_prefix", GGUF_BOOL), "\0", 1);
    CHECK_EQ_INT(gguf_status(&o, &v), PL_OK);
    CHECK_EQ_INT(v.bos, -1);
    CHECK_EQ_INT(v.eos, 4);
    CHECK_EQ_INT(v.add_bos, 0);
    CHECK_EQ_INT(v.add_space_prefix, 0);
    CHECK_EQ_INT(v.type[1], PL_TOK_CONTROL);
    CHECK(v.score[5] == -5.0f);
    /* no dummy prefix: " ab" is one piece only with its own space */
    int n, ids[8];
    pl_err err;
    CHECK_EQ_INT(pl_tokenize_text(&v, " ab", 3, 1, 0, ids, 8, &n, &err), PL_OK);
    CHECK_EQ_INT(n, 1);   /* add_bos requested but bos absent: skipped */
    CHECK_EQ_INT(ids[0], 5);
    /* "xb": x is no piece and there are no byte tokens: <unk>, then b */
    CHECK_EQ_INT(pl_tokenize_text(&v, "xb", 2, 0, 0, ids, 8, &n, &err), PL_OK);
    CHECK_EQ_INT(n, 2);
    CHECK_EQ_INT(ids[0], 0);
    CHECK_EQ_INT(ids[1], 4);
    pl_vocab_free(&v);

    gguf_vocab(&o, "llama", 5, 0);
    CHECK_EQ_INT(gguf_status(&o, &v), PL_ERR_BAD_FORMAT);
    gguf_vocab(&o, "llama", 0, 7);
    CHECK_EQ_INT(gguf_status(&o, &v), PL_ERR_BAD_FORMAT);
    gguf_vocab(&o, "rwkv", 6, 6);   /* a tokenizer model pocketlm does not have */
    CHECK_EQ_INT(gguf_status(&o, &v), PL_ERR_UNSUPPORTED_ARCH);
    gb_init(&o);
    gb_str(&o, "general.architecture", "llama");
    CHECK_EQ_INT(gguf_status(&o, &v), PL_ERR_NO_TOKENIZER);
}

/* ---- encoding behaviour beyond the fixtures ---- */

/* Any byte string encodes without error and decodes back to itself byte for byte. */
static void test_invalid_utf8(const pl_vocab *v) {
    static const char *odd[] = {"\xff", "\xc3", "abc\xe2\x96", "\xed\xa0\x80 surrogate", "\xc0\xaf overlong",
                                "\x80\x80\x80", "\xf4\x90\x80\x80", "ok \xf0\x9f\x98", "\xe2\x96\x81 literal",
                                "nul\0inside"};
    static const int odd_len[] = {1, 1, 5, 13, 11, 3, 4, 6, 11, 10};
    int all = 1;
    for (int i = 0; i < 10; i++) all &= round_trips(v, odd[i], odd_len[i]);
    CHECK(all);
    /* a lone invalid byte is its byte token */
    int n = 0;
    int *ids = encode(v, "\xff", 1, 0, 0, &n);
    CHECK(ids && n == 2 && ids[1] == v->byte_token[0xff]);
    free(ids);

    uint64_t s = 12345;
    char text[64];
    all = 1;
    for (int i = 0; i < 2000; i++) {
        int len = (int)(s % 64);
        for (int j = 0; j < len; j++) {
            s = s * 6364136223846793005ULL + 1442695040888963407ULL;
            text[j] = (char)(s >> 56);
        }
        s = s * 6364136223846793005ULL + 1442695040888963407ULL;
        all &= round_trips(v, text, len);
    }
    CHECK(all);
}

static void test_special(const pl_vocab *v) {
    int n, na, nb, ns;
    int *a = encode(v, "Hello", 5, 0, 0, &na), *b = encode(v, "world", 5, 0, 0, &nb);
    /* parse_special: a control piece in the text is that token, and each stretch of text
     * around it is encoded on its own with a dummy prefix (llama.cpp's SPM behaviour). */
    int *s = encode(v, "Hello</s>world", 14, 0, 1, &ns);
    int expect[64];
    memcpy(expect, a, (size_t)na * sizeof *a);
    expect[na] = v->eos;
    memcpy(expect + na + 1, b, (size_t)nb * sizeof *b);
    CHECK(s && same_ids(s, ns, expect, na + 1 + nb));
    free(s);
    s = encode(v, "<s>Hello</s>", 12, 1, 1, &ns);   /* BOS from add_bos, then the text's own */
    CHECK(s && ns == na + 3 && s[0] == v->bos && s[1] == v->bos && s[ns - 1] == v->eos &&
          memcmp(s + 2, a, (size_t)na * sizeof *a) == 0);
    free(s);
    /* without parse_special the same text is plain text */
    s = encode(v, "Hello</s>world", 14, 0, 0, &ns);
    int has_eos = 0;
    for (int i = 0; s && i < ns; i++) has_eos |= s[i] == v->eos;
    CHECK(s && !has_eos && ns > na + nb);
    free(s);
    s = encode(v, "</s>", 4, 0, 1, &n);
    CHECK(s && n == 1 && s[0] == v->eos);
    free(s);
    free(a);
    free(b);
}

/* Long inputs stay fast (the merge loop must not be quadratic). */
static void test_long_inputs(const pl_vocab *v) {
    int len = 100 * 1024;
    char *text = malloc((size_t)len);
    static const char words[] = "Once upon a time there was a happy little dog who liked to run. ";
    const char fills[3] = {0, ' ', 'a'};
    for (int k = 0; k < 3; k++) {
        for (int i = 0; i < len; i++) text[i] = k ? fills[k] : words[i % (sizeof words - 1)];
        clock_t t0 = clock();
        int n = 0;
        int *ids = encode(v, text, len, 1, 0, &n);
        double secs = (double)(clock() - t0) / CLOCKS_PER_SEC;
        CHECK(ids != NULL);
        CHECK(secs < 2.0);
        CHECK(round_trips(v, text, len));
        fprintf(stderr, "100 KB input %d: %d tokens in %.3f s\n", k, n, secs);
        free(ids);
    }
    free(text);
}

static void test_decode_rules(const pl_vocab *v) {
    char byte_buf[1];
    int len;
    const char *p = pl_token_bytes(v, -1, 1, v->bos, byte_buf, &len);
    CHECK_EQ_INT(len, 0);
    p = pl_token_bytes(v, -1, 1, v->byte_token['A'], byte_buf, &len);
    CHECK(len == 1 && p[0] == 'A');
    int space = pl_vocab_find(v, " a", 2);   /* leading space kept unless right after BOS */
    CHECK(space >= 0);
    p = pl_token_bytes(v, 100, 1, space, byte_buf, &len);
    CHECK(len == 2 && memcmp(p, " a", 2) == 0);
    p = pl_token_bytes(v, v->bos, 1, space, byte_buf, &len);
    CHECK(len == 1 && p[0] == 'a');
    p = pl_token_bytes(v, -1, 1, v->n_vocab, byte_buf, &len);
    CHECK_EQ_INT(len, 0);
}

int main(void) {
    size_t size_512, size_gguf, size_32k, size_32k_gguf;
    uint8_t *tok512 = try_read_file("models/tok512.bin", 0, &size_512);
    uint8_t *gguf512 = try_read_file("models/stories260K.gguf", 0, &size_gguf);
    uint8_t *tok32k = read_shared("llama2c-tokenizer-32k/tokenizer.bin", 0, &size_32k);
    uint8_t *gguf32k = read_shared("llamacpp-vocab-tests/ggml-vocab-llama-spm.gguf", 0, &size_32k_gguf);
    CHECK(tok512 && gguf512);
    if (!tok512 || !gguf512) return check_report("tokenizer");

    pl_vocab v512, v512g;
    CHECK_EQ_INT(load_bin(&v512, tok512, size_512, 512), PL_OK);
    CHECK_EQ_INT(load_gguf(&v512g, gguf512, size_gguf), PL_OK);
    test_vocab_tables(&v512, &v512g);
    test_fixture(&v512, "tok512.bin", "tests/fixtures/spm_tok512.json");
    test_fixture(&v512g, "stories260K.gguf", "tests/fixtures/spm_tok512.json");
    test_bad_tokenizer_bin(tok512, size_512);
    test_gguf_metadata();
    test_invalid_utf8(&v512);
    test_special(&v512g);
    test_decode_rules(&v512);
    test_long_inputs(&v512);

    if (tok32k && gguf32k) {
        pl_vocab v32k, v32kg;
        CHECK_EQ_INT(load_bin(&v32k, tok32k, size_32k, 32000), PL_OK);
        CHECK_EQ_INT(load_gguf(&v32kg, gguf32k, size_32k_gguf), PL_OK);
        test_gguf_32k(&v32k, &v32kg);
        test_fixture(&v32k, "32k tokenizer.bin", "tests/fixtures/spm_llama2_32k.json");
        test_fixture(&v32kg, "ggml-vocab-llama-spm.gguf", "tests/fixtures/spm_llama2_32k.json");
        test_llamacpp_vectors(&v32kg);
        test_llamacpp_vectors(&v32k);
        test_invalid_utf8(&v32kg);
        test_special(&v32kg);
        test_long_inputs(&v32k);
        pl_vocab_free(&v32k);
        pl_vocab_free(&v32kg);
    }
    pl_vocab_free(&v512);
    pl_vocab_free(&v512g);
    free(tok512);
    free(gguf512);
    free(tok32k);
    free(gguf32k);
    return check_report("tokenizer");
}
