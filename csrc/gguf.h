/* GGUF v2/v3 reader: metadata and tensor infos; tensor data stays in the file buffer. */
#ifndef PL_GGUF_H
#define PL_GGUF_H

#include "tensor.h"
#include "util.h"

/* GGUF metadata value types (the gguf spec's numbering). */
enum {
    GGUF_U8 = 0, GGUF_I8 = 1, GGUF_U16 = 2, GGUF_I16 = 3, GGUF_U32 = 4, GGUF_I32 = 5,
    GGUF_F32 = 6, GGUF_BOOL = 7, GGUF_STRING = 8, GGUF_ARRAY = 9, GGUF_U64 = 10,
    GGUF_I64 = 11, GGUF_F64 = 12, GGUF_TYPE_COUNT
};

typedef struct {
    const char *key;        /* into the file buffer, not NUL-terminated */
    uint32_t key_len;
    uint32_t type;          /* GGUF_* */
    const uint8_t *value;   /* start of the value bytes in the buffer (after type, and for
                               arrays after the element type and count) */
    uint32_t arr_type;      /* arrays: element type */
    uint64_t arr_n;         /* arrays: element count */
} pl_gguf_kv;

typedef struct {
    uint32_t version;
    uint64_t n_kv, n_tensors;
    pl_gguf_kv *kv;         /* n_kv entries (malloc'd) */
    pl_tensor *tensors;     /* n_tensors entries (malloc'd), data points into the buffer */
    uint32_t alignment;     /* general.alignment, default 32 */
    size_t data_offset;     /* start of the tensor data section */
} pl_gguf;

/* Parses and validates everything (sizes, offsets, alignment, types known to the reader,
 * tensor data inside the buffer). The buffer must outlive g. */
int pl_gguf_parse(pl_gguf *g, const uint8_t *buf, size_t size, pl_err *err);
void pl_gguf_free(pl_gguf *g);

const pl_gguf_kv *pl_gguf_find(const pl_gguf *g, const char *key);
const pl_tensor *pl_gguf_tensor(const pl_gguf *g, const char *name);

/* Typed getters. Integer getters accept any integer type whose value fits; float getters
 * accept F32/F64. Return PL_OK, or PL_ERR_BAD_FORMAT (wrong type / out of range) with the
 * key in the message; a missing key gives PL_ERR_BAD_FORMAT too, so callers with defaults
 * check pl_gguf_find first (the *_or helpers do that). */
int pl_gguf_get_i64(const pl_gguf *g, const char *key, int64_t *out, pl_err *err);
int pl_gguf_get_f32(const pl_gguf *g, const char *key, float *out, pl_err *err);
int pl_gguf_get_bool(const pl_gguf *g, const char *key, int *out, pl_err *err);
/* String value: pointer into the buffer + length. */
int pl_gguf_get_str(const pl_gguf *g, const char *key, const char **s, uint64_t *len, pl_err *err);
int pl_gguf_i64_or(const pl_gguf *g, const char *key, int64_t dflt, int64_t *out, pl_err *err);
int pl_gguf_f32_or(const pl_gguf *g, const char *key, float dflt, float *out, pl_err *err);
int pl_gguf_bool_or(const pl_gguf *g, const char *key, int dflt, int *out, pl_err *err);

/* Array access. Numeric element i as double (any numeric element type);
 * string element i as pointer+length (walks the array; O(i), so iterate with
 * pl_gguf_str_next when reading them all). */
int pl_gguf_arr_num(const pl_gguf_kv *kv, uint64_t i, double *out);
/* Iterates string array elements: *cursor starts at kv->value; each call returns the
 * next string and advances. Bounds were validated at parse time. */
void pl_gguf_str_next(const uint8_t **cursor, const char **s, uint64_t *len);

/* Size in bytes of one value of a scalar GGUF type (0 for string/array). */
size_t pl_gguf_type_size(uint32_t type);

#endif
