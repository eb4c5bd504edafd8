/**
 * `npm run bench:backend`: the CPU backends side by side (issue #9): median time of a 512×512 matMul and of one
 * training step of a small transformer block (B=32, T=64, d=128, 4 heads, MLP 512, Adam) on `cpu`, stock
 * `wasm`, `wasm` + lib/wasm-fixes, and `wasm` + fixes + native OpenBLAS (lib/native-blas); the machine's sgemm
 * peak at 1024²; a matMul size sweep (fixed wasm vs native, the evidence for `minMacs`); and a kernel profile
 * of the block step on the fixed and the native path. Kernel registrations are global, so each variant runs in
 * its own child process. Writes bench/results/backend.json and prints a table. Not run by tests.
 */
import { fork } from 'child_process';
import { execSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { initBackend, describeBackend, seededTensor } from '../lib/backend';
import { enableNativeBlas } from '../lib/backend/native-blas';
import { Rng } from '../lib/random';
import { BLOCK, makeStep } from './block';
import { sgemmPeak } from './peak';
import { KernelShare, kernelProfile, median } from './profile';

/**
 * `wasm-native`: the default arrangement (transposes as BLAS flags, `blasTransposes`);
 * `wasm-native-fix`: lib/wasm-fixes' explicit transposes on top of the native kernels (the earlier default),
 * what copying transposed operands costs.
 */
type Variant = 'cpu' | 'wasm-stock' | 'wasm-fixed' | 'wasm-native' | 'wasm-native-fix';
const VARIANTS: Variant[] = ['cpu', 'wasm-stock', 'wasm-fixed', 'wasm-native', 'wasm-native-fix'];

/** PyTorch 1.13 + OpenBLAS (1 thread) measured 37 ms per block step on this machine kind; `npm run bench` measures it side by side. */
const TORCH = {
  matMul512Ms: 1.5,
  stepMs: 37,
  note: 'PyTorch 1.13 CPU, OpenBLAS, 1 thread (a reference measurement on a 2-core machine of this kind; npm run bench measures the twin side by side)',
};
/** Timed repetitions per variant (after warm-up): the cpu backend needs seconds per step. */
const REPS: Record<Variant, { matMul: number; step: number }> = {
  cpu: { matMul: 3, step: 2 },
  'wasm-stock': { matMul: 15, step: 4 },
  'wasm-fixed': { matMul: 30, step: 10 },
  'wasm-native': { matMul: 100, step: 30 },
  'wasm-native-fix': { matMul: 100, step: 30 },
};
/** matMul shapes of the sweep: [m, k, n] squares plus the block's own products. */
const SWEEP: { label: string; a: number[]; b: number[]; ta: boolean; tb: boolean }[] = [
  ...[4, 8, 16, 32, 64, 128, 256].map((s) => ({ label: `${s}²`, a: [s, s], b: [s, s], ta: false, tb: false })),
  { label: 'qkv [2048,128]·[128,384]', a: [2048, 128], b: [128, 384], ta: false, tb: false },
  { label: 'dW [2048,128]ᵀ·[2048,512]', a: [2048, 128], b: [2048, 512], ta: true, tb: false },
  { label: 'dX [2048,512]·[128,512]ᵀ', a: [2048, 512], b: [128, 512], ta: false, tb: true },
  { label: 'scores [128,64,32]·[128,64,32]ᵀ', a: [128, 64, 32], b: [128, 64, 32], ta: false, tb: true },
  { label: 'context [128,64,64]·[128,64,32]', a: [128, 64, 64], b: [128, 64, 32], ta: false, tb: false },
];

/** Wall times (ms) of `fn` over `reps` runs, each ended by a host read so async backends finish. */
function times(fn: () => tf.Tensor | void, reps: number, warmup = 1): number[] {
  const run = (): void => {
    const out = fn();
    if (out !== undefined) {
      out.dataSync();
      out.dispose();
    }
  };
  for (let i = 0; i < warmup; i++) run();
  const ms: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t0 = process.hrtime.bigint();
    run();
    ms.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  return ms;
}

/** Median wall time (ms): the figure we report. */
const timeMs = (fn: () => tf.Tensor | void, reps: number, warmup = 1): number => median(times(fn, reps, warmup));

// ---------------------------------------------------------------------------------------------------------
// One variant, in a child process.

async function runVariant(variant: Variant): Promise<Record<string, unknown>> {
  const backend = variant === 'cpu' ? 'cpu' : 'wasm';
  const native = variant === 'wasm-native' || variant === 'wasm-native-fix';
  const report = await initBackend({ backend, wasmFixes: variant !== 'wasm-stock' });
  if (native !== (report.wasm?.nativeBlas.active === true)) {
    throw new Error(
      `variant ${variant}: native BLAS active = ${String(report.wasm?.nativeBlas.active)} (${report.wasm?.nativeBlas.reason ?? ''}); build it with \`node scripts/build-native.js\`.`,
    );
  }
  let described = describeBackend(report);
  if (variant === 'wasm-native-fix') {
    enableNativeBlas({ blasTransposes: false });
    described += ' + wasm-fixes transposes on top (no BLAS transpose flags)';
  }
  const reps = REPS[variant];
  const rng = new Rng(1);
  const a = seededTensor([512, 512], rng);
  const b = seededTensor([512, 512], rng);
  const matMulTimes = times(() => tf.matMul(a, b), reps.matMul);
  const step = makeStep();
  const stepTimes = times(step, reps.step, 2);
  // The minimum beside the median: on a shared machine it estimates the uncontended time.
  const result: Record<string, unknown> = {
    backend: described,
    matMul512Ms: median(matMulTimes),
    stepMs: median(stepTimes),
    matMul512MsMin: Math.min(...matMulTimes),
    stepMsMin: Math.min(...stepTimes),
  };
  if (variant === 'wasm-native') {
    // On a shared 2-core machine a second OpenBLAS thread can wait on a busy core: the 1-thread step for reference.
    enableNativeBlas({ threads: 1 });
    result['stepMs1Thread'] = timeMs(step, reps.step, 2);
    enableNativeBlas();
  }
  if (variant !== 'cpu' && variant !== 'wasm-stock') {
    result['sweep'] = SWEEP.map((s) => {
      const [x, y] = [seededTensor(s.a, rng), seededTensor(s.b, rng)];
      const ms = timeMs(() => tf.matMul(x, y, s.ta, s.tb), 20, 2);
      tf.dispose([x, y]);
      return { label: s.label, ms };
    });
    result['profile'] = (await kernelProfile(step)).slice(0, 12);
  }
  if (variant === 'wasm-native') result['peak'] = sgemmPeak();
  return result;
}

function runChild(variant: Variant): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const env = { ...process.env, MUCO_NATIVE: variant.startsWith('wasm-native') ? '1' : '0', MUCO_LOG: 'warn' };
    const child = fork(__filename, ['--variant', variant], { env, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    let result: Record<string, unknown> | null = null;
    child.on('message', (m) => (result = m as Record<string, unknown>));
    child.on('exit', (code) => (code === 0 && result !== null ? resolve(result) : reject(new Error(`variant ${variant} exited with ${code}`))));
  });
}

