/**
 * One training step's forward and backward: packed batch → embeddings → loss → parameter gradients.
 *
 * Two paths with identical gradients (tested):
 *   full batch  autodiff through the whole batch at once (memory grows with the batch)
 *   GradCache   (Gao et al. 2021; the official code's `--accum_freq`) 1) embed every chunk without a tape,
 *               2) loss and its gradient w.r.t. the embeddings, 3) re-embed chunk by chunk with a tape and
 *               back-propagate those embedding gradients; memory is bounded by one chunk's activations
 * Dropout draws come from a seed per (side, chunk), so both passes of GradCache see the same masks.
 */
import * as tf from '@tensorflow/tfjs';
import { collate } from './batch';
import { LossConfig, LossOutput, mucoFinetuneLoss, mucoPretrainLoss } from './loss';

import type { Embedder } from './model/embedder';
import { patchTensor } from './model/vision';
import type { PackedBatch } from './packing';
import { Rng } from './random';

export interface StepOptions {
  loss: LossConfig;
  /** Sequences per chunk for GradCache; null = full batch. */
  chunkSize: number | null;
  maxLen: number;
  /** Seed of this step's dropout draws. */
  seed: number;
  /** A learnable temperature's current value (overrides loss.temperature) and its variable. */
  temperature?: { value: () => tf.Scalar; variable: tf.Variable };
  /** The model's variables to differentiate (default: all of them; lib/freeze.ts picks a subset). */
  variables?: tf.Variable[];
}

/** Scalars a step reports (host numbers: one sync per step, for the log and the non-finite guard). */
export interface StepValues {
  loss: number;
  parts: Record<string, number>;
  positive: number;
  hardestNegative: number;
  accuracy: number;
}

export interface StepResult {
  values: StepValues;
  /** Gradients by variable name (the caller disposes them). */
  grads: tf.NamedTensorMap;
}

type Side = 'query' | 'target';

function pixelsOf(images: readonly unknown[]): Float32Array[] {
  return images
    .filter((x) => x !== null && x !== undefined)
    .map((x, i) => {
      if (!(x instanceof Float32Array)) throw new Error(`Training image ${i} must be decoded pixels (Float32Array), got ${typeof x}.`);
      return x;
    });
}

/** Embeddings [rows, D] of sequences [from, to) of one side (in (sequence, slot) order). */
function embedSide(model: Embedder, packed: PackedBatch, side: Side, from: number, to: number, opts: StepOptions, chunk: number): tf.Tensor2D {
  const seqs = (side === 'query' ? packed.query : packed.target).slice(from, to);
  const images = pixelsOf((side === 'query' ? packed.queryImages : packed.targetImages).slice(from, to));
  const batch = collate(seqs, { maxLen: opts.maxLen });
  const patches = images.length > 0 ? patchTensor(images, model.config) : null;
  const rng = new Rng(opts.seed ^ (side === 'query' ? 0x51 : 0xa7) ^ Math.imul(chunk + 1, 0x9e3779b1));
  return model.embed(batch, patches, { training: true, rng }).embeddings;
}

function chunks(n: number, size: number | null): [number, number][] {
  const step = size === null ? n : Math.max(1, size);
  const out: [number, number][] = [];
  for (let i = 0; i < n; i += step) out.push([i, Math.min(n, i + step)]);
  return out;
}

/** The configured loss of a batch's query and target embeddings. */
export function batchLoss(q: tf.Tensor2D, t: tf.Tensor2D, packed: PackedBatch, opts: StepOptions): LossOutput {
  const temperature = opts.temperature?.value() ?? opts.loss.temperature;
  if (opts.loss.objective === 'pretrain') {
    return mucoPretrainLoss(q, t, packed.groups, {
      temperature,
      logitMask: opts.loss.logitMask,
      symmetric: opts.loss.symmetric,
      ...(opts.loss.maskDuplicateTargets ? { targetTexts: packed.targetText } : {}),
    });
  }
  // Fine-tuning: rows alternate slot 0 (initial) and slot 1 (subsequent) per sequence.
  const rows = (slot: number): Int32Array => Int32Array.from(packed.slot.flatMap((s, i) => (s === slot ? [i] : [])));
  const pick = (x: tf.Tensor2D, slot: number): tf.Tensor2D => tf.gather(x, tf.tensor1d(rows(slot), 'int32'));
  return mucoFinetuneLoss(pick(q, 0), pick(q, 1), pick(t, 0), pick(t, 1), { temperature, form: opts.loss.finetuneForm, maskTwin: opts.loss.maskTwin });
}

async function readValues(out: LossOutput): Promise<StepValues> {
  const names = Object.keys(out.parts);
  const scalars = [
    out.total,
    out.diagnostics.positive,
    out.diagnostics.hardestNegative,
    out.diagnostics.accuracy,
    ...names.map((n) => out.parts[n] as tf.Scalar),
  ];
  const stacked = tf.stack(scalars);
  const data = await stacked.data();
  stacked.dispose();
  const parts: Record<string, number> = {};
  names.forEach((n, i) => (parts[n] = data[4 + i] as number));
  return { loss: data[0] as number, positive: data[1] as number, hardestNegative: data[2] as number, accuracy: data[3] as number, parts };
}

