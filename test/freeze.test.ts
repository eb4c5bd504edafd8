import { strict as assert } from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../lib/backend';
import { FREEZE_KINDS, isFrozen, trainableParams } from '../lib/freeze';
import { modelConfig } from '../lib/model/config';
import { Embedder } from '../lib/model/embedder';
import { parameterSpecs } from '../lib/model/params';
import { fullBatchStep, gradCacheStep } from '../lib/step';
import { packStep, train, trainConfig, TrainConfig, TrainData, TrainRecord } from '../lib/train';
import { Tokenizer } from '../lib/tokenizer';
import { Rng } from '../lib/random';

/** Images of one of four colours with a question whose answer names the colour. */
function fixture(n: number, size: number): TrainRecord[] {
  const colours: [string, number[]][] = [
    ['red', [1, 0, 0]],
    ['green', [0, 1, 0]],
    ['blue', [0, 0, 1]],
    ['yellow', [1, 1, 0]],
  ];
  const rng = new Rng(7);
  return Array.from({ length: n }, (_, i) => {
    const [name, rgb] = colours[i % colours.length] as [string, number[]];
    const image = new Float32Array(size * size * 3).map((_, j) => (rgb[j % 3] as number) * 0.8 + 0.2 * rng.next());
    return {
      id: `img${i}`,
      image,
      caption: `a ${name} square`,
      pairs: [
        { query: 'Which colour?', target: `${name} number ${i}` },
        { query: 'Describe it.', target: `a ${name} square, picture ${i}` },
      ],
    };
  });
}

const tokenizer = Tokenizer.fromCorpus(fixture(16, 4).flatMap((r) => r.pairs.flatMap((p) => [p.target, p.query as string])));
const config = modelConfig('tiny', { vocabSize: tokenizer.vocabSize });
const records = fixture(16, config.imageSize);
const data: TrainData = { size: records.length, get: (i) => records[i] as TrainRecord };

function cfg(overrides: Parameters<typeof trainConfig>[0] = {}): TrainConfig {
  return trainConfig({
    steps: 4,
    imagesPerStep: 8,
    turns: 2,
    logEvery: 1000,
    seed: 1,
    loss: { temperature: 0.1 },
    schedule: { lr: 3e-3, warmupSteps: 1 },
    ...overrides,
  });
}

function values(model: Embedder): Map<string, Float32Array> {
  return new Map([...model.params.entries()].map(([n, v]) => [n, Float32Array.from(v.dataSync())]));
}

