/**
 * The transformer pieces both towers use, as pure functions of tensors (no state). Shapes in the comments:
 * B batch, T sequence, D width, H heads, hd head width.
 *
 * Written for the wasm backend's fast paths: attention reshapes stay 4-D, GELU is x·σ(1.702x) (no tanh),
 * no `pow`, the attention scale on q rather than the scores, rotate-half as a product. The norms, the masked
 * softmax and the sigmoid gates (GELU, SiLU) run as single fused kernels, forward and backward, where
 * lib/native-fused's kernels are registered (wasm with the native addon); elsewhere as tf ops, the same math.
 */
import * as tf from '@tensorflow/tfjs';
import { FUSED_KERNELS, fusedKernelAvailable, softmaxMaskPlan } from '../backend/native-fused';

/** x [..., in] · w [in, out] (+ b [out]) → [..., out]. */
export function linear(x: tf.Tensor, w: tf.Tensor, b?: tf.Tensor): tf.Tensor {
  const inDim = x.shape[x.shape.length - 1] as number;
  const outDim = w.shape[1] as number;
  const flat = tf.reshape(x, [-1, inDim]);
  const y = b === undefined ? tf.matMul(flat, w) : tf.add(tf.matMul(flat, w), b);
  return tf.reshape(y, [...x.shape.slice(0, -1), outDim]);
}

const run = (name: string, inputs: Record<string, tf.Tensor>, attrs: Record<string, unknown> = {}): tf.Tensor | tf.Tensor[] =>
  tf.engine().runKernel(name, inputs as unknown as tf.NamedTensorMap, attrs as unknown as tf.NamedAttrMap) as unknown as tf.Tensor | tf.Tensor[];

/** The fused kernels take float32 only; anything else runs the tf-op formulas. */
const fusable = (name: string, ...ts: tf.Tensor[]): boolean => fusedKernelAvailable(name) && ts.every((t) => t.dtype === 'float32');

/**
 * LayerNorm (with `beta`, or without: γ only) or RMSNorm (`rms`) over the last axis as one fused kernel, with
 * the gradients of x, γ (and β) from one backward kernel and the saved per-row statistics.
 */
function fusedNorm(x: tf.Tensor, gamma: tf.Tensor, beta: tf.Tensor | null, eps: number, rms: boolean): tf.Tensor {
  const withBeta = beta !== null;
  const f = tf.customGrad(((...args: unknown[]) => {
    const save = args.pop() as tf.GradSaveFunc;
    const [xi, g, b] = args as [tf.Tensor, tf.Tensor, tf.Tensor | undefined];
    const [y, ...stats] = run(FUSED_KERNELS.norm, b === undefined ? { x: xi, gamma: g } : { x: xi, gamma: g, beta: b }, { eps, rms }) as tf.Tensor[];
    save([xi, g, ...stats]);
    return {
      value: y as tf.Tensor,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [xs, gs, ...st] = saved as [tf.Tensor, tf.Tensor, ...tf.Tensor[]];
        const inputs: Record<string, tf.Tensor> = rms
          ? { dy, x: xs, gamma: gs, rstd: st[0] as tf.Tensor }
          : { dy, x: xs, gamma: gs, mean: st[0] as tf.Tensor, rstd: st[1] as tf.Tensor };
        return run(FUSED_KERNELS.normGrad, inputs, { withBeta }) as tf.Tensor[];
      },
    };
  }) as unknown as Parameters<typeof tf.customGrad>[0]);
  return (f as unknown as (...ts: tf.Tensor[]) => tf.Tensor)(...(beta === null ? [x, gamma] : [x, gamma, beta]));
}

/** RMSNorm over the last axis: x / sqrt(mean(x²) + ε) · γ. */
export function rmsNorm(x: tf.Tensor, gamma: tf.Tensor, eps: number): tf.Tensor {
  if (fusable(FUSED_KERNELS.norm, x, gamma)) return fusedNorm(x, gamma, null, eps, true);
  return tf.mul(tf.mul(x, tf.rsqrt(tf.add(tf.mean(tf.square(x), -1, true), eps))), gamma);
}

