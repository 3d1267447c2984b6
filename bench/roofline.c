/* Kernel roofline for npm run bench: in one wasm process (Node, SIMD128, pthreads build),
 * first what the machine can do — streaming read bandwidth with v128 loads on one thread
 * and on two, f32x4 multiply-add throughput, i32x4.dot_i16x8_s throughput on one thread
 * and on two at once — then what pocketlm's matmul kernels achieve on the benchmark
 * model's matrix shapes: GB/s of weights read and GOP/s (2 per multiply-add) for one token
 * (decode, on one thread and on two) and for a chunk of prompt tokens (prefill, one
 * thread). The weights of every layer are distinct, so decode streams them from memory as
 * the model does.
 *
 *   node build/bench/roofline.cjs DIM FFN KV_DIM VOCAB LAYERS PREFILL_TOKENS TYPE...
 *   (TYPE: Q4_0, Q8_0, Q5_0, Q4_1, Q5_1, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K, F16 or F32)
 *
 * Prints one JSON object on stdout. */
#include <emscripten.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wasm_simd128.h>

#include "kernels.h"
#include "quant.h"
#include "threads.h"

#define MIN_TIME_MS 300.0       /* each measurement runs at least this long */
#define STREAM_BYTES (256u << 20) /* larger than any cache */
#define CACHED_BYTES (64u << 10)  /* fits in L2 */
#define PREFILL_LAYERS 2           /* layers timed for prefill */

static _Atomic uint32_t sink;     /* results land here (from any thread), so no loop is optimized away */
static volatile float seed = 1.0f;

static double now_ms(void) { return emscripten_get_now(); }

static void consume(v128_t v) { atomic_fetch_xor(&sink, (uint32_t)wasm_i32x4_extract_lane(v, 0)); }

/* --- machine ------------------------------------------------------------------------- */

__attribute__((noinline)) static void stream_read(const uint8_t *buf, size_t n) {
    v128_t a0 = wasm_i32x4_splat(0), a1 = a0, a2 = a0, a3 = a0;
    for (size_t i = 0; i < n; i += 64) {
        a0 = wasm_i32x4_add(a0, wasm_v128_load(buf + i));
        a1 = wasm_i32x4_add(a1, wasm_v128_load(buf + i + 16));
        a2 = wasm_i32x4_add(a2, wasm_v128_load(buf + i + 32));
        a3 = wasm_i32x4_add(a3, wasm_v128_load(buf + i + 48));
    }
    consume(wasm_v128_xor(wasm_v128_xor(a0, a1), wasm_v128_xor(a2, a3)));
}

typedef struct {
    pl_pool *pool;
    const uint8_t *buf;
    size_t n;
    int reps;
} read_task;

/* The threads read the buffer's 64-byte lines as the matmuls read rows (pl_pool_next, at
 * least 64 KiB per claim: a thread that starts late does not lose its whole share), each
 * range reps times. */
static void read_share(void *arg, int ith) {
    read_task t = *(const read_task *)arg;
    for (int begin, end; pl_pool_next(t.pool, ith, 1024, &begin, &end);)
        for (int r = 0; r < t.reps; r++) stream_read(t.buf + (size_t)begin * 64, (size_t)(end - begin) * 64);
}

/* GB/s reading n bytes of buf over and over with the pool's threads, best of the passes. */
static double read_bandwidth(pl_pool *pool, const uint8_t *buf, size_t n) {
    double best = 1e30, start = now_ms();
    int passes = 0;
    read_task task = {pool, buf, n, n < (1u << 20) ? 1000 : 1};   /* small buffers: many reads at once */
    while (now_ms() - start < MIN_TIME_MS || passes < 3) {
        double t0 = now_ms();
        pl_pool_run(pool, read_share, &task, (int)(n / 64));
        double ms = (now_ms() - t0) / task.reps;
        if (ms < best) best = ms;
        passes++;
    }
    return (double)n / (best * 1e6);
}

/* The compute rates are measured the way the kernels compute: one operand loaded from an
 * L1-resident buffer (a different place every iteration, so nothing is hoisted), the other
 * held in a register (the kernels reuse a widened weight vector for several tokens),
 * products added into 8 independent accumulators. */
#define L1_BYTES 4096

/* Each pass is its own call: V8 runs a function's first calls in its baseline compiler and
 * switches to optimized code only at a later call (there is no on-stack replacement for
 * wasm), so the best of several calls is the optimized code's rate. */
