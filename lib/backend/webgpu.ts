/**
 * The WebGPU backend on Node: Google's Dawn (`webgpu` package, a prebuilt `dawn.node`) under
 * `@tensorflow/tfjs-backend-webgpu`. Dawn drives NVIDIA and AMD cards through Vulkan, so the only system
 * requirements are the Vulkan loader (`libvulkan1`) and the card's Vulkan driver (docs/gpu.md).
 *
 * The tfjs package registers itself only where `navigator.gpu` exists (browsers), so we register it here with
 * an adapter we chose and can report. `auto` (lib/backend/index.ts) refuses software adapters (Mesa's llvmpipe),
 * which are slower than our wasm path; asking for `webgpu` explicitly accepts them, which is how the parity
 * tests run on machines without a GPU.
 *
 * What WebGPU on Node cannot do: read a tensor synchronously (`dataSync`, tfjs reads through an
 * OffscreenCanvas that Node lacks). Our training and evaluation read with `await data()`; a kernel bridge
 * like wasm's (lib/backend/wasm-fixes.ts) would need synchronous reads, so kernels missing on WebGPU are listed in
 * the report instead, and none of them is one our models use (`test/webgpu.test.ts` checks the list).
 */
import * as fs from 'fs';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { kernelsMissingOn } from './wasm-fixes';

/** The adapter Dawn chose, as `npm run backend` reports it. */
export interface WebgpuAdapterReport {
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  /** True for a software adapter (llvmpipe, SwiftShader). */
  fallback: boolean;
  /** The limits tfjs asks the device for, as the adapter grants them. */
  limits: Record<string, number>;
  /** Kernels the cpu backend has and WebGPU lacks (none of them used by our models). */
  missingKernels: string[];
}

export interface GpuAdapterLike {
  info?: { vendor?: string; architecture?: string; device?: string; description?: string; isFallbackAdapter?: boolean };
  features: { has(name: string): boolean };
  limits: Record<string, number>;
  requestDevice(descriptor: object): Promise<unknown>;
}

/** What we use of the `webgpu` package (Dawn). */
export interface DawnModule {
  create(flags: string[]): { requestAdapter(options?: object): Promise<GpuAdapterLike | null> };
  globals: Record<string, unknown>;
}

/** The device limits tfjs-backend-webgpu asks for (it would otherwise get WebGPU's small defaults). */
const LIMITS = [
  'maxStorageBuffersPerShaderStage',
  'maxComputeWorkgroupStorageSize',
  'maxComputeWorkgroupsPerDimension',
  'maxStorageBufferBindingSize',
  'maxBufferSize',
  'maxComputeWorkgroupSizeX',
  'maxComputeInvocationsPerWorkgroup',
] as const;

let registered: WebgpuAdapterReport | null = null;
/** A stand-in for the `webgpu` package (`withDawn`), or null for the package itself. */
let dawnOverride: DawnModule | null = null;

/** Validation and out-of-memory errors the device reported (Dawn prints them and tfjs carries on). */
const deviceErrors: string[] = [];

/** The errors the WebGPU device reported since the backend was registered (empty when all went well). */
export function webgpuErrors(): readonly string[] {
  return deviceErrors;
}

type KernelFunc = tf.KernelConfig['kernelFunc'];
type KernelArgs = Parameters<KernelFunc>[0];

/**
 * tfjs's WebGPU `AddN` binds every input as its own storage buffer, so a sum of more than the device's
 * per-stage limit (8 by default in WebGPU) fails validation: the global gradient norm sums one term per
 * variable (lib/optim.ts). Re-registered to add at most `perCall` inputs per call and then sum the partial
 * sums the same way.
 */
