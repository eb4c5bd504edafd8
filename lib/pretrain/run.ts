/**
 * A base-model run: config in, folder out (docs/base-model.md).
 *
 *   results/base/<name>/
 *     config.json     {preset, model, align, pretrain, data, eval}
 *     align/          stage 0 (./align.ts): the vision tower's contrastive alignment (log.jsonl; checkpoints/)
 *     log.jsonl       per-step loss, token accuracy, throughput; held-out evaluations
 *     checkpoints/    resumable state (git-ignored)
 *     model/          the final weights, config and vocabulary (what embedding runs start from)
 *     metrics.json    held-out loss and generative accuracies (validation during training; test at the end)
 *     card.md         the model card: data, steps, time, scores
 *
 * A finished run (model/ and metrics.json present) is returned as is; an interrupted one resumes.
 */
import * as fs from 'fs';
import * as path from 'path';
import { backendMetadata } from '../backend';
import { ImageCache } from '../data/cache';
import { readMiniM3t, TrainingRecord } from '../data/m3t';
import { log } from '../log';
import { lockRun } from '../run-lock';
import { loadEncoder, saveCheckpoint } from '../model/checkpoint';
import { Embedder } from '../model/embedder';
import { modelConfig, ModelConfig, ModelPreset } from '../model/config';
import { Overrides } from '../config';
import { gitSha, MetricsFile, readMetrics, writeJson, writeMetrics, writeFileAtomic } from '../results';
import type { TrainData } from '../train';
import { runTokenizer } from '../runner/run';
import { Rng } from '../random';
import { Tokenizer } from '../tokenizer';
import { generativeAccuracy, heldOutLoss, majorityAnswers, ProbeRecord, probeQuestions } from './evaluate';
import { pretrain, pretrainConfig, PretrainConfig } from './train';
import { alignVisionTower, AlignOutcome, AlignRecord } from './align';
import { DualTrainConfig, dualTrainConfig } from '../baselines/train-dual';

export interface BaseRunConfig {
  preset: ModelPreset;
  model: ModelConfig;
  /** Stage 0, the vision tower's contrastive alignment (./align.ts); null: the tower starts from its initialisation. */
  align: DualTrainConfig | null;
  pretrain: PretrainConfig;
  data: { dir: string; maxRecords: number | null; maxBpeTokens: number };
  eval: { lossRecords: number; questionsPerTask: number; alignValidationRecords: number };
}

export interface BaseRunOverrides {
  preset?: ModelPreset;
  model?: Overrides<ModelConfig>;
  /** `null` switches stage 0 off. */
  align?: Overrides<DualTrainConfig> | null;
  pretrain?: Overrides<PretrainConfig>;
  data?: Partial<BaseRunConfig['data']>;
  eval?: Partial<BaseRunConfig['eval']>;
}

/** The base model of the small preset (what the quick and full scales start from). */
export const BASE_MODEL_OVERRIDES: Readonly<Overrides<ModelConfig>> = Object.freeze({});

/**
 * Stage 0's defaults: the dual-encoder baseline's recipe (lib/baselines/train-dual.ts) for the tower.
 * Measured at the quick scale (validation MRR on 100 records, chance 5.2): the `small` tower reaches 33.3 after
 * 200 steps of 128 images (the conv baseline 44.8).
 */
export const DEFAULT_ALIGN: Readonly<Overrides<DualTrainConfig>> = Object.freeze({ steps: 600, checkpointEvery: 200, evalEvery: 200 });

export function resolveBaseRun(o: BaseRunOverrides = {}): BaseRunConfig {
  const preset = o.preset ?? 'small';
  return {
    preset,
    model: modelConfig(preset, o.model),
    align: o.align === null ? null : dualTrainConfig({ ...DEFAULT_ALIGN, ...o.align } as Overrides<DualTrainConfig>),
    pretrain: pretrainConfig(o.pretrain),
    data: { dir: 'data', maxRecords: null, maxBpeTokens: 6000, ...o.data },
    eval: { lossRecords: 96, questionsPerTask: 120, alignValidationRecords: 100, ...o.eval },
  };
}

