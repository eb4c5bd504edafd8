/**
 * Dialogues: typed chat messages, the official MuCo chat templates as data, and rendering to token ids with
 * the image span, the `<|emb|>` positions and the per-token turn index (docs/method.md §2, §6).
 *
 * Newline rules (Qwen2 ChatML as in the official `src/loader.py`):
 * - a message is `<|im_start|>{role}\n{content}<|im_end|>`; consecutive messages are joined by `\n`, so a
 *   sequence never ends with a newline (it ends with the last `<|im_end|>`);
 * - an "open" message has no `<|im_end|>` (π1 of `TEMPLATE_TRAIN`, as released), the `\n` joiner follows
 *   its text directly;
 * - the image placeholder is followed by `\n` before the user text: the official data writes queries as
 *   `<|image_1|>\n{text}` and expands `<|image_1|>` in place;
 * - user texts get no trailing newline. The official eval and fine-tuning loaders append `\n` to the user
 *   text while pretraining does not; we use one rule everywhere so the first turn of a k-turn sequence
 *   renders to exactly the tokens of its single-turn sequence (`userTextSuffix` restores the official
 *   eval behaviour where wanted).
 *
 * Tokenisation: the text between two special tokens is encoded as one string (as a Hugging Face tokenizer
 * encodes a rendered template), never across a turn boundary. Turn indices: -1 for the system message;
 * user message t and its replies are turn t; the `\n` joiner before a message belongs to that message's turn.
 */
import { SPECIAL_IDS, SPECIAL_TOKENS, type Tokenizer } from './tokenizer';

export type Role = 'system' | 'user' | 'assistant';

export interface TextPart {
  type: 'text';
  text: string;
}
/** The image placeholder; the pixels travel separately (the model receives them next to the ids). */
export interface ImagePart {
  type: 'image';
  image?: unknown;
}
/** The embedding token: the hidden state here is the turn's embedding. */
export interface EmbPart {
  type: 'emb';
}
/** A masked span of a fine-tuning counterpart. */
export interface MaskPart {
  type: 'mask';
}
export type ContentPart = TextPart | ImagePart | EmbPart | MaskPart;

/** A chat message (transformers.js style). A string content is plain text: special strings stay text. */
export interface Message {
  role: Role;
  content: string | readonly ContentPart[];
  /** Leave out `<|im_end|>` (the released `TEMPLATE_TRAIN` π1 line has none). */
  open?: boolean;
}

/**
 * Attention pattern of a sequence: `causal` (the MLLM's own), `bidirectional` (official `--use_bidirectional`),
 * `isolated` (each turn sees the system prompt, the image and its own tokens only, causally: the paper's
 * "without compounded supervision", Table 6).
 */
export type MaskKind = 'causal' | 'bidirectional' | 'isolated';

export const MASK_KINDS: readonly MaskKind[] = ['causal', 'bidirectional', 'isolated'];

/** A rendered dialogue: what the model and the trainer consume. */
export interface RenderedSequence {
  /** Token ids; the image span holds `imageTokens` copies of the `<|image|>` id. */
  ids: number[];
  imageSpan: { start: number; length: number } | null;
  /** Index of every `<|emb|>` token, in turn order. */
  embPositions: number[];
  /** Per token: -1 for the system prompt, t = 0, 1, .. for user turn t and its assistant reply. */
  turnIndex: number[];
  maskKind: MaskKind;
  /** Rendered text, the image span shown once as `<|image|>×N`. */
  text: string;
  /** A name for error messages (e.g. `record-12/query`). */
  id?: string;
  /** Character offset in `text` where turn t begins (lets truncation cut `text` at a turn boundary). */
  textTurnStarts?: number[];
  /**
   * With `RenderOptions.markAnswers`: per token, whether a generative model is trained to produce it (the
   * text of an assistant message and its closing `<|im_end|>`, so the model learns where an answer stops).
   */
  answer?: boolean[];
}

/** Role markers of the chat format. */
export interface ChatFormat {
  /** Text after the role name in a header: `<|im_start|>user\n`. */
  roleSuffix: string;
  /** Text between a message and the next one's `<|im_start|>`. */
  separator: string;
}

export const CHATML: Readonly<ChatFormat> = Object.freeze({ roleSuffix: '\n', separator: '\n' });

/** A part of a template message: ordinary content or the slot where the masked counterpart goes. */
export type TemplatePart = ContentPart | { type: 'counterpart' };

export interface TemplateMessage {
  role: Role;
  content: readonly TemplatePart[];
  open?: boolean;
}

/**
 * A chat template as data: system prompt, role markers, what the assistant replies to each dialogue turn
 * (where `<|emb|>` goes), and the messages after the dialogue turns (the fine-tuning reconstruction).
 */
