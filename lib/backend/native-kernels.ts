/**
 * The native kernels behind lib/backend/native-blas.ts, as tfjs wasm kernel functions: matMul through OpenBLAS sgemm
 * (batch broadcasting, transposes as BLAS flags, the fused bias + activation epilogue), Sum / Mean, Slice /
 * SplitV; and the pure shape planning they rest on (tested against tfjs' own broadcasting). Each kernel hands
 * what it does not cover to the kernel it replaced. Nothing here runs at import.
 */
import * as tf from '@tensorflow/tfjs';

type KernelFunc = tf.KernelConfig['kernelFunc'];
type KernelArgs = Parameters<KernelFunc>[0];
type TensorInfo = tf.TensorInfo;

/** The addon's functions (native/src/addon.c documents them). */
export interface NativeBlasAddon {
  gemm(
    heap: ArrayBuffer,
    aOffset: number,
    bOffset: number,
    cOffset: number,
    batch: number,
    aIndex: Int32Array | null,
    bIndex: Int32Array | null,
    m: number,
    n: number,
    k: number,
    transposeA: boolean,
    transposeB: boolean,
  ): void;
  epilogue(
    heap: ArrayBuffer,
    cOffset: number,
    batch: number,
    m: number,
    n: number,
    biasOffset: number,
    biasStrides: Strides,
    activation: number,
    preluOffset: number,
    preluStrides: Strides,
    alpha: number,
  ): void;
  reduce(heap: ArrayBuffer, xOffset: number, outOffset: number, outer: number, r: number, inner: number, scale: number): void;
  slice(heap: ArrayBuffer, xOffset: number, outOffset: number, shape: number[], begin: number[], size: number[]): void;
  gate(heap: ArrayBuffer, xOffset: number, yOffset: number, sOffset: number, n: number, alpha: number): void;
  gateGrad(heap: ArrayBuffer, dyOffset: number, xOffset: number, sOffset: number, dxOffset: number, n: number, alpha: number): void;
  /** Offsets of -1: absent (beta; mean for RMSNorm). */
  norm(
    heap: ArrayBuffer,
    xOffset: number,
    gammaOffset: number,
    betaOffset: number,
    yOffset: number,
    meanOffset: number,
    rstdOffset: number,
    rows: number,
    d: number,
    eps: number,
  ): void;
  normGrad(
    heap: ArrayBuffer,
    dyOffset: number,
    xOffset: number,
    gammaOffset: number,
    meanOffset: number,
    rstdOffset: number,
    dxOffset: number,
    dgammaOffset: number,
    dbetaOffset: number,
    rows: number,
    d: number,
  ): void;
  softmax(
    heap: ArrayBuffer,
    xOffset: number,
    maskOffset: number,
    yOffset: number,
    rows: number,
    d: number,
    group: number,
    period: number,
    batches: number,
  ): void;
  softmaxGrad(heap: ArrayBuffer, dyOffset: number, yOffset: number, dxOffset: number, rows: number, d: number): void;
  adamw(
    heap: ArrayBuffer,
    pOffset: number,
    mOffset: number,
    vOffset: number,
    gOffset: number,
    n: number,
    lr: number,
    beta1: number,
    beta2: number,
    c1: number,
    c2: number,
    eps: number,
    decay: number,
  ): void;
  setThreads(threads: number): void;
  /** Run the fused kernels with `isa` ('baseline', 'avx2', 'avx512'; at most what the CPU runs); throws otherwise. */
  setFusedIsa(isa: string): void;
  /** `fused`: the instruction set the fused kernels run with (avx512, avx2, baseline); absent in older builds. */
  info(): { threads: number; parallel: number; config: string; corename: string; fused?: string };
}

/** Counters for structural tests: native products (of which fused), reductions, slices; fallback calls. */
export const nativeBlasStats = { calls: 0, fused: 0, reductions: 0, slices: 0, fallbacks: 0 };

