# Build rules for pocketlm, driven by ./build.sh (which checks the toolchain first, sets
# NODE_PATH for emcc and runs make -s: each rule prints one short line). Every object has a
# -MMD dependency file, so only what changed rebuilds.
#
#   wasm    build/wasm/pocketlm.mjs (+ .wasm)           single thread, SIMD128
#           build/wasm/pocketlm-mt.mjs (+ .wasm, .worker.js)  pthreads, SIMD128
#   native  build/native/libpocketlm.a                   gcc -O2 -g, for native tools
#           build/native/test_*                           tests/c/test_*.c with ASan + UBSan
#           build/native/tsan/test_*                      the tests that start threads, with TSan
#           build/native/fuzz/fuzz_*                      tests/fuzz/fuzz_*.c, libFuzzer targets
#           (clang, ASan + UBSan; `fuzz` builds them alone), run from the repository root:
#             build/native/fuzz/fuzz_load -max_len=2000000 CORPUS_DIR models/
#             build/native/fuzz/fuzz_quantize -max_len=2000000 CORPUS_DIR models/
#             build/native/fuzz/fuzz_vocab -max_len=2000000 CORPUS_DIR tests/fuzz/seeds_vocab models/
#             build/native/fuzz/fuzz_text CORPUS_DIR tests/fuzz/seeds_text
#   tests   also build/wasm/test_*.cjs: the same C tests in wasm (SIMD128 kernels, 32-bit
#           size_t), run by node with direct file access
#   bench   build/bench/roofline.cjs and spin.wasm: the kernel roofline and settle probe of
#           npm run bench (not in all)

SRCS    := $(wildcard csrc/*.c)
NAMES   := $(notdir $(SRCS:.c=))
C_TESTS := $(notdir $(basename $(wildcard tests/c/test_*.c)))
FUZZERS := $(notdir $(basename $(wildcard tests/fuzz/fuzz_*.c)))

# Rewritten only when the set of sources changes, so a removed or renamed file relinks.
SRC_LIST := build/sources.txt
$(shell mkdir -p build && { echo '$(SRCS)' | cmp -s - $(SRC_LIST) || echo '$(SRCS)' > $(SRC_LIST); })

EMCC ?= emcc
CC   := gcc

WARN := -Wall -Wextra

# --- wasm -------------------------------------------------------------------------------
WASM_CFLAGS := -std=c11 -O3 -msimd128 -DPL_SIMD=1 $(WARN)
WASM_GLUE   := js/wasm-extern-pre.js js/wasm-post.js
# Node: the extern-pre-js gives the ES module the require/__dirname that 3.1.6's Node code
# expects; js/engine.js hands in the compiled wasm itself. No process-wide handlers.
# Memory grows by 20% at a time, but by at most 16 MiB: growing past a whole model file
# would otherwise reserve up to 96 MiB it never uses.
WASM_LDFLAGS := -O3 -msimd128 -sMODULARIZE=1 -sEXPORT_ES6=1 \
	-sALLOW_MEMORY_GROWTH=1 -sMAXIMUM_MEMORY=4GB -sMEMORY_GROWTH_GEOMETRIC_CAP=16777216 \
	-sEXPORTED_FUNCTIONS=@build/wasm/exports.json \
	-sEXPORTED_RUNTIME_METHODS=UTF8ToString \
	-sNODEJS_CATCH_EXIT=0 -sNODEJS_CATCH_REJECTION=0 \
	--extern-pre-js js/wasm-extern-pre.js --post-js js/wasm-post.js
# The C pool starts n_threads - 1 pthreads inside pl_create, synchronously, so the workers
# must exist beforehand: js/engine.js passes the pool size when it instantiates the module.
# Strict: a pthread_create beyond the pool fails instead of deadlocking.
MT_FLAGS := -pthread
MT_LDFLAGS := -sPTHREAD_POOL_SIZE='Module["pthreadPoolSize"]||1' -sPTHREAD_POOL_SIZE_STRICT=2 \
	-Wno-pthreads-mem-growth

ST_OBJS := $(NAMES:%=build/wasm/obj/st/%.o)
MT_OBJS := $(NAMES:%=build/wasm/obj/mt/%.o)

# --- native -----------------------------------------------------------------------------
NATIVE_CFLAGS := -std=c11 -O2 -g -pthread $(WARN)
ASAN_CFLAGS   := -std=c11 -O1 -g -pthread -fsanitize=address,undefined -fno-omit-frame-pointer \
	-fno-sanitize-recover=undefined $(WARN)

# ThreadSanitizer for the tests that run a pool of more than one thread (the others would
# only run slower): races in the pool, the matmul tasks or attention show up there.
TSAN_CFLAGS := -std=c11 -O1 -g -pthread -fsanitize=thread $(WARN)
# libFuzzer needs clang and its fuzzer runtime: Debian's emscripten package brings clang-14
# (no plain `clang`), which only recommends the runtime (libclang-rt-14-dev; build.sh
# installs it).
FUZZ_CC     := $(or $(shell command -v clang 2>/dev/null),$(shell command -v clang-14 2>/dev/null),clang)
FUZZ_CFLAGS := -std=c11 -O1 -g -fsanitize=fuzzer-no-link,address,undefined \
	-fno-sanitize-recover=undefined -fno-omit-frame-pointer $(WARN)

TSAN_TESTS  := test_threads test_forward test_kernels test_variants test_x4 test_gpt2 test_attention test_t5

NATIVE_OBJS := $(NAMES:%=build/native/obj/%.o)
ASAN_OBJS   := $(NAMES:%=build/native/asan/%.o)
TSAN_OBJS   := $(NAMES:%=build/native/tsan/obj/%.o)
FUZZ_OBJS   := $(NAMES:%=build/native/fuzz/obj/%.o)
TEST_BINS   := $(C_TESTS:%=build/native/%) $(TSAN_TESTS:%=build/native/tsan/%)
WASM_TESTS  := $(C_TESTS:%=build/wasm/%.cjs)

.PHONY: all wasm native tests bench fuzz clean
.DELETE_ON_ERROR:

all: wasm native
wasm: build/wasm/pocketlm.mjs build/wasm/pocketlm-mt.mjs build/wasm/package.json
native: build/native/libpocketlm.a tests fuzz
tests: $(TEST_BINS) $(WASM_TESTS)

# Every PL_API function of the public header, plus malloc/free: never a stale list.
build/wasm/exports.json: csrc/pocketlm.h
	@mkdir -p $(@D)
	{ printf '['; sed -n 's/^PL_API[^(]*[* ]\(pl_[A-Za-z0-9_]*\) *(.*/"_\1",/p' $< | tr -d '\n'; \
	  printf '"_malloc","_free"]\n'; } > $@