export interface ChatTemplate {
  name: string;
  format: ChatFormat;
  /** `null` renders no system message. */
  systemPrompt: string | null;
  /** Text between the image span and the user's text of turn 0. */
  imageSeparator: string;
  /** Appended to every dialogue-turn user text. */
  userTextSuffix: string;
  /** Most dialogue turns allowed (`null`: any number ≥ 1). */
  maxTurns: number | null;
  /** The assistant reply to every dialogue turn. */
  reply: readonly ContentPart[];
  /** Messages after the dialogue turns. */
  tail: readonly TemplateMessage[];
}

/** π1 of the fine-tuning template (docs/method.md §2). */
export const DESCRIBE_PROMPT = 'Please rewrite your last response in human-readable language.';
/** π2 of the fine-tuning template (docs/method.md §2; verbatim from the released code). */
export const RECONSTRUCT_PROMPT =
  'Generate a response that first reconstructs your very last response by inferring any masked information, then acknowledges or rephrases the complete what I asked you, and finally integrates the Answer information seamlessly.';
export const SYSTEM_PROMPT = 'You are a helpful assistant.';

const EMB_REPLY: readonly ContentPart[] = Object.freeze([{ type: 'emb' }]);

/** A template, frozen (shared constants must not be edited in place; spread to make a variant). */
export function defineTemplate(template: ChatTemplate): Readonly<ChatTemplate> {
  return Object.freeze(template);
}

/** Single-turn `TEMPLATE_BASE` (eval, single-turn baseline): system, user `{image?}{text}`, assistant `<|emb|>`. */
export const TEMPLATE_BASE = defineTemplate({
  name: 'base',
  format: CHATML,
  systemPrompt: SYSTEM_PROMPT,
  imageSeparator: '\n',
  userTextSuffix: '',
  maxTurns: 1,
  reply: EMB_REPLY,
  tail: [],
});

/** Multi-turn `TEMPLATE_PRETRAIN` (§1.3): k user/assistant turns, `<|emb|>` after each, image in turn 0 only. */
export const TEMPLATE_PRETRAIN = defineTemplate({ ...TEMPLATE_BASE, name: 'pretrain', maxTurns: null });

/**
 * Fine-tuning `TEMPLATE_TRAIN` (§1.5): the single-turn prefix (initial `<|emb|>`), π1 without `<|im_end|>`,
 * the assistant's masked counterpart, π2, and the subsequent `<|emb|>`.
 */
export const TEMPLATE_TRAIN = defineTemplate({
  ...TEMPLATE_BASE,
  name: 'train',
  tail: [
    { role: 'user', content: [{ type: 'text', text: DESCRIBE_PROMPT }], open: true },
    { role: 'assistant', content: [{ type: 'counterpart' }] },
    { role: 'user', content: [{ type: 'text', text: RECONSTRUCT_PROMPT }] },
    { role: 'assistant', content: EMB_REPLY },
  ],
});

/** The templates our models render: the single-turn and k-turn embedding templates and the fine-tuning one. */
export const CHAT_TEMPLATES: readonly Readonly<ChatTemplate>[] = [TEMPLATE_BASE, TEMPLATE_PRETRAIN, TEMPLATE_TRAIN];

/**
 * The fixed texts that rendering a template adds around the user's content, as the renderer encodes them
 * (each text piece on its own): role headers (`user\n`), the message separator, the system prompt, and the
 * text of fixed replies and tail prompts. A vocabulary for the chat models is built with them
 * (lib/runner/run.ts `runTokenizer`): without them every header and prompt word falls back to one token per
 * byte, and the template alone costs 40+ tokens per sequence (docs/model.md §"The vocabulary").
 */
export function templateTexts(templates: readonly Readonly<ChatTemplate>[] = CHAT_TEMPLATES): string[] {
  const texts = new Set<string>();
  const addParts = (parts: readonly TemplatePart[]): void => {
    for (const p of parts) if (p.type === 'text' && p.text !== '') texts.add(p.text);
  };
  for (const t of templates) {
    for (const role of ['system', 'user', 'assistant'] as const) texts.add(role + t.format.roleSuffix);
    if (t.format.separator !== '') texts.add(t.format.separator);
    if (t.systemPrompt !== null && t.systemPrompt !== '') texts.add(t.systemPrompt);
    addParts(t.reply);
    for (const m of t.tail) addParts(m.content);
  }
  return [...texts];
}

/** What fills a template. */
export interface DialogueInput {
  /** One user text per dialogue turn (k ≥ 1). */
  turns: readonly string[];
  /** Turn 0 starts with the image placeholder (the pixels travel separately). */
  image?: boolean;
  /** The masked counterpart for the template's counterpart slot (fine-tuning). */
  counterpart?: readonly ContentPart[];
}

