// pocketlm for browsers (package.json's "browser" export). loadModel() starts a Web Worker
// (web/worker.js, which runs js/worker-host.js) and returns a Model with the Node API:
// generate() is an async iterator, info a property, dispose() ends the worker. Only
// tokenize(), detokenize() and formatChat() differ: they return promises, the engine being
// in the worker.
// Nothing runs the model on the page's main thread, so the page stays responsive.
import { PocketLMError, abortError, throwIfAborted } from './errors.js';

export { PocketLMError } from './errors.js';
export { listCachedModels, deleteCachedModel } from './cache.js';

const WORKER_URL = new URL('../web/worker.js', import.meta.url);
const MAX_AUTO_THREADS = 8;   // matmul rows split further gain little for small models

/**
 * Threads used when the threads option is not given: the pthreads build with one thread
 * per core (at most 8) when the page is cross-origin isolated (SharedArrayBuffer), else 1.
 */
export function defaultThreads() {
  if (!globalThis.crossOriginIsolated || typeof SharedArrayBuffer == 'undefined') return 1;
  return Math.max(1, Math.min(globalThis.navigator?.hardwareConcurrency || 1, MAX_AUTO_THREADS));
}

/**
 * Loads a model in a new Web Worker.
 * source: a URL (absolute, or relative to the page), a File/Blob, an ArrayBuffer or a
 * Uint8Array (copied to the worker).
 * options: as in Node (onProgress({ loaded, total }), signal, threads, tokenizer, context,
 *   simd, vocabOnly), plus cache (true: keep the download in the Cache API; see listCachedModels),
 *   workerUrl (where web/worker.js is served) and wasmBase (the folder of build/wasm's
 *   files), for pages that serve them elsewhere than this repository's layout.
 * info gains build ('pthreads' | 'single-thread') and crossOriginIsolated.
 */
