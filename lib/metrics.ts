/**
 * Ranking metrics with the conventions of the benchmarks we report (docs/benchmarks.md §1.3, §2.3).
 *
 * Conventions, stated once:
 * - A **ranking** is an array of distinct candidate ids, best first. It may be shorter than k (a pool with
 *   fewer than k candidates, or a top-k list); positions past its end count as not relevant.
 * - **Relevance** is a `Set` of relevant ids (binary) or a `Map` id → gain (graded; gain ≤ 0 means not
 *   relevant). Only nDCG uses the gain values; every other metric reads "relevant" as gain > 0.
 * - **Empty relevance** (no relevant id): every metric returns 0. A query with nothing to find cannot be hit.
 *   (VLM2Vec's `RankingMetrics` returns recall 1.0 in that case and 0 elsewhere; the benchmarks never contain
 *   such a query, and our harnesses reject one as a data error before scoring.)
 * - **Ties** are not resolved here: the ranking is given. The rankers in `rank.ts` break exact score ties by
 *   the lower candidate index, which is the MMEB v1 rule (`np.argmax` returns the first maximum, so with the
 *   positive at index 0 a tie counts as correct; see `mmebHitAt1`).
 * - `hitAtK` is UniIR's "Recall@k" (1 if any relevant id is in the top k). `recallAtK` is the fractional
 *   recall of trec_eval (`|relevant ∩ top-k| / |relevant|`). They differ only when a query has several positives.
 * - `precisionAtK` divides by k even when fewer than k candidates were ranked (trec_eval, VLM2Vec).
 * - `averagePrecisionAtK` normalises by min(|relevant|, k), as VLM2Vec's `map@k`.
 * - All values are fractions in [0, 1]; tables multiply by 100.
 */

export type Relevance<T> = ReadonlySet<T> | ReadonlyMap<T, number>;

/** The gain of an id: 1 / 0 for a set, the mapped value (or 0) for a map. */
export function gainOf<T>(relevance: Relevance<T>, id: T): number {
  if (relevance instanceof Map) return relevance.get(id) ?? 0;
  return relevance.has(id) ? 1 : 0;
}

/** The number of relevant ids (gain > 0). */
export function numRelevant<T>(relevance: Relevance<T>): number {
  if (relevance instanceof Map) {
    let n = 0;
    for (const g of relevance.values()) if (g > 0) n++;
    return n;
  }
  return relevance.size;
}

function checkK(k: number, name: string): void {
  if (!Number.isInteger(k) || k < 1) {
    throw new Error(`${name}: k must be a positive integer, got ${k}. Pass k ≥ 1 (e.g. 1, 5, 10).`);
  }
}

/** How many of the first k ranked ids are relevant. */
export function relevantInTopK<T>(ranking: readonly T[], relevance: Relevance<T>, k: number): number {
  const end = Math.min(k, ranking.length);
  let hits = 0;
  for (let i = 0; i < end; i++) if (gainOf(relevance, ranking[i] as T) > 0) hits++;
  return hits;
}

/** hit@k (UniIR "Recall@k", MMEB hit@1): 1 if any relevant id is among the first k, else 0. */
export function hitAtK<T>(ranking: readonly T[], relevance: Relevance<T>, k: number): number {
  checkK(k, 'hitAtK');
  return relevantInTopK(ranking, relevance, k) > 0 ? 1 : 0;
}

/** Fractional recall@k: |relevant ∩ top-k| / |relevant|; 0 when nothing is relevant. */
export function recallAtK<T>(ranking: readonly T[], relevance: Relevance<T>, k: number): number {
  checkK(k, 'recallAtK');
  const total = numRelevant(relevance);
  return total === 0 ? 0 : relevantInTopK(ranking, relevance, k) / total;
}

/** precision@k: |relevant ∩ top-k| / k. */
export function precisionAtK<T>(ranking: readonly T[], relevance: Relevance<T>, k: number): number {
  checkK(k, 'precisionAtK');
  return numRelevant(relevance) === 0 ? 0 : relevantInTopK(ranking, relevance, k) / k;
}

/** F1 of precision@k and recall@k; 0 when both are 0. */
export function f1AtK<T>(ranking: readonly T[], relevance: Relevance<T>, k: number): number {
  const p = precisionAtK(ranking, relevance, k);
  const r = recallAtK(ranking, relevance, k);
  return p + r === 0 ? 0 : (2 * p * r) / (p + r);
}

export type NdcgGain = 'linear' | 'exponential';

function discountedGain(gain: number, position: number, form: NdcgGain): number {
  const g = form === 'linear' ? gain : 2 ** gain - 1;
  return g / Math.log2(position + 2);
}

/**
 * nDCG@k with binary or graded relevance. Linear gain uses g, exponential gain 2^g − 1 (identical for binary
 * relevance). The ideal ranking lists the relevant gains in decreasing order, truncated at k.
 */