/** The messages of a template filled with an input. */
export function buildMessages(template: ChatTemplate, input: DialogueInput): Message[] {
  const k = input.turns.length;
  if (k < 1) throw new Error(`Template "${template.name}" needs at least one turn, got 0 (DialogueInput.turns is empty).`);
  if (template.maxTurns !== null && k > template.maxTurns) {
    throw new Error(`Template "${template.name}" takes at most ${template.maxTurns} turn(s), got ${k}; use TEMPLATE_PRETRAIN for k-turn dialogues.`);
  }
  const needsCounterpart = template.tail.some((m) => m.content.some((p) => p.type === 'counterpart'));
  if (needsCounterpart !== (input.counterpart !== undefined)) {
    throw new Error(
      needsCounterpart
        ? `Template "${template.name}" has a counterpart slot but DialogueInput.counterpart is missing; build one with maskCounterpart (lib/packing.ts).`
        : `Template "${template.name}" has no counterpart slot, but DialogueInput.counterpart was given; use TEMPLATE_TRAIN.`,
    );
  }
  const messages: Message[] = [];
  if (template.systemPrompt !== null) messages.push({ role: 'system', content: template.systemPrompt });
  input.turns.forEach((text, t) => {
    const content: ContentPart[] = [];
    if (t === 0 && input.image === true) content.push({ type: 'image' });
    const body = (t === 0 && input.image === true ? template.imageSeparator : '') + text + template.userTextSuffix;
    if (body !== '') content.push({ type: 'text', text: body });
    messages.push({ role: 'user', content }, { role: 'assistant', content: template.reply });
  });
  for (const m of template.tail) {
    const content = m.content.flatMap((p): readonly ContentPart[] => (p.type === 'counterpart' ? (input.counterpart ?? []) : [p]));
    messages.push(m.open === true ? { role: m.role, content, open: true } : { role: m.role, content });
  }
  return messages;
}

/** Options of `renderMessages`. */
export interface RenderOptions {
  /** Tokens per image (from the model's vision config); required when the dialogue has an image. */
  imageTokens?: number;
  maskKind?: MaskKind;
  format?: ChatFormat;
  /** A name for error messages. */
  id?: string;
  /** `renderDialogue` only: clip every dialogue-turn user text to this many tokens (see `clipText`). */
  maxTextTokens?: number;
  /**
   * Mark the tokens of assistant answers (`RenderedSequence.answer`) for next-token training. An answer's
   * text is then encoded on its own, never merged with the role header before it.
   */
  markAnswers?: boolean;
}

type Piece = { turn: number; answer?: true } & ({ kind: 'text'; text: string } | { kind: 'special'; id: number } | { kind: 'image' });

/** Flatten messages into special / text / image pieces, each with its turn index. */
function toPieces(messages: readonly Message[], format: ChatFormat): Piece[] {
  const pieces: Piece[] = [];
  let turn = -1;
  let images = 0;
  messages.forEach((m, i) => {
    switch (m.role) {
      case 'system':
        if (i !== 0) throw new Error(`A system message must come first; got one at index ${i}.`);
        break;
      case 'user':
        turn += 1;
        break;
      case 'assistant':
        if (turn < 0) throw new Error(`Assistant message at index ${i} comes before any user message; a turn starts with a user message.`);
        break;
    }
    const t = m.role === 'system' ? -1 : turn;
    if (i > 0) pieces.push({ turn: t, kind: 'text', text: format.separator });
    pieces.push({ turn: t, kind: 'special', id: SPECIAL_IDS.imStart }, { turn: t, kind: 'text', text: m.role + format.roleSuffix });
    const parts: readonly ContentPart[] = typeof m.content === 'string' ? [{ type: 'text', text: m.content }] : m.content;
    for (const p of parts) {
      switch (p.type) {
        case 'text':
          pieces.push(m.role === 'assistant' ? { turn: t, kind: 'text', text: p.text, answer: true } : { turn: t, kind: 'text', text: p.text });
          break;
        case 'image':
          images += 1;
          if (images > 1) throw new Error(`A sequence holds at most one image (one image span); message ${i} adds image ${images}.`);
          pieces.push({ turn: t, kind: 'image' });
          break;
        case 'emb':
          if (m.role !== 'assistant')
            throw new Error(`<|emb|> belongs in an assistant message (the embedding is the reply to a turn); message ${i} is a ${m.role} message.`);
          pieces.push({ turn: t, kind: 'special', id: SPECIAL_IDS.emb });
          break;
        case 'mask':
          pieces.push({ turn: t, kind: 'special', id: SPECIAL_IDS.mask });
          break;
      }
    }
    if (m.open !== true)
      pieces.push(
        m.role === 'assistant' ? { turn: t, kind: 'special', id: SPECIAL_IDS.imEnd, answer: true } : { turn: t, kind: 'special', id: SPECIAL_IDS.imEnd },
      );
  });
  return pieces;
}

