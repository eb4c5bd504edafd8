/**
 * Exact top-k retrieval of query embeddings against a candidate pool, in bounded memory.
 *
 * Scores are inner products (cosine for the L2-normalised embeddings our encoders return), as FAISS
 * `IndexFlatIP` in UniIR and `np.dot` in VLM2Vec / MuCo. Candidates arrive in chunks (`TopKAccumulator.add`),
 * so a pool of hundreds of thousands of candidates never needs a [queries, candidates] score matrix: memory is
 * O(queryBlock × candidateChunk + queries × k), and a pool can even be streamed from disk chunk by chunk.
 *
 * Tie rule (deterministic, independent of chunking): equal scores rank by the lower candidate index. This is
 * MMEB v1's `argmax` rule (first maximum wins) and a stable sort's order.
 *
 * Exactness: each (query, candidate) score is a float64 sum of the float32 products in a fixed order (four
 * interleaved partial sums over the dimension), so it does not depend on how the pool is chunked: chunked and
 * unchunked rankings are identical, bit for bit. The optional `tf` scorer computes float32 `tf.matMul` blocks
 * (faster on the tensorflow backend, chunk-invariant on the cpu backend, not guaranteed so on GPUs).
 */
import * as tf from '@tensorflow/tfjs';

/** Top-k result: row q holds the k best candidates of query q, best first. */
export interface TopKResult {
  numQueries: number;
  /** min(k, number of candidates seen). */
  k: number;
  /** [numQueries, k] candidate indices, row-major. */
  indices: Int32Array;
  /** [numQueries, k] scores, row-major (float64 for the js scorer, float32 values for tf). */
  scores: Float64Array;
}

export type Scorer = 'js' | 'tf';

export interface TopKOptions {
  /** Candidates scored per block (bounds the score buffer). Default 4096. */
  candidateChunk: number;
  /** Queries scored per block (each candidate row is reused across the block). Default 64. */
  queryBlock: number;
  /** `js`: float64 dot products on Float32Array (exact, chunk-invariant). `tf`: tf.matMul blocks. */
  scorer: Scorer;
}

export const DEFAULT_TOPK_OPTIONS: TopKOptions = { candidateChunk: 4096, queryBlock: 64, scorer: 'js' };

function checkMatrix(data: Float32Array, dim: number, what: string): number {
  if (!Number.isInteger(dim) || dim < 1) throw new Error(`${what}: dim must be a positive integer, got ${dim}.`);
  if (data.length % dim !== 0) {
    throw new Error(
      `${what}: expected a row-major [n, ${dim}] Float32Array, got length ${data.length} (not a multiple of ${dim}). ` +
        'Check the embedding width passed as dim.',
    );
  }
  return data.length / dim;
}

/** Dot product of rows a[ai] and b[bi] of width dim, in the fixed summation order described above. */
export function dotRows(a: Float32Array, ai: number, b: Float32Array, bi: number, dim: number): number {
  let s0 = 0;
  let s1 = 0;
  let s2 = 0;
  let s3 = 0;
  const ao = ai * dim;
  const bo = bi * dim;
  let d = 0;
  for (; d + 3 < dim; d += 4) {
    s0 += (a[ao + d] as number) * (b[bo + d] as number);
    s1 += (a[ao + d + 1] as number) * (b[bo + d + 1] as number);
    s2 += (a[ao + d + 2] as number) * (b[bo + d + 2] as number);
    s3 += (a[ao + d + 3] as number) * (b[bo + d + 3] as number);
  }
  for (; d < dim; d++) s0 += (a[ao + d] as number) * (b[bo + d] as number);
  return s0 + s1 + (s2 + s3);
}

/**
 * Folds candidate chunks into the running top-k of every query. Candidates must be added in increasing
 * index order (`offset` is the global index of the chunk's first row), which is what makes the
 * lower-index-wins tie rule hold across chunks.
 */
export class TopKAccumulator {
  readonly numQueries: number;
  private readonly best: Float64Array;
  private readonly bestIdx: Int32Array;
  private seen = 0;
  private readonly options: TopKOptions;

  /**
   * @param queries [numQueries, dim] row-major query embeddings.
   * @param k how many candidates to keep per query.
   */
  constructor(
    private readonly queries: Float32Array,
    private readonly dim: number,
    private readonly k: number,
    options: Partial<TopKOptions> = {},
  ) {
    if (!Number.isInteger(k) || k < 1) throw new Error(`TopKAccumulator: k must be a positive integer, got ${k}.`);
    this.numQueries = checkMatrix(queries, dim, 'TopKAccumulator queries');
    this.options = { ...DEFAULT_TOPK_OPTIONS, ...options };
    this.best = new Float64Array(this.numQueries * k).fill(-Infinity);
    this.bestIdx = new Int32Array(this.numQueries * k).fill(-1);
  }

  /** Number of candidates folded in so far. */
  get numCandidates(): number {
    return this.seen;
  }

