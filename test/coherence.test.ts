/**
 * Coherence measures against loop twins written here in float64 (seeded random embeddings), hand-computed
 * cases, the conventions (ordered pairs, zero vectors, errors) and tensor hygiene.
 */
import { strict as assert } from 'assert';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../lib/backend';
import {
  agreementBySlot,
  alignment,
  coherenceSummary,
  modalityGap,
  pairCosines,
  principalAxes,
  projectRows,
  turnAgreement,
  uniformity,
} from '../lib/analysis/coherence';
import { Rng } from '../lib/random';

type M = number[][];

function randomRows(n: number, d: number, rng: Rng, unit = true): M {
  return Array.from({ length: n }, () => {
    const v = Array.from({ length: d }, () => rng.normal());
    const norm = unit ? Math.hypot(...v) : 1;
    return v.map((x) => x / norm);
  });
}

const flat = (m: M): Float32Array => Float32Array.from(m.flat());
const round32 = (m: M): M => m.map((r) => Array.from(Float32Array.from(r)));
const dist2 = (a: number[], b: number[]): number => a.reduce((s, x, i) => s + (x - (b[i] as number)) ** 2, 0);
const dot = (a: number[], b: number[]): number => a.reduce((s, x, i) => s + x * (b[i] as number), 0);
const cosine = (a: number[], b: number[]): number => {
  const na = Math.hypot(...a);
  const nb = Math.hypot(...b);
  return na === 0 || nb === 0 ? 0 : dot(a, b) / (na * nb);
};

function naiveAlignment(x: M, y: M, alpha: number): number {
  let s = 0;
  for (let i = 0; i < x.length; i++) s += Math.sqrt(dist2(x[i] as number[], y[i] as number[])) ** alpha;
  return s / x.length;
}

function naiveUniformity(x: M, t: number): number {
  let s = 0;
  let pairs = 0;
  for (let i = 0; i < x.length; i++) {
    for (let j = i + 1; j < x.length; j++) {
      s += Math.exp(-t * dist2(x[i] as number[], x[j] as number[]));
      pairs++;
    }
  }
  return Math.log(s / pairs);
}

function naiveGap(x: M, y: M): { distance: number; centroidCosine: number } {
  const mean = (m: M): number[] => (m[0] as number[]).map((_, d) => m.reduce((s, r) => s + (r[d] as number), 0) / m.length);
  const mx = mean(x);
  const my = mean(y);
  return { distance: Math.sqrt(dist2(mx, my)), centroidCosine: cosine(mx, my) };
}

function naiveAgreement(x: M, groups: number[]): { within: number; between: number } {
  const w: number[] = [];
  const b: number[] = [];
  for (let i = 0; i < x.length; i++) {
    for (let j = i + 1; j < x.length; j++) (groups[i] === groups[j] ? w : b).push(cosine(x[i] as number[], x[j] as number[]));
  }
  const avg = (v: number[]): number => v.reduce((s, z) => s + z, 0) / v.length;
  return { within: avg(w), between: avg(b) };
}

