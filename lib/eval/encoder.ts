/**
 * The model side of evaluation: the `Encoder` interface every embedder implements, an encoding cache that
 * embeds each distinct (text, image) item once, in batches (as MMEB's and M-BEIR's evaluators do:
 * docs/benchmarks.md §1.3, §2.3), and a seeded random encoder that gives chance-level baselines.
 *
 * Pipeline (docs/architecture.md, docs/benchmarks.md): encode with the cache → rank (`rank.ts`) → metrics (`metrics.ts`) → aggregation
 * (`eval/mmeb.ts`, `eval/mbeir.ts`).
 */
import { log } from '../log';
import { deriveSeed, Rng } from '../random';

/** One thing to embed: text, optionally with an image (a file path or an image-cache key). */
export interface EncodeItem {
  text: string;
  image?: string;
}

export interface Encoder {
  readonly dim: number;
  /** Embeds items with the single-turn template; returns [n, dim] row-major, L2-normalised. */
  encode(items: EncodeItem[]): Promise<Float32Array>;
}

/** The cache key of an item: the image path and the text, separated by a character neither contains. */
export function itemKey(item: EncodeItem): string {
  return `${item.image ?? ''}\u0000${item.text}`;
}

/** Norm tolerance above which an encoder's rows count as not L2-normalised (a warning, not an error). */
const NORM_TOLERANCE = 1e-3;

/**
 * Checks an encoder's output: the length must be n × dim and every value finite. Rows whose norm is not 1
 * are reported once per call (scores are then raw dot products, as VLM2Vec without `--normalize`).
 */
export function checkEmbeddings(out: Float32Array, n: number, dim: number, who = 'Encoder.encode'): void {
  if (!(out instanceof Float32Array)) {
    throw new Error(`${who}: expected a Float32Array of [${n}, ${dim}], got ${Object.prototype.toString.call(out)}.`);
  }
  if (out.length !== n * dim) {
    throw new Error(
      `${who}: expected [${n}, ${dim}] = ${n * dim} values, got ${out.length}. ` + 'An encoder must return one row of width dim per item, in order.',
    );
  }
  let offNorm = -1;
  let offValue = 0;
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let d = 0; d < dim; d++) {
      const v = out[i * dim + d] as number;
      if (!Number.isFinite(v)) {
        throw new Error(`${who}: row ${i} has a non-finite value (${v}) at column ${d}. Check the model for NaNs.`);
      }
      s += v * v;
    }
    const norm = Math.sqrt(s);
    if (offNorm < 0 && Math.abs(norm - 1) > NORM_TOLERANCE) {
      offNorm = i;
      offValue = norm;
    }
  }
  if (offNorm >= 0) {
    log.warn(
      `${who}: row ${offNorm} has norm ${offValue.toFixed(4)}, expected 1 (L2-normalised); ` +
        'scores will be raw dot products. Normalise in the encoder to score by cosine.',
    );
  }
}

/** Embeddings of the distinct items of a list, and where each input item's row is. */
export interface UniqueEmbeddings {
  /** [numUnique, dim] row-major. */
  vectors: Float32Array;
  /** [numItems]: row of `vectors` holding item i. */
  rows: Int32Array;
  numUnique: number;
}

export interface EmbeddingCacheOptions {
  /** Items per `encode` call. Default 64. */
  batchSize: number;
  /**
   * Most vectors kept between calls (memory bound for streamed pools); when a call would exceed it, the
   * cache is emptied first. Default Infinity.
   */
  maxEntries: number;
  /**
   * Encode the missing items in order of modality and text length rather than as given, so each batch pads
   * little (the vectors are the same up to float rounding; docs/benchmarks.md §1.3). Default true.
   */
  sortByLength: boolean;
}

/**
 * Embeds each distinct item once, in batches of `batchSize`, and remembers the vectors for later calls
 * (so queries and candidates shared across rows, or across the local and global pools, cost one encode).
 * Create one per dataset to bound memory.
 */
export class EmbeddingCache {
  private readonly byKey = new Map<string, Float32Array>();
  private readonly options: EmbeddingCacheOptions;
  /** Items encoded by the model so far (distinct), and items served from the cache. */
  readonly stats = { encoded: 0, served: 0 };

