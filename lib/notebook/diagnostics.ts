/**
 * Notebook 09 ("Does the model see?"): the models to diagnose (an untrained one, the base model, the runs of an
 * experiment), the diagnostics table of lib/diagnostics/diagnose.ts with sentences computed from its numbers,
 * the base model's greedy answers to probe questions, its training curves from results/base/<preset>/, and
 * what each run reads mini-MMEB's instructions as (lib/diagnostics/instruction-reading.ts).
 *
 * A model that cannot be had (the base not trained yet, a run that fails to resolve) is skipped with the
 * reason, never silently.
 */
import * as fs from 'fs';
import * as path from 'path';
import { readMiniM3t } from '../data/m3t';
import { diagnoseEmbedder, DiagnoseOptions } from '../diagnostics/diagnose';
import { formatShares, m3tAnswerPool, readInstructions } from '../diagnostics/instruction-reading';
import { PROBE_TASKS } from '../diagnostics/labels';
import { mmebRowItems, readMmebFile } from '../eval/mmeb-format';
import type { RunConfig } from '../runner/config';
import { runTokenizer } from '../runner/run';
import { loadEncoder } from '../model/checkpoint';
import { Embedder } from '../model/embedder';
import { ensureExperiment, latestCheckpoint, loadRunModel, NotebookContext, RunSelection, selectedRuns } from './runs';
import { Figure, lines } from '../plot';
import { generate } from '../pretrain/generate';
import { majorityAnswers, probeQuestions, styleNamed } from '../pretrain/evaluate';
import { splitRecords } from '../pretrain/run';
import { runDir } from '../results';

/** results/base/<preset>: where `npm run pretrain -- --preset <preset>` writes. */
export function baseRunDir(preset: string, root = path.join('results', 'base')): string {
  return path.join(root, preset);
}

/** The base model's final weights folder (`<base run>/model`), or null while it does not exist. */
export function baseModelFolder(preset: string, root?: string): string | null {
  const dir = path.join(baseRunDir(preset, root), 'model');
  return fs.existsSync(path.join(dir, 'model.json')) && fs.existsSync(path.join(dir, 'weights.bin')) ? dir : null;
}

export interface DiagnosedModel {
  name: string;
  /** Where the weights came from. */
  source: string;
  diagnostics: Record<string, number>;
}

export interface SkippedModel {
  name: string;
  reason: string;
}

export interface DiagnoseModelsOptions {
  /** The experiment runs to diagnose (trained, loaded or copied as in notebook 08). */
  selection: RunSelection;
  /** Add an untrained model with the first run's config (its seed, its vocabulary). */
  untrained: boolean;
  /** The base model folder (baseModelFolder), or null when there is none. */
  base: string | null;
  /** The preset whose base is meant (for the skip message). */
  preset: string;
  diagnose: Partial<DiagnoseOptions> & { dataDir: string };
}

const UNTRAINED = 'untrained (initialisation)';
const BASE = 'base (generative pretraining)';

/** Does a run folder hold weights loadRunModel can load without training? */
function hasWeights(dir: string): boolean {
  return latestCheckpoint(dir) !== null || fs.existsSync(path.join(dir, 'model', 'model.json'));
}

/**
 * Diagnose each model in turn (one in memory at a time): untrained, base, then the runs. When the experiment
 * cannot be ensured (e.g. its runs now start from a base that is missing), runs whose folders hold weights are
 * still diagnosed from them and the others are skipped with the error.
 */
