/**
 * The dual encoder's training loop (CLIP's recipe at our scale), top to bottom:
 *
 *   for step in [start, steps):
 *     lr ← schedule(step)                              pure function of the step (lib/schedule)
 *     records ← data order(seed, step)                 consecutive slices of per-epoch permutations (lib/train)
 *     pairs ← one turn per record, one phrasing        seeded by (seed, step), so resuming needs no rng state
 *     augment ← random shifts of the images            (optional) seeded by (seed, step) too
 *     loss ← symmetric InfoNCE of normalize(image + question) vs normalize(target text), learnable τ
 *     guard: non-finite loss → stop, apply nothing
 *     clip, AdamW step, log (log.jsonl), checkpoint every N and at the end (atomic; the last K kept)
 *
 * Targets with identical text in one batch (short answers when every turn kind is used, or a record drawn
 * twice across an epoch boundary) are masked out of each other's denominators: they are not negatives.
 */
import * as fs from 'fs';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { Overrides, resolveConfig } from '../config';
import { log } from '../log';
import { infoNCE, LearnableTemperature, LossOutput, MASKED_LOGIT } from '../loss';
import { AdamW, AdamWConfig, applyGradients } from '../optim';
import { choosePairs } from '../packing';
import { Progress } from '../progress';
import { deriveSeed, Rng } from '../random';
import { learningRate, ScheduleConfig } from '../schedule';
import { checkpointDirs } from '../model/checkpoint';
import { randomShifter } from '../augment';
import { NonFiniteLossError, stepIndices, TrainData, TrainRecord } from '../train';
import { loadDualEncoderInto, saveDualEncoder } from './dual-checkpoint';
import { DualEncoder, DualItem } from './dual-encoder';

export interface DualTrainConfig {
  steps: number;
  /** B: records per step, each giving one (image + question, target text) pair. */
  batchSize: number;
  schedule: ScheduleConfig;
  optimizer: AdamWConfig;
  /** Clip the global gradient norm to this (null = off). */
  clipNorm: number | null;
  /**
   * Random translation of each training image by up to ± maxShift pixels per axis, edges replicated (0 = off).
   * Measured (quick scale, 600 steps, validation MRR on 300 records): 0 → 31.7, 2 → 33.5, 4 → 38.1, 6 → 39.1,
   * 8 → 36.4: without it the towers memorise the training images (in-batch accuracy 1.0 by step 400).
   */
  augment: { maxShift: number };
  /** The learnable τ: initial value and clamp range (log space, lib/loss LearnableTemperature). */
  temperature: { initial: number; min: number; max: number };
  seed: number;
  logEvery: number;
  /** Save a checkpoint every N steps (null: only at the end). */
  checkpointEvery: number | null;
  keepCheckpoints: number;
  /** Call the `evaluate` option every N steps and log its result with the step (null: never). */
  evalEvery: number | null;
}

export const DEFAULT_DUAL_TRAIN: Readonly<DualTrainConfig> = Object.freeze({
  steps: 1000,
  batchSize: 128,
  schedule: { kind: 'cosine', lr: 2e-3, warmupSteps: 50, minRatio: 0.05 },
  optimizer: { beta1: 0.9, beta2: 0.98, eps: 1e-6, weightDecay: 0.05 },
  clipNorm: 5,
  augment: { maxShift: 6 },
  temperature: { initial: 0.07, min: 0.01, max: 1 },
  seed: 0,
  logEvery: 25,
  checkpointEvery: 250,
  keepCheckpoints: 2,
  evalEvery: null,
} as DualTrainConfig);

export function dualTrainConfig(overrides?: Overrides<DualTrainConfig>): DualTrainConfig {
  const c = resolveConfig(DEFAULT_DUAL_TRAIN as DualTrainConfig, overrides, 'train');
  if (!(Number.isInteger(c.steps) && c.steps >= 1 && Number.isInteger(c.batchSize) && c.batchSize >= 2)) {
    throw new Error(`train.steps must be ≥ 1 and train.batchSize ≥ 2 (InfoNCE needs negatives), got ${c.steps} and ${c.batchSize}.`);
  }
  const t = c.temperature;
  if (!(Number.isInteger(c.augment.maxShift) && c.augment.maxShift >= 0))
    throw new Error(`train.augment.maxShift must be a non-negative integer, got ${c.augment.maxShift}.`);
  if (!(t.min > 0 && t.min <= t.initial && t.initial <= t.max)) {
    throw new Error(`train.temperature needs 0 < min ≤ initial ≤ max, got ${JSON.stringify(t)}.`);
  }
  return c;
}

/** What each step logs (one line of log.jsonl). */
export interface DualStepRecord {
  step: number;
  lr: number;
  temperature: number;
  loss: number;
  /** In-batch top-1 accuracy of the query → target direction, and the mean positive / hardest-negative cosines. */
  accuracy: number;
  positive: number;
  hardestNegative: number;
  gradNorm: number | null;
  seconds: number;
  imagesPerSec: number;
  pairsPerSec: number;
  numTensors: number;
  /** What `evaluate` returned at this step (every evalEvery steps). */
  eval?: Record<string, number | null>;
}

