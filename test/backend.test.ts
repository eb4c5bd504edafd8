/**
 * wasm (with our fixes) must compute what the cpu reference backend computes, for every op and gradient the
 * models use. Each case is a pure function of seeded inputs run once per backend; outputs are compared with a
 * relative error (max |wasm − cpu| / max(|cpu|, 1e-6)) ≤ 1e-5.
 */
import { strict as assert } from 'assert';
import * as tf from '@tensorflow/tfjs';
import { initBackend, assertNoLeak, describeBackend } from '../lib/backend';
import { assertClose, Case, input, valueAndGrads } from './support/parity';
import { isMatMulFixActive, isSharingIdentity, matMulFixStats, missingWasmKernels } from '../lib/backend/wasm-fixes';
import { enableNativeBlas, nativeBlasStatus } from '../lib/backend/native-blas';

async function runOn(backend: 'cpu' | 'wasm', fn: Case): Promise<Float32Array[]> {
  await initBackend({ backend });
  return tf
    .tidy(() => fn())
    .map((t) => {
      const data = t.dataSync() as Float32Array;
      t.dispose();
      return Float32Array.from(data);
    });
}

async function assertParity(fn: Case, tol = 1e-5): Promise<void> {
  assertClose(await runOn('wasm', fn), await runOn('cpu', fn), tol);
}

function rmsNorm(x: tf.Tensor, eps = 1e-6): tf.Tensor {
  return tf.mul(x, tf.rsqrt(tf.add(tf.mean(tf.square(x), -1, true), eps)));
}

function layerNorm(x: tf.Tensor, eps = 1e-5): tf.Tensor {
  const { mean, variance } = tf.moments(x, -1, true);
  return tf.div(tf.sub(x, mean), tf.sqrt(tf.add(variance, eps)));
}

