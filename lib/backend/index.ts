/**
 * The one place that chooses and prepares the TensorFlow.js backend.
 *
 * Order, unless the user asks for one (option `backend`, or the environment variable MUCO_BACKEND):
 *   `tensorflow` (tfjs-node-gpu, then tfjs-node, when they load: native TensorFlow, GPU when CUDA 11 loads)
 *   › `webgpu` (Dawn over Vulkan, lib/backend/webgpu.ts, when a hardware adapter is found)
 *   › `wasm` (with the kernel bridge and the transposed-matMul fix of lib/backend/wasm-fixes.ts)
 *   › `cpu` (pure JS, the reference for every gradient; slow).
 *
 * Importing this module does nothing; `initBackend()` does the work and returns a report of what runs.
 * Seeded tensor initialisation and tensor-leak helpers live here too.
 */
import * as fs from 'fs';
import * as tf from '@tensorflow/tfjs';
import { log } from '../log';
import { Rng } from '../random';
import { isMatMulFixActive, quietCpu, registerKernelBridge, registerMatMulFix, registerSharingKernels } from './wasm-fixes';
import { describeAdapter, registerWebgpu, type WebgpuAdapterReport } from './webgpu';
import { enableNativeBlas, isNativeBlasActive, nativeBlasStatus, type NativeBlasStatus } from './native-blas';

export type BackendName = 'tensorflow' | 'webgpu' | 'wasm' | 'cpu';
export type BackendRequest = BackendName | 'auto';

export interface BackendOptions {
  /** Which backend to use; `auto` tries tensorflow › webgpu › wasm › cpu. Default: MUCO_BACKEND, else `auto`. */
  backend?: BackendRequest;
  /** Apply the wasm kernel bridge and matMul fix (default true; false only to measure stock wasm). */
  wasmFixes?: boolean;
}

export interface BackendReport {
  backend: BackendName;
  requested: BackendRequest;
  /** True when the backend runs on a GPU (native TensorFlow with CUDA, or WebGPU on a hardware adapter). */
  gpu: boolean;
  /** The WebGPU adapter, when the backend is `webgpu`. */
  webgpu: WebgpuAdapterReport | null;
  /** Where the native backend came from (`@tensorflow/tfjs-node-gpu` or `@tensorflow/tfjs-node`), if used. */
  nativePackage: string | null;
  versions: Record<string, string>;
  /**
   * `matMulFix`: transposed matMuls take a fast path — lib/wasm-fixes' explicit transposes on top, or native
   * BLAS taking them as flags (lib/native-blas, `blasTransposes`).
   */
  wasm: { simd: boolean; threads: boolean; bridgedKernels: string[]; matMulFix: boolean; nativeBlas: NativeBlasStatus } | null;
  /** Why the backends tried before this one did not load (empty when the first choice loaded). */
  skipped: string[];
}

const BACKENDS: readonly BackendRequest[] = ['auto', 'tensorflow', 'webgpu', 'wasm', 'cpu'];
const NATIVE_PACKAGES = ['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node'] as const;

let lastReport: BackendReport | null = null;
let bridged: string[] = [];

function requestFromEnv(): BackendRequest {
  const raw = process.env['MUCO_BACKEND'];
  if (raw === undefined || raw === '') return 'auto';
  if ((BACKENDS as readonly string[]).includes(raw)) return raw as BackendRequest;
  throw new Error(`MUCO_BACKEND=${raw} is not a backend; use one of ${BACKENDS.join(', ')}.`);
}

function packageVersion(name: string): string | null {
  try {
    const file = require.resolve(`${name}/package.json`);
    return (JSON.parse(fs.readFileSync(file, 'utf8')) as { version: string }).version;
  } catch {
    return null;
  }
}

/** Try to load the native TensorFlow binding. Returns the package used, or throws with every reason. */
async function loadTensorflow(): Promise<string> {
  const reasons: string[] = [];
  for (const pkg of NATIVE_PACKAGES) {
    try {
      require(pkg);
      // danfojs-node's override maps @tensorflow/tfjs-node to plain tfjs: loading it registers nothing.
      if (tf.findBackend('tensorflow') === null) {
        reasons.push(`${pkg} loaded but registered no 'tensorflow' backend (not the native package)`);
        continue;
      }
      if (!(await tf.setBackend('tensorflow'))) throw new Error('setBackend returned false');
      return pkg;
    } catch (err) {
      reasons.push(`${pkg}: ${(err as Error).message.split('\n')[0]}`);
    }
  }
  throw new Error(
    `The 'tensorflow' backend could not load (${reasons.join('; ')}). It needs @tensorflow/tfjs-node-gpu ` +
      `(CUDA 11.x + cuDNN 8 for the GPU) or @tensorflow/tfjs-node, whose install script downloads libtensorflow: ` +
      `on a machine with internet access run \`npm install-scripts approve @tensorflow/tfjs-node-gpu && npm rebuild ` +
      `@tensorflow/tfjs-node-gpu\`. Otherwise use MUCO_BACKEND=wasm.`,
  );
}

