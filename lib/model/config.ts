/**
 * The embedder's sizes, its presets, and analytic parameter and memory counts.
 *
 * Shape of the model (docs/model.md; Qwen2-VL as MuCo uses it, in miniature):
 *   image [H, W, 3] → p×p patches (H/p · W/p of them) → vision transformer (width `visionDim`)
 *   → 2×2 patch merge (4·visionDim) → MLP projector → `imageTokens` tokens of width `dim`
 *   → spliced into the token sequence → decoder-only transformer (RMSNorm, rotary positions, SwiGLU)
 *   → final RMSNorm → hidden state at every `<|emb|>` → L2-normalised embedding of width `dim`.
 */
import { Overrides, resolveConfig } from '../config';

export interface ModelConfig {
  /** Token vocabulary size (from the tokenizer). */
  vocabSize: number;
  /** Square input image side in pixels. */
  imageSize: number;
  /** Square patch side in pixels (the stem's total stride); imageSize / patchSize must be even (for the 2×2 merge). */
  patchSize: number;
  /**
   * How pixels become the tower's tokens: `patch`, one linear map of each p×p patch (ViT's patchify stem);
   * `conv`, two 3×3 stride-2 convolutions with a GELU between them ("Early convolutions help transformers see
   * better", Xiao et al. 2021), which needs patchSize 4. docs/model.md says why and what it measured.
   */
  visionStem: VisionStem;
  visionDim: number;
  visionLayers: number;
  visionHeads: number;
  /** Hidden width of the vision MLP. */
  visionMlpDim: number;
  /** Language (decoder) width = embedding width. */
  dim: number;
  layers: number;
  heads: number;
  /** Hidden width of the SwiGLU MLP. */
  mlpDim: number;
  /** Rotary embedding base. */
  ropeBase: number;
  normEps: number;
  /** Residual dropout during training (0 = off, the paper's setting for a LoRA fine-tune). */
  dropout: number;
  /** Longest sequence the model accepts (rotary tables are built for it). */
  maxLen: number;
}

export type ModelPreset = 'tiny' | 'small' | 'base';
export type VisionStem = 'patch' | 'conv';
export const VISION_STEMS: readonly VisionStem[] = ['patch', 'conv'];

const TINY: ModelConfig = {
  vocabSize: 2048,
  imageSize: 16,
  patchSize: 4,
  visionStem: 'patch',
  visionDim: 32,
  visionLayers: 1,
  visionHeads: 2,
  visionMlpDim: 64,
  dim: 64,
  layers: 2,
  heads: 4,
  mlpDim: 128,
  ropeBase: 10000,
  normEps: 1e-6,
  dropout: 0,
  maxLen: 512,
};

/** Presets: `tiny` for tests (< 1 M parameters), `small` for experiments on a laptop CPU, `base` for a GPU. */
export const MODEL_PRESETS: Readonly<Record<ModelPreset, Readonly<ModelConfig>>> = Object.freeze({
  tiny: TINY,
  // 32 px through a conv stem of total stride 4 → 64 cells → 16 image tokens after the 2×2 merge. The conv
  // stem beat the 2 px patch stem (256 patches → 64 tokens) in a matched generative pretraining run (held-out
  // answer loss 2.76 vs 2.92 after 150 steps, docs/base-model.md) at a third of the tower's cost.
  small: {
    ...TINY,
    vocabSize: 8192,
    imageSize: 32,
    patchSize: 4,
    visionStem: 'conv',
    visionDim: 64,
    visionLayers: 2,
    visionHeads: 4,
    visionMlpDim: 128,
    dim: 128,
    layers: 4,
    heads: 4,
    mlpDim: 344,
  },
  base: {
    ...TINY,
    vocabSize: 16384,
    imageSize: 64,
    visionDim: 192,
    visionLayers: 6,
    visionHeads: 6,
    visionMlpDim: 768,
    dim: 384,
    layers: 8,
    heads: 6,
    mlpDim: 1024,
    maxLen: 1024,
  },
});

/** Resolve a preset plus overrides, then check the sizes fit together. */
export function modelConfig(preset: ModelPreset = 'small', overrides?: Overrides<ModelConfig>): ModelConfig {
  const base = MODEL_PRESETS[preset];
  if (base === undefined) throw new Error(`Unknown model preset '${preset}'; use tiny, small or base.`);
  const cfg = resolveConfig(base, overrides, 'model');
  validateModelConfig(cfg);
  return cfg;
}