export async function loadModel(source, options = {}) {
  const { onProgress, signal, workerUrl = WORKER_URL, threads = defaultThreads(), ...rest } = options;
  throwIfAborted(signal);
  const message = {
    op: 'load',
    source: normalizeSource(source),
    options: {
      ...rest,
      threads,
      ...(rest.tokenizer != null && { tokenizer: normalizeSource(rest.tokenizer) }),
      ...(rest.wasmBase != null && { wasmBase: absolute(rest.wasmBase) }),
    },
  };
  let worker;
  try {
    worker = new Worker(workerUrl, { type: 'module', name: 'pocketlm' });
  } catch (e) {
    throw new PocketLMError('worker_error', `cannot start the pocketlm worker ${workerUrl}: ${e.message}`, { cause: e });
  }
  return new Promise((resolve, reject) => {
    const onAbort = () => worker.postMessage({ op: 'abortLoad' });
    const settle = () => {
      signal?.removeEventListener('abort', onAbort);
      worker.onmessage = worker.onerror = null;
    };
    const fail = (error) => {
      settle();
      worker.terminate();   // frees everything the worker held, wasm memory included
      reject(error);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    worker.onerror = (event) => {
      event.preventDefault();
      fail(new PocketLMError('worker_error', `the pocketlm worker (${workerUrl}) failed to start: ` +
        `${event.message || 'its script or one it imports could not be loaded'}`));
    };
    worker.onmessage = ({ data }) => {
      if (data.op === 'progress') onProgress?.({ loaded: data.loaded, total: data.total });
      else if (data.op === 'loadError') fail(fromPlain(data.error, signal));
      else if (data.op === 'loaded') {
        settle();
        if (signal?.aborted) fail(abortError(signal));
        else resolve(new Model(worker, data.info));
      }
    };
    worker.postMessage(message);
  });
}

export class Model {
  #worker;
  #info;
  #nextId = 1;
  #calls = new Map();     // id -> { resolve, reject }
  #streams = new Map();   // generation id -> message handler
  #busy = false;
  #disposed = null;       // the dispose() promise once called

  constructor(worker, info) {
    this.#worker = worker;
    this.#info = Object.freeze(info);
    worker.onmessage = ({ data }) => this.#receive(data);
    worker.onerror = (event) => {
      event.preventDefault();
      this.#failAll(new PocketLMError('worker_error', `the pocketlm worker failed: ${event.message}`));
    };
  }

  /** As in Node, plus build ('pthreads' | 'single-thread') and crossOriginIsolated. */
  get info() {
    return this.#info;
  }

  /** Promise<number>: the worker's wasm memory in bytes, as in Node. */
  wasmMemoryBytes() {
    return this.#call('wasmMemoryBytes', []);
  }

  /** text -> Promise<Int32Array> */
  tokenize(text, { bos = false, special = false } = {}) {
    return this.#call('tokenize', [text, { bos, special }]);
  }

  /** ids -> Promise<string> */
  detokenize(ids) {
    return this.#call('detokenize', [Array.from(ids)]);
  }

  /** messages -> Promise<string>: the prompt generate(messages) evaluates, as in Node. */
  formatChat(messages, { chatTemplate } = {}) {
    return this.#call('formatChat', [messages, { chatTemplate }]);
  }

  /** text -> Promise of what the model computes on it, as Node's inspect(). */
  inspect(text, options = {}) {
    return this.#call('inspect', [text, options]);
  }

  /**
   * Async iterator of { id, text }, as in Node: prompt is a string or a conversation
   * [{ role, content }]. Options as in Node (signal and chatTemplate included). The worker
   * runs ahead of the consumer; leaving the loop early stops it.
   */
  async *generate(prompt, options = {}) {
    const { signal, ...rest } = options;
    if (this.#disposed) throw new PocketLMError('disposed', 'the model has been disposed');
    if (this.#busy) throw new PocketLMError('busy', 'a generation is already running on this model');
    throwIfAborted(signal);
    this.#busy = true;
    const id = this.#nextId++;
    const queue = [];
    let wake = null;
    this.#streams.set(id, (message) => {
      queue.push(message);
      wake?.();
    });
    const next = async () => {
      while (queue.length === 0) await new Promise((resolve) => (wake = resolve));
      return queue.shift();
    };
    const stop = () => this.#worker.postMessage({ op: 'stop', id });
    signal?.addEventListener('abort', stop, { once: true });
    let finished = false;
    try {
      this.#worker.postMessage({ op: 'generate', id, prompt, options: rest });
      for (;;) {
        const message = await next();
        if (message.op === 'token') {
          throwIfAborted(signal);   // tokens the worker made before it saw the abort
          yield message.token;
        } else {
          finished = true;
          if (message.op === 'done') return;
          throw fromPlain(message.error, signal);
        }
      }
    } finally {
      signal?.removeEventListener('abort', stop);
      if (!finished) {   // the consumer left early, or aborted: wait until the worker stopped
        stop();
        for (let m = await next(); m.op === 'token'; m = await next());
      }
      this.#streams.delete(id);
      this.#busy = false;
    }
  }

  /** Ends the worker and frees everything it held. */
  dispose() {
    this.#disposed ??= (async () => {
      const disposed = new PocketLMError('disposed', 'the model was disposed');
      for (const stream of this.#streams.values()) stream({ op: 'error', error: disposed });
      try {
        await this.#call('dispose', [], true);   // lets the engine end its threads itself
      } catch {
        // the worker is gone already: terminate() below is all that is left to do
      }
      this.#worker.terminate();
      this.#failAll(disposed);
    })();
    return this.#disposed;
  }

  #call(method, args, internal = false) {
    if (this.#disposed && !internal)
      return Promise.reject(new PocketLMError('disposed', 'the model has been disposed'));
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      this.#calls.set(id, { resolve, reject });
      this.#worker.postMessage(method === 'dispose' ? { op: 'dispose', id } : { op: 'call', id, method, args });
    });
  }

  #receive(message) {
    const stream = this.#streams.get(message.id);
    if (stream) return stream(message);
    const call = this.#calls.get(message.id);
    if (!call) return;   // a late message of a generation that already ended
    this.#calls.delete(message.id);
    if (message.op === 'result') call.resolve(message.value);
    else call.reject(fromPlain(message.error));
  }

  #failAll(error) {
    for (const { reject } of this.#calls.values()) reject(error);
    this.#calls.clear();
    for (const stream of this.#streams.values()) stream({ op: 'error', error });
  }
}

// Strings are URLs relative to the page; everything else goes to the worker as it is.
function normalizeSource(source) {
  if (typeof source == 'string' || source instanceof URL) return absolute(source);
  if (source instanceof ArrayBuffer || ArrayBuffer.isView(source) ||
      (typeof Blob != 'undefined' && source instanceof Blob)) return source;
  throw new PocketLMError('invalid_argument', 'a model source is a URL, a File/Blob, an ArrayBuffer or a Uint8Array');
}

function absolute(url) {
  return new URL(url, globalThis.document?.baseURI ?? globalThis.location?.href).href;
}

function fromPlain(error, signal) {
  if (error instanceof PocketLMError) return error;
  if (error.code === 'aborted' && signal) return abortError(signal);
  return new PocketLMError(error.code, error.message);
}
