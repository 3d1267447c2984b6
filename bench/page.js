// In-page driver of npm run bench (bench/run.js calls window.bench.* through playwright).
// Loads one GGUF in pocketlm (js/browser.js: the engine in its Web Worker) or in wllama
// (llama.cpp in its own worker, CPU only), warms each up with a short generation, then times
// greedy generations the same way for both, on the page's clock (bench/timing.js): a token
// counts when it reaches the page.
import { loadModel } from '../js/browser.js';
import { summary, timePocketlm, timeRun, timer, warmUp, wasmMemory } from './timing.js';

const WLLAMA = new URL('../node_modules/@wllama/wllama/esm/', import.meta.url);
const QUIET = { debug() {}, log() {}, warn: console.warn, error: console.error };

/** pocketlm: prompt is text that tokenizes to promptTokens tokens (BOS included). */
async function pocketlm({ url, threads, context, prompt, promptTokens, warmup, maxTokens, reps }) {
  const model = await loadModel(url, { threads, context });
  try {
    const runs = await timePocketlm(model, { prompt, promptTokens, warmup, maxTokens, reps });
    return { runs, build: model.info.build, ...await wasmMemory(model) };
  } finally {
    await model.dispose();
  }
}

/**
 * wllama: the same prompt text, tokenized by llama.cpp (BOS added); the run fails unless it
 * evaluated promptTokens tokens, so both engines see prompts of the same length.
 */
async function wllama({ url, threads, context, prompt, promptTokens, warmup, maxTokens, reps }) {
  const { Wllama } = await import(new URL('index.js', WLLAMA).href);
  const engine = new Wllama({ default: new URL('wasm/wllama.wasm', WLLAMA).href }, { logger: QUIET });
  const blob = await (await fetch(url)).blob();
  await engine.loadModel([blob], { n_threads: threads, n_ctx: context, n_gpu_layers: 0, n_parallel: 1 });
  try {
    // one chunk per token; the last chunk carries llama.cpp's own timings
    const generate = async (prompt, n, t) => {
      let timings = null;
      await engine.createCompletion({
        prompt, max_tokens: n, temperature: 0, cache_prompt: false, stream: true,
        onData: (chunk) => {
          const piece = chunk.choices?.[0]?.text ?? '';
          if (piece !== '' && t) t.token(piece);
          if (chunk.timings) timings = chunk.timings;
        },
      });
      return timings;
    };
    await generate(warmup, 4);
    const runs = [];
    for (let r = 0; r < reps; r++) {
      const t = timer();
      const timings = await generate(prompt, maxTokens, t);
      const s = summary(t.run, promptTokens);
      // llama.cpp counts tokens whose text is held back (partial UTF-8) too
      if (timings) {
        s.engine_timings = timings;
        if (timings.predicted_n > s.tokens) s.decode_tps = ((timings.predicted_n - 1) / (t.run.last - t.run.first)) * 1000;
        s.tokens = timings.predicted_n ?? s.tokens;
        if (timings.prompt_n !== promptTokens)
          throw new Error(`wllama evaluated ${timings.prompt_n} prompt tokens, not ${promptTokens}`);
      }
      runs.push(s);
    }
    return { runs, build: engine.isMultithread() ? 'multi-thread' : 'single-thread', threads: engine.getNumThreads() };
  } finally {
    await engine.exit();
  }
}

// The paired pass of bench/run.js keeps pocketlm models loaded here and times one run of
// one of them at a time: open (load, warm up) returns a handle for time and close.
const opened = new Map();
let nextHandle = 1;

async function open({ url, threads, context, warmup }) {
  const model = await loadModel(url, { threads, context });
  try {
    await warmUp(model, warmup);
  } catch (e) {
    await model.dispose();
    throw e;
  }
  opened.set(nextHandle, model);
  return nextHandle++;
}

const time = (handle, args) => timeRun(opened.get(handle), args);

async function close(handle) {
  await opened.get(handle)?.dispose();
  opened.delete(handle);
}

window.bench = { pocketlm, wllama, pocketlmOpen: open, pocketlmTime: time, pocketlmClose: close,
  crossOriginIsolated: globalThis.crossOriginIsolated };
document.body.dataset.state = 'ready';
