/**
 * Two fixes that make the tfjs `wasm` backend usable for training (README "Backends"):
 *
 * 1. **Kernel bridge.** Some kernels exist on `cpu` but not on `wasm` (e.g. `UnsortedSegmentSum`, the
 *    gradient of `gather`, i.e. of an embedding table). We register a wasm kernel for each missing name that
 *    copies its inputs out of the wasm heap, runs the cpu backend's kernel and copies the result back.
 * 2. **Transposed matMul.** `BatchMatMul` / `_FusedMatMul` with `transposeA` or `transposeB` leave XNNPACK's
 *    fast path (10–27× slower) and autodiff of a matMul always asks for transposed products. We re-register
 *    both kernels so that they transpose the operands explicitly with the wasm `Transpose` kernel (fast for
 *    rank ≤ 4) and then call the original kernel with both flags off.
 *
 * Both are applied to the kernel registry before the backend is used; `matMulFixStats` lets tests assert
 * structurally that the fast path is taken.
 */
import * as tf from '@tensorflow/tfjs';

type KernelFunc = tf.KernelConfig['kernelFunc'];
type KernelArgs = Parameters<KernelFunc>[0];
type TensorInfo = tf.TensorInfo;

/** The parts of the wasm and cpu backend classes we use (their packages do not export them as types). */
interface HostBackend {
  readSync(dataId: object): tf.backend_util.BackendValues;
  write(values: tf.backend_util.BackendValues, shape: number[], dtype: tf.DataType): object;
  disposeData(dataId: object, force?: boolean): boolean;
}

const MATMUL_KERNELS = ['BatchMatMul', '_FusedMatMul'] as const;

/** Counters of the patched matMul kernels: how often they ran and how many operands they transposed. */
export const matMulFixStats = { calls: 0, transposedOperands: 0 };

const patchedFuncs = new Map<string, KernelFunc>();

/** Kernel names registered on `cpu` but not on `backend` (the package of `backend` must be loaded). */
export function kernelsMissingOn(backend: string): string[] {
  const have = new Set(tf.getKernelsForBackend(backend).map((k) => k.kernelName));
  return tf
    .getKernelsForBackend('cpu')
    .map((k) => k.kernelName)
    .filter((name) => !have.has(name))
    .sort();
}

/** Kernel names registered on `cpu` but not on `wasm`. */
export function missingWasmKernels(): string[] {
  return kernelsMissingOn('wasm');
}

/** The cpu backend greets Node users once with advice to install tfjs-node; we chose our backend already. */
export function quietCpu(cpu: object): void {
  (cpu as { firstUse?: boolean }).firstUse = false;
}

function cpuBackend(): HostBackend {
  const cpu = tf.engine().findBackend('cpu') as unknown as HostBackend | null;
  if (cpu === null) throw new Error('The wasm kernel bridge needs the cpu backend, which is not registered.');
  quietCpu(cpu);
  return cpu;
}

function bridgeKernel(name: string, cpuKernel: KernelFunc): KernelFunc {
  return ({ inputs, backend, attrs }: KernelArgs) => {
    const wasm = backend as unknown as HostBackend;
    const cpu = cpuBackend();
    const created: TensorInfo[] = [];
    const toCpu = (t: TensorInfo): TensorInfo => {
      if (t.dtype === 'complex64') {
        throw new Error(`Kernel ${name}: complex tensors cannot be bridged from wasm to cpu; use the cpu backend.`);
      }
      const info = { dataId: cpu.write(wasm.readSync(t.dataId), t.shape, t.dtype), shape: t.shape, dtype: t.dtype };
      created.push(info);
      return info;
    };
    // Most kernels take named inputs; a few (Einsum) take a positional array: keep the container's shape.
    const cpuInputs: Record<string, TensorInfo> | TensorInfo[] = Array.isArray(inputs) ? [] : {};
    for (const [key, t] of Object.entries(inputs as Record<string, TensorInfo | undefined>)) {
      if (t !== undefined && t !== null) (cpuInputs as Record<string, TensorInfo>)[key] = toCpu(t);
    }
    const out = cpuKernel({ inputs: cpuInputs as tf.NamedTensorInfoMap, backend: cpu as unknown as tf.KernelBackend, attrs });
    const outs = Array.isArray(out) ? out : [out];
    const back = outs.map((o) => {
      const info = { dataId: wasm.write(cpu.readSync(o.dataId), o.shape, o.dtype), shape: o.shape, dtype: o.dtype };
      cpu.disposeData(o.dataId);
      return info;
    });
    for (const c of created) cpu.disposeData(c.dataId);
    return Array.isArray(out) ? back : (back[0] as TensorInfo);
  };
}

/**
 * `UnsortedSegmentSum` (the gradient of `gather`, so of every embedding lookup) as one scatter-add pass.
 * The cpu kernel builds an equality mask per segment (O(segments · N · D): seconds for a vocabulary-sized
 * table), so the bridge would inherit that; this is O(N · D).
 */
function segmentSumKernel({ inputs, backend, attrs }: KernelArgs): TensorInfo {
  const { x, segmentIds } = inputs as { x: TensorInfo; segmentIds: TensorInfo };
  const { numSegments } = attrs as unknown as { numSegments: number };
  if (x.dtype !== 'float32' && x.dtype !== 'int32') throw new Error(`UnsortedSegmentSum on wasm supports float32 and int32, got ${x.dtype}.`);
  const host = backend as unknown as HostBackend;
  const values = host.readSync(x.dataId) as Float32Array | Int32Array;
  const ids = host.readSync(segmentIds.dataId) as Int32Array;
  const rows = ids.length;
  const inner = rows === 0 ? 0 : values.length / rows;
  const out = x.dtype === 'float32' ? new Float32Array(numSegments * inner) : new Int32Array(numSegments * inner);
  for (let r = 0; r < rows; r++) {
    const seg = ids[r] as number;
    if (seg < 0 || seg >= numSegments) continue; // TensorFlow drops out-of-range ids
    const src = r * inner;
    const dst = seg * inner;
    for (let j = 0; j < inner; j++) out[dst + j] = (out[dst + j] as number) + (values[src + j] as number);
  }
  const shape = [numSegments, ...x.shape.slice(segmentIds.shape.length)];
  return { dataId: host.write(out, shape, x.dtype), shape, dtype: x.dtype };
}

