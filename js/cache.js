// Opt-in persistent model cache for browsers (the Cache API), keyed by URL.
// A download is written to a staging cache while it arrives and moves to the model cache
// only when the caller commits it, i.e. after the whole file arrived and the engine parsed
// it: an interrupted, truncated or unparseable download never lands among the models.
// Where there is no Cache API (Node, insecure pages) every call is a no-op.
const STORE = 'pocketlm-models-v1';
const STAGING = 'pocketlm-staging-v1';

export function cacheAvailable() {
  return typeof caches == 'object' && caches !== null && typeof caches.open == 'function';
}

// The cached Response for url, or undefined.
export async function cachedResponse(url) {
  if (!cacheAvailable()) return undefined;
  return (await caches.open(STORE)).match(url);
}

// Writes stream (a branch of the download) to the staging cache. Returns
// { commit(size), discard() }; exactly one of them must be called when the load settles.
export function stageDownload(url, stream) {
  const written = caches.open(STAGING).then((staging) => staging.put(url, new Response(stream)));
  written.catch(() => {});   // a broken download stages nothing; commit() finds no entry
  const clear = async () => (await caches.open(STAGING)).delete(url);
  return {
    async commit(size) {
      try {
        await written;
        const staged = await (await caches.open(STAGING)).match(url);
        if (!staged) return;
        const headers = {
          'content-type': 'application/octet-stream',
          'content-length': String(size),
          'x-pocketlm-stored': new Date().toISOString(),
        };
        // streams from the staging entry: the model's bytes are not held in JS memory
        await (await caches.open(STORE)).put(url, new Response(staged.body, { headers }));
      } finally {
        await clear();
      }
    },
    async discard() {
      await written.catch(() => {});
      await clear();
    },
  };
}

/** The cached models: [{ url, size, stored }] (size in bytes, stored an ISO date). */
export async function listCachedModels() {
  if (!cacheAvailable()) return [];
  const store = await caches.open(STORE);
  const list = [];
  for (const request of await store.keys()) {
    const res = await store.match(request);
    list.push({
      url: request.url,
      size: Number(res?.headers.get('content-length') ?? NaN),
      stored: res?.headers.get('x-pocketlm-stored') ?? null,
    });
  }
  return list;
}

/** Removes url from the cache; true when it was there. */
export async function deleteCachedModel(url) {
  if (!cacheAvailable()) return false;
  return (await caches.open(STORE)).delete(String(url));
}
