/**
 * Batching rendered sequences: truncation that keeps `<|emb|>` and image spans whole, padding to a common
 * length, and the additive attention mask for the three mask kinds (docs/method.md §2, §6 attention; Table 6
 * "w/o compounded supervision" = `isolated`).
 */
import * as tf from '@tensorflow/tfjs';
import type { MaskKind, RenderedSequence } from './dialogue';
import { PAD_ID } from './tokenizer';

/** A padded batch, row-major. */
export interface Batch {
  /** [B*T] token ids, padded with the pad id. */
  ids: Int32Array;
  batchSize: number;
  seqLen: number;
  /** Real length per sequence. */
  lengths: number[];
  imageSpans: ({ start: number; length: number } | null)[];
  /** Per sequence, the `<|emb|>` positions (after truncation). */
  embPositions: number[][];
  /** [B*T] turn index per token; padding = -2. */
  turnIndex: Int32Array;
  /** Shared by all sequences of the batch. */
  maskKind: MaskKind;
  /** Per sequence, how many trailing turns truncation dropped (absent when nothing was dropped). */
  droppedTurns?: number[];
}

/** Options of `collate`. */
export interface CollateOptions {
  /** Longest allowed sequence; longer ones lose whole trailing turns (`null`: no limit). */
  maxLen: number | null;
  /** Pad the length up to a multiple of this (1: pad to the longest). Never beyond `maxLen`. */
  bucketSize: number;
  padId: number;
  /** `dropTurns`: drop whole trailing turns to fit `maxLen`; `error`: refuse any sequence over it. */
  truncation: 'dropTurns' | 'error';
}

export const DEFAULT_COLLATE_OPTIONS: Readonly<CollateOptions> = Object.freeze({
  maxLen: null,
  bucketSize: 1,
  padId: PAD_ID,
  truncation: 'dropTurns',
});

/** Additive mask value of a forbidden (query, key) pair. Large but finite, so no NaN after softmax. */
export const MASK_NEG = -1e9;

/** Turn index of padding tokens. */
export const PAD_TURN = -2;

function describe(seq: RenderedSequence, index: number): string {
  return seq.id === undefined ? `sequence #${index}` : `sequence #${index} ("${seq.id}")`;
}

/**
 * Cut a sequence to at most `maxLen` tokens by dropping whole trailing turns, so no `<|emb|>` or image span
 * is ever cut. The result ends where a turn ends (for a k-turn dialogue: after that turn's `<|im_end|>`),
 * which is exactly the rendering of the shorter dialogue. Returns the sequence unchanged when it fits.
 *
 * @throws when even the system prompt plus turn 0 does not fit, naming the sequence and its lengths.
 */
export function truncateSequence(seq: RenderedSequence, maxLen: number, index = 0): { seq: RenderedSequence; droppedTurns: number } {
  const n = seq.ids.length;
  if (n <= maxLen) return { seq, droppedTurns: 0 };
  // Turn indices are non-decreasing, so the kept prefix ends at the last token of some turn.
  let cut = maxLen;
  while (cut > 0 && cut < n && seq.turnIndex[cut] === seq.turnIndex[cut - 1]) cut -= 1;
  const lastTurn = seq.turnIndex[n - 1] ?? 0;
  const keptTurn = cut > 0 ? (seq.turnIndex[cut - 1] ?? -1) : -1;
  if (keptTurn < 0) {
    const firstTurnEnd = seq.turnIndex.findIndex((t) => t > 0);
    const minimum = firstTurnEnd < 0 ? n : firstTurnEnd;
    throw new Error(
      `${describe(seq, index)} has ${n} tokens and cannot fit maxLen ${maxLen}: its system prompt and first turn alone take ${minimum} tokens. Raise maxLen or shorten the text of that record.`,
    );
  }
  const out: RenderedSequence = {
    ids: seq.ids.slice(0, cut),
    // A span lies inside one turn, so it is either kept whole or dropped whole.
    imageSpan: seq.imageSpan !== null && seq.imageSpan.start < cut ? seq.imageSpan : null,
    embPositions: seq.embPositions.filter((p) => p < cut),
    turnIndex: seq.turnIndex.slice(0, cut),
    maskKind: seq.maskKind,
    text: seq.text.slice(0, seq.textTurnStarts?.[keptTurn + 1] ?? seq.text.length),
  };
  if (seq.id !== undefined) out.id = seq.id;
  if (seq.textTurnStarts !== undefined) out.textTurnStarts = seq.textTurnStarts.slice(0, keptTurn + 1);
  return { seq: out, droppedTurns: lastTurn - keptTurn };
}

/**
 * Pad (and if needed truncate) sequences into one batch. All sequences must share one mask kind.
 *
 * @returns ids and turnIndex as [B*T] row-major arrays, T = the longest length rounded up to `bucketSize`
 *   (capped at `maxLen`).
 */
