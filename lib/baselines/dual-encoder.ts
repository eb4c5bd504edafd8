/**
 * A CLIP-style dual encoder: the reference baseline of our tables (the analogue of the CLIP / SigLIP rows of
 * the paper's Table 1, docs/architecture.md) and the bar the MLLM embedder has to clear.
 *
 *   image tower  `imageTower: 'conv'` (the baseline): pixels [B, S, S, 3] → L × (3×3 conv, stride 2, ReLU)
 *                (./conv) → global average pool [B, C_L] → LayerNorm → linear → [B, D];
 *                `imageTower: 'vision'`: the MLLM embedder's own vision tower of preset `visionPreset`
 *                (lib/model/vision.ts: stem → ViT → 2×2 merge → projector, parameters `vision.*`, `merger.*`)
 *                → mean over its image tokens [B, dim] → LayerNorm → linear → [B, D]. Trained this way it is
 *                stage 0 of the base model (docs/base-model.md): CLIP-style alignment of the tower before
 *                generative pretraining, as Qwen2-VL's tower starts from a CLIP ViT.
 *   text tower   tokens (the project's Tokenizer) → embedding table → mean over tokens (a bag of words,
 *                ./bag-of-words)
 *                → LayerNorm → linear → ReLU → linear → [N, D]; a text without tokens gives exactly 0
 *   fusion       an item's embedding is normalize(image tower + text tower): the sum of the two towers'
 *                unnormalised outputs, L2-normalised. Image-only and text-only items are the one tower alone
 *                (the other term is 0); image + question queries add the two. A plain sum, not a learned
 *                gate: the towers' output norms are learned and weight the modalities already, and the
 *                sum keeps the model a pure dual encoder (no cross-modal interaction, as in CLIP).
 *
 * Parameters are one named map of tf.Variables created from a seed (lib/model/params.ts' convention), so a
 * model is a pure function of (config, vocabulary, seed).
 */
import * as tf from '@tensorflow/tfjs';
import { seededTensor } from '../backend';
import { Overrides, resolveConfig } from '../config';
import type { EncodeItem, Encoder } from '../eval/encoder';
import { decodeImage, Normalization } from '../image';
import type { EmbedInput } from '../model/embedder';
import { ModelConfig, modelConfig, ModelPreset, MODEL_PRESETS } from '../model/config';
import { parameterSpecs } from '../model/params';
import { patchTensor, visionForward } from '../model/vision';
import { l2Normalize, layerNorm } from '../model/layers';
import { deriveSeed, Rng } from '../random';
import type { Tokenizer } from '../tokenizer';
import { bagOfWords, meanBags } from './bag-of-words';
import { convFromColumns, hostIm2colStride2, im2colStride2 } from './conv';

export type DualImageTower = 'conv' | 'vision';
export const DUAL_IMAGE_TOWERS: readonly DualImageTower[] = ['conv', 'vision'];

export interface DualEncoderConfig {
  /** `conv` (the baseline CNN) or `vision` (the MLLM's vision tower of `visionPreset`; see the header). */
  imageTower: DualImageTower;
  /** The model preset whose vision tower `imageTower: 'vision'` uses (its imageSize must equal `imageSize`). */
  visionPreset: ModelPreset;
  /** S: image side in pixels; divisible by 2^channels.length (the image cache holds 32 and 64). */
  imageSize: number;
  /**
   * Pixel normalisation (lib/image): `clip` centres the inputs of the first convolution; the `vision` tower
   * takes what the embedder takes (`unit`).
   */
  normalization: Normalization;
  /** Output channels of the 3×3 stride-2 convolutions, one per layer (`conv` tower only). */
  channels: number[];
  /** Token-table rows: the tokenizer's vocabSize (set from the tokenizer when the model is created). */
  vocabSize: number;
  /** Width of the token embeddings that are averaged. */
  tokenDim: number;
  /** Hidden width of the text tower's MLP. */
  textHidden: number;
  /** Tokens kept per text (the rest are dropped). */
  maxTokens: number;
  /** D: embedding width. */
  dim: number;
}

export const DEFAULT_DUAL_ENCODER: Readonly<DualEncoderConfig> = Object.freeze({
  imageTower: 'conv',
  visionPreset: 'small',
  imageSize: 32,
  normalization: 'clip',
  channels: [32, 64, 128, 256],
  vocabSize: 0,
  tokenDim: 256,
  textHidden: 512,
  maxTokens: 128,
  dim: 256,
} as DualEncoderConfig);

const LN_EPS = 1e-5;