function nativeUsesGpu(): boolean {
  const backend = tf.backend() as unknown as { binding?: { isUsingGpuDevice?: () => boolean } };
  try {
    return backend.binding?.isUsingGpuDevice?.() ?? false;
  } catch {
    return false;
  }
}

async function loadWasm(fixes: boolean): Promise<void> {
  try {
    require('@tensorflow/tfjs-backend-wasm');
  } catch (err) {
    throw new Error(
      `The 'wasm' backend could not load: ${(err as Error).message}. Install it with ` +
        '`npm install @tensorflow/tfjs-backend-wasm@4.22.0`, or use MUCO_BACKEND=cpu.',
    );
  }
  if (fixes) {
    // Before initialisation: the re-registered matMul kernels keep the originals' setup functions.
    if (bridged.length === 0) bridged = registerKernelBridge();
    registerSharingKernels();
    // Under native BLAS on top (a second initBackend), the fix would wrap it again at every call: it is only
    // needed beneath (for products that fall back to wasm) or on top when transposes are not BLAS flags.
    if (!isNativeBlasActive()) registerMatMulFix();
    enableNativeBlas(); // OpenBLAS matMul kernels (lib/backend/native-blas.ts); a one-line notice when not built
  }
  if (!(await tf.setBackend('wasm'))) throw new Error("The 'wasm' backend failed to initialise.");
}

async function loadWebgpu(allowSoftware: boolean): Promise<WebgpuAdapterReport> {
  const adapter = await registerWebgpu(allowSoftware);
  if (!(await tf.setBackend('webgpu'))) throw new Error(`The 'webgpu' backend failed to initialise on ${describeAdapter(adapter)}.`);
  return adapter;
}

async function activate(name: BackendName, fixes: boolean, requested: BackendRequest): Promise<string | WebgpuAdapterReport | null> {
  switch (name) {
    case 'tensorflow':
      return loadTensorflow();
    case 'webgpu':
      return loadWebgpu(requested === 'webgpu');
    case 'wasm':
      await loadWasm(fixes);
      return null;
    case 'cpu':
      quietCpu(tf.engine().findBackend('cpu') ?? {});
      if (!(await tf.setBackend('cpu'))) throw new Error("The 'cpu' backend failed to initialise.");
      return null;
  }
}

/**
 * Choose, prepare and activate the backend, and report what runs. Safe to call again: a later call with
 * another request switches backends.
 */
export async function initBackend(options: BackendOptions = {}): Promise<BackendReport> {
  const requested = options.backend ?? requestFromEnv();
  if (!BACKENDS.includes(requested)) {
    throw new Error(`Unknown backend '${String(requested)}'; use one of ${BACKENDS.join(', ')}.`);
  }
  const fixes = options.wasmFixes ?? true;
  const order: BackendName[] = requested === 'auto' ? ['tensorflow', 'webgpu', 'wasm', 'cpu'] : [requested];
  const skipped: string[] = [];
  for (const name of order) {
    try {
      const loaded = await activate(name, fixes, requested);
      await tf.ready();
      const nativePackage = typeof loaded === 'string' ? loaded : null;
      const adapter = loaded !== null && typeof loaded === 'object' ? loaded : null;
      lastReport = makeReport(name, requested, nativePackage, adapter, skipped);
      log.debug(`backend: ${describeBackend(lastReport)}`);
      return lastReport;
    } catch (err) {
      if (requested !== 'auto') throw err;
      skipped.push(`${name}: ${(err as Error).message.split('. ')[0]}`);
    }
  }
  throw new Error(`No tfjs backend could be initialised: ${skipped.join(' | ')}`);
}

