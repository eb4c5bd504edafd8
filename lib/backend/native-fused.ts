/**
 * The fused kernels of the transformer's memory-bound pieces, on the tfjs wasm heap through the native addon
 * (native/src/fused.c): LayerNorm / RMSNorm, attention's masked softmax and the sigmoid gates x·σ(αx) (GELU's
 * approximation, SiLU), each with its backward pass as one kernel. tfjs runs each of these as five to ten
 * single-pass wasm kernels forward and as many again backward. lib/model/layers.ts calls them through
 * `tf.customGrad` when they are registered on the current backend (wasm with the addon), else it runs the same
 * math in tf ops. Registered by lib/native-blas `enableNativeBlas`; nothing here runs at import.
 */
import * as tf from '@tensorflow/tfjs';
import type { NativeBlasAddon } from './native-kernels';

type KernelFunc = tf.KernelConfig['kernelFunc'];
type TensorInfo = tf.TensorInfo;

/** The kernel names, in the registry of the wasm backend. */
export const FUSED_KERNELS = {
  /** {x} → [y = x·σ(αx), s = σ(αx)], attrs {alpha}. */
  gate: 'MucoSigmoidGate',
  /** {dy, x, s} → dx = dy·s·(1 + αx(1 − s)), attrs {alpha}. */
  gateGrad: 'MucoSigmoidGateGrad',
  /** {x, gamma, beta?} → [y, mean, rstd] (LayerNorm) or [y, rstd] (attrs.rms), attrs {eps, rms}; over the last axis. */
  norm: 'MucoNorm',
  /** {dy, x, gamma, mean?, rstd} → [dx, dgamma, dbeta?], attrs {withBeta}. */
  normGrad: 'MucoNormGrad',
  /** {x, mask?} → softmax(x + mask) over the last axis; the mask broadcasts as `softmaxMaskPlan` allows. */
  softmax: 'MucoMaskedSoftmax',
  /** {dy, y} → y·(dy − Σ dy·y) over the last axis. */
  softmaxGrad: 'MucoMaskedSoftmaxGrad',
} as const;

/** Calls per kernel (structural tests: the fused path is the one that ran). */
export const nativeFusedStats = { gate: 0, gateGrad: 0, norm: 0, normGrad: 0, softmax: 0, softmaxGrad: 0 };

/** True when the fused kernel `name` can run on the current backend. */
export function fusedKernelAvailable(name: string): boolean {
  return tf.getKernel(name, tf.getBackend()) !== undefined;
}

/** How the rows of scores [..., T, d] read the rows of an additive mask (native/src/fused.h `muco_softmax`). */
export interface SoftmaxMaskPlan {
  group: number;
  period: number;
  batches: number;
}

/**
 * The broadcast of a mask onto scores that the native softmax covers: the mask's last axis equals the scores'
 * (d); its second-to-last is T or 1; its leading axes (left-padded with 1) match the scores' leading axes on a
 * prefix and are 1 after it (e.g. [B, 1, T, T] or [T, T] onto [B, H, T, T]). Null for anything else (the
 * caller adds the mask with tf ops instead).
 */
export function softmaxMaskPlan(scores: readonly number[], mask: readonly number[]): SoftmaxMaskPlan | null {
  const r = scores.length;
  if (r < 2 || mask.length > r || mask.length < 1) return null;
  const m = [...Array<number>(r - mask.length).fill(1), ...mask];
  const d = scores[r - 1] as number;
  const t = scores[r - 2] as number;
  if (m[r - 1] !== d || (m[r - 2] !== t && m[r - 2] !== 1)) return null;
  const lead = scores.slice(0, r - 2);
  let k = 0;
  while (k < lead.length && m[k] === lead[k]) k++;
  if (m.slice(k, r - 2).some((v) => v !== 1)) return null;
  const prod = (xs: readonly number[]): number => xs.reduce((a, b) => a * b, 1);
  return { batches: prod(lead.slice(0, k)), group: prod(lead.slice(k)) * t, period: m[r - 2] as number };
}

