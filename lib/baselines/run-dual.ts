/**
 * The dual-encoder baseline run: config in, folder out, with the same files and metric blocks as an MLLM run
 * (lib/runner/run.ts), so summaries and notebooks read both alike:
 *
 *   results/<scale>/baselines/<run>/      (run = `dual-encoder`, or with --set overrides in its name)
 *     config.json      the resolved DualRunConfig
 *     tokenizer.json   the vocabulary built from the training texts (runTokenizer, as MLLM runs build theirs)
 *     log.jsonl        per-step loss, lr, τ, seconds, throughput
 *     checkpoints/     resumable training state (git-ignored)
 *     model/           the final weights (model.json, weights.bin, tokenizer.json): committed
 *     metrics.json     {metadata, metrics: {train, validation, mmeb, mbeir}}
 *     mmeb.csv, mbeir.csv, mmeb_leaderboard.json, scores/
 *
 * A finished run (metrics.json) is skipped; an interrupted one resumes from its latest checkpoint.
 */
import * as fs from 'fs';
import * as path from 'path';
import { backendMetadata } from '../backend';
import { Overrides, resolveConfig } from '../config';
import { ImageCache } from '../data/cache';
import { readMiniM3t, TrainingRecord } from '../data/m3t';
import { TURN_KINDS } from '../data/turns';
import { DEFAULT_EVAL, EvalConfig } from '../runner/config';
import { runLogSummary } from '../runner/log-summary';
import { RunOutcomes, writeOutcomes } from '../eval/outcomes';
import { configDiff, evaluateRun, runTokenizer } from '../runner/run';
import type { ScalePreset } from '../runner/scales';
import { validationItems, validationMetrics } from '../runner/validate';
import { log } from '../log';
import { lockRun } from '../run-lock';
import { gitSha, MetricsFile, MetricValue, readMetrics, runDir, writeJson, writeMetrics } from '../results';
import { Tokenizer } from '../tokenizer';
import type { TrainData, TrainRecord } from '../train';
import { loadDualEncoder } from './dual-checkpoint';
import { DEFAULT_DUAL_ENCODER, DualEncoder, DualEncoderConfig, dualEncoderConfig } from './dual-encoder';
import { DEFAULT_DUAL_TRAIN, DualTrainConfig, dualTrainConfig, latestDualCheckpoint, trainDual } from './train-dual';

export interface DualDataConfig {
  /** The built data folder (`npm run data`). */
  dir: string;
  split: string;
  /** Use at most this many training records (null = all). */
  maxRecords: number | null;
  /** Vocabulary cap (BPE tokens from the training texts). */
  maxBpeTokens: number;
  /**
   * M3T turn kinds a training pair is drawn from (lib/data/turns TURN_KINDS), or ['all'] for every kind.
   * Retrieval only is the default: measured at the quick scale (600 steps, validation MRR on 300 records) it
   * gives 39.1 against 27.7 with every kind (31.7 vs 23.4 without augmentation): one retrieval pair per image
   * per step teaches the image → description match seven times as often.
   */
  kinds: string[];
}

export const DEFAULT_DUAL_DATA: Readonly<DualDataConfig> = Object.freeze({
  dir: 'data',
  split: 'train',
  maxRecords: null,
  maxBpeTokens: 6000,
  kinds: ['retrieval'],
});

export interface DualRunConfig {
  experiment: string;
  run: string;
  model: DualEncoderConfig;
  train: DualTrainConfig;
  data: DualDataConfig;
  eval: EvalConfig;
}

export interface DualRunOverrides {
  model?: Overrides<DualEncoderConfig>;
  train?: Overrides<DualTrainConfig>;
  data?: Partial<DualDataConfig>;
  eval?: Partial<EvalConfig>;
}

/**
 * Scale presets (overrides of the defaults). Evaluation matches the MLLM scales of lib/runner/scales.ts so
 * the numbers sit in the same tables.
 *   smoke  seconds: tiny widths, a few steps (tests)
 *   quick  a few minutes on one thread
 *   full   the committed baseline: ≈10 minutes of training on one thread
 */
export const DUAL_SCALES: Record<ScalePreset, DualRunOverrides> = {
  smoke: {
    model: { channels: [8, 8, 8, 8], tokenDim: 16, textHidden: 16, dim: 16 },
    train: { steps: 3, batchSize: 8, logEvery: 1, checkpointEvery: null, schedule: { warmupSteps: 1 } },
    data: { maxRecords: 64, maxBpeTokens: 1000 },
    eval: { limit: 6, validationRecords: 16, pools: ['local'] },
  },
  quick: {
    train: { steps: 600, checkpointEvery: 200, evalEvery: 200 },
    eval: { limit: 20, validationRecords: 100, pools: ['local'] },
  },
  full: {
    train: { steps: 1500, checkpointEvery: 250, evalEvery: 250 },
    eval: { limit: 60, validationRecords: 300, pools: ['local', 'global'] },
  },
};

