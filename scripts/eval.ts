/**
 * `npm run eval -- --checkpoint <dir> --benchmark mini-mmeb|mini-mbeir|mmeb:<path>|mbeir:<path> [options]`
 *
 * Evaluates an embedder on MMEB or M-BEIR and writes a run folder in the results schema (lib/results.ts):
 * `results/<experiment>/<run>/{config.json, metrics.json, log.jsonl, <benchmark>.csv}` plus, for MMEB,
 * `scores/{dataset}_score.json` and a leaderboard-style `mmeb_leaderboard.json`. Prints the table.
 * `--encoder random` replaces the checkpoint by random unit vectors: the chance-level baseline.
 */
import * as path from 'path';
import { describeBackend, initBackend } from '../lib/backend';
import { discoverMbeir, type InstructionPolicy } from '../lib/eval/mbeir-format';
import { discoverMmeb } from '../lib/eval/mmeb-format';
import { type Encoder, randomEncoder } from '../lib/eval/encoder';
import { evaluateMbeir, mbeirChanceSummary, type MbeirPool, mbeirSummary } from '../lib/eval/mbeir';
import { TASK_NOTATION } from '../lib/eval/mbeir-aggregate';
import { evaluateMmeb, mmebChanceSummary, mmebSummary, readMmebScores, writeMmebScoreFiles } from '../lib/eval/mmeb';
import { META_TASK_LABEL, MMEB_META_TASKS } from '../lib/eval/mmeb-aggregate';
import { log } from '../lib/log';
import type { Scorer } from '../lib/rank';
import { loadEncoder } from '../lib/model/checkpoint';
import { appendLog, createRun, type CsvRow, gitSha, isUnfinishedRun, type MetricValue, runDir, writeCsv, writeMetrics } from '../lib/results';

export interface EvalCliConfig {
  benchmark: string;
  checkpoint: string | null;
  encoder: 'checkpoint' | 'random';
  dim: number;
  seed: number;
  backend: string;
  imageDir: string | null;
  pools: MbeirPool[];
  instructions: InstructionPolicy;
  limit: number | null;
  batchSize: number;
  checkImages: boolean;
  experiment: string;
  run: string | null;
  results: string;
  overwrite: boolean;
  external: string[];
  scorer: Scorer;
}

const DEFAULTS: EvalCliConfig = {
  benchmark: '',
  checkpoint: null,
  encoder: 'checkpoint',
  dim: 64,
  seed: 0,
  backend: 'auto',
  imageDir: null,
  pools: ['local'],
  instructions: 'first',
  limit: null,
  batchSize: 64,
  checkImages: true,
  experiment: 'eval',
  run: null,
  results: 'results',
  overwrite: false,
  external: [],
  scorer: 'js',
};

const USAGE = `usage: npm run eval -- (--checkpoint <dir> | --encoder random [--dim 64]) --benchmark <b> [options]
  --benchmark     mini-mmeb | mini-mbeir | mmeb:<path> | mbeir:<path>
  --image-dir     MMEB image root (default: manifest's, <root>/eval_images, or the root)
  --pool          M-BEIR pools: local | global | local,global (default local)
  --instructions  M-BEIR instruction choice: first | seeded | none (default first)
  --limit N       first N rows / queries per data set (development only)
  --batch-size N  items per encoder call (default 64)
  --backend       auto | tensorflow | webgpu | wasm | cpu (checkpoints only)
  --experiment, --run, --results   run folder: <results>/<experiment>/<run>
  --overwrite     replace an existing run folder's files
  --external P    MMEB score files (dir of *_score.json or leaderboard JSON) to print beside ours (repeatable)
  --scorer        M-BEIR pool ranking: js (exact float64, default) | tf (tf.matMul on the active backend)
  --no-check-images   skip the image existence check`;

function intArg(flag: string, v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new Error(`${flag} expects a non-negative integer, got "${v}".\n${USAGE}`);
  return n;
}

function oneOf<T extends string>(flag: string, v: string, allowed: readonly T[]): T {
  if (!(allowed as readonly string[]).includes(v)) throw new Error(`${flag} must be one of ${allowed.join(', ')}, got "${v}".`);
  return v as T;
}

