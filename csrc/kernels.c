/* Scalar reference kernels and the matmul driver. The scalar dot products accumulate in
 * index order in a float, exactly as llama2.c run.c does, so they are the reference the
 * SIMD kernels are tested against. */
#include "kernels.h"

#include <math.h>
#include <string.h>

#include "kernels_scalar.h"
#include "quant.h"
#include "util.h"

/* Four activation rows at a time share each weight load; the rest one by one. */
#define DEFINE_SCALAR_ROW_KERNEL(name, LOAD)                                              \
    static void name(const void *row, const void *x, size_t x_row_bytes, int n_tok,      \
                     int cols, float *y, int ldy) {                                       \
        size_t ldx = x_row_bytes / sizeof(float);                                         \
        int t = 0;                                                                        \
        for (; t + 4 <= n_tok; t += 4) {                                                  \
            const float *x0 = (const float *)x + t * ldx, *x1 = x0 + ldx, *x2 = x1 + ldx, \
                        *x3 = x2 + ldx;                                                   \
            float s[4] = {0, 0, 0, 0};                                                    \
            pl_dot4_scalar(LOAD, row, 0, cols, x0, x1, x2, x3, s);                        \
            y[(size_t)t * ldy] = s[0]; y[(size_t)(t + 1) * ldy] = s[1];                   \
            y[(size_t)(t + 2) * ldy] = s[2]; y[(size_t)(t + 3) * ldy] = s[3];             \
        }                                                                                 \
        for (; t < n_tok; t++) {                                                          \
            const float *xt = (const float *)x + t * ldx;                                 \
            y[(size_t)t * ldy] = pl_dot1_scalar(LOAD, row, 0, cols, xt, 0);               \
        }                                                                                 \
    }

DEFINE_SCALAR_ROW_KERNEL(row_f32, pl_load_f32)
DEFINE_SCALAR_ROW_KERNEL(row_f16, pl_load_f16)
DEFINE_SCALAR_ROW_KERNEL(row_bf16, pl_load_bf16)

int pl_float_kernel(uint32_t type, pl_kernel *k) {
    switch (type) {
    case PL_TYPE_F32: *k = (pl_kernel){row_f32, PL_ACT_F32}; return 1;
    case PL_TYPE_F16: *k = (pl_kernel){row_f16, PL_ACT_F32}; return 1;
    case PL_TYPE_BF16: *k = (pl_kernel){row_bf16, PL_ACT_F32}; return 1;
    default: return 0;
    }
}

int pl_kernel_for(uint32_t type, int simd, pl_kernel *k) {
    if (simd && (pl_float_kernel_simd(type, k) || pl_kquant_kernel_simd(type, k) ||
                 pl_quant_kernel_simd(type, k)))
        return 1;
    return pl_float_kernel(type, k) || pl_kquant_kernel(type, k) || pl_quant_kernel(type, k);
}

size_t pl_matmul_workspace(int n_tok, int cols) {
    return (size_t)n_tok * (size_t)(cols / 32) * sizeof(pl_act_block);
}

typedef struct {
    float *y;
    const pl_tensor *w;
    const void *x;           /* activations in the kernel's form */
    size_t x_row_bytes;
    int n_tok;
    pl_row_kernel row;
    pl_group_kernel group;   /* for PL_LAYOUT_X4 */
} matmul_task;

/* Threads share out units of work: the 4-row groups of a PL_LAYOUT_X4 matrix (each a run
 * of 4 * row_bytes), then single rows. */
static void matmul_rows(void *p, int ith, int nth) {
    const matmul_task *m = p;
    int cols = (int)m->w->ne[0], rows = (int)m->w->ne[1];
    size_t row_bytes = pl_row_bytes(m->w->type, cols);
    int n_groups = m->w->layout == PL_LAYOUT_X4 ? rows / 4 : 0;
    int u0, u1;
    pl_split(n_groups + rows - 4 * n_groups, ith, nth, &u0, &u1);
    for (int u = u0; u < u1; u++) {
        int r = u < n_groups ? 4 * u : u + 3 * n_groups;
        const uint8_t *w = (const uint8_t *)m->w->data + (size_t)r * row_bytes;
        if (u < n_groups)
            m->group(w, m->x, m->x_row_bytes, m->n_tok, cols, m->y + r, rows, m->w->scale_shift);
        else
            m->row(w, m->x, m->x_row_bytes, m->n_tok, cols, m->y + r, rows);
    }
}