/** LayerNorm over the last axis with γ and β (β null: γ only, as the backend benchmark's block). */
export function layerNorm(x: tf.Tensor, gamma: tf.Tensor, beta: tf.Tensor | null, eps: number): tf.Tensor {
  if (fusable(FUSED_KERNELS.norm, x, gamma, ...(beta === null ? [] : [beta]))) return fusedNorm(x, gamma, beta, eps, false);
  const { mean, variance } = tf.moments(x, -1, true);
  const scaled = tf.mul(tf.mul(tf.sub(x, mean), tf.rsqrt(tf.add(variance, eps))), gamma);
  return beta === null ? scaled : tf.add(scaled, beta);
}

/**
 * x·σ(αx) with its gradient written out, dx = dy·s·(1 + αx(1 − s)) from the saved s = σ(αx): one native kernel
 * each way with the addon, else the same formulas in tf ops (autodiff of the product would run six kernels).
 */
function sigmoidGate(alpha: number): (x: tf.Tensor) => tf.Tensor {
  return tf.customGrad(((x: tf.Tensor, save: tf.GradSaveFunc) => {
    let y: tf.Tensor;
    let s: tf.Tensor;
    if (fusable(FUSED_KERNELS.gate, x)) [y, s] = run(FUSED_KERNELS.gate, { x }, { alpha }) as [tf.Tensor, tf.Tensor];
    else {
      s = tf.sigmoid(alpha === 1 ? x : tf.mul(x, alpha));
      y = tf.mul(x, s);
    }
    save([x, s]);
    return {
      value: y,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [xs, ss] = saved as [tf.Tensor, tf.Tensor];
        if (fusable(FUSED_KERNELS.gateGrad, dy, xs)) return run(FUSED_KERNELS.gateGrad, { dy, x: xs, s: ss }, { alpha }) as tf.Tensor;
        return tf.mul(tf.mul(dy, ss), tf.add(1, tf.mul(tf.mul(xs, alpha), tf.sub(1, ss))));
      },
    };
  }) as unknown as Parameters<typeof tf.customGrad>[0]) as (x: tf.Tensor) => tf.Tensor;
}

/** GELU, sigmoid approximation x·σ(1.702x) (avoids the slow wasm tanh). */
export const gelu: (x: tf.Tensor) => tf.Tensor = sigmoidGate(1.702);

/** SiLU x·σ(x). */
export const silu: (x: tf.Tensor) => tf.Tensor = sigmoidGate(1);

/**
 * softmax(scores + mask) over the last axis; `mask` additive (0 allowed, large negative forbidden) broadcast
 * onto the scores, or null. One fused kernel each way where registered and the mask broadcasts as the kernel
 * covers ([B, 1, T, T] or [T, T] onto [B, H, T, T]); else tf.add and tf.softmax. The mask gets no gradient.
 */
export function maskedSoftmax(scores: tf.Tensor, mask: tf.Tensor | null): tf.Tensor {
  const plan = mask === null ? scores.rank >= 2 : softmaxMaskPlan(scores.shape, mask.shape) !== null;
  if (!plan || !fusable(FUSED_KERNELS.softmax, scores, ...(mask === null ? [] : [mask]))) {
    return tf.softmax(mask === null ? scores : tf.add(scores, mask));
  }
  const f = tf.customGrad(((s: tf.Tensor, save: tf.GradSaveFunc) => {
    const y = run(FUSED_KERNELS.softmax, mask === null ? { x: s } : { x: s, mask }) as tf.Tensor;
    save([y]);
    return {
      value: y,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => run(FUSED_KERNELS.softmaxGrad, { dy, y: saved[0] as tf.Tensor }) as tf.Tensor,
    };
  }) as unknown as Parameters<typeof tf.customGrad>[0]) as (s: tf.Tensor) => tf.Tensor;
  return f(scores);
}

/** Rotary tables for positions 0..T-1: cos and sin, each [T, hd], in the rotate-half layout (HF / Qwen2). */
export function ropeTables(seqLen: number, headDim: number, base: number): { cos: tf.Tensor2D; sin: tf.Tensor2D } {
  const half = headDim / 2;
  const cos = new Float32Array(seqLen * headDim);
  const sin = new Float32Array(seqLen * headDim);
  for (let t = 0; t < seqLen; t++) {
    for (let i = 0; i < half; i++) {
      const angle = t / Math.pow(base, (2 * i) / headDim);
      const c = Math.cos(angle);
      const s = Math.sin(angle);
      cos[t * headDim + i] = c;
      cos[t * headDim + i + half] = c;
      sin[t * headDim + i] = s;
      sin[t * headDim + i + half] = s;
    }
  }
  return { cos: tf.tensor2d(cos, [seqLen, headDim]), sin: tf.tensor2d(sin, [seqLen, headDim]) };
}

