// Browser test harness: Debian's chromium driven by playwright-core, and the repository's
// static server (scripts/serve.js) with fault-injecting routes under /test/.
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { startServer } from '../../scripts/serve.js';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const MODEL_PATH = 'models/stories260K.gguf';
export const MODEL_BYTES = readFileSync(new URL(`../../${MODEL_PATH}`, import.meta.url));

const CHROMIUM_ARGS = ['--no-sandbox', '--headless', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];

export function chromiumPath() {
  const candidates = [process.env.POCKETLM_CHROMIUM, '/usr/bin/chromium', '/usr/bin/chromium-browser'];
  const found = candidates.find((p) => p && existsSync(p));
  if (!found)
    throw new Error('the browser tests need Chromium: apt-get install -y chromium (Debian), or set ' +
      'POCKETLM_CHROMIUM to a Chromium/Chrome executable');
  return found;
}

// A fresh temporary profile per launch (playwright's default for launch()).
export function launchBrowser() {
  return chromium.launch({ executablePath: chromiumPath(), headless: true, args: CHROMIUM_ARGS });
}

/**
 * Fault routes, and a log of what the server saw. Routes:
 *   /test/slow.gguf       the model's length announced, 64 KiB sent, then nothing until the
 *                         client goes away (abort tests)
 *   /test/truncated.gguf  the length announced, half sent, then the connection is cut
 *   /test/chunked.gguf    the model without Content-Length (chunked), in 100 KB pieces
 *   /test/huge.gguf       Content-Length 5 GB, then nothing
 *   /test/page.html       an HTML error page (text/html) with status 200
 *   /test/sniffed.gguf    the same page sent as application/octet-stream
 *   /test/random.gguf     1000 bytes that are no model, complete and well-formed over HTTP
 *   /test/500             HTTP 500
 */
export function faultRoutes() {
  const log = { hits: new Map(), closed: new Map(), waiters: [] };
  const closedOnce = (path) => new Promise((resolve) => {
    if (log.closed.get(path)) return resolve();
    log.waiters.push({ path, resolve });
  });
  const markClosed = (path) => {
    log.closed.set(path, (log.closed.get(path) ?? 0) + 1);
    log.waiters = log.waiters.filter((w) => (w.path === path ? (w.resolve(), false) : true));
  };
  const HTML = '<!DOCTYPE html>\n<html><head><title>Not here</title></head><body>Sorry</body></html>\n';

  async function routes(req, res, headers) {
    const path = new URL(req.url, 'http://x').pathname;
    log.hits.set(path, (log.hits.get(path) ?? 0) + 1);
    if (!path.startsWith('/test/')) return false;
    res.on('close', () => markClosed(path));
    const bytes = (type, extra = {}) => ({ ...headers, 'content-type': type, ...extra });
    const octets = 'application/octet-stream';
    switch (path) {
      case '/test/slow.gguf':
        res.writeHead(200, bytes(octets, { 'content-length': MODEL_BYTES.length }));
        res.write(MODEL_BYTES.subarray(0, 65536));
        return true;   // never ends: the client must abort
      case '/test/truncated.gguf':
        res.writeHead(200, bytes(octets, { 'content-length': MODEL_BYTES.length }));
        res.write(MODEL_BYTES.subarray(0, MODEL_BYTES.length >> 1), () => res.destroy());
        return true;
      case '/test/chunked.gguf': {
        res.writeHead(200, bytes(octets));   // no length: node sends it chunked
        for (let i = 0; i < MODEL_BYTES.length; i += 100_000) res.write(MODEL_BYTES.subarray(i, i + 100_000));
        res.end();
        return true;
      }
      case '/test/huge.gguf':
        res.writeHead(200, bytes(octets, { 'content-length': '5000000000' }));
        res.write(MODEL_BYTES.subarray(0, 4096));
        return true;
      case '/test/page.html':
        res.writeHead(200, bytes('text/html; charset=utf-8'));
        res.end(HTML);
        return true;
      case '/test/sniffed.gguf':
        res.writeHead(200, bytes(octets));
        res.end(HTML);
        return true;
      case '/test/random.gguf':
        res.writeHead(200, bytes(octets, { 'content-length': 1000 }));
        res.end(Buffer.alloc(1000, 7));
        return true;
      case '/test/t5.gguf':   // an encoder-decoder fixture (tests/ is not served)
        res.writeHead(200, bytes(octets));
        res.end(readFileSync(new URL('../fixtures/t5/t5_gated.gguf', import.meta.url)));
        return true;
      case '/test/500':
        res.writeHead(500, bytes('text/plain'));
        res.end('broken\n');
        return true;
    }
    return false;
  }
  return { routes, log, closedOnce };
}

/** Two servers: isolated (COOP/COEP, threads) and plain (single thread); both with faults. */
export async function startServers() {
  const faults = faultRoutes();
  const isolated = await startServer({ port: 0, isolate: true, routes: faults.routes });
  const plain = await startServer({ port: 0, isolate: false, routes: faults.routes });
  return { isolated, plain, faults, close: () => Promise.all([isolated.close(), plain.close()]) };
}
