/**
 * Image augmentation shared by the trainers: random translations (edges replicated), seeded by (seed, step) so
 * a resumed run draws exactly the shifts an uninterrupted one would. The artwork of our images sits on a
 * uniform background, so a shift moves it without inventing content; measured on the dual encoder it stops
 * the towers from memorising the training images (lib/baselines/train-dual.ts).
 */
import { deriveSeed, Rng } from './random';

/**
 * The image moved by (dx, dy) pixels (right, down), edges replicated: the artwork sits on a uniform background.
 * @param pixels [S·S·C] (H, W, C) @returns a new [S·S·C] array, or `pixels` itself when both shifts are 0
 */
export function shiftImage(pixels: Float32Array, size: number, dx: number, dy: number, channels = 3): Float32Array {
  if (pixels.length !== size * size * channels)
    throw new Error(`shiftImage: expected [${size}, ${size}, ${channels}] = ${size * size * channels} values, got ${pixels.length}.`);
  if (dx === 0 && dy === 0) return pixels;
  const out = new Float32Array(pixels.length);
  for (let y = 0; y < size; y++) {
    const sy = Math.min(size - 1, Math.max(0, y - dy));
    for (let x = 0; x < size; x++) {
      const src = (sy * size + Math.min(size - 1, Math.max(0, x - dx))) * channels;
      const dst = (y * size + x) * channels;
      for (let ch = 0; ch < channels; ch++) out[dst + ch] = pixels[src + ch] as number;
    }
  }
  return out;
}

/**
 * A function that shifts each image it is given by its own random (dx, dy) in [−maxShift, maxShift]², drawn
 * in call order from the stream of (seed, step); maxShift 0 returns the images unchanged.
 */
export function randomShifter(size: number, maxShift: number, seed: number, step: number): (pixels: Float32Array) => Float32Array {
  if (!(Number.isInteger(maxShift) && maxShift >= 0)) throw new Error(`maxShift must be a non-negative integer, got ${maxShift}.`);
  if (maxShift === 0) return (pixels) => pixels;
  const rng = new Rng(deriveSeed(seed, `augment/${step}`));
  return (pixels) => {
    const dx = rng.int(2 * maxShift + 1) - maxShift;
    const dy = rng.int(2 * maxShift + 1) - maxShift;
    return shiftImage(pixels, size, dx, dy);
  };
}
