/* The bench's probe of the machine before each run (bench/run.js settle): n steps of the
 * roofline's dot-product loop (4 weight vectors in registers, 8 i32x4.dot_i16x8_s and adds a
 * step), as standalone wasm with no imports that a worker thread instantiates on its own. */
#include <stdint.h>
#include <wasm_simd128.h>

/* Returns a lane of the sums, so nothing is optimized away; x seeds the registers. */
__attribute__((export_name("spin"))) int32_t spin(int32_t n, int32_t x) {
    v128_t w[4], acc[8];
    v128_t a0 = wasm_i16x8_splat((int16_t)x), a1 = wasm_i16x8_splat((int16_t)(x + 1));
    for (int k = 0; k < 4; k++) w[k] = wasm_i16x8_splat((int16_t)(x + 2 + k));
    for (int k = 0; k < 8; k++) acc[k] = wasm_i32x4_splat(x);
    for (int i = 0; i < n; i++) {
        for (int k = 0; k < 4; k++) {
            acc[k] = wasm_i32x4_add(acc[k], wasm_i32x4_dot_i16x8(w[k], a0));
            acc[4 + k] = wasm_i32x4_add(acc[4 + k], wasm_i32x4_dot_i16x8(w[k], a1));
        }
        a0 = wasm_i16x8_add(a0, a1);   /* new inputs every step, or the compiler would hoist the products */
    }
    v128_t s = acc[0];
    for (int k = 1; k < 8; k++) s = wasm_v128_xor(s, acc[k]);
    return wasm_i32x4_extract_lane(s, 0);
}
