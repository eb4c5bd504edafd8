/**
 * The claims' grid (docs/statistics.md): every run that the paper's claims (lib/analysis/claims) compare, once
 * per seed, ordered so that every claim gets its first seed as early as possible: seed by seed, and within a seed
 * experiment by experiment in the order the claims first use them. Runs that are the same work under another
 * experiment's name (core/muco-k7 = compounded/causal = logit-mask/mask-on = composition/all) are trained once;
 * the runner copies the finished twin (lib/runner/run, `findEquivalentRun`).
 */
import { CLAIMS, Claim } from '../analysis/claims';
import { EXPERIMENTS } from './catalog';

/** One call of the experiment CLI: these runs of one experiment, with one training seed. */
export interface GridStep {
  experiment: string;
  runs: string[];
  seed: number;
}

/** The claims with these ids, in the catalogue's order; all of them for null. */
export function selectClaims(ids: readonly string[] | null, claims: readonly Claim[] = CLAIMS): Claim[] {
  if (ids === null) return [...claims];
  const known = new Set(claims.map((c) => c.id));
  const unknown = ids.filter((id) => !known.has(id));
  if (unknown.length > 0) throw new Error(`Unknown claim ${unknown.join(', ')}; the claims are ${[...known].join(', ')}.`);
  return claims.filter((c) => ids.includes(c.id));
}

/** The runs the claims compare, per experiment, in the order the claims first name them (no duplicates). */
export function claimRuns(claims: readonly Claim[]): Map<string, string[]> {
  const byExperiment = new Map<string, string[]>();
  const add = (experiment: string, run: string): void => {
    const def = EXPERIMENTS[experiment];
    if (def === undefined || def.runs[run] === undefined) throw new Error(`A claim names ${experiment}/${run}, which the catalogue does not hold.`);
    const runs = byExperiment.get(experiment) ?? [];
    if (!runs.includes(run)) runs.push(run);
    byExperiment.set(experiment, runs);
  };
  for (const c of claims) {
    add(c.experiment, c.treatment);
    add(c.referenceExperiment ?? c.experiment, c.reference);
  }
  return byExperiment;
}

/** The grid's CLI calls: for each seed in turn, each experiment's claimed runs. */
export function gridPlan(claims: readonly Claim[], seeds: readonly number[]): GridStep[] {
  if (seeds.length === 0 || new Set(seeds).size !== seeds.length || !seeds.every((s) => Number.isInteger(s) && s >= 0)) {
    throw new Error(`The grid's seeds must be distinct non-negative integers, e.g. 0,1,2; got ${seeds.join(',') || 'none'}.`);
  }
  const runs = [...claimRuns(claims)];
  return seeds.flatMap((seed) => runs.map(([experiment, names]) => ({ experiment, runs: [...names], seed })));
}
