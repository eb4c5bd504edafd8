/**
 * `npm run data`: build mini-M3T and the mini benchmarks into `data/` from the installed npm packages.
 *
 * Steps, each with a fingerprint of its inputs (package versions, source folders, config, upstream
 * fingerprints) and the list of files it wrote (with sizes), kept in `data/build-state.json`:
 *   cache       image cache (uint8 pixels per size + index with colour facts)      data/cache/
 *   records     mini-M3T turn and pair records per split (JSONL) + manifest         data/m3t/
 *   mini-mmeb   MMEB-format data sets + manifest + PNG images                       data/mini-mmeb/
 *   mini-mbeir  M-BEIR-format queries, pools, qrels, instructions + PNG images      data/mini-mbeir/
 *   card        CARD.md + card.json                                                 data/
 * A step's fingerprint also covers the source code of the modules that produce its output, so editing a
 * template or the colour heuristic rebuilds what it affects. A step runs when its fingerprint changed or
 * one of its files is missing or has another size; otherwise it is skipped, and when every step is skipped
 * the build says so and does nothing. Every step is deterministic, so re-running one step never
 * invalidates the next.
 */
import { createHash } from 'crypto';
import { existsSync, readFileSync, rmSync, statSync } from 'fs';
import { isAbsolute, join, relative, resolve } from 'path';
import { IMAGE_DEFAULTS } from '../image';
import { log } from '../log';
import { benchPool } from './bench-pool';
import { buildImageCache, cacheFiles, CacheIndex, ImageCache, readCacheIndex } from './cache';
import { sourceInfo, writeCard } from './card';
import { Concept, SourcePaths } from './concepts';
import { describeImage } from './describe';
import { readJsonFile, writeFileAtomic, writeJsonl } from './files';
import { buildMiniMbeir, MINI_MBEIR_DEFAULTS, MiniMbeirConfig, MiniMbeirTaskSummary } from './mini-mbeir';
import { buildMiniMmeb, MINI_MMEB_DEFAULTS, MiniMmebConfig, MiniMmebManifestEntry } from './mini-mmeb';
import { buildRecords } from './records';
import { defaultSourcePaths, loadConcepts } from './sources';
import { SPLIT_DEFAULTS, SplitConfig, SPLITS } from './splits';
import { RecordsSummary, summarizeRecords } from './summary';

/** Bump when a builder's output changes for the same inputs, so old builds are redone. */
export const BUILD_VERSION = 1;

export interface DataBuildConfig {
  /** Output folder, relative to `root` unless absolute. */
  outDir: string;
  /** Project root: image paths in records are relative to it. Default: the working directory. */
  root: string;
  /** Model input size; the cache always also holds `extraCacheSizes`. */
  imageSize: number;
  extraCacheSizes: number[];
  /** Seed of turn phrasings, pairs and benchmark sampling. */
  seed: number;
  /** Keep at most this many emoji concepts and countries (tests, quick looks); null: everything. */
  limit: number | null;
  splits: SplitConfig;
  miniMmeb: MiniMmebConfig;
  miniMbeir: MiniMbeirConfig;
  /** Images decoded at once. */
  concurrency: number;
  /** Override package folders (tests point them at fixtures). */
  sources: Partial<SourcePaths>;
  /** Rebuild every step even when up to date. */
  force: boolean;
}

export const DATA_BUILD_DEFAULTS: Readonly<DataBuildConfig> = Object.freeze({
  outDir: 'data',
  root: '.',
  imageSize: IMAGE_DEFAULTS.size,
  extraCacheSizes: [64],
  seed: 1,
  limit: null,
  splits: SPLIT_DEFAULTS,
  miniMmeb: MINI_MMEB_DEFAULTS,
  miniMbeir: MINI_MBEIR_DEFAULTS,
  concurrency: 4,
  sources: {},
  force: false,
});

