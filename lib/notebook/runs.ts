/**
 * Experiments from notebooks (docs/architecture.md): one setup call (project root as working folder, backend, data
 * built if missing, scale from the SMOKE switch), then `ensureExperiment` runs or loads exactly the runs a
 * notebook's config names, under results/<scale>/<experiment>/<run>/ as `npm run experiment` does.
 *
 * A run is a pure function of its resolved config, so a run whose config equals a finished run of another
 * experiment (the MuCo k = 7 run is the baseline of four experiments) is copied from it instead of trained
 * again: its metrics.json says `reusedFrom`. Interrupted runs resume; finished runs are skipped.
 */
import { createHash } from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { BackendRequest, describeBackend, initBackend } from '../backend';
import { buildData } from '../data/build';
import { experimentRuns } from '../runner/catalog';
import { RunConfig, RunOverrides } from '../runner/config';
import { copyRun, findEquivalentRun, runExperiment, RunOutcome, runTokenizer, trainingData } from '../runner/run';
import { ScalePreset } from '../runner/scales';
import { log, logLevel, setLogLevel } from '../log';
import { latestCheckpoint, loadCheckpoint } from '../model/checkpoint';
import { Embedder } from '../model/embedder';
import { isSmoke } from './display';
import { runDir } from '../results';
import { Tokenizer } from '../tokenizer';
import { StepRecord, train } from '../train';

export interface NotebookSetupOptions {
  /** The scale to run; null: `smoke` under MUCO_SMOKE=1 (the notebook check), else `full`. */
  scale: ScalePreset | null;
  /** Project root: becomes the working folder, so `data/` and `results/` resolve as for the CLI. */
  root: string;
  /** The built data folder the run configs name (relative to `root`). */
  dataDir: string;
  backend: BackendRequest | null;
  /**
   * The results root the scale's folder sits under (relative to `root`); null: `results`. `results/grid` with
   * scale `quick` reads the committed three-seed grid. $MUCO_RESULTS_DIR (the headless check's own folder) wins.
   */
  results: string | null;
}

export const NOTEBOOK_SETUP_DEFAULTS: Readonly<NotebookSetupOptions> = Object.freeze({
  scale: null,
  root: path.resolve(__dirname, '..', '..'),
  dataDir: 'data',
  backend: null,
  results: null,
});

export interface NotebookContext {
  root: string;
  scale: ScalePreset;
  /** <results>/<scale>, relative to the root (under $MUCO_RESULTS_DIR when set: the headless check's own folder). */
  resultsRoot: string;
  backend: string;
  /** Whether this call built the data (≈45 s). */
  builtData: boolean;
}

/** What a run needs of the built data: training records, the image cache and both mini benchmarks. */
export function hasExperimentData(dir: string): boolean {
  return ['m3t/manifest.json', 'cache/index.json', 'mini-mmeb/manifest.json', 'mini-mbeir'].every((f) => fs.existsSync(path.join(dir, f)));
}

/**
 * Prepare a notebook: change to the project root, start the backend, build the data if it is missing
 * (idempotent), choose the scale. Call once, after the imports.
 */
