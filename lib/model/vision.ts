/**
 * The vision tower: patches → ViT → 2×2 patch merge → projector to the language width (Qwen2-VL's shape).
 *
 * Patchification happens on the host, in *merge order*: the four patches of each 2×2 group are consecutive,
 * so the merge is a plain reshape [Bi, P, v] → [Bi, P/4, 4v] (no 5/6-D transpose, slow on wasm).
 */
import * as tf from '@tensorflow/tfjs';
import { ModelConfig, imageTokens, patchCount, patchValues } from './config';
import { attention, gelu, layerNorm, linear } from './layers';
import { Params, param } from './params';

const LN_EPS = 1e-6;

/**
 * Cut images into patches in merge order.
 * @param images each [S·S·3] float RGB, row-major (y, x, channel), S = config.imageSize
 * @returns Float32Array [Bi · P · p·p·3]: for each 2×2 group (row-major over the group grid), its four
 *          patches (top-left, top-right, bottom-left, bottom-right), each row-major (y, x, channel)
 */
export function patchify(images: readonly Float32Array[], c: ModelConfig): Float32Array {
  const s = c.imageSize;
  const p = c.patchSize;
  const grid = s / p;
  const pv = patchValues(c);
  const perImage = patchCount(c) * pv;
  const out = new Float32Array(images.length * perImage);
  images.forEach((img, i) => {
    if (img.length !== s * s * 3) {
      throw new Error(`Image ${i} has ${img.length} values; expected ${s}×${s}×3 = ${s * s * 3} (model.imageSize ${s}).`);
    }
    let o = i * perImage;
    for (let gy = 0; gy < grid / 2; gy++) {
      for (let gx = 0; gx < grid / 2; gx++) {
        for (const [dy, dx] of [[0, 0], [0, 1], [1, 0], [1, 1]] as const) {
          const py = 2 * gy + dy;
          const px = 2 * gx + dx;
          for (let y = 0; y < p; y++) {
            const row = ((py * p + y) * s + px * p) * 3;
            out.set(img.subarray(row, row + p * 3), o);
            o += p * 3;
          }
        }
      }
    }
  });
  return out;
}

/** Patches as the tensor the tower takes: [Bi, P, p·p·3]. */
export function patchTensor(images: readonly Float32Array[], c: ModelConfig): tf.Tensor3D {
  return tf.tensor3d(patchify(images, c), [images.length, patchCount(c), patchValues(c)]);
}

/**
 * @param patches [Bi, P, p·p·3] in merge order
 * @returns image tokens [Bi, P/4, dim]
 */
export function visionForward(params: Params, c: ModelConfig, patches: tf.Tensor): tf.Tensor {
  const [bi, np, pv] = patches.shape as [number, number, number];
  if (np !== patchCount(c) || pv !== patchValues(c)) {
    throw new Error(`Patches must be [B, ${patchCount(c)}, ${patchValues(c)}], got [${patches.shape.join(', ')}].`);
  }
  const P = (n: string): tf.Variable => param(params, n);
  let x = tf.add(linear(patches, P('vision.patch.w'), P('vision.patch.b')), P('vision.pos')); // [Bi, P, v]
  for (let l = 0; l < c.visionLayers; l++) {
    const n = (s: string): tf.Variable => P(`vision.${l}.${s}`);
    const h = layerNorm(x, n('ln1.g'), n('ln1.b'), LN_EPS);
    const attn = { wq: n('wq'), wk: n('wk'), wv: n('wv'), wo: n('wo'), bq: n('bq'), bk: n('bk'), bv: n('bv'), bo: n('bo') };
    x = tf.add(x, attention(h, attn, c.visionHeads, null, null));
    const h2 = layerNorm(x, n('ln2.g'), n('ln2.b'), LN_EPS);
    x = tf.add(x, linear(gelu(linear(h2, n('fc1.w'), n('fc1.b'))), n('fc2.w'), n('fc2.b')));
  }
  const normed = layerNorm(x, P('merger.ln.g'), P('merger.ln.b'), LN_EPS);
  const merged = tf.reshape(normed, [bi, imageTokens(c), 4 * c.visionDim]); // [Bi, P/4, 4v]
  const hidden = gelu(linear(merged, P('merger.fc1.w'), P('merger.fc1.b')));
  return linear(hidden, P('merger.fc2.w'), P('merger.fc2.b')); // [Bi, P/4, dim]
}
