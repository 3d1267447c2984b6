// The Node API contract (/work/shared/DESIGN.md): loadModel sources and options,
// generate (stop strings, abort, limits), tokenize/detokenize, info, dispose, errors.
// References: run.c's outputs (tests/fixtures), SentencePiece ids (models/tok512.model).
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { loadModel, PocketLMError } from '../js/index.js';

const path = (p) => fileURLToPath(new URL(`../${p}`, import.meta.url));
const GGUF = path('models/stories260K.gguf');
const BIN = path('models/stories260K.bin');
const TOK = path('models/tok512.bin');

// run.c, greedy, "Once upon a time" (-n 200): the 196 tokens after the prompt.
const ONCE_GREEDY = readFileSync(path('tests/fixtures/reference_greedy_outputs.txt'), 'utf8')
  .split('-i "Once upon a time"')[1].split('----- BEGIN STDOUT -----\n')[1]
  .split('\n----- END STDOUT -----')[0].slice('Once upon a time'.length);
const GREEDY = { temperature: 0, repeatPenalty: 1 };   // run.c has no repetition penalty

const gguf = await loadModel(GGUF);
const bin = await loadModel(BIN, { tokenizer: TOK });
after(() => Promise.all([gguf.dispose(), bin.dispose()]));

async function collect(iterable) {
  const tokens = [];
  for await (const t of iterable) tokens.push(t);
  return { tokens, text: tokens.map((t) => t.text).join('') };
}

async function rejectsWith(promiseOrFn, code) {
  await assert.rejects(promiseOrFn, (e) => {
    assert.ok(e instanceof PocketLMError, `a PocketLMError, got ${e}`);
    assert.equal(e.code, code, e.message);
    return true;
  });
}

test('generate: greedy text equals run.c, one { id, text } per token', async () => {
  const { tokens, text } = await collect(gguf.generate('Once upon a time', { ...GREEDY, maxTokens: 196 }));
  assert.equal(text, ONCE_GREEDY);
  assert.equal(tokens.length, 196);
  for (const t of tokens) assert.ok(Number.isInteger(t.id) && t.id >= 0 && typeof t.text == 'string');
  assert.equal(gguf.detokenize(tokens.map((t) => t.id)), text.replace(/^ /, ''));
});

test('model sources: Uint8Array, ArrayBuffer and Blob load like a path; onProgress reaches the total', async () => {
  const bytes = readFileSync(GGUF);
  const progress = [];
  const fromBytes = await loadModel(new Uint8Array(bytes), { onProgress: (p) => progress.push(p) });
  const ab = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length);
  const fromBuffer = await loadModel(ab);
  const fromBlob = await loadModel(new Blob([bytes]));
  try {
    assert.deepEqual(progress.at(-1), { loaded: bytes.length, total: bytes.length });
    for (const m of [fromBytes, fromBuffer, fromBlob]) {
      const { text } = await collect(m.generate('Once upon a time', { ...GREEDY, maxTokens: 20 }));
      assert.ok(ONCE_GREEDY.startsWith(text) && text.length > 20, text);
    }
    const fileProgress = [];
    const fromPath = await loadModel(GGUF, { onProgress: (p) => fileProgress.push(p) });
    await fromPath.dispose();
    assert.deepEqual(fileProgress.at(-1), { loaded: bytes.length, total: bytes.length });
  } finally {
    await Promise.all([fromBytes.dispose(), fromBuffer.dispose(), fromBlob.dispose()]);
  }
});

test('tokenize matches SentencePiece; bos option; detokenize inverts it', () => {
  const cases = {
    'Once upon a time': [403, 407, 261, 378],
    'Hello wörld!': [346, 306, 414, 263, 198, 185, 420, 341, 443],
    'Tim and Sue went to the park.': [326, 269, 301, 425, 411, 263, 377, 267, 265, 282, 295, 433, 426],
  };
  for (const m of [gguf, bin])
    for (const [text, ids] of Object.entries(cases)) {
      const got = m.tokenize(text);
      assert.ok(got instanceof Int32Array);
      assert.deepEqual([...got], ids, text);
      assert.deepEqual([...m.tokenize(text, { bos: true })], [1, ...ids]);
      assert.equal(m.detokenize(got), text);
    }
  assert.deepEqual([...gguf.tokenize('<s>', { special: true })], [1]);
  assert.deepEqual([...gguf.tokenize('<s>')], [410, 504, 419, 505]);
});

