/**
 * Run one experiment run: config in, folder out (docs/architecture.md).
 *
 *   results/<experiment>/<run>/
 *     config.json        the resolved RunConfig
 *     tokenizer.json     the vocabulary built from the training texts
 *     log.jsonl          per-step loss, lr, throughput (lib/train)
 *     checkpoints/       resumable training state (git-ignored)
 *     metrics.json       {metadata, metrics: {train, validation, mmeb, mbeir}}
 *     mmeb.csv, mbeir.csv, scores/  per-data-set scores
 *     outcomes.json      per-query outcomes of every evaluation (lib/eval/outcomes; what verdicts compare)
 *
 * A run whose metrics.json exists is skipped (its metrics are returned); an interrupted run resumes from its
 * latest checkpoint. Nothing a finished run wrote is overwritten.
 */
import * as fs from 'fs';
import * as path from 'path';
import { backendMetadata } from '../backend';
import { ImageCache } from '../data/cache';
import { templateTexts } from '../dialogue';
import { discoverMbeir } from '../eval/mbeir-format';
import { discoverMmeb } from '../eval/mmeb-format';
import { readMiniM3t, TrainingRecord } from '../data/m3t';
import { evaluateMbeir, mbeirChanceSummary, mbeirSummary } from '../eval/mbeir';
import { evaluateMmeb, mmebChanceSummary, mmebSummary, writeMmebScoreFiles } from '../eval/mmeb';
import type { Encoder } from '../eval/encoder';
import { RunOutcomes, writeOutcomes } from '../eval/outcomes';
import { log } from '../log';
import { Embedder } from '../model/embedder';
import { lockRun } from '../run-lock';
import { createRun, CsvRow, gitSha, MetricsFile, MetricValue, readMetrics, runDir, writeCsv, writeJson, writeMetrics } from '../results';
import { Tokenizer } from '../tokenizer';
import { train, TrainData, TrainHooks } from '../train';
import { RunConfig } from './config';
import { baseTokenizer, initialModel, resolveInit } from './init';
import { runLogSummary } from './log-summary';
import { validationRecall } from './validate';

export interface RunOptions {
  /** Results root (default `results`). */
  resultsRoot?: string;
  hooks?: TrainHooks;
  progress?: 'bar' | 'lines' | 'none';
  /** Keep the trained model in memory and return it (notebooks); default false (disposed). */
  keepModel?: boolean;
  /** Reuse a finished run of another experiment with the same config instead of training (default true). */
  reuse?: boolean;
}

export interface RunOutcome {
  dir: string;
  metrics: MetricsFile;
  skipped: boolean;
  model: Embedder | null;
}

/** The training records of a run and a TrainData view with cached pixels at the model's image size. */
export async function trainingData(cfg: RunConfig): Promise<{ records: TrainingRecord[]; data: TrainData }> {
  const split = await readMiniM3t(cfg.data.dir, cfg.data.split);
  const kinds = cfg.data.kinds;
  const kept =
    kinds === null
      ? split.records
      : split.records.map((r) => ({ ...r, turns: r.turns.filter((t) => kinds.includes(t.kind)) })).filter((r) => r.turns.length > 0);
  if (kept.length === 0)
    throw new Error(
      `No training record keeps a turn of the kinds ${JSON.stringify(kinds)}; known kinds: cls, vqa_global1, vqa_global2, vqa_local1, vqa_local2, vqa_creative, retrieval.`,
    );
  const records = cfg.data.maxRecords === null ? kept : kept.slice(0, cfg.data.maxRecords);
  const cache = ImageCache.open(split.cacheDir, cfg.model.imageSize);
  const data: TrainData = {
    size: records.length,
    get(i) {
      const r = records[i] as TrainingRecord;
      const row = r.queryImagePath === '' ? undefined : cache.rowOf(r.queryImagePath);
      if (r.queryImagePath !== '' && row === undefined)
        throw new Error(`Image ${r.queryImagePath} of record ${r.id} is not in the image cache ${split.cacheDir}; rebuild with \`npm run data\`.`);
      return {
        id: r.id,
        image: row === undefined ? null : cache.floats(row),
        caption: r.querySentence,
        pairs: r.turns.map((t) => ({ query: t.query, target: t.target, kind: t.kind })),
      };
    },
  };
  return { records, data };
}

/**
 * The compact vocabulary of a run: BPE tokens of its training texts (queries and targets) and, for the chat
 * models, of the chat template's fixed texts (`templateTexts`), capped. Every sequence renders the template
 * once, so its texts count once per record: their tokens rank with the corpus's most frequent words. The
 * dual encoder reads raw text and passes `chatTemplate: false`.
 */
