/**
 * The transformer block of issue #9, shared by `bench:backend` and `npm run bench` (which exports it to the
 * PyTorch twin): pre-norm attention + GELU MLP, 4-D head reshapes, lib/model/layers' GELU (x·σ(1.702x)),
 * LayerNorm without bias (ε 1e-5) and masked softmax (fused kernels with the addon), causal mask, mean-squared error against a fixed target, Adam (lr 1e-3,
 * ε 1e-7).
 */
import * as tf from '@tensorflow/tfjs';
import { seededTensor } from '../lib/backend';
import { gelu, layerNorm, maskedSoftmax } from '../lib/model/layers';
import { AdamW } from '../lib/optim';
import { Rng } from '../lib/random';

/** B=32, T=64, d=128, 4 heads, MLP 512. */
export const BLOCK = { batch: 32, seq: 64, dim: 128, heads: 4, mlp: 512 };

export const BLOCK_ADAM_LR = 1e-3;

export type BlockParams = Record<string, tf.Variable>;

export interface BlockFixture {
  params: BlockParams;
  /** Input and regression target, [B·T, d]. */
  x: tf.Tensor2D;
  target: tf.Tensor2D;
  /** Additive causal mask [T, T]: −1e9 above the diagonal. */
  mask: tf.Tensor2D;
}

/** Forward FLOPs of one block pass (matrix products only; the backward is twice this). */
export function blockForwardFlops(): number {
  const { batch, seq, dim, heads, mlp } = BLOCK;
  const rows = batch * seq;
  const hd = dim / heads;
  return 2 * rows * dim * 3 * dim + 2 * 2 * batch * heads * seq * seq * hd + 2 * rows * dim * dim + 2 * 2 * rows * dim * mlp;
}

export function makeBlockFixture(seed = 9): BlockFixture {
  const { batch, seq, dim, mlp } = BLOCK;
  const rng = new Rng(seed);
  const w = (shape: number[], fanIn: number): tf.Variable => tf.variable(seededTensor(shape, rng, 'normal', 1 / Math.sqrt(fanIn)));
  const c = (shape: number[], kind: 'zeros' | 'ones'): tf.Variable => tf.variable(seededTensor(shape, rng, kind));
  const params: BlockParams = {
    ln1: c([dim], 'ones'),
    wqkv: w([dim, 3 * dim], dim),
    wo: w([dim, dim], dim),
    ln2: c([dim], 'ones'),
    w1: w([dim, mlp], dim),
    b1: c([mlp], 'zeros'),
    w2: w([mlp, dim], mlp),
    b2: c([dim], 'zeros'),
  };
  const x = seededTensor([batch * seq, dim], rng) as tf.Tensor2D;
  const target = seededTensor([batch * seq, dim], rng) as tf.Tensor2D;
  const mask = tf.tidy(() => tf.mul(tf.sub(tf.ones([seq, seq]), tf.linalg.bandPart(tf.ones([seq, seq]), -1, 0)), -1e9)) as tf.Tensor2D;
  return { params, x, target, mask };
}

/** (B·T, d) → (B, H, T, hd) */
function splitHeads(x: tf.Tensor): tf.Tensor {
  const { batch, seq, heads, dim } = BLOCK;
  return tf.transpose(tf.reshape(x, [batch, seq, heads, dim / heads]), [0, 2, 1, 3]);
}

/** Mean squared error of the block's output against the fixture's target. */
export function blockLoss(f: BlockFixture): tf.Scalar {
  const { batch, seq, dim, heads } = BLOCK;
  const P = (n: string): tf.Tensor => f.params[n] as tf.Tensor;
  const qkv = tf.matMul(layerNorm(f.x, P('ln1'), null, 1e-5), P('wqkv')); // (B·T, 3d)
  const [q, k, v] = tf.split(qkv, 3, -1).map(splitHeads) as [tf.Tensor, tf.Tensor, tf.Tensor]; // (B, H, T, hd)
  const scores = tf.mul(tf.matMul(q, k, false, true), 1 / Math.sqrt(dim / heads)); // (B, H, T, T)
  const context = tf.matMul(maskedSoftmax(scores, f.mask), v); // (B, H, T, hd)
  const merged = tf.reshape(tf.transpose(context, [0, 2, 1, 3]), [batch * seq, dim]); // (B·T, d)
  const x1 = tf.add(f.x, tf.matMul(merged, P('wo')));
  const u = tf.add(tf.matMul(layerNorm(x1, P('ln2'), null, 1e-5), P('w1')), P('b1')); // (B·T, mlp)
  const x2 = tf.add(x1, tf.add(tf.matMul(gelu(u), P('w2')), P('b2'))); // lib/model/layers' GELU, x·σ(1.702x)
  return tf.mean(tf.square(tf.sub(x2, f.target)));
}

/**
 * A closure running one Adam step of the block on the fixture; returns the loss tensor. Adam is lib/optim's
 * AdamW without weight decay (ε 1e-7, tf.train.adam's): on the wasm backend with the native addon, one native
 * update per parameter.
 */
export function blockStep(f: BlockFixture): () => tf.Tensor {
  const vars = Object.entries(f.params).map(([name, variable]) => ({ name, variable }));
  const opt = new AdamW(vars, { beta1: 0.9, beta2: 0.999, eps: 1e-7, weightDecay: 0 });
  return () => {
    const { value, grads } = tf.variableGrads(
      () => blockLoss(f),
      vars.map((v) => v.variable),
    );
    opt.step(grads, BLOCK_ADAM_LR);
    tf.dispose(Object.values(grads));
    return value;
  };
}

/** A fresh fixture's Adam step (bench:backend). */
export function makeStep(): () => tf.Tensor {
  return blockStep(makeBlockFixture());
}
