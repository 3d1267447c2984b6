#!/usr/bin/env bash
# Builds pocketlm from csrc/*.c (rules in build.mk; only what changed is rebuilt).
#   ./build.sh            everything: wasm (single-thread + pthreads) and native (library, C
#                         tests, fuzzers)
#   ./build.sh wasm       build/wasm/ only (what the Node API and the CLI need)
#   ./build.sh native     build/native/ only
#   ./build.sh fuzz       build/native/fuzz/ only: the libFuzzer targets (clang; see build.mk)
#   ./build.sh clean
# Output goes to stderr, so `./build.sh && pocketlm generate ...` keeps stdout for the text.
set -euo pipefail
cd "$(dirname "$0")"
exec 1>&2

targets=("${@:-all}")
need_emcc=0
need_gcc=0
need_clang=0
for t in "${targets[@]}"; do
  case "$t" in
    all) need_emcc=1; need_gcc=1; need_clang=1 ;;
    native) need_gcc=1; need_clang=1 ;;
    wasm | build/wasm/*) need_emcc=1 ;;
    clean) ;;
    fuzz | build/native/fuzz/*) need_clang=1 ;;
    *) need_gcc=1 ;;
  esac
done

# Debian's emcc finds its node modules (acorn, ...) only through NODE_PATH.
export NODE_PATH="/usr/share/nodejs${NODE_PATH:+:$NODE_PATH}"

missing=()   # Debian packages of the tools that are not installed
command -v make >/dev/null || missing+=(make)
if [ "$need_emcc" = 1 ] && ! command -v emcc >/dev/null; then missing+=(emscripten); fi
if [ "$need_gcc" = 1 ]; then
  command -v gcc >/dev/null || missing+=(gcc libc6-dev)
  command -v ar >/dev/null || missing+=(binutils)
fi
# The fuzzers: clang with its libFuzzer runtime (a package clang only recommends).
if [ "$need_clang" = 1 ]; then
  clang=$(command -v clang || command -v clang-14 || true)
  if [ -z "$clang" ] || ! echo 'int LLVMFuzzerTestOneInput(const char *d, unsigned long n) { return d && n; }' |
      "$clang" -fsanitize=fuzzer -x c - -o /dev/null 2>/dev/null; then
    missing+=(clang-14 libclang-rt-14-dev)
  fi
fi
if [ "${#missing[@]}" -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null && grep -qiE 'debian|ubuntu' /etc/os-release 2>/dev/null; then
    echo "build.sh: installing ${missing[*]}"
    apt-get update
    DEBIAN_FRONTEND=noninteractive apt-get install -y "${missing[@]}"
  else
    echo "build.sh: missing tools. Install them, then run ./build.sh again:"
    echo "  Debian/Ubuntu: sudo apt-get install -y ${missing[*]}"
    echo "  elsewhere:     make, gcc (native tests), clang with libFuzzer (the fuzzers) and Emscripten 3.1.x (emcc),"
    echo "                 https://emscripten.org/docs/getting_started/downloads.html"
    exit 1
  fi
fi

jobs=$(nproc 2>/dev/null || echo 2)
exec make --no-print-directory -s -f build.mk -j"$jobs" "${targets[@]}"