/** Raw mini-M3T columns the record reader does not keep: each turn's facet and language, by record id. */
function facetsOf(dataDir: string, split: string): Map<string, { facets: string[]; langs: string[] }> {
  const file = path.resolve(dataDir, 'm3t', `${split}.jsonl`);
  const out = new Map<string, { facets: string[]; langs: string[] }>();
  for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
    if (line.trim() === '') continue;
    const row = JSON.parse(line) as { id: string; facets?: string[]; langs?: string[] };
    out.set(row.id, { facets: row.facets ?? [], langs: row.langs ?? [] });
  }
  return out;
}

/** Records of a split with pixels and probe columns. */
export async function splitRecords(dataDir: string, split: string, size: number, limit: number | null): Promise<ProbeRecord[]> {
  const m3t = await readMiniM3t(dataDir, split);
  const cache = ImageCache.open(m3t.cacheDir, size);
  const facets = facetsOf(dataDir, split);
  const records = limit === null ? m3t.records : m3t.records.slice(0, limit);
  return records.map((record) => {
    const row = record.queryImagePath === '' ? undefined : cache.rowOf(record.queryImagePath);
    if (record.queryImagePath !== '' && row === undefined)
      throw new Error(`Image ${record.queryImagePath} of record ${record.id} is not in the image cache ${m3t.cacheDir}; rebuild with \`npm run data\`.`);
    const f = facets.get(record.id);
    return { record, image: row === undefined ? null : cache.floats(row), ...(f === undefined ? {} : f) };
  });
}

function asImageRecord(p: ProbeRecord): { id: string; image: Float32Array | null; pairs: { query: string | string[]; target: string }[] } {
  return { id: p.record.id, image: p.image, pairs: p.record.turns.map((t) => ({ query: t.query, target: t.target })) };
}

/** Evenly spaced records of a split (its files group one concept's styles together). */
function spread<T>(xs: readonly T[], n: number): T[] {
  if (xs.length <= n) return [...xs];
  return Array.from({ length: n }, (_, i) => xs[Math.floor((i * xs.length) / n)] as T);
}

/** Held-out loss and generative accuracies of `model` on a split's records. */
export function evaluateBase(model: Embedder, held: readonly ProbeRecord[], train: readonly ProbeRecord[], cfg: BaseRunConfig): Record<string, number> {
  const lossSet = spread(
    held.filter((r) => r.image !== null),
    cfg.eval.lossRecords,
  ).map(asImageRecord);
  const { loss, tokenAccuracy } = heldOutLoss(model, lossSet);
  // A seeded shuffle: the split's files keep a concept's variants (skin tones, styles) next to each other.
  const order = new Rng(0).permutation(held.length).map((i) => held[i] as ProbeRecord);
  const questions = probeQuestions(order, cfg.eval.questionsPerTask);
  return { loss, tokenAccuracy, ...generativeAccuracy(model, questions, majorityAnswers(train)) };
}

export interface BaseRunOptions {
  root?: string;
  name?: string;
  progress?: 'bar' | 'lines' | 'none';
  stopAfter?: number;
  /** A finished run: recompute its held-out scores from model/ (after the evaluation changed) and rewrite metrics.json and card.md. */
  reevaluate?: boolean;
}

