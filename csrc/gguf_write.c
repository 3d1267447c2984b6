/* GGUF v3 writer (layout: the comment at the top of gguf.c). The header is built in two
 * byte buffers (metadata, tensor infos) because its counts come first; tensor data is
 * passed straight through to the write function. */
#include "gguf_write.h"

#include <stdlib.h>
#include <string.h>

#define ALIGNMENT 32
#define MAX_NAME_LEN 65535   /* the reader's limit for keys and tensor names */

void pl_gguf_writer_init(pl_gguf_writer *w, pl_write_fn write, void *user) {
    memset(w, 0, sizeof *w);
    w->write = write;
    w->user = user;
}

void pl_gguf_writer_free(pl_gguf_writer *w) {
    free(w->kv.data);
    free(w->info.data);
    free(w->tensor_bytes);
    memset(w, 0, sizeof *w);
}

/* ---- encoding into the header buffers ------------------------------------------------ */

static int append(pl_gguf_writer *w, pl_gguf_bytes *b, const void *data, size_t n) {
    if (w->err.status) return w->err.status;
    if (n > b->cap - b->len) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap - b->len < n) {
            if (cap > SIZE_MAX / 2)
                return pl_fail(&w->err, PL_ERR_OUT_OF_MEMORY, "GGUF header too large");
            cap *= 2;
        }
        uint8_t *data_new = realloc(b->data, cap);
        if (!data_new)
            return pl_fail(&w->err, PL_ERR_OUT_OF_MEMORY, "out of memory for the GGUF header");
        b->data = data_new;
        b->cap = cap;
    }
    if (n) memcpy(b->data + b->len, data, n);
    b->len += n;
    return PL_OK;
}

static int append_u32(pl_gguf_writer *w, pl_gguf_bytes *b, uint32_t v) { return append(w, b, &v, 4); }
static int append_u64(pl_gguf_writer *w, pl_gguf_bytes *b, uint64_t v) { return append(w, b, &v, 8); }

static int append_str(pl_gguf_writer *w, pl_gguf_bytes *b, const char *s, uint64_t len) {
    append_u64(w, b, len);
    return append(w, b, s, (size_t)len);
}

/* name need not be NUL-terminated (keys copied from a parsed file are not). */
static int check_name(pl_gguf_writer *w, const char *name, size_t len, const char *what) {
    if (w->err.status) return w->err.status;
    if (w->header_written)
        return pl_fail(&w->err, PL_ERR_INVALID_STATE, "GGUF %s %.*s added after the header",
                       what, (int)(len < 200 ? len : 200), name);
    if (len == 0 || len > MAX_NAME_LEN)
        return pl_fail(&w->err, PL_ERR_INVALID_ARGUMENT, "GGUF %s of length %zu (must be 1..%d)",
                       what, len, MAX_NAME_LEN);
    return PL_OK;
}

/* Key and type of a new metadata entry. */
static int begin_kv(pl_gguf_writer *w, const char *key, size_t key_len, uint32_t type) {
    int st = check_name(w, key, key_len, "key");
    if (st) return st;
    w->n_kv++;
    append_str(w, &w->kv, key, key_len);
    return append_u32(w, &w->kv, type);
}

int pl_gguf_add_scalar(pl_gguf_writer *w, const char *key, uint32_t type, const void *value) {
    size_t size = pl_gguf_type_size(type);
    if (size == 0 && !w->err.status)
        return pl_fail(&w->err, PL_ERR_INVALID_ARGUMENT, "key %s: %u is not a scalar type", key, type);
    begin_kv(w, key, strlen(key), type);
    return append(w, &w->kv, value, size);
}

int pl_gguf_add_u32(pl_gguf_writer *w, const char *key, uint32_t v) {
    return pl_gguf_add_scalar(w, key, GGUF_U32, &v);
}

int pl_gguf_add_i32(pl_gguf_writer *w, const char *key, int32_t v) {
    return pl_gguf_add_scalar(w, key, GGUF_I32, &v);
}

int pl_gguf_add_f32(pl_gguf_writer *w, const char *key, float v) {
    return pl_gguf_add_scalar(w, key, GGUF_F32, &v);
}