export function runTokenizer(records: readonly TrainingRecord[], maxBpeTokens: number, options: { chatTemplate?: boolean } = {}): Tokenizer {
  const texts = records.flatMap((r) => r.turns.flatMap((t) => [t.target, ...(typeof t.query === 'string' ? [t.query] : t.query)]));
  const fixed = options.chatTemplate === false ? [] : templateTexts();
  function* corpus(): Generator<string> {
    yield* texts;
    for (let i = 0; i < records.length; i++) yield* fixed;
  }
  return Tokenizer.fromCorpus(corpus(), { maxBpeTokens });
}

/**
 * Settings that change how a run executes but not what it computes: the vocabulary size (derived from the
 * data), GradCache chunking (same gradients as the full batch, tested) and logging cadence. A run may resume,
 * or be reused, with different values of these.
 */
const EXECUTION_ONLY = new Set(['model.vocabSize', 'train.chunkSize', 'train.logEvery']);

/** A setting that is off: null, or false for a switch. */
const isOff = (v: unknown): boolean => v === null || v === false;

/**
 * Leaf paths where two configs differ in what they compute (EXECUTION_ONLY settings are ignored). A setting
 * absent from one side and off on the other (null, or false for a switch) is no difference: settings added to
 * the trainer later default to off (the earlier behaviour), so runs saved before them still resume and are
 * still found equal.
 */
export function configDiff(a: unknown, b: unknown, prefix = ''): string[] {
  if ((a === undefined && isOff(b)) || (isOff(a) && b === undefined)) return [];
  if (typeof a === 'object' && a !== null && typeof b === 'object' && b !== null && !Array.isArray(a)) {
    const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
    return [...keys].flatMap((k) =>
      EXECUTION_ONLY.has(prefix + k) ? [] : configDiff((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k], `${prefix}${k}.`),
    );
  }
  return JSON.stringify(a) === JSON.stringify(b) ? [] : [`${prefix.slice(0, -1)}: ${JSON.stringify(a)} vs ${JSON.stringify(b)}`];
}

function sameConfig(a: RunConfig, b: RunConfig): boolean {
  return configDiff(a, b).length === 0;
}

function isFinished(dir: string): boolean {
  return fs.existsSync(path.join(dir, 'metrics.json'));
}

/**
 * Evaluate any encoder (our embedder, the dual-encoder baseline) on the configured benchmarks; writes score files
 * and CSVs into `dir`.
 * @param outcomes when given, receives the per-query outcomes of each benchmark (lib/eval/outcomes).
 */
export async function evaluateRun(
  model: Encoder,
  cfg: Pick<RunConfig, 'experiment' | 'run' | 'data' | 'eval'>,
  dir: string,
  outcomes?: RunOutcomes,
): Promise<Record<string, MetricValue>> {
  const out: Record<string, MetricValue> = {};
  const limit = cfg.eval.limit === null ? {} : { limit: cfg.eval.limit };
  if (cfg.eval.benchmarks.includes('mini-mmeb')) {
    const entries = discoverMmeb(path.join(cfg.data.dir, 'mini-mmeb'));
    const hits: Record<string, number[]> = {};
    const files = await evaluateMmeb(entries, model, limit, hits);
    if (outcomes !== undefined) outcomes.mmeb = hits;
    writeMmebScoreFiles(dir, files, { model: `${cfg.experiment}/${cfg.run}` }, { overwrite: true, catalogue: entries });
    const summary = mmebSummary(files, entries);
    out['mmeb'] = summary as unknown as MetricValue;
    // The same aggregation of what random embeddings expect on these rows (lib/eval/chance).
    out['mmebChance'] = mmebChanceSummary(files, entries) as unknown as MetricValue;
    writeCsv(
      dir,
      'mmeb',
      Object.entries(summary.perDataset).map(([dataset, score]): CsvRow => {
        const e = entries.find((x) => x.name === dataset);
        return { dataset, metaTask: e?.metaTask ?? '', distribution: e?.distribution ?? '', hitAt1: score };
      }),
      { overwrite: true },
    );
  }
  if (cfg.eval.benchmarks.includes('mini-mbeir')) {
    const result = await evaluateMbeir(discoverMbeir(path.join(cfg.data.dir, 'mini-mbeir')), model, { pools: cfg.eval.pools, ...limit });
    if (outcomes !== undefined) {
      outcomes.mbeirLocal = result.hits.local;
      if (cfg.eval.pools.includes('global')) outcomes.mbeirGlobal = result.hits.global;
    }
    const local = mbeirSummary(result.local);
    const global = cfg.eval.pools.includes('global') ? mbeirSummary(result.global) : null;
    out['mbeir'] = { local, global } as unknown as MetricValue;
    out['mbeirChance'] = {
      local: mbeirChanceSummary(result.local),
      global: global === null ? null : mbeirChanceSummary(result.global),
    } as unknown as MetricValue;
    writeCsv(
      dir,
      'mbeir',
      Object.entries(local.perTask).map(([task, score]): CsvRow => ({ task, local: score, global: global?.perTask[task] ?? null })),
      { overwrite: true },
    );
  }
  return out;
}

