/**
 * What a model reads an instruction as. A benchmark query (image + an instruction the model never trained on)
 * is embedded and compared with a pool of training answers, each labelled by what its turn asked (the M3T
 * facet: `group@L`, `name@L`, `colour`, `description`, …). The labels of its nearest answers say which
 * training question the model takes the instruction for: "Identify the category of the emoji shown." read as
 * `name@L` retrieves names, and no class name can win on the merits (docs/model.md "Instruction reading").
 *
 * Conventions: nearness is the dot product (our encoders return L2-normalised rows, so cosine); ties go to the
 * earlier pool row; each query contributes k neighbours, and a label's share is its count over all queries'
 * neighbours.
 */
import * as fs from 'fs';
import { facetFamily } from '../data/summary';
import { EmbeddingCache, type EncodeItem, type Encoder } from '../eval/encoder';
import { topK } from '../rank';

/** A pool entry: an answer text and what its turn asked. */
export interface LabelledText {
  text: string;
  label: string;
}

export interface LabelShare {
  label: string;
  /** Fraction of all neighbours (queries × k) carrying the label, in [0, 1]. */
  share: number;
}

/**
 * Shares of labels among the k nearest pool rows of each query, largest share first (ties by label).
 * @param queries [numQueries, dim] row-major
 * @param pool [labels.length, dim] row-major
 */
export function neighbourLabelShares(queries: Float32Array, pool: Float32Array, labels: readonly string[], dim: number, k: number): LabelShare[] {
  const m = labels.length;
  if (!(Number.isInteger(dim) && dim > 0)) throw new Error(`neighbourLabelShares: dim must be a positive integer, got ${dim}.`);
  if (pool.length !== m * dim) throw new Error(`neighbourLabelShares: the pool has ${pool.length} values for ${m} labels of width ${dim}.`);
  if (queries.length % dim !== 0 || queries.length === 0) {
    throw new Error(`neighbourLabelShares: ${queries.length} query values are not a whole, non-empty number of rows of width ${dim}.`);
  }
  if (!(Number.isInteger(k) && k >= 1 && k <= m)) throw new Error(`neighbourLabelShares: k must be an integer in [1, ${m}] (the pool size), got ${k}.`);
  const nearest = topK(queries, pool, dim, k);
  const counts = new Map<string, number>();
  for (const j of nearest.indices) {
    const label = labels[j] as string;
    counts.set(label, (counts.get(label) ?? 0) + 1);
  }
  const n = nearest.numQueries;
  return [...counts]
    .map(([label, c]) => ({ label, share: c / (n * k) }))
    .sort((a, b) => b.share - a.share || (a.label < b.label ? -1 : a.label > b.label ? 1 : 0));
}

/**
 * The distinct answers of the first `records` rows of an M3T JSONL file, each labelled by its facet family
 * (`group@es-mx` → `group@L`, `colour:left` → `colour`); an answer given under several facets keeps the first.
 */
export function m3tAnswerPool(file: string, records = Infinity): LabelledText[] {
  if (!fs.existsSync(file)) throw new Error(`m3tAnswerPool: ${file} does not exist; build the data with \`npm run data\`.`);
  const seen = new Map<string, string>();
  const lines = fs
    .readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '');
  lines.slice(0, records).forEach((line, row) => {
    const r = JSON.parse(line) as { pos_text?: unknown; facets?: unknown };
    if (!Array.isArray(r.pos_text) || !Array.isArray(r.facets) || r.pos_text.length !== r.facets.length) {
      throw new Error(`m3tAnswerPool: ${file} row ${row} needs pos_text and facets lists of one length (mini-M3T's columns).`);
    }
    const facets = r.facets;
    r.pos_text.forEach((text, t) => {
      if (typeof text === 'string' && !seen.has(text)) seen.set(text, facetFamily(String(facets[t])));
    });
  });
  return [...seen].map(([text, label]) => ({ text, label }));
}

/** Embeds the queries and the pool with `encoder` and returns neighbourLabelShares. */
export async function readInstructions(encoder: Encoder, queries: readonly EncodeItem[], pool: readonly LabelledText[], k = 5): Promise<LabelShare[]> {
  if (queries.length === 0) throw new Error('readInstructions: no queries to read.');
  const cache = new EmbeddingCache(encoder);
  const q = await cache.embed(queries);
  const p = await cache.embed(pool.map((x) => ({ text: x.text })));
  return neighbourLabelShares(
    q,
    p,
    pool.map((x) => x.label),
    encoder.dim,
    k,
  );
}

/** "name@L 99%, description 1%": the first `top` shares as text. */
export function formatShares(shares: readonly LabelShare[], top = 3): string {
  return shares
    .slice(0, top)
    .map((s) => `${s.label} ${Math.round(100 * s.share)}%`)
    .join(', ');
}
