/**
 * mini-MMEB: MMEB's four meta-tasks (docs/benchmarks.md §1.1) rebuilt from the test split and the held-out
 * style, in MMEB-eval's columns (§1.2): one JSONL file per data set with `qry_text, qry_img_path,
 * tgt_text[], tgt_img_path[]`, the positive at index 0, at most `maxCandidates` candidates, image paths
 * relative to the folder (PNG under `images/`), and `manifest.json` listing each data set's meta-task,
 * IND/OOD flag and candidate count (the layout lib/eval/mmeb-format.ts `discoverMmeb` reads).
 * Distractors never include another right answer (e.g. the same concept in another style).
 */
import { join } from 'path';
import { deriveSeed, Rng } from '../random';
import { ImageCache } from './cache';
import { COLOUR_NAMES, REGIONS } from './colour';
import { Concept, ImageRef } from './concepts';
import { BenchImages } from './bench-images';
import { BenchPool, candidateList, sample, shortCaption } from './bench-pool';
import { EDIT_KINDS } from './composed';
import { assertUnambiguous, CandidateContent } from './ambiguity';
import { writeFileAtomic, writeJsonl } from './files';
import { IMAGE_TOKEN, REPRESENT_IMAGE } from './records';
import { REGION_PHRASES } from './templates';
import { languageName } from './turns';

export interface MiniMmebConfig {
  /** Queries per data set (MMEB has 1,000). */
  maxQueries: number;
  /** Candidates per query for retrieval, VQA and grounding (MMEB has 1,000); classification uses all classes. */
  maxCandidates: number;
}

// 400 queries × up to 250 candidates keeps the 19 files near 120 MB while still ranking among hundreds.
export const MINI_MMEB_DEFAULTS: Readonly<MiniMmebConfig> = Object.freeze({ maxQueries: 400, maxCandidates: 250 });

export type MetaTask = 'CLS' | 'VQA' | 'RET' | 'VG';

export interface MmebEvalRow {
  qry_text: string;
  qry_img_path: string;
  tgt_text: string[];
  tgt_img_path: string[];
}

export interface MiniMmebDataset {
  name: string;
  metaTask: MetaTask;
  distribution: 'IND' | 'OOD';
  description: string;
  rows: MmebEvalRow[];
}

interface Ctx {
  pool: BenchPool;
  images: BenchImages;
  cfg: MiniMmebConfig;
  rng: (name: string) => Rng;
}

const withImage = (instruction: string): string => `${IMAGE_TOKEN}\n${instruction}\n`;
const vqa = (question: string): string => withImage(`Represent the given image with the following question: ${question}`);
const CROP = `${IMAGE_TOKEN}\nRepresent the given cropped image of the object.`;

function concept(ctx: Ctx, image: ImageRef): Concept {
  return ctx.pool.concepts.get(image.conceptId) as Concept;
}

/** Image → class name over a fixed label set. */
function classification(ctx: Ctx, name: string, dist: 'IND' | 'OOD', images: ImageRef[], label: (c: Concept) => string | undefined, instruction: string): MiniMmebDataset {
  const rng = ctx.rng(name);
  const labelled = images.map((i) => ({ i, l: label(concept(ctx, i)) })).filter((x): x is { i: ImageRef; l: string } => x.l !== undefined);
  // The full label set of the source (all groups, subgroups or regions), as a classification benchmark has.
  const classes = [...new Set(ctx.pool.allConcepts.map(label).filter((l): l is string => l !== undefined))].sort();
  const rows = sample(rng, labelled, ctx.cfg.maxQueries).map(({ i, l }) => {
    const tgt = [l, ...rng.shuffle(classes.filter((c) => c !== l))];
    return { qry_text: withImage(instruction), qry_img_path: ctx.images.path(i), tgt_text: tgt, tgt_img_path: tgt.map(() => '') };
  });
  return { name, metaTask: 'CLS', distribution: dist, description: `${instruction} (${classes.length} classes)`, rows };
}

