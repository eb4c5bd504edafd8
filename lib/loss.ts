/**
 * Contrastive losses (docs/method.md §3; the paper's Eq. 1, 4–7). All take L2-normalised embeddings and return named
 * parts (open_clip style) plus diagnostics the trainer logs:
 *
 *   infoNCE          Eq. 1: −log softmax(q·tᵀ/τ)[i, pos(i)], query→target (optionally + target→query),
 *                    with an optional additive logit mask and hard negatives appended to each denominator
 *   mucoPretrainLoss Eq. 4–5: Bk queries vs Bk targets; the other k−1 targets of the same image are masked
 *                    out of each query's denominator (switchable: paper Table 7); optionally, identical
 *                    target texts too, so each distinct answer enters a denominator once (duplicateTargetMask)
 *   mucoFinetuneLoss Eq. 5–7 over (q,p), (q,p′), (q′,p), (q′,p′): the paper's single-denominator form, or the
 *                    official code's sum of four B×B terms
 *
 * Masked logits get MASKED_LOGIT (−1e9 added after dividing by τ): exp underflows to exactly 0 in float32,
 * as −∞ would, without the NaNs −∞·0 makes in gradients.
 */
import * as tf from '@tensorflow/tfjs';

/** What a training step's loss is, and its settings (TrainConfig.loss). */
export interface LossConfig {
  /** `pretrain`: MuCo / single-turn InfoNCE over (group-masked) pairs; `finetune`: the reconstruction loss. */
  objective: 'pretrain' | 'finetune';
  temperature: number;
  /** Pretraining: mask same-image targets (Table 7). */
  logitMask: boolean;
  /**
   * Pretraining: mask other images' targets whose text is the positive's, and repeats of a text, so each
   * distinct target text enters each query's denominator once (our addition; docs/method.md §3).
   */
  maskDuplicateTargets: boolean;
  symmetric: boolean;
  /** Fine-tuning: the paper's single-denominator form or the official four-term sum. */
  finetuneForm: 'paper' | 'official';
  /** Fine-tuning: keep each target's twin out of the negatives (Table 7). */
  maskTwin: boolean;
}

export const DEFAULT_LOSS: Readonly<LossConfig> = Object.freeze({
  objective: 'pretrain',
  temperature: 0.02,
  logitMask: true,
  maskDuplicateTargets: false,
  symmetric: false,
  finetuneForm: 'paper',
  maskTwin: true,
});

export const MASKED_LOGIT = -1e9;

export interface LossOutput {
  /** The scalar to minimise. */
  total: tf.Scalar;
  /** Named terms (each a scalar); `total` is their mean or sum as the loss documents. */
  parts: Record<string, tf.Scalar>;
  /** Mean cosine of the positives, mean cosine of each row's hardest unmasked negative, in-batch top-1 accuracy. */
  diagnostics: { positive: tf.Scalar; hardestNegative: tf.Scalar; accuracy: tf.Scalar };
}

export interface InfoNceOptions {
  /** τ: a number, or a scalar tensor (a learnable temperature's current value). Paper: 0.02. */
  temperature: number | tf.Scalar;
  /** Column of each query's positive; default the diagonal (query i ↔ target i, needs N = M). */
  positives?: Int32Array;
  /** Additive mask [N, M] (0 keep, MASKED_LOGIT drop), applied after dividing by τ. Never masks a positive. */
  logitMask?: Float32Array;
  /** Extra negatives [H, D] appended to every query's denominator. */
  hardNegatives?: tf.Tensor2D;
  /** Also add the target→query direction (CLIP); the paper and the official code use query→target only. */
  symmetric?: boolean;
}

function temperatureTensor(t: number | tf.Scalar): tf.Scalar {
  if (typeof t === 'number') {
    if (!(t > 0)) throw new Error(`temperature must be > 0, got ${t}.`);
    return tf.scalar(t);
  }
  return t;
}

function checkPair(q: tf.Tensor, t: tf.Tensor, what: string): void {
  if (q.rank !== 2 || t.rank !== 2 || q.shape[1] !== t.shape[1]) {
    throw new Error(`${what}: expected queries [N, D] and targets [M, D], got [${q.shape.join(', ')}] and [${t.shape.join(', ')}].`);
  }
}

