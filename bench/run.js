#!/usr/bin/env node
// npm run bench: pocketlm against wllama (llama.cpp in wasm) in one run, on the same GGUF, in
// headless Chromium; pocketlm alone under Node; and a kernel roofline.
//
//   node bench/run.js [--json FILE] [--reps 3] [--shape 365m] [--types Q4_0,Q8_0]
//                     [--threads 1,2] [--prompt 32] [--gen 32] [--node-prompt 128]
//                     [--node-gen 128] [--engines pocketlm,wllama] [--no-node] [--no-roofline]
//                     [--no-build]
//
// Steps: ./build.sh (wasm, the roofline and the settle probe), the synthetic models into
// build/bench/ when missing (pocketlm synth: random weights, byte and special tokens never
// predicted), prompts of exactly --prompt and --node-prompt tokens (BOS included), then for
// every type and thread count:
//   browser  a fresh browser context per engine (its own renderer process), the page
//            bench/page.html served with COOP/COEP by scripts/serve.js; warm-up, then --reps
//            greedy generations of --gen tokens; peak memory = the renderer process's peak
//            resident set (VmHWM: the page, the engine's worker and its threads)
//   node     pocketlm with the Node API in a child process, --node-prompt and --node-gen
//            (peak RSS of that process)
//   then, per type, pocketlm paired on Node's workload: a model per thread count in one page
//   and in this process, --reps rounds each timing every runtime and thread count once
//   (order alternating), for the 2 threads / 1 and Node / Chromium ratios within rounds
// Every run (every round of the paired pass) starts once the machine is nearly idle (up to
// 20 s of waiting), a thread spinning in a SIMD loop runs at 85 % of its best speed in this
// bench, for several threads that many such threads get as many cores' worth of work done,
// and the run's thread count reads memory at 80 % of its best (up to two minutes a run;
// four minutes of settling in all, probes included): the host of this virtual machine
// sometimes slows a vCPU, takes one away or slows memory for minutes. What was measured
// is kept with each run and printed with the tables.
// The browser workload is smaller than Node's by default because wllama 3.13.0 runs the
// 365m model at about 2 tokens/s here: 128 + 128 tokens, 3 times, 4 configurations would
// take over half an hour (--prompt 128 --gen 128 runs it).
// Last, the kernel roofline: build/bench/roofline.cjs (bench/roofline.c, one and two threads).
// Prints tables (median, min-max) and writes everything as JSON with --json.
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Worker } from 'node:worker_threads';
import { chromium } from 'playwright-core';
import { loadModel } from '../js/index.js';
import { SHAPES } from '../js/tools.js';
import { startServer } from '../scripts/serve.js';
import { timeRun, warmUp } from './timing.js';
import { chromiumPath } from '../tests/browser/harness.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const MODEL_DIR = 'build/bench';
const SERVED = ['bench', MODEL_DIR, 'node_modules/@wllama/wllama/esm'];
const CHROMIUM_ARGS = ['--no-sandbox', '--headless', '--disable-gpu', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
  '--disable-renderer-backgrounding', '--disable-background-timer-throttling'];
const PREFILL_CHUNK = 64;   // prompt tokens per pl_eval in js/index.js: the roofline's prefill

export const DEFAULTS = Object.freeze({
  shape: '365m', types: ['Q4_0', 'Q8_0'], threads: [1, 2], reps: 3, prompt: 32, gen: 32, nodePrompt: 128, nodeGen: 128,
  engines: ['pocketlm', 'wllama'], node: true, roofline: true, build: true, json: null, settle: true,
  log: (line) => process.stderr.write(`${line}\n`),
});

const run = (file, args, options = {}) => new Promise((resolve, reject) => {
  execFile(file, args, { cwd: ROOT, maxBuffer: 1 << 26, ...options }, (error, stdout, stderr) =>
    (error ? reject(new Error(`${file} ${args.join(' ')}: ${stderr || error.message}`)) : resolve(stdout)));
});

const modelPath = (shape, type) => join(MODEL_DIR, `${shape}-${type.toLowerCase()}.gguf`);

async function ensureModels({ shape, types, log }) {
  mkdirSync(join(ROOT, MODEL_DIR), { recursive: true });
  for (const type of types) {
    const path = modelPath(shape, type);
    if (existsSync(join(ROOT, path))) continue;
    log(`bench: making ${path}`);
    await run(process.execPath, ['js/cli.js', 'synth', '-o', path, '--shape', shape, '--type', type]);
  }
}

/**
 * A prompt of exactly n tokens with BOS: plain pieces (letters only, so no byte or special
 * token) picked with a fixed stride through the vocabulary, detokenized, then grown or cut
 * until the text tokenizes back to n tokens. Returns { text, ids (with BOS), warmup (an
 * 8-piece prompt), info (the model's) }.
 */
