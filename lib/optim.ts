/**
 * AdamW (Loshchilov & Hutter; PyTorch's update) over an explicit list of variables, with its state exposed as
 * named tensors so a checkpoint can save and restore it exactly. tfjs's own Adam has no decoupled weight decay
 * and no portable state, hence this small class. On the wasm backend with the native addon, each parameter's
 * update is one native call in place (lib/native-blas `nativeAdamWUpdate`); elsewhere the same formula in tf ops.
 *
 *   p ← p − lr·λ·p   (decay only on matrices: rank ≥ 2, not norms or biases)
 *   m ← β₁m + (1−β₁)g,  v ← β₂v + (1−β₂)g²,  p ← p − lr · (m/(1−β₁ᵗ)) / (√(v/(1−β₂ᵗ)) + ε)
 */
import * as tf from '@tensorflow/tfjs';
import { nativeAdamWUpdate } from './backend/native-blas';

export interface AdamWConfig {
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
}

export const DEFAULT_ADAMW: Readonly<AdamWConfig> = Object.freeze({ beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01 });

/** A variable with the stable name its optimizer state is saved under (tf variable names are per-process). */
export interface NamedVariable {
  name: string;
  variable: tf.Variable;
}

export class AdamW {
  /** Completed update steps (t in the bias corrections). */
  t = 0;
  private readonly m = new Map<string, tf.Variable>();
  private readonly v = new Map<string, tf.Variable>();

  constructor(
    private readonly variables: readonly NamedVariable[],
    private readonly config: AdamWConfig = DEFAULT_ADAMW,
  ) {}

  private slot(store: Map<string, tf.Variable>, name: string, like: tf.Variable): tf.Variable {
    let s = store.get(name);
    if (s === undefined) {
      s = tf.tidy(() => tf.variable(tf.zerosLike(like), false));
      store.set(name, s);
    }
    return s;
  }

  /** One update with learning rate `lr`; `grads` maps tf variable names to gradients (missing = no update). */
  step(grads: tf.NamedTensorMap, lr: number): void {
    this.t += 1;
    const { beta1, beta2, eps, weightDecay } = this.config;
    const c1 = 1 - Math.pow(beta1, this.t);
    const c2 = 1 - Math.pow(beta2, this.t);
    for (const { name, variable: p } of this.variables) {
      const g = grads[p.name];
      if (g === undefined) continue;
      const m = this.slot(this.m, name, p);
      const v = this.slot(this.v, name, p);
      const decay = weightDecay > 0 && p.rank >= 2 ? 1 - lr * weightDecay : 1;
      if (nativeAdamWUpdate(p, m, v, g, { lr, beta1, beta2, c1, c2, eps, decay })) continue;
      tf.tidy(() => {
        const mNew = tf.add(tf.mul(m, beta1), tf.mul(g, 1 - beta1));
        const vNew = tf.add(tf.mul(v, beta2), tf.mul(tf.square(g), 1 - beta2));
        m.assign(mNew);
        v.assign(vNew);
        const update = tf.div(tf.div(mNew, c1), tf.add(tf.sqrt(tf.div(vNew, c2)), eps));
        const decayed = weightDecay > 0 && p.rank >= 2 ? tf.mul(p, 1 - lr * weightDecay) : p;
        p.assign(tf.sub(decayed, tf.mul(update, lr)));
      });
    }
  }

  /** The state as named tensors (`m/<name>`, `v/<name>`) plus t; the tensors are the live slots (do not dispose). */
  state(): { t: number; tensors: tf.NamedTensorMap } {
    const tensors: tf.NamedTensorMap = {};
    for (const [name, s] of this.m) tensors[`m/${name}`] = s;
    for (const [name, s] of this.v) tensors[`v/${name}`] = s;
    return { t: this.t, tensors };
  }

  /** Restore a state saved by `state()` (variables matched by name; an unknown name is an error). */
  load(state: { t: number; tensors: tf.NamedTensorMap }): void {
    const byName = new Map(this.variables.map((v) => [v.name, v.variable] as const));
    this.dispose();
    this.t = state.t;
    for (const [key, value] of Object.entries(state.tensors)) {
      const [kind, ...rest] = key.split('/');
      const name = rest.join('/');
      const target = byName.get(name);
      if (target === undefined || (kind !== 'm' && kind !== 'v')) throw new Error(`Optimizer state has '${key}', which matches no model variable.`);
      (kind === 'm' ? this.m : this.v).set(name, tf.variable(value, false));
    }
  }

  dispose(): void {
    for (const s of [...this.m.values(), ...this.v.values()]) s.dispose();
    this.m.clear();
    this.v.clear();
  }
}

/** Scale gradients so their global L2 norm is at most `maxNorm`; returns the new map and the norm before. */
export function clipByGlobalNorm(grads: tf.NamedTensorMap, maxNorm: number): { grads: tf.NamedTensorMap; norm: tf.Scalar } {
  return tf.tidy(() => {
    const norm = tf.sqrt(tf.addN(Object.values(grads).map((g) => tf.sum(tf.square(g))))) as tf.Scalar;
    const scale = tf.minimum(1, tf.div(maxNorm, tf.add(norm, 1e-6)));
    const out: tf.NamedTensorMap = {};
    for (const [k, g] of Object.entries(grads)) out[k] = tf.mul(g, scale);
    return { grads: out, norm };
  });
}

/**
 * One optimiser update from fresh gradients: clip them to `clipNorm` (null: no clipping), step, and dispose of
 * every gradient. Returns the norm before clipping when `readNorm` (one host read; the trainers log it every
 * few steps), else undefined.
 */
export async function applyGradients(
  opt: AdamW,
  grads: tf.NamedTensorMap,
  lr: number,
  clipNorm: number | null,
  readNorm: boolean,
): Promise<number | undefined> {
  let applied = grads;
  let norm: number | undefined;
  if (clipNorm !== null) {
    const clipped = clipByGlobalNorm(grads, clipNorm);
    tf.dispose(Object.values(grads));
    applied = clipped.grads;
    if (readNorm) norm = (await clipped.norm.data())[0];
    clipped.norm.dispose();
  }
  opt.step(applied, lr);
  tf.dispose(Object.values(applied));
  return norm;
}
