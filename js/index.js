// pocketlm for Node: loadModel() and the Model it returns (contract: /work/shared/DESIGN.md).
import { Engine } from './engine.js';
import { readSource } from './loader.js';
import { PocketLMError, abortError, throwIfAborted } from './errors.js';
import { prepareChat } from './chat.js';

export { PocketLMError } from './errors.js';

const PROMPT_CHUNK = 64;   // prompt tokens per pl_eval, with a macrotask between chunks

export const GENERATE_DEFAULTS = Object.freeze({
  maxTokens: Infinity,     // until EOS or a full context
  temperature: 0.8,        // 0 = greedy
  topK: 40,
  topP: 0.95,
  minP: 0.05,
  repeatPenalty: 1,        // off, as in llama.cpp; 1.1 is a common setting
  repeatLastN: 64,
});

/**
 * Loads a GGUF or llama2.c model.
 * source: http(s) URL, file path, file: URL, Uint8Array/ArrayBuffer, or Blob.
 * options: onProgress({ loaded, total }), signal, threads (> 1: pthreads build),
 *   tokenizer (a source, for llama2.c .bin checkpoints), context (KV cache length;
 *   0 = min(model context, 2048)), simd (false: scalar reference kernels),
 *   cache (browsers: keep http(s) downloads in the Cache API), wasmBase (URL of the
 *   folder with build/wasm's files, when they are not served next to js/), vocabOnly
 *   (true: load only the tokenizer, for tokenize/detokenize/info; the file may have no
 *   weights, or be GPT-2's encoder.json with tokenizer: its vocab.bpe).
 */
export async function loadModel(source, options = {}) {
  const { onProgress, signal, threads = 1, tokenizer, context = 0, simd = true, cache = false, wasmBase,
    vocabOnly = false } = options;
  if (!Number.isInteger(context) || context < 0)
    throw new PocketLMError('invalid_argument', `context must be a non-negative integer, not ${context}`);
  throwIfAborted(signal);
  const engine = await Engine.create({ threads, wasmBase });
  try {
    const model = await readSource(engine, source, { onProgress, signal, cache });
    let tok = null;
    let handed = false;   // pl_load owns model.ptr from the call on, even when it fails
    let loaded = false;
    try {
      if (tokenizer != null) tok = await readSource(engine, tokenizer, { signal, cache });
      try {
        handed = true;
        if (vocabOnly) engine.loadVocab(model, tok);
        else engine.load(model, tok, context);
        loaded = true;
      } finally {
        if (tok) engine.free(tok.ptr);
      }
    } catch (e) {
      if (!handed) engine.free(model.ptr);
      throw e;
    } finally {
      // the cache keeps a download only once the engine has parsed it
      await Promise.all([model.settle?.(loaded), tok?.settle?.(loaded)]);
    }
    if (!simd) engine.setSimd(false);
    throwIfAborted(signal);
    return new Model(engine);
  } catch (e) {
    engine.dispose();
    throw e;
  }
}

export class Model {
  #engine;
  #info;
  #busy = false;

  constructor(engine) {
    this.#engine = engine;
    this.#info = engine.info();
  }

  /**
   * { arch, format, params, vocab, context, dim, n_layers, ..., bos, eos, add_bos, bytes,
   * chat_template (the GGUF's Jinja text, when it has one) }; a tokenizer loaded alone
   * (vocabOnly) has vocab_only: true and only the tokenizer fields.
   */
  get info() {
    return this.#info;
  }

  /**
   * Bytes of the engine's wasm memory: the model file, KV cache and buffers, all allocated
   * at load (generation allocates nothing), plus the allocator's slack.
   */
  wasmMemoryBytes() {
    return this.#engine.heapU8().byteLength;
  }

  /** text (string, or raw bytes as a Uint8Array) -> Int32Array of token ids. */
  tokenize(text, { bos = false, special = false } = {}) {
    checkText(text);
    return this.#engine.tokenize(text, { bos, special });
  }

  /** token ids -> text */
  detokenize(ids) {
    return this.#engine.detokenize(ids);
  }

  /**
   * The prompt text generate(messages) evaluates: the conversation in the model's chat
   * format (or options.chatTemplate's), ending where the assistant's reply begins.
   */
  formatChat(messages, { chatTemplate } = {}) {
    return prepareChat(this, messages, chatTemplate).text;
  }