export async function diagnoseModels(ctx: NotebookContext, o: DiagnoseModelsOptions): Promise<{ models: DiagnosedModel[]; skipped: SkippedModel[] }> {
  const models: DiagnosedModel[] = [];
  const skipped: SkippedModel[] = [];
  const run = async (name: string, source: string, model: Embedder): Promise<void> => {
    try {
      models.push({ name, source, diagnostics: await diagnoseEmbedder(model, o.diagnose) });
    } finally {
      model.dispose();
    }
  };
  const configs = selectedRuns(ctx, o.selection);
  let ensureError: string | null = null;
  try {
    await ensureExperiment(ctx, o.selection);
  } catch (err) {
    ensureError = (err as Error).message;
  }
  for (const cfg of configs) {
    const name = `${cfg.experiment}/${cfg.run}`;
    if (ensureError !== null && !hasWeights(runDir(ctx.resultsRoot, cfg.experiment, cfg.run))) {
      skipped.push({ name, reason: ensureError });
      continue;
    }
    const { model, source } = await loadRunModel(cfg, ctx.resultsRoot);
    if (o.untrained && !models.some((m) => m.name === UNTRAINED)) {
      await run(UNTRAINED, `seed ${cfg.train.seed}, the config of ${name}`, Embedder.create(model.config, model.tokenizer, cfg.train.seed));
    }
    await run(name, source, model);
  }
  if (o.untrained && !models.some((m) => m.name === UNTRAINED))
    skipped.push({ name: UNTRAINED, reason: 'no run of the experiment could be loaded to take its config from' });
  if (o.base !== null) await run(BASE, o.base, await loadEncoder(o.base));
  else
    skipped.push({
      name: BASE,
      reason: `${path.join(baseRunDir(o.preset), 'model')} does not exist yet (it is written when \`npm run pretrain -- --preset ${o.preset}\` finishes)`,
    });
  const order = (m: DiagnosedModel): number =>
    m.name === UNTRAINED ? 0 : m.name === BASE ? 1 : 2 + configs.findIndex((c) => `${c.experiment}/${c.run}` === m.name);
  return { models: models.sort((a, b) => order(a) - order(b)), skipped };
}

const num = (d: Record<string, number>, key: string): number => d[key] ?? NaN;

/** One row per model: the image-only cosine, the probes per task and feature set, the token norms. */
export function diagnosticRows(models: readonly DiagnosedModel[]): Record<string, unknown>[] {
  return models.map(({ name, diagnostics: d }) => {
    const row: Record<string, unknown> = {
      model: name,
      'image-only cosine': num(d, 'imageOnlyCosine').toFixed(7),
      '1 − cosine': 1 - num(d, 'imageOnlyCosine'),
    };
    for (const task of PROBE_TASKS) {
      for (const features of ['pixels', 'vision', 'embedding', 'majority']) row[`${task}: ${features}`] = d[`probe.${features}.${task}`] ?? '–';
    }
    row['‖image token‖'] = num(d, 'norm.imageTokens');
    row['‖text token‖'] = num(d, 'norm.textTokens');
    row['image / text'] = num(d, 'norm.imageTokens') / num(d, 'norm.textTokens');
    return row;
  });
}

/** What a model's image-only cosine says, computed from it. */
function cosineSentence(name: string, d: Record<string, number>): string {
  const cos = num(d, 'imageOnlyCosine');
  const gap = (1 - cos).toPrecision(2);
  if (1 - cos < 1e-3)
    return `**${name}**: image-only cosine ${cos.toFixed(7)} (1 − cos = ${gap}, under 10⁻³): every image embeds to nearly one vector; the embedding barely depends on the image.`;
  if (cos > 0.9) return `**${name}**: image-only cosine ${cos.toFixed(4)}: image embeddings differ, but sit in a narrow cone (cos > 0.9).`;
  return `**${name}**: image-only cosine ${cos.toFixed(4)}: image embeddings are spread; the embedding depends on the image.`;
}

/** Which feature sets a task's probe reads above the majority baseline by more than two standard errors. */
function probeSentence(d: Record<string, number>, task: string): string | null {
  const majority = d[`probe.majority.${task}`];
  if (majority === undefined) return null;
  const n = num(d, 'images.test');
  const margin = 2 * Math.sqrt((majority * (1 - majority)) / n);
  const sets = ['pixels', 'vision', 'embedding'].map((f) => ({ f, acc: num(d, `probe.${f}.${task}`) }));
  const above = sets.filter((s) => s.acc - majority > margin);
  const list = (xs: typeof sets): string => xs.map((s) => `${s.f} ${s.acc.toFixed(2)}`).join(', ');
  const where = above.some((s) => s.f === 'embedding')
    ? 'it reaches the embedding'
    : above.length > 0
      ? `present in ${above.map((s) => s.f).join(' and ')}, not in the embedding`
      : 'found on no feature set';
  return `${task}: above the majority ${majority.toFixed(2)} (by > 2 SE = ${margin.toFixed(2)}, n ≤ ${n}) on ${above.length === 0 ? 'none' : list(above)}${above.length < sets.length ? `; not on ${list(sets.filter((s) => !above.includes(s)))}` : ''}: ${where}.`;
}

