import { strict as assert } from 'assert';
import * as tf from '@tensorflow/tfjs';
import fc from 'fast-check';
import { randomUnitVector } from '../lib/eval/encoder';
import { Rng } from '../lib/random';
import { dotRows, rankingOf, scoreBlockJs, TopKAccumulator, topK } from '../lib/rank';

function randomUnit(rng: Rng, n: number, dim: number): Float32Array {
  const out = new Float32Array(n * dim);
  for (let i = 0; i < n; i++) randomUnitVector(rng, out, i * dim, dim);
  return out;
}

/** Naive twin: score every pair with a plain loop, fully sort each row (stable, ties to the lower index). */
function naiveTopK(q: Float32Array, c: Float32Array, dim: number, k: number): { idx: number[][]; scores: number[][] } {
  const nq = q.length / dim;
  const nc = c.length / dim;
  const idx: number[][] = [];
  const scores: number[][] = [];
  for (let i = 0; i < nq; i++) {
    const s: number[] = [];
    for (let j = 0; j < nc; j++) {
      let d = 0;
      for (let t = 0; t < dim; t++) d += (q[i * dim + t] as number) * (c[j * dim + t] as number);
      s.push(d);
    }
    const order = s.map((_, j) => j).sort((a, b) => (s[b] as number) - (s[a] as number) || a - b);
    idx.push(order.slice(0, k));
    scores.push(order.slice(0, k).map((j) => s[j] as number));
  }
  return { idx, scores };
}

describe('rank: exact chunked top-k', () => {
  const dim = 24;
  const rng = new Rng(5);
  const queries = randomUnit(rng, 37, dim);
  const cands = randomUnit(rng, 1003, dim);

  it('agrees with the naive full sort (indices exactly, scores to 1e-6)', () => {
    const res = topK(queries, cands, dim, 10);
    const naive = naiveTopK(queries, cands, dim, 10);
    for (let q = 0; q < 37; q++) {
      assert.deepEqual(rankingOf(res, q), naive.idx[q]);
      naive.scores[q]!.forEach((s, i) => assert.ok(Math.abs((res.scores[q * 10 + i] as number) - s) < 1e-6));
    }
  });

  it('chunked equals unchunked exactly, for any chunk and block sizes', () => {
    const whole = topK(queries, cands, dim, 10, { candidateChunk: 1003, queryBlock: 37 });
    for (const [candidateChunk, queryBlock] of [
      [1, 1],
      [7, 3],
      [64, 64],
      [500, 5],
      [4096, 16],
    ] as const) {
      const r = topK(queries, cands, dim, 10, { candidateChunk, queryBlock });
      assert.deepEqual(r.indices, whole.indices);
      assert.deepEqual(r.scores, whole.scores);
    }
  });

  it('the blocked kernel sums every pair exactly as dotRows, for odd widths and any query range', () => {
    for (const d of [1, 2, 7, 8, 33]) {
      const r = new Rng(d);
      const q = randomUnit(r, 11, d);
      const c = randomUnit(r, 6, d);
      for (const [q0, q1] of [
        [0, 11],
        [2, 9],
        [5, 6],
      ] as const) {
        const out = new Float64Array((q1 - q0) * 6);
        scoreBlockJs(q, q0, q1, c, 1, 6, d, out);
        for (let i = q0; i < q1; i++) for (let j = 1; j < 6; j++) assert.equal(out[(i - q0) * 5 + (j - 1)], dotRows(q, i, c, j, d));
      }
    }
  });

  it('odd widths: chunked equals unchunked exactly', () => {
    const r = new Rng(17);
    const q = randomUnit(r, 9, 7);
    const c = randomUnit(r, 200, 7);
    const whole = topK(q, c, 7, 6, { candidateChunk: 200, queryBlock: 9 });
    for (const [candidateChunk, queryBlock] of [
      [3, 2],
      [50, 5],
      [199, 1],
    ] as const) {
      assert.deepEqual(topK(q, c, 7, 6, { candidateChunk, queryBlock }).scores, whole.scores);
    }
    assert.throws(() => topK(q, c, 7, 6, { candidateChunk: 0 }), /candidateChunk must be a positive integer, got 0/);
  });

  it('a streamed pool (chunks added one by one) gives the same result', () => {
    const whole = topK(queries, cands, dim, 5);
    const acc = new TopKAccumulator(queries, dim, 5, { candidateChunk: 33 });
    for (let c0 = 0; c0 < 1003; c0 += 250) acc.add(cands.subarray(c0 * dim, Math.min(1003, c0 + 250) * dim), c0);
    const r = acc.result();
    assert.deepEqual(r.indices, whole.indices);
    assert.deepEqual(r.scores, whole.scores);
    assert.equal(acc.numCandidates, 1003);
  });

  it('exact ties go to the lower candidate index, across chunk boundaries', () => {
    // Integer-valued embeddings make many exact ties; integer dot products are exact in any order.
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 6 }),
        fc.integer({ min: 1, max: 40 }),
        fc.integer({ min: 1, max: 8 }),
        fc.integer({ min: 1, max: 12 }),
        fc.integer({ min: 0, max: 1000 }),
        (nq, nc, k, chunk, seed) => {
          const d = 3;
          const r = new Rng(seed);
          const q = Float32Array.from({ length: nq * d }, () => r.int(3) - 1);
          const c = Float32Array.from({ length: nc * d }, () => r.int(3) - 1);
          const res = topK(q, c, d, k, { candidateChunk: chunk, queryBlock: 2 });
          const naive = naiveTopK(q, c, d, k);
          for (let i = 0; i < nq; i++) assert.deepEqual(rankingOf(res, i), naive.idx[i]);
        },
      ),
      { seed: 21, numRuns: 200 },
    );
  });

  it('k larger than the pool returns every candidate', () => {
    const r = topK(queries.subarray(0, 2 * dim), cands.subarray(0, 3 * dim), dim, 10);
    assert.equal(r.k, 3);
    assert.deepEqual([...rankingOf(r, 0)].sort(), [0, 1, 2]);
  });

  it('errors: wrong widths, out-of-order chunks, NaN scores', () => {
    assert.throws(() => topK(new Float32Array(5), cands, dim, 3), /expected a row-major \[n, 24\] Float32Array, got length 5/);
    const acc = new TopKAccumulator(queries, dim, 3);
    assert.throws(() => acc.add(cands.subarray(0, dim), 4), /expected offset 0, got 4/);
    const bad = cands.slice(0, 2 * dim);
    bad[3] = NaN;
    assert.throws(() => topK(queries, bad, dim, 1), /NaN/);
  });
});

describe('rank: tf.matMul scorer', () => {
  before(async () => {
    await tf.setBackend('cpu');
  });

  it('agrees with the js scorer and is chunk-invariant on the cpu backend, without leaking tensors', () => {
    const dim = 16;
    const rng = new Rng(9);
    const q = randomUnit(rng, 20, dim);
    const c = randomUnit(rng, 300, dim);
    const before = tf.memory().numTensors;
    const js = topK(q, c, dim, 5);
    const a = topK(q, c, dim, 5, { scorer: 'tf', candidateChunk: 300, queryBlock: 20 });
    const b = topK(q, c, dim, 5, { scorer: 'tf', candidateChunk: 17, queryBlock: 3 });
    assert.equal(tf.memory().numTensors, before);
    assert.deepEqual(a.indices, b.indices);
    assert.deepEqual(a.scores, b.scores);
    assert.deepEqual(a.indices, js.indices);
    a.scores.forEach((s, i) => assert.ok(Math.abs(s - (js.scores[i] as number)) < 1e-5));
  });
});
