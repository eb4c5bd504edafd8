/**
 * Representation coherence of an embedding space: measures the paper does not define (docs/method.md §5: it
 * claims "coherence across modalities" with no metric), taken from the literature so single-turn and MuCo
 * models can be compared on the same footing.
 *
 *   alignment      Wang & Isola (2020): E‖f(x) − f(y)‖^α over positive pairs (lower = positives closer)
 *   uniformity     Wang & Isola (2020): log E exp(−t‖f(x) − f(x')‖²) over distinct pairs (lower = spread out)
 *   modalityGap    Liang et al. (2022): ‖μ_query − μ_target‖ between the centroids of two embedding sets
 *   turnAgreement  mean cosine between the turn embeddings of one dialogue (within) versus between turns of
 *                  different dialogues (between); their difference is how much a dialogue's turns cohere
 *   pairCosines    cos(x_i, y_{(i+shift) mod n}): positives at shift 0, a negative sample at shift ≥ 1
 *   agreementBySlot  cos(turn t, turn 0) of the same dialogue, averaged per t: how turns drift from the first
 *   principalAxes  the top principal components (for a 2-D picture of the modality gap)
 *
 * Embeddings are row-major Float32Array [n, dim]. Conventions: pairs are ordered (i < j, each counted once);
 * cosines of a zero vector are 0; an empty set of pairs is an error (a mean over nothing has no value).
 */
import * as tf from '@tensorflow/tfjs';
import { Rng } from '../random';

function rowsOf(x: Float32Array, dim: number, what: string): number {
  if (!(Number.isInteger(dim) && dim > 0)) throw new Error(`${what}: dim must be a positive integer, got ${dim}.`);
  if (x.length % dim !== 0 || x.length === 0) {
    throw new Error(`${what}: expected a non-empty [n, ${dim}] row-major array, got ${x.length} values (not a multiple of ${dim}).`);
  }
  return x.length / dim;
}

/** The value of a scalar computed in a tidy (the scalar itself is disposed). */
function scalarOf(fn: () => tf.Tensor): number {
  const t = tf.tidy(fn);
  const v = t.dataSync()[0] as number;
  t.dispose();
  return v;
}

function samePairs(x: Float32Array, y: Float32Array, dim: number, what: string): number {
  const n = rowsOf(x, dim, what);
  const m = rowsOf(y, dim, what);
  if (n !== m) throw new Error(`${what}: x and y must hold the same number of rows (pairs), got [${n}, ${dim}] and [${m}, ${dim}].`);
  return n;
}

/** Alignment: mean over pairs of ‖x_i − y_i‖^α (α = 2 in Wang & Isola). @param x [n, dim] @param y [n, dim] */
export function alignment(x: Float32Array, y: Float32Array, dim: number, alpha = 2): number {
  const n = samePairs(x, y, dim, 'alignment');
  if (!(alpha > 0)) throw new Error(`alignment: alpha must be > 0, got ${alpha}.`);
  return scalarOf(() => {
    const diff = tf.sub(tf.tensor2d(x, [n, dim]), tf.tensor2d(y, [n, dim]));
    const dist = tf.sqrt(tf.sum(tf.square(diff), 1)); // [n]
    return tf.mean(tf.pow(dist, alpha));
  });
}

/** Squared distances ‖x_i − x_j‖² from the Gram matrix, clamped at 0 (round-off). [n, n] */
function squaredDistances(x: tf.Tensor2D): tf.Tensor2D {
  const sq = tf.sum(tf.square(x), 1, true); // [n, 1]
  const gram = tf.matMul(x, x, false, true); // [n, n]
  return tf.relu(tf.sub(tf.add(sq, tf.transpose(sq)), tf.mul(2, gram))) as tf.Tensor2D;
}

/**
 * Uniformity: log of the mean over distinct pairs of exp(−t‖x_i − x_j‖²) (t = 2 in Wang & Isola), computed
 * as a log-sum-exp so far-apart points do not underflow. @param x [n ≥ 2, dim]
 */
