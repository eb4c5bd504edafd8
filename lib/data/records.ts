/**
 * mini-M3T's records, in the official MuCo training records' columns (docs/method.md §7) plus our ids:
 *   - a *turn record* per image: `qry` = the 7 turn queries (each a string or a list of alternative
 *     phrasings), `pos_text` / `pos_sentence` = the 7 answers, `qry_sentence` = the dense description,
 *     `qry_image_path` = the image, `pos_image_path` = '' (M3T targets are text);
 *   - a *pair record* per two-image pair, in MMEB-train's single-pair form: `qry` = "<|image_1|>\n…",
 *     `pos_text` = "<|image_1|>\nRepresent the given image.", both image paths, optional hard negatives.
 * Every turn's query is checked against its answer (information-gap rule) before a record is returned.
 */
import { deriveSeed, Rng } from '../random';
import { CacheEntry } from './cache';
import { Concept, ImageRef, Style } from './concepts';
import { buildImagePairs, ImagePair, PairKind } from './composed';
import { describeImage } from './describe';
import { assertInformationGap } from './gap';
import { imageSplit, Split, SplitConfig } from './splits';
import { buildTurns, TurnKind } from './turns';

/** MMEB's image placeholder, used in single-pair rows as MMEB-train does. */
export const IMAGE_TOKEN = '<|image_1|>';
export const REPRESENT_IMAGE = `${IMAGE_TOKEN}\nRepresent the given image.`;

/** One image's multi-turn record (a row of data/m3t/<split>.jsonl). */
export interface TurnRecord {
  id: string;
  concept: string;
  family: string;
  style: Style;
  split: Split;
  kinds: TurnKind[];
  facets: string[];
  langs: string[];
  qry: (string | string[])[];
  pos_text: string[];
  pos_sentence: string[];
  qry_sentence: string;
  qry_image_path: string;
  pos_image_path: string;
}

/** One two-image pair (a row of data/m3t/<split>-pairs.jsonl). */
export interface PairRecord {
  id: string;
  concept: string;
  targetConcept: string;
  family: string;
  style: Style;
  targetStyle: Style;
  split: Split;
  kinds: [PairKind];
  langs: string[];
  qry: string;
  pos_text: string;
  pos_sentence: string;
  qry_sentence: string;
  qry_image_path: string;
  pos_image_path: string;
  neg_text?: string[];
  neg_image_path?: string[];
}

export interface BuiltRecords {
  turns: TurnRecord[];
  pairs: PairRecord[];
  /** Dense description of every image, by image id (reused by the mini benchmarks). */
  descriptions: Map<string, string>;
}

function turnRecord(concept: Concept, image: ImageRef, entry: CacheEntry, description: string, split: Split, seed: number): TurnRecord {
  const rng = new Rng(deriveSeed(seed, `turns:${image.id}`));
  const turns = buildTurns({ concept, colours: entry.colours, description, rng });
  const id = image.id;
  turns.forEach((t, k) => assertInformationGap(t.query, t.answer, `record ${id} turn ${k} (${t.kind}, ${t.facet})`));
  return {
    id,
    concept: concept.id,
    family: concept.family,
    style: image.style,
    split,
    kinds: turns.map((t) => t.kind),
    facets: turns.map((t) => t.facet),
    langs: turns.map((t) => t.lang),
    qry: turns.map((t) => (t.query.length === 1 ? (t.query[0] as string) : t.query)),
    pos_text: turns.map((t) => t.answer),
    pos_sentence: turns.map((t) => t.answer),
    qry_sentence: description,
    qry_image_path: image.path,
    pos_image_path: '',
  };
}

function pairRecord(p: ImagePair, concepts: ReadonlyMap<string, Concept>, descriptions: ReadonlyMap<string, string>): PairRecord {
  const concept = concepts.get(p.query.conceptId) as Concept;
  const row: PairRecord = {
    id: `${p.kind}:${p.query.id}>${p.target.id}`,
    concept: p.query.conceptId,
    targetConcept: p.target.conceptId,
    family: concept.family,
    style: p.query.style,
    targetStyle: p.target.style,
    split: p.split,
    kinds: [p.kind],
    langs: ['en'],
    qry: `${IMAGE_TOKEN}\n${p.text}`,
    pos_text: REPRESENT_IMAGE,
    pos_sentence: descriptions.get(p.target.id) ?? '',
    qry_sentence: descriptions.get(p.query.id) ?? '',
    qry_image_path: p.query.path,
    pos_image_path: p.target.path,
  };
  if (p.negatives.length > 0) {
    row.neg_text = p.negatives.map(() => REPRESENT_IMAGE);
    row.neg_image_path = p.negatives.map((n) => n.path);
  }
  return row;
}

/**
 * Build every record from the concepts and the cache's colour facts.
 * @param entries cache entries by image id (every image of every concept must have one).
 */
export function buildRecords(concepts: readonly Concept[], entries: ReadonlyMap<string, CacheEntry>, splits: SplitConfig, seed: number): BuiltRecords {
  const byId = new Map(concepts.map((c) => [c.id, c]));
  const descriptions = new Map<string, string>();
  const turns: TurnRecord[] = [];
  for (const concept of concepts) {
    for (const image of concept.images) {
      const entry = entries.get(image.id);
      if (entry === undefined) throw new Error(`image ${image.id} (${image.path}) is missing from the image cache; rebuild the cache.`);
      const description = describeImage(concept, image, entry.colours);
      descriptions.set(image.id, description);
      turns.push(turnRecord(concept, image, entry, description, imageSplit(concept, image, splits), seed));
    }
  }
  const splitOf = (image: ImageRef): Split => imageSplit(byId.get(image.conceptId) as Concept, image, splits);
  const pairs = buildImagePairs({ concepts: byId, splitOf, rng: new Rng(deriveSeed(seed, 'pairs')) })
    .map((p) => pairRecord(p, byId, descriptions));
  return { turns, pairs, descriptions };
}
