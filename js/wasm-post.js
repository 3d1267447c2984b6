// Appended (emcc --post-js) inside the module factory: what js/engine.js needs that 3.1.6
// does not export by itself.

// The current memory: views made earlier go stale when memory grows (a new ArrayBuffer, or
// a longer SharedArrayBuffer grown by another thread).
Module['memoryBuffer'] = function () { return wasmMemory.buffer; };

// Pool workers keep a Node process alive; dispose ends them (no-op without pthreads).
Module['terminateWorkers'] = function () {
  if (typeof PThread != 'undefined') PThread.terminateAllThreads();
};
