/**
 * Read the emoji sources into concepts: emojibase-data (labels, tags, groups in 28 locales; skin-tone
 * variants), emojilib (associated words), emojibase shortcodes, and the images of three artists
 * (Twemoji SVG, Noto PNG from emoji-datasource-google, OpenMoji colour SVG). See
 * the data card the build writes (data/CARD.md) for counts and licences.
 */
import { join } from 'path';
import { Concept, EmojiFacts, ImageRef, SourcePaths, Style } from './concepts';
import { listDir, readJsonFile, rootRelative } from './files';

interface RawEmoji {
  label: string;
  hexcode: string;
  emoji: string;
  tags?: string[];
  group?: number;
  subgroup?: number;
  version: number;
  tone?: number | number[];
  skins?: RawEmoji[];
}

interface RawMessages {
  groups: { key: string; message: string; order: number }[];
  subgroups: { key: string; message: string; order: number }[];
}

/** Skin tones 1–5 as CLDR names them (emojibase `tone` numbers). */
export const TONE_NAMES = ['', 'light', 'medium-light', 'medium', 'medium-dark', 'dark'] as const;

/** Hair and beard components that CLDR labels append after a colon. */
const HAIR = ['red hair', 'curly hair', 'white hair', 'blond hair', 'bald', 'beard'];

/** One locale's texts: hexcode → label/tags, and group/subgroup names by their order number. */
interface LocaleTexts {
  entries: Map<string, { label: string; tags: string[] }>;
  groups: Map<number, string>;
  subgroups: Map<number, string>;
}

function readLocale(dir: string): LocaleTexts {
  const data = readJsonFile<RawEmoji[]>(join(dir, 'data.json'));
  const messages = readJsonFile<RawMessages>(join(dir, 'messages.json'));
  const entries = new Map<string, { label: string; tags: string[] }>();
  for (const e of data) {
    entries.set(e.hexcode, { label: e.label, tags: e.tags ?? [] });
    for (const s of e.skins ?? []) entries.set(s.hexcode, { label: s.label, tags: e.tags ?? [] });
  }
  return {
    entries,
    groups: new Map(messages.groups.map((g) => [g.order, g.message])),
    subgroups: new Map(messages.subgroups.map((g) => [g.order, g.message])),
  };
}

/** The locales emojibase-data ships (folders with a data.json), English first. */
export function emojiLocales(emojibaseDir: string): string[] {
  const found = [...listDir(emojibaseDir)].filter((d) => listDir(join(emojibaseDir, d)).has('data.json')).sort();
  if (!found.includes('en')) {
    throw new Error(`no en/data.json under ${emojibaseDir}; expected the emojibase-data package (npm ci).`);
  }
  return ['en', ...found.filter((l) => l !== 'en')];
}

function stripFe0f(hex: string): string {
  return hex.split('-').filter((p) => p !== 'FE0F').join('-');
}

/** Find an artist's file for a hexcode, trying with and without the FE0F variation selector. */
function findImage(files: Set<string>, hex: string, ext: string, upper: boolean): string | undefined {
  for (const h of [hex, stripFe0f(hex)]) {
    const name = `${upper ? h.toUpperCase() : h.toLowerCase()}.${ext}`;
    if (files.has(name)) return name;
  }
  return undefined;
}

interface ImageDirs {
  style: Style;
  dir: string;
  files: Set<string>;
  ext: string;
  upper: boolean;
}

function imageDirs(paths: SourcePaths): ImageDirs[] {
  const twemoji = paths.twemoji;
  const noto = join(paths.noto, 'img', 'google', '64');
  const openmoji = join(paths.openmoji, 'color', 'svg');
  return [
    { style: 'twemoji', dir: twemoji, files: listDir(twemoji), ext: 'svg', upper: false },
    { style: 'noto', dir: noto, files: listDir(noto), ext: 'png', upper: false },
    { style: 'openmoji', dir: openmoji, files: listDir(openmoji), ext: 'svg', upper: true },
  ];
}

function shortcodesOf(table: Record<string, string | string[]>, hex: string): string[] {
  const v = table[hex];
  return v === undefined ? [] : Array.isArray(v) ? v : [v];
}

/** emojilib keywords for an emoji, minus its slug name (the first entry). */
function associationsOf(lib: Record<string, string[]>, emoji: string): string[] {
  const words = lib[emoji] ?? lib[emoji.replace(/\uFE0F/g, '')] ?? [];
  return words.slice(1).filter((w) => !w.includes('_'));
}

/** Everything read once from the packages, used to make each concept. */
interface EmojiSources {
  root: string;
  texts: Map<string, LocaleTexts>;
  groupKeys: Map<number, string>;
  subgroupKeys: Map<number, string>;
  github: Record<string, string | string[]>;
  cldr: Record<string, string | string[]>;
  lib: Record<string, string[]>;
  dirs: ImageDirs[];
}

function readEmojiSources(paths: SourcePaths, root: string): EmojiSources {
  const enMessages = readJsonFile<RawMessages>(join(paths.emojibase, 'en', 'messages.json'));
  const shortDir = join(paths.emojibase, 'en', 'shortcodes');
  return {
    root,
    texts: new Map(emojiLocales(paths.emojibase).map((l) => [l, readLocale(join(paths.emojibase, l))])),
    groupKeys: new Map(enMessages.groups.map((g) => [g.order, g.key])),
    subgroupKeys: new Map(enMessages.subgroups.map((g) => [g.order, g.key])),
    github: readJsonFile<Record<string, string | string[]>>(join(shortDir, 'github.json')),
    cldr: readJsonFile<Record<string, string | string[]>>(join(shortDir, 'cldr.json')),
    lib: readJsonFile<Record<string, string[]>>(join(paths.emojilib, 'dist', 'emoji-en-US.json')),
    dirs: imageDirs(paths),
  };
}

