#!/usr/bin/env node
// pocketlm command line (contract: /work/shared/DESIGN.md). stdout carries only the result
// (generated text, token ids, info JSON); logs and speed go to stderr. Any error: exit
// status 1 and exactly one stderr line "pocketlm: <code>: <message>".
import { readFile } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { loadModel, PocketLMError } from './index.js';
import { TEMPLATE_NAMES } from './chat.js';
import { quantizeFile, SHAPES, synthFile } from './tools.js';

const USAGE = `usage:
  pocketlm generate -m MODEL [-t TOKENIZER] [-p PROMPT] [-n N] [--temperature T] [--top-k K]
                    [--top-p P] [--min-p P] [--repeat-penalty R] [--repeat-last-n N]
                    [--seed S] [--stop STR]... [--threads N] [-c CONTEXT]
  pocketlm chat -m MODEL [-t TOKENIZER] [--system TEXT] [--template NAME] [-n N]
                [sampling options as generate] [--threads N] [-c CONTEXT]
  pocketlm tokenize -m MODEL [-t TOKENIZER] (-p TEXT | -f FILE...) [--bos] [--special]
  pocketlm info -m MODEL [-t TOKENIZER]
  pocketlm quantize IN.gguf OUT.gguf --type TYPE
  pocketlm synth -o OUT.gguf --shape SHAPE [--type TYPE] [--seed S]

  MODEL is a GGUF file or a llama2.c checkpoint (.bin, which needs -t tokenizer.bin);
  tokenize and info also take a vocabulary-only GGUF, or GPT-2's encoder.json with
  -t vocab.bpe. tokenize prints one line of ids per text (-f may be given several times).
  generate prints only the generated text; -n defaults to 256, --temperature 0 is greedy.
  chat reads one user message per line from stdin and streams each reply to stdout,
  followed by a newline; the format comes from the model's chat template, or --template
  (${TEMPLATE_NAMES.join(', ')}).
  Sampling defaults: --temperature 0.8 --top-k 40 --top-p 0.95 --min-p 0.05
  --repeat-penalty 1 (off) --repeat-last-n 64 (0 or 1 turns a filter off), random seed.
  quantize writes the 2-D weights in TYPE (F32 F16 BF16 Q4_0 Q4_1 Q5_0 Q5_1 Q8_0 Q2_K
  Q3_K Q4_K Q5_K Q6_K), keeping norms and metadata. synth writes a llama model with random
  weights (seed, default 0) and a byte-fallback tokenizer; SHAPE is ${Object.keys(SHAPES).join(', ')},
  TYPE defaults to F16.
`;

// name -> [type, key]; a value is always the next argument (it may start with '-').
const OPTIONS = {
  '-m': ['string', 'model'], '--model': ['string', 'model'],
  '-t': ['string', 'tokenizer'], '--tokenizer': ['string', 'tokenizer'],
  '-p': ['string', 'prompt'], '--prompt': ['string', 'prompt'],
  '-f': ['strings', 'file'], '--file': ['strings', 'file'],
  '-n': ['int', 'maxTokens'], '--n-predict': ['int', 'maxTokens'],
  '-c': ['int', 'context'], '--context': ['int', 'context'],
  '--temperature': ['number', 'temperature'], '--temp': ['number', 'temperature'],
  '--top-k': ['int', 'topK'],
  '--top-p': ['number', 'topP'],
  '--min-p': ['number', 'minP'],
  '--repeat-penalty': ['number', 'repeatPenalty'],
  '--repeat-last-n': ['int', 'repeatLastN'],
  '--seed': ['int', 'seed'], '-s': ['int', 'seed'],
  '--stop': ['strings', 'stop'],
  '--threads': ['int', 'threads'],
  '--bos': ['flag', 'bos'],
  '--special': ['flag', 'special'],
  '--no-simd': ['flag', 'noSimd'],   // tests: scalar reference kernels
  '--type': ['string', 'type'],
  '-o': ['string', 'output'], '--output': ['string', 'output'],
  '--shape': ['string', 'shape'],
  '--system': ['string', 'system'],
  '--template': ['string', 'template'],
  '-h': ['flag', 'help'], '--help': ['flag', 'help'],
};
const SAMPLING_KEYS = ['maxTokens', 'temperature', 'topK', 'topP', 'minP', 'repeatPenalty',
  'repeatLastN', 'seed', 'stop'];

function usageError(message) {
  return new PocketLMError('invalid_argument', message);
}

