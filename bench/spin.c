/* The bench's probe of the machine before each run (bench/run.js settle): the roofline's
 * dot-product loop (bench/roofline.c DEFINE_TILED_PASS: 4 weight vectors in registers, 2
 * activation vectors loaded a step from an L1-resident buffer, 8 i32x4.dot_i16x8_s each
 * added into its own accumulator), as standalone wasm with no imports that a worker
 * thread instantiates on its own. */
#include <stdint.h>
#include <wasm_simd128.h>

#define L1_BYTES 4096

static v128_t l1[L1_BYTES / 16];

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
