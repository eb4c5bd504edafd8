/**
 * The trainer. One loop for every objective; single-turn vs MuCo is the `packing` field:
 *
 *   for step in [start, steps):
 *     lr ← schedule(step)                                   pure function of the step
 *     records ← data order(seed, step)                      pure function of (seed, step): resume-exact
 *     packed ← pack(records)                                'single' | 'multi' turns, or reconstruction
 *     grads ← full batch or GradCache forward/backward      lib/step
 *     guard: non-finite loss → stop, apply nothing, save nothing
 *     clip, AdamW step, log (log.jsonl), progress, hooks, evaluate / checkpoint every N
 *
 * Checkpoints (`<runDir>/checkpoints/step-NNNNNN/`) hold the model, the optimizer state and the trainer state,
 * written atomically; the last K are kept. A run restarted with the same config resumes from the latest.
 */
import * as fs from 'fs';
import * as tf from '@tensorflow/tfjs';
import { Overrides, resolveConfig } from './config';
import { MASK_KINDS, type MaskKind } from './dialogue';
import { checkFreeze, type FreezeKind, trainableParams } from './freeze';
import { DEFAULT_LOSS, LearnableTemperature, LossConfig } from './loss';
import type { Embedder } from './model/embedder';
import { AdamW, AdamWConfig, applyGradients, DEFAULT_ADAMW } from './optim';
import {
  CounterpartMaskOptions,
  DEFAULT_COUNTERPART_MASK,
  packMultiTurn,
  packReconstruction,
  packSingleTurn,
  PackedBatch,
  QueryTargetPair,
  sampleSinglePair,
} from './packing';
import { Progress } from './progress';
import { deriveSeed, Rng } from './random';
import { randomShifter } from './augment';
import { DEFAULT_SCHEDULE, learningRate, ScheduleConfig } from './schedule';
import { computeStep, StepValues } from './step';
import { appendLog, cleanCheckpointLeftovers, EXPLODED_WEIGHT, maxAbsWeight, resumeFromNewestIntact, saveTrainState, truncateLog } from './train-state';

export interface TrainConfig {
  steps: number;
  /** Images (records) per step: B. */
  imagesPerStep: number;
  /** `single`: one sequence per pair (the baseline); `multi`: one k-turn dialogue per image (MuCo). */
  packing: 'single' | 'multi';
  /** k: pairs drawn per image (null = all of them). */
  turns: number | null;
  /**
   * `mixed`: each image's pairs are drawn from all its turn kinds; `same`: every step draws one turn kind
   * (seeded by the step) and each image contributes pairs of that kind only, so a query's wording cannot pick
   * its target out of the batch (FlagEmbedding's `same_dataset_within_batch`). Images without a pair of the
   * step's kind fall back to all their pairs. Matters for single-turn packing; a k-turn dialogue holds k kinds.
   */
  batchKinds: 'mixed' | 'same';
  maskKind: MaskKind;
  /** Parameters kept fixed: 'tower' (vision.*), 'vision' (tower and projector, as the paper), null = none (lib/freeze). */
  freeze: FreezeKind | null;
  /** Attention mask of MuCo's target sequences; null = maskKind (lib/packing PackingOptions.targetMaskKind). */
  targetMaskKind: MaskKind | null;
  /**
   * Random translation of each training image by up to ± maxShift pixels per axis, edges replicated, seeded
   * by (seed, step) (lib/augment.ts); 0 = off. A MuCo dialogue's turns all see the one shifted image.
   */
  augment: { maxShift: number };
  /** Sequences per GradCache chunk; null = full batch. */
  chunkSize: number | null;
  maxLen: number;
  loss: LossConfig;
  learnTemperature: boolean;
  schedule: ScheduleConfig;
  optimizer: AdamWConfig;
  /** Clip the global gradient norm to this (null = off). */
  clipNorm: number | null;
  /** Fine-tuning counterpart masking (loss.objective = finetune). */
  counterpartMask: CounterpartMaskOptions;
  seed: number;
  logEvery: number;
  /** Save a checkpoint every N steps (null: only at the end); the end is always saved when runDir is set. */
  checkpointEvery: number | null;
  keepCheckpoints: number;
  /** Call hooks.evaluate every N steps (null: only at the end). */
  evalEvery: number | null;
}

