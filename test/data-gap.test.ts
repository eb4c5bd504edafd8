import { strict as assert } from 'assert';
import fc from 'fast-check';
import { assertInformationGap, hasInformationGap, leakedPart, normalizeForGap } from '../lib/data/gap';
import { EMOJI_TEMPLATES, FLAG_TEMPLATES, fillTemplate } from '../lib/data/templates';
import { buildTurns } from '../lib/data/turns';
import { Concept } from '../lib/data/concepts';
import { Rng } from '../lib/random';

/** Naive twin of the rule: token lists compared window by window (space scripts), substring otherwise. */
function naiveLeaks(query: string, answer: string): boolean {
  const norm = (s: string): string[] =>
    s
      .normalize('NFKC')
      .toLowerCase()
      .split(/[^\p{L}\p{N}\p{M}]+/u)
      .filter((t) => t !== '');
  const q = norm(query);
  const parts = [answer, ...answer.split(/[,;·、，；]/).filter((p) => norm(p).join(' ').length >= 3)];
  return parts.some((p) => {
    const a = norm(p);
    if (a.length === 0) return false;
    if (/[\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}\p{Script=Thai}]/u.test(p)) return q.join(' ').includes(a.join(' '));
    for (let i = 0; i + a.length <= q.length; i++) if (a.every((t, j) => q[i + j] === t)) return true;
    return false;
  });
}

describe('information-gap rule', () => {
  it('normalises case, width and punctuation', () => {
    assert.equal(normalizeForGap('  Ｗaving—HAND!? '), 'waving hand');
  });

  it('catches whole answers and list items as whole words only', () => {
    assert.equal(leakedPart('What is the waving hand called?', 'waving hand'), 'waving hand');
    assert.equal(leakedPart('Does this lack a coastline?', 'no'), undefined, '"no" is not a word of the query');
    assert.equal(leakedPart('Is it known?', 'no'), undefined);
    assert.equal(leakedPart('List keywords about the face.', 'smile, face, happy'), 'face');
    assert.equal(leakedPart('List keywords for this emoji.', 'smile, face, happy'), undefined);
    assert.equal(leakedPart('この絵文字の名前は手を振るですか', '手を振る'), '手を振る', 'CJK is matched as a substring');
  });

  it('agrees with a naive token-window twin on random word soups', () => {
    const words = ['red', 'hand', 'waving', 'face', 'no', 'yes', 'flag', 'of', 'the', 'blue'];
    const soup = fc.array(fc.constantFrom(...words), { minLength: 0, maxLength: 8 }).map((w) => w.join(' '));
    const answer = fc
      .array(
        fc.array(fc.constantFrom(...words), { minLength: 1, maxLength: 3 }).map((w) => w.join(' ')),
        { minLength: 1, maxLength: 3 },
      )
      .map((p) => p.join(', '));
    fc.assert(
      fc.property(soup, answer, (q, a) => hasInformationGap(q, a) === !naiveLeaks(q, a)),
      { seed: 11, numRuns: 500 },
    );
  });

  it('assertInformationGap names the record and the leaked text', () => {
    assert.throws(
      () => assertInformationGap(['Name it.', 'Is this the waving hand?'], 'waving hand', 'record x turn 1'),
      /record x turn 1.*"Is this the waving hand\?" contains "waving hand"/,
    );
    assert.doesNotThrow(() => assertInformationGap('Name it.', 'waving hand', 'r'));
  });

  it('no template mentions the picture itself (M3T: no self-reference)', () => {
    for (const t of [...Object.values(EMOJI_TEMPLATES), ...Object.values(FLAG_TEMPLATES)].flat()) {
      assert.ok(!/\b(image|photo|picture)\b/i.test(t), t);
      assert.ok(fillTemplate(t, { lang: 'German', where: 'top part' }).length > 0);
    }
  });

  it('buildTurns never emits a phrasing that contains its answer, even for adversarial facts', () => {
    // Facts chosen to collide with template words: the builder must drop those phrasings or facets.
    const concept: Concept = {
      id: 'emoji:TEST',
      kind: 'emoji',
      family: 'f',
      label: 'emoji',
      names: { en: 'emoji', de: 'emoji' },
      tags: { en: ['emoji', 'keywords', 'symbol', 'face'], fr: ['emoji'] },
      categories: { group: { en: 'category', de: 'Kategorie' }, subgroup: { en: 'emoji' } },
      images: [],
      emoji: { hexcode: 'TEST', groupKey: 'g', subgroupKey: 's', version: 1, tones: [5], associations: ['chat', 'emoji'], shortcodes: ['emoji'] },
    };
    const colours = { main: [{ name: 'yellow' as const, share: 1 }], regions: { top: 'yellow' as const }, coverage: 0.5 };
    for (let seed = 0; seed < 200; seed++) {
      for (const t of buildTurns({ concept, colours, description: 'An emoji.', rng: new Rng(seed) })) {
        for (const q of t.query) assert.ok(hasInformationGap(q, t.answer), `seed ${seed} ${t.facet}: "${q}" vs "${t.answer}"`);
      }
    }
  });
});
