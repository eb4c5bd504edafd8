/**
 * `npm run experiment -- <name> [--scale smoke|quick|full] [--runs a,b] [--set key.path=value ...]
 *                                [--seeds 0,1,2] [--results DIR] [--backend auto|webgpu|wasm|cpu|tensorflow]
 *                                [--summary] [--revalidate] [--outcomes]`
 *
 * Resolves each run's config (scale preset → experiment overrides → --set), builds the data if needed, trains,
 * evaluates on mini-MMEB and mini-M-BEIR and writes results/<scale>/<name>/<run>/. A finished run is skipped;
 * an interrupted one resumes. Runs given --set get the assignments appended to their name, so a tweak never
 * collides with the stock run. Afterwards the experiment's summary (summary.csv/.md, loss.html, scores.html)
 * is written next to its runs; `--summary` only rewrites it. `--revalidate` recomputes the validation metrics of
 * the finished runs from their final weights (lib/runner/revalidate) and rewrites the summary; `--outcomes`
 * likewise records the per-query outcomes (outcomes.json) of finished runs that lack them. `--seeds` repeats
 * every run with each training seed (`<run>-seed<s>`; the default seed keeps the plain name).
 * `npm run experiment -- --list` lists the experiments.
 */
import * as fs from 'fs';
import * as path from 'path';
import { describeBackend, initBackend } from '../lib/backend';
import { parseSeeds, readArgs } from '../lib/cli-args';
import { buildData } from '../lib/data/build';
import { EXPERIMENTS, experimentRuns } from '../lib/runner/catalog';
import { finishedRuns, writeExperimentSummary } from '../lib/runner/compare';
import { recordOutcomes, revalidateRun } from '../lib/runner/revalidate';
import { runExperiment, RunOutcome } from '../lib/runner/run';
import { parseScale, ScalePreset } from '../lib/runner/scales';
import { log } from '../lib/log';

export interface CliArgs {
  name: string;
  scale: ScalePreset;
  runs: string[] | null;
  sets: string[];
  results: string;
  backend: string;
  list: boolean;
  /** Only (re)write the experiment's summary from its finished runs. */
  summaryOnly: boolean;
  /** Recompute the finished runs' validation metrics from their weights, then rewrite the summary. */
  revalidate: boolean;
  /** Record the per-query outcomes of finished runs that lack them. */
  outcomes: boolean;
  /** Training seeds to repeat every run with; null: each run once, with its default seed. */
  seeds: number[] | null;
}

export function parseArgs(argv: readonly string[]): CliArgs {
  const spec = {
    '--scale': 'value',
    '--runs': 'value',
    '--set': 'list',
    '--results': 'value',
    '--backend': 'value',
    '--list': 'flag',
    '--summary': 'flag',
    '--revalidate': 'flag',
    '--outcomes': 'flag',
    '--seeds': 'value',
  } as const;
  const p = readArgs(argv, spec, { unknown: (a) => `Unknown option ${a}; see the header of experiments/cli.ts.`, positional: true });
  const runs = p.values.get('--runs');
  const args: CliArgs = {
    name: p.positional.at(-1) ?? '',
    scale: parseScale(p.values.get('--scale') ?? 'quick'),
    runs: runs === undefined ? null : runs.split(','),
    sets: p.lists.get('--set') ?? [],
    results: p.values.get('--results') ?? 'results',
    backend: p.values.get('--backend') ?? 'auto',
    list: p.flags.has('--list'),
    summaryOnly: p.flags.has('--summary'),
    revalidate: p.flags.has('--revalidate'),
    outcomes: p.flags.has('--outcomes'),
    seeds: parseSeeds(p.values.get('--seeds')),
  };
  return args;
}

/** Build the data if it is missing (idempotent: a built data/ is left alone). */
export async function ensureData(dir = 'data'): Promise<void> {
  if (fs.existsSync(path.join(dir, 'm3t', 'manifest.json')) && fs.existsSync(path.join(dir, 'mini-mmeb'))) return;
  log.info(`building the data into ${dir}/ (npm run data) ...`);
  await buildData({ outDir: dir });
}

export async function runCli(argv: readonly string[]): Promise<RunOutcome[]> {
  const args = parseArgs(argv);
  if (args.list || args.name === '') {
    for (const [name, def] of Object.entries(EXPERIMENTS))
      process.stdout.write(`${name.padEnd(12)} ${def.description} [${def.paper}]\n  runs: ${Object.keys(def.runs).join(', ')}\n`);
    return [];
  }
  if (args.summaryOnly) {
    const dir = path.join(args.results, args.scale, args.name);
    if (finishedRuns(dir).length === 0) throw new Error(`${dir} has no finished run to summarise; run the experiment first.`);
    process.stdout.write(writeExperimentSummary(dir, args.name, args.scale, args.sets.length === 0 ? undefined : finishedRuns(dir)));
    return [];
  }
  const configs = experimentRuns(args.name, args.scale, args.sets, args.runs, undefined, args.seeds);
  const report = await initBackend({ backend: args.backend as 'auto' });
  log.info(`backend: ${describeBackend(report)}`);
  await ensureData(configs[0]?.data.dir ?? 'data');
  if (args.revalidate || args.outcomes) {
    const what = args.revalidate ? 'revalidate' : 'record outcomes of';
    const dir = path.join(args.results, args.scale, args.name);
    const done = finishedRuns(
      dir,
      configs.map((c) => c.run),
    );
    if (done.length === 0) throw new Error(`${dir} has no finished run to ${what}; run the experiment first.`);
    // One run that cannot be redone (no weights) does not stop the others; the summary is rewritten anyway.
    const failed: string[] = [];
    for (const run of done) {
      try {
        if (args.revalidate) {
          const v = await revalidateRun(path.join(dir, run), path.join(args.results, args.scale));
          log.info(
            `${args.name}/${run}: validation MRR ${String(v['mrr'])}, other image ${String(v['mrrOtherImage'])}, image only ${String(v['mrrImageOnly'])}`,
          );
        }
        if (args.outcomes) {
          const o = await recordOutcomes(path.join(dir, run), path.join(args.results, args.scale));
          log.info(`${args.name}/${run}: ${o === null ? 'had its outcomes already' : `outcomes recorded (${Object.keys(o).join(', ')})`}`);
        }
      } catch (err) {
        failed.push(`${run}: ${(err as Error).message}`);
      }
    }
    writeExperimentSummary(dir, args.name, args.scale, args.sets.length === 0 ? undefined : finishedRuns(dir));
    if (failed.length > 0) throw new Error(`${what} failed for ${failed.length} of ${done.length} runs (the others were done):\n${failed.join('\n')}`);
    return [];
  }
  const outcomes: RunOutcome[] = [];
  for (const cfg of configs) outcomes.push(await runExperiment(cfg, { resultsRoot: path.join(args.results, args.scale) }));
  const dir = path.join(args.results, args.scale, args.name);
  writeExperimentSummary(dir, args.name, args.scale, args.sets.length === 0 ? undefined : finishedRuns(dir));
  log.info(`wrote ${dir}/summary.{csv,md}, loss.html, scores.html`);
  return outcomes;
}

if (require.main === module) {
  runCli(process.argv.slice(2)).catch((err: Error) => {
    process.stderr.write(`${err.message}\n`);
    process.exit(1);
  });
}
