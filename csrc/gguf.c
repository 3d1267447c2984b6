/* GGUF v2/v3 reader. Layout (little-endian):
 *   "GGUF" u32 version, u64 n_tensors, u64 n_kv,
 *   n_kv x (string key, u32 type, value), n_tensors x (string name, u32 n_dims,
 *   u64 ne[n_dims], u32 type, u64 offset), padding to general.alignment, tensor data.
 * A string is u64 length + bytes; an array is u32 element type + u64 count + elements.
 * pl_gguf_kv.value of a string points at its length; of an array, at its first element.
 * Every read goes through pl_reader, and every count is checked against the bytes left
 * before anything is allocated or walked, so no input can make us read out of bounds. */
#include "gguf.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define MAX_NAME_LEN 65535      /* keys and tensor names (the spec's limit for keys) */
#define MAX_ARRAY_DEPTH 8       /* arrays of arrays nest at most this deep (bounds recursion) */
#define MAX_DIMS 4
#define DEFAULT_ALIGNMENT 32
/* Smallest possible encodings, used to reject counts the rest of the file cannot hold. */
#define MIN_KV_BYTES (8 + 1 + 4 + 1)   /* key length, 1-byte key, type, u8 value */
/* name length, 1-byte name, n_dims, ne[0], type, offset */
#define MIN_TENSOR_INFO_BYTES (8 + 1 + 4 + 8 + 4 + 8)

size_t pl_gguf_type_size(uint32_t type) {
    switch (type) {
    case GGUF_U8: case GGUF_I8: case GGUF_BOOL: return 1;
    case GGUF_U16: case GGUF_I16: return 2;
    case GGUF_U32: case GGUF_I32: case GGUF_F32: return 4;
    case GGUF_U64: case GGUF_I64: case GGUF_F64: return 8;
    default: return 0;
    }
}

static const char *kv_type_name(uint32_t type) {
    static const char *names[GGUF_TYPE_COUNT] = {
        "u8", "i8", "u16", "i16", "u32", "i32", "f32", "bool", "string", "array",
        "u64", "i64", "f64"};
    return type < GGUF_TYPE_COUNT ? names[type] : "unknown";
}

/* Bytes the smallest value of a type takes; 0 for unknown types. */
static size_t min_value_size(uint32_t type) {
    if (type == GGUF_STRING) return 8;   /* the length */
    if (type == GGUF_ARRAY) return 4 + 8; /* element type + count */
    return pl_gguf_type_size(type);
}

static int check_count(const pl_reader *r, uint64_t n, size_t min_item_bytes,
                       const char *what, pl_err *err) {
    size_t left = r->size - r->pos;
    if (n > left / min_item_bytes)
        return pl_fail(err, PL_ERR_TRUNCATED,
                       "file truncated: %llu %s cannot fit in the %zu bytes left at offset %zu",
                       (unsigned long long)n, what, left, r->pos);
    return PL_OK;
}

static int read_string(pl_reader *r, const char **s, uint64_t *len, pl_err *err) {
    const uint8_t *p = NULL;
    int st = pl_read_u64(r, len, err);
    if (st) return st;
    /* compare as u64 first: on 32-bit targets a huge length would wrap as size_t */
    if (*len > r->size - r->pos)
        return pl_fail(err, PL_ERR_TRUNCATED,
                       "file truncated: string of %llu bytes at offset %zu, only %zu left",
                       (unsigned long long)*len, r->pos, r->size - r->pos);
    st = pl_read_span(r, (size_t)*len, &p, err);
    *s = (const char *)p;
    return st;
}

/* Keys and tensor names: non-empty, bounded length. */
static int read_name(pl_reader *r, const char **s, uint32_t *len, const char *what, pl_err *err) {
    uint64_t n = 0;
    int st = read_string(r, s, &n, err);
    if (st) return st;
    if (n == 0 || n > MAX_NAME_LEN)
        return pl_fail(err, PL_ERR_BAD_FORMAT, "%s at offset %zu has length %llu (must be 1..%d)",
                       what, r->pos - (size_t)n, (unsigned long long)n, MAX_NAME_LEN);
    *len = (uint32_t)n;
    return PL_OK;
}

