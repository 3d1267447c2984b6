// The browser runtime in a real Chromium (playwright-core driving Debian's chromium), served
// by scripts/serve.js: the demo page and the js/browser.js API (engine in a Web Worker).
// Reference for generated text: the Node CLI (itself checked against run.c by
// tests/exactness.test.js) with the same prompt and settings.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadModel as nodeLoadModel } from '../js/index.js';
import { launchBrowser, MODEL_BYTES, MODEL_PATH, ROOT, startServers } from './browser/harness.js';

const ARTIFACTS = join(ROOT, 'build/test-artifacts');
const PROMPT = 'Once upon a time';
const SAMPLED = { temperature: 0.8, topK: 40, topP: 0.95, minP: 0.05, seed: 42, maxTokens: 120 };

function cli(args) {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, ['js/cli.js', ...args], { cwd: ROOT, maxBuffer: 1 << 24 },
      (error, stdout, stderr) => (error ? reject(new Error(stderr)) : resolve(stdout)));
  });
}

let browser;
let servers;
let greedyText;    // CLI: -n 196 --temperature 0
let sampledText;   // CLI: SAMPLED

before(async () => {
  [browser, servers, greedyText, sampledText] = await Promise.all([
    launchBrowser(),
    startServers(),
    cli(['generate', '-m', MODEL_PATH, '-p', PROMPT, '-n', '196', '--temperature', '0']),
    cli(['generate', '-m', MODEL_PATH, '-p', PROMPT, '-n', '120', '--temperature', '0.8', '--top-k', '40',
      '--top-p', '0.95', '--min-p', '0.05', '--seed', '42']),
  ]);
  assert.ok(greedyText.length > 300 && sampledText.length > 100, 'the CLI produced the reference text');
});

after(async () => {
  await browser?.close();
  await servers?.close();
});

// A fresh context (own cache storage) with the demo page open; console errors are collected.
async function openDemo(server = servers.isolated) {
  const context = await browser.newContext({ viewport: { width: 1100, height: 900 } });
  const page = await context.newPage();
  page.errors = [];
  page.on('pageerror', (e) => page.errors.push(e.message));
  await page.goto(`${server.url}web/`);
  await page.waitForFunction(() => document.body.dataset.state === 'idle');
  return { page, context, close: () => context.close() };
}

const waitState = (page, state, timeout = 30000) =>
  page.waitForFunction((s) => document.body.dataset.state === s, state, { timeout });

// Runs fn(api) in the page, api = js/browser.js (plus PocketLMError checks done in the page).
function inPage(page, fn, arg) {
  return page.evaluate(async ([source, arg]) => {
    const api = await import('/js/browser.js');
    return (0, eval)(`(${source})`)(api, arg);
  }, [fn.toString(), arg]);
}

async function uiGenerate(page, settings) {
  for (const [id, value] of Object.entries(settings)) await page.fill(`#${id}`, String(value));
  const done = Number((await page.getAttribute('body', 'data-generations')) ?? 0);
  await page.click('#generate');
  await page.waitForFunction((n) => Number(document.body.dataset.generations) > n, done, { timeout: 30000 });
  assert.equal(await page.evaluate(() => document.body.dataset.state), 'ready');
  return page.textContent('#output-text');
}

test('demo page, cross-origin isolated: pthreads build, greedy text equals the CLI; screenshot', async () => {
  const { page, close } = await openDemo(servers.isolated);
  try {
    assert.equal(await page.evaluate(() => crossOriginIsolated), true);
    await page.click('#load');
    await waitState(page, 'ready');
    const info = await page.textContent('#model-info');
    assert.match(info, /pthreads build, 2 threads|pthreads build, \d+ threads/);
    assert.equal(await page.getAttribute('#progress', 'value'), String(MODEL_BYTES.length));
    const text = await uiGenerate(page, { prompt: PROMPT, temperature: 0, 'max-tokens': 196 });
    assert.equal(text, greedyText);
    assert.match(await page.textContent('#stats'), /^196 tokens · first token \d+ ms · [\d.]+ tok\/s$/);
    assert.equal(await page.isHidden('#error'), true);
    mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: join(ARTIFACTS, 'browser-demo.png'), fullPage: true });
    assert.deepEqual(page.errors, []);
  } finally {
    await close();
  }
});

