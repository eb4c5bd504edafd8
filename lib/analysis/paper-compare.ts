/**
 * Our runs beside the paper's tables (docs/architecture.md): every row is labelled with its source ("paper" or
 * "ours (<scale>)"), laid out as the paper's Table 1 (MMEB: CLS / VQA / RET / GRD / IND / OOD / Overall) and
 * Table 2 (M-BEIR: S→S / S→M / M→S / M→M / Overall, global and local pool), plus the ablation pairs
 * (paper Δ versus our Δ with the sampling noise of our small evaluation).
 *
 * Our numbers come from mini-MMEB / mini-M-BEIR after pretraining only, so the paper rows they mirror are
 * its zero-shot ones (MuCo pretrained on M3T, no fine-tuning).
 */
import * as fs from 'fs';
import * as path from 'path';
import { MmebAggregate, MMEB_V1_DATASETS } from '../eval/mmeb-aggregate';
import { aggregateMbeir, MBEIR_TASKS, MbeirAggregate, mbeirCatalogue } from '../eval/mbeir-aggregate';
import { mmebSummary, readMmebScores } from '../eval/mmeb';
import { comparisonRows, readLog, RunRow } from '../runner/compare';
import type { RunConfig } from '../runner/config';
import type { PaperTable } from './paper';
import { MetricValue, readMetrics } from '../results';

type Num = number | null;

/** One finished run: its comparison row plus what the tables need from its config, metrics and log. */
export interface RunScores {
  experiment: string;
  run: string;
  /** "ours (smoke)" etc. */
  source: string;
  row: RunRow;
  packing: 'single' | 'multi';
  turns: number;
  imagesPerStep: number;
  /** Mean query–target pairs per step in the log (the effective batch). */
  pairsPerStep: Num;
  parameters: Num;
  /** Queries behind the mini-MMEB overall (data sets × per-set limit): the sample size of its noise. */
  mmebQueries: Num;
  mbeir: { local: MbeirAggregate | null; global: MbeirAggregate | null };
  reusedFrom: string | null;
}

function num(v: MetricValue | undefined): Num {
  return typeof v === 'number' ? v : null;
}

function obj(v: MetricValue | undefined): Record<string, MetricValue> | null {
  return v !== null && v !== undefined && typeof v === 'object' && !Array.isArray(v) ? v : null;
}

/** Scores of the finished runs of results/<scale>/<experiment>, in `order` (missing runs are left out). */
export function readRunScores(experimentDir: string, scale: string, order?: readonly string[]): RunScores[] {
  return comparisonRows(experimentDir, order).map((row) => {
    const dir = path.join(experimentDir, row.run);
    const cfg = JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8')) as RunConfig;
    const m = readMetrics(dir).metrics;
    const log = readLog(dir).filter((r) => typeof r['pairs'] === 'number');
    const mbeir = obj(m['mbeir']);
    const mmeb = obj(m['mmeb']);
    const limit = cfg.eval.limit;
    return {
      experiment: cfg.experiment,
      run: row.run,
      source: `ours (${scale})`,
      row,
      packing: cfg.train.packing,
      turns: cfg.train.packing === 'single' ? 1 : (cfg.train.turns ?? 7),
      imagesPerStep: cfg.train.imagesPerStep,
      pairsPerStep: log.length === 0 ? null : log.reduce((s, r) => s + (r['pairs'] as number), 0) / log.length,
      parameters: num(obj(m['train'])?.['parameters']),
      mmebQueries: mmeb === null || limit === null ? null : (num(mmeb['numDatasets']) ?? 0) * limit,
      mbeir: { local: (obj(mbeir?.['local']) as MbeirAggregate | null) ?? null, global: (obj(mbeir?.['global']) as MbeirAggregate | null) ?? null },
      reusedFrom: typeof m['reusedFrom'] === 'string' ? m['reusedFrom'] : null,
    };
  });
}

/** A row of the Table 1 layout (a type alias, so it passes as a table row record). */
export type MmebTableRow = {
  source: string;
  setting: string;
  model: string;
  params: string;
  CLS: Num;
  VQA: Num;
  RET: Num;
  GRD: Num;
  IND: Num;
  OOD: Num;
  Overall: Num;
};

const billions = (b: Num): string => (b === null ? '–' : `${b}B`);
const millions = (p: Num): string => (p === null ? '–' : `${(p / 1e6).toFixed(2)}M`);

/** The paper's Table 1 rows (optionally only some settings). */
export function paperMmebRows(table: PaperTable<'table-1'>, settings?: readonly string[]): MmebTableRow[] {
  return table.rows
    .filter((r) => settings === undefined || settings.includes(r.setting))
    .map((r) => ({
      source: 'paper',
      setting: r.setting,
      model: r.model,
      params: billions(r.paramsBillions),
      CLS: r.cls,
      VQA: r.vqa,
      RET: r.ret,
      GRD: r.grd,
      IND: r.id,
      OOD: r.ood,
      Overall: r.overall,
    }));
}

