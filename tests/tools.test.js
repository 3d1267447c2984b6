// pocketlm quantize and pocketlm synth (csrc/tools.c through js/tools.js). The quantized
// files are checked with an independent reader written here from the GGUF spec and
// ggml's block layouts (Q8_0: f16 d + 32 x int8; Q4_0: f16 d + 16 bytes of nibbles, value
// d * (q - 8), low nibbles first), against the F32 input.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadModel } from '../js/index.js';
import { cli, ROOT } from './helpers/cli.js';

const GGUF = join(ROOT, 'models/stories260K.gguf');
const TMP = mkdtempSync(join(tmpdir(), 'pocketlm-tools-'));
after(() => rmSync(TMP, { recursive: true, force: true }));

async function ok(args) {
  const r = await cli(args);
  assert.equal(r.status, 0, `${args.join(' ')}: ${r.stderr}`);
  return r;
}

// ---- an independent GGUF reader ----------------------------------------------------------

const SCALAR_SIZE = { 0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8 };
const TYPES = { 0: 'F32', 1: 'F16', 2: 'Q4_0', 8: 'Q8_0' };

function parseGguf(buf) {
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  let pos = 0;
  const u32 = () => { pos += 4; return view.getUint32(pos - 4, true); };
  const u64 = () => { pos += 8; return Number(view.getBigUint64(pos - 8, true)); };
  const str = () => { const n = u64(); pos += n; return buf.subarray(pos - n, pos).toString('utf8'); };
  const skip = (type) => {
    if (type === 8) str();
    else if (type === 9) { const elem = u32(), n = u64(); for (let i = 0; i < n; i++) skip(elem); }
    else pos += SCALAR_SIZE[type];
  };
  assert.equal(buf.subarray(0, 4).toString(), 'GGUF');
  pos = 4;
  const version = u32(), nTensors = u64(), nKv = u64();
  const kv = {};
  for (let i = 0; i < nKv; i++) {
    const key = str(), type = u32();
    if (type === 4) kv[key] = view.getUint32(pos, true);
    if (type === 8) { kv[key] = str(); continue; }
    skip(type);
  }
  const tensors = [];
  for (let i = 0; i < nTensors; i++) {
    const name = str(), nDims = u32();
    const ne = Array.from({ length: nDims }, u64);
    tensors.push({ name, ne, type: TYPES[u32()] ?? 'other', offset: u64() });
  }
  const dataStart = Math.ceil(pos / 32) * 32;
  for (const t of tensors) t.data = buf.subarray(dataStart + t.offset);
  return { version, kv, tensors };
}

function half(h) {
  const exp = (h >> 10) & 31, mant = h & 1023, sign = h & 0x8000 ? -1 : 1;
  if (exp === 0) return sign * mant * 2 ** -24;
  if (exp === 31) return mant ? NaN : sign * Infinity;
  return sign * (1 + mant / 1024) * 2 ** (exp - 15);
}

function dequantize(t) {
  const n = t.ne.reduce((a, b) => a * b, 1);
  const out = new Float64Array(n);
  const d = t.data;
  const u16 = (i) => d[i] | (d[i + 1] << 8);
  if (t.type === 'F32') for (let i = 0; i < n; i++) out[i] = d.readFloatLE(4 * i);
  else if (t.type === 'F16') for (let i = 0; i < n; i++) out[i] = half(u16(2 * i));
  else if (t.type === 'Q8_0')
    for (let b = 0; b < n / 32; b++)
      for (let j = 0; j < 32; j++) out[32 * b + j] = half(u16(34 * b)) * ((d[34 * b + 2 + j] << 24) >> 24);
  else if (t.type === 'Q4_0')
    for (let b = 0; b < n / 32; b++)
      for (let j = 0; j < 16; j++) {
        const scale = half(u16(18 * b)), q = d[18 * b + 2 + j];
        out[32 * b + j] = scale * ((q & 15) - 8);
        out[32 * b + 16 + j] = scale * ((q >> 4) - 8);
      }
  else throw new Error(`${t.name}: type ${t.type}`);
  return out;
}

function relRmsError(x, y) {
  let err = 0, ref = 0;
  for (let i = 0; i < x.length; i++) {
    err += (x[i] - y[i]) ** 2;
    ref += x[i] ** 2;
  }
  return Math.sqrt(err / ref);
}