  /**
   * Scores a chunk of candidates against all queries and keeps the best k per query.
   * @param candidates [n, dim] row-major; its rows have global indices offset .. offset + n − 1.
   */
  add(candidates: Float32Array, offset = this.seen): void {
    const n = checkMatrix(candidates, this.dim, 'TopKAccumulator.add candidates');
    if (offset !== this.seen) {
      throw new Error(
        `TopKAccumulator.add: chunks must arrive in order; expected offset ${this.seen}, got ${offset}. ` +
          'Add the pool front to back.',
      );
    }
    const { candidateChunk, queryBlock } = this.options;
    for (let c0 = 0; c0 < n; c0 += candidateChunk) {
      const c1 = Math.min(n, c0 + candidateChunk);
      for (let q0 = 0; q0 < this.numQueries; q0 += queryBlock) {
        const q1 = Math.min(this.numQueries, q0 + queryBlock);
        this.scoreBlock(candidates, c0, c1, q0, q1, offset);
      }
    }
    this.seen += n;
  }

  private scoreBlock(cands: Float32Array, c0: number, c1: number, q0: number, q1: number, offset: number): void {
    if (this.options.scorer === 'tf') {
      const block = tfScoreBlock(this.queries, q0, q1, cands, c0, c1, this.dim);
      const width = c1 - c0;
      for (let q = q0; q < q1; q++) {
        for (let c = c0; c < c1; c++) this.offer(q, block[(q - q0) * width + (c - c0)] as number, offset + c);
      }
      return;
    }
    // Candidate-major: one candidate row stays in cache while the query block runs over it.
    for (let c = c0; c < c1; c++) {
      for (let q = q0; q < q1; q++) this.offer(q, dotRows(this.queries, q, cands, c, this.dim), offset + c);
    }
  }

  /** Inserts (score, index) into query q's sorted list if it beats the current k-th entry. */
  private offer(q: number, score: number, index: number): void {
    if (Number.isNaN(score)) {
      throw new Error(`TopK: the score of query ${q} against candidate ${index} is NaN. Check the embeddings for NaNs.`);
    }
    const base = q * this.k;
    const best = this.best;
    const idx = this.bestIdx;
    // Strictly greater: an equal score arriving later has a higher index and loses the tie.
    if (!(score > (best[base + this.k - 1] as number)) && idx[base + this.k - 1] !== -1) return;
    let j = this.k - 1;
    while (j > 0 && ((best[base + j - 1] as number) < score || idx[base + j - 1] === -1)) {
      best[base + j] = best[base + j - 1] as number;
      idx[base + j] = idx[base + j - 1] as number;
      j--;
    }
    best[base + j] = score;
    idx[base + j] = index;
  }

  /** The top-k lists, trimmed to min(k, candidates seen). */
  result(): TopKResult {
    const k = Math.min(this.k, this.seen);
    const indices = new Int32Array(this.numQueries * k);
    const scores = new Float64Array(this.numQueries * k);
    for (let q = 0; q < this.numQueries; q++) {
      indices.set(this.bestIdx.subarray(q * this.k, q * this.k + k), q * k);
      scores.set(this.best.subarray(q * this.k, q * this.k + k), q * k);
    }
    return { numQueries: this.numQueries, k, indices, scores };
  }
}

/** [q1 − q0, c1 − c0] scores of a query block against a candidate block with tf.matMul (one host sync). */
function tfScoreBlock(
  queries: Float32Array,
  q0: number,
  q1: number,
  cands: Float32Array,
  c0: number,
  c1: number,
  dim: number,
): Float32Array {
  return tf.tidy(() => {
    const q = tf.tensor2d(queries.subarray(q0 * dim, q1 * dim), [q1 - q0, dim]);
    const c = tf.tensor2d(cands.subarray(c0 * dim, c1 * dim), [c1 - c0, dim]);
    return tf.matMul(q, c, false, true).dataSync() as Float32Array;
  });
}

/**
 * Exact top-k of every query against a pool held in memory, computed chunk by chunk.
 * @param queries [numQueries, dim] row-major.
 * @param candidates [numCandidates, dim] row-major.
 */
export function topK(
  queries: Float32Array,
  candidates: Float32Array,
  dim: number,
  k: number,
  options: Partial<TopKOptions> = {},
): TopKResult {
  const acc = new TopKAccumulator(queries, dim, k, options);
  const n = checkMatrix(candidates, dim, 'topK candidates');
  const chunk = options.candidateChunk ?? DEFAULT_TOPK_OPTIONS.candidateChunk;
  for (let c0 = 0; c0 < n; c0 += chunk) {
    const c1 = Math.min(n, c0 + chunk);
    acc.add(candidates.subarray(c0 * dim, c1 * dim), c0);
  }
  return acc.result();
}

/** Row q of a top-k result as a plain array of candidate indices, best first. */
export function rankingOf(result: TopKResult, q: number): number[] {
  return Array.from(result.indices.subarray(q * result.k, (q + 1) * result.k));
}

/**
 * Ranks one query against a small candidate list by score (MMEB's per-row "local" pool): the first `k`
 * candidate positions, best first, ties to the lower position.
 * @param scores one score per candidate.
 */
export function rankScores(scores: ArrayLike<number>, k = scores.length): number[] {
  const order = Array.from({ length: scores.length }, (_, i) => i);
  order.sort((a, b) => (scores[b] as number) - (scores[a] as number) || a - b);
  return order.slice(0, k);
}
