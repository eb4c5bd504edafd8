/**
 * What the base model has learnt, on held-out records (docs/base-model.md):
 *   loss      mean next-token cross-entropy of the answers of a fixed set of records
 *   colour    exact-match accuracy of the greedy answer to the record's English region-colour question
 *   group     the emoji group, asked of every emoji image in one of the training phrasings (the label is the
 *             group its description names; asking only the records that drew the group question would be
 *             9 in 10 "people & body", the skin-tone variants)
 *   style     whether the greedy description names the image's drawing style
 * each beside the majority-class answer's accuracy (the most frequent training answer), which a model that
 * ignores the image reaches at best.
 */
import * as tf from '@tensorflow/tfjs';
import { collate } from '../batch';
import type { TrainingRecord } from '../data/m3t';
import { STYLE_INFO, STYLES, type Style } from '../data/concepts';
import { emojiGroup } from '../diagnostics/labels';
import type { Embedder } from '../model/embedder';
import { patchTensor } from '../model/vision';
import { Rng } from '../random';
import type { ImageRecord } from '../packing';
import { generate } from './generate';
import { answerTargets, generativeLoss } from './objective';
import { packGenerative } from './packing';

/** One generative probe question with its expected answer. */
export interface ProbeQuestion {
  task: 'colour' | 'group' | 'style';
  image: Float32Array;
  question: string;
  /** The exact answer (colour, group) or the drawing style (style). */
  expected: string;
}

const first = (q: string | string[]): string => (typeof q === 'string' ? q : (q[0] ?? ''));
const norm = (s: string): string => s.trim().toLowerCase();

/** Is this turn one of the facet-based probes (colour, style), in English? */
function facetTask(kind: string, facet: string | undefined, lang: string | undefined): 'colour' | 'style' | null {
  if (lang !== undefined && lang !== 'en') return null;
  if (facet !== undefined && facet.startsWith('colour:')) return 'colour';
  if (kind === 'retrieval') return 'style';
  return null;
}

/** The group question, one of the phrasings the training data asks it with. */
export const GROUP_QUESTION = 'Which broad emoji category does this belong to?';

/** The emoji group of an image's record (from its description), or undefined (flags, no description). */
function groupOf(record: TrainingRecord): string | undefined {
  return record.concept?.startsWith('flag:') === true ? undefined : emojiGroup(record.querySentence);
}

/** A record as the probes take it: the turns with their facets and languages, and the pixels. */
export interface ProbeRecord {
  record: TrainingRecord;
  facets?: string[];
  langs?: string[];
  image: Float32Array | null;
}

/** The probe questions of records (at most `perTask` of each task, in record order). */
export function probeQuestions(records: readonly ProbeRecord[], perTask: number): ProbeQuestion[] {
  const out: ProbeQuestion[] = [];
  const count = { colour: 0, group: 0, style: 0 };
  for (const { record, facets, langs, image } of records) {
    if (image === null) continue;
    const group = groupOf(record);
    if (group !== undefined && count.group < perTask) {
      count.group++;
      out.push({ task: 'group', image, question: GROUP_QUESTION, expected: group });
    }
    record.turns.forEach((turn, i) => {
      const task = facetTask(turn.kind, facets?.[i], langs?.[i]);
      if (task === null || count[task] >= perTask) return;
      if (task === 'style' && !(STYLES as readonly string[]).includes(record.style ?? '')) return;
      count[task]++;
      out.push({ task, image, question: first(turn.query), expected: task === 'style' ? (record.style as string) : turn.target });
    });
  }
  return out;
}

/** The style a generated description names (the first style phrase in it), or null. */
export function styleNamed(text: string): Style | null {
  let best: { style: Style; at: number } | null = null;
  for (const style of STYLES) {
    const at = text.indexOf(STYLE_INFO[style].phrase);
    if (at >= 0 && (best === null || at < best.at)) best = { style, at };
  }
  return best?.style ?? null;
}