/** Cross-entropy of logits [N, C] at columns `labels` [N], averaged over rows. */
function crossEntropy(logits: tf.Tensor, labels: Int32Array): tf.Scalar {
  const oneHot = tf.oneHot(tf.tensor1d(labels, 'int32'), logits.shape[1] as number);
  return tf.neg(tf.mean(tf.sum(tf.mul(tf.logSoftmax(logits), oneHot), 1))) as tf.Scalar;
}

/**
 * Diagnostics of a similarity matrix [N, C] (cosines, before τ and mask): positive mean, hardest unmasked
 * negative mean, and top-1 accuracy among the unmasked columns.
 */
function diagnose(sims: tf.Tensor, labels: Int32Array, mask: tf.Tensor | null): LossOutput['diagnostics'] {
  return tf.tidy(() => {
    const oneHot = tf.oneHot(tf.tensor1d(labels, 'int32'), sims.shape[1] as number).toFloat();
    const pos = tf.sum(tf.mul(sims, oneHot), 1);
    let others = tf.add(sims, tf.mul(oneHot, -1e9));
    if (mask !== null) others = tf.add(others, mask);
    const hardest = tf.max(others, 1);
    const correct = tf.cast(tf.greater(pos, hardest), 'float32');
    return { positive: tf.mean(pos) as tf.Scalar, hardestNegative: tf.mean(hardest) as tf.Scalar, accuracy: tf.mean(correct) as tf.Scalar };
  });
}

function diagonal(n: number): Int32Array {
  return Int32Array.from({ length: n }, (_, i) => i);
}

/**
 * InfoNCE (Eq. 1). Parts: `qt` (query→target) and, when symmetric, `tq`; total = their mean.
 * @param q queries [N, D], L2-normalised
 * @param t targets [M, D], L2-normalised
 */
export function infoNCE(q: tf.Tensor2D, t: tf.Tensor2D, options: InfoNceOptions): LossOutput {
  checkPair(q, t, 'infoNCE');
  const n = q.shape[0];
  const m = t.shape[0];
  const positives = options.positives ?? diagonal(n);
  if (options.positives === undefined && n !== m) throw new Error(`infoNCE: ${n} queries but ${m} targets; pass options.positives.`);
  if (positives.length !== n) throw new Error(`infoNCE: ${positives.length} positives for ${n} queries.`);
  if (options.logitMask !== undefined && options.logitMask.length !== n * m) {
    throw new Error(`infoNCE: logitMask must have N·M = ${n * m} entries, got ${options.logitMask.length}.`);
  }
  if (options.symmetric === true && (options.positives !== undefined || options.hardNegatives !== undefined)) {
    throw new Error('infoNCE: symmetric mode needs the diagonal positives and no hard negatives.');
  }
  const tau = temperatureTensor(options.temperature);
  const sims = tf.matMul(q, t, false, true); // [N, M]
  const mask = options.logitMask === undefined ? null : tf.tensor2d(options.logitMask, [n, m]);
  let logits = tf.div(sims, tau);
  if (mask !== null) logits = tf.add(logits, mask);
  let allSims: tf.Tensor = sims;
  let allMask: tf.Tensor | null = mask;
  if (options.hardNegatives !== undefined) {
    checkPair(q, options.hardNegatives, 'infoNCE hard negatives');
    const hard = tf.matMul(q, options.hardNegatives, false, true); // [N, H]
    logits = tf.concat([logits, tf.div(hard, tau)], 1);
    allSims = tf.concat([sims, hard], 1);
    if (mask !== null) allMask = tf.concat([mask, tf.zeros(hard.shape)], 1);
  }
  const parts: Record<string, tf.Scalar> = { qt: crossEntropy(logits, positives) };
  if (options.symmetric === true) {
    let back = tf.div(tf.transpose(sims), tau);
    if (mask !== null) back = tf.add(back, tf.transpose(mask));
    parts['tq'] = crossEntropy(back, positives);
  }
  const values = Object.values(parts);
  const total = (values.length === 1 ? values[0] : tf.div(tf.addN(values), values.length)) as tf.Scalar;
  return { total, parts, diagnostics: diagnose(allSims, positives, allMask) };
}

