// The Web Worker that js/browser.js starts (a module worker): the engine runs here, off the
// page's main thread. Serve it with the rest of js/ and build/wasm/ (see README.md).
import { serveWorker } from '../js/worker-host.js';

serveWorker(self);
