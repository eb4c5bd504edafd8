/**
 * The fused norm / masked-softmax / sigmoid-gate kernels (lib/backend/native-fused.ts, native/src/fused.c): on wasm with
 * the addon, lib/model/layers runs them; on cpu the same functions run their tf-op formulas, which are the
 * naive twins here. Values and gradients (of x, γ, β) within 1e-5; the mask broadcast plan against tfjs' own
 * broadcasting; written-out gradients against autodiff; the addon's guards; no tensor leaks.
 */
import { strict as assert } from 'assert';
import * as fc from 'fast-check';
import * as tf from '@tensorflow/tfjs';
import { assertNoLeak, initBackend } from '../lib/backend';
import { enableNativeBlas, loadNativeBlas, nativeBlasAddon } from '../lib/backend/native-blas';
import { nativeFusedStats, softmaxMaskPlan } from '../lib/backend/native-fused';
import { gelu, layerNorm, maskedSoftmax, rmsNorm, silu } from '../lib/model/layers';
import { assertParity, input, relError, valueAndGrads } from './support/parity';

const size = (shape: readonly number[]): number => shape.reduce((p, s) => p * s, 1);

/** An additive causal mask [T, T]: 0 on and below the diagonal, −1e9 above. */
const causal = (t: number): tf.Tensor => tf.tidy(() => tf.mul(tf.sub(tf.ones([t, t]), tf.linalg.bandPart(tf.ones([t, t]), -1, 0)), -1e9));

/** A mask of `shape` with −1e9 at seeded random places (never a whole row: entry 0 of each row stays open). */
function randomMask(shape: number[], seed: number): tf.Tensor {
  return tf.tidy(() => {
    const d = shape[shape.length - 1] as number;
    const open = tf.oneHot(tf.zeros([size(shape) / d], 'int32'), d).reshape(shape);
    const blocked = tf.greater(input(shape, seed), 0.3);
    return tf.mul(tf.mul(tf.cast(blocked, 'float32'), tf.sub(1, open)), -1e9);
  });
}

describe('fused kernels: the softmax mask plan matches tfjs broadcasting', () => {
  before(async () => {
    await initBackend({ backend: 'cpu' });
  });

  /** Which mask row tfjs broadcasting reads for each scores row (checked constant along the row). */
  function broadcastRows(mask: number[], scores: number[]): number[] {
    const d = scores[scores.length - 1] as number;
    const idx = tf.tidy(() => Array.from(tf.broadcastTo(tf.reshape(tf.range(0, size(mask), 1, 'int32'), mask), scores).dataSync()));
    return Array.from({ length: idx.length / d }, (_, r) => {
      for (let j = 0; j < d; j++) assert.equal((idx[r * d + j] as number) - (idx[r * d] as number), j);
      return (idx[r * d] as number) / d;
    });
  }

  it('agrees row for row wherever it plans, and plans every prefix-then-ones mask', () => {
    const dims = fc.array(fc.integer({ min: 1, max: 3 }), { minLength: 0, maxLength: 3 });
    fc.assert(
      fc.property(
        dims,
        fc.integer({ min: 1, max: 4 }),
        fc.integer({ min: 1, max: 4 }),
        fc.integer({ min: 0, max: 3 }),
        fc.boolean(),
        fc.integer({ min: 0, max: 3 }),
        (lead, t, d, keep, rowBroadcast, drop) => {
          const scores = [...lead, t, d];
          // Leading dims: the first `keep` as the scores', the rest 1; then maybe drop some leading ones.
          const maskLead = lead.map((v, i) => (i < keep ? v : 1));
          const mask = [...maskLead, rowBroadcast ? 1 : t, d].slice(keep === 0 ? Math.min(drop, lead.length) : 0);
          const plan = softmaxMaskPlan(scores, mask);
          assert.ok(plan !== null, `no plan for [${mask}] onto [${scores}]`);
          const rows = broadcastRows(mask, scores);
          rows.forEach((want, r) => assert.equal((Math.floor(r / plan.group) % plan.batches) * plan.period + (r % plan.period), want, `row ${r}`));
        },
      ),
      { seed: 5, numRuns: 120 },
    );
  });

  it('declines masks it cannot index (the caller adds them with tf ops)', () => {
    assert.equal(softmaxMaskPlan([2, 3, 5, 5], [1, 3, 5, 5]), null); // broadcast over the batch but not the heads
    assert.equal(softmaxMaskPlan([2, 3, 5, 5], [5, 1]), null); // broadcast along the softmax axis
    assert.equal(softmaxMaskPlan([2, 3, 5, 5], [2, 3, 4, 5]), null);
    assert.equal(softmaxMaskPlan([5], [5]), null);
    assert.deepEqual(softmaxMaskPlan([2, 3, 5, 5], [2, 1, 5, 5]), { batches: 2, group: 15, period: 5 });
    assert.deepEqual(softmaxMaskPlan([2, 3, 5, 5], [5, 5]), { batches: 1, group: 30, period: 5 });
  });
});