/** Merge overrides onto the defaults; an unknown key is an error naming it. */
export function resolveBuildConfig(overrides: Partial<DataBuildConfig> = {}): DataBuildConfig {
  for (const key of Object.keys(overrides)) {
    if (!(key in DATA_BUILD_DEFAULTS)) {
      throw new Error(`unknown data build option "${key}"; expected one of ${Object.keys(DATA_BUILD_DEFAULTS).join(', ')}.`);
    }
  }
  const cfg = { ...DATA_BUILD_DEFAULTS, ...overrides };
  cfg.root = resolve(cfg.root);
  cfg.outDir = isAbsolute(cfg.outDir) ? cfg.outDir : resolve(cfg.root, cfg.outDir);
  if (cfg.limit !== null && !(Number.isInteger(cfg.limit) && cfg.limit > 0)) {
    throw new Error(`limit must be a positive integer or null, got ${cfg.limit}.`);
  }
  return cfg;
}

const STEPS = ['cache', 'records', 'mini-mmeb', 'mini-mbeir', 'card'] as const;
type StepName = (typeof STEPS)[number];

/** The folder each step owns under the output folder: emptied before the step runs, so no stale file stays. */
const STEP_DIRS: Readonly<Partial<Record<StepName, string>>> = { cache: 'cache', records: 'm3t', 'mini-mmeb': 'mini-mmeb', 'mini-mbeir': 'mini-mbeir' };

interface StepState {
  fingerprint: string;
  /** Files written, relative to the output folder, with their sizes. */
  files: Record<string, number>;
  seconds: number;
  summary?: unknown;
}

interface BuildState {
  version: number;
  steps: Partial<Record<StepName, StepState>>;
}

function hash(...parts: unknown[]): string {
  return createHash('sha256').update(JSON.stringify(parts)).digest('hex').slice(0, 16);
}

function readState(outDir: string): BuildState {
  const file = join(outDir, 'build-state.json');
  if (!existsSync(file)) return { version: BUILD_VERSION, steps: {} };
  try {
    return readJsonFile<BuildState>(file);
  } catch {
    log.warn(`${file} is unreadable; rebuilding everything.`);
    return { version: BUILD_VERSION, steps: {} };
  }
}

/** The reason a step must run, or undefined when it is up to date. */
function staleReason(outDir: string, step: StepState | undefined, fingerprint: string): string | undefined {
  if (step === undefined) return 'never built';
  if (step.fingerprint !== fingerprint) return 'inputs changed';
  for (const [file, size] of Object.entries(step.files)) {
    const abs = join(outDir, file);
    if (!existsSync(abs)) return `${file} is missing`;
    if (statSync(abs).size !== size) return `${file} changed size`;
  }
  return undefined;
}

function fileSizes(outDir: string, files: readonly string[]): Record<string, number> {
  return Object.fromEntries(files.map((f) => [f, statSync(join(outDir, f)).size]));
}

/** The modules (relative to this folder) whose code shapes each step's output. */
const STEP_CODE: Readonly<Record<StepName, readonly string[]>> = {
  cache: ['../image', 'cache', 'colour', 'sources', 'emoji', 'flags', 'concepts'],
  records: ['records', 'turns', 'templates', 'describe', 'gap', 'composed', 'splits', 'summary'],
  'mini-mmeb': ['mini-mmeb', 'bench-pool', 'bench-images'],
  'mini-mbeir': ['mini-mbeir', 'bench-pool', 'bench-images'],
  card: ['card'],
};

/** Hash of the modules' source (the .ts under tsx, the compiled .js under dist/). */
function codeHash(modules: readonly string[]): string {
  return hash(modules.map((m) => {
    const file = ['.ts', '.js'].map((ext) => join(__dirname, m + ext)).find((f) => existsSync(f));
    return file === undefined ? `missing:${m}` : readFileSync(file, 'utf8');
  }));
}

/** Fingerprints of every step, chained: a step's includes its upstream steps'. */
function fingerprints(cfg: DataBuildConfig, paths: SourcePaths): Record<StepName, string> {
  const versions = sourceInfo(paths).map((s) => `${s.packageName}@${s.version}`);
  const sources = hash(BUILD_VERSION, versions, Object.values(paths).map((p) => relative(cfg.root, p)), cfg.limit, cfg.seed);
  const code = (step: StepName): string => codeHash(STEP_CODE[step]);
  const cache = hash(sources, cacheSizes(cfg), code('cache'));
  const records = hash(cache, cfg.splits, cfg.seed, code('records'));
  const mmeb = hash(records, cfg.miniMmeb, code('mini-mmeb'));
  const mbeir = hash(records, cfg.miniMbeir, code('mini-mbeir'));
  return { cache, records, 'mini-mmeb': mmeb, 'mini-mbeir': mbeir, card: hash(cache, records, mmeb, mbeir, code('card')) };
}