test('demo page, not isolated: single-thread build; greedy and seeded sampling equal the CLI', async () => {
  const { page, close } = await openDemo(servers.plain);
  try {
    assert.equal(await page.evaluate(() => crossOriginIsolated), false);
    await page.click('#load');
    await waitState(page, 'ready');
    assert.match(await page.textContent('#model-info'), /single-thread build, 1 thread$/);
    assert.equal(await uiGenerate(page, { prompt: PROMPT, temperature: 0, 'max-tokens': 196 }), greedyText);
    const sampled = await uiGenerate(page, {
      temperature: SAMPLED.temperature, 'top-k': SAMPLED.topK, 'top-p': SAMPLED.topP, 'min-p': SAMPLED.minP,
      seed: SAMPLED.seed, 'max-tokens': SAMPLED.maxTokens,
    });
    assert.equal(sampled, sampledText);
    assert.deepEqual(page.errors, []);
  } finally {
    await close();
  }
});

test('API: progress reaches the total; a main-thread timer keeps ticking while the worker generates', async () => {
  const { page, close } = await openDemo(servers.plain);
  try {
    const r = await inPage(page, async ({ loadModel }) => {
      const progress = [];
      const model = await loadModel('/models/stories260K.gguf', { onProgress: (p) => progress.push(p) });
      // generate for at least 400 ms, timing a 10 ms interval timer on the page meanwhile
      let ticks = 0;
      let last = performance.now();
      let maxGap = 0;
      const timer = setInterval(() => {
        const now = performance.now();
        maxGap = Math.max(maxGap, now - last);
        last = now;
        ticks++;
      }, 10);
      const started = performance.now();
      let tokens = 0;
      while (performance.now() - started < 400)
        for await (const t of model.generate('Once upon a time', { temperature: 0, maxTokens: 2000 })) {
          tokens++;
          if (performance.now() - started >= 400) break;
        }
      const elapsed = performance.now() - started;
      clearInterval(timer);
      const info = model.info;
      await model.dispose();
      return { progress, ticks, maxGap, elapsed, tokens, info };
    });
    assert.ok(r.progress.length >= 2, `several progress events (${r.progress.length})`);
    assert.deepEqual(r.progress.at(-1), { loaded: MODEL_BYTES.length, total: MODEL_BYTES.length });
    for (let i = 1; i < r.progress.length; i++) assert.ok(r.progress[i].loaded >= r.progress[i - 1].loaded);
    assert.equal(r.info.build, 'single-thread');
    assert.ok(r.tokens > 10, `${r.tokens} tokens`);
    assert.ok(r.ticks >= r.elapsed / 10 / 3, `${r.ticks} ticks in ${r.elapsed.toFixed(0)} ms`);
    assert.ok(r.maxGap < 150, `the longest pause of the page's timer was ${r.maxGap.toFixed(0)} ms`);
  } finally {
    await close();
  }
});

test('abort: mid-generation (API and Stop button) ends with "aborted"; the model still works', async () => {
  const { page, close } = await openDemo(servers.isolated);
  try {
    const r = await inPage(page, async ({ loadModel }) => {
      const model = await loadModel('/models/stories260K.gguf');
      const controller = new AbortController();
      let n = 0;
      let code = null;
      try {
        for await (const t of model.generate('Once upon a time', { signal: controller.signal, maxTokens: 100000 }))
          if (++n === 5 && t) controller.abort();
      } catch (e) {
        code = e.code;
      }
      let text = '';
      for await (const t of model.generate('Once upon a time', { temperature: 0, maxTokens: 196 })) text += t.text;
      // leaving the loop early stops the worker too: the next generation is not "busy"
      for await (const t of model.generate('Once upon a time', { maxTokens: 1000 })) if (t) break;
      let after = 0;
      for await (const t of model.generate('The cat', { maxTokens: 3 })) after += t.id >= 0;
      await model.dispose();
      return { n, code, text, after };
    });
    assert.equal(r.code, 'aborted');
    assert.equal(r.n, 5);
    assert.equal(r.text, greedyText);
    assert.equal(r.after, 3);

    await page.click('#load');
    await waitState(page, 'ready');
    await page.fill('#max-tokens', '100000');
    await page.fill('#temperature', '0');   // greedy runs 341 tokens to EOS: Stop comes first
    // press Stop as soon as the first text is on the page (no race with a fast model)
    const stopped = page.evaluate(() => new Promise((resolve) => {
      const observer = new MutationObserver(() => {
        observer.disconnect();
        document.getElementById('stop').click();
        resolve(document.getElementById('stop').disabled);
      });
      observer.observe(document.getElementById('output-text'), { childList: true });
    }));
    await page.click('#generate');
    assert.equal(await stopped, false, 'Stop was enabled while generating');
    await page.waitForFunction(() => document.body.dataset.generations === '1');
    assert.equal(await page.evaluate(() => document.body.dataset.state), 'ready');
    const count = Number((await page.textContent('#stats')).split(' ')[0]);
    assert.ok(count > 0 && count < 300, `stopped after ${count} tokens`);
    assert.equal(await page.isHidden('#error'), true, 'a stop is not an error');
    assert.deepEqual(page.errors, []);
  } finally {
    await close();
  }
});