/** Train (or resume, or return) a base model. */
export async function runBase(cfg: BaseRunConfig, options: BaseRunOptions = {}): Promise<{ dir: string; metrics: MetricsFile; skipped: boolean }> {
  const dir = path.join(options.root ?? path.join('results', 'base'), options.name ?? cfg.preset);
  const configFile = path.join(dir, 'config.json');
  if (fs.existsSync(configFile)) {
    const saved = fs.readFileSync(configFile, 'utf8');
    if (saved !== JSON.stringify(cfg, null, 2) + '\n') {
      throw new Error(`${configFile} holds another base config than this one; use another --name, or move the folder away to start over.`);
    }
    if (fs.existsSync(path.join(dir, 'metrics.json')) && fs.existsSync(path.join(dir, 'model', 'model.json'))) {
      return options.reevaluate === true ? { dir, metrics: await reevaluateBase(dir, cfg), skipped: false } : { dir, metrics: readMetrics(dir), skipped: true };
    }
  } else {
    fs.mkdirSync(dir, { recursive: true });
    writeJson(configFile, cfg);
  }
  const train = await splitRecords(cfg.data.dir, 'train', cfg.model.imageSize, cfg.data.maxRecords);
  const validation = await splitRecords(cfg.data.dir, 'validation', cfg.model.imageSize, null);
  const tokenizerFile = path.join(dir, 'tokenizer.json');
  let tokenizer: Tokenizer;
  if (fs.existsSync(tokenizerFile)) tokenizer = Tokenizer.load(tokenizerFile);
  else {
    tokenizer = runTokenizer(train.map((p) => p.record) as TrainingRecord[], cfg.data.maxBpeTokens);
    tokenizer.save(tokenizerFile);
  }
  const model = Embedder.create({ ...cfg.model, vocabSize: Math.max(cfg.model.vocabSize, tokenizer.vocabSize) }, tokenizer, cfg.pretrain.seed);
  log.info(`base ${dir}: ${model.describe()}; ${train.length} training images`);
  const withImage = train.filter((r) => r.image !== null);
  const data: TrainData = { size: withImage.length, get: (i) => asImageRecord(withImage[i] as ProbeRecord) };
  const began = Date.now();
  const release = lockRun(dir);
  try {
    let align: AlignOutcome | null = null;
    if (cfg.align !== null) {
      const records: AlignRecord[] = withImage.map((p) => ({ id: p.record.id, image: p.image as Float32Array, turns: p.record.turns }));
      align = await alignVisionTower(model, cfg.preset, tokenizer, records, cfg.align, {
        dir: path.join(dir, 'align'),
        validation: { dataDir: cfg.data.dir, records: cfg.eval.alignValidationRecords },
        ...(options.progress === undefined ? {} : { progress: options.progress }),
      });
    }
    const summary = await pretrain(model, data, cfg.pretrain, {
      runDir: dir,
      evaluate: (_step, m) => evaluateBase(m, validation, train, cfg),
      ...(options.progress === undefined ? {} : { progress: options.progress }),
      ...(options.stopAfter === undefined ? {} : { stopAfter: options.stopAfter }),
    });
    if (summary.steps < cfg.pretrain.steps) return { dir, metrics: { metadata: metadata(cfg), metrics: { stoppedAt: summary.steps } }, skipped: false };
    const test = await splitRecords(cfg.data.dir, 'test', cfg.model.imageSize, null);
    const metrics: MetricsFile = {
      metadata: metadata(cfg),
      metrics: {
        validation: evaluateBase(model, validation, train, cfg),
        test: evaluateBase(model, test, train, cfg),
        trainingImages: withImage.length,
        imagesSeen: cfg.pretrain.steps * cfg.pretrain.imagesPerStep,
        secondsThisSession: (Date.now() - began) / 1000,
        secondsTotal: totalSeconds(dir),
        ...(align === null ? {} : { align: { ...align } }),
        parameters: model.parameterCount(),
      },
    };
    await saveCheckpoint(path.join(dir, 'model'), model.config, tokenizer, model.params, { step: cfg.pretrain.steps, base: true });
    writeMetrics(dir, metrics);
    writeFileAtomic(path.join(dir, 'card.md'), modelCard(dir, cfg, metrics, model));
    return { dir, metrics, skipped: false };
  } finally {
    model.dispose();
    release();
  }
}

/** Recompute a finished base's validation and test scores from its final weights; other metrics are kept. */
async function reevaluateBase(dir: string, cfg: BaseRunConfig): Promise<MetricsFile> {
  const model = await loadEncoder(path.join(dir, 'model'));
  try {
    const train = await splitRecords(cfg.data.dir, 'train', cfg.model.imageSize, cfg.data.maxRecords);
    const validation = await splitRecords(cfg.data.dir, 'validation', cfg.model.imageSize, null);
    const test = await splitRecords(cfg.data.dir, 'test', cfg.model.imageSize, null);
    const old = readMetrics(dir);
    const metrics: MetricsFile = {
      metadata: old.metadata,
      metrics: {
        ...old.metrics,
        validation: evaluateBase(model, validation, train, cfg),
        test: evaluateBase(model, test, train, cfg),
        reevaluated: { gitSha: gitSha(), date: new Date().toISOString() },
      },
    };
    writeMetrics(dir, metrics, { overwrite: true });
    writeFileAtomic(path.join(dir, 'card.md'), modelCard(dir, cfg, metrics, model), { overwrite: true });
    return metrics;
  } finally {
    model.dispose();
  }
}

