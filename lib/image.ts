/**
 * The image pipeline: decode (PNG, JPEG, WebP) or rasterise (SVG) a file with sharp, fit it onto a square
 * canvas, flatten it onto a white background and hand back RGB pixels, as bytes or as floats.
 *
 * One canonical path, so the image cache (lib/data/cache.ts) and on-the-fly decoding give the same pixels:
 *   1. render at `renderSize(size)` = the smallest multiple of `size` that is ≥ 64 px (32 → 64, 16 → 64,
 *      48 → 96, 100 → 100), fitted inside the square (aspect kept, `contain`), transparent around it;
 *   2. flatten onto the background (white: emoji artwork is drawn for light backgrounds, and flags are
 *      opaque, so white bars above/below a 4:3 flag read as "nothing there");
 *   3. box-average down by the integer factor `renderSize / size`.
 * Floats are laid out [H, W, 3] (row-major, channel last), either in [0, 1] (`unit`) or normalised per
 * channel as (x − mean) / std with the CLIP constants that Qwen2-VL's image processor uses (`clip`).
 *
 * A missing, empty or corrupt file is an error naming the file, never a black image.
 */
import { promises as fs } from 'fs';
import sharp from 'sharp';

export type Normalization = 'unit' | 'clip';

export interface ImageConfig {
  /** Side of the square output in pixels (the model's input size). */
  size: number;
  /** `unit`: x/255 in [0, 1]; `clip`: (x/255 − CLIP_MEAN[c]) / CLIP_STD[c]. */
  normalization: Normalization;
  /** RGB (0–255) painted under transparent pixels and around non-square images. */
  background: readonly [number, number, number];
}

export const IMAGE_DEFAULTS: Readonly<ImageConfig> = Object.freeze({
  size: 32,
  normalization: 'unit',
  background: [255, 255, 255] as const,
});

/** OpenAI CLIP's per-channel mean and std (also Qwen2-VL's `image_mean` / `image_std`). */
export const CLIP_MEAN: readonly [number, number, number] = [0.48145466, 0.4578275, 0.40821073];
export const CLIP_STD: readonly [number, number, number] = [0.26862954, 0.26130258, 0.27577711];

/** Smallest size at which artwork is rendered, so small outputs are anti-aliased by box averaging. */
export const MIN_RENDER_SIZE = 64;

/** Thrown for a file that is missing, empty or cannot be decoded; `path` names the file. */
export class ImageFileError extends Error {
  constructor(
    readonly path: string,
    message: string,
  ) {
    super(message);
    this.name = 'ImageFileError';
  }
}

/** The render size for an output size: the smallest multiple of `size` that is ≥ MIN_RENDER_SIZE. */
export function renderSize(size: number): number {
  checkSize(size);
  return size * Math.ceil(MIN_RENDER_SIZE / size);
}

function checkSize(size: number): void {
  if (!Number.isInteger(size) || size < 1 || size > 4096) {
    throw new Error(`image size must be an integer in [1, 4096], got ${size}; set image.size to e.g. 32.`);
  }
}

