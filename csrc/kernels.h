/* Tensor kernels used by the architectures. Matrix products go through pl_matmul, which
 * picks a row kernel for the weight type (scalar reference or wasm SIMD128) and splits
 * the rows over the thread pool. */
#ifndef PL_KERNELS_H
#define PL_KERNELS_H

#include "tensor.h"
#include "threads.h"

/* Dot products of one weight row (cols elements of the row's type) with n_tok activation
 * rows x_row_bytes apart: y[t * ldy] = sum_k row[k] * x_t[k]. The activations are floats
 * or, for integer kernels, blocks (pl_kernel.act). */
typedef void (*pl_row_kernel)(const void *row, const void *x, size_t x_row_bytes, int n_tok,
                              int cols, float *y, int ldy);

/* The forms activations are handed to row kernels in. */
enum {
    PL_ACT_F32,   /* the floats as they are */
    PL_ACT_Q8     /* pl_act_block rows, quantized once per matmul and thread */
};

/* 32 activations quantized to int8 (ggml's Q8_0 rule: d = max|x| / 127, q = round(x / d)),
 * stored widened to int16 with a float scale, so kernels widen only the weights. sum = Σq
 * and s = d·sum (ggml's Q8_1 keeps the same) serve weight types with an offset: integer
 * zero points (q - 8) subtract 8·sum, float ones (w = d·q + m) add m·s. */
typedef struct {
    float d, s;
    int32_t sum;
    int16_t q[32];
} pl_act_block;

/* What kernels_x4.c's groups need of a block besides it: for Q4_0's decode Σq[8..23],
 * q[8..15]·16 and q[16..23]·256; for Q2_K's mins, which belong to 16-value halves, d·Σq of
 * each half. A row's pl_act_mid follow all of its blocks, so the other kernels read the
 * blocks as densely as without them. */
typedef struct {
    int32_t sum_mid;
    float s_lo, s_hi;
    int16_t q[16];
} pl_act_mid;

/* Bytes of one row of cols activations in that form. */
static inline size_t pl_act_row_bytes(int cols) {
    return (size_t)(cols / 32) * (sizeof(pl_act_block) + sizeof(pl_act_mid));
}

/* The blocks of activation row t, rows x_row_bytes apart; and the row's pl_act_mid. */
static inline const pl_act_block *pl_act_row(const void *x, size_t x_row_bytes, int t) {
    return (const pl_act_block *)((const uint8_t *)x + (size_t)t * x_row_bytes);
}
static inline const pl_act_mid *pl_act_mids(const pl_act_block *row, int cols) {
    return (const pl_act_mid *)(row + cols / 32);
}

/* Σ w·x over one block of 32 int8 weights and its activations, in integers. */
static inline int pl_act_dot(const int8_t *w, const int16_t *x) {
    int sum = 0;
    for (int i = 0; i < 32; i++) sum += w[i] * x[i];
    return sum;
}

/* The row kernel's work for 4 consecutive rows (row_bytes apart) at once, y[t * ldy + i]
 * for rows i = 0..3: prompt tokens read each weight (converted or unpacked once) for many
 * tokens and each activation for 4 rows. The float types' give the row kernel's bits;
 * the block types' (Q4_1, Q5_0, Q5_1, the K formats) add the float block results in
 * another order. */
typedef void (*pl_rows4_kernel)(const void *rows, size_t row_bytes, const void *x, size_t x_row_bytes,
                                int n_tok, int cols, float *y, int ldy);

/* How a weight type is multiplied: its row kernel, the activation form it takes, and a
 * 4-row kernel for batches where there is one (SIMD builds, the types above; else NULL). */
typedef struct {
    pl_row_kernel row;
    int act;      /* PL_ACT_* */
    pl_rows4_kernel rows4;
} pl_kernel;

/* The same for a group of 4 rows in PL_LAYOUT_X4, y[t * ldy + i] for rows i = 0..3, with
 * the matrix's scale_shift. Takes the activation form of the type's row kernel. */