function keepAll(out: LossOutput): LossOutput {
  tf.keep(out.total);
  Object.values(out.parts).forEach((t) => tf.keep(t));
  Object.values(out.diagnostics).forEach((t) => tf.keep(t));
  return out;
}

function disposeLoss(out: LossOutput): void {
  tf.dispose([out.total, ...Object.values(out.parts), ...Object.values(out.diagnostics)]);
}

function modelVariables(model: Embedder, opts: StepOptions): tf.Variable[] {
  return opts.variables ?? model.variables();
}

function trainables(model: Embedder, opts: StepOptions): tf.Variable[] {
  return opts.temperature === undefined ? modelVariables(model, opts) : [...modelVariables(model, opts), opts.temperature.variable];
}

/** Full-batch forward and backward. */
export async function fullBatchStep(model: Embedder, packed: PackedBatch, opts: StepOptions): Promise<StepResult> {
  let kept: LossOutput | null = null;
  const { value, grads } = tf.variableGrads(
    () => {
      const q = embedSide(model, packed, 'query', 0, packed.query.length, opts, 0);
      const t = embedSide(model, packed, 'target', 0, packed.target.length, opts, 0);
      kept = keepAll(batchLoss(q, t, packed, opts));
      return kept.total;
    },
    trainables(model, opts),
  );
  const out = kept as unknown as LossOutput;
  const values = await readValues(out);
  disposeLoss(out);
  value.dispose();
  return { values, grads };
}

/** GradCache forward and backward: same gradients as `fullBatchStep`, memory bounded by one chunk. */
export async function gradCacheStep(model: Embedder, packed: PackedBatch, opts: StepOptions): Promise<StepResult> {
  const sides: Side[] = ['query', 'target'];
  const spans = sides.map((s) => chunks((s === 'query' ? packed.query : packed.target).length, opts.chunkSize));
  // 1) embeddings of every chunk, no tape
  const full = sides.map((s, k) =>
    tf.tidy(() =>
      tf.concat(
        (spans[k] ?? []).map(([a, b], c) => embedSide(model, packed, s, a, b, opts, c)),
        0,
      ),
    ),
  ) as [tf.Tensor2D, tf.Tensor2D];
  // 2) the loss and its gradient w.r.t. the embeddings (and the temperature)
  let kept: LossOutput | null = null;
  const embGrads = tf.grads((q: tf.Tensor, t: tf.Tensor) => {
    kept = keepAll(batchLoss(q as tf.Tensor2D, t as tf.Tensor2D, packed, opts));
    return kept.total;
  })(full) as [tf.Tensor2D, tf.Tensor2D];
  const grads: tf.NamedTensorMap = {};
  const accumulate = ({ value: loss, grads: g }: { value: tf.Scalar; grads: tf.NamedTensorMap }): void => {
    loss.dispose();
    for (const [name, value] of Object.entries(g)) {
      const prev = grads[name];
      grads[name] = prev === undefined ? value : tf.tidy(() => tf.add(prev, value));
      if (prev !== undefined) tf.dispose([prev, value]);
    }
  };
  if (opts.temperature !== undefined) {
    const temp = opts.temperature;
    accumulate(tf.variableGrads(() => batchLoss(full[0], full[1], packed, opts).total, [temp.variable]));
  }
  // 3) re-embed chunk by chunk with a tape and back-propagate the cached embedding gradients
  sides.forEach((s, k) => {
    const perSeq = rowsPerSequence(s === 'query' ? packed.query : packed.target);
    let start = 0;
    for (const [c, [a, b]] of (spans[k] ?? []).entries()) {
      const n = perSeq.slice(a, b).reduce((x, y) => x + y, 0);
      const g = tf.slice(embGrads[k] as tf.Tensor2D, [start, 0], [n, -1]);
      accumulate(tf.variableGrads(() => tf.sum(tf.mul(embedSide(model, packed, s, a, b, opts, c), g)) as tf.Scalar, modelVariables(model, opts)));
      g.dispose();
      start += n;
    }
  });
  const out = kept as unknown as LossOutput;
  const values = await readValues(out);
  disposeLoss(out);
  tf.dispose([...full, ...embGrads]);
  return { values, grads };
}

function rowsPerSequence(seqs: readonly { embPositions: number[] }[]): number[] {
  return seqs.map((s) => s.embPositions.length);
}

/** The step the options ask for (GradCache when chunkSize is set and smaller than the batch). */
export function computeStep(model: Embedder, packed: PackedBatch, opts: StepOptions): Promise<StepResult> {
  // Collation would drop the trailing turns of a longer sequence, and with them embeddings the loss pairs by row.
  const over = [...packed.query, ...packed.target].find((s) => s.ids.length > opts.maxLen);
  if (over !== undefined) {
    return Promise.reject(
      new Error(
        `${over.id ?? 'A training sequence'} has ${over.ids.length} tokens, over maxLen ${opts.maxLen}: it would lose its subsequent turn to truncation, and the loss its embeddings. Pack with PackingOptions.maxLen (fine-tuning) or raise train.maxLen.`,
      ),
    );
  }
  const biggest = Math.max(packed.query.length, packed.target.length);
  return opts.chunkSize !== null && opts.chunkSize < biggest ? gradCacheStep(model, packed, opts) : fullBatchStep(model, packed, opts);
}
