/**
 * What the mini benchmarks may draw from: only test-split concepts, in the in-distribution styles (IND)
 * and in the held-out style (OOD). Never a training or validation concept, as queries, positives or
 * distractors. Also the candidate-list helper shared by mini-MMEB and mini-M-BEIR.
 */
import { deriveSeed, Rng } from '../random';
import { ColourStats } from './colour';
import { Concept, ImageRef } from './concepts';
import { buildImagePairs, ImagePair } from './composed';
import { familySplit, imageSplit, SplitConfig } from './splits';

export interface BenchPool {
  /** Test-split concepts by id. */
  concepts: ReadonlyMap<string, Concept>;
  /** Their images in the in-distribution styles. */
  ind: ImageRef[];
  /** Their images in the held-out style. */
  ood: ImageRef[];
  /** Two-image pairs among test concepts (IND pairs and OOD pairs). */
  pairs: ImagePair[];
  descriptions: ReadonlyMap<string, string>;
  colours: ReadonlyMap<string, ColourStats>;
  /** Every concept of the build, for fixed class-name lists only (a class name like "Europe" or "animal-bird" is a label set, as in ImageNet, not a concept). */
  allConcepts: readonly Concept[];
  seed: number;
}

export function benchPool(
  all: readonly Concept[],
  splits: SplitConfig,
  descriptions: ReadonlyMap<string, string>,
  colours: ReadonlyMap<string, ColourStats>,
  seed: number,
): BenchPool {
  const test = all.filter((c) => familySplit(c.family, splits) === 'test');
  const concepts = new Map(test.map((c) => [c.id, c]));
  const images = test.flatMap((c) => c.images.map((i) => ({ c, i })));
  const ind = images.filter(({ c, i }) => imageSplit(c, i, splits) === 'test').map(({ i }) => i);
  const ood = images.filter(({ c, i }) => imageSplit(c, i, splits) === 'ood').map(({ i }) => i);
  const splitOf = (i: ImageRef) => imageSplit(concepts.get(i.conceptId) as Concept, i, splits);
  const pairs = buildImagePairs({ concepts, splitOf, rng: new Rng(deriveSeed(seed, 'bench-pairs')) });
  return { concepts, ind, ood, pairs, descriptions, colours, allConcepts: all, seed };
}

/** A short style-free caption of a concept (for text → image queries). */
export function shortCaption(c: Concept): string {
  if (c.flag !== undefined) return `the flag of ${c.label}, a country in ${c.flag.subregion}`;
  const tags = (c.tags['en'] ?? []).slice(0, 4);
  const sub = c.categories.subgroup['en'];
  return `${c.label}${sub === undefined ? '' : ` (${sub})`}${tags.length > 0 ? `; keywords ${tags.join(', ')}` : ''}`;
}

/**
 * A candidate list: the positive first, then up to `max − 1` distractors drawn at random from `pool`,
 * skipping items whose key equals the positive's or another chosen one, and items `isAlsoCorrect` flags
 * (they would be right answers too, which MMEB's single-positive scoring cannot credit).
 */
export function candidateList<T>(rng: Rng, positive: T, pool: readonly T[], key: (t: T) => string, isAlsoCorrect: (t: T) => boolean, max: number): T[] {
  const out = [positive];
  const seen = new Set([key(positive)]);
  // Partial Fisher–Yates over indices: draws distractors without shuffling the whole pool.
  const idx = Array.from({ length: pool.length }, (_, i) => i);
  for (let n = 0; n < idx.length && out.length < max; n++) {
    const j = n + rng.int(idx.length - n);
    [idx[n], idx[j]] = [idx[j] as number, idx[n] as number];
    const t = pool[idx[n] as number] as T;
    const k = key(t);
    if (seen.has(k) || isAlsoCorrect(t)) continue;
    seen.add(k);
    out.push(t);
  }
  return out;
}

/** Up to `max` items in a seeded random order. */
export function sample<T>(rng: Rng, items: readonly T[], max: number): T[] {
  return rng.shuffle(items).slice(0, max);
}
