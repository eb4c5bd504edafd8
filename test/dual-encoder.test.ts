/**
 * The dual-encoder baseline (lib/baselines): the numeric code we wrote (host and tf im2col, bag-of-words pooling
 * and its gradient, the fusion) against naive twins; shapes and norms; tensor leaks; the loss falls on a tiny
 * synthetic set; weights and training state round-trip exactly; the run entry writes a results folder.
 */
import { strict as assert } from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { initBackend, seededTensor } from '../lib/backend';
import { bagOfWords, meanBags } from '../lib/baselines/bag-of-words';
import { convFromColumns, hostIm2colStride2, im2colStride2 } from '../lib/baselines/conv';
import { loadDualEncoder, saveDualEncoder } from '../lib/baselines/dual-checkpoint';
import { DualEncoder, dualEncoderConfig } from '../lib/baselines/dual-encoder';
import { DUAL_SCALES, resolveDualRun, runDualEncoder } from '../lib/baselines/run-dual';
import { shiftImage } from '../lib/augment';
import { augmentBatch, dualBatch, duplicateTargetMask, dualTrainConfig, trainDual } from '../lib/baselines/train-dual';
import { buildData } from '../lib/data/build';
import { writePng } from '../lib/image';
import { LogLevel, logLevel, setLogLevel } from '../lib/log';
import { MASKED_LOGIT } from '../lib/loss';
import { Rng } from '../lib/random';
import { readMetrics } from '../lib/results';
import { Tokenizer } from '../lib/tokenizer';
import type { TrainData, TrainRecord } from '../lib/train';

const ROOT = path.resolve(__dirname, '..');
const SIZE = 8;
const WORDS = ['apple', 'river', 'castle', 'violin', 'desert', 'comet', 'lantern', 'harbor'];

/** Eight random images, each paired with its own caption; every query asks the same question, so only the image tells them apart. */
function syntheticRecords(): TrainRecord[] {
  const rng = new Rng(7);
  return WORDS.map((word, i) => ({
    id: `img${i}`,
    image: Float32Array.from({ length: SIZE * SIZE * 3 }, () => rng.normal()),
    pairs: [{ query: ['What is shown?', 'Describe it.'], target: `a picture of a ${word}` }],
  }));
}

const records = syntheticRecords();
const data: TrainData = { size: records.length, get: (i) => records[i] as TrainRecord };
const tokenizer = Tokenizer.fromCorpus(records.flatMap((r) => r.pairs.flatMap((p) => [p.target, ...p.query])));
const tinyConfig = dualEncoderConfig({ imageSize: SIZE, channels: [4, 8], tokenDim: 8, textHidden: 8, dim: 8, normalization: 'unit' });
const trainCfg = dualTrainConfig({
  steps: 40,
  batchSize: 8,
  logEvery: 10,
  checkpointEvery: null,
  augment: { maxShift: 1 },
  schedule: { kind: 'constant', lr: 1e-2, warmupSteps: 1 },
});

/** cols[b, i, j, (dy·3 + dx)·C + c] = x[b, 2i + dy − 1, 2j + dx − 1, c], written as plain loops. */
function naiveIm2col(x: Float32Array, b: number, h: number, w: number, c: number): Float32Array {
  const out = new Float32Array(b * (h / 2) * (w / 2) * 9 * c);
  let k = 0;
  for (let n = 0; n < b; n++)
    for (let i = 0; i < h / 2; i++)
      for (let j = 0; j < w / 2; j++)
        for (let dy = 0; dy < 3; dy++)
          for (let dx = 0; dx < 3; dx++)
            for (let ch = 0; ch < c; ch++) {
              const y = 2 * i + dy - 1;
              const xx = 2 * j + dx - 1;
              out[k++] = y < 0 || y >= h || xx < 0 || xx >= w ? 0 : (x[((n * h + y) * w + xx) * c + ch] as number);
            }
  return out;
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length, 'lengths differ');
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs((a[i] as number) - (b[i] as number)));
  return m;
}

function values(t: tf.Tensor): Float32Array {
  return t.dataSync() as Float32Array;
}

