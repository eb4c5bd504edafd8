/**
 * Paper-versus-ours tables: our finished runs read back into the Table 1 / Table 2 layouts, the paper's rows
 * from results/paper, external MMEB and M-BEIR scores aggregated by hand-checked means, the noise band and
 * the verdicts.
 */
import { strict as assert } from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { experimentRuns } from '../lib/runner/catalog';
import { RunConfig } from '../lib/runner/config';
import { loadPaperTable } from '../lib/analysis/paper';
import {
  ablationRows,
  externalMbeirRows,
  externalMmebRow,
  mmebBand,
  noiseBand,
  ourMbeirRow,
  ourMmebRow,
  paperMbeirRows,
  paperMmebRows,
  readRunScores,
  verdict,
} from '../lib/analysis/paper-compare';
import { writeJson } from '../lib/results';
import { fakeFinishedRun } from './support/fake-run';

const mmeb = (overall: number) => ({
  metaTask: { CLS: 10, VQA: 20, RET: 30, VG: 40 },
  IND: 25,
  OOD: 35,
  overall,
  numDatasets: 19,
  complete: true,
  missing: [],
  perDataset: {},
});
const mbeirAgg = (average: number) => ({ perTask: {}, average, groups: { 'S→S': 1, 'S→M': 2, 'M→S': 3, 'M→M': 4 }, numTasks: 10, complete: true, missing: [] });

