/**
 * Every loss against a loop-based twin written here in float64 (≤ 1e-5), finite-difference gradient checks
 * of the twins against tfjs autodiff, the k = 1 reduction, and tensor hygiene.
 */
import { strict as assert } from 'assert';
import * as tf from '@tensorflow/tfjs';
import { initBackend, tensorsLeftBy } from '../lib/backend';
import { duplicateTargetMask, FinetunePair, infoNCE, LearnableTemperature, MASKED_LOGIT, mucoFinetuneLoss, mucoPretrainLoss, sameGroupMask } from '../lib/loss';
import { Rng } from '../lib/random';

type M = number[][];

function randomUnit(n: number, d: number, rng: Rng): M {
  return Array.from({ length: n }, () => {
    const v = Array.from({ length: d }, () => rng.normal());
    const norm = Math.hypot(...v);
    return v.map((x) => x / norm);
  });
}

const dot = (a: number[], b: number[]): number => a.reduce((s, x, i) => s + x * (b[i] as number), 0);

/** −log of the softmax of `pos` among `all` (all includes pos), in float64. */
function nll(pos: number, all: number[]): number {
  const max = Math.max(...all);
  return -(pos - max - Math.log(all.reduce((s, x) => s + Math.exp(x - max), 0)));
}

/** Plain InfoNCE, query→target, with optional "keep(i, j)" predicate and hard negatives. */
function naiveInfoNCE(q: M, t: M, tau: number, positives: number[], keep: (i: number, j: number) => boolean = () => true, hard: M = []): number {
  let total = 0;
  q.forEach((qi, i) => {
    const pos = positives[i] as number;
    const logits: number[] = [];
    t.forEach((tj, j) => {
      if (j === pos || keep(i, j)) logits.push(dot(qi, tj) / tau);
    });
    hard.forEach((h) => logits.push(dot(qi, h) / tau));
    total += nll(dot(qi, t[pos] as number[]) / tau, logits);
  });
  return total / q.length;
}

function naiveMuco(q: M, t: M, groups: number[], tau: number, mask: boolean): number {
  return naiveInfoNCE(
    q,
    t,
    tau,
    q.map((_, i) => i),
    (i, j) => !mask || groups[i] !== groups[j],
  );
}

function naiveFinetune(q: M, qa: M, p: M, pa: M, tau: number, form: 'paper' | 'official', pairs: FinetunePair[], maskTwin = true): number {
  const diag = q.map((_, i) => i);
  const terms = pairs.map((pair) => {
    const x = pair.startsWith('q_') ? qa : q;
    const aug = pair.endsWith('p_');
    if (form === 'official') return naiveInfoNCE(x, aug ? pa : p, tau, diag);
    const b = q.length;
    const targets = [...p, ...pa];
    const twin = (i: number): number => (aug ? i : b + i);
    return naiveInfoNCE(
      x,
      targets,
      tau,
      diag.map((i) => (aug ? b + i : i)),
      (i, j) => !maskTwin || j !== twin(i),
    );
  });
  const sum = terms.reduce((s, v) => s + v, 0);
  return form === 'official' ? sum : sum / pairs.length;
}

const T = (m: M): tf.Tensor2D => tf.tensor2d(m);
const close = (a: number, b: number, tol = 1e-5, what = ''): void => assert.ok(Math.abs(a - b) <= tol * Math.max(1, Math.abs(b)), `${what} ${a} vs ${b}`);

/** Central finite differences of f (float64) w.r.t. every entry of x. */
function finiteDiff(f: (x: M) => number, x: M, h = 1e-5): M {
  return x.map((row, i) =>
    row.map((_, j) => {
      const plus = x.map((r) => r.slice());
      const minus = x.map((r) => r.slice());
      const up = plus[i] as number[];
      const down = minus[i] as number[];
      up[j] = (up[j] as number) + h;
      down[j] = (down[j] as number) - h;
      return (f(plus) - f(minus)) / (2 * h);
    }),
  );
}

