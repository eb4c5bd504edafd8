/**
 * The base model's objective (docs/base-model.md): next-token cross-entropy on answer tokens, with the
 * language model's head tied to its token embeddings (logits = h · Eᵀ), so the base has exactly the
 * embedder's parameters and an embedding run starts from all of them.
 */
import * as tf from '@tensorflow/tfjs';
import type { Batch } from '../batch';
import type { Embedder } from '../model/embedder';
import { param } from '../model/params';

/** Which hidden rows predict which tokens: row b·T + p − 1 predicts the answer token at position p. */
export interface AnswerTargets {
  /** [N] flat rows of the [B·T, D] hidden states. */
  rows: Int32Array;
  /** [N] the token ids they must predict. */
  ids: Int32Array;
}

/**
 * The answer targets of a collated batch. `answers[b]` marks sequence b's tokens (before padding; truncation
 * keeps a prefix, so the first `batch.lengths[b]` marks apply).
 */
export function answerTargets(batch: Batch, answers: readonly (readonly boolean[])[]): AnswerTargets {
  const rows: number[] = [];
  const ids: number[] = [];
  for (let b = 0; b < batch.batchSize; b++) {
    const marks = answers[b];
    if (marks === undefined) throw new Error(`Sequence ${b} has no answer marks; render it with markAnswers.`);
    const len = batch.lengths[b] as number;
    for (let p = 1; p < len; p++) {
      if (marks[p] !== true) continue;
      rows.push(b * batch.seqLen + p - 1);
      ids.push(batch.ids[b * batch.seqLen + p] as number);
    }
  }
  if (rows.length === 0) throw new Error('The batch has no answer token to predict (empty answers, or all truncated away).');
  return { rows: Int32Array.from(rows), ids: Int32Array.from(ids) };
}

/** Logits over the vocabulary at hidden states h [N, D]: h · Eᵀ → [N, V] (the tied head). */
export function lmLogits(model: Embedder, h: tf.Tensor2D): tf.Tensor2D {
  return tf.matMul(h, param(model.params, 'lm.embed'), false, true);
}

export interface GenerativeOutput {
  /** Mean cross-entropy over the answer tokens (nats). */
  loss: tf.Scalar;
  /** Fraction of answer tokens whose argmax is right. */
  accuracy: tf.Scalar;
}

/**
 * Mean next-token cross-entropy of the answer tokens. Call inside tf.tidy or under variableGrads.
 * @param patches the vision input of the batch's images (see vision.patchTensor), or null
 */
export function generativeLoss(model: Embedder, batch: Batch, patches: tf.Tensor | null, targets: AnswerTargets): GenerativeOutput {
  const h = model.hidden(batch, patches); // [B, T, D]
  const flat = tf.reshape(h, [batch.batchSize * batch.seqLen, model.dim]);
  const picked = tf.gather(flat, tf.tensor1d(targets.rows, 'int32')) as tf.Tensor2D; // [N, D]
  const logits = lmLogits(model, picked); // [N, V]
  const logp = tf.logSoftmax(logits);
  const n = targets.ids.length;
  const onehot = tf.oneHot(tf.tensor1d(targets.ids, 'int32'), model.config.vocabSize);
  const loss = tf.neg(tf.div(tf.sum(tf.mul(logp, onehot)), n)) as tf.Scalar;
  const accuracy = tf.mean(tf.cast(tf.equal(tf.argMax(logits, 1), tf.tensor1d(targets.ids, 'int32')), 'float32')) as tf.Scalar;
  return { loss, accuracy };
}
