/**
 * The probe set of the coherence analysis (lib/analysis/coherence.ts): a model's embeddings of held-out mini-M3T
 * records in the two forms it knows.
 *
 *   single-turn  every chosen (image + query, target) pair embedded alone with the evaluation template
 *                (docs/method.md §5): `queries` and `targets`, row i of each a positive pair
 *   multi-turn   each record as one k-turn query dialogue (§1.3): one embedding per turn, grouped by record
 *
 * Both forms use the same chosen pairs and phrasings (one seeded draw, as packMultiTurn makes it), so under
 * the causal mask turn 0 of a dialogue is exactly its single-turn query.
 */
import * as tf from '@tensorflow/tfjs';
import { collate } from '../batch';
import type { RunConfig } from '../runner/config';
import { trainingData } from '../runner/run';
import type { Embedder } from '../model/embedder';
import { patchTensor } from '../model/vision';
import { renderDialogue, TEMPLATE_PRETRAIN } from '../dialogue';
import { choosePairs } from '../packing';
import { Rng } from '../random';
import type { TrainRecord } from '../train';

export interface ProbeOptions {
  /** k: turns per record (capped at the record's pairs). */
  turns: number;
  /** Seed of the pair and phrasing draw. */
  seed: number;
  /** Dialogues per forward pass. */
  batchSize: number;
}

export const DEFAULT_PROBE: Readonly<ProbeOptions> = Object.freeze({ turns: 7, seed: 0, batchSize: 16 });

export interface ProbeEmbeddings {
  dim: number;
  /** [n, dim] single-turn (image + query) embeddings, one per chosen pair. */
  queries: Float32Array;
  /** [n, dim] single-turn target embeddings, row i the positive of query i. */
  targets: Float32Array;
  /** [n] the record of each pair. */
  pairGroups: number[];
  /** [m, dim] turn embeddings of the multi-turn query dialogues (m ≤ n: maxLen may drop trailing turns). */
  turnEmbeddings: Float32Array;
  /** [m] the record (dialogue) of each turn embedding. */
  turnGroups: number[];
  /** [m] the turn slot of each turn embedding. */
  turnSlots: number[];
}

/** `n` records of a split at the model's image size, with decoded pixels. */
export async function probeRecords(cfg: RunConfig, split: string, n: number): Promise<TrainRecord[]> {
  const { data } = await trainingData({ ...cfg, data: { ...cfg.data, split, maxRecords: n } });
  const out: TrainRecord[] = [];
  for (let i = 0; i < data.size; i++) out.push(await data.get(i));
  return out;
}

/** Embed the probe set with `model` (inference: no dropout). */
export async function probeEmbeddings(model: Embedder, records: readonly TrainRecord[], options: Partial<ProbeOptions> = {}): Promise<ProbeEmbeddings> {
  const o = { ...DEFAULT_PROBE, ...options };
  const withImage = records.filter((r) => r.image !== null);
  if (withImage.length < 2) throw new Error(`probeEmbeddings needs at least 2 records with an image, got ${withImage.length}.`);
  // One draw for both forms, in record order (as packMultiTurn draws with one Rng).
  const drawRng = new Rng(o.seed);
  const chosen = withImage.map((r) => choosePairs(r, o.turns, drawRng));
  const pairGroups = chosen.flatMap((c, g) => c.map(() => g));
  const queries = await model.embedInputs(chosen.flatMap((c, g) => c.map((p) => ({ text: p.query, image: withImage[g]?.image as Float32Array }))));
  const targets = await model.embedInputs(chosen.flatMap((c) => c.map((p) => ({ text: p.target }))));
  const turnRows: Float32Array[] = [];
  const turnGroups: number[] = [];
  const turnSlots: number[] = [];
  for (let start = 0; start < withImage.length; start += o.batchSize) {
    const part = withImage.slice(start, start + o.batchSize);
    // The query dialogue as packMultiTurn renders it (§1.3), with the drawn pairs in the drawn order.
    const dialogues = part.map((r, i) =>
      renderDialogue(TEMPLATE_PRETRAIN, { turns: (chosen[start + i] ?? []).map((p) => p.query), image: true }, model.tokenizer, {
        imageTokens: model.imageTokens,
        id: `${r.id}/query`,
      }),
    );
    const batch = collate(dialogues, { maxLen: model.config.maxLen });
    const patches = patchTensor(
      part.map((r) => r.image as Float32Array),
      model.config,
    );
    const { embeddings, index } = model.embed(batch, patches);
    turnRows.push(Float32Array.from(embeddings.dataSync()));
    tf.dispose([patches, embeddings]);
    for (const e of index) {
      turnGroups.push(start + e.sequence);
      turnSlots.push(e.slot);
    }
  }
  const turnEmbeddings = new Float32Array(turnRows.reduce((n, r) => n + r.length, 0));
  let offset = 0;
  for (const r of turnRows) {
    turnEmbeddings.set(r, offset);
    offset += r.length;
  }
  return { dim: model.dim, queries, targets, pairGroups, turnEmbeddings, turnGroups, turnSlots };
}