function registerChunkedAddN(perCall: number): void {
  const original = tf.getKernel('AddN', 'webgpu');
  if (original === undefined) throw new Error('The webgpu AddN kernel is not registered: load @tensorflow/tfjs-backend-webgpu first.');
  const inner = original.kernelFunc;
  const chunked = ({ inputs, backend, attrs }: KernelArgs): tf.TensorInfo => {
    let terms = inputs as unknown as tf.TensorInfo[];
    const temps: tf.TensorInfo[] = [];
    while (terms.length > perCall) {
      const next: tf.TensorInfo[] = [];
      for (let i = 0; i < terms.length; i += perCall) {
        const group = terms.slice(i, i + perCall);
        if (group.length === 1) {
          next.push(group[0] as tf.TensorInfo);
          continue;
        }
        const partial = inner({ inputs: group as unknown as tf.NamedTensorInfoMap, backend, attrs }) as tf.TensorInfo;
        temps.push(partial);
        next.push(partial);
      }
      terms = next;
    }
    const out = inner({ inputs: terms as unknown as tf.NamedTensorInfoMap, backend, attrs }) as tf.TensorInfo;
    for (const t of temps) (backend as unknown as { disposeData(id: object): void }).disposeData(t.dataId);
    return out;
  };
  tf.unregisterKernel('AddN', 'webgpu');
  tf.registerKernel({ ...original, kernelFunc: chunked as unknown as KernelFunc });
}

/** Where Linux distributions put the Vulkan loader (LD_LIBRARY_PATH is searched first). */
const LOADER_DIRS = ['/usr/lib/x86_64-linux-gnu', '/usr/lib/aarch64-linux-gnu', '/usr/lib64', '/usr/lib', '/usr/local/lib'];

/**
 * True when the Vulkan loader is installed (Linux), so Dawn can look for a device. Without it Dawn still loads
 * but prints a warning and finds nothing: `auto` checks this first and stays quiet on CPU-only machines.
 */
export function hasVulkanLoader(): boolean {
  if (process.platform !== 'linux') return true; // macOS (Metal) and Windows (D3D12) need no loader
  const dirs = [...(process.env['LD_LIBRARY_PATH'] ?? '').split(':').filter((d) => d !== ''), ...LOADER_DIRS];
  return dirs.some((d) => fs.existsSync(path.join(d, 'libvulkan.so.1')));
}

function loadDawn(): DawnModule {
  try {
    return require('webgpu') as DawnModule;
  } catch (err) {
    throw new Error(
      `The 'webgpu' backend could not load Dawn (${(err as Error).message.split('\n')[0]}). It comes with the optional ` +
        'packages `webgpu` and `@tensorflow/tfjs-backend-webgpu` (linux-x64, macOS, Windows): `npm install` installs them.',
    );
  }
}

/** Kernel names registered on `cpu` but not on `webgpu` (call after the webgpu package is loaded). */
export function missingWebgpuKernels(): string[] {
  return kernelsMissingOn('webgpu');
}

/**
 * Find a WebGPU adapter and register the `webgpu` tfjs backend on it (idempotent). Throws, saying why, when
 * Dawn does not load, finds no adapter, or (`allowSoftware` false) finds only a software one.
 */
export async function registerWebgpu(allowSoftware: boolean): Promise<WebgpuAdapterReport> {
  if (registered !== null) {
    if (registered.fallback && !allowSoftware) throw softwareOnly(registered);
    return registered;
  }
  // `auto` asks at every initBackend: a machine without a usable adapter is asked once.
  if (!allowSoftware && autoRefusal !== null) throw autoRefusal;
  try {
    return await findAndRegister(allowSoftware);
  } catch (err) {
    if (!allowSoftware) autoRefusal = err as Error;
    throw err;
  }
}

let autoRefusal: Error | null = null;

/**
 * Use `module` instead of the `webgpu` package until the returned function is called: tests give it a Dawn
 * without an adapter, or with only a software one, on any machine. An adapter registered earlier is set aside
 * meanwhile (the stand-in is asked afresh) and is back afterwards.
 */
export function withDawn(module: DawnModule): () => void {
  const saved = { dawnOverride, registered, autoRefusal };
  dawnOverride = module;
  registered = null;
  autoRefusal = null;
  return () => {
    ({ dawnOverride, registered, autoRefusal } = saved);
  };
}

