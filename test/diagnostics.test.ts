/**
 * Diagnostics of whether a model sees its images: the mean pairwise cosine and the linear probe against naive
 * loop-based twins written here, probe labels against the facts the data build measured, and
 * `diagnoseEmbedder` end to end on a tiny model and a limited data build (keys, ranges, no tensor leak).
 */
import { strict as assert } from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../lib/backend';
import { buildData } from '../lib/data/build';
import { readCacheIndex } from '../lib/data/cache';
import { normalizeRecord, readMiniM3t, TrainingRecord } from '../lib/data/m3t';
import { solveSpd } from '../lib/diagnostics/cholesky';
import { meanPairwiseCosine } from '../lib/diagnostics/cosine';
import { diagnoseEmbedder } from '../lib/diagnostics/diagnose';
import { dominantColour, emojiGroup, probeLabels } from '../lib/diagnostics/labels';
import { fitLinearProbe, linearProbe, LINEAR_PROBE_DEFAULTS, majorityClass, predictLinearProbe, ProbeSet } from '../lib/diagnostics/linear-probe';
import { logLevel, LogLevel, setLogLevel } from '../lib/log';
import { modelConfig } from '../lib/model/config';
import { Embedder } from '../lib/model/embedder';
import { Rng } from '../lib/random';
import { Tokenizer } from '../lib/tokenizer';

const ROOT = path.resolve(__dirname, '..');

// ---------------------------------------------------------------------------------------------------------
// Naive twins.

function naiveMeanPairwiseCosine(x: Float32Array, n: number, d: number): number {
  const row = (i: number): number[] => Array.from(x.subarray(i * d, (i + 1) * d));
  const norm = (v: number[]): number => Math.sqrt(v.reduce((s, a) => s + a * a, 0));
  let sum = 0;
  let pairs = 0;
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++) {
      const a = row(i);
      const b = row(j);
      sum += a.reduce((s, v, k) => s + v * (b[k] as number), 0) / (norm(a) * norm(b));
      pairs++;
    }
  }
  return sum / pairs;
}

/** Solve A X = B ([m, m], [m, k] as nested arrays) by Gaussian elimination with partial pivoting. */
function gaussSolve(a: number[][], b: number[][]): number[][] {
  const m = a.length;
  const A = a.map((r) => r.slice());
  const B = b.map((r) => r.slice());
  for (let col = 0; col < m; col++) {
    let pivot = col;
    for (let r = col + 1; r < m; r++) if (Math.abs(A[r]![col]!) > Math.abs(A[pivot]![col]!)) pivot = r;
    [A[col], A[pivot]] = [A[pivot]!, A[col]!];
    [B[col], B[pivot]] = [B[pivot]!, B[col]!];
    for (let r = col + 1; r < m; r++) {
      const f = A[r]![col]! / A[col]![col]!;
      for (let c = col; c < m; c++) A[r]![c]! -= f * A[col]![c]!;
      for (let c = 0; c < B[0]!.length; c++) B[r]![c]! -= f * B[col]![c]!;
    }
  }
  const X = B.map((r) => r.map(() => 0));
  for (let r = m - 1; r >= 0; r--) {
    for (let c = 0; c < B[0]!.length; c++) {
      let s = B[r]![c]!;
      for (let p = r + 1; p < m; p++) s -= A[r]![p]! * X[p]![c]!;
      X[r]![c] = s / A[r]![r]!;
    }
  }
  return X;
}

/**
 * The probe's fit written the obvious way: standardise, append a bias column, and solve the normal equations
 * of (1/n)‖[X 1] β − Y‖² + λ‖W‖² (bias unpenalised) by Gaussian elimination. Returns W [d][C] and b [C].
 */
