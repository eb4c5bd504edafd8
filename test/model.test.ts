import { strict as assert } from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { initBackend, tensorsLeftBy } from '../lib/backend';
import { collate } from '../lib/batch';
import { MaskKind, renderDialogue, TEMPLATE_BASE, TEMPLATE_PRETRAIN } from '../lib/dialogue';
import { loadCheckpoint, saveCheckpoint } from '../lib/model/checkpoint';
import { MODEL_PRESETS, ModelConfig, modelConfig, parameterCount, memoryEstimate } from '../lib/model/config';
import { Embedder } from '../lib/model/embedder';
import { patchify, patchTensor } from '../lib/model/vision';
import { Rng } from '../lib/random';
import { Tokenizer } from '../lib/tokenizer';

const CORPUS = [
  'What is shown here? A red apple on a table.',
  'Which colour dominates? Mostly red and green.',
  'Name the fruit. apple',
  'Describe the scene in detail.',
  'Où est la pomme ? Sur la table.',
];

const tokenizer = Tokenizer.fromCorpus(CORPUS);
const config: ModelConfig = modelConfig('tiny', { vocabSize: tokenizer.vocabSize });

function image(seed: number): Float32Array {
  const rng = new Rng(seed);
  return Float32Array.from({ length: config.imageSize * config.imageSize * 3 }, () => rng.next());
}

function render(turns: string[], withImage: boolean, maskKind: MaskKind = 'causal') {
  const template = turns.length === 1 ? TEMPLATE_BASE : TEMPLATE_PRETRAIN;
  return renderDialogue(template, { turns, image: withImage }, tokenizer, { imageTokens: config.imageSize ** 2 / config.patchSize ** 2 / 4, maskKind });
}

/** Embeddings (as nested arrays, one row per <|emb|>) of dialogues that all carry the same kind of image. */
function embedRows(model: Embedder, dialogues: string[][], images: Float32Array[] | null, maskKind: MaskKind = 'causal'): number[][] {
  const batch = collate(dialogues.map((d) => render(d, images !== null, maskKind)));
  return tf.tidy(() => {
    const patches = images === null ? null : patchTensor(images, config);
    const { embeddings } = model.embed(batch, patches);
    return embeddings.arraySync() as number[][];
  });
}

function maxDiff(a: number[], b: number[]): number {
  return Math.max(...a.map((x, i) => Math.abs(x - (b[i] as number))));
}

const TURNS = ['What is shown here?', 'Which colour dominates?', 'Name the fruit.', 'Describe the scene in detail.'];