describe('paper compare', () => {
  let tmp: string;
  before(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'muco-compare-'));
    const [single, k7] = experimentRuns('core', 'smoke', [], ['single-turn', 'muco-k7']) as [RunConfig, RunConfig];
    fakeFinishedRun(tmp, single, { mmeb: mmeb(12), mbeir: { local: mbeirAgg(5), global: null }, validation: { recallAt1: 0.25 } });
    fakeFinishedRun(tmp, k7, { mmeb: mmeb(20), mbeir: { local: mbeirAgg(7), global: mbeirAgg(3) }, reusedFrom: 'x/y' });
  });
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  it('reads finished runs with their config, effective batch, query count and M-BEIR pools', () => {
    const [s, k] = readRunScores(path.join(tmp, 'core'), 'smoke', ['single-turn', 'muco-k7', 'missing']);
    assert.ok(s !== undefined && k !== undefined);
    assert.equal(s.source, 'ours (smoke)');
    assert.deepEqual([s.packing, s.turns, s.imagesPerStep, k.packing, k.turns], ['single', 1, 4, 'multi', 7]);
    assert.equal(k.pairsPerStep, 28);
    assert.equal(k.mmebQueries, 19 * 6);
    assert.equal(s.mbeir.global, null);
    assert.equal(k.mbeir.global?.average, 3);
    assert.equal(k.reusedFrom, 'x/y');
    assert.equal(s.row['val R@1'], 25);
    const row = ourMmebRow(k);
    assert.deepEqual([row.model, row.params, row.CLS, row.GRD, row.IND, row.OOD, row.Overall], ['core/muco-k7', '0.00M', 10, 40, 25, 35, 20]);
    assert.equal(ourMbeirRow(s, 'global'), null);
    assert.deepEqual(ourMbeirRow(k, 'local'), {
      source: 'ours (smoke)',
      setting: 'pretrained (zero-shot), mini-M-BEIR',
      model: 'core/muco-k7',
      params: '0.00M',
      pool: 'local',
      'S→S': 1,
      'S→M': 2,
      'M→S': 3,
      'M→M': 4,
      Overall: 7,
    });
  });

  it("lays out the paper's Table 1 and Table 2 rows", () => {
    const t1 = paperMmebRows(loadPaperTable('table-1'));
    assert.equal(t1.length, 22);
    const muco7 = t1.find((r) => r.model === 'MuCo-7B' && r.setting === 'fine-tuned ≥7B');
    assert.deepEqual(muco7, {
      source: 'paper',
      setting: 'fine-tuned ≥7B',
      model: 'MuCo-7B',
      params: '7B',
      CLS: 68.3,
      VQA: 71.9,
      RET: 73.7,
      GRD: 90.9,
      IND: 77.3,
      OOD: 69.1,
      Overall: 73.6,
    });
    assert.equal(paperMmebRows(loadPaperTable('table-1'), ['zero-shot']).length, 7);
    const global = paperMbeirRows(loadPaperTable('table-2'), 'global');
    const local = paperMbeirRows(loadPaperTable('table-2'), 'local');
    assert.equal(global.length, 13);
    assert.ok(!local.some((r) => r.model === 'MM-Embed' || r.model === 'M3Task-UEM'), 'no local number for them');
    assert.deepEqual(
      local.find((r) => r.model === 'MuCo-2B' && r.setting === 'fine-tuned'),
      {
        source: 'paper',
        setting: 'fine-tuned',
        model: 'MuCo-2B',
        params: '2B',
        pool: 'local',
        'S→S': null,
        'S→M': null,
        'M→S': null,
        'M→M': null,
        Overall: 54.2,
      },
    );
  });

  it('aggregates external MMEB score files (hand-computed means; incomplete sets labelled)', () => {
    const dir = path.join(tmp, 'ext-mmeb');
    const scores: Record<string, number> = { 'ImageNet-1K': 0.5, Place365: 0.3, 'OK-VQA': 0.6, VisDial: 0.8, MSCOCO: 0.9, 'CIFAR-100': 0.1 };
    for (const [name, v] of Object.entries(scores)) writeJson(path.join(dir, `${name}_score.json`), { 'hit@1': v, num_queries: 100 });
    const row = externalMmebRow(dir, 'my model');
    assert.equal(row.model, 'my model (5/36 data sets)');
    assert.deepEqual([row.CLS, row.VQA, row.RET, row.GRD], [40, 60, 80, 90]);
    assert.equal(row.IND, 70); // ImageNet-1K, OK-VQA, VisDial, MSCOCO: (50 + 60 + 80 + 90) / 4
    assert.equal(row.OOD, 30);
    assert.equal(row.Overall, 62); // (50 + 30 + 60 + 80 + 90) / 5
  });

  it('aggregates external M-BEIR scores from a JSON of recalls and from an eval run folder', () => {
    const file = path.join(tmp, 'mbeir.json');
    writeJson(file, { local: { mscoco_task0: 60, webqa_task2: 40, cirr_task7: 30, oven_task8: 50 } });
    const [row] = externalMbeirRows(file, 'ext');
    assert.deepEqual(row, {
      source: 'external',
      setting: 'M-BEIR',
      model: 'ext (4 sets)',
      params: '–',
      pool: 'local',
      'S→S': 60,
      'S→M': 40,
      'M→S': 30,
      'M→M': 50,
      Overall: 45,
    });
    const run = path.join(tmp, 'eval-run');
    writeJson(path.join(run, 'metrics.json'), { metadata: {}, metrics: { global: mbeirAgg(9), local: mbeirAgg(11) } });
    assert.deepEqual(
      externalMbeirRows(run, 'e').map((r) => [r.pool, r.Overall, r['M→M']]),
      [
        ['global', 9, 4],
        ['local', 11, 4],
      ],
    );
    writeJson(path.join(tmp, 'bad.json'), { other: 1 });
    assert.throws(() => externalMbeirRows(path.join(tmp, 'bad.json'), 'x'), /no "local" or "global" M-BEIR scores/);
  });

  it('noise band: 1.96·√(2p(1−p)/n), floored at one success', () => {
    assert.ok(Math.abs(noiseBand(50, 100) - 196 * Math.sqrt(0.005)) < 1e-9);
    assert.ok(Math.abs(noiseBand(0, 100) - 196 * Math.sqrt((2 * 0.01 * 0.99) / 100)) < 1e-9);
    assert.throws(() => noiseBand(50, 0), /n must be > 0/);
  });

  it('verdicts: same direction, opposite, within noise, not run', () => {
    assert.equal(verdict('a', { a: 58.2, b: 57.1 }, { a: 20, b: 12 }).agrees, 'same direction');
    assert.equal(verdict('a', { a: 58.2, b: 57.1 }, { a: 12, b: 20 }).agrees, 'opposite direction');
    const v = verdict('a', { a: 58.2, b: 57.1 }, { a: 13, b: 12 }, 5.04);
    assert.deepEqual(v, { comparison: 'a', 'paper Δ': 1.1, 'ours Δ': 1, 'noise ±': 5, agrees: 'within noise' });
    assert.equal(verdict('a', { a: 1, b: 0 }, { a: null, b: 2 }).agrees, 'not run');
    const [s, k] = readRunScores(path.join(tmp, 'core'), 'smoke', ['single-turn', 'muco-k7']);
    assert.ok(Math.abs((mmebBand(k, s) as number) - noiseBand(16, 114)) < 1e-9);
    assert.equal(mmebBand(undefined, s), null);
  });

  it('ablation rows put paper and our columns side by side', () => {
    const [, k] = readRunScores(path.join(tmp, 'core'), 'smoke', ['single-turn', 'muco-k7']);
    const rows = ablationRows(
      [
        { setup: 'with', paper: { ZS: 58.2 }, ours: k },
        { setup: 'without', paper: { ZS: 57.3 }, ours: undefined },
      ],
      ['MMEB overall'],
    );
    assert.deepEqual(rows, [
      { setup: 'with', 'paper ZS': 58.2, run: 'core/muco-k7', 'ours MMEB overall': 20 },
      { setup: 'without', 'paper ZS': 57.3, run: '(not run)', 'ours MMEB overall': null },
    ]);
  });
});
