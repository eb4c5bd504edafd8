/**
 * Recompute the validation block of finished runs from their final weights (the latest checkpoint, else the
 * exported `model/`, else those of an equivalent run: a run copied from another, or given the same config,
 * has the same weights), e.g. after new validation metrics were added (the image controls of ./validate). Only
 * `metrics.validation` changes, and it records when and at which commit it was recomputed; the training and
 * benchmark metrics stay as the run wrote them. Explicit by design (`npm run experiment -- <name> --revalidate`):
 * nothing else rewrites a finished run. `recordOutcomes` likewise adds the per-query outcomes that runs finished
 * before they were kept lack (`--outcomes`).
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { OUTCOME_METRICS, OutcomeMetric, readOutcomes, RunOutcomes, writeOutcomes } from '../eval/outcomes';
import { finalWeights, loadCheckpoint } from '../model/checkpoint';
import { gitSha, readMetrics, writeMetrics } from '../results';
import type { RunConfig } from './config';
import { macroMean } from '../stats';
import { equivalentRuns, evaluateRun } from './run';
import { validationRecall } from './validate';

/**
 * Recompute `<dir>`'s validation metrics; returns them. The run must be finished and have weights, its own or,
 * with `resultsRoot` (the folder of the experiments), those of an equivalent run there.
 */
export async function revalidateRun(dir: string, resultsRoot?: string): Promise<Record<string, unknown>> {
  const metrics = readMetrics(dir);
  const { cfg, weights } = finishedWeights(dir, resultsRoot);
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

/** The config of finished run `dir` and the path of its final weights (its own, or an equivalent run's). */
function finishedWeights(dir: string, resultsRoot?: string): { cfg: RunConfig; weights: string } {
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
  return { cfg, weights };
}

/** A metric's aggregate as metrics.json reports it, in percent (null when the run did not evaluate it). */
function storedAggregate(metrics: Record<string, unknown>, metric: OutcomeMetric): number | null {
  const at = (...keys: string[]): unknown =>
    keys.reduce<unknown>((o, k) => (typeof o === 'object' && o !== null ? (o as Record<string, unknown>)[k] : undefined), metrics);
  const v = {
    validation: () => 100 * Number(at('validation', 'mrr') ?? NaN),
    mmeb: () => at('mmeb', 'overall'),
    mbeirLocal: () => at('mbeir', 'local', 'average'),
    mbeirGlobal: () => at('mbeir', 'global', 'average'),
  }[metric]();
  return typeof v === 'number' && Number.isFinite(v) ? v : null;
}

/**
 * Record the per-query outcomes (lib/eval/outcomes) of finished run `dir`, which finished before they were
 * kept, from its final weights: the validation check and the benchmarks are evaluated again (score files and
 * metrics.json are left as they are) and `outcomes.json` is written. Each recomputed aggregate is checked
 * against metrics.json: a mismatch means the weights are not those the run measured, and nothing is written.
 * A run that has outcomes already is left alone. Returns the outcomes, or null when they existed.
 */
export async function recordOutcomes(dir: string, resultsRoot?: string): Promise<RunOutcomes | null> {
  if (readOutcomes(dir) !== null) return null;
  const metrics = readMetrics(dir);
  const { cfg, weights } = finishedWeights(dir, resultsRoot);
  const { embedder } = await loadCheckpoint(weights, { expectConfig: cfg.model });
  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'muco-outcomes-'));
  try {
    const outcomes: RunOutcomes = {};
    await validationRecall(embedder, cfg, outcomes);
    await evaluateRun(embedder, cfg, scratch, outcomes);
    for (const m of OUTCOME_METRICS) {
      const o = outcomes[m];
      const stored = storedAggregate(metrics.metrics, m);
      if (o === undefined || stored === null) continue;
      const again = 100 * macroMean(o);
      if (Math.abs(again - stored) > 0.05) {
        throw new Error(
          `${dir}: ${m} recomputed from ${path.relative(dir, weights)} is ${again.toFixed(2)}, but metrics.json says ${stored.toFixed(2)}: these are not the weights the run measured. Re-run it instead.`,
        );
      }
    }
    writeOutcomes(dir, outcomes);
    return outcomes;
  } finally {
    embedder.dispose();
    fs.rmSync(scratch, { recursive: true, force: true });
  }
}
