/**
 * The data card written next to the built data (`data/CARD.md` + `data/card.json`): sources with their
 * installed versions and licences, the attribution Twemoji's CC-BY-4.0 requires, OpenMoji's share-alike
 * note, how the splits are made, counts per split / turn kind / facet / language / pair kind, the mini
 * benchmarks, the targets of issue #6 with the actual numbers, and example records.
 */
import { join } from 'path';
import { SOURCE_PACKAGES, SourcePaths } from './concepts';
import { readJsonFile, writeFileAtomic } from './files';
import { MiniMbeirTaskSummary } from './mini-mbeir';
import { MiniMmebManifestEntry } from './mini-mmeb';
import { SplitConfig } from './splits';
import { RecordsSummary, totals } from './summary';

export interface SourceInfo {
  packageName: string;
  version: string;
  licence: string;
  use: string;
}

const USES: Readonly<Record<keyof SourcePaths, [string, string]>> = {
  emojibase: ['MIT (CLDR-derived data)', 'labels, keywords, groups in 28 locales; skin-tone variants; shortcodes'],
  emojilib: ['MIT', 'associated keywords (creative turns)'],
  twemoji: ['package MIT; artwork CC-BY-4.0 (attribution required)', 'flat-style emoji images'],
  openmoji: ['CC-BY-SA-4.0 (share-alike)', 'outlined-style emoji images: the held-out OOD style'],
  noto: ['package MIT; Noto artwork Apache-2.0', 'glossy-style emoji images (64 px PNG)'],
  flagIcons: ['MIT', 'flag renderings (4:3)'],
  countryFlagIcons: ['MIT', 'flag renderings (3:2)'],
  worldCountries: ['data ODbL-1.0; flag SVGs not under ODbL', 'country facts, borders, flag renderings'],
  i18nCountries: ['MIT', 'country names in 78 languages'],
};

export const ATTRIBUTION = [
  'Emoji artwork from Twemoji (https://github.com/jdecked/twemoji), Copyright Twitter, Inc and other contributors, ' +
    'licensed under CC-BY 4.0 (https://creativecommons.org/licenses/by/4.0/); SVG files via the @twemoji/svg package.',
  'All emojis designed by OpenMoji (https://openmoji.org/) – the open-source emoji and icon project. License: ' +
    'CC BY-SA 4.0 (https://creativecommons.org/licenses/by-sa/4.0/). Data derived from OpenMoji images (the OOD split, ' +
    'the OOD benchmark sets) is shared under the same licence.',
  'Noto Emoji artwork, Copyright Google Inc., licensed under the Apache License 2.0, via emoji-datasource-google.',
  'Country data from world-countries (https://github.com/mledoze/countries), licensed under the ODbL 1.0.',
  'Emoji names and keywords from the Unicode CLDR via emojibase-data (MIT); Unicode data © Unicode, Inc.',
];

/** Versions and licences of the packages behind `paths` (read from their package.json). */
export function sourceInfo(paths: SourcePaths): SourceInfo[] {
  return (Object.keys(SOURCE_PACKAGES) as (keyof SourcePaths)[]).map((key) => {
    let version = 'unknown';
    try {
      version = readJsonFile<{ version?: string }>(join(paths[key], 'package.json')).version ?? 'unknown';
    } catch {
      // A fixture folder without package.json (tests): the version stays "unknown".
    }
    const [licence, use] = USES[key];
    return { packageName: SOURCE_PACKAGES[key], version, licence, use };
  });
}

export const TARGETS = { images: 10000, pairs: 60000, turnKindsPerImage: 6, languages: 20, composed: 2000 } as const;

export interface CardInput {
  sources: SourceInfo[];
  records: RecordsSummary;
  mmeb: MiniMmebManifestEntry[];
  mbeir: MiniMbeirTaskSummary[];
  splits: SplitConfig;
  imageSizes: number[];
  limit: number | null;
  buildSeconds: Record<string, number>;
}

function table(head: string[], rows: (string | number)[][]): string {
  // Blank lines around the table: Markdown renderers need one between a paragraph and a table.
  return ['', `| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`, ...rows.map((r) => `| ${r.join(' | ')} |`), ''].join('\n');
}

function sorted(t: Record<string, number>): [string, number][] {
  return Object.entries(t).sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1));
}