test('.bin and .gguf: same tokens and same greedy text for several prompts', async () => {
  for (const prompt of ['', 'The dog ran', 'Tim and Sue went to the park.', 'A big red ball', 'She was happy']) {
    assert.deepEqual([...bin.tokenize(prompt, { bos: true })], [...gguf.tokenize(prompt, { bos: true })]);
    const a = await collect(gguf.generate(prompt, { ...GREEDY, maxTokens: 100 }));
    const b = await collect(bin.generate(prompt, { ...GREEDY, maxTokens: 100 }));
    assert.deepEqual(b.tokens, a.tokens, prompt);
  }
});

test('info: the known shape of stories260K', () => {
  const expected = { arch: 'llama', dim: 64, n_layers: 5, n_heads: 8, n_kv_heads: 4, hidden_dim: 172, vocab: 512,
    bos: 1, eos: 2, add_bos: true };
  for (const [m, format, params, contextTrain] of [[gguf, 'gguf', 292800, 2048], [bin, 'llama2c', 260032, 512]]) {
    for (const [k, v] of Object.entries(expected)) assert.equal(m.info[k], v, `${format} ${k}`);
    assert.equal(m.info.format, format);
    assert.equal(m.info.params, params);
    assert.equal(m.info.context_train, contextTrain);
  }
});

test('stop strings end the text before them and are never emitted', async () => {
  const run = (stop) => collect(gguf.generate('Once upon a time', { ...GREEDY, maxTokens: 196, stop }));
  assert.equal((await run('Lily')).text, ONCE_GREEDY.slice(0, ONCE_GREEDY.indexOf('Lily')));
  // spans several tokens and starts at the very beginning
  assert.equal((await run(', there w')).text, '');
  // the earliest of several
  assert.equal((await run(['park', 'girl'])).text, ONCE_GREEDY.slice(0, ONCE_GREEDY.indexOf('girl')));
  // a prefix that never completes is held back, then released
  const { tokens, text } = await run('named Bob');
  assert.equal(text, ONCE_GREEDY);
  assert.ok(tokens.some((t) => t.text === ''), 'held-back tokens come with empty text');
});

test('abort: generation throws "aborted" and the model still works', async () => {
  const controller = new AbortController();
  let n = 0;
  await rejectsWith(async () => {
    for await (const t of gguf.generate('Once upon a time', { signal: controller.signal })) {
      if (++n === 5) controller.abort();
      assert.ok(t);
    }
  }, 'aborted');
  assert.equal(n, 5);
  // from a timer while the loop runs without pause on the consumer side
  const timed = new AbortController();
  setTimeout(() => timed.abort(), 20);
  let m = 0;
  await rejectsWith(async () => {
    for await (const t of gguf.generate('Once upon a time', { signal: timed.signal, maxTokens: 100000 })) m += t.id >= 0;
  }, 'aborted');
  assert.ok(m < gguf.info.context, `aborted after ${m} tokens`);
  const { text } = await collect(gguf.generate('Once upon a time', { ...GREEDY, maxTokens: 196 }));
  assert.equal(text, ONCE_GREEDY);
  // an aborted signal also stops loading
  await rejectsWith(loadModel(GGUF, { signal: AbortSignal.abort() }), 'aborted');
});

test('limits: maxTokens, a full context, context_overflow for a long prompt', async () => {
  const small = await loadModel(GGUF, { context: 16 });
  try {
    assert.equal(small.info.context, 16);
    const { tokens } = await collect(small.generate('Once upon a time', { ...GREEDY }));
    assert.equal(tokens.length, 16 - 5 + 1, 'stops when the context is full (BOS + 4 prompt tokens)');
    assert.equal(tokens.map((t) => t.text).join(''), ONCE_GREEDY.slice(0, tokens.map((t) => t.text).join('').length));
    await rejectsWith(collect(small.generate('Once upon a time there was a little girl named Lily who', GREEDY)),
      'context_overflow');
    assert.equal((await collect(small.generate('Once', { ...GREEDY, maxTokens: 3 }))).tokens.length, 3);
    assert.equal((await collect(small.generate('Once', { maxTokens: 0 }))).tokens.length, 0);
  } finally {
    await small.dispose();
  }
});

test('one generation at a time ("busy"); a disposed model throws "disposed"', async () => {
  const m = await loadModel(GGUF);
  const first = m.generate('Once upon a time', { maxTokens: 50 });
  await first.next();
  await rejectsWith(m.generate('The cat', { maxTokens: 5 }).next(), 'busy');
  await first.return();
  assert.equal((await collect(m.generate('The cat', { maxTokens: 5 }))).tokens.length, 5);
  await m.dispose();
  assert.throws(() => m.tokenize('x'), (e) => e.code === 'disposed');
  await rejectsWith(m.generate('x').next(), 'disposed');
});

