// A short, reproducible run of each libFuzzer target (tests/fuzz/fuzz_*.c, built by
// ./build.sh into build/native/fuzz/ with ASan + UBSan): its seeds first, then a fixed
// number of mutations from a fixed random seed. Any crash, sanitizer report or broken
// property (fuzz_text checks the tokenizers' round trips and the streaming decoder's
// UTF-8, fuzz_vocab that a tokenizer that loads can tokenize, fuzz_quantize that its output
// is a GGUF file) fails the test with the fuzzer's report. Longer campaigns: see build.mk.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

const FUZZERS = {
  // every model file in models/ (GGUF and llama2.c), whole
  fuzz_load: { seeds: ['models', 'tests/fixtures/t5'], args: ['-runs=300', '-max_len=2000000'] },
  // the GGUF models through `pocketlm quantize`, to every type
  fuzz_quantize: { seeds: ['models'], args: ['-runs=300', '-max_len=2000000'] },
  // tokenizer files: GGUF vocabularies, GPT-2's encoder.json + vocab.bpe, llama2.c tokenizer.bin
  fuzz_vocab: { seeds: ['tests/fuzz/seeds_vocab', 'models'], args: ['-runs=1500', '-max_len=2000000'] },
  // texts in every tokenizer family, plain and with BOS and special tokens
  fuzz_text: { seeds: ['tests/fuzz/seeds_text'], args: ['-runs=4000', '-max_len=4096'] },
};

for (const [name, { seeds, args }] of Object.entries(FUZZERS))
  test(`fuzz ${name}: seeds and mutations, no crash, no sanitizer report, no broken property`,
    { timeout: 5 * 60 * 1000 }, async () => {
      const bin = join(ROOT, 'build/native/fuzz', name);
      assert.ok(existsSync(bin), `${bin} is missing: run ./build.sh`);
      // the first corpus directory receives the new inputs; the seeds stay as they are
      const corpus = mkdtempSync(join(tmpdir(), `pocketlm-${name}-`));
      try {
        const { status, output } = await new Promise((resolve) => {
          execFile(bin, ['-seed=1', `-artifact_prefix=${corpus}/`, ...args, corpus, ...seeds],
            { cwd: ROOT, maxBuffer: 1 << 26 }, (error, stdout, stderr) =>
              resolve({ status: error ? (error.code ?? error.signal) : 0, output: stdout + stderr }));
        });
        assert.equal(status, 0, `${name} failed (exit ${status}):\n${output.slice(-6000)}`);
        assert.match(output, /Done \d+ runs/, output.slice(-2000));
        assert.doesNotMatch(output, /not found, skipped/, 'every vocabulary of the target is there');
      } finally {
        rmSync(corpus, { recursive: true, force: true });
      }
    });