/** Our run on mini-MMEB in the Table 1 layout. */
export function ourMmebRow(s: RunScores): MmebTableRow {
  const c = (k: string): Num => (typeof s.row[k] === 'number' ? (s.row[k] as number) : null);
  return {
    source: s.source,
    setting: 'pretrained (zero-shot), mini-MMEB',
    model: `${s.experiment}/${s.run}`,
    params: millions(s.parameters),
    CLS: c('MMEB CLS'),
    VQA: c('MMEB VQA'),
    RET: c('MMEB RET'),
    GRD: c('MMEB GRD'),
    IND: c('MMEB IND'),
    OOD: c('MMEB OOD'),
    Overall: c('MMEB overall'),
  };
}

const r1 = (x: Num): Num => (x === null ? null : Math.round(x * 10) / 10);

/** An MMEB aggregate (lib/eval/mmeb-aggregate, ×100) as a Table 1 row; incomplete sets are labelled. */
export function mmebAggregateRow(a: MmebAggregate, head: { source: string; setting: string; model: string; params?: string }, total = 36): MmebTableRow {
  const note = a.complete ? '' : ` (${a.numDatasets}/${total} data sets)`;
  return {
    source: head.source,
    setting: head.setting,
    model: head.model + note,
    params: head.params ?? '–',
    CLS: r1(a.metaTask.CLS),
    VQA: r1(a.metaTask.VQA),
    RET: r1(a.metaTask.RET),
    GRD: r1(a.metaTask.VG),
    IND: r1(a.IND),
    OOD: r1(a.OOD),
    Overall: r1(a.overall),
  };
}

/**
 * A row from external MMEB scores: a folder of `{dataset}_score.json` (VLM2Vec / MuCo eval output, or a run
 * folder's scores/) or a leaderboard JSON. Only the 36 MMEB data sets count; an incomplete set is labelled.
 */
export function externalMmebRow(target: string, label: string): MmebTableRow {
  return mmebAggregateRow(mmebSummary(readMmebScores(target, MMEB_V1_DATASETS), MMEB_V1_DATASETS), { source: 'external', setting: 'MMEB', model: label });
}

export type MbeirPoolName = 'global' | 'local';

/** A row of the Table 2 layout (one pool). */
export type MbeirTableRow = {
  source: string;
  setting: string;
  model: string;
  params: string;
  pool: MbeirPoolName;
  'S→S': Num;
  'S→M': Num;
  'M→S': Num;
  'M→M': Num;
  Overall: Num;
};

/** The paper's Table 2 rows on one pool (the local pool has only the overall, from Table I). */
export function paperMbeirRows(table: PaperTable<'table-2'>, pool: MbeirPoolName): MbeirTableRow[] {
  return table.rows
    .filter((r) => (pool === 'global' ? r.overall : r.localOverall) !== null)
    .map((r) => ({
      source: 'paper',
      setting: r.setting,
      model: r.model,
      params: billions(r.paramsBillions),
      pool,
      'S→S': pool === 'global' ? r.ss : null,
      'S→M': pool === 'global' ? r.sm : null,
      'M→S': pool === 'global' ? r.ms : null,
      'M→M': pool === 'global' ? r.mm : null,
      Overall: pool === 'global' ? r.overall : r.localOverall,
    }));
}

/** An M-BEIR aggregate (×100) of one pool as a Table 2 row. */
export function mbeirAggregateRow(a: MbeirAggregate, head: Omit<MbeirTableRow, 'S→S' | 'S→M' | 'M→S' | 'M→M' | 'Overall'>): MbeirTableRow {
  return { ...head, 'S→S': r1(a.groups['S→S']), 'S→M': r1(a.groups['S→M']), 'M→S': r1(a.groups['M→S']), 'M→M': r1(a.groups['M→M']), Overall: r1(a.average) };
}

/** Our run on mini-M-BEIR in the Table 2 layout, or null when that pool was not evaluated. */
export function ourMbeirRow(s: RunScores, pool: MbeirPoolName): MbeirTableRow | null {
  const a = s.mbeir[pool];
  if (a === null) return null;
  return mbeirAggregateRow(a, {
    source: s.source,
    setting: 'pretrained (zero-shot), mini-M-BEIR',
    model: `${s.experiment}/${s.run}`,
    params: millions(s.parameters),
    pool,
  });
}

function aggregateFrom(value: unknown, where: string): MbeirAggregate {
  const rec = value as Record<string, unknown>;
  if (rec !== null && typeof rec === 'object' && typeof rec['average'] === 'number' && typeof rec['groups'] === 'object')
    return rec as unknown as MbeirAggregate;
  if (rec === null || typeof rec !== 'object' || !Object.values(rec).every((v) => typeof v === 'number')) {
    throw new Error(`${where}: expected an aggregate ({average, groups}) or per-task recalls in % ({"mscoco_task0": 61.2, ...}).`);
  }
  const names = Object.keys(rec);
  const canonical = new Set(MBEIR_TASKS.map((t) => t.name));
  return aggregateMbeir(rec as Record<string, number>, names.every((n) => canonical.has(n)) ? MBEIR_TASKS : mbeirCatalogue(names));
}