/** Image + question → answer text among other concepts' answers. */
function questionAnswer(ctx: Ctx, name: string, dist: 'IND' | 'OOD', images: ImageRef[], qa: Question, description: string): MiniMmebDataset {
  const rng = ctx.rng(name);
  const asked = images.map((i) => ({ i, x: qa(i, rng) })).filter((y): y is { i: ImageRef; x: { q: string; a: string; pool?: string[] } } => y.x !== undefined);
  const answers = [...new Set(asked.map((y) => y.x.a))];
  const rows = sample(rng, asked, ctx.cfg.maxQueries).map(({ i, x }) => {
    const tgt = candidateList(rng, x.a, x.pool ?? answers, (t) => t, () => false, ctx.cfg.maxCandidates);
    return { qry_text: vqa(x.q), qry_img_path: ctx.images.path(i), tgt_text: tgt, tgt_img_path: tgt.map(() => '') };
  });
  return { name, metaTask: 'VQA', distribution: dist, description, rows };
}

/** Text → image; other images of the query's concept are not distractors. */
function textToImage(ctx: Ctx, name: string, dist: 'IND' | 'OOD', targets: ImageRef[], text: (c: Concept, rng: Rng) => string | undefined, description: string): MiniMmebDataset {
  const rng = ctx.rng(name);
  const rows: MmebEvalRow[] = [];
  for (const t of sample(rng, targets, ctx.cfg.maxQueries)) {
    const q = text(concept(ctx, t), rng);
    if (q === undefined) continue;
    const cands = candidateList(rng, t, targets, (x) => x.id, (x) => x.conceptId === t.conceptId, ctx.cfg.maxCandidates);
    rows.push({ qry_text: `${q}\n`, qry_img_path: '', tgt_text: cands.map(() => REPRESENT_IMAGE), tgt_img_path: cands.map((c) => ctx.images.path(c)) });
  }
  return { name, metaTask: 'RET', distribution: dist, description, rows };
}

/** Image (+ text) → image pairs; `isAlsoCorrect(query, candidate)` keeps other right answers out. */
function imageToImage(ctx: Ctx, name: string, dist: 'IND' | 'OOD', pairs: { q: ImageRef; t: ImageRef; text: string; negs?: ImageRef[] }[], pool: (t: ImageRef) => ImageRef[], isAlsoCorrect: (q: ImageRef, c: ImageRef) => boolean, description: string): MiniMmebDataset {
  const rng = ctx.rng(name);
  const rows = sample(rng, pairs, ctx.cfg.maxQueries).map((p) => {
    const hard = (p.negs ?? []).filter((n) => !isAlsoCorrect(p.q, n));
    const rest = candidateList(rng, p.t, pool(p.t), (x) => x.id, (c) => isAlsoCorrect(p.q, c) || hard.some((h) => h.id === c.id), ctx.cfg.maxCandidates - hard.length);
    const cands = [rest[0] as ImageRef, ...hard, ...rest.slice(1)];
    return { qry_text: withImage(p.text), qry_img_path: ctx.images.path(p.q), tgt_text: cands.map(() => REPRESENT_IMAGE), tgt_img_path: cands.map((c) => ctx.images.path(c)) };
  });
  return { name, metaTask: 'RET', distribution: dist, description, rows };
}