/** [hd, hd] with x·R = rotate_half(x) = [−x₂, x₁] for a row x (cached per width). */
const rotationCache = new Map<number, Float32Array>();
function rotateHalfMatrix(headDim: number): tf.Tensor2D {
  let values = rotationCache.get(headDim);
  if (values === undefined) {
    const half = headDim / 2;
    values = new Float32Array(headDim * headDim);
    for (let j = 0; j < half; j++) {
      values[(j + half) * headDim + j] = -1; // out[j] = −x[j + half]
      values[j * headDim + j + half] = 1; // out[j + half] = x[j]
    }
    rotationCache.set(headDim, values);
  }
  return tf.tensor2d(values, [headDim, headDim]);
}

/**
 * x [B, H, T, hd] rotated: x·cos + rotate_half(x)·sin, with rotate_half(x) = [−x₂, x₁], taken as one product
 * with a fixed signed permutation (one BLAS call forward and one backward, instead of split, negate, concat and
 * their gradients).
 */
export function applyRope(x: tf.Tensor, cos: tf.Tensor, sin: tf.Tensor): tf.Tensor {
  const hd = x.shape[x.shape.length - 1] as number;
  const rotated = tf.reshape(tf.matMul(tf.reshape(x, [-1, hd]), rotateHalfMatrix(hd)), x.shape);
  return tf.add(tf.mul(x, cos), tf.mul(rotated, sin));
}

export interface AttentionWeights {
  wq: tf.Tensor;
  wk: tf.Tensor;
  wv: tf.Tensor;
  wo: tf.Tensor;
  bq?: tf.Tensor;
  bk?: tf.Tensor;
  bv?: tf.Tensor;
  bo?: tf.Tensor;
}

/** [B, T, D] → [B, H, T, hd]. */
function splitHeads(x: tf.Tensor, heads: number): tf.Tensor {
  const [b, t, d] = x.shape as [number, number, number];
  return tf.transpose(tf.reshape(x, [b, t, heads, d / heads]), [0, 2, 1, 3]);
}

/**
 * Multi-head self-attention.
 * @param x [B, T, D]
 * @param mask additive [B, 1, T, T] (0 allowed, large negative forbidden) or null for full attention
 * @param rope rotary tables [T, hd] or null (the vision tower uses learned absolute positions)
 * @returns [B, T, D]
 */
export function attention(
  x: tf.Tensor,
  w: AttentionWeights,
  heads: number,
  mask: tf.Tensor | null,
  rope: { cos: tf.Tensor; sin: tf.Tensor } | null,
): tf.Tensor {
  const [b, t, d] = x.shape as [number, number, number];
  let q = splitHeads(linear(x, w.wq, w.bq), heads); // [B, H, T, hd]
  let k = splitHeads(linear(x, w.wk, w.bk), heads);
  const v = splitHeads(linear(x, w.wv, w.bv), heads);
  // The 1/√hd scale goes on q (or into q's rotary tables), T/hd times fewer multiplies than on the scores.
  const scale = 1 / Math.sqrt(d / heads);
  if (rope !== null) {
    q = applyRope(q, tf.mul(rope.cos, scale), tf.mul(rope.sin, scale));
    k = applyRope(k, rope.cos, rope.sin);
  } else {
    q = tf.mul(q, scale);
  }
  const scores = tf.matMul(q, k, false, true); // [B, H, T, T]
  const out = tf.matMul(maskedSoftmax(scores, mask), v); // [B, H, T, hd]
  const merged = tf.reshape(tf.transpose(out, [0, 2, 1, 3]), [b, t, d]);
  return linear(merged, w.wo, w.bo);
}

/** L2-normalise the rows of x [N, D]. */
export function l2Normalize(x: tf.Tensor): tf.Tensor {
  return tf.mul(x, tf.rsqrt(tf.add(tf.sum(tf.square(x), -1, true), 1e-12)));
}
