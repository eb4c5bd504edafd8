/**
 * Mean pairwise cosine similarity of a set of vectors: how much a model's embeddings of *different* inputs
 * still point the same way. Near 1 means the embedding barely depends on the input (for image-only inputs:
 * the model does not see the image); near 0 means the vectors are spread out.
 *
 * Conventions: every pair i < j counts once; rows need not be normalised; a zero row has no direction and is
 * an error, and so is a set of fewer than two rows (no pairs).
 */

/**
 * Mean cosine over all pairs i < j of n row vectors.
 *
 * With u_i = x_i / ‖x_i‖ and s = Σ u_i: Σ_{i<j} u_i·u_j = (‖s‖² − n) / 2, so this is O(n·d), not O(n²·d).
 * @param x [n, d] row-major
 */
export function meanPairwiseCosine(x: Float32Array, n: number, d: number): number {
  if (!Number.isInteger(n) || !Number.isInteger(d) || d <= 0) throw new Error(`meanPairwiseCosine: n and d must be integers, d > 0; got n = ${n}, d = ${d}.`);
  if (x.length !== n * d) throw new Error(`meanPairwiseCosine: expected [${n}, ${d}] = ${n * d} values, got ${x.length}.`);
  if (n < 2) throw new Error(`meanPairwiseCosine needs at least 2 rows (there are no pairs among ${n}); pass more vectors.`);
  const sum = new Float64Array(d);
  for (let i = 0; i < n; i++) {
    let sq = 0;
    for (let k = 0; k < d; k++) sq += (x[i * d + k] as number) ** 2;
    if (!(sq > 0))
      throw new Error(`meanPairwiseCosine: row ${i} is ${sq === 0 ? 'all zeros' : 'not finite'}, so it has no direction; drop it or check what produced it.`);
    const inv = 1 / Math.sqrt(sq);
    for (let k = 0; k < d; k++) sum[k] = (sum[k] as number) + (x[i * d + k] as number) * inv;
  }
  let s2 = 0;
  for (let k = 0; k < d; k++) s2 += (sum[k] as number) ** 2;
  return (s2 - n) / (n * (n - 1));
}