#define RATE_ITERS (1 << 21)
#define RATE_PASSES 8

/* A register-tiled multiply-add loop as the kernels issue it: 4 weight vectors held in
 * registers, 2 vectors loaded per step, 8 products each added into its own accumulator
 * (with one load per product and 8 accumulators, V8 spilled every accumulator every step).
 * Milliseconds for RATE_ITERS steps. */
#define DEFINE_TILED_PASS(name, WEIGHT, ACC0, MADD)                                       \
    __attribute__((noinline)) static double name(const uint8_t *l1) {                    \
        v128_t w[4], acc[8];                                                              \
        for (int k = 0; k < 4; k++) w[k] = WEIGHT(k);                                     \
        for (int k = 0; k < 8; k++) acc[k] = ACC0;                                        \
        double t0 = now_ms();                                                             \
        for (int i = 0; i < RATE_ITERS; i++) {                                            \
            const uint8_t *p = l1 + (size_t)(i & (L1_BYTES / 32 - 1)) * 32;               \
            v128_t a0 = wasm_v128_load(p), a1 = wasm_v128_load(p + 16);                   \
            for (int k = 0; k < 4; k++) {                                                 \
                acc[k] = MADD(acc[k], w[k], a0);                                          \
                acc[4 + k] = MADD(acc[4 + k], w[k], a1);                                  \
            }                                                                             \
        }                                                                                 \
        double ms = now_ms() - t0;                                                        \
        for (int k = 0; k < 8; k++) consume(acc[k]);                                      \
        return ms;                                                                        \
    }

/* f32x4 multiply then add (wasm SIMD128 has no fused multiply-add): 8 flops per product.
 * l1 holds ordinary floats (denormals would be slow). */
#define F32_WEIGHT(k) wasm_f32x4_splat(seed * (0.5f + 0.125f * (float)(k)))
static inline v128_t f32_madd(v128_t acc, v128_t w, v128_t a) { return wasm_f32x4_add(acc, wasm_f32x4_mul(w, a)); }
DEFINE_TILED_PASS(f32_madd_pass, F32_WEIGHT, wasm_f32x4_splat(seed), f32_madd)

/* i32x4.dot_i16x8_s then add: 8 multiply-adds, 16 ops per product. */
#define I16_WEIGHT(k) wasm_i16x8_splat((int16_t)(seed * (float)(3 + (k))))
static inline v128_t dot_add(v128_t acc, v128_t w, v128_t a) { return wasm_i32x4_add(acc, wasm_i32x4_dot_i16x8(w, a)); }
DEFINE_TILED_PASS(dot_i16_pass, I16_WEIGHT, wasm_i32x4_splat((int32_t)seed), dot_add)

/* GFLOP/s or GOP/s from the best of RATE_PASSES calls of a pass doing `ops` per iteration. */
static double best_rate(double (*pass)(const uint8_t *), const uint8_t *l1, double ops) {
    double best = 1e30;
    for (int i = 0; i < RATE_PASSES; i++) {
        double ms = pass(l1);
        if (ms < best) best = ms;
    }
    return (double)RATE_ITERS * ops / (best * 1e6);
}

typedef struct {
    const uint8_t *l1;   /* L1_BYTES per thread */
    double gops[2];
} dot_task;

/* Each thread runs the dot pass on its own L1 buffer, both at once: the rate over all of
 * a thread's passes (its best one might have run while the other was not running yet). */
static void dot_share(void *arg, int ith) {
    dot_task *t = arg;
    double ms = 0;
    for (int i = 0; i < RATE_PASSES; i++) ms += dot_i16_pass(t->l1 + (size_t)ith * L1_BYTES);
    t->gops[ith] = (double)RATE_PASSES * RATE_ITERS * 8 * 16 / (ms * 1e6);
}

/* --- kernels ------------------------------------------------------------------------- */

enum { K_WQ, K_WK, K_WV, K_WO, K_W1, K_W3, K_W2, K_OUT, N_KINDS };
static const char *const KIND_NAME[N_KINDS] = {"attn_q", "attn_k", "attn_v", "attn_output",
                                               "ffn_gate", "ffn_up", "ffn_down", "output"};

typedef struct {
    int cols, rows;                          /* ne = {cols, rows} */
    double decode_ms[2], prefill_ms;         /* per call; decode on 1 and 2 threads */
} kind_stats;

