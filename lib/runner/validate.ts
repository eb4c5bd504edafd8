/**
 * The validation check used to choose settings (never the test split, which the benchmarks are built from):
 * in-batch retrieval on mini-M3T validation records. For each record, the query is (image, its retrieval
 * turn's query) and the target that turn's dense description (unique per image, unlike short answers such as a
 * colour, which would tie), both embedded with the single-turn template as at test time; recall@1 is the
 * fraction of queries whose own target is strictly the nearest among all N targets; recall@5 / @10 and the mean
 * reciprocal rank likewise (see `retrievalMetrics`).
 *
 * Two controls tell whether a model reads the image at all: `mrrOtherImage`, the same queries with each image
 * swapped for another record's (a rotation by ⌊N/2⌋: neighbouring records are often one concept in two
 * styles), and `mrrImageOnly`, the image without the query text. A model that answers from the text alone
 * scores `mrrOtherImage` = `mrr`; one that reads the image drops towards chance on it.
 */
import { ImageCache } from '../data/cache';
import { readMiniM3t } from '../data/m3t';
import { meanPairwiseCosine } from '../diagnostics/cosine';
import type { EmbedInput, Embedder } from '../model/embedder';
import type { MetricValue } from '../results';
import type { RunOutcomes } from '../eval/outcomes';
import type { RunConfig } from './config';

/** One validation record: its image, its retrieval query text and the target description. */
export interface ValidationItem {
  image: string;
  query: string;
  target: string;
}

export interface ValidationOptions {
  /**
   * Take the validation images' pixels from the data build's image cache instead of decoding their files: for
   * machines without the image decoder or the image files (the GPU check, docs/gpu.md). The pixels are the
   * same either way (lib/data/cache.ts), and so are the metrics.
   */
  imagesFromCache?: boolean;
}

/**
 * The retrieval check with its image controls, and the classification check, of an embedder.
 * @param outcomes when given, receives each record's reciprocal rank (lib/eval/outcomes).
 */
export async function validationRecall(
  model: Embedder,
  cfg: RunConfig,
  outcomes?: RunOutcomes,
  options: ValidationOptions = {},
): Promise<Record<string, MetricValue>> {
  const n = cfg.eval.validationRecords;
  const split = n <= 0 ? null : await readMiniM3t(cfg.data.dir, 'validation');
  const pixels = options.imagesFromCache === true && split !== null ? cachedPixels(split, cfg.model.imageSize) : null;
  const embed = (inputs: EmbedInput[]): Promise<Float32Array> =>
    model.embedInputs(pixels === null ? inputs : inputs.map((x) => (typeof x.image === 'string' ? { ...x, image: pixels(x.image) } : x)));
  const items = (kind: 'retrieval' | 'cls'): ValidationItem[] => (split === null ? [] : itemsOfKind(split, n, kind));
  return {
    ...(await validationMetrics(embed, model.dim, items('retrieval'), outcomes)),
    ...(await classificationMetrics(embed, model.dim, items('cls'))),
  };
}

/** A split's image paths (as the validation items give them: under the split's imageRoot) to cached pixels. */
function cachedPixels(split: Awaited<ReturnType<typeof readMiniM3t>>, size: number): (image: string) => Float32Array {
  const cache = ImageCache.open(split.cacheDir, size);
  const prefix = `${split.imageRoot}/`;
  return (image) => {
    const row = cache.rowOf(image.startsWith(prefix) ? image.slice(prefix.length) : image);
    if (row === undefined) throw new Error(`Validation image ${image} is not in the image cache ${split.cacheDir}: rebuild the data with \`npm run data\`.`);
    return cache.floats(row);
  };
}

/**
 * The validation check's items: the first `n` validation records with an image and a turn of `kind`
 * (retrieval: the check every model, ours and the baselines, is validated on; cls: the classification check),
 * the query's first phrasing and the turn's target.
 */
export async function validationItems(dataDir: string, n: number, kind: 'retrieval' | 'cls' = 'retrieval'): Promise<ValidationItem[]> {
  return n <= 0 ? [] : itemsOfKind(await readMiniM3t(dataDir, 'validation'), n, kind);
}

function itemsOfKind(split: Awaited<ReturnType<typeof readMiniM3t>>, n: number, kind: 'retrieval' | 'cls'): ValidationItem[] {
  const turnOf = (r: (typeof split.records)[number]) => r.turns.find((t) => t.kind === kind);
  const records = split.records.filter((r) => r.queryImagePath !== '' && turnOf(r) !== undefined).slice(0, n);
  const first = (q: string | string[]): string => (typeof q === 'string' ? q : (q[0] ?? ''));
  return records.map((r) => ({ image: `${split.imageRoot}/${r.queryImagePath}`, query: first(turnOf(r)!.query), target: turnOf(r)!.target }));
}

/**
 * The validation metrics of `items` under an embedding function: `retrievalMetrics` of the true queries, plus
 * the MRR with another record's image (`mrrOtherImage`) and with the image alone (`mrrImageOnly`).
 */
