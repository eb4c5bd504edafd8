/**
 * The native kernels (lib/backend/native-blas.ts, lib/backend/native-kernels.ts, native/) must compute what the cpu reference
 * backend computes, values and gradients, relative error (max |wasm − ref| / max |ref|) ≤ 1e-5, on seeded random
 * shapes: odd sizes, ranks 2–4, batch broadcasting, every transpose combination, fused bias + every fused
 * activation, reductions, slices and splits; in both arrangements (wasm-fixes' transposes on top, and transposes
 * as BLAS flags). Structural checks (counters, the kernel registry) prove the native kernel is the one that runs.
 * The kernel suites skip, with the reason, when the addon is not built or MUCO_NATIVE=0; the shape planning and
 * the fallback checks run everywhere.
 */
import { strict as assert } from 'assert';
import { spawnSync } from 'child_process';
import * as path from 'path';
import * as fc from 'fast-check';
import * as tf from '@tensorflow/tfjs';
import { assertNoLeak, initBackend } from '../lib/backend';
import { Rng } from '../lib/random';
import { matMulFixStats } from '../lib/backend/wasm-fixes';
import { enableNativeBlas, isNativeBlasActive, loadNativeBlas, nativeAdamWStats, nativeBlasAddon, nativeBlasStats } from '../lib/backend/native-blas';
import { AdamW } from '../lib/optim';
import { broadcastStrides, planBatches, planReduction } from '../lib/backend/native-kernels';
import { assertParity, input, relError, runOn, valueAndGrads } from './support/parity';

const size = (shape: number[]): number => shape.reduce((p, s) => p * s, 1);

/** tfjs' own broadcasting on the cpu backend: entry i of the result is the flat source index of element i. */
function broadcastIndex(shape: number[], to: number[]): number[] {
  return tf.tidy(() => Array.from(tf.broadcastTo(tf.reshape(tf.range(0, size(shape), 1, 'int32'), shape), to).dataSync()));
}

