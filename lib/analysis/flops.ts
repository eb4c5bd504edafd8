/**
 * Analytic FLOPs of one training step, forward and backward, for any model size: our presets and the paper's
 * Qwen2-VL-2B (docs/model.md; docs/method.md §4, §8 costs, Table 5, Table A).
 *
 * Counted: every matrix product, a multiply–add = 2 FLOPs, so y[m, n] = x[m, k]·W[k, n] costs 2mkn.
 *   vision     patch embedding, q/k/v/o projections, attention scores QKᵀ and values A·V (the T² terms), MLP
 *   projector  the 2×2 merger's two linears (4v → 4v → dim)
 *   language   q/k/v/o projections (GQA: k and v are kvHeads·headDim wide), scores and values over the
 *              whole sequence, the SwiGLU MLP (three matrices), the LoRA adapters when used
 *   loss       the similarity products q·tᵀ
 * Zero: embedding lookups and the image-token splice (gathers); there is no LM head in an embedder.
 * Neglected (O(elements), not O(elements·width)): norms including the final RMSNorm, softmax, activations,
 * residual adds, rotary, dropout, the loss's log-softmax, the optimizer update. Attention counts the full
 * T×T square as our model executes it (a FlashAttention kernel skips most of the masked half of a causal one).
 *
 * Backward, as autodiff executes it (tfjs and PyTorch alike): for y = x·W,
 *   dW = xᵀ·dy (2mkn) only when W is trained;  dx = dy·Wᵀ (2mkn) only when x requires a gradient, i.e.
 *   when something trainable lies upstream of x.
 * So a trained layer costs 2× its forward, a frozen layer downstream of something trainable 1× (the
 * activation gradient), and a frozen layer with nothing trainable upstream (a frozen vision encoder on
 * pixels) nothing. An activation product (QKᵀ, A·V, q·tᵀ) costs 2mkn per operand that requires a gradient.
 * LoRA of rank r (y = xW + (xA)B, W frozen): forward adds 2mr(k+n); backward adds dB = (xA)ᵀ·dy (2mrn),
 * dy·Bᵀ (2mnr) and dA = xᵀ·(dy·Bᵀ) (2mkr), plus (dy·Bᵀ)·Aᵀ (2mrk) when x requires a gradient.
 */
import { collate } from '../batch';
import type { RenderedSequence } from '../dialogue';
import type { LossConfig } from '../loss';
import type { ModelConfig } from '../model/config';

/** The sizes a FLOPs count needs. Unlike ModelConfig it has grouped-query attention and a free head width. */
export interface FlopsDims {
  /** Values per vision patch (p·p·channels·temporal patch). */
  patchValues: number;
  visionDim: number;
  visionLayers: number;
  /** Described, not counted: attention FLOPs depend on the total width only. */
  visionHeads: number;
  visionMlpDim: number;
  /** Language width (= embedding width). */
  dim: number;
  layers: number;
  heads: number;
  /** Key/value heads (GQA); = heads without GQA. */
  kvHeads: number;
  headDim: number;
  /** SwiGLU hidden width. */
  mlpDim: number;
  /** Described, not counted: lookups are free and an embedder has no LM head. */
  vocabSize: number;
  /**
   * Rotary rotate-half computed as a product with a fixed [hd, hd] signed permutation (lib/model/layers, for
   * the wasm backend), counted as q·R and k·R; absent (elementwise) at paper scale.
   */
  ropeProduct?: boolean;
}

/** Our model's sizes (lib/model/config): no GQA, head width dim/heads, RGB patches. */
export function dimsOf(c: ModelConfig): FlopsDims {
  const { visionDim, visionLayers, visionHeads, visionMlpDim, dim, layers, heads, mlpDim, vocabSize } = c;
  const shared = { visionDim, visionLayers, visionHeads, visionMlpDim, dim, layers, heads, mlpDim, vocabSize };
  return { ...shared, patchValues: c.patchSize * c.patchSize * 3, kvHeads: heads, headDim: dim / heads, ropeProduct: true };
}

export type LanguageTraining = 'full' | 'frozen' | { lora: number };

/** Which parts are trained. */
export interface TrainableParts {
  vision: boolean;
  projector: boolean;
  language: LanguageTraining;
  /** The token embedding table (or some rows of it) is trained; default: with a fully trained LM. */
  embeddings?: boolean;
}

export interface FlopsOptions {
  trainable: TrainableParts;
  /**
   * Extra forward work: `checkpoint` (activation checkpointing, as the official code) recomputes the forward
   * of every op that back-propagates; `gradCache` (lib/step's chunked step) runs the encoders' whole forward
   * twice (once without a tape).
   */
  recompute: 'none' | 'checkpoint' | 'gradCache';
}

