/**
 * Efficiency of our runs, measured and analytic (docs/method.md §4; the paper's Table 5):
 *   runStepFlops        analytic FLOPs of a run config's training steps (lib/flops on the packed batches
 *                       the trainer builds: padded per GradCache chunk, the recomputation counted)
 *   flopsPerPairCurve   FLOPs per query–target pair versus turns: MuCo (k turns on B images) against
 *                       single-turn at the same effective batch (B·k images), ours and the paper's 2B model
 *   measureThroughput   a short live measurement: pairs/s, images/s, step time and peak tensor memory of a
 *                       few training steps per variant (turns, images per step)
 * The paper reports no throughput in pairs/s (§3.7): the measured numbers are ours only.
 */
import * as tf from '@tensorflow/tfjs';
import { RunConfig } from '../runner/config';
import { runTokenizer, trainingData } from '../runner/run';
import { dimsOf, MMEB_AVERAGE_TOKENS, PaperAssumptions, paperStepShape, QWEN2_VL_2B, stepFlops, stepShapeFromPacked } from './flops';
import { Embedder } from '../model/embedder';
import { imageTokens } from '../model/config';
import { packMultiTurn, packSingleTurn, PackedBatch } from '../packing';
import { deriveSeed, Rng } from '../random';
import { computeStep } from '../step';
import { Tokenizer } from '../tokenizer';
import { stepIndices, train, TrainConfig, TrainData, TrainRecord } from '../train';

/** The data and vocabulary of a run config (load once, reuse for many variants). */
export interface RunData {
  data: TrainData;
  tokenizer: Tokenizer;
}

/** The run's training data and its vocabulary (the one runExperiment would build, unless given). */
export async function loadRunData(cfg: RunConfig, tokenizer?: Tokenizer): Promise<RunData> {
  const { records, data } = await trainingData(cfg);
  return { data, tokenizer: tokenizer ?? runTokenizer(records, cfg.data.maxBpeTokens) };
}

/** The packed batch of step `step`, drawn and packed exactly as lib/train's packStep does (pretraining). */
async function packedStep(c: TrainConfig, rd: RunData, tokens: number, step: number): Promise<{ packed: PackedBatch; images: number }> {
  if (c.loss.objective !== 'pretrain') throw new Error(`Step FLOPs cover pretraining runs; this run has loss.objective '${c.loss.objective}'.`);
  const records: TrainRecord[] = await Promise.all(stepIndices(rd.data.size, c.imagesPerStep, c.seed, step).map((i) => rd.data.get(i)));
  const rng = new Rng(deriveSeed(c.seed, `pack/${step}`));
  const opts = { turns: c.turns, imageTokens: tokens, maskKind: c.maskKind };
  const packed = c.packing === 'multi' ? packMultiTurn(records, rd.tokenizer, rng, opts) : packSingleTurn(records, rd.tokenizer, rng, opts);
  return { packed, images: records.filter((r) => r.image !== null).length };
}

function usesGradCache(c: TrainConfig, packed: PackedBatch): boolean {
  return c.chunkSize !== null && c.chunkSize < Math.max(packed.query.length, packed.target.length);
}

export interface StepFlopsSummary {
  steps: number;
  /** Mean analytic FLOPs (forward + backward + GradCache recomputation) per step. */
  flopsPerStep: number;
  pairsPerStep: number;
  /** Distinct images per step. */
  imagesPerStep: number;
  flopsPerPair: number;
  gradCache: boolean;
}

/** Mean analytic FLOPs of the first `steps` training steps of a run config (our model, all of it trained). */
export async function runStepFlops(cfg: RunConfig, rd: RunData, steps = 2): Promise<StepFlopsSummary> {
  const c = cfg.train;
  const model = { ...cfg.model, vocabSize: rd.tokenizer.vocabSize };
  let flops = 0;
  let pairs = 0;
  let images = 0;
  let gradCache = false;
  const n = Math.min(steps, c.steps);
  for (let s = 0; s < n; s++) {
    const { packed, images: distinct } = await packedStep(c, rd, imageTokens(model), s);
    const shape = stepShapeFromPacked(packed, {
      maxLen: c.maxLen,
      chunkSize: c.chunkSize,
      padded: true,
      loss: { objective: c.loss.objective, finetuneForm: c.loss.finetuneForm },
    });
    gradCache = usesGradCache(c, packed);
    flops += stepFlops(dimsOf(model), shape, { recompute: gradCache ? 'gradCache' : 'none' }).total;
    pairs += packed.groups.length;
    images += distinct;
  }
  return { steps: n, flopsPerStep: flops / n, pairsPerStep: pairs / n, imagesPerStep: images / n, flopsPerPair: flops / pairs, gradCache };
}

/** A copy of a run config with other training settings (the name says what changed). */
export function variantConfig(base: RunConfig, name: string, train: Partial<TrainConfig>): RunConfig {
  return { ...base, run: `${base.run}~${name}`, train: { ...base.train, ...train } };
}

export type FlopsCurvePoint = {
  turns: number;
  /** MuCo: k turns on B images, FLOPs per pair. */
  muco: number;
  /** Single-turn at the same effective batch (B·k images), FLOPs per pair. */
  single: number;
  /** muco / single. */
  ratio: number;
};

