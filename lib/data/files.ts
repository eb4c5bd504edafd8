/**
 * Small file helpers shared by the data modules: JSON with errors that name the file, directory listings
 * as sets, root-relative paths, and atomic writes (write to a temporary name, then rename) so an interrupted
 * build never leaves a half-written file that looks complete.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'fs';
import { dirname, join, relative, sep } from 'path';

/** Parse a JSON file; a missing or malformed file is an error naming it. */
export function readJsonFile<T = unknown>(path: string): T {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new Error(`cannot read ${path} (${(err as NodeJS.ErrnoException).code ?? String(err)}); ` +
      'is the package installed (npm ci) and the path right?');
  }
  try {
    return JSON.parse(text) as T;
  } catch (err) {
    throw new Error(`${path} is not valid JSON (${(err as Error).message}).`);
  }
}

/** The file names in a directory as a set (empty when it does not exist or is not a directory). */
export function listDir(dir: string): Set<string> {
  return existsSync(dir) && statSync(dir).isDirectory() ? new Set(readdirSync(dir)) : new Set();
}

/** `abs` relative to `root`, with `/` separators (the form stored in records). */
export function rootRelative(root: string, abs: string): string {
  return relative(root, abs).split(sep).join('/');
}

/** Write a file atomically, creating its directory. */
export function writeFileAtomic(path: string, data: string | Uint8Array): void {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, data);
  renameSync(tmp, path);
}

/** Write rows as JSON Lines, atomically. */
export function writeJsonl(path: string, rows: readonly unknown[]): void {
  writeFileAtomic(path, rows.map((r) => JSON.stringify(r)).join('\n') + (rows.length > 0 ? '\n' : ''));
}

export function ensureDir(dir: string): string {
  mkdirSync(dir, { recursive: true });
  return dir;
}

export { join };
