/**
 * `npm run grid -- [--scale quick|full|smoke] [--seeds 0,1,2] [--claims C1,C3a] [--results DIR] [--plan]`
 *
 * The claims' grid (lib/runner/grid): trains and evaluates every run the chosen claims compare, with every
 * seed, seed by seed, and rewrites results/<scale>/verdicts.{json,md} after each experiment, so the verdicts
 * sharpen as seeds land. Resumable like every run: finished runs are skipped, an interrupted one resumes, the
 * same work under another experiment's name is copied. `--plan` prints the CLI calls and exits.
 */
import * as path from 'path';
import { verdictsMarkdown, writeVerdicts } from '../lib/analysis/verdicts';
import { readArgs } from '../lib/cli-args';
import { gridPlan, selectClaims } from '../lib/runner/grid';
import { SCALES } from '../lib/runner/scales';
import { log } from '../lib/log';
import { runCli } from './cli';

const USAGE = 'usage: npm run grid -- [--scale quick|full|smoke] [--seeds 0,1,2] [--claims C1,C3a] [--results DIR] [--plan]';

export async function runGrid(argv: readonly string[]): Promise<string> {
  const p = readArgs(argv, { '--scale': 'value', '--seeds': 'value', '--claims': 'value', '--results': 'value', '--plan': 'flag' } as const, {
    unknown: (a) => `Unknown option ${a}; ${USAGE}.`,
  });
  const scale = p.values.get('--scale') ?? 'quick';
  if (!(scale in SCALES)) throw new Error(`--scale must be one of ${Object.keys(SCALES).join(', ')}, got ${scale}.`);
  const seedText = p.values.get('--seeds') ?? '0,1,2';
  if (!/^\d+(,\d+)*$/.test(seedText)) throw new Error(`--seeds takes a comma-separated list of non-negative integers, e.g. 0,1,2; got "${seedText}".`);
  const claims = selectClaims(p.values.get('--claims')?.split(',') ?? null);
  const plan = gridPlan(claims, seedText.split(',').map(Number));
  const results = p.values.get('--results') ?? 'results';
  const calls = plan.map((s) => ['npm run experiment --', s.experiment, '--scale', scale, '--runs', s.runs.join(','), '--seeds', String(s.seed)]);
  if (p.flags.has('--plan')) return `${calls.map((c) => c.join(' ')).join('\n')}\n`;
  const scaleDir = path.join(results, scale);
  const t0 = Date.now();
  for (const [i, step] of plan.entries()) {
    log.info(`grid ${i + 1}/${plan.length}: ${step.experiment} ${step.runs.join(', ')} (seed ${step.seed}), ${((Date.now() - t0) / 60000).toFixed(1)} min in`);
    await runCli([step.experiment, '--scale', scale, '--runs', step.runs.join(','), '--seeds', String(step.seed), '--results', results]);
    writeVerdicts(scaleDir, scale);
  }
  const md = verdictsMarkdown(writeVerdicts(scaleDir, scale), scale);
  return `${md}\ngrid finished in ${((Date.now() - t0) / 60000).toFixed(1)} min; wrote ${scaleDir}/verdicts.json and verdicts.md\n`;
}

if (require.main === module) {
  runGrid(process.argv.slice(2))
    .then((out) => process.stdout.write(out))
    .catch((err: Error) => {
      process.stderr.write(`${err.message}\n`);
      process.exit(1);
    });
}
