// Chat templates (js/chat.js) and generate(messages): the prompts must be exactly the ones
// llama.cpp's tests/test-chat-template.cpp expects (tests/fixtures/chat_templates.json, see
// its note), each family must be recognised from real templates' Jinja text, and a reply
// must end at the format's end-of-turn token. The CLI's chat runs piped.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadModel, PocketLMError } from '../js/index.js';
import { detectTemplate, prepareChat, TEMPLATE_NAMES } from '../js/chat.js';
import { cli, ROOT } from './helpers/cli.js';

const FIXTURES = JSON.parse(readFileSync(join(ROOT, 'tests/fixtures/chat_templates.json'), 'utf8'));
const PHI3_VOCAB = join(ROOT, '../shared/models/llamacpp-vocab-tests/ggml-vocab-phi-3.gguf');
const STORIES = readFileSync(join(ROOT, 'models/stories260K.gguf'));
const TMP = mkdtempSync(join(tmpdir(), 'pocketlm-chat-'));

// A stand-in for a model's tokenizer, for formatting alone: every text is several plain
// tokens, except the EOS text, which is one special token (id 2).
const fakeModel = (chatTemplate) => ({
  info: { chat_template: chatTemplate, eos: 2 },
  tokenize: (text, { special = false } = {}) => (special && text === '</s>' ? [2] : [7, 7]),
});

function expectError(fn, code, pattern) {
  assert.throws(fn, (e) => {
    assert.ok(e instanceof PocketLMError, `a PocketLMError, got ${e}`);
    assert.equal(e.code, code, e.message);
    if (pattern) assert.match(e.message, pattern);
    return true;
  });
}

test("each family formats llama.cpp's test conversation exactly as llama.cpp expects", () => {
  const families = new Set();
  for (const c of FIXTURES.cases) {
    const { text } = prepareChat(fakeModel(c.template), FIXTURES.conversation);
    assert.equal(text, c.expected, c.name);
    families.add(c.family.replace(/-sys.*/, ''));
  }
  assert.deepEqual([...families].sort(), ['chatml', 'gemma', 'llama2', 'llama3', 'phi3', 'zephyr']);
});

test('each family is recognised from real Jinja templates; others are refused by name', () => {
  for (const c of FIXTURES.cases) assert.deepEqual(detectTemplate(c.template), { name: c.family, supported: true }, c.name);
  for (const c of FIXTURES.unsupported) {
    assert.deepEqual(detectTemplate(c.template), { name: c.family, supported: false }, c.name);
    expectError(() => prepareChat(fakeModel(c.template), FIXTURES.conversation), 'unsupported_template',
      new RegExp(`looks like ${c.family}`));
  }
  expectError(() => prepareChat(fakeModel('{{ messages }}'), FIXTURES.conversation), 'unsupported_template',
    /not one pocketlm recognises \(it begins '\{\{ messages \}\}'\)/);
});

test('chatTemplate overrides the model; unknown names and a missing template are clear errors', () => {
  const conversation = FIXTURES.conversation;
  const chatml = FIXTURES.cases.find((c) => c.family === 'chatml');
  const gemma = FIXTURES.cases.find((c) => c.family === 'gemma');
  assert.equal(prepareChat(fakeModel(gemma.template), conversation, 'chatml').text, chatml.expected);
  assert.equal(prepareChat(fakeModel(undefined), conversation, 'gemma').text, gemma.expected);
  for (const name of TEMPLATE_NAMES) assert.ok(prepareChat(fakeModel(undefined), conversation, name).text);
  expectError(() => prepareChat(fakeModel(chatml.template), conversation, 'alpaca'), 'unsupported_template', /'alpaca'/);
  expectError(() => prepareChat(fakeModel(undefined), conversation), 'missing_template');
  expectError(() => prepareChat(fakeModel(chatml.template), [{ role: 'robot', content: 'x' }]), 'invalid_argument');
  expectError(() => prepareChat(fakeModel(chatml.template), []), 'invalid_argument');
});