static int skip_array(pl_reader *r, const pl_gguf_kv *kv, uint32_t elem, uint64_t n, int depth,
                      pl_err *err);

/* Walks over one value of a type, checking every length inside it. */
static int skip_value(pl_reader *r, const pl_gguf_kv *kv, uint32_t type, int depth, pl_err *err) {
    if (type == GGUF_STRING) {
        const char *s;
        uint64_t len;
        return read_string(r, &s, &len, err);
    }
    if (type == GGUF_ARRAY) {
        uint32_t elem = 0;
        uint64_t n = 0;
        int st = pl_read_u32(r, &elem, err);
        if (!st) st = pl_read_u64(r, &n, err);
        return st ? st : skip_array(r, kv, elem, n, depth + 1, err);
    }
    size_t size = pl_gguf_type_size(type);
    const uint8_t *p;
    if (size == 0)
        return pl_fail(err, PL_ERR_BAD_FORMAT, "metadata key %.*s: unknown value type %u",
                       (int)kv->key_len, kv->key, type);
    return pl_read_span(r, size, &p, err);
}

static int skip_array(pl_reader *r, const pl_gguf_kv *kv, uint32_t elem, uint64_t n, int depth,
                      pl_err *err) {
    size_t min_size = min_value_size(elem);
    const uint8_t *p;
    if (depth > MAX_ARRAY_DEPTH)
        return pl_fail(err, PL_ERR_BAD_FORMAT, "metadata key %.*s: arrays nested deeper than %d",
                       (int)kv->key_len, kv->key, MAX_ARRAY_DEPTH);
    if (min_size == 0)
        return pl_fail(err, PL_ERR_BAD_FORMAT, "metadata key %.*s: unknown array element type %u",
                       (int)kv->key_len, kv->key, elem);
    int st = check_count(r, n, min_size, "array elements", err);
    if (st) return st;
    if (elem != GGUF_STRING && elem != GGUF_ARRAY)   /* fixed size: n * size fits, checked above */
        return pl_read_span(r, (size_t)n * min_size, &p, err);
    for (uint64_t i = 0; i < n && !st; i++) st = skip_value(r, kv, elem, depth, err);
    return st;
}

static int read_kv(pl_reader *r, pl_gguf_kv *kv, pl_err *err) {
    int st = read_name(r, &kv->key, &kv->key_len, "metadata key", err);
    if (!st) st = pl_read_u32(r, &kv->type, err);
    if (st) return st;
    if (kv->type != GGUF_ARRAY) {
        kv->value = r->buf + r->pos;
        return skip_value(r, kv, kv->type, 0, err);
    }
    st = pl_read_u32(r, &kv->arr_type, err);
    if (!st) st = pl_read_u64(r, &kv->arr_n, err);
    if (st) return st;
    kv->value = r->buf + r->pos;
    return skip_array(r, kv, kv->arr_type, kv->arr_n, 1, err);
}

