/**
 * The MMEB harness (docs/benchmarks.md §1.2–1.4): encode each distinct query and candidate of a data
 * set once, score every row against its own candidates (`eval_type: local`), hit@1 with the v1 tie rule
 * (first maximum wins, so a tie with the positive at index 0 is correct), the other ranking metrics of
 * VLM2Vec-V2's score files, then aggregate as MMEB does. Also reads score files written by external
 * evaluators (VLM2Vec / MuCo `{dataset}_score.json`, or a leaderboard JSON) so their numbers sit in our tables.
 */
import * as fs from 'fs';
import * as path from 'path';
import { EmbeddingCache, type Encoder } from './encoder';
import { log } from '../log';
import { meanRankingMetrics, mmebHitAt1, type RankedCase, tiedAtTop } from '../metrics';
import { dotRows, rankScores } from '../rank';
import { checkMmebImages, type MmebDatasetEntry, mmebRowItems, type MmebRow, readMmebFile } from './mmeb-format';
import { mmebRowChance } from './chance';
import { aggregateMmeb, type MmebAggregate, type MmebDatasetInfo } from './mmeb-aggregate';
import { asRecord } from '../jsonl';
import { type WriteOptions, writeJson } from '../results';

/** A `{dataset}_score.json`: v1's fields (`acc`, `num_correct`, `num_pred`), V2's (`hit@1`, ...,
 * `num_data`), and `num_ties` (rows decided by the tie rule). Metric values are fractions. */
export type MmebScoreFile = Record<string, number>;

export interface MmebOptions {
  /** Replacement for the `<|image_1|>` placeholder ('' strips it: our encoder takes the image separately). */
  imageToken: string;
  /** Items per encoder call. */
  batchSize: number;
  /** Cut-offs of the V2 metrics written to the score files. */
  ks: readonly number[];
  /** Keep only the first `limit` rows of each data set (development runs; never compare with anchors). */
  limit?: number;
  /** Check that every image exists before encoding. */
  checkImages: boolean;
}

export const DEFAULT_MMEB_OPTIONS: MmebOptions = { imageToken: '', batchSize: 64, ks: [1, 5, 10], checkImages: true };

export interface MmebScoreOptions extends Partial<MmebOptions> {
  imageRoot: string;
  /** Data set name, for messages. */
  dataset?: string;
  /** When given, receives each row's hit@1 (0 or 1), in row order: the per-query outcomes of lib/eval/outcomes. */
  hits?: number[];
}

/**
 * Scores one data set's rows.
 * @returns the score file; `hit@1` (= `acc`) is MMEB's number.
 */
export async function scoreMmebRows(rows: readonly MmebRow[], encoder: Encoder, options: MmebScoreOptions): Promise<MmebScoreFile> {
  const name = options.dataset ?? 'MMEB';
  if (rows.length === 0) throw new Error(`MMEB ${name}: no rows to score.`);
  const { ks, batchSize, imageToken } = { ...DEFAULT_MMEB_OPTIONS, ...options };
  const items = rows.map((r) => mmebRowItems(r, { imageRoot: options.imageRoot, imageToken }));
  const cache = new EmbeddingCache(encoder, { batchSize });
  const qry = await cache.embedUnique(items.map((i) => i.query));
  const candItems = items.flatMap((i) => i.candidates);
  const cand = await cache.embedUnique(candItems);
  log.debug(`MMEB ${name}: ${qry.numUnique} distinct queries, ${cand.numUnique} distinct candidates of ${candItems.length}`);

  const dim = encoder.dim;
  const maxK = Math.max(...ks);
  const cases: RankedCase<number>[] = [];
  const positive = new Set([0]);
  let correct = 0;
  let ties = 0;
  let offset = 0;
  rows.forEach((row, r) => {
    const n = row.tgtText.length;
    const scores = new Float64Array(n);
    for (let j = 0; j < n; j++) scores[j] = dotRows(qry.vectors, qry.rows[r] as number, cand.vectors, cand.rows[offset + j] as number, dim);
    offset += n;
    const hit = mmebHitAt1(scores);
    correct += hit;
    options.hits?.push(hit);
    if (tiedAtTop(scores)) ties++;
    cases.push({ ranking: rankScores(scores, maxK), relevance: positive });
  });
  if (ties > 0) {
    log.warn(`MMEB ${name}: ${ties}/${rows.length} rows tie the positive with the best negative (counted correct, as v1).`);
  }
  const acc = correct / rows.length;
  return {
    acc,
    // hit@1 a model of random embeddings expects on these rows (lib/eval/chance)
    'chance_hit@1': items.reduce((sum, i) => sum + mmebRowChance(i.candidates), 0) / rows.length,
    num_correct: correct,
    num_pred: rows.length,
    num_data: rows.length,
    num_ties: ties,
    ...meanRankingMetrics(cases, { ks }),
  };
}