/**
 * The MuCo logit mask (Fig. 3): entry (i, j) is MASKED_LOGIT when embeddings i and j come from the same image
 * (group) and j is not i's positive. @returns [N, N] row-major
 */
export function sameGroupMask(groups: readonly number[]): Float32Array {
  const n = groups.length;
  const mask = new Float32Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) if (i !== j && groups[i] === groups[j]) mask[i * n + j] = MASKED_LOGIT;
  }
  return mask;
}

/**
 * Masks false negatives by their text: in row i (positive i), every other target whose text is target i's, and
 * every repeat of a text already kept, so each distinct text enters the row's denominator once. Same-text
 * targets of other images are false negatives (M3T repeats answers: "people & body", "yellow", "Emoji 4.0"),
 * and a text's multiplicity in the batch would otherwise weigh it as a negative, pushing frequent answers
 * away from every query. Entries already masked in `base` stay masked and do not count as kept.
 * @param base an [N, N] mask to extend (e.g. sameGroupMask), or null
 * @returns [N, N] row-major
 */
export function duplicateTargetMask(texts: readonly string[], base: Float32Array | null = null): Float32Array {
  const n = texts.length;
  if (base !== null && base.length !== n * n) throw new Error(`duplicateTargetMask: base mask has ${base.length} entries, expected ${n}·${n}.`);
  const mask = base === null ? new Float32Array(n * n) : Float32Array.from(base);
  for (let i = 0; i < n; i++) {
    const kept = new Set([texts[i]]);
    for (let j = 0; j < n; j++) {
      if (j === i || mask[i * n + j] === MASKED_LOGIT) continue;
      if (kept.has(texts[j])) mask[i * n + j] = MASKED_LOGIT;
      else kept.add(texts[j]);
    }
  }
  return mask;
}

export interface MucoPretrainOptions {
  temperature: number | tf.Scalar;
  /** Mask the other turns of the same image out of the denominators (paper default: on). */
  logitMask: boolean;
  /** Each target's text: when given, identical texts are masked too (duplicateTargetMask). */
  targetTexts?: readonly string[];
  symmetric?: boolean;
}

/**
 * MuCo pretraining loss (Eq. 4–5). Row i of `q` and of `t` are the query and target of the same turn;
 * `groups[i]` is the image it belongs to (k may differ per image).
 */
export function mucoPretrainLoss(q: tf.Tensor2D, t: tf.Tensor2D, groups: readonly number[], options: MucoPretrainOptions): LossOutput {
  checkPair(q, t, 'mucoPretrainLoss');
  if (q.shape[0] !== t.shape[0] || groups.length !== q.shape[0]) {
    throw new Error(`mucoPretrainLoss: ${q.shape[0]} queries, ${t.shape[0]} targets and ${groups.length} group ids must agree.`);
  }
  const base = { temperature: options.temperature, symmetric: options.symmetric ?? false };
  let mask = options.logitMask ? sameGroupMask(groups) : null;
  if (options.targetTexts !== undefined) {
    if (options.targetTexts.length !== groups.length) {
      throw new Error(`mucoPretrainLoss: ${options.targetTexts.length} target texts for ${groups.length} targets.`);
    }
    // The mask keeps each text once per query row; transposed it would not mean that for target rows.
    if (base.symmetric) throw new Error('mucoPretrainLoss: masking duplicate targets is defined for the query→target direction; turn symmetric off.');
    mask = duplicateTargetMask(options.targetTexts, mask);
  }
  return infoNCE(q, t, mask === null ? base : { ...base, logitMask: mask });
}

export type FinetunePair = 'qp' | 'qp_' | 'q_p' | 'q_p_';
export const ALL_FINETUNE_PAIRS: readonly FinetunePair[] = ['qp', 'qp_', 'q_p', 'q_p_'];

export interface MucoFinetuneOptions {
  temperature: number | tf.Scalar;
  /** `paper`: Eq. 6–7, one denominator over every target form; `official`: the released code's four B×B terms. */
  form: 'paper' | 'official';
  /** Which augmented pairs enter the loss (paper Table E; default all four). */
  pairs?: readonly FinetunePair[];
  /** Paper form: keep each target's twin (its other form) out of the negatives (Table 7; default on). */
  maskTwin?: boolean;
  /** Hard negatives [H, D] appended to the denominators of the q and q′ terms (official code). */
  hardNegatives?: tf.Tensor2D;
}