/* Reads one tensor info; its offset (relative to the data section) goes to *offset. */
static int read_tensor_info(pl_reader *r, pl_tensor *t, uint64_t *offset, pl_err *err) {
    int st = read_name(r, &t->name, &t->name_len, "tensor name", err);
    if (!st) st = pl_read_u32(r, &t->n_dims, err);
    if (st) return st;
    const int nl = (int)t->name_len;
    if (t->n_dims < 1 || t->n_dims > MAX_DIMS)
        return pl_fail(err, PL_ERR_BAD_FORMAT, "tensor %.*s has %u dimensions (must be 1..%d)",
                       nl, t->name, t->n_dims, MAX_DIMS);
    int64_t nelems = 1;
    for (int d = 0; d < MAX_DIMS; d++) {
        uint64_t ne = 1;
        if ((uint32_t)d < t->n_dims && (st = pl_read_u64(r, &ne, err))) return st;
        if (ne == 0 || ne > (uint64_t)INT64_MAX / (uint64_t)nelems)
            return pl_fail(err, PL_ERR_BAD_FORMAT,
                           "tensor %.*s: dimension %d is %llu (zero, or the size overflows)",
                           nl, t->name, d, (unsigned long long)ne);
        t->ne[d] = (int64_t)ne;
        nelems *= (int64_t)ne;
    }
    if ((st = pl_read_u32(r, &t->type, err)) || (st = pl_read_u64(r, offset, err))) return st;
    int block_elems, block_bytes;
    pl_type_block(t->type, &block_elems, &block_bytes);
    if (block_elems == 0)
        return pl_fail(err, PL_ERR_UNSUPPORTED_TYPE, "tensor %.*s has unknown type id %u",
                       nl, t->name, t->type);
    if (t->ne[0] % block_elems != 0)
        return pl_fail(err, PL_ERR_BAD_FORMAT,
                       "tensor %.*s: row length %lld is not a multiple of the %s block size %d",
                       nl, t->name, (long long)t->ne[0], pl_type_name(t->type), block_elems);
    uint64_t n_blocks = (uint64_t)(nelems / block_elems);
    if (n_blocks > r->size / (size_t)block_bytes)   /* also keeps nbytes within size_t */
        return pl_fail(err, PL_ERR_TRUNCATED,
                       "file truncated: tensor %.*s (%lld x %s) is larger than the whole file",
                       nl, t->name, (long long)nelems, pl_type_name(t->type));
    t->nbytes = (size_t)n_blocks * (size_t)block_bytes;
    return PL_OK;
}

typedef struct {
    const char *s;
    uint32_t len;
} name_ref;

static int cmp_name(const void *a, const void *b) {
    const name_ref *x = a, *y = b;
    int c = memcmp(x->s, y->s, x->len < y->len ? x->len : y->len);
    return c ? c : (x->len > y->len) - (x->len < y->len);
}

/* Sorts names (O(n log n), a file may hold many) and fails on the first repeat. */
static int check_unique(name_ref *names, size_t n, const char *what, pl_err *err) {
    qsort(names, n, sizeof *names, cmp_name);
    for (size_t i = 1; i < n; i++)
        if (cmp_name(&names[i - 1], &names[i]) == 0)
            return pl_fail(err, PL_ERR_BAD_FORMAT, "duplicate %s %.*s", what,
                           (int)names[i].len, names[i].s);
    return PL_OK;
}

static int check_unique_names(const pl_gguf *g, pl_err *err) {
    size_t n_names = (size_t)(g->n_kv > g->n_tensors ? g->n_kv : g->n_tensors);
    if (n_names == 0) return PL_OK;
    name_ref *names = malloc(n_names * sizeof *names);
    if (!names) return pl_fail(err, PL_ERR_OUT_OF_MEMORY, "out of memory checking GGUF names");
    for (size_t i = 0; i < g->n_kv; i++) names[i] = (name_ref){g->kv[i].key, g->kv[i].key_len};
    int st = check_unique(names, (size_t)g->n_kv, "metadata key", err);
    for (size_t i = 0; i < g->n_tensors && !st; i++)
        names[i] = (name_ref){g->tensors[i].name, g->tensors[i].name_len};
    if (!st) st = check_unique(names, (size_t)g->n_tensors, "tensor name", err);
    free(names);
    return st;
}

