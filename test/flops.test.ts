import { strict as assert } from 'assert';
import * as tf from '@tensorflow/tfjs';
import fc from 'fast-check';
import { BackendName, initBackend } from '../lib/backend';
import { collate } from '../lib/batch';
import { DESCRIBE_PROMPT, RECONSTRUCT_PROMPT, SYSTEM_PROMPT } from '../lib/dialogue';
import {
  dimsOf,
  FlopsCount,
  FlopsDims,
  LanguageTraining,
  M3T_TABLE_A_TOKENS,
  M3T_TARGET_TEXT_TOKENS,
  MMEB_AVERAGE_TOKENS,
  PAPER_TRAINING,
  paperStepShape,
  SequenceShape,
  paperTable5Estimate,
  QWEN2_CHATML_OVERHEAD,
  QWEN2_VL_2B,
  StepShape,
  stepFlops,
  stepShapeFromPacked,
  TrainableParts,
} from '../lib/analysis/flops';
import { modelConfig } from '../lib/model/config';
import { Embedder } from '../lib/model/embedder';
import { patchTensor } from '../lib/model/vision';
import { ImageRecord, PackedBatch, packMultiTurn, packReconstruction, packSingleTurn, sampleSinglePair } from '../lib/packing';
import { Rng } from '../lib/random';
import { DEFAULT_LOSS, LossConfig } from '../lib/loss';
import { batchLoss, fullBatchStep, gradCacheStep, StepOptions } from '../lib/step';
import { Tokenizer } from '../lib/tokenizer';

const ALL_TRAINED: TrainableParts = { vision: true, projector: true, language: 'full', embeddings: true };

function encoderFlops(c: FlopsCount, part: 'forward' | 'backward'): number {
  return Object.entries(c.byComponent).reduce((s, [name, v]) => s + (name === 'loss' ? 0 : v[part]), 0);
}

/** FLOPs of the matrix products tfjs executed, from tf.profile's kernel list: 2·batch·M·N·K per product. */
function executedMatMulFlops(kernels: readonly { name: string; inputShapes: number[][]; outputShapes: number[][] }[]): number {
  let total = 0;
  for (const k of kernels) {
    if (k.name !== 'BatchMatMul' && k.name !== '_FusedMatMul') continue;
    const a = k.inputShapes[0] as number[];
    const out = k.outputShapes[0] as number[];
    const m = out[out.length - 2] as number;
    const n = out[out.length - 1] as number;
    const batch = out.slice(0, -2).reduce((x, y) => x * y, 1);
    const kDim = ((a[a.length - 1] as number) * (a[a.length - 2] as number)) / m; // a is [.., M, K] or [.., K, M]
    total += 2 * batch * m * n * kDim;
  }
  return total;
}

async function profiledMatMulFlops(fn: () => Promise<void> | void): Promise<number> {
  const info = await tf.profile(async () => {
    await fn();
  });
  return executedMatMulFlops(info.kernels as unknown as { name: string; inputShapes: number[][]; outputShapes: number[][] }[]);
}

