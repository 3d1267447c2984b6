// A fast run of the benchmark code (bench/run.js) on the tiny synthetic model: pocketlm only
// (no wllama), one repetition, a few tokens, no roofline. Checks that every figure is
// measured and consistent, not how fast anything is. The real run is `npm run bench`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatReport, runBench } from '../bench/run.js';

test('bench smoke: tiny model, pocketlm in Chromium and Node (and paired on Node\'s workload), 1 and 2 threads', { timeout: 60000 }, async () => {
  const r = await runBench({
    shape: 'tiny', types: ['Q8_0'], threads: [1, 2], reps: 1, prompt: 16, gen: 6, nodePrompt: 20, nodeGen: 8,
    engines: ['pocketlm'], roofline: false, build: false, settle: false, log: () => {},
  });
  assert.equal(r.config.prompt_ids.length, 16);
  assert.equal(r.config.prompt_ids[0], 1, 'the prompt starts with BOS');
  assert.equal(r.browser.configs.length, 2);
  const texts = new Set();
  for (const c of r.browser.configs) {
    const p = c.engines.pocketlm;
    assert.equal(p.error, undefined, p.error);
    assert.equal(p.build, c.threads > 1 ? 'pthreads' : 'single-thread');
    assert.equal(p.runs.length, 1);
    const [run] = p.runs;
    assert.equal(run.tokens, 6);
    assert.ok(run.ttft_ms > 0 && run.decode_tps > 0);
    assert.ok(Math.abs(run.prefill_tps - (16 / run.ttft_ms) * 1000) < 1e-6);
    assert.equal(p.summary.decode_tps.median, run.decode_tps);
    assert.ok(p.peak_memory_bytes > 2e6, 'a renderer peak was read');
    // the wasm memory holds the whole file and the KV cache (the model is used in place)
    assert.ok(p.wasm_memory_bytes >= p.model_and_kv_bytes && p.model_and_kv_bytes > 1e6);
    texts.add(run.text);
  }
  assert.equal(texts.size, 1, 'greedy: the same text at 1 and 2 threads');
  // Node's workload: in Node, and paired in Chromium and Node
  assert.equal(r.same_workload.error, undefined, r.same_workload.error);
  assert.equal(r.same_workload.configs.length, 2);
  assert.deepEqual(r.same_workload.rounds.map((x) => x.order),
    [['chromium 1T', 'node 1T', 'chromium 2T', 'node 2T']], 'one round, every runtime and thread count once');
  for (const n of r.node) {
    assert.equal(n.error, undefined, n.error);
    assert.ok(n.maxRssBytes > 2e6);
    assert.ok(n.wasm_memory_bytes >= n.model_and_kv_bytes && n.model_and_kv_bytes > 1e6);
  }
  const longTexts = new Set();
  for (const n of [...r.node, ...r.same_workload.configs.flatMap((c) => [c.chromium, c.node])]) {
    assert.equal(n.runs.length, 1);
    assert.equal(n.runs[0].tokens, 8);
    assert.equal(n.summary.decode_tps.median, n.runs[0].decode_tps);
    longTexts.add(n.runs[0].text);
  }
  assert.equal(longTexts.size, 1, 'greedy: the same text in the browser and in Node, at 1 and 2 threads');
  const report = formatReport(r);
  assert.match(report, /^Chromium \d+/);
  assert.match(report, /peak memory MiB/);
  assert.match(report, /wasm memory [\d.]+ MiB = [\d.]+ x \(file \+ KV cache/);
  assert.match(report, /Node v\d+/);
  assert.match(report, /pocketlm in Chromium \d+\S* and in Node, the same workload \(prompt 20 tokens, 8 generated\), 1 rounds/);
  // one round: each ratio is that round's (its own min and max)
  const [one, two] = r.same_workload.configs;
  const speedup = (two.chromium.runs[0].decode_tps / one.chromium.runs[0].decode_tps).toFixed(2);
  assert.ok(report.includes(`Q8_0: 2 threads / 1 thread, per round: Chromium prefill `), report);
  assert.ok(report.includes(`decode ${speedup} (${speedup}-${speedup})x; Node prefill`), report);
});
