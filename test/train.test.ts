import { strict as assert } from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../lib/backend';
import { loadCheckpoint } from '../lib/model/checkpoint';
import { modelConfig } from '../lib/model/config';
import { Embedder } from '../lib/model/embedder';
import { AdamW, clipByGlobalNorm } from '../lib/optim';
import { Rng } from '../lib/random';
import { learningRate } from '../lib/schedule';
import { computeStep, fullBatchStep, gradCacheStep } from '../lib/step';
import { EXPLODED_WEIGHT, maxAbsWeight } from '../lib/train-state';
import { NonFiniteLossError, packStep, stepIndices, train, trainConfig, TrainConfig, TrainData, TrainRecord } from '../lib/train';
import { Tokenizer } from '../lib/tokenizer';

const COLOURS = ['red', 'green', 'blue', 'yellow', 'purple', 'orange', 'white', 'black'];
const SHAPES = ['square', 'circle', 'stripe', 'dot'];
const RGB: Record<string, [number, number, number]> = {
  red: [1, 0, 0],
  green: [0, 1, 0],
  blue: [0, 0, 1],
  yellow: [1, 1, 0],
  purple: [0.5, 0, 0.5],
  orange: [1, 0.5, 0],
  white: [1, 1, 1],
  black: [0, 0, 0],
};

/** A small fixture: images with a background and a foreground colour, and questions whose answers need the image. */
function fixture(n: number, size: number): TrainRecord[] {
  const rng = new Rng(42);
  return Array.from({ length: n }, (_, i) => {
    const bg = COLOURS[i % COLOURS.length] as string;
    const fg = COLOURS[(i * 3 + 1) % COLOURS.length] as string;
    const shape = SHAPES[Math.floor(i / COLOURS.length) % SHAPES.length] as string;
    const image = new Float32Array(size * size * 3);
    for (let y = 0; y < size; y++) {
      for (let x = 0; x < size; x++) {
        const inside =
          shape === 'square'
            ? x > size / 4 && x < (3 * size) / 4 && y > size / 4 && y < (3 * size) / 4
            : shape === 'circle'
              ? (x - size / 2) ** 2 + (y - size / 2) ** 2 < (size / 3) ** 2
              : shape === 'stripe'
                ? Math.floor(x / 2) % 2 === 0
                : x % 4 === 1 && y % 4 === 1;
        const c = RGB[inside ? fg : bg] as [number, number, number];
        image.set(
          c.map((v) => v * 0.9 + 0.1 * rng.next()),
          (y * size + x) * 3,
        );
      }
    }
    return {
      id: `img${i}`,
      image,
      caption: `a ${fg} ${shape} on ${bg}`,
      // Every target names the background and the pattern, a pair unique to each of the 32 images, so
      // in-batch accuracy can reach 1 (no duplicate targets among the negatives).
      pairs: [
        { query: ['Which background and pattern?', 'Background and pattern?'], target: `${bg} background, ${shape}` },
        { query: 'What is drawn, and on what?', target: `${fg} ${shape} on ${bg}` },
        { query: 'Which pattern is drawn on which colour?', target: `${shape} pattern on ${bg}` },
        { query: 'Describe it.', target: `a ${fg} ${shape} on a ${bg} background` },
      ],
    };
  });
}

const tokenizer = Tokenizer.fromCorpus(
  fixture(32, 4).flatMap((r) => r.pairs.flatMap((p) => [p.target, ...(typeof p.query === 'string' ? [p.query] : p.query)])),
);
const config = modelConfig('tiny', { vocabSize: tokenizer.vocabSize });
const records = fixture(32, config.imageSize);
const data: TrainData = { size: records.length, get: (i) => records[i] as TrainRecord };

function cfg(overrides: Parameters<typeof trainConfig>[0] = {}): TrainConfig {
  return trainConfig({
    steps: 6,
    imagesPerStep: 8,
    turns: 3,
    logEvery: 1000,
    seed: 3,
    loss: { temperature: 0.1 },
    schedule: { lr: 3e-3, warmupSteps: 2 },
    ...overrides,
  });
}

function snapshot(model: Embedder): Float32Array[] {
  return model.variables().map((v) => Float32Array.from(v.dataSync()));
}

/**
 * Worst per-tensor relative difference ‖a − b‖₂ / ‖a‖₂, with ‖a‖₂ floored at 1e-3 × the largest tensor norm: a
 * bias whose gradient is ~0 in exact arithmetic is compared at the model's scale.
 */
