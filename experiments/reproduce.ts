/**
 * `npm run reproduce [-- --scale quick|full|smoke] [--runs a,b]`: the main job. Builds the data if needed, runs
 * the core comparison (single-turn vs MuCo k = 7 at the same images per step, and, at the full scale,
 * single-turn at the same effective batch: 7× the images, 7× the image compute), then writes the comparison to
 * results/<scale>/core/: summary.csv, summary.md, loss.html, scores.html, and the verdicts on the paper's claims
 * that the finished runs of the scale can test to results/<scale>/verdicts.{json,md}. The quick scale runs the first two
 * (the third alone would take longer than both) and finishes in ≤ 20 minutes on 2 CPU cores.
 */
import * as path from 'path';
import { verdictsMarkdown, writeVerdicts } from '../lib/analysis/verdicts';
import { finishedRuns, writeExperimentSummary } from '../lib/runner/compare';
import { exportRunModel, latestCheckpoint } from '../lib/notebook/runs';
import { log } from '../lib/log';
import { runCli } from './cli';

/** The core runs of the quick scale: single-turn and MuCo at the same images per step. */
export const QUICK_RUNS = ['single-turn', 'muco-k7'];

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const scaleAt = argv.indexOf('--scale');
  const scale = scaleAt >= 0 ? (argv[scaleAt + 1] ?? 'quick') : 'quick';
  const t0 = Date.now();
  const rest = argv.filter((_, i) => i !== scaleAt && i !== scaleAt + 1);
  const runs = scale === 'quick' && !rest.includes('--runs') ? ['--runs', QUICK_RUNS.join(',')] : [];
  await runCli(['core', '--scale', scale, ...runs, ...rest]);
  const dir = path.join('results', scale, 'core');
  const md = writeExperimentSummary(dir, 'core', scale);
  // The two core models' final weights go next to their results (committed at full scale, ≈7 MB each:
  // notebook 08 reads them; other runs' models are retrained from their seed when asked for).
  for (const run of finishedRuns(dir, ['single-turn', 'muco-k7'])) {
    if (latestCheckpoint(path.join(dir, run)) !== null) log.info(`exported ${exportRunModel(path.join(dir, run))}`);
  }
  // The claims the finished runs of this scale can test, with their intervals (the others: not run).
  const verdicts = writeVerdicts(path.join('results', scale), scale);
  process.stdout.write(`\n${md}\n${verdictsMarkdown(verdicts, scale)}\nreproduce finished in ${((Date.now() - t0) / 60000).toFixed(1)} min\n`);
  log.debug('done');
}

main().catch((err: Error) => {
  process.stderr.write(`${err.message}\n`);
  process.exit(1);
});
