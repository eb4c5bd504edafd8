/**
 * The results schema (docs/architecture.md). A run is a folder `results/<experiment>/<run>/` holding:
 * - `config.json`: the resolved config the run was made from;
 * - `metrics.json`: `{metadata: {experiment, run, gitSha, date, backend, seed}, metrics: {...}}`;
 * - `log.jsonl`: one JSON object per line (per-step loss, lr, throughput, or per-data-set eval records);
 * - tables as CSV, and any further files (score files, figures).
 *
 * Files are written atomically (a temporary file in the same folder, then a link or rename), and never
 * overwritten silently: writing an existing file is an error unless `overwrite: true`.
 */
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';

export interface RunMetadata {
  experiment: string;
  run: string;
  /** The commit the run was made at ('unknown' outside a git checkout). */
  gitSha: string;
  /** ISO 8601 date-time. */
  date: string;
  /** The tfjs backend name, or 'none' where no tensor code ran. */
  backend: string;
  /**
   * The backend as `describeBackend` words it (threads, native BLAS, the WebGPU adapter): scores of a
   * collapsed model can differ in the last bits between backends, so every evaluation records where it ran.
   */
  backendDetail?: string;
  seed: number;
}

/** Metric values: numbers, strings, booleans or null, nested in objects or arrays. */
export type MetricValue = number | string | boolean | null | MetricValue[] | { [key: string]: MetricValue };

export interface MetricsFile {
  metadata: RunMetadata;
  metrics: { [key: string]: MetricValue };
}

export interface WriteOptions {
  /** Replace an existing file instead of failing. Default false. */
  overwrite?: boolean;
}

/** The folder of a run. Names must be plain folder names (no separators, not `.` or `..`). */
export function runDir(root: string, experiment: string, run: string): string {
  for (const [what, name] of [
    ['experiment', experiment],
    ['run', run],
  ] as const) {
    if (name === '' || name === '.' || name === '..' || /[\\/]/.test(name)) {
      throw new Error(`runDir: ${what} name "${name}" must be a plain folder name (no "/" or "\\", not "." or "..").`);
    }
  }
  return path.join(root, experiment, run);
}

/**
 * Writes a file atomically: the bytes go to a temporary file next to the target, which is then linked into
 * place (fails if the target exists: no silent overwrite, even under a race) or renamed over it (`overwrite`).
 */
export function writeFileAtomic(file: string, data: string | Uint8Array, options: WriteOptions = {}): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  if (!options.overwrite && fs.existsSync(file)) {
    throw new Error(`${file} already exists; refusing to overwrite it. Pass overwrite: true (--overwrite) or choose another run name.`);
  }
  const tmp = `${file}.tmp-${process.pid}-${Math.random().toString(36).slice(2)}`;
  try {
    fs.writeFileSync(tmp, data);
  } catch (e) {
    // A full disk (ENOSPC) or a read-only folder: say which file could not be written, and leave no partial copy.
    if (fs.existsSync(tmp)) fs.unlinkSync(tmp);
    const err = e as NodeJS.ErrnoException;
    throw new Error(
      `Could not write ${file} (${err.code ?? 'error'}: ${err.message}).${err.code === 'ENOSPC' ? ' The disk is full: free space and run the command again.' : ''}`,
    );
  }
  try {
    if (options.overwrite) {
      fs.renameSync(tmp, file);
    } else {
      try {
        fs.linkSync(tmp, file);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'EEXIST') {
          throw new Error(`${file} already exists; refusing to overwrite it. Pass overwrite: true or choose another run name.`);
        }
        throw e;
      }
    }
  } finally {
    if (fs.existsSync(tmp)) fs.unlinkSync(tmp);
  }
}

/** Writes pretty-printed JSON atomically. */
export function writeJson(file: string, value: unknown, options: WriteOptions = {}): void {
  writeFileAtomic(file, JSON.stringify(value, null, 2) + '\n', options);
}

/** Appends one record to a `log.jsonl` (appends are not atomic; each line is written in one call). */
export function appendLog(dir: string, record: Record<string, unknown>): void {
  fs.mkdirSync(dir, { recursive: true });
  fs.appendFileSync(path.join(dir, 'log.jsonl'), JSON.stringify(record) + '\n');
}