function cacheSizes(cfg: DataBuildConfig): number[] {
  return [...new Set([cfg.imageSize, ...cfg.extraCacheSizes, 32, 64])].sort((a, b) => a - b);
}

/** Lazily computed inputs shared by the steps. */
class Inputs {
  private conceptList?: Concept[];
  private index?: CacheIndex;
  constructor(private readonly cfg: DataBuildConfig, private readonly paths: SourcePaths) {}

  concepts(): Concept[] {
    if (this.conceptList === undefined) {
      const t = Date.now();
      this.conceptList = loadConcepts(this.paths, this.cfg.root, { limit: this.cfg.limit, seed: this.cfg.seed });
      const images = this.conceptList.reduce((s, c) => s + c.images.length, 0);
      log.info(`  sources: ${this.conceptList.length} concepts, ${images} images (${((Date.now() - t) / 1000).toFixed(1)} s)`);
    }
    return this.conceptList;
  }

  setIndex(index: CacheIndex): void {
    this.index = index;
  }

  cacheIndex(): CacheIndex {
    if (this.index === undefined) this.index = readCacheIndex(join(this.cfg.outDir, 'cache'));
    return this.index;
  }

  descriptions(): Map<string, string> {
    const entries = new Map(this.cacheIndex().entries.map((e) => [e.id, e]));
    const out = new Map<string, string>();
    for (const c of this.concepts()) for (const i of c.images) {
      const e = entries.get(i.id);
      if (e !== undefined) out.set(i.id, describeImage(c, i, e.colours));
    }
    return out;
  }
}

async function runCache(cfg: DataBuildConfig, inputs: Inputs): Promise<{ files: string[]; summary: unknown }> {
  const dir = join(cfg.outDir, 'cache');
  const images = inputs.concepts().flatMap((c) => c.images);
  const index = await buildImageCache(images, { dir, root: cfg.root, sizes: cacheSizes(cfg), concurrency: cfg.concurrency });
  inputs.setIndex(index);
  return { files: cacheFiles(dir, index.sizes).map((f) => relative(cfg.outDir, f)), summary: { images: index.count, sizes: index.sizes } };
}

function runRecords(cfg: DataBuildConfig, inputs: Inputs): { files: string[]; summary: RecordsSummary } {
  const entries = new Map(inputs.cacheIndex().entries.map((e) => [e.id, e]));
  const built = buildRecords(inputs.concepts(), entries, cfg.splits, cfg.seed);
  const files: string[] = [];
  for (const split of SPLITS) {
    writeJsonl(join(cfg.outDir, 'm3t', `${split}.jsonl`), built.turns.filter((r) => r.split === split));
    writeJsonl(join(cfg.outDir, 'm3t', `${split}-pairs.jsonl`), built.pairs.filter((r) => r.split === split));
    files.push(`m3t/${split}.jsonl`, `m3t/${split}-pairs.jsonl`);
  }
  const summary = summarizeRecords(built.turns, built.pairs);
  const manifest = {
    dataset: 'mini-M3T',
    // Image paths in the records are relative to the project root; this is that root, relative to here.
    imageRoot: relative(join(cfg.outDir, 'm3t'), cfg.root) || '.',
    cache: relative(join(cfg.outDir, 'm3t'), join(cfg.outDir, 'cache')),
    splits: Object.fromEntries(SPLITS.map((s) => [s, { turns: `${s}.jsonl`, pairs: `${s}-pairs.jsonl`, images: summary.images[s], pairRecords: summary.pairRecords[s] }])),
  };
  writeFileAtomic(join(cfg.outDir, 'm3t', 'manifest.json'), JSON.stringify(manifest, null, 1) + '\n');
  files.push('m3t/manifest.json');
  return { files, summary };
}

