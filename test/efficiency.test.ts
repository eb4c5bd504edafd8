/**
 * Efficiency helpers: step FLOPs of a run config against the trainer's own packing (packStep) through
 * lib/flops, the paper-scale curve against paperTable5Estimate, the variants, and one short live measurement.
 */
import { strict as assert } from 'assert';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../lib/backend';
import { flopsPerPairCurve, measureThroughput, paperFlopsPerPairCurve, RunData, runStepFlops, turnVariants, variantConfig } from '../lib/analysis/efficiency';
import { resolveRun, RunConfig } from '../lib/runner/config';
import { dimsOf, paperTable5Estimate, stepFlops, stepShapeFromPacked } from '../lib/analysis/flops';
import { modelConfig } from '../lib/model/config';
import { Embedder } from '../lib/model/embedder';
import { Rng } from '../lib/random';
import { Tokenizer } from '../lib/tokenizer';
import { packStep, stepIndices, TrainRecord } from '../lib/train';

function fixture(n: number, size: number): TrainRecord[] {
  const rng = new Rng(8);
  return Array.from({ length: n }, (_, i) => ({
    id: `r${i}`,
    image: Float32Array.from({ length: size * size * 3 }, () => rng.next()),
    pairs: Array.from({ length: 3 + (i % 3) }, (_, j) => ({
      query: `what is part ${j} of ${i}?`,
      target: `part ${j} is ${i % 4 === 0 ? 'red and round' : 'blue'}`,
    })),
  }));
}

describe('efficiency', () => {
  const size = modelConfig('tiny').imageSize;
  const records = fixture(12, size);
  const tokenizer = Tokenizer.fromCorpus(records.flatMap((r) => r.pairs.flatMap((p) => [p.target, p.query as string])));
  const rd: RunData = { data: { size: records.length, get: (i) => records[i] as TrainRecord }, tokenizer };
  const base: RunConfig = resolveRun('t', 'r', { preset: 'tiny', train: { steps: 3, imagesPerStep: 3, packing: 'multi', turns: 4, chunkSize: 2 } });

  before(async () => {
    await initBackend({ backend: 'cpu' });
  });

  it("step FLOPs equal lib/flops on the trainer's own packed steps (GradCache recomputation counted)", async () => {
    const model = Embedder.create({ ...base.model, vocabSize: tokenizer.vocabSize }, tokenizer, 0);
    try {
      for (const cfg of [base, variantConfig(base, 'single', { packing: 'single', turns: 1, chunkSize: null })]) {
        const got = await runStepFlops(cfg, rd, 2);
        let want = 0;
        let pairs = 0;
        for (let s = 0; s < 2; s++) {
          const recs = stepIndices(records.length, 3, cfg.train.seed, s).map((i) => records[i] as TrainRecord);
          const packed = packStep(model, recs, cfg.train, s);
          const gc = cfg.train.chunkSize !== null && cfg.train.chunkSize < packed.query.length;
          want += stepFlops(dimsOf(model.config), stepShapeFromPacked(packed, { maxLen: cfg.train.maxLen, chunkSize: cfg.train.chunkSize }), {
            recompute: gc ? 'gradCache' : 'none',
          }).total;
          pairs += packed.groups.length;
        }
        assert.equal(got.flopsPerStep, want / 2);
        assert.equal(got.pairsPerStep, pairs / 2);
        assert.equal(got.imagesPerStep, 3);
        assert.equal(got.gradCache, cfg.train.packing === 'multi');
      }
    } finally {
      model.dispose();
    }
  });

  it('our FLOPs-per-pair curve: equal at k = 1, MuCo cheaper per pair as k grows', async () => {
    const curve = await flopsPerPairCurve(variantConfig(base, 'full-batch', { chunkSize: null }), rd, [1, 2, 3]);
    assert.equal(curve[0]?.ratio, 1);
    assert.ok((curve[1]?.ratio as number) < 1 && (curve[2]?.ratio as number) < (curve[1]?.ratio as number), JSON.stringify(curve));
  });

  it("the paper-scale curve agrees with paperTable5Estimate's rows (7 turns × 1024 and 1 turn × 7168)", () => {
    const [k1, k7] = paperFlopsPerPairCurve([1, 7]);
    const est = paperTable5Estimate().rows;
    const row = (turns: number, images: number): number => est.find((r) => r.turns === turns && r.batchImages === images)?.estimatePflops as number;
    assert.ok(Math.abs(((k7?.muco as number) * 7168) / 1e15 - row(7, 1024)) < 1e-9 * row(7, 1024));
    assert.ok(Math.abs(((k7?.single as number) * 7168) / 1e15 - row(1, 7168)) < 1e-9 * row(1, 7168));
    assert.equal(k1?.ratio, 1);
    assert.ok((k7?.ratio as number) < 0.3, `7 turns cost a fraction of single-turn per pair, got ${k7?.ratio}`);
  });

  it('variants: k = 1 is single-turn, factors give single-turn at more images', () => {
    assert.deepEqual(
      turnVariants([1, 4], 8, [4]).map((v) => [v.name, v.packing, v.turns, v.imagesPerStep]),
      [
        ['single-turn', 'single', 1, 8],
        ['MuCo k=4', 'multi', 4, 8],
        ['single-turn, 4x images', 'single', 1, 32],
      ],
    );
    assert.deepEqual(
      turnVariants([1, 2], 4, [2], 8).map((v) => v.chunkSize),
      [8, 8, 8],
    );
  });

  it('measures a short run: pairs per step, positive rates, peak memory, no tensors left', async () => {
    const before = tf.memory().numTensors;
    const rows = await measureThroughput(base, rd, turnVariants([2], 2), { steps: 1, warmup: 0 });
    assert.equal(tf.memory().numTensors, before);
    const [r] = rows;
    assert.ok(r !== undefined);
    assert.equal(r.pairsPerStep, 4);
    assert.ok(r.stepSeconds > 0 && r.pairsPerSec > 0 && r.imagesPerSec > 0 && r.gflopsPerStep > 0 && r.gflopsPerSec > 0);
    assert.ok(Math.abs(r.pairsPerSec / r.imagesPerSec - 2) < 1e-9, 'two pairs per image');
    const weightsMB = Embedder.create({ ...base.model, vocabSize: tokenizer.vocabSize }, tokenizer, 0);
    const paramMB = (weightsMB.parameterCount() * 4) / 2 ** 20;
    weightsMB.dispose();
    assert.ok(r.peakTensorMB > paramMB, `peak ${r.peakTensorMB} MB should exceed the weights (${paramMB} MB)`);
  });
});
