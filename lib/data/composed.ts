/**
 * Pairs that need two images (image + text → image), M3T-style data that MMEB's composed and
 * image-to-image tasks ask for:
 *   - edits (composed retrieval, like CIRR): base emoji + "with dark skin tone" → the variant; gender
 *     ("as a woman", and back to gender-neutral); hair ("with red hair", "make the person bald");
 *   - cross-style (like NIGHTS): the same concept drawn by another artist;
 *   - neighbour flag: a flag + "a neighbouring country" → the neighbour's flag, in the same rendering.
 * Both images of a pair are in the same split (edits and cross-style pairs stay inside a family by
 * construction; neighbour pairs across splits are dropped); pairs between held-out-style (OOD) images, or
 * from an OOD image to the same concept in another style, form the OOD split.
 */
import { Rng } from '../random';
import { Concept, ImageRef, STYLE_INFO, Style } from './concepts';
import { tonePhrase } from './describe';
import { Split } from './splits';

export const PAIR_KINDS = ['edit_skin_tone', 'edit_gender', 'edit_hair', 'cross_style', 'neighbour_flag'] as const;
export type PairKind = (typeof PAIR_KINDS)[number];
/** The pair kinds that count as composed (edit) pairs in the data card. */
export const EDIT_KINDS: readonly PairKind[] = ['edit_skin_tone', 'edit_gender', 'edit_hair'];

export interface ImagePair {
  kind: PairKind;
  query: ImageRef;
  target: ImageRef;
  /** The modification or instruction text, one phrasing. */
  text: string;
  /** Hard negatives: other variants of the same base, in the query's style. */
  negatives: ImageRef[];
  split: Split;
}

const HAIR_PHRASES: Readonly<Record<string, readonly string[]>> = {
  'red hair': ['with red hair', 'give the person red hair'],
  'curly hair': ['with curly hair', 'give the person curly hair'],
  'white hair': ['with white hair', 'give the person white hair'],
  'blond hair': ['with blond hair', 'give the person blond hair'],
  bald: ['make the person bald', 'with a bald head'],
  beard: ['add a beard', 'with a beard'],
};

const TONE_TEMPLATES = ['with {x}', 'make the skin tone {x}', 'apply the {x}', 'change it to {x}'];
const GENDER_TEMPLATES = ['as a {x}', 'make the person a {x}', 'show a {x} instead'];
const NEUTRAL_PHRASES = ['as a gender-neutral person', 'make the person gender-neutral', 'remove the gender'];
const CROSS_STYLE = ['Find the same symbol drawn by another artist.', 'Retrieve this in a different drawing style.', 'Show the same thing in the {style}.'];
const NEIGHBOUR = ['Find the flag of a country that borders this one.', 'Show a neighbouring country\'s flag.', 'Which flag belongs to a country sharing a border with this one?'];

export interface PairContext {
  concepts: ReadonlyMap<string, Concept>;
  /** Split of every image, by image id. */
  splitOf: (image: ImageRef) => Split;
  rng: Rng;
}

function imageIn(concept: Concept | undefined, style: Style): ImageRef | undefined {
  return concept?.images.find((i) => i.style === style);
}

function fill(rng: Rng, templates: readonly string[], x: string): string {
  return rng.pick(templates).replace('{x}', x);
}

/** Same-style pairs from `base` to `variant`, one per style that both have, when both are in one split. */
function sameStylePairs(ctx: PairContext, kind: PairKind, base: Concept, variant: Concept, text: () => string, negatives: (style: Style) => ImageRef[]): ImagePair[] {
  const out: ImagePair[] = [];
  for (const q of base.images) {
    const t = imageIn(variant, q.style);
    if (t === undefined || ctx.splitOf(q) !== ctx.splitOf(t)) continue;
    out.push({ kind, query: q, target: t, text: text(), negatives: negatives(q.style), split: ctx.splitOf(q) });
  }
  return out;
}

