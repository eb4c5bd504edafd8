/**
 * Readers for training records in the real formats, and for mini-M3T (which uses the same columns):
 *   - the official MuCo records (docs/method.md §7; `*_generated_sentence.parquet`): `qry` a string or a
 *     list of turns whose entries may be lists of alternative phrasings, `pos_text` a string or a list
 *     aligned with `qry`, `pos_sentence`, `qry_sentence`, `qry_image_path`, `pos_image_path`, optional
 *     `neg_text` / `neg_image_path` (a list, or a string holding a Python or JSON list);
 *   - MMEB-train (docs/benchmarks.md §1.5): `qry, qry_image_path, pos_text, pos_image_path, neg_*`.
 * Both as parquet (hyparquet) or JSONL. Every error names the file, the row (0-based; JSONL also gives the
 * 1-based line) and the field. MMEB's `<|image_1|>` placeholder is stripped from texts: the image travels
 * as a path, and the dialogue formatter decides where it goes.
 */
import { existsSync, readFileSync } from 'fs';
import { resolve } from 'path';
import { writeFileAtomic } from './files';
import { TURN_KINDS } from './turns';

/** One query–target turn of a record. */
export interface TrainingTurn {
  /** The query, or alternative phrasings of it (one is sampled at training time). */
  query: string | string[];
  target: string;
  /** M3T turn kind (`cls`, `vqa_global1`, …), our pair kind, or `single`. */
  kind: string;
  /** Caption of the target (`pos_sentence`), '' when absent. */
  targetSentence: string;
}

/** A record normalised from any of the supported formats. */
export interface TrainingRecord {
  id: string;
  /** File and 0-based row it came from. */
  source: { file: string; row: number };
  /** Query image path as stored ('' when the query is text only). */
  queryImagePath: string;
  /** Target image path as stored ('' when targets are text). */
  targetImagePath: string;
  /** Caption of the query image (`qry_sentence`), '' when absent. */
  querySentence: string;
  turns: TrainingTurn[];
  negatives: { text: string; imagePath: string }[];
  /** Records sharing a group are not each other's negatives (our family; else the record id). */
  group: string;
  /** Our extra columns, when present. */
  split?: string;
  concept?: string;
  style?: string;
}

export type RecordFormat = 'auto' | 'muco' | 'mmeb-train';

export interface ReadRecordsOptions {
  /** `mmeb-train` also requires `qry` to be a single string. Default `auto`. */
  format?: RecordFormat;
  /** Check that every image path exists under `imageRoot` (default: no check). */
  checkImages?: boolean;
  /** Folder relative image paths are resolved against (default: the file's folder). */
  imageRoot?: string;
  /** Read at most this many rows. */
  limit?: number;
}

const IMAGE_PLACEHOLDER = /<\|image_\d+\|>\s*/g;

/** Remove MMEB's image placeholder and surrounding whitespace from a text. */
export function stripImageToken(text: string): string {
  return text.replace(IMAGE_PLACEHOLDER, '').trim();
}

class FieldError extends Error {}

function where(file: string, row: number, line?: number): string {
  return line === undefined ? `${file} row ${row}` : `${file} row ${row} (line ${line})`;
}

function fail(field: string, expected: string, got: unknown): never {
  const shown = got === undefined ? 'nothing (missing)' : JSON.stringify(got)?.slice(0, 80) ?? String(got);
  throw new FieldError(`field "${field}": expected ${expected}, got ${shown}`);
}

function optionalString(raw: Record<string, unknown>, field: string): string {
  const v = raw[field];
  if (v === undefined || v === null) return '';
  if (typeof v !== 'string') fail(field, 'a string', v);
  return v;
}

/** A query entry: a string, or a non-empty list of strings (alternative phrasings). */
function queryEntry(v: unknown, field: string): string | string[] {
  if (typeof v === 'string') return stripImageToken(v);
  if (Array.isArray(v) && v.length > 0 && v.every((x) => typeof x === 'string')) {
    const phrasings = (v as string[]).map(stripImageToken);
    return phrasings.length === 1 ? (phrasings[0] as string) : phrasings;
  }
  return fail(field, 'a string or a non-empty list of strings', v);
}

