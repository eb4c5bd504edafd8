/**
 * Notebook experiment helpers without training: scale-dependent run selection, reuse of a finished run with
 * the same config (copied, renamed, marked), skip on the second call, tweaked runs reaching the verdict cells,
 * checkpoint lookup, option errors.
 */
import { strict as assert } from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { CLAIMS } from '../lib/analysis/claims';
import { claimVerdicts } from '../lib/analysis/verdicts';
import { writeOutcomes } from '../lib/eval/outcomes';
import { experimentRuns, tweakSuffix } from '../lib/runner/catalog';
import { RunConfig } from '../lib/runner/config';
import { copyRun, ensureExperiment, findEquivalentRun, latestCheckpoint, NotebookContext, selectedRuns, setupNotebook } from '../lib/notebook/runs';
import { readMetrics } from '../lib/results';
import { fakeFinishedRun } from './support/fake-run';

describe('notebook runs', () => {
  let tmp: string;
  let ctx: NotebookContext;
  beforeEach(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'muco-nbruns-'));
    ctx = { root: tmp, scale: 'smoke', resultsRoot: path.join(tmp, 'smoke'), backend: 'cpu', builtData: false };
  });
  afterEach(() => fs.rmSync(tmp, { recursive: true, force: true }));

  it('selects the smoke runs on the smoke scale and `only` elsewhere', () => {
    const sel = { experiment: 'turns', only: ['turns-1', 'turns-2', 'turns-7'], smokeOnly: ['turns-1', 'turns-7'] };
    assert.deepEqual(
      selectedRuns(ctx, sel).map((c) => c.run),
      ['turns-1', 'turns-7'],
    );
    assert.deepEqual(
      selectedRuns({ scale: 'full' }, sel).map((c) => c.run),
      ['turns-1', 'turns-2', 'turns-7'],
    );
    assert.equal(selectedRuns({ scale: 'full' }, { experiment: 'turns' }).length, 6);
    assert.equal(selectedRuns(ctx, { experiment: 'turns', smokeOnly: ['turns-4'] })[0]?.train.turns, 4);
  });

  it('finds a finished run with the same config in another experiment, not one that differs', () => {
    const [k7] = experimentRuns('core', 'smoke', [], ['muco-k7']) as [RunConfig];
    const src = fakeFinishedRun(ctx.resultsRoot, k7);
    const [maskOn, maskOff] = experimentRuns('logit-mask', 'smoke') as [RunConfig, RunConfig];
    assert.equal(findEquivalentRun(maskOn, ctx.resultsRoot), src);
    assert.equal(findEquivalentRun(maskOff, ctx.resultsRoot), null, 'the logit mask differs');
    assert.equal(findEquivalentRun(k7, ctx.resultsRoot), null, 'a run is not its own equivalent');
    const [fullK7] = experimentRuns('logit-mask', 'full', [], ['mask-on']) as [RunConfig];
    assert.equal(findEquivalentRun(fullK7, ctx.resultsRoot), null, 'another scale is another config');
  });

  it('reuses by copying: renamed config and metadata, reusedFrom, files and checkpoints; then skips', async () => {
    const [k7] = experimentRuns('core', 'smoke', [], ['muco-k7']) as [RunConfig];
    fakeFinishedRun(ctx.resultsRoot, k7);
    const first = await ensureExperiment(ctx, { experiment: 'logit-mask', only: ['mask-on'] });
    assert.deepEqual(
      first.status.map((s) => [s.run, s.status, s.from]),
      [['mask-on', 'reused', 'core/muco-k7']],
    );
    assert.equal(first.dir, path.join(ctx.resultsRoot, 'logit-mask'));
    const dir = path.join(first.dir, 'mask-on');
    const cfg = JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8')) as RunConfig;
    assert.equal(cfg.experiment, 'logit-mask');
    assert.equal(cfg.run, 'mask-on');
    assert.equal(cfg.model.vocabSize, 1234, 'the resolved vocabulary travels with the copy');
    const m = readMetrics(dir);
    assert.equal(m.metadata.experiment, 'logit-mask');
    assert.equal(m.metrics['reusedFrom'], 'core/muco-k7');
    assert.equal(fs.readFileSync(path.join(dir, 'log.jsonl'), 'utf8').split('\n').length, 3);
    assert.equal(latestCheckpoint(dir), path.join(dir, 'checkpoints', 'step-000003'));
    assert.ok(!fs.readdirSync(first.dir).some((n) => n.includes('.tmp-')), 'no temporary folder left');
    const second = await ensureExperiment(ctx, { experiment: 'logit-mask', only: ['mask-on'] });
    assert.equal(second.status[0]?.status, 'skipped');
    assert.throws(() => copyRun(path.join(ctx.resultsRoot, 'core', 'muco-k7'), cfg, ctx.resultsRoot), /exists already/);
  });

  it("tweaked runs flow to the verdict cells: the tweak suffix of the notebook's runs selects them", async () => {
    const sets = ['train.steps=2'];
    for (const cfg of experimentRuns('core', 'smoke', sets, ['single-turn', 'muco-k7'])) {
      const dir = fakeFinishedRun(ctx.resultsRoot, cfg);
      writeOutcomes(dir, { mmeb: { EmojiGroup: cfg.run.startsWith('muco') ? [1, 1, 1, 0, 1, 1] : [0, 0, 1, 0, 0, 1] } });
    }
    const res = await ensureExperiment(ctx, { experiment: 'core', smokeOnly: ['single-turn', 'muco-k7'], sets });
    assert.deepEqual(
      res.status.map((s) => s.status),
      ['skipped', 'skipped'],
    );
    const c1 = CLAIMS.filter((c) => c.id === 'C1');
    const [tweaked] = claimVerdicts(ctx.resultsRoot, c1, { suffix: tweakSuffix(res.runs[0] ?? ''), resamples: 200 });
    assert.deepEqual(tweaked?.runs, { treatment: ['muco-k7_train.steps=2'], reference: ['single-turn_train.steps=2'] });
    assert.notEqual(tweaked?.status, 'not run');
    assert.equal(claimVerdicts(ctx.resultsRoot, c1)[0]?.status, 'not run', 'the stock runs were never run');
  });

  it('latestCheckpoint orders steps numerically and needs model.json and trainer.json', () => {
    const dir = path.join(tmp, 'run');
    for (const s of ['step-000009', 'step-000010', 'step-000011', 'step-000012']) fs.mkdirSync(path.join(dir, 'checkpoints', s), { recursive: true });
    for (const s of ['step-000009', 'step-000010', 'step-000012']) fs.writeFileSync(path.join(dir, 'checkpoints', s, 'model.json'), '{}');
    for (const s of ['step-000009', 'step-000010', 'step-000011']) fs.writeFileSync(path.join(dir, 'checkpoints', s, 'trainer.json'), '{}');
    assert.equal(latestCheckpoint(dir), path.join(dir, 'checkpoints', 'step-000010'));
    assert.equal(latestCheckpoint(path.join(tmp, 'none')), null);
  });

  it('setupNotebook rejects unknown options and a folder that is not the project root', async () => {
    await assert.rejects(setupNotebook({ scael: 'smoke' } as never), /unknown option "scael"/);
    await assert.rejects(setupNotebook({ root: tmp }), /is not the project root/);
    const env = process.env['MUCO_RESULTS_DIR'];
    const cwd = process.cwd();
    delete process.env['MUCO_RESULTS_DIR'];
    try {
      await assert.rejects(setupNotebook({ scale: 'quick', results: 'results/no-such-tree' }), /results\/no-such-tree\/quick does not exist/);
    } finally {
      if (env !== undefined) process.env['MUCO_RESULTS_DIR'] = env;
      process.chdir(cwd);
    }
  });
});
