/**
 * The M-BEIR harness (docs/benchmarks.md §2.2–2.3): every query of a (dataset, task) set is ranked
 * against its local pool (`cand_pool/local`) and, optionally, against the global union pool; relevance comes
 * from the qrels. The reported number is UniIR's Recall@k = hit@k (k = 5, or 10 for the fashion sets); the
 * summary averages the sets as published (`mbeir-aggregate.ts`).
 *
 * Pools are read and encoded chunk by chunk and folded into a running exact top-k (`TopKAccumulator`), so
 * the 5.6M-candidate global pool never needs its embeddings in memory at once.
 */
import * as path from 'path';
import { EmbeddingCache, type Encoder } from './encoder';
import { log } from '../log';
import { hitAtK, meanRankingMetrics, type RankedCase, recallAtK } from '../metrics';
import { type Scorer, TopKAccumulator, type TopKResult } from '../rank';
import {
  chooseInstruction,
  type InstructionPolicy,
  type Instructions,
  type MbeirCandidate,
  mbeirCandidateItem,
  type MbeirLayout,
  type MbeirQuery,
  mbeirQueryItem,
  type MbeirTaskFiles,
  type Qrels,
  readInstructions,
  readMbeirPool,
  readMbeirQueries,
  readQrels,
  streamMbeirPool,
} from './mbeir-format';
import { recallAtKChance } from './chance';
import { aggregateMbeir, type MbeirAggregate, MBEIR_TASKS, mbeirCatalogue, reportedK } from './mbeir-aggregate';
import { checkFilesExist } from '../jsonl';

export type MbeirPool = 'local' | 'global';

export interface MbeirEvalOptions {
  pools: readonly MbeirPool[];
  instructionPolicy: InstructionPolicy;
  /** Seed of the `seeded` instruction policy. */
  seed: number;
  batchSize: number;
  /** Keep only the first `limit` queries of each set (development runs; never compare with anchors). */
  limit?: number;
  /** Check that every query and local-pool image exists before encoding. */
  checkImages: boolean;
  /** Pool records per chunk (read, encode, rank). */
  poolChunk: number;
  /** Hit@k cut-offs computed besides the reported one. */
  ks: readonly number[];
  /** Pool ranking: `js` (exact float64) or `tf` (tf.matMul blocks on the active backend; see rank.ts). */
  scorer: Scorer;
}

export const DEFAULT_MBEIR_OPTIONS: MbeirEvalOptions = {
  pools: ['local'],
  instructionPolicy: 'first',
  seed: 0,
  batchSize: 64,
  checkImages: true,
  poolChunk: 8192,
  ks: [1, 5, 10, 20, 50],
  scorer: 'js',
};

/** Scores of one set against one pool: `score` is the reported Recall@k (fraction), `k` its cut-off. */
export type MbeirTaskScore = Record<string, number>;

export interface MbeirEvalResult {
  local: Record<string, MbeirTaskScore>;
  global: Record<string, MbeirTaskScore>;
  /** Instruction use per key: how many queries got each variant (the logged deterministic choice). */
  instructions: Record<string, Record<string, number>>;
  /** Per-query hit at each set's reported k (0 or 1), in query order, per pool (lib/eval/outcomes). */
  hits: { local: Record<string, number[]>; global: Record<string, number[]> };
}

interface LoadedTask {
  files: MbeirTaskFiles;
  queries: MbeirQuery[];
  qrels: Qrels;
  /** [numQueries, dim] */
  embeddings: Float32Array;
}

function relevanceOf(task: LoadedTask, q: MbeirQuery): Set<string> {
  const entry = task.qrels.get(q.qid);
  if (entry === undefined || entry.relevant.size === 0) {
    throw new Error(`M-BEIR ${task.files.name}: query ${q.qid} has no relevant candidate in ${task.files.qrelsFile}. The qrels and query files do not match.`);
  }
  return entry.relevant;
}

/** Reads a set's queries and qrels, builds the instructed query texts and embeds them. */
async function loadTask(
  files: MbeirTaskFiles,
  instructions: Instructions | undefined,
  cache: EmbeddingCache,
  imageRoot: string,
  options: MbeirEvalOptions,
  usage: MbeirEvalResult['instructions'],
): Promise<LoadedTask> {
  const all = readMbeirQueries(files.queryFile);
  const queries = options.limit === undefined ? all : all.slice(0, options.limit);
  const qrels = readQrels(files.qrelsFile);
  const task: LoadedTask = { files, queries, qrels, embeddings: new Float32Array(0) };
  const items = queries.map((q) => {
    relevanceOf(task, q);
    if (q.taskId !== files.taskId) log.warn(`M-BEIR ${files.name}: query ${q.qid} has task_id ${q.taskId}; scoring it with the file's task ${files.taskId}.`);
    const instruction =
      instructions === undefined ? undefined : chooseInstruction(instructions, { ...q, taskId: files.taskId }, options.instructionPolicy, options.seed);
    if (instruction !== undefined) {
      const key = `${files.name}: ${q.modality} → task ${files.taskId}`;
      const counts = (usage[key] ??= {});
      counts[instruction] = (counts[instruction] ?? 0) + 1;
    }
    return mbeirQueryItem(q, instruction, imageRoot);
  });
  if (options.checkImages)
    checkFilesExist(
      items.flatMap((i) => (i.image === undefined ? [] : [i.image])),
      `M-BEIR ${files.name} query image`,
      'Untar mbeir_images under the M-BEIR root.',
    );
  task.embeddings = await cache.embed(items);
  return task;
}