describe('flops: hand-computed toy', () => {
  // 1-layer toy: patch 12 values → vision width 4 (MLP 8); 2 image tokens = 8 patches; merger 16 → 16 → 6;
  // language width 6, 2 query heads and 1 KV head of width 3, MLP 10. Query: 5 tokens with the image;
  // target: 3 text tokens; one embedding each.
  const toy: FlopsDims = {
    patchValues: 12,
    visionDim: 4,
    visionLayers: 1,
    visionHeads: 2,
    visionMlpDim: 8,
    dim: 6,
    layers: 1,
    heads: 2,
    kvHeads: 1,
    headDim: 3,
    mlpDim: 10,
    vocabSize: 50,
  };
  const shape: StepShape = { query: [{ tokens: 5, image: true, embeddings: 1 }], target: [{ tokens: 3, image: false, embeddings: 1 }], imageTokens: 2 };
  // Forward by hand, 2·m·k·n per product.
  const patchEmbed = 2 * 8 * 12 * 4; // 768
  const visionProj = 4 * (2 * 8 * 4 * 4); // q, k, v, o: 1024
  const visionAttn = 2 * 8 * 4 * 8 + 2 * 8 * 8 * 4; // QKᵀ, A·V: 1024
  const visionMlp = 2 * 8 * 4 * 8 + 2 * 8 * 8 * 4; // 1024
  const projector = 2 * 2 * 16 * 16 + 2 * 2 * 16 * 6; // 1408
  const lmProj = (t: number): number => 2 * t * 6 * 6 + 2 * (2 * t * 6 * 3) + 2 * t * 6 * 6; // q, k and v (GQA: width 3), o
  const lmAttn = (t: number): number => 2 * t * 6 * t * 2; // QKᵀ and A·V over 2 heads of 3
  const lmMlp = (t: number): number => 3 * (2 * t * 6 * 10);
  const loss = 2 * 1 * 6 * 1;

  it('forward of every component, and full training = 2× forward except the pixel-side patch embedding', () => {
    const c = stepFlops(toy, shape, { trainable: ALL_TRAINED });
    const want = {
      'vision.patchEmbed': patchEmbed,
      'vision.projections': visionProj,
      'vision.attention': visionAttn,
      'vision.mlp': visionMlp,
      projector,
      'language.projections': lmProj(5) + lmProj(3),
      'language.attention': lmAttn(5) + lmAttn(3),
      'language.mlp': lmMlp(5) + lmMlp(3),
      'language.lora': 0,
      loss,
    };
    for (const [name, f] of Object.entries(want)) {
      const got = c.byComponent[name as keyof typeof want];
      assert.equal(got.forward, f, `${name} forward`);
      assert.equal(got.backward, name === 'vision.patchEmbed' ? f : 2 * f, `${name} backward`);
    }
    assert.equal(c.forward, 768 + 1024 * 3 + 1408 + 360 + 180 + 180 + 360 + 600 + 1800 + 216 + 108 + 108 + 216 + 216 + 1080 + 12);
    assert.equal(c.total, c.forward + c.backward);
    assert.equal(c.recompute, 0);
  });

  it('frozen vision and merger, LoRA r=2 on the LM, frozen embeddings', () => {
    const c = stepFlops(toy, shape, { trainable: { vision: false, projector: false, language: { lora: 2 }, embeddings: false } });
    for (const name of ['vision.patchEmbed', 'vision.projections', 'vision.attention', 'vision.mlp', 'projector'] as const) {
      assert.equal(c.byComponent[name].backward, 0, `${name}: nothing trainable upstream, no backward`);
    }
    // q, k, v read x0 (no gradient): base weights need nothing; o, w1, w3, w2 need dx only.
    const baseBackward = (t: number): number => 2 * t * 6 * 6 + lmMlp(t);
    assert.equal(c.byComponent['language.projections'].backward, baseBackward(5) - lmMlp(5) + baseBackward(3) - lmMlp(3));
    assert.equal(c.byComponent['language.mlp'].backward, lmMlp(5) + lmMlp(3));
    assert.equal(c.byComponent['language.attention'].backward, 2 * (lmAttn(5) + lmAttn(3)));
    // LoRA per linear (in k, out n): forward 2·t·r·(k+n); backward dB 2trn + dy·Bᵀ 2tnr + dA 2tkr (+ 2trk for dx).
    const linears: [number, number, boolean][] = [
      [6, 6, false],
      [6, 3, false],
      [6, 3, false],
      [6, 6, true],
      [6, 10, true],
      [6, 10, true],
      [10, 6, true],
    ];
    const lora = (t: number, part: 'f' | 'b'): number =>
      linears.reduce((s, [k, n, dx]) => s + (part === 'f' ? 2 * t * 2 * (k + n) : 2 * t * 2 * n * 2 + 2 * t * k * 2 + (dx ? 2 * t * 2 * k : 0)), 0);
    assert.equal(c.byComponent['language.lora'].forward, lora(5, 'f') + lora(3, 'f'));
    assert.equal(c.byComponent['language.lora'].backward, lora(5, 'b') + lora(3, 'b'));
    assert.equal(c.byComponent.loss.backward, 2 * loss);
  });

  it('embeddings default to trained with a fully trained LM only', () => {
    const parts = (language: LanguageTraining): TrainableParts => ({ vision: false, projector: false, language });
    for (const language of ['full', 'frozen', { lora: 2 }] as LanguageTraining[]) {
      const embeddings = language === 'full';
      assert.deepEqual(stepFlops(toy, shape, { trainable: parts(language) }), stepFlops(toy, shape, { trainable: { ...parts(language), embeddings } }));
    }
    assert.ok(
      stepFlops(toy, shape, { trainable: { ...parts('frozen'), embeddings: true } }).backward > stepFlops(toy, shape, { trainable: parts('frozen') }).backward,
    );
  });

  it('recomputation: checkpointing re-runs the ops that back-propagate, GradCache the whole encoder forward', () => {
    const frozen = { vision: false, projector: false, language: 'full' as const, embeddings: true };
    const none = stepFlops(toy, shape, { trainable: frozen });
    const ckpt = stepFlops(toy, shape, { trainable: frozen, recompute: 'checkpoint' });
    const gc = stepFlops(toy, shape, { trainable: frozen, recompute: 'gradCache' });
    const lm = lmProj(5) + lmProj(3) + lmAttn(5) + lmAttn(3) + lmMlp(5) + lmMlp(3);
    assert.equal(ckpt.recompute, lm);
    assert.equal(gc.recompute, none.forward - loss);
    assert.equal(gc.total, none.total + none.forward - loss);
  });

  it('summaries equal the explicit sequence lists, and bad shapes are named', () => {
    const list: StepShape = {
      query: [
        { tokens: 7, image: true, embeddings: 2 },
        { tokens: 7, image: true, embeddings: 2 },
        { tokens: 7, image: false, embeddings: 2 },
      ],
      target: [
        { tokens: 4, image: false, embeddings: 2 },
        { tokens: 4, image: false, embeddings: 2 },
        { tokens: 4, image: false, embeddings: 2 },
      ],
      imageTokens: 2,
    };
    const summary: StepShape = {
      query: { sequences: 3, tokensPerSequence: 7, images: 2, embeddingsPerSequence: 2 },
      target: { sequences: 3, tokensPerSequence: 4, images: 0, embeddingsPerSequence: 2 },
      imageTokens: 2,
    };
    for (const trainable of [ALL_TRAINED, PAPER_TRAINING]) assert.deepEqual(stepFlops(toy, summary, { trainable }), stepFlops(toy, list, { trainable }));
    assert.throws(
      () => stepFlops(toy, { ...summary, query: { sequences: 1, tokensPerSequence: 7, images: 2, embeddingsPerSequence: 1 } }),
      /2 images for 1 sequences/,
    );
    assert.throws(() => stepFlops(toy, { ...shape, imageTokens: 9 }), /query sequence of 5 tokens cannot hold an image of 9 tokens/);
  });
});