export async function makePrompt(path, n) {
  const model = await loadModel(join(ROOT, path));
  try {
    const { vocab, add_bos } = model.info;
    const plain = [];
    for (let id = 0, step = 0; plain.length < 4 * n && step < vocab; step++, id = (id + 797) % vocab)
      if (/^ ?[a-z]+$/i.test(model.detokenize([id]))) plain.push(id);
    const tokens = (k) => model.tokenize(model.detokenize(plain.slice(0, k)), { bos: add_bos });
    let k = n - (add_bos ? 1 : 0);
    for (let tries = 0; tokens(k).length !== n && tries < 2 * n; tries++) k += tokens(k).length < n ? 1 : -1;
    const ids = tokens(k);
    if (ids.length !== n) throw new Error(`could not build a prompt of ${n} tokens`);
    const text = model.detokenize(plain.slice(0, k));
    return { text, ids: [...ids], warmup: model.detokenize(plain.slice(0, 8)), info: model.info };
  } finally {
    await model.dispose();
  }
}

// --- statistics ---------------------------------------------------------------------------

const FIGURES = ['prefill_tps', 'decode_tps', 'ttft_ms'];

function stats(values) {
  const v = values.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return null;
  const mid = v.length >> 1;
  return { median: v.length % 2 ? v[mid] : (v[mid - 1] + v[mid]) / 2, min: v[0], max: v.at(-1), n: v.length };
}

function summarize(runs) {
  return Object.fromEntries(FIGURES.map((f) => [f, stats(runs.map((r) => r[f]))]));
}

// --- browser --------------------------------------------------------------------------------

// Peak resident set (VmHWM) of every live renderer process, by pid.
async function rendererPeaks(cdp) {
  const { processInfo } = await cdp.send('SystemInfo.getProcessInfo');
  const peaks = new Map();
  for (const p of processInfo.filter((q) => q.type === 'renderer')) {
    try {
      const status = readFileSync(`/proc/${p.id}/status`, 'utf8');
      peaks.set(p.id, Number(/VmHWM:\s+(\d+) kB/.exec(status)[1]) * 1024);
    } catch {
      // gone meanwhile
    }
  }
  return peaks;
}

