/**
 * Training the base model (docs/base-model.md): the embedder's parameters trained generatively, next-token
 * loss on the answers of question/answer dialogues about an image (packing.ts, objective.ts). The loop reads
 * as lib/train.ts's and shares its checkpoints (model + AdamW state + step, written atomically) and its log
 * format, so a killed run resumes exactly:
 *
 *   for step in [start, steps):
 *     lr ← schedule(step); records ← seeded order(step); pack k Q/A turns per image
 *     loss, grads ← next-token cross-entropy on answer tokens; guard non-finite; clip; AdamW
 *     log; evaluate every evalEvery (held-out loss, generative accuracies); checkpoint every N
 */
import * as fs from 'fs';
import * as tf from '@tensorflow/tfjs';
import { collate } from '../batch';
import { Overrides, resolveConfig } from '../config';
import type { Embedder } from '../model/embedder';
import { patchTensor } from '../model/vision';
import { AdamW, AdamWConfig, applyGradients, DEFAULT_ADAMW } from '../optim';
import { Progress } from '../progress';
import { deriveSeed, Rng } from '../random';
import { learningRate, ScheduleConfig } from '../schedule';
import { log } from '../log';
import { checkpointDirs } from '../model/checkpoint';
import { NonFiniteLossError, stepIndices, TrainData } from '../train';
import { appendLog, cleanCheckpointLeftovers, restoreTrainState, saveTrainState, truncateLog } from '../train-state';
import { answerTargets, generativeLoss } from './objective';
import { packGenerative } from './packing';

export interface PretrainConfig {
  steps: number;
  /** Images (dialogues) per step. */
  imagesPerStep: number;
  /** Question/answer turns per dialogue (null: all of the record's). */
  turns: number | null;
  /** Longest dialogue in tokens (longer ones lose trailing turns). */
  maxLen: number;
  schedule: ScheduleConfig;
  optimizer: AdamWConfig;
  clipNorm: number | null;
  seed: number;
  logEvery: number;
  checkpointEvery: number | null;
  keepCheckpoints: number;
  /** Evaluate (held-out loss and generative accuracies) every N steps; null: only at the end. */
  evalEvery: number | null;
}

export const DEFAULT_PRETRAIN: Readonly<PretrainConfig> = Object.freeze({
  // 1,200: the held-out loss of a 2,000-step run fell 2.007 → 1.921 over its second thousand steps (docs/base-model.md).
  steps: 1200,
  imagesPerStep: 16,
  // 4 of a record's 7 turns in ≤ 256 tokens: half the padded length of all 7 (≈480), twice the images per second.
  turns: 4,
  maxLen: 256,
  schedule: { kind: 'cosine', lr: 2e-3, warmupSteps: 100, minRatio: 0.05 },
  optimizer: DEFAULT_ADAMW,
  clipNorm: 1,
  seed: 0,
  logEvery: 25,
  checkpointEvery: 100,
  keepCheckpoints: 2,
  evalEvery: 250,
} as PretrainConfig);

export function pretrainConfig(overrides?: Overrides<PretrainConfig>): PretrainConfig {
  const c = resolveConfig(DEFAULT_PRETRAIN as PretrainConfig, overrides, 'pretrain');
  if (!(Number.isInteger(c.steps) && c.steps >= 1)) throw new Error(`pretrain.steps must be a positive integer, got ${c.steps}.`);
  if (!(Number.isInteger(c.imagesPerStep) && c.imagesPerStep >= 1))
    throw new Error(`pretrain.imagesPerStep must be a positive integer, got ${c.imagesPerStep}.`);
  if (c.checkpointEvery !== null && !(Number.isInteger(c.checkpointEvery) && c.checkpointEvery >= 1))
    throw new Error(`pretrain.checkpointEvery must be a positive integer or null, got ${c.checkpointEvery}.`);
  if (!(c.schedule.lr > 0)) throw new Error(`pretrain.schedule.lr must be > 0, got ${c.schedule.lr}.`);
  return c;
}

export interface PretrainStepRecord {
  step: number;
  lr: number;
  loss: number;
  tokenAccuracy: number;
  answerTokens: number;
  seconds: number;
  imagesPerSec: number;
  gradNorm?: number;
  numTensors: number;
  rssMB: number;
  eval?: Record<string, number>;
}

export interface PretrainOptions {
  runDir?: string | null;
  /** Held-out evaluation, every evalEvery steps and at the end; logged with the step. */
  evaluate?: (step: number, model: Embedder) => Promise<Record<string, number>> | Record<string, number>;
  stopAfter?: number;
  progress?: 'bar' | 'lines' | 'none';
}