test('abort during load cancels the download and frees the worker', async () => {
  const { page, close } = await openDemo(servers.isolated);
  try {
    const closed = servers.faults.closedOnce('/test/slow.gguf');
    const r = await inPage(page, async ({ loadModel }) => {
      const controller = new AbortController();
      const progress = [];
      try {
        await loadModel('/test/slow.gguf', {
          signal: controller.signal,
          onProgress: (p) => {
            progress.push(p);
            controller.abort();
          },
        });
        return { code: 'loaded' };
      } catch (e) {
        return { code: e.code, name: e.name, progress };
      }
    });
    assert.equal(r.code, 'aborted');
    assert.equal(r.name, 'PocketLMError');
    assert.ok(r.progress.length >= 1 && r.progress[0].total === MODEL_BYTES.length);
    await closed;   // the server saw the client go away

    // the same through the page: Cancel while the download hangs
    await page.check('input[value=url]');
    await page.fill('#model-url', '/test/slow.gguf');
    await page.click('#load');
    await page.waitForFunction(() => document.getElementById('progress-text').textContent.includes(' of '));
    await page.click('#cancel-load');
    await waitState(page, 'idle');
    assert.match(await page.textContent('#error'), /^aborted: /);
  } finally {
    await close();
  }
});

test('bad input: clear PocketLMError codes, shown on the page', async () => {
  const { page, close } = await openDemo(servers.isolated);
  try {
    const crossOrigin = `${servers.plain.url}models/stories260K.gguf`;   // another origin, no CORS
    const hugeClosed = servers.faults.closedOnce('/test/huge.gguf');
    const r = await inPage(page, async ({ loadModel, PocketLMError }, urls) => {
      const out = {};
      for (const url of urls)
        try {
          const m = await loadModel(url);
          await m.dispose();
          out[url] = 'loaded';
        } catch (e) {
          out[url] = `${e instanceof PocketLMError ? '' : 'not a PocketLMError: '}${e.code}: ${e.message}`;
        }
      return out;
    }, ['/models/missing.gguf', '/test/500', '/test/page.html', '/test/sniffed.gguf', '/test/random.gguf',
      '/test/truncated.gguf', '/test/huge.gguf', crossOrigin]);
    const codes = Object.fromEntries(Object.entries(r).map(([k, v]) => [k, v.split(':')[0]]));
    assert.deepEqual(codes, {
      '/models/missing.gguf': 'file_not_found',
      '/test/500': 'http_error',
      '/test/page.html': 'bad_format',
      '/test/sniffed.gguf': 'bad_format',
      '/test/random.gguf': 'bad_format',
      '/test/truncated.gguf': 'truncated_file',
      '/test/huge.gguf': 'out_of_memory',
      [crossOrigin]: 'network_error',
    }, JSON.stringify(r, null, 1));
    assert.match(r['/test/page.html'], /HTML page/);
    assert.match(r['/test/huge.gguf'], /5000000000 bytes/);
    await hugeClosed;   // refused before the body was downloaded: the connection was dropped

    // where the worker and the wasm are served: wrong places fail clearly, right ones work
    const placed = await inPage(page, async ({ loadModel }) => {
      const codes = [];
      for (const options of [{ workerUrl: '/web/missing-worker.js' }, { wasmBase: '/nowhere/' }])
        await loadModel('/models/stories260K.gguf', options).then(() => codes.push('loaded'), (e) => codes.push(e.code));
      const m = await loadModel('/models/stories260K.gguf', { workerUrl: '/web/worker.js', wasmBase: '/build/wasm/' });
      codes.push(m.info.arch);
      await m.dispose();
      return codes;
    });
    assert.deepEqual(placed, ['worker_error', 'file_not_found', 'llama']);

    await page.check('input[value=url]');
    await page.fill('#model-url', '/models/missing.gguf');
    await page.click('#load');
    await waitState(page, 'idle');
    await page.waitForSelector('#error:not([hidden])');
    assert.match(await page.textContent('#error'), /^file_not_found: .*missing\.gguf.*404/);
    await page.fill('#model-url', '');
    await page.click('#load');
    assert.match(await page.textContent('#error'), /enter the URL/);
  } finally {
    await close();
  }
});

