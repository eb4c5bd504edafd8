/**
 * Read finished runs back and lay them side by side: one row per run with the mini-MMEB (CLS / VQA / RET /
 * GRD / IND / OOD / overall) and mini-M-BEIR (local and global average) scores, the validation check and the
 * training throughput; plus the loss curves from each run's log.jsonl. Used by `npm run reproduce` and the
 * notebooks.
 */
import * as fs from 'fs';
import * as path from 'path';
import { Figure, bars, lines, writeFigureHtml } from '../plot';
import { MetricValue, readMetrics, writeCsv, writeFileAtomic } from '../results';
import { EXPERIMENTS, runWithoutSeed } from './catalog';
import { seededRuns, seedSummaryMarkdown } from './seed-summary';

export interface RunRow {
  run: string;
  [column: string]: string | number | null;
}

function get(obj: MetricValue | undefined, ...keys: string[]): number | null {
  let cur: MetricValue | undefined = obj;
  for (const k of keys) {
    if (cur === null || cur === undefined || typeof cur !== 'object' || Array.isArray(cur)) return null;
    cur = (cur as Record<string, MetricValue>)[k];
  }
  return typeof cur === 'number' ? cur : null;
}

/** The finished runs of an experiment folder (results/<scale>/<experiment>), in the given order if any. */
export function finishedRuns(dir: string, order?: readonly string[]): string[] {
  if (!fs.existsSync(dir)) return [];
  const done = fs.readdirSync(dir).filter((r) => fs.existsSync(path.join(dir, r, 'metrics.json')));
  return order === undefined ? done.sort() : order.filter((r) => done.includes(r));
}

/** A score already in percent, to one decimal. */
const r1 = (x: number | null): number | null => (x === null ? null : Math.round(x * 10) / 10);
/** A fraction as a percentage, to one decimal. */
const pct = (x: number | null): number | null => (x === null ? null : Math.round(x * 1000) / 10);

/** The mini-MMEB and mini-M-BEIR columns of a row, from a run's `mmeb` and `mbeir` metric blocks (or their chance twins). */
function benchmarkColumns(mmeb: MetricValue | undefined, mbeir: MetricValue | undefined): Record<string, number | null> {
  return {
    'MMEB CLS': r1(get(mmeb, 'metaTask', 'CLS')),
    'MMEB VQA': r1(get(mmeb, 'metaTask', 'VQA')),
    'MMEB RET': r1(get(mmeb, 'metaTask', 'RET')),
    'MMEB GRD': r1(get(mmeb, 'metaTask', 'VG')),
    'MMEB IND': r1(get(mmeb, 'IND')),
    'MMEB OOD': r1(get(mmeb, 'OOD')),
    'MMEB overall': r1(get(mmeb, 'overall')),
    'M-BEIR local': r1(get(mbeir, 'local', 'average')),
    'M-BEIR global': r1(get(mbeir, 'global', 'average')),
  };
}

/** One comparison row per finished run. Scores in percent. */
export function comparisonRows(dir: string, order?: readonly string[]): RunRow[] {
  return finishedRuns(dir, order).map((run) => {
    const m = readMetrics(path.join(dir, run)).metrics;
    return {
      run,
      ...benchmarkColumns(m['mmeb'], m['mbeir']),
      'val R@1': pct(get(m['validation'], 'recallAt1')),
      'val MRR': pct(get(m['validation'], 'mrr')),
      // The image controls (lib/runner/validate): another record's image; the image without the query text.
      'val MRR other image': pct(get(m['validation'], 'mrrOtherImage')),
      'val MRR image only': pct(get(m['validation'], 'mrrImageOnly')),
      // The classification check: hit@1 among the validation records' answers (majority in metrics.json).
      'val CLS': pct(get(m['validation'], 'clsAccuracy')),
      'pairs/s': r1(get(m['train'], 'pairsPerSec')),
      'images/s': r1(get(m['train'], 'imagesPerSec')),
      'final loss': get(m['train'], 'finalLoss'),
    };
  });
}

/** Per-step records of a run's log.jsonl (none when there is no log); a broken line is an error naming it. */
export function readLog(runDir: string): Record<string, number>[] {
  const file = path.join(runDir, 'log.jsonl');
  if (!fs.existsSync(file)) return [];
  return fs
    .readFileSync(file, 'utf8')
    .split('\n')
    .flatMap((l, i) => {
      if (l.trim() === '') return [];
      try {
        return [JSON.parse(l) as Record<string, number>];
      } catch (err) {
        throw new Error(`${file}, line ${i + 1}: not JSON (${(err as Error).message}); restore the run's log.jsonl from git.`);
      }
    });
}