int pl_gguf_add_bool(pl_gguf_writer *w, const char *key, int v) {
    uint8_t b = v != 0;
    return pl_gguf_add_scalar(w, key, GGUF_BOOL, &b);
}

int pl_gguf_add_str(pl_gguf_writer *w, const char *key, const char *s) {
    begin_kv(w, key, strlen(key), GGUF_STRING);
    return append_str(w, &w->kv, s, strlen(s));
}

int pl_gguf_add_array(pl_gguf_writer *w, const char *key, uint32_t elem_type, const void *values,
                      uint64_t n) {
    size_t size = pl_gguf_type_size(elem_type);
    if (size == 0 && !w->err.status)
        return pl_fail(&w->err, PL_ERR_INVALID_ARGUMENT, "key %s: %u is not a scalar type",
                       key, elem_type);
    if (n > SIZE_MAX / size && !w->err.status)
        return pl_fail(&w->err, PL_ERR_OUT_OF_MEMORY, "key %s: array too large", key);
    begin_kv(w, key, strlen(key), GGUF_ARRAY);
    append_u32(w, &w->kv, elem_type);
    append_u64(w, &w->kv, n);
    return append(w, &w->kv, values, (size_t)n * size);
}

int pl_gguf_add_str_array(pl_gguf_writer *w, const char *key, const char *const *strs,
                          const uint64_t *lens, uint64_t n) {
    begin_kv(w, key, strlen(key), GGUF_ARRAY);
    append_u32(w, &w->kv, GGUF_STRING);
    append_u64(w, &w->kv, n);
    for (uint64_t i = 0; i < n; i++) append_str(w, &w->kv, strs[i], lens ? lens[i] : strlen(strs[i]));
    return w->err.status;
}

/* Bytes of n values of type at p inside a parsed (so validated) file. */
static size_t values_size(uint32_t type, const uint8_t *p, uint64_t n) {
    size_t size = 0;
    if (type != GGUF_STRING && type != GGUF_ARRAY) return (size_t)n * pl_gguf_type_size(type);
    for (uint64_t i = 0; i < n; i++) {
        uint64_t len;
        if (type == GGUF_STRING) {
            memcpy(&len, p + size, 8);
            size += 8 + (size_t)len;
        } else {   /* a nested array: element type, count, elements */
            uint32_t elem;
            memcpy(&elem, p + size, 4);
            memcpy(&len, p + size + 4, 8);
            size += 12;
            size += values_size(elem, p + size, len);
        }
    }
    return size;
}

int pl_gguf_add_kv_copy(pl_gguf_writer *w, const pl_gguf_kv *kv) {
    begin_kv(w, kv->key, kv->key_len, kv->type);
    if (kv->type != GGUF_ARRAY) return append(w, &w->kv, kv->value, values_size(kv->type, kv->value, 1));
    append_u32(w, &w->kv, kv->arr_type);
    append_u64(w, &w->kv, kv->arr_n);
    return append(w, &w->kv, kv->value, values_size(kv->arr_type, kv->value, kv->arr_n));
}

