/**
 * mini-M-BEIR: eight of M-BEIR's task types (docs/benchmarks.md §2.1: qt→ci 0, qt→ct 1, qt→(ci,ct) 2, qi→ct 3,
 * qi→ci 4, (qi,qt)→ct 6, (qi,qt)→ci 7, (qi,qt)→(ci,ct) 8) over test-split concepts (and the held-out
 * style), in M-BEIR's layout and field names (§2.2):
 *   query/test/mbeir_<dataset>_task<k>_test.jsonl     {qid, query_txt, query_img_path, query_modality, query_src_content, pos_cand_list, neg_cand_list, task_id}
 *   cand_pool/local/mbeir_<dataset>_task<k>_cand_pool.jsonl   {did, txt, img_path, modality, src_content}
 *   cand_pool/global/mbeir_union_test_cand_pool.jsonl (the union of the local pools)
 *   qrels/test/mbeir_<dataset>_task<k>_test_qrels.txt  "<qid> 0 <did> 1 <task_id>"
 *   instructions/query_instructions.tsv                 header + query modality, candidate modality, dataset, dataset_id, prompts…
 * Ids are "<dataset_id>:<n>" with our dataset ids from 10 up (M-BEIR's real ones are 0–9). Image paths are
 * relative to the folder (PNG under mbeir_images/).
 */
import { join } from 'path';
import { deriveSeed, Rng } from '../random';
import { ImageCache } from './cache';
import { Concept, ImageRef } from './concepts';
import { BenchImages } from './bench-images';
import { BenchPool, sample, shortCaption } from './bench-pool';
import { EDIT_KINDS } from './composed';
import { assertUnambiguous, CandidateContent } from './ambiguity';
import { emojiVersion, listPhrase, tonePhrase } from './describe';
import { writeFileAtomic, writeJsonl } from './files';

export interface MiniMbeirConfig {
  /** Queries per (data set, task). */
  maxQueries: number;
}

export const MINI_MBEIR_DEFAULTS: Readonly<MiniMbeirConfig> = Object.freeze({ maxQueries: 400 });

type Modality = 'text' | 'image' | 'image,text';

export interface MbeirCandidateRow {
  did: string;
  txt: string | null;
  img_path: string | null;
  modality: Modality;
  src_content: string | null;
}

export interface MbeirQueryRow {
  qid: string;
  query_txt: string | null;
  query_img_path: string | null;
  query_modality: Modality;
  query_src_content: string | null;
  pos_cand_list: string[];
  neg_cand_list: string[];
  task_id: number;
}

/** Our data sets and their ids. */
export const MINI_MBEIR_DATASETS = { emoji: 10, flag: 11, emojistyle: 12, emojiedit: 13, emojiood: 14 } as const;
type DatasetName = keyof typeof MINI_MBEIR_DATASETS;

interface TaskOut {
  dataset: DatasetName;
  taskId: number;
  queries: MbeirQueryRow[];
  pool: MbeirCandidateRow[];
  prompts: string[];
}

/** Numbered candidates and queries per data set, shared between that data set's tasks. */
class Ids {
  private readonly dids = new Map<string, MbeirCandidateRow>();
  private nextQuery = 1;
  constructor(readonly datasetId: number) {}

  candidate(key: string, txt: string | null, img: string | null, src: Record<string, string>): MbeirCandidateRow {
    let c = this.dids.get(key);
    if (c === undefined) {
      const modality: Modality = txt !== null && img !== null ? 'image,text' : img !== null ? 'image' : 'text';
      c = { did: `${this.datasetId}:${this.dids.size + 1}`, txt, img_path: img, modality, src_content: JSON.stringify(src) };
      this.dids.set(key, c);
    }
    return c;
  }

  query(taskId: number, txt: string | null, img: string | null, pos: MbeirCandidateRow[], src: Record<string, string>): MbeirQueryRow {
    const modality: Modality = txt !== null && img !== null ? 'image,text' : img !== null ? 'image' : 'text';
    return {
      qid: `${this.datasetId}:${this.nextQuery++}`, query_txt: txt, query_img_path: img, query_modality: modality,
      query_src_content: JSON.stringify(src), pos_cand_list: [...new Set(pos.map((p) => p.did))], neg_cand_list: [], task_id: taskId,
    };
  }
}