function metadata(cfg: BaseRunConfig): MetricsFile['metadata'] {
  return { experiment: 'base', run: cfg.preset, gitSha: gitSha(), date: new Date().toISOString(), ...backendMetadata(), seed: cfg.pretrain.seed };
}

/** Training seconds over every session of the run (the per-step times in log.jsonl). */
function totalSeconds(dir: string): number {
  const file = path.join(dir, 'log.jsonl');
  if (!fs.existsSync(file)) return 0;
  return fs
    .readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .reduce((s, l) => s + ((JSON.parse(l) as { seconds?: number }).seconds ?? 0), 0);
}

/** The card's stage-0 line, when the base had one. */
function alignLines(m: MetricsFile): string[] {
  const a = m.metrics['align'] as AlignOutcome | undefined;
  if (a === undefined) return [];
  const pct = (x: number | null): string => (x === null ? '–' : (100 * x).toFixed(1));
  return [
    `- stage 0: the vision tower aligned contrastively first (\`align/\`, lib/pretrain/align.ts): ${a.steps} steps × ${a.batchSize} images, ${(a.seconds / 60).toFixed(0)} min, validation MRR ${pct(a.validationMrr)} (chance ${pct(a.chanceMrr)})`,
  ];
}

function modelCard(dir: string, cfg: BaseRunConfig, m: MetricsFile, model: Embedder): string {
  const v = m.metrics['validation'] as Record<string, number>;
  const t = m.metrics['test'] as Record<string, number>;
  const pct = (x: number | undefined): string => (x === undefined ? '–' : (100 * x).toFixed(1));
  const row = (name: string, key: string): string =>
    `| ${name} | ${pct(v[key])} | ${pct(v[key + '.majority'])} | ${pct(t[key])} | ${pct(t[key + '.majority'])} |`;
  return [
    `# Base model \`${path.basename(dir)}\``,
    '',
    `The \`${cfg.preset}\` MLLM (${model.describe()}) trained generatively on mini-M3T train: next-token loss on the`,
    `answers of question/answer dialogues about each image (all of a record's turns, in random order, image in`,
    `the first turn; tied LM head). Embedding runs start from \`model/\` (\`model.init = base\`).`,
    '',
    ...alignLines(m),
    `- data: ${m.metrics['trainingImages']} training images, ${cfg.pretrain.steps} steps × ${cfg.pretrain.imagesPerStep} images (${m.metrics['imagesSeen']} images seen)`,
    `- schedule: ${cfg.pretrain.schedule.kind}, lr ${cfg.pretrain.schedule.lr}, warm-up ${cfg.pretrain.schedule.warmupSteps}; AdamW weight decay ${cfg.pretrain.optimizer.weightDecay}; clip ${cfg.pretrain.clipNorm}`,
    `- training time: ${(Number(m.metrics['secondsTotal']) / 60).toFixed(0)} min on ${m.metadata.backend} (2 CPU cores), commit ${m.metadata.gitSha}`,
    `- held-out answer loss: validation ${v['loss']?.toFixed(3)} nats/token (token accuracy ${pct(v['tokenAccuracy'])}%), test ${t['loss']?.toFixed(3)} (${pct(t['tokenAccuracy'])}%)`,
    '',
    'Greedy answers, exact match (%), against always giving the most frequent training answer:',
    '',
    '| question | validation | majority | test | majority |',
    '|---|---|---|---|---|',
    row('dominant colour of a region', 'gen.colour'),
    row('emoji group', 'gen.group'),
    row('drawing style (named in the generated description)', 'gen.style'),
    '',
  ].join('\n');
}
