/**
 * All of mini-M3T's concepts from the installed packages: emoji and countries, with the emoji country
 * flags (🇫🇷) merged into their country (so a country's six renderings are one concept), families
 * assigned, and an optional `limit` that keeps a deterministic subset for tests and quick builds.
 */
import { join } from 'path';
import { deriveSeed } from '../random';
import { Concept, Families, SourcePaths } from './concepts';
import { loadEmojiConcepts } from './emoji';
import { loadFlagConcepts } from './flags';

/** Package directories under `<root>/node_modules`. */
export function defaultSourcePaths(root: string): SourcePaths {
  const nm = join(root, 'node_modules');
  return {
    emojibase: join(nm, 'emojibase-data'),
    emojilib: join(nm, 'emojilib'),
    twemoji: join(nm, '@twemoji', 'svg'),
    openmoji: join(nm, 'openmoji'),
    noto: join(nm, 'emoji-datasource-google'),
    flagIcons: join(nm, 'flag-icons'),
    countryFlagIcons: join(nm, 'country-flag-icons'),
    worldCountries: join(nm, 'world-countries'),
    i18nCountries: join(nm, 'i18n-iso-countries'),
  };
}

export interface LoadOptions {
  /** Keep at most this many emoji concepts and this many countries (whole families first); null: all. */
  limit: number | null;
  /** Seed of the subset order. */
  seed: number;
}

/** Regional-indicator pair → ISO 3166 alpha-2 code (1F1EB-1F1F7 → FR), or undefined. */
export function regionalIndicatorCode(hexcode: string): string | undefined {
  const parts = hexcode.split('-');
  if (parts.length !== 2) return undefined;
  const letters = parts.map((p) => parseInt(p, 16) - 0x1f1e6);
  if (letters.some((l) => !(l >= 0 && l < 26))) return undefined;
  return letters.map((l) => String.fromCharCode(65 + l)).join('');
}

/** Move emoji country flags into their country concept; returns the emoji concepts that remain. */
function mergeEmojiFlags(emoji: Concept[], flags: Map<string, Concept>): Concept[] {
  const rest: Concept[] = [];
  for (const e of emoji) {
    const code = e.emoji?.subgroupKey === 'country-flag' ? regionalIndicatorCode(e.emoji.hexcode) : undefined;
    const country = code === undefined ? undefined : flags.get(`flag:${code}`);
    if (country === undefined) {
      rest.push(e);
      continue;
    }
    for (const img of e.images) country.images.push({ ...img, conceptId: country.id });
    // Emoji keywords ("flag", "France", …) become the country's tags, per locale.
    for (const [locale, tags] of Object.entries(e.tags)) country.tags[locale] = tags;
  }
  return rest;
}

function assignEmojiFamilies(emoji: Concept[]): void {
  const families = new Families();
  for (const c of emoji) {
    const f = c.emoji;
    for (const other of [f?.toneBaseId, f?.genderBaseId, f?.hairBaseId]) if (other !== undefined) families.union(c.id, other);
  }
  for (const c of emoji) c.family = `emoji-family:${families.find(c.id).slice('emoji:'.length)}`;
}

/** Deterministic subset: concepts ordered by (family hash, concept hash), first `limit` kept. */
function takeSubset(concepts: Concept[], limit: number, seed: number): Concept[] {
  const keyed = concepts.map((c) => ({ c, f: deriveSeed(seed, `limit:${c.family}`), k: deriveSeed(seed, `limit:${c.id}`) }));
  keyed.sort((a, b) => a.f - b.f || a.k - b.k || (a.c.id < b.c.id ? -1 : 1));
  const kept = new Set(keyed.slice(0, limit).map((x) => x.c.id));
  return concepts.filter((c) => kept.has(c.id));
}

/**
 * Load every concept that has at least one image.
 * @param root project root (image paths are stored relative to it).
 */
export function loadConcepts(paths: SourcePaths, root: string, options: LoadOptions): Concept[] {
  const flagList = loadFlagConcepts(paths, root);
  const flags = new Map(flagList.map((c) => [c.id, c]));
  let emoji = mergeEmojiFlags(loadEmojiConcepts(paths, root), flags);
  assignEmojiFamilies(emoji);
  let countries = flagList.filter((c) => c.images.length > 0);
  emoji = emoji.filter((c) => c.images.length > 0);
  if (options.limit !== null) {
    emoji = takeSubset(emoji, options.limit, options.seed);
    countries = takeSubset(countries, options.limit, options.seed);
  }
  // Variant links to concepts outside the subset are dropped, so every edit pair built later has both
  // ends. (Borders stay: they are facts; pair builders skip neighbours that are not loaded.)
  const ids = new Set([...emoji, ...countries].map((c) => c.id));
  for (const c of emoji) {
    const f = c.emoji;
    if (f === undefined) continue;
    if (f.toneBaseId !== undefined && !ids.has(f.toneBaseId)) delete f.toneBaseId;
    if (f.genderBaseId !== undefined && !ids.has(f.genderBaseId)) delete f.genderBaseId;
    if (f.hairBaseId !== undefined && !ids.has(f.hairBaseId)) delete f.hairBaseId;
  }
  return [...emoji, ...countries];
}