/** Render messages to ids, image span, `<|emb|>` positions and turn indices. */
export function renderMessages(messages: readonly Message[], tokenizer: Tokenizer, options: RenderOptions = {}): RenderedSequence {
  const format = options.format ?? CHATML;
  const maskKind = options.maskKind ?? 'causal';
  const seq: RenderedSequence = { ids: [], imageSpan: null, embPositions: [], turnIndex: [], maskKind, text: '' };
  if (options.id !== undefined) seq.id = options.id;
  const pieces = toPieces(messages, format);
  const marking = options.markAnswers === true;
  const answer: boolean[] = [];
  let pendingText = '';
  let pendingTurn = -1;
  let pendingAnswer = false;
  const push = (id: number, turn: number, isAnswer = false): void => {
    seq.ids.push(id);
    seq.turnIndex.push(turn);
    answer.push(isAnswer);
  };
  const flush = (): void => {
    for (const id of tokenizer.encode(pendingText)) push(id, pendingTurn, pendingAnswer);
    seq.text += pendingText;
    pendingText = '';
  };
  const turnStarts: number[] = [];
  const markTurn = (turn: number): void => {
    if (turn >= 0 && turnStarts[turn] === undefined) turnStarts[turn] = seq.text.length + pendingText.length;
  };
  for (const p of pieces) {
    const isAnswer = marking && p.answer === true;
    if (p.kind === 'text') {
      if (p.turn !== pendingTurn || isAnswer !== pendingAnswer) flush();
      markTurn(p.turn);
      pendingText += p.text;
      pendingTurn = p.turn;
      pendingAnswer = isAnswer;
      continue;
    }
    flush();
    markTurn(p.turn);
    if (p.kind === 'special') {
      if (p.id === SPECIAL_IDS.emb) seq.embPositions.push(seq.ids.length);
      push(p.id, p.turn, isAnswer);
      seq.text += SPECIAL_TOKENS[p.id];
    } else {
      const n = options.imageTokens;
      if (n === undefined || !Number.isInteger(n) || n < 1) {
        throw new Error(
          `${options.id ?? 'The dialogue'} has an image but RenderOptions.imageTokens is ${n}; pass the model's tokens per image (a positive integer from its vision config).`,
        );
      }
      seq.imageSpan = { start: seq.ids.length, length: n };
      for (let j = 0; j < n; j++) push(SPECIAL_IDS.image, p.turn);
      seq.text += `${SPECIAL_TOKENS[SPECIAL_IDS.image]}×${n}`;
    }
  }
  flush();
  seq.textTurnStarts = turnStarts;
  if (marking) seq.answer = answer;
  return seq;
}

/**
 * Fill a template and render it: `renderMessages(buildMessages(template, input), ...)`, after clipping the
 * user texts to `options.maxTextTokens` when set.
 */
export function renderDialogue(template: ChatTemplate, input: DialogueInput, tokenizer: Tokenizer, options: RenderOptions = {}): RenderedSequence {
  const max = options.maxTextTokens;
  const clipped = max === undefined ? input : { ...input, turns: input.turns.map((t) => clipText(t, tokenizer, max)) };
  return renderMessages(buildMessages(template, clipped), tokenizer, options);
}

/**
 * The longest prefix of `text` (whole code units, never half a character) that encodes to at most
 * `maxTokens` tokens: the official `check_token` (encode, cut, decode) made exact for a long text.
 */
export function clipText(text: string, tokenizer: Tokenizer, maxTokens: number): string {
  if (!(Number.isInteger(maxTokens) && maxTokens >= 0)) throw new Error(`maxTextTokens must be a non-negative integer, got ${maxTokens}.`);
  const ids = tokenizer.encode(text);
  if (ids.length <= maxTokens) return text;
  // Decoding the first maxTokens tokens gives a prefix, except where the cut splits a character (U+FFFD).
  let out = tokenizer.decode(ids.slice(0, maxTokens));
  while (out.length > 0 && !text.startsWith(out)) out = out.slice(0, -1);
  while (out.length > 0 && tokenizer.encode(out).length > maxTokens) out = out.slice(0, -1);
  return out;
}

/** One row per token, for notebooks and debugging. */
export interface TokenRow {
  position: number;
  id: number;
  token: string;
  turn: number;
}

/** The tokens of a sequence as rows (the image span as one row per image token). */
export function tokenTable(seq: RenderedSequence, tokenizer: Tokenizer): TokenRow[] {
  return seq.ids.map((id, position) => ({ position, id, token: tokenizer.tokenString(id), turn: seq.turnIndex[position] ?? NaN }));
}
