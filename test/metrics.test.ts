import { strict as assert } from 'assert';
import fc from 'fast-check';
import {
  averagePrecisionAtK,
  f1AtK,
  hitAtK,
  meanRankingMetrics,
  mmebHitAt1,
  ndcgAtK,
  precisionAtK,
  recallAtK,
  reciprocalRank,
  tiedAtTop,
} from '../lib/metrics';
import { rankScores } from '../lib/rank';
import { Rng } from '../lib/random';

const close = (a: number, b: number, tol = 1e-9): void => assert.ok(Math.abs(a - b) <= tol, `${a} vs ${b}`);

// Naive twins: written from the textbook definitions, loop by loop, without sharing code with lib/metrics.
function naiveFullSort(scores: number[]): number[] {
  // Selection "sort": repeatedly take the first maximum among the remaining positions.
  const left = scores.map((_, i) => i);
  const out: number[] = [];
  while (left.length > 0) {
    let bi = 0;
    for (let j = 1; j < left.length; j++) if ((scores[left[j]!] as number) > (scores[left[bi]!] as number)) bi = j;
    out.push(left[bi]!);
    left.splice(bi, 1);
  }
  return out;
}
function naiveHit(r: number[], rel: Set<number>, k: number): number {
  return r.slice(0, k).some((x) => rel.has(x)) ? 1 : 0;
}
function naiveRecall(r: number[], rel: Set<number>, k: number): number {
  return rel.size === 0 ? 0 : r.slice(0, k).filter((x) => rel.has(x)).length / rel.size;
}
function naiveNdcg(r: number[], rel: Set<number>, k: number): number {
  let dcg = 0;
  r.slice(0, k).forEach((x, i) => (dcg += rel.has(x) ? 1 / Math.log2(i + 2) : 0));
  let idcg = 0;
  for (let i = 0; i < Math.min(k, rel.size); i++) idcg += 1 / Math.log2(i + 2);
  return idcg === 0 ? 0 : dcg / idcg;
}
function naiveMrr(r: number[], rel: Set<number>): number {
  const i = r.findIndex((x) => rel.has(x));
  return i < 0 ? 0 : 1 / (i + 1);
}

describe('metrics: hand-computed cases', () => {
  const ranking = ['a', 'b', 'c', 'd', 'e'];
  const rel = new Set(['b', 'd', 'x']); // x is relevant but never ranked

  it('hit@k, recall@k, precision@k with several positives', () => {
    assert.equal(hitAtK(ranking, rel, 1), 0);
    assert.equal(hitAtK(ranking, rel, 2), 1);
    close(recallAtK(ranking, rel, 2), 1 / 3);
    close(recallAtK(ranking, rel, 5), 2 / 3);
    close(precisionAtK(ranking, rel, 2), 1 / 2);
    close(precisionAtK(ranking, rel, 5), 2 / 5);
    close(precisionAtK(ranking, rel, 10), 2 / 10); // divides by k past the ranking's end
    close(f1AtK(ranking, rel, 5), (2 * 0.4 * (2 / 3)) / (0.4 + 2 / 3));
  });

  it('UniIR "Recall@k" (hit) differs from fractional recall when a query has several positives', () => {
    assert.equal(hitAtK(ranking, rel, 5), 1);
    assert.notEqual(recallAtK(ranking, rel, 5), 1);
  });

  it('nDCG@5, MRR, AP@5', () => {
    const dcg = 1 / Math.log2(3) + 1 / Math.log2(5);
    const idcg = 1 + 1 / Math.log2(3) + 1 / Math.log2(4);
    close(ndcgAtK(ranking, rel, 5), dcg / idcg);
    close(ndcgAtK(ranking, rel, 5), 0.498189, 1e-6);
    close(reciprocalRank(ranking, rel), 1 / 2);
    assert.equal(reciprocalRank(ranking, rel, 1), 0);
    close(averagePrecisionAtK(ranking, rel, 5), (1 / 2 + 2 / 4) / 3);
  });

  it('graded nDCG, linear and exponential gains', () => {
    const graded = new Map([
      ['a', 1],
      ['c', 2],
    ]);
    close(ndcgAtK(['a', 'b', 'c'], graded, 3, 'linear'), 2 / (2 + 1 / Math.log2(3)));
    close(ndcgAtK(['a', 'b', 'c'], graded, 3, 'exponential'), 2.5 / (3 + 1 / Math.log2(3)));
    // Binary relevance: both gains agree.
    close(ndcgAtK(ranking, rel, 5, 'exponential'), ndcgAtK(ranking, rel, 5, 'linear'));
  });

  it('empty relevance: every metric is 0', () => {
    const none = new Set<string>();
    for (const k of [1, 3, 10]) {
      assert.equal(hitAtK(ranking, none, k), 0);
      assert.equal(recallAtK(ranking, none, k), 0);
      assert.equal(precisionAtK(ranking, none, k), 0);
      assert.equal(ndcgAtK(ranking, none, k), 0);
      assert.equal(averagePrecisionAtK(ranking, none, k), 0);
    }
    assert.equal(reciprocalRank(ranking, none), 0);
  });

  it('a ranking shorter than k and an empty ranking', () => {
    assert.equal(hitAtK(['b'], rel, 5), 1);
    assert.equal(hitAtK([], rel, 5), 0);
    close(recallAtK(['b'], rel, 5), 1 / 3);
  });

  it('rejects k < 1 with a message naming the metric', () => {
    assert.throws(() => hitAtK(ranking, rel, 0), /hitAtK: k must be a positive integer, got 0/);
    assert.throws(() => ndcgAtK(ranking, rel, 1.5), /ndcgAtK/);
  });
});

