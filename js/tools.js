// File tools under Node (pocketlm quantize, pocketlm synth). The C side (csrc/tools.c)
// converts or generates the tensors a few rows at a time and hands the output file over in
// chunks through Module.plWrite; each chunk goes straight to disk, so memory holds the
// input file and one chunk, never the whole output.
import { closeSync, fstatSync, openSync, readSync, unlinkSync, writeSync } from 'node:fs';
import { instantiate } from './engine.js';
import { PocketLMError } from './errors.js';

const MSG_CAP = 512;         // bytes for the C error message
const READ_CHUNK = 8 << 20;  // bytes per read of the input file

// Model shapes for synth: llama layout, vocab 4096 except the tiny test model.
export const SHAPES = Object.freeze({
  tiny: { dim: 256, layers: 2, heads: 4, kvHeads: 2, ffn: 768, vocab: 512, context: 512 },
  '365m': { dim: 896, layers: 24, heads: 14, kvHeads: 2, ffn: 4864, vocab: 4096, context: 2048 },
  '1b': { dim: 2048, layers: 22, heads: 32, kvHeads: 4, ffn: 5632, vocab: 4096, context: 2048 },
});

function fileError(e, path) {
  const code = e.code === 'ENOENT' || e.code === 'ENOTDIR' ? 'file_not_found' : 'invalid_argument';
  return new PocketLMError(code, `${path}: ${code === 'file_not_found' ? 'no such file' : e.message}`);
}

// A NUL-terminated copy of text in wasm memory; the caller frees it.
function cString(mod, text) {
  const bytes = new TextEncoder().encode(text);
  const ptr = mod._pl_alloc(bytes.length + 1) >>> 0;
  if (!ptr) throw new PocketLMError('out_of_memory', 'cannot allocate a string in wasm memory');
  const heap = new Uint8Array(mod.memoryBuffer());
  heap.set(bytes, ptr);
  heap[ptr + bytes.length] = 0;
  return ptr;
}

// The whole input file in one pl_alloc'd buffer, read chunk by chunk in place.
function readInto(mod, path) {
  let fd;
  try {
    fd = openSync(path, 'r');
  } catch (e) {
    throw fileError(e, path);
  }
  try {
    const size = fstatSync(fd).size;
    const ptr = mod._pl_alloc(Math.max(size, 1)) >>> 0;
    if (!ptr) throw new PocketLMError('out_of_memory', `${path}: ${size} bytes do not fit in wasm memory`);
    for (let done = 0; done < size; ) {
      const n = readSync(fd, new Uint8Array(mod.memoryBuffer(), ptr + done, Math.min(READ_CHUNK, size - done)));
      if (n === 0) {
        mod._pl_dealloc(ptr);
        throw new PocketLMError('truncated_file', `${path} became shorter while it was read`);
      }
      done += n;
    }
    return { ptr, size };
  } finally {
    closeSync(fd);
  }
}

// Runs call(msgPtr) -> status with the output going to outPath; a failed run leaves no file.
function writeOutput(mod, outPath, call) {
  let fd;
  try {
    fd = openSync(outPath, 'w');
  } catch (e) {
    throw fileError(e, outPath);
  }
  let writeError = null;
  mod.plWrite = (user, bytes) => {
    try {
      for (let done = 0; done < bytes.length; ) done += writeSync(fd, bytes, done);
      return 0;
    } catch (e) {
      writeError = e;
      return 1;
    }
  };
  const msg = mod._pl_alloc(MSG_CAP) >>> 0;
  let status;
  try {
    status = call(msg);
  } finally {
    closeSync(fd);
  }
  const text = mod.UTF8ToString(msg);
  mod._pl_dealloc(msg);
  if (status === 0) return;
  try {
    unlinkSync(outPath);
  } catch {
    // nothing to clean up
  }
  if (writeError) throw new PocketLMError('invalid_argument', `${outPath}: ${writeError.message}`);
  throw new PocketLMError(mod.UTF8ToString(mod._pl_status_code(status)), text);
}

// IN (GGUF) -> OUT with 2-D weights in type ("Q4_0", "Q8_0", "F16", ...).
export async function quantizeFile(inPath, outPath, type) {
  const mod = await instantiate();
  const input = readInto(mod, inPath);
  const typePtr = cString(mod, type);
  try {
    writeOutput(mod, outPath, (msg) =>
      mod._pl_quantize_gguf(input.ptr, input.size, typePtr, 0, 0, msg, MSG_CAP));
  } finally {
    mod._pl_dealloc(typePtr);
    mod._pl_dealloc(input.ptr);
  }
}

// A llama GGUF with random weights: shape is a SHAPES name, seed an integer >= 0.
export async function synthFile(outPath, { shape, type = 'F16', seed = 0 }) {
  if (!Object.hasOwn(SHAPES, shape))
    throw new PocketLMError('invalid_argument',
      `unknown shape '${shape}' (shapes: ${Object.keys(SHAPES).join(', ')})`);
  const s = SHAPES[shape];
  const mod = await instantiate();
  const typePtr = cString(mod, type);
  try {
    writeOutput(mod, outPath, (msg) =>
      mod._pl_synth_gguf(s.dim, s.layers, s.heads, s.kvHeads, s.ffn, s.vocab, s.context, typePtr,
        seed, 0, 0, msg, MSG_CAP));
  } finally {
    mod._pl_dealloc(typePtr);
  }
}
