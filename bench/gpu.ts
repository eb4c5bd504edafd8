/**
 * `npm run bench:gpu`: the GPU check of docs/gpu.md, in three parts.
 *
 *   parity  the `small` embedder's loss and gradients for a fixed single-turn and MuCo k = 7 batch
 *           (bench/gpu-parity.ts) against the reference computed on the CPU, relative error ≤ 1e-3
 *   speed   matMul GFLOP/s (1024², 4096²) and training steps/s of `small` and `base`, single-turn and
 *           k = 7, at several batch sizes, next to the 2-core CPU figures of the reference
 *   replay  the committed run `core/muco-k7` (the paper's MuCo from the committed base model, on mini-M3T)
 *           trained again here for up to a few hundred steps, with the validation check every 100 steps,
 *           against the loss curve and checks it logged on the CPU (bench/gpu-run.ts)
 *
 * `--reference` runs parity and speed on this machine's backend (wasm on our CPUs) and writes
 * bench/gpu-reference.json, which travels to the GPU machine in the device bundle (scripts/device-bundle.ts).
 * Without it the check runs on the backend MUCO_BACKEND names (webgpu on the GPU machine) and writes
 * bench/results/gpu.json (or --out). Options: --reference-file F, --out F, --run-dir D (the replayed run as
 * the device bundle packs it; default: results/full/core/muco-k7 with the data build in data/), --train-steps N
 * (default 300), --budget-s S (default 360: the speed part stops adding rows at 55% of it, the replay at all
 * of it), --smoke (one small row of each part, two replay steps: checks the bundle on any adapter).
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { describeBackend, initBackend } from '../lib/backend';
import { webgpuErrors } from '../lib/backend/webgpu';
import { readArgs } from '../lib/cli-args';
import { setLogLevel } from '../lib/log';
import type { ModelPreset } from '../lib/model/config';
import { Embedder } from '../lib/model/embedder';
import { train, trainConfig } from '../lib/train';
import { compareSignatures, fixtureSetup, paritySignatures, type ParityResult, type StepSignature } from './gpu-parity';
import { bundledRun, REPO_RUN, replayRun, type ReplayResult } from './gpu-run';

const TOLERANCE = 1e-3;

interface SpeedRow {
  model: ModelPreset;
  variant: 'single-turn' | 'muco-k7';
  imagesPerStep: number;
  /** GradCache chunk (sequences), or null for a full-batch step. */
  gradCacheChunk: number | null;
  pairsPerStep: number;
  stepSeconds: number;
  stepsPerSec: number;
  imagesPerSec: number;
  pairsPerSec: number;
}

interface Reference {
  date: string;
  backend: string;
  cpu: string;
  parity: Record<string, StepSignature>;
  matMulGflops: Record<string, number>;
  training: SpeedRow[];
}