function makeReport(
  backend: BackendName,
  requested: BackendRequest,
  nativePackage: string | null,
  adapter: WebgpuAdapterReport | null,
  skipped: string[],
): BackendReport {
  const versions: Record<string, string> = { node: process.versions.node, tfjs: tf.version.tfjs };
  const packages = backend === 'webgpu' ? ['@tensorflow/tfjs-backend-webgpu', 'webgpu'] : ['@tensorflow/tfjs-backend-wasm', nativePackage];
  for (const pkg of packages) {
    const v = pkg === null ? null : packageVersion(pkg);
    if (pkg !== null && v !== null) versions[pkg] = v;
  }
  const wasm =
    backend === 'wasm'
      ? {
          simd: tf.env().getBool('WASM_HAS_SIMD_SUPPORT'),
          threads: tf.env().getBool('WASM_HAS_MULTITHREAD_SUPPORT'),
          bridgedKernels: bridged,
          matMulFix: isMatMulFixActive() || (nativeBlasStatus().active && isNativeBlasActive()),
          nativeBlas: nativeBlasStatus(),
        }
      : null;
  const gpu = (backend === 'tensorflow' && nativeUsesGpu()) || (adapter !== null && !adapter.fallback);
  return { backend, requested, gpu, webgpu: adapter, nativePackage, versions, wasm, skipped };
}

/** What a results file records about where it ran: the backend's name and its one-line description. */
export function backendMetadata(): { backend: string; backendDetail?: string } {
  return lastReport === null ? { backend: 'unknown' } : { backend: lastReport.backend, backendDetail: describeBackend(lastReport) };
}

/** The report of the last `initBackend`, or null before the first. */
export function backendReport(): BackendReport | null {
  return lastReport;
}

/** One line describing a report, e.g. `wasm (SIMD, 1 thread, 12 bridged kernels, matMul fix) tfjs 4.22.0`. */
export function describeBackend(r: BackendReport): string {
  const parts: string[] = [];
  if (r.wasm !== null) {
    parts.push(r.wasm.simd ? 'SIMD' : 'no SIMD', r.wasm.threads ? 'threads' : '1 thread');
    parts.push(`${r.wasm.bridgedKernels.length} bridged kernels`, r.wasm.matMulFix ? 'matMul fix' : 'stock matMul');
    if (r.wasm.nativeBlas.active)
      parts.push(`native BLAS, ${r.wasm.nativeBlas.threads} threads${r.wasm.nativeBlas.fused ? `, fused kernels (${r.wasm.nativeBlas.fused})` : ''}`);
  }
  if (r.backend === 'tensorflow') parts.push(`${r.nativePackage ?? '?'}`, r.gpu ? 'GPU' : 'CPU only');
  if (r.webgpu !== null) parts.push(describeAdapter(r.webgpu), `${r.webgpu.missingKernels.length} cpu kernels absent`);
  const detail = parts.length > 0 ? ` (${parts.join(', ')})` : '';
  return `${r.backend}${detail}, tfjs ${r.versions['tfjs'] ?? '?'}, node ${r.versions['node'] ?? '?'}`;
}

// ---------------------------------------------------------------------------------------------------------
// Seeding: tensors initialised from our own seeded generator are identical on every backend.

export type InitKind = 'normal' | 'uniform' | 'zeros' | 'ones';

/** A float32 tensor of `shape` drawn from `rng`: normal(0, scale²), uniform(−scale, scale), zeros or ones. */
export function seededTensor(shape: number[], rng: Rng, kind: InitKind = 'normal', scale = 1): tf.Tensor {
  const size = shape.reduce((a, b) => a * b, 1);
  const values = new Float32Array(size);
  for (let i = 0; i < size; i++) {
    switch (kind) {
      case 'normal':
        values[i] = rng.normal() * scale;
        break;
      case 'uniform':
        values[i] = (2 * rng.next() - 1) * scale;
        break;
      case 'zeros':
        values[i] = 0;
        break;
      case 'ones':
        values[i] = 1;
        break;
    }
  }
  return tf.tensor(values, shape, 'float32');
}

// ---------------------------------------------------------------------------------------------------------
// Tensor hygiene.

/** Number of tensors a synchronous or asynchronous function leaves allocated (its result included). */
export async function tensorsLeftBy<T>(fn: () => T | Promise<T>): Promise<{ result: T; leaked: number }> {
  const before = tf.memory().numTensors;
  const result = await fn();
  return { result, leaked: tf.memory().numTensors - before };
}

/** Run `fn` and throw if it leaves more than `allowed` tensors behind (e.g. the tensors it returns). */
export async function assertNoLeak<T>(label: string, fn: () => T | Promise<T>, allowed = 0): Promise<T> {
  const { result, leaked } = await tensorsLeftBy(fn);
  if (leaked > allowed) {
    throw new Error(`${label} leaked ${leaked - allowed} tensor(s) (${leaked} left, ${allowed} allowed): wrap it in tf.tidy or dispose.`);
  }
  return result;
}
