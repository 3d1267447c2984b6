/* File helpers for the native C unit tests (run from the repository root). Static inline
 * so that a test using only some of them compiles without unused-function warnings. */
#ifndef PL_TESTUTIL_H
#define PL_TESTUTIL_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../csrc/pocketlm.h"
#include "check.h"

/* The shared model folder (read-only data, not in the repository): beside the clone. */
#define SHARED_MODELS "../shared/models/"

/* The whole file, or NULL if it cannot be read. The buffer comes from pl_alloc, so
 * pl_load may take it (pl_alloc is malloc: free and pl_model_free release it too). Binary
 * files get an exact-size buffer, so ASan catches any read past the end; text files
 * (text = 1) a NUL after the last byte, so they can be searched as strings. *size does
 * not count the NUL. */
static inline void *try_read_file(const char *path, int text, size_t *size) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = n < 0 ? NULL : pl_alloc((size_t)n + (text ? 1 : 0));
    if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
        pl_dealloc(buf);
        buf = NULL;
    }
    fclose(f);
    if (!buf) return NULL;
    if (text) buf[n] = 0;
    *size = (size_t)n;
    return buf;
}

/* try_read_file for the files a test cannot run without: exits when one is missing. */
static inline void *must_read_file(const char *path, int text, size_t *size) {
    void *buf = try_read_file(path, text, size);
    if (!buf) {
        fprintf(stderr, "cannot read %s\n", path);
        exit(1);
    }
    return buf;
}
static inline void *read_file(const char *path, size_t *size) { return must_read_file(path, 0, size); }
static inline char *read_text(const char *path, size_t *size) { return must_read_file(path, 1, size); }

/* A file of the shared model folder, or NULL counted as a failed check. */
static inline void *read_shared(const char *name, int text, size_t *size) {
    char path[512];
    snprintf(path, sizeof path, SHARED_MODELS "%s", name);
    void *buf = try_read_file(path, text, size);
    if (!buf) {
        fprintf(stderr, "missing shared model file %s\n", name);
        check_failed++;
    }
    return buf;
}

/* An exact-size heap copy of src[0..n), so ASan catches any read past the end. */
static inline uint8_t *exact_copy(const void *src, size_t n) {
    uint8_t *p = malloc(n ? n : 1);
    if (n) memcpy(p, src, n);
    return p;
}

/* Worst |got - want| as a fraction of the tolerance atol + rtol |want|: <= 1 passes, a
 * NaN counts as the worst. */
static inline float worst_error(const float *got, const float *want, size_t n, float atol, float rtol) {
    float worst = 0;
    for (size_t i = 0; i < n; i++) {
        float e = fabsf(got[i] - want[i]) / (atol + rtol * fabsf(want[i]));
        if (!(e <= worst)) worst = e;
    }
    return worst;
}

static inline int base64_value(char c) {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    return c == '+' ? 62 : c == '/' ? 63 : -1;
}

/* PyTorch fixtures in llm-viz's partials format (JSON files in tests/fixtures, indent 4)
 * store each top-level entry as
 *     "name": { "shape": [...], "dtype": "torch.float32", "data": "<base64 float32 LE>" }
 * Returns the n floats of entry name (malloc'd); exits if the entry has another size. */
static inline float *fixture_tensor(const char *json, const char *name, size_t n) {
    char key[64];
    snprintf(key, sizeof key, "\n    \"%s\": {", name);
    const char *p = strstr(json, key);
    const char *data = p ? strstr(p, "\"data\": \"") : NULL;
    if (!data) { fprintf(stderr, "fixture has no tensor %s\n", name); exit(1); }
    data += strlen("\"data\": \"");
    uint8_t *bytes = malloc(n * sizeof(float) + 3);
    size_t n_bytes = 0;
    uint32_t bits = 0;
    int n_bits = 0;
    for (; *data != '"' && n_bytes < n * sizeof(float) + 3; data++) {
        int v = base64_value(*data);
        if (v < 0) continue;   /* '=' padding */
        bits = bits << 6 | (uint32_t)v;
        n_bits += 6;
        if (n_bits >= 8) {
            n_bits -= 8;
            bytes[n_bytes++] = (uint8_t)(bits >> n_bits);
        }
    }
    if (n_bytes != n * sizeof(float)) {
        fprintf(stderr, "tensor %s has %zu bytes, expected %zu\n", name, n_bytes, n * sizeof(float));
        exit(1);
    }
    float *out = malloc(n * sizeof(float));
    memcpy(out, bytes, n * sizeof(float));   /* little-endian host, as the fixture */
    free(bytes);
    return out;
}

/* A pl_write_fn that collects a tool's output (pl_synth_gguf, pl_quantize_gguf) in
 * memory; data is realloc'd, the caller frees it. */
typedef struct {
    uint8_t *data;
    size_t len, cap;
} mem_sink;

static inline int mem_sink_write(void *user, const void *data, size_t n) {
    mem_sink *s = user;
    if (s->len + n > s->cap) {
        size_t cap = (s->len + n) * 2;
        uint8_t *grown = realloc(s->data, cap);
        if (!grown) return 1;
        s->data = grown;
        s->cap = cap;
    }
    memcpy(s->data + s->len, data, n);
    s->len += n;
    return 0;
}

static inline int contains(const char *s, const char *part) { return strstr(s, part) != NULL; }

#endif