/**
 * Loss (smoothed over `window` steps) against step, one line per run. With `relative`, each step's loss is
 * divided by ln(pairs in that step), the InfoNCE loss of a model at chance: raw losses of runs with different
 * effective batches are not comparable, these are (1 = chance, drawn as a line).
 */
export function lossCurves(dir: string, runs: readonly string[], window = 10, relative = false): Figure {
  const series = runs.map((run) => {
    const log = readLog(path.join(dir, run));
    const value = (r: Record<string, number>): number => (relative ? (r['loss'] ?? 0) / Math.log(Math.max(2, r['pairs'] ?? 2)) : (r['loss'] ?? 0));
    const y = log.map((_, i) => {
      const part = log.slice(Math.max(0, i - window + 1), i + 1);
      return part.reduce((s, r) => s + value(r), 0) / part.length;
    });
    return { name: run, x: log.map((r) => (r['step'] ?? 0) + 1), y };
  });
  const last = Math.max(1, ...series.flatMap((s) => s.x));
  return lines(relative ? [...series, { name: 'chance (loss = ln N)', x: [1, last], y: [1, 1] }] : series, {
    title: relative
      ? `training loss relative to chance: loss / ln(pairs per step), moving average over ${window} steps`
      : `training loss (moving average over ${window} steps)`,
    xTitle: 'step',
    yTitle: relative ? 'loss / ln N' : 'InfoNCE loss',
  });
}

/** Grouped bars of selected score columns per run. */
export function scoreBars(rows: readonly RunRow[], columns: readonly string[], title: string): Figure {
  // A column no run has (M-BEIR global when only the local pools were evaluated) is left out, not drawn empty.
  const shown = columns.filter((c) => rows.some((r) => typeof r[c] === 'number'));
  return bars(
    shown,
    rows.map((r) => ({ name: r.run, y: shown.map((c) => (typeof r[c] === 'number' ? (r[c] as number) : 0)) })),
    { title, yTitle: 'score (%)' },
  );
}

/** A Markdown table of rows (for README snippets and summary.md). */
export function markdownTable(rows: readonly RunRow[]): string {
  if (rows.length === 0) return '(no finished runs)\n';
  const cols = Object.keys(rows[0] as RunRow);
  const fmt = (v: unknown): string =>
    v === null || v === undefined || (typeof v === 'number' && Number.isNaN(v)) ? '–' : typeof v === 'number' ? String(Math.round(v * 1000) / 1000) : String(v);
  return (
    [`| ${cols.join(' | ')} |`, `|${cols.map(() => '---').join('|')}|`, ...rows.map((r) => `| ${cols.map((c) => fmt(r[c])).join(' | ')} |`)].join('\n') + '\n'
  );
}

/**
 * The row a model of random embeddings would score (lib/eval/chance), from the first finished run that recorded
 * chance levels (benchmark columns stay empty for runs evaluated before those were recorded); null when none did.
 */
export function chanceRow(dir: string, order?: readonly string[]): RunRow | null {
  for (const run of finishedRuns(dir, order)) {
    const m = readMetrics(path.join(dir, run)).metrics;
    if (m['mmebChance'] === undefined && m['mbeirChance'] === undefined && get(m['validation'], 'chanceMrr') === null) continue;
    return {
      run: 'chance (random embeddings)',
      ...benchmarkColumns(m['mmebChance'], m['mbeirChance']),
      'val R@1': null,
      'val MRR': pct(get(m['validation'], 'chanceMrr')),
      'val MRR other image': pct(get(m['validation'], 'chanceMrr')),
      'val MRR image only': pct(get(m['validation'], 'chanceMrr')),
      'val CLS': null,
      'pairs/s': null,
      'images/s': null,
      'final loss': null,
    };
  }
  return null;
}

/** The name of the reference row (the CLIP-style dual encoder of lib/baselines) in every summary. */
export const REFERENCE_ROW = 'dual encoder (CLIP-style reference)';

/**
 * The dual-encoder baseline of the same scale (`<dir>/../baselines/dual-encoder`, `npm run baseline`) as a row
 * named REFERENCE_ROW: the bar the MLLM embedder has to clear; null when it has not been run at this scale.
 */
export function referenceRow(dir: string): RunRow | null {
  const [row] = comparisonRows(path.join(dir, '..', 'baselines'), ['dual-encoder']);
  return row === undefined ? null : { ...row, run: REFERENCE_ROW };
}

