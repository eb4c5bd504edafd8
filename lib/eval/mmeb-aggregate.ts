/**
 * MMEB (V1, 36 image tasks): the catalogue of data sets and the aggregation rules of the reported numbers
 * (docs/benchmarks.md §1.1).
 *
 * - Per data set: hit@1 (we keep fractions; tables show ×100).
 * - Meta-task score: the unweighted mean over its data sets (CLS 10, VQA 10, RET 12, VG 4).
 * - IND: mean over the 20 in-distribution data sets; OOD: mean over the 16 out-of-distribution ones.
 * - **Overall: the mean over all data sets**, not the mean of the four meta-task scores (the two differ:
 *   65.8 versus 67.7 for VLM2Vec-Qwen2VL-7B).
 *
 * A mini benchmark brings its own catalogue (same shape, its own names); aggregation is the same.
 */
import { mean } from '../metrics';

export type MmebMetaTask = 'CLS' | 'VQA' | 'RET' | 'VG';
export type MmebDistribution = 'IND' | 'OOD';

export const MMEB_META_TASKS: readonly MmebMetaTask[] = ['CLS', 'VQA', 'RET', 'VG'];

/** How tables name a meta-task: the paper's column labels (its visual grounding column is GRD; MMEB's code says VG). */
export const META_TASK_LABEL: Readonly<Record<MmebMetaTask, string>> = { CLS: 'CLS', VQA: 'VQA', RET: 'RET', VG: 'GRD' };

export interface MmebDatasetInfo {
  /** The HF config name (`ImageNet-1K`, `MSCOCO_t2i`, ...): also the `{name}_score.json` prefix. */
  name: string;
  metaTask: MmebMetaTask;
  distribution: MmebDistribution;
  /** Candidates per query (paper Table 1): the class count for CLS, 1000 elsewhere. */
  numCandidates: number;
}

function ds(name: string, metaTask: MmebMetaTask, distribution: MmebDistribution, numCandidates = 1000): MmebDatasetInfo {
  return { name, metaTask, distribution, numCandidates };
}

/** The 36 MMEB V1 data sets in the paper's table order. `CIFAR-100` (in the HF repo) is not one of them. */
export const MMEB_V1_DATASETS: readonly MmebDatasetInfo[] = [
  ds('ImageNet-1K', 'CLS', 'IND', 1000),
  ds('N24News', 'CLS', 'IND', 24),
  ds('HatefulMemes', 'CLS', 'IND', 2),
  ds('VOC2007', 'CLS', 'IND', 20),
  ds('SUN397', 'CLS', 'IND', 397),
  ds('Place365', 'CLS', 'OOD', 365),
  ds('ImageNet-A', 'CLS', 'OOD', 1000),
  ds('ImageNet-R', 'CLS', 'OOD', 200),
  ds('ObjectNet', 'CLS', 'OOD', 313),
  ds('Country211', 'CLS', 'OOD', 211),
  ds('OK-VQA', 'VQA', 'IND'),
  ds('A-OKVQA', 'VQA', 'IND'),
  ds('DocVQA', 'VQA', 'IND'),
  ds('InfographicsVQA', 'VQA', 'IND'),
  ds('ChartQA', 'VQA', 'IND'),
  ds('Visual7W', 'VQA', 'IND'),
  ds('ScienceQA', 'VQA', 'OOD'),
  ds('VizWiz', 'VQA', 'OOD'),
  ds('GQA', 'VQA', 'OOD'),
  ds('TextVQA', 'VQA', 'OOD'),
  ds('VisDial', 'RET', 'IND'),
  ds('CIRR', 'RET', 'IND'),
  ds('VisualNews_t2i', 'RET', 'IND'),
  ds('VisualNews_i2t', 'RET', 'IND'),
  ds('MSCOCO_t2i', 'RET', 'IND'),
  ds('MSCOCO_i2t', 'RET', 'IND'),
  ds('NIGHTS', 'RET', 'IND'),
  ds('WebQA', 'RET', 'IND'),
  ds('OVEN', 'RET', 'OOD'),
  ds('FashionIQ', 'RET', 'OOD'),
  ds('EDIS', 'RET', 'OOD'),
  ds('Wiki-SS-NQ', 'RET', 'OOD'),
  ds('MSCOCO', 'VG', 'IND'),
  ds('RefCOCO', 'VG', 'OOD'),
  ds('RefCOCO-Matching', 'VG', 'OOD'),
  ds('Visual7W-Pointing', 'VG', 'OOD'),
];