/**
 * MuCo fine-tuning loss (§1.5). q, q′ (initial and subsequent query embeddings) and p, p′ (target ones),
 * each [B, D], row i = sample i.
 *   paper:    each selected (x, y) ∈ {q, q′} × {p, p′} contributes CE over logits x·[p; p′]ᵀ/τ [B, 2B]
 *             with positive yᵢ and (maskTwin) yᵢ's twin masked; total = mean over the selected terms
 *   official: each selected (x, y) contributes CE over x·yᵀ/τ [B, B]; total = sum of the terms
 * Parts are named `qp`, `qp_`, `q_p`, `q_p_` (an underscore marks the augmented form).
 */
export function mucoFinetuneLoss(q: tf.Tensor2D, qAug: tf.Tensor2D, p: tf.Tensor2D, pAug: tf.Tensor2D, options: MucoFinetuneOptions): LossOutput {
  for (const [name, x] of Object.entries({ qAug, p, pAug })) {
    if (x.shape[0] !== q.shape[0] || x.shape[1] !== q.shape[1]) {
      throw new Error(`mucoFinetuneLoss: ${name} is [${x.shape.join(', ')}], expected [${q.shape.join(', ')}] like q.`);
    }
  }
  const b = q.shape[0];
  const selected = options.pairs ?? ALL_FINETUNE_PAIRS;
  if (selected.length === 0) throw new Error('mucoFinetuneLoss: options.pairs is empty; select at least one of qp, qp_, q_p, q_p_.');
  const queryOf = (pair: FinetunePair): tf.Tensor2D => (pair.startsWith('q_') ? qAug : q);
  const augTarget = (pair: FinetunePair): boolean => pair.endsWith('p_');
  const parts: Record<string, tf.Scalar> = {};
  let diagnostics: LossOutput['diagnostics'] | null = null;
  const hard = options.hardNegatives === undefined ? {} : { hardNegatives: options.hardNegatives };
  for (const pair of selected) {
    let out: LossOutput;
    if (options.form === 'official') {
      out = infoNCE(queryOf(pair), augTarget(pair) ? pAug : p, { temperature: options.temperature, ...hard });
    } else {
      const positives = Int32Array.from({ length: b }, (_, i) => (augTarget(pair) ? b + i : i));
      const mask = new Float32Array(b * 2 * b);
      if (options.maskTwin ?? true) for (let i = 0; i < b; i++) mask[i * 2 * b + (augTarget(pair) ? i : b + i)] = MASKED_LOGIT;
      const targets = tf.concat([p, pAug], 0) as tf.Tensor2D;
      out = infoNCE(queryOf(pair), targets, { temperature: options.temperature, positives, logitMask: mask, ...hard });
    }
    parts[pair] = out.total;
    diagnostics ??= out.diagnostics;
  }
  const sum = tf.addN(Object.values(parts)) as tf.Scalar;
  const total = options.form === 'official' ? sum : (tf.div(sum, selected.length) as tf.Scalar);
  return { total, parts, diagnostics: diagnostics as LossOutput['diagnostics'] };
}

/** A learnable temperature, stored as log τ and clamped to [min, max] (open_clip's logit_scale, inverted). */
export class LearnableTemperature {
  readonly logTau: tf.Variable;
  constructor(
    initial: number,
    readonly min = 0.005,
    readonly max = 1,
  ) {
    if (!(initial >= min && initial <= max)) throw new Error(`Initial temperature ${initial} must lie in [${min}, ${max}].`);
    this.logTau = tf.tidy(() => tf.variable(tf.scalar(Math.log(initial)), true, `logTau/${LearnableTemperature.count++}`));
  }
  private static count = 0;
  /** τ = exp(clamp(log τ)) as a scalar tensor (differentiable inside the clamp range). */
  value(): tf.Scalar {
    return tf.tidy(() => tf.exp(tf.clipByValue(this.logTau, Math.log(this.min), Math.log(this.max))) as tf.Scalar);
  }
  dispose(): void {
    this.logTau.dispose();
  }
}