static int read_alignment(pl_gguf *g, pl_err *err) {
    int64_t align = 0;
    int st = pl_gguf_i64_or(g, "general.alignment", DEFAULT_ALIGNMENT, &align, err);
    if (st) return st;
    if (align <= 0 || align > (1 << 30) || (align & (align - 1)) != 0)
        return pl_fail(err, PL_ERR_BAD_FORMAT, "general.alignment = %lld is not a power of two",
                       (long long)align);
    g->alignment = (uint32_t)align;
    return PL_OK;
}

/* Places every tensor in the data section: aligned offset, data inside the buffer. */
static int place_tensors(pl_gguf *g, const pl_reader *r, const uint64_t *offsets, pl_err *err) {
    uint64_t data_offset = ((uint64_t)r->pos + g->alignment - 1) / g->alignment * g->alignment;
    if (data_offset > SIZE_MAX)
        return pl_fail(err, PL_ERR_TRUNCATED, "file truncated: data section starts past the end");
    g->data_offset = (size_t)data_offset;   /* may lie past the end when there are no tensors */
    for (size_t i = 0; i < g->n_tensors; i++) {
        pl_tensor *t = &g->tensors[i];
        uint64_t off = offsets[i];
        if (off % g->alignment != 0)
            return pl_fail(err, PL_ERR_BAD_FORMAT,
                           "tensor %.*s: offset %llu is not a multiple of the alignment %u",
                           (int)t->name_len, t->name, (unsigned long long)off, g->alignment);
        if (data_offset > r->size || off > r->size - data_offset ||
            t->nbytes > r->size - data_offset - off)
            return pl_fail(err, PL_ERR_TRUNCATED,
                           "file truncated: tensor %.*s needs bytes %llu..%llu, file has %zu",
                           (int)t->name_len, t->name, (unsigned long long)(data_offset + off),
                           (unsigned long long)(data_offset + off + t->nbytes), r->size);
        t->data = r->buf + data_offset + off;
    }
    return PL_OK;
}

static int parse(pl_gguf *g, const uint8_t *buf, size_t size, pl_err *err) {
    pl_reader r = {buf, size, 0};
    char magic[4];
    int st = pl_read_bytes(&r, magic, 4, err);
    if (st) return st;
    if (memcmp(magic, "GGUF", 4) != 0)
        return pl_fail(err, PL_ERR_BAD_FORMAT, "not a GGUF file (no \"GGUF\" magic)");
    if ((st = pl_read_u32(&r, &g->version, err))) return st;
    if (g->version == 1)
        return pl_fail(err, PL_ERR_BAD_FORMAT, "GGUF version 1 is not supported");
    if (g->version != 2 && g->version != 3)
        return pl_fail(err, PL_ERR_BAD_FORMAT, "unsupported GGUF version %u%s", g->version,
                       g->version > 0xffff ? " (a big-endian file?)" : "");
    uint64_t n_tensors = 0, n_kv = 0;
    if ((st = pl_read_u64(&r, &n_tensors, err)) || (st = pl_read_u64(&r, &n_kv, err))) return st;

    if ((st = check_count(&r, n_kv, MIN_KV_BYTES, "metadata entries", err))) return st;
    if (n_kv && !(g->kv = calloc((size_t)n_kv, sizeof *g->kv)))
        return pl_fail(err, PL_ERR_OUT_OF_MEMORY, "out of memory for %llu metadata entries",
                       (unsigned long long)n_kv);
    for (; g->n_kv < n_kv; g->n_kv++)
        if ((st = read_kv(&r, &g->kv[g->n_kv], err))) return st;
    if ((st = read_alignment(g, err))) return st;

    if ((st = check_count(&r, n_tensors, MIN_TENSOR_INFO_BYTES, "tensor infos", err))) return st;
    uint64_t *offsets = NULL;   /* per tensor, until the data section start is known */
    if (n_tensors) {
        offsets = calloc((size_t)n_tensors, sizeof *offsets);
        g->tensors = calloc((size_t)n_tensors, sizeof *g->tensors);
        if (!offsets || !g->tensors) {
            free(offsets);
            return pl_fail(err, PL_ERR_OUT_OF_MEMORY, "out of memory for %llu tensor infos",
                           (unsigned long long)n_tensors);
        }
    }
    for (; g->n_tensors < n_tensors && !st; g->n_tensors++)
        st = read_tensor_info(&r, &g->tensors[g->n_tensors], &offsets[g->n_tensors], err);
    if (!st) st = place_tensors(g, &r, offsets, err);
    free(offsets);
    return st ? st : check_unique_names(g, err);
}

