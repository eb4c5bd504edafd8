/**
 * A closed-form linear probe: does a set of features carry a label linearly? One-vs-rest ridge regression on
 * ±1 targets (a regularised least-squares classifier), fitted on a train set and scored on a test set, in
 * plain Float64 JavaScript (no tensors: the systems are small and exact answers make the tests simple).
 *
 * Fit: features are standardised with the train mean and standard deviation (a constant feature becomes 0);
 * with X the standardised train features [n, d] and Y the one-hot ±1 targets [n, C],
 *
 *   minimise over W, b   (1/n) ‖X W + 1 bᵀ − Y‖² + λ ‖W‖²      (the bias b is not penalised)
 *
 * Because X has zero column means, b = mean(Y) and W solves ridge on the centred targets Yc = Y − 1 bᵀ:
 *   primal  (XᵀX + nλ I) W = Xᵀ Yc            a d×d system, for d ≤ n
 *   dual    (XXᵀ + nλ I) α = Yc,  W = Xᵀ α    an n×n system, for d > n (3072 raw pixels stay cheap)
 * Both give the same W (push-through identity); each system is symmetric positive definite and solved by
 * Cholesky. Prediction is the argmax of the C scores; ties go to the smaller class id.
 *
 * λ is given, or chosen by k-fold cross-validation on the train set (LinearProbeOptions.lambda): the right
 * penalty differs by orders of magnitude between 3072 raw pixels and 128 model features, and a fixed one would
 * make the probes measure the penalty rather than the features.
 *
 * Conventions: `accuracy` is the share of test examples whose predicted class equals their label (a test label
 * never seen in training is always wrong); `majorityAccuracy` predicts the most frequent train class for every
 * test example (ties: the smaller id).
 */

import { deriveSeed, Rng } from '../random';
import { solveSpd } from './cholesky';

export type ProbeForm = 'auto' | 'primal' | 'dual';

export interface LinearProbeOptions {
  /**
   * λ: ridge penalty per training example on standardised features (see the objective above); null: chosen
   * from `lambdas` by `folds`-fold cross-validation on the train set (the best fold accuracy; ties: larger λ).
   */
  lambda: number | null;
  /** Candidate λ for cross-validation. */
  lambdas: readonly number[];
  folds: number;
  /** Which linear system to solve; `auto`: dual when d > n_train, else primal. Same answer either way. */
  form: ProbeForm;
}

export const LINEAR_PROBE_DEFAULTS: Readonly<LinearProbeOptions> = Object.freeze({
  lambda: null,
  lambdas: Object.freeze([1e-3, 1e-2, 1e-1, 1, 10, 100, 1000]),
  folds: 5,
  form: 'auto',
});

/** Examples of a probe: features and an integer class label per row. */
export interface ProbeSet {
  /** [n, d] row-major. */
  x: Float32Array;
  labels: readonly number[];
}

export interface ProbeResult {
  /** Test accuracy of the probe, in [0, 1]. */
  accuracy: number;
  /** Test accuracy of always predicting the train set's most frequent class. */
  majorityAccuracy: number;
  /** Number of distinct classes in the train set. */
  classes: number;
  /** Accuracy on the train set itself (how well a linear map fits; compare with `accuracy` for overfitting). */
  trainAccuracy: number;
  /** The λ used (given, or chosen by cross-validation). */
  lambda: number;
  /** The system that was solved. */
  form: 'primal' | 'dual';
}

function checkSet(name: string, set: ProbeSet, d: number): number {
  const n = set.labels.length;
  if (set.x.length !== n * d) {
    throw new Error(`linearProbe: ${name}.x must be [${n}, ${d}] (one row of d = ${d} per label) = ${n * d} values, got ${set.x.length}.`);
  }
  set.labels.forEach((l, i) => {
    if (!Number.isInteger(l)) throw new Error(`linearProbe: ${name}.labels[${i}] must be an integer class id, got ${l}; map class names to ids first.`);
  });
  if (n === 0) throw new Error(`linearProbe: the ${name} set is empty; give it at least one example.`);
  return n;
}

