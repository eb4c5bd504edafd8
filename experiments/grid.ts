/**
 * `npm run grid -- [--scale quick|full|smoke] [--seeds 0,1,2] [--claims C1,C3a] [--results DIR]
 *                  [--backend auto|webgpu|wasm|cpu|tensorflow] [--plan]`
 *
 * The claims' grid (lib/runner/grid): trains and evaluates every run the chosen claims compare, with every
 * seed, and rewrites results/<scale>/verdicts.{json,md} after each step, so the verdicts sharpen as runs land.
 * Resumable like every run: finished runs are skipped, an interrupted one resumes, the same work under another
 * experiment's name is copied. `--plan` prints the experiment calls and exits.
 */
import * as path from 'path';
import { ClaimResult, verdictsMarkdown, writeVerdicts } from '../lib/analysis/verdicts';
import { parseSeeds, readArgs } from '../lib/cli-args';
import { gridPlan, selectClaims } from '../lib/runner/grid';
import { parseScale } from '../lib/runner/scales';
import { log } from '../lib/log';
import { runCli } from './cli';

const USAGE = 'usage: npm run grid -- [--scale quick|full|smoke] [--seeds 0,1,2] [--claims C1,C3a] [--results DIR] [--backend NAME] [--plan]';

export async function runGrid(argv: readonly string[]): Promise<string> {
  const p = readArgs(
    argv,
    { '--scale': 'value', '--seeds': 'value', '--claims': 'value', '--results': 'value', '--backend': 'value', '--plan': 'flag' } as const,
    { unknown: (a) => `Unknown option ${a}; ${USAGE}.` },
  );
  const scale = parseScale(p.values.get('--scale') ?? 'quick');
  const plan = gridPlan(selectClaims(p.values.get('--claims')?.split(',') ?? null), parseSeeds(p.values.get('--seeds') ?? '0,1,2') as number[]);
  const results = p.values.get('--results');
  const passed = [
    ...(results === undefined ? [] : ['--results', results]),
    ...(p.values.has('--backend') ? ['--backend', p.values.get('--backend') as string] : []),
  ];
  const calls = plan.map((s) => [s.experiment, '--scale', scale, '--runs', s.runs.join(','), '--seeds', String(s.seed), ...passed]);
  if (p.flags.has('--plan')) return calls.map((c) => `npm run experiment -- ${c.join(' ')}\n`).join('');
  const scaleDir = path.join(results ?? 'results', scale);
  const t0 = Date.now();
  let verdicts: ClaimResult[] = [];
  for (const [i, call] of calls.entries()) {
    log.info(`grid ${i + 1}/${calls.length}: ${call.slice(0, 7).join(' ')}, ${((Date.now() - t0) / 60000).toFixed(1)} min in`);
    await runCli(call);
    verdicts = writeVerdicts(scaleDir, scale);
  }
  return `${verdictsMarkdown(verdicts, scale)}\ngrid finished in ${((Date.now() - t0) / 60000).toFixed(1)} min; wrote ${scaleDir}/verdicts.json and verdicts.md\n`;
}

if (require.main === module) {
  runGrid(process.argv.slice(2))
    .then((out) => process.stdout.write(out))
    .catch((err: Error) => {
      process.stderr.write(`${err.message}\n`);
      process.exit(1);
    });
}
