/**
 * `npm run baseline -- [--scale smoke|quick|full] [--set key.path=value ...] [--results DIR] [--backend NAME]`
 *
 * Trains and evaluates the CLIP-style dual-encoder baseline (lib/baselines) into
 * results/<scale>/baselines/dual-encoder/ (config.json, log.jsonl, metrics.json, mmeb.csv, mbeir.csv, scores/,
 * model/). A finished run is skipped; an interrupted one resumes. `--set` overrides any config key (e.g.
 * `--set 'data.kinds=["all"]'` for every turn kind, `--set train.steps=500`); such a run gets the assignments
 * appended to its name, so it never collides with the stock run. Set MUCO_NATIVE_THREADS=1 on a shared machine.
 */
import { describeBackend, initBackend, BackendRequest } from '../lib/backend';
import { DUAL_SCALES, resolveDualRun, runDualEncoder, DualRunOutcome, DualRunOverrides } from '../lib/baselines/run-dual';
import { parseAssignments } from '../lib/config';
import type { ScalePreset } from '../lib/runner/scales';
import { log } from '../lib/log';
import { readArgs } from '../lib/cli-args';
import { ensureData } from './cli';

export interface BaselineArgs {
  scale: ScalePreset;
  sets: string[];
  results: string;
  backend: BackendRequest;
}

export function parseBaselineArgs(argv: readonly string[]): BaselineArgs {
  const p = readArgs(
    argv,
    { '--scale': 'value', '--set': 'list', '--results': 'value', '--backend': 'value' },
    { unknown: (a) => `Unknown argument ${a}; see the header of experiments/baseline.ts.` },
  );
  const args: BaselineArgs = {
    scale: (p.values.get('--scale') ?? 'quick') as ScalePreset,
    sets: p.lists.get('--set') ?? [],
    results: p.values.get('--results') ?? 'results',
    backend: (p.values.get('--backend') ?? 'auto') as BackendRequest,
  };
  if (!(args.scale in DUAL_SCALES)) throw new Error(`--scale must be one of ${Object.keys(DUAL_SCALES).join(', ')}, got ${args.scale}.`);
  return args;
}

/** The run name: `dual-encoder`, plus the --set assignments (characters a folder name cannot hold become '-'). */
export function baselineRunName(sets: readonly string[]): string {
  return sets.length === 0 ? 'dual-encoder' : `dual-encoder_${sets.join('_').replace(/[^A-Za-z0-9._=-]/g, '-')}`;
}

export async function runBaseline(argv: readonly string[]): Promise<DualRunOutcome> {
  const args = parseBaselineArgs(argv);
  const cfg = resolveDualRun(baselineRunName(args.sets), DUAL_SCALES[args.scale], parseAssignments(args.sets) as DualRunOverrides);
  const report = await initBackend({ backend: args.backend });
  log.info(`backend: ${describeBackend(report)}`);
  await ensureData(cfg.data.dir);
  const out = await runDualEncoder(cfg, { resultsRoot: `${args.results}/${args.scale}` });
  const v = out.metrics.metrics['validation'] as Record<string, number | null>;
  const pct = (x: number | null | undefined): string => (x === null || x === undefined ? '–' : (100 * x).toFixed(1));
  log.info(
    `${out.dir}: val MRR ${pct(v['mrr'])} (R@1 ${pct(v['recallAt1'])}, R@10 ${pct(v['recallAt10'])}; other image ${pct(v['mrrOtherImage'])}, image only ${pct(v['mrrImageOnly'])}; chance ${pct(v['chanceMrr'])})`,
  );
  return out;
}

if (require.main === module) {
  runBaseline(process.argv.slice(2)).catch((err: Error) => {
    process.stderr.write(`${err.message}\n`);
    process.exit(1);
  });
}