export interface DualTrainOptions {
  /** Where log.jsonl and checkpoints/ go; null = nothing on disk. */
  runDir?: string | null;
  /** Resume from the latest checkpoint in runDir (default true). */
  resume?: boolean;
  /** Stop (as if interrupted) after this step count. */
  stopAfter?: number;
  progress?: 'bar' | 'lines' | 'none';
  /** Evaluates the model after `step` steps (e.g. the validation MRR); called every evalEvery steps. */
  evaluate?: (step: number, model: DualEncoder) => Promise<Record<string, number | null>>;
}

export interface DualTrainSummary {
  resumedFrom: number;
  records: DualStepRecord[];
  seconds: number;
  /** τ after the last step. */
  temperature: number;
}

/** A step's batch: B queries (image + question) and their B target texts. */
export interface DualBatch {
  queries: DualItem[];
  targets: string[];
}

/** The step's pairs: one turn of each record and one phrasing of its query, seeded by (seed, step). */
export function dualBatch(records: readonly TrainRecord[], seed: number, step: number): DualBatch {
  const rng = new Rng(deriveSeed(seed, `pairs/${step}`));
  const queries: DualItem[] = [];
  const targets: string[] = [];
  for (const r of records) {
    const [pair] = choosePairs(r, 1, rng);
    if (pair === undefined) throw new Error(`Record ${r.id} has no pair.`);
    queries.push({ pixels: r.image, text: pair.query });
    targets.push(pair.target);
  }
  return { queries, targets };
}

/** The batch with every query image shifted at random by up to ± maxShift pixels, seeded by (seed, step). */
export function augmentBatch(batch: DualBatch, size: number, maxShift: number, seed: number, step: number): DualBatch {
  if (maxShift === 0) return batch;
  const shift = randomShifter(size, maxShift, seed, step);
  return { ...batch, queries: batch.queries.map((q) => (q.pixels === null ? q : { ...q, pixels: shift(q.pixels) })) };
}

/** [B, B] additive mask dropping target j from row i's negatives when both have the same text; null when none repeat. */
export function duplicateTargetMask(targets: readonly string[]): Float32Array | null {
  const n = targets.length;
  let mask: Float32Array | null = null;
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      if (i !== j && targets[i] === targets[j]) {
        mask ??= new Float32Array(n * n);
        mask[i * n + j] = MASKED_LOGIT;
      }
    }
  }
  return mask;
}

/** The batch loss: symmetric InfoNCE (Eq. 1, both directions) of the fused queries vs the target texts. */
export function dualLoss(model: DualEncoder, batch: DualBatch, temperature: tf.Scalar | number): LossOutput {
  const q = model.embed(batch.queries);
  const t = model.embed(batch.targets.map((text) => ({ pixels: null, text })));
  const mask = duplicateTargetMask(batch.targets);
  return infoNCE(q, t, { temperature, symmetric: true, ...(mask === null ? {} : { logitMask: mask }) });
}

/** One forward and backward: gradients by tf variable name (the caller disposes them) and the step's scalars. */
export async function dualStep(
  model: DualEncoder,
  batch: DualBatch,
  temp: LearnableTemperature,
): Promise<{ grads: tf.NamedTensorMap; loss: number; accuracy: number; positive: number; hardestNegative: number }> {
  let kept: tf.Tensor | null = null;
  const { value, grads } = tf.variableGrads(() => {
    const out = dualLoss(model, batch, temp.value());
    kept = tf.keep(tf.stack([out.total, out.diagnostics.accuracy, out.diagnostics.positive, out.diagnostics.hardestNegative]));
    return out.total;
  }, [...model.params.values(), temp.logTau]);
  const scalars = kept as unknown as tf.Tensor;
  const [loss, accuracy, positive, hardestNegative] = Array.from(await scalars.data());
  tf.dispose([value, scalars]);
  return { grads, loss: loss as number, accuracy: accuracy as number, positive: positive as number, hardestNegative: hardestNegative as number };
}

/** The newest complete checkpoint folder of a run, or null. */
export function latestDualCheckpoint(runDir: string): string | null {
  return checkpointDirs(runDir).at(-1)?.dir ?? null;
}

async function saveTrainState(runDir: string, step: number, model: DualEncoder, opt: AdamW, temp: LearnableTemperature, c: DualTrainConfig): Promise<void> {
  const dir = path.join(runDir, 'checkpoints', `step-${String(step).padStart(6, '0')}`);
  const state = opt.state();
  const { data, specs } = await tf.io.encodeWeights({ ...state.tensors, logTau: temp.logTau });
  await saveDualEncoder(dir, model, { step }, (tmp) => {
    fs.writeFileSync(path.join(tmp, 'optimizer.bin'), Buffer.from(data as ArrayBuffer));
    fs.writeFileSync(path.join(tmp, 'optimizer.json'), JSON.stringify({ t: state.t, specs }));
    fs.writeFileSync(path.join(tmp, 'trainer.json'), JSON.stringify({ step, config: c }, null, 1));
  });
  for (const old of checkpointDirs(runDir).slice(0, -c.keepCheckpoints)) fs.rmSync(old.dir, { recursive: true, force: true });
}

