/**
 * The common shape of mini-M3T's sources: a *concept* (one emoji, one country) with its multilingual texts,
 * its facts and its images in several drawing *styles*. Concepts are grouped into *families* (an emoji with
 * its skin-tone, gender and hair variants; the countries of one world subregion), and a family is the unit
 * of the train/validation/test split, so no concept, variant or text crosses splits.
 */

/** Drawing styles: three emoji artists and three flag renderings. */
export const STYLES = ['twemoji', 'noto', 'openmoji', 'flag-icons', 'country-flag-icons', 'world-countries'] as const;
export type Style = (typeof STYLES)[number];

export interface StyleInfo {
  /** Short phrase used in descriptions ("drawn in the …"). */
  phrase: string;
  /** npm package that ships the artwork. */
  packageName: string;
  /** Licence of the artwork (not always the package's code licence). */
  artworkLicence: string;
}

export const STYLE_INFO: Readonly<Record<Style, StyleInfo>> = {
  twemoji: { phrase: 'flat Twemoji style', packageName: '@twemoji/svg', artworkLicence: 'CC-BY-4.0' },
  noto: { phrase: 'glossy Noto Emoji style', packageName: 'emoji-datasource-google', artworkLicence: 'Apache-2.0' },
  openmoji: { phrase: 'outlined OpenMoji style', packageName: 'openmoji', artworkLicence: 'CC-BY-SA-4.0' },
  'flag-icons': { phrase: 'flag-icons 4:3 rendering', packageName: 'flag-icons', artworkLicence: 'MIT' },
  'country-flag-icons': {
    phrase: 'country-flag-icons 3:2 rendering',
    packageName: 'country-flag-icons',
    artworkLicence: 'MIT',
  },
  'world-countries': {
    phrase: 'world-countries 3:2 rendering',
    packageName: 'world-countries',
    artworkLicence: 'public domain flag designs (not under the data ODbL)',
  },
};

/** One image of a concept. */
export interface ImageRef {
  /** Stable id, `${style}/${key}` (e.g. `twemoji/1f44b`, `flag-icons/fr`). */
  id: string;
  style: Style;
  /** Path of the source file relative to the project root, with `/` separators. */
  path: string;
  conceptId: string;
}

/** Emoji facts, from emojibase-data (+ emojilib and shortcodes). */
export interface EmojiFacts {
  hexcode: string;
  /** Group and subgroup keys (e.g. `people-body`, `hand-fingers-open`). */
  groupKey: string;
  subgroupKey: string;
  /** Unicode emoji version that introduced it (e.g. 13.1). */
  version: number;
  /** Skin tones 1–5 (light … dark); two for multi-person variants. Empty for the default. */
  tones: number[];
  /** Concept id of the default-tone emoji this is a variant of. */
  toneBaseId?: string;
  gender?: 'woman' | 'man';
  /** Concept id of the gender-neutral (or other-gender) counterpart. */
  genderBaseId?: string;
  /** Hair or beard component (e.g. `red hair`, `bald`). */
  hair?: string;
  hairBaseId?: string;
  /** emojilib's associated words (without its slug name). */
  associations: string[];
  /** Chat shortcodes without colons (github first, then CLDR). */
  shortcodes: string[];
}

/** Country facts, from world-countries (+ i18n-iso-countries names). */
export interface FlagFacts {
  cca2: string;
  cca3: string;
  official: string;
  region: string;
  subregion: string;
  capitals: string[];
  languages: string[];
  currencies: string[];
  demonym: string;
  landlocked: boolean;
  areaKm2: number;
  /** Neighbours by concept id (`flag:XX`) and by English common name, in the same order. */
  borders: string[];
  borderNames: string[];
  tlds: string[];
  callingCodes: string[];
}

export interface Concept {
  /** `emoji:<HEXCODE>` or `flag:<CCA2>`. */
  id: string;
  kind: 'emoji' | 'flag';
  /** Split unit: every concept of a family lands in the same split. */
  family: string;
  /** English display name (CLDR label, or the country's common name). */
  label: string;
  /** Names by locale code (`de`, `zh-hant`, …), English included. */
  names: Record<string, string>;
  /** Keywords by locale code. */
  tags: Record<string, string[]>;
  /** Group / subgroup (emoji) or region names by locale, for classification turns. */
  categories: { group: Record<string, string>; subgroup: Record<string, string> };
  images: ImageRef[];
  emoji?: EmojiFacts;
  flag?: FlagFacts;
}

/** Where each source package lives (absolute directories); tests point these at fixtures. */
export interface SourcePaths {
  emojibase: string;
  emojilib: string;
  twemoji: string;
  openmoji: string;
  noto: string;
  flagIcons: string;
  countryFlagIcons: string;
  worldCountries: string;
  i18nCountries: string;
}

/** The npm package behind each source path, for versions and licences in the data card. */
export const SOURCE_PACKAGES: Readonly<Record<keyof SourcePaths, string>> = {
  emojibase: 'emojibase-data',
  emojilib: 'emojilib',
  twemoji: '@twemoji/svg',
  openmoji: 'openmoji',
  noto: 'emoji-datasource-google',
  flagIcons: 'flag-icons',
  countryFlagIcons: 'country-flag-icons',
  worldCountries: 'world-countries',
  i18nCountries: 'i18n-iso-countries',
};

/** A tiny union-find over string ids, used to merge concepts into families. */
export class Families {
  private readonly parent = new Map<string, string>();

  find(id: string): string {
    let root = id;
    while (this.parent.has(root) && this.parent.get(root) !== root) root = this.parent.get(root) as string;
    // Path compression keeps later finds O(1).
    let cur = id;
    while (cur !== root) {
      const next = this.parent.get(cur) as string;
      this.parent.set(cur, root);
      cur = next;
    }
    return root;
  }

  /** Merge two ids; the lexicographically smaller root wins, so the result is order-independent. */
  union(a: string, b: string): void {
    const ra = this.find(a);
    const rb = this.find(b);
    if (ra === rb) return;
    if (ra < rb) this.parent.set(rb, ra);
    else this.parent.set(ra, rb);
  }
}