/** Our trainer: every variable of the model is trained, no recomputation (lib/step full-batch step). */
export const DEFAULT_FLOPS_OPTIONS: Readonly<FlopsOptions> = Object.freeze({
  trainable: Object.freeze({ vision: true, projector: true, language: 'full' as const, embeddings: true }),
  recompute: 'none' as const,
});

/** One sequence of a step: its length in tokens (image tokens included), whether it carries an image. */
export interface SequenceShape {
  tokens: number;
  image: boolean;
  /** `<|emb|>` tokens (embeddings it yields). */
  embeddings: number;
  /**
   * Sequences of one side with the same chunk run as one tensor (default: the whole side together). Autodiff
   * tracks gradients per tensor, so a text-only sequence batched with image sequences back-propagates to
   * its input like them when the image tokens require a gradient.
   */
  chunk?: number;
}

/** A side of a step as a summary: `sequences` alike, the first `images` of them with an image. */
export interface SideSummary {
  sequences: number;
  tokensPerSequence: number;
  images: number;
  embeddingsPerSequence: number;
}

/** A similarity product of the loss: [rows, dim]·[dim, cols]. */
export interface LossProduct {
  rows: number;
  cols: number;
}

/** What one training step processes. */
export interface StepShape {
  query: readonly SequenceShape[] | SideSummary;
  target: readonly SequenceShape[] | SideSummary;
  /** Image tokens per image in the LM sequence; the vision encoder sees 4× as many patches (2×2 merge). */
  imageTokens: number;
  /** The loss's products; default one (Σ query embeddings) × (Σ target embeddings) product. */
  loss?: readonly LossProduct[];
}

export const FLOPS_COMPONENTS = [
  ...['vision.patchEmbed', 'vision.projections', 'vision.attention', 'vision.mlp', 'projector'],
  ...['language.projections', 'language.attention', 'language.mlp', 'language.lora', 'loss'],
] as const;
export type FlopsComponent = (typeof FLOPS_COMPONENTS)[number];

export interface ComponentFlops {
  forward: number;
  backward: number;
  /** Forward FLOPs of the ops that back-propagate (what activation checkpointing recomputes). */
  taped: number;
}

export interface FlopsCount {
  forward: number;
  backward: number;
  /** Extra forward work of `options.recompute`. */
  recompute: number;
  /** forward + backward + recompute. */
  total: number;
  byComponent: Record<FlopsComponent, ComponentFlops>;
}

type Mode = 'full' | 'frozen' | { lora: number };

/** Accumulates FLOPs by component; `weight` multiplies everything added (sequences alike). */
class Tally {
  readonly byComponent = Object.fromEntries(FLOPS_COMPONENTS.map((c) => [c, { forward: 0, backward: 0, taped: 0 }])) as Record<FlopsComponent, ComponentFlops>;
  weight = 1;

  add(c: FlopsComponent, forward: number, backward: number): void {
    const e = this.byComponent[c];
    e.forward += this.weight * forward;
    e.backward += this.weight * backward;
    if (backward > 0) e.taped += this.weight * forward;
  }

  /** y[m, n] = x[m, k]·W[k, n]; returns whether y requires a gradient. */
  linear(c: FlopsComponent, m: number, k: number, n: number, mode: Mode, xGrad: boolean): boolean {
    const base = 2 * m * k * n;
    const dx = xGrad ? base : 0;
    if (mode === 'frozen') {
      this.add(c, base, dx);
      return xGrad;
    }
    if (mode === 'full') {
      this.add(c, base, base + dx);
      return true;
    }
    const r = mode.lora;
    this.add(c, base, dx);
    this.add('language.lora', 2 * m * r * (k + n), 2 * m * r * n + 2 * m * n * r + 2 * m * k * r + (xGrad ? 2 * m * r * k : 0));
    return true;
  }

  /** An activation product a[m, k]·b[k, n]; returns whether the result requires a gradient. */
  product(c: FlopsComponent, m: number, k: number, n: number, aGrad: boolean, bGrad: boolean): boolean {
    const f = 2 * m * k * n;
    this.add(c, f, (aGrad ? f : 0) + (bGrad ? f : 0));
    return aGrad || bGrad;
  }
}

