/**
 * Part 3 of the GPU check (bench/gpu.ts): replay a committed run on this machine's backend, from its own
 * config, its base model and its data, and compare with what the run logged on our CPUs.
 *
 * The run is `results/full/core/muco-k7` (REPO_RUN, with the data build in `data/`), or the same packed into
 * one folder by scripts/device-bundle.ts (`--run-dir`, `bundledRun`):
 *
 *   config.json   the run's resolved config, as committed
 *   log.jsonl     the run's log on the CPU: loss every step, the validation check every `evalEvery` steps
 *   base/         the base model it started from (model.json, tokenizer.json, weights.bin)
 *   data/         the mini-M3T train and validation splits with their images' pixels (lib/data/subset.ts)
 *
 * The replay trains with the same seed, schedule and batches, for as many steps as the time allows (the
 * schedule is the full run's, so step s here is step s there). Step 0 sees the same weights and batch on both
 * machines, so its loss differs only by rounding; later steps drift apart as rounding compounds, so they are
 * compared as curves. The validation check runs every `evalEvery` steps, as in the run, reading the
 * validation images' pixels from the data's image cache (the GPU machine has no image decoder; the pixels and
 * so the metrics are the same).
 */
import * as fs from 'fs';
import * as path from 'path';
import { readLog } from '../lib/runner/compare';
import { resolveRun, type RunConfig } from '../lib/runner/config';
import { baseTokenizer, initialModel, resolveInit } from '../lib/runner/init';
import { trainingData } from '../lib/runner/run';
import { validationRecall } from '../lib/runner/validate';
import { train } from '../lib/train';
import { mean } from '../lib/metrics';
import { median } from './profile';

/** The validation figures compared between the machines. */
const CHECK_KEYS = ['mrr', 'recallAt1', 'mrrOtherImage', 'mrrImageOnly', 'imageOnlyCosine', 'clsAccuracy'] as const;
type Check = Partial<Record<(typeof CHECK_KEYS)[number], number>>;

export interface ReplayResult {
  run: string;
  /** Steps trained here, and the run's full length. */
  steps: number;
  runSteps: number;
  seconds: number;
  /** Median seconds per step here, and in the run's log (the CPU). */
  stepSeconds: number;
  cpuStepSeconds: number;
  loss: number[];
  accuracy: number[];
  /** The run's losses at the same steps. */
  cpuLoss: number[];
  /** |loss − cpuLoss| / |cpuLoss| at step 0 (same weights, same batch). */
  firstLossRelError: number;
  /** Mean loss over steps [from, to) here and on the CPU, by windows of `evalEvery` steps. */
  windows: { from: number; to: number; loss: number; cpuLoss: number }[];
  /** The validation check here and in the run's log, at each step both have it. */
  validation: { step: number; here: Check; cpu: Check }[];
}

interface LogLine {
  step: number;
  loss: number;
  seconds: number;
  eval?: Record<string, number>;
}

const pick = (m: Record<string, unknown>): Check =>
  Object.fromEntries(CHECK_KEYS.filter((k) => typeof m[k] === 'number').map((k) => [k, m[k] as number])) as Check;

/** Where a replay finds the run (config.json, log.jsonl), its base model and its data. */
export interface ReplaySource {
  run: string;
  /** null: the config's own `init.dir`. */
  base: string | null;
  data: string;
}

/** The committed run the GPU check replays, read from this checkout (a data build in `data/`). */
export const REPO_RUN: ReplaySource = { run: path.join('results', 'full', 'core', 'muco-k7'), base: null, data: 'data' };

/** A run folder as scripts/device-bundle.ts packs it: config.json, log.jsonl, base/ and data/ side by side. */
export function bundledRun(dir: string): ReplaySource {
  return { run: dir, base: path.join(dir, 'base'), data: path.join(dir, 'data') };
}

/** The run's config with its data and base model pointed at `src`; the base's weights hash must still match. */
export function replayConfig(src: ReplaySource): RunConfig {
  const file = path.join(src.run, 'config.json');
  if (!fs.existsSync(file))
    throw new Error(
      `${file} is missing: a replay needs a finished run's config.json and log.jsonl (rebuild the bundle with \`npm run device-bundle\`, or point --run-dir at such a folder).`,
    );
  const saved = JSON.parse(fs.readFileSync(file, 'utf8')) as RunConfig;
  if (saved.init?.from !== 'base')
    throw new Error(
      `${file}: the replay checks a run against its start, so it needs a run that starts from a base model (init.from = base), such as core/muco-k7.`,
    );
  const init = saved.init.from === 'base' && src.base !== null ? { ...saved.init, dir: src.base } : saved.init;
  // Resolved again so that settings added since the run was saved take their defaults (all "off").
  return resolveInit(resolveRun(saved.experiment, saved.run, { ...saved, init, data: { ...saved.data, dir: src.data } }));
}