export async function setupNotebook(options: Partial<NotebookSetupOptions> = {}): Promise<NotebookContext> {
  for (const key of Object.keys(options)) {
    if (!(key in NOTEBOOK_SETUP_DEFAULTS))
      throw new Error(`setupNotebook: unknown option "${key}"; expected one of ${Object.keys(NOTEBOOK_SETUP_DEFAULTS).join(', ')}.`);
  }
  const o = { ...NOTEBOOK_SETUP_DEFAULTS, ...options };
  if (!fs.existsSync(path.join(o.root, 'package.json'))) throw new Error(`setupNotebook: ${o.root} is not the project root (no package.json); pass root.`);
  process.chdir(o.root);
  const scale = o.scale ?? (isSmoke() ? 'smoke' : 'full');
  if (process.env['MUCO_RESULTS_DIR'] === undefined && o.results !== null && !fs.existsSync(path.join(o.results, scale))) {
    throw new Error(`setupNotebook: ${path.join(o.results, scale)} does not exist; results: null reads results/${scale}.`);
  }
  const report = await initBackend(o.backend === null ? {} : { backend: o.backend });
  let builtData = false;
  if (!hasExperimentData(o.dataDir)) {
    log.info(`${path.resolve(o.dataDir)} is not built; building it now (≈45 s, the same as \`npm run data\`).`);
    await buildData({ root: o.root, outDir: o.dataDir });
    builtData = true;
  }
  // The headless notebook check (scripts/notebooks.ts) trains into a fresh folder of its own, so it neither
  // meets a user's earlier smoke runs (made with older settings) nor leaves runs behind in results/.
  const results = process.env['MUCO_RESULTS_DIR'] ?? o.results ?? 'results';
  return { root: o.root, scale, resultsRoot: path.join(results, scale), backend: describeBackend(report), builtData };
}

export interface RunSelection {
  experiment: string;
  /** Runs to run or load (null: all of the experiment's runs). */
  only?: readonly string[] | null;
  /** On the smoke scale, these runs instead of `only` (the notebook check runs the fewest it needs). */
  smokeOnly?: readonly string[] | null;
  /** `key.path=value` tweaks applied to every run (appended to the run names). */
  sets?: readonly string[];
  extra?: RunOverrides;
  /** Copy a finished run with the same config from another experiment instead of training (default true). */
  reuse?: boolean;
  /** Show every log line of training and evaluation (default false: a line per logged step and per run). */
  verbose?: boolean;
}

export interface RunStatus {
  run: string;
  status: 'trained' | 'skipped' | 'reused';
  /** `<experiment>/<run>` a reused run was copied from. */
  from: string | null;
  seconds: number;
}

export interface ExperimentResult {
  experiment: string;
  scale: ScalePreset;
  /** results/<scale>/<experiment> */
  dir: string;
  /** Run names, in the experiment's order. */
  runs: string[];
  configs: RunConfig[];
  status: RunStatus[];
}

/** The configs a selection resolves to at the context's scale. */
export function selectedRuns(ctx: Pick<NotebookContext, 'scale'>, sel: RunSelection): RunConfig[] {
  const only = ctx.scale === 'smoke' && sel.smokeOnly !== undefined ? sel.smokeOnly : (sel.only ?? null);
  return experimentRuns(sel.experiment, ctx.scale, sel.sets ?? [], only, sel.extra);
}

export { copyRun, findEquivalentRun };

/**
 * runExperiment with the evaluation's per-data-set lines silenced (unless verbose): the notebook sees one line
 * per logged training step and one when the run ends.
 */
async function runQuietly(cfg: RunConfig, resultsRoot: string, verbose: boolean): Promise<RunOutcome> {
  if (verbose) return runExperiment(cfg, { resultsRoot, progress: 'lines' });
  const level = logLevel();
  const say = (message: string): void => {
    setLogLevel(level);
    log.info(message);
    setLogLevel('warn');
  };
  const t0 = Date.now();
  setLogLevel('warn');
  try {
    const hooks = {
      onStep: (r: StepRecord): void =>
        void (
          (r.step + 1) % cfg.train.logEvery === 0 &&
          say(`${cfg.experiment}/${cfg.run}: step ${r.step + 1}/${cfg.train.steps} · loss ${r.loss.toFixed(3)} · ${r.pairsPerSec.toFixed(1)} pairs/s`)
        ),
    };
    const out = await runExperiment(cfg, { resultsRoot, progress: 'none', hooks });
    say(
      `${cfg.experiment}/${cfg.run}: ${out.skipped ? 'finished earlier, loaded' : `trained and evaluated in ${((Date.now() - t0) / 1000).toFixed(0)} s`} (${out.dir})`,
    );
    return out;
  } finally {
    setLogLevel(level);
  }
}