  constructor(
    readonly encoder: Encoder,
    options: Partial<EmbeddingCacheOptions> = {},
  ) {
    this.options = { batchSize: 64, maxEntries: Infinity, sortByLength: true, ...options };
    if (!Number.isInteger(this.options.batchSize) || this.options.batchSize < 1) {
      throw new Error(`EmbeddingCache: batchSize must be a positive integer, got ${this.options.batchSize}.`);
    }
  }

  get size(): number {
    return this.byKey.size;
  }

  /** Encodes the items not yet cached, in batches. */
  private async fill(items: readonly EncodeItem[]): Promise<void> {
    if (this.byKey.size > 0 && this.byKey.size + items.length > this.options.maxEntries) {
      log.debug(`embedding cache: ${this.byKey.size} entries + ${items.length} items exceed ${this.options.maxEntries}; emptied`);
      this.byKey.clear();
    }
    const missing: EncodeItem[] = [];
    const queued = new Set<string>();
    for (const item of items) {
      const key = itemKey(item);
      if (this.byKey.has(key) || queued.has(key)) continue;
      queued.add(key);
      missing.push(item.image === undefined ? { text: item.text } : { text: item.text, image: item.image });
    }
    const { batchSize } = this.options;
    const dim = this.encoder.dim;
    // Similar items batch together: a batch pads to its longest sequence, so mixing a one-word name with a
    // dense description wastes most of the batch's compute. Images first, then by text length (stable).
    if (this.options.sortByLength) missing.sort((a, b) => Number(b.image !== undefined) - Number(a.image !== undefined) || a.text.length - b.text.length);
    for (let b = 0; b < missing.length; b += batchSize) {
      const batch = missing.slice(b, b + batchSize);
      const out = await this.encoder.encode(batch);
      checkEmbeddings(out, batch.length, dim);
      batch.forEach((item, i) => this.byKey.set(itemKey(item), out.slice(i * dim, (i + 1) * dim)));
      log.debug(`encoded ${Math.min(b + batchSize, missing.length)}/${missing.length} new items`);
    }
    this.stats.encoded += missing.length;
    this.stats.served += items.length - missing.length;
  }

  /** [items.length, dim] embeddings in item order (duplicates encoded once). */
  async embed(items: readonly EncodeItem[]): Promise<Float32Array> {
    await this.fill(items);
    const dim = this.encoder.dim;
    const out = new Float32Array(items.length * dim);
    items.forEach((item, i) => out.set(this.byKey.get(itemKey(item)) as Float32Array, i * dim));
    return out;
  }

  /** The distinct items' embeddings once each, plus the row of each input item (no duplicated rows). */
  async embedUnique(items: readonly EncodeItem[]): Promise<UniqueEmbeddings> {
    await this.fill(items);
    const dim = this.encoder.dim;
    const rowOf = new Map<string, number>();
    const rows = new Int32Array(items.length);
    items.forEach((item, i) => {
      const key = itemKey(item);
      let r = rowOf.get(key);
      if (r === undefined) {
        r = rowOf.size;
        rowOf.set(key, r);
      }
      rows[i] = r;
    });
    const vectors = new Float32Array(rowOf.size * dim);
    for (const [key, r] of rowOf) vectors.set(this.byKey.get(key) as Float32Array, r * dim);
    return { vectors, rows, numUnique: rowOf.size };
  }
}

/** Writes a unit vector drawn from `rng` (isotropic Gaussian, normalised) into out[offset .. offset + dim). */
export function randomUnitVector(rng: Rng, out: Float32Array, offset: number, dim: number): void {
  let s = 0;
  for (let d = 0; d < dim; d++) {
    const v = rng.normal();
    out[offset + d] = v;
    s += v * v;
  }
  const inv = 1 / Math.sqrt(s);
  for (let d = 0; d < dim; d++) out[offset + d] = (out[offset + d] as number) * inv;
}

/**
 * A chance-level baseline: each distinct item maps to a fixed random unit vector seeded by (seed, item), so
 * the same item always gets the same vector and every ranking is uniformly random (hit@1 ≈ 1/#candidates).
 */
export function randomEncoder(options: { dim?: number; seed?: number } = {}): Encoder {
  const dim = options.dim ?? 64;
  const seed = options.seed ?? 0;
  return {
    dim,
    encode(items: EncodeItem[]): Promise<Float32Array> {
      const out = new Float32Array(items.length * dim);
      items.forEach((item, i) => randomUnitVector(new Rng(deriveSeed(seed, itemKey(item))), out, i * dim, dim));
      return Promise.resolve(out);
    },
  };
}
