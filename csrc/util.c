/* Error recording, bounds-checked reads, half-float conversion. */
#include "util.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int pl_fail(pl_err *err, int status, const char *fmt, ...) {
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
        err->status = status;
    }
    return status;
}

int pl_read_span(pl_reader *r, size_t n, const uint8_t **out, pl_err *err) {
    if (n > r->size - r->pos)
        return pl_fail(err, PL_ERR_TRUNCATED,
                       "file truncated: needs %zu more bytes at offset %zu, has %zu",
                       n, r->pos, r->size - r->pos);
    *out = r->buf + r->pos;
    r->pos += n;
    return PL_OK;
}

int pl_read_bytes(pl_reader *r, void *out, size_t n, pl_err *err) {
    const uint8_t *p = NULL;
    int st = pl_read_span(r, n, &p, err);
    if (st == PL_OK) memcpy(out, p, n);
    return st;
}

/* The formats are little-endian and so are wasm and every native target we build for. */
int pl_read_u32(pl_reader *r, uint32_t *out, pl_err *err) { return pl_read_bytes(r, out, 4, err); }
int pl_read_i32(pl_reader *r, int32_t *out, pl_err *err) { return pl_read_bytes(r, out, 4, err); }
int pl_read_u64(pl_reader *r, uint64_t *out, pl_err *err) { return pl_read_bytes(r, out, 8, err); }
int pl_read_f32(pl_reader *r, float *out, pl_err *err) { return pl_read_bytes(r, out, 4, err); }

static float bits_to_f32(uint32_t u) {
    float f;
    memcpy(&f, &u, 4);
    return f;
}

float pl_f16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000) << 16;
    uint32_t exp = (h >> 10) & 0x1f;
    uint32_t mant = h & 0x3ff;
    if (exp == 0x1f) return bits_to_f32(sign | 0x7f800000u | (mant << 13)); /* inf / nan */
    if (exp == 0) {
        if (mant == 0) return bits_to_f32(sign);
        /* subnormal: mant * 2^-24 is exact in float */
        float v = (float)mant * (1.0f / 16777216.0f);
        return sign ? -v : v;
    }
    return bits_to_f32(sign | ((exp + 112) << 23) | (mant << 13));
}

float pl_bf16_to_f32(uint16_t h) { return bits_to_f32((uint32_t)h << 16); }
