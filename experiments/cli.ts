/**
 * `npm run experiment -- <name> [--scale smoke|quick|full] [--runs a,b] [--set key.path=value ...]
 *                                [--results DIR] [--backend auto|wasm|cpu|tensorflow]`
 *
 * Resolves each run's config (scale preset → experiment overrides → --set), builds the data if needed, trains,
 * evaluates on mini-MMEB and mini-M-BEIR and writes results/<scale>/<name>/<run>/. A finished run is skipped;
 * an interrupted one resumes. Runs given --set get the assignments appended to their name, so a tweak never
 * collides with the stock run. `npm run experiment -- --list` lists the experiments.
 */
import * as fs from 'fs';
import * as path from 'path';
import { describeBackend, initBackend } from '../lib/backend';
import { parseAssignments } from '../lib/config';
import { buildData } from '../lib/data/build';
import { mergeOverrides, resolveRun, RunConfig, RunOverrides } from '../lib/experiment/config';
import { runExperiment, RunOutcome } from '../lib/experiment/run';
import { log } from '../lib/log';
import { EXPERIMENTS } from './index';
import { SCALES, ScalePreset } from './presets';

export interface CliArgs {
  name: string;
  scale: ScalePreset;
  runs: string[] | null;
  sets: string[];
  results: string;
  backend: string;
  list: boolean;
}

export function parseArgs(argv: readonly string[]): CliArgs {
  const args: CliArgs = { name: '', scale: 'quick', runs: null, sets: [], results: 'results', backend: 'auto', list: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    const value = (): string => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value.`);
      return v;
    };
    if (a === '--scale') args.scale = value() as ScalePreset;
    else if (a === '--runs') args.runs = value().split(',');
    else if (a === '--set') args.sets.push(value());
    else if (a === '--results') args.results = value();
    else if (a === '--backend') args.backend = value();
    else if (a === '--list') args.list = true;
    else if (a.startsWith('--')) throw new Error(`Unknown option ${a}; see the header of experiments/cli.ts.`);
    else args.name = a;
  }
  if (!(args.scale in SCALES)) throw new Error(`--scale must be one of ${Object.keys(SCALES).join(', ')}, got ${args.scale}.`);
  return args;
}

/** The resolved configs of an experiment's runs at a scale, with --set assignments applied. */
export function experimentRuns(name: string, scale: ScalePreset, sets: readonly string[] = [], only: readonly string[] | null = null): RunConfig[] {
  const def = EXPERIMENTS[name];
  if (def === undefined) throw new Error(`Unknown experiment '${name}'; known: ${Object.keys(EXPERIMENTS).join(', ')}.`);
  const extra = sets.length === 0 ? undefined : (parseAssignments(sets) as RunOverrides);
  const suffix = sets.length === 0 ? '' : '_' + sets.map((s) => s.replace(/[^A-Za-z0-9._=-]/g, '-')).join('_');
  const names = only ?? Object.keys(def.runs);
  return names.map((run) => {
    const spec = def.runs[run];
    if (spec === undefined) throw new Error(`Experiment '${name}' has no run '${run}'; its runs: ${Object.keys(def.runs).join(', ')}.`);
    const { imagesFactor, ...overrides } = spec;
    const merged = mergeOverrides(SCALES[scale], overrides, extra);
    if (imagesFactor !== undefined) {
      const base = (merged.train?.imagesPerStep as number | undefined) ?? 32;
      merged.train = { ...merged.train, imagesPerStep: base * imagesFactor };
    }
    return resolveRun(name, run + suffix, merged);
  });
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
    for (const [name, def] of Object.entries(EXPERIMENTS)) process.stdout.write(`${name.padEnd(12)} ${def.description} [${def.paper}]\n  runs: ${Object.keys(def.runs).join(', ')}\n`);
    return [];
  }
  const configs = experimentRuns(args.name, args.scale, args.sets, args.runs);
  const report = await initBackend({ backend: args.backend as 'auto' });
  log.info(`backend: ${describeBackend(report)}`);
  await ensureData(configs[0]?.data.dir ?? 'data');
  const outcomes: RunOutcome[] = [];
  for (const cfg of configs) outcomes.push(await runExperiment(cfg, { resultsRoot: path.join(args.results, args.scale) }));
  return outcomes;
}

if (require.main === module) {
  runCli(process.argv.slice(2)).catch((err: Error) => {
    process.stderr.write(`${err.message}\n`);
    process.exit(1);
  });
}
