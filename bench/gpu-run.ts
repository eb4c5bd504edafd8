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
 * validation images' pixels from the data's image cache (the GPU machine has no image decoder).
 */
import * as fs from 'fs';
import * as path from 'path';
import { ImageCache } from '../lib/data/cache';
import { readMiniM3t } from '../lib/data/m3t';
import type { EmbedInput, Embedder } from '../lib/model/embedder';
import { resolveRun, type RunConfig } from '../lib/runner/config';
import { baseTokenizer, initialModel, resolveInit } from '../lib/runner/init';
import { trainingData } from '../lib/runner/run';
import { classificationMetrics, validationItems, validationMetrics } from '../lib/runner/validate';
import { train } from '../lib/train';

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

const median = (xs: number[]): number => (xs.length === 0 ? NaN : ([...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number));
const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
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
  if (!fs.existsSync(file)) throw new Error(`${file} is missing: a replay needs the run's config.json and log.jsonl.`);
  const saved = JSON.parse(fs.readFileSync(file, 'utf8')) as RunConfig;
  const init = saved.init.from === 'base' && src.base !== null ? { ...saved.init, dir: src.base } : saved.init;
  // Resolved again so that settings added since the run was saved take their defaults (all "off").
  return resolveInit(resolveRun(saved.experiment, saved.run, { ...saved, init, data: { ...saved.data, dir: src.data } }));
}

function readLog(runDir: string): LogLine[] {
  const file = path.join(runDir, 'log.jsonl');
  if (!fs.existsSync(file)) throw new Error(`${file} is missing: the replay compares against the run's own log.`);
  return fs
    .readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as LogLine);
}

/**
 * The validation check with image paths read from the image cache: validationRecall's metrics, for a machine
 * that cannot decode image files.
 */
export async function cachedValidation(model: Embedder, cfg: RunConfig): Promise<Record<string, unknown>> {
  const split = await readMiniM3t(cfg.data.dir, 'validation');
  const cache = ImageCache.open(split.cacheDir, cfg.model.imageSize);
  const prefix = `${split.imageRoot}/`;
  const pixelsOf = (image: string): Float32Array => {
    const row = cache.rowOf(image.startsWith(prefix) ? image.slice(prefix.length) : image);
    if (row === undefined) throw new Error(`Validation image ${image} is not in the image cache ${split.cacheDir}.`);
    return cache.floats(row);
  };
  const embed = (inputs: EmbedInput[]): Promise<Float32Array> =>
    model.embedInputs(inputs.map((x) => (typeof x.image === 'string' ? { ...x, image: pixelsOf(x.image) } : x)));
  const n = cfg.eval.validationRecords;
  return {
    ...(await validationMetrics(embed, model.dim, await validationItems(cfg.data.dir, n, 'retrieval'))),
    ...(await classificationMetrics(embed, model.dim, await validationItems(cfg.data.dir, n, 'cls'))),
  };
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
  const cfg = replayConfig(src);
  const logged = readLog(src.run);
  const cpu = new Map(logged.map((l) => [l.step, l]));
  const { data } = await trainingData(cfg);
  const tokenizer = baseTokenizer(cfg);
  if (tokenizer === null) throw new Error(`The replay needs a run that starts from a base model; ${src.run}/config.json has init.from = ${cfg.init.from}.`);
  const model = await initialModel(cfg, tokenizer);
  const loss: number[] = [];
  const accuracy: number[] = [];
  const seconds: number[] = [];
  const checks = new Map<number, Check>();
  const every = cfg.train.evalEvery ?? cfg.train.steps;
  const t0 = performance.now();

  const result = (): ReplayResult => {
    const cpuLoss = loss.map((_, s) => cpu.get(s)?.loss ?? NaN);
    const windows: ReplayResult['windows'] = [];
    for (let from = 0; from < loss.length; from += every) {
      const to = Math.min(loss.length, from + every);
      windows.push({ from, to, loss: mean(loss.slice(from, to)), cpuLoss: mean(cpuLoss.slice(from, to)) });
    }
    return {
      run: `${cfg.experiment}/${cfg.run}`,
      steps: loss.length,
      runSteps: cfg.train.steps,
      seconds: (performance.now() - t0) / 1000,
      // The first step of each process pays for compiling kernels: it is left out of both medians.
      stepSeconds: median(seconds.slice(1)),
      cpuStepSeconds: median(logged.slice(1, Math.max(2, loss.length)).map((l) => l.seconds)),
      loss,
      accuracy,
      cpuLoss,
      firstLossRelError: loss.length === 0 ? NaN : Math.abs((loss[0]! - cpuLoss[0]!) / cpuLoss[0]!),
      windows,
      validation: [...checks].map(([step, here]) => ({ step, here, cpu: pick(cpu.get(step - 1)?.eval ?? {}) })),
    };
  };

  class Stop extends Error {}
  try {
    await train(model, data, cfg.train, {
      runDir: null,
      progress: 'none',
      stopAfter: opts.maxSteps,
      hooks: {
        evaluate: async (step, m) => {
          const check = pick(await cachedValidation(m, cfg));
          checks.set(step, check);
          return check as Record<string, number>;
        },
        onStep: (r) => {
          loss.push(r.loss);
          accuracy.push(r.accuracy);
          seconds.push(r.seconds);
          if (loss.length % every === 0) opts.progress?.(result());
          if (performance.now() > opts.deadline) throw new Stop('time budget spent');
        },
      },
    });
  } catch (err) {
    if (!(err instanceof Stop)) throw err;
  } finally {
    model.dispose();
  }
  return result();
}