typedef void (*pl_group_kernel)(const void *group, const void *x, size_t x_row_bytes, int n_tok,
                                int cols, float *y, int ldy, int scale_shift);

/* Kernel for a weight type: 1 with *k set, 0 when the type has none. simd=1 asks for the
 * SIMD128 version where one exists (scalar otherwise). */
int pl_kernel_for(uint32_t type, int simd, pl_kernel *k);
/* The per-family tables pl_kernel_for draws on (0 when the family lacks the type). */
int pl_float_kernel(uint32_t type, pl_kernel *k);
int pl_float_kernel_simd(uint32_t type, pl_kernel *k);   /* 0 in builds without SIMD */
int pl_quant_kernel(uint32_t type, pl_kernel *k);
int pl_quant_kernel_simd(uint32_t type, pl_kernel *k);
/* Q2_K .. Q6_K integer kernels (kernels_kquant.c), tried before pl_quant_kernel*. */
int pl_kquant_kernel(uint32_t type, pl_kernel *k);
int pl_kquant_kernel_simd(uint32_t type, pl_kernel *k);   /* 0 in builds without SIMD */
/* The scalar row kernel's work for one super-block of a K type (a block as the file has
 * it) against its 8 activation blocks: the block results added to *sum, the Q4_K/Q5_K mins
 * term to *msum (a row's result is sum - msum). kernels_x4.c's scalar K groups use it. */
void pl_kq_superblock(uint32_t type, const void *blk, const pl_act_block *xb, float *sum, float *msum);
int pl_simd_available(void);
/* The 4-row kernel of a type (kernels_x4.c), NULL when it has none. */
pl_group_kernel pl_x4_kernel(uint32_t type, int simd);

/* Reorders a weight matrix in place into PL_LAYOUT_X4 when its type has a 4-row kernel
 * and it has at least 4 rows; rows past the last multiple of 4 stay as they are. The
 * grouped rows' block scales (and Q4_1/Q5_1 offsets) are multiplied by a power of two
 * (scale_shift) that makes every nonzero one a normal half; a matrix whose scales span
 * more than the normal halves do stays as it is. The data must be writable (the model's
 * own file buffer). Returns 1 if it was repacked. */
int pl_repack_x4(pl_tensor *t);
/* pl_get_row for a PL_LAYOUT_X4 matrix. */
void pl_x4_get_row(float *out, const pl_tensor *t, int r);

/* n_tok rows of cols floats (a multiple of 32) to rows of pl_act_block and pl_act_mid,
 * pl_act_row_bytes(cols) apart. */
void pl_quantize_activations(const float *x, int n_tok, int cols, void *out);

/* What every kernel call needs: the threads, the kernel family and workspaces for
 * quantized activations, sized once at load so no call allocates: act_bytes
 * (pl_matmul_workspace) for each of the pool's threads, which quantize their own copy. */
typedef struct {
    pl_pool *pool;
    int simd;
    void *act;              /* pl_pool_size(pool) workspaces, act_bytes apart */
    size_t act_bytes;
} pl_compute;

/* Workspace bytes (per thread) for matmuls of up to n_tok rows of at most cols values. */
size_t pl_matmul_workspace(int n_tok, int cols);

/* Multiply-adds below which a task runs on the calling thread alone: handing work to the
 * pool costs a wake-up and a wait, tens of microseconds. */
#define PL_MIN_PARALLEL_WORK (1 << 17)

/* y[n_tok][rows] = x[n_tok][cols] · Wᵀ where W has ne = {cols, rows}; a type with a kernel. */
void pl_matmul(float *y, const pl_tensor *w, const float *x, int n_tok, const pl_compute *cx);
/* y[i] = x · W[i]ᵀ for up to PL_MATMUL_MAX_PARTS matrices of one input (q, k and v): x is
 * quantized once per thread and the threads take one task for all of them. */
