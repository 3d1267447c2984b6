// Model bytes into one pl_alloc'd wasm buffer, filled in place: a file is read chunk by
// chunk straight into wasm memory, bytes and blobs are copied chunk by chunk, an http(s)
// URL streams in with fetch (js/fetch-loader.js). No second full copy is ever made in JS.
// Progress after every chunk; an AbortSignal is honoured between chunks.
import { PocketLMError, throwIfAborted } from './errors.js';
import { fetchSource, streamInto } from './fetch-loader.js';

const CHUNK = 8 << 20;   // bytes per read: small enough for prompt progress and abort

// Returns { ptr, size, settle? }; the caller owns ptr (engine.free, or hand it to
// engine.load) and, when there is a settle, awaits settle(true) once the engine parsed the
// bytes or settle(false) when it did not (the cache keeps only parsed downloads).
// source: an http(s) URL, a file path or file: URL (Node), a Uint8Array / ArrayBuffer /
// other ArrayBufferView, or a Blob/File. cache: keep http(s) downloads (browsers).
export async function readSource(engine, source, { onProgress, signal, cache = false } = {}) {
  throwIfAborted(signal);
  if (typeof source == 'string' && /^https?:\/\//i.test(source)) source = new URL(source);
  if (source instanceof URL) {
    if (source.protocol === 'http:' || source.protocol === 'https:')
      return fetchSource(engine, source, { onProgress, signal, cache });
    if (source.protocol !== 'file:')
      throw new PocketLMError('invalid_argument', `loading from ${source.protocol} URLs is not supported`);
    return readFile(engine, source, onProgress, signal);
  }
  if (typeof source == 'string') return readFile(engine, source, onProgress, signal);
  if (source instanceof ArrayBuffer) source = new Uint8Array(source);
  if (ArrayBuffer.isView(source))
    return copyBytes(engine, new Uint8Array(source.buffer, source.byteOffset, source.byteLength), onProgress, signal);
  if (typeof Blob != 'undefined' && source instanceof Blob)
    return streamInto(engine, source.stream(), source.size, { onProgress, signal, label: source.name ?? 'the blob' });
  throw new PocketLMError('invalid_argument',
    'a model source is a file path, a URL, a Uint8Array/ArrayBuffer or a Blob');
}

async function readFile(engine, path, onProgress, signal) {
  const fs = await import('node:fs/promises');
  let fh;
  try {
    fh = await fs.open(path, 'r');
  } catch (e) {
    throw fileError(e, path);
  }
  let ptr = 0;
  try {
    const stat = await fh.stat();
    if (!stat.isFile()) throw new PocketLMError('invalid_argument', `${path} is not a file`);
    const size = stat.size;
    ptr = engine.alloc(size);
    let loaded = 0;
    while (loaded < size) {
      throwIfAborted(signal);
      const n = Math.min(CHUNK, size - loaded);
      // a fresh view every time: nothing else runs in this instance during the read
      const view = engine.heapU8().subarray(ptr + loaded, ptr + loaded + n);
      const { bytesRead } = await fh.read(view, 0, n, loaded);
      if (bytesRead === 0)
        throw new PocketLMError('truncated_file', `${path} became shorter while it was read`);
      loaded += bytesRead;
      onProgress?.({ loaded, total: size });
    }
    if (size === 0) onProgress?.({ loaded: 0, total: 0 });
    return { ptr, size };
  } catch (e) {
    engine.free(ptr);
    throw e instanceof PocketLMError ? e : fileError(e, path);
  } finally {
    await fh.close();
  }
}

function copyBytes(engine, bytes, onProgress, signal) {
  const size = bytes.length;
  const ptr = engine.alloc(size);
  // synchronous: the copy of a chunk is fast, and the caller's bytes cannot change under us
  for (let loaded = 0; loaded < size; ) {
    if (signal?.aborted) {
      engine.free(ptr);
      throwIfAborted(signal);
    }
    const n = Math.min(CHUNK, size - loaded);
    engine.heapU8().set(bytes.subarray(loaded, loaded + n), ptr + loaded);
    loaded += n;
    onProgress?.({ loaded, total: size });
  }
  return { ptr, size };
}

function fileError(e, path) {
  if (e.code === 'ENOENT' || e.code === 'ENOTDIR')
    return new PocketLMError('file_not_found', `${path}: no such file`, { cause: e });
  return new PocketLMError('invalid_argument', `${path}: ${e.message}`, { cause: e });
}
