/**
 * Scale presets: every experiment runs at one of these. Each holds overrides of the defaults only.
 *   smoke  seconds: the notebook check and the CLI test (tiny model, a few steps, a few queries)
 *   quick  `npm run reproduce`: single-turn vs MuCo, ≈ 21 minutes on 2 CPU cores (target 20)
 *   full   the committed results (single-turn 20–35 min, MuCo k = 7 ≈ 2 h, the core experiment ≈ 6 h on 2 cores; resumable)
 */
import type { RunOverrides } from './config';

export type ScalePreset = 'smoke' | 'quick' | 'full';

/** A `--scale` value as a preset; an error naming the presets otherwise. */
export function parseScale(text: string): ScalePreset {
  if (!(text in SCALES)) throw new Error(`--scale must be one of ${Object.keys(SCALES).join(', ')}, got ${text}.`);
  return text as ScalePreset;
}

export const SCALES: Record<ScalePreset, RunOverrides> = {
  smoke: {
    // No base model is committed for the tiny preset: smoke runs start from scratch.
    preset: 'tiny',
    init: { from: 'scratch' },
    model: { imageSize: 32, patchSize: 4 },
    train: { steps: 3, imagesPerStep: 4, logEvery: 1, schedule: { warmupSteps: 1 } },
    data: { maxRecords: 64, maxBpeTokens: 1000 },
    eval: { limit: 6, validationRecords: 16, pools: ['local'] },
  },
  quick: {
    // 16 images per step, 200 steps, random shifts of ±4 px: the settings README "Making the models learn"
    // measured. GradCache chunks keep every run well inside the wasm heap (4 GiB, and offsets past 2 GiB have
    // been seen to fault in tfjs-wasm kernels) whatever its batch. Measured on MuCo k = 7, 16 images (wasm heap,
    // time per step in one process): chunks of 8 sequences 0.70 GiB and ≈ 6% faster than chunks of 4; one chunk
    // of 16 is ≈ 40% faster than 4 but needs 2.09 GiB, past the 2 GiB line.
    train: {
      steps: 200,
      imagesPerStep: 16,
      chunkSize: 8,
      augment: { maxShift: 4 },
      logEvery: 10,
      checkpointEvery: 50,
      evalEvery: 50,
      schedule: { kind: 'cosine', lr: 1e-3, warmupSteps: 10, minRatio: 0.01 },
      loss: { temperature: 0.05 },
    },
    eval: { limit: 20, validationRecords: 100, pools: ['local'] },
  },
  full: {
    // From the base: 16 images per step, 1,000 steps, shifts of ±4 px, cosine decay to 1% of lr (README "Making
    // the models learn": 200 steps decayed vs constant from the same weights, validation MRR +3.9 [0.4, 7.5]). Single-turn 20–35 min, MuCo k = 7 ≈ 2 h
    // on 2 cores; the 7x-images control (112 images per step, GradCache chunks of 8 sequences) several hours by
    // design (7x the image compute). Resumable: run it in the background.
    preset: 'small',
    train: {
      steps: 1000,
      imagesPerStep: 16,
      chunkSize: 8,
      augment: { maxShift: 4 },
      logEvery: 10,
      checkpointEvery: 100,
      evalEvery: 100,
      schedule: { kind: 'cosine', lr: 1e-3, warmupSteps: 15, minRatio: 0.01 },
      loss: { temperature: 0.05 },
    },
    eval: { limit: 60, validationRecords: 300, pools: ['local', 'global'] },
  },
};