test('cache: stored only after a whole, parsed download; reused; listed and deleted', async () => {
  const { page, close } = await openDemo(servers.isolated);
  const hits = () => servers.faults.log.hits.get('/models/stories260K.gguf') ?? 0;
  try {
    const before = hits();
    const r = await inPage(page, async ({ loadModel, listCachedModels, deleteCachedModel }) => {
      const codes = [];
      for (const url of ['/test/truncated.gguf', '/test/random.gguf', '/test/sniffed.gguf'])
        await loadModel(url, { cache: true }).then(() => codes.push('loaded'), (e) => codes.push(e.code));
      const abort = new AbortController();
      await loadModel('/test/slow.gguf', { cache: true, signal: abort.signal, onProgress: () => abort.abort() })
        .then(() => codes.push('loaded'), (e) => codes.push(e.code));
      const afterFailures = await listCachedModels();
      const first = await loadModel('/models/stories260K.gguf', { cache: true });
      await first.dispose();
      const listed = await listCachedModels();
      const progress = [];
      const second = await loadModel('/models/stories260K.gguf', { cache: true, onProgress: (p) => progress.push(p) });
      let text = '';
      for await (const t of second.generate('Once upon a time', { temperature: 0, maxTokens: 196 })) text += t.text;
      await second.dispose();
      const deleted = await deleteCachedModel(listed[0]?.url);
      return { codes, afterFailures, listed, progress: progress.at(-1), text, deleted, end: await listCachedModels() };
    });
    assert.deepEqual(r.codes, ['truncated_file', 'bad_format', 'bad_format', 'aborted']);
    assert.deepEqual(r.afterFailures, [], 'no failed download is cached');
    assert.equal(r.listed.length, 1);
    assert.equal(r.listed[0].url, `${servers.isolated.url}models/stories260K.gguf`);
    assert.equal(r.listed[0].size, MODEL_BYTES.length);
    assert.equal(hits() - before, 1, 'the second load came from the cache');
    assert.deepEqual(r.progress, { loaded: MODEL_BYTES.length, total: MODEL_BYTES.length });
    assert.equal(r.text, greedyText);
    assert.equal(r.deleted, true);
    assert.deepEqual(r.end, []);
    // the page lists the cache
    await page.check('#use-cache');
    await page.click('#load');
    await waitState(page, 'ready');
    await page.click('#cache-panel summary');
    await page.waitForFunction(() => document.querySelector('#cache-list li button'));
    assert.match(await page.textContent('#cache-list'), /stories260K\.gguf \(1\.19 MB\)/);
  } finally {
    await close();
  }
});

