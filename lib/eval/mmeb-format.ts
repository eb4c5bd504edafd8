/**
 * Reader for MMEB-eval data (docs/benchmarks.md §1.2–1.3): one file per data set, one row per query,
 * columns `qry_text, qry_img_path, tgt_text[], tgt_img_path[]`, the positive at candidate index 0. Reads the
 * released parquet (hyparquet) and the same columns as JSONL; also the V2 form that splits the instruction
 * out (`qry_inst`, `tgt_inst`).
 *
 * Layouts found by `discoverMmeb(root)`:
 * - a `manifest.json` (mini-MMEB, or any subset): `{ "datasets": [{ "name", "metaTask": "CLS"|"VQA"|"RET"|"VG",
 *   "distribution": "IND"|"OOD", "file": "<relative path>" }], "imageRoot"?: "<relative dir>" }`;
 * - the HF layout: `<root>/<Dataset>/*.parquet` (one config per data set, e.g. `test-00000-of-00001.parquet`);
 * - a flat layout: `<root>/<Dataset>.parquet` or `<root>/<Dataset>.jsonl`.
 * Without a manifest, data set names must be MMEB's 36 (others, e.g. `CIFAR-100`, are skipped with a note).
 * Image paths are relative to the image root: the manifest's, else `<root>/eval_images` if present, else root.
 */
import * as fs from 'fs';
import * as path from 'path';
import { log } from '../log';
import type { EncodeItem } from './encoder';
import { MMEB_V1_DATASETS, type MmebDatasetInfo, type MmebDistribution, type MmebMetaTask } from './mmeb-aggregate';
import { asRecord, type JsonRecord, optionalStringField, parseJsonl, stringArrayField, stringField } from '../jsonl';

/** One MMEB row as stored (strings unchanged; '' = no image). */
export interface MmebRow {
  qryText: string;
  qryImage: string;
  tgtText: string[];
  tgtImage: string[];
}

/** Joins a V2 instruction and its text as the V2 loaders rebuild the V1 string (instruction, space, text). */
function joinInstruction(inst: string | undefined, text: string): string {
  if (inst === undefined || inst === '') return text;
  if (text === '') return inst;
  return /\s$/.test(inst) ? inst + text : `${inst} ${text}`;
}

/**
 * Validates one record and returns it as a row. Accepts V1 columns, and V2's `qry_inst` / `tgt_inst` (a string,
 * or one per candidate), which are prepended to the texts.
 */
export function parseMmebRecord(rec: JsonRecord, where: string): MmebRow {
  const qryText = joinInstruction(optionalStringField(rec, 'qry_inst', where), stringField(rec, 'qry_text', where));
  const qryImage = optionalStringField(rec, 'qry_img_path', where) ?? '';
  const rawTgt = stringArrayField(rec, 'tgt_text', where);
  const tgtImage =
    rec['tgt_img_path'] === undefined || rec['tgt_img_path'] === null ? rawTgt.map(() => '') : stringArrayField(rec, 'tgt_img_path', where, true);
  if (rawTgt.length === 0) {
    throw new Error(`${where}: "tgt_text" is empty; a row needs at least the positive candidate (index 0).`);
  }
  if (tgtImage.length !== rawTgt.length) {
    throw new Error(
      `${where}: "tgt_text" has ${rawTgt.length} candidates but "tgt_img_path" has ${tgtImage.length}; ` +
        'they must be aligned (use "" for a text-only candidate).',
    );
  }
  const inst = rec['tgt_inst'];
  let tgtInst: (string | undefined)[];
  if (Array.isArray(inst)) {
    tgtInst = stringArrayField(rec, 'tgt_inst', where, true);
    if (tgtInst.length !== rawTgt.length) {
      throw new Error(`${where}: "tgt_inst" has ${tgtInst.length} entries, expected one or ${rawTgt.length}.`);
    }
  } else {
    const one = optionalStringField(rec, 'tgt_inst', where);
    tgtInst = rawTgt.map(() => one);
  }
  const tgtText = rawTgt.map((t, i) => joinInstruction(tgtInst[i], t));
  return { qryText, qryImage, tgtText, tgtImage };
}

