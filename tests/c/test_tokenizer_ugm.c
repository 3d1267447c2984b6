/* SentencePiece unigram (T5) tokenization: ids vs SentencePiece itself on a unigram model
 * it trained (tests/fixtures/ugm_t5.gguf and .json, made by gen_ugm_fixtures.py: NFKC
 * character map, whitespace rules, unknown characters, user-defined pieces, bytes that
 * are not UTF-8, characters that expand past text_len + 2 ids), EOS after the text,
 * decoding vs SentencePiece's, and corrupt character maps; a second model trained with
 * byte fallback (ugm_t5_bytes: characters no piece covers as their UTF-8 bytes). */
#include "vocab_util.h"

#include <stdlib.h>
#include <string.h>

#define DIR "tests/fixtures/"

/* The cases of DIR name suffix .json, at least `least` of them. */
static int load_cases(const char *name, const char *suffix, int least, fixture_case **cases) {
    char path[128];
    snprintf(path, sizeof path, DIR "%s%s.json", name, suffix);
    int n = load_fixture(path, cases);
    CHECK(n >= least);
    return n;
}

/* name.json: SentencePiece's ids for each text. */
static void test_sentencepiece_ids(const pl_vocab *v, const char *name) {
    fixture_case *cases;
    int n = load_cases(name, "", 60, &cases), pass = 0;
    for (int i = 0; i < n; i++) {
        int m = 0, m2 = 0;
        int *ids = encode(v, cases[i].text, cases[i].len, 0, 0, &m);
        pass += check_ids(name, cases[i].text, ids, m, cases[i].ids, cases[i].n_ids);
        /* the model's special tokens: no BOS, EOS after the text */
        int *with_eos = encode(v, cases[i].text, cases[i].len, 1, 0, &m2);
        CHECK(ids && with_eos && m2 == m + 1 && same_ids(with_eos, m, ids, m) && with_eos[m] == v->eos);
        free(ids);
        free(with_eos);
    }
    fprintf(stderr, "%s: %d/%d SentencePiece cases match\n", name, pass, n);
    free_fixture(cases, n);
}

/* U+FDFA normalizes to 18 characters: more ids than text_len + 2, so the first call says
 * how many and fails; with that room the ids are SentencePiece's (the fixture case). */
static void test_expanding_text(const pl_vocab *v) {
    static const char text[] = "\xef\xb7\xba \xe3\x8d\xbf \xef\xb7\xba\xef\xb7\xba";
    int len = (int)sizeof text - 1, ids[64], n = 0;
    pl_err err = {0};
    CHECK_EQ_INT(pl_tokenize_text(v, text, len, 0, 0, ids, len + 2, &n, &err), PL_ERR_INVALID_ARGUMENT);
    CHECK(n == 24 && strstr(err.msg, "needs 24 ids") != NULL);
    int need = n;
    CHECK_EQ_INT(pl_tokenize_text(v, text, len, 0, 0, ids, need, &n, &err), PL_OK);
    CHECK_EQ_INT(n, need);
}

static void test_metadata(const pl_vocab *v) {
    CHECK_EQ_INT(v->kind, PL_VOCAB_UGM);
    CHECK_EQ_INT(v->bos, -1);
    CHECK_EQ_INT(v->eos, 1);
    CHECK_EQ_INT(v->unk, 2);
    CHECK_EQ_INT(v->add_bos, 0);
    CHECK_EQ_INT(v->add_eos, 1);
    CHECK_EQ_INT(v->add_space_prefix, 1);
}

/* Decoding vs SentencePiece's decode (name_decode.json): the ids of every encoding case
 * (byte pieces among them in ugm_t5_bytes), and sequences with control, unknown and lone
 * space pieces at the start and in the middle. */
static void test_decode(const pl_vocab *v, const char *name) {
    fixture_case *cases;
    int n = load_cases(name, "_decode", 70, &cases), pass = 0;
    for (int i = 0; i < n; i++) {
        int len = 0;
        char *out = decode(v, -1, cases[i].ids, cases[i].n_ids, &len);
        int ok = len == cases[i].len && memcmp(out, cases[i].text, (size_t)len) == 0;
        CHECK(ok);
        if (!ok) fprintf(stderr, "decode: got \"%.*s\", expected \"%s\"\n", len, out, cases[i].text);
        pass += ok;
        free(out);
    }
    fprintf(stderr, "%s: %d/%d decodings match SentencePiece's\n", name, pass, n);
    free_fixture(cases, n);
}

