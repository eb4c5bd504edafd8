/**
 * Reader for M-BEIR (UniIR; docs/benchmarks.md §2.2): query JSONL, local and global candidate pools
 * (JSONL), qrels (`<qid> 0 <did> <relevance> <task_id>`, space separated; the 4-column TREC form is accepted)
 * and the query-instruction TSV.
 *
 * Layout under a root (the HF `TIGER-Lab/M-BEIR` tree, which mini-M-BEIR mirrors):
 * ```
 * query/<split>/mbeir_<task>_<split>.jsonl              <task> = <dataset>_task<k>, e.g. mscoco_task0
 * cand_pool/local/mbeir_<task>_cand_pool.jsonl          (or mbeir_<task>_<split>_cand_pool.jsonl, as MSCOCO)
 * cand_pool/global/mbeir_union_<split>_cand_pool.jsonl
 * qrels/<split>/mbeir_<task>_<split>_qrels.txt
 * instructions/query_instructions.tsv
 * ```
 * Image paths in records are relative to the root.
 *
 * Texts follow UniIR: a query is `format_string(f"{instruction} {query_txt}")`, a candidate
 * `format_string(txt)`. UniIR draws the instruction at random per query, even at evaluation; we choose it
 * deterministically (`InstructionPolicy`) and log the choice.
 */
import * as fs from 'fs';
import * as path from 'path';
import type { EncodeItem } from './encoder';
import { log } from '../log';
import { deriveSeed } from '../random';
import { integerField, type JsonRecord, optionalStringField, readJsonl, stringArrayField, stringField, streamJsonl } from '../jsonl';

export type MbeirModality = 'text' | 'image' | 'image,text';

export interface MbeirQuery {
  qid: string;
  text?: string;
  image?: string;
  modality: MbeirModality;
  posCandList: string[];
  taskId: number;
}

export interface MbeirCandidate {
  did: string;
  text?: string;
  image?: string;
  modality: MbeirModality;
}

function modalityField(rec: JsonRecord, field: string, where: string): MbeirModality {
  const m = stringField(rec, field, where);
  if (m !== 'text' && m !== 'image' && m !== 'image,text') {
    throw new Error(`${where}: field "${field}" must be "text", "image" or "image,text", got "${m}".`);
  }
  return m;
}

/** M-BEIR ids are "<dataset_id>:<n>". */
function idField(rec: JsonRecord, field: string, where: string): string {
  const id = stringField(rec, field, where);
  if (!/^\d+:\d+$/.test(id)) throw new Error(`${where}: field "${field}" must look like "<dataset_id>:<n>" (e.g. "9:123"), got "${id}".`);
  return id;
}

function checkContent(text: string | undefined, image: string | undefined, modality: MbeirModality, where: string): void {
  const needText = modality !== 'image';
  const needImage = modality !== 'text';
  if ((needText && !text) || (needImage && !image)) {
    throw new Error(
      `${where}: modality "${modality}" needs ${needText ? 'a text' : ''}${needText && needImage ? ' and ' : ''}${needImage ? 'an image path' : ''}, ` +
        `got text ${text ? 'present' : 'missing'}, image ${image ? 'present' : 'missing'}.`,
    );
  }
}

export function parseMbeirQuery(rec: JsonRecord, where: string): MbeirQuery {
  const q: MbeirQuery = {
    qid: idField(rec, 'qid', where),
    modality: modalityField(rec, 'query_modality', where),
    posCandList: stringArrayField(rec, 'pos_cand_list', where),
    taskId: integerField(rec, 'task_id', where),
  };
  const text = optionalStringField(rec, 'query_txt', where);
  const image = optionalStringField(rec, 'query_img_path', where);
  if (text) q.text = text;
  if (image) q.image = image;
  checkContent(q.text, q.image, q.modality, where);
  return q;
}

export function parseMbeirCandidate(rec: JsonRecord, where: string): MbeirCandidate {
  const c: MbeirCandidate = { did: idField(rec, 'did', where), modality: modalityField(rec, 'modality', where) };
  const text = optionalStringField(rec, 'txt', where);
  const image = optionalStringField(rec, 'img_path', where);
  if (text) c.text = text;
  if (image) c.image = image;
  checkContent(c.text, c.image, c.modality, where);
  return c;
}

export function readMbeirQueries(file: string): MbeirQuery[] {
  return readJsonl(file, parseMbeirQuery);
}