/**
 * Per-feature mean and 1/std of the train rows; a constant feature (std 0, or only float rounding: ≤ 1e-9 of
 * its mean) gets 1/std = 1 and so standardises to 0.
 */
function standardizer(x: Float32Array, n: number, d: number): { mean: Float64Array; invStd: Float64Array } {
  const mean = new Float64Array(d);
  const invStd = new Float64Array(d);
  for (let i = 0; i < n; i++) for (let k = 0; k < d; k++) mean[k] = (mean[k] as number) + (x[i * d + k] as number) / n;
  for (let i = 0; i < n; i++) {
    for (let k = 0; k < d; k++) invStd[k] = (invStd[k] as number) + ((x[i * d + k] as number) - (mean[k] as number)) ** 2 / n;
  }
  for (let k = 0; k < d; k++) {
    const sd = Math.sqrt(invStd[k] as number);
    invStd[k] = sd > 1e-9 * Math.abs(mean[k] as number) && sd > 0 ? 1 / sd : 1;
  }
  return { mean, invStd };
}

function standardize(x: Float32Array, n: number, d: number, s: { mean: Float64Array; invStd: Float64Array }): Float64Array {
  const out = new Float64Array(n * d);
  for (let i = 0; i < n; i++) for (let k = 0; k < d; k++) out[i * d + k] = ((x[i * d + k] as number) - (s.mean[k] as number)) * (s.invStd[k] as number);
  return out;
}

/**
 * Standardised train rows [n, d] and their ±1 targets [n, C]; in the dual form also the Gram matrix XXᵀ
 * [n, n], computed once and shared by the cross-validation folds and the final fit.
 */
interface Design {
  x: Float64Array;
  y: Float64Array;
  n: number;
  d: number;
  c: number;
  gram: Float64Array | null;
}

/** A ridge fit on some rows of a design: the unpenalised bias [C] and W [d, C] (primal) or α [rows, C] (dual). */
interface Fit {
  rows: readonly number[];
  bias: Float64Array;
  w: Float64Array | null;
  alpha: Float64Array | null;
}

function gramOf(x: Float64Array, n: number, d: number): Float64Array {
  const g = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j <= i; j++) {
      let s = 0;
      for (let p = 0; p < d; p++) s += (x[i * d + p] as number) * (x[j * d + p] as number);
      g[i * n + j] = s;
      g[j * n + i] = s;
    }
  }
  return g;
}

/** Fit ridge with penalty `lambda`·rows on rows `rows` of the design (targets centred on those rows). */
function fitRows(design: Design, rows: readonly number[], lambda: number): Fit {
  const { x, y, d, c } = design;
  const m = rows.length;
  const bias = new Float64Array(c);
  for (const i of rows) for (let j = 0; j < c; j++) bias[j] = (bias[j] as number) + (y[i * c + j] as number) / m;
  const yc = new Float64Array(m * c);
  rows.forEach((i, r) => {
    for (let j = 0; j < c; j++) yc[r * c + j] = (y[i * c + j] as number) - (bias[j] as number);
  });
  const penalty = m * lambda;
  if (design.gram === null) {
    const a = new Float64Array(d * d); // XᵀX + penalty·I
    const rhs = new Float64Array(d * c); // Xᵀ Yc
    rows.forEach((i, r) => {
      for (let p = 0; p < d; p++) {
        const xp = x[i * d + p] as number;
        for (let q = 0; q <= p; q++) a[p * d + q] = (a[p * d + q] as number) + xp * (x[i * d + q] as number);
        for (let j = 0; j < c; j++) rhs[p * c + j] = (rhs[p * c + j] as number) + xp * (yc[r * c + j] as number);
      }
    });
    for (let p = 0; p < d; p++) {
      a[p * d + p] = (a[p * d + p] as number) + penalty;
      for (let q = 0; q < p; q++) a[q * d + p] = a[p * d + q] as number;
    }
    return { rows, bias, w: solveSpd(a, rhs, d, c), alpha: null };
  }
  const { gram, n } = design;
  const k = new Float64Array(m * m); // XXᵀ + penalty·I on the rows
  rows.forEach((i, r) => {
    rows.forEach((j, s) => (k[r * m + s] = gram[i * n + j] as number));
    k[r * m + r] = (k[r * m + r] as number) + penalty;
  });
  return { rows, bias, w: null, alpha: solveSpd(k, yc, m, c) };
}