/* The fixture file with its character map's first 4 bytes (the double array's size) set
 * to size, or with every unit's value pointing past the strings (value_past_end). */
static int load_with_charsmap(const uint8_t *file, size_t file_size, uint32_t trie_size, int value_past_end,
                              pl_vocab *v, pl_err *err) {
    static const char key[] = "tokenizer.ggml.precompiled_charsmap";
    uint8_t *copy = malloc(file_size);
    memcpy(copy, file, file_size);
    uint8_t *at = NULL;
    for (size_t i = 0; i + sizeof key < file_size && !at; i++)
        if (memcmp(copy + i, key, sizeof key - 1) == 0) at = copy + i + sizeof key - 1;
    CHECK(at != NULL);
    if (!at) {
        free(copy);
        return PL_ERR_INVALID_STATE;
    }
    uint8_t *map = at + 4 + 4 + 8;   /* value type, element type, count */
    uint32_t old;
    memcpy(&old, map, 4);
    if (trie_size) memcpy(map, &trie_size, 4);
    for (uint32_t u = 0; value_past_end && u < old / 4; u++) {   /* leaf units: bit 31 set */
        uint32_t unit;
        memcpy(&unit, map + 4 + 4 * u, 4);
        if (unit >> 31) {
            unit = 0x80000000u | 0x7FFFFFF0u;
            memcpy(map + 4 + 4 * u, &unit, 4);
        }
    }
    int st = vocab_from_gguf_bytes(v, copy, file_size, err);
    free(copy);
    return st;
}

static void test_corrupt_charsmap(const uint8_t *file, size_t size) {
    pl_vocab v;
    pl_err err = {0};
    CHECK_EQ_INT(load_with_charsmap(file, size, 0x7FFFFFF0u, 0, &v, &err), PL_ERR_BAD_FORMAT);
    CHECK(strstr(err.msg, "precompiled_charsmap") != NULL);
    CHECK_EQ_INT(load_with_charsmap(file, size, 6, 0, &v, &err), PL_ERR_BAD_FORMAT);
    /* replacements past the end of the strings: found when a mapped character is met */
    CHECK_EQ_INT(load_with_charsmap(file, size, 0, 1, &v, &err), PL_OK);
    int ids[64], n;
    CHECK_EQ_INT(pl_tokenize_text(&v, "plain ascii", 11, 0, 0, ids, 64, &n, &err), PL_OK);
    CHECK_EQ_INT(pl_tokenize_text(&v, "\xef\xbc\xa1", 3, 0, 0, ids, 64, &n, &err), PL_ERR_BAD_FORMAT);
    pl_vocab_free(&v);
}

/* DIR name.gguf's vocabulary through the tests above (the expanding text's counts are
 * ugm_t5's: with expanding); returns the file, or NULL if it could not be read. */
static uint8_t *test_model(const char *name, int expanding, size_t *size) {
    char path[128];
    snprintf(path, sizeof path, DIR "%s.gguf", name);
    uint8_t *file = try_read_file(path, 0, size);
    CHECK(file != NULL);
    pl_vocab v;
    pl_err err = {0};
    if (!file || vocab_from_gguf_bytes(&v, file, *size, &err) != PL_OK) {
        fprintf(stderr, "%s: %s\n", path, file ? err.msg : "missing");
        check_failed++;
        return file;
    }
    test_metadata(&v);
    test_sentencepiece_ids(&v, name);
    test_decode(&v, name);
    if (expanding) test_expanding_text(&v);
    pl_vocab_free(&v);
    return file;
}

int main(void) {
    size_t size, size_bytes;
    uint8_t *file = test_model("ugm_t5", 1, &size);
    free(test_model("ugm_t5_bytes", 0, &size_bytes));
    if (file) test_corrupt_charsmap(file, size);
    free(file);
    return check_report("tokenizer_ugm");
}