export function ndcgAtK<T>(ranking: readonly T[], relevance: Relevance<T>, k: number, form: NdcgGain = 'linear'): number {
  checkK(k, 'ndcgAtK');
  const end = Math.min(k, ranking.length);
  let dcg = 0;
  for (let i = 0; i < end; i++) {
    const g = gainOf(relevance, ranking[i] as T);
    if (g > 0) dcg += discountedGain(g, i, form);
  }
  const gains = relevance instanceof Map ? [...relevance.values()].filter((g) => g > 0) : Array(relevance.size).fill(1);
  gains.sort((a, b) => b - a);
  let idcg = 0;
  for (let i = 0; i < Math.min(k, gains.length); i++) idcg += discountedGain(gains[i] as number, i, form);
  return idcg > 0 ? dcg / idcg : 0;
}

/** Reciprocal rank of the first relevant id within the first k (k = Infinity: the whole ranking); 0 if none. */
export function reciprocalRank<T>(ranking: readonly T[], relevance: Relevance<T>, k = Infinity): number {
  if (k !== Infinity) checkK(k, 'reciprocalRank');
  const end = Math.min(k, ranking.length);
  for (let i = 0; i < end; i++) if (gainOf(relevance, ranking[i] as T) > 0) return 1 / (i + 1);
  return 0;
}

/** Average precision@k, normalised by min(|relevant|, k) (VLM2Vec's `map@k`). */
export function averagePrecisionAtK<T>(ranking: readonly T[], relevance: Relevance<T>, k: number): number {
  checkK(k, 'averagePrecisionAtK');
  const total = numRelevant(relevance);
  if (total === 0) return 0;
  const end = Math.min(k, ranking.length);
  let hits = 0;
  let sum = 0;
  for (let i = 0; i < end; i++) {
    if (gainOf(relevance, ranking[i] as T) > 0) {
      hits++;
      sum += hits / (i + 1);
    }
  }
  return sum / Math.min(total, k);
}

/**
 * MMEB's hit@1 from raw scores, with its tie rule: the positive is candidate 0 and the row is correct iff
 * `argmax(scores) == 0`, where argmax returns the *first* maximum, so an exact tie with the positive counts
 * as correct (docs/benchmarks.md §1.3). Constant embeddings therefore score 100: check `tiedAtTop`.
 */
export function mmebHitAt1(scores: ArrayLike<number>): number {
  if (scores.length === 0) throw new Error('mmebHitAt1: a row needs at least one candidate score (the positive), got 0.');
  const positive = scores[0] as number;
  for (let j = 1; j < scores.length; j++) if ((scores[j] as number) > positive) return 0;
  return 1;
}

/** Whether the positive (index 0) ties exactly with the best negative: the cases the MMEB tie rule decides. */
export function tiedAtTop(scores: ArrayLike<number>): boolean {
  const positive = scores[0] as number;
  let best = -Infinity;
  for (let j = 1; j < scores.length; j++) best = Math.max(best, scores[j] as number);
  return scores.length > 1 && best === positive;
}

export type MetricName = 'hit' | 'recall' | 'precision' | 'f1' | 'ndcg_linear' | 'ndcg_exponential' | 'map' | 'mrr';

export const ALL_METRICS: readonly MetricName[] = ['hit', 'ndcg_linear', 'ndcg_exponential', 'precision', 'recall', 'f1', 'map', 'mrr'];

/** One query's ranking and its relevance. */
export interface RankedCase<T> {
  ranking: readonly T[];
  relevance: Relevance<T>;
}

function metricAt<T>(name: MetricName, c: RankedCase<T>, k: number): number {
  switch (name) {
    case 'hit':
      return hitAtK(c.ranking, c.relevance, k);
    case 'recall':
      return recallAtK(c.ranking, c.relevance, k);
    case 'precision':
      return precisionAtK(c.ranking, c.relevance, k);
    case 'f1':
      return f1AtK(c.ranking, c.relevance, k);
    case 'ndcg_linear':
      return ndcgAtK(c.ranking, c.relevance, k, 'linear');
    case 'ndcg_exponential':
      return ndcgAtK(c.ranking, c.relevance, k, 'exponential');
    case 'map':
      return averagePrecisionAtK(c.ranking, c.relevance, k);
    case 'mrr':
      return reciprocalRank(c.ranking, c.relevance, k);
  }
}

/**
 * Mean of each metric at each k over the cases, keyed as VLM2Vec's score files are (`hit@1`, `ndcg_linear@5`,
 * `mrr@10`, ...). An empty case list gives an empty record rather than NaNs.
 */
export function meanRankingMetrics<T>(
  cases: readonly RankedCase<T>[],
  options: { ks?: readonly number[]; metrics?: readonly MetricName[] } = {},
): Record<string, number> {
  const ks = options.ks ?? [1, 5, 10];
  const metrics = options.metrics ?? ALL_METRICS;
  const out: Record<string, number> = {};
  if (cases.length === 0) return out;
  for (const name of metrics) {
    for (const k of ks) {
      let sum = 0;
      for (const c of cases) sum += metricAt(name, c, k);
      out[`${name}@${k}`] = sum / cases.length;
    }
  }
  return out;
}

/** The unweighted mean of a list of numbers; throws on an empty list (a mean of nothing is a bug upstream). */
export function mean(values: readonly number[], what = 'values'): number {
  if (values.length === 0) throw new Error(`mean: no ${what} to average. Check that the inputs are not empty.`);
  let s = 0;
  for (const v of values) s += v;
  return s / values.length;
}
