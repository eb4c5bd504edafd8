import { strict as assert } from 'assert';
import { mkdtempSync, rmSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import sharp from 'sharp';
import { buildImageCache, ImageCache } from '../lib/data/cache';
import { ImageRef } from '../lib/data/concepts';
import { DataLoader } from '../lib/data/loader';
import { TrainingRecord } from '../lib/data/m3t';
import { decodeImage } from '../lib/image';

function record(i: number, image: string, target = ''): TrainingRecord {
  return {
    id: `r${i}`, source: { file: 'mem', row: i }, queryImagePath: image, targetImagePath: target, querySentence: '',
    turns: [{ query: [`q${i}a`, `q${i}b`], target: `t${i}`, kind: 'cls', targetSentence: '' }, { query: `q${i}c`, target: `u${i}`, kind: 'retrieval', targetSentence: '' }],
    negatives: [], group: `g${i % 4}`,
  };
}

describe('data loader', () => {
  let root: string;
  let records: TrainingRecord[];
  let cache: ImageCache;
  before(async () => {
    root = mkdtempSync(join(tmpdir(), 'muco-loader-'));
    const refs: ImageRef[] = [];
    for (let k = 0; k < 4; k++) {
      const raw = Buffer.from(Array.from({ length: 10 * 10 * 3 }, (_, j) => (j * 7 + k * 50) % 256));
      await sharp(raw, { raw: { width: 10, height: 10, channels: 3 } }).png().toFile(join(root, `img${k}.png`));
      refs.push({ id: `test/${k}`, style: 'twemoji', path: `img${k}.png`, conceptId: `c${k}` });
    }
    await buildImageCache(refs, { dir: join(root, 'cache'), root, sizes: [32, 64], concurrency: 2 });
    cache = ImageCache.open(join(root, 'cache'), 32);
    // 23 records: some with a query image, two text-only, one with a target image not in the cache.
    records = Array.from({ length: 23 }, (_, i) => record(i, i % 11 === 5 ? '' : `img${i % 4}.png`));
    await sharp(Buffer.alloc(10 * 10 * 3, 200), { raw: { width: 10, height: 10, channels: 3 } }).png().toFile(join(root, 'extra.png'));
    records[7] = record(7, 'img1.png', 'extra.png');
  });
  after(() => rmSync(root, { recursive: true, force: true }));

  const ids = (batch: { id: string }[]): string[] => batch.map((b) => b.id);

  async function run(loader: DataLoader, batches: number): Promise<string[][]> {
    const out: string[][] = [];
    for (let i = 0; i < batches; i++) out.push(ids(await loader.next()));
    return out;
  }

  it('is deterministic for a seed and differs across seeds', async () => {
    const a = await run(new DataLoader(records, { config: { batchSize: 5, seed: 3 }, cache, imageRoot: root }), 12);
    const b = await run(new DataLoader(records, { config: { batchSize: 5, seed: 3 }, cache, imageRoot: root }), 12);
    const c = await run(new DataLoader(records, { config: { batchSize: 5, seed: 4 }, cache, imageRoot: root }), 12);
    assert.deepEqual(a, b);
    assert.notDeepEqual(a, c);
  });

  it('visits every record once per epoch; the last batch is smaller unless dropLast', async () => {
    const loader = new DataLoader(records, { config: { batchSize: 5, seed: 1 }, cache, imageRoot: root });
    assert.equal(loader.batchesPerEpoch, 5);
    for (let epoch = 0; epoch < 3; epoch++) {
      const batches = await run(loader, 5);
      assert.deepEqual(batches.map((b) => b.length), [5, 5, 5, 5, 3]);
      assert.deepEqual(batches.flat().sort(), records.map((r) => r.id).sort(), `epoch ${epoch}`);
    }
    const drop = new DataLoader(records, { config: { batchSize: 5, seed: 1, dropLast: true }, cache, imageRoot: root });
    assert.equal(drop.batchesPerEpoch, 4);
    const batches = await run(drop, 8);
    assert.ok(batches.every((b) => b.length === 5));
    assert.equal(drop.getState().epoch, 1);
    const plain = await run(new DataLoader(records, { config: { batchSize: 5, shuffle: false }, cache, imageRoot: root }), 1);
    assert.deepEqual(plain[0], ['r0', 'r1', 'r2', 'r3', 'r4']);
  });

  it('resumes exactly from a saved state, across an epoch boundary', async () => {
    const cfg = { batchSize: 4, seed: 9 };
    const straight = await run(new DataLoader(records, { config: cfg, cache, imageRoot: root }), 15);
    for (const cut of [0, 3, 6, 7, 11]) {
      const first = new DataLoader(records, { config: cfg, cache, imageRoot: root });
      const before = await run(first, cut);
      const saved = JSON.parse(JSON.stringify(first.getState()));
      const second = new DataLoader(records, { config: cfg, cache, imageRoot: root });
      second.setState(saved);
      const afterCut = await run(second, 15 - cut);
      assert.deepEqual([...before, ...afterCut], straight, `cut at ${cut}`);
    }
  });

  it('serves cached pixels equal to decoding, text-only queries as null, and target images', async () => {
    const loader = new DataLoader(records, { config: { batchSize: 23, shuffle: false }, cache, imageRoot: root });
    const noCache = new DataLoader(records, { config: { batchSize: 23, shuffle: false }, imageRoot: root });
    const [a, b] = [await loader.next(), await noCache.next()];
    for (let i = 0; i < 23; i++) {
      const x = a[i];
      const y = b[i];
      assert.ok(x !== undefined && y !== undefined);
      assert.equal(x.group, `g${i % 4}`);
      assert.equal(x.pairs.length, 2);
      assert.deepEqual(x.pairs[0]?.query, [`q${i}a`, `q${i}b`]);
      if (records[i]?.queryImagePath === '') {
        assert.equal(x.image, null);
        continue;
      }
      assert.equal(x.image?.length, 32 * 32 * 3);
      assert.deepEqual(x.image, y.image, `record ${i}: cache and decoding agree`);
    }
    const withTarget = a[7];
    assert.ok(withTarget?.pairs.every((p) => p.targetImage !== undefined));
    assert.deepEqual(withTarget?.pairs[0]?.targetImage, await decodeImage(join(root, 'extra.png')));
  });

  it('rejects a foreign state, unknown options and a cache of another size', () => {
    const loader = new DataLoader(records, { config: { seed: 1 }, cache, imageRoot: root });
    assert.throws(() => loader.setState({ epoch: 0, position: 0, seed: 2, count: 23 }), /seed 2 over 23 records/);
    assert.throws(() => new DataLoader(records, { config: { batchSzie: 4 } as never, imageRoot: root }), /unknown loader option "batchSzie"/);
    assert.throws(() => new DataLoader(records, { config: { imageSize: 64 }, cache, imageRoot: root }), /holds 32 px images but the loader wants 64 px/);
    assert.throws(() => new DataLoader([], { imageRoot: root }), /at least one record/);
  });
});
