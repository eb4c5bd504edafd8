/**
 * The decoder-only language model: token embeddings with the image tokens spliced in at each sequence's image
 * span, pre-norm blocks (RMSNorm → attention with rotary positions → RMSNorm → SwiGLU MLP), final RMSNorm.
 * The attention mask (causal / bidirectional / isolated turns, plus padding) comes from lib/batch.
 */
import * as tf from '@tensorflow/tfjs';
import { attentionMask, Batch } from '../batch';
import { Rng } from '../random';
import { ModelConfig, imageTokens } from './config';
import { attention, linear, ropeTables, rmsNorm, silu } from './layers';
import { Params, param } from './params';

export interface ForwardOptions {
  /** Apply dropout (when config.dropout > 0). */
  training?: boolean;
  /** Dropout randomness; required when training with dropout. */
  rng?: Rng;
}

/**
 * Index map that splices image tokens into the token embeddings: row r of the [B·T, D] input is row idx[r]
 * of concat([tokenEmbeddings [B·T, D], imageTokens [Bi·N, D]]). Images are consumed in sequence order.
 */
export function spliceIndex(batch: Batch, tokensPerImage: number): Int32Array {
  const { batchSize: B, seqLen: T } = batch;
  const idx = new Int32Array(B * T);
  for (let r = 0; r < B * T; r++) idx[r] = r;
  let image = 0;
  batch.imageSpans.forEach((span, b) => {
    if (span === null) return;
    if (span.length !== tokensPerImage) {
      throw new Error(
        `Sequence ${b} has an image span of ${span.length} tokens; the model makes ${tokensPerImage} per image (render with imageTokens = ${tokensPerImage}).`,
      );
    }
    for (let j = 0; j < span.length; j++) idx[b * T + span.start + j] = B * T + image * tokensPerImage + j;
    image++;
  });
  return idx;
}

/** How many sequences of the batch carry an image. */
export function imagesInBatch(batch: Batch): number {
  return batch.imageSpans.filter((s) => s !== null).length;
}

/**
 * Position ids under the isolated-turn mask: the shared prefix (system prompt, and turn 0 up to the end of the
 * image) keeps its positions; every later turn restarts right after that prefix, as if it were the only turn.
 * So a turn's embedding is independent of the other turns' text *and* length (Table 6's "w/o compounded
 * supervision" taken literally). Padding keeps its index. @returns [B·T]
 */
export function isolatedPositions(batch: Batch): Int32Array {
  const { batchSize: B, seqLen: T, turnIndex } = batch;
  const pos = new Int32Array(B * T);
  for (let b = 0; b < B; b++) {
    const row = b * T;
    const span = batch.imageSpans[b] ?? null;
    let shared = 0;
    while (shared < T && (turnIndex[row + shared] as number) === -1) shared++;
    if (span !== null) shared = Math.max(shared, span.start + span.length);
    let turnStart = 0;
    for (let t = 0; t < T; t++) {
      const turn = turnIndex[row + t] as number;
      if (t > 0 && turn !== turnIndex[row + t - 1]) turnStart = t;
      pos[row + t] = turn >= 1 ? shared + (t - turnStart) : t;
    }
  }
  return pos;
}

/** Rotary tables gathered at the isolated position ids: cos and sin [B, 1, T, hd]. */
function isolatedRope(batch: Batch, c: ModelConfig): { cos: tf.Tensor; sin: tf.Tensor } {
  const hd = c.dim / c.heads;
  const { cos, sin } = ropeTables(c.maxLen, hd, c.ropeBase);
  const ids = tf.tensor1d(isolatedPositions(batch), 'int32');
  const shape = [batch.batchSize, 1, batch.seqLen, hd];
  return { cos: tf.reshape(tf.gather(cos, ids), shape), sin: tf.reshape(tf.gather(sin, ids), shape) };
}

function dropout(x: tf.Tensor, c: ModelConfig, opts: ForwardOptions): tf.Tensor {
  if (!opts.training || c.dropout === 0) return x;
  if (opts.rng === undefined) throw new Error('Training with dropout needs ForwardOptions.rng (a seeded Rng).');
  return tf.dropout(x, c.dropout, undefined, opts.rng.nextUint32());
}

/**
 * @param batch token ids [B, T] and their layout
 * @param imageFeatures [Bi, N, D] image tokens from the vision tower (one per sequence with an image span, in
 *        order), or null when no sequence has an image
 * @returns final-normed hidden states [B, T, D]
 */
export function languageForward(params: Params, c: ModelConfig, batch: Batch, imageFeatures: tf.Tensor | null, opts: ForwardOptions = {}): tf.Tensor {
  const { batchSize: B, seqLen: T } = batch;
  if (T > c.maxLen) throw new Error(`Batch length ${T} exceeds model.maxLen ${c.maxLen}: collate with maxLen ≤ ${c.maxLen}.`);
  const nImages = imagesInBatch(batch);
  const fedImages = imageFeatures === null ? 0 : (imageFeatures.shape[0] as number);
  if (nImages !== fedImages) {
    throw new Error(`The batch has ${nImages} sequence(s) with an image span but ${fedImages} image(s) were given.`);
  }
  const P = (n: string): tf.Variable => param(params, n);
  const ids = tf.tensor1d(batch.ids, 'int32');
  let x: tf.Tensor = tf.gather(P('lm.embed'), ids); // [B·T, D]
  if (imageFeatures !== null && nImages > 0) {
    const n = imageTokens(c);
    const all = tf.concat([x, tf.reshape(imageFeatures, [nImages * n, c.dim])], 0);
    x = tf.gather(all, tf.tensor1d(spliceIndex(batch, n), 'int32'));
  }
  x = tf.reshape(x, [B, T, c.dim]);
  const mask = attentionMask(batch); // [B, 1, T, T]
  const rope = batch.maskKind === 'isolated' ? isolatedRope(batch, c) : ropeTables(T, c.dim / c.heads, c.ropeBase);
  for (let l = 0; l < c.layers; l++) {
    const n = (s: string): tf.Variable => P(`lm.${l}.${s}`);
    const h = rmsNorm(x, n('attnNorm'), c.normEps);
    x = tf.add(x, dropout(attention(h, { wq: n('wq'), wk: n('wk'), wv: n('wv'), wo: n('wo') }, c.heads, mask, rope), c, opts));
    const h2 = rmsNorm(x, n('mlpNorm'), c.normEps);
    const mlp = linear(tf.mul(silu(linear(h2, n('w1'))), linear(h2, n('w3'))), n('w2'));
    x = tf.add(x, dropout(mlp, c, opts));
  }
  return rmsNorm(x, P('lm.norm'), c.normEps);
}