describe('native BLAS: shape planning matches tfjs broadcasting', () => {
  before(async () => {
    await initBackend({ backend: 'cpu' });
  });

  const dims = fc.array(fc.integer({ min: 1, max: 3 }), { maxLength: 3 });

  it('planBatches: which A and B matrix every output batch matrix reads', () => {
    fc.assert(
      fc.property(dims, fc.array(fc.boolean(), { maxLength: 3 }), fc.integer({ min: 0, max: 3 }), (out, ones, drop) => {
        // A's batch dims are out's with some set to 1; B's drop leading dims and set others to 1.
        const a = out.map((d, i) => (ones[i] === true ? 1 : d));
        const b = out.slice(Math.min(drop, out.length)).map((d, i) => (ones[i] === false ? 1 : d));
        const plan = planBatches(a, b);
        assert.ok(plan !== null);
        const full = a.map((_, i) => Math.max(a[i] as number, b[i - (a.length - b.length)] ?? 1));
        assert.deepEqual(plan.outBatch, full);
        const ids = (x: Int32Array | null): number[] => (x === null ? Array.from({ length: size(full) }, (_, i) => i) : Array.from(x));
        assert.deepEqual(ids(plan.aIndex), broadcastIndex(a, full));
        assert.deepEqual(ids(plan.bIndex), broadcastIndex(b, full));
      }),
      { seed: 11, numRuns: 60 },
    );
  });

  it('planBatches rejects incompatible batch shapes', () => {
    assert.equal(planBatches([2, 3], [4, 3]), null);
    assert.equal(planBatches([3], [2]), null);
  });

  it('broadcastStrides: element (b, i, j) of a bias broadcast onto [batch, m, n]', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 1, max: 3 }), { minLength: 2, maxLength: 4 }),
        fc.array(fc.boolean(), { maxLength: 4 }),
        fc.nat(4),
        (out, ones, drop) => {
          const bias = out.slice(Math.min(drop, out.length)).map((d, i) => (ones[i] === true ? 1 : d));
          const [m, n] = out.slice(-2) as [number, number];
          const batch = size(out.slice(0, -2));
          const strides = broadcastStrides(bias, batch, m, n);
          const lead = bias.slice(0, Math.max(0, bias.length - 2));
          // Expressible exactly when the bias' batch part is all broadcast or all present.
          assert.equal(strides !== null, size(lead) === 1 || size(lead) === batch);
          if (strides === null) return;
          const ref = broadcastIndex(bias, out);
          ref.forEach((src, flat) => {
            const [bi, i, j] = [Math.floor(flat / (m * n)), Math.floor(flat / n) % m, flat % n];
            assert.equal(bi * strides[0] + i * strides[1] + j * strides[2], src);
          });
        },
      ),
      { seed: 12, numRuns: 80 },
    );
  });

  it('planReduction: [outer, r, inner] and the output shape of tfjs Sum, for contiguous axes only', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 1, max: 3 }), { minLength: 1, maxLength: 4 }),
        fc.array(fc.integer({ min: -4, max: 3 }), { maxLength: 3 }),
        fc.boolean(),
        (shape, rawAxes, keepDims) => {
          const axes = rawAxes.filter((a) => a >= -shape.length && a < shape.length);
          const plan = planReduction(shape, axes.length === 0 ? null : axes, keepDims);
          const norm = axes.map((a) => (a < 0 ? a + shape.length : a)).sort((a, b) => a - b);
          const all = norm.length === 0 ? shape.map((_, i) => i) : norm;
          const distinct = new Set(all).size === all.length;
          const contiguous = (all[all.length - 1] as number) - (all[0] as number) + 1 === all.length;
          assert.equal(plan !== null, distinct && contiguous);
          if (plan === null) return;
          const x = tf.tensor(
            Array.from({ length: size(shape) }, (_, i) => i % 7),
            shape,
          );
          const ref = tf.sum(x, axes.length === 0 ? undefined : axes, keepDims);
          assert.deepEqual(plan.outShape, ref.shape);
          assert.equal(plan.outer * plan.r * plan.inner, size(shape));
          // Naive twin: sum the [outer, r, inner] view by loops.
          const xs = x.dataSync();
          const got = Array.from({ length: plan.outer * plan.inner }, (_, oi) => {
            const [o, i] = [Math.floor(oi / plan.inner), oi % plan.inner];
            let acc = 0;
            for (let j = 0; j < plan.r; j++) acc += xs[(o * plan.r + j) * plan.inner + i] as number;
            return acc;
          });
          assert.deepEqual(got, Array.from(ref.dataSync()));
          tf.dispose([x, ref]);
        },
      ),
      { seed: 13, numRuns: 80 },
    );
  });
});

// ---------------------------------------------------------------------------------------------------------

/** Operand shapes of op(A)·op(B) = [...batch, m, n] with inner size k. */
function operandShapes(aBatch: number[], bBatch: number[], m: number, k: number, n: number, ta: boolean, tb: boolean): number[][] {
  return [
    [...aBatch, ...(ta ? [k, m] : [m, k])],
    [...bBatch, ...(tb ? [n, k] : [k, n])],
  ];
}

const TRANSPOSES = [
  [false, false],
  [true, false],
  [false, true],
  [true, true],
] as const;
const ACTIVATIONS = ['linear', 'relu', 'relu6', 'elu', 'prelu', 'leakyrelu', 'sigmoid'] as const;