/** One image through the vision tower and the merger (its output requires a gradient iff imageTokensGrad). */
function imageFlops(t: Tally, d: FlopsDims, tokens: number, tr: TrainableParts): void {
  const p = 4 * tokens; // patches before the 2×2 merge
  const v = d.visionDim;
  const mode: Mode = tr.vision ? 'full' : 'frozen';
  let g = t.linear('vision.patchEmbed', p, d.patchValues, v, mode, false);
  for (let l = 0; l < d.visionLayers; l++) {
    const h = g || tr.vision; // LayerNorm with trained γ, β
    const q = t.linear('vision.projections', p, v, v, mode, h);
    const k = t.linear('vision.projections', p, v, v, mode, h);
    const val = t.linear('vision.projections', p, v, v, mode, h);
    const scores = t.product('vision.attention', p, v, p, q, k); // Σ heads [P, hd]·[hd, P]
    const mixed = t.product('vision.attention', p, p, v, scores, val);
    g = t.linear('vision.projections', p, v, v, mode, mixed) || g;
    const h2 = g || tr.vision;
    const hidden = t.linear('vision.mlp', p, v, d.visionMlpDim, mode, h2);
    g = t.linear('vision.mlp', p, d.visionMlpDim, v, mode, hidden) || g;
  }
  const merged = g || tr.projector; // the merger's LayerNorm
  const pm: Mode = tr.projector ? 'full' : 'frozen';
  const hidden = t.linear('projector', tokens, 4 * v, 4 * v, pm, merged);
  t.linear('projector', tokens, 4 * v, d.dim, pm, hidden);
}

/** One sequence of `T` tokens through the LM; returns whether its final hidden states require a gradient. */
function sequenceFlops(t: Tally, d: FlopsDims, T: number, mode: Mode, inputGrad: boolean): boolean {
  const normsTrained = mode === 'full';
  const qWidth = d.heads * d.headDim;
  const kvWidth = d.kvHeads * d.headDim;
  let g = inputGrad;
  for (let l = 0; l < d.layers; l++) {
    const h = g || normsTrained;
    const q = t.linear('language.projections', T, d.dim, qWidth, mode, h);
    const k = t.linear('language.projections', T, d.dim, kvWidth, mode, h);
    const v = t.linear('language.projections', T, d.dim, kvWidth, mode, h);
    if (d.ropeProduct === true) {
      // Σ heads [T, hd]·[hd, hd]; the permutation is constant, so only the rotated input gets a gradient.
      t.product('language.attention', T, qWidth, d.headDim, q, false);
      t.product('language.attention', T, kvWidth, d.headDim, k, false);
    }
    const scores = t.product('language.attention', T, qWidth, T, q, k); // Σ query heads [T, hd]·[hd, T]
    const mixed = t.product('language.attention', T, T, qWidth, scores, v);
    g = t.linear('language.projections', T, qWidth, d.dim, mode, mixed) || g;
    const h2 = g || normsTrained;
    const gate = t.linear('language.mlp', T, d.dim, d.mlpDim, mode, h2);
    const up = t.linear('language.mlp', T, d.dim, d.mlpDim, mode, h2);
    g = t.linear('language.mlp', T, d.mlpDim, d.dim, mode, gate || up) || g;
  }
  return g || normsTrained;
}

/** Image tokens require a gradient iff the vision tower or the merger (with its LayerNorm) is trained. */
function imageTokensGrad(tr: TrainableParts): boolean {
  return tr.vision || tr.projector;
}

function expand(side: readonly SequenceShape[] | SideSummary): { seq: SequenceShape; count: number }[] {
  if (Array.isArray(side)) return (side as readonly SequenceShape[]).map((seq) => ({ seq, count: 1 }));
  const s = side as SideSummary;
  if (s.images > s.sequences) throw new Error(`SideSummary has ${s.images} images for ${s.sequences} sequences; at most one image per sequence.`);
  const seq = (image: boolean): SequenceShape => ({ tokens: s.tokensPerSequence, image, embeddings: s.embeddingsPerSequence });
  return [
    { seq: seq(true), count: s.images },
    { seq: seq(false), count: s.sequences - s.images },
  ].filter((e) => e.count > 0);
}

/** One side's sequences; returns the embeddings it yields and whether they require a gradient. */
function sideFlops(t: Tally, d: FlopsDims, shape: StepShape, side: 'query' | 'target', tr: TrainableParts): { embeddings: number; grad: boolean } {
  let embeddings = 0;
  let grad = false;
  const entries = expand(shape[side]);
  const chunksWithImages = new Set(entries.filter((e) => e.seq.image).map((e) => e.seq.chunk ?? 0));
  for (const { seq, count } of entries) {
    if (seq.image && seq.tokens < shape.imageTokens) {
      throw new Error(`A ${side} sequence of ${seq.tokens} tokens cannot hold an image of ${shape.imageTokens} tokens; tokens count the whole sequence.`);
    }
    t.weight = count;
    if (seq.image) imageFlops(t, d, shape.imageTokens, tr);
    const inputGrad = (tr.embeddings ?? tr.language === 'full') || (imageTokensGrad(tr) && chunksWithImages.has(seq.chunk ?? 0));
    grad = sequenceFlops(t, d, seq.tokens, tr.language, inputGrad) || grad;
    embeddings += count * seq.embeddings;
  }
  t.weight = 1;
  return { embeddings, grad };
}