function gitSha(): string {
  try {
    return execSync('git rev-parse --short HEAD', { encoding: 'utf8' }).trim();
  } catch {
    return 'unknown';
  }
}

const fmt = (x: unknown, d = 2): string => (typeof x === 'number' ? x.toFixed(d) : '-');

async function main(): Promise<void> {
  const results: Record<string, Record<string, unknown>> = {};
  for (const v of VARIANTS) {
    process.stdout.write(`running ${v}…\n`);
    results[v] = await runChild(v);
  }
  const cpu = os.cpus();
  const out = {
    metadata: {
      date: new Date().toISOString(),
      git: gitSha(),
      node: process.versions.node,
      tfjs: tf.version.tfjs,
      cpu: `${cpu[0]?.model ?? '?'} × ${cpu.length}`,
      loadAverage: os.loadavg().map((x) => Math.round(x * 100) / 100),
      block: BLOCK,
      torchReference: TORCH,
    },
    results,
  };
  const file = path.join(__dirname, 'results', 'backend.json');
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, JSON.stringify(out, null, 2) + '\n');
  const rows = VARIANTS.map((v) => {
    const r = results[v] as Record<string, number>;
    const gflops = (2 * 512 ** 3) / ((r['matMul512Ms'] as number) * 1e6);
    return `${v.padEnd(18)} ${fmt(r['matMul512Ms']).padStart(9)} ${fmt(gflops, 1).padStart(8)} ${fmt(r['stepMs'], 1).padStart(10)} ${fmt(r['stepMsMin'], 1).padStart(9)} ${fmt((r['stepMs'] as number) / TORCH.stepMs).padStart(8)}`;
  });
  const native = results['wasm-native'] as { peak?: { gflops: number; threads: number }; stepMs1Thread?: number };
  const peak = native.peak;
  type Sweep = { label: string; ms: number }[];
  const sweeps = (['wasm-fixed', 'wasm-native', 'wasm-native-fix'] as const).map((v) => (results[v] as { sweep: Sweep }).sweep);
  const sweepRows = (sweeps[0] ?? []).map((row, i) => `${row.label.padEnd(34)}${sweeps.map((sw) => fmt(sw[i]?.ms, 3).padStart(10)).join('')}`);
  const profile = (v: Variant): string =>
    ((results[v] as { profile: KernelShare[] }).profile ?? [])
      .slice(0, 8)
      .map((k) => `${k.kernel} ${fmt(k.ms, 1)}`)
      .join(', ');
  process.stdout.write(
    `\nvariant            512² ms   GFLOP/s    step ms  (min ms)  ×torch\n${rows.join('\n')}\n` +
      `torch (ref)        ${fmt(TORCH.matMul512Ms).padStart(9)} ${fmt((2 * 512 ** 3) / (TORCH.matMul512Ms * 1e6), 1).padStart(8)} ${fmt(TORCH.stepMs, 1).padStart(10)} ${'-'.padStart(9)} ${fmt(1).padStart(8)}\n` +
      `wasm-native step with 1 OpenBLAS thread: ${fmt(native.stepMs1Thread, 1)} ms\n` +
      `\nmatMul sweep (ms)                      fixed    native  native+fix\n${sweepRows.join('\n')}\n` +
      `\nkernel ms per step, wasm-fixed:        ${profile('wasm-fixed')}\n` +
      `kernel ms per step, wasm-native:       ${profile('wasm-native')}\n` +
      `kernel ms per step, wasm-native-fix:   ${profile('wasm-native-fix')}\n\n` +
      `native sgemm peak at 1024²: ${fmt(peak?.gflops, 1)} GFLOP/s (${peak?.threads ?? '?'} threads)\n` +
      `load average at the end: ${os
        .loadavg()
        .map((x) => x.toFixed(2))
        .join(' ')} (other work on the machine inflates every time)\n` +
      `wrote ${path.relative(process.cwd(), file)}\n`,
  );
}

const at = process.argv.indexOf('--variant');
if (at >= 0) {
  const variant = process.argv[at + 1] as Variant;
  runVariant(variant)
    .then((r) => (process.send !== undefined ? process.send(r, () => process.exit(0)) : process.stdout.write(`${JSON.stringify(r, null, 1)}\n`)))
    .catch((err: Error) => {
      process.stderr.write(`${variant}: ${err.message}\n`);
      process.exit(1);
    });
} else {
  main().catch((err: Error) => {
    process.stderr.write(`${err.message}\n`);
    process.exit(1);
  });
}
