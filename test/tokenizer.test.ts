import { strict as assert } from 'node:assert';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { BPE_OFFSET, BYTE_OFFSET, decodeWtf8, PAD_ID, SPECIAL_IDS, SPECIAL_TOKENS, Tokenizer } from '../lib/tokenizer';
import { FIXTURE_CORPUS, fixtureTokenizer } from './fixtures/dialogues/corpus';
import type { TrainingRecord } from '../lib/data/m3t';
import { DESCRIBE_PROMPT, RECONSTRUCT_PROMPT, renderDialogue, SYSTEM_PROMPT, TEMPLATE_BASE, templateTexts } from '../lib/dialogue';
import { runTokenizer } from '../lib/runner/run';

/* The naive twins read gpt-tokenizer directly (typed require: its .d.ts needs TypeScript ≥ 5.6). */
const ranks = (require('gpt-tokenizer/cjs/bpeRanks/o200k_base') as { default: (string | number[])[] }).default;
const o200k = require('gpt-tokenizer/cjs/encoding/o200k_base') as {
  encode(text: string, options: { allowedSpecial: Set<string>; disallowedSpecial: Set<string> }): number[];
};
const plain = { allowedSpecial: new Set<string>(), disallowedSpecial: new Set<string>() };

function naiveBpeBytes(bpeId: number): number[] {
  const entry = ranks[bpeId];
  assert.ok(entry !== undefined);
  return typeof entry === 'string' ? [...Buffer.from(entry, 'utf8')] : entry;
}

/** The bytes behind a list of compact ids, computed from the saved vocabulary alone. */
function naiveBytes(tok: Tokenizer, ids: number[]): number[] {
  const bpeIds = tok.toJSON().bpeIds;
  return ids.flatMap((id) => {
    if (id < BYTE_OFFSET) return [...Buffer.from(SPECIAL_TOKENS[id] as string, 'utf8')];
    if (id < BPE_OFFSET) return [id - BYTE_OFFSET];
    return naiveBpeBytes(bpeIds[id - BPE_OFFSET] as number);
  });
}

/** Any sequence of UTF-16 code units, lone surrogates included. */
const codeUnits = fc.array(fc.integer({ min: 0, max: 0xffff }), { maxLength: 40 }).map((a) => String.fromCharCode(...a));

