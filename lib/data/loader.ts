/**
 * Streams training batches from normalised records. Each epoch visits every record once in a seeded
 * random order (epoch e uses the permutation of `deriveSeed(seed, "epoch:e")`), so the stream is a pure
 * function of (records, seed) and its position is two integers: `getState()` / `setState()` resume it
 * exactly. Images come from the image cache when it holds the path, else are decoded from disk; only the
 * current batch's images are turned into floats, never the whole set.
 */
import { resolve } from 'path';
import { decodeImage, IMAGE_DEFAULTS, Normalization } from '../image';
import { deriveSeed, Rng } from '../random';
import { ImageCache } from './cache';
import { TrainingRecord } from './m3t';

export interface LoaderConfig {
  batchSize: number;
  seed: number;
  /** Visit records in a seeded random order (true) or in file order (false). */
  shuffle: boolean;
  /** Drop the last, smaller batch of an epoch. */
  dropLast: boolean;
  /** Side of the images in pixels; must equal the cache's size when a cache is given. */
  imageSize: number;
  normalization: Normalization;
}

export const LOADER_DEFAULTS: Readonly<LoaderConfig> = Object.freeze({
  batchSize: 32,
  seed: 0,
  shuffle: true,
  dropLast: false,
  imageSize: IMAGE_DEFAULTS.size,
  normalization: IMAGE_DEFAULTS.normalization,
});

export interface BatchPair {
  query: string | string[];
  target: string;
  kind: string;
  /** The target image, [imageSize, imageSize, 3] floats, when the target has one. */
  targetImage?: Float32Array;
}

export interface BatchItem {
  id: string;
  /** The query image, [imageSize, imageSize, 3] floats, or null for a text-only query. */
  image: Float32Array | null;
  pairs: BatchPair[];
  /** Items with the same group are not each other's negatives (same image family). */
  group: string;
}

/** Where the stream is: the next batch is batch `position / batchSize` of epoch `epoch`. */
export interface LoaderState {
  epoch: number;
  /** Index into the epoch's order of the next record. */
  position: number;
  seed: number;
  count: number;
}

export interface LoaderOptions {
  config?: Partial<LoaderConfig>;
  cache?: ImageCache;
  /** Folder that relative image paths resolve against when they are decoded from disk. */
  imageRoot: string;
}

function resolveConfig(partial: Partial<LoaderConfig>): LoaderConfig {
  for (const key of Object.keys(partial)) {
    if (!(key in LOADER_DEFAULTS)) {
      throw new Error(`unknown loader option "${key}"; expected one of ${Object.keys(LOADER_DEFAULTS).join(', ')}.`);
    }
  }
  const cfg = { ...LOADER_DEFAULTS, ...partial };
  if (!Number.isInteger(cfg.batchSize) || cfg.batchSize < 1) {
    throw new Error(`loader batchSize must be a positive integer, got ${cfg.batchSize}.`);
  }
  return cfg;
}

export class DataLoader {
  readonly config: LoaderConfig;
  private epoch = 0;
  private position = 0;
  private order: number[] = [];
  private orderEpoch = -1;

  constructor(
    private readonly records: readonly TrainingRecord[],
    private readonly options: LoaderOptions,
  ) {
    this.config = resolveConfig(options.config ?? {});
    if (records.length === 0) throw new Error('DataLoader needs at least one record; got an empty list.');
    if (options.cache !== undefined && options.cache.size !== this.config.imageSize) {
      throw new Error(`image cache holds ${options.cache.size} px images but the loader wants ${this.config.imageSize} px; ` +
        'open the cache at the same size or set imageSize to match.');
    }
  }

  /** Batches in one epoch. */
  get batchesPerEpoch(): number {
    const n = this.records.length;
    const b = this.config.batchSize;
    return this.config.dropLast ? Math.floor(n / b) : Math.ceil(n / b);
  }

  getState(): LoaderState {
    return { epoch: this.epoch, position: this.position, seed: this.config.seed, count: this.records.length };
  }

  /** Resume from a saved state (same records and seed). */
  setState(state: LoaderState): void {
    if (state.seed !== this.config.seed || state.count !== this.records.length) {
      throw new Error(`loader state is for seed ${state.seed} over ${state.count} records, but this loader has seed ` +
        `${this.config.seed} over ${this.records.length}; resume with the same records and seed.`);
    }
    if (!Number.isInteger(state.epoch) || state.epoch < 0 || !Number.isInteger(state.position) || state.position < 0 || state.position > state.count) {
      throw new Error(`loader state has an invalid position (epoch ${state.epoch}, position ${state.position}).`);
    }
    this.epoch = state.epoch;
    this.position = state.position;
  }

  /** The record order of an epoch. */
  epochOrder(epoch: number): number[] {
    if (this.orderEpoch !== epoch) {
      const n = this.records.length;
      this.order = this.config.shuffle ? new Rng(deriveSeed(this.config.seed, `epoch:${epoch}`)).permutation(n) : Array.from({ length: n }, (_, i) => i);
      this.orderEpoch = epoch;
    }
    return this.order;
  }

  /** The record indices of the next batch, advancing the state (rolls over into the next epoch). */
  nextIndices(): number[] {
    const n = this.records.length;
    const b = this.config.batchSize;
    const remaining = n - this.position;
    if (remaining <= 0 || (this.config.dropLast && remaining < b)) {
      this.epoch++;
      this.position = 0;
      if (this.config.dropLast && n < b) throw new Error(`batchSize ${b} exceeds the ${n} records with dropLast on: no batch.`);
    }
    const order = this.epochOrder(this.epoch);
    const out = order.slice(this.position, this.position + b);
    this.position += out.length;
    return out;
  }

  /** The next batch, with images. */
  async next(): Promise<BatchItem[]> {
    return Promise.all(this.nextIndices().map((i) => this.item(this.records[i] as TrainingRecord)));
  }

  private async image(path: string): Promise<Float32Array | null> {
    if (path === '') return null;
    const cache = this.options.cache;
    const row = cache?.rowOf(path);
    if (cache !== undefined && row !== undefined) return cache.floats(row, this.config.normalization);
    return decodeImage(resolve(this.options.imageRoot, path), { size: this.config.imageSize, normalization: this.config.normalization });
  }

  private async item(rec: TrainingRecord): Promise<BatchItem> {
    const [image, targetImage] = await Promise.all([this.image(rec.queryImagePath), this.image(rec.targetImagePath)]);
    const pairs: BatchPair[] = rec.turns.map((t) => {
      const pair: BatchPair = { query: t.query, target: t.target, kind: t.kind };
      if (targetImage !== null) pair.targetImage = targetImage;
      return pair;
    });
    return { id: rec.id, image, pairs, group: rec.group };
  }
}