/** The run's log, which the replay is compared with. */
function runLog(runDir: string): LogLine[] {
  if (!fs.existsSync(path.join(runDir, 'log.jsonl')))
    throw new Error(`${path.join(runDir, 'log.jsonl')} is missing: the replay compares against the run's own log (copy it from the run's results folder).`);
  return readLog(runDir) as unknown as LogLine[];
}

/**
 * Train the run of `src` for up to `maxSteps` steps (stopping after the step that passes `deadline`, a
 * `performance.now()` time) and compare with its log. `progress` receives the result so far every
 * `evalEvery` steps.
 */
export async function replayRun(
  src: ReplaySource,
  opts: { maxSteps: number; deadline: number; progress?: (partial: ReplayResult) => void },
): Promise<ReplayResult> {
  if (!(Number.isInteger(opts.maxSteps) && opts.maxSteps >= 1)) throw new Error(`The replay's step count must be a whole number ≥ 1, got ${opts.maxSteps}.`);
  const cfg = replayConfig(src);
  const logged = runLog(src.run);
  const { data } = await trainingData(cfg);
  const model = await initialModel(cfg, baseTokenizer(cfg)!);
  const trace: Trace = { loss: [], accuracy: [], seconds: [], checks: new Map(), t0: performance.now() };
  const every = cfg.train.evalEvery ?? cfg.train.steps;
  class Stop extends Error {}
  try {
    await train(model, data, cfg.train, {
      runDir: null,
      progress: 'none',
      stopAfter: opts.maxSteps,
      hooks: {
        // A check due at a step that passes the deadline still runs: the overrun is one check.
        evaluate: async (step, m) => {
          const check = pick(await validationRecall(m, cfg, undefined, { imagesFromCache: true }));
          trace.checks.set(step, check);
          return check as Record<string, number>;
        },
        onStep: (r) => {
          trace.loss.push(r.loss);
          trace.accuracy.push(r.accuracy);
          trace.seconds.push(r.seconds);
          if (trace.loss.length % every === 0) opts.progress?.(summarize(cfg, logged, trace));
          if (performance.now() > opts.deadline) throw new Stop('time budget spent');
        },
      },
    });
  } catch (err) {
    if (!(err instanceof Stop)) throw err;
  } finally {
    model.dispose();
  }
  return summarize(cfg, logged, trace);
}

/** What a replay has recorded so far. */
interface Trace {
  loss: number[];
  accuracy: number[];
  seconds: number[];
  /** The validation check by 1-based step (as the trainer's evaluate hook numbers it). */
  checks: Map<number, Check>;
  t0: number;
}

/** The replay so far beside the run's log. */
function summarize(cfg: RunConfig, logged: readonly LogLine[], t: Trace): ReplayResult {
  const cpu = new Map(logged.map((l) => [l.step, l]));
  const every = cfg.train.evalEvery ?? cfg.train.steps;
  const cpuLoss = t.loss.map((_, s) => cpu.get(s)?.loss ?? NaN);
  const windows: ReplayResult['windows'] = [];
  for (let from = 0; from < t.loss.length; from += every) {
    const to = Math.min(t.loss.length, from + every);
    windows.push({ from, to, loss: mean(t.loss.slice(from, to)), cpuLoss: mean(cpuLoss.slice(from, to)) });
  }
  return {
    run: `${cfg.experiment}/${cfg.run}`,
    steps: t.loss.length,
    runSteps: cfg.train.steps,
    seconds: (performance.now() - t.t0) / 1000,
    // The first step of each process pays for compiling kernels: it is left out of both medians.
    stepSeconds: median(t.seconds.slice(1)),
    cpuStepSeconds: median(logged.slice(1, Math.max(2, t.loss.length)).map((l) => l.seconds)),
    loss: t.loss,
    accuracy: t.accuracy,
    cpuLoss,
    firstLossRelError: t.loss.length === 0 ? NaN : Math.abs((t.loss[0]! - cpuLoss[0]!) / cpuLoss[0]!),
    windows,
    // The log holds a check on the record of 0-based step s, which the hook numbered s + 1.
    validation: [...t.checks].map(([step, here]) => ({ step, here, cpu: pick(cpu.get(step - 1)?.eval ?? {}) })),
  };
}
