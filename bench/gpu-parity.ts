/**
 * Loss-and-gradient parity between backends (bench/gpu.ts): the `small` embedder, seeded, on two fixed
 * batches (single-turn and MuCo k = 7, 8 synthetic images each), one full-batch training step.
 *
 * A step's signature is its loss, and for each variable the gradient's L2 norm and 16 seeded Rademacher
 * projections (Σ sᵢ gᵢ, sᵢ = ±1). Comparing projections estimates the relative L2 error of the whole gradient
 * (Johnson–Lindenstrauss) while the fixture stays a few kilobytes, small enough to ship to a GPU machine.
 * Every host sum runs in float64.
 */
import * as tf from '@tensorflow/tfjs';
import { modelConfig, type ModelPreset } from '../lib/model/config';
import { Embedder } from '../lib/model/embedder';
import { packMultiTurn, packSingleTurn, type PackedBatch } from '../lib/packing';
import { Rng } from '../lib/random';
import { DEFAULT_LOSS } from '../lib/loss';
import { fullBatchStep } from '../lib/step';
import type { Tokenizer } from '../lib/tokenizer';
import type { TrainRecord } from '../lib/train';
import { benchRecords, benchTokenizer } from './fixture';

export const PARITY_IMAGES = 8;
export const PROJECTIONS = 16;

export interface GradSignature {
  norm: number;
  projections: number[];
}

export interface StepSignature {
  loss: number;
  grads: Record<string, GradSignature>;
}

export interface ParityCase {
  name: 'single-turn' | 'muco-k7';
  packed: PackedBatch;
}

/** The fixed records, tokenizer and model config of the parity and speed checks for a preset. */
export function fixtureSetup(preset: ModelPreset, images: number): { records: TrainRecord[]; tokenizer: Tokenizer; config: ReturnType<typeof modelConfig> } {
  const probe = modelConfig(preset);
  const records = benchRecords(images, probe.imageSize);
  const tokenizer = benchTokenizer(records);
  return { records, tokenizer, config: modelConfig(preset, { vocabSize: Math.max(tokenizer.vocabSize, 512) }) };
}

/** The two parity batches, packed deterministically for `model`. */
export function parityCases(model: Embedder, records: readonly TrainRecord[]): ParityCase[] {
  const batch = records.slice(0, PARITY_IMAGES);
  const opts = { imageTokens: model.imageTokens };
  return [
    { name: 'single-turn', packed: packSingleTurn(batch, model.tokenizer, new Rng(11), { ...opts, turns: 1 }) },
    { name: 'muco-k7', packed: packMultiTurn(batch, model.tokenizer, new Rng(12), { ...opts, turns: 7 }) },
  ];
}

/** Norm and seeded ±1 projections of one gradient, in float64. */
export function gradSignature(values: Float32Array | number[], seed: number): GradSignature {
  const rng = new Rng(seed);
  const proj = new Float64Array(PROJECTIONS);
  let sq = 0;
  for (let i = 0; i < values.length; i++) {
    const v = values[i] as number;
    sq += v * v;
    for (let p = 0; p < PROJECTIONS; p++) proj[p] = (proj[p] as number) + (rng.next() < 0.5 ? -v : v);
  }
  return { norm: Math.sqrt(sq), projections: Array.from(proj) };
}

/** One full-batch step's signature (reads with `await data()`, so it runs on WebGPU too). */
export async function stepSignature(model: Embedder, packed: PackedBatch): Promise<StepSignature> {
  const { values, grads } = await fullBatchStep(model, packed, { loss: DEFAULT_LOSS, chunkSize: null, maxLen: 512, seed: 7 });
  const out: Record<string, GradSignature> = {};
  // Variable names carry the engine's counters (`0/lm.embed/43`): key by the parameter's own name.
  const byParam = new Map(Object.keys(grads).map((name) => [name.replace(/^\d+\/(.*)\/\d+$/, '$1'), name]));
  for (const [i, param] of [...byParam.keys()].sort().entries()) {
    const g = grads[byParam.get(param) as string] as tf.Tensor;
    out[param] = gradSignature((await g.data()) as Float32Array, 1000 + i);
  }
  tf.dispose(Object.values(grads));
  return { loss: values.loss, grads: out };
}

export interface ParityResult {
  lossRelError: number;
  /** Largest relative error over variables: ‖P g − P g_ref‖ / ‖P g_ref‖ (P the projections; GRADIENT_FLOOR). */
  maxGradRelError: number;
  worstVariable: string;
  /** Largest relative error of a gradient norm. */
  maxNormRelError: number;
  variables: number;
}

/**
 * A variable's gradient below this fraction of the whole gradient is compared against the floor instead of its
 * own size: the attention key biases have a gradient of exactly zero in exact arithmetic (a softmax ignores a
 * shift shared by all keys), so both backends return rounding noise (~1e-12) whose relative error means nothing.
 */
export const GRADIENT_FLOOR = 1e-6;

/** Compare a signature with the reference; throws when the variables differ. */
export function compareSignatures(ref: StepSignature, got: StepSignature): ParityResult {
  const names = Object.keys(ref.grads).sort();
  const gotNames = Object.keys(got.grads).sort();
  if (names.join() !== gotNames.join()) throw new Error(`Gradient variables differ: reference [${names.join(', ')}] vs [${gotNames.join(', ')}].`);
  const sq = (xs: number[]): number => xs.reduce((a, x) => a + x * x, 0);
  const totalProjection = Math.sqrt(names.reduce((a, n) => a + sq((ref.grads[n] as GradSignature).projections), 0));
  const totalNorm = Math.sqrt(names.reduce((a, n) => a + (ref.grads[n] as GradSignature).norm ** 2, 0));
  let maxGrad = 0;
  let worst = '';
  let maxNorm = 0;
  for (const name of names) {
    const r = ref.grads[name] as GradSignature;
    const g = got.grads[name] as GradSignature;
    const diff = Math.sqrt(r.projections.reduce((a, x, p) => a + (x - (g.projections[p] as number)) ** 2, 0));
    const rel = diff / Math.max(Math.sqrt(sq(r.projections)), GRADIENT_FLOOR * totalProjection, Number.MIN_VALUE);
    if (rel > maxGrad) {
      maxGrad = rel;
      worst = name;
    }
    maxNorm = Math.max(maxNorm, Math.abs(g.norm - r.norm) / Math.max(r.norm, GRADIENT_FLOOR * totalNorm, Number.MIN_VALUE));
  }
  return {
    lossRelError: Math.abs(got.loss - ref.loss) / Math.abs(ref.loss),
    maxGradRelError: maxGrad,
    worstVariable: worst,
    maxNormRelError: maxNorm,
    variables: names.length,
  };
}

/** Signatures of both parity cases for a freshly seeded `small` embedder on the active backend. */
export async function paritySignatures(): Promise<Record<string, StepSignature>> {
  const { records, tokenizer, config } = fixtureSetup('small', PARITY_IMAGES);
  const model = Embedder.create(config, tokenizer, 0);
  const out: Record<string, StepSignature> = {};
  for (const c of parityCases(model, records)) out[c.name] = await stepSignature(model, c.packed);
  model.dispose();
  return out;
}
