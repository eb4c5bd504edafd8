/**
 * The validation metrics used to choose settings: rank-based retrieval metrics against a naive twin that sorts
 * every query's scores, including ties (which count against the query).
 */
import { strict as assert } from 'assert';
import { classificationAccuracy, classificationMetrics, retrievalMetrics, validationMetrics, ValidationItem } from '../lib/runner/validate';
import type { EmbedInput } from '../lib/model/embedder';
import { Rng } from '../lib/random';

function naive(q: Float32Array, t: Float32Array, d: number, n: number): { ranks: number[] } {
  const ranks: number[] = [];
  for (let i = 0; i < n; i++) {
    const scores = Array.from({ length: n }, (_, j) => {
      let s = 0;
      for (let k = 0; k < d; k++) s += q[i * d + k]! * t[j * d + k]!;
      return { j, s };
    });
    // Pessimistic order: among equal scores, the own target comes last.
    scores.sort((a, b) => b.s - a.s || (a.j === i ? 1 : b.j === i ? -1 : 0));
    ranks.push(scores.findIndex((x) => x.j === i) + 1);
  }
  return { ranks };
}

describe('validation retrieval metrics', () => {
  it('recall@k and MRR match a sort-everything twin, ties counting against the query', () => {
    const rng = new Rng(5);
    for (const [n, d] of [
      [1, 3],
      [7, 4],
      [40, 8],
    ] as const) {
      const q = Float32Array.from({ length: n * d }, () => Math.round(rng.normal() * 2) / 2); // coarse values → ties
      const t = Float32Array.from({ length: n * d }, () => Math.round(rng.normal() * 2) / 2);
      const m = retrievalMetrics(q, t, d, n) as Record<string, number>;
      const { ranks } = naive(q, t, d, n);
      const share = (k: number): number => ranks.filter((r) => r <= k).length / n;
      assert.equal(m['records'], n);
      assert.equal(m['recallAt1'], share(1));
      assert.equal(m['recallAt5'], share(5));
      assert.equal(m['recallAt10'], share(10));
      assert.ok(Math.abs(m['mrr']! - ranks.reduce((a, r) => a + 1 / r, 0) / n) < 1e-12);
    }
  });

  it('perfect embeddings score 1, constant ones score the worst rank, and chance MRR is H(N)/N', () => {
    const n = 5;
    const eye = new Float32Array(n * n);
    for (let i = 0; i < n; i++) eye[i * n + i] = 1;
    const perfect = retrievalMetrics(eye, eye, n, n) as Record<string, number>;
    assert.equal(perfect['recallAt1'], 1);
    assert.equal(perfect['mrr'], 1);
    const flat = new Float32Array(n * n).fill(1);
    const worst = retrievalMetrics(flat, flat, n, n) as Record<string, number>;
    assert.equal(worst['recallAt1'], 0);
    assert.ok(Math.abs(worst['mrr']! - 1 / n) < 1e-12);
    assert.ok(Math.abs((perfect['chanceMrr'] as number) - (1 + 1 / 2 + 1 / 3 + 1 / 4 + 1 / 5) / 5) < 1e-12);
    assert.equal(retrievalMetrics(new Float32Array(0), new Float32Array(0), 4, 0)['mrr'], null);
  });

  it('the image controls: a text-only model keeps its MRR with another image, an image-only one drops to the worst rank', async () => {
    const n = 6;
    const items: ValidationItem[] = Array.from({ length: n }, (_, i) => ({ image: `img${i}.png`, query: `q${i}`, target: `t${i}` }));
    const oneHot = (i: number): number[] => Array.from({ length: n }, (_, j) => (j === i ? 1 : 0));
    const index = (s: string | undefined): number => (s === undefined || s === '' ? -1 : Number(/\d+/.exec(s)![0]));
    /** Targets one-hot by their number; queries one-hot by the query text's number or by the image's. */
    const encoder =
      (by: 'text' | 'image') =>
      (inputs: EmbedInput[]): Promise<Float32Array> =>
        Promise.resolve(
          Float32Array.from(
            inputs.flatMap((x) => {
              const i = x.image === undefined ? index(x.text) : index(by === 'text' ? x.text : (x.image as string));
              return i < 0 ? new Array<number>(n).fill(0) : oneHot(i);
            }),
          ),
        );
    const textOnly = await validationMetrics(encoder('text'), n, items);
    assert.deepEqual([textOnly['mrr'], textOnly['mrrOtherImage'], textOnly['mrrImageOnly']], [1, 1, 1 / n]);
    const imageOnly = await validationMetrics(encoder('image'), n, items);
    assert.deepEqual([imageOnly['mrr'], imageOnly['mrrOtherImage'], imageOnly['mrrImageOnly']], [1, 1 / n, 1]);
    // Distinct one-hot image embeddings are orthogonal; a text-only encoder gives an image alone no direction.
    assert.equal(imageOnly['imageOnlyCosine'], 0);
    assert.equal(textOnly['imageOnlyCosine'], null);
    const one = await validationMetrics(encoder('text'), n, items.slice(0, 1));
    assert.deepEqual([one['mrr'], one['mrrOtherImage']], [1, null]);
    const empty = await validationMetrics(encoder('text'), n, []);
    assert.deepEqual([empty['mrr'], empty['mrrOtherImage'], empty['records']], [null, null, 0]);
  });

  it('classification accuracy matches an argmax twin (ties count against the query) and reads the image', async () => {
    const rng = new Rng(8);
    const [n, a, d] = [30, 5, 4];
    const q = Float32Array.from({ length: n * d }, () => Math.round(rng.normal()));
    const ans = Float32Array.from({ length: a * d }, () => Math.round(rng.normal()));
    const labels = Array.from({ length: n }, () => rng.int(a));
    let hits = 0;
    for (let i = 0; i < n; i++) {
      const scores = Array.from({ length: a }, (_, j) => q.slice(i * d, i * d + d).reduce((s, x, k) => s + x * ans[j * d + k]!, 0));
      const best = Math.max(...scores);
      if (scores[labels[i]!] === best && scores.filter((x) => x === best).length === 1) hits++;
    }
    assert.equal(classificationAccuracy(q, ans, d, labels), hits / n);
    // An encoder whose query embedding is its image's answer (one-hot) is always right; one that ignores the
    // image gives every query one vector and is right on no query (all answers tie or one wins for all).
    const answers = ['red', 'blue', 'green'];
    const items: ValidationItem[] = ['red', 'red', 'blue', 'green', 'red'].map((t, i) => ({ image: `img-${i}-${t}`, query: 'colour?', target: t }));
    const oneHot = (t: string): number[] => answers.map((x) => (x === t ? 1 : 0));
    const reads = async (inputs: EmbedInput[]): Promise<Float32Array> =>
      Float32Array.from(inputs.flatMap((x) => oneHot(x.image === undefined ? (x.text ?? '') : (x.image as string).split('-')[2]!)));
    const m = await classificationMetrics(reads, 3, items);
    assert.deepEqual(m, { clsRecords: 5, clsClasses: 3, clsAccuracy: 1, clsMajority: 3 / 5 });
    const blind = async (inputs: EmbedInput[]): Promise<Float32Array> =>
      Float32Array.from(inputs.flatMap((x) => (x.image === undefined ? oneHot(x.text ?? '') : [1, 0, 0])));
    assert.equal((await classificationMetrics(blind, 3, items))['clsAccuracy'], 3 / 5, 'a constant guess scores the majority');
    assert.deepEqual(await classificationMetrics(reads, 3, []), { clsRecords: 0, clsClasses: null, clsAccuracy: null, clsMajority: null });
  });
});