async function waitForExit(cdp, pids) {
  for (let i = 0; i < 100; i++) {
    const live = await rendererPeaks(cdp);
    if (![...pids].some((pid) => live.has(pid))) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

// Busy and total CPU time of the machine so far (/proc/stat's first line, in ticks).
function cpuTicks() {
  const [, ...fields] = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).map(Number);
  const idle = fields[3] + fields[4];   // idle + iowait
  const total = fields.reduce((a, b) => a + b, 0);
  return { busy: total - idle, total };
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// Waits (up to 20 s) until the machine is nearly idle over 300 ms: a browser process still
// winding down (wllama's spinning threads) can otherwise eat the next run's core.
async function waitForIdle() {
  if (!existsSync('/proc/stat')) return;
  for (let i = 0; i < 60; i++) {
    const a = cpuTicks();
    await sleep(300);
    const b = cpuTicks();
    if ((b.busy - a.busy) < 0.15 * (b.total - a.total)) return;
  }
}

// A thread that instantiates bench/spin.c, says so, waits for the go signal, then runs one
// of its probes for 200 ms and reports its work per millisecond: `spin` calls of the SIMD
// loop (~40 us each; the engine's speed is that of its SIMD loops, and the host has slowed
// one vCPU's SIMD loop alone by ~18 % for minutes, seen with the threads pinned), or
// `read` bytes read from a buffer far larger than the caches.
const PROBE = `const { parentPort, workerData: { go, module, kind } } = require('node:worker_threads');
const { exports } = new WebAssembly.Instance(module);
const size = kind === 'read' ? exports.stream_init(1) : 1;
if (!size) throw new Error('the settle probe could not grow its memory');
const step = kind === 'read' ? exports.stream : (i) => exports.spin(20000, i);
parentPort.postMessage('ready');
Atomics.wait(go, 0, 0);
const start = performance.now(), end = start + 200;
let i = 0;
while (performance.now() < end) step(i++);
parentPort.postMessage((i * size) / (performance.now() - start));`;

let probeModule = null;

// build/bench/spin.wasm, compiled and both probes run once here, so that V8 has optimized
// them (the workers share the compiled module) before the first timed window.
function probeModuleOnce() {
  if (!probeModule) {
    const file = join(ROOT, MODEL_DIR, 'spin.wasm');
    if (!existsSync(file)) throw new Error(`${file} is missing: run ./build.sh bench (or the bench without --no-build)`);
    probeModule = new WebAssembly.Module(readFileSync(file));
    const { exports } = new WebAssembly.Instance(probeModule);
    exports.spin(200000, 0);
    if (!exports.stream_init(0)) throw new Error('the settle probe could not grow its memory');
    for (let i = 0; i < 4; i++) exports.stream();
  }
  return probeModule;
}

// A probe thread: next() is its next message, rejected if the worker fails or exits.
function probeThread(go, kind) {
  const worker = new Worker(PROBE, { eval: true, workerData: { go, module: probeModuleOnce(), kind } });
  const failed = new Promise((_, reject) => {
    worker.once('error', reject);
    worker.once('exit', (code) => reject(new Error(`a settle probe thread exited (code ${code})`)));
  });
  failed.catch(() => {});   // its exit at terminate() is no error
  return { worker, next: () => Promise.race([new Promise((resolve) => worker.once('message', resolve)), failed]) };
}

// The work per millisecond of n threads running probe `kind` together.
async function probeWork(kind, n) {
  const go = new Int32Array(new SharedArrayBuffer(4));
  const threads = Array.from({ length: n }, () => probeThread(go, kind));
  try {
    await Promise.all(threads.map((t) => t.next()));   // 'ready'
    const rates = threads.map((t) => t.next());
    Atomics.store(go, 0, 1);
    Atomics.notify(go, 0);
    return (await Promise.all(rates)).reduce((a, b) => a + b, 0);
  } finally {
    await Promise.all(threads.map((t) => t.worker.terminate()));
  }
}

// The host of this virtual machine can slow a vCPU down, or take one away, for minutes
// without the guest seeing itself busy (two threads then ran no faster than one), and its
// memory: the 2-thread read bandwidth has measured 37 GB/s in one run against 66-77 in
// others. A run in such a window measures the host. Probe threads show it: one thread's
// SIMD work against the most one thread did so far in this process, `threads` threads'
// SIMD work against one's, and `threads` threads' reads against the most that many read
// (or, if more, 3/4 of `threads` times one thread's best: a first reading of several
// threads can be a slow one, 32 GB/s on two against 59-79 later in one run).
let bestSpin = 0;
const bestRead = new Map();   // threads -> bytes/ms

// A machine fit to measure: one thread at 85 % of its best speed so far, for several
// threads 90 % of that many cores' worth of work (2 threads at 1.68 cores still ran a
// configuration no faster than 1 thread), and reads at 80 % of their best so far.
const fit = (m, threads) => m.speed >= 0.85 && m.cores >= 0.9 * threads && m.memory >= 0.8;

// All the time one bench spends settling (waiting for an idle machine, probing, sleeping
// between probes) is counted; past this budget each run probes once and starts, fit or not
// (and says so), so that a long slow spell cannot stretch the bench past 15 minutes.
const WAIT_BUDGET_MS = 4 * 60 * 1000;
let settledMs = 0;

// Before a run: an idle, fit machine (up to two minutes a run, within the budget). Returns
// { speed, cores, memory, read_gbs } as measured last, kept with the run's results.
async function settle(o, threads) {
  if (!o.settle) return null;
  const start = performance.now();
  let m;
  try {
    for (let i = 0; i < 24; i++) {
      const spent = settledMs + performance.now() - start >= WAIT_BUDGET_MS;
      if (!spent) await waitForIdle();
      const one = await probeWork('spin', 1);
      bestSpin = Math.max(bestSpin, one);
      const read = await probeWork('read', threads);
      bestRead.set(threads, Math.max(bestRead.get(threads) ?? 0, read));
      const readRef = Math.max(bestRead.get(threads), 0.75 * threads * (bestRead.get(1) ?? 0));
      m = { speed: one / bestSpin, cores: threads > 1 ? (await probeWork('spin', threads)) / one : 1,
        memory: read / readRef, read_gbs: read / 1e6 };
      if (fit(m, threads) || spent) break;
      o.log(`bench: the machine runs one thread at ${(m.speed * 100).toFixed(0)} % of its best so far, ` +
        `${threads} threads at ${m.cores.toFixed(2)} cores, reads at ${(m.memory * 100).toFixed(0)} % of the best ` +
        `(${m.read_gbs.toFixed(1)} GB/s on ${threads}); waiting`);
      await sleep(5000);
    }
  } finally {
    settledMs += performance.now() - start;
  }
  return Object.fromEntries(Object.entries(m).map(([k, v]) => [k, Number(v.toFixed(2))]));
}

// bench/page.html in page, ready, cross-origin isolated (else the pthreads build cannot run).
async function openBenchPage(page, server) {
  await page.goto(`${server.url}bench/page.html`);
  await page.waitForFunction(() => document.body.dataset.state === 'ready');
  if (!(await page.evaluate(() => crossOriginIsolated))) throw new Error('the bench page is not cross-origin isolated');
}

/** One engine in a fresh context (so a renderer process of its own); its result and peak. */
async function browserRun(browser, cdp, server, engine, args) {
  const context = await browser.newContext();
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  let ours = new Set();
  try {
    await openBenchPage(page, server);
    const result = await page.evaluate(([name, a]) => window.bench[name](a), [engine, args]);
    // the only renderers alive are this context's (earlier ones were waited out): the engine's is the largest
    const peaks = await rendererPeaks(cdp);
    ours = new Set(peaks.keys());
    result.peak_memory_bytes = Math.max(...peaks.values());
    return result;
  } catch (e) {
    return { error: `${e.message.split('\n')[0]}${errors.length ? ` (page: ${errors.join('; ')})` : ''}` };
  } finally {
    await context.close();
    await waitForExit(cdp, ours);
  }
}

/** Every type and thread count in Chromium: o.engines on `prompt`, o.gen tokens generated. */
async function browserBench(o, prompt) {
  const server = await startServer({ port: 0, isolate: true, extraDirs: SERVED });
  const browser = await chromium.launch({ executablePath: chromiumPath(), headless: true, args: CHROMIUM_ARGS });
  const out = { chromium: browser.version(), configs: [] };
  try {
    const cdp = await browser.newBrowserCDPSession();
    for (const type of o.types)
      for (const threads of o.threads) {
        const config = { type, threads, engines: {} };
        for (const engine of o.engines) {
          const t0 = performance.now();
          const args = {
            url: `/${modelPath(o.shape, type)}`, threads, context: contextFor(o), maxTokens: o.gen, reps: o.reps,
            prompt: prompt.text, promptTokens: prompt.ids.length, warmup: prompt.warmup,
          };
          const machine = await settle(o, threads);
          const r = await browserRun(browser, cdp, server, engine, args);
          r.machine = machine;
          if (!r.error) r.summary = summarize(r.runs);
          config.engines[engine] = r;
          o.log(`bench: browser ${engine} ${type} ${threads}T ${prompt.ids.length}+${o.gen}: ${r.error ?? line(r.summary)} ` +
            `(${((performance.now() - t0) / 1000).toFixed(0)} s)`);
        }
        const [p, w] = [config.engines.pocketlm?.runs?.[0]?.text, config.engines.wllama?.runs?.[0]?.text];
        if (p != null && w != null) config.same_text = p.trim() === w.trim();   // greedy: both should agree
        out.configs.push(config);
      }
  } finally {
    await browser.close();
    await server.close();
  }
  return out;
}

/**
 * pocketlm in Chromium and in Node on Node's workload, paired: for each type, a model per
 * thread count loaded in one page and in this process, then o.reps rounds, each timing
 * every (runtime, threads) once, in alternating order. A slow spell of the host then hits
 * a round's runs alike, so the ratios within a round (2 threads / 1, Node / Chromium) are
 * fairer than ratios of figures from separate passes.
 */
async function pairedBench(o, prompt) {
  const server = await startServer({ port: 0, isolate: true, extraDirs: SERVED });
  const browser = await chromium.launch({ executablePath: chromiumPath(), headless: true, args: CHROMIUM_ARGS });
  const out = { chromium: browser.version(), configs: [], rounds: [] };
  const context = contextFor(o);
  const args = { prompt: prompt.text, promptTokens: prompt.ids.length, maxTokens: o.nodeGen };
  try {
    for (const type of o.types) {
      const t0 = performance.now();
      const page = await (await browser.newContext()).newPage();
      const engines = [];   // { runtime, threads, time(), close() }
      try {
        await openBenchPage(page, server);
        for (const threads of o.threads) {
          const handle = await page.evaluate((a) => window.bench.pocketlmOpen(a),
            { url: `/${modelPath(o.shape, type)}`, threads, context, warmup: prompt.warmup });
          engines.push({ runtime: 'chromium', threads, runs: [],
            time: () => page.evaluate(([h, a]) => window.bench.pocketlmTime(h, a), [handle, args]),
            close: () => page.evaluate((h) => window.bench.pocketlmClose(h), handle) });
          const model = await loadModel(join(ROOT, modelPath(o.shape, type)), { threads, context });
          engines.push({ runtime: 'node', threads, runs: [], time: () => timeRun(model, args), close: () => model.dispose() });
          await warmUp(model, prompt.warmup);
        }
        for (let r = 0; r < o.reps; r++) {
          const machine = await settle(o, Math.max(...o.threads));
          const order = r % 2 ? [...engines].reverse() : engines;
          for (const e of order) e.runs.push(await e.time());
          out.rounds.push({ type, machine, order: order.map((e) => `${e.runtime} ${e.threads}T`) });
        }
      } finally {   // every engine closed even if one fails to (a crashed page), then the page
        for (const e of engines) await e.close().catch(() => {});
        await page.context().close();
      }
      for (const threads of o.threads) {
        const [c, n] = ['chromium', 'node'].map((rt) => engines.find((e) => e.runtime === rt && e.threads === threads).runs);
        out.configs.push({ type, threads, chromium: { runs: c, summary: summarize(c) }, node: { runs: n, summary: summarize(n) } });
      }
      o.log(`bench: paired Chromium / Node ${type}: ${o.reps} rounds (${((performance.now() - t0) / 1000).toFixed(0)} s)`);
    }
  } finally {
    await browser.close();
    await server.close();
  }
  return out;
}

const contextFor = (o) => Math.max(512, o.prompt + o.gen + 8, o.nodePrompt + o.nodeGen + 8);

const line = (s) => `prefill ${fmt(s.prefill_tps?.median)} tok/s, decode ${fmt(s.decode_tps?.median)} tok/s, ` +
  `first token ${fmt(s.ttft_ms?.median, 0)} ms`;

// --- node and roofline ------------------------------------------------------------------------

async function nodeBench(o, prompt) {
  const configs = [];
  for (const type of o.types)
    for (const threads of o.threads) {
      const t0 = performance.now();
      const args = {
        model: join(ROOT, modelPath(o.shape, type)), threads, context: contextFor(o), prompt: prompt.text,
        promptTokens: prompt.ids.length, warmup: prompt.warmup, maxTokens: o.nodeGen, reps: o.reps,
      };
      let r;
      const machine = await settle(o, threads);
      try {
        r = JSON.parse(await run(process.execPath, [join(ROOT, 'bench/node.js'), JSON.stringify(args)]));
        r.summary = summarize(r.runs);
      } catch (e) {
        r = { error: e.message.split('\n')[0] };
      }
      configs.push({ type, threads, machine, ...r });
      o.log(`bench: node pocketlm ${type} ${threads}T: ${r.error ?? line(r.summary)} ` +
        `(${((performance.now() - t0) / 1000).toFixed(0)} s)`);
    }
  return configs;
}

async function rooflineBench(o) {
  const s = SHAPES[o.shape];
  const kvDim = (s.dim / s.heads) * s.kvHeads;
  const args = [s.dim, s.ffn, kvDim, s.vocab, s.layers, Math.min(o.nodePrompt, PREFILL_CHUNK), ...o.types].map(String);
  const machine = await settle(o, 2);   // it has two-thread figures too
  const t0 = performance.now();
  const r = JSON.parse(await run(process.execPath, [join(ROOT, 'build/bench/roofline.cjs'), ...args]));
  o.log(`bench: roofline (${((performance.now() - t0) / 1000).toFixed(0)} s)`);
  return { settle: machine, ...r };
}

// --- report -----------------------------------------------------------------------------------

function fmt(x, digits = 1) {
  return x == null || !Number.isFinite(x) ? '-' : x.toFixed(digits);
}

const mb = (bytes) => (bytes == null ? '-' : (bytes / 2 ** 20).toFixed(0));

function cell(s, digits = 1) {
  return s ? `${fmt(s.median, digits)} (${fmt(s.min, digits)}-${fmt(s.max, digits)})` : '-';
}

/** pocketlm's wasm memory against the target's measure: file + KV cache + 15%. */
function memoryLine(label, r) {
  const ratio = r.wasm_memory_bytes / r.model_and_kv_bytes;
  return `pocketlm ${label}: wasm memory ${mb(r.wasm_memory_bytes)} MiB = ${ratio.toFixed(3)} x (file + KV cache ` +
    `${mb(r.model_and_kv_bytes)} MiB), target <= 1.15`;
}

/** The machine as measured before each run (settle), flagged where it was slow. */
function machineLine(label, runs) {
  const parts = runs.filter((r) => r.machine).map(({ name, threads, machine: m }) => {
    return `${name} ${(m.speed * 100).toFixed(0)} %${threads > 1 ? ` / ${m.cores.toFixed(2)} cores` : ''} / ` +
      `${m.read_gbs.toFixed(1)} GB/s${fit(m, threads) ? '' : ' (slow: these figures measure the host)'}`;
  });
  return parts.length ? `${label}, just before each run: one spinning thread's speed against its best in this ` +
    `bench, for 2 threads the cores' worth of work they got done, and the run's threads' read bandwidth ` +
    `(a run is slow below 80 % of the best that many threads read): ${parts.join(', ')}` : null;
}

function table(rows) {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => String(r[i]).length)));
  return rows.map((r) => r.map((c, i) => String(c).padEnd(widths[i])).join('  ').trimEnd()).join('\n');
}