/** Resolve a run's overrides (scale, then the caller's) onto the defaults; unknown keys are errors naming the key. */
export function resolveDualRun(run: string, ...layers: DualRunOverrides[]): DualRunConfig {
  if (!/^[A-Za-z0-9._=-]+$/.test(run)) throw new Error(`Run names may hold letters, digits and . _ - = only; got '${run}'.`);
  const pick = <K extends keyof DualRunOverrides>(k: K): NonNullable<DualRunOverrides[K]>[] =>
    layers.map((l) => l[k]).filter((x): x is NonNullable<DualRunOverrides[K]> => x !== undefined);
  for (const layer of layers) {
    for (const key of Object.keys(layer))
      if (!['model', 'train', 'data', 'eval'].includes(key)) throw new Error(`Override '${key}' is not one of model, train, data, eval.`);
  }
  const merge = <T extends object>(defaults: T, parts: readonly object[], where: string): T =>
    parts.reduce<T>((acc, o) => resolveConfig(acc, o as Overrides<T>, where), { ...defaults });
  return {
    experiment: 'baselines',
    run,
    model: dualEncoderConfig(merge(DEFAULT_DUAL_ENCODER as DualEncoderConfig, pick('model'), 'model')),
    train: dualTrainConfig(merge(DEFAULT_DUAL_TRAIN as DualTrainConfig, pick('train'), 'train')),
    data: checkKinds(merge(DEFAULT_DUAL_DATA as DualDataConfig, pick('data'), 'data')),
    eval: merge(DEFAULT_EVAL as EvalConfig, pick('eval'), 'eval'),
  };
}

function checkKinds(d: DualDataConfig): DualDataConfig {
  const known: readonly string[] = TURN_KINDS;
  const all = d.kinds.length === 1 && d.kinds[0] === 'all';
  if (d.kinds.length === 0 || (!all && !d.kinds.every((k) => known.includes(k)))) {
    throw new Error(`data.kinds must be ["all"] or a non-empty list of M3T turn kinds (${known.join(', ')}), got ${JSON.stringify(d.kinds)}.`);
  }
  return d;
}

/** The training records (turns of the configured kinds) and a TrainData view with pixels from the image cache. */
export async function dualTrainingData(cfg: DualRunConfig): Promise<{ records: TrainingRecord[]; data: TrainData }> {
  const split = await readMiniM3t(cfg.data.dir, cfg.data.split);
  const kinds = cfg.data.kinds;
  const kept = split.records
    .map((r) => (kinds[0] === 'all' ? r : { ...r, turns: r.turns.filter((t) => kinds.includes(t.kind)) }))
    .filter((r) => r.turns.length > 0 && r.queryImagePath !== '');
  if (kept.length === 0)
    throw new Error(
      `No training record with an image keeps a turn of the kinds ${JSON.stringify(kinds)} in ${cfg.data.dir}; rebuild the data (npm run data) or choose other kinds.`,
    );
  const records = cfg.data.maxRecords === null ? kept : kept.slice(0, cfg.data.maxRecords);
  const cache = ImageCache.open(split.cacheDir, cfg.model.imageSize);
  const data: TrainData = {
    size: records.length,
    get(i): TrainRecord {
      const r = records[i] as TrainingRecord;
      const row = cache.rowOf(r.queryImagePath);
      if (row === undefined)
        throw new Error(`Image ${r.queryImagePath} of record ${r.id} is not in the image cache ${split.cacheDir}; rebuild with \`npm run data\`.`);
      return { id: r.id, image: cache.floats(row, cfg.model.normalization), pairs: r.turns.map((t) => ({ query: t.query, target: t.target })) };
    },
  };
  return { records, data };
}

export interface DualRunOutcome {
  dir: string;
  metrics: MetricsFile;
  skipped: boolean;
}

function checkSameConfig(file: string, cfg: DualRunConfig, what: string): void {
  const saved = JSON.parse(fs.readFileSync(file, 'utf8')) as DualRunConfig;
  const diff = configDiff(saved, cfg);
  if (diff.length > 0)
    throw new Error(
      `${file} holds another config than this run's (${diff.join('; ')}): ${what}. Use another run name (--set changes it), or delete ${path.dirname(file)}.`,
    );
}