export function collate(seqs: readonly RenderedSequence[], options: Partial<CollateOptions> = {}): Batch {
  for (const key of Object.keys(options)) {
    if (!(key in DEFAULT_COLLATE_OPTIONS))
      throw new Error(`Unknown collate option "${key}"; known options: ${Object.keys(DEFAULT_COLLATE_OPTIONS).join(', ')}.`);
  }
  const opts: CollateOptions = { ...DEFAULT_COLLATE_OPTIONS, ...options };
  if (seqs.length === 0) throw new Error('collate needs at least one sequence, got 0.');
  if (!(Number.isInteger(opts.bucketSize) && opts.bucketSize >= 1)) {
    throw new Error(`CollateOptions.bucketSize must be a positive integer, got ${opts.bucketSize}.`);
  }
  if (opts.maxLen !== null && !(Number.isInteger(opts.maxLen) && opts.maxLen >= 1)) {
    throw new Error(`CollateOptions.maxLen must be a positive integer or null, got ${opts.maxLen}.`);
  }
  const maskKind = (seqs[0] as RenderedSequence).maskKind;
  const fitted = seqs.map((s, i) => {
    if (s.maskKind !== maskKind) {
      throw new Error(
        `All sequences of a batch share one mask kind: ${describe(seqs[0] as RenderedSequence, 0)} is "${maskKind}" but ${describe(s, i)} is "${s.maskKind}". Render them with the same RenderOptions.maskKind.`,
      );
    }
    if (s.ids.length !== s.turnIndex.length) {
      throw new Error(`${describe(s, i)} has ${s.ids.length} ids but ${s.turnIndex.length} turn indices; they must match.`);
    }
    if (opts.maxLen === null || s.ids.length <= opts.maxLen) return { seq: s, droppedTurns: 0 };
    if (opts.truncation === 'error') {
      throw new Error(`${describe(s, i)} has ${s.ids.length} tokens, over maxLen ${opts.maxLen}. Raise maxLen or use truncation: 'dropTurns'.`);
    }
    return truncateSequence(s, opts.maxLen, i);
  });
  const longest = Math.max(...fitted.map((f) => f.seq.ids.length));
  let seqLen = Math.ceil(Math.max(longest, 1) / opts.bucketSize) * opts.bucketSize;
  if (opts.maxLen !== null) seqLen = Math.min(seqLen, opts.maxLen);
  const batchSize = fitted.length;
  const ids = new Int32Array(batchSize * seqLen).fill(opts.padId);
  const turnIndex = new Int32Array(batchSize * seqLen).fill(PAD_TURN);
  fitted.forEach(({ seq }, b) => {
    ids.set(seq.ids, b * seqLen);
    turnIndex.set(seq.turnIndex, b * seqLen);
  });
  const batch: Batch = {
    ids,
    batchSize,
    seqLen,
    lengths: fitted.map((f) => f.seq.ids.length),
    imageSpans: fitted.map((f) => f.seq.imageSpan),
    embPositions: fitted.map((f) => f.seq.embPositions.slice()),
    turnIndex,
    maskKind,
  };
  if (fitted.some((f) => f.droppedTurns > 0)) batch.droppedTurns = fitted.map((f) => f.droppedTurns);
  return batch;
}

/**
 * The additive attention mask on the host: [B, 1, T, T] row-major, 0 where query q may attend key k and
 * `MASK_NEG` elsewhere.
 * - `causal`: k ≤ q; `bidirectional`: any real k;
 * - `isolated`: k ≤ q and key k is in the system prompt, in the image span, or in q's own turn;
 * - padding: no query attends a padded key; a padded query attends itself only (finite softmax).
 */
export function attentionMaskData(batch: Batch): Float32Array {
  const { batchSize: B, seqLen: T, maskKind } = batch;
  const out = new Float32Array(B * T * T).fill(MASK_NEG);
  for (let b = 0; b < B; b++) {
    const len = batch.lengths[b] ?? 0;
    const span = batch.imageSpans[b] ?? null;
    const turns = batch.turnIndex.subarray(b * T, (b + 1) * T);
    const base = b * T * T;
    for (let q = 0; q < T; q++) {
      const row = base + q * T;
      if (q >= len) {
        out[row + q] = 0;
        continue;
      }
      switch (maskKind) {
        case 'causal':
          out.fill(0, row, row + q + 1);
          break;
        case 'bidirectional':
          out.fill(0, row, row + len);
          break;
        case 'isolated': {
          const own = turns[q] as number;
          for (let k = 0; k <= q; k++) {
            const tk = turns[k] as number;
            const inImage = span !== null && k >= span.start && k < span.start + span.length;
            if (tk === own || tk === -1 || inImage) out[row + k] = 0;
          }
          break;
        }
      }
    }
  }
  return out;
}

/**
 * The additive attention mask as a tensor [B, 1, T, T] (broadcasts over heads). Built on the host and
 * uploaded in one `tf.tensor4d` call; the caller owns (and disposes) the result.
 */
export function attentionMask(batch: Batch): tf.Tensor4D {
  return tf.tensor4d(attentionMaskData(batch), [batch.batchSize, 1, batch.seqLen, batch.seqLen], 'float32');
}