/** Reads a data set file: `.parquet` (as released) or `.jsonl` (same columns). */
export async function readMmebFile(file: string, options: { limit?: number } = {}): Promise<MmebRow[]> {
  if (!fs.existsSync(file)) throw new Error(`MMEB file not found: ${file}. Check --benchmark / the manifest paths.`);
  let rows: MmebRow[];
  if (file.endsWith('.jsonl')) {
    rows = parseJsonl(fs.readFileSync(file, 'utf8'), file, parseMmebRecord);
  } else if (file.endsWith('.parquet')) {
    const { parquetReadObjects } = await import('hyparquet');
    const bytes = fs.readFileSync(file);
    const buffer = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
    const records = await parquetReadObjects({ file: buffer });
    rows = records.map((r, i) => parseMmebRecord(asRecord(r, `${file} row ${i}`), `${file} row ${i}`));
  } else {
    throw new Error(`MMEB file ${file}: unknown extension; expected .parquet or .jsonl.`);
  }
  return options.limit === undefined ? rows : rows.slice(0, options.limit);
}

/** Image placeholders found in MMEB texts: Phi-3.5-V's `<|image_N|>`, and Qwen2-VL's pad (with its frame). */
const IMAGE_TOKEN = /<\|vision_start\|><\|image_pad\|><\|vision_end\|>|<\|image_\d+\|>|<\|image_pad\|>/g;

/**
 * Normalises a stored text for our encoder: the image placeholder becomes `imageToken` ('' strips it, the
 * default, since our encoder receives the image separately), or is removed when the item has no image; runs of
 * newlines collapse to one and the ends are trimmed (MuCo `eval_mmeb.py` collapses `\n+` the same way; our
 * template adds its own separators, so the trailing newline it appends is not needed).
 */
export function normaliseMmebText(text: string, hasImage: boolean, imageToken = ''): string {
  const swapped = text.replace(IMAGE_TOKEN, hasImage ? imageToken : '');
  return swapped.replace(/\n+/g, '\n').trim();
}

export interface MmebItemOptions {
  /** Directory the relative image paths are joined to. */
  imageRoot: string;
  /** What replaces the image placeholder in texts ('' strips it). */
  imageToken?: string;
}

function item(text: string, image: string, options: MmebItemOptions): EncodeItem {
  const hasImage = image !== '';
  const out: EncodeItem = { text: normaliseMmebText(text, hasImage, options.imageToken) };
  if (hasImage) out.image = path.resolve(options.imageRoot, image);
  return out;
}

/** The query and candidate items of a row, ready for an `Encoder`. */
export function mmebRowItems(row: MmebRow, options: MmebItemOptions): { query: EncodeItem; candidates: EncodeItem[] } {
  return {
    query: item(row.qryText, row.qryImage, options),
    candidates: row.tgtText.map((t, i) => item(t, row.tgtImage[i] ?? '', options)),
  };
}

/** Throws on the first image of the rows that is not on disk, naming how it was resolved. */
export function checkMmebImages(rows: readonly MmebRow[], imageRoot: string, dataset: string): void {
  const seen = new Set<string>();
  for (const row of rows) {
    for (const rel of [row.qryImage, ...row.tgtImage]) {
      if (rel === '' || seen.has(rel)) continue;
      seen.add(rel);
      const abs = path.resolve(imageRoot, rel);
      if (!fs.existsSync(abs)) {
        throw new Error(
          `MMEB ${dataset}: image "${rel}" not found at ${abs} (image root ${imageRoot}). ` + 'Unzip images.zip there or pass --image-dir <dir>.',
        );
      }
    }
  }
}

/** A data set to evaluate: where its rows are and how it aggregates. */
export interface MmebDatasetEntry extends MmebDatasetInfo {
  file: string;
  imageRoot: string;
}

const META_TASK_NAMES: Record<string, MmebMetaTask> = {
  cls: 'CLS',
  classification: 'CLS',
  vqa: 'VQA',
  ret: 'RET',
  retrieval: 'RET',
  vg: 'VG',
  grounding: 'VG',
};