function maxRelDiff(a: Float32Array[], b: Float32Array[]): number {
  const norm = (x: Float32Array): number => Math.sqrt(x.reduce((s, v) => s + v * v, 0));
  const floor = 1e-3 * Math.max(...a.map(norm));
  let worst = 0;
  a.forEach((x, i) => {
    const y = b[i] as Float32Array;
    const diff = norm(x.map((v, j) => v - (y[j] as number)));
    worst = Math.max(worst, diff / Math.max(norm(x), floor, 1e-12));
  });
  return worst;
}

describe('training', function () {
  this.timeout(300_000);
  before(async () => {
    await initBackend({ backend: 'wasm' });
  });
  after(async () => {
    await initBackend({ backend: 'cpu' });
  });

  it('the learning rate is a pure function of the step (warmup, constant, cosine)', () => {
    const s = { kind: 'constant' as const, lr: 1e-3, warmupSteps: 4, minRatio: 0.1 };
    assert.deepEqual(
      [0, 1, 3, 4, 99].map((t) => learningRate(s, t, 100)),
      [2.5e-4, 5e-4, 1e-3, 1e-3, 1e-3],
    );
    const c = { ...s, kind: 'cosine' as const };
    assert.equal(learningRate(c, 4, 104), 1e-3);
    assert.ok(Math.abs(learningRate(c, 54, 104) - (1e-4 + 0.5 * 9e-4)) < 1e-12);
    assert.ok(Math.abs(learningRate(c, 104, 104) - 1e-4) < 1e-12);
  });

  it('the data order covers every record once per epoch and is seeded', () => {
    const all = [0, 1, 2].flatMap((s) => stepIndices(10, 5, 7, s));
    assert.deepEqual(
      [...all.slice(0, 10)].sort((a, b) => a - b),
      [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
    );
    assert.deepEqual(stepIndices(10, 5, 7, 2), stepIndices(10, 5, 7, 2));
    assert.notDeepEqual(stepIndices(10, 5, 7, 0), stepIndices(10, 5, 8, 0));
  });

  it('AdamW equals a loop-based twin (with decoupled decay on matrices only)', () => {
    const w = tf.variable(
      tf.tensor2d([
        [0.5, -1],
        [2, 0.1],
      ]),
    );
    const b = tf.variable(tf.tensor1d([0.3, -0.2]));
    const opt = new AdamW(
      [
        { name: 'w', variable: w },
        { name: 'b', variable: b },
      ],
      { beta1: 0.9, beta2: 0.99, eps: 1e-8, weightDecay: 0.1 },
    );
    const gs = [
      [0.1, -0.2, 0.3, 0.05],
      [0.2, 0.1, -0.1, 0.4],
      [-0.3, 0.2, 0.1, 0.1],
    ];
    const naive = { p: [0.5, -1, 2, 0.1, 0.3, -0.2], m: [0, 0, 0, 0, 0, 0], v: [0, 0, 0, 0, 0, 0] };
    gs.forEach((g4, t) => {
      const g = [...g4, g4[0] as number, g4[1] as number];
      tf.tidy(() => opt.step({ [w.name]: tf.tensor2d(g4, [2, 2]), [b.name]: tf.tensor1d(g.slice(4)) }, 0.01));
      for (let i = 0; i < 6; i++) {
        const gi = g[i] as number;
        naive.m[i] = 0.9 * (naive.m[i] as number) + 0.1 * gi;
        naive.v[i] = 0.99 * (naive.v[i] as number) + 0.01 * gi * gi;
        const mh = (naive.m[i] as number) / (1 - 0.9 ** (t + 1));
        const vh = (naive.v[i] as number) / (1 - 0.99 ** (t + 1));
        const decayed = i < 4 ? (naive.p[i] as number) * (1 - 0.01 * 0.1) : (naive.p[i] as number);
        naive.p[i] = decayed - (0.01 * mh) / (Math.sqrt(vh) + 1e-8);
      }
    });
    const got = [...w.dataSync(), ...b.dataSync()];
    got.forEach((v, i) => assert.ok(Math.abs(v - (naive.p[i] as number)) < 1e-6, `param ${i}: ${v} vs ${naive.p[i]}`));
    const { grads, norm } = clipByGlobalNorm({ a: tf.tensor1d([3, 4]) }, 1);
    assert.ok(Math.abs((norm.dataSync()[0] as number) - 5) < 1e-6);
    assert.ok(Math.abs((grads['a'] as tf.Tensor).dataSync()[1]! - 0.8) < 1e-5);
    tf.dispose([w, b, norm, ...Object.values(grads)]);
    opt.dispose();
  });

  for (const packing of ['multi', 'single'] as const) {
    it(`GradCache gives the full-batch gradients (${packing} packing, ≤ 1e-4 relative)`, async () => {
      const model = Embedder.create(config, tokenizer, 5);
      const c = cfg({ packing });
      const packed = packStep(model, records.slice(0, 6), c, 0);
      const opts = { loss: c.loss, chunkSize: null, maxLen: c.maxLen, seed: 1 };
      const full = await fullBatchStep(model, packed, opts);
      const cached = await gradCacheStep(model, packed, { ...opts, chunkSize: 2 });
      assert.ok(Math.abs(full.values.loss - cached.values.loss) < 1e-5);
      const names = Object.keys(full.grads);
      assert.deepEqual(Object.keys(cached.grads).sort(), [...names].sort());
      const rel = maxRelDiff(
        names.map((n) => Float32Array.from(full.grads[n]!.dataSync())),
        names.map((n) => Float32Array.from(cached.grads[n]!.dataSync())),
      );
      assert.ok(rel <= 1e-4, `relative difference ${rel}`);
      tf.dispose([...Object.values(full.grads), ...Object.values(cached.grads)]);
      model.dispose();
    });
  }

  it('masking duplicate targets: the same step and GradCache, a lower loss when answers repeat, pretrain only', async () => {
    const model = Embedder.create(config, tokenizer, 5);
    // Records 0–2 share their answers with records 3–5: every target has a same-text false negative.
    const twins = records.slice(0, 3).map((r, i) => ({ ...r, id: `twin${i}`, image: (records[i + 3] as TrainRecord).image }));
    const batch = [...records.slice(0, 3), ...twins];
    const c = cfg({ packing: 'multi', loss: { temperature: 0.1, maskDuplicateTargets: true } });
    const packed = packStep(model, batch, c, 0);
    const opts = { loss: c.loss, chunkSize: null, maxLen: c.maxLen, seed: 1 };
    const full = await fullBatchStep(model, packed, opts);
    const cached = await gradCacheStep(model, packed, { ...opts, chunkSize: 2 });
    const plain = await fullBatchStep(model, packed, { ...opts, loss: { ...c.loss, maskDuplicateTargets: false } });
    assert.ok(Math.abs(full.values.loss - cached.values.loss) < 1e-5);
    assert.ok(full.values.loss < plain.values.loss - 1e-3, `masked ${full.values.loss} vs plain ${plain.values.loss}`);
    const names = Object.keys(full.grads);
    const rel = maxRelDiff(
      names.map((n) => Float32Array.from(full.grads[n]!.dataSync())),
      names.map((n) => Float32Array.from(cached.grads[n]!.dataSync())),
    );
    assert.ok(rel <= 1e-4, `relative difference ${rel}`);
    tf.dispose([...Object.values(full.grads), ...Object.values(cached.grads), ...Object.values(plain.grads)]);
    model.dispose();
    assert.throws(
      () => trainConfig({ loss: { objective: 'finetune', maskDuplicateTargets: true } }),
      /maskDuplicateTargets applies to the 'pretrain' objective/,
    );
    assert.throws(() => trainConfig({ loss: { symmetric: true, maskDuplicateTargets: true } }), /loss.symmetric false/);
  });

  it('fine-tuning objective: the reconstruction loss trains through the same step', async () => {
    const model = Embedder.create(config, tokenizer, 5);
    const c = cfg({ loss: { objective: 'finetune', temperature: 0.1 } });
    const packed = packStep(model, records.slice(0, 4), c, 0);
    assert.equal(packed.groups.length, 8); // two embeddings per sequence
    const { values, grads } = await computeStep(model, packed, { loss: c.loss, chunkSize: null, maxLen: c.maxLen, seed: 1 });
    assert.deepEqual(Object.keys(values.parts).sort(), ['q_p', 'q_p_', 'qp', 'qp_']);
    assert.ok(Number.isFinite(values.loss));
    tf.dispose(Object.values(grads));
    model.dispose();
  });

  it('fine-tuning objective: a sequence over maxLen keeps both embeddings (its counterpart is cut), else a clear error', async () => {
    const model = Embedder.create(config, tokenizer, 5);
    const loose = cfg({ loss: { objective: 'finetune', temperature: 0.1 } });
    const free = packStep(model, records.slice(0, 4), loose, 0);
    const maxLen = Math.max(...free.query.concat(free.target).map((x) => x.ids.length)) - 2;
    const c = cfg({ maxLen, loss: { objective: 'finetune', temperature: 0.1 } });
    const packed = packStep(model, records.slice(0, 4), c, 0);
    packed.query.concat(packed.target).forEach((x) => assert.ok(x.ids.length <= maxLen && x.embPositions.length === 2));
    const { values, grads } = await computeStep(model, packed, { loss: c.loss, chunkSize: null, maxLen, seed: 1 });
    assert.ok(Number.isFinite(values.loss));
    tf.dispose(Object.values(grads));
    // Packed without the limit, collation would drop the longest sequence's subsequent turn: the step refuses it.
    const before = tf.memory().numTensors;
    await assert.rejects(
      computeStep(model, free, { loss: c.loss, chunkSize: null, maxLen, seed: 1 }),
      new RegExp(`has ${maxLen + 2} tokens, over maxLen ${maxLen}: it would lose its subsequent turn`),
    );
    assert.equal(tf.memory().numTensors, before, 'no tensors leak from the failed step');
    model.dispose();
  });

  for (const packing of ['multi', 'single'] as const) {
    it(`training the tiny model lowers the loss and raises in-batch accuracy (${packing})`, async () => {
      const model = Embedder.create(config, tokenizer, 11);
      const { records: log } = await train(model, data, cfg({ steps: 60, packing, schedule: { lr: 1e-3, warmupSteps: 5 } }), { progress: 'none' });
      const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;
      if (process.env['MUCO_TEST_VERBOSE']) console.log(log.map((r) => `${r.loss.toFixed(3)}/${r.accuracy.toFixed(2)}`).join(' '));
      const first = log.slice(0, 5);
      const last = log.slice(-5);
      assert.ok(
        mean(last.map((r) => r.loss)) < 0.8 * mean(first.map((r) => r.loss)),
        `loss ${mean(first.map((r) => r.loss))} → ${mean(last.map((r) => r.loss))}`,
      );
      assert.ok(
        mean(last.map((r) => r.accuracy)) > mean(first.map((r) => r.accuracy)) + 0.2,
        `accuracy ${mean(first.map((r) => r.accuracy))} → ${mean(last.map((r) => r.accuracy))}`,
      );
      model.dispose();
    });
  }

  it('a run killed after step N and resumed reaches the parameters of an uninterrupted run', async () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'muco-train-'));
    const c = cfg({ steps: 6, checkpointEvery: 2, chunkSize: 4 });
    const a = Embedder.create(config, tokenizer, 9);
    await train(a, data, c, { runDir: path.join(root, 'a'), progress: 'none' });
    const b = Embedder.create(config, tokenizer, 9);
    const first = await train(b, data, c, { runDir: path.join(root, 'b'), progress: 'none', stopAfter: 3 });
    assert.equal(first.steps, 3);
    b.dispose();
    const b2 = Embedder.create(config, tokenizer, 123); // different init: everything must come from the checkpoint
    const second = await train(b2, data, c, { runDir: path.join(root, 'b'), progress: 'none' });
    assert.equal(second.resumedFrom, 2);
    assert.ok(maxRelDiff(snapshot(a), snapshot(b2)) < 1e-5);
    const logLines = fs
      .readFileSync(path.join(root, 'b', 'log.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { step: number });
    assert.deepEqual(
      logLines.map((l) => l.step),
      [0, 1, 2, 3, 4, 5],
    );
    assert.deepEqual(fs.readdirSync(path.join(root, 'b', 'checkpoints')).sort(), ['step-000004', 'step-000006']);
    a.dispose();
    b2.dispose();
    fs.rmSync(root, { recursive: true });
  });

  it('stops with a clear error on a non-finite loss and saves nothing corrupt', async () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'muco-nan-'));
    const model = Embedder.create(config, tokenizer, 2);
    const w = model.params.get('lm.norm') as tf.Variable;
    w.assign(tf.fill(w.shape, NaN));
    await assert.rejects(
      train(model, data, cfg({ checkpointEvery: 1 }), { runDir: root, progress: 'none' }),
      (err: Error) => err instanceof NonFiniteLossError && /Non-finite loss \(NaN\) at step 0/.test(err.message),
    );
    assert.equal(fs.existsSync(path.join(root, 'checkpoints')), false);
    model.dispose();
    fs.rmSync(root, { recursive: true });
  });

  it('damaged checkpoints are named errors, and resuming skips a damaged newest one for the one before', async () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'muco-corrupt-'));
    const model = Embedder.create(config, tokenizer, 2);
    await train(model, data, cfg({ steps: 4, checkpointEvery: 2 }), { runDir: root, progress: 'none' });
    model.dispose();
    const ckpt = (step: number): string => path.join(root, 'checkpoints', `step-00000${step}`);
    const weights = path.join(ckpt(4), 'weights.bin');
    const good = fs.readFileSync(weights);
    const load = (): Promise<unknown> => loadCheckpoint(ckpt(4)).then((c) => c.embedder.dispose());
    fs.writeFileSync(weights, good.subarray(0, good.length - 100));
    await assert.rejects(load(), (e: Error) => e.message.includes(weights) && /truncated/.test(e.message));
    fs.writeFileSync(weights, Buffer.concat([good, Buffer.alloc(64)]));
    await assert.rejects(load(), (e: Error) => e.message.includes(weights) && /over-long/.test(e.message));
    const altered = Buffer.from(good);
    altered[10] = (altered[10] as number) ^ 0xff;
    fs.writeFileSync(weights, altered);
    await assert.rejects(load(), (e: Error) => e.message.includes(weights) && /SHA-256/.test(e.message));
    fs.writeFileSync(weights, good);
    const modelJson = path.join(ckpt(4), 'model.json');
    const json = fs.readFileSync(modelJson, 'utf8');
    fs.writeFileSync(modelJson, json.slice(0, 50));
    await assert.rejects(load(), (e: Error) => e.message.includes(modelJson) && /not valid JSON/.test(e.message));
    fs.writeFileSync(modelJson, json);
    const optimizer = path.join(ckpt(4), 'optimizer.bin');
    fs.writeFileSync(optimizer, fs.readFileSync(optimizer).subarray(0, 8));
    // Resume: step 4's optimizer state is damaged, so training continues from step 2 (and redoes steps 2–5).
    const again = Embedder.create(config, tokenizer, 2);
    const summary = await train(again, data, cfg({ steps: 6, checkpointEvery: 2 }), { runDir: root, progress: 'none' });
    assert.equal(summary.resumedFrom, 2);
    again.dispose();
    // Nothing loads: the newest checkpoint's error is reported.
    for (const step of [4, 6]) fs.writeFileSync(path.join(ckpt(step), 'weights.bin'), Buffer.alloc(8));
    const third = Embedder.create(config, tokenizer, 2);
    await assert.rejects(
      train(third, data, cfg({ steps: 8, checkpointEvery: 2 }), { runDir: root, progress: 'none' }),
      /No checkpoint of .* loads; the newest fails with: .*step-000006.*truncated/,
    );
    third.dispose();
    fs.rmSync(root, { recursive: true });
  });

  it('never checkpoints exploded weights, and its advice fits the config', async () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'muco-explode-'));
    const model = Embedder.create(config, tokenizer, 2);
    // lr = 1e30: step 0's loss is finite but its update throws the weights to ~1e30.
    const c = cfg({ checkpointEvery: 1, clipNorm: 1, schedule: { lr: 1e30, warmupSteps: 1 } });
    await assert.rejects(
      train(model, data, c, { runDir: root, progress: 'none' }),
      (err: Error) =>
        err instanceof NonFiniteLossError &&
        /diverged/.test(err.message) &&
        /clipping is on at train.clipNorm = 1/.test(err.message) &&
        !/set train.clipNorm/.test(err.message),
    );
    assert.deepEqual(fs.existsSync(path.join(root, 'checkpoints')) ? fs.readdirSync(path.join(root, 'checkpoints')) : [], []);
    assert.ok(!((await maxAbsWeight(model)) <= EXPLODED_WEIGHT));
    model.dispose();
    const fresh = Embedder.create(config, tokenizer, 2);
    const m = await maxAbsWeight(fresh);
    assert.ok(m > 0 && m < 10, `a fresh model's largest weight ${m}`);
    (fresh.params.get('lm.norm') as tf.Variable).assign(tf.fill((fresh.params.get('lm.norm') as tf.Variable).shape, NaN));
    assert.ok(Number.isNaN(await maxAbsWeight(fresh)));
    fresh.dispose();
    fs.rmSync(root, { recursive: true });
  });

  for (const chunkSize of [null, 3]) {
    it(`leaks no tensors per step after a warm-up step (${chunkSize === null ? 'full batch' : 'GradCache'})`, async () => {
      const model = Embedder.create(config, tokenizer, 4);
      const counts: number[] = [];
      const before = tf.memory().numTensors;
      await train(model, data, cfg({ steps: 4, chunkSize, learnTemperature: true }), {
        progress: 'none',
        hooks: { onStep: () => void counts.push(tf.memory().numTensors) },
      });
      assert.equal(counts[3], counts[1], `tensors per step: ${counts.join(', ')}`);
      const own = model.variables().length;
      model.dispose();
      assert.equal(tf.memory().numTensors, before - own, 'train() must release its optimizer state and temperature');
    });
  }
});
