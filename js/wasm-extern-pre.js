// Prepended (emcc --extern-pre-js) to build/wasm/pocketlm*.mjs, outside the module factory.
// Emscripten 3.1.6 emits CommonJS-only Node code (require, __dirname) even in an ES module;
// these module-scoped stand-ins make that code work under Node and stay unused in browsers.
var require, __dirname;
if (typeof process == 'object' && typeof process.versions == 'object' &&
    typeof process.versions.node == 'string') {
  require = (await import('module')).createRequire(import.meta.url);
  __dirname = require('path').dirname(require('url').fileURLToPath(import.meta.url));
}
