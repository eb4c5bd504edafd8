import { strict as assert } from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../lib/backend';
import { collate } from '../lib/batch';
import { modelConfig } from '../lib/model/config';
import { Embedder } from '../lib/model/embedder';
import { patchTensor } from '../lib/model/vision';
import { GROUP_QUESTION, majorityAnswers, ProbeRecord, probeQuestions, styleNamed } from '../lib/pretrain/evaluate';
import type { TrainingRecord } from '../lib/data/m3t';
import { generate } from '../lib/pretrain/generate';
import { answerTargets, generativeLoss } from '../lib/pretrain/objective';
import { packGenerative, renderPrompt, renderQa } from '../lib/pretrain/packing';
import { generativeStep, pretrain, pretrainConfig, PretrainConfig } from '../lib/pretrain/train';
import { alignVisionTower, AlignRecord, checkTowerShapes } from '../lib/pretrain/align';
import { DEFAULT_ALIGN, resolveBaseRun } from '../lib/pretrain/run';
import { DualEncoder, dualEncoderConfig, isTowerParameter } from '../lib/baselines/dual-encoder';
import { loadDualEncoder } from '../lib/baselines/dual-checkpoint';
import { dualTrainConfig } from '../lib/baselines/train-dual';
import { checkpointDirs } from '../lib/model/checkpoint';
import { layerNorm } from '../lib/model/layers';
import { visionForward } from '../lib/model/vision';
import { Rng } from '../lib/random';
import { SPECIAL_IDS, Tokenizer } from '../lib/tokenizer';
import type { TrainData, TrainRecord } from '../lib/train';

const COLOURS = ['red', 'green', 'blue', 'yellow'];
const RGB: Record<string, [number, number, number]> = { red: [1, 0, 0], green: [0, 1, 0], blue: [0, 0, 1], yellow: [1, 1, 0] };

/** Plain-colour images whose answers need the image: "What colour is it?" → its colour. */
function records(n: number, size: number): TrainRecord[] {
  return Array.from({ length: n }, (_, i) => {
    const colour = COLOURS[i % COLOURS.length] as string;
    const image = new Float32Array(size * size * 3);
    for (let p = 0; p < size * size; p++) image.set(RGB[colour] as [number, number, number], 3 * p);
    return {
      id: `img${i}`,
      image,
      pairs: [
        { query: ['What colour is it?', 'Which colour?'], target: colour },
        { query: 'Is it a picture?', target: 'yes, a plain picture' },
      ],
    };
  });
}

const tokenizer = Tokenizer.fromCorpus(
  records(4, 1).flatMap((r) => r.pairs.flatMap((p) => [p.target, ...(typeof p.query === 'string' ? [p.query] : p.query)])),
);
const config = modelConfig('tiny', { vocabSize: tokenizer.vocabSize });
const data = records(16, config.imageSize);
const trainData: TrainData = { size: data.length, get: (i) => data[i] as TrainRecord };
const imageTokens = config.imageSize ** 2 / config.patchSize ** 2 / 4;

function cfg(o: Parameters<typeof pretrainConfig>[0] = {}): PretrainConfig {
  return pretrainConfig({
    steps: 6,
    imagesPerStep: 8,
    logEvery: 1000,
    evalEvery: null,
    checkpointEvery: null,
    schedule: { kind: 'constant', lr: 1e-2, warmupSteps: 1 },
    ...o,
  });
}

