// The worker side of the browser API (js/browser.js is the page side): one Web Worker runs
// one model with the same loadModel/Model as in Node and answers the page's messages.
// Protocol (every message a plain object with an op):
//   page -> worker  load {source, options}   abortLoad
//                   call {id, method, args}  (tokenize, detokenize, formatChat, inspect,
//                                             wasmMemoryBytes)
//                   generate {id, prompt, options}   stop {id}   dispose {id}
//   worker -> page  progress {loaded, total}   loaded {info}   loadError {error}
//                   result {id, value}   error {id, error}   token {id, token}   done {id}
// An error travels as { code, message } and becomes a PocketLMError again on the page.
import { loadModel } from './index.js';
import { PocketLMError } from './errors.js';

const CALLS = ['tokenize', 'detokenize', 'formatChat', 'inspect', 'wasmMemoryBytes'];   // Model methods the page may call

export function serveWorker(scope = self) {
  let model = null;
  let loading = null;            // AbortController of the load in progress
  const runs = new Map();        // generation id -> AbortController

  const post = (message) => scope.postMessage(message);

  async function load({ source, options }) {
    loading = new AbortController();
    try {
      model = await loadModel(source, {
        ...options,
        signal: loading.signal,
        onProgress: ({ loaded, total }) => post({ op: 'progress', loaded, total }),
      });
      const threads = model.info.threads ?? options.threads;
      post({ op: 'loaded', info: { ...model.info, build: threads > 1 ? 'pthreads' : 'single-thread',
        crossOriginIsolated: Boolean(scope.crossOriginIsolated) } });
    } catch (e) {
      post({ op: 'loadError', error: plain(e) });
    } finally {
      loading = null;
    }
  }

  async function generate({ id, prompt, options }) {
    const controller = new AbortController();
    runs.set(id, controller);
    try {
      for await (const token of model.generate(prompt, { ...options, signal: controller.signal }))
        post({ op: 'token', id, token });
      post({ op: 'done', id });
    } catch (e) {
      post({ op: 'error', id, error: plain(e) });
    } finally {
      runs.delete(id);
    }
  }

  function call({ id, method, args }) {
    try {
      if (!model) throw new PocketLMError('invalid_state', 'no model is loaded');
      if (!CALLS.includes(method))
        throw new PocketLMError('invalid_argument', `unknown method ${method}`);
      post({ op: 'result', id, value: model[method](...args) });
    } catch (e) {
      post({ op: 'error', id, error: plain(e) });
    }
  }

  async function dispose({ id }) {
    for (const controller of runs.values()) controller.abort();
    await model?.dispose();
    model = null;
    post({ op: 'result', id, value: null });
  }

  scope.onmessage = ({ data }) => {
    switch (data.op) {
      case 'load': return load(data);
      case 'abortLoad': return loading?.abort();
      case 'generate': return generate(data);
      case 'stop': return runs.get(data.id)?.abort();
      case 'call': return call(data);
      case 'dispose': return dispose(data);
    }
  };
}

// What survives postMessage of an error: its code and message.
function plain(e) {
  if (e instanceof PocketLMError) return { code: e.code, message: e.message };
  return { code: 'invalid_state', message: `internal error: ${e?.message ?? e}` };
}
