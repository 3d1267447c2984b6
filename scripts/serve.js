#!/usr/bin/env node
// A small static server for the demo page and the browser tests (npm run serve).
// Serves only web/, js/, build/wasm/ and models/ of this repository, on loopback only,
// with the headers that make the page cross-origin isolated (COOP + COEP, and CORP on
// every file, workers included) so the pthreads build can run; --no-isolation leaves them
// out (the page then uses the single-thread build).
//   node scripts/serve.js [--port 8080] [--host 127.0.0.1] [--no-isolation]
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import http from 'node:http';
import { extname, join, normalize, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const SERVED = ['web', 'js', 'build/wasm', 'models'];   // everything else is 404
const LOOPBACK = new Set(['127.0.0.1', '::1', 'localhost']);

const TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.wasm': 'application/wasm',
  '.png': 'image/png',
  '.svg': 'image/svg+xml',
  '.txt': 'text/plain; charset=utf-8',
};

/**
 * An http.Server for the repository. isolate: COOP/COEP headers. routes(req, res, headers):
 * optional extra handler tried first (the tests' fault injection); returns true when it
 * answered. extraDirs: more folders of the repository to serve (the benchmark's pages,
 * models and node_modules/@wllama/wllama/esm).
 */
export function createServer({ root = ROOT, isolate = true, routes, extraDirs = [] } = {}) {
  const served = [...SERVED, ...extraDirs];
  const headers = {
    'cache-control': 'no-cache',
    'cross-origin-resource-policy': 'same-origin',
    'x-content-type-options': 'nosniff',
    ...(isolate && {
      'cross-origin-opener-policy': 'same-origin',
      'cross-origin-embedder-policy': 'require-corp',
    }),
  };
  return http.createServer(async (req, res) => {
    try {
      if (routes && (await routes(req, res, headers))) return;
      if (req.method !== 'GET' && req.method !== 'HEAD') return send(res, 405, headers, 'method not allowed');
      const path = decodeURIComponent(new URL(req.url, 'http://x').pathname);
      if (path === '/') {
        res.writeHead(302, { ...headers, location: '/web/' });
        return res.end();
      }
      let file = normalize(join(root, path));
      const rel = file.slice(root.length).split(sep).join('/');
      if (!file.startsWith(root) || !served.some((dir) => rel === dir || rel.startsWith(`${dir}/`)) ||
          rel.split('/').some((part) => part.startsWith('.')))
        return send(res, 404, headers, 'not found');
      let info = await stat(file).catch(() => null);
      if (info?.isDirectory()) {
        if (!path.endsWith('/')) {
          res.writeHead(301, { ...headers, location: `${path}/` });
          return res.end();
        }
        file = join(file, 'index.html');
        info = await stat(file).catch(() => null);
      }
      if (!info?.isFile()) return send(res, 404, headers, 'not found');
      res.writeHead(200, {
        ...headers,
        'content-type': TYPES[extname(file)] ?? 'application/octet-stream',
        'content-length': info.size,
      });
      if (req.method === 'HEAD') return res.end();
      createReadStream(file).on('error', () => res.destroy()).pipe(res);
    } catch (e) {
      send(res, 400, headers, `bad request: ${e.message}`);
    }
  });
}

function send(res, status, headers, text) {
  res.writeHead(status, { ...headers, 'content-type': 'text/plain; charset=utf-8' });
  res.end(`${text}\n`);
}

/** Starts a server; port 0 picks a free one. Resolves to { server, url, close() }. */
export function startServer({ port = 8080, host = '127.0.0.1', ...options } = {}) {
  if (!LOOPBACK.has(host)) throw new Error(`serve.js listens on loopback only (127.0.0.1, ::1), not ${host}`);
  const server = createServer(options);
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      const { port: bound } = server.address();
      const url = `http://${host.includes(':') ? `[${host}]` : host}:${bound}/`;
      const close = () => new Promise((done) => {
        server.closeAllConnections();
        server.close(() => done());
      });
      resolve({ server, url, close });
    });
  });
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const args = process.argv.slice(2);
  const value = (name, fallback) => {
    const i = args.indexOf(name);
    return i >= 0 ? args[i + 1] : fallback;
  };
  const port = Number(value('--port', process.env.PORT ?? 8080));
  const isolate = !args.includes('--no-isolation');
  try {
    const { url } = await startServer({ port, host: value('--host', '127.0.0.1'), isolate });
    console.log(`pocketlm demo: ${url}web/  (${isolate ? 'cross-origin isolated: threads on' : 'not isolated: single thread'}; Ctrl-C stops)`);
  } catch (e) {
    console.error(`serve.js: ${e.message}`);
    process.exit(1);
  }
}