describe('backend: wasm matches cpu', function () {
  this.timeout(120_000);
  let previous = 'cpu';
  before(() => {
    previous = tf.getBackend() ?? 'cpu';
  });
  after(async () => {
    await tf.setBackend(previous);
  });

  it('reports what runs', async () => {
    const r = await initBackend({ backend: 'wasm' });
    assert.equal(r.backend, 'wasm');
    assert.ok(r.wasm !== null && r.wasm.matMulFix, 'matMul fix should be active');
    assert.ok(r.wasm.bridgedKernels.includes('UnsortedSegmentSum'));
    assert.match(describeBackend(r), /^wasm \(/);
  });

  it('bridges every kernel that cpu has and wasm lacks', async () => {
    await initBackend({ backend: 'wasm' });
    assert.deepEqual(missingWasmKernels(), []);
  });

  it('an unknown backend request is a clear error', async () => {
    await assert.rejects(initBackend({ backend: 'gpu' as never }), /Unknown backend 'gpu'; use one of auto, tensorflow, webgpu, wasm, cpu/);
  });

  for (const rank of [2, 3, 4]) {
    for (const [ta, tb] of [
      [false, false],
      [true, false],
      [false, true],
      [true, true],
    ] as const) {
      it(`matMul rank ${rank}, transposeA=${ta}, transposeB=${tb}: values and gradients`, async () => {
        const batch = [3, 2].slice(0, rank - 2);
        const [m, k, n] = [7, 5, 6];
        const aShape = [...batch, ...(ta ? [k, m] : [m, k])];
        const bShape = [...batch, ...(tb ? [n, k] : [k, n])];
        await assertParity(() => valueAndGrads((a, b) => tf.matMul(a as tf.Tensor, b as tf.Tensor, ta, tb), [aShape, bShape], rank * 10));
      });
    }
  }

  it('matMul broadcasts a rank-2 operand over a rank-3 batch, transposed (values; tfjs has no broadcast gradient)', async () => {
    await assertParity(() => [tf.matMul(input([4, 6, 8], 3), input([5, 8], 4), false, true), tf.matMul(input([8, 6], 5), input([4, 8, 5], 6), true, false)]);
  });

  it('fused matMul (bias + relu) with transposes: values and gradients', async () => {
    await assertParity(() =>
      valueAndGrads(
        (a, b, bias) => tf.fused.matMul({ a: a as tf.Tensor2D, b: b as tf.Tensor2D, transposeA: true, transposeB: true, bias, activation: 'relu' }),
        [[9, 4], [5, 9], [5]],
        7,
      ),
    );
  });

  it('the patched matMul is the one that runs, and it never passes transpose flags on', async () => {
    await initBackend({ backend: 'wasm' });
    // With the native addon, transposes go to BLAS as flags by default; put the fix on top to test it.
    const native = nativeBlasStatus().active;
    if (native) enableNativeBlas({ blasTransposes: false });
    try {
      assert.ok(isMatMulFixActive());
      const before = { ...matMulFixStats };
      tf.tidy(() =>
        valueAndGrads(
          (a, b) => tf.matMul(a as tf.Tensor, b as tf.Tensor),
          [
            [4, 3],
            [3, 2],
          ],
          1,
        ),
      );
      // 2 forwards (probe + inside grads); backward: dA = dY·Bᵀ, dB = Aᵀ·dY → 2 calls, 2 transposed operands.
      assert.equal(matMulFixStats.calls - before.calls, 4);
      assert.equal(matMulFixStats.transposedOperands - before.transposedOperands, 2);
    } finally {
      if (native) enableNativeBlas();
    }
  });

  it('embedding lookup (gather) and its gradient (UnsortedSegmentSum via the bridge)', async () => {
    await assertParity(() => {
      const table = input([11, 4], 5);
      const ids = tf.tensor1d([3, 0, 3, 10, 7, 3], 'int32');
      const w = input([6, 4], 6);
      const grad = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(tf.gather(t, ids), w)))(table);
      return [tf.gather(table, ids), grad];
    });
  });

  it('unsortedSegmentSum (our direct wasm kernel): repeated, unused and out-of-range segment ids', async () => {
    await assertParity(() => [
      tf.unsortedSegmentSum(input([7, 3, 2], 8), tf.tensor1d([4, 0, 4, 2, 9, 4, 0], 'int32'), 6),
      tf.unsortedSegmentSum(input([5], 9), tf.tensor1d([1, 1, 3, 0, 1], 'int32'), 4),
    ]);
  });

  it('Identity and same-dtype Cast share their input (no copy); other casts still convert', async () => {
    await initBackend({ backend: 'wasm' });
    assert.ok(isSharingIdentity());
    const x = tf.tensor1d([1.5, -2, 3]);
    const y = tf.cast(x, 'float32');
    const z = tf.clone(x);
    assert.equal(y.dataId, x.dataId, 'same-dtype cast shares the data');
    assert.equal(z.dataId, x.dataId, 'identity shares the data');
    assert.deepEqual(Array.from(tf.cast(x, 'int32').dataSync()), [1, -2, 3]);
    x.dispose();
    assert.deepEqual(Array.from(y.dataSync()), [1.5, -2, 3]);
    assert.deepEqual(Array.from(z.dataSync()), [1.5, -2, 3]);
    tf.dispose([y, z]);
    await assertParity(() => valueAndGrads((a) => tf.add(tf.clone(a as tf.Tensor), tf.cast(a as tf.Tensor, 'float32')), [[3, 4]], 51));
  });

  it('softmax and log-softmax: values and gradients', async () => {
    await assertParity(() => [
      ...valueAndGrads((x) => tf.softmax(x as tf.Tensor), [[3, 4, 9]], 11),
      ...valueAndGrads((x) => tf.logSoftmax(x as tf.Tensor), [[6, 13]], 12),
    ]);
  });

  it('layer norm and RMS norm: values and gradients', async () => {
    await assertParity(() => [
      ...valueAndGrads((x) => layerNorm(x as tf.Tensor), [[4, 5, 16]], 21),
      ...valueAndGrads((x, g) => tf.mul(rmsNorm(x as tf.Tensor), g as tf.Tensor), [[4, 5, 16], [16]], 22),
    ]);
  });

  it('attention pieces: 4-D transpose, masked softmax, sigmoid/SiLU, rotary-style slicing', async () => {
    await assertParity(() => [
      ...valueAndGrads((x) => tf.transpose(tf.reshape(x as tf.Tensor, [2, 5, 3, 4]), [0, 2, 1, 3]), [[2, 5, 12]], 31),
      ...valueAndGrads(
        (x) => tf.softmax(tf.add(x as tf.Tensor, tf.linalg.bandPart(tf.fill([5, 5], -1e9), 0, -1).sub(tf.linalg.bandPart(tf.fill([5, 5], -1e9), 0, 0)))),
        [[2, 5, 5]],
        32,
      ),
      ...valueAndGrads((x) => tf.mul(x as tf.Tensor, tf.sigmoid(x as tf.Tensor)), [[3, 8]], 33),
      ...valueAndGrads(
        (x) => {
          const [a, b] = tf.split(x as tf.Tensor, 2, -1) as [tf.Tensor, tf.Tensor];
          return tf.concat([tf.neg(b), a], -1);
        },
        [[2, 3, 8]],
        34,
      ),
      ...valueAndGrads((x) => tf.div(x as tf.Tensor, tf.norm(x as tf.Tensor, 'euclidean', -1, true)), [[4, 6]], 35),
    ]);
  });

  it('a training step on wasm leaks no tensors', async () => {
    await initBackend({ backend: 'wasm' });
    const w = tf.variable(input([8, 4], 41));
    const opt = tf.train.adam(1e-2);
    const step = (): void => {
      const loss = opt.minimize(() => tf.sum(tf.square(tf.matMul(input([3, 8], 42), w))), false, [w]);
      if (loss !== null) loss.dispose();
    };
    step(); // Adam creates its slots on the first step
    await assertNoLeak('adam step', step);
    opt.dispose();
    w.dispose();
  });
});