function parseArgs(argv) {
  const opts = {};
  const given = {};   // key -> the option as written, for messages
  const positionals = [];
  for (let i = 0; i < argv.length; i++) {
    let arg = argv[i];
    if (!arg.startsWith('-') || arg === '-') {
      positionals.push(arg);
      continue;
    }
    let value;
    const eq = arg.startsWith('--') ? arg.indexOf('=') : -1;
    if (eq > 0) [arg, value] = [arg.slice(0, eq), arg.slice(eq + 1)];
    const spec = OPTIONS[arg];
    if (!spec) throw usageError(`unknown option ${arg} (see --help)`);
    const [type, key] = spec;
    given[key] = arg;
    if (type === 'flag') {
      if (value !== undefined) throw usageError(`${arg} takes no value`);
      opts[key] = true;
      continue;
    }
    if (value === undefined) {
      if (i + 1 >= argv.length) throw usageError(`${arg} needs a value`);
      value = argv[++i];
    }
    if (type === 'strings') (opts[key] ??= []).push(value);
    else opts[key] = type === 'string' ? value : parseNumber(arg, value, type);
  }
  return { opts, given, positionals };
}

function parseNumber(arg, text, type) {
  const x = text.trim() === '' ? NaN : Number(text);
  if (!Number.isFinite(x) || (type === 'int' && !Number.isInteger(x)))
    throw usageError(`${arg} needs ${type === 'int' ? 'an integer' : 'a number'}, not '${text}'`);
  return x;
}

// vocabOnly: just the tokenizer (pl_load_vocab), enough for tokenize.
async function open(opts, vocabOnly = false) {
  if (opts.model === undefined) throw usageError('-m MODEL is required');
  return loadModel(opts.model, {
    tokenizer: opts.tokenizer,
    threads: opts.threads ?? 1,
    context: opts.context ?? 0,
    simd: !opts.noSimd,
    vocabOnly,
  });
}

function samplingSettings(opts, out) {
  const settings = { maxTokens: 256, signal: out.signal };
  for (const key of SAMPLING_KEYS) if (opts[key] !== undefined) settings[key] = opts[key];
  return settings;
}

async function generate(opts, out) {
  const model = await open(opts);
  try {
    const settings = samplingSettings(opts, out);
    const t0 = performance.now();
    let first = 0, n = 0;
    for await (const token of model.generate(opts.prompt ?? '', settings)) {
      if (token.id >= 0 && n++ === 0) first = performance.now();
      if (token.text) await out.write(token.text);
    }
    const t1 = performance.now();
    let speed = '';
    if (n > 0) speed += `; prompt + first token ${(first - t0).toFixed(1)} ms`;
    if (n > 1) speed += `, then ${((n - 1) / ((t1 - first) / 1000)).toFixed(1)} tokens/s`;
    const sep = process.stderr.isTTY && process.stdout.isTTY ? '\n' : '';   // after the text on a terminal
    process.stderr.write(`${sep}[pocketlm] ${n} tokens in ${((t1 - t0) / 1000).toFixed(3)} s${speed}\n`);
  } finally {
    await model.dispose();
  }
}

async function tokenize(opts, out) {
  if ((opts.prompt === undefined) === (opts.file === undefined))
    throw usageError('tokenize needs -p TEXT or -f FILE (not both)');
  const texts = opts.file === undefined ? [opts.prompt] : await Promise.all(opts.file.map(readText));
  const model = await open(opts, true);
  try {
    for (const text of texts) {
      const ids = model.tokenize(text, { bos: !!opts.bos, special: !!opts.special });
      await out.write(ids.join(' ') + '\n');
    }
  } finally {
    await model.dispose();
  }
}

// A file's raw bytes (they need not be valid UTF-8).
async function readText(path) {
  try {
    return new Uint8Array(await readFile(path));
  } catch (e) {
    const code = e.code === 'ENOENT' ? 'file_not_found' : 'invalid_argument';
    throw new PocketLMError(code, `${path}: ${e.code === 'ENOENT' ? 'no such file' : e.message}`);
  }
}

// A whole model when the file is one; else (no weights, or GPT-2's encoder.json) its
// tokenizer alone. Other errors are the whole model's.
async function info(opts, out) {
  let model;
  try {
    model = await open(opts);
  } catch (e) {
    if (!(e instanceof PocketLMError && (e.code === 'bad_format' || e.code === 'unsupported_architecture'))) throw e;
    model = await open(opts, true).catch(() => {
      throw e;
    });
  }
  try {
    await out.write(JSON.stringify(model.info, null, 2) + '\n');
  } finally {
    await model.dispose();
  }
}

// One user message per stdin line; each reply streams to stdout and ends with a newline.
// The whole conversation is the prompt of every reply. EOF ends the chat.
async function chat(opts, out) {
  const model = await open(opts);
  try {
    const messages = opts.system === undefined ? [] : [{ role: 'system', content: opts.system }];
    const template = { chatTemplate: opts.template };
    model.formatChat([...messages, { role: 'user', content: '' }], template);   // template errors first
    const settings = { ...samplingSettings(opts, out), ...template };
    const interactive = process.stdin.isTTY;
    const prompt = () => interactive && process.stderr.write('> ');
    prompt();
    for await (const line of createInterface({ input: process.stdin, crlfDelay: Infinity })) {
      if (line.trim() === '') {
        prompt();
        continue;
      }
      messages.push({ role: 'user', content: line });
      let reply = '';
      for await (const token of model.generate(messages, settings)) {
        reply += token.text;
        if (token.text) await out.write(token.text);
      }
      await out.write('\n');
      messages.push({ role: 'assistant', content: reply });
      if (out.closed) break;
      prompt();
    }
  } finally {
    await model.dispose();
  }
}