/** The kernels replaced: the matMuls, and the memory-bound ones (config `memoryKernels`). */
export const MATMUL_KERNELS = ['BatchMatMul', '_FusedMatMul'] as const;
export const MEMORY_KERNELS = ['Sum', 'Mean', 'Slice', 'SplitV'] as const;
export type NativeKernelName = (typeof MATMUL_KERNELS)[number] | (typeof MEMORY_KERNELS)[number];

/** Fused activations in the addon's encoding (native/src/gemm.h `muco_act`). */
const ACTIVATIONS: Record<string, number> = { linear: 0, relu: 1, relu6: 2, elu: 3, prelu: 4, leakyrelu: 5, sigmoid: 6 };

/** The parts of the wasm backend class we use (its package does not export the type). */
interface WasmBackend {
  wasm: { HEAPU8: Uint8Array };
  dataIdMap: { get(dataId: object): { memoryOffset: number } | undefined };
  makeOutput(shape: number[], dtype: tf.DataType): TensorInfo;
}

// ---------------------------------------------------------------------------------------------------------
// Shapes: batch broadcasting and the strides of a broadcast bias, both pure and tested against naive twins.

/** Which A and B matrix each output batch matrix reads: tfjs/NumPy broadcasting of the batch dimensions. */
export interface BatchPlan {
  /** Broadcast batch shape of the output (without the trailing [m, n]). */
  outBatch: number[];
  /** Matrix index into A (resp. B) per output matrix; null means the identity. */
  aIndex: Int32Array | null;
  bIndex: Int32Array | null;
}

/** Broadcast two batch shapes; null when they are incompatible (the caller's fallback then reports it). */
export function planBatches(aBatch: number[], bBatch: number[]): BatchPlan | null {
  const rank = Math.max(aBatch.length, bBatch.length);
  const pad = (s: number[]): number[] => [...(new Array(rank - s.length).fill(1) as number[]), ...s];
  const [ap, bp] = [pad(aBatch), pad(bBatch)];
  const outBatch: number[] = [];
  for (let d = 0; d < rank; d++) {
    const [x, y] = [ap[d] as number, bp[d] as number];
    if (x !== y && x !== 1 && y !== 1) return null;
    outBatch.push(x === 1 ? y : x);
  }
  const size = outBatch.reduce((p, s) => p * s, 1);
  const index = (shape: number[]): Int32Array | null => {
    if (shape.every((s, d) => s === outBatch[d])) return null;
    const out = new Int32Array(size);
    for (let i = 0; i < size; i++) {
      // Unravel i over outBatch (row-major), re-ravel over `shape` with broadcast dimensions pinned to 0.
      let rest = i;
      let flat = 0;
      let stride = 1;
      for (let d = rank - 1; d >= 0; d--) {
        const od = outBatch[d] as number;
        const sd = shape[d] as number;
        const coord = rest % od;
        rest = Math.floor(rest / od);
        flat += (sd === 1 ? 0 : coord) * stride;
        stride *= sd;
      }
      out[i] = flat;
    }
    return out;
  };
  return { outBatch, aIndex: index(ap), bIndex: index(bp) };
}

/** Element strides [batch, row, col] of an operand broadcast onto a [batch, m, n] output. */
export type Strides = [number, number, number];

/**
 * Strides of a bias (or prelu weights) of `shape` added to the output [batch, m, n]: its last axis runs along
 * n (or is 1), the one before along m (or is 1), the rest along the batch (all of it, or none). Null otherwise.
 */
export function broadcastStrides(shape: number[], batch: number, m: number, n: number): Strides | null {
  const r = shape.length;
  const cols = r >= 1 ? (shape[r - 1] as number) : 1;
  const rows = r >= 2 ? (shape[r - 2] as number) : 1;
  const lead = shape.slice(0, Math.max(0, r - 2)).reduce((p, s) => p * s, 1);
  if ((cols !== 1 && cols !== n) || (rows !== 1 && rows !== m) || (lead !== 1 && lead !== batch)) return null;
  return [lead === 1 ? 0 : rows * cols, rows === 1 ? 0 : cols, cols === 1 ? 0 : 1];
}

/** A reduction over contiguous axes: x viewed as [outer, r, inner], reduced over r. */
export interface ReducePlan {
  outer: number;
  r: number;
  inner: number;
  /** The output shape, with or without the reduced axes kept as 1. */
  outShape: number[];
}

