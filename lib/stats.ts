/**
 * Uncertainty of a comparison between runs (docs/statistics.md): mean ± sd over seeds, a paired bootstrap over
 * queries (and seeds) for the difference of two runs' aggregate scores, and the verdict a claim gets from it.
 *
 * Outcomes are per query: `{ group: [one value per query] }`, a group being a data set (MMEB hit@1 ∈ {0, 1}),
 * an M-BEIR task (hit@k) or the validation set (reciprocal rank). The aggregate is the benchmarks' own: the
 * mean over groups of the per-group means (MMEB overall, M-BEIR average). Two runs are compared on the same
 * queries, so the bootstrap resamples query indices once per group and applies them to both runs (paired):
 * what the runs share (an easy query, a hard data set) cancels, and the interval reflects only their difference.
 *
 * Conventions: intervals are percentile intervals (linear interpolation between order statistics); sd is the
 * sample standard deviation (n − 1), null for one value.
 */
import { Rng } from './random';

/** Per-query outcomes of one evaluation: group name → one value per query, in a fixed order. */
export type Outcomes = Readonly<Record<string, readonly number[]>>;

export interface MeanSd {
  mean: number;
  /** Sample standard deviation (n − 1); null for a single value. */
  sd: number | null;
  n: number;
}

export function meanSd(values: readonly number[]): MeanSd {
  if (values.length === 0) throw new Error('meanSd: no values. Pass at least one run.');
  const n = values.length;
  const mean = values.reduce((a, v) => a + v, 0) / n;
  if (n === 1) return { mean, sd: null, n };
  const ss = values.reduce((a, v) => a + (v - mean) ** 2, 0);
  return { mean, sd: Math.sqrt(ss / (n - 1)), n };
}

/** A value in points to one decimal (`12.3`). */
export function formatPoints(x: number): string {
  return (Math.round(x * 10) / 10).toFixed(1);
}

/** A difference in points with its sign (`+1.2`, `−0.4`). */
export function formatSigned(x: number): string {
  return `${x >= 0 ? '+' : '−'}${formatPoints(Math.abs(x))}`;
}

/** Mean ± sd in points (`12.3 ± 1.4`; the mean alone for one seed; `–` for none). */
export function formatMeanSd(m: MeanSd | null): string {
  if (m === null) return '–';
  return m.sd === null ? formatPoints(m.mean) : `${formatPoints(m.mean)} ± ${formatPoints(m.sd)}`;
}

/** The benchmarks' aggregate: mean over groups of the group means. */
export function macroMean(outcomes: Outcomes): number {
  const groups = Object.keys(outcomes).sort();
  if (groups.length === 0) throw new Error('macroMean: no groups of outcomes.');
  let total = 0;
  for (const g of groups) {
    const v = outcomes[g] as readonly number[];
    if (v.length === 0) throw new Error(`macroMean: group "${g}" has no outcomes.`);
    total += v.reduce((a, x) => a + x, 0) / v.length;
  }
  return total / groups.length;
}

/** The q-quantile of sorted values, interpolating linearly between order statistics. */
export function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) throw new Error('quantile: no values.');
  const pos = q * (sorted.length - 1);
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  const a = sorted[lo] as number;
  return a + ((sorted[hi] as number) - a) * (pos - lo);
}

export interface BootstrapOptions {
  /** Number of resamples (default 1,000). */
  resamples: number;
  /** Seed of the resampling stream: the same seed gives the same interval. */
  seed: number;
  /** Coverage of the interval (default 0.95). */
  level: number;
}

export const DEFAULT_BOOTSTRAP: BootstrapOptions = { resamples: 1000, seed: 0, level: 0.95 };

export interface DifferenceInterval {
  /** Mean over seeds of A's aggregate minus B's, on all queries. */
  diff: number;
  lo: number;
  hi: number;
  level: number;
  resamples: number;
  seedsA: number;
  seedsB: number;
  /** Queries per run (summed over groups). */
  queries: number;
}

/** The groups and their sizes, checked to be the same in every run (the same queries, in the same order). */
function sharedShape(runs: readonly Outcomes[]): { groups: string[]; sizes: number[] } {
  const first = runs[0];
  if (first === undefined) throw new Error('pairedBootstrap: no runs.');
  const groups = Object.keys(first).sort();
  if (groups.length === 0) throw new Error('pairedBootstrap: the outcomes have no groups.');
  const sizes = groups.map((g) => (first[g] as readonly number[]).length);
  runs.forEach((run, r) => {
    const own = Object.keys(run).sort();
    if (own.join('\n') !== groups.join('\n')) {
      throw new Error(
        `pairedBootstrap: run ${r} has the groups [${own.join(', ')}], run 0 [${groups.join(', ')}]: compare runs evaluated on the same benchmark.`,
      );
    }
    groups.forEach((g, i) => {
      const n = (run[g] as readonly number[]).length;
      if (n !== sizes[i])
        throw new Error(`pairedBootstrap: group "${g}" has ${n} queries in run ${r} but ${sizes[i]} in run 0: the runs were not scored on the same queries.`);
      if (n === 0) throw new Error(`pairedBootstrap: group "${g}" has no queries.`);
    });
  });
  return { groups, sizes };
}