export function readMbeirPool(file: string): MbeirCandidate[] {
  const pool = readJsonl(file, parseMbeirCandidate);
  const seen = new Set<string>();
  for (const c of pool) {
    if (seen.has(c.did)) throw new Error(`${file}: did "${c.did}" appears twice; dids must be unique in a pool.`);
    seen.add(c.did);
  }
  return pool;
}

/** Streams a pool too large to hold as records (the 5.6M-candidate union pool). */
export function streamMbeirPool(file: string, chunkSize = 4096): AsyncGenerator<MbeirCandidate[]> {
  return streamJsonl(file, parseMbeirCandidate, chunkSize);
}

/** Relevant dids per qid (relevance > 0 only), and the task id from the 5th column when present. */
export type Qrels = Map<string, { relevant: Set<string>; taskId?: number }>;

export function parseQrels(text: string, file: string): Qrels {
  const qrels: Qrels = new Map();
  text.split('\n').forEach((line, i) => {
    if (line.trim() === '') return;
    const parts = line.trim().split(/\s+/);
    const where = `${file}:${i + 1}`;
    if (parts.length !== 4 && parts.length !== 5) {
      throw new Error(`${where}: a qrels line has 4 or 5 space-separated columns (<qid> 0 <did> <relevance> [<task_id>]), got ${parts.length}.`);
    }
    const [qid, , did, rel, task] = parts as [string, string, string, string, string | undefined];
    const relevance = Number(rel);
    if (!Number.isInteger(relevance)) throw new Error(`${where}: relevance must be an integer, got "${rel}".`);
    if (relevance <= 0) return;
    let entry = qrels.get(qid);
    if (entry === undefined) {
      entry = { relevant: new Set() };
      if (task !== undefined) entry.taskId = Number(task);
      qrels.set(qid, entry);
    }
    entry.relevant.add(did);
  });
  return qrels;
}

export function readQrels(file: string): Qrels {
  if (!fs.existsSync(file)) throw new Error(`qrels file not found: ${file}. Each query file needs its qrels/<split>/..._qrels.txt.`);
  return parseQrels(fs.readFileSync(file, 'utf8'), file);
}

/** Instruction variants keyed as UniIR does: `"<dataset_id>, <query modality>, <candidate modality>"`. */
export type Instructions = Map<string, string[]>;

export function parseInstructions(text: string, file: string): Instructions {
  const out: Instructions = new Map();
  const lines = text.split('\n');
  lines.slice(1).forEach((line, i) => {
    if (line.trim() === '') return;
    const parts = line.replace(/\r$/, '').split('\t');
    if (parts.length < 5) {
      throw new Error(
        `${file}:${i + 2}: expected tab-separated <query modality> <candidate modality> <dataset> <dataset_id> <instruction>..., got ${parts.length} columns.`,
      );
    }
    const prompts = parts
      .slice(4)
      .map((p) => p.trim())
      .filter((p) => p !== '');
    out.set(`${parts[3]?.trim()}, ${parts[0]?.trim()}, ${parts[1]?.trim()}`, prompts);
  });
  return out;
}

export function readInstructions(file: string): Instructions {
  if (!fs.existsSync(file)) throw new Error(`instructions file not found: ${file}.`);
  return parseInstructions(fs.readFileSync(file, 'utf8'), file);
}

/** UniIR's `format_string`: drop \r, strip spaces and quotes, capitalise, end with a period unless . ? ! */
export function formatString(s: string | undefined): string {
  let t = (s ?? '')
    .replace(/\r/g, '')
    .trim()
    .replace(/^"+|"+$/g, '');
  if (t === '') return t;
  t = t[0]!.toUpperCase() + t.slice(1);
  return /[.?!]$/.test(t) ? t : t + '.';
}

/** The candidate modality of each M-BEIR task id (the instruction key's third part). */
export const TASK_CANDIDATE_MODALITY: Readonly<Record<number, MbeirModality>> = {
  0: 'image',
  1: 'text',
  2: 'image,text',
  3: 'text',
  4: 'image',
  5: 'image,text',
  6: 'text',
  7: 'image',
  8: 'image,text',
};

/**
 * How to pick one of a key's instruction variants: `first` (reproducible; pyserini's choice), `seeded` (a
 * fixed per-query pick from (seed, qid): UniIR's variety without its randomness), `none` (no instruction).
 */