// ---- synth -------------------------------------------------------------------------------

test('synth --shape tiny writes a model that info, tokenize and generate accept', async () => {
  const file = join(TMP, 'tiny-f16.gguf');
  const r = await ok(['synth', '-o', file, '--shape', 'tiny', '--type', 'F16', '--seed', '5']);
  assert.equal(r.stdout, '');
  const info = JSON.parse((await ok(['info', '-m', file])).stdout);
  // tiny: dim 256, 2 layers, 4 heads / 2 KV heads, FFN 768, vocab 512; 5 norms stay F32
  const want = { arch: 'llama', dim: 256, n_layers: 2, n_heads: 4, n_kv_heads: 2, hidden_dim: 768,
    vocab: 512, tokenizer: 'spm', bos: 1, eos: 2, quant: 'F16', n_tensors: 21 };
  for (const [key, value] of Object.entries(want)) assert.equal(info[key], value, key);
  assert.deepEqual(info.types, { F32: 5, F16: 16 });
  assert.equal(info.params, 2 * 256 * 512 + 256 + 2 * (2 * 256 + 2 * 256 * 256 + 2 * 256 * 128 + 3 * 256 * 768));

  const greedy = await ok(['generate', '-m', file, '-p', 'Hello world', '-n', '30', '--temperature', '0']);
  assert.ok(greedy.stdout.length >= 30, JSON.stringify(greedy.stdout));

  // the tokenizer: any text round-trips (bytes the pieces lack fall back to byte tokens)
  const model = await loadModel(file);
  try {
    const text = 'Hello wörld!\n\tzz 123';
    const ids = model.tokenize(text);
    assert.equal(model.detokenize(ids), text);
    const bytes = [...ids].filter((id) => id >= 3 && id < 259).map((id) => id - 3);
    assert.deepEqual(bytes, [0xc3, 0xb6, 0x0a, 0x09], 'ö, newline and tab as byte tokens');
    // special and byte tokens have zero output weights and sit ~30 logits below the rest:
    // even hot sampling without filters never picks one (no lone invalid UTF-8 byte)
    const sampled = [];
    for await (const t of model.generate('Hello', { maxTokens: 300, temperature: 1.5, topK: 0, topP: 1,
      minP: 0, seed: 9 })) if (t.id >= 0) sampled.push(t.id);
    assert.equal(sampled.length, 300);
    assert.ok(sampled.every((id) => id >= 259), `fixed token sampled: ${sampled.filter((id) => id < 259)}`);
    assert.ok(new Set(sampled).size > 100, 'random weights give varied tokens');
  } finally {
    await model.dispose();
  }
});

test('synth is reproducible from the seed and honours --type', async () => {
  const files = ['a', 'b', 'c'].map((n) => join(TMP, `seed-${n}.gguf`));
  await ok(['synth', '-o', files[0], '--shape', 'tiny', '--type', 'Q8_0', '--seed', '1']);
  await ok(['synth', '-o', files[1], '--shape', 'tiny', '--type', 'Q8_0', '--seed', '1']);
  await ok(['synth', '-o', files[2], '--shape', 'tiny', '--type', 'Q8_0', '--seed', '2']);
  const [a, b, c] = files.map((f) => readFileSync(f));
  assert.ok(a.equals(b));
  assert.equal(a.length, c.length);
  assert.ok(!a.equals(c));
  const g = parseGguf(a);
  assert.equal(g.kv['general.file_type'], 7);   // LLAMA_FTYPE_MOSTLY_Q8_0
  for (const t of g.tensors) assert.equal(t.type, t.ne.length === 1 ? 'F32' : 'Q8_0', t.name);
  const out = dequantize(g.tensors.find((t) => t.name === 'output.weight'));
  assert.ok(out.subarray(0, 259 * 256).every((v) => v === 0), 'special and byte rows are zero');
});

// ---- quantize ------------------------------------------------------------------------------

