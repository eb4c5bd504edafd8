/**
 * The experiments: each is a list of runs, each run a set of overrides on top of a scale preset
 * (./scales.ts). `npm run experiment -- <name>` runs one; notebooks run them through `experimentRuns`;
 * grids are lists of runs.
 */
import { parseAssignments } from '../config';
import { deriveSeed } from '../random';
import { mergeOverrides, resolveRun, RunConfig, RunOverrides } from './config';
import { SCALES, ScalePreset } from './scales';

export interface ExperimentDef {
  description: string;
  /** The paper table it mirrors. */
  paper: string;
  /**
   * Run name → overrides, applied on top of the scale preset; `imagesFactor` multiplies imagesPerStep and
   * `stepsFactor` the steps, after `--set` tweaks, so the runs stay matched: `--set train.steps=100` on `longer`
   * trains its runs for 400 steps (its run names carry the tweak as given).
   */
  runs: Record<string, RunOverrides & { imagesFactor?: number; stepsFactor?: number }>;
}

/**
 * Single-turn runs draw one turn kind per step (`batchKinds: 'same'`): with mixed kinds a query's wording picks
 * its target out of the batch and the model never needs the image (README "Making the models learn"). MuCo
 * dialogues hold every kind of each image already, so their queries always meet same-kind negatives.
 */
const single = { train: { packing: 'single' as const, turns: 1, batchKinds: 'same' as const } };
const muco = (k: number): RunOverrides => ({ train: { packing: 'multi', turns: k } });
/** 2× the steps and 2× the images per step of the scale: 4× the images seen. */
const longer = { stepsFactor: 2, imagesFactor: 2 };

export const EXPERIMENTS: Record<string, ExperimentDef> = {
  core: {
    description: 'Single-turn vs MuCo (k = 7) at the same images per step, and single-turn at the same effective batch (7x images).',
    paper: 'Table 5 (1 turn x 1024 vs 7 turns x 1024 vs 1 turn x 7168)',
    runs: {
      'single-turn': single,
      'muco-k7': muco(7),
      'single-turn-7x-images': { ...single, imagesFactor: 7 },
    },
  },
  turns: {
    description: 'Number of turns at fixed images per step, and single-turn at the matched effective batch.',
    paper: 'Table 5',
    runs: {
      'turns-1': single,
      'turns-2': muco(2),
      'turns-4': muco(4),
      'turns-7': muco(7),
      'single-2x-images': { ...single, imagesFactor: 2 },
      'single-4x-images': { ...single, imagesFactor: 4 },
    },
  },
  'logit-mask': {
    description:
      "MuCo pretraining with and without masking the same-image targets out of the negatives; fine-tuning (the reconstruction objective) with and without masking each target's self-augmented twin.",
    paper: 'Table 7 (pretraining and fine-tuning masks)',
    runs: {
      'mask-on': muco(7),
      'mask-off': { train: { packing: 'multi', turns: 7, loss: { logitMask: false } } },
      'ft-mask-on': { train: { loss: { objective: 'finetune' } } },
      'ft-mask-off': { train: { loss: { objective: 'finetune', maskTwin: false } } },
    },
  },
  compounded: {
    description:
      'Compounded supervision: causal attention across turns vs isolated turns (each turn sees only the system prompt, the image and itself), and isolated target turns only.',
    paper: 'Table 6',
    runs: {
      causal: muco(7),
      isolated: { train: { packing: 'multi', turns: 7, maskKind: 'isolated' } },
      // Not in the paper: queries compound, targets do not (each target embeds as if alone, as candidates do at
      // test time). Causal targets let a target read the same image's earlier targets (README "Making the
      // models learn": MuCo's classification scores fall to chance with them at our scale).
      'isolated-targets': { train: { packing: 'multi', turns: 7, targetMaskKind: 'isolated' } },
    },
  },
  composition: {
    description: 'Data composition: turn kinds removed cumulatively (all → −CLS → −global VQA → −local VQA → retrieval only).',
    paper: 'Table 4',
    runs: {
      all: muco(7),
      'minus-cls': { ...muco(7), data: { kinds: ['vqa_global1', 'vqa_global2', 'vqa_local1', 'vqa_local2', 'vqa_creative', 'retrieval'] } },
      'minus-global-vqa': { ...muco(7), data: { kinds: ['vqa_local1', 'vqa_local2', 'vqa_creative', 'retrieval'] } },
      'minus-local-vqa': { ...muco(7), data: { kinds: ['vqa_creative', 'retrieval'] } },
      'retrieval-only': { ...muco(7), data: { kinds: ['retrieval'] } },
    },
  },
  longer: {
    description:
      'The core comparison and retrieval-only training at 2x the steps and 2x the images per step (4x the images seen): do the models start to read the image? (validation: MRR with another image, image only).',
    paper: 'none: a diagnostic of our scale (retrieval-only as in Table 4)',
    runs: {
      'single-turn': { ...single, ...longer },
      'muco-k7': { ...muco(7), ...longer },
      'retrieval-only': { ...muco(7), data: { kinds: ['retrieval'] }, ...longer },
    },
  },
};

/**
 * The catalogue name of a run: `muco-k7_train.steps=200` (a run tweaked with `--set` or a notebook's `sets`)
 * is `muco-k7`. Catalogue names never hold '_', the tweak suffix always starts with one, so cells that look
 * runs up by their catalogue names find tweaked runs too.
 */
