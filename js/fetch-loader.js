// Model bytes from an http(s) URL (or any byte stream) straight into one wasm allocation.
// With a Content-Length the buffer is allocated once at the right size, so peak memory is
// about the model's size and no full copy is ever held in JS; without one it starts small
// and doubles. A size known to exceed wasm32 memory is refused before anything downloads.
// Optional cache (js/cache.js): served from it when present, and a fresh download is
// committed to it only after the engine parsed it (the settle callback).
import { PocketLMError, abortError, throwIfAborted } from './errors.js';
import { MAX_WASM_BYTES } from './engine.js';
import { cacheAvailable, cachedResponse, deleteCachedModel, stageDownload } from './cache.js';

const FIRST_GUESS = 1 << 20;   // bytes to start with when the length is unknown

// Returns { ptr, size, settle(ok) }: the caller owns ptr (as from engine.alloc) and calls
// settle(true) once the engine has parsed the bytes, settle(false) when it failed.
export async function fetchSource(engine, url, { onProgress, signal, cache = false } = {}) {
  throwIfAborted(signal);
  const href = String(url);
  const useCache = cache && cacheAvailable();
  if (useCache) {
    const hit = await cachedResponse(href);
    if (hit) {
      const got = await readResponse(engine, hit, href, onProgress, signal);
      return { ...got, settle: async (ok) => { if (!ok) await deleteCorrupt(href); } };
    }
  }

  // Our own controller: a failure on our side (too big, an HTML page) also stops the
  // download, and with it the staging branch.
  const download = new AbortController();
  const onAbort = () => download.abort(signal.reason);
  signal?.addEventListener('abort', onAbort, { once: true });
  try {
    let res;
    try {
      res = await fetch(href, { signal: download.signal, credentials: 'same-origin' });
    } catch (e) {
      if (signal?.aborted) throw abortError(signal);
      throw new PocketLMError('network_error', `could not fetch ${href}: the network failed or the ` +
        `server does not allow this page to read it (CORS)`, { cause: e });
    }
    if (!res.ok) {
      res.body?.cancel().catch(() => {});
      if (res.status === 404 || res.status === 410)
        throw new PocketLMError('file_not_found', `${href}: HTTP ${res.status} (no such file on the server)`);
      throw new PocketLMError('http_error', `${href}: HTTP ${res.status} ${res.statusText}`.trim());
    }
    let staged = null;
    if (useCache && res.body) {
      const [mine, theirs] = res.body.tee();
      staged = stageDownload(href, theirs);
      res = new Response(mine, { headers: res.headers });
    }
    try {
      const got = await readResponse(engine, res, href, onProgress, signal);
      return {
        ...got,
        settle: async (ok) => {
          if (!staged) return;
          await (ok ? staged.commit(got.size) : staged.discard()).catch((e) =>
            console.warn(`pocketlm: ${href} could not be cached: ${e.message}`));
        },
      };
    } catch (e) {
      download.abort();
      await staged?.discard().catch(() => {});
      throw e;
    }
  } finally {
    signal?.removeEventListener('abort', onAbort);
  }
}

// A Response (network or cache) into wasm memory; refuses HTML and sizes beyond wasm32.
async function readResponse(engine, res, href, onProgress, signal) {
  const type = res.headers.get('content-type') ?? '';
  if (/^text\/html\b/i.test(type)) {
    res.body?.cancel().catch(() => {});
    throw htmlError(href);
  }
  // A compressed transfer's Content-Length is not the model's size (and may be hidden
  // from a cross-origin page): then it is only a first guess.
  const length = Number(res.headers.get('content-length') ?? NaN);
  const encoded = !/^(identity)?$/i.test(res.headers.get('content-encoding') ?? '');
  const expected = Number.isSafeInteger(length) && length >= 0 && !encoded ? length : null;
  if (expected !== null && expected > MAX_WASM_BYTES) {
    res.body?.cancel().catch(() => {});
    throw new PocketLMError('out_of_memory', `${href} is ${expected} bytes; a wasm32 engine holds at most ` +
      `${MAX_WASM_BYTES} (4 GiB in all): use a smaller or more quantized model`);
  }
  if (!res.body) return streamInto(engine, new Blob([]).stream(), 0, { onProgress, signal, label: href });
  return streamInto(engine, res.body, expected, { onProgress, signal, label: href, sniffHtml: true });
}

async function deleteCorrupt(href) {
  await deleteCachedModel(href);
  console.warn(`pocketlm: the cached copy of ${href} did not load and was removed from the cache`);
}

function htmlError(href) {
  return new PocketLMError('bad_format', `${href} is an HTML page, not a model file ` +
    `(an error page or a wrong link?)`);
}

/**
 * Reads a byte stream into one pl_alloc'd buffer: { ptr, size }. expected: the length if
 * known (null: grow as needed). Progress { loaded, total } after every chunk (total null
 * while unknown; the last event always has total = loaded). Errors: aborted, out_of_memory,
 * truncated_file (the stream broke off or ended short), bad_format (an HTML page).
 */
export async function streamInto(engine, stream, expected, { onProgress, signal, label = 'the stream', sniffHtml = false } = {}) {
  let capacity = Math.max(1, expected ?? FIRST_GUESS);
  let ptr = engine.alloc(capacity);
  let loaded = 0;
  const reader = stream.getReader();
  const onAbort = () => reader.cancel().catch(() => {});
  signal?.addEventListener('abort', onAbort, { once: true });
  try {
    for (;;) {
      throwIfAborted(signal);
      let chunk;
      try {
        chunk = await reader.read();
      } catch (e) {
        throwIfAborted(signal);
        throw new PocketLMError('truncated_file', `the download of ${label} broke off after ${loaded}` +
          `${expected === null ? '' : ` of ${expected}`} bytes`, { cause: e });
      }
      throwIfAborted(signal);
      if (chunk.done) break;
      const bytes = chunk.value;
      if (sniffHtml && loaded === 0 && looksLikeHtml(bytes)) throw htmlError(label);
      const needed = loaded + bytes.length;
      if (needed > capacity) {
        const bigger = Math.max(needed, Math.min(capacity * 2, MAX_WASM_BYTES));
        const next = engine.alloc(bigger);   // out_of_memory past wasm32's limit
        engine.heapU8().copyWithin(next, ptr, ptr + loaded);
        engine.free(ptr);
        ptr = next;
        capacity = bigger;
      }
      engine.heapU8().set(bytes, ptr + loaded);   // a fresh view: memory may have grown
      loaded += bytes.length;
      onProgress?.({ loaded, total: expected });
    }
    if (expected !== null && loaded < expected)
      throw new PocketLMError('truncated_file', `${label} ended after ${loaded} of ${expected} bytes`);
    if (expected === null || loaded === 0) onProgress?.({ loaded, total: loaded });
    return { ptr, size: loaded };
  } catch (e) {
    engine.free(ptr);
    reader.cancel().catch(() => {});
    throw e;
  } finally {
    signal?.removeEventListener('abort', onAbort);
  }
}

// An HTML document's start after blanks or a BOM: no model format starts so.
const HTML_START = /^[\s\ufeff]*<(!doctype|html|head|body|!--|\?xml|title|meta)/i;

function looksLikeHtml(bytes) {
  return HTML_START.test(new TextDecoder().decode(bytes.subarray(0, 64)));
}