/** Forward and backward FLOPs of one training step (see the module comment for what is counted). */
export function stepFlops(d: FlopsDims, shape: StepShape, options: Partial<FlopsOptions> = {}): FlopsCount {
  const o: FlopsOptions = { ...DEFAULT_FLOPS_OPTIONS, ...options };
  const t = new Tally();
  const q = sideFlops(t, d, shape, 'query', o.trainable);
  const tg = sideFlops(t, d, shape, 'target', o.trainable);
  for (const p of shape.loss ?? [{ rows: q.embeddings, cols: tg.embeddings }]) t.product('loss', p.rows, d.dim, p.cols, q.grad, tg.grad);
  const parts = Object.values(t.byComponent);
  const forward = parts.reduce((s, c) => s + c.forward, 0);
  const backward = parts.reduce((s, c) => s + c.backward, 0);
  const encoderForward = forward - t.byComponent.loss.forward;
  const recompute =
    o.recompute === 'gradCache' ? encoderForward : o.recompute === 'checkpoint' ? parts.reduce((s, c) => s + c.taped, 0) - t.byComponent.loss.taped : 0;
  return { forward, backward, recompute, total: forward + backward + recompute, byComponent: t.byComponent };
}

/** What `stepShapeFromPacked` reads of a PackedBatch (lib/packing). */
export type PackedBatchLike = { readonly [K in 'query' | 'target']: readonly RenderedSequence[] };

export interface PackedShapeOptions {
  /** As lib/step's StepOptions.maxLen (longer sequences lose trailing turns). */
  maxLen: number | null;
  /** As lib/step's chunkSize: each chunk is padded on its own. null = the whole side at once. */
  chunkSize: number | null;
  /** true: the padded lengths the model executes; false: the real lengths (the useful work). */
  padded: boolean;
  loss: Pick<LossConfig, 'objective' | 'finetuneForm'>;
}

export const DEFAULT_PACKED_SHAPE_OPTIONS: Readonly<PackedShapeOptions> = Object.freeze({
  ...{ maxLen: null, chunkSize: null, padded: true },
  loss: Object.freeze({ objective: 'pretrain' as const, finetuneForm: 'paper' as const }),
});

function sideShapes(seqs: readonly RenderedSequence[], o: PackedShapeOptions): SequenceShape[] {
  const out: SequenceShape[] = [];
  const step = o.chunkSize === null ? Math.max(1, seqs.length) : Math.max(1, o.chunkSize);
  for (let i = 0; i < seqs.length; i += step) {
    const b = collate(seqs.slice(i, i + step), { maxLen: o.maxLen });
    const chunk = i / step;
    b.lengths.forEach((len, j) =>
      out.push({ tokens: o.padded ? b.seqLen : len, image: b.imageSpans[j] !== null, embeddings: (b.embPositions[j] as number[]).length, chunk }),
    );
  }
  return out;
}

/**
 * The step shape of a packed batch as lib/step executes it: collated (truncated, padded) per chunk, image
 * tokens from the rendered spans, the loss products of the configured objective (fine-tuning: four terms of
 * B×2B in the paper form, B×B in the official form).
 */
export function stepShapeFromPacked(packed: PackedBatchLike, options: Partial<PackedShapeOptions> = {}): StepShape {
  const o: PackedShapeOptions = { ...DEFAULT_PACKED_SHAPE_OPTIONS, ...options };
  const spans = [...packed.query, ...packed.target].flatMap((s) => (s.imageSpan === null ? [] : [s.imageSpan.length]));
  const imageTokens = spans[0] ?? 0;
  if (spans.some((n) => n !== imageTokens))
    throw new Error(`Image spans of ${[...new Set(spans)].join(', ')} tokens in one batch; the model makes one size per image.`);
  const query = sideShapes(packed.query, o);
  const target = sideShapes(packed.target, o);
  const sum = (s: SequenceShape[]): number => s.reduce((n, x) => n + x.embeddings, 0);
  const b = query.length;
  const loss: LossProduct[] =
    o.loss.objective === 'pretrain'
      ? [{ rows: sum(query), cols: sum(target) }]
      : Array.from({ length: 4 }, () => ({ rows: b, cols: o.loss.finetuneForm === 'paper' ? 2 * b : b }));
  return { query, target, imageTokens, loss };
}

// The paper-scale part (Qwen2-VL-2B sizes, the paper's training, Table 5 estimates): lib/analysis/flops-paper.ts.
export * from './flops-paper';
