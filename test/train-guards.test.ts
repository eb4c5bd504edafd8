import { strict as assert } from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { randomShifter, shiftImage } from '../lib/augment';
import { augmentRecords, sameKindRecords, trainConfig, TrainRecord } from '../lib/train';
import { cleanCheckpointLeftovers, truncateLog } from '../lib/train-state';

const rec = (id: string, kinds: string[]): TrainRecord => ({
  id,
  image: null,
  pairs: kinds.map((k) => ({ query: `${k} question of ${id}`, target: `${k} answer of ${id}`, kind: k })),
});

describe('batches that share a turn kind (train.batchKinds)', () => {
  const records = [rec('a', ['cls', 'retrieval', 'vqa']), rec('b', ['cls', 'retrieval']), rec('c', ['vqa'])];

  it("every record keeps only the step's kind; one without it keeps all its pairs", () => {
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
    assert.throws(() => trainConfig({ batchKinds: 'same', packing: 'multi', turns: 7 }), /for single-turn packing/);
    assert.equal(trainConfig({ batchKinds: 'same', packing: 'single', turns: 1 }).batchKinds, 'same');
  });
});

describe('image augmentation in the embedding trainer (train.augment)', () => {
  const size = 4;
  const image = (v: number): Float32Array => Float32Array.from({ length: size * size * 3 }, (_, k) => v + k);
  const records: TrainRecord[] = [
    { id: 'a', image: image(0), pairs: [{ query: 'q', target: 't' }] },
    { id: 'b', image: null, pairs: [{ query: 'q', target: 't' }] },
    { id: 'c', image: image(100), pairs: [{ query: 'q', target: 't' }] },
  ];

  it("shifts each image by the shifter's draws (seeded by seed and step), keeps text-only records, and is off at 0", () => {
    const c = { augment: { maxShift: 1 }, seed: 5 };
    const out = augmentRecords(records, size, c, 3);
    const twin = randomShifter(size, 1, 5, 3);
    assert.deepEqual(Array.from(out[0]?.image as Float32Array), Array.from(twin(records[0]?.image as Float32Array)));
    assert.equal(out[1], records[1]);
    assert.deepEqual(Array.from(out[2]?.image as Float32Array), Array.from(twin(records[2]?.image as Float32Array)));
    assert.deepEqual(augmentRecords(records, size, c, 3), out, 'same (seed, step): same shifts');
    const steps = Array.from({ length: 12 }, (_, s) => Array.from(augmentRecords(records, size, c, s)[0]?.image as Float32Array).join());
    assert.ok(new Set(steps).size > 3, 'other steps draw other shifts');
    augmentRecords(records, size, { augment: { maxShift: 0 }, seed: 5 }, 3).forEach((r, i) => assert.equal(r, records[i]));
  });

  it('a shift is a translation with replicated edges (loop twin), and the setting is checked', () => {
    const img = image(0);
    const moved = shiftImage(img, size, 1, -1);
    for (let y = 0; y < size; y++) {
      for (let x = 0; x < size; x++) {
        const sy = Math.min(size - 1, Math.max(0, y + 1));
        const sx = Math.min(size - 1, Math.max(0, x - 1));
        for (let ch = 0; ch < 3; ch++) assert.equal(moved[(y * size + x) * 3 + ch], img[(sy * size + sx) * 3 + ch]);
      }
    }
    assert.throws(() => trainConfig({ augment: { maxShift: 1.5 } }), /train.augment.maxShift must be a non-negative integer/);
    assert.equal(trainConfig().augment.maxShift, 0);
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

describe('resuming after interrupted writes', () => {
  it('a torn last line of log.jsonl is dropped; a broken line elsewhere names the file and line', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'log-'));
    try {
      const file = path.join(dir, 'log.jsonl');
      fs.writeFileSync(file, '{"step":0}\n{"step":1}\n{"step":2}\n{"st');
      truncateLog(dir, 2);
      assert.equal(fs.readFileSync(file, 'utf8'), '{"step":0}\n{"step":1}\n');
      fs.writeFileSync(file, '{"step":0}\n{"st\n{"step":2}\n');
      assert.throws(() => truncateLog(dir, 2), /log\.jsonl: line 2 is not valid JSON/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('leftovers of interrupted checkpoint writes are removed; live writers and complete checkpoints stay', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ckpt-'));
    try {
      const root = path.join(dir, 'checkpoints');
      const mk = (name: string, trainer: boolean): void => {
        fs.mkdirSync(path.join(root, name), { recursive: true });
        if (trainer) fs.writeFileSync(path.join(root, name, 'trainer.json'), '{}');
      };
      mk('step-000010', true);
      mk('step-000020', false); // emptied by an interrupted replace
      mk('step-000030.tmp-999999999-1', false); // a writer that is gone
      mk(`step-000030.tmp-${process.pid}-2`, false); // this process: alive
      const removed = cleanCheckpointLeftovers(dir)
        .map((d) => path.basename(d))
        .sort();
      assert.deepEqual(removed, ['step-000020', 'step-000030.tmp-999999999-1']);
      assert.deepEqual(fs.readdirSync(root).sort(), ['step-000010', `step-000030.tmp-${process.pid}-2`]);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
