import { strict as assert } from 'assert';
import { DEFAULT_BOOTSTRAP, macroMean, meanSd, Outcomes, pairedBootstrap, quantile, verdictOf } from '../lib/stats';
import { Rng } from '../lib/random';

const close = (a: number, b: number, tol = 1e-12): void => assert.ok(Math.abs(a - b) <= tol, `${a} vs ${b}`);

/** Binary outcomes with success rate p per group, seeded. */
function synthetic(rng: Rng, sizes: Record<string, number>, p: number): Record<string, number[]> {
  return Object.fromEntries(Object.entries(sizes).map(([g, n]) => [g, Array.from({ length: n }, () => (rng.next() < p ? 1 : 0))]));
}

// Naive twin: builds each resampled data set explicitly and aggregates it with plain loops, consuming the
// generator in the documented order (seeds, then each group in name order, one index per query).
function naiveBootstrap(a: Outcomes[], b: Outcomes[], resamples: number, seed: number, level: number): { diff: number; lo: number; hi: number } {
  const groups = Object.keys(a[0]!).sort();
  const aggregate = (run: Outcomes): number => {
    let s = 0;
    for (const g of groups) {
      const v = run[g]!;
      let t = 0;
      for (const x of v) t += x;
      s += t / v.length;
    }
    return s / groups.length;
  };
  const avg = (xs: number[]): number => xs.reduce((p, x) => p + x, 0) / xs.length;
  const diff = avg(a.map(aggregate)) - avg(b.map(aggregate));
  const rng = new Rng(seed);
  const stats: number[] = [];
  for (let r = 0; r < resamples; r++) {
    const sa: number[] = [];
    for (let i = 0; i < a.length; i++) sa.push(a.length === 1 ? 0 : rng.int(a.length));
    let sb: number[] = sa;
    if (a.length !== b.length) {
      sb = [];
      for (let i = 0; i < b.length; i++) sb.push(b.length === 1 ? 0 : rng.int(b.length));
    }
    const picks: Record<string, number[]> = {};
    for (const g of groups) {
      picks[g] = [];
      for (let q = 0; q < a[0]![g]!.length; q++) picks[g]!.push(rng.int(a[0]![g]!.length));
    }
    const resampled = (run: Outcomes): Outcomes => Object.fromEntries(groups.map((g) => [g, picks[g]!.map((i) => run[g]![i]!)]));
    stats.push(avg(sa.map((s) => aggregate(resampled(a[s]!)))) - avg(sb.map((s) => aggregate(resampled(b[s]!)))));
  }
  stats.sort((x, y) => x - y);
  const at = (q: number): number => {
    const pos = q * (stats.length - 1);
    const i = Math.floor(pos);
    const j = Math.min(i + 1, stats.length - 1);
    return stats[i]! + (stats[j]! - stats[i]!) * (pos - i);
  };
  return { diff, lo: at((1 - level) / 2), hi: at(1 - (1 - level) / 2) };
}

describe('stats: mean ± sd', () => {
  it('matches the textbook sample sd and is null for one value', () => {
    const m = meanSd([2, 4, 4, 4, 5, 5, 7, 9]);
    close(m.mean, 5);
    close(m.sd!, Math.sqrt(32 / 7));
    assert.equal(meanSd([3]).sd, null);
    assert.throws(() => meanSd([]), /no values/);
  });

  it('macroMean is the mean of the group means', () => {
    close(macroMean({ a: [1, 0], b: [1, 1, 1, 0] }), (0.5 + 0.75) / 2);
    assert.throws(() => macroMean({ a: [] }), /group "a" has no outcomes/);
  });

  it('quantile interpolates between order statistics', () => {
    close(quantile([0, 10], 0.25), 2.5);
    close(quantile([1, 2, 3, 4, 5], 0.5), 3);
    close(quantile([7], 0.9), 7);
  });
});