export function validateModelConfig(c: ModelConfig): void {
  const grid = c.imageSize / c.patchSize;
  if (!Number.isInteger(grid) || grid % 2 !== 0) {
    throw new Error(`model.imageSize (${c.imageSize}) / model.patchSize (${c.patchSize}) must be an even integer for the 2×2 merge.`);
  }
  if (!VISION_STEMS.includes(c.visionStem)) throw new Error(`model.visionStem must be one of ${VISION_STEMS.join(', ')}, got '${String(c.visionStem)}'.`);
  if (c.visionStem === 'conv' && c.patchSize !== 4) {
    throw new Error(`model.visionStem 'conv' (two stride-2 convolutions) has a total stride of 4: set model.patchSize=4, got ${c.patchSize}.`);
  }
  if (c.visionStem === 'conv' && c.visionDim % 2 !== 0)
    throw new Error(`model.visionStem 'conv' needs an even model.visionDim (its first convolution has visionDim/2 channels), got ${c.visionDim}.`);
  if (c.dim % c.heads !== 0 || (c.dim / c.heads) % 2 !== 0) {
    throw new Error(`model.dim (${c.dim}) must split into model.heads (${c.heads}) heads of even width (rotary pairs).`);
  }
  if (c.visionDim % c.visionHeads !== 0) {
    throw new Error(`model.visionDim (${c.visionDim}) must be divisible by model.visionHeads (${c.visionHeads}).`);
  }
  if (c.dropout < 0 || c.dropout >= 1) throw new Error(`model.dropout must be in [0, 1), got ${c.dropout}.`);
}

/** Patches per image (H/p · W/p). */
export function patchCount(c: ModelConfig): number {
  return (c.imageSize / c.patchSize) ** 2;
}

/** Image tokens per image in the language sequence (after the 2×2 merge). */
export function imageTokens(c: ModelConfig): number {
  return patchCount(c) / 4;
}

/** Values per patch (p·p·3). */
export function patchValues(c: ModelConfig): number {
  return c.patchSize * c.patchSize * 3;
}

/** Channels of the conv stem's first convolution. */
export function stemChannels(c: ModelConfig): number {
  return c.visionDim / 2;
}

/**
 * The shape of one image as the tower takes it from the host ([rows, values]): `patch`, the P patches of
 * p·p·3 values; `conv`, the first convolution's 3×3×3 windows at stride 2, one per cell of the (S/2)² grid.
 */
export function stemInputShape(c: ModelConfig): [number, number] {
  return c.visionStem === 'conv' ? [(c.imageSize / 2) ** 2, 27] : [patchCount(c), patchValues(c)];
}

/** Parameter count by part, computed from the sizes (tests check it against the real variables). */
export function parameterCount(c: ModelConfig): { vision: number; projector: number; language: number; total: number } {
  const v = c.visionDim;
  // Two LayerNorms (γ, β), q/k/v/o projections with biases, a two-layer MLP with biases.
  const visionBlock = 4 * v + 4 * v * v + 4 * v + 2 * v * c.visionMlpDim + c.visionMlpDim + v;
  const c1 = stemChannels(c);
  const stem = c.visionStem === 'conv' ? 27 * c1 + c1 + 9 * c1 * v + v : patchValues(c) * v + v;
  const vision = stem + patchCount(c) * v + c.visionLayers * visionBlock;
  // Qwen2-VL's PatchMerger: LayerNorm per patch, then Linear(4v, 4v) → GELU → Linear(4v, dim).
  const projector = 2 * v + 4 * v * 4 * v + 4 * v + 4 * v * c.dim + c.dim;
  const d = c.dim;
  const block = 2 * d + 4 * d * d + 3 * d * c.mlpDim;
  const language = c.vocabSize * d + c.layers * block + d;
  return { vision, projector, language, total: vision + projector + language };
}

/**
 * A rough training-memory estimate in bytes for a batch of `tokens` language tokens and `images` images:
 * float32 weights + gradients + two AdamW moments (16 B/parameter) plus the activations autodiff keeps
 * (≈ 16 tensors of width dim per token and layer, plus the attention probabilities heads·T² per sequence).
 */
export function memoryEstimate(c: ModelConfig, batch: { sequences: number; seqLen: number; images: number }): number {
  const params = parameterCount(c).total * 16;
  const T = batch.seqLen;
  const language = batch.sequences * c.layers * (16 * T * c.dim + 2 * c.heads * T * T) * 4;
  const P = patchCount(c);
  const vision = batch.images * c.visionLayers * (16 * P * c.visionDim + 2 * c.visionHeads * P * P) * 4;
  return params + language + vision;
}
