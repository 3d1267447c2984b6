// Runs the C unit tests (tests/c/test_*.c), one subtest each, from the repository root:
// natively with ASan + UBSan (build/native/test_*) and as wasm with the SIMD128 kernels
// (build/wasm/test_*.cjs, run by node), both built by ./build.sh.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const names = readdirSync(new URL('c/', import.meta.url))
  .filter((f) => /^test_.*\.c$/.test(f))
  .map((f) => f.slice(0, -2))
  .sort();

test('there are C unit tests', () => {
  assert.ok(names.length > 0, 'no tests/c/test_*.c');
});

const BUILDS = {
  native: (name) => [`${ROOT}build/native/${name}`, []],
  wasm: (name) => [process.execPath, [`${ROOT}build/wasm/${name}.cjs`]],
};

for (const [build, command] of Object.entries(BUILDS))
  for (const name of names) {
    test(`C ${name} (${build})`, { timeout: 10 * 60 * 1000 }, async () => {
      const [bin, args] = command(name);
      const file = args[0] ?? bin;
      assert.ok(existsSync(file), `${file} is missing: run ./build.sh`);
      const { status, output } = await new Promise((resolve) => {
        execFile(bin, args, { cwd: ROOT, maxBuffer: 1 << 26 }, (error, stdout, stderr) =>
          resolve({ status: error ? (error.code ?? error.signal) : 0, output: stdout + stderr }));
      });
      assert.equal(status, 0, `${name} failed (exit ${status}):\n${output}`);
    });
  }
