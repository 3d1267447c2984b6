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
    case PL_TYPE_F32: *k = (pl_kernel){.row = row_f32, .act = PL_ACT_F32}; return 1;
    case PL_TYPE_F16: *k = (pl_kernel){.row = row_f16, .act = PL_ACT_F32}; return 1;
    case PL_TYPE_BF16: *k = (pl_kernel){.row = row_bf16, .act = PL_ACT_F32}; return 1;
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
    return (size_t)n_tok * pl_act_row_bytes(cols);
}

/* One matrix of a matmul task: its output, its kernels and the activations in their form. */
typedef struct {
    float *y;
    pl_tensor w;
    size_t row_bytes;
    pl_row_kernel row;
    pl_rows4_kernel rows4;   /* for prompt tokens, where the type has one */
    pl_group_kernel group;   /* for PL_LAYOUT_X4 */
    const void *x;           /* set by each thread when quantized */
    size_t x_row_bytes;
    int quantized;           /* the kernel reads the activations as pl_act rows */
} matmul_part;

/* Matrices sharing one input (q, k and v; or gate and up), n_tok tokens. Work is shared
 * out in units of 4 rows: a 4-row group of a PL_LAYOUT_X4 matrix, else 4 single rows. */
typedef struct {
    int n_parts, n_tok;
    matmul_part part[PL_MATMUL_MAX_PARTS];
    void (*swiglu)(float *gate, const float *up, int n);   /* matmul_swiglu only */
    pl_pool *pool;
    int chunk;   /* units a thread takes at a time */
    const float *x;          /* the input */
    char *act;               /* the threads' workspaces, act_bytes apart */
    size_t act_bytes;
} matmul_task;

/* The fewest multiply-adds a thread takes at a time (~1.5 us of decode): a thread that
 * finishes early waits about that long for the others at most. */
#define CHUNK_WORK (1 << 15)

/* silu's exp is a long dependency chain: it needs several vectors of rows per call to
 * overlap (with one 4-row unit per call the SIMD exp was no faster than expf). */
#define SWIGLU_MIN_CHUNK 8

static int units_of(const pl_tensor *w) { return (int)((w->ne[1] + 3) / 4); }

/* Rows 4u .. 4u+3 of a part (fewer in a last partial unit). */
static void matmul_unit(const matmul_part *p, int u, int n_tok) {
    int cols = (int)p->w.ne[0], rows = (int)p->w.ne[1], r = 4 * u;
    int end = r + 4 < rows ? r + 4 : rows;
    const uint8_t *w = (const uint8_t *)p->w.data + (size_t)r * p->row_bytes;
    if (p->w.layout == PL_LAYOUT_X4 && end - r == 4) {
        p->group(w, p->x, p->x_row_bytes, n_tok, cols, p->y + r, rows, p->w.scale_shift);
        return;
    }
    if (p->rows4 && end - r == 4 && n_tok >= 4) {
        p->rows4(w, p->row_bytes, p->x, p->x_row_bytes, n_tok, cols, p->y + r, rows);
        return;
    }
    for (; r < end; r++, w += p->row_bytes) p->row(w, p->x, p->x_row_bytes, n_tok, cols, p->y + r, rows);
}

/* Units u0..u1-1 of the parts laid end to end. */
static void matmul_units(const matmul_task *m, int u0, int u1) {
    for (int i = 0, first = 0; i < m->n_parts; first += units_of(&m->part[i].w), i++) {
        int n = units_of(&m->part[i].w);
        for (int u = u0 > first ? u0 - first : 0; u < n && first + u < u1; u++)
            matmul_unit(&m->part[i], u, m->n_tok);
    }
}

/* Every thread quantizes the input into its own workspace: by thread 0 for all, this was
 * serial time, and its writes hit lines the other threads had just read (at 2 threads
 * the quantization took 2-3x as long as at 1). */
static void quantize_input(matmul_task *m, int ith) {
    char *act = m->act + (size_t)ith * m->act_bytes;
    int done = 0;
    for (int i = 0; i < m->n_parts; i++) {
        if (!m->part[i].quantized) continue;
        if (!done++) pl_quantize_activations(m->x, m->n_tok, (int)m->part[i].w.ne[0], act);
        m->part[i].x = act;
    }
}

/* Gate and up on units u0..u1-1, then silu(gate) * up on their rows, by the same thread
 * (still in its cache), so the exp pass runs in parallel too. */
static void swiglu_units(const matmul_task *m, int u0, int u1) {
    const matmul_part *gate = &m->part[0], *up = &m->part[1];
    int rows = (int)gate->w.ne[1];
    for (int u = u0; u < u1; u++) {
        matmul_unit(gate, u, m->n_tok);
        matmul_unit(up, u, m->n_tok);
    }
    /* in one pass per token: the exp's long dependency chain overlaps across vectors */
    int r0 = 4 * u0, r1 = 4 * u1 < rows ? 4 * u1 : rows;
    for (int t = 0; t < m->n_tok; t++)
        m->swiglu(gate->y + (size_t)t * rows + r0, up->y + (size_t)t * rows + r0, r1 - r0);
}

/* Thread ith's part of a task: units as the pool hands them out, the input quantized once
 * the thread has some (one that arrives after every unit is taken needs none). */
