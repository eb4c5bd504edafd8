/**
 * The coherence probe set: shapes and groups, the two forms built from one draw (turn 0 of each causal
 * dialogue equals its single-turn query embedding), truncation by maxLen, and tensor hygiene.
 */
import { strict as assert } from 'assert';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../lib/backend';
import { probeEmbeddings } from '../lib/analysis/coherence-probe';
import { modelConfig } from '../lib/model/config';
import { Embedder } from '../lib/model/embedder';
import { Rng } from '../lib/random';
import { Tokenizer } from '../lib/tokenizer';
import type { TrainRecord } from '../lib/train';

const COLOURS = ['red', 'green', 'blue', 'yellow', 'purple', 'orange'];

function records(n: number, size: number, pairs: number): TrainRecord[] {
  const rng = new Rng(3);
  return Array.from({ length: n }, (_, i) => ({
    id: `r${i}`,
    image: Float32Array.from({ length: size * size * 3 }, () => rng.next()),
    pairs: Array.from({ length: pairs - (i % 2) }, (_, j) => ({
      query: [`which colour is part ${j}?`, `colour of part ${j}?`],
      target: `${COLOURS[(i + j) % COLOURS.length]} part ${j}`,
    })),
  }));
}

describe('coherence probe', () => {
  const texts = records(1, 2, 4)
    .flatMap((r) => r.pairs.flatMap((p) => [p.target, ...(p.query as string[])]))
    .concat(COLOURS);
  const tokenizer = Tokenizer.fromCorpus(texts);
  let model: Embedder;

  before(async () => {
    await initBackend({ backend: 'cpu' });
    model = Embedder.create(modelConfig('tiny', { vocabSize: tokenizer.vocabSize }), tokenizer, 5);
  });
  after(() => model.dispose());

  it('embeds every chosen pair both ways; turn 0 of each dialogue is its single-turn query', async () => {
    const recs = records(5, model.config.imageSize, 4); // 4, 3, 4, 3, 4 pairs
    const before = tf.memory().numTensors;
    const p = await probeEmbeddings(model, recs, { turns: 3, seed: 1, batchSize: 2 });
    assert.equal(tf.memory().numTensors, before, 'no tensors left behind');
    const d = model.dim;
    assert.equal(p.dim, d);
    assert.deepEqual(p.pairGroups, [0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 3, 4, 4, 4]);
    assert.equal(p.queries.length, 15 * d);
    assert.equal(p.targets.length, 15 * d);
    assert.deepEqual(p.turnGroups, p.pairGroups, 'no turn dropped at this length');
    assert.deepEqual(p.turnSlots, [0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 1, 2]);
    for (let g = 0; g < 5; g++) {
      const single = p.queries.slice(3 * g * d, (3 * g + 1) * d);
      const turn0 = p.turnEmbeddings.slice(3 * g * d, (3 * g + 1) * d);
      single.forEach((v, i) => assert.ok(Math.abs(v - (turn0[i] as number)) < 1e-4, `record ${g}, column ${i}: ${v} vs ${turn0[i]}`));
    }
    // Later turns see earlier ones (compounded context), so they differ from their single-turn query.
    const single1 = p.queries.slice(d, 2 * d);
    const turn1 = p.turnEmbeddings.slice(d, 2 * d);
    assert.ok(single1.some((v, i) => Math.abs(v - (turn1[i] as number)) > 1e-4));
  });

  it('the same seed gives the same embeddings; maxLen drops trailing turns from the groups', async () => {
    const recs = records(3, model.config.imageSize, 4);
    const a = await probeEmbeddings(model, recs, { turns: 2, seed: 9 });
    const b = await probeEmbeddings(model, recs, { turns: 2, seed: 9 });
    assert.deepEqual(Array.from(a.targets), Array.from(b.targets));
    // Room for the system prompt and first turn (71 tokens) and about one more turn.
    const short = Embedder.create({ ...model.config, maxLen: 100 }, tokenizer, 5);
    try {
      const t = await probeEmbeddings(short, recs, { turns: 4 });
      assert.ok(t.turnGroups.length < t.pairGroups.length, `expected dropped turns, got ${t.turnGroups.length} of ${t.pairGroups.length}`);
      assert.equal(t.turnEmbeddings.length, t.turnGroups.length * short.dim);
    } finally {
      short.dispose();
    }
  });

  it('needs two records with an image', async () => {
    await assert.rejects(probeEmbeddings(model, records(1, model.config.imageSize, 2)), /at least 2 records with an image, got 1/);
  });
});