describe('metrics: MMEB tie rule (first maximum wins, positive at index 0)', () => {
  it('an exact tie with the positive counts as correct', () => {
    assert.equal(mmebHitAt1([0.5, 0.5, 0.1]), 1);
    assert.equal(tiedAtTop([0.5, 0.5, 0.1]), true);
    assert.equal(mmebHitAt1([0.5, 0.6, 0.1]), 0);
    assert.equal(tiedAtTop([0.5, 0.6, 0.1]), false);
    assert.equal(mmebHitAt1([0.2]), 1);
  });

  it('constant embeddings score 100 under the rule (the trap it creates)', () => {
    assert.equal(mmebHitAt1(new Float32Array(1000).fill(0.3)), 1);
  });

  it('rankScores breaks ties by the lower index, consistent with mmebHitAt1', () => {
    assert.deepEqual(rankScores([0.5, 0.5, 0.1]), [0, 1, 2]);
    assert.deepEqual(rankScores([0.1, 0.5, 0.5]), [1, 2, 0]);
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 3 }), { minLength: 1, maxLength: 12 }), (scores) => {
        assert.equal(hitAtK(rankScores(scores), new Set([0]), 1), mmebHitAt1(scores));
        assert.deepEqual(rankScores(scores), naiveFullSort(scores));
      }),
      { seed: 7, numRuns: 300 },
    );
  });
});

describe('metrics: agreement with a naive full-sort twin', () => {
  it('random scores (with ties) and random relevance sets', () => {
    const rng = new Rng(11);
    for (let t = 0; t < 300; t++) {
      const n = 1 + rng.int(30);
      const scores = Array.from({ length: n }, () => rng.int(6)); // coarse values: many ties
      const rel = new Set(Array.from({ length: rng.int(4) }, () => rng.int(n)));
      const ranking = rankScores(scores);
      assert.deepEqual(ranking, naiveFullSort(scores));
      for (const k of [1, 3, 5, 10]) {
        assert.equal(hitAtK(ranking, rel, k), naiveHit(ranking, rel, k));
        close(recallAtK(ranking, rel, k), naiveRecall(ranking, rel, k));
        close(ndcgAtK(ranking, rel, k), naiveNdcg(ranking, rel, k));
      }
      close(reciprocalRank(ranking, rel), naiveMrr(ranking, rel));
    }
  });

  it('invariants: recall ≤ hit, precision·k = recall·|rel|, metrics in [0, 1]', () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.integer({ min: 0, max: 20 }), { maxLength: 15 }),
        fc.uniqueArray(fc.integer({ min: 0, max: 20 }), { minLength: 1, maxLength: 5 }),
        fc.integer({ min: 1, max: 12 }),
        (ranking, relList, k) => {
          const rel = new Set(relList);
          const h = hitAtK(ranking, rel, k);
          const r = recallAtK(ranking, rel, k);
          assert.ok(r <= h);
          close(precisionAtK(ranking, rel, k) * k, r * rel.size);
          for (const v of [ndcgAtK(ranking, rel, k), averagePrecisionAtK(ranking, rel, k), f1AtK(ranking, rel, k)]) {
            assert.ok(v >= 0 && v <= 1 + 1e-12);
          }
        },
      ),
      { seed: 3, numRuns: 300 },
    );
  });

  it('meanRankingMetrics averages per-case values under VLM2Vec key names', () => {
    const cases = [
      { ranking: [0, 1, 2], relevance: new Set([0]) },
      { ranking: [1, 0, 2], relevance: new Set([0]) },
    ];
    const m = meanRankingMetrics(cases, { ks: [1, 2] });
    close(m['hit@1'] as number, 0.5);
    close(m['hit@2'] as number, 1);
    close(m['mrr@2'] as number, (1 + 0.5) / 2);
    close(m['ndcg_linear@2'] as number, (1 + 1 / Math.log2(3)) / 2);
    assert.deepEqual(meanRankingMetrics([]), {});
  });
});