describe('flops: agreement with the matrix products the model executes', function () {
  this.timeout(60_000);
  // The prompts in the corpus keep the fine-tuning sequences short (no byte-level fallback).
  const corpus = [
    SYSTEM_PROMPT,
    DESCRIBE_PROMPT,
    RECONSTRUCT_PROMPT,
    'Image description: An apple.',
    'What is shown here? A red apple on a table.',
    'Which colour dominates? Mostly red.',
    'Name the fruit. apple',
  ];
  const tokenizer = Tokenizer.fromCorpus(corpus);
  const config = modelConfig('tiny', { vocabSize: tokenizer.vocabSize });
  const dims = dimsOf(config);
  let model: Embedder;
  let records: ImageRecord[];
  let previousBackend: BackendName = 'cpu';
  const maxLen = config.maxLen;

  before(async () => {
    // wasm: the cpu backend's gather gradient (UnsortedSegmentSum) makes a step ~20× slower; the kernels and
    // their shapes are the same.
    previousBackend = tf.getBackend() as BackendName;
    await initBackend({ backend: 'wasm' });
    model = Embedder.create(config, tokenizer, 11);
    const rng = new Rng(5);
    const pixels = (): Float32Array => Float32Array.from({ length: config.imageSize ** 2 * 3 }, () => rng.next());
    const pairs = [
      { query: 'What is shown here?', target: 'A red apple on a table.' },
      { query: ['Which colour dominates?', 'Which colour?'], target: 'Mostly red.' },
      { query: 'Name the fruit.', target: 'apple' },
    ];
    records = [0, 1, 2].map((i) => ({ id: `r${i}`, image: pixels(), caption: 'An apple.', pairs }));
    records.push({ id: 'text-only', pairs });
  });
  after(async () => {
    model.dispose();
    await initBackend({ backend: previousBackend }); // later test files may rely on the default cpu backend
  });

  const stepOptions = (loss: LossConfig = DEFAULT_LOSS, chunkSize: number | null = null): StepOptions => ({ loss, chunkSize, maxLen, seed: 3 });

  /** Forward of both sides and the loss, as lib/step's full-batch step runs it. */
  function forwardLoss(packed: PackedBatch, loss: LossConfig): tf.Scalar {
    const side = (seqs: PackedBatch['query'], images: unknown[]): tf.Tensor2D => {
      const pix = images.filter((x): x is Float32Array => x instanceof Float32Array);
      return model.embed(collate(seqs, { maxLen }), pix.length > 0 ? patchTensor(pix, config) : null).embeddings;
    };
    return batchLoss(side(packed.query, packed.queryImages), side(packed.target, packed.targetImages), packed, stepOptions(loss)).total;
  }

  function packings(): { name: string; packed: PackedBatch; loss: LossConfig }[] {
    const opts = { imageTokens: model.imageTokens };
    const finetune = { ...DEFAULT_LOSS, objective: 'finetune' as const };
    return [
      { name: 'multi-turn (2 of 3 turns)', packed: packMultiTurn(records, tokenizer, new Rng(1), { ...opts, turns: 2 }), loss: DEFAULT_LOSS },
      { name: 'single-turn', packed: packSingleTurn(records, tokenizer, new Rng(2), { ...opts, turns: 1 }), loss: DEFAULT_LOSS },
      {
        name: 'fine-tuning, paper form',
        packed: packReconstruction(
          records.map((r) => sampleSinglePair(r, new Rng(4))),
          tokenizer,
          new Rng(3),
          opts,
        ),
        loss: finetune,
      },
      {
        name: 'fine-tuning, official form',
        packed: packReconstruction(
          records.map((r) => sampleSinglePair(r, new Rng(4))),
          tokenizer,
          new Rng(3),
          opts,
        ),
        loss: { ...finetune, finetuneForm: 'official' },
      },
    ];
  }

  it('forward: the analytic matMul FLOPs equal the executed ones exactly', async () => {
    for (const { name, packed, loss } of packings()) {
      const executed = await profiledMatMulFlops(() => tf.tidy(() => forwardLoss(packed, loss)).dispose());
      const analytic = stepFlops(dims, stepShapeFromPacked(packed, { maxLen, loss }), { trainable: ALL_TRAINED });
      assert.equal(analytic.forward, executed, `${name}: analytic ${analytic.forward} vs executed ${executed}`);
    }
  });

  it('full-batch training step (forward + backward) equals the executed matMul FLOPs exactly', async () => {
    for (const { name, packed, loss } of packings()) {
      const executed = await profiledMatMulFlops(async () => {
        const { grads } = await fullBatchStep(model, packed, stepOptions(loss));
        tf.dispose(Object.values(grads));
      });
      const c = stepFlops(dims, stepShapeFromPacked(packed, { maxLen, loss }), { trainable: ALL_TRAINED });
      assert.equal(c.forward + c.backward, executed, `${name}: analytic ${c.total} vs executed ${executed}`);
    }
  });

  it('GradCache step: chunks padded on their own, the encoder forward run twice', async () => {
    const { packed, loss } = packings()[0] as { packed: PackedBatch; loss: LossConfig };
    const executed = await profiledMatMulFlops(async () => {
      const { grads } = await gradCacheStep(model, packed, stepOptions(loss, 2));
      tf.dispose(Object.values(grads));
    });
    const c = stepFlops(dims, stepShapeFromPacked(packed, { maxLen, loss, chunkSize: 2 }), { trainable: ALL_TRAINED, recompute: 'gradCache' });
    assert.equal(c.total, executed);
    assert.equal(c.recompute, encoderFlops(c, 'forward'));
  });

  it('frozen parts: the backward tfjs runs for a subset of variables matches the requires-gradient rules', async () => {
    const { packed, loss } = packings()[0] as { packed: PackedBatch; loss: LossConfig };
    const cases: { trainable: TrainableParts; pick: (name: string) => boolean }[] = [
      { trainable: { vision: false, projector: true, language: 'full', embeddings: true }, pick: (n) => !n.startsWith('vision.') },
      { trainable: { vision: false, projector: false, language: 'full', embeddings: false }, pick: (n) => n.startsWith('lm.') && n !== 'lm.embed' },
      { trainable: { vision: true, projector: false, language: 'frozen', embeddings: false }, pick: (n) => n.startsWith('vision.') },
      { trainable: { vision: false, projector: true, language: 'frozen', embeddings: false }, pick: (n) => n.startsWith('merger.') },
    ];
    for (const { trainable, pick } of cases) {
      const vars = [...model.params.entries()].filter(([n]) => pick(n)).map(([, v]) => v);
      const forward = await profiledMatMulFlops(() => tf.tidy(() => forwardLoss(packed, loss)).dispose());
      const both = await profiledMatMulFlops(() => {
        const { value, grads } = tf.variableGrads(() => forwardLoss(packed, loss), vars);
        tf.dispose([value, ...Object.values(grads)]);
      });
      const c = stepFlops(dims, stepShapeFromPacked(packed, { maxLen, loss }), { trainable });
      assert.equal(c.forward, forward);
      assert.equal(c.backward, both - forward, `${JSON.stringify(trainable)}: analytic backward ${c.backward} vs executed ${both - forward}`);
    }
  });

  it('packed shapes: padded lengths by default, real lengths on request, image spans checked', () => {
    const { packed } = packings()[0] as { packed: PackedBatch };
    const padded = stepShapeFromPacked(packed, { maxLen });
    const real = stepShapeFromPacked(packed, { maxLen, padded: false });
    const q = padded.query as readonly SequenceShape[];
    assert.ok(q.every((s) => s.tokens === Math.max(...packed.query.map((x) => x.ids.length))));
    assert.deepEqual(
      (real.query as readonly SequenceShape[]).map((s) => s.tokens),
      packed.query.map((x) => x.ids.length),
    );
    assert.deepEqual(
      q.map((s) => s.image),
      [true, true, true, false],
    );
    assert.equal(padded.imageTokens, model.imageTokens);
    assert.ok(stepFlops(dims, real).total < stepFlops(dims, padded).total);
    const odd = { ...packed, query: [...packed.query, { ...(packed.query[0] as PackedBatch['query'][number]), imageSpan: { start: 20, length: 9 } }] };
    assert.throws(() => stepShapeFromPacked(odd), /Image spans of 4, 9 tokens in one batch/);
  });
});