/** The parity suite with the fused kernels built for `isa` (each instruction set this CPU runs). */
function paritySuite(isa: string): void {
  describe(`fused kernels match the tf-op formulas on cpu (${isa} build)`, function () {
    let best: string | undefined;
    before(async function () {
      await initBackend({ backend: 'cpu' });
      await initBackend({ backend: 'wasm' });
      const status = enableNativeBlas();
      const lib = nativeBlasAddon();
      if (!status.active || lib === null || typeof lib.norm !== 'function') {
        process.stdout.write(`    skipped: ${status.reason ?? 'the addon lacks the fused kernels'}\n`);
        this.skip();
      }
      best = lib.info().fused;
      try {
        lib.setFusedIsa(isa);
      } catch (err) {
        process.stdout.write(`    skipped: ${(err as Error).message}\n`);
        this.skip();
      }
    });
    after(() => {
      if (best !== undefined) nativeBlasAddon()?.setFusedIsa(best);
    });

    /** Parity plus: the named counter moved on wasm (the fused kernel is the one that ran). */
    async function fusedParity(counters: (keyof typeof nativeFusedStats)[], fn: () => tf.Tensor[]): Promise<void> {
      const before = { ...nativeFusedStats };
      await assertParity(fn);
      for (const c of counters) assert.ok(nativeFusedStats[c] > before[c], `${c} ran natively`);
    }

    it('LayerNorm with β, without β, and RMSNorm: values and gradients of x, γ, β', async () => {
      for (const [shape, seed] of [
        [[37, 13], 1],
        [[2, 3, 64], 2],
        [[5, 200], 3],
      ] as [number[], number][]) {
        const d = shape[shape.length - 1] as number;
        await fusedParity(['norm', 'normGrad'], () =>
          valueAndGrads((x, g, b) => layerNorm(x as tf.Tensor, g as tf.Tensor, b as tf.Tensor, 1e-5), [shape, [d], [d]], seed),
        );
        await fusedParity(['norm', 'normGrad'], () => valueAndGrads((x, g) => layerNorm(x as tf.Tensor, g as tf.Tensor, null, 1e-6), [shape, [d]], seed + 10));
        await fusedParity(['norm', 'normGrad'], () => valueAndGrads((x, g) => rmsNorm(x as tf.Tensor, g as tf.Tensor, 1e-6), [shape, [d]], seed + 20));
      }
      // Rows far from zero mean and unit scale: the statistics must not lose the small variations.
      await fusedParity(['norm'], () =>
        valueAndGrads((x, g, b) => layerNorm(tf.add(tf.mul(x as tf.Tensor, 0.01), 40), g as tf.Tensor, b as tf.Tensor, 1e-5), [[9, 32], [32], [32]], 4),
      );
    });

    it('masked softmax: causal [T, T], per-sequence [B, 1, T, T] and key [B, 1, 1, T] masks, none; values and gradients', async () => {
      const shape = [2, 3, 7, 7];
      const masks = [() => causal(7), () => randomMask([2, 1, 7, 7], 5), () => randomMask([2, 1, 1, 7], 6), () => null];
      for (const [i, mask] of masks.entries()) {
        await fusedParity(['softmax', 'softmaxGrad'], () => {
          const m = mask();
          return valueAndGrads((s) => maskedSoftmax(s as tf.Tensor, m), [shape], 30 + i);
        });
      }
      // Large scores (exp's range reduction), and odd sizes.
      await fusedParity(['softmax'], () => valueAndGrads((s) => maskedSoftmax(tf.mul(s as tf.Tensor, 30), causal(13)), [[3, 13, 13]], 40));
      await fusedParity(['softmax'], () => valueAndGrads((s) => maskedSoftmax(s as tf.Tensor, null), [[41, 1]], 41));
    });

    it('masked softmax: a mask the kernel cannot index takes the tf-op path, same values', async () => {
      const before = nativeFusedStats.softmax;
      await assertParity(() => valueAndGrads((s) => maskedSoftmax(s as tf.Tensor, randomMask([1, 3, 5, 5], 7)), [[2, 3, 5, 5]], 42));
      assert.equal(nativeFusedStats.softmax, before);
    });

    it('GELU and SiLU: values and gradients, including saturated inputs', async () => {
      for (const [f, seed] of [
        [gelu, 50],
        [silu, 51],
      ] as [(x: tf.Tensor) => tf.Tensor, number][]) {
        await fusedParity(['gate', 'gateGrad'], () => valueAndGrads((x) => f(x as tf.Tensor), [[37, 13]], seed));
        await fusedParity(['gate', 'gateGrad'], () => valueAndGrads((x) => f(tf.mul(x as tf.Tensor, 80)), [[11, 7]], seed + 10));
      }
    });

    it('a backward pass through every fused kernel leaks no tensors', async () => {
      const [x, g, b] = [input([4, 6, 16], 60), tf.variable(input([16], 61)), tf.variable(input([16], 62))];
      const mask = causal(6);
      const step = (): void => {
        const { value, grads } = tf.variableGrads(() => {
          const h = gelu(layerNorm(x, g, b, 1e-5));
          const s = maskedSoftmax(tf.matMul(h, silu(rmsNorm(h, g, 1e-6)), false, true), mask);
          return tf.sum(tf.mul(s, s));
        }, [g, b]);
        tf.dispose([value, ...Object.values(grads)]);
      };
      step();
      const before = { ...nativeFusedStats };
      await assertNoLeak('fused backward', step);
      for (const k of Object.keys(before) as (keyof typeof nativeFusedStats)[]) assert.ok(nativeFusedStats[k] > before[k], `${k} ran natively`);
      tf.dispose([x, g, b, mask]);
    });

    it('NaN propagates as in tfjs: a NaN input gives NaN out of the gates and NaN over its softmax row', async () => {
      const run = (): number[][] =>
        tf.tidy(() => {
          const x = tf.tensor2d([
            [NaN, 0, 1],
            [0, 1, 2],
          ]);
          return [gelu(x), silu(x), maskedSoftmax(x, null), layerNorm(x, tf.ones([3]), tf.zeros([3]), 1e-5)].map((t) => Array.from(t.dataSync()));
        });
      const wasm = run();
      await tf.setBackend('cpu');
      const cpu = run();
      await tf.setBackend('wasm');
      wasm.forEach((got, i) =>
        got.forEach((v, j) => {
          const want = cpu[i]![j]!;
          assert.ok(Number.isNaN(want) ? Number.isNaN(v) : Math.abs(v - want) <= 1e-5 * Math.max(1, Math.abs(want)), `output ${i}[${j}]: ${v} vs ${want}`);
        }),
      );
      assert.ok(wasm[2]!.slice(0, 3).every(Number.isNaN), 'the NaN row of the softmax');
    });
  });
}

