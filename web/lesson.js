// The lesson page: the bundled stories260K model opened up with model.inspect() (tokens,
// attention weights, the next-token distribution, the residual stream). All numbers come
// from the engine; this file only lays them out.
// document.body.dataset.state: loading, ready, inspecting; dataset.inspections counts the
// inspections shown (for tests and automation).
import { loadModel } from '../js/browser.js';

const BUNDLED = new URL('../models/stories260K.gguf', import.meta.url).href;
const TOP = 10;   // next-token candidates shown
const $ = (id) => document.getElementById(id);

let model = null;
let shown = null;   // { result, pieces, nextPieces, top }

function setState(state) {
  document.body.dataset.state = state;
  for (const id of ['inspect', 'append', 'sample']) $(id).disabled = state !== 'ready';
}

function showError(error) {
  $('error').hidden = !error;
  $('error').textContent = error ? `${error.code ?? 'error'}: ${error.message}` : '';
}

// Spaces and line ends made visible: they matter to the tokenizer.
const visible = (piece) => piece.replace(/ /g, '␣').replace(/\n/g, '⏎');

// The text each token adds: the difference of the detokenized prefixes (a lone token's
// text loses the space SentencePiece puts before a first word).
async function piecesOf(ids) {
  const pieces = [];
  let before = '';
  for (let i = 1; i <= ids.length; i++) {
    const text = await model.detokenize(ids.slice(0, i));
    pieces.push(ids[i - 1] === model.info.bos ? '<s>' : text.slice(before.length));
    before = text;
  }
  return pieces;
}

// The text each token of `next` would add after ids.
async function piecesAfter(ids, next) {
  const text = await model.detokenize(ids);
  const pieces = [];
  for (const id of next) pieces.push((await model.detokenize([...ids, id])).slice(text.length));
  return pieces;
}

// One action at a time: a click or a temperature change while one runs is ignored.
const idle = () => document.body.dataset.state === 'ready';

async function inspect() {
  if (!idle()) return;
  setState('inspecting');
  showError(null);
  try {
    const prompt = $('prompt').value, temperature = Number($('temperature').value);
    const result = await model.inspect(prompt, { temperature, maxTokens: 64 });
    const ids = [...result.ids];
    const top = [...result.probs.keys()].sort((a, b) => result.probs[b] - result.probs[a]).slice(0, TOP);
    shown = { prompt, result, pieces: await piecesOf(ids), nextPieces: await piecesAfter(ids, top), top };
    render();
    document.body.dataset.inspections = String(Number(document.body.dataset.inspections ?? 0) + 1);
  } catch (e) {
    showError(e);
  } finally {
    setState('ready');
  }
}

function render() {
  const { result, pieces } = shown;
  $('tokens').replaceChildren(...pieces.map((piece, i) => {
    const chip = document.createElement('span');
    chip.className = 'token';
    chip.innerHTML = '<b></b><small></small>';
    chip.firstChild.textContent = visible(piece);
    chip.lastChild.textContent = String(result.ids[i]);
    return chip;
  }));
  $('token-count').textContent = `${result.tokens} tokens`;
  fillSelect($('layer'), result.layers, (i) => `${i + 1}`);
  fillSelect($('head'), result.heads, (i) => `${i + 1}`);
  fillSelect($('stream-token'), result.tokens, (i) => `${i}: ${visible(pieces[i])}`, result.tokens - 1);
  $('attention-note').textContent = '';
  focused = null;
  drawAttention();
  drawNext();
  drawStream();
}

// Keeps the selection when the options stay the same; else selects `initial`.
function fillSelect(select, n, label, initial = 0) {
  const keep = select.options.length === n ? select.selectedIndex : initial;
  select.replaceChildren(...Array.from({ length: n }, (_, i) => new Option(label(i), String(i))));
  select.selectedIndex = keep;
}

// --- attention --------------------------------------------------------------------------

const MARGIN = 64;   // room for the token labels

