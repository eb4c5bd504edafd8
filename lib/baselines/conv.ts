/**
 * The dual encoder's convolution: 3×3, stride 2, zero padding 1 (TensorFlow's explicit padding
 * [[1, 1], [1, 1]]; an even H × W input gives H/2 × W/2), written as im2col + one matrix product.
 *
 * Why not `tf.conv2d`: on the wasm backend its filter gradient (`Conv2DBackpropFilter`) has no wasm kernel and
 * runs bridged to the pure-JS cpu kernel; one training step of the baseline's conv net (B = 128, 32 px,
 * channels 32-64-128-256) took 167 s that way, against ≈0.2 s for this im2col + matMul form, whose matrix
 * products run on the native BLAS and whose gradient is tfjs autodiff of slices, pads and a concat.
 *
 * Column layout: `cols[b, i, j, (dy·3 + dx)·C + c] = x[b, 2i + dy − 1, 2j + dx − 1, c]` (0 outside the image), so a
 * weight matrix [9·C, C_out] is `tf.reshape` of a tf.conv2d filter [3, 3, C, C_out].
 *
 * The columns are built from the four parity planes P[a][p] = x[2i + a, 2j + p] (a 4-D reshape and slice each):
 * tap row dy = 0 reads odd rows one output row up (P[1][·] shifted down), dy = 1 even rows, dy = 2 odd rows;
 * likewise for columns. That is 4 slices + 3 shifts + 1 concat, and autodiff of it is as cheap (measured: the
 * naive form, 18 strided slices of the padded input, spent 2.5× as long in slices, pads and adds).
 */
import * as tf from '@tensorflow/tfjs';

function checkEven(shape: readonly number[], who: string): void {
  const [, h, w] = shape;
  if (shape.length !== 4 || h === undefined || w === undefined || h % 2 !== 0 || w % 2 !== 0) {
    throw new Error(`${who}: expected [B, H, W, C] with even H and W, got [${shape.join(', ')}]. Use an image size divisible by 2^(conv layers).`);
  }
}

/**
 * im2col of a 3×3, stride-2, pad-1 convolution, in tf ops (differentiable).
 * @param x [B, H, W, C], H and W even
 * @returns [B, H/2, W/2, 9·C] in the column layout above
 */
export function im2colStride2(x: tf.Tensor4D): tf.Tensor4D {
  checkEven(x.shape, 'im2colStride2');
  const [b, h, w, c] = x.shape;
  const ho = h / 2;
  const wo = w / 2;
  return tf.tidy(() => {
    const rows = tf.reshape(x, [b * ho, 2, wo, 2 * c]); // (B·H/2, row parity, W/2, column parity · C)
    const plane = (a: number, p: number): tf.Tensor4D => tf.reshape(tf.slice(rows, [0, a, 0, p * c], [b * ho, 1, wo, c]), [b, ho, wo, c]);
    const down = (t: tf.Tensor4D): tf.Tensor4D =>
      tf.slice(
        tf.pad(t, [
          [0, 0],
          [1, 0],
          [0, 0],
          [0, 0],
        ]),
        [0, 0, 0, 0],
        [b, ho, wo, c],
      );
    const right = (t: tf.Tensor4D): tf.Tensor4D =>
      tf.slice(
        tf.pad(t, [
          [0, 0],
          [0, 0],
          [1, 0],
          [0, 0],
        ]),
        [0, 0, 0, 0],
        [b, ho, wo, c],
      );
    const [p00, p01, p10, p11] = [plane(0, 0), plane(0, 1), plane(1, 0), plane(1, 1)];
    const p11Down = down(p11);
    // Taps in (dy, dx) row-major order.
    return tf.concat([right(p11Down), down(p10), p11Down, right(p01), p00, p01, right(p11), p10, p11], 3);
  });
}

/**
 * The same columns computed on the host, for the first layer (raw pixels need no gradient, and slicing a
 * 3-channel tensor is mostly per-call overhead on wasm).
 * @param images each [S·S·C] row-major (H, W, C), S even
 * @returns [B·(S/2)², 9·C] row-major: row (b·(S/2) + i)·(S/2) + j
 */
export function hostIm2colStride2(images: readonly Float32Array[], size: number, channels: number): Float32Array {
  if (size % 2 !== 0) throw new Error(`hostIm2colStride2: the image size must be even, got ${size}.`);
  const half = size / 2;
  const width = 9 * channels;
  const out = new Float32Array(images.length * half * half * width);
  images.forEach((img, b) => {
    if (img.length !== size * size * channels) {
      throw new Error(`hostIm2colStride2: image ${b} has ${img.length} values, expected [${size}, ${size}, ${channels}] = ${size * size * channels}.`);
    }
    for (let i = 0; i < half; i++) {
      for (let j = 0; j < half; j++) {
        const row = ((b * half + i) * half + j) * width;
        for (let dy = 0; dy < 3; dy++) {
          const y = 2 * i + dy - 1;
          if (y < 0 || y >= size) continue;
          for (let dx = 0; dx < 3; dx++) {
            const x = 2 * j + dx - 1;
            if (x < 0 || x >= size) continue;
            const src = (y * size + x) * channels;
            const dst = row + (dy * 3 + dx) * channels;
            for (let c = 0; c < channels; c++) out[dst + c] = img[src + c] as number;
          }
        }
      }
    }
  });
  return out;
}

/**
 * One convolution from its columns: relu(cols · w + bias).
 * @param cols [B, H', W', 9·C]
 * @param w [9·C, C_out]
 * @param bias [C_out]
 * @returns [B, H', W', C_out]
 */
export function convFromColumns(cols: tf.Tensor4D, w: tf.Tensor2D, bias: tf.Tensor1D): tf.Tensor4D {
  const [b, h, wd, k] = cols.shape;
  if (w.shape[0] !== k)
    throw new Error(`convFromColumns: columns have ${k} values per position but the weight is [${w.shape.join(', ')}]; expected [${k}, C_out].`);
  return tf.tidy(() => tf.reshape(tf.relu(tf.add(tf.matMul(tf.reshape(cols, [b * h * wd, k]), w), bias)), [b, h, wd, w.shape[1]]));
}