/**
 * Candidates of a pool with identical content (the same text and the same image file) by did: each did's
 * twins, itself excluded; dids without a twin are absent. Our global pool is the union of the local ones, and
 * one image can be a candidate of several tasks under several dids (emojiedit's targets are emoji's images):
 * no embedding can tell such copies apart, so the global scores count every identical copy of a positive as
 * relevant (docs/benchmarks.md). A pool without copies scores exactly as before.
 */
export function contentTwins(candidates: readonly MbeirCandidate[]): Map<string, string[]> {
  const byContent = new Map<string, string[]>();
  for (const c of candidates) {
    const key = `${c.text ?? ''}\u0000${c.image ?? ''}`;
    byContent.set(key, [...(byContent.get(key) ?? []), c.did]);
  }
  const twins = new Map<string, string[]>();
  for (const group of byContent.values()) {
    if (group.length < 2) continue;
    for (const did of group)
      twins.set(
        did,
        group.filter((d) => d !== did),
      );
  }
  return twins;
}

/** A relevance set widened to the identical copies of its relevant candidates. */
export function withTwins(relevant: ReadonlySet<string>, twins: ReadonlyMap<string, readonly string[]>): Set<string> {
  const out = new Set(relevant);
  for (const did of relevant) for (const twin of twins.get(did) ?? []) out.add(twin);
  return out;
}

/** Folds a pool, chunk by chunk, into the top-k of the queries; returns the top-k, every did in order and the content twins. */
async function rankPool(
  queries: Float32Array,
  dim: number,
  chunks: AsyncIterable<MbeirCandidate[]> | Iterable<MbeirCandidate[]>,
  cache: EmbeddingCache,
  imageRoot: string,
  k: number,
  scorer: Scorer,
): Promise<{ top: TopKResult; dids: string[]; twins: Map<string, string[]> }> {
  const acc = new TopKAccumulator(queries, dim, k, { scorer });
  const dids: string[] = [];
  const contents: MbeirCandidate[] = [];
  for await (const chunk of chunks) {
    const vectors = await cache.embed(chunk.map((c) => mbeirCandidateItem(c, imageRoot)));
    acc.add(vectors, dids.length);
    for (const c of chunk) {
      dids.push(c.did);
      contents.push({
        did: c.did,
        modality: c.modality,
        ...(c.text === undefined ? {} : { text: c.text }),
        ...(c.image === undefined ? {} : { image: c.image }),
      });
    }
  }
  if (dids.length === 0) throw new Error('M-BEIR: the candidate pool is empty.');
  return { top: acc.result(), dids, twins: contentTwins(contents) };
}

/** Metrics of a set from its slice of a top-k result (rows rowOffset .. rowOffset + numQueries − 1). */
function scoreTask(
  task: LoadedTask,
  top: TopKResult,
  rowOffset: number,
  dids: readonly string[],
  ks: readonly number[],
  twins: ReadonlyMap<string, readonly string[]>,
  hits: number[],
): MbeirTaskScore {
  const k = reportedK(task.files.name);
  const relevance = (q: (typeof task.queries)[number]): Set<string> => withTwins(relevanceOf(task, q), twins);
  const cases: RankedCase<string>[] = task.queries.map((q, i) => {
    const row = top.indices.subarray((rowOffset + i) * top.k, (rowOffset + i + 1) * top.k);
    return { ranking: Array.from(row, (j) => dids[j] as string), relevance: relevance(q) };
  });
  const score: MbeirTaskScore = { score: 0, k, num_queries: cases.length, task_id: task.files.taskId };
  for (const kk of ks) score[`hit@${kk}`] = cases.reduce((s, c) => s + hitAtK(c.ranking, c.relevance, kk), 0) / cases.length;
  for (const kk of [5, 10]) score[`recall@${kk}`] = cases.reduce((s, c) => s + recallAtK(c.ranking, c.relevance, kk), 0) / cases.length;
  Object.assign(score, meanRankingMetrics(cases, { ks: [10], metrics: ['ndcg_linear', 'mrr'] }));
  for (const c of cases) hits.push(hitAtK(c.ranking, c.relevance, k));
  score['score'] = hits.reduce((s, h) => s + h, 0) / cases.length;
  // The score a ranking of random embeddings expects (lib/eval/chance): relevant candidates counted in this pool.
  const inPool = new Set(dids);
  score['chance'] = task.queries.reduce((s, q) => s + recallAtKChance(dids.length, [...relevance(q)].filter((d) => inPool.has(d)).length, k), 0) / cases.length;
  return score;
}

function* inChunks<T>(items: readonly T[], size: number): Iterable<T[]> {
  for (let i = 0; i < items.length; i += size) yield items.slice(i, i + size);
}