/** 2×2 composites of four different concepts; "the part showing X" → the right crop. */
function grounding(ctx: Ctx, name: string, dist: 'IND' | 'OOD', images: ImageRef[]): MiniMmebDataset {
  const rng = ctx.rng(name);
  const bySty = new Map<string, ImageRef[]>();
  for (const i of images) bySty.set(i.style, [...(bySty.get(i.style) ?? []), i]);
  const crops: { path: string; conceptId: string }[] = [];
  const queries: { grid: string; cell: { image: ImageRef; cropPath: string } }[] = [];
  // Two queries per grid; no more grids than half the images, so a small pool is not recombined endlessly.
  const nGrids = Math.min(Math.ceil(ctx.cfg.maxQueries / 2), Math.floor(images.length / 2));
  const styles = [...bySty.keys()].filter((s) => new Set((bySty.get(s) ?? []).map((i) => i.conceptId)).size >= 4).sort();
  for (let g = 0; g < nGrids && styles.length > 0; g++) {
    const four: ImageRef[] = [];
    for (const i of rng.shuffle(bySty.get(rng.pick(styles)) ?? [])) if (four.length < 4 && !four.some((f) => f.conceptId === i.conceptId)) four.push(i);
    const grid = ctx.images.grid(`${name.toLowerCase()}-${g}`, four as [ImageRef, ImageRef, ImageRef, ImageRef]);
    for (const cell of grid.cells) crops.push({ path: cell.cropPath, conceptId: cell.image.conceptId });
    for (const cell of rng.shuffle(grid.cells).slice(0, 2)) queries.push({ grid: grid.path, cell });
  }
  const rows = queries.slice(0, ctx.cfg.maxQueries).map(({ grid, cell }) => {
    const sameGrid = crops.filter((c) => c.path.startsWith(grid.slice(0, -4) + '-') && c.path !== cell.cropPath);
    const positive = { path: cell.cropPath, conceptId: cell.image.conceptId };
    const rest = candidateList(rng, positive, crops, (c) => c.path, (c) => c.conceptId === positive.conceptId || sameGrid.includes(c), ctx.cfg.maxCandidates - sameGrid.length);
    const cands = [positive, ...sameGrid, ...rest.slice(1)];
    const label = concept(ctx, cell.image).label;
    return {
      qry_text: withImage(`Select the portion of the image that isolates the object of the given label: ${label}`),
      qry_img_path: grid, tgt_text: cands.map(() => CROP), tgt_img_path: cands.map((c) => c.path),
    };
  });
  return { name, metaTask: 'VG', distribution: dist, description: 'a 2×2 composite of four emoji + a label → the crop showing it', rows };
}

/** The image pools and languages the data sets draw from. */
interface Sets {
  emojiInd: ImageRef[];
  emojiOod: ImageRef[];
  flagInd: ImageRef[];
  /** Non-English locales with a known language name. */
  locales: string[];
}

function sets(ctx: Ctx): Sets {
  const { pool } = ctx;
  const kind = (i: ImageRef): string => concept(ctx, i).kind;
  const locales = [...new Set([...pool.concepts.values()].flatMap((c) => Object.keys(c.names)))];
  return {
    emojiInd: pool.ind.filter((i) => kind(i) === 'emoji'),
    emojiOod: pool.ood.filter((i) => kind(i) === 'emoji'),
    flagInd: pool.ind.filter((i) => kind(i) === 'flag'),
    locales: locales.filter((l) => !l.startsWith('en') && languageName(l) !== undefined).sort(),
  };
}

type Question = (i: ImageRef, rng: Rng) => { q: string; a: string; pool?: string[] } | undefined;

function questions(ctx: Ctx, s: Sets): Record<'name' | 'colour' | 'multilingual' | 'capital', Question> {
  const { pool } = ctx;
  return {
    name: (i) => ({ q: 'What is this emoji called?', a: concept(ctx, i).label }),
    colour: (i, rng) => {
      const regions = REGIONS.filter((r) => pool.colours.get(i.id)?.regions[r] !== undefined);
      if (regions.length === 0) return undefined;
      const r = rng.pick(regions);
      return { q: `What colour dominates the ${REGION_PHRASES[r]?.[0] ?? r}?`, a: pool.colours.get(i.id)?.regions[r] as string, pool: [...COLOUR_NAMES] };
    },
    multilingual: (i, rng) => {
      const c = concept(ctx, i);
      const options = s.locales.filter((l) => c.names[l] !== undefined);
      if (options.length === 0) return undefined;
      const l = rng.pick(options);
      const answers = [...pool.concepts.values()].map((x) => x.names[l]).filter((x): x is string => x !== undefined);
      return { q: `What is this emoji called in ${languageName(l)}?`, a: c.names[l] as string, pool: answers };
    },
    capital: (i) => {
      const caps = concept(ctx, i).flag?.capitals ?? [];
      return caps[0] === undefined ? undefined : { q: 'What is the capital of the country with this flag?', a: caps[0] };
    },
  };
}

