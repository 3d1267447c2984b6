/* Internal helpers shared by every C file: error reporting and checked reads. */
#ifndef PL_UTIL_H
#define PL_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include "pocketlm.h"

/* Where a failing function writes why. Every internal function that can fail takes one
 * and returns the status it recorded (PL_OK on success). */
typedef struct {
    int status;
    char msg[256];
} pl_err;

/* Records status + printf-style message in err (if non-NULL) and returns status. */
int pl_fail(pl_err *err, int status, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/* Bounds-checked little-endian reader over a byte buffer: every read past the end
 * fails with PL_ERR_TRUNCATED instead of touching memory it must not. */
typedef struct {
    const uint8_t *buf;
    size_t size;
    size_t pos;
} pl_reader;

int pl_read_bytes(pl_reader *r, void *out, size_t n, pl_err *err);
int pl_read_u32(pl_reader *r, uint32_t *out, pl_err *err);
int pl_read_i32(pl_reader *r, int32_t *out, pl_err *err);
int pl_read_u64(pl_reader *r, uint64_t *out, pl_err *err);
int pl_read_f32(pl_reader *r, float *out, pl_err *err);
/* Returns a pointer to the next n bytes inside the buffer and skips them. */
int pl_read_span(pl_reader *r, size_t n, const uint8_t **out, pl_err *err);

/* IEEE half / bfloat16 to float. */
float pl_f16_to_f32(uint16_t h);
/* The same for finite halves (block scales), without branches. Normal halves move into
 * float position and get rebiased by an integer add; subnormals are their mantissa times
 * 2^-24, so no step meets a subnormal float (x86 takes a microcode assist of ~100 cycles
 * for each, and wasm cannot flush them). Infinities and NaNs come out as large finite values. */
static inline float pl_f16_to_f32_finite(uint16_t h) {
    uint32_t mag = h & 0x7fff;
    union { uint32_t u; float f; } normal = {(mag << 13) + (112u << 23)}, v;
    v.f = mag < 0x400 ? (float)mag * 0x1p-24f : normal.f;
    v.u |= (uint32_t)(h & 0x8000) << 16;
    return v.f;
}
float pl_bf16_to_f32(uint16_t h);

#endif
