/* Tensors as the engine sees them: a typed view into the model file buffer. */
#ifndef PL_TENSOR_H
#define PL_TENSOR_H

#include <stddef.h>
#include <stdint.h>

/* ggml type ids, as stored in GGUF. */
enum {
    PL_TYPE_F32 = 0, PL_TYPE_F16 = 1, PL_TYPE_Q4_0 = 2, PL_TYPE_Q4_1 = 3,
    PL_TYPE_Q5_0 = 6, PL_TYPE_Q5_1 = 7, PL_TYPE_Q8_0 = 8, PL_TYPE_Q8_1 = 9,
    PL_TYPE_Q2_K = 10, PL_TYPE_Q3_K = 11, PL_TYPE_Q4_K = 12, PL_TYPE_Q5_K = 13,
    PL_TYPE_Q6_K = 14, PL_TYPE_Q8_K = 15, PL_TYPE_I8 = 24, PL_TYPE_I16 = 25,
    PL_TYPE_I32 = 26, PL_TYPE_I64 = 27, PL_TYPE_F64 = 28, PL_TYPE_BF16 = 30
};

/* ne[0] is the fastest-varying (row length); a matrix W[out][in] has ne = {in, out}. */
typedef struct {
    const char *name;       /* not NUL-terminated; name_len bytes */
    uint32_t name_len;
    uint32_t type;          /* PL_TYPE_* */
    uint32_t n_dims;
    int64_t ne[4];          /* unused dims are 1 */
    const void *data;
    size_t nbytes;
    uint32_t layout;        /* PL_LAYOUT_*: how the rows' blocks are ordered in data */
    int32_t scale_shift;    /* PL_LAYOUT_X4: block scales (and offsets) stored times 2^scale_shift */
} pl_tensor;

enum {
    PL_LAYOUT_ROWS = 0,     /* row after row, as in the file */
    PL_LAYOUT_X4            /* groups of 4 rows interleaved block by block (kernels_x4.c) */
};

/* Block geometry of a type: elements per block and bytes per block; 0/0 if unknown. */
void pl_type_block(uint32_t type, int *block_elems, int *block_bytes);
/* "F32", "Q4_K", ... or NULL for an unknown id. */
const char *pl_type_name(uint32_t type);
int64_t pl_tensor_nelems(const pl_tensor *t);

#endif