const fmt = (x: number | undefined): string => (x === undefined ? '-' : (100 * x).toFixed(1));
const seconds = (x: number): string => (Number.isFinite(x) ? x.toFixed(3) : '-');
/** A positive number option (a whole one where `whole`), or an error naming it. */
function positive(option: string, text: string, whole: boolean): number {
  const x = Number(text);
  if (!(x > 0) || (whole && !Number.isInteger(x)) || text.trim() === '')
    throw new Error(`${option} must be a positive ${whole ? 'whole ' : ''}number, got '${text}'.`);
  return x;
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;

/** GFLOP/s of an n×n×n float32 product, timed over `reps` after a warm-up (a 1-element read syncs). */
async function matMulGflops(n: number, reps: number): Promise<number> {
  const a = tf.randomNormal([n, n], 0, 1, 'float32', 1);
  const b = tf.randomNormal([n, n], 0, 1, 'float32', 2);
  const sync = async (t: tf.Tensor): Promise<void> => {
    const one = tf.slice(t, [0, 0], [1, 1]);
    await one.data();
    one.dispose();
  };
  const warm = tf.matMul(a, b);
  await sync(warm);
  warm.dispose();
  const t0 = performance.now();
  const outs: tf.Tensor[] = [];
  for (let i = 0; i < reps; i++) outs.push(tf.matMul(a, b));
  for (const o of outs) await sync(o);
  const seconds = (performance.now() - t0) / 1000;
  tf.dispose([a, b, ...outs]);
  return (2 * n ** 3 * reps) / seconds / 1e9;
}

/** Median step time of `steps` training steps (the first is a warm-up) of a fresh model. */
async function trainingSpeed(
  model: ModelPreset,
  variant: SpeedRow['variant'],
  images: number,
  steps: number,
  chunkSize: number | null = null,
): Promise<SpeedRow> {
  const { records, tokenizer, config } = fixtureSetup(model, Math.max(images * 2, 16));
  const embedder = Embedder.create(config, tokenizer, 0);
  const c = trainConfig({
    steps,
    imagesPerStep: images,
    packing: variant === 'single-turn' ? 'single' : 'multi',
    turns: variant === 'single-turn' ? 1 : 7,
    chunkSize,
    maxLen: config.maxLen,
    schedule: { warmupSteps: 1 },
  });
  const summary = await train(embedder, { size: records.length, get: (i) => records[i]! }, c, { progress: 'none' });
  embedder.dispose();
  const timed = summary.records.slice(1);
  const stepSeconds = median(timed.map((r) => r.seconds));
  const pairs = timed[0]!.pairs;
  return {
    model,
    variant,
    imagesPerStep: images,
    gradCacheChunk: chunkSize,
    pairsPerStep: pairs,
    stepSeconds,
    stepsPerSec: 1 / stepSeconds,
    imagesPerSec: images / stepSeconds,
    pairsPerSec: pairs / stepSeconds,
  };
}

function cpuName(): string {
  const cpus = os.cpus();
  return `${cpus[0]?.model ?? 'unknown CPU'} (${cpus.length} logical cores)`;
}

async function main(): Promise<void> {
  const spec = {
    '--reference': 'flag',
    '--reference-file': 'value',
    '--out': 'value',
    '--train-steps': 'value',
    '--run-dir': 'value',
    '--budget-s': 'value',
    '--smoke': 'flag',
  } as const;
  const args = readArgs(process.argv.slice(2), spec, { unknown: (a) => `Unknown option ${a}; see the header of bench/gpu.ts.` });
  setLogLevel('warn');
  const started = performance.now();
  const budget = positive('--budget-s', args.values.get('--budget-s') ?? '360', false) * 1000;
  const trainSteps = positive('--train-steps', args.values.get('--train-steps') ?? '300', true);
  const deadline = started + budget;
  const report = await initBackend();
  const say = (s: string): void => void process.stdout.write(`${s}\n`);
  say(`backend: ${describeBackend(report)}`);
  const refFile = args.values.get('--reference-file') ?? path.join(__dirname, 'gpu-reference.json');

  // parity
  const signatures = await paritySignatures();
  if (args.flags.has('--reference')) {
    const gflops: Record<string, number> = {};
    for (const n of [1024, 2048]) gflops[String(n)] = await matMulGflops(n, n === 1024 ? 10 : 3);
    const rows: SpeedRow[] = [];
    for (const [model, images] of [
      ['small', 8],
      ['small', 32],
      ['base', 8],
    ] as [ModelPreset, number][]) {
      for (const variant of ['single-turn', 'muco-k7'] as const) {
        // The base model's 7-turn batch outgrows the wasm heap (4 GiB) in one piece: GradCache chunks of 2 dialogues.
        const row = await trainingSpeed(model, variant, images, 4, model === 'base' && variant === 'muco-k7' ? 2 : null);
        say(`${model} ${variant} ${images} images: ${row.stepSeconds.toFixed(2)} s/step`);
        rows.push(row);
      }
    }
    const ref: Reference = {
      date: new Date().toISOString(),
      backend: describeBackend(report),
      cpu: cpuName(),
      parity: signatures,
      matMulGflops: gflops,
      training: rows,
    };
    fs.writeFileSync(refFile, JSON.stringify(ref, null, 1) + '\n');
    say(`wrote ${refFile}`);
    return;
  }
  const ref = JSON.parse(fs.readFileSync(refFile, 'utf8')) as Reference;
  // The result is written after every part, so a run cut short still leaves what it measured.
  const out = args.values.get('--out') ?? path.join(__dirname, 'results', 'gpu.json');
  fs.mkdirSync(path.dirname(out), { recursive: true });
  const result: Record<string, unknown> = {
    date: new Date().toISOString(),
    device: report.webgpu,
    backend: describeBackend(report),
    host: cpuName(),
    tolerance: TOLERANCE,
    reference: { date: ref.date, backend: ref.backend, cpu: ref.cpu },
    complete: false,
  };
  const save = (part: Record<string, unknown>): void => {
    Object.assign(result, part, { deviceErrors: webgpuErrors(), seconds: (performance.now() - started) / 1000 });
    fs.writeFileSync(out, JSON.stringify(result, null, 1) + '\n');
  };
  const parity: Record<string, ParityResult & { pass: boolean }> = {};
  for (const [name, sig] of Object.entries(signatures)) {
    const r = compareSignatures(ref.parity[name] as StepSignature, sig);
    parity[name] = { ...r, pass: r.lossRelError <= TOLERANCE && r.maxGradRelError <= TOLERANCE && r.maxNormRelError <= TOLERANCE };
    say(
      `parity ${name}: loss ${r.lossRelError.toExponential(2)}, gradients ${r.maxGradRelError.toExponential(2)} (worst ${r.worstVariable}), norms ${r.maxNormRelError.toExponential(2)}`,
    );
  }
  const parityPass = Object.values(parity).every((p) => p.pass) && webgpuErrors().length === 0;
  save({ parityPass, parity });

  // speed
  const gflops: Record<string, number> = {};
  const smoke = args.flags.has('--smoke'); // a minute's check of the bundle itself, on any adapter
  for (const n of smoke ? [256] : [1024, 2048, 4096]) {
    gflops[String(n)] = await matMulGflops(n, n === 4096 ? 10 : 20);
    say(`matMul ${n}²: ${gflops[String(n)]!.toFixed(0)} GFLOP/s`);
  }
  save({ matMulGflops: gflops, cpuMatMulGflops: ref.matMulGflops });
  const training: SpeedRow[] = [];
  const plan: [ModelPreset, number][] = smoke
    ? [['small', 8]]
    : [
        ['small', 8],
        ['small', 32],
        ['small', 128],
        ['base', 8],
        ['base', 32],
        ['base', 128],
      ];
  for (const [model, images] of plan) {
    for (const variant of ['single-turn', 'muco-k7'] as const) {
      if (performance.now() > started + budget * 0.55) break;
      const row = await trainingSpeed(model, variant, images, 5);
      say(`${model} ${variant} ${images} images: ${row.stepSeconds.toFixed(3)} s/step, ${row.pairsPerSec.toFixed(0)} pairs/s`);
      training.push(row);
      save({ training, cpuTraining: ref.training });
    }
  }
  const vsCpu = training.flatMap((g) => {
    const c = ref.training.find((r) => r.model === g.model && r.variant === g.variant && r.imagesPerStep === g.imagesPerStep);
    return c === undefined
      ? []
      : [
          {
            model: g.model,
            variant: g.variant,
            imagesPerStep: g.imagesPerStep,
            gpuStepSeconds: g.stepSeconds,
            cpuStepSeconds: c.stepSeconds,
            speedup: c.stepSeconds / g.stepSeconds,
          },
        ];
  });

  // replay
  save({ speedupVsCpu: vsCpu });
  const runDir = args.values.get('--run-dir');
  const source = runDir === undefined ? REPO_RUN : bundledRun(runDir);
  const maxSteps = smoke ? 2 : trainSteps;
  const replay: ReplayResult = await replayRun(source, { maxSteps, deadline, progress: (partial) => save({ replay: partial }) });
  say(
    `replay of ${replay.run}: ${replay.steps} steps, ${seconds(replay.stepSeconds)} s/step (CPU ${seconds(replay.cpuStepSeconds)}); ` +
      `step-0 loss ${replay.loss[0]?.toFixed(5)} vs CPU ${replay.cpuLoss[0]?.toFixed(5)} (relative error ${replay.firstLossRelError.toExponential(2)})`,
  );
  for (const w of replay.windows) say(`  steps ${w.from}-${w.to - 1}: mean loss ${w.loss.toFixed(3)} (CPU ${w.cpuLoss.toFixed(3)})`);
  for (const v of replay.validation)
    say(
      `  validation at step ${v.step}: MRR ${fmt(v.here.mrr)} (CPU ${fmt(v.cpu.mrr)}), another image ${fmt(v.here.mrrOtherImage)} (CPU ${fmt(v.cpu.mrrOtherImage)})`,
    );
  save({ replay, complete: true });
  say(`wrote ${out}; parity ${parityPass && webgpuErrors().length === 0 ? 'passes' : 'FAILS'}`);
  if (!(parityPass && webgpuErrors().length === 0)) process.exitCode = 1;
}

main().then(
  () => process.exit(process.exitCode ?? 0),
  (err: Error) => {
    process.stderr.write(`${err.stack ?? err.message}\n`);
    process.exit(1);
  },
);
