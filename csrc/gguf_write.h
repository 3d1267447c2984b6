/* GGUF v3 writer that streams: metadata and tensor infos are collected in memory (they are
 * small), then everything goes out in order through the caller's write function, so a
 * multi-gigabyte model never has to be held in memory.
 *
 *   pl_gguf_writer w;
 *   pl_gguf_writer_init(&w, write, user);
 *   pl_gguf_add_str(&w, "general.architecture", "llama"); ...   metadata, any order
 *   pl_gguf_add_tensor(&w, "token_embd.weight", 2, ne, PL_TYPE_Q8_0); ...
 *   pl_gguf_write_header(&w);
 *   pl_gguf_write_data(&w, bytes, n); ...   each tensor's bytes, in the order added, in
 *                                            chunks of any size (padding is automatic)
 *   st = pl_gguf_finish(&w);   then pl_gguf_writer_free(&w)
 *
 * Errors are sticky: the first failure is kept in w.err and every later call returns its
 * status, so a caller may check only the last call. Alignment is 32 (the GGUF default, so
 * no general.alignment key is written). Keys and tensor names must be unique: the caller's
 * job (csrc/gguf.c rejects duplicates). */
#ifndef PL_GGUF_WRITE_H
#define PL_GGUF_WRITE_H

#include "gguf.h"

typedef struct {
    uint8_t *data;
    size_t len, cap;
} pl_gguf_bytes;

typedef struct {
    pl_write_fn write;
    void *user;
    pl_gguf_bytes kv, info;   /* encoded metadata entries and tensor infos */
    uint64_t n_kv, n_tensors;
    uint64_t *tensor_bytes;   /* data size of each tensor (n_tensors entries) */
    size_t tensor_cap;
    uint64_t data_size;       /* bytes of the data section so far: the next tensor's offset */
    int header_written;
    uint64_t cur;             /* tensor whose data pl_gguf_write_data writes */
    uint64_t cur_written;     /* bytes of it written so far */
    pl_err err;               /* first failure (status PL_OK while none) */
} pl_gguf_writer;

void pl_gguf_writer_init(pl_gguf_writer *w, pl_write_fn write, void *user);
void pl_gguf_writer_free(pl_gguf_writer *w);

/* Metadata. Keys are NUL-terminated. value points at one value of a scalar GGUF type
 * (GGUF_U8 .. GGUF_F64 except string/array; bools are one byte). */
int pl_gguf_add_scalar(pl_gguf_writer *w, const char *key, uint32_t type, const void *value);
int pl_gguf_add_u32(pl_gguf_writer *w, const char *key, uint32_t v);
int pl_gguf_add_i32(pl_gguf_writer *w, const char *key, int32_t v);
int pl_gguf_add_f32(pl_gguf_writer *w, const char *key, float v);
int pl_gguf_add_bool(pl_gguf_writer *w, const char *key, int v);
int pl_gguf_add_str(pl_gguf_writer *w, const char *key, const char *s);
/* n values of a scalar type, packed as in memory. */
int pl_gguf_add_array(pl_gguf_writer *w, const char *key, uint32_t elem_type, const void *values,
                      uint64_t n);
/* n strings; lens[i] bytes each, or strlen when lens is NULL. */
int pl_gguf_add_str_array(pl_gguf_writer *w, const char *key, const char *const *strs,
                          const uint64_t *lens, uint64_t n);
/* A metadata entry of a parsed file, copied as is (any type, nested arrays too). */
int pl_gguf_add_kv_copy(pl_gguf_writer *w, const pl_gguf_kv *kv);

/* A tensor: n_dims 1..4, ne[0] a multiple of the type's block size. */
int pl_gguf_add_tensor(pl_gguf_writer *w, const char *name, uint32_t n_dims, const int64_t *ne,
                       uint32_t type);

int pl_gguf_write_header(pl_gguf_writer *w);
int pl_gguf_write_data(pl_gguf_writer *w, const void *data, size_t n);
/* Fails unless every tensor's data has been written. */
int pl_gguf_finish(pl_gguf_writer *w);

#endif