/** Resolve overrides onto the defaults and check the shapes fit together. */
export function dualEncoderConfig(overrides?: Overrides<DualEncoderConfig>): DualEncoderConfig {
  const c = resolveConfig(DEFAULT_DUAL_ENCODER as DualEncoderConfig, overrides, 'dualEncoder');
  const positive = (key: keyof DualEncoderConfig, v: number): void => {
    if (!(Number.isInteger(v) && v >= 1)) throw new Error(`dualEncoder.${key} must be a positive integer, got ${v}.`);
  };
  (['imageSize', 'tokenDim', 'textHidden', 'maxTokens', 'dim'] as const).forEach((k) => positive(k, c[k]));
  if (c.channels.length === 0 || !c.channels.every((x) => Number.isInteger(x) && x >= 1)) {
    throw new Error(`dualEncoder.channels must be a non-empty list of positive integers, got ${JSON.stringify(c.channels)}.`);
  }
  if (!DUAL_IMAGE_TOWERS.includes(c.imageTower))
    throw new Error(`dualEncoder.imageTower must be one of ${DUAL_IMAGE_TOWERS.join(', ')}, got '${String(c.imageTower)}'.`);
  if (c.imageTower === 'vision') {
    if (!(c.visionPreset in MODEL_PRESETS))
      throw new Error(`dualEncoder.visionPreset must be one of ${Object.keys(MODEL_PRESETS).join(', ')}, got '${String(c.visionPreset)}'.`);
    const mc = MODEL_PRESETS[c.visionPreset];
    if (c.imageSize !== mc.imageSize)
      throw new Error(
        `dualEncoder.imageSize (${c.imageSize}) must equal the '${c.visionPreset}' preset's model.imageSize (${mc.imageSize}) with imageTower 'vision'.`,
      );
    if (c.normalization !== 'unit')
      throw new Error(`dualEncoder.normalization must be 'unit' with imageTower 'vision' (the embedder's pixels), got '${c.normalization}'.`);
    return c;
  }
  const stride = 2 ** c.channels.length;
  if (c.imageSize % stride !== 0) {
    throw new Error(
      `dualEncoder.imageSize ${c.imageSize} must be divisible by 2^${c.channels.length} = ${stride} (one stride-2 conv per channel entry); use ${Math.max(stride, Math.round(c.imageSize / stride) * stride)} or fewer layers.`,
    );
  }
  return c;
}

export type DualParams = Map<string, tf.Variable>;

type Init = { kind: 'normal'; std: number } | { kind: 'ones' } | { kind: 'zeros' };

/** Every parameter's name, shape and initialiser, in a fixed order. He init before ReLUs, 1/√fan-in elsewhere. */
export function dualParameterSpecs(c: DualEncoderConfig): { name: string; shape: number[]; init: Init }[] {
  const specs: { name: string; shape: number[]; init: Init }[] = [];
  const add = (name: string, shape: number[], init: Init): void => {
    specs.push({ name, shape, init });
  };
  const zeros: Init = { kind: 'zeros' };
  let cin = 3;
  if (c.imageTower === 'vision') {
    // The embedder's own names, shapes and initialisers, so stage 0's weights load into it unchanged.
    for (const spec of parameterSpecs(towerModelConfig(c))) if (isTowerParameter(spec.name)) add(spec.name, spec.shape, spec.init);
    cin = towerModelConfig(c).dim;
  } else {
    c.channels.forEach((cout, l) => {
      add(`image.conv${l}.w`, [9 * cin, cout], { kind: 'normal', std: Math.sqrt(2 / (9 * cin)) });
      add(`image.conv${l}.b`, [cout], zeros);
      cin = cout;
    });
  }
  add('image.norm.g', [cin], { kind: 'ones' });
  add('image.norm.b', [cin], zeros);
  add('image.proj.w', [cin, c.dim], { kind: 'normal', std: Math.sqrt(1 / cin) });
  add('image.proj.b', [c.dim], zeros);
  // 0.1: the averaged vector's variance stays well above LayerNorm's ε for texts of ~100 tokens.
  add('text.embed', [c.vocabSize, c.tokenDim], { kind: 'normal', std: 0.1 });
  add('text.norm.g', [c.tokenDim], { kind: 'ones' });
  add('text.norm.b', [c.tokenDim], zeros);
  add('text.fc1.w', [c.tokenDim, c.textHidden], { kind: 'normal', std: Math.sqrt(2 / c.tokenDim) });
  add('text.fc1.b', [c.textHidden], zeros);
  add('text.fc2.w', [c.textHidden, c.dim], { kind: 'normal', std: Math.sqrt(1 / c.textHidden) });
  add('text.fc2.b', [c.dim], zeros);
  return specs;
}

/** The embedder config whose vision tower `imageTower: 'vision'` uses. */
export function towerModelConfig(c: DualEncoderConfig): ModelConfig {
  return modelConfig(c.visionPreset);
}

/** Whether an embedder parameter belongs to its vision tower (stem, ViT, merger/projector). */
export function isTowerParameter(name: string): boolean {
  return name.startsWith('vision.') || name.startsWith('merger.');
}

