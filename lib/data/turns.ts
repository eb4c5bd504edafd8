/**
 * The seven query–target turns of one image, in M3T's order (docs/method.md §7: 0 classification,
 * 1–2 global VQA, 3–4 local VQA, 5 creative, 6 retrieval whose target is the dense description).
 * Each turn picks a *facet* (what it asks about: group, name in another language, skin tone, colour of a
 * region, capital …) by a seeded weighted draw, and one to three phrasings of it whose text passes the
 * information-gap rule (lib/data/gap.ts); a facet with no passing phrasing gives way to the next one.
 */
import { Rng } from '../random';
import { ColourStats, REGIONS, Region } from './colour';
import { Concept } from './concepts';
import { emojiVersion, listPhrase, tonePhrase } from './describe';
import { hasInformationGap } from './gap';
import { EMOJI_TEMPLATES, FLAG_TEMPLATES, fillTemplate, REGION_PHRASES } from './templates';

export const TURN_KINDS = ['cls', 'vqa_global1', 'vqa_global2', 'vqa_local1', 'vqa_local2', 'vqa_creative', 'retrieval'] as const;
export type TurnKind = (typeof TURN_KINDS)[number];

export interface Turn {
  kind: TurnKind;
  /** What the turn asks about, e.g. `subgroup`, `name@de`, `colour:top`, `capital`. */
  facet: string;
  /** One or more alternative phrasings (the official records' "list of phrasings"). */
  query: string[];
  answer: string;
  /** Language of the answer (a locale code such as `de` or `zh-hant`). */
  lang: string;
}

/** A candidate turn before its phrasings are chosen. */
interface Facet {
  facet: string;
  templates: readonly string[];
  vars: Record<string, string>;
  answer: string;
  lang: string;
}

export interface TurnContext {
  concept: Concept;
  colours: ColourStats;
  description: string;
  rng: Rng;
}

const languageNameCache = new Map<string, string | undefined>();

/** English name of a locale ("de" → "German"), or undefined when ICU does not know it. */
export function languageName(locale: string): string | undefined {
  if (!languageNameCache.has(locale)) {
    let name: string | undefined;
    try {
      name = new Intl.DisplayNames(['en'], { type: 'language' }).of(locale);
    } catch {
      name = undefined;
    }
    languageNameCache.set(locale, name === undefined || name.toLowerCase() === locale.toLowerCase() ? undefined : name);
  }
  return languageNameCache.get(locale);
}

/** Items in a random order where heavier items tend to come first (sampling without replacement). */
function weightedOrder<T>(rng: Rng, items: readonly [T, number][]): T[] {
  const pool = items.filter(([, w]) => w > 0).slice();
  const out: T[] = [];
  while (pool.length > 0) {
    const total = pool.reduce((s, [, w]) => s + w, 0);
    let r = rng.next() * total;
    let i = 0;
    for (; i < pool.length - 1; i++) {
      r -= (pool[i] as [T, number])[1];
      if (r < 0) break;
    }
    out.push((pool.splice(i, 1)[0] as [T, number])[0]);
  }
  return out;
}

/** A non-English locale with a value in `table` and a known language name, or undefined. */
function otherLocale<V>(rng: Rng, table: Readonly<Record<string, V>>): string | undefined {
  const locales = Object.keys(table).filter((l) => !l.startsWith('en') && languageName(l) !== undefined).sort();
  return locales.length === 0 ? undefined : rng.pick(locales);
}

function localized(rng: Rng, base: string, templates: Readonly<Record<string, readonly string[]>>, table: Readonly<Record<string, string>>): Facet | undefined {
  const locale = otherLocale(rng, table);
  if (locale === undefined) return undefined;
  return { facet: `${base}@${locale}`, templates: templates[`${base}@L`] ?? [], vars: { lang: languageName(locale) as string }, answer: table[locale] as string, lang: locale };
}

function plain(facet: string, templates: Readonly<Record<string, readonly string[]>>, answer: string | undefined, vars: Record<string, string> = {}): Facet | undefined {
  if (answer === undefined || answer.trim() === '') return undefined;
  return { facet, templates: templates[facet.split(':')[0] as string] ?? [], vars, answer, lang: 'en' };
}

function colourFacets(rng: Rng, colours: ColourStats, templates: Readonly<Record<string, readonly string[]>>): Facet[] {
  const out: Facet[] = [];
  for (const region of rng.shuffle(REGIONS as readonly Region[])) {
    const name = colours.regions[region];
    const where = rng.pick(REGION_PHRASES[region] ?? [region]);
    const f = plain(`colour:${region}`, templates, name, { where });
    if (f !== undefined) out.push(f);
  }
  return out;
}

function sampleTags(rng: Rng, tags: readonly string[] | undefined, max: number): string | undefined {
  if (tags === undefined || tags.length === 0) return undefined;
  return rng.shuffle(tags).slice(0, max).join(', ');
}

type Slots = Record<TurnKind, (Facet | undefined)[]>;

