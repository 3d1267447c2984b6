// The demo page: load a model (bundled, URL or local file) in a worker, then stream text.
// document.body.dataset.state tells where the page is: idle, loading, ready, generating;
// dataset.generations counts the generations that ended (for tests and automation).
import { defaultThreads, deleteCachedModel, listCachedModels, loadModel } from '../js/browser.js';

const BUNDLED = new URL('../models/stories260K.gguf', import.meta.url).href;
const $ = (id) => document.getElementById(id);

let model = null;
let loadController = null;
let generateController = null;
let droppedFile = null;

function setState(state) {
  document.body.dataset.state = state;
  $('load').disabled = state === 'loading' || state === 'generating';
  $('cancel-load').disabled = state !== 'loading';
  $('generate').disabled = state !== 'ready';
  $('stop').disabled = state !== 'generating';
}

function showError(error) {
  const box = $('error');
  if (!error) {
    box.hidden = true;
    box.textContent = '';
    return;
  }
  box.hidden = false;
  box.dataset.code = error.code ?? 'error';
  box.textContent = `${error.code ?? 'error'}: ${error.message}`;
}

const mb = (bytes) => `${(bytes / 1e6).toFixed(bytes < 1e7 ? 2 : 0)} MB`;

// --- runtime and threads ------------------------------------------------------------------

function describeRuntime() {
  const auto = defaultThreads();
  $('runtime').textContent = crossOriginIsolated
    ? `Cross-origin isolated: the pthreads build runs with ${auto} thread${auto > 1 ? 's' : ''} by default.`
    : 'Not cross-origin isolated (no COOP/COEP headers): the single-thread build runs.';
  if (crossOriginIsolated)
    for (const n of [1, 2, 4, 8].filter((n) => n <= Math.max(navigator.hardwareConcurrency || 1, 2)))
      $('threads').append(new Option(String(n), String(n)));
  else $('threads').disabled = true;
}

// --- loading ------------------------------------------------------------------------------

function chosenSource() {
  const kind = document.querySelector('input[name=source]:checked').value;
  if (kind === 'bundled') return BUNDLED;
  if (kind === 'url') {
    const url = $('model-url').value.trim();
    if (!url) throw Object.assign(new Error('enter the URL of a GGUF file'), { code: 'invalid_argument' });
    return url;
  }
  const file = droppedFile ?? $('model-file').files[0];
  if (!file) throw Object.assign(new Error('choose a GGUF file'), { code: 'invalid_argument' });
  return file;
}

async function load() {
  showError(null);
  let source;
  try {
    source = chosenSource();
  } catch (e) {
    return showError(e);
  }
  await model?.dispose();
  model = null;
  $('model-info').textContent = '';
  setState('loading');
  const progress = $('progress');
  progress.hidden = false;
  progress.removeAttribute('value');   // indeterminate until the size is known
  $('progress-text').textContent = 'starting…';
  loadController = new AbortController();
  const threads = $('threads').value === 'auto' ? undefined : Number($('threads').value);
  const started = performance.now();
  try {
    model = await loadModel(source, {
      signal: loadController.signal,
      cache: $('use-cache').checked,
      threads,
      onProgress: ({ loaded, total }) => {
        if (total) {
          progress.max = total;
          progress.value = loaded;
        }
        $('progress-text').textContent = total ? `${mb(loaded)} of ${mb(total)}` : `${mb(loaded)}`;
      },
    });
    const i = model.info;
    $('progress-text').textContent = `loaded in ${((performance.now() - started) / 1000).toFixed(2)} s`;
    $('model-info').textContent = `${i.arch} · ${(i.params / 1e6).toFixed(2)}M parameters · vocabulary ` +
      `${i.vocab} · context ${i.context} · ${i.build} build, ${i.threads} thread${i.threads > 1 ? 's' : ''}`;
    setState('ready');
  } catch (e) {
    progress.hidden = true;
    $('progress-text').textContent = '';
    showError(e);
    setState('idle');
  } finally {
    loadController = null;
    refreshCache();
  }
}

// --- generation ---------------------------------------------------------------------------

function numberOf(id, fallback) {
  const v = $(id).value.trim();
  return v === '' ? fallback : Number(v);
}

async function generate() {
  showError(null);
  setState('generating');
  const prompt = $('prompt').value;
  $('output-prompt').textContent = prompt;
  const out = $('output-text');
  out.textContent = '';
  generateController = new AbortController();
  const options = {
    temperature: numberOf('temperature', 0.8),
    topK: numberOf('top-k', 40),
    topP: numberOf('top-p', 0.95),
    minP: numberOf('min-p', 0.05),
    repeatPenalty: numberOf('repeat-penalty', 1),
    seed: numberOf('seed', undefined),
    maxTokens: numberOf('max-tokens', 256),
    signal: generateController.signal,
  };
  const started = performance.now();
  let first = 0;
  let count = 0;
  const stats = (done) => {
    const now = performance.now();
    const rate = count > 1 ? ((count - 1) * 1000) / (now - first) : 0;
    $('stats').textContent = `${count} tokens · first token ${first ? Math.round(first - started) : '–'} ms` +
      ` · ${rate.toFixed(rate < 100 ? 1 : 0)} tok/s${done ? '' : ' …'}`;
  };
  try {
    for await (const token of model.generate(prompt, options)) {
      if (token.id >= 0) {
        count++;
        if (!first) first = performance.now();
      }
      if (token.text) out.append(token.text);
      stats(false);
    }
  } catch (e) {
    if (e.code !== 'aborted') showError(e);
  } finally {
    stats(true);
    generateController = null;
    document.body.dataset.generations = String(Number(document.body.dataset.generations ?? 0) + 1);
    setState(model ? 'ready' : 'idle');
  }
}

// --- cache --------------------------------------------------------------------------------

async function refreshCache() {
  const list = $('cache-list');
  const entries = await listCachedModels().catch(() => []);
  list.replaceChildren(...entries.map(({ url, size }) => {
    const item = document.createElement('li');
    const remove = document.createElement('button');
    remove.type = 'button';
    remove.textContent = 'delete';
    remove.onclick = async () => {
      await deleteCachedModel(url);
      refreshCache();
    };
    item.append(`${url.split('/').pop()} (${mb(size)}) `, remove);
    item.title = url;
    return item;
  }));
  if (!entries.length) list.replaceChildren(Object.assign(document.createElement('li'), { textContent: 'none' }));
}

// --- wiring -------------------------------------------------------------------------------

$('model-form').addEventListener('submit', (e) => {
  e.preventDefault();
  load();
});
$('cancel-load').addEventListener('click', () => loadController?.abort());
$('generate-form').addEventListener('submit', (e) => {
  e.preventDefault();
  if (model && !generateController) generate();
});
$('stop').addEventListener('click', () => generateController?.abort());
$('model-url').addEventListener('input', () => { document.querySelector('input[value=url]').checked = true; });
$('model-file').addEventListener('change', () => {
  droppedFile = null;
  document.querySelector('input[value=file]').checked = true;
});

const drop = $('drop-zone');
drop.addEventListener('dragover', (e) => {
  e.preventDefault();
  drop.classList.add('over');
});
drop.addEventListener('dragleave', () => drop.classList.remove('over'));
drop.addEventListener('drop', (e) => {
  e.preventDefault();
  drop.classList.remove('over');
  const file = e.dataTransfer.files[0];
  if (!file) return;
  droppedFile = file;
  drop.textContent = `${file.name} (${mb(file.size)})`;
  document.querySelector('input[value=file]').checked = true;
});

describeRuntime();
setState('idle');
refreshCache();