/** W [d, C] of a fit (Xᵀα in the dual form). */
function weightsOf(design: Design, fit: Fit): Float64Array {
  if (fit.w !== null) return fit.w;
  const { x, d, c } = design;
  const alpha = fit.alpha as Float64Array;
  const w = new Float64Array(d * c);
  fit.rows.forEach((i, r) => {
    for (let p = 0; p < d; p++) {
      const xp = x[i * d + p] as number;
      for (let j = 0; j < c; j++) w[p * c + j] = (w[p * c + j] as number) + xp * (alpha[r * c + j] as number);
    }
  });
  return w;
}

/** Index of the largest of c scores (ties: the first). */
function argmax(scores: ArrayLike<number>, c: number): number {
  let best = 0;
  for (let j = 1; j < c; j++) if ((scores[j] as number) > (scores[best] as number)) best = j;
  return best;
}

/** Number of design rows `rows` whose predicted column equals their target column. */
function correctOnDesignRows(design: Design, fit: Fit, rows: readonly number[]): number {
  const { x, y, d, c, n } = design;
  const scores = new Float64Array(c);
  let correct = 0;
  for (const h of rows) {
    scores.set(fit.bias);
    if (fit.w !== null) {
      for (let p = 0; p < d; p++) for (let j = 0; j < c; j++) scores[j] = (scores[j] as number) + (x[h * d + p] as number) * (fit.w[p * c + j] as number);
    } else {
      const gram = design.gram as Float64Array;
      const alpha = fit.alpha as Float64Array;
      fit.rows.forEach((i, r) => {
        for (let j = 0; j < c; j++) scores[j] = (scores[j] as number) + (gram[h * n + i] as number) * (alpha[r * c + j] as number);
      });
    }
    if ((y[h * c + argmax(scores, c)] as number) > 0) correct++;
  }
  return correct;
}

/**
 * λ from `lambdas` with the best k-fold cross-validated accuracy on the design (ties: the larger λ). Folds are
 * a fixed seeded partition; the features keep the whole train set's standardisation (a fold's own mean and
 * std differ from it only by sampling noise, and only the choice of λ depends on it).
 */
function chooseLambda(design: Design, lambdas: readonly number[], folds: number): number {
  const k = Math.min(folds, design.n);
  if (k < 2) return lambdas[Math.floor(lambdas.length / 2)] as number;
  const order = new Rng(deriveSeed(0, 'linear-probe:folds')).permutation(design.n);
  const parts = Array.from({ length: k }, (_, f) => order.filter((_, pos) => pos % k === f));
  let best = lambdas[0] as number;
  let bestCorrect = -1;
  for (const lambda of lambdas) {
    let correct = 0;
    for (const held of parts) {
      const heldSet = new Set(held);
      correct += correctOnDesignRows(
        design,
        fitRows(
          design,
          order.filter((i) => !heldSet.has(i)),
          lambda,
        ),
        held,
      );
    }
    if (correct >= bestCorrect) [best, bestCorrect] = [lambda, correct];
  }
  return best;
}

/** The most frequent label (ties: the smaller id). */
export function majorityClass(labels: readonly number[]): number {
  const counts = new Map<number, number>();
  for (const l of labels) counts.set(l, (counts.get(l) ?? 0) + 1);
  let best = Infinity;
  let bestCount = -1;
  for (const [l, n] of counts) if (n > bestCount || (n === bestCount && l < best)) [best, bestCount] = [l, n];
  return best;
}

/** A fitted probe: everything needed to classify new rows. */
export interface LinearProbeModel {
  /** The train classes, ascending; column j of `w` and `bias` scores class `classIds[j]`. */
  classIds: number[];
  /** Train feature mean and 1/std [d] (standardisation). */
  mean: Float64Array;
  invStd: Float64Array;
  /** W [d, C] on standardised features. */
  w: Float64Array;
  /** b [C], not penalised. */
  bias: Float64Array;
  /** The λ used (given, or chosen by cross-validation). */
  lambda: number;
  /** The system that was solved. */
  form: 'primal' | 'dual';
  /** Accuracy on the train set itself. */
  trainAccuracy: number;
}