function classificationAndVqa(ctx: Ctx, s: Sets): MiniMmebDataset[] {
  const group = (c: Concept): string | undefined => (c.kind === 'emoji' ? c.categories.group['en'] : undefined);
  const subgroup = (c: Concept): string | undefined => (c.kind === 'emoji' ? c.categories.subgroup['en'] : undefined);
  const region = (c: Concept): string | undefined => c.flag?.region;
  const q = questions(ctx, s);
  return [
    classification(ctx, 'EmojiGroup', 'IND', s.emojiInd, group, 'Identify the category of the emoji shown.'),
    classification(ctx, 'EmojiSubgroup', 'IND', s.emojiInd, subgroup, 'Identify the subcategory of the emoji shown.'),
    classification(ctx, 'FlagRegion', 'IND', s.flagInd, region, 'Identify the world region of the country whose flag is shown.'),
    classification(ctx, 'EmojiGroup-OOD', 'OOD', s.emojiOod, group, 'Identify the category of the emoji shown.'),
    questionAnswer(ctx, 'EmojiName', 'IND', s.emojiInd, q.name, 'emoji + "what is it called?" → CLDR name'),
    questionAnswer(ctx, 'EmojiColour', 'IND', s.emojiInd, q.colour, 'emoji + colour of a region → one of 11 colour names'),
    questionAnswer(ctx, 'EmojiNameMultilingual', 'IND', s.emojiInd, q.multilingual, 'emoji + "what is it called in <language>?" → name in that language'),
    questionAnswer(ctx, 'FlagCapital', 'IND', s.flagInd, q.capital, 'flag + "what is the capital?" → capital'),
    questionAnswer(ctx, 'EmojiName-OOD', 'OOD', s.emojiOod, q.name, 'held-out style emoji + "what is it called?" → CLDR name'),
  ];
}

function retrievalAndGrounding(ctx: Ctx, s: Sets): MiniMmebDataset[] {
  const { pool } = ctx;
  const caption = (c: Concept): string => `Find me an emoji or flag that matches the given caption: ${shortCaption(c)}`;
  const multilingualName = (c: Concept, rng: Rng): string | undefined => {
    const l = s.locales.filter((x) => c.names[x] !== undefined);
    return l.length === 0 ? undefined : `Find the emoji with this name: ${c.names[rng.pick(l)]}`;
  };
  const crossStyle = (from: string, to: string) => pool.pairs
    .filter((p) => p.kind === 'cross_style' && p.query.style === from && p.target.style === to)
    .map((p) => ({ q: p.query, t: p.target, text: 'Find the same emoji drawn by another artist.' }));
  const inStyle = (imgs: ImageRef[]) => (t: ImageRef) => imgs.filter((i) => i.style === t.style);
  const sameConcept = (q: ImageRef, c: ImageRef): boolean => c.conceptId === q.conceptId;
  const edits = pool.pairs.filter((p) => EDIT_KINDS.includes(p.kind) && p.split === 'test')
    .map((p) => ({ q: p.query, t: p.target, text: `Given an emoji, find the same emoji with the described change: ${p.text}`, negs: p.negatives }));
  const neighbours = pool.pairs.filter((p) => p.kind === 'neighbour_flag' && p.split === 'test')
    .map((p) => ({ q: p.query, t: p.target, text: 'Find the flag of a country that borders this one.' }));
  const isNeighbour = (q: ImageRef, c: ImageRef): boolean => (pool.concepts.get(q.conceptId)?.flag?.borders ?? []).includes(c.conceptId);
  return [
    textToImage(ctx, 'EmojiT2I', 'IND', pool.ind, caption, 'caption → image'),
    textToImage(ctx, 'MultilingualT2I', 'IND', s.emojiInd, multilingualName, `name in one of ${s.locales.length} languages → image`),
    textToImage(ctx, 'EmojiT2I-OOD', 'OOD', s.emojiOod, caption, 'caption → held-out style image'),
    imageToText(ctx, s.emojiInd),
    imageToImage(ctx, 'EmojiStyleI2I', 'IND', crossStyle('twemoji', 'noto'), inStyle(s.emojiInd), sameConcept, 'Twemoji → the same emoji by Noto (like NIGHTS)'),
    imageToImage(ctx, 'EmojiEdit', 'IND', edits, inStyle(s.emojiInd), sameConcept, 'emoji + modification → edited emoji (like CIRR)'),
    imageToImage(ctx, 'FlagNeighbour', 'IND', neighbours, inStyle(s.flagInd), isNeighbour, 'flag + "a neighbouring country" → its flag'),
    imageToImage(ctx, 'EmojiStyleI2I-OOD', 'OOD', crossStyle('openmoji', 'twemoji'), inStyle(s.emojiInd), sameConcept, 'held-out style → the same emoji by Twemoji'),
    grounding(ctx, 'EmojiGrid', 'IND', s.emojiInd),
    grounding(ctx, 'EmojiGrid-OOD', 'OOD', s.emojiOod),
  ];
}

