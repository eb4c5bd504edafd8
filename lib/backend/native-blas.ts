/**
 * Native kernels for the tfjs `wasm` backend: loading the N-API addon in native/ (OpenBLAS `cblas_sgemm`, pthread
 * build, every core; a float64-accumulated reduction; a strided copy; built by scripts/build-native.js at
 * `npm install`), its configuration, and registering the kernels of lib/backend/native-kernels.ts.
 *
 * The wasm backend keeps every tensor in one WebAssembly.Memory at `dataIdMap.get(dataId).memoryOffset`. We hand
 * that ArrayBuffer (re-read on every call: memory growth detaches it) and byte offsets to the addon, which
 * computes C = op(A)·op(B) per batch matrix in place: no copies. `enableNativeBlas` re-registers the wasm
 * `BatchMatMul`, `_FusedMatMul`, `Sum`, `Mean`, `Slice` and `SplitV` kernels; the kernels registered before
 * (lib/wasm-fixes' or stock) remain the fallback for what we do not cover: other dtypes, empty tensors, odd
 * fused epilogues, non-contiguous reduction axes, and products below `minMacs`. Optional by design: when the
 * addon is missing, everything runs as before. MUCO_NATIVE=0 disables it; MUCO_NATIVE_THREADS sets the threads.
 */
import * as os from 'os';
import * as path from 'path';
import * as fs from 'fs';
import * as tf from '@tensorflow/tfjs';
import { log } from '../log';
import { isMatMulFixActive, registerMatMulFix } from './wasm-fixes';
import { registerFusedKernels } from './native-fused';

import { MATMUL_KERNELS, MEMORY_KERNELS, nativeKernelFactories, type NativeBlasAddon, type NativeKernelName } from './native-kernels';

export { nativeBlasStats, type NativeBlasAddon } from './native-kernels';

type KernelFunc = tf.KernelConfig['kernelFunc'];

export interface NativeBlasConfig {
  /** OpenBLAS threads. Default: MUCO_NATIVE_THREADS, else the machine's cores. */
  threads: number;
  /**
   * Products with fewer multiply-adds (batch·m·n·k) stay on the previous kernel. 0: bench/backend.ts' sweep on
   * 2 AVX-512 cores found OpenBLAS faster than XNNPACK at every size down to 4×4×4.
   */
  minMacs: number;
  /**
   * Also register native `Sum` / `Mean` (bias and norm gradients) and `Slice` / `SplitV` (tfjs-wasm copies the
   * whole input out of the heap for every slice).
   */
  memoryKernels: boolean;
  /**
   * Hand transposes to BLAS as flags (no copies; default) instead of keeping lib/wasm-fixes' explicit transposes
   * on top (each transposed operand copied by the wasm Transpose kernel first: ≈ 13% of the block step).
   */
  blasTransposes: boolean;
}

/** The defaults, in one place. */
export function defaultNativeBlasConfig(): NativeBlasConfig {
  const fromEnv = Number(process.env['MUCO_NATIVE_THREADS']);
  const cores = typeof os.availableParallelism === 'function' ? os.availableParallelism() : os.cpus().length;
  return {
    threads: Number.isInteger(fromEnv) && fromEnv > 0 ? fromEnv : Math.max(1, cores),
    minMacs: 0,
    memoryKernels: true,
    blasTransposes: true,
  };
}

/**
 * What `enableNativeBlas` achieved; `reason` says why it is inactive. `fused`: the instruction set of the fused
 * norm / softmax / gate kernels (lib/native-fused), null when the addon predates them. Goes into the BackendReport.
 */
export type NativeBlasStatus = { active: boolean; threads: number; reason?: string; fused?: string | null };

let addon: NativeBlasAddon | null = null;
let loadFailure: string | null = null;
let noticeGiven = false;
let config: NativeBlasConfig = defaultNativeBlasConfig();
let status: NativeBlasStatus = { active: false, threads: 0, reason: 'not enabled' };

/** The kernels ours fall back to (first seen per name); our native kernels; the fix wrappers placed over them. */
const below = new Map<NativeKernelName, tf.KernelConfig>();
const natives = new Set<KernelFunc>();
const wrappers = new Set<KernelFunc>();

/**
 * Where the addon lives: MUCO_NATIVE_ADDON if set, else native/build/Release, which is `../native` from lib/
 * (tsx) and from dist/ (compiled) alike.
 */
export function nativeAddonPath(): string {
  const fromEnv = process.env['MUCO_NATIVE_ADDON'];
  if (fromEnv !== undefined && fromEnv !== '') return path.resolve(fromEnv);
  return path.join(__dirname, '..', '..', 'native', 'build', 'Release', 'muco_blas.node');
}

