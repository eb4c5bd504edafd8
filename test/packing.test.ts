import { strict as assert } from 'node:assert';
import fc from 'fast-check';
import { renderDialogue, TEMPLATE_BASE, TEMPLATE_PRETRAIN, TEMPLATE_TRAIN, type ContentPart } from '../lib/dialogue';
import {
  choosePairs,
  counterpartText,
  maskCounterpart,
  packMultiTurn,
  packReconstruction,
  packSingleTurn,
  renderWithinLength,
  sampleSinglePair,
  type ImageRecord,
  type SinglePair,
} from '../lib/packing';
import { Rng } from '../lib/random';
import { fixtureTokenizer } from './fixtures/dialogues/corpus';

const tok = fixtureTokenizer();
const IMAGE_TOKENS = 3;

function record(id: string, n: number, image = true): ImageRecord {
  return {
    id,
    image: image ? `${id}.png` : null,
    caption: `a picture ${id}`,
    pairs: Array.from({ length: n }, (_, i) => ({ query: `q${id}-${i}?`, target: `t${id}-${i}.` })),
  };
}

/** The official `masking` (src/loader.py) on strings, drawing from the same generator (naive twin). */
function naiveMask(text: string, rng: Rng, wordRate: number, wholeRate: number): string {
  if (rng.next() < wholeRate) return '<|mask|>';
  const out: string[] = [];
  for (const term of text.split(' ')) {
    if (rng.next() < wordRate) {
      if (out.length > 0 && out.at(-1) === '<|mask|>') continue;
      out.push('<|mask|>');
    } else {
      out.push(term);
    }
  }
  return out.join(' ');
}

function partsToString(parts: ContentPart[]): string {
  return parts.map((p) => (p.type === 'text' ? p.text : p.type === 'mask' ? '<|mask|>' : `<${p.type}>`)).join('');
}

