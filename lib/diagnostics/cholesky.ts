/**
 * Solving symmetric positive definite systems by Cholesky factorisation, in Float64 JavaScript: the ridge
 * systems of the linear probes (lib/diagnostics/linear-probe.ts), which are small (≤ a few hundred unknowns).
 */

/**
 * Solve A X = B for symmetric positive definite A by Cholesky (A = L Lᵀ).
 * @param a [m, m] row-major (not modified)
 * @param b [m, k] row-major
 * @returns X [m, k]
 */
export function solveSpd(a: Float64Array, b: Float64Array, m: number, k: number): Float64Array {
  if (a.length !== m * m || b.length !== m * k)
    throw new Error(`solveSpd: expected A [${m}, ${m}] and B [${m}, ${k}], got ${a.length} and ${b.length} values.`);
  const l = new Float64Array(m * m);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j <= i; j++) {
      let s = a[i * m + j] as number;
      for (let p = 0; p < j; p++) s -= (l[i * m + p] as number) * (l[j * m + p] as number);
      if (i === j) {
        if (!(s > 0)) throw new Error(`solveSpd: the matrix is not positive definite (pivot ${i} is ${s}); for a ridge system, increase lambda.`);
        l[i * m + i] = Math.sqrt(s);
      } else {
        l[i * m + j] = s / (l[j * m + j] as number);
      }
    }
  }
  const x = Float64Array.from(b);
  for (let c = 0; c < k; c++) {
    for (let i = 0; i < m; i++) {
      // forward: L y = b
      let s = x[i * k + c] as number;
      for (let p = 0; p < i; p++) s -= (l[i * m + p] as number) * (x[p * k + c] as number);
      x[i * k + c] = s / (l[i * m + i] as number);
    }
    for (let i = m - 1; i >= 0; i--) {
      // backward: Lᵀ x = y
      let s = x[i * k + c] as number;
      for (let p = i + 1; p < m; p++) s -= (l[p * m + i] as number) * (x[p * k + c] as number);
      x[i * k + c] = s / (l[i * m + i] as number);
    }
  }
  return x;
}