/**
 * Plan tfjs' Sum/Mean of `shape` over `axis` (null: all axes). Null unless the axes are contiguous and distinct
 * (tfjs itself sums everything when an axis repeats: the fallback keeps that behaviour).
 */
export function planReduction(shape: number[], axis: number | number[] | null | undefined, keepDims: boolean): ReducePlan | null {
  const rank = shape.length;
  const raw = axis == null ? shape.map((_, i) => i) : Array.isArray(axis) ? axis : [axis];
  const axes = raw.map((a) => (a < 0 ? a + rank : a)).sort((a, b) => a - b);
  if (axes.length === 0 || new Set(axes).size !== axes.length || axes.some((a) => !Number.isInteger(a) || a < 0 || a >= rank)) return null;
  const [first, last] = [axes[0] as number, axes[axes.length - 1] as number];
  if (last - first + 1 !== axes.length) return null;
  const prod = (from: number, to: number): number => shape.slice(from, to).reduce((p, s) => p * s, 1);
  const outShape = keepDims ? shape.map((s, i) => (i >= first && i <= last ? 1 : s)) : shape.filter((_, i) => i < first || i > last);
  return { outer: prod(0, first), r: prod(first, last + 1), inner: prod(last + 1, rank), outShape };
}

// ---------------------------------------------------------------------------------------------------------
// The kernels.

/** What the kernels need from lib/native-blas: the loaded addon and the live `minMacs` setting. */
interface Ctx {
  lib: NativeBlasAddon;
  minMacs: () => number;
}

/** A product C = op(A)·op(B): its batch plan, batch size and matrix sizes. */
type Product = { plan: BatchPlan; batch: number; m: number; n: number; k: number };

/** The product's dimensions, or null when it should go to the fallback (small, empty, non-float32, odd). */
function planProduct(ctx: Ctx, a: TensorInfo, b: TensorInfo, transposeA: boolean, transposeB: boolean): Product | null {
  if (a.dtype !== 'float32' || b.dtype !== 'float32' || a.shape.length < 2 || b.shape.length < 2) return null;
  const [ra, rb] = [a.shape.length, b.shape.length];
  const m = a.shape[transposeA ? ra - 1 : ra - 2] as number;
  const k = a.shape[transposeA ? ra - 2 : ra - 1] as number;
  const kb = b.shape[transposeB ? rb - 1 : rb - 2] as number;
  const n = b.shape[transposeB ? rb - 2 : rb - 1] as number;
  const plan = planBatches(a.shape.slice(0, -2), b.shape.slice(0, -2));
  if (k !== kb || plan === null) return null;
  const batch = plan.outBatch.reduce((p, s) => p * s, 1);
  if (batch * m * n * k < ctx.minMacs() || batch * m * n * k === 0) return null;
  return { plan, batch, m, n, k };
}

function offsetOf(backend: WasmBackend, t: TensorInfo): number {
  const data = backend.dataIdMap.get(t.dataId);
  if (data === undefined) throw new Error(`native kernel: tensor of shape [${t.shape.join(', ')}] is not on the wasm backend.`);
  return data.memoryOffset;
}

/** Run the product into a new output [...outBatch, m, n]. */
function runProduct(ctx: Ctx, backend: WasmBackend, a: TensorInfo, b: TensorInfo, p: Product, ta: boolean, tb: boolean): TensorInfo {
  const out = backend.makeOutput([...p.plan.outBatch, p.m, p.n], 'float32');
  const { aIndex, bIndex } = p.plan;
  const lib = ctx.lib;
  // Re-read after makeOutput: the allocation may have grown (and detached) the memory.
  const heap = backend.wasm.HEAPU8.buffer as ArrayBuffer;
  const [ao, bo, co] = [offsetOf(backend, a), offsetOf(backend, b), offsetOf(backend, out)];
  const sharedB = bIndex !== null && bIndex.every((i) => i === 0);
  if (!ta && aIndex === null && sharedB) {
    // One B for every batch matrix and A's rows contiguous: a single [batch·m, k]·[k, n] product.
    lib.gemm(heap, ao, bo, co, 1, null, null, p.batch * p.m, p.n, p.k, false, tb);
  } else {
    lib.gemm(heap, ao, bo, co, p.batch, aIndex, bIndex, p.m, p.n, p.k, ta, tb);
  }
  nativeBlasStats.calls++;
  return out;
}

