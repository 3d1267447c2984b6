// Runs the C unit tests (tests/c/test_*.c), one subtest each, from the repository root:
// natively with ASan + UBSan (build/native/test_*), those that start threads with TSan too
// (build/native/tsan/test_*), and as wasm with the SIMD128 kernels (build/wasm/test_*.cjs,
// run by node), all built by ./build.sh.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const names = readdirSync(new URL('c/', import.meta.url))
  .filter((f) => /^test_.*\.c$/.test(f))
  .map((f) => f.slice(0, -2))
  .sort();

test('there are C unit tests', () => {
  assert.ok(names.length > 0, 'no tests/c/test_*.c');
});

// The tests that start threads, also built with ThreadSanitizer: build.mk's TSAN_TESTS.
const THREADED = readFileSync(`${ROOT}build.mk`, 'utf8').match(/^TSAN_TESTS\s*:=(.*)$/m)[1].trim().split(/\s+/);

test('the TSan tests are C unit tests', () => {
  assert.ok(THREADED.includes('test_threads'));
  for (const name of THREADED) assert.ok(names.includes(name), `${name} in TSAN_TESTS is not a test`);
});

// setarch -R needs personality(ADDR_NO_RANDOMIZE), which some containers' seccomp denies.
const NO_ASLR = spawnSync('setarch', ['-R', 'true']).status === 0;

// Per build: the tests, the file ./build.sh makes for a test, and how to run that file.
const BUILDS = {
  native: { tests: names, file: (name) => `${ROOT}build/native/${name}`, run: (file) => [file, []] },
  // without address randomization where allowed: older TSan runtimes abort ("unexpected
  // memory mapping") on kernels that randomize mmap with more bits
  tsan: { tests: THREADED, file: (name) => `${ROOT}build/native/tsan/${name}`,
    run: (file) => (NO_ASLR ? ['setarch', ['-R', file]] : [file, []]) },
  wasm: { tests: names, file: (name) => `${ROOT}build/wasm/${name}.cjs`, run: (file) => [process.execPath, [file]] },
};

for (const [build, { tests, file: fileOf, run }] of Object.entries(BUILDS))
  for (const name of tests) {
    test(`C ${name} (${build})`, { timeout: 10 * 60 * 1000 }, async () => {
      const file = fileOf(name);
      assert.ok(existsSync(file), `${file} is missing: run ./build.sh`);
      const [bin, args] = run(file);
      const { status, output } = await new Promise((resolve) => {
        execFile(bin, args, { cwd: ROOT, maxBuffer: 1 << 26 }, (error, stdout, stderr) =>
          resolve({ status: error ? (error.code ?? error.signal) : 0, output: stdout + stderr }));
      });
      assert.equal(status, 0, `${name} failed (exit ${status}):\n${output}`);
    });
  }