describe('stats: paired bootstrap', () => {
  const sizes = { EmojiGroup: 40, EmojiName: 25, FlagRegion: 33 };

  it('agrees with a naive resampling twin (one seed per side, and several)', () => {
    const rng = new Rng(3);
    const a = [synthetic(rng, sizes, 0.6)];
    const b = [synthetic(rng, sizes, 0.4)];
    for (const [sa, sb] of [
      [a, b],
      [
        [...a, synthetic(rng, sizes, 0.5), synthetic(rng, sizes, 0.7)],
        [...b, synthetic(rng, sizes, 0.3), synthetic(rng, sizes, 0.4)],
      ],
      [[...a, synthetic(rng, sizes, 0.5)], b],
    ] as Outcomes[][][]) {
      const got = pairedBootstrap(sa!, sb!, { resamples: 300, seed: 11 });
      const want = naiveBootstrap(sa!, sb!, 300, 11, 0.95);
      close(got.diff, want.diff);
      close(got.lo, want.lo);
      close(got.hi, want.hi);
    }
  });

  it('is deterministic for a seed and varies with it', () => {
    const rng = new Rng(5);
    const a = [synthetic(rng, sizes, 0.55)];
    const b = [synthetic(rng, sizes, 0.45)];
    assert.deepEqual(pairedBootstrap(a, b, { seed: 1 }), pairedBootstrap(a, b, { seed: 1 }));
    assert.notEqual(pairedBootstrap(a, b, { seed: 1 }).lo, pairedBootstrap(a, b, { seed: 2 }).lo);
    assert.equal(pairedBootstrap(a, b).resamples, DEFAULT_BOOTSTRAP.resamples);
  });

  it('identical runs give a zero difference and an interval of zero width (the pairing cancels everything)', () => {
    const run = synthetic(new Rng(7), sizes, 0.5);
    const iv = pairedBootstrap([run], [run], { seed: 0 });
    assert.equal(iv.diff, 0);
    assert.equal(iv.lo, 0);
    assert.equal(iv.hi, 0);
    assert.equal(verdictOf(iv), 'inconclusive');
  });

  it('a run right on every query the other gets wrong lies far above 0', () => {
    const b = synthetic(new Rng(9), sizes, 0.3);
    const a = Object.fromEntries(Object.entries(b).map(([g, v]) => [g, v.map((x) => 1 - x)]));
    const iv = pairedBootstrap([a], [b], { seed: 0 });
    assert.ok(iv.lo > 0.25, `lo ${iv.lo}`);
    assert.equal(verdictOf(iv), 'supported');
    assert.equal(verdictOf(pairedBootstrap([b], [a], { seed: 0 })), 'contradicted');
  });

  it('covers the true difference about 95% of the time on synthetic runs', () => {
    // Independent runs with true rates 0.6 and 0.5: a 95% interval should miss the true 0.1 rarely.
    const rng = new Rng(21);
    let covered = 0;
    const trials = 60;
    for (let t = 0; t < trials; t++) {
      const iv = pairedBootstrap([synthetic(rng, sizes, 0.6)], [synthetic(rng, sizes, 0.5)], { resamples: 400, seed: t });
      if (iv.lo <= 0.1 && 0.1 <= iv.hi) covered++;
    }
    assert.ok(covered >= 50, `covered ${covered}/${trials}`);
  });

  it('refuses runs scored on different queries, naming the group', () => {
    const a = { EmojiGroup: [1, 0, 1] };
    assert.throws(() => pairedBootstrap([a], [{ EmojiGroup: [1, 0] }]), /group "EmojiGroup" has 2 queries in run 1 but 3/);
    assert.throws(() => pairedBootstrap([a], [{ Other: [1, 0, 1] }]), /groups \[Other\]/);
    assert.throws(() => pairedBootstrap([], [a]), /at least one run/);
    assert.throws(() => pairedBootstrap([a], [a], { level: 95 }), /level must lie in \(0, 1\)/);
  });
});

describe('stats: verdicts', () => {
  it('supported above the threshold, contradicted below it, inconclusive across it', () => {
    assert.equal(verdictOf({ lo: 0.01, hi: 0.2 }), 'supported');
    assert.equal(verdictOf({ lo: -0.2, hi: -0.01 }), 'contradicted');
    assert.equal(verdictOf({ lo: -0.05, hi: 0.1 }), 'inconclusive');
  });

  it('a margin tests "matches or beats": a small loss within the margin is still supported', () => {
    assert.equal(verdictOf({ lo: -0.01, hi: 0.03 }, 0.02), 'supported');
    assert.equal(verdictOf({ lo: -0.1, hi: -0.05 }, 0.02), 'contradicted');
    assert.equal(verdictOf({ lo: -0.03, hi: 0.01 }, 0.02), 'inconclusive');
    assert.throws(() => verdictOf({ lo: 0, hi: 1 }, -1), /margin must be ≥ 0/);
  });
});