/** Kernels we implement for wasm directly instead of bridging (the bridge would be too slow). */
const NATIVE_WASM_KERNELS: Record<string, KernelFunc> = { UnsortedSegmentSum: segmentSumKernel as unknown as KernelFunc };

/** Register every cpu-only kernel on wasm (directly or through the bridge). Returns the names. Idempotent. */
export function registerKernelBridge(): string[] {
  const names = missingWasmKernels();
  for (const name of names) {
    const kernelFunc = NATIVE_WASM_KERNELS[name] ?? bridgeKernel(name, tf.getKernel(name, 'cpu').kernelFunc);
    tf.registerKernel({ kernelName: name, backendName: 'wasm', kernelFunc });
  }
  return names;
}

/** Swap the last two axes with the backend's own Transpose kernel (fast on wasm for rank ≤ 4). */
function transposeLastTwo(t: TensorInfo, backend: KernelArgs['backend']): TensorInfo {
  const rank = t.shape.length;
  const perm = Array.from({ length: rank }, (_, i) => i);
  perm[rank - 2] = rank - 1;
  perm[rank - 1] = rank - 2;
  const transpose = tf.getKernel('Transpose', 'wasm').kernelFunc;
  return transpose({ inputs: { x: t }, backend, attrs: { perm } }) as TensorInfo;
}

function fixedMatMul(original: KernelFunc): KernelFunc {
  return ({ inputs, backend, attrs }: KernelArgs) => {
    const { a, b } = inputs as { a: TensorInfo; b: TensorInfo };
    const { transposeA, transposeB } = attrs as { transposeA: boolean; transposeB: boolean };
    matMulFixStats.calls++;
    const temps: TensorInfo[] = [];
    const aIn = transposeA ? transposeLastTwo(a, backend) : a;
    const bIn = transposeB ? transposeLastTwo(b, backend) : b;
    if (transposeA) temps.push(aIn);
    if (transposeB) temps.push(bIn);
    matMulFixStats.transposedOperands += temps.length;
    const out = original({
      inputs: { ...inputs, a: aIn, b: bIn },
      backend,
      attrs: { ...attrs, transposeA: false, transposeB: false },
    });
    for (const t of temps) (backend as unknown as HostBackend).disposeData(t.dataId);
    return out;
  };
}

/**
 * Re-register wasm `BatchMatMul` and `_FusedMatMul` so transposed operands take the fast path. Must run before
 * the wasm backend is initialised (the original kernels' setup functions are kept and run at initialisation).
 * Idempotent.
 */
export function registerMatMulFix(): void {
  for (const name of MATMUL_KERNELS) {
    const current = tf.getKernel(name, 'wasm');
    if (current === undefined) throw new Error(`wasm kernel ${name} is not registered: import the wasm backend first.`);
    if (patchedFuncs.get(name) === current.kernelFunc) continue;
    const patched = fixedMatMul(current.kernelFunc);
    tf.unregisterKernel(name, 'wasm');
    tf.registerKernel({ ...current, kernelFunc: patched });
    patchedFuncs.set(name, patched);
  }
}

/** True when the registered wasm matMul kernels are the patched ones (a structural check for tests). */
export function isMatMulFixActive(): boolean {
  return MATMUL_KERNELS.every((name) => {
    const k = tf.getKernel(name, 'wasm');
    return k !== undefined && patchedFuncs.get(name) === k.kernelFunc;
  });
}

/**
 * `Identity` and same-dtype `Cast` copy their input on wasm (autodiff emits dozens per training step); share
 * the input's data instead, with a reference count, as the wasm `Reshape` kernel and tfjs-cpu already do.
 */
interface RefCounting {
  incRef(dataId: object): void;
}

export function registerSharingKernels(): void {
  const share = (x: TensorInfo, backend: KernelArgs['backend']): TensorInfo => {
    (backend as unknown as RefCounting).incRef(x.dataId);
    return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
  };
  const identity = tf.getKernel('Identity', 'wasm');
  if (identity !== undefined && !sharing.has(identity.kernelFunc)) {
    const f: KernelFunc = ({ inputs, backend }: KernelArgs) => share((inputs as { x: TensorInfo }).x, backend);
    tf.unregisterKernel('Identity', 'wasm');
    tf.registerKernel({ ...identity, kernelFunc: f });
    sharing.add(f);
  }
  const cast = tf.getKernel('Cast', 'wasm');
  if (cast !== undefined && !sharing.has(cast.kernelFunc)) {
    const original = cast.kernelFunc;
    const f: KernelFunc = (args: KernelArgs) => {
      const x = (args.inputs as { x: TensorInfo }).x;
      return (args.attrs as { dtype: string }).dtype === x.dtype ? share(x, args.backend) : original(args);
    };
    tf.unregisterKernel('Cast', 'wasm');
    tf.registerKernel({ ...cast, kernelFunc: f });
    sharing.add(f);
  }
}

const sharing = new Set<KernelFunc>();

/** True when the wasm Identity kernel shares its input (structural check for tests). */
export function isSharingIdentity(): boolean {
  const k = tf.getKernel('Identity', 'wasm');
  return k !== undefined && sharing.has(k.kernelFunc);
}