function attentionRow(i) {
  const { result } = shown;
  const T = result.tokens, l = Number($('layer').value), h = Number($('head').value);
  const at = ((l * result.heads + h) * T + i) * T;
  return result.attention.subarray(at, at + T);
}

function drawAttention() {
  const canvas = $('attention'), g = canvas.getContext('2d');
  const T = shown.result.tokens, cell = (canvas.width - MARGIN) / T;
  g.clearRect(0, 0, canvas.width, canvas.height);
  g.font = '11px system-ui, sans-serif';
  g.fillStyle = '#1d2330';
  g.textBaseline = 'middle';
  for (let i = 0; i < T; i++) {
    const label = visible(shown.pieces[i]).slice(0, 8);
    g.textAlign = 'right';
    g.fillText(label, MARGIN - 4, MARGIN + (i + 0.5) * cell);
    g.save();
    g.translate(MARGIN + (i + 0.5) * cell, MARGIN - 4);
    g.rotate(-Math.PI / 2);
    g.textAlign = 'left';
    g.fillText(label, 0, 0);
    g.restore();
    const row = attentionRow(i);
    for (let j = 0; j <= i; j++) {
      g.fillStyle = `rgba(47, 111, 219, ${row[j].toFixed(3)})`;
      g.fillRect(MARGIN + j * cell, MARGIN + i * cell, cell - 1, cell - 1);
    }
    g.fillStyle = '#1d2330';
  }
}

// The cell (i, j) read out below the heatmap, and framed in it.
let focused = null;

function describe(i, j) {
  const name = (k) => `“${visible(shown.pieces[k])}” (${k})`;
  $('attention-note').textContent =
    `${name(i)} takes ${(attentionRow(i)[j] * 100).toFixed(1)} % of what it reads from ${name(j)}`;
  drawAttention();
  focused = { i, j };
  const canvas = $('attention'), g = canvas.getContext('2d'), cell = (canvas.width - MARGIN) / shown.result.tokens;
  g.strokeStyle = '#b3261e';
  g.lineWidth = 2;
  g.strokeRect(MARGIN + j * cell, MARGIN + i * cell, cell - 1, cell - 1);
}

function describeCell(event) {
  if (!shown) return;
  const canvas = $('attention'), box = canvas.getBoundingClientRect();
  const T = shown.result.tokens, cell = (canvas.width - MARGIN) / T;
  const x = ((event.clientX - box.left) * canvas.width) / box.width - MARGIN;
  const y = ((event.clientY - box.top) * canvas.height) / box.height - MARGIN;
  const i = Math.floor(y / cell), j = Math.floor(x / cell);
  if (x < 0 || y < 0 || i >= T || j > i) return;
  describe(i, j);
}

// The keyboard's way round the heatmap: arrows move within the lower triangle.
function moveCell(event) {
  const step = { ArrowUp: [-1, 0], ArrowDown: [1, 0], ArrowLeft: [0, -1], ArrowRight: [0, 1] }[event.key];
  if (!shown || !step) return;
  event.preventDefault();
  const T = shown.result.tokens, { i, j } = focused ?? { i: T - 1, j: 0 };
  const ni = Math.min(T - 1, Math.max(0, i + step[0])), nj = Math.min(ni, Math.max(0, j + step[1]));
  describe(ni, nj);
}

// --- next token and residual stream -------------------------------------------------------

// A bar per token: its text, its probability p; `chosen` marks one.
function bar(piece, p, chosen = false) {
  const item = document.createElement('li');
  item.innerHTML = '<span class="piece"></span><span class="bar"></span><span class="p"></span>';
  item.children[0].textContent = visible(piece);
  item.children[1].style.width = `${(p * 100).toFixed(1)}%`;
  item.children[2].textContent = `${(p * 100).toFixed(1)} %`;
  item.classList.toggle('chosen', chosen);
  return item;
}

function drawNext() {
  const { result, nextPieces, top } = shown;
  $('next').replaceChildren(...top.map((id, k) => bar(nextPieces[k], result.probs[id])));
}