/**
 * The encyclopedia-style passage of an emoji (task 1's candidates). Variants of one emoji (skin tones,
 * genders, hair, directions) share their group and keywords, so the passage also states what sets the variant
 * apart and, always, its code points, which are unique: no two passages of a pool are identical.
 */
export function passage(c: Concept): string {
  const f = c.emoji;
  const tags = (c.tags['en'] ?? []).slice(0, 6);
  const parts = [`An emoji of the ${c.categories.group['en'] ?? ''} group (${c.categories.subgroup['en'] ?? ''})`];
  if (tags.length > 0) parts.push(`keywords ${tags.join(', ')}`);
  if (f !== undefined) {
    const variant = [f.tones.length > 0 ? tonePhrase(f.tones) : '', f.gender ?? '', f.hair ?? ''].filter((x) => x !== '');
    if (variant.length > 0) parts.push(`variant: ${variant.join(', ')}`);
    parts.push(`introduced in ${emojiVersion(f.version)}`);
    parts.push(`code points ${f.hexcode.split('-').map((h) => `U+${h}`).join(' ')}`);
  }
  return `${parts.join('; ')}.`;
}

function emojiTasks(pool: BenchPool, images: BenchImages, rng: Rng, cfg: MiniMbeirConfig, name: DatasetName, targets: ImageRef[], withText: boolean): TaskOut[] {
  const ids = new Ids(MINI_MBEIR_DATASETS[name]);
  const concept = (i: ImageRef): Concept => pool.concepts.get(i.conceptId) as Concept;
  const imageCand = (i: ImageRef) => ids.candidate(i.id, null, images.path(i), { image: i.id, concept: i.conceptId });
  const labelCand = (c: Concept) => ids.candidate(`label:${c.id}`, c.label, null, { concept: c.id });
  const imagePool = targets.map(imageCand);
  const concepts = [...new Map(targets.map((i) => [i.conceptId, concept(i)])).values()];
  const labelPool = concepts.map(labelCand);
  const t0 = sample(rng, concepts, cfg.maxQueries).map((c) =>
    ids.query(0, shortCaption(c), null, targets.filter((i) => i.conceptId === c.id).map(imageCand), { concept: c.id }));
  const t3 = sample(rng, targets, cfg.maxQueries).map((i) => ids.query(3, null, images.path(i), [labelCand(concept(i))], { image: i.id }));
  const out: TaskOut[] = [
    { dataset: name, taskId: 0, queries: t0, pool: imagePool, prompts: ['Find an emoji that matches the given caption.', 'Retrieve the emoji described by this text.', 'Show me an emoji fitting this caption.'] },
    { dataset: name, taskId: 3, queries: t3, pool: labelPool, prompts: ['Find the name of the given emoji.', 'Retrieve the official name of this emoji.', 'What is this emoji called?'] },
  ];
  if (withText) {
    const passageCand = (c: Concept) => ids.candidate(`passage:${c.id}`, passage(c), null, { concept: c.id });
    const passagePool = concepts.map(passageCand);
    const t1 = sample(rng, concepts, cfg.maxQueries).map((c) => ids.query(1, c.label, null, [passageCand(c)], { concept: c.id }));
    out.push({ dataset: name, taskId: 1, queries: t1, pool: passagePool, prompts: ['Retrieve a passage that describes this emoji name.', 'Find the entry for the emoji with this name.'] });
  }
  return out;
}

