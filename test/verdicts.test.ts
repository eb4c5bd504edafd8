/**
 * The claims and their verdicts on a tiny results tree written here: runs with per-query outcomes, seed
 * variants, a run without outcomes, missing runs; and `npm run verdicts` on it.
 */
import { strict as assert } from 'assert';
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { CLAIMS, paperEffect } from '../lib/analysis/claims';
import { claimVerdict, claimVerdicts, readmeVerdictTable, verdictsMarkdown, writeVerdicts } from '../lib/analysis/verdicts';
import { readmeMarkers, readmeVerdictSources, replaceReadmeVerdicts } from '../lib/analysis/readme-verdicts';
import { loadPaperTable } from '../lib/analysis/paper';
import { readOutcomes, writeOutcomes } from '../lib/eval/outcomes';
import { EXPERIMENTS, tweakSuffix } from '../lib/runner/catalog';
import { Rng } from '../lib/random';
import { pairedBootstrap } from '../lib/stats';
import { seededRuns, seedSummaryMarkdown } from '../lib/runner/seed-summary';

const ROOT = path.resolve(__dirname, '..');

/** A finished run folder with outcomes: `rate` of the MMEB rows right, per data set of 30 rows. */
function fakeRun(scaleDir: string, experiment: string, run: string, seed: number, rate: number | null, base?: string): void {
  const dir = path.join(scaleDir, experiment, run);
  fs.mkdirSync(dir, { recursive: true });
  const init = base === undefined ? {} : { init: { from: 'base', dir: 'results/base/smoke/model', sha256: base } };
  fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify({ experiment, run, train: { seed }, ...init }));
  fs.writeFileSync(path.join(dir, 'metrics.json'), JSON.stringify({ metadata: { experiment, run }, metrics: {} }));
  if (rate === null) return;
  const rng = new Rng(seed * 1000 + Math.round(rate * 100));
  const rows = (n: number): number[] => Array.from({ length: n }, () => (rng.next() < rate ? 1 : 0));
  writeOutcomes(dir, { mmeb: { EmojiGroup: rows(30), EmojiName: rows(30), FlagRegion: rows(30) }, validation: { validation: rows(20) } });
}

describe('claims', () => {
  it("carry the paper's numbers as its tables print them", () => {
    const t5 = loadPaperTable('table-5').rows;
    const zs5 = (turns: number, images: number) => t5.find((r) => r.turns === turns && r.batchImages === images)?.zsMmeb;
    const t7 = loadPaperTable('table-7').rows;
    const t6 = loadPaperTable('table-6').rows;
    const t4 = loadPaperTable('table-4').rows.map((r) => r.overall);
    const byId = Object.fromEntries(CLAIMS.map((c) => [c.id, c.paper]));
    assert.deepEqual([byId['C1']?.treatmentValue, byId['C1']?.referenceValue], [zs5(7, 1024), zs5(1, 1024)]);
    assert.deepEqual([byId['C2']?.treatmentValue, byId['C2']?.referenceValue], [zs5(7, 1024), zs5(1, 7168)]);
    assert.deepEqual(
      [byId['C3a']?.treatmentValue, byId['C3a']?.referenceValue],
      [t7.find((r) => r.pretrainMask && r.finetuneMask)?.zs, t7.find((r) => !r.pretrainMask && r.finetuneMask)?.zs],
    );
    assert.deepEqual(
      [byId['C3b']?.treatmentValue, byId['C3b']?.referenceValue],
      [t7.find((r) => r.pretrainMask && r.finetuneMask)?.ft, t7.find((r) => r.pretrainMask && !r.finetuneMask)?.ft],
    );
    assert.deepEqual(
      [byId['C4']?.treatmentValue, byId['C4']?.referenceValue],
      [t6.find((r) => r.compoundedSupervision)?.zs, t6.find((r) => !r.compoundedSupervision)?.zs],
    );
    ['C5a', 'C5b', 'C5c', 'C5d'].forEach((id, i) => assert.deepEqual([byId[id]?.treatmentValue, byId[id]?.referenceValue], [t4[i], t4[i + 1]], id));
    assert.equal(paperEffect(CLAIMS[0]!), 1.1);
  });

  it('name runs that exist in the catalogue', () => {
    for (const c of CLAIMS) {
      const runsOf = (e: string) => Object.keys(EXPERIMENTS[e]?.runs ?? {});
      const ref = c.referenceExperiment ?? c.experiment;
      assert.ok(
        runsOf(c.experiment).includes(c.treatment) && runsOf(ref).includes(c.reference),
        `${c.id}: ${c.experiment}/${c.treatment} vs ${ref}/${c.reference}`,
      );
    }
    // C1i carries C1's paper numbers: it is C1 with this project's target fix.
    const byId = Object.fromEntries(CLAIMS.map((c) => [c.id, c]));
    assert.deepEqual(byId['C1i']?.paper, byId['C1']?.paper);
  });
});

