// Tokenizer conformance through the command line: every .inp/.out pair of llama.cpp's
// test-tokenizer-0 vectors (../shared/models/llamacpp-vocab-tests, see its SOURCE.txt)
// must come out of `pocketlm tokenize -m VOCAB.gguf -f FILE` id for id. The .inp file holds
// the inputs, each followed by the line "__ggml_vocab_test__"; line i of the .out file has
// the ids of input i (llama_tokenize with add_special = false, parse_special = false: the
// CLI's defaults). One CLI run per vocabulary tokenizes all its inputs, one -f per input.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cli, ROOT } from './helpers/cli.js';

const VOCABS = '../shared/models/llamacpp-vocab-tests';
const GPT2 = '../shared/models/gpt2-tokenizer';
const TMP = mkdtempSync(join(tmpdir(), 'pocketlm-conformance-'));
after(() => rmSync(TMP, { recursive: true, force: true }));

const SEPARATOR = Buffer.from('\n__ggml_vocab_test__\n');

// The inputs of a .inp file as raw bytes, split as test-tokenizer-0.cpp does.
function readInputs(path) {
  const raw = readFileSync(path);
  const inputs = [];
  for (let pos = 0; pos < raw.length; ) {
    const next = raw.indexOf(SEPARATOR, pos);
    if (next < 0) {
      inputs.push(raw.subarray(pos));
      break;
    }
    inputs.push(raw.subarray(pos, next));
    pos = next + SEPARATOR.length;
  }
  return inputs;
}

const vocabs = readdirSync(join(ROOT, VOCABS)).filter((f) => f.endsWith('.gguf.inp')).map((f) => f.slice(0, -4)).sort();

test('the llama.cpp vectors are there', () => {
  // bert-bge (WordPiece), deepseek-llm, falcon, gpt-2, refact (BPE), llama-spm (SentencePiece)
  assert.ok(vocabs.length >= 6, `found ${vocabs.join(', ')}`);
});

for (const vocab of vocabs)
  test(`tokenize ${vocab}: every input gives llama.cpp's ids`, async () => {
    const inputs = readInputs(join(ROOT, VOCABS, `${vocab}.inp`));
    const expected = readFileSync(join(ROOT, VOCABS, `${vocab}.out`), 'utf8').split('\n');
    if (expected.at(-1) === '') expected.pop();   // the file's final newline
    assert.equal(inputs.length, expected.length, 'as many inputs as output lines');
    const files = inputs.map((bytes, i) => {
      const file = join(TMP, `${vocab}.${i}.txt`);
      writeFileSync(file, bytes);
      return file;
    });
    const r = await cli(['tokenize', '-m', join(VOCABS, vocab), ...files.flatMap((f) => ['-f', f])]);
    assert.equal(r.status, 0, r.stderr);
    const lines = r.stdout.split('\n');
    assert.equal(lines.pop(), '', 'stdout ends with a newline');
    assert.equal(lines.length, inputs.length, 'one line per file');
    for (let i = 0; i < inputs.length; i++)
      assert.equal(lines[i], expected[i].trim(), `input ${i}: ${JSON.stringify(inputs[i].toString())}`);
  });

test('"Hello, world!" with GPT-2\'s vocabulary: 15496 11 995 0 (GGUF, and encoder.json + vocab.bpe)', async () => {
  const runs = await Promise.all([
    cli(['tokenize', '-m', join(VOCABS, 'ggml-vocab-gpt-2.gguf'), '-p', 'Hello, world!']),
    cli(['tokenize', '-m', join(GPT2, 'encoder.json'), '-t', join(GPT2, 'vocab.bpe'), '-p', 'Hello, world!']),
  ]);
  for (const r of runs) {
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, '15496 11 995 0\n');
  }
});

test('info of a vocabulary-only GGUF describes its tokenizer', async () => {
  const r = await cli(['info', '-m', join(VOCABS, 'ggml-vocab-phi-3.gguf')]);
  assert.equal(r.status, 0, r.stderr);
  const info = JSON.parse(r.stdout);
  // the GGUF's metadata (SOURCE.txt): 32064 tokens, SentencePiece, BOS 1, EOS 32000
  assert.deepEqual([info.vocab_only, info.vocab, info.tokenizer, info.bos, info.eos], [true, 32064, 'spm', 1, 32000]);
  assert.match(info.chat_template, /<\|user\|>/);
});