void pl_matmul(float *y, const pl_tensor *w, const float *x, int n_tok, const pl_compute *cx) {
    int cols = (int)w->ne[0];
    pl_kernel k;
    pl_kernel_for(w->type, cx->simd, &k);   /* loaders accept only types that have one */
    matmul_task task = {y, w, x, (size_t)cols * sizeof(float), n_tok, k.row,
                        pl_x4_kernel(w->type, cx->simd)};
    if (k.act == PL_ACT_Q8) {
        /* quantized once here, read by every thread; the workspace was sized at load */
        pl_quantize_activations(x, n_tok, cols, cx->act);
        task.x = cx->act;
        task.x_row_bytes = (size_t)(cols / 32) * sizeof(pl_act_block);
    }
    if ((double)n_tok * cols * w->ne[1] < PL_MIN_PARALLEL_WORK)
        matmul_rows(&task, 0, 1);   /* waking the other threads would cost more */
    else
        pl_pool_run(cx->pool, matmul_rows, &task);
}

void pl_get_row(float *out, const pl_tensor *t, int row) {
    int n = (int)t->ne[0];
    const uint8_t *src = (const uint8_t *)t->data + (size_t)row * pl_row_bytes(t->type, n);
    if (t->layout == PL_LAYOUT_X4) pl_x4_get_row(out, t, row);
    else if (t->type == PL_TYPE_F32) memcpy(out, src, (size_t)n * sizeof(float));
    else pl_dequantize_row(t->type, src, out, n);
}

void pl_rmsnorm(float *o, const float *x, const float *weight, int n, float eps) {
    float ss = 0.0f;
    for (int j = 0; j < n; j++) ss += x[j] * x[j];
    ss /= n;
    ss += eps;
    ss = 1.0f / sqrtf(ss);
    for (int j = 0; j < n; j++) o[j] = weight[j] * (ss * x[j]);
}

void pl_layernorm(float *o, const float *x, const float *weight, const float *bias, int n,
                  float eps) {
    float mean = 0.0f;
    for (int j = 0; j < n; j++) mean += x[j];
    mean /= n;
    /* two passes: the variance of the centred values does not cancel catastrophically */
    float var = 0.0f;
    for (int j = 0; j < n; j++) var += (x[j] - mean) * (x[j] - mean);
    var /= n;
    float inv = 1.0f / sqrtf(var + eps);
    for (int j = 0; j < n; j++) o[j] = (x[j] - mean) * inv * weight[j] + bias[j];
}

void pl_softmax(float *x, int n) {
    float max = x[0];
    for (int i = 1; i < n; i++)
        if (x[i] > max) max = x[i];
    float sum = 0.0f;
    for (int i = 0; i < n; i++) {
        x[i] = expf(x[i] - max);
        sum += x[i];
    }
    for (int i = 0; i < n; i++) x[i] /= sum;
}

void pl_gelu(float *x, size_t n) {
    const float sqrt_2_over_pi = 0.7978845608028654f;
    for (size_t i = 0; i < n; i++) {
        float v = x[i];
        x[i] = 0.5f * v * (1.0f + tanhf(sqrt_2_over_pi * (v + 0.044715f * v * v * v)));
    }
}

void pl_add_bias(float *y, const float *bias, int n_tok, int cols) {
    for (int t = 0; t < n_tok; t++)
        for (int j = 0; j < cols; j++) y[(size_t)t * cols + j] += bias[j];
}

void pl_rope_table(float *cos_out, float *sin_out, int pos, int dims, float base, float pos_scale,
                   const float *factors) {
    float p = (float)pos * pos_scale;
    for (int j = 0; j < dims / 2; j++) {
        float freq = 1.0f / powf(base, (float)(2 * j) / (float)dims);
        if (factors) freq /= factors[j];
        cos_out[j] = cosf(p * freq);
        sin_out[j] = sinf(p * freq);
    }
}

void pl_rope_apply(float *vec, int n_heads, int head_dim, int dims, int rope_type,
                   const float *cos_t, const float *sin_t) {
    int half = dims / 2;
    int stride = rope_type == PL_ROPE_NEOX ? 1 : 2;        /* distance between consecutive pairs */
    int offset = rope_type == PL_ROPE_NEOX ? half : 1;     /* distance between a pair's two values */
    for (int h = 0; h < n_heads; h++) {
        float *head = vec + (size_t)h * head_dim;
        for (int j = 0; j < half; j++) {
            float *a = head + j * stride, *b = a + offset;
            float v0 = *a, v1 = *b;
            *a = v0 * cos_t[j] - v1 * sin_t[j];
            *b = v0 * sin_t[j] + v1 * cos_t[j];
        }
    }
}