/** Parse a list stored as a string: JSON (`["a", "b"]`) or a Python repr (`['a', "b's"]`). */
export function parseListString(text: string): string[] {
  const t = text.trim();
  if (!t.startsWith('[')) return [text];
  try {
    const v: unknown = JSON.parse(t);
    if (Array.isArray(v) && v.every((x) => typeof x === 'string')) return v as string[];
  } catch {
    // Not JSON: fall through to the Python-repr parser.
  }
  const out: string[] = [];
  const re = /\s*(?:'((?:[^'\\]|\\.)*)'|"((?:[^"\\]|\\.)*)")\s*(,|\])/gy;
  re.lastIndex = 1;
  if (/^\[\s*\]$/.test(t)) return [];
  let m: RegExpExecArray | null;
  while ((m = re.exec(t)) !== null) {
    const body = m[1] ?? m[2] ?? '';
    out.push(body.replace(/\\(.)/g, (_, c: string) => ({ n: '\n', t: '\t' })[c] ?? c));
    if (m[3] === ']') return out;
  }
  throw new FieldError(`cannot parse the list string ${JSON.stringify(t.slice(0, 80))}; expected a JSON or Python list of strings`);
}

function stringList(raw: Record<string, unknown>, field: string): string[] {
  const v = raw[field];
  if (v === undefined || v === null || v === '') return [];
  if (typeof v === 'string') return parseListString(v);
  if (Array.isArray(v) && v.every((x) => typeof x === 'string')) return v as string[];
  return fail(field, 'a list of strings or a string holding one', v);
}

function turnsOf(raw: Record<string, unknown>, format: RecordFormat): TrainingTurn[] {
  const qry = raw['qry'];
  const pos = raw['pos_text'];
  if (qry === undefined || qry === null) fail('qry', 'a string or a list of turns', qry);
  if (pos === undefined || pos === null) fail('pos_text', 'a string or a list of strings', pos);
  const kindsRaw = raw['kinds'];
  const kinds = Array.isArray(kindsRaw) && kindsRaw.every((k) => typeof k === 'string') ? (kindsRaw as string[]) : undefined;
  const sentences = raw['pos_sentence'];
  if (typeof qry === 'string') {
    const target = Array.isArray(pos) && pos.length === 1 ? pos[0] : pos;
    if (typeof target !== 'string') fail('pos_text', 'a string (qry is a single string)', pos);
    const sentence = typeof sentences === 'string' ? sentences : Array.isArray(sentences) && typeof sentences[0] === 'string' ? sentences[0] : '';
    return [{ query: stripImageToken(qry), target: stripImageToken(target), kind: kinds?.[0] ?? 'single', targetSentence: sentence }];
  }
  if (format === 'mmeb-train') fail('qry', 'a string (MMEB-train has one query per row)', qry);
  if (!Array.isArray(qry) || qry.length === 0) fail('qry', 'a string or a non-empty list of turns', qry);
  if (!Array.isArray(pos) || pos.length !== qry.length || !pos.every((p) => typeof p === 'string')) {
    fail('pos_text', `a list of ${qry.length} strings aligned with qry`, pos);
  }
  return qry.map((q, k) => ({
    query: queryEntry(q, `qry[${k}]`),
    target: stripImageToken(pos[k] as string),
    // M3T's fixed order when the row does not name its kinds (docs/method.md §7).
    kind: kinds?.[k] ?? (qry.length === TURN_KINDS.length ? (TURN_KINDS[k] as string) : qry.length === 1 ? 'single' : `turn${k}`),
    targetSentence: Array.isArray(sentences) && typeof sentences[k] === 'string' ? (sentences[k] as string) : '',
  }));
}