function naiveRidge(train: ProbeSet, d: number, lambda: number): { w: number[][]; bias: number[] } {
  const n = train.labels.length;
  const classes = [...new Set(train.labels)].sort((a, b) => a - b);
  const rows = Array.from({ length: n }, (_, i) => Array.from(train.x.subarray(i * d, (i + 1) * d)));
  const mean = Array.from({ length: d }, (_, k) => rows.reduce((s, r) => s + r[k]!, 0) / n);
  const sd = Array.from({ length: d }, (_, k) => Math.sqrt(rows.reduce((s, r) => s + (r[k]! - mean[k]!) ** 2, 0) / n));
  const z = rows.map((r) => [...r.map((v, k) => (v - mean[k]!) / sd[k]!), 1]);
  const y = train.labels.map((l) => classes.map((c) => (c === l ? 1 : -1)));
  const a = Array.from({ length: d + 1 }, (_, p) =>
    Array.from({ length: d + 1 }, (_, q) => z.reduce((s, r) => s + r[p]! * r[q]!, 0) + (p === q && p < d ? n * lambda : 0)),
  );
  const b = Array.from({ length: d + 1 }, (_, p) => classes.map((_, j) => z.reduce((s, r, i) => s + r[p]! * y[i]![j]!, 0)));
  const beta = gaussSolve(a, b);
  return { w: beta.slice(0, d), bias: beta[d]! };
}

// ---------------------------------------------------------------------------------------------------------
// Synthetic data.

function gaussianRows(rng: Rng, n: number, d: number, scale = 1): Float32Array {
  return Float32Array.from({ length: n * d }, () => rng.normal() * scale);
}

/** n points per class around well-separated centres (class c at 10·e_c). */
function clusters(rng: Rng, perClass: number, classes: number, d: number): ProbeSet {
  const labels: number[] = [];
  const x = new Float32Array(perClass * classes * d);
  for (let c = 0; c < classes; c++) {
    for (let i = 0; i < perClass; i++) {
      const row = c * perClass + i;
      labels.push(c);
      for (let k = 0; k < d; k++) x[row * d + k] = rng.normal() + (k === c ? 10 : 0);
    }
  }
  return { x, labels };
}

function record(fields: Record<string, unknown>, row: number): TrainingRecord {
  return normalizeRecord({ qry: 'q', pos_text: 'a', qry_image_path: `img/${row}.png`, ...fields }, 'fixture', row);
}