function nativeBatchMatMul(ctx: Ctx, fallback: KernelFunc): KernelFunc {
  return (args: KernelArgs) => {
    const { a, b } = args.inputs as { a: TensorInfo; b: TensorInfo };
    const { transposeA, transposeB } = args.attrs as { transposeA: boolean; transposeB: boolean };
    const p = planProduct(ctx, a, b, transposeA, transposeB);
    if (p === null) {
      nativeBlasStats.fallbacks++;
      return fallback(args);
    }
    return runProduct(ctx, args.backend as unknown as WasmBackend, a, b, p, transposeA, transposeB);
  };
}

type FusedAttrs = { transposeA: boolean; transposeB: boolean; activation: string; leakyreluAlpha?: number };

function nativeFusedMatMul(ctx: Ctx, fallback: KernelFunc): KernelFunc {
  return (args: KernelArgs) => {
    const { a, b, bias, preluActivationWeights: prelu } = args.inputs as Record<string, TensorInfo | undefined>;
    const attrs = args.attrs as unknown as FusedAttrs;
    const act = ACTIVATIONS[attrs.activation];
    const p = a === undefined || b === undefined ? null : planProduct(ctx, a, b, attrs.transposeA, attrs.transposeB);
    const batch = p?.batch ?? 0;
    const biasStrides = bias == null || p === null ? null : broadcastStrides(bias.shape, batch, p.m, p.n);
    const preluStrides = prelu == null || p === null ? null : broadcastStrides(prelu.shape, batch, p.m, p.n);
    const unsupported =
      p === null ||
      act === undefined ||
      (bias != null && (biasStrides === null || bias.dtype !== 'float32')) ||
      (attrs.activation === 'prelu' && (prelu == null || preluStrides === null || prelu.dtype !== 'float32'));
    if (unsupported) {
      nativeBlasStats.fallbacks++;
      return fallback(args);
    }
    const backend = args.backend as unknown as WasmBackend;
    const out = runProduct(ctx, backend, a as TensorInfo, b as TensorInfo, p, attrs.transposeA, attrs.transposeB);
    const heap = backend.wasm.HEAPU8.buffer as ArrayBuffer;
    const none: Strides = [0, 0, 0];
    ctx.lib.epilogue(
      heap,
      offsetOf(backend, out),
      batch,
      p.m,
      p.n,
      bias == null ? -1 : offsetOf(backend, bias),
      biasStrides ?? none,
      act,
      attrs.activation === 'prelu' && prelu != null ? offsetOf(backend, prelu) : -1,
      preluStrides ?? none,
      attrs.leakyreluAlpha ?? 0.2,
    );
    nativeBlasStats.fused++;
    return out;
  };
}

/** tfjs `Sum` (scale 1) and `Mean` (scale 1/r) over contiguous axes of a float32 tensor. */
function nativeReduction(ctx: Ctx, mean: boolean, fallback: KernelFunc): KernelFunc {
  return (args: KernelArgs) => {
    const { x } = args.inputs as { x: TensorInfo };
    const { axis, keepDims } = args.attrs as { axis: number | number[] | null; keepDims: boolean };
    const p = x.dtype === 'float32' ? planReduction(x.shape, axis, keepDims) : null;
    if (p === null || p.outer * p.r * p.inner === 0) {
      nativeBlasStats.fallbacks++;
      return fallback(args);
    }
    const backend = args.backend as unknown as WasmBackend;
    const out = backend.makeOutput(p.outShape, 'float32');
    const heap = backend.wasm.HEAPU8.buffer as ArrayBuffer;
    ctx.lib.reduce(heap, offsetOf(backend, x), offsetOf(backend, out), p.outer, p.r, p.inner, mean ? 1 / p.r : 1);
    nativeBlasStats.reductions++;
    return out;
  };
}