/** Load the addon once. Returns it, or the reason it cannot load. */
export function loadNativeBlas(): NativeBlasAddon | string {
  if (addon !== null) return addon;
  if (loadFailure !== null) return loadFailure;
  const file = nativeAddonPath();
  if (!fs.existsSync(file)) {
    loadFailure = 'addon not built (needs libopenblas-dev; build it with `node scripts/build-native.js`)';
    return loadFailure;
  }
  // OpenBLAS' idle workers spin ~2^28 cycles (~0.1 s) after each call by default: between the products of a
  // training step they would hold the other core, which on a shared 2-core machine halved the step rate
  // (measured). 2^4 cycles: they sleep at once and wake per product (microseconds). Read once, at library load.
  if (process.env['OPENBLAS_THREAD_TIMEOUT'] === undefined) process.env['OPENBLAS_THREAD_TIMEOUT'] = '4';
  try {
    const loaded = require(file) as Partial<NativeBlasAddon>;
    const missing = ['gemm', 'epilogue', 'reduce', 'slice', 'setThreads', 'info'].filter((f) => typeof loaded[f as keyof NativeBlasAddon] !== 'function');
    if (missing.length > 0) {
      loadFailure = `addon is outdated (lacks ${missing.join(', ')}): rebuild it with \`node scripts/build-native.js\``;
      return loadFailure;
    }
    addon = loaded as NativeBlasAddon;
    return addon;
  } catch (err) {
    loadFailure = `addon failed to load: ${(err as Error).message.split('\n')[0]}`;
    return loadFailure;
  }
}

/** The loaded addon (for benchmarks of the raw sgemm), or null when it is not available. */
export function nativeBlasAddon(): NativeBlasAddon | null {
  const a = loadNativeBlas();
  return typeof a === 'string' ? null : a;
}

// ---------------------------------------------------------------------------------------------------------
// Enabling.

function inactive(reason: string): NativeBlasStatus {
  status = { active: false, threads: 0, reason };
  return status;
}

/**
 * Register the native `BatchMatMul`, `_FusedMatMul` (and `Sum`, `Mean`, `Slice`, `SplitV`) on wasm, over the kernels registered before
 * (lib/wasm-fixes' or stock), which stay the fallback. Idempotent; a later call updates the config (omitted keys
 * return to their defaults). Never throws for a missing addon: it reports why and logs a one-line notice once.
 */
export function enableNativeBlas(overrides: Partial<NativeBlasConfig> = {}): NativeBlasStatus {
  if (process.env['MUCO_NATIVE'] === '0') return inactive('disabled by MUCO_NATIVE=0');
  const loaded = loadNativeBlas();
  if (typeof loaded === 'string') {
    if (!noticeGiven) log.info(`native BLAS off, plain wasm matMul: ${loaded}`);
    noticeGiven = true;
    return inactive(loaded);
  }
  config = resolveConfig(overrides);
  loaded.setThreads(config.threads);
  if (!isNativeBlasActive()) install(loaded);
  const fused = typeof loaded.norm === 'function'; // an addon built before them: tf ops instead
  if (fused) registerFusedKernels(loaded);
  const info = loaded.info();
  status = { active: true, threads: info.threads, fused: fused ? (info.fused ?? 'baseline') : null };
  return status;
}

function install(lib: NativeBlasAddon): void {
  const factories = nativeKernelFactories(lib, () => config.minMacs);
  for (const name of [...MATMUL_KERNELS, ...MEMORY_KERNELS]) {
    const current = tf.getKernel(name, 'wasm');
    if (current === undefined) throw new Error(`wasm kernel ${name} is not registered: import @tensorflow/tfjs-backend-wasm first.`);
    // Ours, or a wasm-fixes wrapper around ours (initBackend re-applies the fix), is not a new fallback.
    const f = current.kernelFunc;
    const isMatMul = (MATMUL_KERNELS as readonly string[]).includes(name);
    const wrapsOurs = isMatMul && below.has(name) && f !== below.get(name)?.kernelFunc && isMatMulFixActive();
    if (!natives.has(f) && !wrappers.has(f) && !wrapsOurs) below.set(name, current);
    const base = below.get(name) as tf.KernelConfig;
    tf.unregisterKernel(name, 'wasm');
    if (!isMatMul && !config.memoryKernels) {
      tf.registerKernel(base);
      continue;
    }
    const kernelFunc = factories[name](base.kernelFunc);
    tf.registerKernel({ ...base, kernelFunc });
    natives.add(kernelFunc);
  }
  if (!config.blasTransposes) {
    // The transposed-matMul fix goes on top: it transposes operands with the wasm Transpose kernel first.
    registerMatMulFix();
    for (const name of MATMUL_KERNELS) wrappers.add((tf.getKernel(name, 'wasm') as tf.KernelConfig).kernelFunc);
  }
}

