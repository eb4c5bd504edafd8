/**
 * M-BEIR's 16 (dataset, task) evaluation sets and how their numbers are reported (docs/benchmarks.md
 * §2.1; the MuCo paper's Table 2):
 * - each set reports UniIR's Recall@5 (= hit@5), Recall@10 for Fashion200K and FashionIQ;
 * - the published average is the plain mean of the 16 numbers (local pool or global pool alike);
 * - MuCo's Table 2 also groups by modality: S→S (qt→ci, qt→ct, qi→ct, qi→ci), S→M (qt→(ci,ct)),
 *   M→S ((qi,qt)→ct, (qi,qt)→ci), M→M ((qi,qt)→(ci,ct)), each the mean of its sets.
 */
import { mean } from '../metrics';

export type MbeirGroup = 'S→S' | 'S→M' | 'M→S' | 'M→M';

export const MBEIR_GROUPS: readonly MbeirGroup[] = ['S→S', 'S→M', 'M→S', 'M→M'];

export interface MbeirTaskInfo {
  /** `<dataset>_task<k>` as in the file names. */
  name: string;
  taskId: number;
  /** The k of the reported Recall@k (UniIR's hit@k). */
  k: number;
}

/** Task-type notation per task id (`qt→ci`, ...). */
export const TASK_NOTATION: Readonly<Record<number, string>> = {
  0: 'qt→ci',
  1: 'qt→ct',
  2: 'qt→(ci,ct)',
  3: 'qi→ct',
  4: 'qi→ci',
  5: 'qi→(ci,ct)',
  6: '(qi,qt)→ct',
  7: '(qi,qt)→ci',
  8: '(qi,qt)→(ci,ct)',
};

/** The modality group of a task id. */
export function groupOfTask(taskId: number): MbeirGroup {
  if (taskId === 0 || taskId === 1 || taskId === 3 || taskId === 4) return 'S→S';
  if (taskId === 2 || taskId === 5) return 'S→M';
  if (taskId === 6 || taskId === 7) return 'M→S';
  if (taskId === 8) return 'M→M';
  throw new Error(`M-BEIR task id ${taskId} is not one of 0–8.`);
}

/** Recall@10 for the fashion sets, Recall@5 elsewhere (the published convention). */
export function reportedK(name: string): number {
  return /^(fashion200k|fashioniq)_/.test(name) ? 10 : 5;
}

function task(name: string): MbeirTaskInfo {
  const taskId = Number(/_task(\d+)$/.exec(name)?.[1]);
  return { name, taskId, k: reportedK(name) };
}

/** The 16 evaluation sets in the canonical table order. */
export const MBEIR_TASKS: readonly MbeirTaskInfo[] = [
  'visualnews_task0',
  'mscoco_task0',
  'fashion200k_task0',
  'webqa_task1',
  'edis_task2',
  'webqa_task2',
  'visualnews_task3',
  'mscoco_task3',
  'fashion200k_task3',
  'nights_task4',
  'oven_task6',
  'infoseek_task6',
  'fashioniq_task7',
  'cirr_task7',
  'oven_task8',
  'infoseek_task8',
].map(task);

/** A catalogue for any task names (a mini benchmark): task id from the name, k by the same rule. */
export function mbeirCatalogue(names: readonly string[]): MbeirTaskInfo[] {
  return names.map((n) => {
    const t = task(n);
    if (!Number.isInteger(t.taskId)) throw new Error(`M-BEIR task name "${n}" must end in _task<k>.`);
    return t;
  });
}

export interface MbeirAggregate {
  perTask: Record<string, number>;
  /** Plain mean over the scored sets. */
  average: number;
  groups: Record<MbeirGroup, number | null>;
  numTasks: number;
  complete: boolean;
  missing: string[];
}

/** Aggregates per-set scores as published (same unit out as in). */
export function aggregateMbeir(scores: Readonly<Record<string, number>>, catalogue: readonly MbeirTaskInfo[] = MBEIR_TASKS): MbeirAggregate {
  const byName = new Map(catalogue.map((t) => [t.name, t]));
  const groups: Record<MbeirGroup, number[]> = { 'S→S': [], 'S→M': [], 'M→S': [], 'M→M': [] };
  const all: number[] = [];
  for (const [name, v] of Object.entries(scores)) {
    const info = byName.get(name);
    if (info === undefined) {
      throw new Error(
        `aggregateMbeir: "${name}" is not in the catalogue (e.g. ${catalogue
          .slice(0, 2)
          .map((t) => t.name)
          .join(', ')}). Pass the catalogue of its benchmark.`,
      );
    }
    if (!Number.isFinite(v)) throw new Error(`aggregateMbeir: the score of "${name}" is ${v}, expected a number.`);
    groups[groupOfTask(info.taskId)].push(v);
    all.push(v);
  }
  const missing = catalogue.filter((t) => !(t.name in scores)).map((t) => t.name);
  const g = (x: number[]): number | null => (x.length === 0 ? null : mean(x));
  return {
    perTask: { ...scores },
    average: mean(all, 'M-BEIR task scores'),
    groups: { 'S→S': g(groups['S→S']), 'S→M': g(groups['S→M']), 'M→S': g(groups['M→S']), 'M→M': g(groups['M→M']) },
    numTasks: all.length,
    complete: missing.length === 0,
    missing,
  };
}