/** FLOPs per pair versus turns for our model on a run's data (B = the run's images per step). */
export async function flopsPerPairCurve(base: RunConfig, rd: RunData, turns: readonly number[], steps = 1): Promise<FlopsCurvePoint[]> {
  const out: FlopsCurvePoint[] = [];
  for (const k of turns) {
    const muco = await runStepFlops(variantConfig(base, `k${k}`, k === 1 ? { packing: 'single', turns: 1 } : { packing: 'multi', turns: k }), rd, steps);
    const single = await runStepFlops(
      variantConfig(base, `single${k}`, { packing: 'single', turns: 1, imagesPerStep: base.train.imagesPerStep * k }),
      rd,
      steps,
    );
    out.push({ turns: k, muco: muco.flopsPerPair, single: single.flopsPerPair, ratio: muco.flopsPerPair / single.flopsPerPair });
  }
  return out;
}

/** The same curve at paper scale: Qwen2-VL-2B, B = `images`, token counts from `assumptions` (lib/flops). */
export function paperFlopsPerPairCurve(
  turns: readonly number[],
  images = 1024,
  assumptions: Readonly<PaperAssumptions> = MMEB_AVERAGE_TOKENS,
): FlopsCurvePoint[] {
  const { training, recompute, ...tokens } = assumptions;
  const perPair = (b: number, k: number): number =>
    stepFlops(QWEN2_VL_2B, paperStepShape({ ...tokens, images: b, turns: k }), { trainable: training, recompute }).total / (b * k);
  return turns.map((k) => {
    const muco = perPair(images, k);
    const single = perPair(images * k, 1);
    return { turns: k, muco, single, ratio: muco / single };
  });
}

export interface ThroughputVariant {
  name: string;
  packing: 'single' | 'multi';
  turns: number;
  imagesPerStep: number;
  /** GradCache chunk (sequences); null = full batch. */
  chunkSize: number | null;
}

/**
 * MuCo at each k on `images` per step (k = 1 is single-turn), plus single-turn at `factors`× the images;
 * `chunkSize` is the GradCache chunk of every variant (null: full batch).
 */
export function turnVariants(turns: readonly number[], images: number, factors: readonly number[] = [], chunkSize: number | null = null): ThroughputVariant[] {
  return [
    ...turns.map((k): ThroughputVariant =>
      k === 1
        ? { name: 'single-turn', packing: 'single', turns: 1, imagesPerStep: images, chunkSize }
        : { name: `MuCo k=${k}`, packing: 'multi', turns: k, imagesPerStep: images, chunkSize },
    ),
    ...factors.map((f): ThroughputVariant => ({ name: `single-turn, ${f}x images`, packing: 'single', turns: 1, imagesPerStep: images * f, chunkSize })),
  ];
}

export type ThroughputRow = {
  variant: string;
  imagesPerStep: number;
  pairsPerStep: number;
  stepSeconds: number;
  imagesPerSec: number;
  pairsPerSec: number;
  /** Peak tensor memory of one forward + backward (weights, activations, gradients), MiB. */
  peakTensorMB: number;
  gflopsPerStep: number;
  /** Analytic FLOPs over measured time. */
  gflopsPerSec: number;
};

const median = (xs: readonly number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;

/**
 * Train each variant for `warmup + steps` steps on the run's data (no files written) and report medians of
 * the timed steps, the peak tensor memory of one profiled forward + backward and the analytic FLOPs.
 */
export async function measureThroughput(
  base: RunConfig,
  rd: RunData,
  variants: readonly ThroughputVariant[],
  options: { steps?: number; warmup?: number } = {},
): Promise<ThroughputRow[]> {
  const steps = options.steps ?? 3;
  const warmup = options.warmup ?? 1;
  const rows: ThroughputRow[] = [];
  for (const v of variants) {
    const cfg = variantConfig(base, v.name, {
      packing: v.packing,
      turns: v.turns,
      imagesPerStep: v.imagesPerStep,
      chunkSize: v.chunkSize,
      steps: warmup + steps,
      logEvery: 1,
      checkpointEvery: null,
      evalEvery: null,
    });
    const model = Embedder.create({ ...cfg.model, vocabSize: rd.tokenizer.vocabSize }, rd.tokenizer, cfg.train.seed);
    try {
      const summary = await train(model, rd.data, cfg.train, { progress: 'none' });
      const timed = summary.records.slice(warmup);
      const { packed } = await packedStep(cfg.train, rd, model.imageTokens, 0);
      const profile = await tf.profile(async () => {
        const r = await computeStep(model, packed, { loss: cfg.train.loss, chunkSize: cfg.train.chunkSize, maxLen: cfg.train.maxLen, seed: 0 });
        tf.dispose(Object.values(r.grads));
        return [];
      });
      const flops = await runStepFlops(cfg, rd, 1);
      const stepSeconds = median(timed.map((r) => r.seconds));
      rows.push({
        variant: v.name,
        imagesPerStep: v.imagesPerStep,
        pairsPerStep: median(timed.map((r) => r.pairs)),
        stepSeconds,
        imagesPerSec: median(timed.map((r) => r.imagesPerSec)),
        pairsPerSec: median(timed.map((r) => r.pairsPerSec)),
        peakTensorMB: profile.peakBytes / 2 ** 20,
        gflopsPerStep: flops.flopsPerStep / 1e9,
        gflopsPerSec: flops.flopsPerStep / 1e9 / stepSeconds,
      });
    } finally {
      model.dispose();
    }
  }
  return rows;
}