/** One generative step: forward, loss, gradients. Returns host values and the gradients (caller disposes). */
export async function generativeStep(
  model: Embedder,
  records: Parameters<typeof packGenerative>[0],
  c: PretrainConfig,
  step: number,
): Promise<{ loss: number; accuracy: number; tokens: number; grads: tf.NamedTensorMap }> {
  const packed = packGenerative(records, model.tokenizer, new Rng(deriveSeed(c.seed, `pack/${step}`)), { turns: c.turns, imageTokens: model.imageTokens });
  const batch = collate(packed.sequences, { maxLen: Math.min(c.maxLen, model.config.maxLen) });
  const targets = answerTargets(
    batch,
    packed.sequences.map((s) => s.answer ?? []),
  );
  const images = packed.images.filter((x): x is Float32Array => x instanceof Float32Array);
  const patches = images.length > 0 ? patchTensor(images, model.config) : null;
  let accuracy: tf.Scalar | null = null;
  // Gradients are keyed by the variables' own names, as AdamW and applyGradients take them.
  const { value, grads } = tf.variableGrads(() => {
    const out = generativeLoss(model, batch, patches, targets);
    accuracy = tf.keep(out.accuracy);
    return out.loss;
  }, model.variables());
  patches?.dispose();
  // Asynchronous reads: WebGPU on Node cannot read synchronously (docs/gpu.md).
  const loss = (await value.data())[0] as number;
  const acc = accuracy === null ? NaN : ((await (accuracy as tf.Scalar).data())[0] as number);
  tf.dispose([value, accuracy as tf.Scalar | null].filter((t): t is tf.Scalar => t !== null));
  return { loss, accuracy: acc, tokens: targets.ids.length, grads };
}

/** Train the base model `model` on `data`. */
export async function pretrain(
  model: Embedder,
  data: TrainData,
  c: PretrainConfig,
  options: PretrainOptions = {},
): Promise<{ steps: number; resumedFrom: number; records: PretrainStepRecord[] }> {
  const runDir = options.runDir ?? null;
  if (runDir !== null) fs.mkdirSync(runDir, { recursive: true });
  const opt = new AdamW(
    [...model.params.entries()].map(([name, variable]) => ({ name, variable })),
    c.optimizer,
  );
  let start = 0;
  if (runDir !== null) cleanCheckpointLeftovers(runDir);
  const latest = runDir === null ? undefined : checkpointDirs(runDir).at(-1);
  if (latest !== undefined) {
    start = await restoreTrainState(latest.dir, model, opt, null);
    log.info(`pretrain: resuming from ${latest.dir} (step ${start})`);
  }
  if (runDir !== null) truncateLog(runDir, start);
  const progress =
    options.progress === 'none'
      ? null
      : new Progress({ total: c.steps, every: c.logEvery, label: 'pretrain', ...(options.progress === undefined ? {} : { mode: options.progress }) });
  const records: PretrainStepRecord[] = [];
  const end = Math.min(c.steps, options.stopAfter ?? c.steps);
  try {
    for (let step = start; step < end; step++) {
      const t0 = Date.now();
      const lr = learningRate(c.schedule, step, c.steps);
      const batch = await Promise.all(stepIndices(data.size, c.imagesPerStep, c.seed, step).map((i) => data.get(i)));
      const { loss, accuracy, tokens, grads } = await generativeStep(model, batch, c, step);
      if (!Number.isFinite(loss)) {
        tf.dispose(Object.values(grads));
        throw new NonFiniteLossError(
          `Non-finite pretraining loss (${loss}) at step ${step}: nothing was applied or saved after the last checkpoint. Lower pretrain.schedule.lr (now ${c.schedule.lr}).`,
        );
      }
      const gradNorm = await applyGradients(opt, grads, lr, c.clipNorm, (step + 1) % c.logEvery === 0 || step === 0);
      const seconds = (Date.now() - t0) / 1000;
      const mem = tf.memory();
      const record: PretrainStepRecord = {
        step,
        lr,
        loss,
        tokenAccuracy: accuracy,
        answerTokens: tokens,
        seconds,
        imagesPerSec: batch.length / seconds,
        ...(gradNorm === undefined ? {} : { gradNorm }),
        numTensors: mem.numTensors,
        rssMB: process.memoryUsage().rss / 2 ** 20,
      };
      const last = step === c.steps - 1;
      if (options.evaluate !== undefined && (last || (c.evalEvery !== null && (step + 1) % c.evalEvery === 0))) {
        record.eval = await options.evaluate(step + 1, model);
        log.info(
          `pretrain step ${step + 1}: ${Object.entries(record.eval)
            .map(([k, v]) => `${k} ${v.toFixed(3)}`)
            .join(' · ')}`,
        );
      }
      records.push(record);
      appendLog(runDir, record);
      progress?.update(step, { loss, acc: accuracy, 'img/s': record.imagesPerSec });
      if (runDir !== null && ((c.checkpointEvery !== null && (step + 1) % c.checkpointEvery === 0) || last))
        await saveTrainState(runDir, step + 1, model, opt, null, c);
    }
  } finally {
    opt.dispose();
  }
  return { steps: end, resumedFrom: start, records };
}
