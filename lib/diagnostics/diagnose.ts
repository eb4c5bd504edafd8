/**
 * Does an embedder see its images? A handful of numbers, each against a baseline, on mini-M3T images: train
 * split images to fit probes, validation split images to score them (the test split is never used).
 *
 *   imageOnlyCosine        mean pairwise cosine of image-only embeddings (`embedInputs([{image}])`) of the
 *                          test images: near 1 when the embedding hardly depends on the image
 *   probe.<features>.<task> test accuracy of a linear probe (lib/diagnostics/linear-probe.ts) for each task of
 *                          lib/diagnostics/labels.ts (colour, group, style), on three feature sets:
 *                            pixels     the raw 32 px RGB pixels (3072 values): what is there to read
 *                            vision     the vision tower's image tokens, mean-pooled (width model.dim): what
 *                                       the tower hands the language model
 *                            embedding  the image-only embeddings: what survives to the `<|emb|>` state
 *   probe.majority.<task>  the test accuracy of always answering the most frequent train class
 *   norm.imageTokens       mean L2 norm of the image tokens the tower feeds the language model (test images)
 *   norm.textTokens        mean L2 norm of the token embedding rows of the test records' rendered first
 *                          queries (the text the image tokens sit beside); a large ratio either way means one
 *                          modality dominates the residual stream at the first layer
 *   images.train, images.test  the numbers of images used
 * A task with no labelled train or test image in the sample is left out (with a warning).
 *
 * Read the probes with the cosine: a probe standardises its features, so it finds a label in variations of any
 * size, even ones the next layer cannot feel. Embeddings with a cosine of 0.9999999 between any two images can
 * still probe well above majority: the information is there but negligible in magnitude.
 */
import * as tf from '@tensorflow/tfjs';
import { ImageCache } from '../data/cache';
import { readMiniM3t, TrainingRecord } from '../data/m3t';
import { renderDialogue, TEMPLATE_BASE } from '../dialogue';
import { log } from '../log';
import type { Embedder } from '../model/embedder';
import { patchTensor, visionForward } from '../model/vision';
import { deriveSeed, Rng } from '../random';
import { meanPairwiseCosine } from './cosine';
import { probeLabels, PROBE_TASKS } from './labels';
import { LINEAR_PROBE_DEFAULTS, linearProbe } from './linear-probe';

export interface DiagnoseOptions {
  /** The built data folder (`npm run data`), holding m3t/ and cache/. */
  dataDir: string;
  /** Train-split images the probes are fitted on. */
  trainImages: number;
  /** Validation-split images the probes are scored on (and the cosine and norms measured on). */
  testImages: number;
  /** Seed of the image sample. */
  seed: number;
  /** Ridge penalty of every probe; null (default): each probe chooses its own by cross-validation on train. */
  lambda: number | null;
  /** Images per vision-tower forward pass. */
  batchSize: number;
}

export const DIAGNOSE_DEFAULTS: Readonly<Omit<DiagnoseOptions, 'dataDir'>> = Object.freeze({
  trainImages: 600,
  testImages: 300,
  seed: 0,
  lambda: LINEAR_PROBE_DEFAULTS.lambda,
  batchSize: 64,
});

/** Raw 32 px cache pixels are the `pixels` probe's features. */
const PIXEL_SIZE = 32;

/** A seeded sample of a split's image records, with their pixels at 32 px and at the model's size. */
interface ImageSample {
  records: TrainingRecord[];
  /** [n, 32·32·3] */
  pixels: Float32Array;
  /** Each [S·S·3] at the model's image size. */
  modelImages: Float32Array[];
}

async function sampleImages(dataDir: string, split: string, n: number, seed: number, imageSize: number): Promise<ImageSample> {
  const m3t = await readMiniM3t(dataDir, split);
  const withImage = m3t.records.filter((r) => r.queryImagePath !== '');
  const records = new Rng(deriveSeed(seed, `diagnostics:${split}`)).shuffle(withImage).slice(0, n);
  const raw = ImageCache.open(m3t.cacheDir, PIXEL_SIZE);
  const cache = imageSize === PIXEL_SIZE ? raw : ImageCache.open(m3t.cacheDir, imageSize);
  const width = PIXEL_SIZE * PIXEL_SIZE * 3;
  const pixels = new Float32Array(records.length * width);
  const modelImages = records.map((r, i) => {
    const row = cache.rowOf(r.queryImagePath);
    if (row === undefined)
      throw new Error(`Image ${r.queryImagePath} of record ${r.id} is not in the image cache ${m3t.cacheDir}; rebuild it with \`npm run data\`.`);
    pixels.set(raw.floats(row), i * width);
    return cache.floats(row);
  });
  return { records, pixels, modelImages };
}

/** Mean-pooled vision-tower tokens [n, dim] and the mean L2 norm of the tokens themselves. */
function visionFeatures(model: Embedder, images: readonly Float32Array[], batchSize: number): { pooled: Float32Array; tokenNorm: number } {
  const pooled = new Float32Array(images.length * model.dim);
  let normSum = 0;
  for (let start = 0; start < images.length; start += batchSize) {
    const chunk = images.slice(start, start + batchSize);
    const [mean, norms] = tf.tidy(() => {
      const tokens = visionForward(model.params, model.config, patchTensor(chunk, model.config)); // [Bi, N, dim]
      return [tf.mean(tokens, 1), tf.sum(tf.mean(tf.norm(tokens, 'euclidean', 2), 1))]; // [Bi, dim], []
    }) as [tf.Tensor, tf.Tensor];
    pooled.set(mean.dataSync(), start * model.dim);
    normSum += norms.dataSync()[0] as number;
    tf.dispose([mean, norms]);
  }
  return { pooled, tokenNorm: normSum / images.length };
}

