// The timing rules of npm run bench, shared by the page (bench/page.js) and Node
// (bench/node.js): one run records when it started, when its first and last generated
// tokens arrived, how many there were and their text.
//   time to first token = first - start (the whole prompt evaluated, one token sampled)
//   prefill tok/s       = prompt tokens / time to first token
//   decode tok/s        = (tokens - 1) / (last - first)

export function timer() {
  const run = { start: performance.now(), first: 0, last: 0, tokens: 0, text: '' };
  return {
    run,
    token(text) {
      run.last = performance.now();
      if (run.tokens++ === 0) run.first = run.last;
      run.text += text;
    },
  };
}

export function summary({ start, first, last, tokens, text }, promptTokens) {
  const ttft = first - start;
  return {
    ttft_ms: ttft,
    prefill_tps: (promptTokens / ttft) * 1000,
    decode_tps: tokens > 1 ? ((tokens - 1) / (last - first)) * 1000 : null,
    tokens,
    text,
  };
}

// One greedy generation of up to n tokens, each token's arrival given to the timer t.
async function generate(model, text, n, t) {
  for await (const { id, text: piece } of model.generate(text, { temperature: 0, maxTokens: n }))
    if (id >= 0) t?.token(piece);
    else if (t) t.run.text += piece;   // text held back until the end
}

/** A short generation before timing: the optimizing compiler's code for the hot loops. */
export const warmUp = (model, warmup) => generate(model, warmup, 4);

/** One timed greedy generation of maxTokens after prompt (Node or browser API): its summary. */
export async function timeRun(model, { prompt, promptTokens, maxTokens }) {
  const t = timer();
  await generate(model, prompt, maxTokens, t);
  return summary(t.run, promptTokens);
}

/** Times reps greedy pocketlm generations of a Model after a warm-up. */
export async function timePocketlm(model, options) {
  await warmUp(model, options.warmup);
  const runs = [];
  for (let r = 0; r < options.reps; r++) runs.push(await timeRun(model, options));
  return runs;
}

/**
 * pocketlm's wasm memory after the runs (it only grows, so this is its peak) and what the
 * target measures it against: the model file plus the KV cache.
 */
export async function wasmMemory(model) {
  return { wasm_memory_bytes: await model.wasmMemoryBytes(), model_and_kv_bytes: model.info.bytes + model.info.kv_cache_bytes };
}