int pl_gguf_parse(pl_gguf *g, const uint8_t *buf, size_t size, pl_err *err) {
    memset(g, 0, sizeof *g);
    int st = parse(g, buf, size, err);
    if (st) pl_gguf_free(g);
    return st;
}

void pl_gguf_free(pl_gguf *g) {
    free(g->kv);
    free(g->tensors);
    memset(g, 0, sizeof *g);
}

const pl_gguf_kv *pl_gguf_find(const pl_gguf *g, const char *key) {
    size_t len = strlen(key);
    for (uint64_t i = 0; i < g->n_kv; i++)
        if (g->kv[i].key_len == len && memcmp(g->kv[i].key, key, len) == 0) return &g->kv[i];
    return NULL;
}

const pl_tensor *pl_gguf_tensor(const pl_gguf *g, const char *name) {
    size_t len = strlen(name);
    for (uint64_t i = 0; i < g->n_tensors; i++)
        if (g->tensors[i].name_len == len && memcmp(g->tensors[i].name, name, len) == 0)
            return &g->tensors[i];
    return NULL;
}

/* Any integer scalar at p as int64; 0 when the type is not an integer type or the
 * value does not fit. Values are unaligned inside the file, hence memcpy. */
static int scalar_i64(uint32_t type, const uint8_t *p, int64_t *out) {
    uint16_t u16; int16_t i16; uint32_t u32; int32_t i32; uint64_t u64; int64_t i64;
    switch (type) {
    case GGUF_U8: *out = p[0]; return 1;
    case GGUF_I8: *out = (int8_t)p[0]; return 1;
    case GGUF_U16: memcpy(&u16, p, 2); *out = u16; return 1;
    case GGUF_I16: memcpy(&i16, p, 2); *out = i16; return 1;
    case GGUF_U32: memcpy(&u32, p, 4); *out = u32; return 1;
    case GGUF_I32: memcpy(&i32, p, 4); *out = i32; return 1;
    case GGUF_I64: memcpy(&i64, p, 8); *out = i64; return 1;
    case GGUF_U64:
        memcpy(&u64, p, 8);
        if (u64 > (uint64_t)INT64_MAX) return 0;
        *out = (int64_t)u64;
        return 1;
    default: return 0;
    }
}

/* Any numeric scalar (integers, floats, bool) at p as double; 0 for other types. */
static int scalar_f64(uint32_t type, const uint8_t *p, double *out) {
    float f32; double f64; uint64_t u64; int64_t i64;
    switch (type) {
    case GGUF_F32: memcpy(&f32, p, 4); *out = f32; return 1;
    case GGUF_F64: memcpy(&f64, p, 8); *out = f64; return 1;
    case GGUF_BOOL: *out = p[0] != 0; return 1;
    case GGUF_U64: memcpy(&u64, p, 8); *out = (double)u64; return 1;
    default:
        if (!scalar_i64(type, p, &i64)) return 0;
        *out = (double)i64;
        return 1;
    }
}

static int lookup(const pl_gguf *g, const char *key, const pl_gguf_kv **kv, pl_err *err) {
    *kv = pl_gguf_find(g, key);
    return *kv ? PL_OK : pl_fail(err, PL_ERR_BAD_FORMAT, "metadata key %s is missing", key);
}