describe('frozen parameters (train.freeze)', function () {
  this.timeout(120_000);
  before(async () => {
    await initBackend({ backend: 'wasm' });
  });
  after(async () => {
    await initBackend({ backend: 'cpu' });
  });

  it('freezes exactly the tower, or the tower and the projector (naive twin over the parameter list)', () => {
    const names = parameterSpecs(config).map((s) => s.name);
    const naive = (name: string, kind: string | null): boolean =>
      kind === 'tower' ? name.split('.')[0] === 'vision' : kind === 'vision' ? ['vision', 'merger'].includes(name.split('.')[0] as string) : false;
    for (const kind of [null, ...FREEZE_KINDS]) {
      for (const n of names) assert.equal(isFrozen(n, kind), naive(n, kind), `${n} under ${kind}`);
    }
    const model = Embedder.create(config, tokenizer, 1);
    assert.equal(trainableParams(model.params, null).length, names.length);
    const lm = trainableParams(model.params, 'vision').map((p) => p.name);
    assert.ok(lm.length > 0 && lm.every((n) => n.startsWith('lm.')), lm.join(', '));
    assert.ok(trainableParams(model.params, 'tower').some((p) => p.name.startsWith('merger.')));
    assert.throws(() => trainableParams(model.params, 'lm' as never), /train\.freeze must be 'tower' or 'vision' or null, got 'lm'/);
    assert.throws(() => cfg({ freeze: 'language' as never }), /train\.freeze must be/);
    model.dispose();
  });

  for (const packing of ['single', 'multi'] as const) {
    it(`the step's gradients are the full model's, restricted to the trained parameters (${packing}; full batch and GradCache)`, async () => {
      const model = Embedder.create(config, tokenizer, 5);
      const c = cfg({ packing });
      const packed = packStep(model, records.slice(0, 6), c, 0);
      const opts = { loss: c.loss, chunkSize: null, maxLen: c.maxLen, seed: 1 };
      const before = tf.memory().numTensors;
      const all = await fullBatchStep(model, packed, opts);
      const trained = trainableParams(model.params, 'vision');
      const variables = trained.map((p) => p.variable);
      const frozen = await fullBatchStep(model, packed, { ...opts, variables });
      const cached = await gradCacheStep(model, packed, { ...opts, chunkSize: 2, variables });
      const keep = variables.map((v) => v.name).sort();
      assert.deepEqual(Object.keys(frozen.grads).sort(), keep);
      assert.deepEqual(Object.keys(cached.grads).sort(), keep);
      assert.ok(Math.abs(all.values.loss - frozen.values.loss) < 1e-6);
      for (const name of keep) {
        const want = all.grads[name]!.dataSync();
        const norm = (x: ArrayLike<number>): number => Math.sqrt(Array.from(x).reduce((a, v) => a + v * v, 0));
        for (const got of [frozen.grads[name]!.dataSync(), cached.grads[name]!.dataSync()]) {
          const rel = norm(Array.from(got, (g, i) => g - (want[i] as number))) / Math.max(norm(want), 1e-9);
          assert.ok(rel <= 1e-4, `${name}: relative difference ${rel}`);
        }
      }
      tf.dispose([...Object.values(all.grads), ...Object.values(frozen.grads), ...Object.values(cached.grads)]);
      assert.equal(tf.memory().numTensors, before);
      model.dispose();
    });
  }

  it('training leaves frozen parameters bit-identical, moves the others, lowers the loss and resumes exactly', async () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'muco-freeze-'));
    for (const kind of FREEZE_KINDS) {
      const model = Embedder.create(config, tokenizer, 3);
      const start = values(model);
      const c = cfg({ freeze: kind, steps: 12, checkpointEvery: 6 });
      const before = tf.memory().numTensors;
      const summary = await train(model, data, c, { runDir: path.join(root, kind), progress: 'none' });
      assert.equal(tf.memory().numTensors, before, 'training leaked tensors');
      const end = values(model);
      for (const [name, v] of start) {
        const same = v.every((x, i) => x === (end.get(name) as Float32Array)[i]);
        assert.equal(same, isFrozen(name, kind), `${name} under ${kind}: ${same ? 'unchanged' : 'changed'}`);
      }
      const losses = summary.records.map((r) => r.loss);
      const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;
      assert.ok(mean(losses.slice(-4)) < mean(losses.slice(0, 4)), `loss ${losses.map((l) => l.toFixed(3)).join(' ')}`);
      // Killed after step 6 and resumed: the same weights as the uninterrupted run.
      const resumed = Embedder.create(config, tokenizer, 3);
      await train(resumed, data, c, { runDir: path.join(root, `${kind}-b`), progress: 'none', stopAfter: 6 });
      resumed.dispose();
      const again = Embedder.create(config, tokenizer, 3);
      await train(again, data, c, { runDir: path.join(root, `${kind}-b`), progress: 'none' });
      for (const [name, v] of values(again)) {
        const want = end.get(name) as Float32Array;
        assert.ok(
          v.every((x, i) => Math.abs(x - (want[i] as number)) <= 1e-5 * Math.max(1, Math.abs(want[i] as number))),
          `${name} after resume`,
        );
      }
      model.dispose();
      again.dispose();
    }
    fs.rmSync(root, { recursive: true });
  });
});