/** Train and evaluate the baseline into `<resultsRoot>/baselines/<run>/` (or return a finished run's metrics). */
export async function runDualEncoder(cfg: DualRunConfig, options: { resultsRoot?: string; progress?: 'bar' | 'lines' | 'none' } = {}): Promise<DualRunOutcome> {
  const dir = runDir(options.resultsRoot ?? 'results', cfg.experiment, cfg.run);
  const configFile = path.join(dir, 'config.json');
  if (fs.existsSync(path.join(dir, 'metrics.json'))) {
    checkSameConfig(configFile, cfg, 'the run finished with it');
    log.info(`${cfg.experiment}/${cfg.run}: finished earlier, skipped (delete ${dir} to re-run)`);
    return { dir, metrics: readMetrics(dir), skipped: true };
  }
  const { records, data } = await dualTrainingData(cfg);
  const tokenizerFile = path.join(dir, 'tokenizer.json');
  const tokenizer = fs.existsSync(tokenizerFile) ? Tokenizer.load(tokenizerFile) : runTokenizer(records, cfg.data.maxBpeTokens, { chatTemplate: false });
  const resolved: DualRunConfig = { ...cfg, model: { ...cfg.model, vocabSize: tokenizer.vocabSize } };
  if (fs.existsSync(configFile)) checkSameConfig(configFile, resolved, 'an interrupted run resumes only with the same config');
  else {
    writeJson(configFile, resolved);
    tokenizer.save(tokenizerFile);
  }
  const model = DualEncoder.create(resolved.model, tokenizer, resolved.train.seed);
  const release = lockRun(dir);
  try {
    log.info(`${cfg.experiment}/${cfg.run}: ${records.length} training records, ${model.describe()}`);
    const items = await validationItems(resolved.data.dir, resolved.eval.validationRecords);
    // The validation curve in log.jsonl (train.evalEvery): MRR and its image-only control.
    const evaluate = async (step: number, m: DualEncoder): Promise<Record<string, number | null>> => {
      const v = await validationMetrics((inputs) => m.embedInputs(inputs), m.dim, items);
      const num = (x: MetricValue | undefined): number | null => (typeof x === 'number' ? x : null);
      log.info(`step ${step}: validation MRR ${num(v['mrr'])?.toFixed(4) ?? '–'}, image only ${num(v['mrrImageOnly'])?.toFixed(4) ?? '–'}`);
      return { mrr: num(v['mrr']), recallAt1: num(v['recallAt1']), mrrImageOnly: num(v['mrrImageOnly']) };
    };
    const summary = await trainDual(model, data, resolved.train, { runDir: dir, progress: options.progress ?? 'lines', evaluate });
    const logged = runLogSummary(dir);
    const train: Record<string, MetricValue> = {
      steps: resolved.train.steps,
      resumedFrom: summary.resumedFrom,
      secondsThisSession: summary.seconds,
      trainSeconds: logged.trainSeconds,
      finalLoss: logged.finalLoss,
      finalAccuracy: logged.finalAccuracy,
      temperature: summary.temperature,
      pairsPerSec: logged.pairsPerSec,
      imagesPerSec: logged.imagesPerSec,
      parameters: model.parameterCount(),
    };
    // Evaluate the exported final weights, so what is committed is what was measured.
    const exported = exportFinalWeights(dir);
    const { model: final } = await loadDualEncoder(exported);
    try {
      const outcomes: RunOutcomes = {};
      const metrics: Record<string, MetricValue> = {
        train,
        validation: await validationMetrics((inputs) => final.embedInputs(inputs), final.dim, items, outcomes),
        ...(await evaluateRun(final, resolved, dir, outcomes)),
      };
      writeOutcomes(dir, outcomes, { overwrite: true });
      const file: MetricsFile = {
        metadata: {
          experiment: cfg.experiment,
          run: cfg.run,
          gitSha: gitSha(),
          date: new Date().toISOString(),
          ...backendMetadata(),
          seed: resolved.train.seed,
        },
        metrics,
      };
      writeMetrics(dir, file);
      return { dir, metrics: file, skipped: false };
    } finally {
      final.dispose();
    }
  } finally {
    model.dispose();
    release();
  }
}

/** Copy the latest checkpoint's weights (not the optimizer state) to `<run>/model/`. Returns the folder. */
export function exportFinalWeights(dir: string): string {
  const ckpt = latestDualCheckpoint(dir);
  if (ckpt === null) throw new Error(`${dir} has no checkpoint to export; train it first.`);
  const out = path.join(dir, 'model');
  fs.mkdirSync(out, { recursive: true });
  for (const f of ['model.json', 'weights.bin', 'tokenizer.json']) fs.copyFileSync(path.join(ckpt, f), path.join(out, f));
  return out;
}
