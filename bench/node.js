// One Node configuration of npm run bench, in its own process so that its peak memory is its
// own: loads the model with the Node API, times greedy generations (bench/timing.js) and
// prints { runs, wasm_memory_bytes, model_and_kv_bytes, maxRssBytes } as JSON. Started by bench/run.js:
//   node bench/node.js '{"model":..., "threads":..., "context":..., "prompt":..., ...}'
import { loadModel } from '../js/index.js';
import { timePocketlm, wasmMemory } from './timing.js';

const options = JSON.parse(process.argv[2]);
const model = await loadModel(options.model, { threads: options.threads, context: options.context });
try {
  const promptTokens = model.tokenize(options.prompt, { bos: model.info.add_bos }).length;
  if (promptTokens !== options.promptTokens)
    throw new Error(`the prompt has ${promptTokens} tokens with this model, not ${options.promptTokens}`);
  const runs = await timePocketlm(model, options);
  const memory = await wasmMemory(model);
  process.stdout.write(`${JSON.stringify({ runs, ...memory, maxRssBytes: process.resourceUsage().maxRSS * 1024 })}\n`);
} finally {
  await model.dispose();
}