/**
 * Evaluates every data set of a benchmark; returns the score files by data set name.
 * @param outcomes when given, receives each data set's per-row hit@1 (lib/eval/outcomes).
 */
export async function evaluateMmeb(
  entries: readonly MmebDatasetEntry[],
  encoder: Encoder,
  opts: Partial<MmebOptions> = {},
  outcomes?: Record<string, number[]>,
): Promise<Record<string, MmebScoreFile>> {
  const options = { ...DEFAULT_MMEB_OPTIONS, ...opts };
  const out: Record<string, MmebScoreFile> = {};
  for (const entry of entries) {
    const rows = await readMmebFile(entry.file, options.limit === undefined ? {} : { limit: options.limit });
    if (options.checkImages) checkMmebImages(rows, entry.imageRoot, entry.name);
    const t0 = Date.now();
    const hits: number[] = [];
    const score = await scoreMmebRows(rows, encoder, { ...options, imageRoot: entry.imageRoot, dataset: entry.name, hits });
    if (outcomes !== undefined) outcomes[entry.name] = hits;
    out[entry.name] = score;
    log.info(`MMEB ${entry.name}: hit@1 ${(100 * (score['hit@1'] as number)).toFixed(1)} on ${rows.length} rows (${Date.now() - t0} ms)`);
  }
  return out;
}

/** The aggregate that random embeddings expect on the scored rows (each file's `chance_hit@1`, lib/eval/chance). */
export function mmebChanceSummary(files: Readonly<Record<string, MmebScoreFile>>, catalogue?: readonly MmebDatasetInfo[]): MmebAggregate {
  const chance = Object.fromEntries(Object.entries(files).map(([name, f]) => [name, { 'hit@1': f['chance_hit@1'] as number }]));
  return mmebSummary(chance, catalogue);
}

/** hit@1 per data set from score files (V2's `hit@1`, else v1's `acc`). */
export function hitAt1ByDataset(files: Readonly<Record<string, MmebScoreFile>>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [name, f] of Object.entries(files)) {
    const v = f['hit@1'] ?? f['acc'];
    if (typeof v !== 'number') throw new Error(`MMEB score of "${name}" has neither "hit@1" nor "acc".`);
    out[name] = v;
  }
  return out;
}

/** Summary tables are ×100, as published. */
export function mmebSummary(files: Readonly<Record<string, MmebScoreFile>>, catalogue?: readonly MmebDatasetInfo[]): MmebAggregate {
  const pct = Object.fromEntries(Object.entries(hitAt1ByDataset(files)).map(([k, v]) => [k, 100 * v]));
  return aggregateMmeb(pct, catalogue);
}

/**
 * The leaderboard submission shape of `report_score_v2.py`: `{metadata, metrics: {image: {dataset: score}}}`,
 * plus our aggregate (×100) under `summary`.
 */
export function mmebLeaderboardJson(
  files: Readonly<Record<string, MmebScoreFile>>,
  metadata: Record<string, string | number | null>,
  catalogue?: readonly MmebDatasetInfo[],
): Record<string, unknown> {
  return { metadata, metrics: { image: files }, summary: mmebSummary(files, catalogue) };
}

/**
 * Writes `<dir>/scores/{dataset}_score.json` per data set and `<dir>/mmeb_leaderboard.json`, atomically and
 * without overwriting unless asked.
 */
export function writeMmebScoreFiles(
  dir: string,
  files: Readonly<Record<string, MmebScoreFile>>,
  metadata: Record<string, string | number | null>,
  options: WriteOptions & { catalogue?: readonly MmebDatasetInfo[] } = {},
): void {
  for (const [name, f] of Object.entries(files)) writeJson(path.join(dir, 'scores', `${name}_score.json`), f, options);
  writeJson(path.join(dir, 'mmeb_leaderboard.json'), mmebLeaderboardJson(files, metadata, options.catalogue), options);
}