function checkOptions(o: LinearProbeOptions, d: number): readonly number[] {
  if (!Number.isInteger(d) || d <= 0) throw new Error(`linearProbe: d must be a positive integer (the feature width), got ${d}.`);
  const candidates = o.lambda === null ? o.lambdas : [o.lambda];
  if (candidates.length === 0 || candidates.some((l) => !(l > 0) || !Number.isFinite(l))) {
    throw new Error(
      `linearProbe: lambda (or every entry of lambdas) must be a finite number > 0 (it keeps the systems positive definite), got ${JSON.stringify(candidates)}.`,
    );
  }
  if (!Number.isInteger(o.folds) || o.folds < 2) throw new Error(`linearProbe: folds must be an integer ≥ 2, got ${o.folds}.`);
  return candidates;
}

/**
 * Fit the one-vs-rest ridge classifier of the top of this file on `train`.
 * @param d feature width: `train.x` is [n, d]
 */
export function fitLinearProbe(train: ProbeSet, d: number, options: Partial<LinearProbeOptions> = {}): LinearProbeModel {
  const o = { ...LINEAR_PROBE_DEFAULTS, ...options };
  const candidates = checkOptions(o, d);
  const n = checkSet('train', train, d);
  const classIds = [...new Set(train.labels)].sort((a, b) => a - b);
  const c = classIds.length;
  const column = new Map(classIds.map((l, j) => [l, j]));
  const y = new Float64Array(n * c).fill(-1); // one-hot ±1
  train.labels.forEach((l, i) => (y[i * c + (column.get(l) as number)] = 1));
  const { mean, invStd } = standardizer(train.x, n, d);
  const x = standardize(train.x, n, d, { mean, invStd });
  const form = o.form === 'auto' ? (d > n ? 'dual' : 'primal') : o.form;
  const design: Design = { x, y, n, d, c, gram: form === 'dual' ? gramOf(x, n, d) : null };
  const lambda = candidates.length === 1 ? (candidates[0] as number) : chooseLambda(design, candidates, o.folds);
  const all = Array.from({ length: n }, (_, i) => i);
  const fit = fitRows(design, all, lambda);
  return { classIds, mean, invStd, w: weightsOf(design, fit), bias: fit.bias, lambda, form, trainAccuracy: correctOnDesignRows(design, fit, all) / n };
}

/**
 * The predicted class of each row.
 * @param x [n, d] row-major, raw (the model standardises it)
 */
export function predictLinearProbe(model: LinearProbeModel, x: Float32Array): number[] {
  const d = model.mean.length;
  const c = model.classIds.length;
  if (x.length % d !== 0) throw new Error(`predictLinearProbe: x must be [n, ${d}] (the width the probe was fitted on), got ${x.length} values.`);
  const n = x.length / d;
  const z = standardize(x, n, d, model);
  const scores = new Float64Array(c);
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    scores.set(model.bias);
    for (let p = 0; p < d; p++) for (let j = 0; j < c; j++) scores[j] = (scores[j] as number) + (z[i * d + p] as number) * (model.w[p * c + j] as number);
    out.push(model.classIds[argmax(scores, c)] as number);
  }
  return out;
}

/**
 * Fit a one-vs-rest ridge classifier on `train` and score it on `test` (see the top of this file).
 * @param d feature width: each set's `x` is [n, d]
 */
export function linearProbe(train: ProbeSet, test: ProbeSet, d: number, options: Partial<LinearProbeOptions> = {}): ProbeResult {
  const model = fitLinearProbe(train, d, options);
  const nTest = checkSet('test', test, d);
  const predicted = predictLinearProbe(model, test.x);
  const majority = majorityClass(train.labels);
  return {
    accuracy: predicted.filter((p, i) => p === test.labels[i]).length / nTest,
    majorityAccuracy: test.labels.filter((l) => l === majority).length / nTest,
    classes: model.classIds.length,
    trainAccuracy: model.trainAccuracy,
    lambda: model.lambda,
    form: model.form,
  };
}