/** Parses argv (after the script name) into a config; unknown flags are errors. */
export function parseEvalArgs(argv: readonly string[]): EvalCliConfig {
  const c: EvalCliConfig = { ...DEFAULTS, pools: [...DEFAULTS.pools], external: [] };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i] as string;
    const value = (): string => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${flag} needs a value.\n${USAGE}`);
      return v;
    };
    switch (flag) {
      case '--benchmark':
        c.benchmark = value();
        break;
      case '--checkpoint':
        c.checkpoint = value();
        break;
      case '--encoder':
        c.encoder = oneOf(flag, value(), ['checkpoint', 'random'] as const);
        break;
      case '--dim':
        c.dim = intArg(flag, value());
        break;
      case '--seed':
        c.seed = intArg(flag, value());
        break;
      case '--backend':
        c.backend = oneOf(flag, value(), ['auto', 'tensorflow', 'webgpu', 'wasm', 'cpu'] as const);
        break;
      case '--image-dir':
        c.imageDir = value();
        break;
      case '--pool':
        c.pools = value()
          .split(',')
          .map((p) => oneOf(flag, p, ['local', 'global'] as const));
        break;
      case '--instructions':
        c.instructions = oneOf(flag, value(), ['first', 'seeded', 'none'] as const);
        break;
      case '--limit':
        c.limit = intArg(flag, value());
        break;
      case '--batch-size':
        c.batchSize = Math.max(1, intArg(flag, value()));
        break;
      case '--experiment':
        c.experiment = value();
        break;
      case '--run':
        c.run = value();
        break;
      case '--results':
        c.results = value();
        break;
      case '--overwrite':
        c.overwrite = true;
        break;
      case '--no-check-images':
        c.checkImages = false;
        break;
      case '--external':
        c.external.push(value());
        break;
      case '--scorer':
        c.scorer = oneOf(flag, value(), ['js', 'tf'] as const);
        break;
      case '--help':
        throw new Error(USAGE);
      default:
        throw new Error(`Unknown option "${flag}".\n${USAGE}`);
    }
  }
  if (!/^(mini-mmeb|mini-mbeir|mmeb:.+|mbeir:.+)$/.test(c.benchmark)) {
    throw new Error(`--benchmark must be mini-mmeb, mini-mbeir, mmeb:<path> or mbeir:<path>, got "${c.benchmark}".\n${USAGE}`);
  }
  if (c.encoder === 'checkpoint' && c.checkpoint === null)
    throw new Error(`Pass --checkpoint <dir>, or --encoder random for a chance-level baseline.\n${USAGE}`);
  return c;
}

/** 'mmeb' | 'mbeir' and the data root of a --benchmark value. */
export function resolveBenchmark(b: string): { kind: 'mmeb' | 'mbeir'; root: string; name: string } {
  if (b === 'mini-mmeb') return { kind: 'mmeb', root: path.resolve('data', 'mini-mmeb'), name: b };
  if (b === 'mini-mbeir') return { kind: 'mbeir', root: path.resolve('data', 'mini-mbeir'), name: b };
  const [kind, ...rest] = b.split(':');
  return { kind: kind === 'mmeb' ? 'mmeb' : 'mbeir', root: path.resolve(rest.join(':')), name: `${kind}-${path.basename(rest.join(':'))}` };
}

/**
 * A run name for a checkpoint folder that stays unique: a run's exported `model/` or `checkpoints/step-N` is
 * named after its run folder (results/full/core/muco-k7/model → core-muco-k7), so two models never write the
 * same results folder.
 */
export function checkpointName(dir: string): string {
  const parts = path
    .resolve(dir)
    .split(path.sep)
    .filter((p) => p !== '');
  const last = parts.at(-1) ?? 'checkpoint';
  if (last === 'model') return parts.slice(-3, -1).join('-') || last;
  if (/^step-\d+$/.test(last) && parts.at(-2) === 'checkpoints') return [...parts.slice(-4, -2), last].join('-');
  return last;
}

async function makeEncoder(c: EvalCliConfig): Promise<{ encoder: Encoder; backend: string; backendDetail?: string; name: string }> {
  if (c.encoder === 'random') return { encoder: randomEncoder({ dim: c.dim, seed: c.seed }), backend: 'none', name: `random${c.dim}` };
  const report = await initBackend({ backend: c.backend as 'auto' });
  const encoder = await loadEncoder(c.checkpoint as string);
  return { encoder, backend: report.backend, backendDetail: describeBackend(report), name: checkpointName(c.checkpoint as string) };
}

const pct = (v: number | null | undefined): string => (v === null || v === undefined ? '   –' : v.toFixed(1).padStart(5));

async function runMmeb(c: EvalCliConfig, root: string, encoder: Encoder, dir: string, external: ExternalScores[]): Promise<{ [k: string]: MetricValue }> {
  const entries = discoverMmeb(root, c.imageDir === null ? {} : { imageDir: c.imageDir });
  const files = await evaluateMmeb(entries, encoder, {
    batchSize: c.batchSize,
    checkImages: c.checkImages,
    ...(c.limit === null ? {} : { limit: c.limit }),
  });
  const opts = { overwrite: c.overwrite };
  for (const [name, f] of Object.entries(files)) appendLog(dir, { benchmark: 'mmeb', dataset: name, ...f });
  writeMmebScoreFiles(dir, files, { model_name: c.run, embedding_dimension: encoder.dim }, { ...opts, catalogue: entries });
  const summary = mmebSummary(files, entries);
  const rows: CsvRow[] = entries.map((e) => ({
    dataset: e.name,
    metaTask: e.metaTask,
    distribution: e.distribution,
    'hit@1': 100 * (files[e.name]?.['hit@1'] ?? NaN),
    'hit@5': 100 * (files[e.name]?.['hit@5'] ?? NaN),
    'ndcg_linear@5': 100 * (files[e.name]?.['ndcg_linear@5'] ?? NaN),
    'mrr@10': 100 * (files[e.name]?.['mrr@10'] ?? NaN),
    num_pred: files[e.name]?.['num_pred'],
    num_ties: files[e.name]?.['num_ties'],
  }));
  writeCsv(dir, 'mmeb', rows, opts);
  printMmeb(
    summary,
    entries.map((e) => e.name),
    external,
  );
  const chance = mmebChanceSummary(files, entries);
  console.log(
    `chance (random embeddings, from the rows): overall ${chance.overall.toFixed(1)}; ${MMEB_META_TASKS.map((t) => `${META_TASK_LABEL[t]} ${(chance.metaTask[t] ?? NaN).toFixed(1)}`).join(', ')}`,
  );
  return {
    benchmark: 'mmeb',
    ...summary,
    metaTask: { ...summary.metaTask },
    perDataset: summary.perDataset,
    chance: { overall: chance.overall, IND: chance.IND, OOD: chance.OOD, metaTask: { ...chance.metaTask }, perDataset: chance.perDataset },
    limit: c.limit,
  };
}

/** An external model's MMEB scores, read and checked before our evaluation starts. */
interface ExternalScores {
  label: string;
  sum: ReturnType<typeof mmebSummary>;
}

/**
 * Read every `--external` target against the benchmark's own catalogue (so the toolkit's mini-MMEB score files
 * compare with mini-MMEB runs); any problem stops the command before a run folder is made.
 */
export function readExternal(targets: readonly string[], root: string, imageDir: string | null): ExternalScores[] {
  if (targets.length === 0) return [];
  const entries = discoverMmeb(root, imageDir === null ? {} : { imageDir });
  return targets.map((t) => ({ label: path.basename(t.replace(/[/\\][^/\\]*[*?][^/\\]*$/, '')) || t, sum: mmebSummary(readMmebScores(t, entries), entries) }));
}

function printMmeb(summary: ReturnType<typeof mmebSummary>, names: string[], others: ExternalScores[]): void {
  const head = ['data set'.padEnd(22), '  ours', ...others.map((o) => o.label.slice(0, 12).padStart(13))].join(' ');
  const line = (label: string, ours: number | null, get: (s: typeof summary) => number | null | undefined): string =>
    [label.padEnd(22), ` ${pct(ours)}`, ...others.map((o) => pct(get(o.sum)).padStart(13))].join(' ');
  const out = [head, '-'.repeat(head.length)];
  for (const n of names) out.push(line(n, summary.perDataset[n] ?? null, (s) => s.perDataset[n]));
  out.push('-'.repeat(head.length));
  for (const t of MMEB_META_TASKS) out.push(line(META_TASK_LABEL[t], summary.metaTask[t], (s) => s.metaTask[t]));
  out.push(
    line('IND', summary.IND, (s) => s.IND),
    line('OOD', summary.OOD, (s) => s.OOD),
  );
  out.push(line(`Overall (${summary.numDatasets} sets)`, summary.overall, (s) => s.overall));
  if (!summary.complete) out.push(`(incomplete: ${summary.missing.length} catalogue data sets not scored)`);
  console.log(out.join('\n'));
}

async function runMbeir(c: EvalCliConfig, root: string, encoder: Encoder, dir: string): Promise<{ [k: string]: MetricValue }> {
  const layout = discoverMbeir(root);
  const res = await evaluateMbeir(layout, encoder, {
    pools: c.pools,
    instructionPolicy: c.instructions,
    seed: c.seed,
    batchSize: c.batchSize,
    checkImages: c.checkImages,
    scorer: c.scorer,
    ...(c.limit === null ? {} : { limit: c.limit }),
  });
  const rows: CsvRow[] = [];
  const metrics: { [k: string]: MetricValue } = { benchmark: 'mbeir', instructionPolicy: c.instructions, instructions: res.instructions, limit: c.limit };
  for (const pool of c.pools) {
    const scores = pool === 'local' ? res.local : res.global;
    for (const [task, s] of Object.entries(scores)) {
      appendLog(dir, { benchmark: 'mbeir', pool, task, ...s });
      rows.push({
        task,
        taskType: TASK_NOTATION[s['task_id'] as number],
        pool,
        metric: `Recall@${s['k']}`,
        score: 100 * (s['score'] as number),
        'hit@1': 100 * (s['hit@1'] as number),
        'recall@5': 100 * (s['recall@5'] as number),
        num_queries: s['num_queries'],
      });
    }
    const sum = mbeirSummary(scores);
    const chance = mbeirChanceSummary(scores);
    metrics[pool] = { ...sum, groups: { ...sum.groups }, chance: { average: chance.average, perTask: chance.perTask } };
  }
  writeCsv(dir, 'mbeir', rows, { overwrite: c.overwrite });
  const table = rows.map(
    (r) =>
      `${String(r['task']).padEnd(22)} ${String(r['taskType']).padEnd(16)} ${String(r['pool']).padEnd(7)} ${String(r['metric']).padEnd(10)} ${pct(r['score'] as number)}`,
  );
  for (const pool of c.pools) {
    const m = metrics[pool] as { average: number; numTasks: number; complete: boolean };
    const chance = (metrics[pool] as { chance: { average: number } }).chance.average;
    table.push(
      `${pool} average over ${m.numTasks} sets: ${m.average.toFixed(1)}${m.complete ? '' : ' (incomplete: not all 16 M-BEIR sets)'}; chance (random embeddings) ${chance.toFixed(2)}`,
    );
  }
  console.log(table.join('\n'));
  return metrics;
}

/** Runs the CLI; returns the run folder. */
export async function main(argv: readonly string[]): Promise<string> {
  const c = parseEvalArgs(argv);
  const bench = resolveBenchmark(c.benchmark);
  if (c.external.length > 0 && bench.kind !== 'mmeb')
    throw new Error('--external compares MMEB score files: use it with an MMEB benchmark (mini-mmeb or mmeb:<path>).');
  const external = bench.kind === 'mmeb' ? readExternal(c.external, bench.root, c.imageDir) : [];
  const { encoder, backend, backendDetail, name } = await makeEncoder(c);
  c.run ??= `${name}-${bench.name}`;
  if (isUnfinishedRun(runDir(c.results, c.experiment, c.run))) {
    // A failed attempt left a folder without results: run again in place, replacing its partial files.
    log.info(`eval: ${runDir(c.results, c.experiment, c.run)} has no results yet (an earlier attempt stopped); running it again`);
    c.overwrite = true;
  }
  const dir = createRun(c.results, c.experiment, c.run, { ...c, benchmarkRoot: bench.root }, { overwrite: c.overwrite });
  log.info(`eval: ${bench.kind} at ${bench.root} → ${dir}`);
  const t0 = Date.now();
  const metrics = bench.kind === 'mmeb' ? await runMmeb(c, bench.root, encoder, dir, external) : await runMbeir(c, bench.root, encoder, dir);
  metrics['seconds'] = (Date.now() - t0) / 1000;
  writeMetrics(
    dir,
    {
      metadata: {
        experiment: c.experiment,
        run: c.run,
        gitSha: gitSha(),
        date: new Date().toISOString(),
        backend,
        ...(backendDetail === undefined ? {} : { backendDetail }),
        seed: c.seed,
      },
      metrics,
    },
    { overwrite: c.overwrite },
  );
  log.info(`eval: wrote ${dir}`);
  return dir;
}

if (require.main === module) {
  main(process.argv.slice(2)).catch((e: Error) => {
    console.error(e.message);
    process.exit(1);
  });
}
