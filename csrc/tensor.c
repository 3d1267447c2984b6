/* ggml type geometry and tensor element counts. */
#include "tensor.h"

/* Indexed by ggml type id. Block sizes follow the block_* structs of ggml-common.h
 * (super-blocks of 256 for the K and most IQ types). Ids 4 and 5 (Q4_2, Q4_3) were
 * removed from ggml and stay unknown. */
static const struct {
    const char *name;
    int block_elems, block_bytes;
} type_table[] = {
    [PL_TYPE_F32] = {"F32", 1, 4},       [PL_TYPE_F16] = {"F16", 1, 2},
    [PL_TYPE_Q4_0] = {"Q4_0", 32, 18},   [PL_TYPE_Q4_1] = {"Q4_1", 32, 20},
    [PL_TYPE_Q5_0] = {"Q5_0", 32, 22},   [PL_TYPE_Q5_1] = {"Q5_1", 32, 24},
    [PL_TYPE_Q8_0] = {"Q8_0", 32, 34},   [PL_TYPE_Q8_1] = {"Q8_1", 32, 36},
    [PL_TYPE_Q2_K] = {"Q2_K", 256, 84},  [PL_TYPE_Q3_K] = {"Q3_K", 256, 110},
    [PL_TYPE_Q4_K] = {"Q4_K", 256, 144}, [PL_TYPE_Q5_K] = {"Q5_K", 256, 176},
    [PL_TYPE_Q6_K] = {"Q6_K", 256, 210}, [PL_TYPE_Q8_K] = {"Q8_K", 256, 292},
    [16] = {"IQ2_XXS", 256, 66},         [17] = {"IQ2_XS", 256, 74},
    [18] = {"IQ3_XXS", 256, 98},         [19] = {"IQ1_S", 256, 50},
    [20] = {"IQ4_NL", 32, 18},           [21] = {"IQ3_S", 256, 110},
    [22] = {"IQ2_S", 256, 82},           [23] = {"IQ4_XS", 256, 136},
    [PL_TYPE_I8] = {"I8", 1, 1},         [PL_TYPE_I16] = {"I16", 1, 2},
    [PL_TYPE_I32] = {"I32", 1, 4},       [PL_TYPE_I64] = {"I64", 1, 8},
    [PL_TYPE_F64] = {"F64", 1, 8},       [29] = {"IQ1_M", 256, 56},
    [PL_TYPE_BF16] = {"BF16", 1, 2},
};

#define N_TYPES (sizeof type_table / sizeof type_table[0])

void pl_type_block(uint32_t type, int *block_elems, int *block_bytes) {
    *block_elems = type < N_TYPES ? type_table[type].block_elems : 0;
    *block_bytes = type < N_TYPES ? type_table[type].block_bytes : 0;
}

const char *pl_type_name(uint32_t type) {
    return type < N_TYPES ? type_table[type].name : NULL;
}

int64_t pl_tensor_nelems(const pl_tensor *t) {
    return t->ne[0] * t->ne[1] * t->ne[2] * t->ne[3];
}
