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
 * Exactness: each (query, candidate) score is a float64 sum of the float32 products in a fixed order (even and
 * odd coordinates summed separately, then added; `dotRows`), whichever block computes it, so it does not depend
 * on how the pool or the queries are chunked: chunked and unchunked rankings are identical, bit for bit. The optional `tf` scorer computes float32 `tf.matMul` blocks
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

/**
 * Dot product of rows a[ai] and b[bi] of width dim: two float64 partial sums (even and odd coordinates, each in
 * increasing order) added at the end. `scoreBlockJs` uses exactly this order, so scores agree bit for bit.
 */
export function dotRows(a: Float32Array, ai: number, b: Float32Array, bi: number, dim: number): number {
  const ao = ai * dim;
  const bo = bi * dim;
  let even = 0;
  let odd = 0;
  let d = 0;
  for (; d + 1 < dim; d += 2) {
    even += (a[ao + d] as number) * (b[bo + d] as number);
    odd += (a[ao + d + 1] as number) * (b[bo + d + 1] as number);
  }
  if (d < dim) even += (a[ao + d] as number) * (b[bo + d] as number);
  return even + odd;
}

/**
 * Scores queries q0..q1 against candidates c0..c1 into out[(q − q0) · (c1 − c0) + (c − c0)]. Four queries
 * share each load of a candidate coordinate (register blocking, ~1.4× over one query at a time); every pair
 * is summed in `dotRows`' order, so the result does not depend on how queries are grouped.
 */
export function scoreBlockJs(queries: Float32Array, q0: number, q1: number, cands: Float32Array, c0: number, c1: number, dim: number, out: Float64Array): void {
  const width = c1 - c0;
  for (let c = c0; c < c1; c++) {
    const co = c * dim;
    let q = q0;
    for (; q + 3 < q1; q += 4) {
      const a0 = q * dim;
      const a1 = a0 + dim;
      const a2 = a1 + dim;
      const a3 = a2 + dim;
      let e0 = 0,
        e1 = 0,
        e2 = 0,
        e3 = 0,
        o0 = 0,
        o1 = 0,
        o2 = 0,
        o3 = 0; // even / odd partial sums, 4 queries
      let d = 0;
      for (; d + 1 < dim; d += 2) {
        const ce = cands[co + d] as number;
        const cw = cands[co + d + 1] as number;
        e0 += (queries[a0 + d] as number) * ce;
        e1 += (queries[a1 + d] as number) * ce;
        e2 += (queries[a2 + d] as number) * ce;
        e3 += (queries[a3 + d] as number) * ce;
        o0 += (queries[a0 + d + 1] as number) * cw;
        o1 += (queries[a1 + d + 1] as number) * cw;
        o2 += (queries[a2 + d + 1] as number) * cw;
        o3 += (queries[a3 + d + 1] as number) * cw;
      }
      if (d < dim) {
        const ce = cands[co + d] as number;
        e0 += (queries[a0 + d] as number) * ce;
        e1 += (queries[a1 + d] as number) * ce;
        e2 += (queries[a2 + d] as number) * ce;
        e3 += (queries[a3 + d] as number) * ce;
      }
      const col = c - c0;
      out[(q - q0) * width + col] = e0 + o0;
      out[(q + 1 - q0) * width + col] = e1 + o1;
      out[(q + 2 - q0) * width + col] = e2 + o2;
      out[(q + 3 - q0) * width + col] = e3 + o3;
    }
    for (; q < q1; q++) out[(q - q0) * width + (c - c0)] = dotRows(queries, q, cands, c, dim);
  }
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
  /** Reused [queryBlock, candidateChunk] score buffer of the js scorer. */
  private buffer = new Float64Array(0);

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
    for (const key of ['candidateChunk', 'queryBlock'] as const) {
      const v = this.options[key];
      if (!Number.isInteger(v) || v < 1) throw new Error(`TopKAccumulator: ${key} must be a positive integer, got ${v}.`);
    }
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
      throw new Error(`TopKAccumulator.add: chunks must arrive in order; expected offset ${this.seen}, got ${offset}. ` + 'Add the pool front to back.');
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
    const width = c1 - c0;
    let block: Float32Array | Float64Array;
    if (this.options.scorer === 'tf') {
      block = tfScoreBlock(this.queries, q0, q1, cands, c0, c1, this.dim);
    } else {
      const need = (q1 - q0) * width;
      if (this.buffer.length < need) this.buffer = new Float64Array(need);
      scoreBlockJs(this.queries, q0, q1, cands, c0, c1, this.dim, this.buffer);
      block = this.buffer;
    }
    const k = this.k;
    for (let q = q0; q < q1; q++) {
      const last = q * k + k - 1;
      const row = (q - q0) * width;
      for (let c = 0; c < width; c++) {
        const score = block[row + c] as number;
        // Quick reject; strictly greater, since an equal score arriving later has a higher index and loses.
        if (score > (this.best[last] as number) || this.bestIdx[last] === -1 || Number.isNaN(score)) this.offer(q, score, offset + c0 + c);
      }
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
function tfScoreBlock(queries: Float32Array, q0: number, q1: number, cands: Float32Array, c0: number, c1: number, dim: number): Float32Array {
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
export function topK(queries: Float32Array, candidates: Float32Array, dim: number, k: number, options: Partial<TopKOptions> = {}): TopKResult {
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