/** Run, resume, skip or reuse every selected run, in order. */
export async function ensureExperiment(ctx: NotebookContext, sel: RunSelection): Promise<ExperimentResult> {
  const configs = selectedRuns(ctx, sel);
  const status: RunStatus[] = [];
  for (const cfg of configs) {
    const t0 = Date.now();
    const dir = runDir(ctx.resultsRoot, cfg.experiment, cfg.run);
    const src = sel.reuse === false || fs.existsSync(dir) ? null : findEquivalentRun(cfg, ctx.resultsRoot);
    if (src !== null) {
      const from = copyRun(src, cfg, ctx.resultsRoot);
      log.info(`${cfg.experiment}/${cfg.run}: same config as ${from}, copied (delete ${dir} and pass reuse: false to train it anew)`);
      status.push({ run: cfg.run, status: 'reused', from, seconds: (Date.now() - t0) / 1000 });
      continue;
    }
    const out = await runQuietly(cfg, ctx.resultsRoot, sel.verbose === true);
    status.push({ run: cfg.run, status: out.skipped ? 'skipped' : 'trained', from: null, seconds: (Date.now() - t0) / 1000 });
  }
  return { experiment: sel.experiment, scale: ctx.scale, dir: path.join(ctx.resultsRoot, sel.experiment), runs: configs.map((c) => c.run), configs, status };
}

/** The newest complete checkpoint of a run (lib/model/checkpoint: the one place that finds a run's weights). */
export { latestCheckpoint };

/**
 * Copy the final weights of a finished run (its latest checkpoint's model.json, weights.bin, tokenizer.json;
 * not the optimizer state) to `<run>/model/`, which is committed where checkpoints are git-ignored
 * (`npm run reproduce` does it for the core runs: ≈4 MB each at the small preset). Returns the folder.
 */
export function exportRunModel(dir: string): string {
  const ckpt = latestCheckpoint(dir);
  if (ckpt === null) throw new Error(`${dir} has no checkpoint to export (train it first, with train.checkpointEvery > 0).`);
  const out = path.join(dir, 'model');
  fs.mkdirSync(out, { recursive: true });
  for (const f of ['model.json', 'weights.bin', 'tokenizer.json']) fs.copyFileSync(path.join(ckpt, f), path.join(out, f));
  return out;
}

/**
 * The trained model of a run: its latest checkpoint, else its exported final weights (`<run>/model/`), else
 * (checkpoints are git-ignored) the same training again into a temporary folder (seeded: the same model;
 * resumable).
 */
export async function loadRunModel(cfg: RunConfig, resultsRoot: string): Promise<{ model: Embedder; source: string }> {
  const dir = runDir(resultsRoot, cfg.experiment, cfg.run);
  const ckpt = latestCheckpoint(dir);
  if (ckpt !== null) return { model: (await loadCheckpoint(ckpt)).embedder, source: ckpt };
  const committed = path.join(dir, 'model');
  if (fs.existsSync(path.join(committed, 'model.json'))) return { model: (await loadCheckpoint(committed)).embedder, source: committed };
  // Keyed by the config itself, so a changed config never resumes another one's checkpoint.
  const key = createHash('sha256').update(JSON.stringify(cfg)).digest('hex').slice(0, 12);
  const scratch = path.join(os.tmpdir(), 'muco-retrain', `${cfg.experiment}-${cfg.run}-${key}`);
  log.info(`${dir} has no checkpoint (they are git-ignored); training the same config again in ${scratch} (${cfg.train.steps} steps).`);
  const { records, data } = await trainingData(cfg);
  const tokFile = path.join(dir, 'tokenizer.json');
  const tokenizer = fs.existsSync(tokFile) ? Tokenizer.load(tokFile) : runTokenizer(records, cfg.data.maxBpeTokens);
  const model = Embedder.create({ ...cfg.model, vocabSize: tokenizer.vocabSize }, tokenizer, cfg.train.seed);
  fs.mkdirSync(scratch, { recursive: true });
  await train(model, data, cfg.train, { runDir: scratch, progress: 'none' });
  return { model, source: scratch };
}