function finishedRunDirs(resultsRoot: string): string[] {
  if (!fs.existsSync(resultsRoot)) return [];
  return fs
    .readdirSync(resultsRoot, { withFileTypes: true })
    .filter((e) => e.isDirectory())
    .flatMap((e) =>
      fs
        .readdirSync(path.join(resultsRoot, e.name), { withFileTypes: true })
        .filter((r) => r.isDirectory())
        .map((r) => path.join(resultsRoot, e.name, r.name)),
    )
    .filter((d) => fs.existsSync(path.join(d, 'metrics.json')) && fs.existsSync(path.join(d, 'config.json')))
    .sort();
}

/**
 * A finished run under `resultsRoot` whose config equals `cfg` but for the experiment and run names (and
 * execution-only settings): grids share runs (the turns grid's 7-turn run is the core experiment's MuCo run).
 */
export function findEquivalentRun(cfg: RunConfig, resultsRoot: string): string | null {
  return equivalentRuns(cfg, resultsRoot)[0] ?? null;
}

/** Every finished run equivalent to `cfg` (see findEquivalentRun), the runs that trained first, then copies. */
export function equivalentRuns(cfg: RunConfig, resultsRoot: string): string[] {
  const dirs = finishedRunDirs(resultsRoot);
  const copied = (d: string): boolean => readMetrics(d).metrics['reusedFrom'] !== undefined;
  return [...dirs.filter((d) => !copied(d)), ...dirs.filter(copied)].filter((dir) => {
    const saved = JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8')) as RunConfig;
    if (saved.experiment === cfg.experiment && saved.run === cfg.run) return false;
    return configDiff({ ...saved, experiment: cfg.experiment, run: cfg.run }, cfg).length === 0;
  });
}

/**
 * Copy finished run `src` as run `cfg` (into a temporary folder, renamed into place), with config.json and
 * metrics.json naming the new experiment and run and `metrics.reusedFrom` the source. Returns the source's
 * `<experiment>/<run>`.
 */
export function copyRun(src: string, cfg: RunConfig, resultsRoot: string): string {
  const dst = runDir(resultsRoot, cfg.experiment, cfg.run);
  if (fs.existsSync(dst)) throw new Error(`copyRun: ${dst} exists already; delete it to copy ${src} there.`);
  const tmp = `${dst}.tmp-${process.pid}`;
  fs.rmSync(tmp, { recursive: true, force: true });
  // Not `model/`: the exported final weights (committed for the core runs) stay with the source.
  fs.cpSync(src, tmp, { recursive: true, filter: (from) => path.relative(src, from) !== 'model' });
  const saved = JSON.parse(fs.readFileSync(path.join(src, 'config.json'), 'utf8')) as RunConfig;
  writeJson(path.join(tmp, 'config.json'), { ...saved, experiment: cfg.experiment, run: cfg.run }, { overwrite: true });
  const m: MetricsFile = readMetrics(src);
  const from = `${m.metadata.experiment}/${m.metadata.run}`;
  writeMetrics(
    tmp,
    { metadata: { ...m.metadata, experiment: cfg.experiment, run: cfg.run }, metrics: { ...m.metrics, reusedFrom: from } },
    { overwrite: true },
  );
  fs.renameSync(tmp, dst);
  return from;
}

/**
 * The trainer's hooks, with an evaluation every `train.evalEvery` steps (when set and no other is given): the
 * validation retrieval with its image controls and the image-only cosine, logged with the step, so a run's
 * log.jsonl shows when it starts to read the image. `final` keeps the last step's full result, so the runner
 * does not validate the same weights twice.
 */
function withValidationLog(
  hooks: TrainHooks | undefined,
  cfg: RunConfig,
): { hooks: TrainHooks; final: () => { metrics: Record<string, MetricValue>; outcomes: RunOutcomes } | null } {
  if (hooks?.evaluate !== undefined || cfg.train.evalEvery === null) return { hooks: hooks ?? {}, final: () => null };
  let final: { metrics: Record<string, MetricValue>; outcomes: RunOutcomes } | null = null;
  const numeric = (m: Record<string, MetricValue>): Record<string, number> =>
    Object.fromEntries(Object.entries(m).filter((e): e is [string, number] => typeof e[1] === 'number'));
  const evaluate = async (step: number, model: Embedder): Promise<Record<string, number>> => {
    const outcomes: RunOutcomes = {};
    const m = await validationRecall(model, cfg, outcomes);
    final = step === cfg.train.steps ? { metrics: m, outcomes } : null;
    return numeric(m);
  };
  return { hooks: { ...hooks, evaluate }, final: () => final };
}