/** 4-byte dtypes copy alike; bool (1 byte), string and complex go to the fallback. */
const copyable = (t: TensorInfo): boolean => (t.dtype === 'float32' || t.dtype === 'int32') && t.shape.length >= 1 && t.shape.length <= 8;

/** Copy the box [begin, begin + size) of x into a new packed tensor. */
function copyBox(ctx: Ctx, backend: WasmBackend, x: TensorInfo, begin: number[], size: number[]): TensorInfo {
  const out = backend.makeOutput(size, x.dtype);
  const heap = backend.wasm.HEAPU8.buffer as ArrayBuffer;
  ctx.lib.slice(heap, offsetOf(backend, x), offsetOf(backend, out), x.shape, begin, size);
  nativeBlasStats.slices++;
  return out;
}

function nativeSlice(ctx: Ctx, fallback: KernelFunc): KernelFunc {
  return (args: KernelArgs) => {
    const { x } = args.inputs as { x: TensorInfo };
    const { begin, size } = args.attrs as { begin: number | number[]; size?: number | number[] };
    const [b, s] = tf.slice_util.parseSliceParams(x as tf.Tensor, begin, size) as [number[], number[]];
    if (!copyable(x) || s.some((d) => d === 0)) {
      nativeBlasStats.fallbacks++;
      return fallback(args);
    }
    return copyBox(ctx, args.backend as unknown as WasmBackend, x, b, s);
  };
}

function nativeSplitV(ctx: Ctx, fallback: KernelFunc): KernelFunc {
  return (args: KernelArgs) => {
    const { x } = args.inputs as { x: TensorInfo };
    const { numOrSizeSplits, axis } = args.attrs as { numOrSizeSplits: number | number[]; axis: number };
    const ax = tf.util.parseAxisParam(axis, x.shape)[0] as number;
    const sizes = tf.backend_util.prepareSplitSize(x, numOrSizeSplits, ax);
    if (!copyable(x) || sizes.some((d) => d === 0) || x.shape.some((d) => d === 0)) {
      nativeBlasStats.fallbacks++;
      return fallback(args);
    }
    const begin = x.shape.map(() => 0);
    return sizes.map((d) => {
      const box = x.shape.map((s, i) => (i === ax ? d : s));
      const out = copyBox(ctx, args.backend as unknown as WasmBackend, x, begin, box);
      begin[ax] = (begin[ax] as number) + d;
      return out;
    });
  };
}

/**
 * Only a plain ArrayBuffer heap can be handed to the addon; a SharedArrayBuffer (threaded wasm, which tfjs does
 * not enable in Node) sends every call to the fallback.
 */
function onPlainHeap(kernel: KernelFunc, fallback: KernelFunc): KernelFunc {
  return (args: KernelArgs) => {
    if ((args.backend as unknown as WasmBackend).wasm.HEAPU8.buffer instanceof ArrayBuffer) return kernel(args);
    nativeBlasStats.fallbacks++;
    return fallback(args);
  };
}

/**
 * The native kernel functions, each wrapping the kernel it replaces (`fallback`), bound to the loaded addon.
 * `minMacs` is read on every call so a config change applies without re-registering.
 */
export function nativeKernelFactories(lib: NativeBlasAddon, minMacs: () => number): Record<NativeKernelName, (fallback: KernelFunc) => KernelFunc> {
  const ctx: Ctx = { lib, minMacs };
  const kernels: Record<NativeKernelName, (fallback: KernelFunc) => KernelFunc> = {
    BatchMatMul: (f) => nativeBatchMatMul(ctx, f),
    _FusedMatMul: (f) => nativeFusedMatMul(ctx, f),
    Sum: (f) => nativeReduction(ctx, false, f),
    Mean: (f) => nativeReduction(ctx, true, f),
    Slice: (f) => nativeSlice(ctx, f),
    SplitV: (f) => nativeSplitV(ctx, f),
  };
  const guarded = Object.entries(kernels).map(([name, make]) => [name, (f: KernelFunc) => onPlainHeap(make(f), f)]);
  return Object.fromEntries(guarded) as typeof kernels;
}