function kernelSuite(blasTransposes: boolean): void {
  describe(`native BLAS kernels match cpu (${blasTransposes ? 'transposes as BLAS flags' : 'wasm-fixes transposes on top'})`, function () {
    let active = false;
    before(async function () {
      await initBackend({ backend: 'cpu' });
      await initBackend({ backend: 'wasm' });
      const status = enableNativeBlas({ blasTransposes, memoryKernels: true });
      active = status.active;
      if (!active) {
        process.stdout.write(`    skipped: ${status.reason ?? '?'}\n`);
        this.skip();
      }
    });
    after(async () => {
      if (active) await initBackend({ backend: 'wasm' }); // back to the default arrangement
    });

    // Seeded random sizes: odd ones, ones, and one product large enough for OpenBLAS' threaded path.
    const rng = new Rng(2026);
    const dim = (): number => 1 + rng.int(23);
    for (const rank of [2, 3, 4]) {
      for (const [ta, tb] of TRANSPOSES) {
        const batch = Array.from({ length: rank - 2 }, () => 1 + rng.int(3));
        const [m, k, n] = rank === 2 && ta && tb ? [97, 131, 75] : [dim(), dim(), dim()];
        it(`rank ${rank} [${batch}] m=${m} k=${k} n=${n}, transposeA=${ta}, transposeB=${tb}: values and gradients`, async () => {
          const shapes = operandShapes(batch, batch, m, k, n, ta, tb);
          await assertParity(() => valueAndGrads((a, b) => tf.matMul(a as tf.Tensor, b as tf.Tensor, ta, tb), shapes, rank * 7));
        });
      }
    }

    // Batches of small products large enough in total (≥ 2 M multiply-adds) to be split across threads in the
    // addon, with an odd batch so the shares differ; and a broadcast operand (batch indices) on that path.
    for (const [ta, tb] of TRANSPOSES) {
      it(`threaded batch split [5, 7] m=61 k=37 n=45, transposeA=${ta}, transposeB=${tb}: values and gradients`, async () => {
        const shapes = operandShapes([5, 7], [5, 7], 61, 37, 45, ta, tb);
        await assertParity(() => valueAndGrads((a, b) => tf.matMul(a as tf.Tensor, b as tf.Tensor, ta, tb), shapes, 90));
      });
    }
    it('threaded batch split with a broadcast operand [9, 4] × [1, 4]: values (naive broadcast twin)', async () => {
      const [sa, sb] = operandShapes([9, 4], [1, 4], 50, 40, 60, false, true) as [number[], number[]];
      await assertParity(
        () => [tf.matMul(input(sa, 3), input(sb, 4), false, true)],
        () => [tf.matMul(input(sa, 3), tf.broadcastTo(input(sb, 4), [9, 4, ...sb.slice(-2)]), false, true)],
      );
    });

    const BROADCASTS: [number[], number[]][] = [
      [[2, 1], [3]],
      [[], [4]],
      [[3], []],
      [
        [1, 3],
        [2, 1],
      ],
      [[2, 3], [1]],
    ];
    for (const [aBatch, bBatch] of BROADCASTS) {
      for (const [ta, tb] of TRANSPOSES) {
        it(`batch broadcast [${aBatch}] × [${bBatch}], transposeA=${ta}, transposeB=${tb}: values (naive broadcast twin)`, async () => {
          const [sa, sb] = operandShapes(aBatch, bBatch, 5, 7, 3, ta, tb) as [number[], number[]];
          const out = planBatches(aBatch, bBatch)?.outBatch ?? [];
          const full = (s: number[]): number[] => [...out, ...s.slice(-2)];
          // The twin broadcasts both operands explicitly first (tfjs' cpu kernel mis-broadcasts [2,1] × [3]).
          await assertParity(
            () => [tf.matMul(input(sa, 1), input(sb, 2), ta, tb)],
            () => [tf.matMul(tf.broadcastTo(input(sa, 1), full(sa)), tf.broadcastTo(input(sb, 2), full(sb)), ta, tb)],
          );
        });
      }
    }

    for (const activation of ACTIVATIONS) {
      it(`fused matMul + bias [n] + ${activation}: values and gradients`, async () => {
        await assertParity(() =>
          valueAndGrads(
            (a, b, bias, alpha) =>
              tf.fused.matMul({
                a: a as tf.Tensor2D,
                b: b as tf.Tensor2D,
                bias,
                activation,
                preluActivationWeights: activation === 'prelu' ? alpha : undefined,
                leakyreluAlpha: 0.1,
              }),
            activation === 'prelu' ? [[9, 13], [13, 6], [6], [6]] : [[9, 13], [13, 6], [6]],
            31,
          ),
        );
      });
    }

    const BIASES: [number[], number[], number[]][] = [
      [
        [2, 5, 4],
        [2, 4, 3],
        [1, 3],
      ],
      [
        [2, 5, 4],
        [2, 4, 3],
        [5, 3],
      ],
      [
        [2, 5, 4],
        [2, 4, 3],
        [2, 5, 3],
      ],
      [[5, 4], [4, 3], []],
    ];
    for (const [sa, sb, sbias] of BIASES) {
      for (const [ta, tb] of TRANSPOSES) {
        it(`fused matMul ${JSON.stringify(sa)}·${JSON.stringify(sb)} + bias [${sbias}] + prelu [${sbias}], transposeA=${ta}, transposeB=${tb}`, async () => {
          const t = (s: number[], on: boolean): number[] => (on ? [...s.slice(0, -2), s[s.length - 1] as number, s[s.length - 2] as number] : s);
          await assertParity(() => [
            tf.fused.matMul({
              a: input(t(sa, ta), 3),
              b: input(t(sb, tb), 4),
              transposeA: ta,
              transposeB: tb,
              bias: input(sbias, 5),
              activation: 'prelu',
              preluActivationWeights: input(sbias, 6),
            }),
          ]);
        });
      }
    }

    const REDUCTIONS: [number[], number | number[] | undefined, boolean][] = [
      [[37, 19], 0, false],
      [[37, 19], -1, true],
      [[5, 6, 7], [1, 2], false],
      [[5, 6, 7], [0, 1], true],
      [[3, 4, 5, 6], [1, 2], true],
      [[3, 4, 5, 6], undefined, false],
      [[2049, 3], 0, false],
      [[9], 0, true],
    ];
    for (const [shape, axis, keepDims] of REDUCTIONS) {
      for (const op of ['sum', 'mean'] as const) {
        it(`${op} of [${shape}] over ${JSON.stringify(axis)}, keepDims=${keepDims}: values and gradients`, async () => {
          const before = nativeBlasStats.reductions;
          await assertParity(() => valueAndGrads((x) => tf[op](x as tf.Tensor, axis, keepDims), [shape], 50));
          assert.ok(nativeBlasStats.reductions > before, 'the native reduction ran');
        });
      }
    }

    const SLICES: [number[], number[], number[]][] = [
      [
        [7, 9],
        [2, 3],
        [4, -1],
      ],
      [
        [5, 6, 7],
        [0, 2, 0],
        [-1, 3, -1],
      ],
      [
        [3, 4, 5, 6],
        [1, 0, 2, 1],
        [2, 4, 3, 5],
      ],
      [
        [2, 3, 4, 5],
        [0, 0, 0, 0],
        [2, 3, 4, 5],
      ],
      [
        [32, 4, 8, 6],
        [0, 0, 0, 3],
        [32, 4, 8, 3],
      ],
      [[11], [4], [5]],
    ];
    for (const [shape, begin, size] of SLICES) {
      it(`slice of [${shape}] at [${begin}] size [${size}]: values and gradients`, async () => {
        const before = nativeBlasStats.slices;
        await assertParity(() => valueAndGrads((x) => tf.slice(x as tf.Tensor, begin, size), [shape], 70));
        assert.ok(nativeBlasStats.slices > before, 'the native slice ran');
      });
    }

    it('split (SplitV) along each axis and int32 slices: values and gradients', async () => {
      const before = nativeBlasStats.slices;
      await assertParity(() => [
        ...valueAndGrads(
          (x) =>
            tf.concat(
              tf.split(x as tf.Tensor, [2, 5, 1], 1).map((p, i) => tf.mul(p, i + 1)),
              1,
            ),
          [[3, 8, 4]],
          80,
        ),
        ...valueAndGrads((x) => tf.stack(tf.split(x as tf.Tensor, 2, -1).reverse()), [[4, 2, 6]], 81),
        ...tf.split(input([6, 5], 82), 3, 0),
        tf.slice(tf.range(0, 60, 1, 'int32').reshape([3, 4, 5]), [1, 1, 1], [2, 2, 3]).toFloat(),
      ]);
      assert.ok(nativeBlasStats.slices >= before + 10);
    });

    it('broadcasting gradients reduce natively (bias and gain gradients)', async () => {
      const before = nativeBlasStats.reductions;
      await assertParity(() => valueAndGrads((x, b, g) => tf.mul(tf.add(x as tf.Tensor, b as tf.Tensor), g as tf.Tensor), [[64, 8, 16], [16], [8, 1]], 60));
      assert.ok(nativeBlasStats.reductions >= before + 2);
    });

    it('the native kernel is the one that runs (counters, not timing)', async () => {
      await tf.setBackend('wasm');
      assert.ok(isNativeBlasActive());
      const before = { ...nativeBlasStats };
      const fixBefore = { ...matMulFixStats };
      tf.tidy(() =>
        valueAndGrads(
          (a, b) => tf.matMul(a as tf.Tensor, b as tf.Tensor, false, true),
          [
            [4, 3],
            [2, 3],
          ],
          1,
        ),
      );
      // 2 forwards (probe + inside grads) and 2 backward products, all native, none handed to the fallback.
      assert.equal(nativeBlasStats.calls - before.calls, 4);
      assert.equal(nativeBlasStats.fallbacks - before.fallbacks, 0);
      // Forward Bᵀ twice, backward: dA = dY·B (none), dB = dYᵀ·A (one). As BLAS flags, nothing is copied.
      assert.equal(matMulFixStats.transposedOperands - fixBefore.transposedOperands, blasTransposes ? 0 : 3);
    });

    it('products below minMacs, int32 inputs and unsupported fused epilogues go to the previous kernel', async () => {
      await tf.setBackend('wasm');
      enableNativeBlas({ blasTransposes, minMacs: 1000 });
      try {
        const before = { ...nativeBlasStats };
        const small = (): tf.Tensor[] => [
          tf.matMul(input([4, 5], 1), input([5, 6], 2)),
          tf.fused.matMul({ a: input([4, 5], 1), b: input([5, 6], 2), bias: input([6], 3), activation: 'relu' }),
        ];
        await assertParity(() => [...small(), tf.matMul(input([20, 20], 1), input([20, 20], 2))]);
        // One native call (20×20×20); the two small products fall back, once each however often the backend
        // was initialised (kernels never stack up).
        assert.equal(nativeBlasStats.calls - before.calls, 1);
        assert.equal(nativeBlasStats.fallbacks - before.fallbacks, 2);
      } finally {
        enableNativeBlas({ blasTransposes });
      }
      // Non-contiguous axes, int32 reductions and bool slices go to the previous kernel (which handles them).
      const r0 = nativeBlasStats.fallbacks;
      await assertParity(() => [
        tf.sum(input([3, 4, 5], 1), [0, 2]),
        tf.sum(tf.range(0, 12, 1, 'int32').reshape([3, 4]), 1).toFloat(),
        tf.slice(tf.tensor([true, false, true, true], [2, 2], 'bool'), [1, 0], [1, 2]).toFloat(),
      ]);
      assert.equal(nativeBlasStats.fallbacks - r0, 3);
      // int32, and a bias broadcast over part of the batch (not expressible as strides), go to the previous
      // kernel: the stock wasm one rejects both, which shows who ran.
      const before = { ...nativeBlasStats };
      assert.throws(() => tf.tidy(() => tf.matMul(tf.ones([3, 4], 'int32'), tf.ones([4, 2], 'int32'))), /non-float32/);
      assert.throws(
        () => tf.tidy(() => tf.fused.matMul({ a: input([2, 3, 4, 5], 7), b: input([2, 3, 5, 6], 8), bias: input([2, 1, 4, 6], 9) })),
        /rank-1 bias/,
      );
      assert.equal(nativeBlasStats.fallbacks - before.fallbacks, 2);
    });

    it('stays correct after the wasm memory grows (the heap is re-read on every call)', async () => {
      await tf.setBackend('wasm');
      const heap = (): ArrayBuffer => (tf.backend() as unknown as { wasm: { HEAPU8: Uint8Array } }).wasm.HEAPU8.buffer as ArrayBuffer;
      const a = input([33, 17], 1);
      const b = input([17, 29], 2);
      const before = heap();
      const big = tf.zeros([before.byteLength / 4 + (1 << 20)]); // forces growth: the old buffer is detached
      assert.ok(heap().byteLength > before.byteLength);
      const got = tf.matMul(a, b);
      const data = Float32Array.from(got.dataSync() as Float32Array);
      tf.dispose([got, big, a, b]);
      const [want] = await runOn('cpu', () => [tf.matMul(input([33, 17], 1), input([17, 29], 2))]);
      assert.ok(relError(data, want as Float32Array) <= 1e-5);
    });

    it('AdamW updates owned parameters in place natively, equal to the tf-op update; shared buffers fall back', async () => {
      await tf.setBackend('wasm');
      const own = (t: tf.Tensor): tf.Variable => {
        const v = tf.variable(t);
        t.dispose(); // the variable is the buffer's only owner
        return v;
      };
      const nativeParams = [own(input([37, 11], 1)), own(input([11], 2))];
      const aliases = [input([37, 11], 1), input([11], 2)]; // kept: their variables share the buffers → tf ops
      const tfParams = aliases.map((t) => tf.variable(t));
      const named = (vs: tf.Variable[]): { name: string; variable: tf.Variable }[] => vs.map((variable, i) => ({ name: `p${i}`, variable }));
      const config = { beta1: 0.9, beta2: 0.99, eps: 1e-8, weightDecay: 0.1 };
      const [a, b] = [new AdamW(named(nativeParams), config), new AdamW(named(tfParams), config)];
      const before = nativeAdamWStats.updates;
      for (let t = 0; t < 3; t++) {
        const gs = [input([37, 11], 10 + t), input([11], 20 + t)];
        a.step({ [nativeParams[0]!.name]: gs[0]!, [nativeParams[1]!.name]: gs[1]! }, 0.01);
        b.step({ [tfParams[0]!.name]: gs[0]!, [tfParams[1]!.name]: gs[1]! }, 0.01);
        tf.dispose(gs);
      }
      // Owned: native at all 3 steps. Shared: the first update runs as tf ops, whose assign gives the variable a
      // buffer of its own, so steps 2 and 3 go native too: 2·3 + 2·2.
      assert.equal(nativeAdamWStats.updates - before, 10);
      nativeParams.forEach((p, i) =>
        assert.ok(
          relError(p.dataSync() as Float32Array, tfParams[i]!.dataSync() as Float32Array) <= 1e-6,
          `param ${i}: ${relError(p.dataSync() as Float32Array, tfParams[i]!.dataSync() as Float32Array)}`,
        ),
      );
      const [sa, sb] = [a.state().tensors, b.state().tensors];
      for (const key of Object.keys(sa))
        assert.ok(relError((sa[key] as tf.Tensor).dataSync() as Float32Array, (sb[key] as tf.Tensor).dataSync() as Float32Array) <= 1e-6, key);
      a.dispose();
      b.dispose();
      tf.dispose([...nativeParams, ...tfParams, ...aliases]);
    });

    it('a training step through the native kernels leaks no tensors', async () => {
      await tf.setBackend('wasm');
      const w = tf.variable(input([16, 8], 41));
      const bias = tf.variable(input([8], 43));
      const opt = tf.train.adam(1e-2);
      const x = input([12, 16], 42);
      const step = (): void => {
        const loss = opt.minimize(() => tf.sum(tf.square(tf.fused.matMul({ a: x, b: w, bias }))), false, [w, bias]);
        if (loss !== null) loss.dispose();
      };
      step(); // Adam creates its slots on the first step
      await assertNoLeak('native adam step', step);
      tf.dispose([w, bias, x]);
      opt.dispose();
    });
  });
}

