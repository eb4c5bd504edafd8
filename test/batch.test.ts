import { strict as assert } from 'node:assert';
import * as tf from '@tensorflow/tfjs';
import fc from 'fast-check';
import { attentionMask, attentionMaskData, collate, MASK_NEG, PAD_TURN, truncateSequence, type Batch } from '../lib/batch';
import { MASK_KINDS, renderDialogue, TEMPLATE_BASE, TEMPLATE_PRETRAIN, type MaskKind, type RenderedSequence } from '../lib/dialogue';
import { PAD_ID } from '../lib/tokenizer';
import { fixtureTokenizer } from './fixtures/dialogues/corpus';

/** The naive twin: may query q of row b attend key k? Written from the definitions, one pair at a time. */
function naiveAllowed(batch: Batch, b: number, q: number, k: number): boolean {
  const len = batch.lengths[b] as number;
  if (q >= len) return k === q;
  if (k >= len) return false;
  const turn = (i: number): number => batch.turnIndex[b * batch.seqLen + i] as number;
  const span = batch.imageSpans[b];
  const inImage = span !== null && span !== undefined && k >= span.start && k < span.start + span.length;
  switch (batch.maskKind) {
    case 'causal':
      return k <= q;
    case 'bidirectional':
      return true;
    case 'isolated':
      return k <= q && (turn(k) === turn(q) || turn(k) === -1 || inImage);
  }
}

const words = fc.constantFrom('apple', 'red', 'What is it?', '日本', 'a b c', '', 'zebra 🍎');
const dialogue = fc.record({ turns: fc.array(words, { minLength: 1, maxLength: 4 }), image: fc.boolean() });

function render(d: { turns: string[]; image: boolean }, maskKind: MaskKind, id?: string): RenderedSequence {
  return renderDialogue(TEMPLATE_PRETRAIN, d, fixtureTokenizer(), { imageTokens: 3, maskKind, ...(id === undefined ? {} : { id }) });
}

