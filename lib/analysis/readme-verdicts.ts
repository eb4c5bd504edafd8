/**
 * The README's generated verdict tables: each results tree's table (lib/analysis/verdicts `readmeVerdictTable`)
 * sits between two markers, and `npm run verdicts -- --scale <scale> [--results DIR] --readme` replaces what lies
 * between them. The default tree is `results/<scale>` (what `npm run reproduce` writes); another committed tree,
 * such as the seeded grid's `results/grid/quick`, has its own block.
 */

/** Where a README block's verdicts come from: the results root and the scale below it. */
export interface VerdictSource {
  scale: string;
  results: string;
}

const DEFAULT_RESULTS = 'results';

function normalise(results: string): string {
  return results.replace(/\/+$/, '');
}

/** The README's markers around a results tree's generated verdict table. */
export function readmeMarkers(scale: string, results = DEFAULT_RESULTS): { start: string; end: string } {
  const root = normalise(results);
  const key = root === DEFAULT_RESULTS ? scale : `${root}/${scale}`;
  const option = root === DEFAULT_RESULTS ? '' : ` --results ${root}`;
  return { start: `<!-- verdicts:${key} (npm run verdicts -- --scale ${scale}${option} --readme) -->`, end: `<!-- /verdicts:${key} -->` };
}

/** Every generated verdict block the README holds, in order (read from the start markers). */
export function readmeVerdictSources(readme: string): VerdictSource[] {
  const out: VerdictSource[] = [];
  const re = /<!-- verdicts:(\S+) \(npm run verdicts -- --scale (\S+)(?: --results (\S+))? --readme\) -->/g;
  for (const m of readme.matchAll(re)) out.push({ scale: m[2] as string, results: m[3] ?? DEFAULT_RESULTS });
  return out;
}

/** `readme` with the block between the tree's markers replaced by `table`; an error if the markers are missing. */
export function replaceReadmeVerdicts(readme: string, scale: string, table: string, results = DEFAULT_RESULTS): string {
  const { start, end } = readmeMarkers(scale, results);
  const a = readme.indexOf(start);
  const b = a < 0 ? -1 : readme.indexOf(end, a + start.length);
  if (b < 0) {
    throw new Error(`README.md has no block for the verdicts of ${normalise(results)}/${scale}: put the lines\n${start}\n${end}\nwhere the table belongs.`);
  }
  return `${readme.slice(0, a + start.length)}\n${table}\n${readme.slice(b)}`;
}