function flagTasks(pool: BenchPool, images: BenchImages, rng: Rng, cfg: MiniMbeirConfig, flags: ImageRef[]): TaskOut[] {
  const ids = new Ids(MINI_MBEIR_DATASETS.flag);
  const concept = (i: ImageRef): Concept => pool.concepts.get(i.conceptId) as Concept;
  const flagCand = (i: ImageRef) => ids.candidate(i.id, concept(i).label, images.path(i), { image: i.id, concept: i.conceptId });
  const flagPool = flags.map(flagCand);
  const countries = [...new Map(flags.map((i) => [i.conceptId, concept(i)])).values()];
  const t2 = sample(rng, countries.filter((c) => (c.flag?.capitals.length ?? 0) > 0), cfg.maxQueries).map((c) =>
    ids.query(2, `the country whose capital is ${listPhrase(c.flag?.capitals ?? [])}`, null, flags.filter((i) => i.conceptId === c.id).map(flagCand), { concept: c.id }));
  const facts = (c: Concept): [string, string][] => {
    const f = c.flag;
    if (f === undefined) return [];
    const out: [string, string][] = [];
    if (f.capitals.length > 0) out.push(['What is the capital of this country?', listPhrase(f.capitals)]);
    if (f.currencies.length > 0) out.push(['Which currency is used in this country?', listPhrase(f.currencies)]);
    if (f.languages.length > 0) out.push(['Which languages are spoken in this country?', listPhrase(f.languages)]);
    return out;
  };
  const answerCand = (a: string) => ids.candidate(`answer:${a}`, a, null, { answer: a });
  const answerPool = [...new Set(countries.flatMap((c) => facts(c).map(([, a]) => a)))].map(answerCand);
  const t6 = sample(rng, flags, cfg.maxQueries).flatMap((i) => {
    const fs = facts(concept(i));
    if (fs.length === 0) return [];
    const [q, a] = rng.pick(fs);
    return [ids.query(6, q, images.path(i), [answerCand(a)], { image: i.id })];
  });
  const t8 = sample(rng, flags, cfg.maxQueries).flatMap((i) => {
    const borders = new Set(concept(i).flag?.borders ?? []);
    const pos = flags.filter((f) => borders.has(f.conceptId)).map(flagCand);
    return pos.length === 0 ? [] : [ids.query(8, 'a country bordering this one', images.path(i), pos, { image: i.id })];
  });
  return [
    { dataset: 'flag', taskId: 2, queries: t2, pool: flagPool, prompts: ['Retrieve the flag and name of the country described.', 'Find the flag of the country matching this description.'] },
    { dataset: 'flag', taskId: 6, queries: t6, pool: answerPool, prompts: ['Answer the question about the country of this flag.', 'Retrieve the fact asked about this flag\'s country.'] },
    { dataset: 'flag', taskId: 8, queries: t8, pool: flagPool, prompts: ['Find a flag and country name that match the relation to this flag.', 'Retrieve the neighbouring country\'s flag and name.'] },
  ];
}

function pairTask(images: BenchImages, rng: Rng, cfg: MiniMbeirConfig, name: DatasetName, taskId: 4 | 7, pairs: { q: ImageRef; t: ImageRef; text: string | null }[], candidates: ImageRef[], prompts: string[]): TaskOut {
  const ids = new Ids(MINI_MBEIR_DATASETS[name]);
  const cand = (i: ImageRef) => ids.candidate(i.id, null, images.path(i), { image: i.id, concept: i.conceptId });
  const poolRows = candidates.map(cand);
  const queries = sample(rng, pairs, cfg.maxQueries).map((p) => ids.query(taskId, p.text, images.path(p.q), [cand(p.t)], { image: p.q.id, target: p.t.id }));
  return { dataset: name, taskId, queries, pool: poolRows, prompts };
}

function tasks(pool: BenchPool, images: BenchImages, cfg: MiniMbeirConfig): TaskOut[] {
  const rng = (label: string) => new Rng(deriveSeed(pool.seed, `mini-mbeir:${label}`));
  const kind = (i: ImageRef) => pool.concepts.get(i.conceptId)?.kind;
  const emojiInd = pool.ind.filter((i) => kind(i) === 'emoji');
  const flags = pool.ind.filter((i) => kind(i) === 'flag');
  const emojiOod = pool.ood.filter((i) => kind(i) === 'emoji');
  const style = pool.pairs.filter((p) => p.kind === 'cross_style' && p.query.style === 'twemoji' && p.target.style === 'noto').map((p) => ({ q: p.query, t: p.target, text: null }));
  const edits = pool.pairs.filter((p) => EDIT_KINDS.includes(p.kind) && p.split === 'test').map((p) => ({ q: p.query, t: p.target, text: p.text }));
  return [
    ...emojiTasks(pool, images, rng('emoji'), cfg, 'emoji', emojiInd, true),
    ...flagTasks(pool, images, rng('flag'), cfg, flags),
    pairTask(images, rng('emojistyle'), cfg, 'emojistyle', 4, style, emojiInd.filter((i) => i.style === 'noto'), ['Find the same emoji drawn by another artist.', 'Retrieve a similar-looking emoji.']),
    pairTask(images, rng('emojiedit'), cfg, 'emojiedit', 7, edits, emojiInd, ['Find the emoji after applying the described change.', 'Retrieve the edited version of this emoji.']),
    ...emojiTasks(pool, images, rng('emojiood'), cfg, 'emojiood', emojiOod, false),
  ];
}

