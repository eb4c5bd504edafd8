/**
 * A self-contained copy of some mini-M3T splits with only the images they show, at one image size: what a
 * machine without the data build needs to train and validate a run from it (the GPU machine of docs/gpu.md,
 * which has no sharp and no image files). The copy holds
 *
 *   m3t/manifest.json            the chosen splits only; `subsetOf` names where they came from
 *   m3t/<split>.jsonl            the splits' turn and pair files, byte for byte
 *   cache/index.json             the cache entries of the images those records name, in the source order
 *   cache/images-<size>.u8       their pixels
 *
 * Records keep their stored image paths, so `ImageCache.rowOf` finds each one's pixels as in the full build.
 * The image files themselves are not copied: where code decodes a path (the validation check's queries), the
 * caller reads the cache instead (its pixels equal what decoding the file gives, lib/data/cache.ts).
 */
import { copyFileSync, existsSync, mkdirSync, readFileSync } from 'fs';
import { join, resolve } from 'path';
import { CacheIndex, ImageCache } from './cache';
import { writeFileAtomic } from './files';
import { readMiniM3t } from './m3t';

interface Manifest {
  imageRoot: string;
  cache: string;
  splits: Record<string, { turns: string; pairs: string } & Record<string, unknown>>;
  [key: string]: unknown;
}

export interface SubsetSummary {
  splits: string[];
  records: number;
  images: number;
}

/** Every image path a split's records name (query, target and negatives), in first-seen order. */
async function imagePaths(dataDir: string, split: string): Promise<{ paths: string[]; records: number }> {
  const { records } = await readMiniM3t(dataDir, split, 'both');
  const paths = new Set<string>();
  for (const r of records) {
    for (const p of [r.queryImagePath, r.targetImagePath, ...r.negatives.map((n) => n.imagePath)]) if (p !== '') paths.add(p);
  }
  return { paths: [...paths], records: records.length };
}

/**
 * Write the subset of `dataDir` (a `npm run data` build) holding `splits` at `imageSize` into `outDir`, which
 * must not exist yet (nothing is overwritten).
 */
export async function writeM3tSubset(dataDir: string, outDir: string, splits: readonly string[], imageSize: number): Promise<SubsetSummary> {
  if (splits.length === 0) throw new Error('writeM3tSubset needs at least one split (e.g. train, validation).');
  if (existsSync(outDir)) throw new Error(`${outDir} exists already: give writeM3tSubset a new folder, or delete that one.`);
  const m3tDir = resolve(dataDir, 'm3t');
  const manifestFile = join(m3tDir, 'manifest.json');
  if (!existsSync(manifestFile)) throw new Error(`no mini-M3T manifest at ${manifestFile}; run \`npm run data\` first.`);
  const manifest = JSON.parse(readFileSync(manifestFile, 'utf8')) as Manifest;
  for (const s of splits) {
    if (manifest.splits[s] === undefined) throw new Error(`mini-M3T has no split "${s}"; expected one of ${Object.keys(manifest.splits).join(', ')}.`);
  }
  const cache = ImageCache.open(resolve(m3tDir, manifest.cache), imageSize);

  const wanted: string[] = [];
  let records = 0;
  for (const s of splits) {
    const found = await imagePaths(dataDir, s);
    wanted.push(...found.paths);
    records += found.records;
  }
  const rows = [...new Set(wanted)].map((p) => {
    const row = cache.rowOf(p);
    if (row === undefined) throw new Error(`Image ${p} is not in the image cache of ${dataDir}; rebuild it with \`npm run data\`.`);
    return row;
  });
  rows.sort((a, b) => a - b);
  const rowBytes = imageSize * imageSize * 3;
  const pixels = new Uint8Array(rows.length * rowBytes);
  rows.forEach((row, i) => pixels.set(cache.bytes(row), i * rowBytes));
  const index: CacheIndex = { ...cache.index, sizes: [imageSize], count: rows.length, entries: rows.map((r) => cache.index.entries[r]!) };

  const outM3t = join(outDir, 'm3t');
  mkdirSync(outM3t, { recursive: true });
  const kept: Manifest['splits'] = {};
  for (const s of splits) {
    const files = manifest.splits[s]!;
    for (const name of [files.turns, files.pairs]) copyFileSync(join(m3tDir, name), join(outM3t, name));
    kept[s] = files;
  }
  writeFileAtomic(join(outDir, 'cache', `images-${imageSize}.u8`), pixels);
  writeFileAtomic(join(outDir, 'cache', 'index.json'), JSON.stringify(index));
  writeFileAtomic(join(outM3t, 'manifest.json'), JSON.stringify({ ...manifest, cache: '../cache', splits: kept, subsetOf: resolve(dataDir) }, null, 1) + '\n');
  return { splits: [...splits], records, images: rows.length };
}