test('load errors are PocketLMErrors with stable codes', async () => {
  await rejectsWith(loadModel(path('models/missing.gguf')), 'file_not_found');
  await rejectsWith(loadModel(BIN), 'missing_tokenizer');
  await rejectsWith(loadModel(readFileSync(GGUF).subarray(0, 5000)), 'truncated_file');
  await rejectsWith(loadModel(new Uint8Array(1000).fill(7)), 'bad_format');
  await rejectsWith(loadModel(GGUF, { threads: 0 }), 'invalid_argument');
});

test('scalar kernels (simd: false) give the same greedy text', async () => {
  const scalar = await loadModel(GGUF, { simd: false });
  try {
    const { text } = await collect(scalar.generate('Once upon a time', { ...GREEDY, maxTokens: 196 }));
    assert.equal(text, ONCE_GREEDY);
  } finally {
    await scalar.dispose();
  }
});

test('threads: 2 generates the same text and the process exits after dispose', async () => {
  const script = `
    import { loadModel } from ${JSON.stringify(new URL('../js/index.js', import.meta.url).href)};
    const m = await loadModel(${JSON.stringify(GGUF)}, { threads: 2 });
    let text = '';
    for await (const t of m.generate('Once upon a time', { temperature: 0, repeatPenalty: 1, maxTokens: 196 })) text += t.text;
    await m.dispose();
    process.stdout.write(JSON.stringify({ threads: m.info.threads, text }));`;
  const r = await new Promise((resolve) => {
    execFile(process.execPath, ['--input-type=module', '-e', script], { timeout: 30000 },
      (error, stdout, stderr) => resolve({ error, stdout, stderr }));
  });
  assert.equal(r.error, null, `the process must exit by itself: ${r.error?.signal ?? ''} ${r.stderr}`);
  const { threads, text } = JSON.parse(r.stdout);
  assert.equal(threads, 2);
  assert.equal(text, ONCE_GREEDY);
});

// An entry of a PyTorch fixture in llm-viz's partials format: { shape, dtype, data: base64 float32 LE }.
function fixtureTensor(file, name) {
  const entry = JSON.parse(readFileSync(path(file), 'utf8'))[name];
  const bytes = Buffer.from(entry.data, 'base64');
  return { shape: entry.shape, data: new Float32Array(bytes.buffer, bytes.byteOffset, bytes.length / 4) };
}

test('inspect: attention weights and residual streams equal an independent PyTorch forward pass', async () => {
  // tests/fixtures/gen_llama_inspect.py: stories260K on BOS + "Once upon a time" + run.c's
  // continuation (24 tokens); attention is causal, so a 5-token prompt's is the top-left 5 x 5
  const FIXTURE = 'tests/fixtures/stories260K-inspect.json';
  const att = fixtureTensor(FIXTURE, 'attention'), hid = fixtureTensor(FIXTURE, 'hidden');
  const [L, H, N] = att.shape, D = hid.shape[2];
  const r = gguf.inspect('Once upon a time');
  assert.deepEqual([...r.ids], [1, 403, 407, 261, 378]);
  assert.deepEqual([r.layers, r.heads, r.tokens, r.dim], [L, H, 5, D]);
  const T = r.tokens;
  assert.equal(r.attention.length, L * H * T * T);
  assert.equal(r.hidden.length, T * (L + 1) * D);
  let worstAtt = 0, worstHid = 0;
  for (let lh = 0; lh < L * H; lh++)
    for (let i = 0; i < T; i++)
      for (let j = 0; j < T; j++) {
        const got = r.attention[(lh * T + i) * T + j], want = att.data[(lh * N + i) * N + j];
        if (j > i) assert.equal(got, 0, 'nothing above the diagonal');
        worstAtt = Math.max(worstAtt, Math.abs(got - want) / (2e-6 + 1e-4 * Math.abs(want)));
      }
  for (let k = 0; k < r.hidden.length; k++)
    worstHid = Math.max(worstHid, Math.abs(r.hidden[k] - hid.data[k]) / (1e-5 + 1e-4 * Math.abs(hid.data[k])));
  assert.ok(worstAtt <= 1 && worstHid <= 1, `worst errors ${worstAtt}, ${worstHid} of the tolerance`);

  // the logits are pl_eval's: greedy continues with run.c's next token (the fixture's 6th)
  const idx = fixtureTensor(FIXTURE, 'idx').data;
  assert.equal(r.logits.indexOf(Math.max(...r.logits)), idx[5]);
  // probs: the softmax of those logits (in double here), sharper at a lower temperature
  const softmax = (logits, t) => {
    const max = Math.max(...logits), e = Array.from(logits, (x) => Math.exp((x - max) / t));
    const sum = e.reduce((a, b) => a + b, 0);
    return e.map((x) => x / sum);
  };
  for (const [t, probs] of [[1, r.probs], [0.5, gguf.inspect('Once upon a time', { temperature: 0.5 }).probs]]) {
    const want = softmax(r.logits, t);
    assert.ok(want.every((p, i) => Math.abs(probs[i] - p) <= 1e-7 + 1e-5 * p), `temperature ${t}`);
  }
  // 2 threads: the same bits; generation afterwards is unaffected
  const two = await loadModel(GGUF, { threads: 2 });
  try {
    const r2 = two.inspect('Once upon a time');
    assert.deepEqual(r2.attention, r.attention);
    assert.deepEqual(r2.hidden, r.hidden);
  } finally {
    await two.dispose();
  }
  const { text } = await collect(gguf.generate('Once upon a time', { ...GREEDY, maxTokens: 196 }));
  assert.equal(text, ONCE_GREEDY);
});

