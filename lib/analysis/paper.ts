/**
 * The paper's tables as data: `results/paper/<name>.json`, one file per table of MuCo (Gu et al., CVPR 2026),
 * transcribed from the paper (arXiv 2602.06393). Each file is `{source, caption, notes, columns, rows}` with rows as
 * objects of named fields, numbers as JSON numbers and `null` where the paper prints '–' or gives no value.
 *
 * The schemas below are the single source of truth: the row types are derived from them, and loading checks
 * the file's `columns` and every row against them (a misspelt field or a number written as a string fails
 * with the file, the row and the field named).
 */
import * as fs from 'fs';
import * as path from 'path';

/** What a column holds. `values` restricts a string (or each element of a string list) to a fixed set. */
export type ColumnType = 'number' | 'number|null' | 'string' | 'boolean' | 'string[]';
export interface ColumnSchema {
  type: ColumnType;
  values?: readonly string[];
}

const num = { type: 'number' } as const;
const numOrNull = { type: 'number|null' } as const;
const str = { type: 'string' } as const;
const bool = { type: 'boolean' } as const;
const oneOf = <const V extends readonly string[]>(values: V) => ({ type: 'string', values }) as const;
const listOf = <const V extends readonly string[]>(values: V) => ({ type: 'string[]', values }) as const;

const mmebCategories = { cls: num, vqa: num, ret: num, grd: num } as const;
const mbeirGroups = { ss: num, sm: num, ms: num, mm: num } as const;
const mbeirGroupsOrNull = { ss: numOrNull, sm: numOrNull, ms: numOrNull, mm: numOrNull } as const;
const stages = { model: str, pretraining: bool, finetuning: bool } as const;

/** Column schemas by table name, in the files' column order. */
export const PAPER_TABLE_SCHEMAS = {
  /** MMEB, Table 1. */
  'table-1': {
    setting: oneOf(['zero-shot', 'fine-tuned <7B', 'fine-tuned ≥7B']),
    model: str,
    paramsBillions: num,
    ...mmebCategories,
    id: numOrNull,
    ood: numOrNull,
    overall: num,
  },
  /** M-BEIR, Table 2 (global pool) with the local-pool overall of Table I. */
  'table-2': {
    setting: oneOf(['zero-shot', 'fine-tuned']),
    model: str,
    paramsBillions: numOrNull,
    ...mbeirGroupsOrNull,
    overall: numOrNull,
    localOverall: numOrNull,
  },
  /** Pretraining data, Table 3. */
  'table-3': { pretraining: oneOf(['single-turn', 'multi-turn']), dataset: str, samplesMillions: numOrNull, zs: numOrNull, ft: num },
  /** Data composition, Table 4. */
  'table-4': {
    setup: str,
    removed: listOf(['classification', 'global VQA', 'local VQA', 'creative VQA']),
    ...mmebCategories,
    overall: num,
  },
  /** Turns versus batch and PFLOPs, Table 5. */
  'table-5': { turns: num, batchImages: num, effectiveBatch: num, pflops: num, zsMmeb: num, learningRate: num },
  /** Compounded supervision, Table 6. */
  'table-6': { setup: str, compoundedSupervision: bool, zs: num, ft: num },
  /** Logit masking, Table 7. */
  'table-7': { pretrainMask: bool, finetuneMask: bool, zs: num, ft: num },
  /** Design of the fine-tuning subsequent turn, Table 8 with Table D. */
  'table-8': { group: oneOf(['masking ratio', 'template', 'captioner', 'mask token']), setup: str, isDefault: bool, score: num },
  /** Per-dataset pretraining cost, Table A. */
  'table-a': {
    dataset: str,
    queryTokensPerBatch: num,
    positiveTokensPerBatch: num,
    hardNegativeTokensPerBatch: num,
    flopsPerIteration: num,
    secondsPerIteration: num,
    iterations: num,
    hours: num,
  },
  /** Evaluation part of Table A (pretraining dataset versus ZS/FT MMEB and M-BEIR). */
  'table-a-eval': {
    setting: oneOf(['zero-shot', 'fine-tuned']),
    benchmark: oneOf(['MMEB', 'M-BEIR']),
    category: oneOf(['CLS', 'VQA', 'RET', 'GRD', 'S→S', 'S→M', 'M→S', 'M→M', 'Overall']),
    mmE5: num,
    megaPairs: num,
    m3t: num,
    mmE5Local: numOrNull,
    megaPairsLocal: numOrNull,
    m3tLocal: numOrNull,
  },
  /** Which augmented fine-tuning pairs are used, Table E (lib/loss FinetunePair names). */
  'table-e': { case: num, pairs: listOf(['qp', 'qp_', 'q_p', 'q_p_']), score: num },
  /** Stage contributions on MMEB, Table F. */
  'table-f': { ...stages, ...mmebCategories, id: numOrNull, ood: numOrNull, overall: num },
  /** Stage contributions on M-BEIR, Table G. */
  'table-g': { ...stages, ...mbeirGroups, overall: num },
} as const satisfies Record<string, Record<string, ColumnSchema>>;