describe('base model (generative pretraining)', function () {
  this.timeout(120_000);
  before(async () => {
    await initBackend({ backend: 'wasm' });
  });
  after(async () => {
    await initBackend({ backend: 'cpu' });
  });

  it('marks exactly the answer tokens and their <|im_end|>; the prompt is the rendering up to the answer', () => {
    const seq = renderQa(
      [
        { question: 'Which colour?', answer: 'red' },
        { question: 'Is it a picture?', answer: 'yes, a plain picture' },
      ],
      true,
      tokenizer,
      { imageTokens },
    );
    const marks = seq.answer as boolean[];
    assert.equal(marks.length, seq.ids.length);
    const marked = seq.ids.filter((_, i) => marks[i]);
    const imEnds = marked.filter((id) => id === SPECIAL_IDS.imEnd).length;
    assert.equal(imEnds, 2);
    assert.equal(tokenizer.decode(marked.filter((id) => id !== SPECIAL_IDS.imEnd)), 'redyes, a plain picture');
    const prompt = renderPrompt('Which colour?', true, tokenizer, { imageTokens });
    assert.deepEqual(prompt.ids, seq.ids.slice(0, prompt.ids.length));
    assert.equal(marks[prompt.ids.length], true, 'the first token after the prompt is the first answer token');
    assert.equal(marks[prompt.ids.length - 1], false);
  });

  it('answer targets: row b·T + p − 1 predicts token p (naive twin), after padding', () => {
    const packed = packGenerative(data.slice(0, 3), tokenizer, new Rng(1), { turns: null, imageTokens });
    const batch = collate(packed.sequences, {});
    const got = answerTargets(
      batch,
      packed.sequences.map((s) => s.answer ?? []),
    );
    const rows: number[] = [];
    const ids: number[] = [];
    packed.sequences.forEach((s, b) =>
      s.ids.forEach((id, p) => {
        if (p > 0 && s.answer?.[p] === true) {
          rows.push(b * batch.seqLen + p - 1);
          ids.push(id);
        }
      }),
    );
    assert.deepEqual([...got.rows], rows);
    assert.deepEqual([...got.ids], ids);
  });

  it('the loss is the mean cross-entropy of the answer tokens under the tied head (loop twin)', () => {
    const model = Embedder.create(config, tokenizer, 3);
    const packed = packGenerative(data.slice(0, 2), tokenizer, new Rng(2), { turns: null, imageTokens });
    const batch = collate(packed.sequences, {});
    const targets = answerTargets(
      batch,
      packed.sequences.map((s) => s.answer ?? []),
    );
    const images = packed.images as Float32Array[];
    const [loss, hidden, embed] = tf.tidy(() => {
      const patches = patchTensor(images, config);
      const out = generativeLoss(model, batch, patches, targets);
      return [out.loss.dataSync()[0] as number, model.hidden(batch, patches).dataSync(), (model.params.get('lm.embed') as tf.Variable).dataSync()];
    });
    const d = config.dim;
    let total = 0;
    targets.rows.forEach((row, i) => {
      const logits = Array.from({ length: config.vocabSize }, (_, v) => {
        let s = 0;
        for (let k = 0; k < d; k++) s += (hidden[row * d + k] as number) * (embed[v * d + k] as number);
        return s;
      });
      const max = Math.max(...logits);
      const lse = max + Math.log(logits.reduce((s, x) => s + Math.exp(x - max), 0));
      total += lse - (logits[targets.ids[i] as number] as number);
    });
    assert.ok(Math.abs(loss - total / targets.ids.length) < 1e-4, `${loss} vs ${total / targets.ids.length}`);
    model.dispose();
  });

  it('a step leaks no tensor, and its gradient matches finite differences', async () => {
    const model = Embedder.create(config, tokenizer, 4);
    const c = cfg();
    const warm = await generativeStep(model, data.slice(0, 4), c, 0);
    tf.dispose(Object.values(warm.grads));
    const before = tf.memory().numTensors;
    const { loss, grads } = await generativeStep(model, data.slice(0, 4), c, 0);
    const w = model.params.get('lm.0.wq') as tf.Variable;
    const g = (grads[w.name] as tf.Tensor).dataSync();
    tf.dispose(Object.values(grads));
    assert.equal(tf.memory().numTensors, before);
    const base = w.dataSync().slice();
    const eps = 1e-3;
    for (const i of [1, 77, 500]) {
      const at = async (delta: number): Promise<number> => {
        const v = base.slice();
        v[i] = (v[i] as number) + delta;
        w.assign(tf.tensor(v, w.shape));
        const out = await generativeStep(model, data.slice(0, 4), c, 0);
        tf.dispose(Object.values(out.grads));
        return out.loss;
      };
      const fd = ((await at(eps)) - (await at(-eps))) / (2 * eps);
      assert.ok(Math.abs(fd - (g[i] as number)) <= 2e-3 + 0.05 * Math.abs(fd), `wq[${i}]: autodiff ${g[i]} vs finite difference ${fd}`);
    }
    w.assign(tf.tensor(base, w.shape));
    assert.ok(Number.isFinite(loss));
    model.dispose();
  });

  it('training lowers the loss and teaches the colours; greedy answers are deterministic and stop at <|im_end|>', async () => {
    const model = Embedder.create(config, tokenizer, 5);
    const out = await pretrain(model, trainData, cfg({ steps: 150, schedule: { kind: 'constant', lr: 3e-3, warmupSteps: 10 } }), { progress: 'none' });
    const first = out.records.slice(0, 3).reduce((s, r) => s + r.loss, 0) / 3;
    const last = out.records.slice(-3).reduce((s, r) => s + r.loss, 0) / 3;
    assert.ok(last < 0.5 * first, `loss ${first} → ${last}`);
    const questions = data.slice(0, 4).map((r) => ({ question: 'What colour is it?', image: r.image as Float32Array }));
    const answers = generate(model, questions, { maxNewTokens: 12 });
    assert.deepEqual(answers, generate(model, questions, { maxNewTokens: 12 }));
    assert.deepEqual(answers, COLOURS, 'each image gets its own colour, and decoding stops after it');
    model.dispose();
  });

  it('resumes exactly: 3 steps, stop, 3 more = 6 straight', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pretrain-'));
    try {
      const c = cfg({ checkpointEvery: 3 });
      const a = Embedder.create(config, tokenizer, 6);
      await pretrain(a, trainData, c, { runDir: path.join(dir, 'a'), progress: 'none', stopAfter: 3 });
      a.dispose();
      const resumed = Embedder.create(config, tokenizer, 6);
      const r = await pretrain(resumed, trainData, c, { runDir: path.join(dir, 'a'), progress: 'none' });
      assert.equal(r.resumedFrom, 3);
      const straight = Embedder.create(config, tokenizer, 6);
      await pretrain(straight, trainData, c, { progress: 'none' });
      for (const [name, v] of resumed.params) assert.deepEqual(v.dataSync(), (straight.params.get(name) as tf.Variable).dataSync(), name);
      const lines = fs
        .readFileSync(path.join(dir, 'a', 'log.jsonl'), 'utf8')
        .trim()
        .split('\n');
      assert.deepEqual(
        lines.map((l) => (JSON.parse(l) as { step: number }).step),
        [0, 1, 2, 3, 4, 5],
      );
      resumed.dispose();
      straight.dispose();
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('reads the drawing style a description names', () => {
    assert.equal(styleNamed('grinning face: an emoji, drawn in the glossy Noto Emoji style. It is'), 'noto');
    assert.equal(styleNamed('Flag of France, drawn in the flag-icons 4:3 rendering.'), 'flag-icons');
    assert.equal(styleNamed('a face'), null);
  });

  it('probe questions: colour from the English region-colour turn, group of every emoji image from its description, style from the description turn', () => {
    const rec = (id: string, concept: string, style: string, sentence: string, turns: [string, string, string, string, string][]): ProbeRecord => ({
      record: {
        id,
        concept,
        style,
        querySentence: sentence,
        queryImagePath: 'x.png',
        targetImagePath: '',
        source: { file: '', row: 0 },
        negatives: [],
        group: id,
        turns: turns.map(([kind, , , q, t]) => ({ kind, query: q, target: t, targetSentence: '' })),
      } as TrainingRecord,
      facets: turns.map((t) => t[1]),
      langs: turns.map((t) => t[2]),
      image: new Float32Array(3),
    });
    const smile = rec('a', 'emoji:1F600', 'noto', 'grinning face: an emoji of the smileys & emotion group (smiling), drawn in the glossy Noto Emoji style.', [
      ['vqa_local1', 'colour:top', 'en', 'Which colour is the top?', 'yellow'],
      ['vqa_local2', 'colour:left', 'fi', 'Mikä väri?', 'keltainen'],
      ['retrieval', 'description', 'en', 'Describe it.', 'grinning face: …'],
    ]);
    const flag = rec('b', 'flag:FR', 'flag-icons', 'Flag of France, drawn in the flag-icons 4:3 rendering.', [
      ['retrieval', 'description', 'en', 'Describe this flag.', 'Flag of France …'],
    ]);
    const qs = probeQuestions([smile, flag], 10);
    assert.deepEqual(
      qs.map((q) => [q.task, q.question, q.expected]),
      [
        ['group', GROUP_QUESTION, 'smileys & emotion'],
        ['colour', 'Which colour is the top?', 'yellow'],
        ['style', 'Describe it.', 'noto'],
        ['style', 'Describe this flag.', 'flag-icons'],
      ],
    );
    assert.equal(probeQuestions([smile, flag], 1).length, 3, 'at most perTask of each task');
    assert.deepEqual(majorityAnswers([smile, flag, flag]), { colour: 'yellow', group: 'smileys & emotion', style: 'flag-icons' });
  });

  it('rejects bad settings by name', () => {
    assert.throws(() => pretrainConfig({ steps: 2.5 }), /pretrain.steps must be a positive integer/);
    assert.throws(() => pretrainConfig({ schedule: { lr: -1 } }), /pretrain.schedule.lr must be > 0/);
    assert.throws(() => pretrainConfig({ stepz: 3 } as never), /stepz/);
  });

  describe('stage 0: the vision tower aligned contrastively (lib/pretrain/align.ts)', () => {
    /** Plain images of four colours at two brightnesses, each with a retrieval turn naming both and a turn stage 0 must skip. */
    function alignRecords(n: number): AlignRecord[] {
      const rng = new Rng(3);
      return Array.from({ length: n }, (_, i) => ({
        id: `a${i}`,
        image: Float32Array.from(
          { length: config.imageSize ** 2 * 3 },
          (_, k) => ((RGB[COLOURS[i % 4] as string] as number[])[k % 3] as number) * (i < 4 ? 1 : 0.4) + 0.05 * rng.next(),
        ),
        turns: [
          { kind: 'retrieval', query: 'Find a description of this picture.', target: `a picture of a ${COLOURS[i % 4]} thing ${i < 4 ? 'yes' : 'plain'}` },
          { kind: 'cls', query: 'What colour is it?', target: 'red' },
        ],
      }));
    }
    const dualTiny = () =>
      dualEncoderConfig({ imageTower: 'vision', visionPreset: 'tiny', imageSize: config.imageSize, normalization: 'unit', tokenDim: 8, textHidden: 8, dim: 8 });

    it("the dual encoder's `vision` tower has exactly the embedder's tower parameters, and embeds as mean(tokens) → LayerNorm → linear", () => {
      const dual = DualEncoder.create(dualTiny(), tokenizer, 5);
      const model = Embedder.create(config, tokenizer, 5);
      try {
        const towerNames = [...model.params.keys()].filter(isTowerParameter).sort();
        assert.ok(towerNames.length > 10);
        assert.deepEqual([...dual.params.keys()].filter(isTowerParameter).sort(), towerNames);
        assert.doesNotThrow(() => checkTowerShapes(dual, model));
        const images = alignRecords(3).map((r) => r.image);
        const got = dual.imageTower(images);
        const want = tf.tidy(() => {
          const tokens = visionForward(dual.params, modelConfig('tiny'), patchTensor(images, modelConfig('tiny')));
          const pooled = tf.div(tf.sum(tokens, 1), tokens.shape[1] as number);
          const normed = layerNorm(pooled, dual.params.get('image.norm.g') as tf.Variable, dual.params.get('image.norm.b') as tf.Variable, 1e-5);
          return tf.add(tf.matMul(normed, dual.params.get('image.proj.w') as tf.Variable), dual.params.get('image.proj.b') as tf.Variable);
        });
        assert.deepEqual(got.shape, [3, 8]);
        const [a, b] = [got.dataSync(), want.dataSync()];
        a.forEach((x, i) => assert.ok(Math.abs(x - (b[i] as number)) < 1e-5, `row value ${i}: ${x} vs ${b[i]}`));
        tf.dispose([got, want]);
      } finally {
        dual.dispose();
        model.dispose();
      }
    });

    it("rejects a `vision` tower whose image size or pixels differ from the embedder's, and a tower of another shape", () => {
      assert.throws(
        () => dualEncoderConfig({ imageTower: 'vision', visionPreset: 'tiny', imageSize: 32, normalization: 'unit' }),
        /imageSize \(32\) must equal the 'tiny' preset's model.imageSize \(16\)/,
      );
      assert.throws(
        () => dualEncoderConfig({ imageTower: 'vision', visionPreset: 'tiny', imageSize: 16, normalization: 'clip' }),
        /normalization must be 'unit'/,
      );
      assert.throws(() => dualEncoderConfig({ imageTower: 'vit' as never }), /imageTower must be one of conv, vision/);
      const dual = DualEncoder.create(dualTiny(), tokenizer, 5);
      const wider = Embedder.create(modelConfig('tiny', { vocabSize: tokenizer.vocabSize, visionDim: 48, visionHeads: 2 }), tokenizer, 5);
      try {
        assert.throws(() => checkTowerShapes(dual, wider), /vision\.pos is \[16, 32\] in the aligned tower but \[16, 48\] in the embedder.*align=null/);
      } finally {
        dual.dispose();
        wider.dispose();
      }
    });

    it('trains the tower on retrieval turns only (the loss falls) and copies exactly it into the embedder, leaving the rest as initialised', async () => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'muco-align-'));
      const model = Embedder.create(config, tokenizer, 9);
      const before = new Map([...model.params].map(([k, v]) => [k, v.dataSync().slice()]));
      const tensors = tf.memory().numTensors;
      try {
        const train = dualTrainConfig({
          steps: 40,
          batchSize: 8,
          logEvery: 1000,
          checkpointEvery: null,
          schedule: { kind: 'constant', lr: 1e-2, warmupSteps: 1 },
          augment: { maxShift: 0 },
        });
        const out = await alignVisionTower(model, 'tiny', tokenizer, alignRecords(8), train, { dir, validation: null, progress: 'none' });
        assert.equal(out.steps, 40);
        assert.equal(tf.memory().numTensors, tensors, 'no tensor leaked');
        const losses = fs
          .readFileSync(path.join(dir, 'log.jsonl'), 'utf8')
          .trim()
          .split('\n')
          .map((l) => (JSON.parse(l) as { loss: number }).loss);
        const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;
        assert.ok(mean(losses.slice(-5)) < mean(losses.slice(0, 5)) - 0.3, `loss ${mean(losses.slice(0, 5))} → ${mean(losses.slice(-5))}`);
        const { model: saved } = await loadDualEncoder(checkpointDirs(dir).at(-1)?.dir as string);
        try {
          for (const [name, v] of model.params) {
            const now = v.dataSync();
            if (isTowerParameter(name))
              assert.deepEqual(Array.from(now), Array.from((saved.params.get(name) as tf.Variable).dataSync()), `${name} is the aligned tower's`);
            else assert.deepEqual(Array.from(now), Array.from(before.get(name) as Float32Array), `${name} is untouched`);
          }
        } finally {
          saved.dispose();
        }
      } finally {
        model.dispose();
        fs.rmSync(dir, { recursive: true, force: true });
      }
    });

    it('is on by default in a base run (`align: null` turns it off) and refuses data without enough retrieval turns', async () => {
      assert.equal(resolveBaseRun().align?.steps, DEFAULT_ALIGN.steps);
      assert.equal(resolveBaseRun({ align: null }).align, null);
      assert.equal(resolveBaseRun({ align: { steps: 7 } }).align?.steps, 7);
      const model = Embedder.create(config, tokenizer, 9);
      try {
        const noRetrieval = alignRecords(8).map((r) => ({ ...r, turns: r.turns.filter((t) => t.kind !== 'retrieval') }));
        await assert.rejects(
          alignVisionTower(model, 'tiny', tokenizer, noRetrieval, dualTrainConfig({ batchSize: 8 }), {
            dir: fs.mkdtempSync(path.join(os.tmpdir(), 'muco-align-')),
            validation: null,
            progress: 'none',
          }),
          /needs at least train.batchSize \(8\) training images with a 'retrieval' turn; found 0/,
        );
      } finally {
        model.dispose();
      }
    });
  });
});