/** Train and evaluate one run (or return its results if it already finished, or reuse an equivalent finished run). */
export async function runExperiment(unresolved: RunConfig, options: RunOptions = {}): Promise<RunOutcome> {
  const cfg = resolveInit(unresolved);
  const root = options.resultsRoot ?? 'results';
  const dir = runDir(root, cfg.experiment, cfg.run);
  if (isFinished(dir)) {
    const saved = JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8')) as RunConfig;
    if (!sameConfig(saved, cfg)) {
      throw new Error(
        `${dir} finished with another config than this run's (${configDiff(saved, cfg).join('; ')}). Choose another run name, or delete ${dir} to re-run.`,
      );
    }
    log.info(`${cfg.experiment}/${cfg.run}: finished earlier, skipped (delete ${dir} to re-run)`);
    return { dir, metrics: readMetrics(dir), skipped: true, model: null };
  }
  const equivalent = options.reuse === false || fs.existsSync(dir) ? null : findEquivalentRun(cfg, root);
  if (equivalent !== null) {
    const from = copyRun(equivalent, cfg, root);
    log.info(
      `${cfg.experiment}/${cfg.run}: same config as ${from}, which finished: its results are copied (delete ${dir} and pass reuse: false to train it anew)`,
    );
    return { dir, metrics: readMetrics(dir), skipped: true, model: null };
  }
  const { records, data } = await trainingData(cfg);
  const tokenizerFile = path.join(dir, 'tokenizer.json');
  const tokenizer = fs.existsSync(tokenizerFile) ? Tokenizer.load(tokenizerFile) : (baseTokenizer(cfg) ?? runTokenizer(records, cfg.data.maxBpeTokens));
  // From a base, the model keeps the base's vocabulary size (its embedding table); from scratch, the run's.
  const resolved: RunConfig = cfg.init.from === 'base' ? cfg : { ...cfg, model: { ...cfg.model, vocabSize: tokenizer.vocabSize } };
  const configFile = path.join(dir, 'config.json');
  if (fs.existsSync(configFile)) {
    const saved = JSON.parse(fs.readFileSync(configFile, 'utf8')) as RunConfig;
    if (!sameConfig(saved, resolved)) {
      throw new Error(
        `${configFile} holds another config than this run's (${configDiff(saved, resolved).join('; ')}): an interrupted run resumes only with the same config. Use another run name, or delete ${dir}.`,
      );
    }
    // Execution-only settings may have changed (e.g. smaller GradCache chunks to fit memory): record the new ones.
    writeJson(configFile, resolved, { overwrite: true });
  } else {
    createRun(root, cfg.experiment, cfg.run, resolved);
    tokenizer.save(tokenizerFile);
  }
  log.info(`${cfg.experiment}/${cfg.run}: ${records.length} training records, vocabulary ${tokenizer.vocabSize}`);
  const release = lockRun(dir);
  try {
    const model = await initialModel(resolved, tokenizer);
    const t0 = Date.now();
    const validationLog = withValidationLog(options.hooks, resolved);
    const summary = await train(model, data, resolved.train, { runDir: dir, hooks: validationLog.hooks, progress: options.progress ?? 'lines' });
    const trainSeconds = (Date.now() - t0) / 1000;
    // From the whole log: a resumed run reports what an uninterrupted one would.
    const logged = runLogSummary(dir);
    const finalCheck = validationLog.final();
    const outcomes: RunOutcomes = { ...finalCheck?.outcomes };
    const metrics: Record<string, MetricValue> = {
      train: {
        steps: resolved.train.steps,
        resumedFrom: summary.resumedFrom,
        secondsThisSession: trainSeconds,
        trainSeconds: logged.trainSeconds,
        finalLoss: logged.finalLoss,
        finalAccuracy: logged.finalAccuracy,
        pairsPerSec: logged.pairsPerSec,
        imagesPerSec: logged.imagesPerSec,
        parameters: model.parameterCount(),
      },
      validation: finalCheck?.metrics ?? (await validationRecall(model, cfg, outcomes)),
      ...(await evaluateRun(model, resolved, dir, outcomes)),
    };
    writeOutcomes(dir, outcomes, { overwrite: true });
    const metricsFile: MetricsFile = {
      metadata: { experiment: cfg.experiment, run: cfg.run, gitSha: gitSha(), date: new Date().toISOString(), ...backendMetadata(), seed: resolved.train.seed },
      metrics,
    };
    writeMetrics(dir, metricsFile);
    if (!options.keepModel) model.dispose();
    return { dir, metrics: metricsFile, skipped: false, model: options.keepModel ? model : null };
  } finally {
    release();
  }
}