type Schemas = typeof PAPER_TABLE_SCHEMAS;
export type PaperTableName = keyof Schemas;
export const PAPER_TABLE_NAMES = Object.keys(PAPER_TABLE_SCHEMAS) as PaperTableName[];

/** The TypeScript type of one column's values. */
type ValueOf<C> = C extends { type: 'string'; values: readonly (infer V)[] }
  ? V
  : C extends { type: 'string[]'; values: readonly (infer V)[] }
    ? V[]
    : C extends { type: 'number' }
      ? number
      : C extends { type: 'number|null' }
        ? number | null
        : C extends { type: 'boolean' }
          ? boolean
          : C extends { type: 'string' }
            ? string
            : never;

/** One row of table `N`, typed from its schema. */
export type PaperRow<N extends PaperTableName> = { -readonly [K in keyof Schemas[N]]: ValueOf<Schemas[N][K]> };

export type MmebRow = PaperRow<'table-1'>;
export type MbeirRow = PaperRow<'table-2'>;
export type TurnsBatchRow = PaperRow<'table-5'>;
export type DatasetCostRow = PaperRow<'table-a'>;

/** A column as the file describes it: the schema plus a display label and an optional unit. */
export interface PaperColumn extends ColumnSchema {
  name: string;
  label: string;
  unit?: string;
}

export interface PaperTable<N extends PaperTableName = PaperTableName> {
  name: N;
  /** "MuCo (Gu et al., CVPR 2026), Table N". */
  source: string;
  caption: string;
  /** Transcription caveats, inconsistencies in the paper, derived quantities. */
  notes: string[];
  columns: PaperColumn[];
  rows: PaperRow<N>[];
}

export interface PaperTableOptions {
  /** Folder of the table files; default `results/paper` at the repository root. */
  dir: string;
}

/** `results/paper` next to `lib/` (and next to `dist/` once compiled). */
export const DEFAULT_PAPER_DIR = path.resolve(__dirname, '..', '..', 'results', 'paper');

const SOURCE_PREFIX = 'MuCo (Gu et al., CVPR 2026), Table ';
const TOP_KEYS = ['source', 'caption', 'notes', 'columns', 'rows'];

function isName(name: string): name is PaperTableName {
  return Object.prototype.hasOwnProperty.call(PAPER_TABLE_SCHEMAS, name);
}

function typeName(v: unknown): string {
  return v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v;
}

function checkValue(v: unknown, col: ColumnSchema, where: string): void {
  const got = `got ${JSON.stringify(v)} (${typeName(v)})`;
  const allowed = (x: unknown): boolean => col.values === undefined || col.values.includes(x as string);
  switch (col.type) {
    case 'number':
      if (typeof v !== 'number' || !Number.isFinite(v)) throw new Error(`${where} must be a finite number, ${got}. Write numbers as JSON numbers.`);
      return;
    case 'number|null':
      if (v !== null && (typeof v !== 'number' || !Number.isFinite(v))) {
        throw new Error(`${where} must be a finite number or null (for '–' or unknown), ${got}.`);
      }
      return;
    case 'boolean':
      if (typeof v !== 'boolean') throw new Error(`${where} must be true or false, ${got}.`);
      return;
    case 'string':
      if (typeof v !== 'string' || !allowed(v)) {
        throw new Error(`${where} must be a string${col.values ? ` among ${JSON.stringify(col.values)}` : ''}, ${got}.`);
      }
      return;
    case 'string[]':
      if (!Array.isArray(v) || !v.every((x) => typeof x === 'string' && allowed(x))) {
        throw new Error(`${where} must be a list of strings${col.values ? ` among ${JSON.stringify(col.values)}` : ''}, ${got}.`);
      }
      return;
  }
}

function checkColumns(columns: unknown, schema: Record<string, ColumnSchema>, where: string): void {
  const names = Object.keys(schema);
  if (!Array.isArray(columns) || columns.length !== names.length) {
    throw new Error(
      `${where}: "columns" must list the ${names.length} columns [${names.join(', ')}], got ${Array.isArray(columns) ? columns.length : typeName(columns)}.`,
    );
  }
  columns.forEach((c: unknown, i) => {
    const at = `${where}: columns[${i}]`;
    const name = names[i] as string;
    const col = c as Partial<PaperColumn> | null;
    const expected = schema[name] as ColumnSchema;
    if (col === null || typeof col !== 'object') throw new Error(`${at} must be an object, got ${typeName(c)}.`);
    if (col.name !== name) throw new Error(`${at}.name must be "${name}" (schema order in lib/analysis/paper.ts), got ${JSON.stringify(col.name)}.`);
    if (col.type !== expected.type) throw new Error(`${at} ("${name}") must have type "${expected.type}", got ${JSON.stringify(col.type)}.`);
    if (JSON.stringify(col.values) !== JSON.stringify(expected.values)) {
      throw new Error(`${at} ("${name}") must have values ${JSON.stringify(expected.values)}, got ${JSON.stringify(col.values)}.`);
    }
    if (typeof col.label !== 'string' || (col.unit !== undefined && typeof col.unit !== 'string')) {
      throw new Error(`${at} ("${name}") needs a string label (and a string unit if any).`);
    }
  });
}