describe('dual-encoder baseline', function () {
  this.timeout(120_000);
  let previous: LogLevel;

  before(async () => {
    previous = logLevel();
    setLogLevel('warn');
    await initBackend({ backend: 'wasm' });
  });
  after(async () => {
    setLogLevel(previous);
    await initBackend({ backend: 'cpu' });
  });

  describe('numeric pieces against naive twins', () => {
    it('im2col (tf ops and host) equals the loop definition', () => {
      const [b, h, w, c] = [2, 6, 8, 3];
      const x = seededTensor([b, h, w, c], new Rng(1));
      const want = naiveIm2col(values(x), b, h, w, c);
      const got = tf.tidy(() => im2colStride2(x as tf.Tensor4D));
      assert.deepEqual(got.shape, [b, h / 2, w / 2, 9 * c]);
      assert.equal(maxAbsDiff(values(got), want), 0);
      const square = seededTensor([b, 6, 6, c], new Rng(2));
      const squares = [0, 1].map((n) => values(square).slice(n * 36 * c, (n + 1) * 36 * c));
      assert.equal(maxAbsDiff(hostIm2colStride2(squares, 6, c), naiveIm2col(values(square), b, 6, 6, c)), 0);
      tf.dispose([x, got, square]);
      assert.throws(() => im2colStride2(tf.zeros([1, 5, 4, 2]) as tf.Tensor4D), /even H and W/);
    });

    it('convolution and its gradients equal tf.conv2d with explicit padding 1', () => {
      const x = seededTensor([2, 8, 8, 3], new Rng(3)) as tf.Tensor4D;
      const w = seededTensor([27, 5], new Rng(4), 'normal', 0.3) as tf.Tensor2D;
      const bias = seededTensor([5], new Rng(5)) as tf.Tensor1D;
      const probe = seededTensor([2, 4, 4, 5], new Rng(6));
      const ours = (xi: tf.Tensor, wi: tf.Tensor, bi: tf.Tensor): tf.Tensor =>
        convFromColumns(im2colStride2(xi as tf.Tensor4D), wi as tf.Tensor2D, bi as tf.Tensor1D);
      const reference = (xi: tf.Tensor, wi: tf.Tensor, bi: tf.Tensor): tf.Tensor =>
        tf.relu(
          tf.add(
            tf.conv2d(xi as tf.Tensor4D, tf.reshape(wi, [3, 3, 3, 5]) as tf.Tensor4D, 2, [
              [0, 0],
              [1, 1],
              [1, 1],
              [0, 0],
            ]),
            bi,
          ),
        );
      const run = (f: typeof ours): Float32Array[] =>
        tf.tidy(() =>
          [f(x, w, bias), ...tf.grads((a: tf.Tensor, b: tf.Tensor, c: tf.Tensor) => tf.sum(tf.mul(f(a, b, c), probe)))([x, w, bias])].map((t) =>
            Float32Array.from(values(t)),
          ),
        );
      const got = run(ours);
      const want = run(reference);
      want.forEach((v, i) => assert.ok(maxAbsDiff(got[i] as Float32Array, v) < 1e-4, `output ${i} differs by ${maxAbsDiff(got[i] as Float32Array, v)}`));
      tf.dispose([x, w, bias, probe]);
    });

    it('bag-of-words pooling and its gradient equal gather + segment sum, and loops', () => {
      const table = seededTensor([7, 4], new Rng(8)) as tf.Tensor2D;
      const lists = [[1, 2, 2], [], [6], [0, 3, 5, 1]];
      const bags = meanBags(lists);
      const probe = seededTensor([4, 4], new Rng(9));
      const naive = (t: tf.Tensor): tf.Tensor =>
        tf.mul(
          tf.unsortedSegmentSum(tf.gather(t, tf.tensor1d(bags.ids, 'int32')), tf.tensor1d(bags.segments, 'int32'), lists.length),
          tf.tensor2d(
            lists.map((l) => (l.length === 0 ? 0 : 1 / l.length)),
            [4, 1],
          ),
        );
      const [out, grad] = tf.tidy(() => [
        bagOfWords(table, bags),
        tf.grad((t: tf.Tensor) => tf.sum(tf.mul(bagOfWords(t as tf.Tensor2D, bags), probe)))(table),
      ]) as [tf.Tensor, tf.Tensor];
      const [outRef, gradRef] = tf.tidy(() => [naive(table), tf.grad((t: tf.Tensor) => tf.sum(tf.mul(naive(t), probe)))(table)]) as [tf.Tensor, tf.Tensor];
      assert.ok(maxAbsDiff(values(out), values(outRef)) < 1e-6);
      assert.ok(maxAbsDiff(values(grad), values(gradRef)) < 1e-6);
      // Loops: row 0 is the mean of table rows 1, 2, 2; the empty text is a zero row.
      const t = values(table);
      for (let j = 0; j < 4; j++) assert.ok(Math.abs((values(out)[j] as number) - ((t[4 + j] as number) + 2 * (t[8 + j] as number)) / 3) < 1e-6);
      assert.deepEqual(Array.from(values(out).slice(4, 8)), [0, 0, 0, 0]);
      assert.throws(() => bagOfWords(table, meanBags([[7]])), /outside the table's 7 rows/);
      tf.dispose([table, probe, out, grad, outRef, gradRef]);
    });

    it('fuses by summing the towers before normalising; text-only and image-only items are one tower', () => {
      const model = DualEncoder.create(tinyConfig, tokenizer, 1);
      const px = records[0]?.image as Float32Array;
      const text = 'What is shown?';
      const [fused, imageOnly, textOnly, img, txt] = tf
        .tidy(() => [
          model.embed([{ pixels: px, text }]),
          model.embed([{ pixels: px, text: '' }]),
          model.embed([{ pixels: null, text }]),
          model.imageTower([px]),
          model.textTower([text, '']),
        ])
        .map((x) => Float32Array.from(values(x))) as [Float32Array, Float32Array, Float32Array, Float32Array, Float32Array];
      const normalise = (v: number[]): number[] => {
        const n = Math.sqrt(v.reduce((s, x) => s + x * x, 0));
        return v.map((x) => x / n);
      };
      const d = tinyConfig.dim;
      assert.deepEqual(Array.from(txt.slice(d)), new Array(d).fill(0), 'an empty text is a zero row');
      assert.ok(maxAbsDiff(fused, normalise(Array.from(img, (x, j) => x + (txt[j] as number)))) < 1e-5);
      assert.ok(maxAbsDiff(imageOnly, normalise(Array.from(img))) < 1e-5);
      assert.ok(maxAbsDiff(textOnly, normalise(Array.from(txt.slice(0, d)))) < 1e-5);
      assert.throws(() => model.embed([{ pixels: null, text: '' }]), /neither an image nor any text/);
      model.dispose();
    });

    it("masks repeated targets out of each other's negatives", () => {
      assert.equal(duplicateTargetMask(['a', 'b', 'c']), null);
      const mask = duplicateTargetMask(['a', 'b', 'a']) as Float32Array;
      const want = new Float32Array(9);
      want[2] = MASKED_LOGIT;
      want[6] = MASKED_LOGIT;
      assert.deepEqual(mask, want);
    });
  });

  describe('the encoder', () => {
    it('encodes text, image and image + text items to L2-normalised [n, dim] rows, without leaking tensors', async () => {
      const model = DualEncoder.create(tinyConfig, tokenizer, 2);
      const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'dual-enc-'));
      const file = path.join(tmp, 'img.png');
      await writePng(
        file,
        Uint8Array.from({ length: 16 * 16 * 3 }, (_, i) => (i * 37) % 256),
        16,
        16,
      );
      const items = [{ text: 'a picture of a comet' }, { text: '', image: file }, { text: 'What is shown?', image: file }];
      await model.encode(items); // warm-up: kernels and the pixel cache
      const before = tf.memory().numTensors;
      const out = await model.encode(items);
      assert.equal(tf.memory().numTensors, before, 'encode leaked tensors');
      assert.equal(out.length, items.length * tinyConfig.dim);
      for (let i = 0; i < items.length; i++) {
        const norm = Math.hypot(...out.slice(i * tinyConfig.dim, (i + 1) * tinyConfig.dim));
        assert.ok(Math.abs(norm - 1) < 1e-5, `row ${i} has norm ${norm}`);
      }
      fs.rmSync(tmp, { recursive: true, force: true });
      model.dispose();
    });

    it('weights round-trip through save and load: identical embeddings', async () => {
      const model = DualEncoder.create(tinyConfig, tokenizer, 3);
      const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'dual-ckpt-'));
      await saveDualEncoder(path.join(tmp, 'model'), model, { note: 'test' });
      const { model: loaded, metadata } = await loadDualEncoder(path.join(tmp, 'model'));
      assert.deepEqual(metadata.extra, { note: 'test' });
      const inputs = records.slice(0, 3).map((r, i) => ({ text: i === 2 ? '' : 'What is shown?', image: r.image as Float32Array }));
      assert.deepEqual(await loaded.embedInputs(inputs), await model.embedInputs(inputs));
      fs.writeFileSync(path.join(tmp, 'model', 'model.json'), '{"userDefinedMetadata":{"format":"muco-ts/embedder@1"}}');
      await assert.rejects(loadDualEncoder(path.join(tmp, 'model')), /not a muco-ts\/dual-encoder@1 checkpoint/);
      fs.rmSync(tmp, { recursive: true, force: true });
      loaded.dispose();
      model.dispose();
    });
  });

  describe('training', () => {
    it('draws seeded pairs: the same (seed, step) gives the same batch', () => {
      const a = dualBatch(records, 5, 3);
      const b = dualBatch(records, 5, 3);
      assert.deepEqual(
        a.queries.map((q) => q.text),
        b.queries.map((q) => q.text),
      );
      assert.deepEqual(
        a.targets,
        records.map((r) => r.pairs[0]?.target),
      );
    });

    it('shifts augmentation images with replicated edges, seeded by (seed, step)', () => {
      // A 3×3 one-channel image with values 0..8, moved one pixel right and one down.
      const img = Float32Array.from({ length: 9 }, (_, i) => i);
      assert.deepEqual(Array.from(shiftImage(img, 3, 1, 1, 1)), [0, 0, 1, 0, 0, 1, 3, 3, 4]);
      assert.deepEqual(Array.from(shiftImage(img, 3, -1, 0, 1)), [1, 2, 2, 4, 5, 5, 7, 8, 8]);
      assert.equal(shiftImage(img, 3, 0, 0, 1), img);
      const batch = dualBatch(records, 1, 0);
      const a = augmentBatch(batch, SIZE, 2, 1, 0);
      const b = augmentBatch(batch, SIZE, 2, 1, 0);
      assert.deepEqual(
        a.queries.map((q) => Array.from(q.pixels as Float32Array)),
        b.queries.map((q) => Array.from(q.pixels as Float32Array)),
      );
      assert.ok(
        a.queries.some((q, i) => q.pixels !== batch.queries[i]?.pixels),
        'some image moved',
      );
      assert.equal(augmentBatch(batch, SIZE, 0, 1, 0), batch);
    });

    it('lowers the loss on a tiny synthetic set, leaving no tensor behind', async () => {
      const model = DualEncoder.create(tinyConfig, tokenizer, 4);
      const before = tf.memory().numTensors;
      // No augmentation: shifting 8-pixel noise images by a pixel makes them other images.
      const summary = await trainDual(model, data, dualTrainConfig({ ...trainCfg, augment: { maxShift: 0 } }), { runDir: null, progress: 'none' });
      assert.equal(tf.memory().numTensors, before, 'trainDual leaked tensors');
      const first = summary.records[0]?.loss as number;
      const last = summary.records.slice(-5).reduce((s, r) => s + r.loss, 0) / 5;
      assert.ok(last < 0.5 * first, `loss ${first.toFixed(3)} → ${last.toFixed(3)}: expected to halve`);
      assert.ok((summary.records.at(-1)?.accuracy as number) >= 0.75);
      model.dispose();
    });

    it('resumes exactly: an interrupted run ends with the weights of an uninterrupted one', async () => {
      const cfg = dualTrainConfig({ ...trainCfg, steps: 4, checkpointEvery: 2 });
      const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'dual-resume-'));
      const straight = DualEncoder.create(tinyConfig, tokenizer, 5);
      await trainDual(straight, data, cfg, { runDir: path.join(tmp, 'a'), progress: 'none' });
      const interrupted = DualEncoder.create(tinyConfig, tokenizer, 5);
      await trainDual(interrupted, data, cfg, { runDir: path.join(tmp, 'b'), progress: 'none', stopAfter: 2 });
      interrupted.dispose();
      const resumed = DualEncoder.create(tinyConfig, tokenizer, 5);
      const summary = await trainDual(resumed, data, cfg, { runDir: path.join(tmp, 'b'), progress: 'none' });
      assert.equal(summary.resumedFrom, 2);
      for (const [name, v] of straight.params) assert.deepEqual(values(resumed.params.get(name) as tf.Variable), values(v), `${name} differs after resuming`);
      const logged = fs
        .readFileSync(path.join(tmp, 'b', 'log.jsonl'), 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as { step: number });
      assert.deepEqual(
        logged.map((r) => r.step),
        [0, 1, 2, 3],
      );
      fs.rmSync(tmp, { recursive: true, force: true });
      straight.dispose();
      resumed.dispose();
    });
  });

  describe('the run entry', () => {
    let tmp: string;
    before(async () => {
      tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'dual-run-'));
      await buildData({ root: ROOT, outDir: path.join(tmp, 'data'), limit: 24, miniMmeb: { maxQueries: 4, maxCandidates: 8 }, miniMbeir: { maxQueries: 4 } });
    });
    after(() => fs.rmSync(tmp, { recursive: true, force: true }));

    it("trains and evaluates into a results folder with the MLLM runs' files and metric blocks; a finished run is skipped", async () => {
      const cfg = resolveDualRun('dual-encoder', DUAL_SCALES.smoke, { data: { dir: path.join(tmp, 'data') }, eval: { limit: 3, validationRecords: 8 } });
      const root = path.join(tmp, 'results');
      const first = await runDualEncoder(cfg, { resultsRoot: root, progress: 'none' });
      assert.equal(first.skipped, false);
      for (const f of ['config.json', 'tokenizer.json', 'log.jsonl', 'metrics.json', 'mmeb.csv', 'mbeir.csv', 'model/model.json', 'model/weights.bin']) {
        assert.ok(fs.existsSync(path.join(first.dir, f)), `${f} is missing`);
      }
      const m = readMetrics(first.dir).metrics;
      assert.deepEqual(Object.keys(m).sort(), ['mbeir', 'mbeirChance', 'mmeb', 'mmebChance', 'train', 'validation']);
      for (const key of ['mrr', 'recallAt1', 'recallAt10', 'mrrOtherImage', 'mrrImageOnly'])
        assert.ok(key in (m['validation'] as object), `validation.${key} is missing`);
      assert.equal(fs.readFileSync(path.join(first.dir, 'log.jsonl'), 'utf8').trim().split('\n').length, cfg.train.steps);
      const again = await runDualEncoder(cfg, { resultsRoot: root, progress: 'none' });
      assert.equal(again.skipped, true);
      const changed = resolveDualRun('dual-encoder', DUAL_SCALES.smoke, {
        data: { dir: path.join(tmp, 'data') },
        eval: { limit: 3, validationRecords: 8 },
        train: { steps: 5 },
      });
      await assert.rejects(runDualEncoder(changed, { resultsRoot: root, progress: 'none' }), /another config than this run's \(train\.steps: 3 vs 5\)/);
      assert.throws(() => resolveDualRun('x', { train: { stepz: 3 } as never }), /train\.stepz is not a known setting/);
    });
  });
});