async function findAndRegister(allowSoftware: boolean): Promise<WebgpuAdapterReport> {
  // Without a loader the real Dawn can only fail; a stand-in needs none.
  if (!allowSoftware && dawnOverride === null && !hasVulkanLoader()) {
    throw new Error('No Vulkan loader (libvulkan.so.1), so no WebGPU adapter: `apt-get install libvulkan1` on a machine with a GPU (docs/gpu.md).');
  }
  const dawn = dawnOverride ?? loadDawn();
  // GPUBufferUsage, GPUMapMode, GPUShaderStage …: the constants tfjs reads as browser globals.
  for (const [name, value] of Object.entries(dawn.globals)) {
    if (!(name in globalThis)) (globalThis as Record<string, unknown>)[name] = value;
  }
  // Loaded before `navigator.gpu` exists, so the package does not register a factory of its own.
  const backendModule = require('@tensorflow/tfjs-backend-webgpu') as {
    WebGPUBackend: new (device: unknown, info?: unknown) => tf.KernelBackend;
  };
  const gpu = dawn.create([]);
  const adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
  if (adapter === null) {
    throw new Error(
      'No WebGPU adapter: Dawn found no Vulkan device. A GPU needs the Vulkan loader (`apt-get install libvulkan1`) and ' +
        "its driver's Vulkan ICD (NVIDIA: VK_DRIVER_FILES=/usr/share/vulkan/icd.d/nvidia_icd.json or the driver's own path); " +
        'see docs/gpu.md. On a machine without a GPU use MUCO_BACKEND=wasm.',
    );
  }
  const info = adapter.info ?? {};
  const limits: Record<string, number> = {};
  for (const name of LIMITS) limits[name] = adapter.limits[name] as number;
  const report: WebgpuAdapterReport = {
    vendor: info.vendor ?? '',
    architecture: info.architecture ?? '',
    device: info.device ?? '',
    description: info.description ?? '',
    fallback: info.isFallbackAdapter ?? false,
    limits,
    missingKernels: missingWebgpuKernels(),
  };
  if (report.fallback && !allowSoftware) throw softwareOnly(report);
  const features = ['timestamp-query'].filter((f) => adapter.features.has(f));
  const device = (await adapter.requestDevice({ requiredFeatures: features, requiredLimits: limits })) as {
    onuncapturederror: ((event: { error?: { message?: string } }) => void) | null;
  };
  device.onuncapturederror = (event) => {
    const message = (event.error?.message ?? 'unknown WebGPU error').split('\n')[0] as string;
    if (deviceErrors.length < 100) deviceErrors.push(message);
  };
  // One storage buffer per input plus the output; a margin for the uniforms tfjs may bind as storage.
  registerChunkedAddN(Math.max(2, Math.min(64, (limits['maxStorageBuffersPerShaderStage'] ?? 8) - 2)));
  // tfjs checks `navigator.gpu` when it builds the backend; Node ≤ 20 has no navigator, Node ≥ 21 one without gpu.
  const nav = (globalThis as { navigator?: object }).navigator;
  if (nav === undefined) Object.defineProperty(globalThis, 'navigator', { value: { gpu }, configurable: true, writable: true });
  else if (!('gpu' in nav)) Object.defineProperty(nav, 'gpu', { value: gpu, configurable: true });
  tf.registerBackend('webgpu', () => new backendModule.WebGPUBackend(device, info), 3);
  registered = report;
  return report;
}

function softwareOnly(r: WebgpuAdapterReport): Error {
  return new Error(
    `Only a software WebGPU adapter (${r.description || r.vendor}) was found: slower than wasm, so 'auto' skips it. ` +
      'Ask for it with MUCO_BACKEND=webgpu (parity tests do).',
  );
}

/** One line naming the adapter, e.g. `nvidia hopper (NVIDIA H100 80GB HBM3)`. */
export function describeAdapter(r: WebgpuAdapterReport): string {
  const name = [r.vendor, r.architecture].filter((s) => s !== '').join(' ') || 'unknown adapter';
  const detail = r.description !== '' ? r.description : r.device;
  return `${name}${detail !== '' ? ` (${detail})` : ''}${r.fallback ? ', software' : ''}`;
}
