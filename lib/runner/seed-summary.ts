/**
 * The seeds part of an experiment's summary (docs/statistics.md): each run over its seeds (`<run>`,
 * `<run>-seed<s>`) as mean ± sd of its aggregates, and its difference from the experiment's reference run (the
 * first of the catalogue) with a 95% paired-bootstrap interval over queries and seeds, from the runs'
 * per-query outcomes.
 */
import * as fs from 'fs';
import * as path from 'path';
import { readOutcomes, type OutcomeMetric } from '../eval/outcomes';
import { formatMeanSd, formatSigned, macroMean, meanSd, type Outcomes, pairedBootstrap } from '../stats';
import { runWithoutSeed, seedOfRunName } from './catalog';

export interface SeededRun {
  run: string;
  /** Finished folders of the run, one per seed, in seed order. */
  folders: string[];
}

/** The finished folders of each run in `runs` and its seed variants (tweak suffixes kept as given). */
export function seededRuns(dir: string, runs: readonly string[]): SeededRun[] {
  const done = fs.existsSync(dir) ? fs.readdirSync(dir).filter((r) => fs.existsSync(path.join(dir, r, 'metrics.json'))) : [];
  return runs
    .map((run) => ({
      run,
      folders: done.filter((d) => runWithoutSeed(d) === run).sort((a, b) => (seedOfRunName(a) ?? 0) - (seedOfRunName(b) ?? 0)),
    }))
    .filter((r) => r.folders.length > 0);
}

/** Each seed's outcomes of `metric`, or null when a seed has none (it finished before outcomes were kept). */
function outcomesOf(dir: string, r: SeededRun, metric: OutcomeMetric): Outcomes[] | null {
  const all = r.folders.map((f) => readOutcomes(path.join(dir, f))?.[metric]);
  return all.every((o): o is Outcomes => o !== undefined) ? all : null;
}

/**
 * A Markdown table of the runs over their seeds, or '' when no run has outcomes. Differences are in points of
 * each metric against the first run; `resamples` bootstrap resamples (seeded).
 */
export function seedSummaryMarkdown(dir: string, runs: readonly string[], resamples = 1000): string {
  const seeded = seededRuns(dir, runs);
  const metrics: [OutcomeMetric, string][] = [
    ['mmeb', 'mini-MMEB overall'],
    ['validation', 'val MRR'],
  ];
  const ref = seeded[0];
  if (ref === undefined || seeded.every((r) => metrics.every(([m]) => outcomesOf(dir, r, m) === null))) return '';
  const head = ['run', 'seeds', ...metrics.flatMap(([, label]) => [label, `Δ ${label} vs ${ref.run} [95% CI]`])];
  const lines = [`| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`];
  for (const r of seeded) {
    const cells = [r.run, String(r.folders.length)];
    for (const [m] of metrics) {
      const mine = outcomesOf(dir, r, m);
      const theirs = outcomesOf(dir, ref, m);
      cells.push(mine === null ? '–' : formatMeanSd(meanSd(mine.map((o) => 100 * macroMean(o)))));
      if (mine === null || theirs === null || r === ref) cells.push('–');
      else {
        const iv = pairedBootstrap(mine, theirs, { resamples, seed: 0 });
        cells.push(`${formatSigned(100 * iv.diff)} [${formatSigned(100 * iv.lo)}, ${formatSigned(100 * iv.hi)}]`);
      }
    }
    lines.push(`| ${cells.join(' | ')} |`);
  }
  return `${lines.join('\n')}\n`;
}