describe('model: the MLLM embedder', function () {
  this.timeout(60_000);
  let model: Embedder;
  before(async () => {
    await initBackend({ backend: 'cpu' });
    model = Embedder.create(config, tokenizer, 7);
  });
  after(() => model.dispose());

  it('the tiny preset has < 1 M parameters and the analytic count matches the variables', () => {
    assert.equal(parameterCount(config).total, model.parameterCount());
    assert.ok(parameterCount(MODEL_PRESETS.tiny).total < 1e6);
    for (const preset of ['small', 'base'] as const) {
      const c = MODEL_PRESETS[preset];
      assert.ok(memoryEstimate(c, { sequences: 8, seqLen: 128, images: 8 }) > parameterCount(c).total * 16);
    }
  });

  it('rejects unknown config keys and incompatible sizes with the key named', () => {
    assert.throws(() => modelConfig('tiny', { layerz: 3 } as never), /model\.layerz is not a known setting/);
    assert.throws(() => modelConfig('tiny', { dim: 'big' } as never), /model\.dim must be a number/);
    assert.throws(() => modelConfig('tiny', { patchSize: 3 }), /must be an even integer/);
  });

  it('patchify puts each 2×2 group of patches together (naive twin)', () => {
    const c = config;
    const img = image(3);
    const got = patchify([img], c);
    const p = c.patchSize;
    const grid = c.imageSize / p;
    const want: number[] = [];
    for (let gy = 0; gy < grid / 2; gy++)
      for (let gx = 0; gx < grid / 2; gx++)
        for (const [dy, dx] of [
          [0, 0],
          [0, 1],
          [1, 0],
          [1, 1],
        ])
          for (let y = 0; y < p; y++)
            for (let x = 0; x < p; x++)
              for (let ch = 0; ch < 3; ch++)
                want.push(img[(((2 * gy + (dy as number)) * p + y) * c.imageSize + (2 * gx + (dx as number)) * p + x) * 3 + ch] as number);
    assert.deepEqual(
      Array.from(got),
      want.map((v) => Math.fround(v)),
    );
  });

  for (const kind of ['causal', 'bidirectional', 'isolated'] as const) {
    it(`${kind} mask: one unit-norm embedding per turn, [Σk, D]`, () => {
      const rows = embedRows(model, [TURNS, TURNS.slice(0, 2)], [image(1), image(2)], kind);
      assert.equal(rows.length, 6);
      for (const r of rows) {
        assert.equal(r.length, config.dim);
        assert.ok(Math.abs(Math.hypot(...r) - 1) < 1e-5);
      }
    });
  }

  it('causal: changing turn j+1 leaves turns ≤ j unchanged; bidirectional: it changes them', () => {
    const changed = [...TURNS.slice(0, 2), 'Où est la pomme ?', TURNS[3] as string];
    const img = [image(4), image(4)];
    const causal = embedRows(model, [TURNS, changed], img, 'causal');
    for (const t of [0, 1]) assert.ok(maxDiff(causal[t] as number[], causal[4 + t] as number[]) < 1e-6, `turn ${t} moved`);
    assert.ok(maxDiff(causal[2] as number[], causal[6] as number[]) > 1e-4, 'the changed turn should move');
    const bi = embedRows(model, [TURNS, changed], img, 'bidirectional');
    assert.ok(maxDiff(bi[0] as number[], bi[4] as number[]) > 1e-5, 'bidirectional turn 0 should see the change');
  });

  it('isolated: changing turn i changes no other turn’s embedding', () => {
    const changed = [TURNS[0] as string, 'Où est la pomme ?', ...TURNS.slice(2)];
    const rows = embedRows(model, [TURNS, changed], [image(5), image(5)], 'isolated');
    for (const t of [0, 2, 3]) assert.ok(maxDiff(rows[t] as number[], rows[4 + t] as number[]) < 1e-5, `turn ${t} moved`);
    assert.ok(maxDiff(rows[1] as number[], rows[5] as number[]) > 1e-4);
  });

  it('the image affects every turn’s embedding', () => {
    for (const kind of ['causal', 'isolated'] as const) {
      const a = embedRows(model, [TURNS], [image(6)], kind);
      const b = embedRows(model, [TURNS], [image(8)], kind);
      a.forEach((row, t) => assert.ok(maxDiff(row, b[t] as number[]) > 1e-5, `${kind}: turn ${t} ignores the image`));
    }
  });

  it('a k-turn forward gives the single-turn forward’s first embedding (causal)', () => {
    const multi = embedRows(model, [TURNS], [image(9)]);
    const single = embedRows(model, [[TURNS[0] as string]], [image(9)]);
    assert.ok(maxDiff(multi[0] as number[], single[0] as number[]) < 1e-5);
  });

  it('embedInputs mixes text, image and image+text inputs and leaks no tensors', async () => {
    await model.embedInputs([{ text: 'warm up' }]);
    const { result, leaked } = await tensorsLeftBy(() =>
      model.embedInputs([{ text: 'Name the fruit.' }, { image: image(1) }, { text: 'What is shown here?', image: image(2) }]),
    );
    assert.equal(leaked, 0);
    assert.equal(result.length, 3 * config.dim);
    const viaBatch = embedRows(model, [['What is shown here?']], [image(2)]);
    assert.ok(maxDiff(Array.from(result.subarray(2 * config.dim)), viaBatch[0] as number[]) < 1e-5);
  });

  it('save → load gives identical outputs; a mismatched config or vocabulary is a clear error', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'muco-ckpt-'));
    const ckpt = path.join(dir, 'step-1');
    await saveCheckpoint(ckpt, config, tokenizer, model.params, { step: 1 });
    await saveCheckpoint(ckpt, config, tokenizer, model.params, { step: 1 }); // replaces atomically
    assert.deepEqual(fs.readdirSync(dir), ['step-1']);
    const { embedder, metadata } = await loadCheckpoint(ckpt);
    assert.deepEqual(metadata.extra, { step: 1 });
    const a = embedRows(model, [TURNS], [image(11)]);
    const b = embedRows(embedder, [TURNS], [image(11)]);
    a.forEach((row, i) => assert.deepEqual(row, b[i]));
    embedder.dispose();
    await assert.rejects(loadCheckpoint(ckpt, { expectConfig: { ...config, layers: 3 } }), /another model config \(layers: checkpoint 2 vs expected 3\)/);
    await assert.rejects(loadCheckpoint(ckpt, { expectTokenizer: Tokenizer.fromCorpus(['other words entirely']) }), /another vocabulary/);
    await assert.rejects(loadCheckpoint(path.join(dir, 'nope')), /No checkpoint at/);
    fs.rmSync(dir, { recursive: true });
  });
});

describe('model: wasm and cpu agree', function () {
  this.timeout(60_000);
  after(async () => {
    await initBackend({ backend: 'cpu' });
  });

  async function forwardAndGrads(backend: 'cpu' | 'wasm'): Promise<Float32Array[]> {
    await initBackend({ backend });
    const model = Embedder.create(config, tokenizer, 3);
    const batch = collate([render(TURNS, true), render(TURNS.slice(1), true)]);
    const out = tf.tidy(() => {
      const patches = patchTensor([image(1), image(2)], config);
      const w = tf.tensor(
        Float32Array.from({ length: 7 * config.dim }, (_, i) => Math.sin(i)),
        [7, config.dim],
      );
      const f = (): tf.Scalar => tf.sum(tf.mul(model.embed(batch, patches).embeddings, w));
      const { value, grads } = tf.variableGrads(f, model.variables());
      return [model.embed(batch, patches).embeddings, value, ...model.variables().map((v) => grads[v.name] as tf.Tensor)];
    });
    const arrays = out.map((t) => Float32Array.from(t.dataSync()));
    tf.dispose(out);
    model.dispose();
    return arrays;
  }

  it('on a tiny forward and its gradients (≤ 1e-4 relative)', async () => {
    const cpu = await forwardAndGrads('cpu');
    const wasm = await forwardAndGrads('wasm');
    // Some gradients are zero in exact arithmetic (key biases: softmax is shift-invariant), so each tensor's
    // error is measured against max(its own scale, 1e-3 × the largest gradient).
    const floor = 1e-3 * Math.max(...cpu.slice(2).map((g) => Math.max(...g.map(Math.abs))));
    cpu.forEach((ref, i) => {
      const got = wasm[i] as Float32Array;
      let diff = 0;
      let scale = floor;
      ref.forEach((v, j) => {
        diff = Math.max(diff, Math.abs(v - (got[j] as number)));
        scale = Math.max(scale, Math.abs(v));
      });
      assert.ok(diff / scale <= 1e-4, `tensor ${i}: relative error ${(diff / scale).toExponential(2)}`);
    });
  });
});
