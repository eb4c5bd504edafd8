/**
 * Candidates no model can tell apart: the build-time check (lib/data/ambiguity.ts) against a loop twin, the
 * passages of mini-M-BEIR's emoji_task1 (variants differ), and the global-pool scoring that counts identical
 * copies of a positive as relevant (lib/eval/mbeir.ts).
 */
import { strict as assert } from 'assert';
import { ambiguousQueries, assertUnambiguous, CandidateContent } from '../lib/data/ambiguity';
import type { Concept } from '../lib/data/concepts';
import { passage } from '../lib/data/mini-mbeir';
import { contentTwins, withTwins } from '../lib/eval/mbeir';
import { Rng } from '../lib/random';

describe('ambiguous candidates', () => {
  it('finds exactly the queries whose positive has an identical non-relevant twin (loop twin, random pools)', () => {
    const rng = new Rng(4);
    for (let trial = 0; trial < 30; trial++) {
      const n = 2 + rng.int(6);
      const cands: [string, CandidateContent][] = Array.from({ length: n }, (_, i) => [
        `d${i}`,
        { text: `t${rng.int(3)}`, image: rng.int(2) === 0 ? '' : `i${rng.int(2)}` },
      ]);
      const positives = cands.filter(() => rng.int(3) === 0).map(([id]) => id);
      if (positives.length === 0) positives.push('d0');
      const naive = positives.some((p) => {
        const c = cands.find(([id]) => id === p)?.[1] as CandidateContent;
        return cands.some(([id, o]) => !positives.includes(id) && o.text === c.text && o.image === c.image);
      });
      assert.equal(ambiguousQueries([{ query: 'q', positives, candidates: cands }]).queries, naive ? 1 : 0, JSON.stringify({ cands, positives }));
    }
  });

  it('says which query, positive and twin, and passes identical copies that are all relevant', () => {
    const candidates = new Map<string, CandidateContent>([
      ['a', { text: 'x', image: '' }],
      ['b', { text: 'x', image: '' }],
      ['c', { text: 'x', image: 'p.png' }],
    ]);
    assert.throws(
      () => assertUnambiguous('set S', [{ query: 'q1', positives: ['a'], candidates }]),
      /set S: 1 queries .*query q1: positive a and non-relevant b are both "x"/,
    );
    assert.doesNotThrow(() => assertUnambiguous('set S', [{ query: 'q1', positives: ['a', 'b'], candidates }]));
    assert.doesNotThrow(() => assertUnambiguous('set S', [{ query: 'q1', positives: ['c'], candidates }]));
  });

  it('emoji passages name what sets a variant apart, and its code points', () => {
    const base = {
      kind: 'emoji',
      family: 'f',
      label: 'person running',
      names: {},
      tags: { en: ['run', 'race'] },
      categories: { group: { en: 'people & body' }, subgroup: { en: 'person-activity' } },
      images: [],
    };
    const facts = { groupKey: 'people-body', subgroupKey: 'person-activity', version: 4, tones: [] as number[], associations: [], shortcodes: [] };
    const plain = passage({ ...base, id: 'emoji:1F3C3', emoji: { ...facts, hexcode: '1F3C3' } } as unknown as Concept);
    const dark = passage({ ...base, id: 'emoji:1F3C3-1F3FF', emoji: { ...facts, hexcode: '1F3C3-1F3FF', tones: [5] } } as unknown as Concept);
    const right = passage({ ...base, id: 'emoji:1F3C3-200D-27A1-FE0F', emoji: { ...facts, hexcode: '1F3C3-200D-27A1-FE0F' } } as unknown as Concept);
    assert.equal(new Set([plain, dark, right]).size, 3);
    assert.match(dark, /variant: dark skin tone; .*code points U\+1F3C3 U\+1F3FF\.$/);
    assert.match(plain, /^An emoji of the people & body group \(person-activity\); keywords run, race; introduced in .*; code points U\+1F3C3\.$/);
  });

  it('global scoring: identical copies of a positive count as relevant, other candidates do not', () => {
    const twins = contentTwins([
      { did: '10:1', text: 'cat', modality: 'text' },
      { did: '13:1', text: 'cat', modality: 'text' },
      { did: '12:5', text: 'cat', image: 'cat.png', modality: 'image,text' },
      { did: '10:2', image: 'dog.png', modality: 'image' },
      { did: '12:2', image: 'dog.png', modality: 'image' },
      { did: '13:2', image: 'dog.png', modality: 'image' },
    ]);
    assert.deepEqual(twins.get('10:1'), ['13:1']);
    assert.deepEqual(twins.get('13:2'), ['10:2', '12:2']);
    assert.equal(twins.has('12:5'), false);
    assert.deepEqual([...withTwins(new Set(['10:1', '12:5']), twins)].sort(), ['10:1', '12:5', '13:1']);
    assert.deepEqual([...withTwins(new Set(['x']), twins)], ['x']);
  });
});