describe('flops: monotonicity (seeded property tests)', () => {
  const dimsArb = fc.record({
    patchValues: fc.integer({ min: 3, max: 64 }),
    visionDim: fc.integer({ min: 16, max: 96 }),
    visionLayers: fc.integer({ min: 1, max: 3 }),
    visionHeads: fc.constant(1),
    visionMlpDim: fc.integer({ min: 16, max: 128 }),
    dim: fc.integer({ min: 24, max: 96 }),
    layers: fc.integer({ min: 1, max: 3 }),
    heads: fc.integer({ min: 1, max: 4 }),
    kvHeads: fc.integer({ min: 1, max: 4 }),
    headDim: fc.integer({ min: 8, max: 32 }),
    mlpDim: fc.integer({ min: 24, max: 160 }),
    vocabSize: fc.constant(100),
  });
  const paperArb = fc.record({
    images: fc.integer({ min: 1, max: 64 }),
    turns: fc.integer({ min: 1, max: 7 }),
    imageTokens: fc.integer({ min: 1, max: 40 }),
    queryTextTokens: fc.integer({ min: 1, max: 30 }),
    targetTextTokens: fc.integer({ min: 1, max: 30 }),
  });
  const run = (p: fc.IProperty<unknown>): void => fc.assert(p, { seed: 20260206, numRuns: 60 });

  it('more turns, images or tokens → more FLOPs', () => {
    run(
      fc.property(dimsArb, paperArb, fc.constantFrom<TrainableParts>(ALL_TRAINED, PAPER_TRAINING), (d, p, trainable) => {
        const total = (q: typeof p): number => stepFlops(d, paperStepShape({ ...q, template: QWEN2_CHATML_OVERHEAD }), { trainable }).total;
        const base = total(p);
        return (
          total({ ...p, turns: p.turns + 1 }) > base &&
          total({ ...p, images: p.images + 1 }) > base &&
          total({ ...p, queryTextTokens: p.queryTextTokens + 1 }) > base &&
          total({ ...p, imageTokens: p.imageTokens + 1 }) > base
        );
      }),
    );
  });

  it('frozen ≤ LoRA (r ≤ width/8) ≤ full, and training more parts never costs less', () => {
    run(
      fc.property(dimsArb, paperArb, fc.boolean(), fc.boolean(), fc.boolean(), (d, p, vision, projector, embeddings) => {
        const shape = paperStepShape({ ...p, template: QWEN2_CHATML_OVERHEAD });
        const r = Math.max(1, Math.floor(Math.min(d.dim, d.kvHeads * d.headDim, d.heads * d.headDim) / 8));
        const total = (language: LanguageTraining, t: Partial<TrainableParts> = {}): number =>
          stepFlops(d, shape, { trainable: { vision, projector, embeddings, language, ...t } }).total;
        const chain = total('frozen') <= total({ lora: r }) && total({ lora: r }) <= total('full');
        const more =
          total('full') <= total('full', { vision: true }) &&
          total('frozen') <= total('frozen', { projector: true }) &&
          total('frozen') <= total('frozen', { embeddings: true });
        return chain && more;
      }),
    );
  });
});