for (const isa of ['baseline', 'avx2', 'avx512']) paritySuite(isa);

describe('fused kernels: written-out gradients equal autodiff (cpu, the tf-op path)', () => {
  before(async () => {
    await initBackend({ backend: 'cpu' });
  });

  it('GELU x·σ(1.702x) and SiLU x·σ(x)', () => {
    for (const [f, alpha] of [
      [gelu, 1.702],
      [silu, 1],
    ] as [(x: tf.Tensor) => tf.Tensor, number][]) {
      const x = input([5, 7], 5);
      const ours = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(f(t), input([5, 7], 6))))(x);
      const composite = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(tf.mul(t, tf.sigmoid(tf.mul(t, alpha))), input([5, 7], 6))))(x);
      assert.ok(relError(ours.dataSync() as Float32Array, composite.dataSync() as Float32Array) <= 1e-6);
      tf.dispose([x, ours, composite]);
    }
  });
});

describe('fused kernels: the addon guards the heap', function () {
  before(function () {
    if (typeof nativeBlasAddon()?.norm !== 'function') {
      process.stdout.write(`    skipped: ${String(loadNativeBlas())}\n`);
      this.skip();
    }
  });

  it('computes on any ArrayBuffer (checked against loops) and rejects operands outside it', () => {
    const lib = nativeBlasAddon();
    assert.ok(lib !== null);
    const buf = new ArrayBuffer(256);
    const f = new Float32Array(buf);
    // norm: x [2, 4] at 0, γ at 32, y at 64, mean at 96, rstd at 104 (bytes).
    f.set([1, 2, 3, 4, -1, 0, 1, 6], 0);
    f.set([1, 1, 2, 2], 8);
    lib.norm(buf, 0, 32, -1, 64, 96, 104, 2, 4, 0);
    const want = [
      [1, 2, 3, 4],
      [-1, 0, 1, 6],
    ].flatMap((row) => {
      const mu = row.reduce((a, v) => a + v, 0) / 4;
      const sd = Math.sqrt(row.reduce((a, v) => a + (v - mu) ** 2, 0) / 4);
      return row.map((v, j) => ((v - mu) / sd) * [1, 1, 2, 2][j]!);
    });
    want.forEach((w, i) => assert.ok(Math.abs((f[16 + i] as number) - w) < 1e-6, `y[${i}]`));
    assert.throws(() => lib.norm(buf, 0, 32, -1, 240, 96, 104, 2, 4, 0), /outside the heap/);
    assert.throws(() => lib.norm(buf, 2, 32, -1, 64, 96, 104, 2, 4, 0), /misaligned/);
    assert.throws(() => lib.norm(buf, 0, 32, 48, 64, -1, 104, 2, 4, 0), /needs the LayerNorm form/);
    assert.throws(() => lib.normGrad(buf, 0, 0, 32, -1, 104, 64, 200, -1, 2, 400), /outside the heap/);
    assert.throws(() => lib.softmax(buf, 0, -1, 64, 2, 4, 3, 2, 1), /period dividing group/);
    assert.throws(() => lib.softmax(buf, 0, 128, 64, 2, 4, 2, 2, 9), /outside the heap/);
    // Sizes whose products wrap around 2^64 are refused, not divided by zero or under-checked.
    assert.throws(() => lib.softmax(buf, 0, 128, 64, 2, 4096, 2 ** 52, 2 ** 52, 1), /the mask is too large/);
    assert.throws(() => lib.softmax(buf, 0, 128, 64, 2, 4097, 4502500384112656, 4502500384112656, 1), /the mask is too large/);
    assert.throws(() => lib.norm(buf, 0, 32, -1, 64, 96, 104, NaN, 4, 0), /sizes must be non-negative integers/);
    assert.throws(() => lib.softmaxGrad(buf, 0, 0, 250, 1, 4), /outside the heap/);
    assert.throws(() => lib.gate(buf, 0, 0, 0, 100, 1), /outside the heap/);
    assert.throws(() => (lib.gateGrad as unknown as (...a: unknown[]) => void)(buf, 0), /expects 7 arguments/);
  });
});
