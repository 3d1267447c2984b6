// Chat templates: the prompt text for a conversation of { role, content } messages, in the
// format of the model's family, and the family's end-of-turn token(s). A model's GGUF
// carries its template as Jinja text (tokenizer.chat_template); we do not run Jinja but
// recognise the family by markers only it uses, as llama.cpp's llm_chat_detect_template
// does, and format the conversation the way that template would (llama.cpp's formats).
// The formatted text never starts with BOS text: the tokenizer adds BOS per the metadata.
import { PocketLMError } from './errors.js';

const ROLES = Object.freeze(['system', 'user', 'assistant']);

// Family -> formatter(messages, { eos }) -> prompt ending with the generation prompt, and
// the end-of-turn texts the model emits after its reply (EOS always ends a reply too).
const FAMILIES = {
  chatml: { format: chatml, endOfTurn: ['<|im_end|>'] },
  llama2: { format: llama2({}), endOfTurn: [] },
  'llama2-sys': { format: llama2({ system: true }), endOfTurn: [] },
  'llama2-sys-bos': { format: llama2({ system: true, bosInHistory: true }), endOfTurn: [] },
  'llama2-sys-strip': { format: llama2({ system: true, strip: true }), endOfTurn: [] },
  llama3: { format: llama3, endOfTurn: ['<|eot_id|>'] },
  phi3: { format: phi3, endOfTurn: ['<|end|>'] },
  gemma: { format: gemma, endOfTurn: ['<end_of_turn>'] },
  zephyr: { format: zephyr, endOfTurn: [] },
};
export const TEMPLATE_NAMES = Object.freeze(Object.keys(FAMILIES));

/**
 * The family of a chat template: a family name given as it is, or Jinja text recognised
 * by its markers. Returns { name, supported }: name null when nothing is recognised,
 * supported false for a family llama.cpp knows and pocketlm does not format.
 */
export function detectTemplate(template) {
  if (Object.hasOwn(FAMILIES, template)) return { name: template, supported: true };
  const has = (s) => template.includes(s);
  const family = (name) => ({ name, supported: Object.hasOwn(FAMILIES, name) });
  if (has('<|im_start|>')) {
    if (has('<|im_sep|>')) return family('phi4');
    return family(has('<end_of_utterance>') ? 'smolvlm' : 'chatml');
  }
  if (template.startsWith('mistral') || has('[INST]')) {
    if (has('[SYSTEM_PROMPT]')) return family('mistral-v7');
    if (has("' [INST] ' + system_message") || has('[AVAILABLE_TOOLS]')) return family('mistral-v1/v3');
    // Llama 2 and its variants: <<SYS>> blocks, BOS before every [INST], trimmed content
    if (has('content.strip()')) return family('llama2-sys-strip');
    if (has("bos_token + '[INST]")) return family('llama2-sys-bos');
    return family(has('<<SYS>>') ? 'llama2-sys' : 'llama2');
  }
  if (has('<|assistant|>') && has('<|end|>')) return family('phi3');
  // Zephyr and TinyLlama close every turn with eos_token, stablelm-2-zephyr with <|endoftext|>
  if (has('<|user|>') && (/<\|user\|>[^}]*message\['content'\]\s*\+\s*eos_token/.test(template) || has('<|endoftext|>')))
    return family('zephyr');
  if (has('[gMASK]')) return family('chatglm');
  if (has('<|assistant|>') && has('<|user|>')) return family(has('</s>') ? 'falcon3' : 'glmedge');
  if (has("bos_token + message['role']")) return family('monarch');
  if (has('<start_of_turn>')) return family('gemma');
  if (has('GPT4 Correct ')) return family('openchat');
  if (has('USER: ') && has('ASSISTANT: ')) return family('vicuna');
  if (has('### Instruction:') && has('<|EOT|>')) return family('deepseek');
  if (has('<|START_OF_TURN_TOKEN|>')) return family('command-r');
  if (has('<|start_header_id|>') && has('<|end_header_id|>')) return family('llama3');
  if (has('<|header_start|>')) return family('llama4');
  if (has('<|start_of_role|>')) return family('granite');
  return { name: null, supported: false };
}

/**
 * What generate(messages) needs: { name, text (to tokenize with special tokens parsed),
 * stopIds, stopStrings }. model: { info, tokenize(text, { special }) }. chatTemplate: a family name (or Jinja
 * text) that overrides the model's tokenizer.chat_template.
 */
export function prepareChat(model, messages, chatTemplate) {
  checkMessages(messages);
  const name = templateName(model.info.chat_template, chatTemplate);
  const { eos } = model.info;
  // the id of a special token's text (one token with special parsing, several without)
  const tokenId = (text) => {
    const ids = model.tokenize(text, { special: true });
    return ids.length === 1 && model.tokenize(text).length > 1 ? ids[0] : -1;
  };
  const eosText = name === 'zephyr' ? eosTokenText(tokenId, eos) : null;
  const text = FAMILIES[name].format(messages, { eos: eosText });
  // an end-of-turn text that is one special token stops on its id; one the vocabulary
  // lacks can only appear as plain text, so it becomes a stop string
  const stopIds = [], stopStrings = [];
  for (const turnEnd of FAMILIES[name].endOfTurn) {
    const id = tokenId(turnEnd);
    if (id >= 0) stopIds.push(id);
    else stopStrings.push(turnEnd);
  }
  return { name, text, stopIds, stopStrings };
}

