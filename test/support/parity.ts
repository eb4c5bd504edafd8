/** Shared by the backend parity suites: seeded inputs, value-and-gradient cases, output comparison. */
import { strict as assert } from 'assert';
import * as tf from '@tensorflow/tfjs';
import { seededTensor } from '../../lib/backend';
import { Rng } from '../../lib/random';

/** A pure function of seeded inputs, run once per backend. */
export type Case = () => tf.Tensor[];

/** max |got − ref| / max(|ref|, 1e-6). */
export function relError(got: Float32Array, ref: Float32Array): number {
  assert.equal(got.length, ref.length, 'output sizes differ');
  let diff = 0;
  let scale = 1e-6;
  ref.forEach((r, i) => {
    diff = Math.max(diff, Math.abs((got[i] as number) - r));
    scale = Math.max(scale, Math.abs(r));
  });
  return diff / scale;
}

/** Every output of `got` within `tol` relative error of `want`. */
export function assertClose(got: Float32Array[], want: Float32Array[], tol: number): void {
  assert.equal(got.length, want.length);
  want.forEach((w, i) => {
    const err = relError(got[i] as Float32Array, w);
    assert.ok(err <= tol, `output ${i}: relative error ${err.toExponential(2)} > ${tol}`);
  });
}

/** Seeded input of a given shape (same values on every backend). */
export const input = (shape: number[], seed: number): tf.Tensor => seededTensor(shape, new Rng(seed));

/** Value and gradients of sum(f(xs) · w) for a fixed random weighting w (exercises every output entry). */
export function valueAndGrads(f: (...xs: tf.Tensor[]) => tf.Tensor, shapes: number[][], seed: number): tf.Tensor[] {
  const xs = shapes.map((s, i) => input(s, seed + i));
  const probe = f(...xs);
  const w = input(probe.shape, seed + 99);
  return [probe, ...tf.grads((...args: tf.Tensor[]) => tf.sum(tf.mul(f(...args), w)))(xs)];
}

/** Run `fn` on `backend` (tf.setBackend, keeping the kernels registered there) and read its outputs. */
export async function runOn(backend: 'cpu' | 'wasm', fn: Case): Promise<Float32Array[]> {
  // setBackend, not initBackend: initBackend would re-enable native BLAS with its default arrangement.
  await tf.setBackend(backend);
  return tf.tidy(fn).map((t) => {
    const data = Float32Array.from(t.dataSync() as Float32Array);
    t.dispose();
    return data;
  });
}

/** Run `fn` on wasm (native kernels) and compare with `ref` (default: the same function on cpu). */
export async function assertParity(fn: Case, ref: Case = fn, tol = 1e-5): Promise<void> {
  const want = await runOn('cpu', ref);
  assertClose(await runOn('wasm', fn), want, tol);
}