/** Evaluates the sets of an M-BEIR layout on the requested pools. */
export async function evaluateMbeir(layout: MbeirLayout, encoder: Encoder, opts: Partial<MbeirEvalOptions> = {}): Promise<MbeirEvalResult> {
  const options = { ...DEFAULT_MBEIR_OPTIONS, ...opts };
  const imageRoot = layout.root;
  const maxK = Math.max(...options.ks, 10);
  let instructions: Instructions | undefined;
  if (options.instructionPolicy !== 'none') {
    if (layout.instructionsFile === undefined) {
      throw new Error(`M-BEIR root ${layout.root}: no instructions/query_instructions.tsv; add it or use the instruction policy "none".`);
    }
    instructions = readInstructions(layout.instructionsFile);
  }
  log.info(`M-BEIR: instruction policy "${options.instructionPolicy}"${options.instructionPolicy === 'seeded' ? ` (seed ${options.seed})` : ''}`);
  const queryCache = new EmbeddingCache(encoder, { batchSize: options.batchSize });
  const result: MbeirEvalResult = { local: {}, global: {}, instructions: {}, hits: { local: {}, global: {} } };
  const tasks: LoadedTask[] = [];
  for (const files of layout.tasks) tasks.push(await loadTask(files, instructions, queryCache, imageRoot, options, result.instructions));
  for (const [key, counts] of Object.entries(result.instructions)) log.info(`M-BEIR instruction ${key}: ${JSON.stringify(counts)}`);

  if (options.pools.includes('local')) {
    for (const task of tasks) {
      const file = task.files.localPoolFile;
      if (file === undefined) throw new Error(`M-BEIR ${task.files.name}: no local pool under ${path.join(layout.root, 'cand_pool', 'local')}.`);
      const pool = readMbeirPool(file);
      const items = pool.map((c) => mbeirCandidateItem(c, imageRoot));
      if (options.checkImages)
        checkFilesExist(
          items.flatMap((i) => (i.image === undefined ? [] : [i.image])),
          `M-BEIR ${task.files.name} candidate image`,
          'Untar mbeir_images under the M-BEIR root.',
        );
      const cache = new EmbeddingCache(encoder, { batchSize: options.batchSize });
      const { top, dids, twins } = await rankPool(task.embeddings, encoder.dim, inChunks(pool, options.poolChunk), cache, imageRoot, maxK, options.scorer);
      result.local[task.files.name] = scoreTask(task, top, 0, dids, options.ks, twins, (result.hits.local[task.files.name] = []));
      log.info(
        `M-BEIR ${task.files.name} (local, ${pool.length} candidates): Recall@${reportedK(task.files.name)} ${(100 * (result.local[task.files.name]?.['score'] ?? 0)).toFixed(1)}`,
      );
    }
  }
  if (options.pools.includes('global')) {
    if (layout.globalPoolFile === undefined)
      throw new Error(`M-BEIR root ${layout.root}: no cand_pool/global/mbeir_union_${layout.split}_cand_pool.jsonl for the global pool.`);
    const dim = encoder.dim;
    const all = new Float32Array(tasks.reduce((n, t) => n + t.queries.length, 0) * dim);
    let offset = 0;
    for (const t of tasks) {
      all.set(t.embeddings, offset * dim);
      offset += t.queries.length;
    }
    const cache = new EmbeddingCache(encoder, { batchSize: options.batchSize, maxEntries: 4 * options.poolChunk });
    const { top, dids, twins } = await rankPool(all, dim, streamMbeirPool(layout.globalPoolFile, options.poolChunk), cache, imageRoot, maxK, options.scorer);
    offset = 0;
    for (const t of tasks) {
      result.global[t.files.name] = scoreTask(t, top, offset, dids, options.ks, twins, (result.hits.global[t.files.name] = []));
      offset += t.queries.length;
    }
    log.info(`M-BEIR global pool: ${dids.length} candidates, ${offset} queries`);
  }
  return result;
}

/** The aggregate that random embeddings expect on one pool (each set's `chance`, lib/eval/chance). */
export function mbeirChanceSummary(scores: Readonly<Record<string, MbeirTaskScore>>): MbeirAggregate {
  return mbeirSummary(Object.fromEntries(Object.entries(scores).map(([task, s]) => [task, { score: s['chance'] as number }])));
}

/**
 * Aggregates the per-set scores of one pool (×100, as published). Sets that are all M-BEIR's own are checked
 * against the 16 (so a partial run shows as incomplete); other names (a mini benchmark) form their own catalogue.
 */
export function mbeirSummary(scores: Readonly<Record<string, MbeirTaskScore>>): MbeirAggregate {
  const names = Object.keys(scores);
  const pct = Object.fromEntries(names.map((n) => [n, 100 * (scores[n]?.['score'] ?? NaN)]));
  const canonical = new Set(MBEIR_TASKS.map((t) => t.name));
  return aggregateMbeir(pct, names.every((n) => canonical.has(n)) ? MBEIR_TASKS : mbeirCatalogue(names));
}
