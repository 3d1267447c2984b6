// Every error pocketlm throws is a PocketLMError with a stable string code.

// From the C engine (pl_status_code in csrc/pocketlm.h).
export const ENGINE_CODES = Object.freeze([
  'invalid_argument', 'out_of_memory', 'truncated_file', 'bad_format',
  'unsupported_architecture', 'unsupported_tensor_type', 'missing_tokenizer',
  'context_overflow', 'invalid_state',
]);

// From the JS side: a source that does not exist (also HTTP 404/410), an AbortSignal that
// fired, a model used after dispose(), a second generation started while one is running;
// in browsers and for http(s) URLs: a fetch that failed (network down, CORS refused), an
// HTTP error status, a Web Worker that could not start (its script or the wasm missing);
// a chat for a model without a chat template, or with one pocketlm does not format.
export const JS_CODES = Object.freeze(['file_not_found', 'aborted', 'disposed', 'busy',
  'network_error', 'http_error', 'worker_error', 'missing_template', 'unsupported_template']);

export class PocketLMError extends Error {
  constructor(code, message, options) {
    super(message, options);
    this.name = 'PocketLMError';
    this.code = code;
  }
}

// The error to throw when signal has fired (a caller's reason is kept as the cause).
export function abortError(signal) {
  return new PocketLMError('aborted', 'the operation was aborted', { cause: signal?.reason });
}

export function throwIfAborted(signal) {
  if (signal?.aborted) throw abortError(signal);
}