/** Defaults plus overrides; unknown keys and wrong types are errors that name the key. */
function resolveConfig(overrides: Partial<NativeBlasConfig>): NativeBlasConfig {
  const defaults = defaultNativeBlasConfig() as unknown as Record<string, unknown>;
  for (const [key, value] of Object.entries(overrides)) {
    if (!(key in defaults)) throw new Error(`Unknown native BLAS option '${key}'; use ${Object.keys(defaults).join(', ')}.`);
    if (typeof value !== typeof defaults[key]) throw new Error(`Native BLAS option ${key} must be a ${typeof defaults[key]}, got ${String(value)}.`);
  }
  const resolved = { ...defaults, ...overrides } as NativeBlasConfig;
  if (!Number.isInteger(resolved.threads) || resolved.threads < 1)
    throw new Error(`Native BLAS option threads must be an integer >= 1, got ${resolved.threads}.`);
  if (!(resolved.minMacs >= 0)) throw new Error(`Native BLAS option minMacs must be >= 0, got ${resolved.minMacs}.`);
  return resolved;
}

/**
 * True when the registered wasm kernels are ours in the configured arrangement: native matMul on top
 * (`blasTransposes`) or under the transposed-matMul fix, native Sum/Mean/Slice/SplitV iff `memoryKernels`.
 */
export function isNativeBlasActive(): boolean {
  const registered = (name: string): KernelFunc | undefined => tf.getKernel(name, 'wasm')?.kernelFunc;
  const matMuls = MATMUL_KERNELS.every((name) => {
    const f = registered(name);
    return f !== undefined && (config.blasTransposes ? natives.has(f) : wrappers.has(f) && isMatMulFixActive());
  });
  const others = MEMORY_KERNELS.every((name) => natives.has(registered(name) as KernelFunc) === config.memoryKernels);
  return matMuls && others;
}

/** The status of the last `enableNativeBlas`, with the threads OpenBLAS uses. */
export function nativeBlasStatus(): NativeBlasStatus {
  return { ...status };
}

// ---------------------------------------------------------------------------------------------------------
// The optimizer update (lib/optim.ts): one native call per parameter instead of ~15 wasm kernels.

/** AdamW hyper-parameters of one update, with the bias corrections and the decay factor worked out. */
export interface AdamWUpdate {
  lr: number;
  beta1: number;
  beta2: number;
  /** 1 − β₁ᵗ and 1 − β₂ᵗ. */
  c1: number;
  c2: number;
  eps: number;
  /** 1 − lr·λ, or 1 without weight decay. */
  decay: number;
}

export const nativeAdamWStats = { updates: 0 };

interface WasmData {
  memoryOffset: number;
  refCount?: number;
}

/**
 * Update p, m, v in place with the native AdamW kernel when it can: the wasm backend is current with the
 * addon active and a plain heap, all four are float32 of one size, and p, m, v each own their buffer (no other
 * tensor shares it, so writing in place changes nothing else). Returns false (nothing done) otherwise, and the
 * caller runs the same update with tf ops.
 */
export function nativeAdamWUpdate(p: tf.Tensor, m: tf.Tensor, v: tf.Tensor, g: tf.Tensor, h: AdamWUpdate): boolean {
  if (addon === null || !status.active || tf.getBackend() !== 'wasm') return false;
  const n = p.size;
  if ([p, m, v, g].some((t) => t.dtype !== 'float32' || t.size !== n) || n === 0) return false;
  const backend = tf.backend() as unknown as { wasm: { HEAPU8: Uint8Array }; dataIdMap: { get(id: object): WasmData | undefined } };
  const heap = backend.wasm.HEAPU8.buffer;
  if (!(heap instanceof ArrayBuffer)) return false;
  const engineInfo = (tf.engine() as unknown as { state: { tensorInfo: { get(id: object): { refCount: number } | undefined } } }).state.tensorInfo;
  const offsets: number[] = [];
  for (const [i, t] of [p, m, v, g].entries()) {
    const data = backend.dataIdMap.get(t.dataId);
    if (data === undefined) return false;
    const owned = i === 3 || ((data.refCount ?? 1) === 1 && (engineInfo.get(t.dataId)?.refCount ?? 1) === 1);
    if (!owned) return false;
    offsets.push(data.memoryOffset);
  }
  addon.adamw(
    heap,
    offsets[0] as number,
    offsets[1] as number,
    offsets[2] as number,
    offsets[3] as number,
    n,
    h.lr,
    h.beta1,
    h.beta2,
    h.c1,
    h.c2,
    h.eps,
    h.decay,
  );
  nativeAdamWStats.updates++;
  return true;
}