/** The parts of the wasm backend class we use (its package does not export the type). */
interface WasmBackend {
  wasm: { HEAPU8: Uint8Array };
  dataIdMap: { get(dataId: object): { memoryOffset: number } | undefined };
  makeOutput(shape: number[], dtype: tf.DataType): TensorInfo;
}

const size = (t: TensorInfo): number => t.shape.reduce((a, b) => a * b, 1);

/**
 * Shared checks and heap access: every input float32; outputs allocated before the heap is read (allocation may
 * grow the memory and detach the old buffer).
 */
function heapOf(kernel: string, backend: WasmBackend, inputs: (TensorInfo | undefined)[]): { heap: ArrayBuffer; at: (t: TensorInfo | undefined) => number } {
  for (const t of inputs) if (t !== undefined && t.dtype !== 'float32') throw new Error(`${kernel}: inputs must be float32, got ${t.dtype}.`);
  const heap = backend.wasm.HEAPU8.buffer;
  if (!(heap instanceof ArrayBuffer)) throw new Error(`${kernel}: the wasm heap is shared; the addon needs a plain ArrayBuffer.`);
  const at = (t: TensorInfo | undefined): number => {
    if (t === undefined) return -1;
    const data = backend.dataIdMap.get(t.dataId);
    if (data === undefined) throw new Error(`${kernel}: a tensor is not on the wasm backend.`);
    return data.memoryOffset;
  };
  return { heap, at };
}

function sameSize(kernel: string, ts: TensorInfo[]): number {
  const n = size(ts[0] as TensorInfo);
  if (ts.some((t) => size(t) !== n)) throw new Error(`${kernel}: operands of different sizes (${ts.map((t) => `[${t.shape.join(',')}]`).join(', ')}).`);
  return n;
}

