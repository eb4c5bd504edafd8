/**
 * `npm run verdicts [-- --scale quick|full|smoke] [--results DIR] [--resamples N] [--readme]`: the paper's claims
 * tested on the finished runs of one scale (lib/analysis/verdicts): writes results/<scale>/verdicts.{json,md} and
 * prints the table. A claim whose runs are missing is reported as not run, with the command that makes them.
 * `--readme` also rewrites that tree's verdict table in README.md (between its markers; lib/analysis/readme-verdicts).
 */
import * as fs from 'fs';
import * as path from 'path';
import { replaceReadmeVerdicts } from '../lib/analysis/readme-verdicts';
import { readmeVerdictTable, writeVerdicts, verdictsMarkdown } from '../lib/analysis/verdicts';
import { DEFAULT_BOOTSTRAP } from '../lib/stats';
import { readArgs } from '../lib/cli-args';
import { parseScale } from '../lib/runner/scales';

function main(): void {
  const p = readArgs(process.argv.slice(2), { '--scale': 'value', '--results': 'value', '--resamples': 'value', '--readme': 'flag' } as const, {
    unknown: (a) => `Unknown option ${a}; usage: npm run verdicts -- [--scale quick|full|smoke] [--results DIR] [--resamples N] [--readme].`,
  });
  const scale = parseScale(p.values.get('--scale') ?? 'quick');
  const resamples = Number(p.values.get('--resamples') ?? 1000);
  if (!(Number.isInteger(resamples) && resamples >= 100)) throw new Error(`--resamples must be an integer ≥ 100, got ${p.values.get('--resamples')}.`);
  if (p.flags.has('--readme') && resamples !== DEFAULT_BOOTSTRAP.resamples) {
    throw new Error("--readme puts the committed results' table in README.md, with the default resamples: leave out --resamples.");
  }
  const root = path.normalize(p.values.get('--results') ?? 'results').replace(/\/+$/, '');
  const dir = path.join(root, scale);
  if (!fs.existsSync(dir)) throw new Error(`${dir} does not exist: run experiments at the ${scale} scale first (npm run reproduce -- --scale ${scale}).`);
  const results = writeVerdicts(dir, scale, { resamples });
  process.stdout.write(`${verdictsMarkdown(results, scale)}\nwrote ${dir}/verdicts.json and verdicts.md\n`);
  if (p.flags.has('--readme')) {
    const table = readmeVerdictTable(results, scale, dir);
    fs.writeFileSync('README.md', replaceReadmeVerdicts(fs.readFileSync('README.md', 'utf8'), scale, table, root));
    process.stdout.write(`rewrote the verdict table of ${dir} in README.md\n`);
  }
}

try {
  main();
} catch (err) {
  process.stderr.write(`${(err as Error).message}\n`);
  process.exit(1);
}
