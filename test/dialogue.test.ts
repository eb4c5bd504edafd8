import { strict as assert } from 'node:assert';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { collate, truncateSequence } from '../lib/batch';
import {
  buildMessages,
  clipText,
  DESCRIBE_PROMPT,
  RECONSTRUCT_PROMPT,
  renderDialogue,
  renderMessages,
  TEMPLATE_BASE,
  TEMPLATE_PRETRAIN,
  TEMPLATE_TRAIN,
  tokenTable,
  type ChatTemplate,
  type ContentPart,
  type Message,
  type RenderedSequence,
} from '../lib/dialogue';
import { SPECIAL_IDS, SPECIAL_TOKENS, Tokenizer } from '../lib/tokenizer';
import { GOLDEN_CASES, type GoldenCase, type TemplateName } from './fixtures/dialogues/cases';
import { fixtureTokenizer } from './fixtures/dialogues/corpus';

const FIXTURES = join(__dirname, 'fixtures', 'dialogues');
const UPDATE = process.env['UPDATE_GOLDEN'] === '1';
const TEMPLATES: Record<TemplateName, ChatTemplate> = { base: TEMPLATE_BASE, pretrain: TEMPLATE_PRETRAIN, train: TEMPLATE_TRAIN };

/** The official template strings of src/loader.py, written out by hand (the naive twin of the renderer). */
const SYS = '<|im_start|>system\nYou are a helpful assistant.<|im_end|>';
function officialTurn(text: string): string {
  return `\n<|im_start|>user\n${text}<|im_end|>\n<|im_start|>assistant\n<|emb|><|im_end|>`;
}
function officialPretrain(turns: string[]): string {
  return SYS + turns.map(officialTurn).join('');
}
function officialTrain(text: string, gen: string): string {
  return `${SYS}${officialTurn(text)}\n<|im_start|>user\n${DESCRIBE_PROMPT}\n<|im_start|>assistant\n${gen}<|im_end|>\n<|im_start|>user\n${RECONSTRUCT_PROMPT}<|im_end|>\n<|im_start|>assistant\n<|emb|><|im_end|>`;
}

/** Tokenise a template string the naive way: split at special-token strings, encode the text in between. */
function naiveIds(rendered: string, tok: Tokenizer): number[] {
  const specials = new RegExp(`(${SPECIAL_TOKENS.map((s) => s.replace(/[|]/g, '\\|')).join('|')})`);
  return rendered.split(specials).flatMap((piece, i) => (i % 2 === 1 ? [SPECIAL_TOKENS.indexOf(piece as never)] : tok.encode(piece)));
}

function imageText(n: number): string {
  return '<|image|>'.repeat(n);
}

/** The golden record of one case. */
function renderCase(c: GoldenCase, tok: Tokenizer): object {
  const opts = {
    ...(c.imageTokens === undefined ? {} : { imageTokens: c.imageTokens }),
    ...(c.maskKind === undefined ? {} : { maskKind: c.maskKind }),
    id: c.name,
  };
  let seq = renderDialogue(TEMPLATES[c.template], c.input, tok, opts);
  let droppedTurns: number | undefined;
  if (c.maxLen !== undefined) {
    ({ seq, droppedTurns } = truncateSequence(seq, c.maxLen));
    // collate must truncate the same way.
    const b = collate([renderDialogue(TEMPLATES[c.template], c.input, tok, opts)], { maxLen: c.maxLen });
    assert.deepEqual([...b.ids.slice(0, b.lengths[0])], seq.ids);
    assert.deepEqual(b.embPositions[0], seq.embPositions);
    assert.deepEqual(b.droppedTurns, [droppedTurns]);
  }
  return {
    name: c.name,
    description: c.description,
    input: { template: c.template, ...c.input, imageTokens: c.imageTokens, maskKind: c.maskKind, maxLen: c.maxLen },
    text: seq.text,
    ids: seq.ids,
    tokens: seq.ids.map((id) => tok.tokenString(id)),
    embPositions: seq.embPositions,
    imageSpan: seq.imageSpan,
    turnIndex: seq.turnIndex,
    maskKind: seq.maskKind,
    droppedTurns,
  };
}