let variableCounter = 0;

/** The parameters from a seed: each tensor from its own named sub-stream (adding one changes no other). */
export function initDualParams(c: DualEncoderConfig, seed: number): DualParams {
  if (c.vocabSize < 1) throw new Error('dualEncoder.vocabSize is 0: create the model with DualEncoder.create(config, tokenizer, seed), which sets it.');
  const params: DualParams = new Map();
  for (const spec of dualParameterSpecs(c)) {
    const rng = new Rng(deriveSeed(seed, spec.name));
    const value = spec.init.kind === 'normal' ? seededTensor(spec.shape, rng, 'normal', spec.init.std) : seededTensor(spec.shape, rng, spec.init.kind);
    params.set(spec.name, tf.variable(value, true, `dual/${seed}/${spec.name}/${variableCounter++}`));
    value.dispose();
  }
  return params;
}

/** One item as the model takes it: decoded pixels [S·S·3] or none, and a text ('' = none). */
export interface DualItem {
  pixels: Float32Array | null;
  text: string;
}

export class DualEncoder implements Encoder {
  /** Items per forward pass in `encode` / `embedInputs`. */
  inferenceBatchSize = 128;
  /** Decoded pixels by file path (benchmarks reuse images across data sets); oldest dropped past the size. */
  pixelCacheSize = 8192;
  private readonly pixelCache = new Map<string, Float32Array>();
  private readonly tokenCache = new Map<string, number[]>();

  constructor(
    readonly config: DualEncoderConfig,
    readonly tokenizer: Tokenizer,
    readonly params: DualParams,
  ) {
    if (tokenizer.vocabSize !== config.vocabSize) {
      throw new Error(
        `DualEncoder: the tokenizer has ${tokenizer.vocabSize} tokens but config.vocabSize is ${config.vocabSize}; create the model with DualEncoder.create, which sets it.`,
      );
    }
  }

  /** A freshly initialised model; `config.vocabSize` is taken from the tokenizer. */
  static create(config: DualEncoderConfig, tokenizer: Tokenizer, seed: number): DualEncoder {
    const resolved = { ...config, vocabSize: tokenizer.vocabSize };
    return new DualEncoder(resolved, tokenizer, initDualParams(resolved, seed));
  }

  get dim(): number {
    return this.config.dim;
  }

  /** Trainable variables with their stable names (for the optimizer and checkpoints). */
  namedVariables(): { name: string; variable: tf.Variable }[] {
    return [...this.params.entries()].map(([name, variable]) => ({ name, variable }));
  }

  parameterCount(): number {
    return [...this.params.values()].reduce((n, v) => n + v.size, 0);
  }

  private p(name: string): tf.Variable {
    const v = this.params.get(name);
    if (v === undefined) throw new Error(`DualEncoder parameter '${name}' is missing (weights from another config?).`);
    return v;
  }

  /**
   * Image tower, unnormalised.
   * @param pixels each [S·S·3] (H, W, C), normalised as `config.normalization`
   * @returns [B, D]
   */
  imageTower(pixels: readonly Float32Array[]): tf.Tensor2D {
    const { imageSize: s, channels } = this.config;
    const b = pixels.length;
    if (this.config.imageTower === 'vision') {
      const mc = towerModelConfig(this.config);
      return tf.tidy(() => {
        const tokens = visionForward(this.params, mc, patchTensor(pixels, mc)); // [B, T, dim]
        const pooled = layerNorm(tf.mean(tokens, 1), this.p('image.norm.g'), this.p('image.norm.b'), LN_EPS);
        return tf.add(tf.matMul(pooled, this.p('image.proj.w')), this.p('image.proj.b'));
      });
    }
    const cols = hostIm2colStride2(pixels, s, 3);
    return tf.tidy(() => {
      let h = convFromColumns(tf.tensor4d(cols, [b, s / 2, s / 2, 27]), this.p('image.conv0.w') as tf.Tensor2D, this.p('image.conv0.b') as tf.Tensor1D);
      for (let l = 1; l < channels.length; l++) {
        h = convFromColumns(im2colStride2(h), this.p(`image.conv${l}.w`) as tf.Tensor2D, this.p(`image.conv${l}.b`) as tf.Tensor1D);
      }
      const pooled = layerNorm(tf.mean(h, [1, 2]), this.p('image.norm.g'), this.p('image.norm.b'), LN_EPS); // [B, C_L]
      return tf.add(tf.matMul(pooled, this.p('image.proj.w')), this.p('image.proj.b'));
    });
  }

  /** Token ids of a text (truncated to maxTokens), memoised. */
  tokens(text: string): number[] {
    let ids = this.tokenCache.get(text);
    if (ids === undefined) {
      ids = this.tokenizer.encode(text).slice(0, this.config.maxTokens);
      if (this.tokenCache.size >= 65536) this.tokenCache.clear();
      this.tokenCache.set(text, ids);
    }
    return ids;
  }