  /**
   * Async iterator of { id, text } for the tokens generated after prompt. The text of a
   * token can be '' (an incomplete UTF-8 character or a possible stop string held back);
   * text released only at the end comes as a last item with id -1. prompt: text to
   * continue, or a conversation [{ role: 'system' | 'user' | 'assistant', content }] to
   * answer in the model's chat format (see js/chat.js), which also ends the reply at the
   * format's end-of-turn token. Options: maxTokens, temperature, topK, topP, minP,
   * repeatPenalty, repeatLastN, seed, stop (string or strings: generation ends before
   * them; they are never emitted), signal, chatTemplate (a conversation only: a format
   * name, instead of the model's tokenizer.chat_template), candidates (k: each token item
   * also gets candidates, the k most probable tokens it was drawn from, [{ id, p }] after
   * the sampler's penalty, temperature and filters, and candidateCount, how many there
   * were; not the id -1 item, and nothing tells what an end-of-text token was drawn from).
   */
  generate(prompt, options = {}) {
    if (this.#info.vocab_only)
      throw new PocketLMError('invalid_state', 'only a tokenizer is loaded (vocabOnly), no weights to generate with');
    const { chatTemplate, ...rest } = options;
    const o = { ...GENERATE_DEFAULTS, ...rest, stopIds: [], special: false };
    if (Array.isArray(prompt)) {
      const chat = prepareChat(this, prompt, chatTemplate);
      prompt = chat.text;
      o.special = true;   // the format's markers are special tokens
      o.stopIds = chat.stopIds;
      o.stop = [...stopList(o.stop), ...chat.stopStrings];
    } else {
      checkText(prompt);
      if (chatTemplate != null)
        throw new PocketLMError('invalid_argument', 'chatTemplate applies to a conversation (an array of messages)');
    }
    if (o.seed === undefined) o.seed = Math.floor(Math.random() * 2 ** 32);
    if (!(o.maxTokens === Infinity || (Number.isInteger(o.maxTokens) && o.maxTokens >= 0)))
      throw new PocketLMError('invalid_argument', `maxTokens must be a non-negative integer, not ${o.maxTokens}`);
    if (!Number.isInteger(o.seed) || o.seed < 0)
      throw new PocketLMError('invalid_argument', `seed must be a non-negative integer, not ${o.seed}`);
    if (o.candidates !== undefined && !(Number.isInteger(o.candidates) && o.candidates >= 0))
      throw new PocketLMError('invalid_argument', `candidates must be a non-negative integer, not ${o.candidates}`);
    return this.#generate(prompt, o);
  }

  async *#generate(prompt, o) {
    if (this.#busy) throw new PocketLMError('busy', 'a generation is already running on this model');
    this.#busy = true;
    try {
      yield* this.#run(prompt, o);
    } finally {
      this.#busy = false;
    }
  }

  async *#run(prompt, o) {
    const e = this.#engine;
    const { signal } = o;
    const check = () => {
      if (signal?.aborted) throw abortError(signal);
      if (e.disposed) throw new PocketLMError('disposed', 'the model was disposed during generation');
    };
    check();
    const stops = new StopFilter(o.stop);
    const context = e.contextLength();
    // the model's special tokens: BOS before the prompt, or EOS after it (T5), as it says
    const ids = e.tokenize(prompt, { bos: this.#info.add_bos || this.#info.add_eos, special: o.special });
    if (ids.length === 0)
      throw new PocketLMError('invalid_argument', 'the prompt is empty and this model adds no BOS token');
    if (ids.length > context)
      throw new PocketLMError('context_overflow',
        `the prompt has ${ids.length} tokens, the context holds ${context}`);
    e.reset();
    e.setSampler(o);
    if (this.#info.encoder_decoder) {   // T5: the prompt through the encoder, the decoder from its start token
      e.encode(ids);
      e.eval([this.#info.decoder_start_token]);
    } else {
      for (let i = 0; i < ids.length; i += PROMPT_CHUNK) {
        e.eval(ids.subarray(i, i + PROMPT_CHUNK));
        await macrotask();   // lets an abort (or anything else) run between chunks
        check();
      }
    }

    const { eos, bos } = this.#info;
    for (let n = 0; n < o.maxTokens; ) {
      const id = e.sample();
      // EOS ends the text; so does BOS (a new document: llama2.c run.c's rule), and in a
      // chat the format's end-of-turn token
      if (id === eos || id === bos || o.stopIds.includes(id)) {
        const rest = stops.push(e.decodeStream(-1, true), true);
        if (rest.text) yield { id: -1, text: rest.text };
        return;
      }
      n++;
      const last = n >= o.maxTokens || e.position() >= context;
      const out = stops.push(e.decodeStream(id, last), last);
      if (out.text || !out.stopped)
        yield o.candidates ? { id, text: out.text, ...e.sampleCandidates(o.candidates, this.#info.vocab) } : { id, text: out.text };
      if (out.stopped || last) return;
      check();   // the consumer may have aborted or disposed while we were suspended
      e.eval([id]);
      await macrotask();
      check();
    }
  }

  /**
   * What the model computes on a prompt, for teaching pages: evaluates text (string or
   * UTF-8 bytes; BOS as generate adds it unless options.bos says otherwise, special as in
   * tokenize) and returns { ids, layers, heads, tokens, dim, attention, hidden, logits,
   * probs }:
   * attention a Float32Array [layers][heads][tokens][tokens], row i of a head the weights
   * token i gives tokens 0..i (zeros after i); hidden a Float32Array
   * [tokens][layers + 1][dim], each token's residual stream after the embedding and after
   * each layer; logits a Float32Array [vocab] for the token after the last, and probs
   * their softmax at options.temperature (default 1), before any sampling filter. Prompts
   * over options.maxTokens tokens (default 256) are refused: the attention grows with
   * their square. Clears what an earlier generation left in the KV cache.
   */
  inspect(text, { bos = this.#info.add_bos, special = false, maxTokens = 256, temperature = 1 } = {}) {
    if (this.#info.vocab_only)
      throw new PocketLMError('invalid_state', 'only a tokenizer is loaded (vocabOnly), no weights to inspect');
    if (this.#busy) throw new PocketLMError('busy', 'a generation is running on this model');
    checkText(text);
    if (!Number.isInteger(maxTokens) || maxTokens < 1)
      throw new PocketLMError('invalid_argument', `maxTokens must be a positive integer, not ${maxTokens}`);
    if (!(temperature > 0))
      throw new PocketLMError('invalid_argument', `temperature must be above 0, not ${temperature}`);
    const ids = this.#engine.tokenize(text, { bos, special });
    const context = this.#engine.contextLength();
    if (ids.length > context)
      throw new PocketLMError('context_overflow', `the text has ${ids.length} tokens, the context holds ${context}`);
    if (ids.length === 0 || ids.length > maxTokens)
      throw new PocketLMError('invalid_argument', `inspect takes 1 to ${maxTokens} tokens (maxTokens); the text has ${ids.length}`);
    const { n_layers: layers, n_heads: heads, dim } = this.#info;
    return { ids, layers, heads, tokens: ids.length, dim, ...this.#engine.inspect(ids, this.#info, temperature) };
  }

  /** Frees the engine (and its threads). The model is unusable afterwards. */
  async dispose() {
    this.#engine.dispose();
  }
}

// The stop option as an array of strings.
function stopList(stop) {
  const list = stop == null ? [] : Array.isArray(stop) ? stop : [stop];
  if (!list.every((s) => typeof s == 'string'))
    throw new PocketLMError('invalid_argument', 'stop must be a string or an array of strings');
  return list;
}

function checkText(text) {
  if (typeof text != 'string' && !(text instanceof Uint8Array))
    throw new PocketLMError('invalid_argument', 'text must be a string or a Uint8Array of UTF-8 bytes');
}

// Holds back text that could be the start of a stop string; ends at the first stop string.
class StopFilter {
  #stops;
  #pending = '';

  constructor(stop) {
    this.#stops = stopList(stop).filter((s) => s.length > 0);
  }

  // Adds text; returns { text: what may be emitted now, stopped }. final releases all.
  push(text, final) {
    const pending = this.#pending + text;
    let cut = -1;
    for (const s of this.#stops) {
      const i = pending.indexOf(s);
      if (i >= 0 && (cut < 0 || i < cut)) cut = i;
    }
    if (cut >= 0) {
      this.#pending = '';
      return { text: pending.slice(0, cut), stopped: true };
    }
    const keep = final ? 0 : this.#heldBack(pending);
    this.#pending = pending.slice(pending.length - keep);
    return { text: pending.slice(0, pending.length - keep), stopped: false };
  }

  // Length of the longest end of pending that some stop string starts with.
  #heldBack(pending) {
    let best = 0;
    for (const s of this.#stops)
      for (let k = Math.min(s.length - 1, pending.length); k > best; k--)
        if (pending.endsWith(s.slice(0, k))) {
          best = k;
          break;
        }
    return best;
  }
}

// A macrotask (not a microtask), so timers and abort events get to run. Browsers clamp
// nested setTimeout(0) to 4 ms, so there a MessageChannel message is the macrotask.
const macrotask = typeof setImmediate == 'function'
  ? () => new Promise((resolve) => setImmediate(resolve))
  : channelMacrotask();

function channelMacrotask() {
  const channel = new MessageChannel();
  const waiting = [];
  channel.port1.onmessage = () => waiting.shift()();
  return () => new Promise((resolve) => {
    waiting.push(resolve);
    channel.port2.postMessage(0);
  });
}
