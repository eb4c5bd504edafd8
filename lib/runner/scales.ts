/**
 * Scale presets: every experiment runs at one of these. Each holds overrides of the defaults only.
 *   smoke  seconds: the notebook check and the CLI test (tiny model, a few steps, a few queries)
 *   quick  `npm run reproduce`: the core comparison in ≤ 20 minutes on 2 CPU cores
 *   full   the committed results (every experiment ≈ 1.5–2 hours on 2 cores; resumable)
 */
import type { RunOverrides } from './config';

export type ScalePreset = 'smoke' | 'quick' | 'full';

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
    preset: 'small',
    // GradCache chunks keep every run well inside the wasm heap (4 GiB, and offsets past 2 GiB have been seen
    // to fault in tfjs-wasm kernels) whatever its batch: a 7-turn chunk of 4 sequences stays under ~1.5 GiB.
    train: { steps: 100, imagesPerStep: 6, chunkSize: 4, logEvery: 10, checkpointEvery: 25, schedule: { lr: 1e-3, warmupSteps: 10 }, loss: { temperature: 0.05 } },
    eval: { limit: 20, validationRecords: 100, pools: ['local'] },
  },
  full: {
    // Every experiment at this scale together ≈ 1.5–2 hours on 2 cores (runs shared between grids are trained
    // once, see run.ts). 8 images per step: MuCo k = 7 runs full batch (56 pairs), the 7×-images single-turn
    // run uses GradCache chunks of 8 sequences.
    preset: 'small',
    train: { steps: 150, imagesPerStep: 8, chunkSize: 8, logEvery: 10, checkpointEvery: 50, schedule: { lr: 1e-3, warmupSteps: 15 }, loss: { temperature: 0.05 } },
    eval: { limit: 60, validationRecords: 300, pools: ['local', 'global'] },
  },
};