#define PL_MATMUL_MAX_PARTS 3
void pl_matmul_n(int n, float *const y[], const pl_tensor *const w[], const float *x, int n_tok,
                 const pl_compute *cx);
/* SwiGLU's first half, gate = silu(x · W_gateᵀ) * (x · W_upᵀ) elementwise (up is scratch),
 * as one task: each thread applies silu to the rows it has just computed. W_gate and W_up
 * have the same shape. */
void pl_matmul_swiglu(float *gate, float *up, const pl_tensor *w_gate, const pl_tensor *w_up,
                      const float *x, int n_tok, const pl_compute *cx);

/* One row of an embedding table as floats (any type pl_dequantize_row knows). */
void pl_get_row(float *out, const pl_tensor *t, int row);

/* o = x / rms(x) * weight (run.c's order of operations). */
void pl_rmsnorm(float *o, const float *x, const float *weight, int n, float eps);
/* The same for n_tok rows of n values each. */
void pl_rmsnorm_rows(float *o, const float *x, const float *weight, int n_tok, int n, float eps);
/* x[i] += y[i] for i < n: a residual connection. */
void pl_add(float *x, const float *y, size_t n);
/* o = (x - mean) / sqrt(var + eps) * weight + bias (PyTorch LayerNorm, biased variance). */
void pl_layernorm(float *o, const float *x, const float *weight, const float *bias, int n,
                  float eps);
/* In place, over n values (run.c's order of operations). */
void pl_softmax(float *x, int n);
/* gate[i] = silu(gate[i]) * up[i], run.c's formula: g * (1 / (1 + expf(-g))) * u. */
void pl_swiglu(float *gate, const float *up, int n);
/* The same two with SIMD128 and a 4-lane exp within 2 ulp of expf (simd.h): close to the
 * scalar ones, not bit for bit (the scalar ones where the build has no SIMD). */
void pl_softmax_simd(float *x, int n);
void pl_swiglu_simd(float *gate, const float *up, int n);
/* Attention scores of two query rows against the same n keys (rows ldk floats apart):
 * y0[j] = q0·key_j and y1[j] = q1·key_j, the bits of the F32 row kernel (SIMD in SIMD
 * builds) for each, with every key loaded once for both rows. */
void pl_scores2_simd(const float *q0, const float *q1, const float *keys, size_t ldk, int n, int cols,
                     float *y0, float *y1);
/* out[d] += Σ_j w[j]·rows[j][d] for d < cols, j = 0..n-1 in order (attention's weighted
 * sum of value rows, a block of rows at a time), rows `stride` floats apart. */
void pl_weighted_sum(float *out, const float *w, const float *rows, size_t stride, int n, int cols);
/* In place: GELU with the tanh approximation (GPT-2, minGPT's NewGELU). */
void pl_gelu(float *x, size_t n);
/* y[t][j] += bias[j] for t < n_tok, j < cols. */
void pl_add_bias(float *y, const float *bias, int n_tok, int cols);

enum { PL_ROPE_NORMAL = 0, PL_ROPE_NEOX = 2 };  /* ggml's mode numbers */

/* Rotary position embedding. Table for one position: cos/sin of pos·scale·base^(-2j/dims)
 * for j < dims/2 (run.c's formula: 1 / powf(base, 2j / dims)), each frequency divided by
 * factors[j] when factors is not NULL (Llama 3.1's rope scaling, as llama.cpp applies it). */
void pl_rope_table(float *cos_out, float *sin_out, int pos, int dims, float base, float pos_scale,
                   const float *factors);
/* Rotates the first dims values of each of n_heads heads (head_dim apart) in place.
 * PL_ROPE_NORMAL pairs values 2j, 2j+1; PL_ROPE_NEOX pairs j, j + dims/2. */
void pl_rope_apply(float *vec, int n_heads, int head_dim, int dims, int rope_type,
                   const float *cos_t, const float *sin_t);

#endif