test('sources: local file (picker), File, Blob, ArrayBuffer, Uint8Array, chunked download; tokenize, inspect, info, dispose', async () => {
  const { page, close } = await openDemo(servers.plain);
  try {
    const r = await inPage(page, async ({ loadModel }) => {
      const bytes = new Uint8Array(await (await fetch('/models/stories260K.gguf')).arrayBuffer());
      const results = {};
      const sources = {
        file: new File([bytes], 'stories260K.gguf'),
        blob: new Blob([bytes]),
        arrayBuffer: bytes.buffer.slice(0),
        uint8Array: bytes,
        chunked: '/test/chunked.gguf',
      };
      for (const [name, source] of Object.entries(sources)) {
        const progress = [];
        const m = await loadModel(source, { onProgress: (p) => progress.push(p) });
        let text = '';
        for await (const t of m.generate('Once upon a time', { temperature: 0, maxTokens: 50 })) text += t.text;
        results[name] = { text, last: progress.at(-1), firstTotal: progress[0]?.total, params: m.info.params };
        await m.dispose();
      }
      const m = await loadModel('/models/stories260K.gguf');
      const ids = await m.tokenize('Hello wörld!');
      const withBos = await m.tokenize('Once upon a time', { bos: true });
      const back = await m.detokenize(ids);
      const inspected = await m.inspect('Once upon a time');
      const inspect = { tokens: inspected.tokens, attention: Array.from(inspected.attention),
        hidden: Array.from(inspected.hidden), logits: Array.from(inspected.logits) };
      let busy = null;
      const first = m.generate('Once upon a time', { maxTokens: 50 });
      await first.next();
      await m.generate('x').next().catch((e) => (busy = e.code));
      await first.return();
      await m.dispose();
      const afterDispose = await m.tokenize('x').then(() => 'ok', (e) => e.code);
      const threadsNotIsolated = await loadModel('/models/stories260K.gguf', { threads: 2 }).then(() => 'ok', (e) => e.code);
      const genAfterDispose = await m.generate('x').next().then(() => 'ok', (e) => e.code);
      return { results, ids: [...ids], isInt32: ids instanceof Int32Array, withBos: [...withBos], back, inspect, busy,
        afterDispose, genAfterDispose, threadsNotIsolated };
    });
    for (const [name, res] of Object.entries(r.results)) {
      assert.ok(greedyText.startsWith(res.text) && res.text.length > 100, `${name}: ${res.text}`);
      assert.deepEqual(res.last, { loaded: MODEL_BYTES.length, total: MODEL_BYTES.length }, name);
      assert.equal(res.params, 292800, name);
    }
    assert.equal(r.results.chunked.firstTotal, null, 'no Content-Length: total unknown until the end');
    assert.deepEqual(r.ids, [346, 306, 414, 263, 198, 185, 420, 341, 443]);   // SentencePiece
    assert.ok(r.isInt32);
    assert.deepEqual(r.withBos, [1, 403, 407, 261, 378]);
    assert.equal(r.back, 'Hello wörld!');
    // inspect through the worker: what Node's single-thread build computes, bit for bit
    const node = await nodeLoadModel(join(ROOT, MODEL_PATH));
    try {
      const want = node.inspect('Once upon a time');
      assert.equal(r.inspect.tokens, 5);
      for (const key of ['attention', 'hidden', 'logits']) assert.deepEqual(r.inspect[key], Array.from(want[key]), key);
    } finally {
      await node.dispose();
    }
    assert.equal(r.busy, 'busy');
    assert.equal(r.afterDispose, 'disposed');
    assert.equal(r.genAfterDispose, 'disposed');
    assert.equal(r.threadsNotIsolated, 'invalid_argument', 'threads > 1 needs a cross-origin isolated page');

    // the file picker of the page
    await page.setInputFiles('#model-file', join(ROOT, MODEL_PATH));
    assert.equal(await page.isChecked('input[value=file]'), true);
    await page.click('#load');
    await waitState(page, 'ready');
    const text = await uiGenerate(page, { temperature: 0, 'max-tokens': 196 });
    assert.equal(text, greedyText);
  } finally {
    await close();
  }
});

