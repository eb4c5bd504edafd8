/**
 * Instruction reading: the neighbour label shares against a naive twin (full sort of every pool row), a case
 * with a known answer, the answer pool read from an M3T JSONL file, and `readInstructions` end to end through
 * an encoder whose embedding is a known function of the text.
 */
import { strict as assert } from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { formatShares, m3tAnswerPool, neighbourLabelShares, readInstructions } from '../lib/diagnostics/instruction-reading';
import type { EncodeItem, Encoder } from '../lib/eval/encoder';
import { Rng } from '../lib/random';

/** Naive twin: sort every pool row by score (ties by index) and count the first k labels of each query. */
function naiveShares(q: number[][], pool: number[][], labels: string[], k: number): Map<string, number> {
  const counts = new Map<string, number>();
  for (const qi of q) {
    const order = pool
      .map((p, j) => ({ j, s: p.reduce((acc, v, d) => acc + v * (qi[d] as number), 0) }))
      .sort((a, b) => b.s - a.s || a.j - b.j)
      .slice(0, k);
    for (const { j } of order) counts.set(labels[j] as string, (counts.get(labels[j] as string) ?? 0) + 1 / (q.length * k));
  }
  return counts;
}

describe('instruction reading', () => {
  it('neighbour label shares equal the naive twin', () => {
    const rng = new Rng(4);
    const dim = 6;
    const q = Array.from({ length: 9 }, () => Array.from({ length: dim }, () => rng.normal()));
    const pool = Array.from({ length: 40 }, () => Array.from({ length: dim }, () => rng.normal()));
    const labels = pool.map((_, j) => ['name@L', 'group@L', 'colour', 'description'][j % 4] as string);
    for (const k of [1, 3, 7]) {
      const got = neighbourLabelShares(Float32Array.from(q.flat()), Float32Array.from(pool.flat()), labels, dim, k);
      const want = naiveShares(q, pool, labels, k);
      assert.equal(got.length, want.size);
      for (const s of got) assert.ok(Math.abs(s.share - (want.get(s.label) as number)) < 1e-9, `${s.label} k=${k}`);
      assert.ok(Math.abs(got.reduce((a, s) => a + s.share, 0) - 1) < 1e-9);
      got.slice(1).forEach((s, i) => assert.ok(s.share <= (got[i] as { share: number }).share, 'sorted by share'));
    }
  });

  it('a query equal to a pool row reads as that row, and bad shapes are named', () => {
    const pool = Float32Array.from([1, 0, 0, 1, 0.6, 0.8]);
    const shares = neighbourLabelShares(Float32Array.from([0, 1]), pool, ['a', 'b', 'c'], 2, 1);
    assert.deepEqual(shares, [{ label: 'b', share: 1 }]);
    assert.throws(() => neighbourLabelShares(Float32Array.from([0, 1]), pool, ['a', 'b'], 2, 1), /the pool has 6 values for 2 labels/);
    assert.throws(() => neighbourLabelShares(Float32Array.from([0, 1, 2]), pool, ['a', 'b', 'c'], 2, 1), /not a whole, non-empty number of rows/);
    assert.throws(() => neighbourLabelShares(Float32Array.from([0, 1]), pool, ['a', 'b', 'c'], 2, 4), /k must be an integer in \[1, 3\]/);
    assert.equal(
      formatShares([
        { label: 'name@L', share: 0.994 },
        { label: 'description', share: 0.006 },
      ]),
      'name@L 99%, description 1%',
    );
  });

  it('reads the answer pool of an M3T file: distinct texts, facet families, the first facet kept', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'muco-pool-'));
    const file = path.join(dir, 'train.jsonl');
    const row = (texts: string[], facets: string[]): string => JSON.stringify({ id: 'x', qry: texts, pos_text: texts, facets });
    fs.writeFileSync(
      file,
      [
        row(['people & body', 'yellow', 'grinning face'], ['group@en', 'colour:left', 'name@fi']),
        row(['yellow', 'flags'], ['colour:centre', 'group@de']),
        '',
      ].join('\n'),
    );
    assert.deepEqual(m3tAnswerPool(file), [
      { text: 'people & body', label: 'group@L' },
      { text: 'yellow', label: 'colour' },
      { text: 'grinning face', label: 'name@L' },
      { text: 'flags', label: 'group@L' },
    ]);
    assert.equal(m3tAnswerPool(file, 1).length, 3);
    fs.writeFileSync(file, JSON.stringify({ pos_text: ['a'], facets: [] }));
    assert.throws(() => m3tAnswerPool(file), /row 0 needs pos_text and facets lists of one length/);
    assert.throws(() => m3tAnswerPool(path.join(dir, 'none.jsonl')), /does not exist; build the data/);
    fs.rmSync(dir, { recursive: true });
  });

  it('readInstructions embeds queries and pool with the encoder', async () => {
    // A keyword encoder: "name" → e0, "colour" → e1, anything else → e2 (rows L2-normalised).
    const encoder: Encoder = {
      dim: 3,
      encode: async (items: EncodeItem[]) =>
        Float32Array.from(items.flatMap((it) => (/name/i.test(it.text) ? [1, 0, 0] : /colour/i.test(it.text) ? [0, 1, 0] : [0, 0, 1]))),
    };
    const pool = [
      { text: 'the name of it', label: 'name@L' },
      { text: 'its colour', label: 'colour' },
      { text: 'people & body', label: 'group@L' },
    ];
    const shares = await readInstructions(
      encoder,
      [
        { text: 'Identify it by its name.', image: 'a.png' },
        { text: 'Which colour?', image: 'b.png' },
      ],
      pool,
      1,
    );
    assert.deepEqual(shares, [
      { label: 'colour', share: 0.5 },
      { label: 'name@L', share: 0.5 },
    ]);
    await assert.rejects(readInstructions(encoder, [], pool), /no queries/);
  });
});