function parseManifestEntry(rec: JsonRecord, where: string, root: string, imageRoot: string): MmebDatasetEntry {
  const name = stringField(rec, 'name', where);
  const rawTask = stringField(rec, 'metaTask', where);
  const metaTask = META_TASK_NAMES[rawTask.toLowerCase()];
  if (metaTask === undefined) {
    throw new Error(`${where}: metaTask "${rawTask}" is not one of CLS, VQA, RET, VG (or classification, retrieval, grounding).`);
  }
  const rawDist = stringField(rec, 'distribution', where).toUpperCase();
  const distribution: MmebDistribution | undefined = rawDist === 'IND' || rawDist === 'ID' ? 'IND' : rawDist === 'OOD' ? 'OOD' : undefined;
  if (distribution === undefined) throw new Error(`${where}: distribution "${rawDist}" must be IND or OOD.`);
  const numCandidates = typeof rec['numCandidates'] === 'number' ? rec['numCandidates'] : 0;
  return { name, metaTask, distribution, numCandidates, file: path.resolve(root, stringField(rec, 'file', where)), imageRoot };
}

function readManifest(root: string, imageDir: string | undefined): MmebDatasetEntry[] {
  const file = path.join(root, 'manifest.json');
  let parsed: unknown;
  try {
    parsed = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    throw new Error(`${file}: not valid JSON (${(e as Error).message}).`);
  }
  const rec = asRecord(parsed, file);
  const imageRoot = imageDir ?? path.resolve(root, optionalStringField(rec, 'imageRoot', file) ?? '.');
  const list = rec['datasets'];
  if (!Array.isArray(list) || list.length === 0) {
    throw new Error(`${file}: "datasets" must be a non-empty array of {name, metaTask, distribution, file}.`);
  }
  return list.map((e, i) => parseManifestEntry(asRecord(e, `${file} datasets[${i}]`), `${file} datasets[${i}]`, root, imageRoot));
}

function findDataFile(root: string, name: string): string | undefined {
  const dir = path.join(root, name);
  if (fs.existsSync(dir) && fs.statSync(dir).isDirectory()) {
    const files = fs
      .readdirSync(dir)
      .filter((f) => f.endsWith('.parquet') || f.endsWith('.jsonl'))
      .sort();
    if (files.length > 1) log.warn(`MMEB ${name}: ${files.length} data files; reading ${files[0]} only.`);
    return files[0] === undefined ? undefined : path.join(dir, files[0]);
  }
  for (const ext of ['.parquet', '.jsonl']) if (fs.existsSync(path.join(root, name + ext))) return path.join(root, name + ext);
  return undefined;
}

/** Finds the data sets under a root (see the layouts in the module comment). */
export function discoverMmeb(root: string, options: { imageDir?: string } = {}): MmebDatasetEntry[] {
  if (!fs.existsSync(root)) throw new Error(`MMEB root not found: ${root}.`);
  if (fs.existsSync(path.join(root, 'manifest.json'))) return readManifest(root, options.imageDir);
  const evalImages = path.join(root, 'eval_images');
  const imageRoot = options.imageDir ?? (fs.existsSync(evalImages) ? evalImages : root);
  const entries: MmebDatasetEntry[] = [];
  for (const info of MMEB_V1_DATASETS) {
    const file = findDataFile(root, info.name);
    if (file !== undefined) entries.push({ ...info, file, imageRoot });
  }
  const known = new Set(MMEB_V1_DATASETS.map((d) => d.name));
  const extra = fs
    .readdirSync(root)
    .map((f) => f.replace(/\.(parquet|jsonl)$/, ''))
    .filter((f) => !known.has(f) && f !== 'eval_images' && !f.startsWith('.'));
  if (extra.length > 0) log.info(`MMEB: skipping entries that are not MMEB's 36 data sets: ${extra.join(', ')}`);
  if (entries.length === 0) {
    throw new Error(
      `MMEB root ${root}: found no data set (neither manifest.json nor <Dataset>/*.parquet, <Dataset>.parquet or ` +
        '<Dataset>.jsonl for any of the 36 MMEB names).',
    );
  }
  return entries;
}
