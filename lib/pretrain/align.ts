/**
 * Stage 0 of a base model: CLIP-style contrastive alignment of the embedder's vision tower before generative
 * pretraining (docs/base-model.md). Qwen2-VL's vision tower is not trained from nothing inside the MLLM: it
 * starts from a CLIP ViT. Ours is trained the same way, at our scale, then copied into the base model:
 *
 *   dual encoder (lib/baselines) with `imageTower: 'vision'`: the embedder's own tower (stem → ViT → merge →
 *   projector, parameters `vision.*` and `merger.*`) → mean over its image tokens → LayerNorm → linear,
 *   against the bag-of-words text tower; retrieval turns (image + question → description), random shifts,
 *   learnable τ, batch 128: the baseline's recipe (lib/baselines/train-dual.ts)
 *   → the tower's weights are assigned into the freshly initialised embedder; the text tower is dropped.
 *
 * The run lives in `<base>/align/` (log.jsonl committed, checkpoints/ ignored) and resumes like any run.
 */
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { DualEncoder, dualEncoderConfig, isTowerParameter } from '../baselines/dual-encoder';
import { DualTrainConfig, trainDual } from '../baselines/train-dual';
import type { Embedder } from '../model/embedder';
import type { ModelPreset } from '../model/config';
import { validationItems, validationMetrics } from '../runner/validate';
import { runLogSummary } from '../runner/log-summary';
import { log } from '../log';
import type { Tokenizer } from '../tokenizer';
import type { TrainData } from '../train';

/** The M3T turn kind stage 0 trains on: image (+ retrieval question) → the image's description. */
export const ALIGN_KIND = 'retrieval';

/** What alignment measured: the validation MRR of its last evaluation and its training seconds. */
export interface AlignOutcome {
  steps: number;
  batchSize: number;
  seconds: number;
  validationMrr: number | null;
  /** The validation MRR of a model that ranks at random (the same records). */
  chanceMrr: number | null;
  temperature: number;
}

/** One image and its turns, with the image's pixels normalised as the embedder takes them. */
export interface AlignRecord {
  id: string;
  image: Float32Array;
  turns: readonly { kind: string; query: string | string[]; target: string }[];
}

/**
 * Train the tower of `preset` contrastively and copy it into `model` (whose tower must have the same shapes).
 * @param records training images with their turns; those without a retrieval turn are skipped
 * @param options.dir the run folder (`<base>/align`): log.jsonl and checkpoints, resumed when present
 * @param options.validation where the validation MRR (lib/runner/validate.ts) is measured every
 *        `train.evalEvery` steps and at the end; null: never
 */
export async function alignVisionTower(
  model: Embedder,
  preset: ModelPreset,
  tokenizer: Tokenizer,
  records: readonly AlignRecord[],
  train: DualTrainConfig,
  options: { dir: string; validation: { dataDir: string; records: number } | null; progress?: 'bar' | 'lines' | 'none' },
): Promise<AlignOutcome> {
  const kept = records.flatMap((r) => {
    const pairs = r.turns.filter((t) => t.kind === ALIGN_KIND).map((t) => ({ query: t.query, target: t.target }));
    return pairs.length === 0 ? [] : [{ id: r.id, image: r.image, pairs }];
  });
  if (kept.length < train.batchSize) {
    throw new Error(
      `Vision alignment needs at least train.batchSize (${train.batchSize}) training images with a '${ALIGN_KIND}' turn; found ${kept.length}. Rebuild the data (npm run data) or set align=null.`,
    );
  }
  const data: TrainData = { size: kept.length, get: (i) => kept[i] as (typeof kept)[number] };
  const config = dualEncoderConfig({ imageTower: 'vision', visionPreset: preset, imageSize: model.config.imageSize, normalization: 'unit' });
  const dual = DualEncoder.create(config, tokenizer, train.seed);
  try {
    checkTowerShapes(dual, model);
    const items = options.validation === null ? null : await validationItems(options.validation.dataDir, options.validation.records);
    let validationMrr: number | null = null;
    let chanceMrr: number | null = null;
    const evaluate = async (step: number, m: DualEncoder): Promise<Record<string, number | null>> => {
      if (items === null) return {};
      const v = await validationMetrics((inputs) => m.embedInputs(inputs), m.dim, items);
      validationMrr = typeof v['mrr'] === 'number' ? v['mrr'] : null;
      chanceMrr = typeof v['chanceMrr'] === 'number' ? v['chanceMrr'] : null;
      log.info(`vision alignment step ${step}: validation MRR ${validationMrr?.toFixed(4) ?? '–'}`);
      return { mrr: validationMrr, mrrImageOnly: typeof v['mrrImageOnly'] === 'number' ? v['mrrImageOnly'] : null };
    };
    const summary = await trainDual(dual, data, train, { runDir: options.dir, evaluate, progress: options.progress ?? 'lines' });
    // A finished alignment (the base resumed) trains nothing: measure what it hands over.
    if (validationMrr === null && items !== null) await evaluate(train.steps, dual);
    copyTower(dual, model);
    // Over every session of the alignment (a finished one is only loaded here).
    const seconds = runLogSummary(options.dir).trainSeconds;
    log.info(`vision alignment: ${train.steps} steps, tower copied into the base model (${path.relative('.', options.dir)})`);
    return { steps: train.steps, batchSize: train.batchSize, seconds, validationMrr, chanceMrr, temperature: summary.temperature };
  } finally {
    dual.dispose();
  }
}

/** Every tower parameter of the dual encoder exists in the embedder with the same shape, or an error listing what differs. */
export function checkTowerShapes(dual: DualEncoder, model: Embedder): void {
  const problems: string[] = [];
  for (const [name, v] of dual.params) {
    if (!isTowerParameter(name)) continue;
    const target = model.params.get(name);
    if (target === undefined) problems.push(`${name} is missing from the embedder`);
    else if (target.shape.join('x') !== v.shape.join('x'))
      problems.push(`${name} is [${v.shape.join(', ')}] in the aligned tower but [${target.shape.join(', ')}] in the embedder`);
  }
  for (const name of model.params.keys()) if (isTowerParameter(name) && !dual.params.has(name)) problems.push(`${name} is not in the aligned tower`);
  if (problems.length > 0) {
    throw new Error(
      `The aligned vision tower does not fit the base model (${problems.slice(0, 4).join('; ')}): model.* overrides that change the tower need align=null.`,
    );
  }
}

/** Assign the dual encoder's tower weights to the embedder's parameters of the same names. */
export function copyTower(dual: DualEncoder, model: Embedder): void {
  checkTowerShapes(dual, model);
  tf.tidy(() => {
    for (const [name, v] of dual.params) if (isTowerParameter(name)) model.params.get(name)?.assign(v);
  });
}