/** One emoji (or skin-tone variant of `base`) as a concept; undefined when it has no group. */
function makeConcept(src: EmojiSources, e: RawEmoji, base: RawEmoji | undefined): Concept | undefined {
  const groupOrder = e.group ?? base?.group;
  const subgroupOrder = e.subgroup ?? base?.subgroup;
  if (groupOrder === undefined || subgroupOrder === undefined) return undefined;
  const id = `emoji:${e.hexcode}`;
  const names: Record<string, string> = {};
  const tags: Record<string, string[]> = {};
  const group: Record<string, string> = {};
  const subgroup: Record<string, string> = {};
  for (const [locale, t] of src.texts) {
    const entry = t.entries.get(e.hexcode);
    if (entry !== undefined) {
      names[locale] = entry.label;
      if (entry.tags.length > 0) tags[locale] = entry.tags;
    }
    const g = t.groups.get(groupOrder);
    const s = t.subgroups.get(subgroupOrder);
    if (g !== undefined) group[locale] = g;
    if (s !== undefined) subgroup[locale] = s;
  }
  const images: ImageRef[] = [];
  for (const d of src.dirs) {
    const file = findImage(d.files, e.hexcode, d.ext, d.upper);
    if (file === undefined) continue;
    const key = file.slice(0, -(d.ext.length + 1)).toLowerCase();
    images.push({ id: `${d.style}/${key}`, style: d.style, path: rootRelative(src.root, join(d.dir, file)), conceptId: id });
  }
  const facts: EmojiFacts = {
    hexcode: e.hexcode,
    groupKey: src.groupKeys.get(groupOrder) ?? String(groupOrder),
    subgroupKey: src.subgroupKeys.get(subgroupOrder) ?? String(subgroupOrder),
    version: e.version,
    tones: e.tone === undefined ? [] : Array.isArray(e.tone) ? e.tone : [e.tone],
    ...(base !== undefined ? { toneBaseId: `emoji:${base.hexcode}` } : {}),
    associations: associationsOf(src.lib, e.emoji),
    shortcodes: [...new Set([...shortcodesOf(src.github, e.hexcode), ...shortcodesOf(src.cldr, e.hexcode)])],
  };
  return { id, kind: 'emoji', family: id, label: e.label, names, tags, categories: { group, subgroup }, images, emoji: facts };
}

/**
 * Read every emoji with a group (the 26 bare regional indicators have none) and its skin-tone variants.
 * @param root project root, for the root-relative image paths.
 */
export function loadEmojiConcepts(paths: SourcePaths, root: string): Concept[] {
  const src = readEmojiSources(paths, root);
  const concepts: Concept[] = [];
  for (const e of readJsonFile<RawEmoji[]>(join(paths.emojibase, 'en', 'data.json'))) {
    const c = makeConcept(src, e, undefined);
    if (c === undefined) continue;
    concepts.push(c);
    for (const s of e.skins ?? []) {
      const v = makeConcept(src, s, e);
      if (v !== undefined) concepts.push(v);
    }
  }
  linkGenderAndHair(concepts);
  return concepts;
}

/** The label of a skin-tone variant without its tone names ("man: dark skin tone, red hair" → "man: red hair"). */
function withoutTones(label: string): string {
  const [head, tail] = label.split(/: (.*)/s);
  if (tail === undefined) return label;
  const rest = tail.split(', ').filter((p) => !/skin tone$/.test(p));
  return rest.length === 0 ? (head as string) : `${head}: ${rest.join(', ')}`;
}

/** Candidate gender-neutral labels for a gendered one ("woman frowning" → "person frowning", …). */
function neutralLabels(label: string): string[] {
  const out: string[] = [];
  if (/\b(woman|man)\b/.test(label)) {
    out.push(label.replace(/\b(woman|man)\b/, 'person'));
    out.push(label.replace(/\b(woman|man) /, '').trim());
    out.push(label.replace(/ (woman|man)\b/, '').trim());
  }
  if (/\b(women|men)\b/.test(label)) out.push(label.replace(/\b(women|men)\b/, 'people'));
  return out.filter((l) => l !== label && l.length > 0);
}

/**
 * Mark gendered variants (CLDR "woman …"/"man …") and hair variants ("…: red hair") with the concept
 * they modify, matching tones: "man frowning: dark skin tone" links to "person frowning: dark skin tone".
 */
function linkGenderAndHair(concepts: Concept[]): void {
  const byKey = new Map<string, Concept>();
  const key = (label: string, tones: number[]): string => `${label}|${tones.join(',')}`;
  for (const c of concepts) byKey.set(key(withoutTones(c.label), c.emoji?.tones ?? []), c);
  for (const c of concepts) {
    const facts = c.emoji as EmojiFacts;
    const plain = withoutTones(c.label);
    const hair = HAIR.find((h) => plain.endsWith(`: ${h}`));
    if (hair !== undefined) {
      const base = byKey.get(key(plain.slice(0, -(hair.length + 2)), facts.tones));
      if (base !== undefined) {
        facts.hair = hair;
        facts.hairBaseId = base.id;
      }
      continue;
    }
    const gender = /\b(woman|women)\b/.test(plain) ? 'woman' : /\b(man|men)\b/.test(plain) ? 'man' : undefined;
    if (gender === undefined) continue;
    for (const neutral of neutralLabels(plain)) {
      const base = byKey.get(key(neutral, facts.tones));
      if (base !== undefined && base.id !== c.id) {
        facts.gender = gender;
        facts.genderBaseId = base.id;
        break;
      }
    }
  }
}
