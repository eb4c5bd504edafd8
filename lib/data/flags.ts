/**
 * Read the flag sources into country concepts: facts from world-countries (names, capital, region,
 * languages, currencies, borders …), names in 78 languages from i18n-iso-countries, and three flag
 * renderings (flag-icons 4:3, country-flag-icons 3:2, world-countries SVG). A country's family is its
 * world subregion, so a country and most of its neighbours share a split and "neighbouring country's flag"
 * pairs stay inside one split.
 */
import { join } from 'path';
import { Concept, FlagFacts, ImageRef, SourcePaths, Style } from './concepts';
import { listDir, readJsonFile, rootRelative } from './files';

interface RawCountry {
  name: { common: string; official: string };
  cca2: string;
  cca3: string;
  tld?: string[];
  currencies?: Record<string, { name: string }>;
  idd?: { root?: string; suffixes?: string[] };
  capital?: string[];
  region: string;
  subregion?: string;
  languages?: Record<string, string>;
  landlocked: boolean;
  borders?: string[];
  area: number;
  demonyms?: { eng?: { m?: string; f?: string } };
}

function callingCodes(idd: RawCountry['idd']): string[] {
  if (idd?.root === undefined || idd.root === '') return [];
  const suffixes = idd.suffixes ?? [];
  // Countries sharing a root (e.g. +1) list many area-code suffixes; the calling code is then the root.
  return suffixes.length === 1 ? [`${idd.root}${suffixes[0]}`] : [idd.root];
}

/** Country names by ISO 639-1 locale from i18n-iso-countries (first alternative when several). */
function namesByLocale(dir: string): Map<string, Record<string, string>> {
  const out = new Map<string, Record<string, string>>();
  const langsDir = join(dir, 'langs');
  for (const file of [...listDir(langsDir)].filter((f) => f.endsWith('.json')).sort()) {
    const data = readJsonFile<{ locale: string; countries: Record<string, string | string[]> }>(join(langsDir, file));
    for (const [cca2, v] of Object.entries(data.countries)) {
      const name = Array.isArray(v) ? v[0] : v;
      if (name === undefined || name === '') continue;
      const rec = out.get(cca2) ?? {};
      rec[data.locale] = name;
      out.set(cca2, rec);
    }
  }
  return out;
}

/** Every country of world-countries, with the renderings that exist for it. */
export function loadFlagConcepts(paths: SourcePaths, root: string): Concept[] {
  const countries = readJsonFile<RawCountry[]>(join(paths.worldCountries, 'countries.json'));
  const byCca3 = new Map(countries.map((c) => [c.cca3, c]));
  const names = namesByLocale(paths.i18nCountries);
  const renderings: { style: Style; dir: string; files: Set<string>; file: (c: RawCountry) => string }[] = [
    { style: 'flag-icons', dir: join(paths.flagIcons, 'flags', '4x3'), files: new Set(), file: (c) => `${c.cca2.toLowerCase()}.svg` },
    { style: 'country-flag-icons', dir: join(paths.countryFlagIcons, '3x2'), files: new Set(), file: (c) => `${c.cca2}.svg` },
    { style: 'world-countries', dir: join(paths.worldCountries, 'data'), files: new Set(), file: (c) => `${c.cca3.toLowerCase()}.svg` },
  ];
  for (const r of renderings) r.files = listDir(r.dir);
  return countries.map((c) => {
    const id = `flag:${c.cca2}`;
    const images: ImageRef[] = [];
    for (const r of renderings) {
      const file = r.file(c);
      if (!r.files.has(file)) continue;
      images.push({ id: `${r.style}/${c.cca2.toLowerCase()}`, style: r.style, path: rootRelative(root, join(r.dir, file)), conceptId: id });
    }
    const neighbours = (c.borders ?? []).map((b) => byCca3.get(b)).filter((x): x is RawCountry => x !== undefined);
    const subregion = c.subregion !== undefined && c.subregion !== '' ? c.subregion : c.region;
    const facts: FlagFacts = {
      cca2: c.cca2,
      cca3: c.cca3,
      official: c.name.official,
      region: c.region,
      subregion,
      capitals: c.capital ?? [],
      languages: Object.values(c.languages ?? {}),
      currencies: Object.values(c.currencies ?? {}).map((x) => x.name),
      demonym: c.demonyms?.eng?.m ?? '',
      landlocked: c.landlocked,
      areaKm2: c.area,
      borders: neighbours.map((n) => `flag:${n.cca2}`),
      borderNames: neighbours.map((n) => n.name.common),
      tlds: c.tld ?? [],
      callingCodes: callingCodes(c.idd),
    };
    return {
      id,
      kind: 'flag' as const,
      family: `flag-subregion:${subregion}`,
      label: c.name.common,
      names: { ...(names.get(c.cca2) ?? {}), en: c.name.common },
      tags: {},
      categories: { group: { en: c.region }, subgroup: { en: subregion } },
      images,
      flag: facts,
    };
  });
}