describe('tokenizer', () => {
  const tok = fixtureTokenizer();

  it('has the fixed id layout: specials, 256 bytes, then corpus BPE tokens', () => {
    assert.equal(PAD_ID, 0);
    assert.deepEqual(
      SPECIAL_TOKENS.map((s) => tok.specialId(s)),
      [0, 1, 2, 3, 4, 5],
    );
    assert.deepEqual(tok.specialIds, { pad: 0, imStart: 1, imEnd: 2, emb: 3, mask: 4, image: 5 });
    assert.equal(tok.vocabSize, SPECIAL_TOKENS.length + 256 + tok.bpeTokenCount);
    assert.equal(tok.tokenString(SPECIAL_IDS.emb), '<|emb|>');
    assert.equal(tok.tokenString(BYTE_OFFSET + 0xe3), '<0xE3>');
  });

  it('builds the vocabulary as a naive count of o200k ids would (frequency desc, then id asc, multi-byte only)', () => {
    const counts = new Map<number, number>();
    for (const text of FIXTURE_CORPUS) for (const id of o200k.encode(text, plain)) counts.set(id, (counts.get(id) ?? 0) + 1);
    const expected = [...counts]
      .filter(([id]) => naiveBpeBytes(id).length > 1)
      .sort((a, b) => b[1] - a[1] || a[0] - b[0])
      .map(([id]) => id);
    assert.deepEqual(tok.toJSON().bpeIds, expected);
    assert.deepEqual(Tokenizer.fromCorpus(FIXTURE_CORPUS, { maxBpeTokens: 5 }).toJSON().bpeIds, expected.slice(0, 5));
    const twice = [...counts].filter(([id, n]) => n >= 2 && naiveBpeBytes(id).length > 1).length;
    assert.equal(Tokenizer.fromCorpus(FIXTURE_CORPUS, { minCount: 2 }).bpeTokenCount, twice);
  });

  it('encodes corpus text one-to-one with o200k (every token is in the vocabulary)', () => {
    for (const text of FIXTURE_CORPUS) assert.equal(tok.encode(text).length, o200k.encode(text, plain).length, text);
  });

  it('falls back to bytes for tokens outside the vocabulary', () => {
    const ids = tok.encode('zebra');
    assert.ok(
      ids.every((id) => id >= BYTE_OFFSET && id < BPE_OFFSET),
      `expected byte ids, got ${ids}`,
    );
    assert.deepEqual(
      ids.map((id) => id - BYTE_OFFSET),
      [...Buffer.from('zebra')],
    );
    const empty = Tokenizer.fromCorpus([]);
    assert.equal(empty.vocabSize, BPE_OFFSET);
    assert.equal(empty.decode(empty.encode('日本 🍎')), '日本 🍎');
  });

  it('never emits a special id from text, even for special-token strings', () => {
    const text = SPECIAL_TOKENS.join(' ') + '<|endoftext|><|im_sep|>';
    const ids = tok.encode(text);
    assert.ok(ids.every((id) => id >= BYTE_OFFSET));
    assert.equal(tok.decode(ids), text);
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 30 }), (s) => tok.encode(s).every((id) => id >= BYTE_OFFSET)),
      { seed: 3, numRuns: 100 },
    );
  });

  it('round-trips arbitrary Unicode: graphemes, any code point, lone surrogates', () => {
    for (const [arb, seed] of [
      [fc.string({ unit: 'grapheme', maxLength: 40 }), 11],
      [fc.string({ unit: 'binary', maxLength: 40 }), 12],
      [codeUnits, 13],
    ] as const) {
      fc.assert(
        fc.property(arb, (s) => tok.decode(tok.encode(s)) === s),
        { seed, numRuns: 200 },
      );
    }
  });

  it('encodes to exactly the bytes of the text (naive byte twin)', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme', maxLength: 40 }), (s) => {
        assert.deepEqual(naiveBytes(tok, tok.encode(s)), [...Buffer.from(s, 'utf8')]);
      }),
      { seed: 14, numRuns: 150 },
    );
  });

  it('decodes WTF-8 like TextDecoder on well-formed UTF-8', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 40 }), (s) => decodeWtf8(Buffer.from(s, 'utf8')) === s),
      { seed: 15, numRuns: 150 },
    );
    assert.equal(decodeWtf8(Uint8Array.of(0x61, 0xed, 0xa0, 0x80, 0x62)), 'a\ud800b');
    assert.equal(decodeWtf8(Uint8Array.of(0xff)), '\ufffd');
  });

  it('saves, loads and fingerprints the vocabulary', () => {
    const dir = mkdtempSync(join(tmpdir(), 'muco-tok-'));
    try {
      const path = join(dir, 'vocab.json');
      tok.save(path);
      const loaded = Tokenizer.load(path);
      assert.equal(loaded.fingerprint(), tok.fingerprint());
      assert.equal(loaded.vocabSize, tok.vocabSize);
      assert.deepEqual(loaded.encode(FIXTURE_CORPUS.join(' ')), tok.encode(FIXTURE_CORPUS.join(' ')));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    assert.match(tok.fingerprint(), /^[0-9a-f]{16}$/);
    assert.equal(Tokenizer.fromCorpus(FIXTURE_CORPUS).fingerprint(), tok.fingerprint());
    assert.notEqual(Tokenizer.fromCorpus(FIXTURE_CORPUS, { maxBpeTokens: 10 }).fingerprint(), tok.fingerprint());
  });

  it('rejects bad vocabularies, ids and options with specific messages', () => {
    const json = tok.toJSON();
    assert.throws(() => Tokenizer.fromJSON({ ...json, version: 99 }), /version 99 is not supported/);
    assert.throws(() => Tokenizer.fromJSON({ ...json, format: 'other' }), /format "muco-ts\/vocabulary"/);
    assert.throws(() => Tokenizer.fromJSON({ ...json, specialTokens: ['<|pad|>'] }), /special tokens/);
    assert.throws(() => Tokenizer.fromJSON({ ...json, bpeIds: [-1] }), /bpeIds/);
    assert.throws(() => Tokenizer.fromJSON({ ...json, bpeIds: [json.bpeIds[0], json.bpeIds[0]] }), /twice/);
    const singleByte = ranks.findIndex((r) => r === 'a');
    assert.throws(() => Tokenizer.fromJSON({ ...json, bpeIds: [singleByte] }), /single byte/);
    assert.throws(() => tok.decode([tok.vocabSize]), /outside the vocabulary/);
    assert.throws(() => Tokenizer.fromCorpus([], { maxTokens: 3 } as never), /Unknown vocabulary option "maxTokens"/);
  });
});

describe('the chat models vocabulary (runTokenizer)', () => {
  const record = (i: number, query: string, target: string): TrainingRecord => ({
    id: `r${i}`,
    source: { file: 'fixture', row: i },
    queryImagePath: '',
    targetImagePath: '',
    querySentence: '',
    turns: [{ kind: 'retrieval', query, target, targetSentence: target }],
    negatives: [],
    group: `r${i}`,
  });
  const records = FIXTURE_CORPUS.map((text, i) => record(i, `What does picture ${i} show?`, text));

  it('lists the fixed texts of every chat template, once each', () => {
    const texts = templateTexts();
    for (const t of ['system\n', 'user\n', 'assistant\n', SYSTEM_PROMPT, DESCRIBE_PROMPT, RECONSTRUCT_PROMPT]) assert.ok(texts.includes(t), JSON.stringify(t));
    assert.equal(new Set(texts).size, texts.length);
  });

  it('encodes each template text in as many tokens as o200k_base does, even under a tight cap', () => {
    const tok = runTokenizer(records, 64);
    assert.ok(tok.bpeTokenCount <= 64);
    for (const t of templateTexts()) assert.equal(tok.encode(t).length, o200k.encode(t, plain).length, JSON.stringify(t));
  });

  it('spells the template byte by byte without it (the dual encoder reads raw text)', () => {
    const tok = runTokenizer(records, 64, { chatTemplate: false });
    assert.equal(tok.encode('assistant\n').length, 'assistant\n'.length);
    const withTemplate = runTokenizer(records, 64);
    const rendered = (t: Tokenizer): number => renderDialogue(TEMPLATE_BASE, { turns: ['What does picture 1 show?'] }, t).ids.length;
    assert.ok(rendered(withTemplate) + 30 < rendered(tok), `${rendered(withTemplate)} vs ${rendered(tok)}`);
  });
});
