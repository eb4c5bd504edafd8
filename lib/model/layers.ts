/**
 * The transformer pieces both towers use, as pure functions of tensors (no state). Shapes in the comments:
 * B batch, T sequence, D width, H heads, hd head width.
 *
 * Written for the wasm backend's fast paths: attention reshapes stay 4-D, GELU is x·σ(1.702x) (no tanh),
 * no `pow`.
 */
import * as tf from '@tensorflow/tfjs';

/** x [..., in] · w [in, out] (+ b [out]) → [..., out]. */
export function linear(x: tf.Tensor, w: tf.Tensor, b?: tf.Tensor): tf.Tensor {
  const inDim = x.shape[x.shape.length - 1] as number;
  const outDim = w.shape[1] as number;
  const flat = tf.reshape(x, [-1, inDim]);
  const y = b === undefined ? tf.matMul(flat, w) : tf.add(tf.matMul(flat, w), b);
  return tf.reshape(y, [...x.shape.slice(0, -1), outDim]);
}

/** RMSNorm over the last axis: x / sqrt(mean(x²) + ε) · γ. */
export function rmsNorm(x: tf.Tensor, gamma: tf.Tensor, eps: number): tf.Tensor {
  return tf.mul(tf.mul(x, tf.rsqrt(tf.add(tf.mean(tf.square(x), -1, true), eps))), gamma);
}

/** LayerNorm over the last axis with γ, β. */
export function layerNorm(x: tf.Tensor, gamma: tf.Tensor, beta: tf.Tensor, eps: number): tf.Tensor {
  const { mean, variance } = tf.moments(x, -1, true);
  return tf.add(tf.mul(tf.mul(tf.sub(x, mean), tf.rsqrt(tf.add(variance, eps))), gamma), beta);
}

/** GELU, sigmoid approximation x·σ(1.702x) (avoids the slow wasm tanh). */
export function gelu(x: tf.Tensor): tf.Tensor {
  return tf.mul(x, tf.sigmoid(tf.mul(x, 1.702)));
}

/** SiLU x·σ(x). */
export function silu(x: tf.Tensor): tf.Tensor {
  return tf.mul(x, tf.sigmoid(x));
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

/** x [B, H, T, hd] rotated: x·cos + rotate_half(x)·sin, with rotate_half(x) = [−x₂, x₁]. */
export function applyRope(x: tf.Tensor, cos: tf.Tensor, sin: tf.Tensor): tf.Tensor {
  const [x1, x2] = tf.split(x, 2, -1) as [tf.Tensor, tf.Tensor];
  const rotated = tf.concat([tf.neg(x2), x1], -1);
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
  if (rope !== null) {
    q = applyRope(q, rope.cos, rope.sin);
    k = applyRope(k, rope.cos, rope.sin);
  }
  let scores = tf.mul(tf.matMul(q, k, false, true), 1 / Math.sqrt(d / heads)); // [B, H, T, T]
  if (mask !== null) scores = tf.add(scores, mask);
  const out = tf.matMul(tf.softmax(scores), v); // [B, H, T, hd]
  const merged = tf.reshape(tf.transpose(out, [0, 2, 1, 3]), [b, t, d]);
  return linear(merged, w.wo, w.bo);
}

/** L2-normalise the rows of x [N, D]. */
export function l2Normalize(x: tf.Tensor): tf.Tensor {
  return tf.mul(x, tf.rsqrt(tf.add(tf.sum(tf.square(x), -1, true), 1e-12)));
}