test('lesson page: tokens, attention, next-token probabilities, sampling and the residual stream of the bundled model; screenshot', async () => {
  const context = await browser.newContext({ viewport: { width: 1100, height: 1300 } });
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  const node = await nodeLoadModel(join(ROOT, MODEL_PATH));
  try {
    await page.goto(`${servers.plain.url}web/lesson.html`);
    await page.waitForFunction(() => document.body.dataset.inspections === '1', null, { timeout: 30000 });
    const prompt = await page.inputValue('#prompt');
    const want = node.inspect(prompt);
    const chips = await page.$$eval('.token small', (ids) => ids.map((e) => Number(e.textContent)));
    assert.deepEqual(chips, [...want.ids], 'the chips are the tokenizer\'s ids, BOS first');
    // the next-token list: the engine's ten most probable tokens, in order, with their percentages
    const top = [...want.probs.keys()].sort((a, b) => want.probs[b] - want.probs[a]).slice(0, 10);
    const shown = await page.$$eval('#next li .p', (ps) => ps.map((e) => e.textContent));
    assert.deepEqual(shown, top.map((id) => `${(want.probs[id] * 100).toFixed(1)} %`));
    // hovering a cell names the weight token i gives token j (layer 1, head 1)
    const box = await page.locator('#attention').boundingBox();
    const T = want.tokens, scale = box.width / 360, cell = ((360 - 64) / T) * scale;
    await page.mouse.move(box.x + 64 * scale + 0.5 * cell, box.y + 64 * scale + (T - 0.5) * cell);
    const weight = want.attention[(T - 1) * T];   // row T - 1, column 0 of layer 0, head 0
    assert.match(await page.textContent('#attention-note'), new RegExp(` takes ${(weight * 100).toFixed(1)} % of what it reads from “<s>” \\(0\\)$`));
    // the keyboard: focus starts on the same cell, the up arrow moves to the row above
    await page.focus('#attention');
    await page.keyboard.press('ArrowUp');
    const above = want.attention[(T - 2) * T];
    assert.match(await page.textContent('#attention-note'), new RegExp(` \\(${T - 2}\\) takes ${(above * 100).toFixed(1)} % of what it reads from “<s>” \\(0\\)$`));
    // the residual stream: a token to pick (the last one first), drawn
    assert.equal(await page.$$eval('#stream-token option', (o) => o.length), T);
    assert.equal(await page.inputValue('#stream-token'), String(T - 1));
    assert.ok(await page.$eval('#stream', (c) => c.getContext('2d').getImageData(0, 0, c.width, c.height).data
      .some((v, i) => i % 4 === 3 && v > 0)));
    // adding the most likely token extends the prompt by its text and looks again
    await page.click('#append');
    await page.waitForFunction(() => document.body.dataset.inspections === '2', null, { timeout: 30000 });
    const longer = await page.inputValue('#prompt');
    const next = (await node.detokenize([...want.ids, top[0]])).slice((await node.detokenize(want.ids)).length);
    assert.equal(longer, prompt + next);
    assert.equal(await page.$$eval('.token', (c) => c.length), node.inspect(longer).tokens);
    // sampling with top-k 3 alone: three candidates, the drawn one marked, and its text added
    await page.fill('#top-k', '3');
    await page.fill('#top-p', '1');
    await page.fill('#min-p', '0');
    await page.click('#sample');
    await page.waitForFunction(() => document.body.dataset.inspections === '3', null, { timeout: 30000 });
    assert.equal(await page.$$eval('#drawn li', (li) => li.length), 3);
    assert.equal(await page.$$eval('#drawn li.chosen', (li) => li.length), 1);
    const drawn = await page.$eval('#drawn li.chosen .piece', (e) => e.textContent.replace(/␣/g, ' '));
    assert.equal(await page.inputValue('#prompt'), longer + drawn);
    assert.match(await page.textContent('#kept'), /^the filters kept 3 of 512; drew “.+”$/);
    mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: join(ARTIFACTS, 'lesson.png'), fullPage: true });
    assert.deepEqual(errors, []);
    assert.equal(await page.isHidden('#error'), true);
  } finally {
    await node.dispose();
    await context.close();
  }
});

test('an encoder-decoder (T5) in the worker: greedy text and expanding tokenization equal the PyTorch/SentencePiece references', async () => {
  const ref = JSON.parse(readFileSync(join(ROOT, 'tests/fixtures/t5/t5_gated.json'), 'utf8'));
  const { page, close } = await openDemo(servers.isolated);
  try {
    const r = await inPage(page, async ({ loadModel }, ref) => {
      const m = await loadModel('/test/t5.gguf', { threads: 2 });
      const ids = [];
      let text = '';
      for await (const t of m.generate(ref.prompt, { temperature: 0, maxTokens: ref.greedy.length })) {
        if (t.id >= 0) ids.push(t.id);
        text += t.text;
      }
      const expanding = Array.from(await m.tokenize(ref.expanding));
      await m.dispose();
      return { ids, text, expanding };
    }, { prompt: ref.prompt, greedy: ref.greedy, expanding: ref.expanding });
    assert.deepEqual(r.ids, ref.greedy);
    assert.equal(r.text, ref.greedy_text);
    assert.deepEqual(r.expanding, ref.expanding_ids);
    assert.deepEqual(page.errors, []);
  } finally {
    await close();
  }
});

test('Node loads http(s) URLs with the same streaming loader', async () => {
  const url = `${servers.plain.url}models/stories260K.gguf`;
  const progress = [];
  const m = await nodeLoadModel(url, { onProgress: (p) => progress.push(p) });
  try {
    let text = '';
    for await (const t of m.generate(PROMPT, { temperature: 0, maxTokens: 196 })) text += t.text;
    assert.equal(text, greedyText);
    assert.deepEqual(progress.at(-1), { loaded: MODEL_BYTES.length, total: MODEL_BYTES.length });
  } finally {
    await m.dispose();
  }
  await assert.rejects(nodeLoadModel(`${servers.plain.url}models/missing.gguf`), { code: 'file_not_found' });
  await assert.rejects(nodeLoadModel(`${servers.plain.url}test/truncated.gguf`), { code: 'truncated_file' });
});