function drawSeeds(rng: Rng, na: number, nb: number): { a: number[]; b: number[] } {
  // Equal seed counts are paired (seed s of A and of B share data order and augmentation); else independent.
  const a = Array.from({ length: na }, () => (na === 1 ? 0 : rng.int(na)));
  const b = na === nb ? a : Array.from({ length: nb }, () => (nb === 1 ? 0 : rng.int(nb)));
  return { a, b };
}

/**
 * The difference A − B of the aggregate (mean over groups of group means, averaged over seeds) with its
 * bootstrap interval. Each resample draws seeds with replacement (paired when both sides have as many), then,
 * per group, query indices with replacement, shared by every run. With one seed per side it is the plain
 * paired bootstrap over queries.
 * @param a runs (seeds) of the treatment, each scored on the same queries as every run of `b`.
 */
export function pairedBootstrap(a: readonly Outcomes[], b: readonly Outcomes[], options: Partial<BootstrapOptions> = {}): DifferenceInterval {
  const { resamples, seed, level } = { ...DEFAULT_BOOTSTRAP, ...options };
  if (!(Number.isInteger(resamples) && resamples >= 1)) throw new Error(`pairedBootstrap: resamples must be a positive integer, got ${resamples}.`);
  if (!(level > 0 && level < 1)) throw new Error(`pairedBootstrap: level must lie in (0, 1), got ${level}.`);
  if (a.length === 0 || b.length === 0) throw new Error('pairedBootstrap: each side needs at least one run (seed).');
  const { groups, sizes } = sharedShape([...a, ...b]);
  const valuesA = a.map((run) => groups.map((g) => run[g] as readonly number[]));
  const valuesB = b.map((run) => groups.map((g) => run[g] as readonly number[]));
  const side = (runs: (readonly number[])[][], seeds: readonly number[], idx: readonly Int32Array[] | null): number => {
    let total = 0;
    for (const s of seeds) {
      const run = runs[s] as (readonly number[])[];
      let macro = 0;
      groups.forEach((_, gi) => {
        const v = run[gi] as readonly number[];
        const ix = idx?.[gi];
        let sum = 0;
        if (ix === undefined) for (const x of v) sum += x;
        else for (let q = 0; q < ix.length; q++) sum += v[ix[q] as number] as number;
        macro += sum / v.length;
      });
      total += macro / groups.length;
    }
    return total / seeds.length;
  };
  const all = (n: number): number[] => Array.from({ length: n }, (_, i) => i);
  const diff = side(valuesA, all(a.length), null) - side(valuesB, all(b.length), null);
  const rng = new Rng(seed);
  const stats: number[] = [];
  for (let r = 0; r < resamples; r++) {
    const seeds = drawSeeds(rng, a.length, b.length);
    const idx = sizes.map((n) => {
      const ix = new Int32Array(n);
      for (let q = 0; q < n; q++) ix[q] = rng.int(n);
      return ix;
    });
    stats.push(side(valuesA, seeds.a, idx) - side(valuesB, seeds.b, idx));
  }
  stats.sort((x, y) => x - y);
  const tail = (1 - level) / 2;
  return {
    diff,
    lo: quantile(stats, tail),
    hi: quantile(stats, 1 - tail),
    level,
    resamples,
    seedsA: a.length,
    seedsB: b.length,
    queries: sizes.reduce((s, n) => s + n, 0),
  };
}

export type Verdict = 'supported' | 'contradicted' | 'inconclusive';

/**
 * A claim's verdict from the interval of its predicted difference (treatment − reference, larger is better):
 * supported when the whole interval lies above −margin, contradicted when it lies below −margin, inconclusive
 * when it straddles it. margin 0 tests "better"; a positive margin tests "matches or beats" (non-inferiority:
 * not worse by more than the margin).
 */
export function verdictOf(interval: Pick<DifferenceInterval, 'lo' | 'hi'>, margin = 0): Verdict {
  if (!(margin >= 0)) throw new Error(`verdictOf: the margin must be ≥ 0, got ${margin}.`);
  if (interval.lo > -margin) return 'supported';
  if (interval.hi < -margin) return 'contradicted';
  return 'inconclusive';
}
