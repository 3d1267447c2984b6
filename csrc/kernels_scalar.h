/* The scalar core of the float row kernels: weight element loads and dot products summed
 * in index order. kernels.c runs them over whole rows (the reference kernels); the SIMD128
 * kernels run them over the columns past their last full vector, continuing their sums. */
#ifndef PL_KERNELS_SCALAR_H
#define PL_KERNELS_SCALAR_H

#include <stdint.h>

#include "util.h"

/* Element k of a weight row, as a float. */
typedef float (*pl_load1)(const void *row, int k);

static inline float pl_load_f32(const void *row, int k) { return ((const float *)row)[k]; }
static inline float pl_load_f16(const void *row, int k) { return pl_f16_to_f32(((const uint16_t *)row)[k]); }
static inline float pl_load_bf16(const void *row, int k) { return pl_bf16_to_f32(((const uint16_t *)row)[k]); }

/* s[i] += w[k] * xi[k] for k0 <= k < cols: four activation rows share each weight load. */
static inline void pl_dot4_scalar(pl_load1 load, const void *row, int k0, int cols, const float *x0,
                                  const float *x1, const float *x2, const float *x3, float s[4]) {
    for (int k = k0; k < cols; k++) {
        float w = load(row, k);
        s[0] += w * x0[k]; s[1] += w * x1[k]; s[2] += w * x2[k]; s[3] += w * x3[k];
    }
}

/* s + w[k] * x[k] for k0 <= k < cols. */
static inline float pl_dot1_scalar(pl_load1 load, const void *row, int k0, int cols, const float *x, float s) {
    for (int k = k0; k < cols; k++) s += load(row, k) * x[k];
    return s;
}

#endif