/* Random blocks with a small, finite f16 scale in each (timing only: values are irrelevant). */
static void fill_blocks(uint8_t *data, size_t nbytes, uint32_t type, uint32_t *rng) {
    int block_elems, block_bytes;
    pl_type_block(type, &block_elems, &block_bytes);
    for (size_t i = 0; i < nbytes; i++) {
        *rng = *rng * 1664525u + 1013904223u;
        data[i] = (uint8_t)(*rng >> 24);
    }
    for (size_t off = 0; off < nbytes; off += (size_t)block_bytes) {
        /* 2^-8; Q4_1's and Q5_1's m and Q4_K's and Q5_K's dmin follow d, Q3_K's and Q6_K's d
         * ends its block, Q2_K's d and dmin do */
        uint16_t d = 0x1c00;
        int at = type == PL_TYPE_Q2_K ? block_bytes - 4 : type == PL_TYPE_Q3_K || type == PL_TYPE_Q6_K ? block_bytes - 2 : 0;
        int two = type == PL_TYPE_Q4_1 || type == PL_TYPE_Q5_1 || type == PL_TYPE_Q2_K || type == PL_TYPE_Q4_K ||
                  type == PL_TYPE_Q5_K;
        memcpy(data + off + at, &d, sizeof d);
        if (two) memcpy(data + off + at + 2, &d, sizeof d);
    }
}

static void fill_floats(float *x, size_t n, uint32_t *rng) {
    for (size_t i = 0; i < n; i++) {
        *rng = *rng * 1664525u + 1013904223u;
        x[i] = (float)(int32_t)*rng * (1.0f / 2147483648.0f);
    }
}

/* bandwidth[t]: the streaming read rate on t + 1 threads. */
static void print_kernels(uint32_t type, int prefill, const kind_stats *ks, const double bandwidth[2],
                          double dot_rate, int *first) {
    for (int k = 0; k < N_KINDS; k++) {
        double bytes = (double)pl_row_bytes(type, ks[k].cols) * ks[k].rows;
        double ops = 2.0 * ks[k].cols * ks[k].rows;
        double pms = ks[k].prefill_ms, pgops = ops * prefill / (pms * 1e6);
        printf("%s\n    {\"type\": \"%s\", \"kernel\": \"%s\", \"rows\": %d, \"cols\": %d, \"weight_bytes\": %.0f",
               *first ? "" : ",", pl_type_name(type), KIND_NAME[k], ks[k].rows, ks[k].cols, bytes);
        for (int t = 0; t < 2; t++) {
            double dms = ks[k].decode_ms[t], gbs = bytes / (dms * 1e6);
            printf(", \"decode%s\": {\"ms\": %.4f, \"weight_gbs\": %.3f, \"gops\": %.3f, \"of_bandwidth\": %.3f}",
                   t ? "_2t" : "", dms, gbs, ops / (dms * 1e6), gbs / bandwidth[t]);
        }
        printf(", \"prefill\": {\"tokens\": %d, \"ms\": %.4f, \"gops\": %.3f, \"of_dot_rate\": %.3f}}",
               prefill, pms, pgops, pgops / dot_rate);
        *first = 0;
    }
}

/* One type: every layer's matrices, timed for one token (on pools[0], one thread, and
 * pools[1], two) and for prefill tokens (one thread). */