/** Aggregated scores, in the same unit as the inputs (fractions in, fractions out; ×100 in, ×100 out). */
export interface MmebAggregate {
  perDataset: Record<string, number>;
  /** Mean per meta-task; null when the meta-task has no scored data set. */
  metaTask: Record<MmebMetaTask, number | null>;
  IND: number | null;
  OOD: number | null;
  /** Mean over all scored data sets. */
  overall: number;
  numDatasets: number;
  /** Every catalogue data set was scored (only then is `overall` comparable with published numbers). */
  complete: boolean;
  missing: string[];
}

function meanOrNull(values: number[]): number | null {
  return values.length === 0 ? null : mean(values);
}

/**
 * Aggregates per-data-set scores as MMEB does. Every scored name must be in the catalogue; missing catalogue
 * entries are listed (`complete: false`) so a partial run is never mistaken for a full one.
 */
export function aggregateMmeb(scores: Readonly<Record<string, number>>, catalogue: readonly MmebDatasetInfo[] = MMEB_V1_DATASETS): MmebAggregate {
  const byName = new Map(catalogue.map((d) => [d.name, d]));
  const perMeta: Record<MmebMetaTask, number[]> = { CLS: [], VQA: [], RET: [], VG: [] };
  const perDist: Record<MmebDistribution, number[]> = { IND: [], OOD: [] };
  const all: number[] = [];
  for (const [name, value] of Object.entries(scores)) {
    const info = byName.get(name);
    if (info === undefined) {
      throw new Error(
        `aggregateMmeb: data set "${name}" is not in the catalogue (${catalogue.length} data sets, e.g. ` +
          `${catalogue
            .slice(0, 3)
            .map((d) => d.name)
            .join(', ')}). Drop it (CIFAR-100 is not one of MMEB's 36) ` +
          'or pass the catalogue of the benchmark it belongs to.',
      );
    }
    if (!Number.isFinite(value)) throw new Error(`aggregateMmeb: the score of "${name}" is ${value}, expected a number.`);
    perMeta[info.metaTask].push(value);
    perDist[info.distribution].push(value);
    all.push(value);
  }
  const missing = catalogue.filter((d) => !(d.name in scores)).map((d) => d.name);
  return {
    perDataset: { ...scores },
    metaTask: {
      CLS: meanOrNull(perMeta.CLS),
      VQA: meanOrNull(perMeta.VQA),
      RET: meanOrNull(perMeta.RET),
      VG: meanOrNull(perMeta.VG),
    },
    IND: meanOrNull(perDist.IND),
    OOD: meanOrNull(perDist.OOD),
    overall: mean(all, 'MMEB data-set scores'),
    numDatasets: all.length,
    complete: missing.length === 0,
    missing,
  };
}

/**
 * The overall score from published meta-task means: the data-set-weighted mean (10·CLS + 10·VQA + 12·RET +
 * 4·VG) / 36, which equals the mean over the 36 data sets. Useful where only meta-task numbers are printed.
 */
export function overallFromMetaTasks(
  means: Readonly<Record<MmebMetaTask, number>>,
  counts: Readonly<Record<MmebMetaTask, number>> = { CLS: 10, VQA: 10, RET: 12, VG: 4 },
): number {
  let num = 0;
  let den = 0;
  for (const t of MMEB_META_TASKS) {
    num += means[t] * counts[t];
    den += counts[t];
  }
  return num / den;
}
