/**
 * The validation check used to choose settings (never the test split, which the benchmarks are built from):
 * in-batch retrieval on mini-M3T validation records. For each record, the query is (image, its retrieval
 * turn's query) and the target that turn's dense description (unique per image, unlike short answers such as a
 * colour, which would tie), both embedded with the single-turn template as at test time; recall@1 is the
 * fraction of queries whose own target is strictly the nearest among all N targets.
 */
import { readMiniM3t } from '../data/m3t';
import type { Embedder } from '../model/embedder';
import type { MetricValue } from '../results';
import type { RunConfig } from './config';

export async function validationRecall(model: Embedder, cfg: RunConfig): Promise<Record<string, MetricValue>> {
  const n = cfg.eval.validationRecords;
  if (n <= 0) return { records: 0, recallAt1: null };
  const split = await readMiniM3t(cfg.data.dir, 'validation');
  const turnOf = (r: (typeof split.records)[number]) => r.turns.find((t) => t.kind === 'retrieval');
  const records = split.records.filter((r) => r.queryImagePath !== '' && turnOf(r) !== undefined).slice(0, n);
  const first = (q: string | string[]): string => (typeof q === 'string' ? q : (q[0] ?? ''));
  const queries = await model.embedInputs(records.map((r) => ({ text: first(turnOf(r)!.query), image: `${split.imageRoot}/${r.queryImagePath}` })));
  const targets = await model.embedInputs(records.map((r) => ({ text: turnOf(r)!.target })));
  const d = model.dim;
  let hits = 0;
  for (let i = 0; i < records.length; i++) {
    const score = (j: number): number => {
      let s = 0;
      for (let k = 0; k < d; k++) s += (queries[i * d + k] as number) * (targets[j * d + k] as number);
      return s;
    };
    const own = score(i);
    let beaten = false;
    for (let j = 0; j < records.length && !beaten; j++) if (j !== i && score(j) >= own) beaten = true;
    if (!beaten) hits++;
  }
  return { records: records.length, recallAt1: records.length === 0 ? null : hits / records.length };
}
