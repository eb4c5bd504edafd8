/**
 * Counts of a mini-M3T build, kept in the build state so the data card can be rewritten without
 * recomputing the records: per split, per turn kind, per facet, per language, per pair kind, plus a few
 * example records.
 */
import { EDIT_KINDS, PairKind } from './composed';
import { PairRecord, TurnRecord } from './records';
import { Split, SPLITS } from './splits';

export interface RecordsSummary {
  /** Images (= turn records) per split. */
  images: Record<Split, number>;
  /** Query–target pairs inside turn records, per split. */
  turnPairs: Record<Split, number>;
  /** Two-image pair records per split. */
  pairRecords: Record<Split, number>;
  /** Distinct concepts per split (a concept's OOD images count under `ood` too). */
  concepts: Record<Split, number>;
  byStyle: Record<string, number>;
  byTurnKind: Record<string, number>;
  /** Facet families: `name@L` for any locale, `colour` for any region. */
  byFacet: Record<string, number>;
  /** Turn pairs per answer language (locale code). */
  byLanguage: Record<string, number>;
  byPairKind: Record<string, number>;
  /** Mean number of distinct turn kinds per image. */
  turnKindsPerImage: number;
  examples: { turns: TurnRecord[]; pairs: PairRecord[] };
}

function zeroSplits(): Record<Split, number> {
  return Object.fromEntries(SPLITS.map((s) => [s, 0])) as Record<Split, number>;
}

function bump(table: Record<string, number>, key: string, by = 1): void {
  table[key] = (table[key] ?? 0) + by;
}

/** Facet family of a facet name (`name@de` → `name@L`, `colour:top` → `colour`). */
export function facetFamily(facet: string): string {
  return facet.replace(/@.*$/, '@L').replace(/:.*$/, '');
}

export function summarizeRecords(turns: readonly TurnRecord[], pairs: readonly PairRecord[]): RecordsSummary {
  const s: RecordsSummary = {
    images: zeroSplits(), turnPairs: zeroSplits(), pairRecords: zeroSplits(), concepts: zeroSplits(),
    byStyle: {}, byTurnKind: {}, byFacet: {}, byLanguage: {}, byPairKind: {}, turnKindsPerImage: 0,
    examples: { turns: [], pairs: [] },
  };
  const conceptsBySplit = new Map<Split, Set<string>>(SPLITS.map((x) => [x, new Set()]));
  let kindSum = 0;
  for (const r of turns) {
    s.images[r.split]++;
    s.turnPairs[r.split] += r.qry.length;
    conceptsBySplit.get(r.split)?.add(r.concept);
    bump(s.byStyle, r.style);
    r.kinds.forEach((k) => bump(s.byTurnKind, k));
    r.facets.forEach((f) => bump(s.byFacet, facetFamily(f)));
    r.langs.forEach((l) => bump(s.byLanguage, l));
    kindSum += new Set(r.kinds).size;
  }
  for (const p of pairs) {
    s.pairRecords[p.split]++;
    bump(s.byPairKind, p.kinds[0]);
  }
  for (const x of SPLITS) s.concepts[x] = conceptsBySplit.get(x)?.size ?? 0;
  s.turnKindsPerImage = turns.length === 0 ? 0 : Math.round((kindSum / turns.length) * 1000) / 1000;
  // Examples: one emoji and one flag record from train, a multilingual one, and one pair of each kind.
  const pick = (pred: (r: TurnRecord) => boolean): TurnRecord | undefined => turns.find((r) => r.split === 'train' && pred(r));
  s.examples.turns = [
    pick((r) => r.concept.startsWith('emoji:') && r.kinds.length === 7),
    pick((r) => r.concept.startsWith('flag:')),
    pick((r) => r.langs.some((l) => l !== 'en') && r.concept.startsWith('emoji:') && r.facets.some((f) => f === 'skin')),
  ].filter((r): r is TurnRecord => r !== undefined);
  const kinds = [...new Set(pairs.map((p) => p.kinds[0]))];
  s.examples.pairs = kinds.map((k) => pairs.find((p) => p.kinds[0] === k && p.split === 'train') ?? pairs.find((p) => p.kinds[0] === k)).filter((p): p is PairRecord => p !== undefined);
  return s;
}

/** Totals used by the data card's targets. */
export function totals(s: RecordsSummary): { images: number; pairs: number; composed: number; languages: number } {
  const sum = (t: Record<string, number>): number => Object.values(t).reduce((a, b) => a + b, 0);
  const composed = EDIT_KINDS.reduce((a, k: PairKind) => a + (s.byPairKind[k] ?? 0), 0);
  const languages = new Set(Object.keys(s.byLanguage).map((l) => l.split('-')[0])).size;
  return { images: sum(s.images), pairs: sum(s.turnPairs) + sum(s.pairRecords), composed, languages };
}
