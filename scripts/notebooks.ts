/**
 * `npm run notebooks`: execute every notebooks/*.ipynb headless on its SMOKE preset (MUCO_SMOKE=1) with the
 * tslab kernel, and fail if any cell fails. Executed copies go to a temporary folder: the committed notebooks
 * are never rewritten. `npm run notebooks -- 03` runs only the notebooks whose name contains "03".
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { installKernel, KERNEL_NAME } from './kernel';

const root = path.resolve(__dirname, '..');

function jupyterBinary(): string {
  for (const candidate of ['/usr/bin/jupyter', path.join(os.homedir(), '.local', 'bin', 'jupyter')]) {
    if (fs.existsSync(candidate)) return candidate;
  }
  const which = spawnSync('which', ['jupyter'], { encoding: 'utf8' });
  if (which.status === 0 && which.stdout.trim() !== '') return which.stdout.trim();
  throw new Error(
    'Jupyter is not installed. On Debian: `apt-get install jupyter-notebook jupyter-nbconvert python3-nbclient`; ' +
      'elsewhere: `pip install jupyterlab nbconvert`.',
  );
}

function main(): number {
  const filter = process.argv[2] ?? '';
  const dir = path.join(root, 'notebooks');
  const notebooks = fs
    .readdirSync(dir)
    .filter((f) => f.endsWith('.ipynb') && f.includes(filter))
    .sort();
  if (notebooks.length === 0) throw new Error(`No notebook in ${dir} matches '${filter}'.`);
  installKernel(false);
  const jupyter = jupyterBinary();
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'muco-notebooks-'));
  // Runs go to a results folder of the check's own (lib/notebook/runs.ts setupNotebook), not results/smoke.
  const env = { ...process.env, MUCO_SMOKE: '1', MUCO_RESULTS_DIR: path.join(out, 'results'), JUPYTER_PATH: path.join(root, '.jupyter', 'share', 'jupyter') };
  const failed: string[] = [];
  for (const nb of notebooks) {
    const start = Date.now();
    const r = spawnSync(
      jupyter,
      [
        'nbconvert',
        '--to',
        'notebook',
        '--execute',
        `--ExecutePreprocessor.kernel_name=${KERNEL_NAME}`,
        '--ExecutePreprocessor.timeout=900',
        '--output-dir',
        out,
        path.join(dir, nb),
      ],
      { cwd: dir, env, encoding: 'utf8' },
    );
    const secs = ((Date.now() - start) / 1000).toFixed(1);
    if (r.status === 0) {
      process.stdout.write(`  ok    ${nb} (${secs} s)\n`);
    } else {
      failed.push(nb);
      process.stdout.write(`  FAIL  ${nb} (${secs} s)\n${(r.stderr ?? '').split('\n').slice(-40).join('\n')}\n`);
    }
  }
  process.stdout.write(`notebooks: ${notebooks.length - failed.length} passed, ${failed.length} failed (executed copies in ${out})\n`);
  return failed.length === 0 ? 0 : 1;
}

try {
  process.exit(main());
} catch (err) {
  process.stderr.write(`${(err as Error).message}\n`);
  process.exit(1);
}