/** The most frequent answer per task among training probe questions. */
export function majorityAnswers(train: readonly ProbeRecord[]): Record<ProbeQuestion['task'], string> {
  const counts = { colour: new Map<string, number>(), group: new Map<string, number>(), style: new Map<string, number>() };
  for (const { record, facets, langs } of train) {
    const group = groupOf(record);
    if (group !== undefined) counts.group.set(norm(group), (counts.group.get(norm(group)) ?? 0) + 1);
    record.turns.forEach((turn, i) => {
      const task = facetTask(turn.kind, facets?.[i], langs?.[i]);
      if (task === null) return;
      const key = task === 'style' ? (record.style ?? '') : norm(turn.target);
      counts[task].set(key, (counts[task].get(key) ?? 0) + 1);
    });
  }
  const top = (m: Map<string, number>): string => [...m.entries()].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))[0]?.[0] ?? '';
  return { colour: top(counts.colour), group: top(counts.group), style: top(counts.style) };
}

/** Accuracy of greedy answers and of the majority answer, per task: `gen.<task>`, `gen.<task>.majority`. */
export function generativeAccuracy(
  model: Embedder,
  questions: readonly ProbeQuestion[],
  majority: Record<ProbeQuestion['task'], string>,
): Record<string, number> {
  // Short answers (a colour, a group) need a few tokens; the style is named ≈ 20–30 tokens into a description.
  const answers: string[] = new Array<string>(questions.length).fill('');
  for (const [task, maxNewTokens] of [
    ['colour', 12],
    ['group', 12],
    ['style', 40],
  ] as const) {
    const idx = questions.map((q, i) => (q.task === task ? i : -1)).filter((i) => i >= 0);
    const out = generate(
      model,
      idx.map((i) => ({ question: (questions[i] as ProbeQuestion).question, image: (questions[i] as ProbeQuestion).image })),
      { maxNewTokens },
    );
    idx.forEach((i, j) => (answers[i] = out[j] as string));
  }
  const out: Record<string, number> = {};
  for (const task of ['colour', 'group', 'style'] as const) {
    const idx = questions.map((q, i) => (q.task === task ? i : -1)).filter((i) => i >= 0);
    if (idx.length === 0) continue;
    const hit = (i: number): boolean => {
      const q = questions[i] as ProbeQuestion;
      const a = answers[i] as string;
      return task === 'style' ? styleNamed(a) === q.expected : norm(a) === norm(q.expected);
    };
    out[`gen.${task}`] = idx.filter(hit).length / idx.length;
    out[`gen.${task}.majority`] = idx.filter((i) => norm((questions[i] as ProbeQuestion).expected) === majority[task]).length / idx.length;
  }
  return out;
}

/** Mean answer-token loss and token accuracy of records (a fixed packing: seed 0), in chunks. */
export function heldOutLoss(model: Embedder, records: readonly ImageRecord[], chunk = 16): { loss: number; tokenAccuracy: number } {
  let lossSum = 0;
  let accSum = 0;
  let tokens = 0;
  const rng = new Rng(0);
  for (let start = 0; start < records.length; start += chunk) {
    const packed = packGenerative(records.slice(start, start + chunk), model.tokenizer, rng, { turns: null, imageTokens: model.imageTokens });
    const batch = collate(packed.sequences, { maxLen: model.config.maxLen });
    const targets = answerTargets(
      batch,
      packed.sequences.map((s) => s.answer ?? []),
    );
    const images = packed.images.filter((x): x is Float32Array => x instanceof Float32Array);
    const [l, a] = tf.tidy(() => {
      const patches = images.length > 0 ? patchTensor(images, model.config) : null;
      const out = generativeLoss(model, batch, patches, targets);
      return [out.loss.dataSync()[0] as number, out.accuracy.dataSync()[0] as number];
    });
    const n = targets.ids.length;
    lossSum += l * n;
    accSum += a * n;
    tokens += n;
  }
  return { loss: lossSum / tokens, tokenAccuracy: accSum / tokens };
}
