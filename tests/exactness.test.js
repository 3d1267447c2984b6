// pocketlm generate reproduces llama2.c run.c's outputs byte for byte
// (tests/fixtures/reference_greedy_outputs.txt, produced by run.c itself).
//
// run.c semantics (its generate() loop): -n STEPS counts forward passes, starting with BOS
// at position 0. After each one it prints the piece of the next token: a prompt token while
// the prompt lasts (the echo), then a sampled one; the last sampled token is printed but
// never evaluated. So it prints STEPS tokens: P prompt tokens (without BOS) and STEPS - P
// generated ones, then a final '\n'. run.c has no repetition penalty,
// top-k or min-p; its sampler is temperature + top-p with an xorshift RNG, which pocketlm
// reproduces when only those two are on.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { cli } from './helpers/cli.js';


const MODELS = {
  gguf: ['-m', 'models/stories260K.gguf'],
  bin: ['-m', 'models/stories260K.bin', '-t', 'models/tok512.bin'],
};

// Splits a run.c command line ("./run m.bin -z t.bin -t 0 -n 200 -i \"The cat\"").
function argvOf(command) {
  return [...command.matchAll(/"([^"]*)"|(\S+)/g)].map((m) => m[1] ?? m[2]);
}

// Blocks of the fixture: { command, flags, stdout }, with the sha256 the file states checked.
function readFixture() {
  const text = readFileSync(new URL('fixtures/reference_greedy_outputs.txt', import.meta.url), 'utf8');
  const blocks = [];
  const re = /COMMAND: (.*)\nSTDOUT sha256: ([0-9a-f]{64})\n----- BEGIN STDOUT -----\n([\s\S]*?)----- END STDOUT -----/g;
  for (const [, command, sha, stdout] of text.matchAll(re)) {
    assert.equal(createHash('sha256').update(stdout).digest('hex'), sha, `fixture parse of: ${command}`);
    const argv = argvOf(command);
    const flags = {};
    for (let i = 2; i < argv.length; i += 2) flags[argv[i]] = argv[i + 1];
    blocks.push({ command, flags, stdout });
  }
  assert.equal(blocks.length, 6, 'the fixture has 4 greedy and 2 sampled runs');
  return blocks;
}

// From run.c's stdout: prompt echo + generated text + '\n'  ->  generated text.
function generatedText(block) {
  const prompt = block.flags['-i'] ?? '';
  assert.ok(block.stdout.startsWith(prompt) && block.stdout.endsWith('\n'), block.command);
  return block.stdout.slice(prompt.length, -1);
}

const blocks = readFixture();

// Prompt token counts (without BOS), from SentencePiece with models/tok512.model.
const PROMPT_TOKENS = { '': 0, 'Once upon a time': 4, 'The cat': 3, 'Lily and Tom': 4 };

function generateArgs(block) {
  const prompt = block.flags['-i'] ?? '';
  const steps = Number(block.flags['-n'] ?? 256);          // run.c's default -n
  const n = steps - PROMPT_TOKENS[prompt];
  const temperature = block.flags['-t'] ?? '1.0';
  const args = ['generate', '-p', prompt, '-n', String(n), '--temperature', temperature];
  // run.c samples with temperature and top-p only: turn pocketlm's other default filters off
  if (Number(temperature) > 0)
    args.push('--top-p', block.flags['-p'] ?? '0.9', '--seed', block.flags['-s'], '--top-k', '0', '--min-p', '0');
  return args;
}

test('greedy outputs equal run.c for every model file, kernel set and thread count', { concurrency: 2 }, async (t) => {
  const runs = [];
  for (const block of blocks.filter((b) => Number(b.flags['-t']) === 0)) {
    const expected = generatedText(block);
    for (const [format, modelArgs] of Object.entries(MODELS))
      for (const simd of [true, false])
        for (const threads of [1, 2]) {
          const name = `${format} ${simd ? 'simd' : 'scalar'} threads=${threads} prompt=${JSON.stringify(block.flags['-i'] ?? '')}`;
          runs.push(t.test(name, async () => {
            const args = [...generateArgs(block), ...modelArgs, '--threads', String(threads)];
            if (!simd) args.push('--no-simd');
            const r = await cli(args);
            assert.equal(r.status, 0, r.stderr);
            assert.equal(r.stdout, expected);
          }));
        }
  }
  await Promise.all(runs);
});

test('the documented command (-n 200 --temperature 0) continues run.c\'s greedy text token for token', async () => {
  const block = blocks.find((b) => b.flags['-i'] === 'Once upon a time' && Number(b.flags['-t']) === 0);
  const r = await cli(['generate', '-m', 'models/stories260K.gguf', '-p', 'Once upon a time', '-n', '200', '--temperature', '0']);
  assert.equal(r.status, 0, r.stderr);
  // run.c stopped after 196 tokens; pocketlm generates 200, the first 196 the same
  assert.ok(r.stdout.startsWith(generatedText(block)), r.stdout);
  assert.ok(r.stdout.length > generatedText(block).length);
});

test('sampled outputs (temperature 1, top-p 0.9, seeded) equal run.c', { concurrency: 2 }, async (t) => {
  const runs = [];
  for (const block of blocks.filter((b) => Number(b.flags['-t']) > 0)) {
    const expected = generatedText(block);
    for (const [format, modelArgs] of Object.entries(MODELS))
      runs.push(t.test(`${format} seed=${block.flags['-s']}`, async () => {
        const r = await cli([...generateArgs(block), ...modelArgs]);
        assert.equal(r.status, 0, r.stderr);
        assert.equal(r.stdout, expected);
      }));
  }
  await Promise.all(runs);
});

test('the prompt token counts used above match pocketlm tokenize', async () => {
  for (const [prompt, n] of Object.entries(PROMPT_TOKENS)) {
    const r = await cli(['tokenize', ...MODELS.gguf, '-p', prompt]);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout.trim() === '' ? 0 : r.stdout.trim().split(' ').length, n, prompt);
  }
});