static void work_units(void *arg, int ith, void (*units)(const matmul_task *m, int u0, int u1)) {
    matmul_task copy = *(const matmul_task *)arg;   /* see pl_pool_run */
    int u0, u1;
    if (!pl_pool_next(copy.pool, ith, copy.chunk, &u0, &u1)) return;
    quantize_input(&copy, ith);
    do units(&copy, u0, u1);
    while (pl_pool_next(copy.pool, ith, copy.chunk, &u0, &u1));
}

static void matmul_parts(void *arg, int ith) { work_units(arg, ith, matmul_units); }
static void matmul_swiglu(void *arg, int ith) { work_units(arg, ith, swiglu_units); }

/* Kernels for the parts, and whether the input is quantized (by each thread, at the start
 * of the task: quantize_input). */
static void prepare(matmul_task *task, int n, float *const y[], const pl_tensor *const w[],
                    const float *x, int n_tok, const pl_compute *cx) {
    int cols = (int)w[0]->ne[0];
    task->n_parts = n;
    task->n_tok = n_tok;
    task->x = x;
    task->act = cx->act;
    task->act_bytes = cx->act_bytes;
    for (int i = 0; i < n; i++) {
        pl_kernel k;
        pl_kernel_for(w[i]->type, cx->simd, &k);   /* loaders accept only types that have one */
        int quantized = k.act == PL_ACT_Q8;
        task->part[i] = (matmul_part){y[i], *w[i], pl_row_bytes(w[i]->type, cols), k.row, k.rows4,
                                      pl_x4_kernel(w[i]->type, cx->simd), x,
                                      quantized ? pl_act_row_bytes(cols) : (size_t)cols * sizeof(float), quantized};
    }
}

/* n_units over the pool, at least CHUNK_WORK multiply-adds (and min_chunk units) at a time. */
static void run(pl_task_fn fn, matmul_task *task, int n_units, int min_chunk, const pl_compute *cx) {
    double work = 0;
    for (int i = 0; i < task->n_parts; i++)
        work += (double)task->n_tok * task->part[i].w.ne[0] * task->part[i].w.ne[1];
    int unit_work = 4 * task->n_tok * (int)task->part[0].w.ne[0];
    task->pool = cx->pool;
    task->chunk = unit_work > 0 && unit_work < CHUNK_WORK / min_chunk ? CHUNK_WORK / unit_work : min_chunk;
    if (work < PL_MIN_PARALLEL_WORK) pl_pool_run_here(cx->pool, fn, task, n_units);   /* waking the other threads would cost more */
    else pl_pool_run(cx->pool, fn, task, n_units);
}

void pl_matmul_n(int n, float *const y[], const pl_tensor *const w[], const float *x, int n_tok,
                 const pl_compute *cx) {
    matmul_task task;
    prepare(&task, n, y, w, x, n_tok, cx);
    int units = 0;
    for (int i = 0; i < n; i++) units += units_of(w[i]);
    run(matmul_parts, &task, units, 1, cx);
}

void pl_matmul(float *y, const pl_tensor *w, const float *x, int n_tok, const pl_compute *cx) {
    pl_matmul_n(1, &y, &w, x, n_tok, cx);
}

void pl_matmul_swiglu(float *gate, float *up, const pl_tensor *w_gate, const pl_tensor *w_up,
                      const float *x, int n_tok, const pl_compute *cx) {
    matmul_task task;
    prepare(&task, 2, (float *const[]){gate, up}, (const pl_tensor *const[]){w_gate, w_up}, x, n_tok, cx);
    task.swiglu = cx->simd ? pl_swiglu_simd : pl_swiglu;
    run(matmul_swiglu, &task, units_of(w_gate), SWIGLU_MIN_CHUNK, cx);
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

void pl_rmsnorm_rows(float *o, const float *x, const float *weight, int n_tok, int n, float eps) {
    for (int t = 0; t < n_tok; t++) pl_rmsnorm(o + (size_t)t * n, x + (size_t)t * n, weight, n, eps);
}

void pl_add(float *x, const float *y, size_t n) {
    for (size_t i = 0; i < n; i++) x[i] += y[i];
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

void pl_swiglu(float *gate, const float *up, int n) {
    for (int i = 0; i < n; i++) {
        float g = gate[i];
        g *= 1.0f / (1.0f + expf(-g));
        gate[i] = g * up[i];
    }
}

/* Columns at a time: their sums stay in registers (clang vectorizes the fixed-length inner
 * loop) while the rows stream past, instead of a load and store of out per row. */
#define SUM_COLS 16

void pl_weighted_sum(float *out, const float *w, const float *rows, size_t stride, int n, int cols) {
    int d0 = 0;
    for (; d0 + SUM_COLS <= cols; d0 += SUM_COLS) {
        float acc[SUM_COLS];
        memcpy(acc, out + d0, sizeof acc);
        for (int j = 0; j < n; j++) {
            const float *r = rows + (size_t)j * stride + d0;
            for (int d = 0; d < SUM_COLS; d++) acc[d] += w[j] * r[d];
        }
        memcpy(out + d0, acc, sizeof acc);
    }
    for (; d0 < cols; d0++) {
        float acc = out[d0];
        for (int j = 0; j < n; j++) acc += w[j] * rows[(size_t)j * stride + d0];
        out[d0] = acc;
    }
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
