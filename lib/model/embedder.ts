/**
 * The MLLM embedder (docs/model.md, docs/method.md §1–2): vision tower + language model, pooled at every
 * `<|emb|>` token, L2-normalised.
 *
 *   embed(batch, patches)  → [Σk, D] embeddings + (sequence, slot) index: a single-turn batch gives one row
 *                            per sequence, a k-turn batch k rows per sequence (k may vary)
 *   encode(items)          → the `Encoder` interface of lib/evaluate: single-turn template, first embedding
 *   embedInputs(inputs)    → the user API: any mix of text, image and image+text inputs
 */
import * as tf from '@tensorflow/tfjs';
import { Batch, collate } from '../batch';
import { renderDialogue, TEMPLATE_BASE } from '../dialogue';
import type { EncodeItem, Encoder } from '../eval/encoder';
import { decodeImage } from '../image';
import type { Tokenizer } from '../tokenizer';
import { ModelConfig, imageTokens, parameterCount } from './config';
import { l2Normalize } from './layers';
import { ForwardOptions, imagesInBatch, languageForward } from './language';
import { disposeParams, initParams, Params } from './params';
import { patchTensor, visionForward } from './vision';

/** Which sequence and which `<|emb|>` slot (turn order) each embedding row comes from. */
export interface EmbeddingIndex {
  sequence: number;
  slot: number;
}

export interface Embeddings {
  /** [Σk, D], L2-normalised, rows in (sequence, slot) order. */
  embeddings: tf.Tensor2D;
  index: EmbeddingIndex[];
}

/** One user input: text, an image (pixels [S·S·3] or a file path), or both. */
export interface EmbedInput {
  text?: string;
  image?: Float32Array | string;
}

/** Flat row indices (b·T + position) of every `<|emb|>` in a batch, and their (sequence, slot) labels. */
export function embRows(batch: Batch): { rows: Int32Array; index: EmbeddingIndex[] } {
  const index: EmbeddingIndex[] = [];
  const rows: number[] = [];
  batch.embPositions.forEach((positions, b) => {
    positions.forEach((pos, slot) => {
      rows.push(b * batch.seqLen + pos);
      index.push({ sequence: b, slot });
    });
  });
  return { rows: Int32Array.from(rows), index };
}

export class Embedder implements Encoder {
  readonly config: ModelConfig;
  readonly tokenizer: Tokenizer;
  readonly params: Params;
  /** Sequences per forward pass in `encode` / `embedInputs`. */
  inferenceBatchSize = 64;
  /**
   * Decoded pixels of image files, by path (benchmarks show the same test images in many data sets; decoding is
   * a large share of evaluation time). Bounded: the oldest entries are dropped past `pixelCacheSize`.
   */
  pixelCacheSize = 8192;
  private readonly pixelCache = new Map<string, Float32Array>();

  constructor(config: ModelConfig, tokenizer: Tokenizer, params: Params) {
    if (tokenizer.vocabSize > config.vocabSize) {
      throw new Error(
        `The tokenizer has ${tokenizer.vocabSize} tokens but model.vocabSize is ${config.vocabSize}: set model.vocabSize ≥ ${tokenizer.vocabSize}.`,
      );
    }
    this.config = config;
    this.tokenizer = tokenizer;
    this.params = params;
  }

  /** A freshly initialised model (a pure function of config and seed). */
  static create(config: ModelConfig, tokenizer: Tokenizer, seed: number): Embedder {
    return new Embedder(config, tokenizer, initParams(config, seed));
  }

  get dim(): number {
    return this.config.dim;
  }

  /** Image tokens per image: what the dialogue renderer must be given as `imageTokens`. */
  get imageTokens(): number {
    return imageTokens(this.config);
  }

  /** The trainable variables, in a fixed order (for optimizers and gradients). */
  variables(): tf.Variable[] {
    return [...this.params.values()];
  }

  parameterCount(): number {
    return this.variables().reduce((n, v) => n + v.size, 0);
  }