describe('batch: collate', () => {
  it('pads with the pad id and turn -2, keeps lengths, spans and emb positions', () => {
    const seqs = [render({ turns: ['apple'], image: true }, 'causal'), render({ turns: ['a', 'b', 'c'], image: false }, 'causal')];
    const b = collate(seqs);
    assert.equal(b.batchSize, 2);
    assert.equal(b.seqLen, Math.max(...seqs.map((s) => s.ids.length)));
    assert.deepEqual(
      b.lengths,
      seqs.map((s) => s.ids.length),
    );
    seqs.forEach((s, i) => {
      const row = [...b.ids.slice(i * b.seqLen, (i + 1) * b.seqLen)];
      const turns = [...b.turnIndex.slice(i * b.seqLen, (i + 1) * b.seqLen)];
      const pad = b.seqLen - s.ids.length;
      assert.deepEqual(row, [...s.ids, ...Array<number>(pad).fill(PAD_ID)]);
      assert.deepEqual(turns, [...s.turnIndex, ...Array<number>(pad).fill(PAD_TURN)]);
      assert.deepEqual(b.embPositions[i], s.embPositions);
      assert.deepEqual(b.imageSpans[i], s.imageSpan);
    });
    assert.equal(b.maskKind, 'causal');
    assert.equal(b.droppedTurns, undefined);
  });

  it('rounds the length up to the bucket size, never beyond maxLen', () => {
    const s = render({ turns: ['apple'], image: false }, 'causal');
    const n = s.ids.length;
    assert.equal(collate([s], { bucketSize: 16 }).seqLen, Math.ceil(n / 16) * 16);
    assert.equal(collate([s], { bucketSize: 1000, maxLen: n + 1 }).seqLen, n + 1);
    assert.equal(collate([s], { padId: 7, bucketSize: n + 2 }).ids.at(-1), 7);
  });

  it('drops whole trailing turns: truncating k turns to the length of j turns gives the j-turn rendering', () => {
    fc.assert(
      fc.property(dialogue, fc.constantFrom(...MASK_KINDS), fc.nat(), (d, maskKind, pick) => {
        const full = render(d, maskKind);
        const j = 1 + (pick % d.turns.length);
        const shorter = render({ ...d, turns: d.turns.slice(0, j) }, maskKind);
        const { seq, droppedTurns } = truncateSequence(full, shorter.ids.length);
        assert.deepEqual(seq, shorter);
        assert.equal(droppedTurns, d.turns.length - j);
        // maxLen between two turn boundaries keeps the longer prefix that fits.
        const next = j < d.turns.length ? render({ ...d, turns: d.turns.slice(0, j + 1) }, maskKind).ids.length : Infinity;
        const maxLen = Math.min(next - 1, shorter.ids.length + (pick % 5));
        const b = collate([full], { maxLen });
        assert.deepEqual([...b.ids.slice(0, b.lengths[0])], shorter.ids);
        assert.deepEqual(b.embPositions[0], shorter.embPositions);
        assert.equal(b.embPositions[0]?.length, j);
      }),
      { seed: 31, numRuns: 100 },
    );
  });

  it('fails on a dialogue whose first turn cannot fit, naming its id and lengths', () => {
    const s = render({ turns: ['apple', 'red'], image: true }, 'causal', 'rec-9/query');
    const first = render({ turns: ['apple'], image: true }, 'causal').ids.length;
    assert.throws(
      () => collate([s], { maxLen: first - 1 }),
      new RegExp(
        `#0 \\("rec-9/query"\\) has ${s.ids.length} tokens and cannot fit maxLen ${first - 1}: its system prompt and first turn alone take ${first} tokens`,
      ),
    );
    assert.throws(() => collate([s], { maxLen: first, truncation: 'error' }), /over maxLen/);
    assert.equal(collate([s], { maxLen: first }).droppedTurns?.[0], 1);
  });

  it('rejects mixed mask kinds, empty batches and unknown options', () => {
    const a = render({ turns: ['a'], image: false }, 'causal');
    const b = render({ turns: ['a'], image: false }, 'isolated', 'x');
    assert.throws(() => collate([a, b]), /share one mask kind: sequence #0 is "causal" but sequence #1 \("x"\) is "isolated"/);
    assert.throws(() => collate([]), /at least one sequence/);
    assert.throws(() => collate([a], { maxLength: 3 } as never), /Unknown collate option "maxLength"/);
    assert.throws(() => collate([a], { bucketSize: 0 }), /bucketSize/);
  });
});

describe('batch: attention mask', () => {
  const batches = fc
    .tuple(fc.array(dialogue, { minLength: 1, maxLength: 3 }), fc.constantFrom(...MASK_KINDS), fc.integer({ min: 1, max: 8 }))
    .map(([ds, kind, bucket]) =>
      collate(
        ds.map((d) => render(d, kind)),
        { bucketSize: bucket },
      ),
    );

  it('equals the naive pairwise twin for every mask kind, with padding', () => {
    fc.assert(
      fc.property(batches, (batch) => {
        const data = attentionMaskData(batch);
        const T = batch.seqLen;
        for (let b = 0; b < batch.batchSize; b++) {
          for (let q = 0; q < T; q++) {
            for (let k = 0; k < T; k++) {
              assert.equal(data[(b * T + q) * T + k], naiveAllowed(batch, b, q, k) ? 0 : MASK_NEG, `b=${b} q=${q} k=${k}`);
            }
          }
        }
      }),
      { seed: 41, numRuns: 100 },
    );
  });

  it('obeys the invariants: no forward attention, isolated turns, padding keys never attended', () => {
    fc.assert(
      fc.property(batches, (batch) => {
        const data = attentionMaskData(batch);
        const T = batch.seqLen;
        for (let b = 0; b < batch.batchSize; b++) {
          const len = batch.lengths[b] as number;
          const turn = (i: number): number => batch.turnIndex[b * T + i] as number;
          const span = batch.imageSpans[b];
          for (let q = 0; q < T; q++) {
            assert.equal(data[(b * T + q) * T + q], 0, 'every query attends itself (finite softmax)');
            for (let k = 0; k < T; k++) {
              const allowed = data[(b * T + q) * T + k] === 0;
              if (!allowed) continue;
              if (k >= len) assert.equal(k, q, 'a padded key is attended only by itself');
              if (batch.maskKind !== 'bidirectional') assert.ok(k <= q, 'causal: never forward');
              if (batch.maskKind === 'isolated' && q < len) {
                const inImage = span !== null && span !== undefined && k >= span.start && k < span.start + span.length;
                assert.ok(turn(k) === turn(q) || turn(k) === -1 || inImage, `isolated: turn ${turn(q)} sees turn ${turn(k)}`);
              }
            }
          }
        }
      }),
      { seed: 42, numRuns: 100 },
    );
  });

  it('isolated lets a later turn see the system prompt and the image but not turn 0 text', () => {
    const b = collate([render({ turns: ['apple', 'red'], image: true }, 'isolated')]);
    const T = b.seqLen;
    const data = attentionMaskData(b);
    const q = (b.embPositions[0] as number[])[1] as number;
    const span = b.imageSpans[0] as { start: number; length: number };
    assert.equal(data[q * T + 0], 0);
    assert.equal(data[q * T + span.start], 0);
    assert.equal(data[q * T + span.start + span.length], MASK_NEG);
  });

  it('returns a [B, 1, T, T] tensor equal to the host data, without leaking tensors', () => {
    const batch = collate([render({ turns: ['a', 'b'], image: true }, 'causal'), render({ turns: ['zebra'], image: false }, 'causal')], { bucketSize: 8 });
    const before = tf.memory().numTensors;
    const mask = attentionMask(batch);
    assert.deepEqual(mask.shape, [2, 1, batch.seqLen, batch.seqLen]);
    assert.deepEqual([...mask.dataSync()], [...attentionMaskData(batch)]);
    const finite = tf.tidy(
      () =>
        tf
          .softmax(tf.add(tf.zeros(mask.shape), mask))
          .isFinite()
          .all()
          .dataSync()[0],
    );
    assert.equal(finite, 1);
    mask.dispose();
    assert.equal(tf.memory().numTensors, before);
  });
});

describe('batch: single-turn sequences', () => {
  it('collates TEMPLATE_BASE sequences with one emb each', () => {
    const tok = fixtureTokenizer();
    const seqs = ['apple', '', '日本'].map((t) => renderDialogue(TEMPLATE_BASE, { turns: [t] }, tok));
    const b = collate(seqs);
    b.embPositions.forEach((p, i) => assert.deepEqual(p, [(b.lengths[i] as number) - 2]));
  });
});