# The pthread workers are CommonJS scripts; the repository's package.json says "module".
build/wasm/package.json build/bench/package.json:
	@mkdir -p $(@D)
	echo '{ "type": "commonjs" }' > $@

build/wasm/obj/st/%.o: csrc/%.c
	@mkdir -p $(@D)
	@echo '  emcc     $<'
	$(EMCC) $(WASM_CFLAGS) -MMD -MP -c $< -o $@

build/wasm/obj/mt/%.o: csrc/%.c
	@mkdir -p $(@D)
	@echo '  emcc -mt $<'
	$(EMCC) $(WASM_CFLAGS) $(MT_FLAGS) -MMD -MP -c $< -o $@

build/wasm/pocketlm.mjs: $(ST_OBJS) $(SRC_LIST) build/wasm/exports.json $(WASM_GLUE)
	@echo '  link     $@'
	$(EMCC) $(WASM_LDFLAGS) $(ST_OBJS) -o $@

build/wasm/pocketlm-mt.mjs: $(MT_OBJS) $(SRC_LIST) build/wasm/exports.json $(WASM_GLUE)
	@echo '  link     $@'
	$(EMCC) $(WASM_LDFLAGS) $(MT_FLAGS) $(MT_LDFLAGS) $(MT_OBJS) -o $@

build/native/obj/%.o: csrc/%.c
	@mkdir -p $(@D)
	@echo '  gcc      $<'
	$(CC) $(NATIVE_CFLAGS) -MMD -MP -c $< -o $@

build/native/asan/%.o: csrc/%.c
	@mkdir -p $(@D)
	@echo '  gcc asan $<'
	$(CC) $(ASAN_CFLAGS) -MMD -MP -c $< -o $@

