/* Helpers for the tokenizer tests: vocabs from GGUF bytes, encode/decode into malloc'd
 * arrays, id comparison with a readable mismatch report, and llama.cpp's
 * test-tokenizer-0 vectors (ggml-vocab-NAME.gguf.inp/.out in the shared model folder). */
#ifndef PL_VOCAB_UTIL_H
#define PL_VOCAB_UTIL_H

#include "testutil.h"
#include "vocab.h"

/* The vocabulary of a GGUF file in memory (the vocab does not point into buf). */
static inline int vocab_from_gguf_bytes(pl_vocab *v, const void *buf, size_t size, pl_err *err) {
    pl_gguf g;
    int st = pl_gguf_parse(&g, buf, size, err);
    if (st == PL_OK) {
        st = pl_vocab_from_gguf(v, &g, err);
        pl_gguf_free(&g);
    }
    return st;
}

/* Encodes and returns a malloc'd id array (NULL on failure, with the message printed):
 * into room for len + 2 ids, or a second time into the room the first call asked for. */
static inline int *encode(const pl_vocab *v, const char *text, int len, int bos, int special, int *n) {
    int *ids = malloc(((size_t)len + 2) * sizeof *ids);
    pl_err err = {0};
    int st = pl_tokenize_text(v, text, len, bos, special, ids, len + 2, n, &err);
    if (st == PL_ERR_INVALID_ARGUMENT && *n > len + 2) {
        ids = realloc(ids, (size_t)*n * sizeof *ids);
        st = pl_tokenize_text(v, text, len, bos, special, ids, *n, n, &err);
    }
    if (st != PL_OK) {
        fprintf(stderr, "pl_tokenize_text: %s\n", err.msg);
        free(ids);
        return NULL;
    }
    return ids;
}

/* Concatenated pl_token_bytes of ids, the first one read as if it followed token prev.
 * Returns malloc'd bytes. */
static inline char *decode(const pl_vocab *v, int prev, const int *ids, int n, int *len) {
    size_t cap = 16;
    for (int i = 0; i < n; i++) cap += (size_t)v->piece_len[ids[i]] + 1;
    char *out = malloc(cap), byte_buf[1];
    *len = 0;
    for (int i = 0; i < n; i++) {
        int plen;
        const char *p = pl_token_bytes(v, i ? ids[i - 1] : prev, *len == 0, ids[i], byte_buf, &plen);
        memcpy(out + *len, p, (size_t)plen);
        *len += plen;
    }
    return out;
}

static inline int same_ids(const int *a, int na, const int *b, int nb) {
    return na == nb && (na == 0 || memcmp(a, b, (size_t)na * sizeof *a) == 0);
}

static inline void print_ids(const char *label, const int *ids, int n) {
    fprintf(stderr, "  %s:", label);
    for (int i = 0; i < n; i++) fprintf(stderr, " %d", ids[i]);
    fprintf(stderr, "\n");
}

/* Checks that ids (NULL: encoding failed) are the expected ones; returns 1 when equal. */
static inline int check_ids(const char *what, const char *text, const int *ids, int n,
                            const int *expect, int n_expect) {
    int ok = ids && same_ids(ids, n, expect, n_expect);
    CHECK(ok);
    if (!ok) {
        fprintf(stderr, "%s: mismatch for \"%.60s\"\n", what, text);
        print_ids("got", ids, ids ? n : 0);
        print_ids("expected", expect, n_expect);
    }
    return ok;
}

/* ---- fixtures: {"hex": "...", "ids": [...]} one case per line (gen_*_fixtures.py) ---- */

typedef struct {
    char *text;
    int len;
    int *ids;
    int n_ids;
} fixture_case;

static inline int hex_val(char c) { return c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10; }

/* The generator writes ASCII JSON, so a literal `"hex": "` or `"ids": [` can only be a
 * key (quotes inside strings are escaped). */
static inline int load_fixture(const char *path, fixture_case **cases) {
    size_t size;
    char *json = try_read_file(path, 1, &size);
    *cases = NULL;
    if (!json) {
        fprintf(stderr, "missing fixture %s\n", path);
        check_failed++;
        return 0;
    }
    int n = 0, cap = 0;
    for (char *p = json; (p = strstr(p, "\"hex\": \"")) != NULL;) {
        if (n == cap) *cases = realloc(*cases, (size_t)(cap = cap ? 2 * cap : 64) * sizeof **cases);
        fixture_case *c = &(*cases)[n++];
        p += 8;
        char *end = strchr(p, '"');
        c->len = (int)(end - p) / 2;
        c->text = malloc((size_t)c->len + 1);
        for (int i = 0; i < c->len; i++) c->text[i] = (char)(hex_val(p[2 * i]) * 16 + hex_val(p[2 * i + 1]));
        c->text[c->len] = 0;
        p = strstr(end, "\"ids\": [") + 8;
        end = strchr(p, ']');
        c->n_ids = 0;
        c->ids = malloc((size_t)(end - p + 1) * sizeof *c->ids);
        while (p < end) {
            c->ids[c->n_ids++] = (int)strtol(p, &p, 10);
            while (p < end && (*p == ',' || *p == ' ')) p++;
        }
    }
    free(json);
    return n;
}

static inline void free_fixture(fixture_case *cases, int n) {
    for (int i = 0; i < n; i++) {
        free(cases[i].text);
        free(cases[i].ids);
    }
    free(cases);
}

/* ---- test-tokenizer-0 vectors ---- */

typedef struct {
    char *inp, *out;   /* whole files */
    char *text[64];    /* test strings, cut in place */
    int len[64];
    int *ids[64], n_ids[64];
    int n;
} vectors;

/* Reads ggml-vocab-<file>.gguf.inp/.out (file = "llama-spm" etc.); returns 0 when absent. */
static inline int load_vectors(vectors *t, const char *file) {
    static const char sep[] = "\n__ggml_vocab_test__\n";
    char path[256];
    size_t inp_size, out_size;
    memset(t, 0, sizeof *t);
    snprintf(path, sizeof path, SHARED_MODELS "llamacpp-vocab-tests/ggml-vocab-%s.gguf.inp", file);
    t->inp = try_read_file(path, 1, &inp_size);
    snprintf(path, sizeof path, SHARED_MODELS "llamacpp-vocab-tests/ggml-vocab-%s.gguf.out", file);
    t->out = try_read_file(path, 1, &out_size);
    if (!t->inp || !t->out) {
        free(t->inp);
        free(t->out);
        return 0;
    }
    char *p = t->inp, *line = t->out;
    for (char *next; t->n < 64 && (next = strstr(p, sep)) != NULL; p = next + strlen(sep)) {
        *next = 0;
        t->text[t->n] = p;
        t->len[t->n] = (int)(next - p);
        char *eol = strchr(line, '\n');
        if (!eol) eol = line + strlen(line);
        t->ids[t->n] = malloc(((size_t)(eol - line) + 1) * sizeof(int));
        for (char *q = line, *after; q < eol; q = after) {
            long id = strtol(q, &after, 10);
            if (after == q) break;
            t->ids[t->n][t->n_ids[t->n]++] = (int)id;
        }
        line = *eol ? eol + 1 : eol;
        t->n++;
    }
    return 1;
}

static inline void free_vectors(vectors *t) {
    for (int i = 0; i < t->n; i++) free(t->ids[i]);
    free(t->inp);
    free(t->out);
}

#endif