  /**
   * Text tower, unnormalised; a text without tokens ('') gives a zero row.
   * @returns [N, D]
   */
  textTower(texts: readonly string[]): tf.Tensor2D {
    const n = texts.length;
    const tokens = texts.map((t) => this.tokens(t));
    const has = Float32Array.from(tokens, (t) => (t.length === 0 ? 0 : 1));
    if (!has.some((x) => x === 1)) return tf.zeros([n, this.dim]);
    return tf.tidy(() => {
      const mean = bagOfWords(this.p('text.embed') as tf.Tensor2D, meanBags(tokens)); // [N, tokenDim]
      const x = layerNorm(mean, this.p('text.norm.g'), this.p('text.norm.b'), LN_EPS);
      const hidden = tf.relu(tf.add(tf.matMul(x, this.p('text.fc1.w')), this.p('text.fc1.b')));
      const out = tf.add(tf.matMul(hidden, this.p('text.fc2.w')), this.p('text.fc2.b'));
      return tf.mul(out, tf.tensor2d(has, [n, 1])); // exactly 0 for empty texts
    });
  }

  /**
   * Fused, L2-normalised embeddings: normalize(image tower + text tower) per item. Differentiable (training
   * calls it inside tf.variableGrads); call inside tf.tidy or dispose the result.
   * @returns [n, D]
   */
  embed(items: readonly DualItem[]): tf.Tensor2D {
    items.forEach((it, i) => {
      if (it.pixels === null && this.tokens(it.text).length === 0) {
        throw new Error(`DualEncoder: item ${i} has neither an image nor any text token; give it a text or an image.`);
      }
    });
    const withImage = items.flatMap((it, i) => (it.pixels === null ? [] : [i]));
    return tf.tidy(() => {
      const text = this.textTower(items.map((it) => it.text));
      if (withImage.length === 0) return l2Normalize(text) as tf.Tensor2D;
      const images = this.imageTower(withImage.map((i) => items[i]?.pixels as Float32Array));
      let imageRows: tf.Tensor2D = images;
      if (withImage.length < items.length) {
        // Row r takes image row k when item r is the k-th with an image, else the appended zero row.
        const where = new Int32Array(items.length).fill(withImage.length);
        withImage.forEach((r, k) => (where[r] = k));
        imageRows = tf.gather(tf.concat([images, tf.zeros([1, this.dim])], 0), tf.tensor1d(where, 'int32')) as tf.Tensor2D;
      }
      return l2Normalize(tf.add(imageRows, text)) as tf.Tensor2D;
    });
  }

  /** Decoded pixels of a path (memoised) or the pixels given. */
  async pixels(image: Float32Array | string | undefined): Promise<Float32Array | null> {
    if (image === undefined || image === '') return null;
    if (typeof image !== 'string') return image;
    const hit = this.pixelCache.get(image);
    if (hit !== undefined) return hit;
    const px = await decodeImage(image, { size: this.config.imageSize, normalization: this.config.normalization });
    if (this.pixelCache.size >= this.pixelCacheSize) this.pixelCache.delete(this.pixelCache.keys().next().value as string);
    this.pixelCache.set(image, px);
    return px;
  }

  /** Embeddings of user inputs (lib/model/embedder's `EmbedInput`: text, image or both), [n, D] row-major. */
  async embedInputs(inputs: readonly EmbedInput[]): Promise<Float32Array> {
    const out = new Float32Array(inputs.length * this.dim);
    for (let start = 0; start < inputs.length; start += this.inferenceBatchSize) {
      const chunk = inputs.slice(start, start + this.inferenceBatchSize);
      const pixels = await Promise.all(chunk.map((x) => this.pixels(x.image)));
      const values = this.embed(chunk.map((x, i) => ({ pixels: pixels[i] ?? null, text: x.text ?? '' })));
      out.set(values.dataSync(), start * this.dim);
      values.dispose();
    }
    return out;
  }

  /** The `Encoder` interface (lib/evaluate): items with an optional image path. */
  encode(items: EncodeItem[]): Promise<Float32Array> {
    return this.embedInputs(items.map((it) => (it.image === undefined ? { text: it.text } : { text: it.text, image: it.image })));
  }

  describe(): string {
    const count = (prefix: string): number => [...this.params.entries()].filter(([k]) => k.startsWith(prefix)).reduce((n, [, v]) => n + v.size, 0);
    return `dual encoder: ${(this.parameterCount() / 1e6).toFixed(2)} M parameters (image ${(count('image.') / 1e6).toFixed(2)} M, text ${(count('text.') / 1e6).toFixed(2)} M), D = ${this.dim}`;
  }

  dispose(): void {
    for (const v of this.params.values()) v.dispose();
    this.params.clear();
  }
}