/** Sentences reading the table, one block per model, every claim computed from its numbers. */
export function diagnosticFindings(models: readonly DiagnosedModel[]): string[] {
  return models.map(({ name, diagnostics: d }) => {
    const ratio = num(d, 'norm.imageTokens') / num(d, 'norm.textTokens');
    const probes = PROBE_TASKS.map((t) => probeSentence(d, t)).filter((s): s is string => s !== null);
    const norms = `image tokens ${ratio >= 1 ? `${ratio.toFixed(1)}× the norm of text tokens` : `${(1 / ratio).toFixed(1)}× smaller in norm than text tokens`} at the first layer.`;
    return [cosineSentence(name, d), ...probes, norms].join(' ');
  });
}

/** `- line` items as HTML (for tslab.display.html). */
export function listHtml(items: readonly string[]): string {
  const esc = (s: string): string =>
    s
      .replace(/&/g, '&amp;')
      .replace(/</g, '&lt;')
      .replace(/\*\*(.+?)\*\*/g, '<b>$1</b>');
  return `<ul>${items.map((s) => `<li>${esc(s)}</li>`).join('')}</ul>`;
}

/** Evenly spaced items (a split's files group one concept's styles together). */
function spread<T>(xs: readonly T[], n: number): T[] {
  if (xs.length <= n) return [...xs];
  return Array.from({ length: n }, (_, i) => xs[Math.floor((i * xs.length) / n)] as T);
}

export interface AnswerOptions {
  dataDir: string;
  /** Validation records the questions are drawn from (evenly spaced). */
  records: number;
  /** Questions per task (colour, group, style). */
  perTask: number;
  maxNewTokens: number;
}

/** Greedy answers of `model` to probe questions about validation images, beside the expected answer. */
export async function probeAnswers(model: Embedder, o: AnswerOptions): Promise<Record<string, string>[]> {
  const size = model.config.imageSize;
  const validation = await splitRecords(o.dataDir, 'validation', size, null);
  const questions = probeQuestions(
    spread(
      validation.filter((r) => r.image !== null),
      o.records,
    ),
    o.perTask,
  );
  const majority = majorityAnswers(await splitRecords(o.dataDir, 'train', size, null));
  const answers = generate(
    model,
    questions.map((q) => ({ question: q.question, image: q.image })),
    { maxNewTokens: o.maxNewTokens },
  );
  return questions.map((q, i) => {
    const answer = answers[i] ?? '';
    const right = q.task === 'style' ? styleNamed(answer) === q.expected : answer.trim().toLowerCase() === q.expected.trim().toLowerCase();
    return {
      task: q.task,
      question: q.question,
      expected: q.expected,
      answer: JSON.stringify(answer),
      correct: right ? 'yes' : 'no',
      'majority answer': majority[q.task],
    };
  });
}

/** An untrained model of a run's config, with a vocabulary built from the run's training records (smoke demo). */
export async function untrainedModel(cfg: RunConfig): Promise<Embedder> {
  const { records } = await readMiniM3t(cfg.data.dir, cfg.data.split);
  const tokenizer = runTokenizer(cfg.data.maxRecords === null ? records : records.slice(0, cfg.data.maxRecords), cfg.data.maxBpeTokens);
  return Embedder.create({ ...cfg.model, vocabSize: tokenizer.vocabSize }, tokenizer, cfg.train.seed);
}

/** One line of a base run's log.jsonl (the fields the curves use). */
export interface BaseLogLine {
  step: number;
  loss: number;
  eval?: Record<string, number>;
}

/** The base run's log.jsonl (empty when absent). */
export function readBaseLog(dir: string): BaseLogLine[] {
  const file = path.join(dir, 'log.jsonl');
  if (!fs.existsSync(file)) return [];
  return fs
    .readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as BaseLogLine);
}

