// The CLI contract (/work/shared/DESIGN.md): stdout carries only the result, errors are
// exit status 1 with exactly one stderr line "pocketlm: <code>: <message>".
// Expected values come from independent references: SentencePiece (models/tok512.model)
// for token ids, the stories260K architecture for info, run.c for generated text.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cli, ROOT } from './helpers/cli.js';

const GGUF = 'models/stories260K.gguf';
const BIN = 'models/stories260K.bin';
const TOK = 'models/tok512.bin';
const TMP = mkdtempSync(join(tmpdir(), 'pocketlm-cli-'));
after(() => rmSync(TMP, { recursive: true, force: true }));

// run.c: ./run stories260K.bin -z tok512.bin -t 0 -n 200 -i "Once upon a time", without
// the echoed prompt and the final '\n' (tests/fixtures/reference_greedy_outputs.txt).
const ONCE_GREEDY = readFileSync(new URL('fixtures/reference_greedy_outputs.txt', import.meta.url), 'utf8')
  .split('-i "Once upon a time"')[1].split('----- BEGIN STDOUT -----\n')[1]
  .split('\n----- END STDOUT -----')[0].slice('Once upon a time'.length);

// SentencePiece ids (no BOS) of a few texts.
const SPM = {
  'Once upon a time': [403, 407, 261, 378],
  'Hello wörld!': [346, 306, 414, 263, 198, 185, 420, 341, 443],
  'Tim said, "I want to play with it!"': [326, 336, 432, 313, 442, 391, 267, 337, 335, 312, 443, 436],
  '<s>': [410, 504, 419, 505],
};

async function expectError(args, code) {
  const r = await cli(args);
  assert.equal(r.status, 1, `exit status for ${args.join(' ')}: ${r.stderr}`);
  assert.equal(r.stdout, '', 'nothing on stdout');
  assert.match(r.stderr, new RegExp(`^pocketlm: ${code}: [^\\n]+\\n$`), `one error line: ${JSON.stringify(r.stderr)}`);
}

test('generate prints exactly the generated text on stdout', async () => {
  const r = await cli(['generate', '-m', GGUF, '-p', 'Once upon a time', '-n', '196',
    '--temperature', '0', '--repeat-penalty', '1']);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout, ONCE_GREEDY);
  assert.match(r.stderr, /tokens/, 'speed goes to stderr');
});

test('generate -n limits the number of tokens and a seed makes sampling reproducible', async () => {
  const args = ['generate', '-m', GGUF, '-p', 'Once upon a time', '-n', '30', '--seed', '7'];
  const [a, b, c] = await Promise.all([cli(args), cli(args), cli([...args.slice(0, -1), '8'])]);
  assert.equal(a.status, 0, a.stderr);
  assert.ok(a.stdout.length > 0);
  assert.equal(a.stdout, b.stdout);
  assert.notEqual(a.stdout, c.stdout);
  const short = await cli(['generate', '-m', GGUF, '-p', 'Once upon a time', '-n', '5', '--temperature', '0',
    '--repeat-penalty', '1']);
  assert.ok(ONCE_GREEDY.startsWith(short.stdout) && short.stdout.length < 40, JSON.stringify(short.stdout));
});

test('generate --stop ends before the stop string', async () => {
  const r = await cli(['generate', '-m', GGUF, '-p', 'Once upon a time', '-n', '196', '--temperature', '0',
    '--repeat-penalty', '1', '--stop', 'Lily']);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout, ONCE_GREEDY.slice(0, ONCE_GREEDY.indexOf('Lily')));
});

test('tokenize prints ids separated by single spaces on one line', async () => {
  for (const [text, ids] of Object.entries(SPM)) {
    const r = await cli(['tokenize', '-m', GGUF, '-p', text]);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, ids.join(' ') + '\n', text);
  }
  const bos = await cli(['tokenize', '-m', BIN, '-t', TOK, '-p', 'Once upon a time', '--bos']);
  assert.equal(bos.stdout, '1 403 407 261 378\n');
  const empty = await cli(['tokenize', '-m', GGUF, '-p', '']);
  assert.equal(empty.stdout, '\n');
});

