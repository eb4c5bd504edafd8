/**
 * The README's generated verdict tables: each scale's table (lib/analysis/verdicts `readmeVerdictTable`) sits
 * between two markers, and `npm run verdicts -- --scale <scale> --readme` replaces what lies between them.
 */

/** The README's markers around a scale's generated verdict table. */
export function readmeMarkers(scale: string): { start: string; end: string } {
  return { start: `<!-- verdicts:${scale} (npm run verdicts -- --scale ${scale} --readme) -->`, end: `<!-- /verdicts:${scale} -->` };
}

/** `readme` with the block between the scale's markers replaced by `table`; an error if the markers are missing. */
export function replaceReadmeVerdicts(readme: string, scale: string, table: string): string {
  const { start, end } = readmeMarkers(scale);
  const a = readme.indexOf(start);
  const b = a < 0 ? -1 : readme.indexOf(end, a + start.length);
  if (b < 0) throw new Error(`README.md has no block for the ${scale} scale's verdicts: put the lines\n${start}\n${end}\nwhere the table belongs.`);
  return `${readme.slice(0, a + start.length)}\n${table}\n${readme.slice(b)}`;
}
