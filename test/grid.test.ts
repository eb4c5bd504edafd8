/**
 * The claims' grid: which runs it trains, in which order, and one real grid of one claim at the smoke scale
 * whose verdict is written from the runs it trained.
 */
import { strict as assert } from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { CLAIMS } from '../lib/analysis/claims';
import { claimRuns, gridPlan, selectClaims } from '../lib/runner/grid';
import { runGrid } from '../experiments/grid';

describe('claims grid', () => {
  it('holds every run a claim compares, once, under its experiment', () => {
    const byExperiment = claimRuns(CLAIMS);
    const pairs = [...byExperiment].flatMap(([e, runs]) => runs.map((r) => `${e}/${r}`));
    assert.equal(new Set(pairs).size, pairs.length, 'no run twice');
    // Naive twin: the set of both sides of every claim.
    const naive = new Set(CLAIMS.flatMap((c) => [`${c.experiment}/${c.treatment}`, `${c.referenceExperiment ?? c.experiment}/${c.reference}`]));
    assert.deepEqual(new Set(pairs), naive);
    assert.deepEqual([...byExperiment.keys()], ['core', 'compounded', 'logit-mask', 'composition'], 'in the order the claims first use them');
    assert.deepEqual(byExperiment.get('core'), ['muco-k7', 'single-turn', 'single-turn-7x-images']);
  });

  it('runs every seed of the grid, seed by seed', () => {
    const claims = selectClaims(['C1', 'C3a']);
    const plan = gridPlan(claims, [0, 2]);
    assert.deepEqual(plan, [
      { experiment: 'core', runs: ['muco-k7', 'single-turn'], seed: 0 },
      { experiment: 'logit-mask', runs: ['mask-on', 'mask-off'], seed: 0 },
      { experiment: 'core', runs: ['muco-k7', 'single-turn'], seed: 2 },
      { experiment: 'logit-mask', runs: ['mask-on', 'mask-off'], seed: 2 },
    ]);
    assert.throws(() => gridPlan(claims, []), /distinct non-negative integers/);
    assert.throws(() => gridPlan(claims, [1, 1]), /distinct non-negative integers/);
    assert.throws(() => selectClaims(['C1', 'C9']), /Unknown claim C9; the claims are C1, C1i/);
  });

  it('prints its plan, and refuses bad options with what to give instead', async () => {
    const plan = await runGrid(['--plan', '--claims', 'C2', '--seeds', '1', '--scale', 'full']);
    assert.equal(plan, 'npm run experiment -- core --scale full --runs muco-k7,single-turn-7x-images --seeds 1\n');
    await assert.rejects(runGrid(['--seeds', '0,a']), /--seeds takes a comma-separated list/);
    await assert.rejects(runGrid(['--scale', 'huge']), /--scale must be one of smoke, quick, full/);
    await assert.rejects(runGrid(['--bogus']), /Unknown option --bogus; usage: npm run grid/);
  });

  it('trains the runs of a claim at the smoke scale and writes its verdict', async function () {
    this.timeout(300_000);
    const results = fs.mkdtempSync(path.join(os.tmpdir(), 'muco-grid-'));
    try {
      const out = await runGrid(['--scale', 'smoke', '--seeds', '0', '--claims', 'C3a', '--results', results]);
      assert.match(out, /grid finished in/);
      for (const run of ['mask-on', 'mask-off']) assert.ok(fs.existsSync(path.join(results, 'smoke', 'logit-mask', run, 'outcomes.json')), run);
      const verdicts = JSON.parse(fs.readFileSync(path.join(results, 'smoke', 'verdicts.json'), 'utf8')) as {
        claims: { id: string; status: string; runs: { treatment: string[]; reference: string[] } }[];
      };
      const byId = Object.fromEntries(verdicts.claims.map((c) => [c.id, c]));
      assert.notEqual(byId['C3a']?.status, 'not run');
      assert.deepEqual(byId['C3a']?.runs, { treatment: ['mask-on'], reference: ['mask-off'] });
      assert.equal(byId['C1']?.status, 'not run', 'the grid ran no other claim');
      // A second call finds every run finished and trains nothing.
      const again = await runGrid(['--scale', 'smoke', '--seeds', '0', '--claims', 'C3a', '--results', results]);
      assert.match(again, /grid finished in/);
    } finally {
      fs.rmSync(results, { recursive: true, force: true });
    }
  });
});
