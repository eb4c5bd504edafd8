/**
 * The machine's matMul peak as our benchmarks measure it: GFLOP/s of the native OpenBLAS sgemm at 1024²,
 * called directly (no tfjs in the loop).
 */
import { nativeBlasAddon } from '../lib/backend/native-blas';
import { Rng } from '../lib/random';

export interface Peak {
  gflops: number;
  ms: number;
  threads: number;
  openblas: string;
}

function medianMs(fn: () => void, reps: number, warmup: number): number {
  for (let i = 0; i < warmup; i++) fn();
  const ms: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t0 = process.hrtime.bigint();
    fn();
    ms.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  ms.sort((a, b) => a - b);
  return ms[Math.floor(ms.length / 2)] as number;
}

/** Throws when the native addon is not built (`node scripts/build-native.js`). */
export function sgemmPeak(n = 1024, reps = 20): Peak {
  const lib = nativeBlasAddon();
  if (lib === null) throw new Error('The native BLAS addon is not built: run `node scripts/build-native.js` (needs libopenblas-dev).');
  const heap = new Float32Array(3 * n * n);
  const rng = new Rng(2);
  for (let i = 0; i < 2 * n * n; i++) heap[i] = rng.normal();
  const ms = medianMs(() => lib.gemm(heap.buffer, 0, 4 * n * n, 8 * n * n, 1, null, null, n, n, n, false, false), reps, 2);
  const info = lib.info();
  return { gflops: (2 * n ** 3) / (ms * 1e6), ms, threads: info.threads, openblas: `${info.config} (${info.corename})` };
}