export type InstructionPolicy = 'first' | 'seeded' | 'none';

/** The instruction for a query under a policy; throws when the key has no variants. */
export function chooseInstruction(instructions: Instructions, query: MbeirQuery, policy: InstructionPolicy, seed = 0): string | undefined {
  if (policy === 'none') return undefined;
  const candModality = TASK_CANDIDATE_MODALITY[query.taskId];
  const key = `${query.qid.split(':')[0]}, ${query.modality}, ${candModality}`;
  const variants = instructions.get(key);
  if (variants === undefined || variants.length === 0) {
    throw new Error(
      `No query instruction for key "${key}" (dataset id, query modality, candidate modality) of query ${query.qid}. Check query_instructions.tsv.`,
    );
  }
  if (policy === 'first') return variants[0];
  return variants[deriveSeed(seed, query.qid) % variants.length];
}

/** The encoder item of a query: UniIR's instruction-prefixed, formatted text plus the image. */
export function mbeirQueryItem(query: MbeirQuery, instruction: string | undefined, imageRoot: string): EncodeItem {
  const text = instruction === undefined ? formatString(query.text) : formatString(`${formatString(instruction)} ${query.text ?? ''}`);
  const item: EncodeItem = { text };
  if (query.image !== undefined) item.image = path.resolve(imageRoot, query.image);
  return item;
}

export function mbeirCandidateItem(cand: MbeirCandidate, imageRoot: string): EncodeItem {
  const item: EncodeItem = { text: formatString(cand.text) };
  if (cand.image !== undefined) item.image = path.resolve(imageRoot, cand.image);
  return item;
}

/** One (dataset, task) evaluation set found on disk. */
export interface MbeirTaskFiles {
  /** `<dataset>_task<k>`, e.g. `mscoco_task0`. */
  name: string;
  dataset: string;
  taskId: number;
  queryFile: string;
  qrelsFile: string;
  localPoolFile?: string;
}

export interface MbeirLayout {
  root: string;
  split: string;
  tasks: MbeirTaskFiles[];
  globalPoolFile?: string;
  instructionsFile?: string;
}

function firstExisting(files: string[]): string | undefined {
  return files.find((f) => fs.existsSync(f));
}

/** Finds the evaluation sets of a split under an M-BEIR root. */
export function discoverMbeir(root: string, split = 'test'): MbeirLayout {
  const qdir = path.join(root, 'query', split);
  if (!fs.existsSync(qdir)) throw new Error(`M-BEIR root ${root}: no query/${split}/ folder. Is this an M-BEIR root (query/, cand_pool/, qrels/)?`);
  const pattern = new RegExp(`^mbeir_(.+)_task(\\d+)_${split}\\.jsonl$`);
  const tasks: MbeirTaskFiles[] = [];
  for (const f of fs.readdirSync(qdir).sort()) {
    const m = pattern.exec(f);
    if (m === null) continue;
    const name = `${m[1]}_task${m[2]}`;
    const localPoolFile = firstExisting([
      path.join(root, 'cand_pool', 'local', `mbeir_${name}_${split}_cand_pool.jsonl`),
      path.join(root, 'cand_pool', 'local', `mbeir_${name}_cand_pool.jsonl`),
    ]);
    const entry: MbeirTaskFiles = {
      name,
      dataset: m[1] as string,
      taskId: Number(m[2]),
      queryFile: path.join(qdir, f),
      qrelsFile: path.join(root, 'qrels', split, `mbeir_${name}_${split}_qrels.txt`),
    };
    if (localPoolFile !== undefined) entry.localPoolFile = localPoolFile;
    tasks.push(entry);
  }
  if (tasks.length === 0) throw new Error(`M-BEIR root ${root}: no query/${split}/mbeir_<dataset>_task<k>_${split}.jsonl file.`);
  const layout: MbeirLayout = { root, split, tasks };
  const global = firstExisting([path.join(root, 'cand_pool', 'global', `mbeir_union_${split}_cand_pool.jsonl`)]);
  if (global !== undefined) layout.globalPoolFile = global;
  const instr = firstExisting([path.join(root, 'instructions', 'query_instructions.tsv')]);
  if (instr !== undefined) layout.instructionsFile = instr;
  log.debug(`M-BEIR: ${tasks.length} tasks under ${root}${global ? ', with a global pool' : ''}`);
  return layout;
}