describe('coherence measures', () => {
  before(async () => {
    await initBackend({ backend: 'cpu' });
  });

  it('alignment matches the loop twin (α = 2 and α = 1) on seeded embeddings', () => {
    const rng = new Rng(11);
    const x = round32(randomRows(37, 16, rng));
    const y = round32(randomRows(37, 16, rng));
    for (const alpha of [2, 1]) assert.ok(Math.abs(alignment(flat(x), flat(y), 16, alpha) - naiveAlignment(x, y, alpha)) < 1e-5);
  });

  it('alignment by hand: pairs at distances 0 and 2 give (0 + 4) / 2 = 2', () => {
    assert.ok(
      Math.abs(
        alignment(
          flat([
            [1, 0],
            [0, 1],
          ]),
          flat([
            [1, 0],
            [0, -1],
          ]),
          2,
        ) - 2,
      ) < 1e-6,
    );
  });

  it('uniformity matches the loop twin, for unit and non-unit rows and another t', () => {
    const rng = new Rng(12);
    const unit = round32(randomRows(41, 8, rng));
    const raw = round32(randomRows(23, 8, rng, false));
    assert.ok(Math.abs(uniformity(flat(unit), 8) - naiveUniformity(unit, 2)) < 1e-5);
    assert.ok(Math.abs(uniformity(flat(raw), 8, 0.5) - naiveUniformity(raw, 0.5)) < 1e-4);
  });

  it('uniformity by hand: two opposite unit vectors give −t·4 = −8; identical points give 0', () => {
    assert.ok(
      Math.abs(
        uniformity(
          flat([
            [1, 0],
            [-1, 0],
          ]),
          2,
        ) - -8,
      ) < 1e-5,
    );
    assert.ok(
      Math.abs(
        uniformity(
          flat([
            [0.6, 0.8],
            [0.6, 0.8],
            [0.6, 0.8],
          ]),
          2,
        ),
      ) < 1e-6,
    );
  });

  it('uniformity does not underflow for far-apart points (log-sum-exp)', () => {
    const u = uniformity(
      flat([
        [100, 0],
        [-100, 0],
      ]),
      2,
    );
    assert.ok(Math.abs(u - -2 * 200 ** 2) < 1, `got ${u}`);
  });

  it('modality gap matches the loop twin on sets of different sizes', () => {
    const rng = new Rng(13);
    const x = round32(randomRows(30, 12, rng).map((r) => r.map((v, d) => v + (d === 0 ? 0.5 : 0))));
    const y = round32(randomRows(19, 12, rng));
    const got = modalityGap(flat(x), flat(y), 12);
    const want = naiveGap(x, y);
    assert.ok(Math.abs(got.distance - want.distance) < 1e-6);
    assert.ok(Math.abs(got.centroidCosine - want.centroidCosine) < 1e-6);
  });

  it('modality gap by hand: centroids (1, 0) and (0, 1) are √2 apart and orthogonal', () => {
    const g = modalityGap(
      flat([
        [1, 1],
        [1, -1],
      ]),
      flat([[0, 1]]),
      2,
    );
    assert.ok(Math.abs(g.distance - Math.SQRT2) < 1e-9);
    assert.ok(Math.abs(g.centroidCosine) < 1e-9);
    assert.equal(g.normX, 1);
    assert.equal(
      modalityGap(
        flat([
          [1, 0],
          [-1, 0],
        ]),
        flat([[0, 1]]),
        2,
      ).centroidCosine,
      0,
      'a zero centroid has cosine 0',
    );
  });

  it('pair cosines: positives at shift 0, rotated negatives at shift s, zero rows give 0', () => {
    const rng = new Rng(14);
    const x = round32(randomRows(9, 5, rng, false));
    const y = round32(randomRows(9, 5, rng, false));
    for (const shift of [0, 1, 4, -1]) {
      const got = pairCosines(flat(x), flat(y), 5, shift);
      x.forEach((xi, i) => assert.ok(Math.abs((got[i] as number) - cosine(xi, y[(((i + shift) % 9) + 9) % 9] as number[])) < 1e-5));
    }
    assert.deepEqual(Array.from(pairCosines(flat([[0, 0]]), flat([[1, 0]]), 2)), [0]);
  });

  it('turn agreement matches the loop twin with uneven groups', () => {
    const rng = new Rng(15);
    const groups = [0, 0, 0, 1, 1, 2, 2, 2, 2, 3, 3];
    const centres = randomRows(4, 6, rng);
    const x = round32(groups.map((g) => (centres[g] as number[]).map((c) => c + 0.3 * rng.normal())));
    const got = turnAgreement(flat(x), groups, 6);
    const want = naiveAgreement(x, groups);
    assert.ok(Math.abs(got.within - want.within) < 1e-5);
    assert.ok(Math.abs(got.between - want.between) < 1e-5);
    assert.equal(got.withinPairs, 3 + 1 + 6 + 1);
    assert.equal(got.betweenPairs, (11 * 10) / 2 - 11);
    assert.ok(got.margin > 0, 'rows drawn around their group centre agree more within groups');
  });

  it('turn agreement by hand: two dialogues of two identical turns, orthogonal to each other → 1 and 0', () => {
    const t = turnAgreement(
      flat([
        [1, 0],
        [2, 0],
        [0, 1],
        [0, 3],
      ]),
      [5, 5, 9, 9],
      2,
    );
    assert.ok(Math.abs(t.within - 1) < 1e-6 && Math.abs(t.between) < 1e-6 && Math.abs(t.margin - 1) < 1e-6);
  });

  it('agreement by slot matches the loop twin; dialogues without a first turn are skipped', () => {
    const rng = new Rng(18);
    const groups = [0, 0, 0, 1, 1, 2, 2, 2, 3];
    const slots = [0, 1, 2, 0, 1, 1, 2, 0, 1]; // dialogue 3 has no slot 0
    const x = round32(randomRows(groups.length, 5, rng, false));
    const got = agreementBySlot(flat(x), groups, slots, 5);
    const want = [0, 1, 2].map((s) => {
      const c: number[] = [];
      groups.forEach((g, i) => {
        const f = groups.findIndex((h, j) => h === g && slots[j] === 0);
        if (slots[i] === s && f >= 0) c.push(cosine(x[i] as number[], x[f] as number[]));
      });
      return c.reduce((a, b) => a + b, 0) / c.length;
    });
    got.forEach((v, s) => assert.ok(Math.abs((v as number) - (want[s] as number)) < 1e-5, `slot ${s}: ${v} vs ${want[s]}`));
    assert.deepEqual(
      agreementBySlot(
        flat([
          [1, 0],
          [0, 1],
          [1, 1],
        ]),
        [0, 0, 0],
        [0, 2, 2],
        2,
      ).map((v) => (v === null ? null : Math.round(v * 1e6) / 1e6)),
      [1, null, Math.round(((0 + Math.SQRT1_2) / 2) * 1e6) / 1e6],
    ); // slot 2: cos 0 and cos 45°
  });

  it('principal axes: eigenvectors of the covariance, strongest first, beating random directions', () => {
    const rng = new Rng(16);
    const d = 6;
    // Independent axes with standard deviations 3, 2, 1, 0.5, ... in a random rotation (Gram–Schmidt).
    const basis: M = [];
    for (const v of randomRows(d, d, rng)) {
      let w = v;
      for (const b of basis) w = w.map((x, i) => x - dot(v, b) * (b[i] as number));
      const n = Math.hypot(...w);
      basis.push(w.map((x) => x / n));
    }
    const scales = [3, 2, 1, 0.5, 0.3, 0.1];
    const x = round32(
      Array.from({ length: 400 }, () => {
        const c = scales.map((s) => s * rng.normal());
        return Array.from({ length: d }, (_, i) => c.reduce((s, ci, k) => s + ci * ((basis[k] as number[])[i] as number), 0) + 1);
      }),
    );
    const axes = principalAxes(flat(x), d, 2);
    const mean = axes.mean as Float64Array;
    const cov = (u: number[], v: number[]): number =>
      x.reduce(
        (s, r) =>
          s +
          dot(
            r.map((z, i) => z - (mean[i] as number)),
            u,
          ) *
            dot(
              r.map((z, i) => z - (mean[i] as number)),
              v,
            ),
        0,
      ) / x.length;
    const comps = [0, 1].map((c) => Array.from(axes.components.slice(c * d, (c + 1) * d)));
    const [v1, v2] = comps as [number[], number[]];
    assert.ok(Math.abs(Math.hypot(...v1) - 1) < 1e-9 && Math.abs(dot(v1, v2)) < 1e-6, 'orthonormal');
    // C v = λ v for each component (the loop twin of the covariance is `cov`).
    comps.forEach((v, c) => {
      const lambda = axes.variances[c] as number;
      assert.ok(Math.abs(cov(v, v) - lambda) < 1e-6 * lambda);
      for (const e of basis) assert.ok(Math.abs(cov(v, e) - lambda * dot(v, e)) < 1e-3 * lambda);
    });
    assert.ok((axes.variances[0] as number) >= (axes.variances[1] as number));
    const trace = Array.from({ length: d }, (_, i) => Array.from({ length: d }, (_, j) => (i === j ? 1 : 0))).reduce((s, e) => s + cov(e, e), 0);
    assert.ok(Math.abs(axes.totalVariance - trace) < 1e-9 * trace);
    for (const u of randomRows(50, d, rng)) assert.ok(cov(u, u) <= (axes.variances[0] as number) + 1e-9);
    assert.ok(Math.abs(Math.abs(dot(v1, basis[0] as number[])) - 1) < 0.02, 'finds the 3-σ axis');
    const proj = projectRows(flat(x), d, axes);
    x.slice(0, 5).forEach((r, i) =>
      comps.forEach((v, c) =>
        assert.ok(
          Math.abs(
            (proj[i * 2 + c] as number) -
              dot(
                r.map((z, k) => z - (mean[k] as number)),
                v,
              ),
          ) < 1e-9,
        ),
      ),
    );
  });

  it('principal axes by hand: points on a line along (3, 4)/5 have that axis and variance 25·var(t)', () => {
    const ts = [-2, -1, 0, 1, 2];
    const axes = principalAxes(flat(ts.map((t) => [3 * t, 4 * t])), 2, 1);
    assert.ok(Math.abs(Math.abs(axes.components[0] as number) - 0.6) < 1e-9 && Math.abs(Math.abs(axes.components[1] as number) - 0.8) < 1e-9);
    assert.ok(Math.abs((axes.variances[0] as number) - 25 * 2) < 1e-9);
    assert.ok(Math.abs(axes.totalVariance - 25 * 2) < 1e-9, 'all variance on the line');
  });

  it('summary holds every measure; errors name the problem; no tensor leaks', () => {
    const rng = new Rng(17);
    const q = flat(randomRows(12, 4, rng));
    const t = flat(randomRows(12, 4, rng));
    const before = tf.memory().numTensors;
    const s = coherenceSummary({ queries: q, targets: t, dim: 4, turns: { embeddings: q, groups: [0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 3] } });
    assert.equal(tf.memory().numTensors, before);
    assert.ok(Math.abs((s['alignment'] as number) - alignment(q, t, 4)) < 1e-9);
    assert.equal(Object.keys(s).length, 10);
    assert.throws(() => alignment(q, t.slice(0, 8), 4), /same number of rows \(pairs\), got \[12, 4\] and \[2, 4\]/);
    assert.throws(() => uniformity(q.slice(0, 4), 4), /at least 2 rows/);
    assert.throws(() => turnAgreement(q, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11], 4), /no two rows share a group/);
    assert.throws(() => turnAgreement(q, new Array(12).fill(0), 4), /at least 2 dialogues/);
    assert.throws(() => modalityGap(q.slice(0, 5), t, 4), /not a multiple of 4/);
  });
});