export function stockRun(run: string): string {
  return (run.split('_')[0] as string).replace(SEED_SUFFIX, '');
}

/** A run of another seed is named `<run>-seed<s>` (before any tweak suffix); the default seed keeps the plain name. */
const SEED_SUFFIX = /-seed\d+$/;

/** The run a seed variant belongs to: `muco-k7-seed2_train.steps=200` → `muco-k7_train.steps=200`. */
export function runWithoutSeed(run: string): string {
  const [head, ...tweak] = run.split('_');
  return [(head as string).replace(SEED_SUFFIX, ''), ...tweak].join('_');
}

/** The tweak part of a run name (`muco-k7-seed1_train.steps=200` → `_train.steps=200`; '' for a stock run). */
export function tweakSuffix(run: string): string {
  const at = run.indexOf('_');
  return at < 0 ? '' : run.slice(at);
}

/** The seed a run name says (`-seed<s>`), else null (the run's default seed, in its config). */
export function seedOfRunName(run: string): number | null {
  const m = /-seed(\d+)$/.exec(run.split('_')[0] as string);
  return m === null ? null : Number(m[1]);
}

/**
 * A tweak's text as a folder-name suffix: kept whole up to 80 characters; longer ones keep their first 71 and
 * end in 8 hex digits of a hash of the whole text, so two tweaks that differ only at the end
 * (`…augment.maxShift=0` vs `…=4`) never share a run folder.
 */
export function shortTweakName(text: string): string {
  if (text.length <= 80) return text;
  // deriveSeed is the project's FNV-1a string hash; seed 0 leaves the standard offset basis.
  return `${text.slice(0, 71)}-${deriveSeed(0, text).toString(16).padStart(8, '0')}`;
}

/**
 * The resolved configs of an experiment's runs at a scale. `sets` are `key.path=value` tweaks applied to every
 * run (their text is appended to the run names, so a tweak never collides with the stock run); `extra` is the
 * same as an object (notebooks). `seeds` repeats every run with each training seed (`train.seed`: batch order,
 * augmentation, and the initialisation of runs from scratch); the default seed keeps the run's name, the
 * others are `<run>-seed<s>`.
 */
export function experimentRuns(
  name: string,
  scale: ScalePreset,
  sets: readonly string[] = [],
  only: readonly string[] | null = null,
  extra?: RunOverrides,
  seeds: readonly number[] | null = null,
): RunConfig[] {
  const runs = stockRuns(name, scale, sets, only, extra);
  if (seeds === null) return runs;
  checkSeeds(seeds);
  return runs.flatMap((cfg) =>
    seeds.map((seed): RunConfig => {
      if (seed === cfg.train.seed) return cfg;
      const [head, ...tweak] = cfg.run.split('_');
      return { ...cfg, run: [`${head as string}-seed${seed}`, ...tweak].join('_'), train: { ...cfg.train, seed } };
    }),
  );
}

/** Training seeds must be distinct integers in [0, 2³²): an error that says so otherwise. */
export function checkSeeds(seeds: readonly number[]): void {
  if (seeds.length === 0 || new Set(seeds).size !== seeds.length || !seeds.every((s) => Number.isInteger(s) && s >= 0 && s < 2 ** 32)) {
    throw new Error(`seeds must be distinct non-negative integers, e.g. 0,1,2; got ${seeds.join(',') || 'none'}.`);
  }
}

function stockRuns(name: string, scale: ScalePreset, sets: readonly string[], only: readonly string[] | null, extra: RunOverrides | undefined): RunConfig[] {
  const def = EXPERIMENTS[name];
  if (def === undefined) throw new Error(`Unknown experiment '${name}'; known: ${Object.keys(EXPERIMENTS).join(', ')}.`);
  if (!(scale in SCALES)) throw new Error(`Unknown scale '${scale}'; use one of ${Object.keys(SCALES).join(', ')}.`);
  const tweaks = mergeOverrides(sets.length === 0 ? undefined : (parseAssignments(sets) as RunOverrides), extra);
  const tweakText = [...sets, ...(extra === undefined ? [] : [JSON.stringify(extra)])];
  const suffix = tweakText.length === 0 ? '' : '_' + shortTweakName(tweakText.map((s) => s.replace(/[^A-Za-z0-9._=-]/g, '-')).join('_'));
  return (only ?? Object.keys(def.runs)).map((run) => {
    const spec = def.runs[run];
    if (spec === undefined) throw new Error(`Experiment '${name}' has no run '${run}'; its runs: ${Object.keys(def.runs).join(', ')}.`);
    const { imagesFactor, stepsFactor, ...overrides } = spec;
    const merged = mergeOverrides(SCALES[scale], overrides, tweaks);
    if (imagesFactor !== undefined) {
      const base = (merged.train?.imagesPerStep as number | undefined) ?? 32;
      merged.train = { ...merged.train, imagesPerStep: base * imagesFactor };
    }
    if (stepsFactor !== undefined) {
      const base = merged.train?.steps as number | undefined;
      if (base === undefined) throw new Error(`Run '${run}' of '${name}' scales the steps, but scale '${scale}' sets none.`);
      merged.train = { ...merged.train, steps: base * stepsFactor };
    }
    return resolveRun(name, run + suffix, merged);
  });
}
