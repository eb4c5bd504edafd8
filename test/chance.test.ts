/** lib/eval/chance: chance levels from the data, against exhaustive counting and the seeded random encoder. */
import { strict as assert } from 'assert';
import { mmebRowChance, recallAtKChance } from '../lib/eval/chance';
import { scoreMmebRows } from '../lib/eval/mmeb';
import type { MmebRow } from '../lib/eval/mmeb-format';
import { randomEncoder } from '../lib/eval/encoder';
import { setLogLevel, logLevel } from '../lib/log';

/** Count the k-subsets of n positions that hold at least one of the first r (exhaustive). */
function naiveRecall(n: number, r: number, k: number): number {
  let hit = 0;
  let all = 0;
  for (let mask = 0; mask < 1 << n; mask++) {
    let bits = 0;
    for (let i = 0; i < n; i++) if (mask & (1 << i)) bits++;
    if (bits !== k) continue;
    all++;
    let any = false;
    for (let i = 0; i < r; i++) if (mask & (1 << i)) any = true;
    if (any) hit++;
  }
  return hit / all;
}

describe('chance levels', () => {
  it('Recall@k of a random ranking matches exhaustive counting', () => {
    for (const n of [1, 3, 6, 10])
      for (let r = 0; r <= n; r++)
        for (let k = 0; k <= n; k++) {
          assert.ok(Math.abs(recallAtKChance(n, r, k) - naiveRecall(n, r, k)) < 1e-12, `n=${n} r=${r} k=${k}`);
        }
    assert.throws(() => recallAtKChance(5, 6, 1), /0 ≤ r ≤ n/);
  });

  it('MMEB hit@1 chance counts distinct candidate items, and the random encoder scores it on average', async () => {
    assert.equal(mmebRowChance([{ text: 'a' }, { text: 'a' }, { text: 'b' }, { text: 'c' }]), 1 / 3);
    assert.equal(mmebRowChance([{ text: 'a', image: 'x.png' }, { text: 'a' }]), 1 / 2);
    const rows: MmebRow[] = Array.from({ length: 12 }, (_, i) => {
      const n = 2 + (i % 5);
      const tgt = Array.from({ length: n }, (_, j) => `target ${i}-${j}`);
      if (i % 3 === 0) tgt[n - 1] = tgt[0] as string; // a copy of the positive: ties count as correct
      return { qryText: `query ${i}`, qryImage: '', tgtText: tgt, tgtImage: tgt.map(() => '') };
    });
    const previous = logLevel();
    setLogLevel('error');
    let sum = 0;
    let chance = 0;
    const seeds = 400;
    for (let seed = 0; seed < seeds; seed++) {
      const score = await scoreMmebRows(rows, randomEncoder({ dim: 8, seed }), { dataset: 'toy', ks: [1], imageRoot: '' });
      sum += score['acc'] as number;
      chance = score['chance_hit@1'] as number;
    }
    setLogLevel(previous);
    const expected = rows.reduce((s, r) => s + 1 / new Set(r.tgtText).size, 0) / rows.length;
    assert.ok(Math.abs(chance - expected) < 1e-12);
    // 400 × 12 rows: the standard error of the mean is < 0.01
    assert.ok(Math.abs(sum / seeds - expected) < 0.03, `random encoder ${sum / seeds} vs chance ${expected}`);
  });
});