static int bench_type(uint32_t type, const int shape[4], int layers, int prefill, pl_pool *const pools[2],
                      kind_stats *ks, double decode_ms[2], double *prefill_ms) {
    int dim = shape[0], ffn = shape[1], kv = shape[2], vocab = shape[3];
    int dims[N_KINDS][2] = {{dim, dim}, {dim, kv}, {dim, kv}, {dim, dim},
                            {dim, ffn}, {dim, ffn}, {ffn, dim}, {dim, vocab}};
    size_t total = 0, offset[N_KINDS];
    for (int k = 0; k < N_KINDS; k++) {
        ks[k] = (kind_stats){dims[k][0], dims[k][1], {0, 0}, 0};
        offset[k] = total;
        total += pl_row_bytes(type, dims[k][0]) * dims[k][1] * (size_t)(k == K_OUT ? 1 : layers);
    }
    int widest = ffn > vocab ? ffn : vocab;
    uint8_t *weights = malloc(total);
    float *x = malloc((size_t)prefill * widest * sizeof(float));
    float *y = malloc((size_t)prefill * widest * sizeof(float));
    size_t act_bytes = pl_matmul_workspace(prefill, widest);   /* per thread, up to 2 */
    void *act = malloc(2 * act_bytes);
    if (!weights || !x || !y || !act) {
        fprintf(stderr, "roofline: out of memory for %zu bytes of %s weights\n", total, pl_type_name(type));
        return 0;
    }
    uint32_t rng = 12345;
    fill_blocks(weights, total, type, &rng);
    fill_floats(x, (size_t)prefill * widest, &rng);
    /* the layout the engine gives these matrices at load (4-row groups for Q8_0, Q4_0) */
    uint32_t layout[N_KINDS];
    int32_t shift[N_KINDS];   /* the same for every layer: every block scale is 2^-8 */
    for (int k = 0; k < N_KINDS; k++) {
        size_t bytes = pl_row_bytes(type, dims[k][0]) * dims[k][1];
        for (int l = 0; l < (k == K_OUT ? 1 : layers); l++) {
            pl_tensor w = {.type = type, .n_dims = 2, .ne = {dims[k][0], dims[k][1], 1, 1},
                           .data = weights + offset[k] + (size_t)l * bytes, .nbytes = bytes};
            pl_repack_x4(&w);
            layout[k] = w.layout;
            shift[k] = w.scale_shift;
        }
    }

    /* Decode streams every layer's weights from memory; prefill is compute-bound, so the
     * first PREFILL_LAYERS layers stand for all. Best pass kept per kernel. Phases: decode
     * on one thread, on two, prefill on one. */
    for (int phase = 0; phase < 3; phase++) {
        int n_tok = phase < 2 ? 1 : prefill;
        int timed_layers = phase < 2 ? layers : (layers < PREFILL_LAYERS ? layers : PREFILL_LAYERS);
        pl_compute cx = {pools[phase == 1], 1, act, act_bytes};
        double best[N_KINDS];
        for (int k = 0; k < N_KINDS; k++) best[k] = 1e30;
        double start = now_ms();
        for (int pass = 0; pass < 2 || now_ms() - start < MIN_TIME_MS; pass++) {
            double sum[N_KINDS] = {0};
            for (int l = 0; l < timed_layers; l++)
                for (int k = 0; k < N_KINDS; k++) {
                    if (k == K_OUT && l > 0) continue;
                    size_t bytes = pl_row_bytes(type, dims[k][0]) * dims[k][1];
                    pl_tensor w = {.type = type, .n_dims = 2, .ne = {dims[k][0], dims[k][1], 1, 1},
                                   .data = weights + offset[k] + (size_t)l * bytes, .nbytes = bytes,
                                   .layout = layout[k], .scale_shift = shift[k]};
                    double t0 = now_ms();
                    pl_matmul(y, &w, x, n_tok, &cx);
                    sum[k] += now_ms() - t0;
                }
            for (int k = 0; k < N_KINDS; k++)
                if (sum[k] < best[k]) best[k] = sum[k];
        }
        /* per call of each kernel, then per token of the whole model */
        double all = 0;
        for (int k = 0; k < N_KINDS; k++) {
            double per_call = best[k] / (k == K_OUT ? 1 : timed_layers);
            if (phase < 2) ks[k].decode_ms[phase] = per_call;
            else ks[k].prefill_ms = per_call;
            all += per_call * (k == K_OUT ? 1 : layers);
        }
        if (phase < 2) decode_ms[phase] = all;
        else *prefill_ms = all / prefill;
    }
    atomic_fetch_xor(&sink, (uint32_t)y[0]);
    free(act);
    free(y);
    free(x);
    free(weights);
    return 1;
}