export function uniformity(x: Float32Array, dim: number, t = 2): number {
  const n = rowsOf(x, dim, 'uniformity');
  if (n < 2) throw new Error(`uniformity: needs at least 2 rows (one pair), got ${n}.`);
  if (!(t > 0)) throw new Error(`uniformity: t must be > 0, got ${t}.`);
  return scalarOf(() => {
    const logits = tf.mul(-t, squaredDistances(tf.tensor2d(x, [n, dim])));
    // The diagonal (a point with itself) is not a pair: −∞ drops it from the log-sum-exp.
    const offDiagonal = tf.where(tf.cast(tf.eye(n), 'bool'), tf.fill([n, n], -Infinity), logits);
    return tf.sub(tf.logSumExp(offDiagonal), Math.log(n * (n - 1)));
  });
}

export interface ModalityGap {
  /** ‖μ_x − μ_y‖. */
  distance: number;
  /** cos(μ_x, μ_y) (0 when a centroid is zero). */
  centroidCosine: number;
  /** ‖μ_x‖ and ‖μ_y‖: how far each set sits from the origin (1 = all rows identical unit vectors). */
  normX: number;
  normY: number;
}

function centroid(x: Float32Array, dim: number): Float64Array {
  const n = x.length / dim;
  const mu = new Float64Array(dim);
  for (let i = 0; i < n; i++) for (let d = 0; d < dim; d++) mu[d] = (mu[d] as number) + (x[i * dim + d] as number);
  return mu.map((v) => v / n);
}

/** The modality gap between two embedding sets (they may differ in size). @param x [n, dim] @param y [m, dim] */
export function modalityGap(x: Float32Array, y: Float32Array, dim: number): ModalityGap {
  rowsOf(x, dim, 'modalityGap');
  rowsOf(y, dim, 'modalityGap');
  const mx = centroid(x, dim);
  const my = centroid(y, dim);
  let dist = 0;
  let dot = 0;
  let nx = 0;
  let ny = 0;
  for (let d = 0; d < dim; d++) {
    const a = mx[d] as number;
    const b = my[d] as number;
    dist += (a - b) ** 2;
    dot += a * b;
    nx += a * a;
    ny += b * b;
  }
  const normX = Math.sqrt(nx);
  const normY = Math.sqrt(ny);
  return { distance: Math.sqrt(dist), centroidCosine: normX === 0 || normY === 0 ? 0 : dot / (normX * normY), normX, normY };
}

/** Rows scaled to unit length (zero rows stay zero). [n, dim] */
function unitRows(x: tf.Tensor2D): tf.Tensor2D {
  const norm = tf.sqrt(tf.sum(tf.square(x), 1, true));
  return tf.div(x, tf.maximum(norm, 1e-12));
}

/** cos(x_i, y_{(i + shift) mod n}) for every i. @param x [n, dim] @param y [n, dim] @returns [n] */
export function pairCosines(x: Float32Array, y: Float32Array, dim: number, shift = 0): Float32Array {
  const n = samePairs(x, y, dim, 'pairCosines');
  if (!Number.isInteger(shift)) throw new Error(`pairCosines: shift must be an integer, got ${shift}.`);
  const s = ((shift % n) + n) % n;
  const order = Int32Array.from({ length: n }, (_, i) => (i + s) % n);
  const out = tf.tidy(() => {
    const yy = tf.gather(unitRows(tf.tensor2d(y, [n, dim])), tf.tensor1d(order, 'int32'));
    return tf.sum(tf.mul(unitRows(tf.tensor2d(x, [n, dim])), yy), 1);
  });
  const values = out.dataSync() as Float32Array;
  out.dispose();
  return values;
}

export interface TurnAgreement {
  /** Mean cosine over pairs of rows from the same group (the turns of one dialogue). */
  within: number;
  /** Mean cosine over pairs of rows from different groups. */
  between: number;
  /** within − between. */
  margin: number;
  withinPairs: number;
  betweenPairs: number;
}

/**
 * Agreement of the turn embeddings of each dialogue. @param x [n, dim] rows (turn embeddings)
 * @param groups [n] the dialogue (image) of each row; needs one group with ≥ 2 rows and ≥ 2 groups.
 */