/** Medians, min and max over rounds of a / b, per figure: runs a[i] and b[i] from one round. */
function pairedRatio(a, b) {
  return Object.fromEntries(FIGURES.map((f) => [f, stats(a.map((r, i) => r[f] / b[i][f]))]));
}

/** The report as text: browser comparison, Node figures, Chromium against Node, roofline. */
export function formatReport(results) {
  const out = [];
  const { config: c } = results;
  const describe = (prompt, gen) => `${c.shape} model (${(results.model.params / 1e6).toFixed(0)}M parameters), ` +
    `prompt ${prompt} tokens, ${gen} generated, greedy, ${c.reps} repetitions: median (min-max)`;
  if (results.browser) {
    out.push(`Chromium ${results.browser.chromium} (headless), wllama ${c.wllama}, ${describe(c.prompt, c.gen)}`);
    const engines = c.engines;
    const rows = [['type', 'threads', 'figure', ...engines, ...(engines.length === 2 ? [`${engines[0]}/${engines[1]}`] : [])]];
    const figure = [['prefill tok/s', 'prefill_tps', 1], ['decode tok/s', 'decode_tps', 1],
      ['first token ms', 'ttft_ms', 0], ['peak memory MiB', 'peak', 0]];
    for (const cfg of results.browser.configs)
      for (const [label, key, digits] of figure) {
        const values = engines.map((e) => {
          const r = cfg.engines[e];
          if (r.error) return { text: key === 'prefill_tps' ? `error: ${r.error}` : '', value: null };
          if (key === 'peak') return { text: mb(r.peak_memory_bytes), value: r.peak_memory_bytes };
          return { text: cell(r.summary[key], digits), value: r.summary[key]?.median };
        });
        const ratio = values.length === 2 && values[0].value && values[1].value ? (values[0].value / values[1].value).toFixed(2) : '-';
        rows.push([cfg.type, cfg.threads, label, ...values.map((v) => v.text), ...(values.length === 2 ? [ratio] : [])]);
      }
    out.push(table(rows), '');
    for (const cfg of results.browser.configs) {
      const r = cfg.engines.pocketlm;
      if (r?.wasm_memory_bytes) out.push(memoryLine(`${cfg.type} ${cfg.threads} thread(s)`, r));
    }
    const settled = machineLine('Chromium', results.browser.configs.flatMap((cfg) => Object.entries(cfg.engines)
      .map(([e, r]) => ({ name: `${e} ${cfg.type} ${cfg.threads}T`, threads: cfg.threads, machine: r.machine }))));
    if (settled) out.push(settled);
    out.push('');
  }
  if (results.node) {
    out.push(`Node ${results.machine.node}, pocketlm, ${describe(c.node_prompt, c.node_gen)}`);
    const rows = [['type', 'threads', 'prefill tok/s', 'decode tok/s', 'first token ms', 'peak RSS MiB', 'wasm MiB']];
    for (const r of results.node)
      rows.push(r.error ? [r.type, r.threads, `error: ${r.error}`, '', '', '', '']
        : [r.type, r.threads, cell(r.summary.prefill_tps), cell(r.summary.decode_tps), cell(r.summary.ttft_ms, 0),
          mb(r.maxRssBytes), mb(r.wasm_memory_bytes)]);
    out.push(table(rows));
    const settled = machineLine('Node', results.node.map((r) => ({ name: `${r.type} ${r.threads}T`, threads: r.threads, machine: r.machine })));
    if (settled) out.push(settled);
    out.push('');
  }
  const paired = results.same_workload;
  if (paired?.error) out.push(`pocketlm in Chromium and in Node, paired: error: ${paired.error}`, '');
  if (paired?.configs) {
    out.push(`pocketlm in Chromium ${paired.chromium} and in Node, the same workload (prompt ${c.node_prompt} tokens, ` +
      `${c.node_gen} generated), ${c.reps} rounds each timing every runtime and thread count once: median (min-max)`);
    const rows = [['type', 'threads', 'Chromium prefill', 'Node prefill', 'Node/Chromium', 'Chromium decode', 'Node decode', 'Node/Chromium']];
    for (const { type, threads, chromium: ch, node: n } of paired.configs) {
      const q = pairedRatio(n.runs, ch.runs);
      rows.push([type, threads, cell(ch.summary.prefill_tps), cell(n.summary.prefill_tps), cell(q.prefill_tps, 2),
        cell(ch.summary.decode_tps), cell(n.summary.decode_tps), cell(q.decode_tps, 2)]);
    }
    out.push(table(rows));
    for (const type of new Set(paired.configs.map((p) => p.type))) {
      const [one, many] = [paired.configs.find((p) => p.type === type && p.threads === 1), paired.configs.find((p) => p.type === type && p.threads > 1)];
      if (!one || !many) continue;
      const speedup = (rt) => pairedRatio(many[rt].runs, one[rt].runs);
      const [ch, n] = [speedup('chromium'), speedup('node')];
      out.push(`${type}: ${many.threads} threads / 1 thread, per round: Chromium prefill ${cell(ch.prefill_tps, 2)}x, decode ` +
        `${cell(ch.decode_tps, 2)}x; Node prefill ${cell(n.prefill_tps, 2)}x, decode ${cell(n.decode_tps, 2)}x`);
    }
    const settled = machineLine('Paired rounds', paired.rounds.map((r, i) => ({
      name: `${r.type} round ${i % c.reps + 1}`, threads: Math.max(...c.threads), machine: r.machine })));
    if (settled) out.push(settled);
    out.push('');
  }
  if (results.roofline) {
    const m = results.roofline.machine;
    const pct = (x) => `${fmt(x * 100, 0)}%`;
    out.push(`Roofline (wasm SIMD128 under Node): streaming read ${fmt(m.read_gbs)} GB/s on one thread, ` +
      `${fmt(m.read_2t_gbs)} on two (in cache ${fmt(m.read_cached_gbs)}), f32x4 mul+add ` +
      `${fmt(m.f32x4_mul_add_gflops)} GFLOP/s, i32x4.dot_i16x8_s ${fmt(m.i32x4_dot_i16x8_gops)} GOP/s on one thread` +
      ` and ${m.i32x4_dot_i16x8_2t_gops.map((x) => fmt(x)).join(' + ')} on two at once ` +
      `(${fmt(m.i32x4_dot_i16x8_2t_gops.reduce((a, b) => a + b) / m.i32x4_dot_i16x8_gops, 2)}x one: the most two ` +
      'threads can give a compute-bound kernel)');
    const rows = [['type', 'kernel', 'rows x cols', 'decode GB/s', 'of read bw', 'decode GOP/s', '2T decode GB/s',
      'of 2T read bw', `prefill(${results.roofline.kernels[0]?.prefill.tokens}) GOP/s`, 'of dot rate']];
    for (const k of results.roofline.kernels)
      rows.push([k.type, k.kernel, `${k.rows}x${k.cols}`, fmt(k.decode.weight_gbs, 2), pct(k.decode.of_bandwidth),
        fmt(k.decode.gops, 2), fmt(k.decode_2t?.weight_gbs, 2), k.decode_2t ? pct(k.decode_2t.of_bandwidth) : '-',
        fmt(k.prefill.gops, 2), pct(k.prefill.of_dot_rate)]);
    out.push(table(rows));
    for (const [type, t] of Object.entries(results.roofline.totals))
      out.push(`${type}: matmuls alone take ${fmt(t.decode_matmul_ms_per_token)} ms per decoded token on one thread ` +
        `(${fmt(1000 / t.decode_matmul_ms_per_token)} tok/s at most), ${fmt(t.decode_matmul_ms_per_token_2t)} on two ` +
        `(${fmt(1000 / t.decode_matmul_ms_per_token_2t)} tok/s), and ` +
        `${fmt(t.prefill_matmul_ms_per_token)} ms per prompt token on one (${fmt(1000 / t.prefill_matmul_ms_per_token)} tok/s)`);
    for (const type of Object.keys(results.roofline.totals)) {
      const k = results.roofline.kernels.find((x) => x.type === type);
      const weightsPerSec = 0.6 * m.read_gbs / (k.weight_bytes / (k.rows * k.cols));   /* G weights/s */
      out.push(`${type}: 60% of the one-thread read bandwidth is ${fmt(weightsPerSec)} G weights/s, one multiply-add ` +
        `each: ${pct(weightsPerSec / (m.i32x4_dot_i16x8_gops / 2))} of what i32x4.dot_i16x8_s alone can issue`);
    }
    out.push('');
  }
  return out.join('\n');
}