int main(int argc, char **argv) {
    if (argc < 8) {
        fprintf(stderr, "usage: roofline DIM FFN KV_DIM VOCAB LAYERS PREFILL_TOKENS TYPE...\n");
        return 2;
    }
    int shape[4] = {atoi(argv[1]), atoi(argv[2]), atoi(argv[3]), atoi(argv[4])};
    int layers = atoi(argv[5]), prefill = atoi(argv[6]);
    if (shape[0] % PL_QK || shape[1] % PL_QK || layers < 1 || prefill < 1) {
        fprintf(stderr, "roofline: DIM and FFN must be multiples of 32, LAYERS and PREFILL_TOKENS > 0\n");
        return 2;
    }

    static const uint32_t known[] = {PL_TYPE_Q4_0, PL_TYPE_Q8_0, PL_TYPE_Q5_0, PL_TYPE_Q4_1, PL_TYPE_Q5_1, PL_TYPE_Q2_K,
                                     PL_TYPE_Q3_K, PL_TYPE_Q4_K, PL_TYPE_Q5_K, PL_TYPE_Q6_K, PL_TYPE_F16, PL_TYPE_F32};
    uint32_t types[sizeof known / sizeof known[0]];
    int n_types = 0;
    if (argc - 7 > (int)(sizeof types / sizeof types[0])) {
        fprintf(stderr, "roofline: at most %d types\n", (int)(sizeof types / sizeof types[0]));
        return 2;
    }
    for (int i = 7; i < argc; i++) {
        types[n_types] = UINT32_MAX;
        for (size_t j = 0; j < sizeof known / sizeof known[0]; j++)
            if (strcmp(argv[i], pl_type_name(known[j])) == 0) types[n_types] = known[j];
        if (types[n_types++] == UINT32_MAX) {
            fprintf(stderr, "roofline: unknown type %s (Q4_0, Q8_0, Q5_0, Q4_1, Q5_1, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K, F16, F32)\n", argv[i]);
            return 2;
        }
    }

    pl_pool *pools[2] = {pl_pool_create(1), pl_pool_create(2)};
    uint8_t *buf = malloc(STREAM_BYTES);
    if (!buf || !pools[0] || !pools[1] || pl_pool_size(pools[1]) != 2) {
        fprintf(stderr, "roofline: out of memory or no second thread\n");
        return 1;
    }
    for (size_t i = 0; i < STREAM_BYTES; i++) buf[i] = (uint8_t)(i * 7 + 3);
    double bandwidth[2] = {read_bandwidth(pools[0], buf, STREAM_BYTES), read_bandwidth(pools[1], buf, STREAM_BYTES)};
    double cached = read_bandwidth(pools[0], buf, CACHED_BYTES);
    double dots = best_rate(dot_i16_pass, buf, 8 * 16);
    /* the most 2 threads can add to a compute-bound kernel: the host has slowed one vCPU's
     * SIMD work alone for minutes */
    dot_task both = {buf, {0, 0}};
    pl_pool_run(pools[1], dot_share, &both, 0);
    for (size_t i = 0; i < L1_BYTES / sizeof(float); i++) ((float *)buf)[i] = 1.0f + (float)i * 1e-6f;
    double flops = best_rate(f32_madd_pass, buf, 8 * 8);
    free(buf);
    printf("{\n  \"machine\": {\"read_gbs\": %.3f, \"read_2t_gbs\": %.3f, \"read_cached_gbs\": %.3f, "
           "\"f32x4_mul_add_gflops\": %.3f, \"i32x4_dot_i16x8_gops\": %.3f, "
           "\"i32x4_dot_i16x8_2t_gops\": [%.3f, %.3f]},\n  \"kernels\": [",
           bandwidth[0], bandwidth[1], cached, flops, dots, both.gops[0], both.gops[1]);

    int first = 1;
    char totals[1024] = "";
    size_t used = 0;
    for (int i = 0; i < n_types; i++) {
        uint32_t type = types[i];
        kind_stats ks[N_KINDS];
        double decode_ms[2], prefill_ms;
        if (!bench_type(type, shape, layers, prefill, pools, ks, decode_ms, &prefill_ms)) return 1;
        print_kernels(type, prefill, ks, bandwidth, dots, &first);
        used += (size_t)snprintf(totals + used, sizeof totals - used,
                                 "%s\n    \"%s\": {\"decode_matmul_ms_per_token\": %.3f, "
                                 "\"decode_matmul_ms_per_token_2t\": %.3f, \"prefill_matmul_ms_per_token\": %.3f}",
                                 used ? "," : "", pl_type_name(type), decode_ms[0], decode_ms[1], prefill_ms);
    }
    printf("\n  ],\n  \"totals\": {%s\n  }\n}\n", totals);
    pl_pool_destroy(pools[1]);
    pl_pool_destroy(pools[0]);
    return sink == 0xdeadbeef;   /* never: keeps sink observable */
}