function datasets(ctx: Ctx): MiniMmebDataset[] {
  const s = sets(ctx);
  return [...classificationAndVqa(ctx, s), ...retrievalAndGrounding(ctx, s)];
}

/** Image → its dense description, other images of the same concept excluded from the distractors. */
function imageToText(ctx: Ctx, images: ImageRef[]): MiniMmebDataset {
  const rng = ctx.rng('EmojiI2T');
  const rows = sample(rng, images, ctx.cfg.maxQueries).map((i) => {
    const cands = candidateList(rng, i, images, (x) => ctx.pool.descriptions.get(x.id) ?? x.id, (x) => x.conceptId === i.conceptId, ctx.cfg.maxCandidates);
    const tgt = cands.map((c) => ctx.pool.descriptions.get(c.id) ?? '');
    return { qry_text: withImage('Find a caption describing the given emoji.'), qry_img_path: ctx.images.path(i), tgt_text: tgt, tgt_img_path: tgt.map(() => '') };
  });
  return { name: 'EmojiI2T', metaTask: 'RET', distribution: 'IND', description: 'image → dense description', rows };
}

export interface MiniMmebManifestEntry {
  name: string;
  metaTask: MetaTask;
  distribution: 'IND' | 'OOD';
  file: string;
  numQueries: number;
  numCandidates: number;
  description: string;
}

/**
 * Build and write mini-MMEB under `dir`. Data sets with no query (possible in a `limit`ed build) are left
 * out of the manifest.
 * @returns the manifest entries and every file written (relative to `dir`).
 */
export async function buildMiniMmeb(dir: string, pool: BenchPool, full: ImageCache, tile: ImageCache, cfg: MiniMmebConfig): Promise<{ entries: MiniMmebManifestEntry[]; files: string[] }> {
  const images = new BenchImages(dir, 'images', full, tile);
  const ctx: Ctx = { pool, images, cfg, rng: (name) => new Rng(deriveSeed(pool.seed, `mini-mmeb:${name}`)) };
  const entries: MiniMmebManifestEntry[] = [];
  const files: string[] = [];
  for (const d of datasets(ctx)) {
    const rows = d.rows.filter((r) => r.tgt_text.length >= 2);
    if (rows.length === 0) continue;
    // The positive is candidate 0; no other candidate of its row may be identical to it.
    assertUnambiguous(`mini-MMEB ${d.name}`, rows.map((r, i) => ({ query: `row ${i}`, positives: ['0'], candidates: r.tgt_text.map((text, j): [string, CandidateContent] => [String(j), { text, image: r.tgt_img_path[j] ?? '' }]) })));
    const file = `${d.name}.jsonl`;
    writeJsonl(join(dir, file), rows);
    files.push(file);
    const numCandidates = Math.max(...rows.map((r) => r.tgt_text.length));
    entries.push({ name: d.name, metaTask: d.metaTask, distribution: d.distribution, file, numQueries: rows.length, numCandidates, description: d.description });
  }
  await images.writeAll();
  files.push(...images.files());
  writeFileAtomic(join(dir, 'manifest.json'), JSON.stringify({ benchmark: 'mini-MMEB', imageRoot: '.', datasets: entries }, null, 1) + '\n');
  files.push('manifest.json');
  return { entries, files };
}
