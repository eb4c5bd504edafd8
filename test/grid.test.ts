/**
 * The claims' grid: which runs it trains, in which order, and one real grid of two claims at the smoke scale on
 * a small data build, whose verdicts come from the runs it trained.
 */
import { strict as assert } from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { CLAIMS } from '../lib/analysis/claims';
import { initBackend } from '../lib/backend';
import { buildData } from '../lib/data/build';
import { logLevel, setLogLevel } from '../lib/log';
import { readMetrics } from '../lib/results';
import { gridPlan, selectClaims } from '../lib/runner/grid';
import { runGrid } from '../experiments/grid';

const ROOT = path.resolve(__dirname, '..');

describe('claims grid', () => {
  it('trains every run a claim compares, once per seed, claim by claim, the costly claims last', () => {
    const plan = gridPlan(CLAIMS, [0, 1]);
    const key = (s: { experiment: string; seed: number }, run: string): string => `${s.experiment}/${run}@${s.seed}`;
    const keys = plan.flatMap((s) => s.runs.map((r) => key(s, r)));
    assert.equal(new Set(keys).size, keys.length, 'no run twice');
    // Naive twin: both sides of every claim, for each seed.
    const naive = [0, 1].flatMap((seed) =>
      CLAIMS.flatMap((c) => [
        key({ experiment: c.experiment, seed }, c.treatment),
        key({ experiment: c.referenceExperiment ?? c.experiment, seed }, c.reference),
      ]),
    );
    assert.deepEqual(new Set(keys), new Set(naive));
    assert.deepEqual(plan.slice(0, 3), [
      { experiment: 'core', runs: ['muco-k7', 'single-turn'], seed: 0 },
      { experiment: 'compounded', runs: ['isolated-targets'], seed: 0 },
      { experiment: 'logit-mask', runs: ['mask-on', 'mask-off'], seed: 0 },
    ]);
    const seed0 = plan.filter((s) => s.seed === 0);
    assert.deepEqual(seed0.at(-1), { experiment: 'core', runs: ['single-turn-7x-images'], seed: 0 }, 'the 7x-images run ends the seed');
    assert.ok(plan.findIndex((s) => s.seed === 1) === seed0.length, 'seed by seed');
    assert.throws(() => gridPlan(CLAIMS, []), /distinct non-negative integers/);
    assert.throws(() => gridPlan(CLAIMS, [1, 1]), /distinct non-negative integers/);
    assert.throws(() => selectClaims(['C1', 'C9']), /Unknown claim C9; the claims are C1, C1i/);
    assert.deepEqual(
      selectClaims(['C3a', ' C1']).map((c) => c.id),
      ['C1', 'C3a'],
    );
  });

  it('prints its plan, and refuses bad options with what to give instead', async () => {
    const plan = await runGrid(['--plan', '--claims', 'C2', '--seeds', '1', '--scale', 'full', '--results', 'elsewhere']);
    assert.equal(plan, 'npm run experiment -- core --scale full --runs muco-k7,single-turn-7x-images --seeds 1 --results elsewhere\n');
    await assert.rejects(runGrid(['--seeds', '0,a']), /--seeds takes a comma-separated list/);
    await assert.rejects(runGrid(['--seeds', '4294967296', '--plan']), /distinct non-negative integers/);
    await assert.rejects(runGrid(['--scale', 'huge']), /--scale must be one of smoke, quick, full/);
    await assert.rejects(runGrid(['--bogus']), /Unknown option --bogus; usage: npm run grid/);
  });

  describe('at the smoke scale', function () {
    this.timeout(300_000);
    let tmp: string;
    let previous: ReturnType<typeof logLevel>;
    const cwd = process.cwd();

    before(async () => {
      previous = logLevel();
      setLogLevel('warn');
      tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'muco-grid-'));
      // The runs read `data/` relative to the working directory: a small build there keeps the test quick.
      await buildData({ root: ROOT, outDir: path.join(tmp, 'data'), limit: 24, miniMmeb: { maxQueries: 6, maxCandidates: 12 }, miniMbeir: { maxQueries: 6 } });
      process.chdir(tmp);
    });
    after(async () => {
      process.chdir(cwd);
      setLogLevel(previous);
      fs.rmSync(tmp, { recursive: true, force: true });
      await initBackend({ backend: 'cpu' });
    });

    it('trains the runs of two claims once, copies the shared run, and writes their verdicts', async () => {
      const args = ['--scale', 'smoke', '--seeds', '0', '--claims', 'C1,C3a', '--results', 'out', '--backend', 'wasm'];
      const out = await runGrid(args);
      assert.match(out, /grid finished in/);
      const dir = (e: string, r: string): string => path.join(tmp, 'out', 'smoke', e, r);
      // logit-mask/mask-on is core/muco-k7's work under another name: copied, not trained.
      assert.equal(readMetrics(dir('logit-mask', 'mask-on')).metrics['reusedFrom'], 'core/muco-k7');
      assert.equal(readMetrics(dir('logit-mask', 'mask-off')).metrics['reusedFrom'], undefined);
      const verdicts = JSON.parse(fs.readFileSync(path.join(tmp, 'out', 'smoke', 'verdicts.json'), 'utf8')) as {
        claims: { id: string; status: string; runs: { treatment: string[]; reference: string[] } }[];
      };
      const byId = Object.fromEntries(verdicts.claims.map((c) => [c.id, c]));
      for (const id of ['C1', 'C3a']) assert.notEqual(byId[id]?.status, 'not run', id);
      assert.deepEqual(byId['C3a']?.runs, { treatment: ['mask-on'], reference: ['mask-off'] });
      assert.equal(byId['C4']?.status, 'not run', 'the grid ran no other claim');
      // A second call finds every run finished and trains nothing.
      const runs = [dir('core', 'muco-k7'), dir('core', 'single-turn'), dir('logit-mask', 'mask-on'), dir('logit-mask', 'mask-off')];
      const stamps = runs.map((r) => fs.statSync(path.join(r, 'metrics.json')).mtimeMs);
      assert.match(await runGrid(args), /grid finished in/);
      assert.deepEqual(
        runs.map((r) => fs.statSync(path.join(r, 'metrics.json')).mtimeMs),
        stamps,
      );
    });
  });
});
