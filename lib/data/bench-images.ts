/**
 * Images of the mini benchmarks: each referenced source image is written once as a small PNG from the
 * image cache (so the benchmark sees exactly the cached pixels), and grounding composites (4 objects in a
 * 2×2 grid, like a RefCOCO scene) are assembled from cache tiles together with their crops.
 */
import { join } from 'path';
import { writePng } from '../image';
import { ImageCache } from './cache';
import { ImageRef } from './concepts';
import { ensureDir } from './files';

/** A 2×2 composite and its four cells (row-major: top-left, top-right, bottom-left, bottom-right). */
export interface Grid {
  /** Path of the composite, relative to the benchmark root. */
  path: string;
  cells: { image: ImageRef; cropPath: string }[];
}

export class BenchImages {
  private readonly pending = new Map<string, { bytes: Uint8Array; side: number }>();

  /**
   * @param root benchmark folder; returned paths are relative to it.
   * @param subdir folder under `root` the PNG files go to (e.g. `images`, `mbeir_images`).
   * @param full cache whose size is the PNG size of single images (64 px).
   * @param tile cache whose size is a grid cell (32 px), so a composite is as large as a single image.
   */
  constructor(
    private readonly root: string,
    private readonly subdir: string,
    private readonly full: ImageCache,
    private readonly tile: ImageCache,
  ) {}

  /** The PNG path (relative to the root) of a source image, scheduling it for writing. */
  path(image: ImageRef): string {
    const rel = `${this.subdir}/${image.id.replace('/', '-')}.png`;
    if (!this.pending.has(rel)) this.pending.set(rel, { bytes: this.full.bytes(this.row(image)), side: this.full.size });
    return rel;
  }

  private row(image: ImageRef): number {
    const row = this.full.rowOf(image.id);
    if (row === undefined) throw new Error(`image ${image.id} is not in the image cache; rebuild the cache (npm run data).`);
    return row;
  }

  /** Compose four images into a 2×2 grid named `name`; its crops are the four tiles. */
  grid(name: string, images: readonly [ImageRef, ImageRef, ImageRef, ImageRef]): Grid {
    const t = this.tile.size;
    const side = 2 * t;
    const composite = new Uint8Array(side * side * 3);
    const cells = images.map((image, k) => {
      const bytes = this.tile.bytes(this.tile.rowOf(image.id) ?? this.row(image));
      const ox = (k % 2) * t;
      const oy = Math.floor(k / 2) * t;
      for (let y = 0; y < t; y++) composite.set(bytes.subarray(y * t * 3, (y + 1) * t * 3), ((oy + y) * side + ox) * 3);
      const cropPath = `${this.subdir}/grid/${name}-${k}.png`;
      this.pending.set(cropPath, { bytes, side: t });
      return { image, cropPath };
    });
    const path = `${this.subdir}/grid/${name}.png`;
    this.pending.set(path, { bytes: composite, side });
    return { path, cells };
  }

  /** Every file scheduled so far, relative to the root. */
  files(): string[] {
    return [...this.pending.keys()];
  }

  /** Write every scheduled PNG. */
  async writeAll(concurrency = 8): Promise<void> {
    ensureDir(join(this.root, this.subdir, 'grid'));
    const jobs = [...this.pending.entries()];
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < jobs.length) {
        const [rel, { bytes, side }] = jobs[next++] as [string, { bytes: Uint8Array; side: number }];
        await writePng(join(this.root, rel), bytes, side, side);
      }
    };
    await Promise.all(Array.from({ length: concurrency }, worker));
  }
}