describe('packing: turn sampling', () => {
  it('applies the same permutation to the query and target sides (the rendering matches the chosen pairs)', () => {
    const records = [record('a', 7), record('b', 5, false), record('c', 2)];
    const packed = packMultiTurn(records, tok, new Rng(5), { imageTokens: IMAGE_TOKENS, turns: 4 });
    let e = 0;
    records.forEach((r, g) => {
      const k = Math.min(4, r.pairs.length);
      const idx = packed.pairIndex.slice(e, e + k);
      assert.deepEqual(packed.groups.slice(e, e + k), Array<number>(k).fill(g));
      assert.deepEqual(packed.slot.slice(e, e + k), [...Array(k).keys()]);
      const queries = idx.map((i) => r.pairs[i]?.query as string);
      const targets = idx.map((i) => r.pairs[i]?.target as string);
      assert.deepEqual(packed.targetText.slice(e, e + k), targets);
      const image = r.image !== null;
      assert.deepEqual(packed.query[g]?.ids, renderDialogue(TEMPLATE_PRETRAIN, { turns: queries, image }, tok, { imageTokens: IMAGE_TOKENS }).ids);
      assert.deepEqual(packed.target[g]?.ids, renderDialogue(TEMPLATE_PRETRAIN, { turns: targets }, tok).ids);
      assert.equal(packed.query[g]?.embPositions.length, k);
      assert.equal(packed.target[g]?.embPositions.length, k);
      assert.equal(packed.queryImages[g], image ? r.image : null);
      assert.equal(packed.targetImages[g], null);
      e += k;
    });
    assert.equal(packed.groups.length, e);
  });

  it('is deterministic under a seed and samples k ≤ n distinct pairs', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 7 }), fc.integer({ min: 1, max: 9 }), fc.integer(), (n, k, seed) => {
        const recs = [record('x', n), record('y', n)];
        const a = packMultiTurn(recs, tok, new Rng(seed), { imageTokens: IMAGE_TOKENS, turns: k });
        const b = packMultiTurn(recs, tok, new Rng(seed), { imageTokens: IMAGE_TOKENS, turns: k });
        assert.deepEqual(a, b);
        const kk = Math.min(k, n);
        assert.equal(a.pairIndex.length, 2 * kk);
        for (const half of [a.pairIndex.slice(0, kk), a.pairIndex.slice(kk)]) {
          assert.equal(new Set(half).size, kk);
          assert.ok(half.every((i) => i >= 0 && i < n));
        }
      }),
      { seed: 51, numRuns: 100 },
    );
  });

  it('shuffles uniformly: each pair leads the order about 1/n of the time', () => {
    const rng = new Rng(9);
    const n = 7;
    const draws = 7000;
    const first = Array<number>(n).fill(0);
    for (let i = 0; i < draws; i++) {
      const lead = (choosePairs(record('r', n), null, rng)[0] as { pairIndex: number }).pairIndex;
      first[lead] = (first[lead] ?? 0) + 1;
    }
    for (const c of first) assert.ok(Math.abs(c / draws - 1 / n) < 0.02, `first-position frequency ${c / draws}`);
  });

  it('samples one of several query phrasings, uniformly', () => {
    const rec: ImageRecord = { id: 'p', pairs: [{ query: ['A?', 'B?', 'C?'], target: 't' }] };
    const rng = new Rng(2);
    const counts = new Map<string, number>();
    for (let i = 0; i < 3000; i++) {
      const q = (choosePairs(rec, 1, rng)[0] as { query: string }).query;
      counts.set(q, (counts.get(q) ?? 0) + 1);
    }
    assert.deepEqual([...counts.keys()].sort(), ['A?', 'B?', 'C?']);
    for (const c of counts.values()) assert.ok(Math.abs(c / 3000 - 1 / 3) < 0.03);
    assert.throws(() => choosePairs({ id: 'e', pairs: [{ query: [], target: 't' }] }, 1, rng), /empty list of query phrasings/);
    assert.throws(() => choosePairs({ id: 'z', pairs: [] }, 1, rng), /Record "z" has no query–target pairs/);
  });

  it('single-turn packing chooses the same pairs as multi-turn and its sequences are the multi-turn prefixes', () => {
    const records = [record('a', 7), record('b', 3)];
    const single = packSingleTurn(records, tok, new Rng(77), { imageTokens: IMAGE_TOKENS, turns: 4 });
    const multi = packMultiTurn(records, tok, new Rng(77), { imageTokens: IMAGE_TOKENS, turns: 4 });
    assert.deepEqual(single.pairIndex, multi.pairIndex);
    assert.deepEqual(single.groups, multi.groups);
    assert.deepEqual(single.targetText, multi.targetText);
    assert.equal(single.query.length, single.groups.length);
    assert.ok(single.query.every((s) => s.embPositions.length === 1));
    let e = 0;
    records.forEach((r, g) => {
      const first = single.query[e] as { ids: number[] };
      assert.deepEqual(multi.query[g]?.ids.slice(0, first.ids.length), first.ids);
      e += Math.min(4, r.pairs.length);
    });
  });

  it('targetMaskKind sets the target side only: isolated targets, causal queries, the same pairs', () => {
    const records = [record('a', 5), record('b', 4)];
    const plain = packMultiTurn(records, tok, new Rng(5), { imageTokens: IMAGE_TOKENS, turns: 3 });
    const iso = packMultiTurn(records, tok, new Rng(5), { imageTokens: IMAGE_TOKENS, turns: 3, targetMaskKind: 'isolated' });
    assert.deepEqual(
      iso.query.map((q) => q.maskKind),
      ['causal', 'causal'],
    );
    assert.deepEqual(
      iso.target.map((t) => t.maskKind),
      ['isolated', 'isolated'],
    );
    assert.deepEqual(
      iso.target.map((t) => t.ids),
      plain.target.map((t) => t.ids),
    );
    assert.deepEqual(iso.pairIndex, plain.pairIndex);
    const all = packMultiTurn(records, tok, new Rng(5), { imageTokens: IMAGE_TOKENS, turns: 3, maskKind: 'isolated' });
    assert.deepEqual(
      all.target.map((t) => t.maskKind),
      ['isolated', 'isolated'],
      'null follows maskKind',
    );
  });

  it('rejects bad options', () => {
    assert.throws(() => packMultiTurn([record('a', 2)], tok, new Rng(1), { imageTokens: 2, turns: 0 }), /turns must be a positive integer or null/);
    assert.throws(() => packMultiTurn([record('a', 2)], tok, new Rng(1), { imageTokens: 2, turn: 2 } as never), /Unknown packing option "turn"/);
  });
});