static int wrong_type(const char *key, const pl_gguf_kv *kv, const char *want, pl_err *err) {
    return pl_fail(err, PL_ERR_BAD_FORMAT, "metadata key %s has type %s, expected %s", key,
                   kv_type_name(kv->type), want);
}

int pl_gguf_get_i64(const pl_gguf *g, const char *key, int64_t *out, pl_err *err) {
    const pl_gguf_kv *kv;
    int st = lookup(g, key, &kv, err);
    if (st) return st;
    if (scalar_i64(kv->type, kv->value, out)) return PL_OK;
    if (kv->type == GGUF_U64)
        return pl_fail(err, PL_ERR_BAD_FORMAT, "metadata key %s: value out of int64 range", key);
    return wrong_type(key, kv, "an integer", err);
}

int pl_gguf_get_f32(const pl_gguf *g, const char *key, float *out, pl_err *err) {
    const pl_gguf_kv *kv;
    double v = 0;
    int st = lookup(g, key, &kv, err);
    if (st) return st;
    if (kv->type != GGUF_F32 && kv->type != GGUF_F64) return wrong_type(key, kv, "f32 or f64", err);
    scalar_f64(kv->type, kv->value, &v);
    if (isfinite(v) && fabs(v) > FLT_MAX)
        return pl_fail(err, PL_ERR_BAD_FORMAT, "metadata key %s: value %g out of f32 range",
                       key, v);
    *out = (float)v;
    return PL_OK;
}

int pl_gguf_get_bool(const pl_gguf *g, const char *key, int *out, pl_err *err) {
    const pl_gguf_kv *kv;
    int st = lookup(g, key, &kv, err);
    if (st) return st;
    if (kv->type != GGUF_BOOL) return wrong_type(key, kv, "bool", err);
    *out = kv->value[0] != 0;
    return PL_OK;
}

int pl_gguf_get_str(const pl_gguf *g, const char *key, const char **s, uint64_t *len, pl_err *err) {
    const pl_gguf_kv *kv;
    int st = lookup(g, key, &kv, err);
    if (st) return st;
    if (kv->type != GGUF_STRING) return wrong_type(key, kv, "string", err);
    const uint8_t *cursor = kv->value;   /* a string value starts at its length */
    pl_gguf_str_next(&cursor, s, len);
    return PL_OK;
}

int pl_gguf_i64_or(const pl_gguf *g, const char *key, int64_t dflt, int64_t *out, pl_err *err) {
    if (pl_gguf_find(g, key)) return pl_gguf_get_i64(g, key, out, err);
    *out = dflt;
    return PL_OK;
}

int pl_gguf_f32_or(const pl_gguf *g, const char *key, float dflt, float *out, pl_err *err) {
    if (pl_gguf_find(g, key)) return pl_gguf_get_f32(g, key, out, err);
    *out = dflt;
    return PL_OK;
}

int pl_gguf_bool_or(const pl_gguf *g, const char *key, int dflt, int *out, pl_err *err) {
    if (pl_gguf_find(g, key)) return pl_gguf_get_bool(g, key, out, err);
    *out = dflt;
    return PL_OK;
}

/* Returns PL_OK, PL_ERR_BAD_FORMAT when kv is not an array of numbers, or
 * PL_ERR_INVALID_ARGUMENT when i is out of range. */
int pl_gguf_arr_num(const pl_gguf_kv *kv, uint64_t i, double *out) {
    size_t size = pl_gguf_type_size(kv->arr_type);
    if (kv->type != GGUF_ARRAY || size == 0) return PL_ERR_BAD_FORMAT;
    if (i >= kv->arr_n) return PL_ERR_INVALID_ARGUMENT;
    scalar_f64(kv->arr_type, kv->value + i * size, out);
    return PL_OK;
}

void pl_gguf_str_next(const uint8_t **cursor, const char **s, uint64_t *len) {
    memcpy(len, *cursor, 8);
    *s = (const char *)*cursor + 8;
    *cursor += 8 + *len;
}
