/**
 * A run's training figures from its whole `log.jsonl`, not from the last session: a run resumed at step 199
 * of 200 must report the same final loss and throughput as one that never stopped. Shared by the MLLM runs
 * (lib/runner/run.ts) and the dual encoder (lib/baselines/run-dual.ts).
 */
import { readLog } from './compare';

export interface LogSummary {
  /** Steps in the log. */
  loggedSteps: number;
  /** Mean loss and in-batch accuracy of the last `window` logged steps (null when the log is empty). */
  finalLoss: number | null;
  finalAccuracy: number | null;
  /** Mean throughput over every logged step. */
  pairsPerSec: number | null;
  imagesPerSec: number | null;
  /** Training time over every session (the sum of the step times). */
  trainSeconds: number;
}

const mean = (xs: number[]): number | null => (xs.length === 0 ? null : xs.reduce((a, b) => a + b, 0) / xs.length);

/** Summarise log records (one per step, in order). Fields missing from a record are skipped. */
export function summariseLog(records: readonly Record<string, unknown>[], window = 10): LogSummary {
  const values = (rs: readonly Record<string, unknown>[], key: string): number[] =>
    rs.map((r) => r[key]).filter((v): v is number => typeof v === 'number' && Number.isFinite(v));
  const last = records.slice(-Math.min(window, records.length));
  return {
    loggedSteps: records.length,
    finalLoss: mean(values(last, 'loss')),
    finalAccuracy: mean(values(last, 'accuracy')),
    pairsPerSec: mean(values(records, 'pairsPerSec')),
    imagesPerSec: mean(values(records, 'imagesPerSec')),
    trainSeconds: values(records, 'seconds').reduce((a, b) => a + b, 0),
  };
}

/** `summariseLog` of a run folder's log.jsonl. */
export function runLogSummary(runDir: string, window = 10): LogSummary {
  return summariseLog(readLog(runDir), window);
}