test('quantize F32 -> F16: same greedy text as the F32 model', async () => {
  const file = join(TMP, 'stories-f16.gguf');
  await ok(['quantize', GGUF, file, '--type', 'F16']);
  const g = parseGguf(readFileSync(file));
  const src = parseGguf(readFileSync(GGUF));
  assert.equal(g.kv['general.architecture'], 'llama');
  assert.equal(g.kv['general.file_type'], 1);
  for (const t of g.tensors) assert.equal(t.type, t.ne.length === 1 ? 'F32' : 'F16', t.name);
  for (const [i, t] of g.tensors.entries()) {
    const e = relRmsError(dequantize(src.tensors[i]), dequantize(t));
    assert.ok(e < 5e-4, `${t.name}: ${e}`);
  }
  // Not a general guarantee (F16 rounds weights by up to 2^-11), but on this model every
  // greedy step's top-two logit margin is larger than the change: the texts agree.
  const args = ['generate', '-p', 'Once upon a time', '-n', '200', '--temperature', '0'];
  const [ref, f16] = await Promise.all([ok([...args, '-m', GGUF]), ok([...args, '-m', file])]);
  assert.ok(ref.stdout.length > 300);
  assert.equal(f16.stdout, ref.stdout);
});

test('quantize F32 -> Q8_0 and Q4_0: ggml blocks close to the input', async () => {
  const src = parseGguf(readFileSync(GGUF));
  // relative RMS error bounds of the block formats on these weights; rows of 172
  // (ffn_down) are not a whole number of 32-blocks and fall back to F16, as in llama.cpp
  for (const [type, bound, fileType] of [['Q8_0', 0.01, 7], ['Q4_0', 0.12, 2]]) {
    const file = join(TMP, `stories-${type}.gguf`);
    await ok(['quantize', GGUF, file, '--type', type]);
    const g = parseGguf(readFileSync(file));
    assert.equal(g.kv['general.file_type'], fileType);
    assert.equal(g.kv['general.quantization_version'], 2);
    assert.equal(g.tensors.length, src.tensors.length);
    for (const [i, t] of g.tensors.entries()) {
      const s = src.tensors[i];
      assert.equal(t.name, s.name);
      assert.deepEqual(t.ne, s.ne);
      const want = t.ne.length === 1 ? 'F32' : t.ne[0] % 32 ? 'F16' : type;
      assert.equal(t.type, want, t.name);
      const e = relRmsError(dequantize(s), dequantize(t));
      assert.ok(want === 'F32' ? e === 0 : e < bound, `${type} ${t.name}: ${e}`);
    }
    const r = await ok(['generate', '-m', file, '-p', 'Once upon a time', '-n', '20', '--temperature', '0']);
    assert.ok(r.stdout.length > 20);
  }
});

test('quantize and synth errors: exit status 1 and one error line', async () => {
  const cases = [
    [['quantize', GGUF, join(TMP, 'x.gguf'), '--type', 'Q4_9'], 'invalid_argument', /Q4_9.*Q6_K/],
    [['quantize', GGUF, join(TMP, 'x.gguf')], 'invalid_argument', /--type/],
    [['quantize', GGUF, '--type', 'Q8_0'], 'invalid_argument', /IN.gguf OUT.gguf/],
    [['quantize', join(TMP, 'nope.gguf'), join(TMP, 'x.gguf'), '--type', 'Q8_0'], 'file_not_found', /nope/],
    [['quantize', GGUF, join(TMP, 'no/dir/x.gguf'), '--type', 'Q8_0'], 'file_not_found', /x.gguf/],
    [['quantize', join(ROOT, 'js/cli.js'), join(TMP, 'x.gguf'), '--type', 'Q8_0'], 'bad_format', /GGUF/],
    [['synth', '-o', join(TMP, 'x.gguf'), '--shape', '7b'], 'invalid_argument', /tiny, 365m, 1b/],
    [['synth', '-o', join(TMP, 'x.gguf'), '--shape', 'tiny', '--type', 'Q8_K'], 'invalid_argument', /Q8_K/],
    [['synth', '--shape', 'tiny'], 'invalid_argument', /-o/],
    [['synth', '-o', join(TMP, 'x.gguf'), '--shape', 'tiny', '--seed', '-1'], 'invalid_argument', /seed/],
  ];
  for (const [args, code, message] of cases) {
    const r = await cli(args);
    assert.equal(r.status, 1, args.join(' '));
    assert.equal(r.stdout, '');
    assert.match(r.stderr, new RegExp(`^pocketlm: ${code}: [^\\n]+\\n$`), args.join(' '));
    assert.match(r.stderr, message, args.join(' '));
  }
  assert.throws(() => readFileSync(join(TMP, 'x.gguf')), /ENOENT/, 'a failed run leaves no file');
});
