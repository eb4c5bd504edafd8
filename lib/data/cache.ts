/**
 * The image cache: every source image rendered once, stored as one binary file of uint8 RGB pixels per
 * size (`images-<size>.u8`, shape [count, size, size, 3], row-major, channel last, flattened on the
 * background) plus `index.json` (id, style, concept, source path and colour facts per row). Loading is
 * one read of each file (≈40 MB at 32 px for 12k images), and a row's pixels are a view, not a copy.
 * The pixels equal what `decodeImageBytes(path, size)` returns for the same file (lib/image.ts).
 */
import { existsSync, readFileSync, statSync } from 'fs';
import { join, resolve } from 'path';
import { bytesToFloat, IMAGE_DEFAULTS, Normalization, renderImage, shrinkRendered } from '../image';
import { log } from '../log';
import { ColourStats, colourStats } from './colour';
import { ImageRef, Style } from './concepts';
import { writeFileAtomic } from './files';

export const CACHE_VERSION = 1;
/** Colour facts are always measured on a 64 px render, whatever sizes the cache stores. */
export const STATS_SIZE = 64;

export interface CacheEntry {
  id: string;
  style: Style;
  conceptId: string;
  /** Source path relative to the project root (as stored in records). */
  path: string;
  colours: ColourStats;
}

export interface CacheIndex {
  version: number;
  sizes: number[];
  background: [number, number, number];
  count: number;
  entries: CacheEntry[];
}

export function cacheFiles(dir: string, sizes: readonly number[]): string[] {
  return [join(dir, 'index.json'), ...sizes.map((s) => join(dir, `images-${s}.u8`))];
}

export interface BuildCacheOptions {
  /** Output folder. */
  dir: string;
  /** Project root the image paths are relative to. */
  root: string;
  sizes: number[];
  /** Images decoded at once (sharp runs them on its thread pool). */
  concurrency: number;
}

/**
 * Render every image at every size and write the cache. Any unreadable image aborts the build with an
 * error naming its file.
 */
export async function buildImageCache(images: readonly ImageRef[], opts: BuildCacheOptions): Promise<CacheIndex> {
  const sizes = [...new Set(opts.sizes)].sort((a, b) => a - b);
  const buffers = new Map(sizes.map((s) => [s, new Uint8Array(images.length * s * s * 3)]));
  const entries: CacheEntry[] = new Array(images.length);
  const started = Date.now();
  let next = 0;
  let done = 0;
  const worker = async (): Promise<void> => {
    while (next < images.length) {
      const row = next++;
      const img = images[row] as ImageRef;
      const abs = resolve(opts.root, img.path);
      const stats = await renderImage(abs, STATS_SIZE, IMAGE_DEFAULTS.background);
      for (const size of sizes) {
        const rendered = stats.side % size === 0 && stats.side >= size ? stats : await renderImage(abs, size);
        (buffers.get(size) as Uint8Array).set(shrinkRendered(rendered, size), row * size * size * 3);
      }
      entries[row] = { id: img.id, style: img.style, conceptId: img.conceptId, path: img.path, colours: colourStats(stats.rgba, stats.side) };
      done++;
      if (done % 2000 === 0) log.info(`  cache: ${done}/${images.length} images (${((Date.now() - started) / 1000).toFixed(1)} s)`);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, opts.concurrency) }, worker));
  const index: CacheIndex = { version: CACHE_VERSION, sizes, background: [...IMAGE_DEFAULTS.background], count: images.length, entries };
  for (const size of sizes) writeFileAtomic(join(opts.dir, `images-${size}.u8`), buffers.get(size) as Uint8Array);
  writeFileAtomic(join(opts.dir, 'index.json'), JSON.stringify(index));
  return index;
}

/** Read just the index (colour facts, paths) without the pixels. */
export function readCacheIndex(dir: string): CacheIndex {
  const path = join(dir, 'index.json');
  if (!existsSync(path)) throw new Error(`no image cache index at ${path}; run \`npm run data\` to build it.`);
  const index = JSON.parse(readFileSync(path, 'utf8')) as CacheIndex;
  if (index.version !== CACHE_VERSION) {
    throw new Error(`image cache ${path} has version ${index.version}, expected ${CACHE_VERSION}; run \`npm run data\`.`);
  }
  return index;
}

/** An opened cache at one size: pixels by row, id or source path. */
export class ImageCache {
  private readonly byPath: Map<string, number>;
  private readonly byId: Map<string, number>;

  private constructor(
    readonly index: CacheIndex,
    readonly size: number,
    private readonly pixels: Uint8Array,
  ) {
    this.byPath = new Map(index.entries.map((e, i) => [e.path, i]));
    this.byId = new Map(index.entries.map((e, i) => [e.id, i]));
  }

  /** Open `dir` at `size` (one of the sizes it was built with). */
  static open(dir: string, size: number = IMAGE_DEFAULTS.size): ImageCache {
    const index = readCacheIndex(dir);
    if (!index.sizes.includes(size)) {
      throw new Error(`image cache ${dir} holds sizes ${index.sizes.join(', ')}, not ${size}; ` +
        'rebuild with that image size (npm run data -- --image-size N) or decode from paths.');
    }
    const file = join(dir, `images-${size}.u8`);
    const expected = index.count * size * size * 3;
    const actual = existsSync(file) ? statSync(file).size : -1;
    if (actual !== expected) {
      throw new Error(`image cache file ${file} has ${actual} bytes, expected ${expected} ` +
        `(${index.count} × ${size}×${size}×3); run \`npm run data\` to rebuild it.`);
    }
    const buf = readFileSync(file);
    return new ImageCache(index, size, new Uint8Array(buf.buffer, buf.byteOffset, buf.length));
  }

  get count(): number {
    return this.index.count;
  }

  /** Row of a source path or image id, or undefined. */
  rowOf(pathOrId: string): number | undefined {
    return this.byPath.get(pathOrId) ?? this.byId.get(pathOrId);
  }

  /** [size, size, 3] bytes of a row (a view into the cache). */
  bytes(row: number): Uint8Array {
    if (!Number.isInteger(row) || row < 0 || row >= this.index.count) {
      throw new Error(`image cache row must be in [0, ${this.index.count}), got ${row}.`);
    }
    const n = this.size * this.size * 3;
    return this.pixels.subarray(row * n, (row + 1) * n);
  }

  /** [size, size, 3] floats of a row. */
  floats(row: number, normalization: Normalization = IMAGE_DEFAULTS.normalization): Float32Array {
    return bytesToFloat(this.bytes(row), normalization);
  }
}