describe('diagnostics: does a model see its images', function () {
  this.timeout(60_000);

  describe('meanPairwiseCosine', () => {
    it('agrees with the pairwise loop, and knows identical, orthogonal and opposite rows', () => {
      const rng = new Rng(1);
      for (const [n, d] of [
        [2, 3],
        [7, 5],
        [30, 16],
      ] as const) {
        const x = gaussianRows(rng, n, d);
        assert.ok(Math.abs(meanPairwiseCosine(x, n, d) - naiveMeanPairwiseCosine(x, n, d)) < 1e-9);
      }
      assert.ok(Math.abs(meanPairwiseCosine(Float32Array.from([1, 2, 3, 2, 4, 6, 0.5, 1, 1.5]), 3, 3) - 1) < 1e-9, 'identical directions, any norms');
      assert.ok(Math.abs(meanPairwiseCosine(Float32Array.from([3, 0, 0, 0, 2, 0, 0, 0, 5]), 3, 3)) < 1e-12, 'orthogonal');
      assert.ok(Math.abs(meanPairwiseCosine(Float32Array.from([1, 2, -1, -2]), 2, 2) + 1) < 1e-12, 'opposite');
      // Two opposite pairs on orthogonal axes: pairs (a, −a), (b, −b) give −1, the four cross pairs 0 → −2/6.
      assert.ok(Math.abs(meanPairwiseCosine(Float32Array.from([1, 0, -1, 0, 0, 1, 0, -1]), 4, 2) + 1 / 3) < 1e-12);
    });

    it('refuses zero rows, fewer than two rows and a wrong length, saying what to do', () => {
      assert.throws(() => meanPairwiseCosine(Float32Array.from([1, 0, 0, 0]), 2, 2), /row 1 is all zeros.*drop it/);
      assert.throws(() => meanPairwiseCosine(Float32Array.from([1, 0]), 1, 2), /at least 2 rows/);
      assert.throws(() => meanPairwiseCosine(new Float32Array(5), 2, 2), /expected \[2, 2\] = 4 values, got 5/);
    });
  });

  describe('linear probe', () => {
    it('solveSpd agrees with Gaussian elimination and refuses an indefinite matrix', () => {
      const rng = new Rng(2);
      const m = 9;
      const k = 3;
      const g = Array.from({ length: m }, () => Array.from({ length: m }, () => rng.normal()));
      const a = g.map((_, i) => g.map((__, j) => g.reduce((s, r) => s + r[i]! * r[j]!, 0) + (i === j ? 0.5 : 0)));
      const b = Array.from({ length: m }, () => Array.from({ length: k }, () => rng.normal()));
      const x = solveSpd(Float64Array.from(a.flat()), Float64Array.from(b.flat()), m, k);
      const naive = gaussSolve(a, b).flat();
      naive.forEach((v, i) => assert.ok(Math.abs(v - (x[i] as number)) < 1e-8, `entry ${i}: ${v} vs ${x[i]}`));
      assert.throws(() => solveSpd(Float64Array.from([1, 2, 2, 1]), Float64Array.from([1, 1]), 2, 1), /not positive definite.*increase lambda/);
    });

    it('primal and dual fits equal the naive normal equations with an unpenalised bias', () => {
      const rng = new Rng(3);
      for (const [n, d] of [
        [24, 6],
        [8, 20],
      ] as const) {
        const train: ProbeSet = { x: gaussianRows(rng, n, d, 3), labels: Array.from({ length: n }, () => rng.int(3)) };
        const naive = naiveRidge(train, d, 0.3);
        const fits = (['primal', 'dual'] as const).map((form) => fitLinearProbe(train, d, { lambda: 0.3, form }));
        for (const fit of fits) {
          assert.equal(fit.lambda, 0.3);
          naive.w.flat().forEach((v, i) => assert.ok(Math.abs(v - (fit.w[i] as number)) < 1e-8, `${fit.form} n=${n} d=${d} W[${i}]: ${v} vs ${fit.w[i]}`));
          naive.bias.forEach((v, j) => assert.ok(Math.abs(v - (fit.bias[j] as number)) < 1e-9, `${fit.form} bias[${j}]`));
        }
        // Cross-validation solves the same systems in either form, so it picks the same λ.
        const [p, q] = (['primal', 'dual'] as const).map((form) => fitLinearProbe(train, d, { form }));
        assert.equal(p?.lambda, q?.lambda);
        assert.ok(LINEAR_PROBE_DEFAULTS.lambdas.includes(p?.lambda as number));
        const test = gaussianRows(rng, 10, d, 3);
        assert.deepEqual(predictLinearProbe(p!, test), predictLinearProbe(q!, test));
      }
    });

    it('separates well-separated clusters perfectly, with the dual form when d > n', () => {
      const rng = new Rng(4);
      const r = linearProbe(clusters(rng, 20, 3, 5), clusters(rng, 10, 3, 5), 5);
      assert.deepEqual([r.accuracy, r.trainAccuracy, r.classes, r.form], [1, 1, 3, 'primal']);
      assert.ok(Math.abs(r.majorityAccuracy - 1 / 3) < 1e-12);
      // Few examples in many dimensions (the raw-pixel case): class c lifts features 10c … 10c+9.
      const wide = (perClass: number): ProbeSet => {
        const set = clusters(rng, perClass, 3, 60);
        set.labels.forEach((c, i) => {
          for (let k = 0; k < 10; k++) set.x[i * 60 + 10 * c + k] = (set.x[i * 60 + 10 * c + k] as number) + 3;
        });
        return set;
      };
      const w = linearProbe(wide(6), wide(10), 60);
      assert.deepEqual([w.accuracy, w.form], [1, 'dual']);
    });

    it('scores near the majority baseline when labels ignore the features', () => {
      const rng = new Rng(5);
      const set = (n: number): ProbeSet => ({ x: gaussianRows(rng, n, 10), labels: Array.from({ length: n }, () => (rng.next() < 0.7 ? 0 : 1)) });
      const r = linearProbe(set(300), set(300), 10);
      assert.ok(Math.abs(r.majorityAccuracy - 0.7) < 0.07, `majority ${r.majorityAccuracy}`);
      assert.ok(Math.abs(r.accuracy - r.majorityAccuracy) < 0.06, `accuracy ${r.accuracy} vs majority ${r.majorityAccuracy} (λ ${r.lambda})`);
    });

    it('counts unseen test classes as wrong, breaks majority ties towards the smaller id, and says what is wrong', () => {
      const train: ProbeSet = { x: Float32Array.from([0, 1, 5, 6]), labels: [0, 0, 1, 1] };
      assert.equal(linearProbe(train, { x: Float32Array.from([0, 6]), labels: [7, 7] }, 1).accuracy, 0);
      assert.equal(majorityClass([3, 1, 3, 1]), 1);
      assert.throws(() => linearProbe(train, { x: new Float32Array(3), labels: [0, 1] }, 1), /test\.x must be \[2, 1\].*got 3/);
      assert.throws(() => linearProbe({ ...train, labels: [0, 0.5, 1, 1] }, train, 1), /labels\[1\] must be an integer.*map class names to ids/);
      assert.throws(() => linearProbe(train, train, 1, { lambda: 0 }), /lambda .* must be a finite number > 0/);
      assert.throws(() => linearProbe({ x: new Float32Array(0), labels: [] }, train, 1), /train set is empty/);
    });
  });

  describe('probe labels', () => {
    const emoji =
      'grinning face: an emoji of the smileys & emotion group (smiling), drawn in the flat Twemoji style. It is mostly yellow, orange and brown. Keywords: face.';
    const flag =
      'Flag of France (French Republic), drawn in the flag-icons 4:3 rendering. A country in Western Europe, Europe. The flag is mostly white, blue and red, blue at the top and red at the bottom.';
    const noColour = 'thing: an emoji of the objects group (tool), drawn in the glossy Noto Emoji style. Keywords: x.';

    it('reads the dominant colour and the emoji group from the description the training answers come from', () => {
      assert.equal(dominantColour(emoji), 'yellow');
      assert.equal(dominantColour(flag), 'white');
      assert.equal(dominantColour(noColour), undefined);
      assert.equal(dominantColour('It is mostly plaid.'), undefined);
      assert.equal(emojiGroup(emoji), 'smileys & emotion');
      assert.equal(emojiGroup('man: red hair: an emoji of the people & body group (person), drawn …'), 'people & body');
      assert.equal(emojiGroup(flag), undefined);
    });

    it('labels the image records that state the fact; country flags are not in the group task', () => {
      const records = [
        record({ qry_sentence: emoji, concept: 'emoji:1F600', style: 'twemoji' }, 0),
        record({ qry_sentence: flag, concept: 'flag:FR', style: 'flag-icons' }, 1),
        record({ qry_sentence: noColour, concept: 'emoji:1F527', style: 'noto' }, 2),
        record({ qry_sentence: emoji, concept: 'emoji:1F600', style: 'noto', qry_image_path: '' }, 3),
      ];
      const ids = (task: 'colour' | 'group' | 'style'): string[] => probeLabels(records, task).map((l) => `${l.record.source.row}:${l.label}`);
      assert.deepEqual(ids('colour'), ['0:yellow', '1:white']);
      assert.deepEqual(ids('group'), ['0:smileys & emotion', '2:objects']);
      assert.deepEqual(ids('style'), ['0:twemoji', '1:flag-icons', '2:noto']);
      assert.throws(() => probeLabels(records, 'size' as 'style'), /unknown task 'size'; expected one of colour, group, style/);
    });
  });

  describe('on a limited data build', () => {
    let tmp: string;
    let dataDir: string;
    let previous: LogLevel;

    before(async () => {
      previous = logLevel();
      setLogLevel('warn');
      await initBackend({ backend: 'wasm' }); // the cpu backend takes ~15× longer on the model forward passes
      tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'muco-diag-'));
      dataDir = path.join(tmp, 'data');
      // A larger validation share than the default, so the validation split has images to score probes on.
      await buildData({
        root: ROOT,
        outDir: dataDir,
        limit: 30,
        splits: { seed: 33, validation: 0.4, test: 0.1, oodStyles: ['openmoji'] },
        miniMmeb: { maxQueries: 2, maxCandidates: 4 },
        miniMbeir: { maxQueries: 2 },
      });
    });
    after(async () => {
      setLogLevel(previous);
      fs.rmSync(tmp, { recursive: true, force: true });
      await initBackend({ backend: 'cpu' });
    });

    it('colour labels are the colour facts the cache measured; every emoji gets a group, every record its style', async () => {
      const { records, cacheDir } = await readMiniM3t(dataDir, 'train');
      const facts = new Map(readCacheIndex(cacheDir).entries.map((e) => [e.path, e.colours.main[0]?.name]));
      const colour = probeLabels(records, 'colour');
      assert.ok(colour.length > 0.9 * records.length, `${colour.length} of ${records.length} labelled`);
      for (const { record: r, label } of colour) assert.equal(label, facts.get(r.queryImagePath), r.id);
      const emojiRecords = records.filter((r) => r.concept?.startsWith('emoji:'));
      assert.equal(probeLabels(records, 'group').length, emojiRecords.length);
      assert.deepEqual(
        probeLabels(records, 'style').map((l) => l.label),
        records.map((r) => r.style),
      );
    });

    it('diagnoseEmbedder gives every key in range on a tiny model and leaves no tensor behind', async () => {
      const tokenizer = Tokenizer.fromCorpus(['Which colour dominates?', 'Give a complete description of what is shown.', 'What is this emoji called?']);
      const model = Embedder.create(modelConfig('tiny', { imageSize: 32, patchSize: 4, vocabSize: tokenizer.vocabSize }), tokenizer, 0);
      try {
        await model.embedInputs([{ image: new Float32Array(32 * 32 * 3).fill(0.5) }]); // warm-up
        const before = tf.memory().numTensors;
        const out = await diagnoseEmbedder(model, { dataDir, trainImages: 40, testImages: 30, seed: 1 });
        assert.equal(tf.memory().numTensors, before, 'diagnoseEmbedder leaked tensors');
        for (const features of ['pixels', 'vision', 'embedding', 'majority']) {
          for (const task of ['colour', 'group', 'style']) {
            const v = out[`probe.${features}.${task}`];
            assert.ok(v !== undefined && v >= 0 && v <= 1, `probe.${features}.${task} = ${v} (keys: ${Object.keys(out).join(', ')})`);
          }
        }
        assert.equal(out['images.train'], 40);
        assert.ok((out['images.test'] as number) >= 10, `only ${out['images.test']} validation images in the fixture`);
        const cos = out['imageOnlyCosine'] as number;
        assert.ok(cos > -1 && cos <= 1 + 1e-6, `imageOnlyCosine ${cos}`);
        assert.ok((out['norm.imageTokens'] as number) > 0 && (out['norm.textTokens'] as number) > 0);
        // The raw pixels show the drawing style (flat vs glossy art, flag aspect ratios) far above chance.
        assert.ok((out['probe.pixels.style'] as number) > (out['probe.majority.style'] as number), JSON.stringify(out));
        await assert.rejects(diagnoseEmbedder(model, { dataDir, testImages: 1 }), /testImages must be ≥ 2/);
      } finally {
        model.dispose();
      }
    });
  });
});