describe('packing: counterpart masking', () => {
  it('matches the official masking on strings, draw for draw (naive twin)', () => {
    const text = fc.array(fc.constantFrom('a', 'bb', 'red', '日本', '', 'x\ny'), { maxLength: 12 }).map((w) => w.join(' '));
    fc.assert(
      fc.property(text, fc.integer(), fc.double({ min: 0, max: 1, noNaN: true }), fc.double({ min: 0, max: 1, noNaN: true }), (t, seed, word, whole) => {
        const parts = maskCounterpart(t, new Rng(seed), { wordMaskRate: word, wholeMaskRate: whole });
        assert.equal(partsToString(parts), naiveMask(t, new Rng(seed), word, whole));
        for (let i = 1; i < parts.length; i++) assert.ok(!(parts[i]?.type === 'mask' && parts[i - 1]?.type === 'mask'), 'runs of masks are merged');
      }),
      { seed: 61, numRuns: 200 },
    );
  });

  it('masks words at the configured rate and the whole counterpart at its rate (measured)', () => {
    const words = Array.from({ length: 100 }, (_, i) => `w${i}`);
    const rng = new Rng(4);
    for (const rate of [0.5, 0.2]) {
      let kept = 0;
      for (let d = 0; d < 200; d++) {
        const parts = maskCounterpart(words.join(' '), rng, { wordMaskRate: rate, wholeMaskRate: 0 });
        kept += parts
          .filter((p) => p.type === 'text')
          .flatMap((p) => (p as { text: string }).text.split(' '))
          .filter((w) => w !== '').length;
      }
      const masked = 1 - kept / (200 * words.length);
      assert.ok(Math.abs(masked - rate) < 0.015, `word mask rate ${masked}, expected ${rate}`);
    }
    let whole = 0;
    const draws = 4000;
    for (let d = 0; d < draws; d++) {
      const parts = maskCounterpart(words.slice(0, 30).join(' '), rng);
      if (parts.length === 1 && parts[0]?.type === 'mask') whole += 1;
    }
    assert.ok(Math.abs(whole / draws - 0.5) < 0.03, `whole-mask rate ${whole / draws}`);
    assert.deepEqual(maskCounterpart('a b', rng, { wholeMaskRate: 1 }), [{ type: 'mask' }]);
    assert.deepEqual(maskCounterpart('a b', rng, { wholeMaskRate: 0, wordMaskRate: 0 }), [{ type: 'text', text: 'a b' }]);
    assert.deepEqual(maskCounterpart('a b c', rng, { wholeMaskRate: 0, wordMaskRate: 1 }), [{ type: 'mask' }]);
    assert.throws(() => maskCounterpart('a', rng, { wordMaskRate: 1.5 }), /wordMaskRate must be a probability/);
  });

  it('turns an image side into "Image description: {caption}" before its text', () => {
    assert.equal(counterpartText({ text: 'What is it?', image: 'x.png', caption: 'a cat' }), 'Image description: a cat\nWhat is it?');
    assert.equal(counterpartText({ text: '', image: 'x.png', caption: 'a cat' }), 'Image description: a cat');
    assert.equal(counterpartText({ text: 'plain' }), 'plain');
    assert.throws(() => counterpartText({ text: 'q', image: 'x.png' }, 'pair "p1" query'), /pair "p1" query: the side has an image but no caption/);
  });
});