/** The six kernel functions over one loaded addon. */
export function fusedKernelFactories(lib: NativeBlasAddon): Record<keyof typeof FUSED_KERNELS, KernelFunc> {
  return {
    gate: (args) => {
      const { x } = args.inputs as { x: TensorInfo };
      const { alpha } = args.attrs as unknown as { alpha: number };
      const backend = args.backend as unknown as WasmBackend;
      const y = backend.makeOutput(x.shape, 'float32');
      const s = backend.makeOutput(x.shape, 'float32');
      const { heap, at } = heapOf(FUSED_KERNELS.gate, backend, [x]);
      lib.gate(heap, at(x), at(y), at(s), size(x), alpha);
      nativeFusedStats.gate++;
      return [y, s];
    },
    gateGrad: (args) => {
      const { dy, x, s } = args.inputs as { dy: TensorInfo; x: TensorInfo; s: TensorInfo };
      const { alpha } = args.attrs as unknown as { alpha: number };
      const backend = args.backend as unknown as WasmBackend;
      const n = sameSize(FUSED_KERNELS.gateGrad, [dy, x, s]);
      const dx = backend.makeOutput(x.shape, 'float32');
      const { heap, at } = heapOf(FUSED_KERNELS.gateGrad, backend, [dy, x, s]);
      lib.gateGrad(heap, at(dy), at(x), at(s), at(dx), n, alpha);
      nativeFusedStats.gateGrad++;
      return dx;
    },
    norm: (args) => {
      const { x, gamma, beta } = args.inputs as { x: TensorInfo; gamma: TensorInfo; beta?: TensorInfo };
      const { eps, rms } = args.attrs as unknown as { eps: number; rms: boolean };
      const backend = args.backend as unknown as WasmBackend;
      const d = x.shape[x.shape.length - 1] ?? 1;
      const rows = size(x) / Math.max(d, 1);
      if (size(gamma) !== d || (beta !== undefined && size(beta) !== d))
        throw new Error(`${FUSED_KERNELS.norm}: gamma and beta must have ${d} elements (the last axis of x).`);
      if (rms && beta !== undefined) throw new Error(`${FUSED_KERNELS.norm}: RMSNorm takes no beta.`);
      const statShape = x.shape.slice(0, -1);
      const y = backend.makeOutput(x.shape, 'float32');
      const mean = rms ? undefined : backend.makeOutput(statShape, 'float32');
      const rstd = backend.makeOutput(statShape, 'float32');
      const { heap, at } = heapOf(FUSED_KERNELS.norm, backend, [x, gamma, beta]);
      lib.norm(heap, at(x), at(gamma), at(beta), at(y), at(mean), at(rstd), rows, d, eps);
      nativeFusedStats.norm++;
      return mean === undefined ? [y, rstd] : [y, mean, rstd];
    },
    normGrad: (args) => {
      const { dy, x, gamma, mean, rstd } = args.inputs as { dy: TensorInfo; x: TensorInfo; gamma: TensorInfo; mean?: TensorInfo; rstd: TensorInfo };
      const { withBeta } = args.attrs as unknown as { withBeta: boolean };
      const backend = args.backend as unknown as WasmBackend;
      sameSize(FUSED_KERNELS.normGrad, [dy, x]);
      const d = x.shape[x.shape.length - 1] ?? 1;
      const rows = size(x) / Math.max(d, 1);
      if (size(gamma) !== d || size(rstd) !== rows || (mean !== undefined && size(mean) !== rows)) {
        throw new Error(`${FUSED_KERNELS.normGrad}: gamma must have ${d} elements, mean and rstd ${rows}.`);
      }
      const dx = backend.makeOutput(x.shape, 'float32');
      const dgamma = backend.makeOutput(gamma.shape, 'float32');
      const dbeta = withBeta ? backend.makeOutput(gamma.shape, 'float32') : undefined;
      const { heap, at } = heapOf(FUSED_KERNELS.normGrad, backend, [dy, x, gamma, mean, rstd]);
      lib.normGrad(heap, at(dy), at(x), at(gamma), at(mean), at(rstd), at(dx), at(dgamma), at(dbeta), rows, d);
      nativeFusedStats.normGrad++;
      return dbeta === undefined ? [dx, dgamma] : [dx, dgamma, dbeta];
    },
    softmax: (args) => {
      const { x, mask } = args.inputs as { x: TensorInfo; mask?: TensorInfo };
      const backend = args.backend as unknown as WasmBackend;
      const d = x.shape[x.shape.length - 1] ?? 1;
      const rows = size(x) / Math.max(d, 1);
      const t = x.shape.length >= 2 ? (x.shape[x.shape.length - 2] as number) : 1;
      const plan = mask === undefined ? { group: t, period: t, batches: 1 } : softmaxMaskPlan(x.shape, mask.shape);
      if (plan === null || x.shape.length < 2) {
        throw new Error(
          `${FUSED_KERNELS.softmax}: a mask of shape [${mask?.shape.join(',')}] does not broadcast onto scores [${x.shape.join(',')}] as the kernel can (see softmaxMaskPlan).`,
        );
      }
      const y = backend.makeOutput(x.shape, 'float32');
      const { heap, at } = heapOf(FUSED_KERNELS.softmax, backend, [x, mask]);
      lib.softmax(heap, at(x), at(mask), at(y), rows, d, Math.max(plan.group, 1), Math.max(plan.period, 1), Math.max(plan.batches, 1));
      nativeFusedStats.softmax++;
      return y;
    },
    softmaxGrad: (args) => {
      const { dy, y } = args.inputs as { dy: TensorInfo; y: TensorInfo };
      const backend = args.backend as unknown as WasmBackend;
      sameSize(FUSED_KERNELS.softmaxGrad, [dy, y]);
      const d = y.shape[y.shape.length - 1] ?? 1;
      const dx = backend.makeOutput(y.shape, 'float32');
      const { heap, at } = heapOf(FUSED_KERNELS.softmaxGrad, backend, [dy, y]);
      lib.softmaxGrad(heap, at(dy), at(y), at(dx), size(y) / Math.max(d, 1), d);
      nativeFusedStats.softmaxGrad++;
      return dx;
    },
  };
}

/** Register the fused kernels on wasm (once; later calls keep the first registration). */
export function registerFusedKernels(lib: NativeBlasAddon): void {
  const factories = fusedKernelFactories(lib);
  for (const [key, name] of Object.entries(FUSED_KERNELS) as [keyof typeof FUSED_KERNELS, string][]) {
    if (tf.getKernel(name, 'wasm') === undefined) tf.registerKernel({ kernelName: name, backendName: 'wasm', kernelFunc: factories[key] });
  }
}