/** Mean L2 norm of the token embedding rows at every token of the records' rendered first queries. */
function textTokenNorm(model: Embedder, records: readonly TrainingRecord[]): number {
  const embed = model.params.get('lm.embed');
  if (embed === undefined) throw new Error("diagnoseEmbedder: the model has no 'lm.embed' parameter; is it an Embedder from lib/model?");
  const first = (q: string | string[]): string => (typeof q === 'string' ? q : (q[0] ?? ''));
  const ids = records.flatMap((r) => renderDialogue(TEMPLATE_BASE, { turns: [first(r.turns[0]?.query ?? '')], image: false }, model.tokenizer).ids);
  return tf.tidy(() => tf.mean(tf.norm(tf.gather(embed, tf.tensor1d(ids, 'int32')), 'euclidean', 1)).dataSync()[0] as number);
}

/** One task's labelled images: positions in the train and test samples and their class ids (shared by both). */
interface TaskLabels {
  trainRows: number[];
  trainY: number[];
  testRows: number[];
  testY: number[];
}

/** Per task, the labelled images of the two samples (a task with none on either side is left out). */
function taskLabels(train: readonly TrainingRecord[], test: readonly TrainingRecord[]): Map<string, TaskLabels> {
  const out = new Map<string, TaskLabels>();
  for (const task of PROBE_TASKS) {
    const [a, b] = [train, test].map((records) => {
      const index = new Map(records.map((r, i) => [r, i]));
      return probeLabels(records, task).map((x) => ({ row: index.get(x.record) as number, label: x.label }));
    }) as [{ row: number; label: string }[], { row: number; label: string }[]];
    if (a.length === 0 || b.length === 0) {
      log.warn(
        `diagnoseEmbedder: no labelled ${a.length === 0 ? 'train' : 'validation'} image for the ${task} probe in the sample; its keys are left out (sample more images).`,
      );
      continue;
    }
    const id = new Map([...new Set([...a, ...b].map((x) => x.label))].sort().map((c, k) => [c, k]));
    const y = (xs: { label: string }[]): number[] => xs.map((x) => id.get(x.label) as number);
    out.set(task, { trainRows: a.map((x) => x.row), trainY: y(a), testRows: b.map((x) => x.row), testY: y(b) });
  }
  return out;
}

/** Rows `rows` of x [n, d], as a new [rows.length, d]. */
function pickRows(x: Float32Array, rows: readonly number[], d: number): Float32Array {
  const out = new Float32Array(rows.length * d);
  rows.forEach((i, j) => out.set(x.subarray(i * d, (i + 1) * d), j * d));
  return out;
}

/** Probe accuracies (and majority baselines) of one feature set, [n, d] for each sample, on every task. */
function probeFeatures(
  name: string,
  train: Float32Array,
  test: Float32Array,
  d: number,
  labels: ReadonlyMap<string, TaskLabels>,
  lambda: number | null,
): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [task, l] of labels) {
    const result = linearProbe({ x: pickRows(train, l.trainRows, d), labels: l.trainY }, { x: pickRows(test, l.testRows, d), labels: l.testY }, d, { lambda });
    out[`probe.${name}.${task}`] = result.accuracy;
    out[`probe.majority.${task}`] = result.majorityAccuracy;
  }
  return out;
}

/** The diagnostics above, as flat keys. Leaves no tensor behind. */
export async function diagnoseEmbedder(model: Embedder, options: Partial<DiagnoseOptions> & { dataDir: string }): Promise<Record<string, number>> {
  const o: DiagnoseOptions = { ...DIAGNOSE_DEFAULTS, ...options };
  for (const key of ['trainImages', 'testImages', 'batchSize'] as const) {
    if (!Number.isInteger(o[key]) || o[key] < 1) throw new Error(`diagnoseEmbedder: ${key} must be a positive integer, got ${o[key]}.`);
  }
  if (o.testImages < 2) throw new Error(`diagnoseEmbedder: testImages must be ≥ 2 (the cosine needs a pair), got ${o.testImages}.`);
  const size = model.config.imageSize;
  const train = await sampleImages(o.dataDir, 'train', o.trainImages, o.seed, size);
  const test = await sampleImages(o.dataDir, 'validation', o.testImages, o.seed, size);
  if (test.records.length < 2)
    throw new Error(`diagnoseEmbedder: the validation split of ${o.dataDir} has ${test.records.length} image(s); the cosine needs 2 (build more data).`);
  const labels = taskLabels(train.records, test.records);
  const visionTrain = visionFeatures(model, train.modelImages, o.batchSize);
  const visionTest = visionFeatures(model, test.modelImages, o.batchSize);
  const embedTrain = await model.embedInputs(train.modelImages.map((image) => ({ image })));
  const embedTest = await model.embedInputs(test.modelImages.map((image) => ({ image })));
  const d = model.dim;
  return {
    imageOnlyCosine: meanPairwiseCosine(embedTest, test.records.length, d),
    ...probeFeatures('pixels', train.pixels, test.pixels, PIXEL_SIZE * PIXEL_SIZE * 3, labels, o.lambda),
    ...probeFeatures('vision', visionTrain.pooled, visionTest.pooled, d, labels, o.lambda),
    ...probeFeatures('embedding', embedTrain, embedTest, d, labels, o.lambda),
    'norm.imageTokens': visionTest.tokenNorm,
    'norm.textTokens': textTokenNorm(model, test.records),
    'images.train': train.records.length,
    'images.test': test.records.length,
  };
}
