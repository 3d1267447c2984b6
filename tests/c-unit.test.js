// Runs the native C unit tests (tests/c/test_*.c, built by ./build.sh as
// build/native/test_* with ASan + UBSan), one subtest each, from the repository root.
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

for (const name of names) {
  test(`C ${name}`, { timeout: 10 * 60 * 1000 }, async () => {
    const bin = `${ROOT}build/native/${name}`;
    assert.ok(existsSync(bin), `${bin} is missing: run ./build.sh`);
    const { status, output } = await new Promise((resolve) => {
      execFile(bin, [], { cwd: ROOT, maxBuffer: 1 << 26 }, (error, stdout, stderr) =>
        resolve({ status: error ? (error.code ?? error.signal) : 0, output: stdout + stderr }));
    });
    assert.equal(status, 0, `${name} failed (exit ${status}):\n${output}`);
  });
}