/** Read a file's bytes; a missing or empty file is an ImageFileError naming it. */
export async function readImageFile(path: string): Promise<Buffer> {
  let bytes: Buffer;
  try {
    bytes = await fs.readFile(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'does not exist' : `cannot be read (${code ?? String(err)})`;
    throw new ImageFileError(path, `image file ${path} ${why}; check the image root and the record's path.`);
  }
  if (bytes.length === 0) {
    throw new ImageFileError(path, `image file ${path} is empty (0 bytes); re-install or rebuild its source.`);
  }
  return bytes;
}

function isSvg(bytes: Buffer): boolean {
  // Raster formats start with binary magic bytes; SVG is XML text with an <svg> element near the top
  // (possibly after an XML declaration, a doctype or a comment).
  const head = bytes.subarray(0, 2048).toString('utf8').trimStart();
  return head.startsWith('<') && head.includes('<svg');
}

/**
 * Render a file fitted inside a `side`×`side` transparent square.
 * @returns RGBA bytes, shape [side, side, 4].
 */
export async function rasteriseRgba(path: string, side: number): Promise<Uint8Array> {
  checkSize(side);
  const bytes = await readImageFile(path);
  try {
    let input = sharp(bytes, { failOn: 'warning' });
    if (isSvg(bytes)) {
      // Vector art: pick the density that renders the longer side at about `side` px, so it is drawn
      // sharply at the target resolution instead of being rasterised small and upscaled.
      const meta = await input.metadata();
      const longer = Math.max(meta.width ?? side, meta.height ?? side, 1);
      input = sharp(bytes, { failOn: 'warning', density: Math.min(100000, Math.max(1, (72 * side) / longer)) });
    }
    const raw = await input
      .resize(side, side, { fit: 'contain', background: { r: 0, g: 0, b: 0, alpha: 0 } })
      .ensureAlpha()
      .raw()
      .toBuffer({ resolveWithObject: true });
    if (raw.info.width !== side || raw.info.height !== side || raw.info.channels !== 4) {
      throw new Error(`decoded to ${raw.info.width}×${raw.info.height}×${raw.info.channels}`);
    }
    return new Uint8Array(raw.data.buffer, raw.data.byteOffset, raw.data.length);
  } catch (err) {
    if (err instanceof ImageFileError) throw err;
    const why = err instanceof Error ? err.message : String(err);
    throw new ImageFileError(
      path,
      `image file ${path} is corrupt or not a supported image (${why}); ` + 'expected PNG, JPEG, WebP or SVG. Replace the file or remove it from the source.',
    );
  }
}

/**
 * Alpha-composite RGBA over a solid background (straight, not premultiplied, alpha).
 * @param rgba [H, W, 4] bytes. @returns [H, W, 3] bytes.
 */
export function flattenRgba(rgba: Uint8Array, background: readonly [number, number, number]): Uint8Array {
  if (rgba.length % 4 !== 0) throw new Error(`flattenRgba expects [H, W, 4] bytes, got length ${rgba.length}.`);
  const n = rgba.length / 4;
  const out = new Uint8Array(n * 3);
  const [br, bg, bb] = background;
  for (let i = 0; i < n; i++) {
    const a = (rgba[4 * i + 3] as number) / 255;
    out[3 * i] = Math.round((rgba[4 * i] as number) * a + br * (1 - a));
    out[3 * i + 1] = Math.round((rgba[4 * i + 1] as number) * a + bg * (1 - a));
    out[3 * i + 2] = Math.round((rgba[4 * i + 2] as number) * a + bb * (1 - a));
  }
  return out;
}

/**
 * Shrink a square RGB image by an integer factor, averaging each factor×factor block (rounded).
 * @param rgb [side, side, 3] bytes. @returns [side/factor, side/factor, 3] bytes.
 */
export function boxDownsample(rgb: Uint8Array, side: number, factor: number): Uint8Array {
  if (rgb.length !== side * side * 3) {
    throw new Error(`boxDownsample expects [${side}, ${side}, 3] = ${side * side * 3} bytes, got ${rgb.length}.`);
  }
  if (!Number.isInteger(factor) || factor < 1 || side % factor !== 0) {
    throw new Error(`boxDownsample factor must be a positive divisor of ${side}, got ${factor}.`);
  }
  if (factor === 1) return rgb.slice();
  const out = side / factor;
  const res = new Uint8Array(out * out * 3);
  const area = factor * factor;
  for (let y = 0; y < out; y++) {
    for (let x = 0; x < out; x++) {
      for (let c = 0; c < 3; c++) {
        let sum = 0;
        for (let dy = 0; dy < factor; dy++) {
          const row = (y * factor + dy) * side;
          for (let dx = 0; dx < factor; dx++) sum += rgb[(row + x * factor + dx) * 3 + c] as number;
        }
        res[(y * out + x) * 3 + c] = Math.round(sum / area);
      }
    }
  }
  return res;
}

/** Decoded pixels of one file at one render size: RGBA for pixel statistics, RGB on the background. */
export interface Rendered {
  side: number;
  /** [side, side, 4] bytes, transparent where the artwork is. */
  rgba: Uint8Array;
  /** [side, side, 3] bytes, flattened onto the background. */
  rgb: Uint8Array;
}

/** Render a file at `renderSize(size)` and flatten it (steps 1–2 of the pipeline). */
export async function renderImage(path: string, size: number, background: readonly [number, number, number] = IMAGE_DEFAULTS.background): Promise<Rendered> {
  const side = renderSize(size);
  const rgba = await rasteriseRgba(path, side);
  return { side, rgba, rgb: flattenRgba(rgba, background) };
}

/** Shrink a rendered image to `size` (step 3): `size` must divide the render side. */
export function shrinkRendered(rendered: Rendered, size: number): Uint8Array {
  return boxDownsample(rendered.rgb, rendered.side, rendered.side / size);
}

/**
 * Decode a file to RGB bytes at `size`.
 * @returns [size, size, 3] bytes (row-major, channel last).
 */
export async function decodeImageBytes(
  path: string,
  size: number = IMAGE_DEFAULTS.size,
  background: readonly [number, number, number] = IMAGE_DEFAULTS.background,
): Promise<Uint8Array> {
  return shrinkRendered(await renderImage(path, size, background), size);
}

/**
 * Convert RGB bytes to floats.
 * @param rgb [H, W, 3] bytes. @returns [H, W, 3] floats, in [0, 1] or CLIP-normalised.
 */
export function bytesToFloat(rgb: Uint8Array, normalization: Normalization = 'unit'): Float32Array {
  if (rgb.length % 3 !== 0) throw new Error(`bytesToFloat expects [H, W, 3] bytes, got length ${rgb.length}.`);
  const out = new Float32Array(rgb.length);
  switch (normalization) {
    case 'unit':
      for (let i = 0; i < rgb.length; i++) out[i] = (rgb[i] as number) / 255;
      return out;
    case 'clip':
      for (let i = 0; i < rgb.length; i++) {
        const c = i % 3;
        out[i] = ((rgb[i] as number) / 255 - (CLIP_MEAN[c] as number)) / (CLIP_STD[c] as number);
      }
      return out;
  }
}

/** Decode a file to floats with a (partial) image config. @returns [size, size, 3] floats. */
export async function decodeImage(path: string, config: Partial<ImageConfig> = {}): Promise<Float32Array> {
  const cfg = { ...IMAGE_DEFAULTS, ...config };
  return bytesToFloat(await decodeImageBytes(path, cfg.size, cfg.background), cfg.normalization);
}

/** Encode [height, width, 3] RGB bytes as a PNG file (used for the mini benchmarks' images). */
export async function writePng(path: string, rgb: Uint8Array, width: number, height: number): Promise<void> {
  if (rgb.length !== width * height * 3) {
    throw new Error(`writePng expects [${height}, ${width}, 3] = ${width * height * 3} bytes, got ${rgb.length}.`);
  }
  await sharp(Buffer.from(rgb.buffer, rgb.byteOffset, rgb.length), { raw: { width, height, channels: 3 } })
    .png({ compressionLevel: 9 })
    .toFile(path);
}