/** Normalise one raw row; `file`/`row` are only for messages and ids. */
export function normalizeRecord(raw: unknown, file: string, row: number, options: ReadRecordsOptions = {}, line?: number): TrainingRecord {
  try {
    if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) fail('(row)', 'an object with qry, pos_text, …', raw);
    const r = raw as Record<string, unknown>;
    const turns = turnsOf(r, options.format ?? 'auto');
    const negText = stringList(r, 'neg_text').map(stripImageToken);
    const negImages = stringList(r, 'neg_image_path');
    if (negImages.length > 0 && negImages.length !== negText.length) {
      fail('neg_image_path', `${negText.length} paths aligned with neg_text`, r['neg_image_path']);
    }
    const id = optionalString(r, 'id') || `${file}#${row}`;
    const rec: TrainingRecord = {
      id,
      source: { file, row },
      queryImagePath: optionalString(r, 'qry_image_path'),
      targetImagePath: optionalString(r, 'pos_image_path'),
      querySentence: optionalString(r, 'qry_sentence'),
      turns,
      negatives: negText.map((text, i) => ({ text, imagePath: negImages[i] ?? '' })),
      group: optionalString(r, 'family') || optionalString(r, 'concept') || id,
    };
    for (const key of ['split', 'concept', 'style'] as const) {
      const v = optionalString(r, key);
      if (v !== '') rec[key] = v;
    }
    return rec;
  } catch (err) {
    if (err instanceof FieldError) throw new Error(`${where(file, row, line)}: ${err.message}.`);
    throw err;
  }
}

function checkImages(rec: TrainingRecord, imageRoot: string, line?: number): void {
  const paths: [string, string][] = [['qry_image_path', rec.queryImagePath], ['pos_image_path', rec.targetImagePath]];
  rec.negatives.forEach((n, i) => paths.push([`neg_image_path[${i}]`, n.imagePath]));
  for (const [field, p] of paths) {
    if (p === '' || existsSync(resolve(imageRoot, p))) continue;
    throw new Error(`${where(rec.source.file, rec.source.row, line)}: field "${field}": image ${p} not found under ` +
      `${imageRoot}; pass the right imageRoot or restore the image.`);
  }
}

/** Parse JSON Lines text into raw rows; a malformed line is an error naming file and line. */
export function parseJsonlRows(text: string, file: string, limit = Infinity): { raw: unknown; line: number }[] {
  const out: { raw: unknown; line: number }[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length && out.length < limit; i++) {
    const line = (lines[i] as string).trim();
    if (line === '') continue;
    try {
      out.push({ raw: JSON.parse(line), line: i + 1 });
    } catch (err) {
      throw new Error(`${file} line ${i + 1} (row ${out.length}): not valid JSON (${(err as Error).message}); ` +
        'each line must be one JSON object.');
    }
  }
  return out;
}

async function readParquetRows(file: string): Promise<unknown[]> {
  const { parquetReadObjects } = await import('hyparquet');
  const bytes = readFileSync(file);
  const buffer = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
  try {
    return await parquetReadObjects({ file: buffer });
  } catch (err) {
    throw new Error(`${file}: not a readable parquet file (${(err as Error).message}).`);
  }
}

/** Read and normalise every record of a `.jsonl` or `.parquet` file. */
export async function readTrainingRecords(file: string, options: ReadRecordsOptions = {}): Promise<TrainingRecord[]> {
  if (!existsSync(file)) throw new Error(`training records file ${file} does not exist; run \`npm run data\` or check the path.`);
  const limit = options.limit ?? Infinity;
  let rows: { raw: unknown; line?: number }[];
  if (file.endsWith('.jsonl')) rows = parseJsonlRows(readFileSync(file, 'utf8'), file, limit);
  else if (file.endsWith('.parquet')) rows = (await readParquetRows(file)).slice(0, limit).map((raw) => ({ raw }));
  else throw new Error(`training records file ${file}: unknown extension; expected .jsonl or .parquet.`);
  const imageRoot = options.imageRoot ?? resolve(file, '..');
  return rows.map(({ raw, line }, row) => {
    const rec = normalizeRecord(raw, file, row, options, line);
    if (options.checkImages === true) checkImages(rec, imageRoot, line);
    return rec;
  });
}