function assertGradClose(auto: tf.Tensor, fd: M, what: string): void {
  const a = auto.arraySync() as M;
  const scale = Math.max(1e-3, ...fd.flat().map(Math.abs));
  a.flat().forEach((v, i) => assert.ok(Math.abs(v - (fd.flat()[i] as number)) <= 2e-3 * scale, `${what}[${i}]: ${v} vs ${fd.flat()[i]}`));
}

describe('losses', () => {
  before(async () => {
    await initBackend({ backend: 'cpu' });
  });
  const rng = new Rng(1);

  it('infoNCE equals its loop twin (diagonal, masked, hard negatives, symmetric)', () => {
    const q = randomUnit(6, 8, rng);
    const t = randomUnit(6, 8, rng);
    const hard = randomUnit(3, 8, rng);
    const groups = [0, 0, 1, 1, 1, 2];
    const diag = [0, 1, 2, 3, 4, 5];
    tf.tidy(() => {
      close(infoNCE(T(q), T(t), { temperature: 0.05 }).total.arraySync(), naiveInfoNCE(q, t, 0.05, diag), 1e-5, 'plain');
      const masked = infoNCE(T(q), T(t), { temperature: 0.05, logitMask: sameGroupMask(groups) }).total.arraySync();
      close(
        masked,
        naiveInfoNCE(q, t, 0.05, diag, (i, j) => groups[i] !== groups[j]),
        1e-5,
        'masked',
      );
      close(
        infoNCE(T(q), T(t), { temperature: 0.1, hardNegatives: T(hard) }).total.arraySync(),
        naiveInfoNCE(q, t, 0.1, diag, () => true, hard),
        1e-5,
        'hard',
      );
      const sym = infoNCE(T(q), T(t), { temperature: 0.1, symmetric: true });
      close(sym.parts['tq']?.arraySync() as number, naiveInfoNCE(t, q, 0.1, diag), 1e-5, 'tq');
      close(sym.total.arraySync(), (naiveInfoNCE(q, t, 0.1, diag) + naiveInfoNCE(t, q, 0.1, diag)) / 2, 1e-5, 'sym');
    });
  });

  it('MuCo pretraining loss equals its twin for a variable k per image, masked and unmasked', () => {
    const groups = [0, 0, 0, 1, 2, 2, 2, 2, 2, 2, 2, 3, 3];
    const q = randomUnit(groups.length, 16, rng);
    const t = randomUnit(groups.length, 16, rng);
    for (const mask of [true, false]) {
      const got = tf.tidy(() => mucoPretrainLoss(T(q), T(t), groups, { temperature: 0.02, logitMask: mask }).total.arraySync());
      close(got, naiveMuco(q, t, groups, 0.02, mask), 1e-5, `mask=${mask}`);
    }
  });

  it('with the mask off, or k = 1, MuCo equals plain InfoNCE', () => {
    const q = randomUnit(5, 8, rng);
    const t = randomUnit(5, 8, rng);
    tf.tidy(() => {
      const plain = infoNCE(T(q), T(t), { temperature: 0.02 }).total.arraySync();
      close(mucoPretrainLoss(T(q), T(t), [0, 0, 1, 1, 1], { temperature: 0.02, logitMask: false }).total.arraySync(), plain, 1e-6);
      close(mucoPretrainLoss(T(q), T(t), [0, 1, 2, 3, 4], { temperature: 0.02, logitMask: true }).total.arraySync(), plain, 1e-6);
    });
  });

  it('masking duplicate targets equals its twin: each distinct text once per denominator, with and without the image mask', () => {
    const groups = [0, 0, 0, 1, 1, 2, 2, 2, 3, 4];
    const texts = ['yellow', 'people & body', 'Emoji 1.0', 'yellow', 'red', 'people & body', 'yellow', 'Emoji 1.0', 'yellow', 'red'];
    const q = randomUnit(groups.length, 12, rng);
    const t = randomUnit(groups.length, 12, rng);
    for (const mask of [true, false]) {
      // Twin: row i keeps its positive, then the first column of each other text among the allowed columns.
      let total = 0;
      q.forEach((qi, i) => {
        const seen = new Set([texts[i]]);
        const logits = [dot(qi, t[i] as number[]) / 0.05];
        t.forEach((tj, j) => {
          if (j === i || (mask && groups[i] === groups[j]) || seen.has(texts[j])) return;
          seen.add(texts[j]);
          logits.push(dot(qi, tj) / 0.05);
        });
        total += nll(logits[0] as number, logits);
      });
      const got = tf.tidy(() => mucoPretrainLoss(T(q), T(t), groups, { temperature: 0.05, logitMask: mask, targetTexts: texts }).total.arraySync());
      close(got, total / q.length, 1e-5, `mask=${mask}`);
    }
    // With every text distinct it is the MuCo loss.
    const distinct = groups.map((_, i) => `answer ${i}`);
    tf.tidy(() =>
      close(
        mucoPretrainLoss(T(q), T(t), groups, { temperature: 0.05, logitMask: true, targetTexts: distinct }).total.arraySync(),
        naiveMuco(q, t, groups, 0.05, true),
        1e-6,
      ),
    );
  });

  it('the duplicate mask keeps a text whose first copy is same-image masked, and rejects bad input', () => {
    // Row 0: target 1 (same image, masked) and target 2 (another image) both say "b": target 2 is kept.
    const m = duplicateTargetMask(['a', 'b', 'b', 'a'], sameGroupMask([0, 0, 1, 2]));
    const blocked = Array.from(m, (v) => (v === MASKED_LOGIT ? 1 : 0));
    assert.deepEqual(blocked, [0, 1, 0, 1, 1, 0, 1, 0, 0, 1, 0, 1, 1, 0, 1, 0]);
    assert.throws(() => duplicateTargetMask(['a', 'b'], new Float32Array(3)), /base mask has 3 entries, expected 2/);
    const [q, t] = [randomUnit(2, 4, rng), randomUnit(2, 4, rng)];
    assert.throws(() => mucoPretrainLoss(T(q), T(t), [0, 1], { temperature: 0.05, logitMask: true, targetTexts: ['a'] }), /1 target texts for 2 targets/);
    assert.throws(
      () => mucoPretrainLoss(T(q), T(t), [0, 1], { temperature: 0.05, logitMask: true, targetTexts: ['a', 'a'], symmetric: true }),
      /turn symmetric off/,
    );
  });

  it('the MuCo mask blanks same-image off-diagonal blocks only (Fig. 3)', () => {
    const m = sameGroupMask([0, 0, 1, 1]);
    const blocked = Array.from(m, (v) => (v < 0 ? 1 : 0));
    assert.deepEqual(blocked, [0, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 1, 0, 0, 1, 0]);
  });

  for (const form of ['paper', 'official'] as const) {
    it(`fine-tuning loss (${form}) equals its twin for all pairs and for subsets (Table E)`, () => {
      const [q, qa, p, pa] = [0, 1, 2, 3].map(() => randomUnit(4, 8, rng)) as [M, M, M, M];
      const subsets: FinetunePair[][] = [['qp', 'qp_', 'q_p', 'q_p_'], ['qp'], ['qp', 'q_p_']];
      for (const pairs of subsets) {
        const got = tf.tidy(() => mucoFinetuneLoss(T(q), T(qa), T(p), T(pa), { temperature: 0.05, form, pairs }).total.arraySync());
        close(got, naiveFinetune(q, qa, p, pa, 0.05, form, pairs), 1e-5, pairs.join('+'));
      }
    });
  }

  it('paper form without the twin mask counts the twin as a negative', () => {
    const [q, qa, p, pa] = [0, 1, 2, 3].map(() => randomUnit(3, 8, rng)) as [M, M, M, M];
    const got = tf.tidy(() => mucoFinetuneLoss(T(q), T(qa), T(p), T(pa), { temperature: 0.05, form: 'paper', maskTwin: false }).total.arraySync());
    close(got, naiveFinetune(q, qa, p, pa, 0.05, 'paper', ['qp', 'qp_', 'q_p', 'q_p_'], false));
    const masked = tf.tidy(() => mucoFinetuneLoss(T(q), T(qa), T(p), T(pa), { temperature: 0.05, form: 'paper' }).total.arraySync());
    assert.ok(got > masked, 'a twin in the denominator can only raise the loss');
  });

  it('gradients match finite differences of the twins (InfoNCE masked, fine-tuning paper form)', () => {
    const groups = [0, 0, 1, 2, 2];
    const q = randomUnit(5, 4, rng);
    const t = randomUnit(5, 4, rng);
    const tau = 0.3;
    const [gq, gt] = tf.grads(
      (a: tf.Tensor, b: tf.Tensor) => mucoPretrainLoss(a as tf.Tensor2D, b as tf.Tensor2D, groups, { temperature: tau, logitMask: true }).total,
    )([T(q), T(t)]) as [tf.Tensor, tf.Tensor];
    assertGradClose(
      gq,
      finiteDiff((x) => naiveMuco(x, t, groups, tau, true), q),
      'dq',
    );
    assertGradClose(
      gt,
      finiteDiff((x) => naiveMuco(q, x, groups, tau, true), t),
      'dt',
    );
    const [a, b, c, d] = [0, 1, 2, 3].map(() => randomUnit(3, 4, rng)) as [M, M, M, M];
    const g = tf.grads(
      (x: tf.Tensor, y: tf.Tensor) => mucoFinetuneLoss(x as tf.Tensor2D, y as tf.Tensor2D, T(c), T(d), { temperature: tau, form: 'paper' }).total,
    )([T(a), T(b)]) as [tf.Tensor, tf.Tensor];
    const all: FinetunePair[] = ['qp', 'qp_', 'q_p', 'q_p_'];
    assertGradClose(
      g[0],
      finiteDiff((x) => naiveFinetune(x, b, c, d, tau, 'paper', all), a),
      'dq',
    );
    assertGradClose(
      g[1],
      finiteDiff((x) => naiveFinetune(a, x, c, d, tau, 'paper', all), b),
      'dq′',
    );
    tf.dispose([gq, gt, ...g]);
  });

  it('diagnostics: positive mean, hardest unmasked negative, accuracy', () => {
    const q = [
      [1, 0],
      [0, 1],
    ];
    const t = [
      [1, 0],
      [1, 0],
    ];
    tf.tidy(() => {
      const { diagnostics } = infoNCE(T(q), T(t), { temperature: 0.1 });
      close(diagnostics.positive.arraySync(), (1 + 0) / 2);
      close(diagnostics.hardestNegative.arraySync(), (1 + 0) / 2);
      close(diagnostics.accuracy.arraySync(), 0); // row 0 ties with its negative; row 1 loses
    });
  });

  it('a learnable temperature is clamped and gets a gradient', () => {
    const temp = new LearnableTemperature(0.05, 0.01, 0.5);
    const q = T(randomUnit(4, 8, rng));
    const t = T(randomUnit(4, 8, rng));
    const { grads } = tf.variableGrads(() => infoNCE(q, t, { temperature: temp.value() }).total, [temp.logTau]);
    assert.ok(Number.isFinite((grads[temp.logTau.name] as tf.Tensor).arraySync() as number));
    temp.logTau.assign(tf.scalar(Math.log(10)));
    close(temp.value().arraySync(), 0.5);
    assert.throws(() => new LearnableTemperature(2, 0.01, 1), /must lie in/);
    temp.dispose();
    tf.dispose([q, t, ...Object.values(grads)]);
  });

  it('rejects mismatched shapes with the shapes named', () => {
    assert.throws(
      () => infoNCE(tf.zeros([3, 4]), tf.zeros([3, 5]), { temperature: 0.02 }),
      /expected queries \[N, D\] and targets \[M, D\], got \[3, 4\] and \[3, 5\]/,
    );
    assert.throws(() => mucoPretrainLoss(tf.zeros([3, 4]), tf.zeros([3, 4]), [0, 1], { temperature: 0.02, logitMask: true }), /must agree/);
  });

  it('leaks no tensors', async () => {
    const q = T(randomUnit(6, 8, rng));
    const t = T(randomUnit(6, 8, rng));
    const { leaked } = await tensorsLeftBy(() => {
      tf.tidy(() => {
        mucoPretrainLoss(q, t, [0, 0, 1, 1, 2, 2], { temperature: 0.02, logitMask: true });
      });
    });
    assert.equal(leaked, 0);
    tf.dispose([q, t]);
  });
});