describe('verdicts', function () {
  this.timeout(60_000);
  let tmp: string;
  let scaleDir: string;

  before(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'muco-verdicts-'));
    scaleDir = path.join(tmp, 'results', 'smoke');
    // C1: MuCo clearly better, three seeds each side.
    for (const seed of [0, 1, 2]) {
      fakeRun(scaleDir, 'core', seed === 0 ? 'muco-k7' : `muco-k7-seed${seed}`, seed, 0.85);
      fakeRun(scaleDir, 'core', seed === 0 ? 'single-turn' : `single-turn-seed${seed}`, seed, 0.15);
    }
    // A tweaked run is not the stock run and never enters a verdict.
    fakeRun(scaleDir, 'core', 'muco-k7_train.steps=3', 0, 0);
    fakeRun(scaleDir, 'core', 'single-turn_train.steps=3', 0, 0.9);
    // C4: isolated finished before outcomes were kept.
    fakeRun(scaleDir, 'compounded', 'causal', 0, 0.5);
    fakeRun(scaleDir, 'compounded', 'isolated', 0, null);
    // C3a: identical rates → inconclusive most likely; contradicted when the mask hurts a lot.
    fakeRun(scaleDir, 'logit-mask', 'mask-on', 0, 0.1);
    fakeRun(scaleDir, 'logit-mask', 'mask-off', 0, 0.9);
  });
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  it('supported, contradicted, and not run with the command that makes the runs', () => {
    const results = claimVerdicts(scaleDir, CLAIMS, { resamples: 300 });
    const byId = Object.fromEntries(results.map((r) => [r.id, r]));
    const c1 = byId['C1']!;
    assert.equal(c1.status, 'supported');
    assert.deepEqual(c1.runs, {
      treatment: ['muco-k7', 'muco-k7-seed1', 'muco-k7-seed2'],
      reference: ['single-turn', 'single-turn-seed1', 'single-turn-seed2'],
    });
    assert.equal(c1.treatment?.n, 3);
    assert.ok(c1.treatment!.sd! > 0);
    assert.ok(c1.difference!.lo > 50 && c1.difference!.diff > c1.difference!.lo && c1.difference!.hi > c1.difference!.diff, JSON.stringify(c1.difference));
    assert.equal(byId['C3a']?.status, 'contradicted');
    const c2 = byId['C2']!;
    assert.equal(c2.status, 'not run');
    assert.match(c2.reason!, /no finished run of single-turn-7x-images .*npm run experiment -- core --scale smoke --runs single-turn-7x-images/);
    assert.equal(byId['C4']?.status, 'not run');
    assert.match(byId['C4']!.reason!, /isolated finished without per-query outcomes: `npm run experiment -- compounded --scale smoke --outcomes`/);
    assert.equal(byId['C5a']?.status, 'not run');
    assert.equal(byId['C5a']?.difference, null);
    // C1i: its treatment (compounded) is missing, its reference (core) is there; the reason names only the missing side.
    const c1i = byId['C1i']!;
    assert.equal(c1i.status, 'not run');
    assert.equal(c1i.experiment, 'compounded vs core');
    assert.deepEqual(c1i.runs.reference, ['single-turn', 'single-turn-seed1', 'single-turn-seed2']);
    assert.match(c1i.reason!, /^no finished run of isolated-targets .*--runs isolated-targets`\)\.$/);
  });

  it("the README's table holds the tested claims with their numbers and lists the rest", () => {
    const results = claimVerdicts(scaleDir, CLAIMS, { resamples: 300 });
    const table = readmeVerdictTable(results, 'smoke').split('\n');
    const c1 = results.find((r) => r.id === 'C1')!;
    const row = table.find((l) => l.startsWith('| C1 |'))!;
    // Naive twin of the row's numbers: one decimal, signed, the minus sign typeset.
    const signed = (x: number): string => (x > 0 ? '+' : x < 0 ? '−' : '±') + Math.abs(x).toFixed(1);
    assert.ok(row.includes(`${signed(c1.difference!.diff)} [${signed(c1.difference!.lo)}, ${signed(c1.difference!.hi)}]`), row);
    assert.ok(row.endsWith('| +1.1 | **supported** |'), row);
    assert.equal(table.filter((l) => /^\| C\d/.test(l)).length, 2, 'C1 and C3a were tested');
    assert.equal(
      table.at(-1),
      'Not run at the smoke scale: C1i, C2, C2i, C3b, C4, C5a, C5b, C5c, C5d (`results/smoke/verdicts.md` says which runs each needs).',
    );
    const { start, end } = readmeMarkers('smoke');
    const readme = `# x\n\n${start}\nold\n${end}\n\nafter\n`;
    assert.equal(replaceReadmeVerdicts(readme, 'smoke', 'new'), `# x\n\n${start}\nnew\n${end}\n\nafter\n`);
    assert.throws(() => replaceReadmeVerdicts('# x\n', 'smoke', 'new'), /README.md has no block for the verdicts of results\/smoke/);
  });

  it("another results tree has its own README block, found again from the README's markers", () => {
    const grid = readmeMarkers('quick', 'results/grid/');
    assert.equal(grid.start, '<!-- verdicts:results/grid/quick (npm run verdicts -- --scale quick --results results/grid --readme) -->');
    const full = readmeMarkers('full');
    const readme = `# x\n${full.start}\na\n${full.end}\n${grid.start}\nb\n${grid.end}\n`;
    assert.deepEqual(readmeVerdictSources(readme), [
      { scale: 'full', results: 'results' },
      { scale: 'quick', results: 'results/grid' },
    ]);
    const replaced = replaceReadmeVerdicts(readme, 'quick', 'new', 'results/grid');
    assert.equal(replaced, `# x\n${full.start}\na\n${full.end}\n${grid.start}\nnew\n${grid.end}\n`);
    assert.throws(() => replaceReadmeVerdicts(readme, 'quick', 'new'), /no block for the verdicts of results\/quick/, 'the default tree is another block');
  });

  it("the README's verdict table of each committed results tree is what its results give", function () {
    const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
    const git = (...args: string[]): string => execFileSync('git', args, { cwd: ROOT, encoding: 'utf8' });
    const sources = readmeVerdictSources(readme);
    assert.ok(
      sources.some((s) => s.results === 'results' && s.scale === 'full'),
      "README has the full scale's block",
    );
    let checked = 0;
    for (const { scale, results } of sources) {
      const dir = `${results}/${scale}`;
      let committed: boolean;
      try {
        committed = git('ls-files', '--', `${dir}/verdicts.json`).trim() !== '';
      } catch {
        this.skip(); // not a git checkout
      }
      assert.ok(committed || results === 'results', `README has a verdict block for ${dir}, which is not committed`);
      // A user who re-ran the scale's experiments has other numbers than the README by design.
      if (!committed || git('status', '--porcelain', '--', dir).trim() !== '') continue;
      const generated = readmeVerdictTable(claimVerdicts(path.join(ROOT, dir)), scale, dir);
      assert.equal(
        replaceReadmeVerdicts(readme, scale, generated, results),
        readme,
        `README.md's verdicts of ${dir} are stale: npm run verdicts -- --scale ${scale}${results === 'results' ? '' : ` --results ${results}`} --readme`,
      );
      checked++;
    }
    assert.ok(checked > 0 || git('status', '--porcelain', '--', 'results/full').trim() !== '', 'at least the full scale is checked');
  });

  it('a claim across experiments pairs the treatment of one with the reference of another', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'muco-verdicts-x-'));
    try {
      const sd = path.join(dir, 'smoke');
      fakeRun(sd, 'compounded', 'isolated-targets', 0, 0.8);
      fakeRun(sd, 'core', 'single-turn', 0, 0.2);
      fakeRun(sd, 'compounded', 'single-turn', 0, 0.9); // the same name in the treatment's experiment is not the reference
      const r = claimVerdict(
        sd,
        CLAIMS.find((c) => c.id === 'C1i')!,
        { resamples: 200 },
      );
      assert.deepEqual(r.runs, { treatment: ['isolated-targets'], reference: ['single-turn'] });
      assert.equal(r.status, 'supported');
      const read = (e: string, run: string) => JSON.parse(fs.readFileSync(path.join(sd, e, run, 'outcomes.json'), 'utf8')).mmeb;
      const direct = pairedBootstrap([read('compounded', 'isolated-targets')], [read('core', 'single-turn')], { resamples: 200 });
      assert.ok(Math.abs(r.difference!.diff - 100 * direct.diff) < 1e-9);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('gives no verdict across runs from different base models, and names them', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'muco-verdicts-base-'));
    try {
      const sd = path.join(dir, 'smoke');
      fakeRun(sd, 'core', 'muco-k7', 0, 0.9, 'a'.repeat(64));
      fakeRun(sd, 'core', 'single-turn', 0, 0.1, 'b'.repeat(64));
      const claim = CLAIMS.find((c) => c.id === 'C1')!;
      const mixed = claimVerdict(sd, claim, { resamples: 200 });
      assert.equal(mixed.status, 'not run');
      assert.match(mixed.reason!, /different base models \(muco-k7 from aaaaaaaaaaaa…, single-turn from bbbbbbbbbbbb…\)/);
      const config = path.join(sd, 'core', 'single-turn', 'config.json');
      fs.writeFileSync(config, fs.readFileSync(config, 'utf8').replace('b'.repeat(64), 'a'.repeat(64)));
      assert.equal(claimVerdict(sd, claim, { resamples: 200 }).status, 'supported');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it("a tweak's suffix selects the tweaked runs (a notebook's `sets`)", () => {
    const claim = CLAIMS.find((c) => c.id === 'C1')!;
    const tweaked = claimVerdict(scaleDir, claim, { resamples: 200, suffix: tweakSuffix('muco-k7_train.steps=3') });
    assert.deepEqual(tweaked.runs, { treatment: ['muco-k7_train.steps=3'], reference: ['single-turn_train.steps=3'] });
    assert.equal(tweaked.status, 'contradicted');
  });

  it('the difference is the paired bootstrap of the runs in points, seeded', () => {
    const claim = CLAIMS.find((c) => c.id === 'C1')!;
    const a = claimVerdict(scaleDir, claim, { resamples: 200, seed: 4 });
    const b = claimVerdict(scaleDir, claim, { resamples: 200, seed: 4 });
    assert.deepEqual(a, b);
    const read = (run: string) => JSON.parse(fs.readFileSync(path.join(scaleDir, 'core', run, 'outcomes.json'), 'utf8')).mmeb;
    const direct = pairedBootstrap(
      ['muco-k7', 'muco-k7-seed1', 'muco-k7-seed2'].map(read),
      ['single-turn', 'single-turn-seed1', 'single-turn-seed2'].map(read),
      { resamples: 200, seed: 4 },
    );
    assert.ok(Math.abs(a.difference!.lo - 100 * direct.lo) < 1e-9 && Math.abs(a.difference!.hi - 100 * direct.hi) < 1e-9);
  });

  it('pairs seeds by number and leaves out a seed the other side lacks', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'muco-verdicts-seeds-'));
    try {
      const sd = path.join(dir, 'smoke');
      for (const [run, seed] of [
        ['muco-k7', 0],
        ['muco-k7-seed1', 1],
        ['single-turn', 0],
        ['single-turn-seed2', 2],
      ] as const) {
        fakeRun(sd, 'core', run, seed, run.startsWith('muco') ? 0.7 : 0.3);
      }
      const c1 = claimVerdict(
        sd,
        CLAIMS.find((c) => c.id === 'C1')!,
        { resamples: 200 },
      );
      assert.deepEqual(c1.runs, { treatment: ['muco-k7'], reference: ['single-turn'] });
      assert.deepEqual(c1.unpaired, ['muco-k7-seed1', 'single-turn-seed2']);
      assert.match(verdictsMarkdown([c1], 'smoke'), /left out, no run of the same seed on the other side: muco-k7-seed1, single-turn-seed2/);
      // The seed-0 pair alone: the direct paired bootstrap of those two runs' outcomes.
      const o = (run: string) => readOutcomes(path.join(sd, 'core', run))!['mmeb']!;
      const twin = pairedBootstrap([o('muco-k7')], [o('single-turn')], { resamples: 200 });
      for (const k of ['diff', 'lo', 'hi'] as const) assert.ok(Math.abs(c1.difference![k] - 100 * twin[k]) < 1e-9, k);
      fs.rmSync(path.join(sd, 'core', 'muco-k7'), { recursive: true });
      const none = claimVerdict(
        sd,
        CLAIMS.find((c) => c.id === 'C1')!,
        { resamples: 200 },
      );
      assert.equal(none.status, 'not run');
      assert.match(none.reason!, /no seed in common: muco-k7 has seeds 1, single-turn 0, 2/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it("an experiment's summary shows each run over its seeds and its paired interval against the first run", () => {
    const dir = path.join(scaleDir, 'core');
    assert.deepEqual(seededRuns(dir, ['single-turn', 'muco-k7', 'single-turn-7x-images']), [
      { run: 'single-turn', folders: ['single-turn', 'single-turn-seed1', 'single-turn-seed2'] },
      { run: 'muco-k7', folders: ['muco-k7', 'muco-k7-seed1', 'muco-k7-seed2'] },
    ]);
    const md = seedSummaryMarkdown(dir, ['single-turn', 'muco-k7'], 200).split('\n');
    assert.match(md[0]!, /^\| run \| seeds \| mini-MMEB overall \| Δ mini-MMEB overall vs single-turn \[95% CI\] \| val MRR \|/);
    assert.match(md[2]!, /^\| single-turn \| 3 \| \d+\.\d ± \d+\.\d \| – \|/);
    const mucoRow = md[3]!;
    const c1 = claimVerdict(
      scaleDir,
      CLAIMS.find((c) => c.id === 'C1')!,
      { resamples: 200, seed: 0 },
    );
    const sign = (x: number): string => `${x >= 0 ? '+' : '−'}${Math.abs(Math.round(x * 10) / 10).toFixed(1)}`;
    assert.ok(mucoRow.includes(`${sign(c1.difference!.diff)} [${sign(c1.difference!.lo)}, ${sign(c1.difference!.hi)}]`), mucoRow);
    assert.equal(seedSummaryMarkdown(path.join(scaleDir, 'compounded'), ['isolated']), '', 'no outcomes, no table');
  });

  it('npm run verdicts writes verdicts.json and verdicts.md for a scale, and refuses a missing one', () => {
    const out = execFileSync(
      process.execPath,
      [
        path.join(ROOT, 'node_modules', 'tsx', 'dist', 'cli.mjs'),
        path.join(ROOT, 'scripts', 'verdicts.ts'),
        '--scale',
        'smoke',
        '--results',
        path.join(tmp, 'results'),
        '--resamples',
        '200',
      ],
      {
        encoding: 'utf8',
      },
    );
    assert.match(out, /\| C1: MuCo \(k = 7\) beats single-turn .*\*\*supported\*\* \|/);
    const json = JSON.parse(fs.readFileSync(path.join(scaleDir, 'verdicts.json'), 'utf8')) as { scale: string; claims: { id: string; status: string }[] };
    assert.equal(json.scale, 'smoke');
    assert.deepEqual(
      json.claims.map((c) => c.id),
      CLAIMS.map((c) => c.id),
    );
    assert.equal(fs.readFileSync(path.join(scaleDir, 'verdicts.md'), 'utf8'), verdictsMarkdown(writeVerdicts(scaleDir, 'smoke', { resamples: 200 }), 'smoke'));
    assert.throws(
      () =>
        execFileSync(
          process.execPath,
          [
            path.join(ROOT, 'node_modules', 'tsx', 'dist', 'cli.mjs'),
            path.join(ROOT, 'scripts', 'verdicts.ts'),
            '--scale',
            'full',
            '--results',
            path.join(tmp, 'results'),
          ],
          { stdio: 'pipe' },
        ),
      /does not exist: run experiments at the full scale first/,
    );
  });
});
