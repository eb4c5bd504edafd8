/**
 * EmbeddingCache: each distinct item encoded once, in batches sorted by modality and text length (a batch pads
 * to its longest sequence), with the same vectors as batches in the given order.
 */
import { strict as assert } from 'assert';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../lib/backend';
import { type EncodeItem, type Encoder, EmbeddingCache, itemKey } from '../lib/eval/encoder';
import { Embedder } from '../lib/model/embedder';
import { modelConfig } from '../lib/model/config';
import { Tokenizer } from '../lib/tokenizer';
import { Rng } from '../lib/random';

/** Deterministic unit vectors by item key; records the batches it is given. */
function recording(dim: number): Encoder & { batches: EncodeItem[][] } {
  const batches: EncodeItem[][] = [];
  const vec = (key: string): number[] => {
    const rng = new Rng([...key].reduce((h, ch) => (h * 31 + ch.charCodeAt(0)) >>> 0, 7));
    const v = Array.from({ length: dim }, () => rng.next() - 0.5);
    const n = Math.hypot(...v);
    return v.map((x) => x / n);
  };
  return {
    dim,
    batches,
    encode(items) {
      batches.push(items.slice());
      return Promise.resolve(Float32Array.from(items.flatMap((it) => vec(itemKey(it)))));
    },
  };
}

const WORDS = ['red', 'apple', 'a flag with three stripes', 'smiling face with open mouth and smiling eyes', 'x', 'blue circle', 'the emoji of a cat'];

function items(n: number, seed: number): EncodeItem[] {
  const rng = new Rng(seed);
  return Array.from({ length: n }, (_, i) => {
    const text = Array.from({ length: 1 + Math.floor(rng.next() * 4) }, () => WORDS[Math.floor(rng.next() * WORDS.length)]).join(' ');
    return i % 5 === 0 ? { text, image: `images/${i % 3}.png` } : { text };
  });
}

describe('EmbeddingCache', () => {
  it('encodes the missing items sorted (images first, then by text length) and returns them in input order', async () => {
    const list = items(40, 1);
    const sorted = recording(8);
    const plain = recording(8);
    const a = await new EmbeddingCache(sorted, { batchSize: 6 }).embed(list);
    const b = await new EmbeddingCache(plain, { batchSize: 6, sortByLength: false }).embed(list);
    assert.deepEqual(Array.from(a), Array.from(b));
    const order = sorted.batches.flat();
    const distinct = new Set(list.map(itemKey)).size;
    assert.equal(order.length, distinct);
    for (let i = 1; i < order.length; i++) {
      const [p, q] = [order[i - 1]!, order[i]!];
      const rank = (x: EncodeItem) => (x.image === undefined ? 1 : 0);
      assert.ok(rank(p) < rank(q) || (rank(p) === rank(q) && p.text.length <= q.text.length), `${i}: ${JSON.stringify(p)} before ${JSON.stringify(q)}`);
    }
    // Unsorted: first-seen order.
    const firstSeen = [...new Map(list.map((x) => [itemKey(x), x])).values()].map(itemKey);
    assert.deepEqual(plain.batches.flat().map(itemKey), firstSeen);
  });

  it('gives the MLLM embedder the same vectors as unsorted batches (padding does not change an embedding)', async function () {
    this.timeout(60_000);
    await initBackend({ backend: 'cpu' });
    const texts = items(24, 2).map((x) => x.text);
    const tokenizer = Tokenizer.fromCorpus(texts);
    const model = Embedder.create(modelConfig('tiny', { vocabSize: tokenizer.vocabSize }), tokenizer, 3);
    try {
      const list = texts.map((text) => ({ text }));
      const before = tf.memory().numTensors;
      const a = await new EmbeddingCache(model, { batchSize: 5 }).embed(list);
      const b = await new EmbeddingCache(model, { batchSize: 5, sortByLength: false }).embed(list);
      assert.equal(tf.memory().numTensors, before);
      const diff = Math.max(...Array.from(a, (x, i) => Math.abs(x - (b[i] as number))));
      assert.ok(diff < 1e-5, `max |Δ| ${diff}`);
    } finally {
      model.dispose();
    }
  });
});
