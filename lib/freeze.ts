/**
 * Which parameters an embedding run trains. The paper fine-tunes Qwen2-VL with LoRA on the language model only:
 * its `visual` module (the ViT and the patch merger that projects into the language width) stays as pretrained
 * (docs/model.md, "Frozen vision"). Our base's tower was aligned contrastively before the generative stage
 * (docs/base-model.md), so keeping it fixed keeps that alignment while the language model learns to embed.
 *
 *   null       every parameter trains (the default)
 *   'tower'    the vision tower (`vision.*`) is fixed; the projector (`merger.*`) and the language model train
 *   'vision'   the tower and the projector are fixed: the paper's frozen `visual` module
 */
import type * as tf from '@tensorflow/tfjs';

export const FREEZE_KINDS = ['tower', 'vision'] as const;
export type FreezeKind = (typeof FREEZE_KINDS)[number];

const FROZEN_PREFIXES: Readonly<Record<FreezeKind, readonly string[]>> = Object.freeze({
  tower: ['vision.'],
  vision: ['vision.', 'merger.'],
});

/** Whether parameter `name` (lib/model/params names) stays fixed under `freeze`. */
export function isFrozen(name: string, freeze: FreezeKind | null): boolean {
  return freeze !== null && FROZEN_PREFIXES[freeze].some((p) => name.startsWith(p));
}

/** @throws when `freeze` is neither null nor one of FREEZE_KINDS (e.g. a typo in `--set train.freeze=…`) */
export function checkFreeze(freeze: unknown): asserts freeze is FreezeKind | null {
  if (!(freeze === null || FREEZE_KINDS.includes(freeze as FreezeKind))) {
    throw new Error(`train.freeze must be ${FREEZE_KINDS.map((k) => `'${k}'`).join(' or ')} or null, got '${String(freeze)}'.`);
  }
}

/**
 * The parameters that train under `freeze`, in the model's order, with their names.
 * @throws when `freeze` would leave nothing to train, or names a kind that does not exist
 */
export function trainableParams(params: ReadonlyMap<string, tf.Variable>, freeze: FreezeKind | null): { name: string; variable: tf.Variable }[] {
  checkFreeze(freeze);
  const out = [...params.entries()].filter(([name]) => !isFrozen(name, freeze)).map(([name, variable]) => ({ name, variable }));
  if (out.length === 0) throw new Error(`train.freeze '${freeze}' leaves no parameter to train.`);
  return out;
}