// One token drawn as generate() draws it, with what the filters kept; then it joins the prompt.
async function sampleOne() {
  if (!idle()) return;
  setState('inspecting');
  showError(null);
  try {
    const prompt = $('prompt').value;
    const options = { maxTokens: 1, candidates: TOP, temperature: Number($('temperature').value),
      topK: Number($('top-k').value), topP: Number($('top-p').value), minP: Number($('min-p').value) };
    let token = null;
    for await (const t of model.generate(prompt, options)) token ??= t;
    if (!token) throw Object.assign(new Error('the model ended the text here'), { code: 'end_of_text' });
    const ids = await model.tokenize(prompt, { bos: model.info.add_bos });
    const pieces = await piecesAfter([...ids], token.candidates.map((c) => c.id));
    $('drawn').replaceChildren(...token.candidates.map(({ id, p }, k) => bar(pieces[k], p, id === token.id)));
    $('kept').textContent = `the filters kept ${token.candidateCount} of ${model.info.vocab}; drew “${visible(token.text)}”`;
    $('prompt').value = prompt + token.text;
  } catch (e) {
    showError(e);
    return;
  } finally {
    setState('ready');
  }
  await inspect();
}

function drawStream() {
  const canvas = $('stream'), g = canvas.getContext('2d');
  const { result } = shown, L = result.layers + 1, D = result.dim, t = Number($('stream-token').value);
  const values = result.hidden.subarray(t * L * D, (t + 1) * L * D);
  const scale = Math.max(...values.map(Math.abs)) || 1;
  const left = 80, w = (canvas.width - left) / D, h = canvas.height / L;
  g.clearRect(0, 0, canvas.width, canvas.height);
  g.font = '12px system-ui, sans-serif';
  g.textBaseline = 'middle';
  for (let r = 0; r < L; r++) {
    g.fillStyle = '#1d2330';
    g.fillText(r ? `layer ${r}` : 'embedding', 0, (r + 0.5) * h);
    for (let d = 0; d < D; d++) {
      const v = values[r * D + d] / scale;
      g.fillStyle = v >= 0 ? `rgba(200, 40, 40, ${v.toFixed(3)})` : `rgba(40, 90, 200, ${(-v).toFixed(3)})`;
      g.fillRect(left + d * w, r * h + 1, w - 1, h - 2);
    }
  }
}

// The most likely token after the text as it is now (looked at again if it was edited).
async function appendTop() {
  if (!idle()) return;
  if (shown?.prompt !== $('prompt').value) await inspect();
  if (!shown || shown.prompt !== $('prompt').value) return;   // the look failed
  $('prompt').value += shown.nextPieces[0];
  await inspect();
}

// --- start --------------------------------------------------------------------------------

$('inspect').addEventListener('click', inspect);
$('append').addEventListener('click', appendTop);
$('sample').addEventListener('click', sampleOne);
$('temperature').addEventListener('input', () => {
  $('temperature-value').textContent = Number($('temperature').value).toFixed(1);
});
$('temperature').addEventListener('change', () => shown && inspect());   // ignored while busy
const redrawAttention = () => (focused ? describe(focused.i, focused.j) : drawAttention());
$('layer').addEventListener('change', redrawAttention);
$('head').addEventListener('change', redrawAttention);
$('stream-token').addEventListener('change', drawStream);
$('attention').addEventListener('mousemove', describeCell);
$('attention').addEventListener('keydown', moveCell);
$('attention').addEventListener('focus', () => shown && !focused && describe(shown.result.tokens - 1, 0));

setState('loading');
try {
  model = await loadModel(BUNDLED, { threads: 1 });
  $('status').textContent = `stories260K loaded: ${model.info.params.toLocaleString('en')} parameters, ` +
    `vocabulary ${model.info.vocab}; everything below is computed in this page.`;
  setState('ready');
  await inspect();
} catch (e) {
  $('status').textContent = '';
  showError(e);
}