async function quantize(opts, out, [input, output]) {
  if (input === undefined || output === undefined) throw usageError('quantize needs IN.gguf OUT.gguf');
  if (opts.type === undefined) throw usageError('quantize needs --type TYPE');
  const t0 = performance.now();
  await quantizeFile(input, output, opts.type);
  process.stderr.write(`[pocketlm] wrote ${output} in ${((performance.now() - t0) / 1000).toFixed(1)} s\n`);
}

async function synth(opts) {
  if (opts.output === undefined) throw usageError('synth needs -o OUT.gguf');
  if (opts.shape === undefined) throw usageError(`synth needs --shape (${Object.keys(SHAPES).join(', ')})`);
  if (opts.seed !== undefined && opts.seed < 0) throw usageError('--seed must be >= 0');
  const t0 = performance.now();
  await synthFile(opts.output, { shape: opts.shape, type: opts.type, seed: opts.seed });
  process.stderr.write(`[pocketlm] wrote ${opts.output} in ${((performance.now() - t0) / 1000).toFixed(1)} s\n`);
}

// Each command, the options it takes (generate, chat, tokenize and info also take the
// hidden --no-simd) and how many positional arguments.
const LOAD_KEYS = ['model', 'tokenizer', 'threads', 'context', 'noSimd'];
const COMMANDS = {
  generate: [generate, [...LOAD_KEYS, 'prompt', ...SAMPLING_KEYS]],
  chat: [chat, [...LOAD_KEYS, 'system', 'template', ...SAMPLING_KEYS]],
  tokenize: [tokenize, [...LOAD_KEYS, 'prompt', 'file', 'bos', 'special']],
  info: [info, LOAD_KEYS],
  quantize: [quantize, ['type'], 2],
  synth: [synth, ['output', 'shape', 'type', 'seed']],
};

// stdout with backpressure; a closed pipe (e.g. `| head`) stops the work quietly.
function stdoutWriter() {
  const abort = new AbortController();
  let closed = false;
  process.stdout.on('error', () => {   // EPIPE: the reader went away
    closed = true;
    abort.abort();
  });
  return {
    signal: abort.signal,
    get closed() {
      return closed;
    },
    write(text) {
      if (closed || process.stdout.write(text)) return Promise.resolve();
      return new Promise((resolve) => {   // wait for 'drain', or for the pipe to close
        const done = () => {
          process.stdout.off('drain', done);
          abort.signal.removeEventListener('abort', done);
          resolve();
        };
        process.stdout.on('drain', done);
        abort.signal.addEventListener('abort', done);
      });
    },
    // resolves once everything written so far has been handed to the OS
    flush() {
      if (closed) return Promise.resolve();
      return new Promise((resolve) => process.stdout.write('', () => resolve()));
    },
  };
}

// The one-line error contract, also for anything thrown outside main's own flow.
function fail(e) {
  const code = e instanceof PocketLMError ? e.code : 'internal_error';
  const message = String(e?.message ?? e).replace(/\s*\n\s*/g, ' ');
  process.stderr.write(`pocketlm: ${code}: ${message}\n`);
}

process.on('uncaughtException', (e) => {
  fail(e);
  process.exit(1);
});

async function main(argv) {
  const out = stdoutWriter();
  let status = 0;
  try {
    const { opts, given, positionals } = parseArgs(argv);
    if (opts.help) {
      await out.write(USAGE);
    } else {
      const [command, ...extra] = positionals;
      if (!command) throw usageError(`no command given (${Object.keys(COMMANDS).join(', ')}; see --help)`);
      if (!Object.hasOwn(COMMANDS, command)) throw usageError(`unknown command '${command}' (see --help)`);
      const [run, keys, nArgs = 0] = COMMANDS[command];
      if (extra.length > nArgs) throw usageError(`unexpected argument '${extra[nArgs]}'`);
      for (const key of Object.keys(opts))
        if (!keys.includes(key)) throw usageError(`${command} does not take ${given[key]} (see --help)`);
      await run(opts, out, extra);
    }
  } catch (e) {
    if (!(e instanceof PocketLMError && e.code === 'aborted' && out.closed)) {
      fail(e);
      status = 1;
    }
  }
  await out.flush();
  process.stderr.write('', () => process.exit(status));
}

main(process.argv.slice(2));