export const DEFAULT_TRAIN: Readonly<TrainConfig> = Object.freeze({
  steps: 200,
  imagesPerStep: 32,
  packing: 'multi',
  turns: 7,
  batchKinds: 'mixed',
  maskKind: 'causal',
  freeze: null,
  targetMaskKind: null,
  augment: { maxShift: 0 },
  chunkSize: null,
  maxLen: 512,
  loss: DEFAULT_LOSS,
  learnTemperature: false,
  schedule: DEFAULT_SCHEDULE,
  optimizer: DEFAULT_ADAMW,
  clipNorm: 1,
  counterpartMask: DEFAULT_COUNTERPART_MASK,
  seed: 0,
  logEvery: 10,
  checkpointEvery: null,
  keepCheckpoints: 2,
  evalEvery: null,
} as TrainConfig);

export function trainConfig(overrides?: Overrides<TrainConfig>): TrainConfig {
  const c = resolveConfig(DEFAULT_TRAIN as TrainConfig, overrides, 'train');
  const positiveInt = (key: string, v: number | null, orNull = false): void => {
    if (orNull && v === null) return;
    if (!(Number.isSafeInteger(v) && (v as number) >= 1)) throw new Error(`train.${key} must be a positive integer${orNull ? ' or null' : ''}, got ${v}.`);
  };
  positiveInt('steps', c.steps);
  positiveInt('imagesPerStep', c.imagesPerStep);
  positiveInt('checkpointEvery', c.checkpointEvery, true);
  positiveInt('keepCheckpoints', c.keepCheckpoints);
  positiveInt('evalEvery', c.evalEvery, true);
  positiveInt('turns', c.turns, true);
  if (!(c.schedule.lr > 0 && Number.isFinite(c.schedule.lr))) throw new Error(`train.schedule.lr must be a positive number, got ${c.schedule.lr}.`);
  if (!(c.loss.temperature > 0)) throw new Error(`train.loss.temperature must be > 0, got ${c.loss.temperature}.`);
  if (c.loss.maskDuplicateTargets && (c.loss.objective !== 'pretrain' || c.loss.symmetric)) {
    throw new Error(
      "train.loss.maskDuplicateTargets applies to the 'pretrain' objective's query→target loss; set loss.objective 'pretrain' and loss.symmetric false, or turn it off.",
    );
  }
  if (c.batchKinds !== 'mixed' && c.batchKinds !== 'same') throw new Error(`train.batchKinds must be 'mixed' or 'same', got '${String(c.batchKinds)}'.`);
  if (c.batchKinds === 'same' && c.packing === 'multi' && c.turns !== 1) {
    // Each image has one pair per kind: a same-kind step would silently cut every dialogue to one turn.
    throw new Error(
      "train.batchKinds 'same' keeps one pair per image, so it is for single-turn packing; a k-turn dialogue (packing 'multi') already holds k kinds. Use batchKinds 'mixed' with packing 'multi'.",
    );
  }
  if (!(Number.isInteger(c.augment.maxShift) && c.augment.maxShift >= 0))
    throw new Error(`train.augment.maxShift must be a non-negative integer (pixels), got ${c.augment.maxShift}.`);
  checkFreeze(c.freeze);
  if (c.packing !== 'single' && c.packing !== 'multi') throw new Error(`train.packing must be 'single' or 'multi', got '${String(c.packing)}'.`);
  for (const [key, v, orNull] of [['maskKind', c.maskKind, false] as const, ['targetMaskKind', c.targetMaskKind, true] as const]) {
    if (!(MASK_KINDS.includes(v as MaskKind) || (orNull && v === null))) {
      throw new Error(`train.${key} must be ${MASK_KINDS.map((k) => `'${k}'`).join(' or ')}${orNull ? ' or null' : ''}, got '${String(v)}'.`);
    }
  }
  return c;
}

/** One image's record as the trainer takes it (an M3T row with decoded pixels). */
export interface TrainRecord {
  id: string;
  /** [S·S·3] pixels at the model's image size, or null for a text-only query. */
  image: Float32Array | null;
  caption?: string;
  pairs: readonly QueryTargetPair[];
}

export interface TrainData {
  readonly size: number;
  get(index: number): TrainRecord | Promise<TrainRecord>;
}

/** What each step logs (one JSON line of log.jsonl). */
export interface StepRecord extends StepValues {
  step: number;
  lr: number;
  temperature: number;
  seconds: number;
  imagesPerSec: number;
  sequencesPerSec: number;
  pairsPerSec: number;
  pairs: number;
  numTensors: number;
  tensorMB: number;
  rssMB: number;
  gradNorm?: number;
  eval?: Record<string, number>;
}

export interface TrainHooks {
  onStep?: (record: StepRecord) => void | Promise<void>;
  /** Evaluate the model (every evalEvery steps and at the end); the result is logged with the step. */
  evaluate?: (step: number, model: Embedder) => Promise<Record<string, number>>;
}

