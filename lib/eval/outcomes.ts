/**
 * Per-query outcomes of a run (docs/statistics.md): what the paired bootstrap of lib/stats compares two runs on.
 * A run folder's `outcomes.json` holds, per evaluation, one value per query, grouped as the benchmark
 * aggregates them:
 *
 *   validation   { validation: [reciprocal rank of each record's own target] }   → MRR
 *   mmeb         { <data set>: [hit@1 of each row, 0 or 1] }                    → overall = mean of data-set means
 *   mbeirLocal   { <task>: [hit@k of each query, k the reported one] }          → average over tasks
 *   mbeirGlobal  the same on the global pool (when it was evaluated)
 *
 * The aggregate of each (lib/stats macroMean, ×100) is the number metrics.json reports for the run.
 */
import * as fs from 'fs';
import * as path from 'path';
import { writeJson, WriteOptions } from '../results';
import type { Outcomes } from '../stats';

export interface RunOutcomes {
  validation?: Outcomes;
  mmeb?: Outcomes;
  mbeirLocal?: Outcomes;
  mbeirGlobal?: Outcomes;
}

export type OutcomeMetric = keyof RunOutcomes;

export const OUTCOME_METRICS: readonly OutcomeMetric[] = ['validation', 'mmeb', 'mbeirLocal', 'mbeirGlobal'];

/** How tables name each metric. */
export const OUTCOME_LABEL: Readonly<Record<OutcomeMetric, string>> = {
  validation: 'validation MRR',
  mmeb: 'mini-MMEB overall',
  mbeirLocal: 'mini-M-BEIR local',
  mbeirGlobal: 'mini-M-BEIR global',
};

export const OUTCOMES_FILE = 'outcomes.json';

export function writeOutcomes(dir: string, outcomes: RunOutcomes, options: WriteOptions = {}): void {
  writeJson(path.join(dir, OUTCOMES_FILE), { version: 1, ...outcomes }, options);
}

function checkGroups(value: unknown, where: string): Outcomes {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new Error(`${where} must be an object of arrays of numbers.`);
  for (const [g, v] of Object.entries(value)) {
    if (!Array.isArray(v) || !v.every((x) => typeof x === 'number' && Number.isFinite(x))) {
      throw new Error(`${where}.${g} must be an array of finite numbers (one per query).`);
    }
  }
  return value as Outcomes;
}

/** A run's per-query outcomes, or null when the run has none (it finished before they were recorded). */
export function readOutcomes(dir: string): RunOutcomes | null {
  const file = path.join(dir, OUTCOMES_FILE);
  if (!fs.existsSync(file)) return null;
  let raw: unknown;
  try {
    raw = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (err) {
    throw new Error(`${file} is not valid JSON (${(err as Error).message}); delete it and recompute it with --outcomes.`);
  }
  if (typeof raw !== 'object' || raw === null || (raw as { version?: unknown }).version !== 1)
    throw new Error(`${file}: expected an object with "version": 1.`);
  const out: RunOutcomes = {};
  for (const m of OUTCOME_METRICS) {
    const v = (raw as Record<string, unknown>)[m];
    if (v !== undefined) out[m] = checkGroups(v, `${file}: ${m}`);
  }
  return out;
}
