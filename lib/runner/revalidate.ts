/**
 * Recompute the validation block of finished runs from their final weights (the latest checkpoint, else the
 * exported `model/`, else those of an equivalent run: a run copied from another, or given the same config,
 * has the same weights), e.g. after new validation metrics were added (the image controls of ./validate). Only
 * `metrics.validation` changes, and it records when and at which commit it was recomputed; the training and
 * benchmark metrics stay as the run wrote them. Explicit by design (`npm run experiment -- <name> --revalidate`):
 * nothing else rewrites a finished run.
 */
import * as fs from 'fs';
import * as path from 'path';
import { finalWeights, loadCheckpoint } from '../model/checkpoint';
import { gitSha, readMetrics, writeMetrics } from '../results';
import type { RunConfig } from './config';
import { equivalentRuns } from './run';
import { validationRecall } from './validate';

/**
 * Recompute `<dir>`'s validation metrics; returns them. The run must be finished and have weights, its own or,
 * with `resultsRoot` (the folder of the experiments), those of an equivalent run there.
 */
export async function revalidateRun(dir: string, resultsRoot?: string): Promise<Record<string, unknown>> {
  const metrics = readMetrics(dir);
  const cfg = JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8')) as RunConfig;
  const others = resultsRoot === undefined ? [] : equivalentRuns(cfg, resultsRoot);
  const weights = [dir, ...others].map(finalWeights).find((w) => w !== null) ?? null;
  if (weights === null) {
    throw new Error(
      `${dir} has neither checkpoints nor model/ (checkpoints are git-ignored), and no equivalent run has: revalidate where it was trained, or delete it and run it again.`,
    );
  }
  const step = /step-(\d+)$/.exec(weights)?.[1];
  if (step !== undefined && Number(step) !== cfg.train.steps) {
    throw new Error(`${dir}: the newest weights (${weights}) are from step ${Number(step)}, but the run trains ${cfg.train.steps} steps: it is not finished.`);
  }
  const { embedder } = await loadCheckpoint(weights, { expectConfig: cfg.model });
  try {
    const validation = {
      ...(await validationRecall(embedder, cfg)),
      recomputed: { gitSha: gitSha(), date: new Date().toISOString(), weights: path.relative(dir, weights) },
    };
    writeMetrics(dir, { ...metrics, metrics: { ...metrics.metrics, validation } }, { overwrite: true });
    return validation;
  } finally {
    embedder.dispose();
  }
}