export interface TrainOptions {
  /** Where log.jsonl and checkpoints go; null = keep nothing on disk. */
  runDir?: string | null;
  hooks?: TrainHooks;
  /** Resume from the latest checkpoint in runDir (default true). */
  resume?: boolean;
  /** Stop (as if interrupted) after this step count; for tests and time-boxed runs. */
  stopAfter?: number;
  progress?: 'bar' | 'lines' | 'none';
}

export interface TrainSummary {
  steps: number;
  resumedFrom: number;
  records: StepRecord[];
  seconds: number;
}

export class NonFiniteLossError extends Error {}

/** Advice on divergence that fits the config: clipping is only suggested when it is off. */
function divergenceAdvice(c: TrainConfig): string {
  const clip = c.clipNorm === null ? ', or set train.clipNorm (e.g. 1)' : ` (gradient clipping is on at train.clipNorm = ${c.clipNorm})`;
  return `Lower train.schedule.lr (now ${c.schedule.lr}) or raise train.loss.temperature (now ${c.loss.temperature})${clip}.`;
}

/** The data indices of a step: consecutive slices of per-epoch seeded permutations. */
export function stepIndices(size: number, perStep: number, seed: number, step: number): number[] {
  if (size < 1) throw new Error('The training data is empty.');
  const out: number[] = [];
  let pos = step * perStep;
  const cache = new Map<number, number[]>();
  while (out.length < perStep) {
    const epoch = Math.floor(pos / size);
    let order = cache.get(epoch);
    if (order === undefined) {
      order = new Rng(deriveSeed(seed, `epoch/${epoch}`)).permutation(size);
      cache.set(epoch, order);
    }
    out.push(order[pos % size] as number);
    pos++;
  }
  return out;
}

/** Pack a step's records the way the config asks. */
/**
 * The records of a step restricted to one turn kind (`batchKinds: 'same'`): the kind is drawn, seeded by the
 * step, among the kinds the step's records have; records without it keep all their pairs.
 */
export function sameKindRecords(records: readonly TrainRecord[], seed: number, step: number): TrainRecord[] {
  const kinds = [...new Set(records.flatMap((r) => r.pairs.map((p) => p.kind).filter((k): k is string => k !== undefined)))].sort();
  if (kinds.length === 0) throw new Error("train.batchKinds 'same' needs the pairs' turn kinds (QueryTargetPair.kind); these records have none.");
  const kind = new Rng(deriveSeed(seed, `kind/${step}`)).pick(kinds);
  return records.map((r) => {
    const pairs = r.pairs.filter((p) => p.kind === kind);
    return pairs.length === 0 ? r : { ...r, pairs };
  });
}

export function packStep(model: Embedder, recordsIn: readonly TrainRecord[], c: TrainConfig, step: number): PackedBatch {
  const records = c.batchKinds === 'same' ? sameKindRecords(recordsIn, c.seed, step) : recordsIn;
  const rng = new Rng(deriveSeed(c.seed, `pack/${step}`));
  const opts = { turns: c.turns, imageTokens: model.imageTokens, maskKind: c.maskKind, targetMaskKind: c.targetMaskKind, maxLen: c.maxLen };
  if (c.loss.objective === 'finetune') {
    const pairs = records.map((r) => sampleSinglePair(r, rng));
    return packReconstruction(pairs, model.tokenizer, rng, { ...opts, turns: 1 }, c.counterpartMask);
  }
  return c.packing === 'multi' ? packMultiTurn(records, model.tokenizer, rng, opts) : packSingleTurn(records, model.tokenizer, rng, opts);
}

/** The step's records with their images shifted at random (`train.augment`); the records themselves when off. */
export function augmentRecords(records: readonly TrainRecord[], imageSize: number, c: Pick<TrainConfig, 'augment' | 'seed'>, step: number): TrainRecord[] {
  if (c.augment.maxShift === 0) return [...records];
  const shift = randomShifter(imageSize, c.augment.maxShift, c.seed, step);
  return records.map((r) => (r.image === null ? r : { ...r, image: shift(r.image) }));
}