const MODALITY_OF_TASK: Record<number, [Modality, Modality]> = {
  0: ['text', 'image'], 1: ['text', 'text'], 2: ['text', 'image,text'], 3: ['image', 'text'],
  4: ['image', 'image'], 6: ['image,text', 'text'], 7: ['image,text', 'image'], 8: ['image,text', 'image,text'],
};

export interface MiniMbeirTaskSummary {
  name: string;
  datasetId: number;
  taskId: number;
  numQueries: number;
  poolSize: number;
}

/** Build and write mini-M-BEIR under `dir`; returns one summary per task file and every file written. */
export async function buildMiniMbeir(dir: string, pool: BenchPool, full: ImageCache, tile: ImageCache, cfg: MiniMbeirConfig): Promise<{ tasks: MiniMbeirTaskSummary[]; files: string[] }> {
  const images = new BenchImages(dir, 'mbeir_images', full, tile);
  const files: string[] = [];
  const summaries: MiniMbeirTaskSummary[] = [];
  const global = new Map<string, MbeirCandidateRow>();
  const instructions: string[] = ['query_modality\tcand_modality\tdataset\tdataset_id\tprompt_1\tprompt_2\tprompt_3\tprompt_4'];
  for (const t of tasks(pool, images, cfg)) {
    if (t.queries.length === 0 || t.pool.length === 0) continue;
    const name = `${t.dataset}_task${t.taskId}`;
    const rel = {
      query: `query/test/mbeir_${name}_test.jsonl`, pool: `cand_pool/local/mbeir_${name}_cand_pool.jsonl`, qrels: `qrels/test/mbeir_${name}_test_qrels.txt`,
    };
    const candidates = new Map(t.pool.map((c): [string, CandidateContent] => [c.did, { text: c.txt ?? '', image: c.img_path ?? '' }]));
    assertUnambiguous(`mini-M-BEIR ${name} (local pool)`, t.queries.map((q) => ({ query: q.qid, positives: q.pos_cand_list, candidates })));
    writeJsonl(join(dir, rel.query), t.queries);
    writeJsonl(join(dir, rel.pool), t.pool);
    const qrels = t.queries.flatMap((q) => q.pos_cand_list.map((d) => `${q.qid} 0 ${d} 1 ${t.taskId}`));
    writeFileAtomic(join(dir, rel.qrels), qrels.join('\n') + '\n');
    files.push(rel.query, rel.pool, rel.qrels);
    for (const c of t.pool) global.set(c.did, c);
    const [qm, cm] = MODALITY_OF_TASK[t.taskId] as [Modality, Modality];
    const datasetId = MINI_MBEIR_DATASETS[t.dataset];
    instructions.push([qm, cm, t.dataset, String(datasetId), ...t.prompts.slice(0, 4)].join('\t'));
    summaries.push({ name, datasetId, taskId: t.taskId, numQueries: t.queries.length, poolSize: t.pool.length });
  }
  // The global pool holds one image under several tasks' dids (emojiedit's targets are emoji's images); the
  // evaluation counts identical copies of a positive as relevant there (lib/eval/mbeir.ts contentTwins).
  writeJsonl(join(dir, 'cand_pool/global/mbeir_union_test_cand_pool.jsonl'), [...global.values()]);
  writeFileAtomic(join(dir, 'instructions/query_instructions.tsv'), instructions.join('\n') + '\n');
  await images.writeAll();
  files.push('cand_pool/global/mbeir_union_test_cand_pool.jsonl', 'instructions/query_instructions.tsv', ...images.files());
  return { tasks: summaries, files };
}