function machine() {
  return {
    cpu: os.cpus()[0]?.model ?? 'unknown', cores: os.cpus().length, memory_bytes: os.totalmem(),
    os: `${os.type()} ${os.release()} ${os.arch()}`, node: process.version, loadavg_start: os.loadavg(),
  };
}

/** The whole benchmark; options as DEFAULTS. Returns the results object (also the JSON). */
export async function runBench(options = {}) {
  const o = { ...DEFAULTS, ...options };
  if (!SHAPES[o.shape]) throw new Error(`unknown shape ${o.shape} (${Object.keys(SHAPES).join(', ')})`);
  const started = performance.now();
  if (o.build) await run('bash', ['build.sh', 'wasm', ...(o.roofline ? ['bench'] : o.settle ? ['build/bench/spin.wasm'] : [])]);
  await ensureModels(o);
  const prompt = await makePrompt(modelPath(o.shape, o.types[0]), o.prompt);
  const nodePrompt = await makePrompt(modelPath(o.shape, o.types[0]), o.nodePrompt);
  const wllamaPackage = join(ROOT, 'node_modules/@wllama/wllama/package.json');
  if (o.engines.includes('wllama') && !existsSync(wllamaPackage))
    throw new Error('@wllama/wllama is not installed: run npm ci (it is a devDependency)');
  const wllamaVersion = existsSync(wllamaPackage) ? JSON.parse(readFileSync(wllamaPackage, 'utf8')).version : null;
  const { info } = prompt;
  const results = {
    date: new Date().toISOString(), machine: machine(),
    config: { shape: o.shape, types: o.types, threads: o.threads, reps: o.reps, prompt: o.prompt, gen: o.gen,
      node_prompt: o.nodePrompt, node_gen: o.nodeGen, engines: o.engines, context: contextFor(o),
      wllama: wllamaVersion, prompt_ids: prompt.ids, node_prompt_ids: nodePrompt.ids },
    model: { params: info.params, dim: info.dim, n_layers: info.n_layers, n_heads: info.n_heads,
      n_kv_heads: info.n_kv_heads, hidden_dim: info.hidden_dim, vocab: info.vocab },
  };
  if (o.engines.length) results.browser = await browserBench(o, prompt);
  if (o.node) results.node = await nodeBench(o, nodePrompt);
  // pocketlm in Chromium and Node on Node's workload, paired: the thread scaling and the two
  // runtimes compared within rounds (see pairedBench)
  if (o.node && o.engines.includes('pocketlm')) {
    try {
      results.same_workload = await pairedBench(o, nodePrompt);
    } catch (e) {   // keep what was measured before
      results.same_workload = { error: e.message.split('\n')[0] };
    }
  }
  if (o.roofline) results.roofline = await rooflineBench(o);
  results.machine.loadavg_end = os.loadavg();
  results.seconds = (performance.now() - started) / 1000;
  if (o.json) {
    mkdirSync(dirname(o.json), { recursive: true });
    writeFileSync(o.json, `${JSON.stringify(results, null, 1)}\n`);
  }
  return results;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const list = (s) => s.split(',').map((x) => x.trim()).filter(Boolean);
  const { values } = parseArgs({
    options: {
      json: { type: 'string' }, reps: { type: 'string' }, shape: { type: 'string' }, types: { type: 'string' },
      threads: { type: 'string' }, prompt: { type: 'string' }, gen: { type: 'string' }, engines: { type: 'string' },
      'node-prompt': { type: 'string' }, 'node-gen': { type: 'string' },
      'no-node': { type: 'boolean' }, 'no-roofline': { type: 'boolean' }, 'no-build': { type: 'boolean' },
    },
  });
  const count = (v, fallback) => (v === undefined ? fallback : Number(v));
  const options = {
    json: values.json ?? null, shape: values.shape ?? DEFAULTS.shape,
    reps: count(values.reps, DEFAULTS.reps), prompt: count(values.prompt, DEFAULTS.prompt), gen: count(values.gen, DEFAULTS.gen),
    nodePrompt: count(values['node-prompt'], DEFAULTS.nodePrompt), nodeGen: count(values['node-gen'], DEFAULTS.nodeGen),
    types: values.types ? list(values.types) : DEFAULTS.types,
    threads: values.threads ? list(values.threads).map(Number) : DEFAULTS.threads,
    engines: values.engines !== undefined ? list(values.engines) : DEFAULTS.engines,
    node: !values['no-node'], roofline: !values['no-roofline'], build: !values['no-build'],
  };
  try {
    const results = await runBench(options);
    process.stdout.write(formatReport(results));
    process.stderr.write(`bench: done in ${results.seconds.toFixed(0)} s${options.json ? `, wrote ${options.json}` : ''}\n`);
  } catch (e) {
    process.stderr.write(`bench: ${e.stack}\n`);
    process.exit(1);
  }
}