describe('packing: fine-tuning reconstruction', () => {
  const pairs: SinglePair[] = [
    { id: 'p0', query: { text: 'What color is the apple?', image: 'apple.png', caption: 'a red apple' }, target: { text: 'The apple is red.' } },
    { id: 'p1', query: { text: 'Find the flag of Japan.' }, target: { text: '', image: 'jp.png', caption: 'a white flag with a red disc' } },
  ];

  it('renders TEMPLATE_TRAIN on both sides with the other side as counterpart, two embeddings each', () => {
    const packed = packReconstruction(pairs, tok, new Rng(1), { imageTokens: IMAGE_TOKENS }, { wordMaskRate: 0, wholeMaskRate: 0 });
    assert.deepEqual(packed.groups, [0, 0, 1, 1]);
    assert.deepEqual(packed.slot, [0, 1, 0, 1]);
    assert.deepEqual(packed.queryImages, ['apple.png', null]);
    assert.deepEqual(packed.targetImages, [null, 'jp.png']);
    pairs.forEach((p, i) => {
      const q = renderDialogue(
        TEMPLATE_TRAIN,
        { turns: [p.query.text], image: p.query.image !== undefined, counterpart: [{ type: 'text', text: counterpartText(p.target) }] },
        tok,
        { imageTokens: IMAGE_TOKENS },
      );
      const t = renderDialogue(
        TEMPLATE_TRAIN,
        { turns: [p.target.text], image: p.target.image !== undefined, counterpart: [{ type: 'text', text: counterpartText(p.query) }] },
        tok,
        { imageTokens: IMAGE_TOKENS },
      );
      assert.deepEqual(packed.query[i]?.ids, q.ids);
      assert.deepEqual(packed.target[i]?.ids, t.ids);
      const base = renderDialogue(TEMPLATE_BASE, { turns: [p.query.text], image: p.query.image !== undefined }, tok, { imageTokens: IMAGE_TOKENS });
      assert.deepEqual(packed.query[i]?.ids.slice(0, base.ids.length), base.ids, 'the initial embedding is the single-turn one');
    });
  });

  it('draws the target counterpart mask first, then the query one (official order), deterministically', () => {
    const seed = 123;
    const packed = packReconstruction(pairs.slice(0, 1), tok, new Rng(seed), { imageTokens: IMAGE_TOKENS });
    const rng = new Rng(seed);
    const forQuery = maskCounterpart(counterpartText(pairs[0]?.target as SinglePair['target']), rng);
    const forTarget = maskCounterpart(counterpartText(pairs[0]?.query as SinglePair['query']), rng);
    const q = renderDialogue(TEMPLATE_TRAIN, { turns: [pairs[0]?.query.text as string], image: true, counterpart: forQuery }, tok, {
      imageTokens: IMAGE_TOKENS,
    });
    const t = renderDialogue(TEMPLATE_TRAIN, { turns: [pairs[0]?.target.text as string], counterpart: forTarget }, tok, { imageTokens: IMAGE_TOKENS });
    assert.deepEqual(packed.query[0]?.ids, q.ids);
    assert.deepEqual(packed.target[0]?.ids, t.ids);
    assert.deepEqual(
      packReconstruction(pairs, tok, new Rng(seed), { imageTokens: IMAGE_TOKENS }),
      packReconstruction(pairs, tok, new Rng(seed), { imageTokens: IMAGE_TOKENS }),
    );
  });

  it('cuts the counterpart of a sequence over maxLen from its end, keeping both embeddings', () => {
    const long = 'the apple is red and round and shiny with a short brown stem and one green leaf on top of it '.repeat(4).trim();
    const longPairs: SinglePair[] = [
      { id: 'l0', query: { text: 'Describe it.', image: 'apple.png', caption: long }, target: { text: long } },
      { id: 'l1', query: { text: 'Find the flag of Japan.' }, target: { text: 'A white flag with a red disc.' } },
    ];
    const free = packReconstruction(longPairs, tok, new Rng(5), { imageTokens: IMAGE_TOKENS }, { wordMaskRate: 0.3, wholeMaskRate: 0 });
    const longest = Math.max(...free.query.concat(free.target).map((x) => x.ids.length));
    const maxLen = Math.floor(longest * 0.8);
    assert.ok(
      free.target.some((x) => x.ids.length > maxLen),
      'a sequence to cut',
    );
    const fitted = packReconstruction(longPairs, tok, new Rng(5), { imageTokens: IMAGE_TOKENS, maxLen }, { wordMaskRate: 0.3, wholeMaskRate: 0 });
    fitted.query.concat(fitted.target).forEach((x, i) => {
      assert.ok(x.ids.length <= maxLen, `sequence ${i}: ${x.ids.length} > ${maxLen}`);
      assert.equal(x.embPositions.length, 2, `sequence ${i} keeps both embeddings`);
    });
    // What fitted unchanged stays identical; what was too long is the same sequence with a shorter counterpart.
    free.query.concat(free.target).forEach((x, i) => {
      const y = fitted.query.concat(fitted.target)[i] as typeof x;
      if (x.ids.length <= maxLen) assert.deepEqual(y.ids, x.ids);
      else assert.deepEqual(y.ids.slice(0, x.embPositions[0]), x.ids.slice(0, x.embPositions[0]), 'the turn and its first embedding are kept');
    });
    assert.deepEqual(fitted.slot, free.slot);
  });

  it('renderWithinLength keeps the longest prefix of the counterpart that fits (naive twin)', () => {
    const counterpart: ContentPart[] = [
      { type: 'text', text: 'one two ' },
      { type: 'mask' },
      { type: 'text', text: ' three four five six seven eight nine ten eleven twelve' },
    ];
    const render = (cut: ContentPart[]) => renderDialogue(TEMPLATE_TRAIN, { turns: ['Name it.'], counterpart: cut }, tok, { imageTokens: IMAGE_TOKENS });
    const full = render(counterpart).ids.length;
    const none = render([]).ids.length;
    for (let maxLen = none; maxLen <= full; maxLen++) {
      const seq = renderWithinLength(render, counterpart, maxLen);
      assert.ok(seq.ids.length <= maxLen);
      // Naive twin: every prefix of the counterpart by whole units, rendered; the longest that fits.
      const units = ['one ', 'two ', '<|mask|>', ' three ', ...'four five six seven eight nine ten eleven'.split(' ').map((w) => `${w} `), 'twelve'];
      let best = 0;
      for (let n = 0; n <= units.length; n++) {
        const text = units.slice(0, n).join('');
        const parts: ContentPart[] = text
          .split('<|mask|>')
          .flatMap((t, i) => [...(i > 0 ? [{ type: 'mask' } as ContentPart] : []), ...(t === '' ? [] : [{ type: 'text', text: t } as ContentPart])]);
        if (render(parts).ids.length <= maxLen) best = render(parts).ids.length;
      }
      assert.equal(seq.ids.length, best, `maxLen ${maxLen}: ours ${seq.ids.length} tokens, the longest fitting prefix ${best}`);
    }
    assert.throws(() => renderWithinLength(render, counterpart, none - 1), /tokens without its counterpart, over maxLen/);
  });

  it('samples a single pair from an M3T record with the record caption on the query side', () => {
    const p = sampleSinglePair({ ...record('m', 7), pairs: [{ query: ['A?', 'B?'], target: 'T.' }] }, new Rng(3));
    assert.equal(p.id, 'm/0');
    assert.ok(['A?', 'B?'].includes(p.query.text));
    assert.equal(p.query.image, 'm.png');
    assert.equal(p.query.caption, 'a picture m');
    assert.deepEqual(p.target, { text: 'T.' });
  });
});
