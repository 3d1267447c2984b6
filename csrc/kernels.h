/* Tensor kernels used by the architectures. Matrix products go through pl_matmul, which
 * picks a row kernel for the weight type (scalar reference or wasm SIMD128) and splits
 * the rows over the thread pool. */
#ifndef PL_KERNELS_H
#define PL_KERNELS_H

#include "tensor.h"
#include "threads.h"

/* Dot products of one weight row (cols elements of the row's type) with n_tok
 * activation rows: y[t * ldy] = sum_k row[k] * x[t * ldx + k]. */
typedef void (*pl_row_kernel)(const void *row, const float *x, int ldx, int n_tok, int cols,
                              float *y, int ldy);

/* Row kernel for a weight type, NULL when the type has none. simd=1 asks for the SIMD128
 * version (falls back to scalar in builds without SIMD). */
pl_row_kernel pl_row_kernel_for(uint32_t type, int simd);
pl_row_kernel pl_row_kernel_scalar(uint32_t type);
pl_row_kernel pl_row_kernel_simd(uint32_t type);   /* NULL in builds without SIMD */
int pl_simd_available(void);

/* Multiply-adds below which a task runs on the calling thread alone: handing work to the
 * pool costs a wake-up and a wait, tens of microseconds. */
#define PL_MIN_PARALLEL_WORK (1 << 17)

/* y[n_tok][rows] = x[n_tok][cols] · Wᵀ where W has ne = {cols, rows}. */
void pl_matmul(float *y, const pl_tensor *w, const float *x, int n_tok, int simd, pl_pool *pool);

/* One row of an embedding table as floats. */
void pl_get_row(float *out, const pl_tensor *t, int row);

/* o = x / rms(x) * weight (run.c's order of operations). */
void pl_rmsnorm(float *o, const float *x, const float *weight, int n, float eps);
/* o = (x - mean) / sqrt(var + eps) * weight + bias (PyTorch LayerNorm, biased variance). */
void pl_layernorm(float *o, const float *x, const float *weight, const float *bias, int n,
                  float eps);
/* In place, over n values. */
void pl_softmax(float *x, int n);
/* In place: GELU with the tanh approximation (GPT-2, minGPT's NewGELU). */
void pl_gelu(float *x, size_t n);
/* y[t][j] += bias[j] for t < n_tok, j < cols. */
void pl_add_bias(float *y, const float *bias, int n_tok, int cols);

enum { PL_ROPE_NORMAL = 0, PL_ROPE_NEOX = 2 };  /* ggml's mode numbers */

/* Rotary position embedding. Table for one position: cos/sin of pos·scale·base^(-2j/dims)
 * for j < dims/2 (run.c's formula: 1 / powf(base, 2j / dims)). */
void pl_rope_table(float *cos_out, float *sin_out, int pos, int dims, float base, float pos_scale);
/* Rotates the first dims values of each of n_heads heads (head_dim apart) in place.
 * PL_ROPE_NORMAL pairs values 2j, 2j+1; PL_ROPE_NEOX pairs j, j + dims/2. */
void pl_rope_apply(float *vec, int n_heads, int head_dim, int dims, int rope_type,
                   const float *cos_t, const float *sin_t);

#endif
