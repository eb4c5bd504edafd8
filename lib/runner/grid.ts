/**
 * The claims' grid (docs/statistics.md): every run that the paper's claims (lib/analysis/claims) compare, once
 * per seed. It goes seed by seed and, within a seed, claim by claim, each step holding the runs a claim adds, so
 * a claim becomes testable as soon as its own runs finish; claims that need a run at several times the images
 * per step (hours at the full scale) come last in each seed. Runs that are the same work under another
 * experiment's name are trained once (lib/runner/run, `findEquivalentRun`).
 */
import { CLAIMS, Claim } from '../analysis/claims';
import { checkSeeds, EXPERIMENTS } from './catalog';

/** One call of the experiment CLI: these runs of one experiment, with one training seed. */
export interface GridStep {
  experiment: string;
  runs: string[];
  seed: number;
}

/** The claims with these ids (spaces around them ignored), in the catalogue's order; all of them for null. */
export function selectClaims(ids: readonly string[] | null, claims: readonly Claim[] = CLAIMS): Claim[] {
  if (ids === null) return [...claims];
  const wanted = ids.map((id) => id.trim());
  const known = claims.map((c) => c.id);
  const unknown = wanted.filter((id) => !known.includes(id));
  if (unknown.length > 0) throw new Error(`Unknown claim ${unknown.join(', ')}; the claims are ${known.join(', ')}.`);
  return claims.filter((c) => wanted.includes(c.id));
}

/** A claim's two runs as [experiment, run], each checked against the catalogue. */
function sidesOf(c: Claim): [string, string][] {
  const sides: [string, string][] = [
    [c.experiment, c.treatment],
    [c.referenceExperiment ?? c.experiment, c.reference],
  ];
  for (const [e, r] of sides) {
    if (EXPERIMENTS[e]?.runs[r] === undefined) throw new Error(`Claim ${c.id} names ${e}/${r}, which the catalogue does not hold.`);
  }
  return sides;
}

/** Whether a claim needs a run at several times the scale's images per step. */
function costly(c: Claim): boolean {
  return sidesOf(c).some(([e, r]) => (EXPERIMENTS[e]?.runs[r]?.imagesFactor ?? 1) > 1);
}

/** The grid's CLI calls: for each seed in turn, the runs each claim adds, the costly claims last. */
export function gridPlan(claims: readonly Claim[], seeds: readonly number[]): GridStep[] {
  checkSeeds(seeds);
  const ordered = [...claims.filter((c) => !costly(c)), ...claims.filter(costly)];
  return seeds.flatMap((seed) => {
    const planned = new Set<string>();
    const steps: (GridStep & { claim: string })[] = [];
    for (const c of ordered) {
      for (const [experiment, run] of sidesOf(c)) {
        if (planned.has(`${experiment}/${run}`)) continue;
        planned.add(`${experiment}/${run}`);
        // A claim's new runs of one experiment share a step.
        const last = steps.at(-1);
        if (last?.experiment === experiment && last.claim === c.id) last.runs.push(run);
        else steps.push({ experiment, runs: [run], seed, claim: c.id });
      }
    }
    return steps.map(({ experiment, runs }) => ({ experiment, runs, seed }));
  });
}