/**
 * Check a parsed table file against the schema of `name`; returns it typed. `where` names the file in errors.
 */
export function validatePaperTable<N extends PaperTableName>(name: N, json: unknown, where: string = `${name}.json`): PaperTable<N> {
  if (json === null || typeof json !== 'object' || Array.isArray(json))
    throw new Error(`${where}: expected an object {${TOP_KEYS.join(', ')}}, got ${typeName(json)}.`);
  const obj = json as Record<string, unknown>;
  const keys = Object.keys(obj);
  const odd = keys.filter((k) => !TOP_KEYS.includes(k));
  const missing = TOP_KEYS.filter((k) => !keys.includes(k));
  if (odd.length > 0 || missing.length > 0) {
    throw new Error(`${where}: top-level keys must be exactly [${TOP_KEYS.join(', ')}]; missing [${missing.join(', ')}], unknown [${odd.join(', ')}].`);
  }
  if (typeof obj['source'] !== 'string' || !obj['source'].startsWith(SOURCE_PREFIX)) {
    throw new Error(`${where}: "source" must start with "${SOURCE_PREFIX}", got ${JSON.stringify(obj['source'])}.`);
  }
  if (typeof obj['caption'] !== 'string' || obj['caption'] === '') throw new Error(`${where}: "caption" must be a non-empty string.`);
  const notes = obj['notes'];
  if (!Array.isArray(notes) || !notes.every((n) => typeof n === 'string')) throw new Error(`${where}: "notes" must be a list of strings.`);
  const schema: Record<string, ColumnSchema> = PAPER_TABLE_SCHEMAS[name];
  checkColumns(obj['columns'], schema, where);
  const rows = obj['rows'];
  if (!Array.isArray(rows) || rows.length === 0) throw new Error(`${where}: "rows" must be a non-empty list of row objects.`);
  rows.forEach((row: unknown, i) => {
    const at = `${where}: rows[${i}]`;
    if (row === null || typeof row !== 'object' || Array.isArray(row)) throw new Error(`${at} must be an object, got ${typeName(row)}.`);
    const unknown = Object.keys(row).filter((k) => !(k in schema));
    if (unknown.length > 0) throw new Error(`${at} has unknown field(s) [${unknown.join(', ')}]; the columns are [${Object.keys(schema).join(', ')}].`);
    for (const [field, col] of Object.entries(schema)) {
      if (!(field in row)) throw new Error(`${at} lacks "${field}" (use null for '–').`);
      checkValue((row as Record<string, unknown>)[field], col, `${at}.${field}`);
    }
  });
  return { name, source: obj['source'], caption: obj['caption'], notes, columns: obj['columns'] as PaperColumn[], rows: rows as PaperRow<N>[] };
}

/** Load and validate one table, e.g. `loadPaperTable('table-5').rows[7].pflops` → 18.0. */
export function loadPaperTable<N extends PaperTableName>(name: N, options: Partial<PaperTableOptions> = {}): PaperTable<N> {
  if (!isName(name)) throw new Error(`Unknown paper table "${String(name)}"; known: ${PAPER_TABLE_NAMES.join(', ')}.`);
  const dir = options.dir ?? DEFAULT_PAPER_DIR;
  const file = path.join(dir, `${name}.json`);
  if (!fs.existsSync(file))
    throw new Error(`Paper table file ${file} is missing; the tables live in results/paper/ at the repository root (or pass options.dir).`);
  let json: unknown;
  try {
    json = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    throw new Error(`${file} is not valid JSON: ${(e as Error).message}`);
  }
  return validatePaperTable(name, json, file);
}

/** Names of the table files present, in schema order; a file without a schema is an error naming it. */
export function listPaperTables(options: Partial<PaperTableOptions> = {}): PaperTableName[] {
  const dir = options.dir ?? DEFAULT_PAPER_DIR;
  if (!fs.existsSync(dir)) throw new Error(`Paper table folder ${dir} does not exist (pass options.dir).`);
  const present = fs
    .readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .map((f) => f.slice(0, -'.json'.length));
  const strays = present.filter((n) => !isName(n));
  if (strays.length > 0) {
    throw new Error(
      `${dir} holds table file(s) without a schema: ${strays.map((s) => s + '.json').join(', ')}; add a schema to PAPER_TABLE_SCHEMAS in lib/analysis/paper.ts or remove the file.`,
    );
  }
  return PAPER_TABLE_NAMES.filter((n) => present.includes(n));
}
