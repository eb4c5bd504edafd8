/**
 * An experiment run is a pure function of its resolved config (docs/architecture.md): `RunConfig` gathers every knob
 * (model, training, data, evaluation), experiments in experiments/ hold overrides only, and the resolved config
 * is saved as `config.json` next to the results.
 */
import { Overrides, resolveConfig } from '../config';
import { modelConfig, ModelConfig, ModelPreset } from '../model/config';
import { trainConfig, TrainConfig } from '../train';

export type Benchmark = 'mini-mmeb' | 'mini-mbeir';

export interface DataConfig {
  /** The built data folder (`npm run data`). */
  dir: string;
  /** mini-M3T split to train on. */
  split: string;
  /** Use at most this many training records (null = all). */
  maxRecords: number | null;
  /** Compact vocabulary size cap (BPE tokens from the training texts). */
  maxBpeTokens: number;
  /** Keep only these M3T turn kinds (`cls`, `vqa_global1`, …; paper Table 4); null = all. */
  kinds: string[] | null;
}

export interface EvalConfig {
  benchmarks: Benchmark[];
  /** Queries per data set / task (null = all). Never compare limited runs with full ones. */
  limit: number | null;
  /** M-BEIR pools. */
  pools: ('local' | 'global')[];
  /** Validation records for the in-batch retrieval check used to choose settings (never the test split). */
  validationRecords: number;
}

/**
 * Where a run's weights start (docs/base-model.md): `base`, the committed generatively pretrained model of
 * the run's preset (`results/base/<preset>/model`, or `dir`); `scratch`, a fresh seeded initialisation (the
 * ablation that shows what pretraining buys). A run records the base's folder and the SHA-256 of its weights.
 */
export interface InitConfig {
  from: 'base' | 'scratch';
  /** The base model folder; null: `results/base/<preset>/model`. */
  dir: string | null;
  /** SHA-256 of the base's weights.bin: filled in when the run starts; when given, the base must match it. */
  sha256: string | null;
}

export const DEFAULT_INIT: Readonly<InitConfig> = Object.freeze({ from: 'base', dir: null, sha256: null });

export interface RunSpec {
  preset: ModelPreset;
  model: Overrides<ModelConfig>;
  train: Overrides<TrainConfig>;
  data: DataConfig;
  eval: EvalConfig;
}

export interface RunConfig {
  experiment: string;
  run: string;
  preset: ModelPreset;
  init: InitConfig;
  model: ModelConfig;
  train: TrainConfig;
  data: DataConfig;
  eval: EvalConfig;
}

export const DEFAULT_DATA: Readonly<DataConfig> = Object.freeze({ dir: 'data', split: 'train', maxRecords: null, maxBpeTokens: 6000, kinds: null });
export const DEFAULT_EVAL: Readonly<EvalConfig> = Object.freeze({
  benchmarks: ['mini-mmeb', 'mini-mbeir'] as Benchmark[],
  limit: 200,
  pools: ['local', 'global'] as ('local' | 'global')[],
  validationRecords: 256,
});

/** Overrides a run may carry (every part optional). */
export interface RunOverrides {
  preset?: ModelPreset;
  init?: Partial<InitConfig>;
  model?: Overrides<ModelConfig>;
  train?: Overrides<TrainConfig>;
  data?: Partial<DataConfig>;
  eval?: Partial<EvalConfig>;
}

const RUN_KEYS = ['preset', 'init', 'model', 'train', 'data', 'eval'];

/** Merge override layers (later wins, objects merged key by key). */
export function mergeOverrides(...layers: (RunOverrides | undefined)[]): RunOverrides {
  const out: Record<string, unknown> = {};
  for (const layer of layers) {
    if (layer === undefined) continue;
    for (const [key, value] of Object.entries(layer)) {
      if (!RUN_KEYS.includes(key)) throw new Error(`Run override '${key}' is not one of ${RUN_KEYS.join(', ')}.`);
      out[key] = typeof value === 'object' && value !== null && !Array.isArray(value) ? deepMerge((out[key] ?? {}) as object, value) : value;
    }
  }
  return out as RunOverrides;
}

function deepMerge(a: object, b: object): object {
  const out: Record<string, unknown> = { ...(a as Record<string, unknown>) };
  for (const [k, v] of Object.entries(b)) {
    const prev = out[k];
    out[k] = typeof v === 'object' && v !== null && !Array.isArray(v) && typeof prev === 'object' && prev !== null ? deepMerge(prev, v) : v;
  }
  return out;
}

/** Resolve a run's overrides onto the defaults (unknown keys and wrong types are errors naming the key). */
export function resolveRun(experiment: string, run: string, overrides: RunOverrides): RunConfig {
  if (!/^[A-Za-z0-9._-]+$/.test(experiment) || !/^[A-Za-z0-9._=-]+$/.test(run)) {
    throw new Error(`Experiment and run names may hold letters, digits and . _ - = only; got '${experiment}' / '${run}'.`);
  }
  const preset = overrides.preset ?? 'small';
  const init = resolveConfig(DEFAULT_INIT as InitConfig, overrides.init, 'init');
  if (init.from !== 'base' && init.from !== 'scratch') throw new Error(`init.from must be 'base' or 'scratch', got '${String(init.from)}'.`);
  return {
    experiment,
    run,
    preset,
    init,
    model: modelConfig(preset, overrides.model),
    train: trainConfig(overrides.train),
    data: resolveConfig(DEFAULT_DATA as DataConfig, overrides.data, 'data'),
    eval: resolveConfig(DEFAULT_EVAL as EvalConfig, overrides.eval, 'eval'),
  };
}