function templateName(modelTemplate, chatTemplate) {
  if (chatTemplate != null) {
    if (typeof chatTemplate != 'string')
      throw new PocketLMError('invalid_argument', 'chatTemplate must be a template name');
    const { name, supported } = detectTemplate(chatTemplate);
    if (!supported)
      throw new PocketLMError('unsupported_template', `chat template '${clip(chatTemplate)}'` +
        `${name ? ` (${name})` : ''} is not supported; use one of ${TEMPLATE_NAMES.join(', ')}`);
    return name;
  }
  if (typeof modelTemplate != 'string' || modelTemplate === '')
    throw new PocketLMError('missing_template', 'the model has no chat template (tokenizer.chat_template);' +
      ` pass chatTemplate: one of ${TEMPLATE_NAMES.join(', ')}`);
  const { name, supported } = detectTemplate(modelTemplate);
  if (!supported)
    throw new PocketLMError('unsupported_template', `the model's chat template ` +
      `${name ? `looks like ${name}, which is not supported` : `is not one pocketlm recognises`}` +
      ` (it begins '${clip(modelTemplate)}'); pass chatTemplate: one of ${TEMPLATE_NAMES.join(', ')}`);
  return name;
}

// The text of the EOS token (Zephyr's template writes eos_token after every turn): the
// candidate that the tokenizer turns into exactly the EOS id.
function eosTokenText(tokenId, eos) {
  const text = ['</s>', '<|endoftext|>', '<|end_of_text|>', '<eos>'].find((t) => tokenId(t) === eos);
  if (text === undefined)
    throw new PocketLMError('unsupported_template', `zephyr needs the text of the EOS token (id ${eos}), which is none of the known ones`);
  return text;
}

function checkMessages(messages) {
  if (!Array.isArray(messages) || messages.length === 0)
    throw new PocketLMError('invalid_argument', 'messages must be a non-empty array of { role, content }');
  for (const m of messages)
    if (!m || !ROLES.includes(m.role) || typeof m.content != 'string')
      throw new PocketLMError('invalid_argument',
        `each message needs a role (${ROLES.join(', ')}) and a string content, not ${clip(JSON.stringify(m) ?? String(m))}`);
}

function clip(text) {
  const line = text.replace(/\s+/g, ' ');
  return line.length > 60 ? `${line.slice(0, 60)}...` : line;
}

// --- the formats (llama.cpp's llm_chat_apply_template, add_generation_prompt = true) -----

function chatml(messages) {
  let out = '';
  for (const { role, content } of messages) out += `<|im_start|>${role}\n${content}<|im_end|>\n`;
  return out + '<|im_start|>assistant\n';
}

// [INST] user [/INST]assistant</s>[INST] ... A system message goes into the first turn,
// in a <<SYS>> block when the variant has one.
function llama2({ system = false, bosInHistory = false, strip = false }) {
  return (messages) => {
    let out = '[INST] ';
    let inTurn = true;   // the first [INST] is written already (BOS comes from the tokenizer)
    for (const m of messages) {
      const content = strip ? m.content.trim() : m.content;
      if (!inTurn) {
        out += bosInHistory ? '<s>[INST] ' : '[INST] ';
        inTurn = true;
      }
      if (m.role === 'system') out += system ? `<<SYS>>\n${content}\n<</SYS>>\n\n` : `${content}\n`;
      else if (m.role === 'user') out += `${content} [/INST]`;
      else {
        out += `${content}</s>`;
        inTurn = false;
      }
    }
    return out;
  };
}

function llama3(messages) {
  let out = '';
  for (const { role, content } of messages)
    out += `<|start_header_id|>${role}<|end_header_id|>\n\n${content.trim()}<|eot_id|>`;
  return out + '<|start_header_id|>assistant<|end_header_id|>\n\n';
}

function phi3(messages) {
  let out = '';
  for (const { role, content } of messages) out += `<|${role}|>\n${content}<|end|>\n`;
  return out + '<|assistant|>\n';
}

// Gemma has no system role: the system text opens the next user turn. assistant = model.
function gemma(messages) {
  let out = '', system = '';
  for (const { role, content } of messages) {
    if (role === 'system') {
      system += content.trim();
      continue;
    }
    const turn = role === 'assistant' ? 'model' : role;
    out += `<start_of_turn>${turn}\n`;
    if (system && turn !== 'model') {
      out += `${system}\n\n`;
      system = '';
    }
    out += `${content.trim()}<end_of_turn>\n`;
  }
  return out + '<start_of_turn>model\n';
}

// Zephyr / TinyLlama: every turn ends with the EOS token's text.
function zephyr(messages, { eos }) {
  let out = '';
  for (const { role, content } of messages) out += `<|${role}|>\n${content}${eos}\n`;
  return out + '<|assistant|>\n';
}