/**
 * The base run's curves: training loss per step (and its moving average, and the held-out loss at each
 * evaluation); generative accuracies at each evaluation with their majority baselines dotted (null before
 * the first evaluation).
 */
export function baseCurves(logLines: readonly BaseLogLine[], window = 10): { loss: Figure; generative: Figure | null } {
  const steps = logLines.map((r) => r.step + 1);
  const smooth = logLines.map((_, i) => {
    const part = logLines.slice(Math.max(0, i - window + 1), i + 1);
    return part.reduce((s, r) => s + r.loss, 0) / part.length;
  });
  const evals = logLines.filter((r) => r.eval !== undefined);
  const evalSteps = evals.map((r) => r.step + 1);
  const loss = lines(
    [
      { name: 'training loss', x: steps, y: logLines.map((r) => r.loss) },
      { name: `moving average (${window} steps)`, x: steps, y: smooth },
      ...(evals.length > 0 ? [{ name: 'held-out answer loss', x: evalSteps, y: evals.map((r) => r.eval?.['loss'] ?? NaN) }] : []),
    ],
    { title: 'base model: next-token loss on answers', xTitle: 'step', yTitle: 'nats / token' },
  );
  if (evals.length === 0) return { loss, generative: null };
  const series = ['colour', 'group', 'style'].flatMap((t) => [
    { name: `gen.${t}`, x: evalSteps, y: evals.map((r) => r.eval?.[`gen.${t}`] ?? NaN) },
    { name: `gen.${t}.majority`, x: evalSteps, y: evals.map((r) => r.eval?.[`gen.${t}.majority`] ?? NaN) },
  ]);
  const generative = lines(series, {
    title: 'base model: greedy-answer accuracy on validation (dotted: majority answer)',
    xTitle: 'step',
    yTitle: 'exact match',
  });
  generative.data.forEach((trace, i) => Object.assign(trace, i % 2 === 1 ? { mode: 'lines', line: { dash: 'dot' } } : {}));
  return { loss, generative };
}

export interface InstructionReadingOptions {
  /** The runs whose models read the instructions (loaded as notebook 08 does). */
  selection: RunSelection;
  /** The built data (runCfg.data.dir): mini-mmeb/<set>.jsonl and m3t/train.jsonl. */
  dataDir: string;
  /** mini-MMEB data sets whose queries are read. */
  datasets: readonly string[];
  /** Queries per data set (the first rows). */
  queries: number;
  /** Training records whose distinct answers make the labelled pool. */
  poolRecords: number;
  /** Neighbours per query. */
  k: number;
}

/**
 * For each run and mini-MMEB data set: the instruction, and the facets of the training answers nearest its
 * queries (image + instruction), e.g. "name@L 99%" for a classification instruction read as a name question.
 */
export async function instructionReadings(ctx: NotebookContext, o: InstructionReadingOptions): Promise<Record<string, string>[]> {
  const pool = m3tAnswerPool(path.join(o.dataDir, 'm3t', 'train.jsonl'), o.poolRecords);
  const mmebDir = path.join(o.dataDir, 'mini-mmeb');
  const sets = await Promise.all(
    o.datasets.map(async (name) => {
      const file = path.join(mmebDir, `${name}.jsonl`);
      if (!fs.existsSync(file)) throw new Error(`instructionReadings: ${file} does not exist; the mini-MMEB sets are listed in ${mmebDir}/manifest.json.`);
      const rows = await readMmebFile(file, { limit: o.queries });
      return { name, queries: rows.map((r) => mmebRowItems(r, { imageRoot: mmebDir, imageToken: '' }).query) };
    }),
  );
  const out: Record<string, string>[] = [];
  for (const cfg of selectedRuns(ctx, o.selection)) {
    const { model } = await loadRunModel(cfg, ctx.resultsRoot);
    try {
      for (const set of sets) {
        const shares = await readInstructions(model, set.queries, pool, o.k);
        out.push({
          model: `${cfg.experiment}/${cfg.run}`,
          'data set': set.name,
          instruction: set.queries[0]?.text.trim() ?? '',
          'read as': formatShares(shares),
        });
      }
    } finally {
      model.dispose();
    }
  }
  return out;
}