function targetRows(input: CardInput): (string | number)[][] {
  const t = totals(input.records);
  const row = (name: string, target: number, actual: number): (string | number)[] => [name, `≥ ${target.toLocaleString('en')}`, actual.toLocaleString('en'), actual >= target ? 'met' : 'NOT met'];
  return [
    row('images', TARGETS.images, t.images),
    row('query–target pairs', TARGETS.pairs, t.pairs),
    row('turn kinds per image (mean)', TARGETS.turnKindsPerImage, input.records.turnKindsPerImage),
    row('languages (answer languages, by primary subtag)', TARGETS.languages, t.languages),
    row('composed (edit) pairs', TARGETS.composed, t.composed),
  ];
}

/** The card as Markdown. */
export function renderCard(input: CardInput): string {
  const r = input.records;
  const splitRows = (['train', 'validation', 'test', 'ood'] as const).map((s) => [s, r.concepts[s], r.images[s], r.turnPairs[s], r.pairRecords[s]]);
  const md = [
    '# mini-M3T data card',
    '',
    'Built by `npm run data` (lib/data/build.ts) from installed npm packages. The artwork is not committed; rebuild it.',
    input.limit === null ? '' : `**Subset build**: at most ${input.limit} emoji concepts and ${input.limit} countries.`,
    '',
    '## Targets (issue #6)',
    table(['quantity', 'target', 'actual', ''], targetRows(input)),
    '',
    '## Sources',
    table(['package', 'version', 'licence', 'used for'], input.sources.map((s) => [s.packageName, s.version, s.licence, s.use])),
    '',
    '## Attribution and licences',
    ...ATTRIBUTION.map((a) => `- ${a}`),
    '',
    '## Splits',
    `Concept families (an emoji with its skin-tone, gender and hair variants; the countries of one subregion) go wholly to train / validation / test by a seeded hash (seed ${input.splits.seed}, expected fractions validation ${input.splits.validation}, test ${input.splits.test}). ` +
      `The ${input.splits.oodStyles.join(', ')} style is held out: its images form the \`ood\` split only. Mini benchmarks use test concepts only.`,
    table(['split', 'concepts', 'images (turn records)', 'turn pairs', 'two-image pairs'], splitRows),
    '',
    '## Turn kinds (M3T order) and facets',
    table(['turn kind', 'pairs'], sorted(r.byTurnKind)),
    '',
    table(['facet', 'pairs'], sorted(r.byFacet)),
    '',
    '## Languages (answer language of turn pairs)',
    table(['locale', 'pairs'], sorted(r.byLanguage)),
    '',
    '## Two-image pairs',
    table(['kind', 'pairs'], sorted(r.byPairKind)),
    '',
    '## Styles',
    table(['style', 'images'], sorted(r.byStyle)),
    '',
    '## mini-MMEB (data/mini-mmeb)',
    table(['data set', 'meta-task', 'IND/OOD', 'queries', 'max candidates', 'what'], input.mmeb.map((d) => [d.name, d.metaTask, d.distribution, d.numQueries, d.numCandidates, d.description])),
    '',
    '## mini-M-BEIR (data/mini-mbeir)',
    table(['task file', 'dataset id', 'task id', 'queries', 'local pool'], input.mbeir.map((t) => [t.name, t.datasetId, t.taskId, t.numQueries, t.poolSize])),
    '',
    '## Build',
    `Image cache sizes: ${input.imageSizes.join(', ')} px. Step times (s): ${Object.entries(input.buildSeconds).map(([k, v]) => `${k} ${v}`).join(', ')}.`,
    '',
    '## Examples',
    ...r.examples.turns.map((e) => '```json\n' + JSON.stringify(e, null, 1) + '\n```'),
    ...r.examples.pairs.map((e) => '```json\n' + JSON.stringify(e, null, 1) + '\n```'),
    '',
  ];
  return md.filter((l, i) => !(l === '' && md[i - 1] === '')).join('\n');
}

/** Write CARD.md and card.json into `dir`; returns the two file names. */
export function writeCard(dir: string, input: CardInput): string[] {
  const t = totals(input.records);
  const json = { ...input, totals: { ...t, turnKindsPerImage: input.records.turnKindsPerImage }, targets: TARGETS, attribution: ATTRIBUTION };
  writeFileAtomic(join(dir, 'card.json'), JSON.stringify(json, null, 1) + '\n');
  writeFileAtomic(join(dir, 'CARD.md'), renderCard(input));
  return ['CARD.md', 'card.json'];
}