/**
 * Write an experiment's comparison next to its runs (results/<scale>/<experiment>/): summary.csv, summary.md
 * (with the chance level of the validation MRR), loss.html and scores.html. Returns the markdown.
 */
export function writeExperimentSummary(dir: string, experiment: string, scale: string, order?: readonly string[]): string {
  const def = EXPERIMENTS[experiment];
  // The catalogue's runs in its order, then any other finished run (a `--set` tweak): none is left out.
  const catalogue = def === undefined ? undefined : Object.keys(def.runs);
  const stock = order ?? (catalogue === undefined ? undefined : [...catalogue, ...finishedRuns(dir).filter((r) => !catalogue.includes(runWithoutSeed(r)))]);
  // Each run with its seed variants (<run>-seed<s>), in seed order.
  const names = [...new Set((stock ?? finishedRuns(dir)).map(runWithoutSeed))];
  const runs = stock === undefined ? undefined : seededRuns(dir, names).flatMap((r) => r.folders);
  const seedTable = seedSummaryMarkdown(dir, names);
  const chance = chanceRow(dir, runs);
  const reference = path.basename(path.dirname(dir)) === 'baselines' ? null : referenceRow(dir);
  const rows = [...comparisonRows(dir, runs), ...(reference === null ? [] : [reference]), ...(chance === null ? [] : [chance])];
  writeCsv(dir, 'summary', rows, { overwrite: true });
  const chanceMrr = finishedRuns(dir, runs)
    .map((r) => get(readMetrics(path.join(dir, r)).metrics['validation'], 'chanceMrr'))
    .find((x) => x !== null);
  const clsMajority = finishedRuns(dir, runs)
    .map((r) => get(readMetrics(path.join(dir, r)).metrics['validation'], 'clsMajority'))
    .find((x) => x !== null);
  const reused = finishedRuns(dir, runs).flatMap((r) => {
    const from = readMetrics(path.join(dir, r)).metrics['reusedFrom'];
    return typeof from === 'string' ? [`${r} = ${from}`] : [];
  });
  const notes = [
    ...(chanceMrr === undefined || chanceMrr === null ? [] : [`val MRR at chance (random ranking): ${(100 * chanceMrr).toFixed(1)}.`]),
    ...(clsMajority === undefined || clsMajority === null
      ? []
      : [
          `val CLS (classification turns of the validation records, hit@1 among their answers): always giving the most common answer scores ${(100 * clsMajority).toFixed(1)}.`,
        ]),
    ...(chance === null
      ? []
      : [
          chance['MMEB overall'] === null && chance['M-BEIR local'] === null
            ? 'The chance row gives the validation chance only: these runs were evaluated before the benchmarks recorded theirs (npm run eval -- --encoder random prints them).'
            : 'The chance row is what random embeddings expect on the same rows and pools (lib/eval/chance).',
        ]),
    ...(reference === null
      ? []
      : [
          `The reference row is the CLIP-style dual encoder trained on the same data at this scale (results/${scale}/baselines/dual-encoder, npm run baseline).`,
        ]),
    ...(reused.length === 0 ? [] : [`Same config, trained once: ${reused.join('; ')}.`]),
  ];
  const title = experiment.charAt(0).toUpperCase() + experiment.slice(1);
  const seeds =
    seedTable === ''
      ? ''
      : `\n## Over seeds, against the first run\n\nMean ± sd over each run's seeds; Δ is the difference from the first run on the same queries with its 95% paired-bootstrap interval (queries and seeds resampled; docs/statistics.md).\n\n${seedTable}`;
  const md = `# ${title} (${scale} scale)\n\n${def?.description ?? ''}${def === undefined ? '' : ` Paper: ${def.paper}.`}\n\n${markdownTable(rows)}${notes.length === 0 ? '' : `\n${notes.join(' ')}\n`}${seeds}`;
  writeFileAtomic(path.join(dir, 'summary.md'), md, { overwrite: true });
  writeFigureHtml(path.join(dir, 'loss.html'), lossCurves(dir, finishedRuns(dir, runs), 10, true));
  const barsTitle = `${title} (${scale} scale): mini-MMEB hit@1 and mini-M-BEIR Recall@5 (%)${chance === null ? '' : ', beside what random embeddings score'}`;
  writeFigureHtml(
    path.join(dir, 'scores.html'),
    scoreBars(rows, ['MMEB CLS', 'MMEB VQA', 'MMEB RET', 'MMEB GRD', 'MMEB overall', 'M-BEIR local', 'M-BEIR global'], barsTitle),
  );
  return md;
}