test("phi-3's vocabulary: its GGUF template is phi3, <|end|> is the stop token, the prompt tokenizes with it", async () => {
  const phi = await loadModel(PHI3_VOCAB, { vocabOnly: true });
  try {
    assert.equal(detectTemplate(phi.info.chat_template).name, 'phi3');
    const chat = prepareChat(phi, [{ role: 'user', content: 'Hello' }]);
    assert.equal(chat.text, '<|user|>\nHello<|end|>\n<|assistant|>\n');
    assert.deepEqual(chat.stopIds, [32007]);   // <|end|> in Phi-3's tokenizer.json added_tokens
    assert.deepEqual(chat.stopStrings, []);
    assert.ok(phi.tokenize(chat.text, { special: true }).includes(32007));
    expectError(() => phi.generate([{ role: 'user', content: 'Hello' }]), 'invalid_state');
  } finally {
    await phi.dispose();
  }
});

// stories260K with its "." token renamed to the special token <|end|> and Phi-3's chat
// template added: the model then emits <|end|> wherever the original emits ".".
const PERIOD = 426;   // "." in models/tok512 (SentencePiece)
const phi3Template = FIXTURES.cases.find((c) => c.name === 'Phi-3-mini').template;
const chatGguf = rewriteGguf(STORIES, (kvs) => {
  const tokens = kvs.find((kv) => kv.key === 'tokenizer.ggml.tokens').strings;
  const types = kvs.find((kv) => kv.key === 'tokenizer.ggml.token_type').ints;
  assert.equal(tokens[PERIOD], '.');
  tokens[PERIOD] = '<|end|>';
  types[PERIOD] = 3;   // control
  kvs.push({ key: 'tokenizer.chat_template', string: phi3Template });
});
const chatPath = join(TMP, 'stories260K-chat.gguf');
writeFileSync(chatPath, chatGguf);
const chatModel = await loadModel(chatGguf);
const original = await loadModel(STORIES);
after(async () => {
  await Promise.all([chatModel.dispose(), original.dispose()]);
  rmSync(TMP, { recursive: true, force: true });
});

const GREEDY = { temperature: 0, repeatPenalty: 1 };

async function collect(iterable) {
  const tokens = [];
  for await (const t of iterable) tokens.push(t);
  return tokens;
}

test('generate(messages) ends the reply at the end-of-turn token', async () => {
  const messages = [{ role: 'user', content: 'Tell me a story about a cat' }];
  assert.equal(chatModel.info.chat_template, phi3Template);
  const prompt = chatModel.formatChat(messages);
  assert.equal(prompt, '<|user|>\nTell me a story about a cat<|end|>\n<|assistant|>\n');
  // The same ids from the original model: "." for <|end|>, and the space SentencePiece puts
  // after a special token (llama.cpp's rule) written out.
  const plain = prompt.replaceAll('<|end|>', '. ');
  assert.deepEqual([...chatModel.tokenize(prompt, { bos: true, special: true })], [...original.tokenize(plain, { bos: true })]);
  const reference = (await collect(original.generate(plain, { ...GREEDY, maxTokens: 100 }))).map((t) => t.id);
  const end = reference.indexOf(PERIOD);
  assert.ok(end > 0, 'the original writes a "." within 100 tokens');
  const reply = await collect(chatModel.generate(messages, { ...GREEDY, maxTokens: 100 }));
  assert.deepEqual(reply.map((t) => t.id), reference.slice(0, end));
  // a string prompt is plain text: <|end|> is not a token there, and nothing stops at it
  const text = await collect(chatModel.generate('Once upon a time', { ...GREEDY, maxTokens: 5 }));
  assert.equal(text.length, 5);
  assert.throws(() => chatModel.generate('Once', { chatTemplate: 'chatml' }), (e) => e.code === 'invalid_argument');
});

test('an end-of-turn text the vocabulary lacks is a stop string; zephyr writes the EOS text', () => {
  const chatml = prepareChat(original, [{ role: 'user', content: 'Hi' }], 'chatml');
  assert.deepEqual([chatml.stopIds, chatml.stopStrings], [[], ['<|im_end|>']]);
  const zephyr = prepareChat(original, [{ role: 'user', content: 'Hi' }], 'zephyr');
  assert.equal(zephyr.text, '<|user|>\nHi</s>\n<|assistant|>\n');
  assert.deepEqual([...original.tokenize('</s>', { special: true })], [original.info.eos]);
});