kernelSuite(false);
kernelSuite(true);

// ---------------------------------------------------------------------------------------------------------

describe('native BLAS: the addon guards the heap', function () {
  before(function () {
    if (nativeBlasAddon() === null) {
      process.stdout.write(`    skipped: ${String(loadNativeBlas())}\n`);
      this.skip();
    }
  });

  it('computes a plain product on any ArrayBuffer (checked against a loop)', () => {
    const lib = nativeBlasAddon();
    assert.ok(lib !== null);
    const [m, k, n] = [3, 4, 5];
    const heap = new Float32Array(m * k + k * n + m * n);
    const rng = new Rng(5);
    for (let i = 0; i < m * k + k * n; i++) heap[i] = rng.normal();
    lib.gemm(heap.buffer, 0, 4 * m * k, 4 * (m * k + k * n), 1, null, null, m, n, k, false, false);
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < n; j++) {
        let s = 0;
        for (let p = 0; p < k; p++) s += (heap[i * k + p] as number) * (heap[m * k + p * n + j] as number);
        assert.ok(Math.abs((heap[m * k + k * n + i * n + j] as number) - s) <= 1e-5 * Math.max(1, Math.abs(s)));
      }
    }
  });

  it('rejects offsets outside the heap, misaligned offsets, bad indices, boxes and wrong arity', () => {
    const lib = nativeBlasAddon();
    assert.ok(lib !== null);
    const buf = new ArrayBuffer(64);
    assert.throws(() => lib.gemm(buf, 0, 0, 32, 1, null, null, 3, 3, 3, false, false), /outside the heap/);
    assert.throws(() => lib.gemm(buf, 2, 0, 0, 1, null, null, 1, 1, 1, false, false), /misaligned/);
    assert.throws(() => lib.gemm(buf, 0, 0, 0, 2, new Int32Array([0, 99]), null, 1, 1, 1, false, false), /outside the heap/);
    assert.throws(() => lib.gemm(buf, 0, 0, 0, 2, new Int32Array([0]), null, 1, 1, 1, false, false), /Int32Array/);
    assert.throws(() => (lib.gemm as unknown as (...a: unknown[]) => void)(buf, 0, 0), /expects 12 arguments/);
    assert.throws(() => lib.epilogue(buf, 0, 1, 4, 4, 32, [0, 4, 1], 1, -1, [0, 0, 0], 0), /bias/);
    assert.throws(() => lib.setThreads(0), /setThreads/);
    assert.throws(() => lib.slice(buf, 0, 32, [4, 4], [1, 0], [4, 4]), /leaves axis 0/);
    assert.throws(() => lib.slice(buf, 0, 32, [4, 4], [0], [2, 2]), /same rank/);
    assert.throws(() => lib.slice(buf, 0, 48, [4, 4], [0, 0], [2, 3]), /outside the heap/);
  });
});