export function turnAgreement(x: Float32Array, groups: readonly number[], dim: number): TurnAgreement {
  const n = rowsOf(x, dim, 'turnAgreement');
  if (groups.length !== n) throw new Error(`turnAgreement: ${groups.length} group ids for ${n} rows; give one per row.`);
  const [withinSum, withinCount, totalSum] = tf
    .tidy(() => {
      const u = unitRows(tf.tensor2d(x, [n, dim]));
      const cos = tf.matMul(u, u, false, true); // [n, n]
      const g = tf.tensor1d(Int32Array.from(groups), 'int32');
      const same = tf.sub(tf.cast(tf.equal(tf.expandDims(g, 1), tf.expandDims(g, 0)), 'float32'), tf.eye(n)); // i ≠ j, same group
      const offDiagonal = tf.sub(cos, tf.mul(tf.eye(n), cos));
      return [tf.sum(tf.mul(cos, same)), tf.sum(same), tf.sum(offDiagonal)];
    })
    .map((t) => {
      const v = t.dataSync()[0] as number;
      t.dispose();
      return v;
    }) as [number, number, number];
  // Ordered sums count every unordered pair twice.
  const withinPairs = Math.round(withinCount) / 2;
  const betweenPairs = (n * (n - 1)) / 2 - withinPairs;
  if (withinPairs === 0) throw new Error('turnAgreement: no two rows share a group; each dialogue needs at least 2 turn embeddings.');
  if (betweenPairs === 0) throw new Error('turnAgreement: every row is in one group; give at least 2 dialogues.');
  const within = withinSum / 2 / withinPairs;
  const between = (totalSum - withinSum) / 2 / betweenPairs;
  return { within, between, margin: within - between, withinPairs, betweenPairs };
}

/**
 * Mean cosine between each turn's embedding and the first turn's embedding of the same dialogue, by turn
 * slot (slot 0 is 1 by definition; a dialogue without slot 0 is skipped). @param x [n, dim]
 * @param groups [n] dialogue ids @param slots [n] turn slots @returns [maxSlot + 1] (null: no such turn)
 */
export function agreementBySlot(x: Float32Array, groups: readonly number[], slots: readonly number[], dim: number): (number | null)[] {
  const n = rowsOf(x, dim, 'agreementBySlot');
  if (groups.length !== n || slots.length !== n)
    throw new Error(`agreementBySlot: ${groups.length} groups and ${slots.length} slots for ${n} rows; give one of each per row.`);
  const cos = pairCosinesOf(x, dim);
  const first = new Map<number, number>();
  slots.forEach((s, i) => s === 0 && first.set(groups[i] as number, i));
  const sums: number[] = [];
  const counts: number[] = [];
  for (let i = 0; i < n; i++) {
    const f = first.get(groups[i] as number);
    if (f === undefined) continue;
    const s = slots[i] as number;
    sums[s] = (sums[s] ?? 0) + (cos(i, f) as number);
    counts[s] = (counts[s] ?? 0) + 1;
  }
  return Array.from({ length: sums.length }, (_, s) => (counts[s] ? (sums[s] as number) / (counts[s] as number) : null));
}

/** cos(x_i, x_j) by index, from one Gram matrix of unit rows. */
function pairCosinesOf(x: Float32Array, dim: number): (i: number, j: number) => number {
  const n = x.length / dim;
  const gram = tf.tidy(() => {
    const u = unitRows(tf.tensor2d(x, [n, dim]));
    return tf.matMul(u, u, false, true);
  });
  const values = gram.dataSync();
  gram.dispose();
  return (i, j) => values[i * n + j] as number;
}

export interface PrincipalAxes {
  /** [k, dim] unit components, strongest first. */
  components: Float64Array;
  /** Variance along each component (population variance, ÷ n). */
  variances: number[];
  /** Column means subtracted before projecting. [dim] */
  mean: Float64Array;
  /** Total variance (trace of the covariance): variances[c] / totalVariance is the share of component c. */
  totalVariance: number;
}

/**
 * The top-k principal axes of the rows of `x` (power iteration with deflation on the [dim, dim] covariance,
 * float64; `dim` is small for our models). @param x [n, dim]
 */