test('tokenize -f reads the text from a file; --special parses special tokens', async () => {
  const file = join(TMP, 'text.txt');
  writeFileSync(file, 'Hello wörld!');
  const r = await cli(['tokenize', '-m', GGUF, '-f', file]);
  assert.equal(r.stdout, SPM['Hello wörld!'].join(' ') + '\n');
  const special = await cli(['tokenize', '-m', GGUF, '-p', '<s>', '--special']);
  assert.equal(special.stdout, '1\n');
});

test('info prints the model as JSON', async () => {
  // stories260K: dim 64, 5 layers, 8 heads, 4 kv heads, hidden 172, vocab 512; the GGUF
  // has a separate output matrix (292,800 parameters), the .bin shares it (260,032).
  const common = { arch: 'llama', dim: 64, n_layers: 5, n_heads: 8, n_kv_heads: 4, hidden_dim: 172,
    vocab: 512, bos: 1, eos: 2, add_bos: true };
  const cases = [
    [[GGUF], { ...common, format: 'gguf', params: 292800, n_tensors: 48, bytes: 1185376, context_train: 2048 }],
    [[BIN, '-t', TOK], { ...common, format: 'llama2c', params: 260032, bytes: 1056540, context_train: 512 }],
  ];
  for (const [model, expected] of cases) {
    const r = await cli(['info', '-m', ...model]);
    assert.equal(r.status, 0, r.stderr);
    const info = JSON.parse(r.stdout);
    for (const [key, value] of Object.entries(expected)) assert.equal(info[key], value, `${model[0]} ${key}`);
    assert.ok(info.quant === 'F32' || JSON.stringify(info.types).includes('F32'), 'F32 weights');
  }
});

test('--help prints the usage on stdout', async () => {
  const r = await cli(['--help']);
  assert.equal(r.status, 0);
  assert.match(r.stdout, /pocketlm generate -m MODEL/);
});

test('errors: exit status 1 and one line "pocketlm: <code>: <message>"', async (t) => {
  const gguf = readFileSync(join(ROOT, GGUF));
  const truncated = join(TMP, 'truncated.gguf');
  writeFileSync(truncated, gguf.subarray(0, gguf.length - 1000));
  const header = join(TMP, 'header.gguf');
  writeFileSync(header, gguf.subarray(0, 100));
  let x = 12345;   // fixed pseudo-random bytes
  const random = join(TMP, 'random.bin');
  writeFileSync(random, Uint8Array.from({ length: 65536 }, () => (x = (x * 1103515245 + 12345) >>> 0) >>> 24));

  const cases = [
    ['missing file', ['generate', '-m', join(TMP, 'nope.gguf'), '-p', 'x'], 'file_not_found'],
    ['missing tokenizer file', ['tokenize', '-m', BIN, '-t', join(TMP, 'nope.bin'), '-p', 'x'], 'file_not_found'],
    ['truncated tensor data', ['info', '-m', truncated], 'truncated_file'],
    ['truncated header', ['info', '-m', header], 'truncated_file'],
    ['random bytes', ['info', '-m', random], 'bad_format'],
    ['.bin without -t', ['generate', '-m', BIN, '-p', 'x'], 'missing_tokenizer'],
    ['prompt longer than the context', ['generate', '-m', GGUF, '-c', '8', '-p', 'Once upon a time there was a little girl'],
      'context_overflow'],
    ['unknown command', ['frobnicate', '-m', GGUF], 'invalid_argument'],
    ['no command', [], 'invalid_argument'],
    ['unknown option', ['generate', '-m', GGUF, '--frob'], 'invalid_argument'],
    ['option without its value', ['generate', '-m', GGUF, '-n'], 'invalid_argument'],
    ['bad number', ['generate', '-m', GGUF, '-n', 'many'], 'invalid_argument'],
    ['no model', ['generate', '-p', 'x'], 'invalid_argument'],
    ['bad sampler setting', ['generate', '-m', GGUF, '--top-p', '2'], 'invalid_argument'],
    ['tokenize without text', ['tokenize', '-m', GGUF], 'invalid_argument'],
  ];
  await Promise.all(cases.map(([name, args, code]) => t.test(name, () => expectError(args, code))));
});
