import { strict as assert } from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import {
  DEFAULT_PAPER_DIR,
  listPaperTables,
  loadPaperTable,
  PAPER_TABLE_NAMES,
  PAPER_TABLE_SCHEMAS,
  PaperTableName,
  validatePaperTable,
} from '../lib/analysis/paper';

/** A row of `rows` picked by a predicate; fails the test naming what was looked for. */
function row<R>(rows: readonly R[], what: string, pick: (r: R) => boolean): R {
  const found = rows.filter(pick);
  assert.equal(found.length, 1, `expected exactly one row for ${what}, found ${found.length}`);
  return found[0] as R;
}

/** Printed values agree up to rounding to one decimal (each input and the output off by ≤ 0.05). */
const ROUNDING = 0.1;

function weightedMean(values: number[], weights: number[]): number {
  let s = 0;
  let w = 0;
  values.forEach((v, i) => {
    s += v * (weights[i] as number);
    w += weights[i] as number;
  });
  return s / w;
}

function rawTable(name: PaperTableName): Record<string, unknown> {
  return JSON.parse(fs.readFileSync(path.join(DEFAULT_PAPER_DIR, `${name}.json`), 'utf8')) as Record<string, unknown>;
}

describe('paper: the tables as data', () => {
  it('every schema has a file, and every file loads and validates', () => {
    assert.deepEqual(listPaperTables(), PAPER_TABLE_NAMES);
    assert.equal(PAPER_TABLE_NAMES.length, 13);
    for (const name of PAPER_TABLE_NAMES) {
      const t = loadPaperTable(name);
      const letter = name.replace('table-', '').replace('-eval', '').toUpperCase();
      assert.ok(t.source.includes(`Table ${letter}`), `${name}: source "${t.source}" should name Table ${letter}`);
      assert.ok(t.notes.length > 0 && t.rows.length > 0, `${name} needs notes and rows`);
      assert.deepEqual(
        t.columns.map((c) => c.name),
        Object.keys(PAPER_TABLE_SCHEMAS[name]),
      );
    }
  });

  it('rejects malformed files with the file, row and field named', () => {
    const t5 = rawTable('table-5');
    const rows = t5['rows'] as Record<string, unknown>[];
    const withRow = (patch: Record<string, unknown>): unknown => ({ ...t5, rows: [{ ...rows[0], ...patch }] });
    assert.throws(
      () => validatePaperTable('table-5', withRow({ pflops: '17.5' }), 'x.json'),
      /x\.json: rows\[0\]\.pflops must be a finite number, got "17\.5" \(string\)/,
    );
    assert.throws(() => validatePaperTable('table-5', withRow({ pflop: 1 }), 'x.json'), /rows\[0\] has unknown field\(s\) \[pflop\]/);
    const { zsMmeb: _dropped, ...lacking } = rows[0] as Record<string, unknown>;
    assert.throws(() => validatePaperTable('table-5', { ...t5, rows: [lacking] }), /rows\[0\] lacks "zsMmeb"/);
    assert.throws(() => validatePaperTable('table-5', { ...t5, extra: 1 }), /unknown \[extra\]/);
    assert.throws(() => validatePaperTable('table-5', { ...t5, source: 'Some paper' }), /"source" must start with/);
    const cols = (t5['columns'] as Record<string, unknown>[]).map((c) => (c['name'] === 'turns' ? { ...c, type: 'string' } : c));
    assert.throws(() => validatePaperTable('table-5', { ...t5, columns: cols }), /columns\[0\] \("turns"\) must have type "number"/);
    const t1 = rawTable('table-1');
    const r1 = (t1['rows'] as Record<string, unknown>[])[0];
    assert.throws(() => validatePaperTable('table-1', { ...t1, rows: [{ ...r1, setting: 'zeroshot' }] }), /rows\[0\]\.setting must be a string among/);
    assert.throws(() => validatePaperTable('table-1', { ...t1, rows: [{ ...r1, id: '–' }] }), /rows\[0\]\.id must be a finite number or null/);
    assert.throws(() => loadPaperTable('table-9' as PaperTableName), /Unknown paper table "table-9"; known: table-1/);
  });

  it('lists only files it has a schema for', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'paper-'));
    try {
      fs.copyFileSync(path.join(DEFAULT_PAPER_DIR, 'table-6.json'), path.join(dir, 'table-6.json'));
      assert.deepEqual(listPaperTables({ dir }), ['table-6']);
      assert.equal(loadPaperTable('table-6', { dir }).rows.length, 2);
      assert.throws(() => loadPaperTable('table-7', { dir }), /table-7\.json is missing/);
      fs.writeFileSync(path.join(dir, 'table-9.json'), '{}');
      assert.throws(() => listPaperTables({ dir }), /without a schema: table-9\.json/);
      fs.writeFileSync(path.join(dir, 'table-7.json'), '{"rows": [');
      assert.throws(() => loadPaperTable('table-7', { dir }), /table-7\.json is not valid JSON/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('spot checks against the reference transcription', () => {
    const t1 = loadPaperTable('table-1').rows;
    assert.equal(row(t1, 'MuCo-2B ZS', (r) => r.model === 'MuCo-2B' && r.setting === 'zero-shot').overall, 58.2);
    const muco7 = row(t1, 'MuCo-7B FT', (r) => r.model === 'MuCo-7B' && r.setting === 'fine-tuned ≥7B');
    assert.deepEqual([muco7.cls, muco7.vqa, muco7.ret, muco7.grd, muco7.id, muco7.ood, muco7.overall], [68.3, 71.9, 73.7, 90.9, 77.3, 69.1, 73.6]);
    assert.equal(row(t1, 'mmE5 ZS', (r) => r.model === 'mmE5' && r.setting === 'zero-shot').id, null);
    const t5 = loadPaperTable('table-5').rows;
    const seven = row(t5, '7 turns', (r) => r.turns === 7);
    assert.deepEqual([seven.batchImages, seven.effectiveBatch, seven.pflops, seven.zsMmeb], [1024, 7168, 18.0, 58.2]);
    assert.equal(row(t5, '1 turn × 7168', (r) => r.turns === 1 && r.batchImages === 7168).pflops, 122.7);
    const t2 = loadPaperTable('table-2').rows;
    const m2 = row(t2, 'MuCo-2B FT', (r) => r.model === 'MuCo-2B' && r.setting === 'fine-tuned');
    assert.deepEqual([m2.overall, m2.localOverall, m2.mm], [51.6, 54.2, 64.8]);
    const m3t = row(loadPaperTable('table-a').rows, 'M3T', (r) => r.dataset === 'M3T');
    assert.deepEqual([m3t.queryTokensPerBatch, m3t.positiveTokensPerBatch, m3t.iterations, m3t.secondsPerIteration], [1252352, 596992, 4984, 8.41]);
    assert.equal(row(loadPaperTable('table-7').rows, 'no masks', (r) => !r.pretrainMask && !r.finetuneMask).ft, 31.1);
    assert.equal(row(loadPaperTable('table-8').rows, '75%', (r) => r.setup === 'Counterpart masking 75%').score, 68.9);
    assert.equal(row(loadPaperTable('table-g').rows, '7B FT only', (r) => r.model === 'MuCo-7B' && !r.pretraining).overall, 55.5);
  });

  it('Table 5: effective batch = images × turns, 1-turn PFLOPs linear in the batch, lr as Supp. A', () => {
    const rows = loadPaperTable('table-5').rows;
    assert.equal(rows.length, 8);
    for (const r of rows) assert.equal(r.effectiveBatch, r.batchImages * r.turns);
    const base = row(rows, '1 × 1024', (r) => r.turns === 1 && r.batchImages === 1024).pflops;
    for (const r of rows.filter((x) => x.turns === 1)) {
      const linear = (base * r.batchImages) / 1024;
      assert.ok(Math.abs(r.pflops - linear) / linear < 0.005, `${r.batchImages} images: ${r.pflops} vs linear ${linear.toFixed(2)}`);
    }
    const at1024 = rows.filter((r) => r.batchImages === 1024).sort((a, b) => a.turns - b.turns);
    assert.deepEqual(
      at1024.map((r) => r.turns),
      [1, 2, 4, 7],
    );
    at1024.slice(1).forEach((r, i) => assert.ok(r.pflops >= (at1024[i] as { pflops: number }).pflops, 'PFLOPs grow with turns'));
    assert.deepEqual(
      rows.map((r) => r.learningRate),
      [5e-5, 5e-5, 1e-4, 2e-4, 2e-4, 5e-5, 5e-5, 5e-5],
    );
  });

  it('Table E: 11 cases, every 1- and 2-pair subset once, then all four', () => {
    const rows = loadPaperTable('table-e').rows;
    assert.equal(rows.length, 11);
    assert.deepEqual(
      rows.map((r) => r.case),
      [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11],
    );
    const keys = rows.map((r) => [...r.pairs].sort().join('+'));
    assert.equal(new Set(keys).size, 11);
    assert.deepEqual(
      rows.map((r) => r.pairs.length),
      [1, 1, 1, 1, 2, 2, 2, 2, 2, 2, 4],
    );
    const best = rows.reduce((a, b) => (b.score > a.score ? b : a));
    assert.equal(best.case, 11);
    assert.equal(best.score, 69.5);
  });

  it('Tables 1, 4, F: overall is the task-weighted mean up to rounding, except the rows the notes name', () => {
    const rows = loadPaperTable('table-1').rows;
    const offCategory = rows.filter((r) => Math.abs(weightedMean([r.cls, r.vqa, r.ret, r.grd], [10, 10, 12, 4]) - r.overall) > ROUNDING);
    assert.deepEqual(
      offCategory.map((r) => `${r.model}/${r.setting}`),
      ['UniME/fine-tuned <7B'],
    );
    const offSplit = rows.filter((r) => r.id !== null && r.ood !== null && Math.abs(weightedMean([r.id, r.ood], [20, 16]) - r.overall) > ROUNDING);
    assert.deepEqual(
      offSplit.map((r) => `${r.model}/${r.setting}`),
      ['UniME/fine-tuned <7B', 'MuCo-2B/fine-tuned <7B'],
    );
    assert.ok(rows.filter((r) => r.setting === 'zero-shot').every((r) => r.id === null && r.ood === null));
    const t4 = loadPaperTable('table-4').rows;
    const off4 = t4.filter((r) => Math.abs(weightedMean([r.cls, r.vqa, r.ret, r.grd], [10, 10, 12, 4]) - r.overall) > ROUNDING);
    assert.deepEqual(
      off4.map((r) => r.setup),
      ['− CLS'],
    );
    const tf = loadPaperTable('table-f').rows;
    const offF = tf.filter((r) => {
      const category = weightedMean([r.cls, r.vqa, r.ret, r.grd], [10, 10, 12, 4]);
      const split = r.id === null || r.ood === null ? r.overall : weightedMean([r.id, r.ood], [20, 16]);
      return Math.abs(category - r.overall) > ROUNDING || Math.abs(split - r.overall) > ROUNDING;
    });
    assert.deepEqual(
      offF.map((r) => `${r.model}/${r.pretraining ? 'pre+' : ''}${r.finetuning ? 'ft' : ''}`),
      ['MuCo-2B/ft', 'MuCo-2B/pre+ft'],
    );
  });

  it('MuCo numbers agree across Tables 1, 2, 3, 4, 6, 7, F, G and A', () => {
    const t1 = loadPaperTable('table-1').rows;
    const f = loadPaperTable('table-f').rows;
    for (const size of ['2B', '7B']) {
      const zs = row(t1, `${size} ZS`, (r) => r.model === `MuCo-${size}` && r.setting === 'zero-shot');
      const ft = row(t1, `${size} FT`, (r) => r.model === `MuCo-${size}` && r.setting !== 'zero-shot');
      const fZs = row(f, `F ${size} pre`, (r) => r.model === `MuCo-${size}` && r.pretraining && !r.finetuning);
      const fBoth = row(f, `F ${size} both`, (r) => r.model === `MuCo-${size}` && r.pretraining && r.finetuning);
      const fields = ['cls', 'vqa', 'ret', 'grd', 'id', 'ood', 'overall'] as const;
      for (const k of fields) {
        assert.equal(fZs[k], zs[k], `Table F ${size} pretraining-only ${k}`);
        assert.equal(fBoth[k], ft[k], `Table F ${size} both ${k}`);
      }
    }
    const g = loadPaperTable('table-g').rows;
    const t2 = loadPaperTable('table-2').rows;
    for (const size of ['2B', '7B']) {
      for (const [stage, setting] of [
        [true, 'fine-tuned'],
        [false, 'zero-shot'],
      ] as const) {
        const gRow = row(g, `G ${size}`, (r) => r.model === `MuCo-${size}` && r.pretraining && r.finetuning === stage);
        const t2Row = row(t2, `2 ${size} ${setting}`, (r) => r.model === `MuCo-${size}` && r.setting === setting);
        assert.deepEqual([gRow.ss, gRow.sm, gRow.ms, gRow.mm, gRow.overall], [t2Row.ss, t2Row.sm, t2Row.ms, t2Row.mm, t2Row.overall]);
      }
    }
    const aEval = loadPaperTable('table-a-eval').rows;
    const m2zs = row(t1, '2B ZS', (r) => r.model === 'MuCo-2B' && r.setting === 'zero-shot');
    const m2ft = row(t1, '2B FT', (r) => r.model === 'MuCo-2B' && r.setting === 'fine-tuned <7B');
    const mmeb = (setting: string, cat: string): number =>
      row(aEval, `${setting} ${cat}`, (r) => r.benchmark === 'MMEB' && r.setting === setting && r.category === cat).m3t;
    assert.deepEqual(
      ['CLS', 'VQA', 'RET', 'GRD', 'Overall'].map((c) => mmeb('zero-shot', c)),
      [m2zs.cls, m2zs.vqa, m2zs.ret, m2zs.grd, m2zs.overall],
    );
    assert.deepEqual(
      ['CLS', 'VQA', 'RET', 'GRD', 'Overall'].map((c) => mmeb('fine-tuned', c)),
      [m2ft.cls, m2ft.vqa, m2ft.ret, m2ft.grd, m2ft.overall],
    );
    const mbeirOverall = (setting: string) =>
      row(aEval, `M-BEIR ${setting}`, (r) => r.benchmark === 'M-BEIR' && r.setting === setting && r.category === 'Overall');
    const t2ft = row(t2, '2B FT', (r) => r.model === 'MuCo-2B' && r.setting === 'fine-tuned');
    const t2zs = row(t2, '2B ZS', (r) => r.model === 'MuCo-2B' && r.setting === 'zero-shot');
    assert.deepEqual([mbeirOverall('fine-tuned').m3t, mbeirOverall('fine-tuned').m3tLocal], [t2ft.overall, t2ft.localOverall]);
    assert.deepEqual([mbeirOverall('zero-shot').m3t, mbeirOverall('zero-shot').m3tLocal], [t2zs.overall, t2zs.localOverall]);
    assert.ok(aEval.filter((r) => r.benchmark === 'MMEB').every((r) => r.m3tLocal === null && r.mmE5Local === null && r.megaPairsLocal === null));
    const t3 = row(loadPaperTable('table-3').rows, 'M3T', (r) => r.dataset === 'M3T');
    assert.deepEqual([t3.zs, t3.ft], [m2zs.overall, m2ft.overall]);
    assert.equal(row(loadPaperTable('table-4').rows, 'All', (r) => r.removed.length === 0).overall, m2zs.overall);
    const t6 = row(loadPaperTable('table-6').rows, 'with', (r) => r.compoundedSupervision);
    assert.deepEqual([t6.zs, t6.ft], [m2zs.overall, m2ft.overall]);
    const t7 = loadPaperTable('table-7').rows;
    assert.deepEqual(row(t7, 'both masks', (r) => r.pretrainMask && r.finetuneMask).ft, m2ft.overall);
    for (const r of t7) assert.equal(r.zs, row(t7, 'same pretraining mask, both FT masks', (x) => x.pretrainMask === r.pretrainMask && x.finetuneMask).zs);
  });

  it('Table A: hours = iterations × seconds, and M3T is one epoch of 5,103,183 images at 1,024 per batch', () => {
    const rows = loadPaperTable('table-a').rows;
    for (const r of rows) {
      const hours = (r.iterations * r.secondsPerIteration) / 3600;
      assert.ok(Math.abs(hours - r.hours) <= 0.05, `${r.dataset}: ${hours.toFixed(3)} h from iterations vs ${r.hours} printed`);
    }
    const m3t = row(rows, 'M3T', (r) => r.dataset === 'M3T');
    assert.ok(Math.abs(m3t.iterations * 1024 - 5_103_183) / 5_103_183 < 0.001);
    assert.equal(m3t.hardNegativeTokensPerBatch, 0);
    const removed = loadPaperTable('table-4').rows.map((r) => r.removed.length);
    assert.deepEqual(removed, [0, 1, 2, 3, 4]);
  });
});