async function runBenchmark(cfg: DataBuildConfig, inputs: Inputs, which: 'mini-mmeb' | 'mini-mbeir'): Promise<{ files: string[]; summary: unknown }> {
  const colours = new Map(inputs.cacheIndex().entries.map((e) => [e.id, e.colours]));
  const pool = benchPool(inputs.concepts(), cfg.splits, inputs.descriptions(), colours, cfg.seed);
  const cacheDir = join(cfg.outDir, 'cache');
  const full = ImageCache.open(cacheDir, 64);
  const tile = ImageCache.open(cacheDir, 32);
  const dir = join(cfg.outDir, which);
  if (which === 'mini-mmeb') {
    const { entries, files } = await buildMiniMmeb(dir, pool, full, tile, cfg.miniMmeb);
    return { files: files.map((f) => `${which}/${f}`), summary: entries };
  }
  const { tasks, files } = await buildMiniMbeir(dir, pool, full, tile, cfg.miniMbeir);
  return { files: files.map((f) => `${which}/${f}`), summary: tasks };
}

export interface BuildResult {
  outDir: string;
  /** Steps that ran (empty when everything was up to date). */
  ran: StepName[];
  seconds: number;
}

/**
 * Build (or bring up to date) everything under `cfg.outDir`.
 * @throws on an unreadable source image, naming its file; the state of finished steps is kept.
 */
export async function buildData(overrides: Partial<DataBuildConfig> = {}): Promise<BuildResult> {
  const cfg = resolveBuildConfig(overrides);
  const paths = { ...defaultSourcePaths(cfg.root), ...cfg.sources };
  const fps = fingerprints(cfg, paths);
  const state = readState(cfg.outDir);
  if (state.version !== BUILD_VERSION) state.steps = {};
  const started = Date.now();
  const plan = STEPS.map((name) => ({ name, reason: cfg.force ? 'forced' : staleReason(cfg.outDir, state.steps[name], fps[name]) }));
  if (plan.every((p) => p.reason === undefined)) {
    log.info(`${cfg.outDir} is up to date (${STEPS.length} steps, fingerprint ${fps.card}); nothing to do.`);
    return { outDir: cfg.outDir, ran: [], seconds: 0 };
  }
  const inputs = new Inputs(cfg, paths);
  const ran: StepName[] = [];
  for (const { name, reason } of plan) {
    if (reason === undefined) {
      log.info(`${name}: up to date`);
      continue;
    }
    log.info(`${name}: building (${reason})`);
    const t = Date.now();
    const owned = STEP_DIRS[name];
    if (owned !== undefined) rmSync(join(cfg.outDir, owned), { recursive: true, force: true });
    const out = await runStep(name, cfg, inputs, state, paths);
    const seconds = Math.round((Date.now() - t) / 100) / 10;
    state.steps[name] = { fingerprint: fps[name], files: fileSizes(cfg.outDir, out.files), seconds, summary: out.summary };
    writeFileAtomic(join(cfg.outDir, 'build-state.json'), JSON.stringify(state) + '\n');
    log.info(`${name}: done in ${seconds} s (${out.files.length} files)`);
    ran.push(name);
  }
  const seconds = Math.round((Date.now() - started) / 100) / 10;
  log.info(`data built in ${seconds} s: ${ran.join(', ')} (${cfg.outDir})`);
  return { outDir: cfg.outDir, ran, seconds };
}

async function runStep(name: StepName, cfg: DataBuildConfig, inputs: Inputs, state: BuildState, paths: SourcePaths): Promise<{ files: string[]; summary?: unknown }> {
  switch (name) {
    case 'cache':
      return runCache(cfg, inputs);
    case 'records':
      return runRecords(cfg, inputs);
    case 'mini-mmeb':
    case 'mini-mbeir':
      return runBenchmark(cfg, inputs, name);
    case 'card': {
      const files = writeCard(cfg.outDir, {
        sources: sourceInfo(paths),
        records: state.steps.records?.summary as RecordsSummary,
        mmeb: (state.steps['mini-mmeb']?.summary ?? []) as MiniMmebManifestEntry[],
        mbeir: (state.steps['mini-mbeir']?.summary ?? []) as MiniMbeirTaskSummary[],
        splits: cfg.splits,
        imageSizes: cacheSizes(cfg),
        limit: cfg.limit,
        buildSeconds: Object.fromEntries(STEPS.filter((s) => s !== 'card').map((s) => [s, state.steps[s]?.seconds ?? 0])),
      });
      return { files };
    }
  }
}