function parseJsonFile(file: string): unknown {
  const text = fs.readFileSync(file, 'utf8');
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new Error(`${file} is not valid JSON (${(err as Error).message}).`);
  }
}

/** Scores are fractions: hit@1 of 75 (a percentage) or −3 is a wrong file, not a score. */
function checkFractions(scores: MmebScoreFile, where: string): MmebScoreFile {
  for (const key of ['hit@1', 'acc'] as const) {
    const v = scores[key];
    if (v !== undefined && !(v >= 0 && v <= 1)) throw new Error(`${where}: ${key} is ${v}, but MMEB scores are fractions in [0, 1] (is it a percentage?).`);
  }
  return scores;
}

function readScoreJson(file: string): MmebScoreFile {
  const rec = asRecord(parseJsonFile(file), file);
  const out: MmebScoreFile = {};
  for (const [k, v] of Object.entries(rec)) if (typeof v === 'number') out[k] = v;
  if (out['hit@1'] === undefined && out['acc'] === undefined) {
    throw new Error(`${file}: an MMEB score file needs "hit@1" (V2) or "acc" (v1); found ${Object.keys(rec).join(', ')}.`);
  }
  return checkFractions(out, file);
}

/**
 * The score files a `--external` argument names: a directory of `*_score.json`, one leaderboard JSON, or a glob
 * of score files (`vlm2vec/*_score.json`: `*` and `?` in the file name, not in folders).
 */
export function externalScoreFiles(target: string): { kind: 'dir' | 'files' | 'leaderboard'; files: string[] } {
  if (/[*?]/.test(path.basename(target))) {
    const dir = path.dirname(target);
    if (!fs.existsSync(dir)) throw new Error(`--external ${target}: the folder ${dir} does not exist.`);
    const re = new RegExp(
      `^${path
        .basename(target)
        .replace(/[.+^${}()|[\]\\]/g, '\\$&')
        .replace(/\*/g, '.*')
        .replace(/\?/g, '.')}$`,
    );
    const files = fs
      .readdirSync(dir)
      .filter((f) => re.test(f))
      .sort()
      .map((f) => path.join(dir, f));
    if (files.length === 0) throw new Error(`--external ${target}: no file in ${dir} matches ${path.basename(target)}.`);
    return { kind: 'files', files };
  }
  if (!fs.existsSync(target)) throw new Error(`--external ${target}: no such file or folder.`);
  if (fs.statSync(target).isDirectory()) {
    return {
      kind: 'dir',
      files: fs
        .readdirSync(target)
        .filter((x) => x.endsWith('_score.json'))
        .sort()
        .map((f) => path.join(target, f)),
    };
  }
  return { kind: target.endsWith('_score.json') ? 'files' : 'leaderboard', files: [target] };
}

/**
 * Reads external score files: every `{dataset}_score.json` in a directory (VLM2Vec / MuCo output), or a
 * leaderboard JSON (`metrics.image.{dataset}`). Data sets outside the catalogue are skipped with a note.
 */
export function readMmebScores(target: string, catalogue?: readonly MmebDatasetInfo[]): Record<string, MmebScoreFile> {
  const known = catalogue === undefined ? undefined : new Set(catalogue.map((d) => d.name));
  const out: Record<string, MmebScoreFile> = {};
  const { kind, files } = externalScoreFiles(target);
  if (kind !== 'leaderboard') {
    for (const f of files) out[path.basename(f).replace(/_score\.json$/, '')] = readScoreJson(f);
  } else {
    const rec = asRecord(parseJsonFile(target), target);
    const image = asRecord(asRecord(rec['metrics'], `${target} metrics`)['image'], `${target} metrics.image`);
    for (const [name, v] of Object.entries(image)) {
      const r = asRecord(v, `${target} metrics.image.${name}`);
      out[name] = checkFractions(
        Object.fromEntries(Object.entries(r).filter(([, x]) => typeof x === 'number')) as MmebScoreFile,
        `${target} metrics.image.${name}`,
      );
    }
  }
  if (known !== undefined) {
    const skipped = Object.keys(out).filter((n) => !known.has(n));
    for (const n of skipped) delete out[n];
    if (skipped.length > 0) log.info(`MMEB scores: skipping data sets outside the catalogue: ${skipped.join(', ')}`);
  }
  if (Object.keys(out).length === 0) throw new Error(`No MMEB score found in ${target} (expected *_score.json files or metrics.image).`);
  return out;
}
