// A thin class over one pl_ctx (csrc/pocketlm.h) inside its own wasm module instance.
// No model math here: every method is one or two C calls plus copying in and out of wasm
// memory. A non-OK status becomes PocketLMError(pl_status_code(st), pl_last_error(ctx)).
import { PocketLMError } from './errors.js';

// Where build/wasm/ is: next to this file in the repository. A page that serves the files
// elsewhere (a bundler's output) passes wasmBase: the folder of pocketlm*.mjs/.wasm/.worker.js.
const BUILD_DIR = new URL('../build/wasm/', import.meta.url);
const BUILDS = { st: 'pocketlm', mt: 'pocketlm-mt' };  // single thread; pthreads

// wasm32: one allocation can never reach 4 GiB (the engine needs room besides the model).
export const MAX_WASM_BYTES = 2 ** 32 - (64 << 20);

const utf8 = new TextEncoder();
const fromUtf8 = new TextDecoder();   // invalid bytes never reach it: C emits U+FFFD itself

const DECODE_CAP = 4096;   // bytes for one streamed token (C needs 3 x its piece length)

// Glue factory + compiled wasm of a build, loaded once per process (or worker).
const builds = new Map();

function loadBuild(variant, base) {
  const key = `${variant} ${base.href}`;
  if (!builds.has(key)) {
    const p = (async () => {
      const name = BUILDS[variant];
      const glueUrl = new URL(`${name}.mjs`, base);
      const wasmUrl = new URL(`${name}.wasm`, base);
      let module;
      try {
        module = await compileUrl(wasmUrl);
      } catch (e) {
        throw new PocketLMError('file_not_found',
          `${wasmUrl.protocol === 'file:' ? wasmUrl.pathname : wasmUrl.href} could not be loaded` +
          ` (run ./build.sh, or serve build/wasm/): ${e.message}`, { cause: e });
      }
      const { default: factory } = await import(glueUrl.href);
      return { factory, module };
    })();
    p.catch(() => builds.delete(key));   // a later call may retry after a build
    builds.set(key, p);
  }
  return builds.get(key);
}

// Emscripten's own loader would fetch() a file path under Node: read the file ourselves.
// Over http(s) the browser compiles while the bytes arrive.
async function compileUrl(url) {
  if (url.protocol === 'file:') {
    const { readFile } = await import('node:fs/promises');
    return WebAssembly.compile(await readFile(url));
  }
  const res = await fetch(url, { credentials: 'same-origin' });
  if (!res.ok) throw new Error(`HTTP ${res.status}`);
  if (WebAssembly.compileStreaming && res.headers.get('content-type') === 'application/wasm')
    return WebAssembly.compileStreaming(res);
  return WebAssembly.compile(await res.arrayBuffer());   // a server with the wrong MIME type
}

// One emscripten module instance: its own memory, and with pthreads its own worker pool.
// Exported for the file tools (js/tools.js), which call C functions without a pl_ctx.
export async function instantiate(variant = 'st', threads = 1, base = BUILD_DIR) {
  const { factory, module } = await loadBuild(variant, base);
  const log = (text) => console.error(text);   // C never prints; if it did, keep stdout clean
  return new Promise((resolve, reject) => {
    factory({
      pthreadPoolSize: threads - 1,      // the C pool starts threads - 1 pthreads
      print: log,
      printErr: log,
      instantiateWasm(imports, receive) {
        WebAssembly.instantiate(module, imports).then((instance) => receive(instance, module), reject);
        return {};
      },
    }).then(resolve, reject);
  });
}

export class Engine {
  #mod;
  #ctx = 0;
  #scratch = 0;     // 4 bytes for the int out-parameters
  #decodeBuf = 0;   // DECODE_CAP bytes for pl_decode_stream
  #candBuf = 0;     // #candCap ids and probabilities for pl_sample_candidates
  #candCap = 0;
  #u8 = null;       // view of the current wasm memory