/** A split of a built mini-M3T (see lib/data/build.ts), with where its image paths resolve. */
export interface MiniM3tSplit {
  records: TrainingRecord[];
  /** Folder the records' image paths are relative to (the project root). */
  imageRoot: string;
  /** The image cache folder. */
  cacheDir: string;
}

/**
 * Read one split of a built mini-M3T: its turn records, its two-image pair records, or both.
 * @param dataDir the build's output folder (default layout: `data`).
 */
export async function readMiniM3t(dataDir: string, split: string, which: 'turns' | 'pairs' | 'both' = 'turns'): Promise<MiniM3tSplit> {
  const dir = resolve(dataDir, 'm3t');
  const manifestFile = resolve(dir, 'manifest.json');
  if (!existsSync(manifestFile)) throw new Error(`no mini-M3T manifest at ${manifestFile}; run \`npm run data\` first.`);
  const manifest = JSON.parse(readFileSync(manifestFile, 'utf8')) as { imageRoot: string; cache: string; splits: Record<string, { turns: string; pairs: string }> };
  const files = manifest.splits[split];
  if (files === undefined) throw new Error(`mini-M3T has no split "${split}"; expected one of ${Object.keys(manifest.splits).join(', ')}.`);
  const imageRoot = resolve(dir, manifest.imageRoot);
  const names = which === 'both' ? [files.turns, files.pairs] : [which === 'turns' ? files.turns : files.pairs];
  const records: TrainingRecord[] = [];
  for (const name of names) records.push(...(await readTrainingRecords(resolve(dir, name), { imageRoot })));
  return { records, imageRoot, cacheDir: resolve(dir, manifest.cache) };
}

/**
 * Write rows as parquet with the official columns. `qry` is stored as a list of turns, each a list of
 * phrasings (list<list<string>>), since parquet columns need one type; `readTrainingRecords` reads it back.
 */
export async function writeRecordsParquet(file: string, rows: readonly Record<string, unknown>[]): Promise<void> {
  const { parquetWriteBuffer } = await import('hyparquet-writer');
  const asTurns = (q: unknown): string[][] => (typeof q === 'string' ? [[q]] : (q as (string | string[])[]).map((e) => (typeof e === 'string' ? [e] : e)));
  const asList = (v: unknown): string[] => (v === undefined || v === null ? [] : typeof v === 'string' ? [v] : (v as string[]));
  const str = (v: unknown): string => (typeof v === 'string' ? v : '');
  const columnData = [
    { name: 'id', data: rows.map((r) => str(r['id'])), type: 'STRING' as const },
    { name: 'qry', data: rows.map((r) => asTurns(r['qry'])) },
    { name: 'pos_text', data: rows.map((r) => asList(r['pos_text'])) },
    { name: 'pos_sentence', data: rows.map((r) => asList(r['pos_sentence'])) },
    { name: 'qry_sentence', data: rows.map((r) => str(r['qry_sentence'])), type: 'STRING' as const },
    { name: 'qry_image_path', data: rows.map((r) => str(r['qry_image_path'])), type: 'STRING' as const },
    { name: 'pos_image_path', data: rows.map((r) => str(r['pos_image_path'])), type: 'STRING' as const },
    { name: 'neg_text', data: rows.map((r) => JSON.stringify(asList(r['neg_text']))), type: 'STRING' as const },
    { name: 'neg_image_path', data: rows.map((r) => JSON.stringify(asList(r['neg_image_path']))), type: 'STRING' as const },
    { name: 'kinds', data: rows.map((r) => asList(r['kinds'])) },
  ];
  writeFileAtomic(file, new Uint8Array(parquetWriteBuffer({ columnData })));
}