async function restoreTrainState(dir: string, model: DualEncoder, opt: AdamW, temp: LearnableTemperature): Promise<number> {
  const extra = await loadDualEncoderInto(dir, model);
  const { t, specs } = JSON.parse(fs.readFileSync(path.join(dir, 'optimizer.json'), 'utf8')) as { t: number; specs: tf.io.WeightsManifestEntry[] };
  const buf = fs.readFileSync(path.join(dir, 'optimizer.bin'));
  const tensors = tf.io.decodeWeights(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength), specs);
  const logTau = tensors['logTau'];
  delete tensors['logTau'];
  if (logTau === undefined) throw new Error(`${dir}/optimizer.bin has no logTau; the checkpoint is not a dual-encoder training state.`);
  temp.logTau.assign(logTau);
  opt.load({ t, tensors });
  tf.dispose([...Object.values(tensors), logTau]);
  return Number(extra['step']);
}

/** Keep only the log lines of steps before `step` (a resumed run rewrites what came after its checkpoint). */
function truncateLog(runDir: string, step: number): void {
  const file = path.join(runDir, 'log.jsonl');
  if (!fs.existsSync(file)) return;
  const kept = fs
    .readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '' && (JSON.parse(l) as { step: number }).step < step);
  fs.writeFileSync(file, kept.map((l) => l + '\n').join(''));
}

/** Train `model` on `data` (records with pixels normalised as the model expects and the pairs of the kinds in use). */
export async function trainDual(model: DualEncoder, data: TrainData, c: DualTrainConfig, options: DualTrainOptions = {}): Promise<DualTrainSummary> {
  const runDir = options.runDir ?? null;
  if (runDir !== null) fs.mkdirSync(runDir, { recursive: true });
  const temp = new LearnableTemperature(c.temperature.initial, c.temperature.min, c.temperature.max);
  const opt = new AdamW([...model.namedVariables(), { name: 'logTau', variable: temp.logTau }], c.optimizer);
  const latest = runDir === null || options.resume === false ? null : latestDualCheckpoint(runDir);
  const start = latest === null ? 0 : await restoreTrainState(latest, model, opt, temp);
  if (latest !== null) log.info(`resuming from ${latest} (step ${start})`);
  if (runDir !== null) truncateLog(runDir, start);
  const progress =
    options.progress === 'none'
      ? null
      : new Progress({ total: c.steps, every: c.logEvery, label: 'dual encoder', ...(options.progress === undefined ? {} : { mode: options.progress }) });
  const records: DualStepRecord[] = [];
  const began = Date.now();
  const end = Math.min(c.steps, options.stopAfter ?? c.steps);
  try {
    for (let step = start; step < end; step++) {
      const t0 = Date.now();
      const lr = learningRate(c.schedule, step, c.steps);
      const drawn = dualBatch(await Promise.all(stepIndices(data.size, c.batchSize, c.seed, step).map((i) => data.get(i))), c.seed, step);
      const batch = augmentBatch(drawn, model.config.imageSize, c.augment.maxShift, c.seed, step);
      const { grads, ...values } = await dualStep(model, batch, temp);
      if (!Number.isFinite(values.loss)) {
        tf.dispose(Object.values(grads));
        throw new NonFiniteLossError(
          `Non-finite loss (${values.loss}) at step ${step}: nothing was applied. Lower train.schedule.lr (now ${c.schedule.lr}) or set train.clipNorm (now ${c.clipNorm}).`,
        );
      }
      const gradNorm = (await applyGradients(opt, grads, lr, c.clipNorm, true)) ?? null;
      const tau = temp.value();
      const temperature = (await tau.data())[0] as number;
      tau.dispose();
      const seconds = (Date.now() - t0) / 1000;
      const images = batch.queries.filter((q) => q.pixels !== null).length;
      const record: DualStepRecord = {
        step,
        lr,
        temperature,
        ...values,
        gradNorm,
        seconds,
        imagesPerSec: images / seconds,
        pairsPerSec: batch.targets.length / seconds,
        numTensors: tf.memory().numTensors,
      };
      if (options.evaluate !== undefined && c.evalEvery !== null && (step + 1) % c.evalEvery === 0) record.eval = await options.evaluate(step + 1, model);
      records.push(record);
      if (runDir !== null) fs.appendFileSync(path.join(runDir, 'log.jsonl'), JSON.stringify(record) + '\n');
      progress?.update(step, { loss: record.loss, acc: record.accuracy, tau: temperature, 'img/s': record.imagesPerSec });
      const last = step === c.steps - 1;
      if (runDir !== null && (last || (c.checkpointEvery !== null && (step + 1) % c.checkpointEvery === 0)))
        await saveTrainState(runDir, step + 1, model, opt, temp, c);
    }
    const tau = temp.value();
    const temperature = (await tau.data())[0] as number;
    tau.dispose();
    return { resumedFrom: start, records, seconds: (Date.now() - began) / 1000, temperature };
  } finally {
    opt.dispose();
    temp.dispose();
  }
}
