import { strict as assert } from 'assert';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../lib/backend';
import { modelConfig, parameterCount, stemInputShape } from '../lib/model/config';
import { initParams, parameterSpecs } from '../lib/model/params';
import { convStem, mergeOrder, patchTensor, stemWindows, visionForward } from '../lib/model/vision';
import { Rng } from '../lib/random';

/** The conv stem written with tf.conv2d (the naive twin): two 3×3 stride-2 convolutions, zero padding 1. */
function convStemTwin(params: Map<string, tf.Variable>, image: Float32Array, s: number, c1: number, v: number): tf.Tensor2D {
  return tf.tidy(() => {
    const x = tf.tensor4d(image, [1, s, s, 3]);
    const pad = (t: tf.Tensor4D): tf.Tensor4D =>
      tf.pad(t, [
        [0, 0],
        [1, 1],
        [1, 1],
        [0, 0],
      ]);
    const w1 = tf.reshape(params.get('vision.stem1.w') as tf.Variable, [3, 3, 3, c1]) as tf.Tensor4D;
    const h1 = tf.add(tf.conv2d(pad(x), w1, 2, 'valid'), params.get('vision.stem1.b') as tf.Variable) as tf.Tensor4D;
    // The library's GELU is x·σ(1.702x).
    const g = tf.mul(h1, tf.sigmoid(tf.mul(h1, 1.702))) as tf.Tensor4D;
    const w2 = tf.reshape(params.get('vision.stem2.w') as tf.Variable, [3, 3, c1, v]) as tf.Tensor4D;
    const h2 = tf.add(tf.conv2d(pad(g), w2, 2, 'valid'), params.get('vision.stem2.b') as tf.Variable); // [1, S/4, S/4, v]
    const g2 = s / 4;
    const grid = tf.reshape(h2, [g2 * g2, v]);
    return tf.gather(
      grid,
      tf.tensor1d(
        mergeOrder(g2).map(([y, x]) => y * g2 + x),
        'int32',
      ),
    ) as tf.Tensor2D;
  });
}

describe('vision stem', () => {
  before(async () => {
    await initBackend({ backend: 'cpu' });
  });

  const c = modelConfig('tiny', { imageSize: 16, patchSize: 4, visionStem: 'conv' });
  const image = (seed: number): Float32Array => {
    const rng = new Rng(seed);
    return Float32Array.from({ length: c.imageSize * c.imageSize * 3 }, () => rng.next() * 2 - 1);
  };

  it('merge order lists each 2×2 group of cells consecutively', () => {
    assert.deepEqual(mergeOrder(4).slice(0, 8), [
      [0, 0],
      [0, 1],
      [1, 0],
      [1, 1],
      [0, 2],
      [0, 3],
      [1, 2],
      [1, 3],
    ]);
    assert.equal(new Set(mergeOrder(8).map(([y, x]) => y * 8 + x)).size, 64);
  });

  it("the first convolution's windows (im2col) times its kernel equal tf.conv2d", () => {
    const params = initParams(c, 1);
    const img = image(3);
    const w1 = params.get('vision.stem1.w') as tf.Variable;
    const ours = tf.matMul(tf.tensor2d(stemWindows([img], c), [(c.imageSize / 2) ** 2, 27]), w1);
    const twin = tf.reshape(
      tf.conv2d(
        tf.pad(tf.tensor4d(img, [1, 16, 16, 3]), [
          [0, 0],
          [1, 1],
          [1, 1],
          [0, 0],
        ]),
        tf.reshape(w1, [3, 3, 3, c.visionDim / 2]) as tf.Tensor4D,
        2,
        'valid',
      ),
      [64, c.visionDim / 2],
    );
    assert.ok(tf.max(tf.abs(tf.sub(ours, twin))).dataSync()[0]! < 1e-5);
    tf.dispose([ours, twin]);
    for (const p of params.values()) p.dispose();
  });

  it('the whole stem equals two tf.conv2d layers, tokens in merge order, for every image of a batch', () => {
    const params = initParams(c, 2);
    const images = [image(4), image(5)];
    const stemOnly = tf.tidy(() => convStem(params, c, patchTensor(images, c)));
    assert.deepEqual(stemOnly.shape, [2, 16, c.visionDim]);
    images.forEach((img, b) => {
      const twin = convStemTwin(params, img, c.imageSize, c.visionDim / 2, c.visionDim);
      const ours = tf.squeeze(tf.slice(stemOnly, [b, 0, 0], [1, 16, c.visionDim]), [0]);
      assert.ok(tf.max(tf.abs(tf.sub(ours, twin))).dataSync()[0]! < 1e-5, `image ${b}`);
      tf.dispose([twin, ours]);
    });
    stemOnly.dispose();
    for (const p of params.values()) p.dispose();
  });

  it('the tower takes [B, (S/2)², 27] windows, gives (S/8)² tokens, and says what shape it wanted otherwise', () => {
    const params = initParams(c, 3);
    assert.deepEqual(stemInputShape(c), [64, 27]);
    const before = tf.memory().numTensors;
    const out = tf.tidy(() => visionForward(params, c, patchTensor([image(1), image(2), image(3)], c)));
    assert.deepEqual(out.shape, [3, 4, c.dim]);
    out.dispose();
    assert.equal(tf.memory().numTensors, before);
    assert.throws(() => visionForward(params, c, tf.zeros([1, 16, 48])), /\[B, 64, 27\].*visionStem 'conv'/);
    for (const p of params.values()) p.dispose();
  });

  it('the parameter count matches the variables; conv needs patchSize 4', () => {
    const params = parameterSpecs(c).reduce((n, s) => n + s.shape.reduce((a, b) => a * b, 1), 0);
    assert.equal(parameterCount(c).total, params);
    assert.throws(() => modelConfig('tiny', { visionStem: 'conv', patchSize: 2 }), /patchSize=4/);
    assert.throws(() => modelConfig('tiny', { visionStem: 'strided' as never }), /visionStem must be one of patch, conv/);
  });

  it("gradients reach the stem (the gather's backward) and match finite differences", () => {
    const params = initParams(c, 4);
    const x = patchTensor([image(7)], c);
    const w = params.get('vision.stem1.w') as tf.Variable;
    const f = (): tf.Scalar => tf.sum(tf.square(visionForward(params, c, x))) as tf.Scalar;
    const { grads } = tf.variableGrads(f, [w]);
    const g = (grads[w.name] as tf.Tensor).dataSync();
    const base = w.dataSync().slice();
    const eps = 1e-2;
    for (const i of [0, 13, 40, 100]) {
      const at = (d: number): number => {
        const v = base.slice();
        v[i] = (v[i] as number) + d;
        w.assign(tf.tensor(v, w.shape));
        return tf.tidy(() => f().dataSync()[0] as number);
      };
      const fd = (at(eps) - at(-eps)) / (2 * eps);
      assert.ok(Math.abs(fd - (g[i] as number)) <= 2e-2 * Math.max(1, Math.abs(fd)), `index ${i}: autodiff ${g[i]} vs finite difference ${fd}`);
    }
    tf.dispose([x, ...Object.values(grads)]);
    for (const p of params.values()) p.dispose();
  });
});