/** One key per line, each value compact, so a fixture reads (and diffs) by eye. */
function formatGolden(record: object): string {
  const lines = Object.entries(record)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `  ${JSON.stringify(k)}: ${JSON.stringify(v)}`);
  return `{\n${lines.join(',\n')}\n}\n`;
}

function checkInvariants(seq: RenderedSequence, messages: readonly Message[]): void {
  const embReplies = messages
    .filter((m) => m.role === 'assistant' && typeof m.content !== 'string')
    .reduce((n, m) => n + (m.content as ContentPart[]).filter((p) => p.type === 'emb').length, 0);
  assert.equal(seq.embPositions.length, embReplies);
  for (const p of seq.embPositions) assert.equal(seq.ids[p], SPECIAL_IDS.emb);
  assert.equal(seq.ids.filter((id) => id === SPECIAL_IDS.emb).length, embReplies);
  assert.equal(seq.turnIndex.length, seq.ids.length);
  for (let i = 1; i < seq.turnIndex.length; i++) assert.ok((seq.turnIndex[i] as number) >= (seq.turnIndex[i - 1] as number), `turn index decreases at ${i}`);
  const images = seq.ids.flatMap((id, i) => (id === SPECIAL_IDS.image ? [i] : []));
  if (seq.imageSpan === null) assert.equal(images.length, 0);
  else
    assert.deepEqual(
      images,
      Array.from({ length: seq.imageSpan.length }, (_, j) => (seq.imageSpan as { start: number }).start + j),
    );
}

/** User text that cannot contain a special-token string (so the naive split twin applies). */
const userText = fc.string({ unit: 'grapheme', maxLength: 24 }).filter((s) => !s.includes('<|'));

describe('dialogue: golden fixtures', () => {
  const tok = fixtureTokenizer();

  it('the fixture vocabulary is the committed one', () => {
    const path = join(FIXTURES, 'vocabulary.json');
    if (UPDATE) tok.save(path);
    assert.deepEqual(tok.toJSON(), JSON.parse(readFileSync(path, 'utf8')));
    assert.equal(Tokenizer.load(path).fingerprint(), tok.fingerprint());
  });

  assert.ok(GOLDEN_CASES.length >= 10);
  for (const c of GOLDEN_CASES) {
    it(`${c.name}: ${c.description}`, () => {
      const path = join(FIXTURES, `${c.name}.json`);
      const actual = renderCase(c, tok);
      if (UPDATE) writeFileSync(path, formatGolden(actual));
      assert.ok(existsSync(path), `Missing golden fixture ${path}; generate it with UPDATE_GOLDEN=1 npx mocha test/dialogue.test.ts and inspect it.`);
      assert.deepEqual(JSON.parse(JSON.stringify(actual)), JSON.parse(readFileSync(path, 'utf8')));
    });
  }
});