describe('native BLAS: falls back cleanly when unavailable', function () {
  /** initBackend in a fresh process with `env`; returns its report, whether a matMul worked and its stdout. */
  function child(env: Record<string, string>): { report: { active: boolean; reason?: string }; active: boolean; ok: boolean; stdout: string } {
    const root = path.join(__dirname, '..');
    const script = `
      const tf = require('@tensorflow/tfjs');
      const { initBackend } = require(${JSON.stringify(path.join(root, 'lib', 'backend'))});
      const { isNativeBlasActive } = require(${JSON.stringify(path.join(root, 'lib', 'backend', 'native-blas'))});
      initBackend({ backend: 'wasm' }).then((r) => {
        const ok = Math.abs(tf.matMul(tf.ones([40, 30]), tf.ones([30, 20])).dataSync()[0] - 30) < 1e-6;
        process.stdout.write('RESULT ' + JSON.stringify({ report: r.wasm.nativeBlas, active: isNativeBlasActive(), ok }) + '\\n');
      });`;
    const run = spawnSync(process.execPath, ['--require', 'tsx/cjs', '-e', script], {
      cwd: root,
      encoding: 'utf8',
      env: { ...process.env, MUCO_LOG: 'info', ...env },
    });
    const line = run.stdout.split('\n').find((l) => l.startsWith('RESULT '));
    assert.ok(line !== undefined, `child failed: ${run.stderr}`);
    return { ...JSON.parse(line.slice(7)), stdout: run.stdout };
  }

  it('MUCO_NATIVE=0: plain wasm matMul, the report says why', () => {
    const r = child({ MUCO_NATIVE: '0' });
    assert.deepEqual([r.report.active, r.report.reason, r.active, r.ok], [false, 'disabled by MUCO_NATIVE=0', false, true]);
  });

  it('a missing addon: plain wasm matMul and exactly one notice line', () => {
    const r = child({ MUCO_NATIVE: '1', MUCO_NATIVE_ADDON: path.join(__dirname, 'no-such-addon.node') });
    assert.deepEqual([r.report.active, r.active, r.ok], [false, false, true]);
    assert.match(r.report.reason ?? '', /addon not built/);
    assert.equal(r.stdout.split('\n').filter((l) => l.includes('native BLAS off')).length, 1);
  });
});