describe('flops: paper scale (Qwen2-VL-2B)', () => {
  it("QWEN2_VL_2B has Qwen2-VL-2B-Instruct's 2.21 B parameters (biases as in its code)", () => {
    const d = QWEN2_VL_2B;
    const v = d.visionDim;
    // Vision: conv patch embedding without bias; blocks with 2 LayerNorms, fused qkv + proj with biases, fc1/fc2 with biases.
    const vision = d.patchValues * v + d.visionLayers * (4 * v + 3 * v * v + 3 * v + v * v + v + 2 * v * d.visionMlpDim + d.visionMlpDim + v);
    const merger = 2 * v + 4 * v * 4 * v + 4 * v + 4 * v * d.dim + d.dim;
    const kv = d.kvHeads * d.headDim;
    // Language: q/k/v with biases, o without; SwiGLU without biases; 2 RMSNorms per layer; tied embeddings.
    const block = d.dim * d.dim + d.dim + 2 * (d.dim * kv + kv) + d.dim * d.dim + 3 * d.dim * d.mlpDim + 2 * d.dim;
    const language = d.vocabSize * d.dim + d.layers * block + d.dim;
    const total = vision + merger + language;
    assert.ok(Math.abs(total - 2.21e9) / 2.21e9 < 0.005, `${(total / 1e9).toFixed(4)} B parameters`);
    // The Qwen2-VL paper's "675M" ViT is with the 7B merger (output 3584): 665M here, 675.6M with it.
    assert.ok(Math.abs(vision + merger - 0.665e9) / 0.665e9 < 0.005, `vision ${(vision + merger) / 1e9} B`);
    assert.ok(Math.abs(vision + merger + 4 * v * (3584 - d.dim) + (3584 - d.dim) - 0.675e9) / 0.675e9 < 0.005);
  });

  it("§1.1: the paper's 2.24 TFLOPs per image and 0.12 per 25-token text match forward counts without the T² attention terms", () => {
    const forward = (tokens: number, image: boolean): FlopsCount =>
      stepFlops(QWEN2_VL_2B, { query: [{ tokens, image, embeddings: 0 }], target: [], imageTokens: 294, loss: [] });
    const img = forward(294, true);
    const noAttention = (c: FlopsCount): number => c.forward - c.byComponent['vision.attention'].forward - c.byComponent['language.attention'].forward;
    assert.ok(Math.abs(noAttention(img) / 2.24e12 - 1) < 0.03, `image ${noAttention(img) / 1e12} TFLOPs`);
    const text = forward(25 + QWEN2_CHATML_OVERHEAD.system + QWEN2_CHATML_OVERHEAD.perTurn, false);
    assert.ok(Math.abs(noAttention(text) / 0.12e12 - 1) < 0.03, `text ${noAttention(text) / 1e12} TFLOPs`);
    assert.ok(img.forward / 2.24e12 > 1.1, 'with the attention terms the image costs > 10% more');
  });

  it('token budgets derived from Table A', () => {
    assert.ok(Math.abs(M3T_TARGET_TEXT_TOKENS - 70.857) < 1e-3);
    const t = paperStepShape({ ...M3T_TABLE_A_TOKENS, images: 1024, turns: 7 });
    const per = (s: StepShape['query']): number => ('tokensPerSequence' in s ? s.tokensPerSequence : NaN);
    assert.ok(Math.abs(per(t.target) * 1024 - 596_992) < 1e-6, 'target tokens per batch as Table A');
    assert.ok(Math.abs(per(t.query) * 1024 - 1_252_352) < 1e-6, 'query tokens per batch as Table A');
    assert.equal(M3T_TABLE_A_TOKENS.imageTokens, 958);
  });

  it('Table 5: within a stated factor of the paper; the 1→7-turn growth far below 7× the images', () => {
    // §1.1 MMEB-average images (294 tokens): 0.25–0.49× the paper; M3T-size images from Table A: 0.82–1.05×.
    for (const [assumptions, low, high] of [
      [MMEB_AVERAGE_TOKENS, 0.2, 0.6],
      [M3T_TABLE_A_TOKENS, 0.75, 1.15],
    ] as const) {
      const e = paperTable5Estimate(assumptions);
      assert.equal(e.rows.length, 8);
      for (const r of e.rows) assert.ok(r.ratio > low && r.ratio < high, `${r.turns}×${r.batchImages}: ratio ${r.ratio.toFixed(2)} outside (${low}, ${high})`);
      assert.ok(Math.abs(e.growth.paper - 0.5 / 17.5) < 1e-12);
      const at = (k: number, b: number): number => (e.rows.find((r) => r.turns === k && r.batchImages === b) as { estimatePflops: number }).estimatePflops;
      // Same effective batch (7,168): 7 turns × 1,024 images vs 1 turn × 7,168 images (paper: 18.0 vs 122.7).
      assert.ok(at(7, 1024) < 0.3 * at(1, 7168));
      // Linear in the images up to the B×B loss product (< 1e-5 of the total).
      for (const b of [2048, 4096, 7168, 8192]) assert.ok(Math.abs(at(1, b) / at(1, 1024) / (b / 1024) - 1) < 1e-4, '1-turn cost linear in images');
    }
    // The growth from 1 to 7 turns at 1,024 images: +101% (294-token images), +32% (Table A), paper +2.9%.
    const g = paperTable5Estimate(M3T_TABLE_A_TOKENS).growth.estimate;
    assert.ok(g > 0.25 && g < 0.4, `growth ${g}`);
    assert.ok(paperTable5Estimate().growth.estimate > 0.9);
  });
});