export async function validationMetrics(
  embed: (inputs: EmbedInput[]) => Promise<Float32Array>,
  dim: number,
  items: readonly ValidationItem[],
  outcomes?: RunOutcomes,
): Promise<Record<string, MetricValue>> {
  const n = items.length;
  if (n === 0) return { ...retrievalMetrics(new Float32Array(0), new Float32Array(0), dim, 0), mrrOtherImage: null, mrrImageOnly: null, imageOnlyCosine: null };
  const targets = await embed(items.map((it) => ({ text: it.target })));
  const mrrOf = async (inputs: EmbedInput[]): Promise<Record<string, MetricValue>> => retrievalMetrics(await embed(inputs), targets, dim, n);
  const shift = Math.floor(n / 2);
  const queries = await embed(items.map((it) => ({ text: it.query, image: it.image })));
  const truth = retrievalMetrics(queries, targets, dim, n);
  if (outcomes !== undefined) outcomes.validation = { validation: ownRanks(queries, targets, dim, n).map((r) => 1 / r) };
  // With one record there is no other image to swap in.
  const other = n < 2 ? null : await mrrOf(items.map((it, i) => ({ text: it.query, image: (items[(i + shift) % n] as ValidationItem).image })));
  const imageOnlyEmbeddings = await embed(items.map((it) => ({ text: '', image: it.image })));
  const imageOnly = retrievalMetrics(imageOnlyEmbeddings, targets, dim, n);
  // How far apart different images embed on their own (1: every image to one vector; lib/diagnostics).
  // An encoder that gives an image alone no direction at all (a zero row) has no cosine to report.
  const directionless = Array.from({ length: n }, (_, i) => imageOnlyEmbeddings.subarray(i * dim, (i + 1) * dim).every((v) => v === 0)).some(Boolean);
  const imageOnlyCosine = n < 2 || directionless ? null : meanPairwiseCosine(imageOnlyEmbeddings, n, dim);
  return { ...truth, mrrOtherImage: other?.['mrr'] ?? null, mrrImageOnly: imageOnly['mrr'] ?? null, imageOnlyCosine };
}

/**
 * Rank metrics of N queries against their own targets among all N ([N, D] row-major each): the rank of a
 * query's own target is 1 + the number of other targets scoring at least as high (ties count against it).
 * recall@1 is the strict in-batch top-1; recall@5, @10 and the mean reciprocal rank show progress well before
 * recall@1 moves, which is what choosing settings on validation needs.
 */
export function retrievalMetrics(queries: Float32Array, targets: Float32Array, d: number, n: number): Record<string, MetricValue> {
  if (n === 0) return { records: 0, recallAt1: null, recallAt5: null, recallAt10: null, mrr: null, chanceMrr: null };
  const ranks = ownRanks(queries, targets, d, n);
  const share = (k: number): number => ranks.filter((r) => r <= k).length / n;
  let harmonic = 0;
  for (let r = 1; r <= n; r++) harmonic += 1 / r;
  return {
    records: n,
    recallAt1: share(1),
    recallAt5: share(5),
    recallAt10: share(10),
    mrr: ranks.reduce((a, r) => a + 1 / r, 0) / n,
    /** The MRR of a random ranking: H(N)/N. */
    chanceMrr: harmonic / n,
  };
}

/** The rank of each query's own target among the N targets ([N, D] row-major each; ties count against it). */
export function ownRanks(queries: Float32Array, targets: Float32Array, d: number, n: number): number[] {
  return labelRanks(
    queries,
    targets,
    d,
    Array.from({ length: n }, (_, i) => i),
  );
}

/**
 * The rank of query i's candidate `labels[i]` among all candidates (queries [N, D], candidates [A, D], row-major):
 * 1 + the number of other candidates scoring at least as high (ties count against it).
 */
export function labelRanks(queries: Float32Array, candidates: Float32Array, d: number, labels: readonly number[]): number[] {
  const a = candidates.length / d;
  return labels.map((label, i) => {
    const score = (j: number): number => {
      let s = 0;
      for (let k = 0; k < d; k++) s += (queries[i * d + k] as number) * (candidates[j * d + k] as number);
      return s;
    };
    const own = score(label);
    let rank = 1;
    for (let j = 0; j < a; j++) if (j !== label && score(j) >= own) rank++;
    return rank;
  });
}

/**
 * The classification check (MMEB's CLS, on validation records): each query (image + its classification
 * question) against the distinct answers of all items. `clsAccuracy` is hit@1, `clsMajority` what always giving
 * the most common answer scores. Unlike mini-MMEB's classification sets, these use the training data's own
 * wording and languages (README "Making the models learn" compares the two).
 */
export async function classificationMetrics(
  embed: (inputs: EmbedInput[]) => Promise<Float32Array>,
  dim: number,
  items: readonly ValidationItem[],
): Promise<Record<string, MetricValue>> {
  if (items.length === 0) return { clsRecords: 0, clsClasses: null, clsAccuracy: null, clsMajority: null };
  const answers = [...new Set(items.map((it) => it.target))];
  const labels = items.map((it) => answers.indexOf(it.target));
  const answerEmbeddings = await embed(answers.map((t) => ({ text: t })));
  const queries = await embed(items.map((it) => ({ text: it.query, image: it.image })));
  const counts = answers.map((_, a) => labels.filter((l) => l === a).length);
  return {
    clsRecords: items.length,
    clsClasses: answers.length,
    clsAccuracy: classificationAccuracy(queries, answerEmbeddings, dim, labels),
    clsMajority: Math.max(...counts) / items.length,
  };
}

/**
 * Hit@1 of queries [N, D] against answers [A, D] (row-major), query i's answer being `labels[i]`: the share of
 * queries whose own answer scores strictly above every other answer (a tie counts against the query).
 */
export function classificationAccuracy(queries: Float32Array, answers: Float32Array, d: number, labels: readonly number[]): number {
  return labels.length === 0 ? 0 : labelRanks(queries, answers, d, labels).filter((r) => r === 1).length / labels.length;
}