function editPairs(ctx: PairContext): ImagePair[] {
  const out: ImagePair[] = [];
  const variantsOf = new Map<string, Concept[]>();
  for (const c of ctx.concepts.values()) {
    const b = c.emoji?.toneBaseId;
    if (b !== undefined) variantsOf.set(b, [...(variantsOf.get(b) ?? []), c]);
  }
  for (const c of ctx.concepts.values()) {
    const f = c.emoji;
    if (f === undefined) continue;
    const tb = f.toneBaseId === undefined ? undefined : ctx.concepts.get(f.toneBaseId);
    if (tb !== undefined) {
      const siblings = (variantsOf.get(tb.id) ?? []).filter((s) => s.id !== c.id);
      const negs = (style: Style): ImageRef[] => ctx.rng.shuffle(siblings).map((s) => imageIn(s, style)).filter((i): i is ImageRef => i !== undefined).slice(0, 2);
      out.push(...sameStylePairs(ctx, 'edit_skin_tone', tb, c, () => fill(ctx.rng, TONE_TEMPLATES, tonePhrase(f.tones)), negs));
    }
    const gb = f.genderBaseId === undefined ? undefined : ctx.concepts.get(f.genderBaseId);
    if (gb !== undefined && f.gender !== undefined) {
      const gender = f.gender;
      out.push(...sameStylePairs(ctx, 'edit_gender', gb, c, () => fill(ctx.rng, GENDER_TEMPLATES, gender), () => []));
      out.push(...sameStylePairs(ctx, 'edit_gender', c, gb, () => ctx.rng.pick(NEUTRAL_PHRASES), () => []));
    }
    const hb = f.hairBaseId === undefined ? undefined : ctx.concepts.get(f.hairBaseId);
    if (hb !== undefined && f.hair !== undefined) {
      const phrases = HAIR_PHRASES[f.hair] ?? [`with ${f.hair}`];
      out.push(...sameStylePairs(ctx, 'edit_hair', hb, c, () => ctx.rng.pick(phrases), () => []));
    }
  }
  return out;
}

/** One cross-style pair per image: to another style of the same concept (IND↔IND, or OOD → IND). */
function crossStylePairs(ctx: PairContext): ImagePair[] {
  const out: ImagePair[] = [];
  for (const c of ctx.concepts.values()) {
    for (const q of c.images) {
      const qSplit = ctx.splitOf(q);
      const others = c.images.filter((t) => t.style !== q.style && (qSplit === 'ood' ? ctx.splitOf(t) !== 'ood' : ctx.splitOf(t) === qSplit));
      if (others.length === 0) continue;
      const t = ctx.rng.pick(others);
      const text = ctx.rng.pick(CROSS_STYLE).replace('{style}', STYLE_INFO[t.style].phrase);
      out.push({ kind: 'cross_style', query: q, target: t, text, negatives: [], split: qSplit });
    }
  }
  return out;
}

function neighbourPairs(ctx: PairContext): ImagePair[] {
  const out: ImagePair[] = [];
  for (const c of ctx.concepts.values()) {
    for (const nId of c.flag?.borders ?? []) {
      const n = ctx.concepts.get(nId);
      if (n === undefined) continue;
      for (const q of c.images) {
        const t = imageIn(n, q.style);
        if (t === undefined || ctx.splitOf(q) !== ctx.splitOf(t)) continue;
        out.push({ kind: 'neighbour_flag', query: q, target: t, text: ctx.rng.pick(NEIGHBOUR), negatives: [], split: ctx.splitOf(q) });
      }
    }
  }
  return out;
}

/** Every two-image pair of the loaded concepts, deterministic for a given rng seed. */
export function buildImagePairs(ctx: PairContext): ImagePair[] {
  return [...editPairs(ctx), ...crossStylePairs(ctx), ...neighbourPairs(ctx)];
}