function emojiSlots(ctx: TurnContext): Slots {
  const { concept: c, rng, colours } = ctx;
  const f = c.emoji;
  if (f === undefined) throw new Error(`emojiSlots needs an emoji concept, got ${c.id}.`);
  const T = EMOJI_TEMPLATES;
  const cls = weightedOrder<Facet | undefined>(rng, [
    [plain('subgroup', T, c.categories.subgroup['en']), 0.4],
    [plain('group', T, c.categories.group['en']), 0.3],
    [localized(rng, 'group', T, c.categories.group), 0.15],
    [localized(rng, 'subgroup', T, c.categories.subgroup), 0.15],
  ]);
  const tagsL = otherLocale(rng, c.tags);
  const keywordsL: Facet | undefined = tagsL === undefined ? undefined : {
    facet: `keywords@${tagsL}`, templates: T['keywords@L'] ?? [], vars: { lang: languageName(tagsL) as string },
    answer: sampleTags(rng, c.tags[tagsL], 5) ?? '', lang: tagsL,
  };
  const person: (Facet | undefined)[] = rng.shuffle([
    f.tones.length > 0 ? plain('skin', T, tonePhrase(f.tones)) : undefined,
    plain('gender', T, f.gender),
    plain('hair', T, f.hair),
  ]);
  const colour = colourFacets(rng, colours, T);
  const mainColours = plain('colours', T, listPhrase(colours.main.slice(0, 3).map((x) => x.name)));
  return {
    cls,
    vqa_global1: weightedOrder(rng, [[plain('name', T, c.names['en']), 0.65], [localized(rng, 'name', T, c.names), 0.35]]),
    vqa_global2: [
      ...weightedOrder(rng, [[plain('keywords', T, sampleTags(rng, c.tags['en'], 5)), 0.45], [keywordsL, 0.35], [localized(rng, 'name', T, c.names), 0.2]]),
      plain('associations', T, sampleTags(rng, f.associations, 5)),
    ],
    vqa_local1: [...person, ...colour],
    vqa_local2: [...colour, mainColours],
    vqa_creative: weightedOrder(rng, [
      [plain('associations', T, sampleTags(rng, f.associations, 5)), 0.5],
      [plain('shortcode', T, f.shortcodes[0] === undefined ? undefined : `:${f.shortcodes[0]}:`), 0.25],
      [plain('version', T, emojiVersion(f.version)), 0.25],
    ]),
    retrieval: [plain('description', T, ctx.description)],
  };
}

function flagSlots(ctx: TurnContext): Slots {
  const { concept: c, rng, colours } = ctx;
  const f = c.flag;
  if (f === undefined) throw new Error(`flagSlots needs a flag concept, got ${c.id}.`);
  const T = FLAG_TEMPLATES;
  const colour = colourFacets(rng, colours, T);
  const creative: [Facet | undefined, number][] = [
    [plain('capital', T, listPhrase(f.capitals)), 1],
    [plain('currency', T, listPhrase(f.currencies)), 1],
    [plain('languages', T, listPhrase(f.languages)), 1],
    [plain('demonym', T, f.demonym), 1],
    [plain('neighbours', T, listPhrase(f.borderNames)), 1],
    [plain('landlocked', T, f.landlocked ? 'yes' : 'no'), 0.5],
    [plain('callingCode', T, f.callingCodes.join(', ')), 0.5],
    [plain('tld', T, f.tlds.join(', ')), 0.5],
  ];
  return {
    cls: weightedOrder(rng, [[plain('continent', T, f.region), 0.6], [plain('subregion', T, f.subregion), 0.4]]),
    vqa_global1: weightedOrder(rng, [[plain('country', T, c.label), 0.6], [localized(rng, 'country', T, c.names), 0.4]]),
    vqa_global2: weightedOrder(rng, [[plain('official', T, f.official), 0.5], [localized(rng, 'country', T, c.names), 0.5]]),
    vqa_local1: colour,
    vqa_local2: [plain('colours', T, listPhrase(colours.main.slice(0, 4).map((x) => x.name))), ...colour],
    vqa_creative: weightedOrder(rng, creative),
    retrieval: [plain('description', T, ctx.description)],
  };
}

/** Phrasings of a facet that keep the information gap, 1–3 of them, or [] when none does. */
function choosePhrasings(rng: Rng, facet: Facet): string[] {
  const ok = facet.templates.map((t) => fillTemplate(t, facet.vars)).filter((q) => hasInformationGap(q, facet.answer));
  if (ok.length === 0) return [];
  const want = 1 + rng.int(3);
  return rng.shuffle(ok).slice(0, want);
}

/**
 * The turns of one image, in TURN_KINDS order; a slot with no usable facet is left out, no facet is asked
 * twice in one record, and a facet whose answer was already given is tried only after the others (so the
 * two local turns tend to name two different colours).
 */
export function buildTurns(ctx: TurnContext): Turn[] {
  const slots = ctx.concept.kind === 'emoji' ? emojiSlots(ctx) : flagSlots(ctx);
  const used = new Set<string>();
  const answers = new Set<string>();
  const turns: Turn[] = [];
  for (const kind of TURN_KINDS) {
    const candidates = slots[kind].filter((f): f is Facet => f !== undefined);
    const ordered = [...candidates.filter((f) => !answers.has(f.answer)), ...candidates.filter((f) => answers.has(f.answer))];
    for (const facet of ordered) {
      if (facet.answer.trim() === '' || used.has(facet.facet)) continue;
      const query = choosePhrasings(ctx.rng, facet);
      if (query.length === 0) continue;
      used.add(facet.facet);
      answers.add(facet.answer);
      turns.push({ kind, facet: facet.facet, query, answer: facet.answer, lang: facet.lang });
      break;
    }
  }
  return turns;
}