function csvCell(v: string | number | boolean | null | undefined): string {
  if (v === null || v === undefined) return '';
  const s = typeof v === 'number' && !Number.isFinite(v) ? '' : String(v);
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

export type CsvRow = Record<string, string | number | boolean | null | undefined>;

/** RFC 4180 CSV; columns default to the keys in order of first appearance. */
export function toCsv(rows: readonly CsvRow[], columns?: readonly string[]): string {
  const cols = columns ?? [...new Set(rows.flatMap((r) => Object.keys(r)))];
  const lines = [cols.map((c) => csvCell(c)).join(',')];
  for (const r of rows) lines.push(cols.map((c) => csvCell(r[c])).join(','));
  return lines.join('\n') + '\n';
}

/**
 * The commit of a checkout, or 'unknown' (a run outside git, or git missing); '-dirty' when tracked files
 * changed, not counting the outputs runs and benchmarks write themselves (results/, bench/results/).
 */
export function gitSha(cwd = process.cwd()): string {
  try {
    const sha = execFileSync('git', ['rev-parse', 'HEAD'], { cwd, stdio: ['ignore', 'pipe', 'ignore'] })
      .toString()
      .trim();
    const outputs = [':(top,exclude)results', ':(top,exclude)bench/results'];
    const dirty = execFileSync('git', ['status', '--porcelain', '--untracked-files=no', '--', ':(top)', ...outputs], {
      cwd,
      stdio: ['ignore', 'pipe', 'ignore'],
    })
      .toString()
      .trim();
    return dirty === '' ? sha : `${sha}-dirty`;
  } catch {
    return 'unknown';
  }
}

function fail(file: string, field: string, expected: string, got: unknown): never {
  const shown = got === undefined ? 'nothing (missing)' : JSON.stringify(got);
  throw new Error(`${file}: ${field} must be ${expected}, got ${shown}.`);
}

function checkMetricValue(file: string, field: string, v: unknown): void {
  if (v === null || typeof v === 'string' || typeof v === 'boolean') return;
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) fail(file, field, 'a finite number', v);
    return;
  }
  if (Array.isArray(v)) {
    v.forEach((x, i) => checkMetricValue(file, `${field}[${i}]`, x));
    return;
  }
  if (typeof v === 'object') {
    for (const [k, x] of Object.entries(v as object)) checkMetricValue(file, `${field}.${k}`, x);
    return;
  }
  fail(file, field, 'a number, string, boolean, null, array or object', v);
}

/** Validates a parsed metrics.json; errors name the field (`metrics.json: metadata.seed must be an integer`). */
export function validateMetricsFile(value: unknown, file = 'metrics.json'): MetricsFile {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) fail(file, 'the top level', 'an object {metadata, metrics}', value);
  const top = value as Record<string, unknown>;
  const meta = top['metadata'];
  if (meta === null || typeof meta !== 'object' || Array.isArray(meta)) fail(file, 'metadata', 'an object', meta);
  const m = meta as Record<string, unknown>;
  for (const key of ['experiment', 'run', 'gitSha', 'backend'] as const) {
    if (typeof m[key] !== 'string' || m[key] === '') fail(file, `metadata.${key}`, 'a non-empty string', m[key]);
  }
  if (typeof m['date'] !== 'string' || Number.isNaN(Date.parse(m['date']))) fail(file, 'metadata.date', 'an ISO 8601 date string', m['date']);
  if (typeof m['seed'] !== 'number' || !Number.isInteger(m['seed'])) fail(file, 'metadata.seed', 'an integer', m['seed']);
  if (m['backendDetail'] !== undefined && typeof m['backendDetail'] !== 'string')
    fail(file, 'metadata.backendDetail', 'a string when present', m['backendDetail']);
  const metrics = top['metrics'];
  if (metrics === null || typeof metrics !== 'object' || Array.isArray(metrics)) fail(file, 'metrics', 'an object', metrics);
  checkMetricValue(file, 'metrics', metrics);
  return value as MetricsFile;
}

/** Reads and validates `<dir>/metrics.json`. */
export function readMetrics(dir: string): MetricsFile {
  const file = path.join(dir, 'metrics.json');
  if (!fs.existsSync(file)) throw new Error(`${file} not found: is ${dir} a run folder (results/<experiment>/<run>)?`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    throw new Error(`${file}: not valid JSON (${(e as Error).message}).`);
  }
  return validateMetricsFile(parsed, file);
}

/** Validates, then writes `<dir>/metrics.json` atomically. */
export function writeMetrics(dir: string, value: MetricsFile, options: WriteOptions = {}): void {
  const file = path.join(dir, 'metrics.json');
  // Validate the value itself: JSON.stringify would quietly turn NaN into null.
  validateMetricsFile(value, file);
  writeJson(file, value, options);
}

/** True when `dir` holds a run that started (config.json) but never finished (no metrics.json). */
export function isUnfinishedRun(dir: string): boolean {
  return fs.existsSync(path.join(dir, 'config.json')) && !fs.existsSync(path.join(dir, 'metrics.json'));
}

/**
 * Creates a run folder with its `config.json`; fails if the run already has results unless `overwrite`. A folder
 * left unfinished by a failed attempt (config.json, no metrics.json) holds nothing worth keeping: it is reused.
 */
export function createRun(root: string, experiment: string, run: string, config: unknown, options: WriteOptions = {}): string {
  const dir = runDir(root, experiment, run);
  if (!options.overwrite && fs.existsSync(path.join(dir, 'metrics.json'))) {
    throw new Error(`Run ${dir} already has results (metrics.json). Pass overwrite: true (--overwrite) or another run name.`);
  }
  writeJson(path.join(dir, 'config.json'), config, isUnfinishedRun(dir) ? { ...options, overwrite: true } : options);
  return dir;
}

/** Writes a CSV table `<dir>/<name>.csv` atomically. */
export function writeCsv(dir: string, name: string, rows: readonly CsvRow[], options: WriteOptions & { columns?: readonly string[] } = {}): void {
  writeFileAtomic(path.join(dir, `${name}.csv`), toCsv(rows, options.columns), options);
}
