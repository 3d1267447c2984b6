/* The bench's probe of the machine before each run (bench/run.js settle), as standalone
 * wasm with no imports that a worker thread instantiates on its own:
 *   spin    the roofline's dot-product loop (bench/roofline.c DEFINE_TILED_PASS: 4 weight
 *           vectors in registers, 2 activation vectors loaded a step from an L1-resident
 *           buffer, 8 i32x4.dot_i16x8_s each added into its own accumulator);
 *   stream  a pass reading a buffer far larger than the caches: the host's slow spells of
 *           memory slow the engine's decode as much as its slow vCPUs. */
#include <stddef.h>
#include <stdint.h>
#include <wasm_simd128.h>

#define L1_BYTES 4096
#define STREAM_BYTES (64 << 20)
#define WASM_PAGE 65536

static v128_t l1[L1_BYTES / 16];
static const v128_t *stream_buf;

/* n steps; x seeds the buffer (written here, so the compiler cannot know the loads'
 * values) and the weights. Returns a lane of the sums, so nothing is optimized away. */
__attribute__((export_name("spin"))) int32_t spin(int32_t n, int32_t x) {
    for (int i = 0; i < L1_BYTES / 16; i++) l1[i] = wasm_i16x8_splat((int16_t)(x + i));
    v128_t w[4], acc[8];
    for (int k = 0; k < 4; k++) w[k] = wasm_i16x8_splat((int16_t)(x + 3 + k));
    for (int k = 0; k < 8; k++) acc[k] = wasm_i32x4_splat(x);
    for (int i = 0; i < n; i++) {
        const v128_t *p = l1 + (i & (L1_BYTES / 32 - 1)) * 2;
        v128_t a0 = p[0], a1 = p[1];
        for (int k = 0; k < 4; k++) {
            acc[k] = wasm_i32x4_add(acc[k], wasm_i32x4_dot_i16x8(w[k], a0));
            acc[4 + k] = wasm_i32x4_add(acc[4 + k], wasm_i32x4_dot_i16x8(w[k], a1));
        }
    }
    v128_t s = acc[0];
    for (int k = 1; k < 8; k++) s = wasm_v128_xor(s, acc[k]);
    return wasm_i32x4_extract_lane(s, 0);
}

/* Grows the memory by the stream's buffer and writes all of it (pages never written would
 * all read the one zero page, from the cache). Returns the buffer's size, 0 if the memory
 * cannot grow. */
__attribute__((export_name("stream_init"))) int32_t stream_init(int32_t x) {
    size_t first_page = __builtin_wasm_memory_grow(0, STREAM_BYTES / WASM_PAGE);
    if (first_page == (size_t)-1) return 0;
    v128_t *buf = (v128_t *)(first_page * WASM_PAGE);
    for (int i = 0; i < STREAM_BYTES / 16; i++) buf[i] = wasm_i32x4_splat(x + i);
    stream_buf = buf;
    return STREAM_BYTES;
}

/* One pass reading the buffer, 4 sums in flight. Returns a lane of the sums. */
__attribute__((export_name("stream"))) int32_t stream(void) {
    v128_t acc[4] = {wasm_i32x4_splat(0), wasm_i32x4_splat(0), wasm_i32x4_splat(0), wasm_i32x4_splat(0)};
    for (int i = 0; i < STREAM_BYTES / 16; i += 4)
        for (int k = 0; k < 4; k++) acc[k] = wasm_i32x4_add(acc[k], stream_buf[i + k]);
    v128_t s = wasm_v128_xor(wasm_v128_xor(acc[0], acc[1]), wasm_v128_xor(acc[2], acc[3]));
    return wasm_i32x4_extract_lane(s, 0);
}
