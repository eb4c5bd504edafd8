/**
 * The vision tower: stem → ViT → 2×2 patch merge → projector to the language width (Qwen2-VL's shape).
 *
 * Stems (`model.visionStem`):
 *   patch  p×p patches, one linear map each (ViT);
 *   conv   3×3 stride-2 conv (3 → v/2) → GELU → 3×3 stride-2 conv (v/2 → v): a total stride of 4 (Xiao et
 *          al. 2021). The first convolution's windows are cut on the host (im2col: pixels need no gradient);
 *          the second gathers its 3×3 neighbourhoods from the first's output grid (a gather has a fast
 *          scatter-add gradient here), so both are matrix products.
 *
 * Tokens are produced in *merge order*: the four cells of each 2×2 group are consecutive, so the merge is a
 * plain reshape [Bi, P, v] → [Bi, P/4, 4v] (no 5/6-D transpose, slow on wasm).
 */
import * as tf from '@tensorflow/tfjs';
import { ModelConfig, imageTokens, patchCount, patchValues, stemChannels, stemInputShape } from './config';
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
        for (const [dy, dx] of [
          [0, 0],
          [0, 1],
          [1, 0],
          [1, 1],
        ] as const) {
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

/** The cells of a g×g grid in merge order: for each 2×2 group (row-major), its four cells; [y, x] pairs. */
export function mergeOrder(g: number): [number, number][] {
  const out: [number, number][] = [];
  for (let gy = 0; gy < g / 2; gy++) {
    for (let gx = 0; gx < g / 2; gx++) {
      for (const [dy, dx] of [
        [0, 0],
        [0, 1],
        [1, 0],
        [1, 1],
      ] as const)
        out.push([2 * gy + dy, 2 * gx + dx]);
    }
  }
  return out;
}

/**
 * The conv stem's first-layer windows (im2col): for each cell (y, x) of the (S/2)² output grid, row-major,
 * the 3×3×3 input window centred on pixel (2y, 2x) with zero padding, in (ky, kx, channel) order.
 * @returns Float32Array [Bi · (S/2)² · 27]
 */
export function stemWindows(images: readonly Float32Array[], c: ModelConfig): Float32Array {
  const s = c.imageSize;
  const g = s / 2;
  const out = new Float32Array(images.length * g * g * 27);
  images.forEach((img, i) => {
    if (img.length !== s * s * 3) {
      throw new Error(`Image ${i} has ${img.length} values; expected ${s}×${s}×3 = ${s * s * 3} (model.imageSize ${s}).`);
    }
    let o = i * g * g * 27;
    for (let y = 0; y < g; y++) {
      for (let x = 0; x < g; x++) {
        for (let ky = 0; ky < 3; ky++) {
          const iy = 2 * y + ky - 1;
          for (let kx = 0; kx < 3; kx++) {
            const ix = 2 * x + kx - 1;
            if (iy >= 0 && iy < s && ix >= 0 && ix < s) out.set(img.subarray((iy * s + ix) * 3, (iy * s + ix) * 3 + 3), o);
            o += 3;
          }
        }
      }
    }
  });
  return out;
}

/**
 * Gather indices of the conv stem's second layer, for `bi` images: output cell j (merge order over the
 * (S/4)² grid) and kernel offset (ky, kx) read row b·G1² + iy·G1 + ix of the flattened first-layer output
 * [Bi·G1², c1], or row Bi·G1² (a zero row appended for the padding). @returns Int32Array [Bi · (S/4)² · 9]
 */
export function stemGatherIndex(bi: number, c: ModelConfig): Int32Array {
  const g1 = c.imageSize / 2;
  const cells = mergeOrder(c.imageSize / 4);
  const out = new Int32Array(bi * cells.length * 9);
  let o = 0;
  for (let b = 0; b < bi; b++) {
    for (const [y, x] of cells) {
      for (let ky = 0; ky < 3; ky++) {
        for (let kx = 0; kx < 3; kx++) {
          const iy = 2 * y + ky - 1;
          const ix = 2 * x + kx - 1;
          out[o++] = iy >= 0 && iy < g1 && ix >= 0 && ix < g1 ? b * g1 * g1 + iy * g1 + ix : bi * g1 * g1;
        }
      }
    }
  }
  return out;
}

/** Images as the tensor the tower takes: [Bi, P, p·p·3] patches (`patch` stem) or [Bi, (S/2)², 27] windows (`conv`). */
export function patchTensor(images: readonly Float32Array[], c: ModelConfig): tf.Tensor3D {
  const [rows, values] = stemInputShape(c);
  const flat = c.visionStem === 'conv' ? stemWindows(images, c) : patchify(images, c);
  return tf.tensor3d(flat, [images.length, rows, values]);
}

/** The conv stem: windows [Bi, (S/2)², 27] → tokens [Bi, P, v] in merge order. */
export function convStem(params: Params, c: ModelConfig, windows: tf.Tensor): tf.Tensor {
  const bi = windows.shape[0] as number;
  const c1 = stemChannels(c);
  const g1 = (c.imageSize / 2) ** 2;
  const h1 = gelu(linear(windows, param(params, 'vision.stem1.w'), param(params, 'vision.stem1.b'))); // [Bi, G1², c1]
  const rows = tf.concat([tf.reshape(h1, [bi * g1, c1]), tf.zeros([1, c1])], 0); // [Bi·G1² + 1, c1]
  const cols = tf.gather(rows, tf.tensor1d(stemGatherIndex(bi, c), 'int32')); // [Bi·P·9, c1]
  const x = tf.reshape(cols, [bi, patchCount(c), 9 * c1]);
  return linear(x, param(params, 'vision.stem2.w'), param(params, 'vision.stem2.b')); // [Bi, P, v]
}

/**
 * @param patches the stem input from `patchTensor`: [Bi, P, p·p·3] in merge order, or [Bi, (S/2)², 27]
 * @returns image tokens [Bi, P/4, dim]
 */
export function visionForward(params: Params, c: ModelConfig, patches: tf.Tensor): tf.Tensor {
  const [bi, np, pv] = patches.shape as [number, number, number];
  const [rows, values] = stemInputShape(c);
  if (np !== rows || pv !== values) {
    throw new Error(
      `The vision input must be [B, ${rows}, ${values}] (model.visionStem '${c.visionStem}'; make it with patchTensor), got [${patches.shape.join(', ')}].`,
    );
  }
  const P = (n: string): tf.Variable => param(params, n);
  const stem = c.visionStem === 'conv' ? convStem(params, c, patches) : linear(patches, P('vision.patch.w'), P('vision.patch.b'));
  let x = tf.add(stem, P('vision.pos')); // [Bi, P, v]
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
