// Encoder-decoder (T5) models through the Node API and the CLI, against the independent
// references scripts/make_t5_fixtures.py wrote: SentencePiece's ids for the prompt (with
// the </s> T5 prompts end with) and its text for the greedy ids a float64 PyTorch T5
// generated (tests/fixtures/t5/NAME.json).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { loadModel, PocketLMError } from '../js/index.js';
import { cli } from './helpers/cli.js';

const fixture = (name) => `tests/fixtures/t5/${name}`;
const path = (p) => fileURLToPath(new URL(`../${p}`, import.meta.url));
const reference = (name) => JSON.parse(readFileSync(path(fixture(`${name}.json`)), 'utf8'));

for (const name of ['t5_gated', 't5_relu_tied']) {
  test(`${name}: prompt ids, greedy ids and text equal the references; 2 threads the same`, async () => {
    const ref = reference(name);
    for (const threads of [1, 2]) {
      const model = await loadModel(path(fixture(`${name}.gguf`)), { threads });
      try {
        assert.equal(model.info.arch, 't5');
        assert.equal(model.info.encoder_decoder, true);
        assert.deepEqual([...model.tokenize(ref.prompt, { bos: true })], ref.prompt_ids);
        // more ids than bytes (the normalization expands U+FDFA): the engine asks for room
        assert.deepEqual([...model.tokenize(ref.expanding)], ref.expanding_ids);
        const ids = [];
        let text = '';
        for await (const t of model.generate(ref.prompt, { maxTokens: ref.greedy.length, temperature: 0 })) {
          if (t.id >= 0) ids.push(t.id);
          text += t.text;
        }
        assert.deepEqual(ids, ref.greedy);
        assert.equal(text, ref.greedy_text);
        // each prompt replaces the encoder output of the one before
        for await (const t of model.generate('The end.', { maxTokens: 3, temperature: 0 })) assert.ok(t.id >= -1);
        const again = [];
        for await (const t of model.generate(ref.prompt, { maxTokens: 3, temperature: 0 })) again.push(t.id);
        assert.deepEqual(again, ref.greedy.slice(0, 3));
      } finally {
        await model.dispose();
      }
    }
  });
}

test('t5: inspect is refused with a typed error; the CLI generates the same text', async () => {
  const ref = reference('t5_gated');
  const model = await loadModel(path(fixture('t5_gated.gguf')));
  try {
    assert.throws(() => model.inspect('Once'), (e) => e instanceof PocketLMError && e.code === 'invalid_state');
  } finally {
    await model.dispose();
  }
  const r = await cli(['generate', '-m', fixture('t5_gated.gguf'), '-p', ref.prompt, '-n', String(ref.greedy.length),
    '--temperature', '0']);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout, ref.greedy_text);
  const tok = await cli(['tokenize', '-m', fixture('t5_gated.gguf'), '-p', ref.prompt, '--bos']);
  assert.equal(tok.stdout, `${ref.prompt_ids.join(' ')}\n`);
});
