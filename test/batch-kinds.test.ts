import { strict as assert } from 'assert';
import { sameKindRecords, trainConfig, TrainRecord } from '../lib/train';

const rec = (id: string, kinds: string[]): TrainRecord => ({
  id,
  image: null,
  pairs: kinds.map((k) => ({ query: `${k} question of ${id}`, target: `${k} answer of ${id}`, kind: k })),
});

describe('batches that share a turn kind (train.batchKinds)', () => {
  const records = [rec('a', ['cls', 'retrieval', 'vqa']), rec('b', ['cls', 'retrieval']), rec('c', ['vqa'])];

  it('every record keeps only the step\'s kind; one without it keeps all its pairs', () => {
    for (let step = 0; step < 20; step++) {
      const out = sameKindRecords(records, 3, step);
      const kinds = new Set(out.filter((r) => r.pairs.length === 1 || r.id === 'c').flatMap((r) => r.pairs.map((p) => p.kind)));
      const kind = out[0]?.pairs[0]?.kind as string;
      assert.equal(out[0]?.pairs.length, 1);
      out.forEach((r, i) => {
        const original = records[i] as TrainRecord;
        const has = original.pairs.some((p) => p.kind === kind);
        assert.deepEqual(r.pairs, has ? original.pairs.filter((p) => p.kind === kind) : original.pairs, `step ${step} record ${r.id}`);
      });
      assert.ok(kinds.has(kind));
    }
  });

  it('the kind is a seeded function of the step, and every kind comes up', () => {
    const kindAt = (seed: number, step: number): string => sameKindRecords(records, seed, step)[0]?.pairs[0]?.kind as string;
    assert.equal(kindAt(3, 7), kindAt(3, 7));
    assert.deepEqual(new Set(Array.from({ length: 30 }, (_, s) => kindAt(3, s))), new Set(['cls', 'retrieval', 'vqa']));
  });

  it('needs kinds, and only accepts mixed or same', () => {
    assert.throws(() => sameKindRecords([{ id: 'x', image: null, pairs: [{ query: 'q', target: 't' }] }], 0, 0), /QueryTargetPair.kind/);
    assert.throws(() => trainConfig({ batchKinds: 'some' as never }), /train.batchKinds must be 'mixed' or 'same'/);
    assert.equal(trainConfig().batchKinds, 'mixed');
  });
});

describe('training settings that are errors', () => {
  it('names the setting for fractional, huge, zero or negative values', () => {
    assert.throws(() => trainConfig({ steps: 2.5 }), /train.steps must be a positive integer, got 2.5/);
    assert.throws(() => trainConfig({ steps: 1e99 }), /train.steps must be a positive integer/);
    assert.throws(() => trainConfig({ checkpointEvery: 0 }), /train.checkpointEvery must be a positive integer or null/);
    assert.throws(() => trainConfig({ keepCheckpoints: 0 }), /train.keepCheckpoints must be a positive integer/);
    assert.throws(() => trainConfig({ turns: 0 }), /train.turns must be a positive integer or null/);
    assert.throws(() => trainConfig({ schedule: { lr: -1 } }), /train.schedule.lr must be a positive number/);
    assert.throws(() => trainConfig({ loss: { temperature: 0 } }), /train.loss.temperature must be > 0/);
    assert.equal(trainConfig({ checkpointEvery: null, turns: null }).turns, null);
  });
});