  // threads > 1 selects the pthreads build. wasmBase: URL of the folder with the builds.
  static async create({ threads = 1, wasmBase = BUILD_DIR } = {}) {
    if (!Number.isInteger(threads) || threads < 1)
      throw new PocketLMError('invalid_argument', `threads must be a positive integer, not ${threads}`);
    if (threads > 1 && typeof SharedArrayBuffer == 'undefined')
      throw new PocketLMError('invalid_argument', 'threads > 1 needs SharedArrayBuffer (cross-origin isolation)');
    const mod = await instantiate(threads > 1 ? 'mt' : 'st', threads, new URL(wasmBase, BUILD_DIR));
    const engine = new Engine(mod);
    try {
      engine.#ctx = mod._pl_create(threads);
      if (!engine.#ctx)
        throw new PocketLMError('out_of_memory', 'could not create an engine context (memory or threads)');
      engine.#scratch = engine.alloc(4);
      engine.#decodeBuf = engine.alloc(DECODE_CAP);
    } catch (e) {
      engine.dispose();
      throw e;
    }
    return engine;
  }

  constructor(mod) {
    this.#mod = mod;
  }

  get disposed() {
    return this.#mod === null;
  }

  // --- memory ---------------------------------------------------------------------------

  // Bytes of the wasm memory. Memory growth replaces the buffer, so never keep the view
  // across a call that may allocate: ask again.
  heapU8() {
    const buf = this.#live().memoryBuffer();
    if (!this.#u8 || this.#u8.buffer !== buf || this.#u8.byteLength !== buf.byteLength)
      this.#u8 = new Uint8Array(buf);
    return this.#u8;
  }

  // A pl_alloc'd buffer (pointer as an unsigned number); throws out_of_memory.
  alloc(size) {
    if (size > MAX_WASM_BYTES)
      throw new PocketLMError('out_of_memory', `${size} bytes do not fit in wasm32 memory (4 GiB in all)`);
    const ptr = this.#live()._pl_alloc(size) >>> 0;
    if (!ptr) throw new PocketLMError('out_of_memory', `cannot allocate ${size} bytes in wasm memory`);
    return ptr;
  }

  free(ptr) {
    if (this.#mod && ptr) this.#mod._pl_dealloc(ptr);
  }

  // --- model ----------------------------------------------------------------------------

  // model and tok: { ptr, size } buffers from alloc(); the context takes model.ptr always,
  // tok (or null) stays the caller's. nCtx 0 = the engine's default context length.
  load(model, tok, nCtx = 0) {
    const m = this.#live();
    this.#check(m._pl_load(this.#ctx, model.ptr, model.size, tok ? tok.ptr : 0, tok ? tok.size : 0, nCtx));
  }

  // Only a tokenizer (pocketlm.h pl_load_vocab): a GGUF vocabulary, GPT-2's encoder.json
  // (model) + vocab.bpe (tok), or a llama2.c checkpoint + tokenizer.bin. Ownership as load.
  loadVocab(model, tok) {
    const m = this.#live();
    this.#check(m._pl_load_vocab(this.#ctx, model.ptr, model.size, tok ? tok.ptr : 0, tok ? tok.size : 0));
  }

  info() {
    const ptr = this.#live()._pl_info_json(this.#ctx) >>> 0;
    if (!ptr) throw new PocketLMError('invalid_state', 'no model is loaded');
    return JSON.parse(this.#mod.UTF8ToString(ptr));
  }

  setSimd(enable) {
    this.#check(this.#live()._pl_set_simd(this.#ctx, enable ? 1 : 0));
  }

  // --- text -----------------------------------------------------------------------------

  // text: a string, or raw bytes (Uint8Array, need not be valid UTF-8) -> Int32Array.
  tokenize(text, { bos = false, special = false } = {}) {
    const m = this.#live();
    const bytes = typeof text == 'string' ? utf8.encode(text) : text;
    // text_len + 2 ids are enough but where a vocabulary's normalization expands the text
    // (pocketlm.h): then the call says how many it needs
    let cap = bytes.length + 2, idsPtr = 0;
    const textPtr = this.alloc(bytes.length + 1);
    try {
      this.heapU8().set(bytes, textPtr);
      for (;;) {
        idsPtr = this.alloc(cap * 4);
        this.#setInt(this.#scratch, 0);
        const st = m._pl_tokenize(this.#ctx, textPtr, bytes.length, bos ? 1 : 0, special ? 1 : 0,
                                  idsPtr, cap, this.#scratch);
        const n = this.#int(this.#scratch);
        if (st === 0) return new Int32Array(this.heapU8().buffer, idsPtr, n).slice();
        if (n <= cap) this.#check(st);   // a real error, not "needs more room"
        this.free(idsPtr);
        idsPtr = 0;
        cap = n;
      }
    } finally {
      this.free(idsPtr);
      this.free(textPtr);
    }
  }

  detokenize(ids) {
    const m = this.#live();
    const idsPtr = this.#copyIds(ids);
    let cap = 16 * ids.length + 16, outPtr = 0;
    try {
      for (;;) {
        outPtr = this.alloc(cap);
        this.#setInt(this.#scratch, 0);
        const st = m._pl_detokenize(this.#ctx, idsPtr, ids.length, outPtr, cap, this.#scratch);
        const len = this.#int(this.#scratch);
        if (st === 0) return fromUtf8.decode(this.heapU8().slice(outPtr, outPtr + len));
        if (len <= cap) this.#check(st);   // a real error, not "needs more room"
        this.free(outPtr);
        outPtr = 0;
        cap = len;
      }
    } finally {
      this.free(outPtr);
      this.free(idsPtr);
    }
  }

  // Text of one generated token, incomplete UTF-8 held back; flush releases what is held
  // (id may then be -1).
  decodeStream(id, flush = false) {
    const m = this.#live();
    this.#check(m._pl_decode_stream(this.#ctx, id, flush ? 1 : 0, this.#decodeBuf, DECODE_CAP, this.#scratch));
    const len = this.#int(this.#scratch);
    return len ? fromUtf8.decode(this.heapU8().slice(this.#decodeBuf, this.#decodeBuf + len)) : '';
  }

  // --- evaluation and sampling ----------------------------------------------------------

  reset() {
    this.#check(this.#live()._pl_reset(this.#ctx));
  }

  eval(ids) {
    this.#withIds(ids, (m, idsPtr) => m._pl_eval(this.#ctx, idsPtr, ids.length));
  }

  // Encoder-decoder models: the prompt through the encoder; the decoder starts empty.
  encode(ids) {
    this.#withIds(ids, (m, idsPtr) => m._pl_encode(this.#ctx, idsPtr, ids.length));
  }

  #withIds(ids, call) {
    const m = this.#live();
    const idsPtr = this.#copyIds(ids);
    try {
      this.#check(call(m, idsPtr));
    } finally {
      this.free(idsPtr);
    }
  }

  // Introspection (pocketlm.h pl_set_inspect) of one prompt: evaluates ids from position 0
  // with recording on for their positions, then switches it off. Returns copies of the
  // attention weights [n_layers][n_heads][n][n] (zeros above the diagonal), the residual
  // streams [n][n_layers + 1][dim], the logits after the last token [vocab] and their
  // softmax at `temperature` (pocketlm.h pl_probabilities).
  inspect(ids, { n_layers, n_heads, dim, vocab }, temperature) {
    const m = this.#live();
    const n = ids.length;
    const attFloats = n_layers * n_heads * n * n, hidFloats = n * (n_layers + 1) * dim;
    let att = 0, hid = 0, probs = 0;
    try {
      att = this.alloc(attFloats * 4);
      hid = this.alloc(hidFloats * 4);
      probs = this.alloc(vocab * 4);
      this.heapU8().fill(0, att, att + attFloats * 4);   // the entries above the diagonal stay 0
      this.#check(m._pl_set_inspect(this.#ctx, att, hid, n));
      this.reset();
      this.eval(ids);
      this.#check(m._pl_probabilities(this.#ctx, temperature, probs));
      const copy = (ptr, count) => new Float32Array(this.heapU8().buffer, ptr, count).slice();
      return { attention: copy(att, attFloats), hidden: copy(hid, hidFloats),
        logits: copy(m._pl_logits(this.#ctx) >>> 0, vocab), probs: copy(probs, vocab) };
    } finally {
      if (this.#mod) m._pl_set_inspect(this.#ctx, 0, 0, 0);
      this.free(probs);
      this.free(hid);
      this.free(att);
    }
  }

  position() {
    return this.#live()._pl_position(this.#ctx);
  }

  contextLength() {
    return this.#live()._pl_context_length(this.#ctx);
  }

  setSampler({ temperature, topK, topP, minP, repeatPenalty, repeatLastN, seed }) {
    this.#check(this.#live()._pl_set_sampler(this.#ctx, temperature, topK, topP, minP,
                                             repeatPenalty, repeatLastN, seed));
  }

  sample() {
    this.#check(this.#live()._pl_sample(this.#ctx, this.#scratch));
    return this.#int(this.#scratch);
  }

  // The last sample's candidates (pocketlm.h pl_sample_candidates): { candidates: the k
  // most probable after penalty, temperature and filters as [{ id, p }], candidateCount:
  // how many there were }. k is capped at the vocabulary; one buffer (ids, then
  // probabilities) serves every token.
  sampleCandidates(k, vocab) {
    const m = this.#live();
    k = Math.min(k, vocab);
    if (k > this.#candCap) {
      this.free(this.#candBuf);
      this.#candBuf = this.#candCap = 0;
      this.#candBuf = this.alloc(k * 8);
      this.#candCap = k;
    }
    const ids = this.#candBuf, probs = this.#candBuf + k * 4;
    this.#check(m._pl_sample_candidates(this.#ctx, ids, probs, k, this.#scratch));
    const count = this.#int(this.#scratch), shown = Math.min(k, count);
    const idView = new Int32Array(this.heapU8().buffer, ids, shown), pView = new Float32Array(this.heapU8().buffer, probs, shown);
    return { candidates: Array.from(idView, (id, i) => ({ id, p: pView[i] })), candidateCount: count };
  }

  // --- teardown -------------------------------------------------------------------------

  // Frees the context and ends the pthread workers, so a Node process can exit.
  dispose() {
    const m = this.#mod;
    if (!m) return;
    this.#mod = null;
    this.#u8 = null;
    if (this.#ctx) m._pl_destroy(this.#ctx);   // joins the C pool's threads
    m.terminateWorkers();
  }

  // --- helpers --------------------------------------------------------------------------

  #live() {
    if (!this.#mod) throw new PocketLMError('disposed', 'the model has been disposed');
    return this.#mod;
  }

  #check(status) {
    if (status === 0) return;
    const m = this.#mod;
    const code = m.UTF8ToString(m._pl_status_code(status) >>> 0);
    const message = m.UTF8ToString(m._pl_last_error(this.#ctx) >>> 0) || code;
    throw new PocketLMError(code, message);
  }

  #int(ptr) {
    return new Int32Array(this.heapU8().buffer, ptr, 1)[0];
  }

  #setInt(ptr, value) {
    new Int32Array(this.heapU8().buffer, ptr, 1)[0] = value;
  }

  // ids (array-like of integers) into a fresh wasm buffer; the caller frees it.
  #copyIds(ids) {
    const ptr = this.alloc(Math.max(ids.length, 1) * 4);
    new Int32Array(this.heapU8().buffer, ptr, ids.length).set(ids);
    return ptr;
  }
}