export function principalAxes(x: Float32Array, dim: number, k = 2, options: { iterations?: number; seed?: number } = {}): PrincipalAxes {
  const n = rowsOf(x, dim, 'principalAxes');
  if (!(Number.isInteger(k) && k >= 1 && k <= dim)) throw new Error(`principalAxes: k must be an integer in [1, ${dim}], got ${k}.`);
  const mean = centroid(x, dim);
  const cov = new Float64Array(dim * dim);
  const row = new Float64Array(dim);
  for (let i = 0; i < n; i++) {
    for (let d = 0; d < dim; d++) row[d] = (x[i * dim + d] as number) - (mean[d] as number);
    for (let a = 0; a < dim; a++) {
      const ra = row[a] as number;
      for (let b = a; b < dim; b++) cov[a * dim + b] = (cov[a * dim + b] as number) + ra * (row[b] as number);
    }
  }
  for (let a = 0; a < dim; a++) for (let b = a; b < dim; b++) cov[b * dim + a] = cov[a * dim + b] = (cov[a * dim + b] as number) / n;
  let totalVariance = 0;
  for (let a = 0; a < dim; a++) totalVariance += cov[a * dim + a] as number;
  const rng = new Rng(options.seed ?? 0);
  const iterations = options.iterations ?? 500;
  const components = new Float64Array(k * dim);
  const variances: number[] = [];
  for (let c = 0; c < k; c++) {
    let v = Float64Array.from({ length: dim }, () => rng.normal());
    let lambda = 0;
    for (let it = 0; it < iterations; it++) {
      const w = new Float64Array(dim);
      for (let a = 0; a < dim; a++) {
        let s = 0;
        for (let b = 0; b < dim; b++) s += (cov[a * dim + b] as number) * (v[b] as number);
        w[a] = s;
      }
      const norm = Math.hypot(...w);
      if (norm === 0) break; // no variance left: any unit vector orthogonal to the found ones will do
      lambda = norm;
      v = w.map((value) => value / norm);
    }
    v = v.map((value) => value / (Math.hypot(...v) || 1));
    components.set(v, c * dim);
    variances.push(lambda);
    // Deflate: C ← C − λ v vᵀ.
    for (let a = 0; a < dim; a++) for (let b = 0; b < dim; b++) cov[a * dim + b] = (cov[a * dim + b] as number) - lambda * (v[a] as number) * (v[b] as number);
  }
  return { components, variances, mean, totalVariance };
}

/** Coordinates of rows of `x` on principal axes: (x_i − mean)·v_c. @param x [n, dim] @returns [n, k] row-major */
export function projectRows(x: Float32Array, dim: number, axes: PrincipalAxes): Float64Array {
  const n = rowsOf(x, dim, 'projectRows');
  const k = axes.components.length / dim;
  const out = new Float64Array(n * k);
  for (let i = 0; i < n; i++) {
    for (let c = 0; c < k; c++) {
      let s = 0;
      for (let d = 0; d < dim; d++) s += ((x[i * dim + d] as number) - (axes.mean[d] as number)) * (axes.components[c * dim + d] as number);
      out[i * k + c] = s;
    }
  }
  return out;
}

export interface CoherenceInput {
  /** [n, dim] query embeddings (image + text), paired row by row with `targets`. */
  queries: Float32Array;
  /** [n, dim] target embeddings (text). */
  targets: Float32Array;
  dim: number;
  /** [m, dim] turn embeddings of multi-turn dialogues and their dialogue ids (optional). */
  turns?: { embeddings: Float32Array; groups: readonly number[] };
}

/** Every measure at once, as a flat record for a table row. */
export function coherenceSummary(input: CoherenceInput): Record<string, number> {
  const { queries, targets, dim } = input;
  const gap = modalityGap(queries, targets, dim);
  const pos = pairCosines(queries, targets, dim, 0);
  const neg = pairCosines(queries, targets, dim, 1);
  const mean = (v: Float32Array): number => v.reduce((s, x) => s + x, 0) / v.length;
  const out: Record<string, number> = {
    alignment: alignment(queries, targets, dim),
    'uniformity (queries)': uniformity(queries, dim),
    'uniformity (targets)': uniformity(targets, dim),
    'modality gap': gap.distance,
    'centroid cosine': gap.centroidCosine,
    'positive cosine': mean(pos),
    'negative cosine': mean(neg),
  };
  if (input.turns !== undefined) {
    const t = turnAgreement(input.turns.embeddings, input.turns.groups, dim);
    out['turn agreement (within)'] = t.within;
    out['turn agreement (between)'] = t.between;
    out['turn agreement margin'] = t.margin;
  }
  return out;
}