int pl_gguf_add_tensor(pl_gguf_writer *w, const char *name, uint32_t n_dims, const int64_t *ne,
                       uint32_t type) {
    int st = check_name(w, name, strlen(name), "tensor");
    if (st) return st;
    int block_elems, block_bytes;
    pl_type_block(type, &block_elems, &block_bytes);
    if (block_elems == 0)
        return pl_fail(&w->err, PL_ERR_UNSUPPORTED_TYPE, "tensor %s: unknown type %u", name, type);
    if (n_dims < 1 || n_dims > 4)
        return pl_fail(&w->err, PL_ERR_INVALID_ARGUMENT, "tensor %s: %u dimensions", name, n_dims);
    uint64_t n_blocks = 1;
    for (uint32_t d = 0; d < n_dims; d++) {
        if (ne[d] <= 0 || (d == 0 && ne[0] % block_elems))
            return pl_fail(&w->err, PL_ERR_INVALID_ARGUMENT,
                           "tensor %s: dimension %u is %lld (a %s row needs a multiple of %d)",
                           name, d, (long long)ne[d], pl_type_name(type), block_elems);
        uint64_t f = (uint64_t)(d == 0 ? ne[0] / block_elems : ne[d]);
        if (n_blocks > UINT64_MAX / 4096 / f)
            return pl_fail(&w->err, PL_ERR_INVALID_ARGUMENT, "tensor %s is too large", name);
        n_blocks *= f;
    }
    if (w->n_tensors == w->tensor_cap) {
        size_t cap = w->tensor_cap ? 2 * w->tensor_cap : 64;
        uint64_t *sizes = realloc(w->tensor_bytes, cap * sizeof *sizes);
        if (!sizes) return pl_fail(&w->err, PL_ERR_OUT_OF_MEMORY, "out of memory for tensor infos");
        w->tensor_bytes = sizes;
        w->tensor_cap = cap;
    }
    uint64_t nbytes = n_blocks * (uint64_t)block_bytes;
    w->tensor_bytes[w->n_tensors++] = nbytes;
    append_str(w, &w->info, name, strlen(name));
    append_u32(w, &w->info, n_dims);
    for (uint32_t d = 0; d < n_dims; d++) append_u64(w, &w->info, (uint64_t)ne[d]);
    append_u32(w, &w->info, type);
    append_u64(w, &w->info, w->data_size);
    w->data_size += (nbytes + ALIGNMENT - 1) / ALIGNMENT * ALIGNMENT;
    return w->err.status;
}

/* ---- output ------------------------------------------------------------------------------ */

static int emit(pl_gguf_writer *w, const void *data, size_t n) {
    if (w->err.status) return w->err.status;
    if (n && w->write(w->user, data, n) != 0)
        return pl_fail(&w->err, PL_ERR_INVALID_STATE, "writing the GGUF output failed");
    return PL_OK;
}

static int emit_padding(pl_gguf_writer *w, uint64_t written) {
    static const uint8_t zeros[ALIGNMENT];
    return emit(w, zeros, (size_t)((ALIGNMENT - written % ALIGNMENT) % ALIGNMENT));
}

int pl_gguf_write_header(pl_gguf_writer *w) {
    if (w->err.status) return w->err.status;
    if (w->header_written)
        return pl_fail(&w->err, PL_ERR_INVALID_STATE, "GGUF header written twice");
    w->header_written = 1;
    uint32_t version = 3;
    emit(w, "GGUF", 4);
    emit(w, &version, 4);
    emit(w, &w->n_tensors, 8);
    emit(w, &w->n_kv, 8);
    emit(w, w->kv.data, w->kv.len);
    emit(w, w->info.data, w->info.len);
    return emit_padding(w, 4 + 4 + 8 + 8 + (uint64_t)w->kv.len + w->info.len);
}

/* Skips over tensors without data, padding each one that is complete. */
static void next_tensor(pl_gguf_writer *w) {
    while (w->cur < w->n_tensors && w->cur_written == w->tensor_bytes[w->cur]) {
        emit_padding(w, w->cur_written);
        w->cur++;
        w->cur_written = 0;
    }
}

int pl_gguf_write_data(pl_gguf_writer *w, const void *data, size_t n) {
    const uint8_t *bytes = data;
    if (w->err.status) return w->err.status;
    if (!w->header_written)
        return pl_fail(&w->err, PL_ERR_INVALID_STATE, "GGUF tensor data before the header");
    while (n > 0) {
        next_tensor(w);
        if (w->cur == w->n_tensors)
            return pl_fail(&w->err, PL_ERR_INVALID_ARGUMENT, "more GGUF tensor data than tensors");
        uint64_t left = w->tensor_bytes[w->cur] - w->cur_written;
        size_t part = left < n ? (size_t)left : n;
        if (emit(w, bytes, part)) return w->err.status;
        w->cur_written += part;
        bytes += part;
        n -= part;
    }
    next_tensor(w);
    return w->err.status;
}

int pl_gguf_finish(pl_gguf_writer *w) {
    if (w->err.status) return w->err.status;
    if (!w->header_written) pl_gguf_write_header(w);
    next_tensor(w);
    if (!w->err.status && w->cur < w->n_tensors)
        return pl_fail(&w->err, PL_ERR_INVALID_STATE, "GGUF tensor %llu of %llu has no data yet",
                       (unsigned long long)w->cur + 1, (unsigned long long)w->n_tensors);
    return w->err.status;
}
