/**
 * Bag-of-words pooling of token embeddings, forward and backward on the host:
 *
 *   out[s] = Σ_{k : segment_k = s} weight_k · table[id_k]          (weight = 1/length gives the mean)
 *   dTable[v] = Σ_{k : id_k = v} weight_k · dOut[segment_k]
 *
 * Why not `tf.gather` + `tf.unsortedSegmentSum`: on the wasm backend a gather costs ≈45 ns per element and the
 * segment sum's gradient adds a broadcast `LogicalAnd`; for a batch of 256 texts (≈10k tokens, 256-wide) those
 * took ≈1.8 s of a 2.7 s training step. The loops below touch each value once (a few ms); the table is read
 * with one `dataSync` and the gradient is written as one dense [V, dim] tensor, what AdamW takes anyway.
 */
import * as tf from '@tensorflow/tfjs';

/** The tokens of a batch of texts, flattened: token k has id `ids[k]`, belongs to text `segments[k]`, weighs `weights[k]`. */
export interface Bags {
  ids: Int32Array;
  segments: Int32Array;
  weights: Float32Array;
  /** Number of texts (rows of the output). */
  count: number;
}

/** Bags of token lists; each token weighs 1/length (a mean), an empty list gives a zero row. */
export function meanBags(tokenLists: readonly (readonly number[])[]): Bags {
  const total = tokenLists.reduce((n, t) => n + t.length, 0);
  const bags: Bags = { ids: new Int32Array(total), segments: new Int32Array(total), weights: new Float32Array(total), count: tokenLists.length };
  let k = 0;
  tokenLists.forEach((tokens, s) => {
    for (const id of tokens) {
      bags.ids[k] = id;
      bags.segments[k] = s;
      bags.weights[k] = 1 / tokens.length;
      k++;
    }
  });
  return bags;
}

function checkBags(bags: Bags, rows: number): void {
  const n = bags.ids.length;
  if (bags.segments.length !== n || bags.weights.length !== n) {
    throw new Error(`bagOfWords: ids, segments and weights must have one entry per token, got ${n}, ${bags.segments.length} and ${bags.weights.length}.`);
  }
  for (let k = 0; k < n; k++) {
    const id = bags.ids[k] as number;
    const s = bags.segments[k] as number;
    if (id < 0 || id >= rows)
      throw new Error(`bagOfWords: token ${k} has id ${id}, outside the table's ${rows} rows; the tokenizer and the model's vocabSize disagree.`);
    if (s < 0 || s >= bags.count) throw new Error(`bagOfWords: token ${k} belongs to text ${s}, expected [0, ${bags.count}).`);
  }
}

/**
 * Weighted sums of table rows per text. Differentiable with respect to `table`.
 * @param table [V, D]
 * @returns [bags.count, D]
 */
export function bagOfWords(table: tf.Tensor2D, bags: Bags): tf.Tensor2D {
  const [rows, d] = table.shape;
  checkBags(bags, rows);
  const { ids, segments, weights, count } = bags;
  const pool = tf.customGrad<tf.Tensor2D>((...inputs) => {
    const values = (inputs[0] as tf.Tensor).dataSync() as Float32Array;
    const out = new Float32Array(count * d);
    for (let k = 0; k < ids.length; k++) {
      const src = (ids[k] as number) * d;
      const dst = (segments[k] as number) * d;
      const w = weights[k] as number;
      for (let j = 0; j < d; j++) out[dst + j] = (out[dst + j] as number) + w * (values[src + j] as number);
    }
    return {
      value: tf.tensor2d(out, [count, d]),
      gradFunc: (dy: tf.Tensor2D) => {
        const g = dy.dataSync() as Float32Array;
        const grad = new Float32Array(rows * d);
        for (let k = 0; k < ids.length; k++) {
          const dst = (ids[k] as number) * d;
          const src = (segments[k] as number) * d;
          const w = weights[k] as number;
          for (let j = 0; j < d; j++) grad[dst + j] = (grad[dst + j] as number) + w * (g[src + j] as number);
        }
        return tf.tensor2d(grad, [rows, d]);
      },
    };
  });
  return pool(table) as tf.Tensor2D;
}
