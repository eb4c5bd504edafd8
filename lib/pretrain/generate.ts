/**
 * Greedy decoding with the base model's tied head: answer a question about an image (docs/base-model.md).
 * No key/value cache: each new token re-runs the prompt, which is short (a system line, the image tokens and
 * one question), so a few hundred answers take seconds.
 */
import * as tf from '@tensorflow/tfjs';
import { collate } from '../batch';
import type { Embedder } from '../model/embedder';
import { patchTensor } from '../model/vision';
import { SPECIAL_IDS } from '../tokenizer';
import { lmLogits } from './objective';
import { renderPrompt } from './packing';

export interface GenerateInput {
  question: string;
  /** Pixels at the model's image size, or none for a text-only question. */
  image?: Float32Array;
}

export interface GenerateOptions {
  /** Most tokens per answer (an answer also stops at `<|im_end|>`). */
  maxNewTokens: number;
  /** Prompts decoded together. */
  batchSize: number;
}

export const DEFAULT_GENERATE: Readonly<GenerateOptions> = Object.freeze({ maxNewTokens: 32, batchSize: 64 });

/** The greedy answer to each input (deterministic: argmax at every step, ties to the lowest id). */
export function generate(model: Embedder, inputs: readonly GenerateInput[], options: Partial<GenerateOptions> = {}): string[] {
  const opts = { ...DEFAULT_GENERATE, ...options };
  if (!(Number.isInteger(opts.maxNewTokens) && opts.maxNewTokens >= 1)) throw new Error(`maxNewTokens must be a positive integer, got ${opts.maxNewTokens}.`);
  const out: string[] = [];
  for (let start = 0; start < inputs.length; start += opts.batchSize) {
    out.push(...generateBatch(model, inputs.slice(start, start + opts.batchSize), opts.maxNewTokens));
  }
  return out;
}

function generateBatch(model: Embedder, inputs: readonly GenerateInput[], maxNewTokens: number): string[] {
  const seqs = inputs.map((x, i) => renderPrompt(x.question, x.image !== undefined, model.tokenizer, { imageTokens: model.imageTokens, id: `prompt ${i}` }));
  const images = inputs.map((x) => x.image).filter((x): x is Float32Array => x !== undefined);
  const produced: number[][] = inputs.map(() => []);
  const done = inputs.map(() => false);
  const patches = images.length > 0 ? patchTensor(images, model.config) : null;
  try {
    for (let t = 0; t < maxNewTokens && done.includes(false); t++) {
      const batch = collate(seqs, { maxLen: model.config.maxLen, truncation: 'error' });
      const next = tf.tidy(() => {
        const h = model.hidden(batch, patches); // [B, T, D]
        const flat = tf.reshape(h, [batch.batchSize * batch.seqLen, model.dim]);
        const last = Int32Array.from(batch.lengths.map((len, b) => b * batch.seqLen + len - 1));
        return tf.argMax(lmLogits(model, tf.gather(flat, tf.tensor1d(last, 'int32')) as tf.Tensor2D), 1);
      });
      const ids = next.dataSync();
      next.dispose();
      seqs.forEach((seq, b) => {
        if (done[b]) return;
        const id = ids[b] as number;
        if (id === SPECIAL_IDS.imEnd) {
          done[b] = true;
          return;
        }
        produced[b]?.push(id);
        seq.ids.push(id);
        seq.turnIndex.push(seq.turnIndex.at(-1) as number);
      });
    }
  } finally {
    patches?.dispose();
  }
  return produced.map((ids) => model.tokenizer.decode(ids));
}
