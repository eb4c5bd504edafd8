/**
 * `npm run bench:replay [-- --steps N] [--run-dir D] [--out F]`: replay the committed run `core/muco-k7` from
 * its base model on this machine's backend (bench/gpu-run.ts, part 3 of the GPU check) and compare it with the
 * run's log, step by step: how many losses are bit-for-bit equal, the largest relative difference, and the
 * validation check at each hundredth step. On the backend that trained the run, every value should be equal; on
 * another one (WebGPU, or wasm without the native addon), the first step agrees to rounding and the curves stay
 * close. Needs the data build (`npm run data`), unless --run-dir names a folder the device bundle packed.
 * Writes bench/results/replay.json (or --out).
 */
import * as fs from 'fs';
import * as path from 'path';
import { describeBackend, initBackend } from '../lib/backend';
import { readArgs } from '../lib/cli-args';
import { setLogLevel } from '../lib/log';
import { bundledRun, REPO_RUN, replayRun } from './gpu-run';

async function main(): Promise<void> {
  const args = readArgs(process.argv.slice(2), { '--steps': 'value', '--run-dir': 'value', '--out': 'value' } as const, {
    unknown: (a) => `Unknown option ${a}; see the header of bench/replay.ts.`,
  });
  const steps = Number(args.values.get('--steps') ?? 100);
  if (!(Number.isInteger(steps) && steps >= 1)) throw new Error(`--steps must be a whole number ≥ 1, got '${args.values.get('--steps')}'.`);
  setLogLevel('warn');
  const report = await initBackend();
  const runDir = args.values.get('--run-dir');
  const r = await replayRun(runDir === undefined ? REPO_RUN : bundledRun(runDir), { maxSteps: steps, deadline: Infinity });
  const relative = r.loss.map((l, i) => Math.abs(l - r.cpuLoss[i]!) / Math.abs(r.cpuLoss[i]!));
  const equal = r.loss.filter((l, i) => l === r.cpuLoss[i]).length;
  const validationEqual = r.validation.every((v) => JSON.stringify(v.here) === JSON.stringify(v.cpu));
  const say = (s: string): void => void process.stdout.write(`${s}\n`);
  say(`backend: ${describeBackend(report)}`);
  say(`replay of ${r.run}: ${r.steps} steps, ${r.stepSeconds.toFixed(3)} s/step here, ${r.cpuStepSeconds.toFixed(3)} s/step in the run's log`);
  say(`losses equal bit for bit: ${equal} of ${r.steps}; largest relative difference ${Math.max(...relative).toExponential(2)}`);
  for (const v of r.validation) say(`validation at step ${v.step}: here ${JSON.stringify(v.here)}\n  in the log ${JSON.stringify(v.cpu)}`);
  const out = args.values.get('--out') ?? path.join(__dirname, 'results', 'replay.json');
  const summary = {
    date: new Date().toISOString(),
    backend: describeBackend(report),
    run: r.run,
    steps: r.steps,
    lossesEqual: equal,
    maxLossRelDifference: Math.max(...relative),
    validationEqual,
    stepSeconds: r.stepSeconds,
    logStepSeconds: r.cpuStepSeconds,
    windows: r.windows,
    validation: r.validation,
  };
  fs.mkdirSync(path.dirname(out), { recursive: true });
  fs.writeFileSync(out, JSON.stringify(summary, null, 1) + '\n');
  say(`wrote ${out}`);
}

main().then(
  () => process.exit(0),
  (err: Error) => {
    process.stderr.write(`${err.message}\n`);
    process.exit(1);
  },
);