describe('dialogue: rendering', () => {
  const tok = fixtureTokenizer();

  it('renders TEMPLATE_BASE / PRETRAIN / TRAIN exactly as the official template strings (naive twin)', () => {
    fc.assert(
      fc.property(fc.array(userText, { minLength: 1, maxLength: 7 }), fc.boolean(), fc.integer({ min: 1, max: 5 }), (turns, image, n) => {
        const withImage = (t: string[]): string[] => (image ? [`${imageText(n)}\n${t[0]}`, ...t.slice(1)] : t);
        const pre = renderDialogue(TEMPLATE_PRETRAIN, { turns, image }, tok, { imageTokens: n });
        assert.deepEqual(pre.ids, naiveIds(officialPretrain(withImage(turns)), tok));
        assert.equal(tok.decode(pre.ids), officialPretrain(withImage(turns)));
        const base = renderDialogue(TEMPLATE_BASE, { turns: turns.slice(0, 1), image }, tok, { imageTokens: n });
        assert.deepEqual(base.ids, naiveIds(officialPretrain(withImage(turns).slice(0, 1)), tok));
        const counterpart: ContentPart[] = [{ type: 'text', text: turns.at(-1) as string }, { type: 'mask' }];
        const train = renderDialogue(TEMPLATE_TRAIN, { turns: turns.slice(0, 1), image, counterpart }, tok, { imageTokens: n });
        assert.deepEqual(train.ids, naiveIds(officialTrain(withImage(turns)[0] as string, `${turns.at(-1)}<|mask|>`), tok));
      }),
      { seed: 21, numRuns: 100 },
    );
  });

  it('the first turn of a k-turn sequence is exactly the single-turn sequence (prefix invariant)', () => {
    fc.assert(
      fc.property(fc.array(userText, { minLength: 1, maxLength: 7 }), fc.boolean(), fc.constantFrom('causal', 'isolated'), (turns, image, maskKind) => {
        const opts = { imageTokens: 3, maskKind } as const;
        const single = renderDialogue(TEMPLATE_BASE, { turns: turns.slice(0, 1), image }, tok, opts);
        const multi = renderDialogue(TEMPLATE_PRETRAIN, { turns, image }, tok, opts);
        const train = renderDialogue(TEMPLATE_TRAIN, { turns: turns.slice(0, 1), image, counterpart: [{ type: 'mask' }] }, tok, opts);
        for (const other of [multi, train]) {
          assert.deepEqual(other.ids.slice(0, single.ids.length), single.ids);
          assert.deepEqual(other.turnIndex.slice(0, single.ids.length), single.turnIndex);
          assert.equal(other.embPositions[0], single.embPositions[0]);
          assert.deepEqual(other.imageSpan, single.imageSpan);
        }
        assert.equal(single.ids.at(-1), SPECIAL_IDS.imEnd);
        assert.equal(multi.embPositions.length, turns.length);
        assert.equal(train.embPositions.length, 2);
      }),
      { seed: 22, numRuns: 100 },
    );
  });

  it('holds the structural invariants for arbitrary messages (emb count and ids, turn order, image span)', () => {
    const part = fc.oneof(
      userText.map((text): ContentPart => ({ type: 'text', text })),
      fc.constant<ContentPart>({ type: 'emb' }),
      fc.constant<ContentPart>({ type: 'mask' }),
    );
    const message = fc
      .record({ role: fc.constantFrom<'user' | 'assistant'>('user', 'assistant'), content: fc.array(part, { maxLength: 4 }), open: fc.boolean() })
      .map((m) => (m.role === 'user' ? { ...m, content: m.content.filter((p) => p.type !== 'emb') } : m));
    fc.assert(
      fc.property(fc.boolean(), fc.array(message, { minLength: 1, maxLength: 8 }), fc.boolean(), (system, raw, image) => {
        const msgs: Message[] = raw.map((m, i) => (i === 0 ? { ...m, role: 'user', content: m.content.filter((p) => p.type !== 'emb') } : m));
        if (image) msgs[0] = { ...(msgs[0] as Message), content: [{ type: 'image' }, ...(msgs[0]?.content as ContentPart[])] };
        const all: Message[] = system ? [{ role: 'system', content: 'sys <|emb|>' }, ...msgs] : msgs;
        const seq = renderMessages(all, tok, { imageTokens: 2 });
        checkInvariants(seq, all);
        const userTurns = all.filter((m) => m.role === 'user').length;
        assert.equal(Math.max(...seq.turnIndex), userTurns - 1);
        assert.equal(seq.turnIndex[0], system ? -1 : 0);
      }),
      { seed: 23, numRuns: 150 },
    );
  });

  it('assigns turn indices: -1 system, t for user turn t, its reply and the newline before it', () => {
    const seq = renderDialogue(TEMPLATE_PRETRAIN, { turns: ['a', 'b'] }, tok);
    const rows = tokenTable(seq, tok);
    const firstOf = (turn: number): number => rows.findIndex((r) => r.turn === turn);
    const newline = tok.encode('\n');
    assert.equal(newline.length, 1);
    assert.equal(rows[firstOf(0)]?.id, newline[0]);
    assert.equal(rows[firstOf(0) - 1]?.token, '<|im_end|>');
    assert.equal(rows[firstOf(1)]?.id, newline[0]);
    assert.equal(rows[firstOf(1) - 1]?.token, '<|im_end|>');
    assert.ok(seq.embPositions.every((p, t) => seq.turnIndex[p] === t));
  });

  it('shows the image once in the text and the tokens of a string content as plain text', () => {
    const seq = renderDialogue(TEMPLATE_BASE, { turns: ['hi'], image: true }, tok, { imageTokens: 7 });
    assert.ok(seq.text.includes('<|image|>×7\nhi'));
    assert.equal(seq.text.split('<|image|>').length, 2);
    const literal = renderMessages([{ role: 'user', content: '<|emb|>' }], tok);
    assert.deepEqual(literal.embPositions, []);
  });

  it('clips long user texts to a prefix of at most maxTextTokens tokens', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme', maxLength: 40 }), fc.nat({ max: 20 }), (text, max) => {
        const out = clipText(text, tok, max);
        assert.ok(text.startsWith(out));
        assert.ok(tok.encode(out).length <= max);
        if (tok.encode(text).length <= max) assert.equal(out, text);
      }),
      { seed: 24, numRuns: 150 },
    );
    const seq = renderDialogue(TEMPLATE_BASE, { turns: ['What color is the apple?'] }, tok, { maxTextTokens: 2 });
    assert.ok(seq.text.includes('user\nWhat color<|im_end|>'));
  });

  it('rejects malformed dialogues with specific messages', () => {
    assert.throws(() => renderDialogue(TEMPLATE_BASE, { turns: [] }, tok), /at least one turn/);
    assert.throws(() => renderDialogue(TEMPLATE_BASE, { turns: ['a', 'b'] }, tok), /at most 1 turn\(s\), got 2; use TEMPLATE_PRETRAIN/);
    assert.throws(() => renderDialogue(TEMPLATE_TRAIN, { turns: ['a'] }, tok), /counterpart is missing/);
    assert.throws(() => renderDialogue(TEMPLATE_BASE, { turns: ['a'], counterpart: [] }, tok), /no counterpart slot/);
    assert.throws(
      () => renderDialogue(TEMPLATE_BASE, { turns: ['a'], image: true }, tok, { id: 'rec-7' }),
      /rec-7 has an image but RenderOptions.imageTokens is undefined/,
    );
    assert.throws(
      () =>
        renderMessages(
          [
            { role: 'user', content: 'a' },
            { role: 'system', content: 'b' },
          ],
          tok,
        ),
      /system message must come first/,
    );
    assert.throws(() => renderMessages([{ role: 'assistant', content: 'a' }], tok), /before any user message/);
    assert.throws(() => renderMessages([{ role: 'user', content: [{ type: 'emb' }] }], tok), /<\|emb\|> belongs in an assistant message/);
    const twoImages: Message[] = [
      { role: 'user', content: [{ type: 'image' }] },
      { role: 'user', content: [{ type: 'image' }] },
    ];
    assert.throws(() => renderMessages(twoImages, tok, { imageTokens: 1 }), /at most one image/);
  });

  it('buildMessages fills TEMPLATE_TRAIN with the open π1 message and the counterpart slot', () => {
    const msgs = buildMessages(TEMPLATE_TRAIN, { turns: ['q'], counterpart: [{ type: 'mask' }] });
    assert.deepEqual(
      msgs.map((m) => [m.role, m.open === true]),
      [
        ['system', false],
        ['user', false],
        ['assistant', false],
        ['user', true],
        ['assistant', false],
        ['user', false],
        ['assistant', false],
      ],
    );
    assert.deepEqual(msgs[4]?.content, [{ type: 'mask' }]);
  });
});
