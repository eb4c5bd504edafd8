/**
 * Chance levels computed from the benchmark data, for the random-embedding model that the seeded random
 * encoder (lib/evaluate `randomEncoder`) implements: every distinct item gets its own random vector, identical
 * items share one. A model below these numbers is worse than random, not at it.
 *
 *   MMEB hit@1      the positive wins when its item scores highest among the row's distinct candidate items
 *                   (identical copies of the positive tie with it and count as correct, as MMEB's tie rule
 *                   does): 1 / (distinct candidate items), averaged over rows
 *   M-BEIR Recall@k a random ranking of N pool candidates puts at least one of the query's r relevant ones in
 *                   the top k with probability 1 − C(N − r, k) / C(N, k), averaged over queries
 */
import type { EncodeItem } from './encoder';

/** Expected hit@1 of one MMEB row under random embeddings. */
export function mmebRowChance(candidates: readonly EncodeItem[]): number {
  const distinct = new Set(candidates.map((c) => `${c.image ?? ''}\u0000${c.text ?? ''}`));
  return 1 / distinct.size;
}

/** P(at least one of r relevant among the top k of a random ranking of n candidates). */
export function recallAtKChance(n: number, r: number, k: number): number {
  if (!(Number.isInteger(n) && Number.isInteger(r) && Number.isInteger(k) && n >= 1 && r >= 0 && r <= n && k >= 0)) {
    throw new Error(`recallAtKChance needs integers 0 ≤ r ≤ n, n ≥ 1, k ≥ 0; got n=${n}, r=${r}, k=${k}.`);
  }
  if (r === 0) return 0;
  if (k >= n - r + 1) return 1;
  // C(n − r, k) / C(n, k) = Π_{i<k} (n − r − i) / (n − i), as a product to stay exact-ish for large n
  let none = 1;
  for (let i = 0; i < k; i++) none *= (n - r - i) / (n - i);
  return 1 - none;
}