build/native/tsan/obj/%.o: csrc/%.c
	@mkdir -p $(@D)
	@echo '  gcc tsan $<'
	$(CC) $(TSAN_CFLAGS) -MMD -MP -c $< -o $@

build/native/libpocketlm.a: $(NATIVE_OBJS) $(SRC_LIST)
	rm -f $@
	ar rcs $@ $(NATIVE_OBJS)

build/native/libpocketlm-asan.a: $(ASAN_OBJS) $(SRC_LIST)
	rm -f $@
	ar rcs $@ $(ASAN_OBJS)

build/native/test_%: tests/c/test_%.c build/native/libpocketlm-asan.a
	@echo '  gcc asan $@'
	$(CC) $(ASAN_CFLAGS) -Icsrc -Itests/c -MMD -MP -MF $@.d $< build/native/libpocketlm-asan.a -lm -o $@

build/native/libpocketlm-tsan.a: $(TSAN_OBJS) $(SRC_LIST)
	rm -f $@
	ar rcs $@ $(TSAN_OBJS)

build/native/tsan/test_%: tests/c/test_%.c build/native/libpocketlm-tsan.a
	@echo '  gcc tsan $@'
	$(CC) $(TSAN_CFLAGS) -Icsrc -Itests/c -MMD -MP -MF $@.d $< build/native/libpocketlm-tsan.a -lm -o $@

fuzz: $(FUZZERS:%=build/native/fuzz/%)
build/native/fuzz/obj/%.o: csrc/%.c
	@mkdir -p $(@D)
	@echo '  clang fuzz $<'
	$(FUZZ_CC) $(FUZZ_CFLAGS) -MMD -MP -c $< -o $@

build/native/fuzz/fuzz_%: tests/fuzz/fuzz_%.c $(FUZZ_OBJS)
	@echo '  clang fuzz $@'
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer -MMD -MP -MF $@.d $< $(FUZZ_OBJS) -lm -o $@

# SINGLE_FILE: the wasm rides inside the script, so emcc's glue never fetch()es a path.
build/wasm/test_%.cjs: tests/c/test_%.c $(ST_OBJS) build/wasm/package.json
	@echo '  emcc     $@'
	$(EMCC) $(WASM_CFLAGS) -Icsrc -Itests/c -MMD -MP -MF $@.d $< $(ST_OBJS) \
		-sSINGLE_FILE=1 -sNODERAWFS=1 -sALLOW_MEMORY_GROWTH=1 -sMAXIMUM_MEMORY=4GB -o $@

# The roofline microbenchmark links the pthread objects, the kernels as shipped, with one
# worker for its two-thread figures; EXIT_RUNTIME ends the process (and that worker) at the
# end of main.
bench: build/bench/roofline.cjs build/bench/spin.wasm
build/bench/roofline.cjs: bench/roofline.c $(MT_OBJS) build/bench/package.json
	@mkdir -p $(@D)
	@echo '  emcc -mt $@'
	$(EMCC) $(WASM_CFLAGS) $(MT_FLAGS) -Icsrc -MMD -MP -MF $@.d $< $(MT_OBJS) \
		-sSINGLE_FILE=1 -sALLOW_MEMORY_GROWTH=1 -sMAXIMUM_MEMORY=4GB -sPTHREAD_POOL_SIZE=1 \
		-sEXIT_RUNTIME=1 -Wno-pthreads-mem-growth -o $@

# The bench's settle probe (bench/spin.c): exported functions, no imports.
build/bench/spin.wasm: bench/spin.c
	@mkdir -p $(@D)
	@echo '  emcc     $@'
	$(EMCC) -std=c11 -O3 -msimd128 $(WARN) --no-entry -sSTANDALONE_WASM -sTOTAL_STACK=64KB \
		-sINITIAL_MEMORY=1MB -sALLOW_MEMORY_GROWTH=1 -sMAXIMUM_MEMORY=80MB $< -o $@

clean:
	rm -rf build

-include $(wildcard build/wasm/obj/*/*.d build/wasm/*.d build/native/*/*.d build/native/*.d build/native/tsan/obj/*.d build/native/fuzz/obj/*.d)
-include $(wildcard build/bench/*.d)
