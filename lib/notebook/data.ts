/**
 * Built data for notebooks: find `data/` (or build a small subset when it is missing on the SMOKE preset),
 * read the raw mini-M3T turn records (with the columns the normalised reader drops: kinds, facets, langs),
 * flatten them to one row per turn for tables and charts, read the data card, and turn a normalised record
 * into the packers' `ImageRecord`.
 *
 * Why a subset: CI runs the notebooks on a fresh clone without `data/`; a limited build (≈30 concepts per
 * source) takes ≈2 s where the full one takes ≈45 s, and it has every file and column of the full build.
 */
import { existsSync, readFileSync } from 'fs';
import { tmpdir } from 'os';
import { isAbsolute, join, resolve } from 'path';
import { buildData } from '../data/build';
import type { CardInput, TARGETS } from '../data/card';
import { parseJsonlRows, type TrainingRecord } from '../data/m3t';
import type { TurnRecord } from '../data/records';
import { SPLITS, type Split } from '../data/splits';
import { facetFamily } from '../data/summary';
import { log } from '../log';
import type { ImageRecord } from '../packing';

export interface LocateDataOptions {
  /** Project root (image paths in records and the npm source packages resolve against it). */
  root: string;
  /** Built data folder, relative to `root` unless absolute. */
  dataDir: string;
  /** SMOKE preset: when `dataDir` is not built, build a subset instead of the full data. */
  smoke: boolean;
  /** Concepts per source in the SMOKE subset. */
  smokeLimit: number;
  /** Where the subset goes; `null`: a fixed folder under the OS temp dir (reused by the next run). */
  subsetDir: string | null;
}

/** Defaults; `root` is the folder above this module (lib/ under tsx, dist/ when compiled). */
export const LOCATE_DATA_DEFAULTS: Readonly<LocateDataOptions> = Object.freeze({
  root: resolve(__dirname, '..', '..'),
  dataDir: 'data',
  smoke: false,
  smokeLimit: 30,
  subsetDir: null,
});

export interface DataLocation {
  /** Absolute path of the built data folder. */
  dir: string;
  /** `existing`: already built; `subset`: a SMOKE subset was built (or reused); `built`: the full build ran. */
  kind: 'existing' | 'subset' | 'built';
  /** Concepts per source of a subset; null for full data. */
  limit: number | null;
}

/** True when `dir` holds a finished build (records manifest, image cache index and data card). */
export function hasBuiltData(dir: string): boolean {
  return ['m3t/manifest.json', 'cache/index.json', 'card.json'].every((f) => existsSync(join(dir, f)));
}

/**
 * Find the built data. If `dataDir` is not built: on the SMOKE preset build a small subset (fingerprinted,
 * so a second run reuses it), otherwise run the full build into `dataDir` (what `npm run data` does).
 */
export async function locateData(options: Partial<LocateDataOptions> = {}): Promise<DataLocation> {
  for (const key of Object.keys(options)) {
    if (!(key in LOCATE_DATA_DEFAULTS)) {
      throw new Error(`unknown locateData option "${key}"; expected one of ${Object.keys(LOCATE_DATA_DEFAULTS).join(', ')}.`);
    }
  }
  const o = { ...LOCATE_DATA_DEFAULTS, ...options };
  const root = resolve(o.root);
  const dir = isAbsolute(o.dataDir) ? o.dataDir : resolve(root, o.dataDir);
  if (hasBuiltData(dir)) return { dir, kind: 'existing', limit: null };
  if (!o.smoke) {
    log.info(`${dir} is not built; building the full data now (≈45 s, the same as \`npm run data\`).`);
    await buildData({ root, outDir: dir });
    return { dir, kind: 'built', limit: null };
  }
  if (!(Number.isInteger(o.smokeLimit) && o.smokeLimit > 0)) {
    throw new Error(`locateData smokeLimit must be a positive integer, got ${o.smokeLimit}.`);
  }
  const out = o.subsetDir === null ? join(tmpdir(), `muco-notebook-data-${o.smokeLimit}`) : resolve(o.subsetDir);
  log.info(`${dir} is not built; SMOKE preset: using a ${o.smokeLimit}-concept subset in ${out} (run \`npm run data\` for the full data).`);
  await buildData({
    root,
    outDir: out,
    limit: o.smokeLimit,
    miniMmeb: { maxQueries: 25, maxCandidates: 30 },
    miniMbeir: { maxQueries: 25 },
  });
  return { dir: out, kind: 'subset', limit: o.smokeLimit };
}

/**
 * The raw turn records of some splits (`<dataDir>/m3t/<split>.jsonl`), in split then file order.
 * @param limit at most this many records per split.
 */
export function readTurnRecords(dataDir: string, splits: readonly Split[] = SPLITS, limit = Infinity): TurnRecord[] {
  const out: TurnRecord[] = [];
  for (const split of splits) {
    if (!(SPLITS as readonly string[]).includes(split)) throw new Error(`unknown split "${split}"; expected one of ${SPLITS.join(', ')}.`);
    const file = join(dataDir, 'm3t', `${split}.jsonl`);
    if (!existsSync(file)) throw new Error(`no turn records at ${file}; run \`npm run data\` (or locateData) first.`);
    for (const { raw } of parseJsonlRows(readFileSync(file, 'utf8'), file, limit)) out.push(raw as TurnRecord);
  }
  return out;
}

/** One turn of a record, flat: a row of the distribution tables. */
export interface TurnRow {
  id: string;
  split: string;
  style: string;
  kind: string;
  /** Answer language (locale code). */
  lang: string;
  /** Facet family (`name@L` for any locale, `colour` for any region), as in the data card. */
  facet: string;
}

/** One row per turn of every record (the unit the data card's turn-kind and language counts use). */
export function turnRows(records: readonly TurnRecord[]): TurnRow[] {
  return records.flatMap((r) =>
    r.kinds.map((kind, t) => ({
      id: r.id,
      split: r.split,
      style: r.style,
      kind,
      lang: r.langs[t] ?? '',
      facet: facetFamily(r.facets[t] ?? ''),
    })),
  );
}

/** card.json as `npm run data` writes it (lib/data/card.ts `writeCard`). */
export type DataCard = CardInput & {
  totals: { images: number; pairs: number; composed: number; languages: number; turnKindsPerImage: number };
  targets: typeof TARGETS;
  attribution: string[];
};

export function readDataCard(dataDir: string): DataCard {
  const file = join(dataDir, 'card.json');
  if (!existsSync(file)) throw new Error(`no data card at ${file}; run \`npm run data\` (or locateData) first.`);
  return JSON.parse(readFileSync(file, 'utf8')) as DataCard;
}

/**
 * A normalised record as the packers take it: the query image path (null when text-only), the caption for
 * fine-tuning counterparts, and one query–target pair per turn.
 */
export function toImageRecord(record: TrainingRecord): ImageRecord {
  const out: ImageRecord = {
    id: record.id,
    image: record.queryImagePath === '' ? null : record.queryImagePath,
    pairs: record.turns.map((t) => ({ query: t.query, target: t.target })),
  };
  if (record.querySentence !== '') out.caption = record.querySentence;
  return out;
}