  /**
   * Final hidden states.
   * @param patches [Bi, P, p·p·3] (see vision.patchTensor), one image per sequence with an image span
   * @returns [B, T, D]
   */
  hidden(batch: Batch, patches: tf.Tensor | null, opts: ForwardOptions = {}): tf.Tensor {
    const features = patches === null || imagesInBatch(batch) === 0 ? null : visionForward(this.params, this.config, patches);
    return languageForward(this.params, this.config, batch, features, opts);
  }

  /** Embeddings at every `<|emb|>`: [Σk, D], L2-normalised. Call inside tf.tidy or dispose the result. */
  embed(batch: Batch, patches: tf.Tensor | null, opts: ForwardOptions = {}): Embeddings {
    const { rows, index } = embRows(batch);
    if (rows.length === 0) throw new Error('The batch has no <|emb|> token: render it with an embedding template.');
    const embeddings = tf.tidy(() => {
      const h = this.hidden(batch, patches, opts);
      const flat = tf.reshape(h, [batch.batchSize * batch.seqLen, this.config.dim]);
      return l2Normalize(tf.gather(flat, tf.tensor1d(rows, 'int32'))) as tf.Tensor2D;
    });
    return { embeddings, index };
  }

  /** Single-turn embeddings of user inputs (first `<|emb|>` of each), [n, D] row-major. */
  async embedInputs(inputs: readonly EmbedInput[]): Promise<Float32Array> {
    const out = new Float32Array(inputs.length * this.dim);
    for (let start = 0; start < inputs.length; start += this.inferenceBatchSize) {
      const chunk = inputs.slice(start, start + this.inferenceBatchSize);
      const pixels = await Promise.all(chunk.map((x) => this.pixels(x.image)));
      const seqs = chunk.map((x, i) =>
        renderDialogue(TEMPLATE_BASE, { turns: [x.text ?? ''], image: pixels[i] !== null }, this.tokenizer, {
          imageTokens: this.imageTokens,
          id: `input ${start + i}`,
        }),
      );
      const batch = collate(seqs, { maxLen: this.config.maxLen });
      const images = pixels.filter((p): p is Float32Array => p !== null);
      const values = tf.tidy(() => {
        const patches = images.length > 0 ? patchTensor(images, this.config) : null;
        const { embeddings, index } = this.embed(batch, patches);
        const first = index.map((e, r) => (e.slot === 0 ? r : -1)).filter((r) => r >= 0);
        return tf.gather(embeddings, tf.tensor1d(first, 'int32'));
      });
      out.set(await values.data(), start * this.dim); // async: WebGPU on Node cannot read synchronously
      values.dispose();
    }
    return out;
  }

  /** The `Encoder` interface (lib/evaluate): items with an optional image path. */
  encode(items: EncodeItem[]): Promise<Float32Array> {
    return this.embedInputs(items.map((it) => (it.image === undefined || it.image === '' ? { text: it.text } : { text: it.text, image: it.image })));
  }

  private async pixels(image: Float32Array | string | undefined): Promise<Float32Array | null> {
    if (image === undefined) return null;
    if (typeof image !== 'string') return image;
    const hit = this.pixelCache.get(image);
    if (hit !== undefined) return hit;
    const pixels = await decodeImage(image, { size: this.config.imageSize });
    if (this.pixelCache.size >= this.pixelCacheSize) this.pixelCache.delete(this.pixelCache.keys().next().value as string);
    this.pixelCache.set(image, pixels);
    return pixels;
  }

  describe(): string {
    const c = parameterCount(this.config);
    return `embedder: ${(c.total / 1e6).toFixed(2)} M parameters (vision ${(c.vision / 1e6).toFixed(2)} M, projector ${(c.projector / 1e6).toFixed(2)} M, language ${(c.language / 1e6).toFixed(2)} M), ${this.imageTokens} image tokens`;
  }

  dispose(): void {
    disposeParams(this.params);
  }
}
