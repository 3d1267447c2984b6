/* A tiny GGUF writer for the tests: metadata of every type, tensor infos and aligned
 * data, or deliberately damaged files (the fields are public for that). Header, keys,
 * infos and data are collected separately and joined by gb_finish. */
#ifndef PL_GGUF_BUILDER_H
#define PL_GGUF_BUILDER_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gguf.h"

typedef struct {
    uint8_t *p;
    size_t n, cap;
} wbuf;

static inline void put(wbuf *b, const void *src, size_t n) {
    if (b->n + n > b->cap) {
        b->cap = (b->n + n) * 2 + 64;
        b->p = realloc(b->p, b->cap);
    }
    memcpy(b->p + b->n, src, n);
    b->n += n;
}
static inline void put_u32(wbuf *b, uint32_t v) { put(b, &v, 4); }
static inline void put_u64(wbuf *b, uint64_t v) { put(b, &v, 8); }
static inline void put_str(wbuf *b, const char *s) {
    put_u64(b, strlen(s));
    put(b, s, strlen(s));
}
static inline void pad_to(wbuf *b, size_t align) {
    static const uint8_t zeros[256];
    while (b->n % align) put(b, zeros, 1);
}

typedef struct {
    wbuf meta, infos, data;
    uint64_t n_kv, n_tensors;
    uint32_t alignment;   /* used to lay out data; not written unless gb_set_alignment */
} gguf_builder;

static inline void gb_init(gguf_builder *b) {
    memset(b, 0, sizeof *b);
    b->alignment = 32;
}

/* Starts a key: key string + value type; the caller writes the value into b->meta. */
static inline wbuf *gb_key(gguf_builder *b, const char *key, uint32_t type) {
    put_str(&b->meta, key);
    put_u32(&b->meta, type);
    b->n_kv++;
    return &b->meta;
}
static inline void gb_u32(gguf_builder *b, const char *key, uint32_t v) {
    put_u32(gb_key(b, key, GGUF_U32), v);
}
static inline void gb_f32(gguf_builder *b, const char *key, float v) {
    put(gb_key(b, key, GGUF_F32), &v, 4);
}
static inline void gb_str(gguf_builder *b, const char *key, const char *s) {
    put_str(gb_key(b, key, GGUF_STRING), s);
}

/* Starts an array key of n elements of elem_type; the caller writes them into b->meta. */
static inline wbuf *gb_array(gguf_builder *b, const char *key, uint32_t elem_type, uint64_t n) {
    wbuf *w = gb_key(b, key, GGUF_ARRAY);
    put_u32(w, elem_type);
    put_u64(w, n);
    return w;
}
/* An array of strings. */
static inline void gb_strs(gguf_builder *b, const char *key, const char *const *s, int n) {
    wbuf *w = gb_array(b, key, GGUF_STRING, (uint64_t)n);
    for (int i = 0; i < n; i++) put_str(w, s[i]);
}
static inline void gb_set_alignment(gguf_builder *b, uint32_t a) {
    gb_u32(b, "general.alignment", a);
    b->alignment = a;
}

/* A tensor info with an explicit offset and no data. */
static inline void gb_info(gguf_builder *b, const char *name, uint32_t type, uint32_t n_dims,
                           const uint64_t *ne, uint64_t offset) {
    put_str(&b->infos, name);
    put_u32(&b->infos, n_dims);
    for (uint32_t d = 0; d < n_dims; d++) put_u64(&b->infos, ne[d]);
    put_u32(&b->infos, type);
    put_u64(&b->infos, offset);
    b->n_tensors++;
}

/* A 1-D or 2-D tensor whose data is appended, aligned, to the data section. */
static inline void gb_tensor(gguf_builder *b, const char *name, uint32_t type, uint64_t ne0,
                             uint64_t ne1, const void *data, size_t nbytes) {
    uint64_t ne[2] = {ne0, ne1};
    pad_to(&b->data, b->alignment);
    gb_info(b, name, type, ne1 == 1 ? 1 : 2, ne, b->data.n);
    put(&b->data, data, nbytes);
}

/* Header + metadata + tensor infos + padding + data; frees the builder. */
static inline uint8_t *gb_finish(gguf_builder *b, uint32_t version, size_t *size) {
    wbuf out = {0};
    put(&out, "GGUF", 4);
    put_u32(&out, version);
    put_u64(&out, b->n_tensors);
    put_u64(&out, b->n_kv);
    if (b->meta.n) put(&out, b->meta.p, b->meta.n);
    if (b->infos.n) put(&out, b->infos.p, b->infos.n);
    if (b->data.n) {
        pad_to(&out, b->alignment);
        put(&out, b->data.p, b->data.n);
    }
    free(b->meta.p);
    free(b->infos.p);
    free(b->data.p);
    *size = out.n;
    return out.p;
}

#endif