test('inspect: limits and errors', async () => {
  await rejectsWith(async () => gguf.inspect(42), 'invalid_argument');
  await rejectsWith(async () => gguf.inspect('Once upon a time', { maxTokens: 4 }), 'invalid_argument');
  await rejectsWith(async () => gguf.inspect('', { bos: false }), 'invalid_argument');
  await rejectsWith(async () => gguf.inspect('x', { temperature: 0 }), 'invalid_argument');
  await rejectsWith(async () => gguf.inspect('x', { maxTokens: NaN }), 'invalid_argument');
  assert.equal(gguf.inspect('Once upon a time', { bos: false }).tokens, 4);
  const run = gguf.generate('Once upon a time', { maxTokens: 50 });
  await run.next();
  await rejectsWith(async () => gguf.inspect('x'), 'busy');
  await run.return();
  const vocab = await loadModel(GGUF, { vocabOnly: true });
  try {
    await rejectsWith(async () => vocab.inspect('x'), 'invalid_state');
  } finally {
    await vocab.dispose();
  }
});

test('generate with candidates: what each token was drawn from, after the sampler\'s filters', async () => {
  // greedy: the chosen token alone, with probability 1
  const { tokens: greedy } = await collect(gguf.generate('Once upon a time', { ...GREEDY, maxTokens: 5, candidates: 3 }));
  for (const t of greedy) assert.deepEqual([t.candidates, t.candidateCount], [[{ id: t.id, p: 1 }], 1]);
  // top-k 5 at temperature 1: the 5 most probable of inspect()'s distribution (the same
  // logits), renormalised, best first; the sampled token is one of them
  const r = gguf.inspect('Once upon a time');
  const best = [...r.probs.keys()].sort((a, b) => r.probs[b] - r.probs[a]).slice(0, 5);
  const mass = best.reduce((a, id) => a + r.probs[id], 0);
  for (const seed of [1, 2, 3]) {
    const [first] = (await collect(gguf.generate('Once upon a time', {
      temperature: 1, topK: 5, topP: 1, minP: 0, seed, maxTokens: 1, candidates: 10 }))).tokens;
    assert.equal(first.candidateCount, 5);
    assert.deepEqual(first.candidates.map((c) => c.id), best);
    first.candidates.forEach((c, i) => assert.ok(Math.abs(c.p - r.probs[best[i]] / mass) < 1e-5, `${c.p}`));
    assert.ok(best.includes(first.id));
  }
  // more places than tokens: every token, the list capped at the vocabulary
  const [all] = (await collect(gguf.generate('Once upon a time', { temperature: 1, topK: 0, topP: 1, minP: 0, seed: 4,
    maxTokens: 1, candidates: 1e6 }))).tokens;
  assert.equal(all.candidateCount, 512);
  assert.equal(all.candidates.length, 512);
  const { tokens } = await collect(gguf.generate('Once upon a time', { maxTokens: 3 }));
  assert.ok(tokens.every((t) => !('candidates' in t)), 'only when asked for');
  await rejectsWith(async () => gguf.generate('x', { candidates: -1 }), 'invalid_argument');
});