test('pocketlm chat: one reply per stdin line, streamed, the conversation kept', async () => {
  const system = 'You tell stories.';
  const turns = ['Tell me about a dog', 'And a cat?'];
  const args = ['chat', '-m', chatPath, '--system', system, '--temperature', '0', '-n', '40'];
  const r = await cli(args, { stdin: turns.join('\n') + '\n' });
  assert.equal(r.status, 0, r.stderr);
  // the API is the reference: each reply answers the whole conversation so far
  const messages = [{ role: 'system', content: system }];
  let expected = '';
  for (const content of turns) {
    messages.push({ role: 'user', content });
    const reply = (await collect(chatModel.generate(messages, { temperature: 0, maxTokens: 40 }))).map((t) => t.text).join('');
    messages.push({ role: 'assistant', content: reply });
    expected += reply + '\n';
  }
  assert.equal(r.stdout, expected);
  assert.equal(r.stdout.split('\n').length, 3, 'two replies, one line each');
});

test('pocketlm chat: a model without a chat template fails before reading input', async () => {
  const r = await cli(['chat', '-m', 'models/stories260K.gguf'], { stdin: 'Hello\n' });
  assert.equal(r.status, 1);
  assert.match(r.stderr, /^pocketlm: missing_template: [^\n]+\n$/);
});

// GGUF v3 with edited metadata (the GGUF spec: header, key-values, tensor infos, padding
// to 32 bytes, data). edit(kvs) may change kv.strings / kv.ints of string and int32 arrays
// and push { key, string }. Tensor data offsets are relative to the data section, so the
// data is copied as it is.
function rewriteGguf(bytes, edit) {
  const SIZES = { 0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8 };
  const STRING = 8, ARRAY = 9, INT32 = 5;
  let pos = 8;
  const u32 = () => (pos += 4, bytes.readUInt32LE(pos - 4));
  const u64 = () => (pos += 8, Number(bytes.readBigUInt64LE(pos - 8)));
  const str = () => {
    const n = u64();
    return bytes.toString('utf8', pos, (pos += n));
  };
  const skip = (type) => {
    if (type === STRING) {
      const n = u64();
      pos += n;
    } else if (type === ARRAY) {
      const [elem, n] = [u32(), u64()];
      for (let i = 0; i < n; i++) skip(elem);
    } else pos += SIZES[type];
  };
  const [nTensors, nKv] = [u64(), u64()];
  const kvs = [];
  for (let i = 0; i < nKv; i++) {
    const key = str(), start = pos, type = u32();
    if (type === ARRAY && bytes.readUInt32LE(pos) === STRING) {
      const n = (u32(), u64());
      kvs.push({ key, strings: Array.from({ length: n }, str) });
    } else if (type === ARRAY && bytes.readUInt32LE(pos) === INT32) {
      const n = (u32(), u64());
      kvs.push({ key, ints: Array.from({ length: n }, () => (pos += 4, bytes.readInt32LE(pos - 4))) });
    } else {
      skip(type);
      kvs.push({ key, raw: bytes.subarray(start, pos) });
    }
  }
  const infoStart = pos;
  for (let i = 0; i < nTensors; i++) {
    str();
    const nDims = u32();
    pos += 8 * nDims + 4 + 8;   // dims, type, offset
  }
  const infos = bytes.subarray(infoStart, pos);
  const dataStart = Math.ceil(pos / 32) * 32;
  edit(kvs);

  const u32b = (v) => Buffer.from(Uint32Array.of(v).buffer);
  const u64b = (v) => Buffer.from(BigUint64Array.of(BigInt(v)).buffer);
  const strb = (s) => Buffer.concat([u64b(Buffer.byteLength(s)), Buffer.from(s)]);
  const parts = [bytes.subarray(0, 8), u64b(nTensors), u64b(kvs.length)];
  for (const kv of kvs) {
    parts.push(strb(kv.key));
    if (kv.strings) parts.push(u32b(ARRAY), u32b(STRING), u64b(kv.strings.length), ...kv.strings.map(strb));
    else if (kv.ints) parts.push(u32b(ARRAY), u32b(INT32), u64b(kv.ints.length), Buffer.from(Int32Array.from(kv.ints).buffer));
    else if (kv.string !== undefined) parts.push(u32b(STRING), strb(kv.string));
    else parts.push(kv.raw);
  }
  parts.push(infos);
  const head = Buffer.concat(parts);
  return Buffer.concat([head, Buffer.alloc(Math.ceil(head.length / 32) * 32 - head.length), bytes.subarray(dataStart)]);
}