/**
 * Rows from external M-BEIR scores: a run folder of `npm run eval -- --benchmark mbeir:<path>` (its
 * metrics.json), or a JSON file `{local?: {...}, global?: {...}}` whose pools hold per-task recalls in %
 * (`{"mscoco_task0": 61.2, ...}`) or aggregates. One row per pool found.
 */
export function externalMbeirRows(target: string, label: string): MbeirTableRow[] {
  const isDir = fs.statSync(target).isDirectory();
  const file = isDir ? path.join(target, 'metrics.json') : target;
  const json = JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, unknown>;
  const pools = (isDir ? (json['metrics'] as Record<string, unknown>) : json) ?? {};
  const inner = (pools['mbeir'] as Record<string, unknown> | undefined) ?? pools;
  const rows = (['global', 'local'] as const).flatMap((pool) => {
    const v = inner[pool];
    if (v === undefined || v === null) return [];
    const a = aggregateFrom(v, `${file} ${pool}`);
    const note = a.complete ? '' : ` (${a.numTasks} sets)`;
    return [mbeirAggregateRow(a, { source: 'external', setting: 'M-BEIR', model: label + note, params: '–', pool })];
  });
  if (rows.length === 0) throw new Error(`${file}: no "local" or "global" M-BEIR scores found (top level${isDir ? ', metrics or metrics.mbeir' : ''}).`);
  return rows;
}

/**
 * Half-width (percentage points) of a 95% band for the difference of two accuracies near `pct` %, each
 * from `n` queries: 1.96·√(2p(1−p)/n). A difference inside it is not evidence of an effect.
 */
export function noiseBand(pct: number, n: number): number {
  if (!(n > 0)) throw new Error(`noiseBand: n must be > 0 queries, got ${n}.`);
  const p = Math.min(Math.max(pct / 100, 0), 1);
  // Floor p(1−p) at one success in n so a 0 % or 100 % score still has a band.
  const v = Math.max(p * (1 - p), (1 / n) * (1 - 1 / n));
  return 100 * 1.96 * Math.sqrt((2 * v) / n);
}

export type Verdict = {
  comparison: string;
  'paper Δ': number;
  'ours Δ': Num;
  /** ± band of our Δ (sampling noise of the evaluation); null when unknown. */
  'noise ±': Num;
  agrees: 'same direction' | 'opposite direction' | 'within noise' | 'not run';
};

/**
 * Does our difference (a − b) go the paper's way? `within noise` when |Δ| is inside the band, `not run`
 * when a run is missing.
 */
export function verdict(comparison: string, paper: { a: number; b: number }, ours: { a: Num; b: Num }, band: Num = null): Verdict {
  const paperDelta = Math.round((paper.a - paper.b) * 100) / 100;
  if (ours.a === null || ours.b === null) return { comparison, 'paper Δ': paperDelta, 'ours Δ': null, 'noise ±': band, agrees: 'not run' };
  const d = Math.round((ours.a - ours.b) * 100) / 100;
  const agrees = band !== null && Math.abs(d) <= band ? 'within noise' : Math.sign(d) === Math.sign(paperDelta) ? 'same direction' : 'opposite direction';
  return { comparison, 'paper Δ': paperDelta, 'ours Δ': d, 'noise ±': band === null ? null : Math.round(band * 10) / 10, agrees };
}

/** A run's score column (null when missing). */
export function score(s: RunScores | undefined, column: string): Num {
  const v = s?.row[column];
  return typeof v === 'number' ? v : null;
}

/** The mini-MMEB overall difference band of two runs (their own query counts and scores). */
export function mmebBand(a: RunScores | undefined, b: RunScores | undefined): Num {
  const pa = score(a, 'MMEB overall');
  const pb = score(b, 'MMEB overall');
  if (a?.mmebQueries == null || b?.mmebQueries == null || pa === null || pb === null) return null;
  return noiseBand((pa + pb) / 2, Math.min(a.mmebQueries, b.mmebQueries));
}

/**
 * Ablation rows: each setup with the paper's numbers (columns prefixed `paper `) and our run's chosen score
 * columns (prefixed `ours `).
 */
export function ablationRows(
  entries: readonly { setup: string; paper: Record<string, Num>; ours: RunScores | undefined }[],
  columns: readonly string[],
): Record<string, string | Num>[] {
  return entries.map((e) => ({
    setup: e.setup,
    ...Object.fromEntries(Object.entries(e.paper).map(([k, v]) => [`paper ${k}`, v])),
    run: e.ours === undefined ? '(not run)' : `${e.ours.experiment}/${e.ours.run}`,
    ...Object.fromEntries(columns.map((c) => [`ours ${c}`, score(e.ours, c)])),
  }));
}