/** Train `model` on `data` with config `c`. */
export async function train(model: Embedder, data: TrainData, c: TrainConfig, options: TrainOptions = {}): Promise<TrainSummary> {
  const runDir = options.runDir ?? null;
  if (runDir !== null) fs.mkdirSync(runDir, { recursive: true });
  const temp = c.learnTemperature ? new LearnableTemperature(c.loss.temperature) : null;
  const trained = trainableParams(model.params, c.freeze);
  const opt = new AdamW(trained.concat(temp === null ? [] : [{ name: 'logTau', variable: temp.logTau }]), c.optimizer);
  const variables = c.freeze === null ? undefined : trained.map((p) => p.variable);
  let start = 0;
  if (runDir !== null) cleanCheckpointLeftovers(runDir);
  if (runDir !== null && options.resume !== false) start = await resumeFromNewestIntact(runDir, model, opt, temp);
  if (runDir !== null) truncateLog(runDir, start);
  const progress =
    options.progress === 'none'
      ? null
      : new Progress({ total: c.steps, every: c.logEvery, label: 'train', ...(options.progress === undefined ? {} : { mode: options.progress }) });
  const records: StepRecord[] = [];
  const began = Date.now();
  const end = Math.min(c.steps, options.stopAfter ?? c.steps);
  try {
    for (let step = start; step < end; step++) {
      const record = await trainOneStep(model, data, c, step, opt, temp, variables);
      const last = step === c.steps - 1;
      if (options.hooks?.evaluate !== undefined && (last || (c.evalEvery !== null && (step + 1) % c.evalEvery === 0))) {
        record.eval = await options.hooks.evaluate(step + 1, model);
      }
      records.push(record);
      appendLog(runDir, record);
      progress?.update(step, { loss: record.loss, acc: record.accuracy, 'img/s': record.imagesPerSec });
      await options.hooks?.onStep?.(record);
      const due = c.checkpointEvery !== null && (step + 1) % c.checkpointEvery === 0;
      if (runDir !== null && (due || last)) {
        // Never checkpoint diverged weights: a rerun would resume into the same failure.
        const maxAbs = await maxAbsWeight(model);
        if (!(maxAbs <= EXPLODED_WEIGHT)) {
          throw new NonFiniteLossError(
            `The weights after step ${step} have diverged (largest |weight| ${maxAbs}, limit ${EXPLODED_WEIGHT}): the checkpoint was not saved, ` +
              `so a rerun resumes from the last good one. ${divergenceAdvice(c)}`,
          );
        }
        await saveTrainState(runDir, step + 1, model, opt, temp, c);
      }
    }
  } finally {
    opt.dispose();
    temp?.dispose();
  }
  return { steps: end, resumedFrom: start, records, seconds: (Date.now() - began) / 1000 };
}

async function scalarValue(t: tf.Scalar): Promise<number> {
  const v = (await t.data())[0] as number;
  t.dispose();
  return v;
}

async function trainOneStep(
  model: Embedder,
  data: TrainData,
  c: TrainConfig,
  step: number,
  opt: AdamW,
  temp: LearnableTemperature | null,
  variables: tf.Variable[] | undefined,
): Promise<StepRecord> {
  const t0 = Date.now();
  const lr = learningRate(c.schedule, step, c.steps);
  const records = augmentRecords(
    await Promise.all(stepIndices(data.size, c.imagesPerStep, c.seed, step).map((i) => data.get(i))),
    model.config.imageSize,
    c,
    step,
  );
  const packed = packStep(model, records, c, step);
  const { values, grads } = await computeStep(model, packed, {
    loss: c.loss,
    chunkSize: c.chunkSize,
    maxLen: c.maxLen,
    seed: deriveSeed(c.seed, `dropout/${step}`),
    ...(temp === null ? {} : { temperature: { value: () => temp.value(), variable: temp.logTau } }),
    ...(variables === undefined ? {} : { variables }),
  });
  if (!Number.isFinite(values.loss)) {
    tf.dispose(Object.values(grads));
    throw new NonFiniteLossError(
      `Non-finite loss (${values.loss}) at step ${step}: the update was not applied and nothing was saved after the last checkpoint. ` + divergenceAdvice(c),
    );
  }
  const gradNorm = await applyGradients(opt, grads, lr, c.clipNorm, (step + 1) % c.logEvery === 0 || step === 0);
  const seconds = (Date.now() - t0) / 1000;
  const images = records.filter((r) => r.image !== null).length; // distinct images this step
  const pairs = packed.groups.length;
  const mem = tf.memory();
  return {
    step,
    lr,
    temperature: temp === null ? c.loss.temperature : await scalarValue(temp.value()),
    ...values,
    seconds,
    imagesPerSec: images / seconds,
    sequencesPerSec: (packed.query.length + packed.target.length) / seconds,
    pairsPerSec: pairs / seconds,
    pairs,
    numTensors: mem.numTensors,
    tensorMB: mem.numBytes / 2 ** 20,
    rssMB: process.memoryUsage().rss / 2 ** 20,
    ...(gradNorm === undefined ? {} : { gradNorm }),
  };
}
