/**
 * The experiment pipeline end to end on a tiny config and a limited data build: train a few steps → validation
 * → mini-MMEB and mini-M-BEIR → a results folder in the schema; a finished run is skipped, an interrupted run
 * resumes, a changed config is refused; every committed results/**\/metrics.json validates.
 */
import { strict as assert } from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { initBackend } from '../lib/backend';
import { buildData } from '../lib/data/build';
import { EXPERIMENTS, experimentRuns, runWithoutSeed, seedOfRunName, stockRun } from '../lib/runner/catalog';
import { RunConfig } from '../lib/runner/config';
import { configDiff, findEquivalentRun, runExperiment } from '../lib/runner/run';
import { recordOutcomes, revalidateRun } from '../lib/runner/revalidate';
import { readOutcomes } from '../lib/eval/outcomes';
import { macroMean } from '../lib/stats';
import { chanceRow, comparisonRows, lossCurves, markdownTable, REFERENCE_ROW, scoreBars, writeExperimentSummary } from '../lib/runner/compare';
import { logLevel, setLogLevel, LogLevel } from '../lib/log';
import { readMetrics, validateMetricsFile } from '../lib/results';
import { lockRun } from '../lib/run-lock';
import { exportRunModel, latestCheckpoint } from '../lib/notebook/runs';
import { finalWeights, loadCheckpoint } from '../lib/model/checkpoint';
import { parseArgs } from '../experiments/cli';

const ROOT = path.resolve(__dirname, '..');

function findMetrics(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) return e.name === 'checkpoints' ? [] : findMetrics(p);
    return e.name === 'metrics.json' ? [p] : [];
  });
}

describe('experiments', function () {
  this.timeout(600_000);
  let tmp: string;
  let previous: LogLevel;
  let cfg: RunConfig;

  before(async () => {
    previous = logLevel();
    setLogLevel('warn');
    await initBackend({ backend: 'wasm' });
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'muco-exp-'));
    await buildData({ root: ROOT, outDir: path.join(tmp, 'data'), limit: 24, miniMmeb: { maxQueries: 6, maxCandidates: 12 }, miniMbeir: { maxQueries: 6 } });
    const [c] = experimentRuns('core', 'smoke', [], ['muco-k7'], {
      data: { dir: path.join(tmp, 'data') },
      train: { steps: 4, checkpointEvery: 2 },
      eval: { limit: 4, validationRecords: 8 },
    });
    cfg = c as RunConfig;
  });
  after(async () => {
    setLogLevel(previous);
    fs.rmSync(tmp, { recursive: true, force: true });
    await initBackend({ backend: 'cpu' });
  });

  it('resolves runs from the catalogue with scale presets and tweaks (unknown keys are errors)', () => {
    const runs = experimentRuns('core', 'quick');
    assert.deepEqual(
      runs.map((r) => r.run),
      ['single-turn', 'muco-k7', 'single-turn-7x-images'],
    );
    assert.equal(runs[2]?.train.imagesPerStep, 7 * (runs[0]?.train.imagesPerStep as number));
    assert.equal(runs[1]?.train.packing, 'multi');
    const [tweaked] = experimentRuns('core', 'quick', ['train.loss.temperature=0.02'], ['muco-k7']);
    assert.equal(tweaked?.run, 'muco-k7_train.loss.temperature=0.02');
    assert.equal(stockRun(tweaked?.run ?? ''), 'muco-k7');
    for (const [name, def] of Object.entries(EXPERIMENTS))
      for (const run of Object.keys(def.runs)) assert.equal(stockRun(run), run, `${name}/${run} must not hold '_'`);
    assert.equal(tweaked?.train.loss.temperature, 0.02);
    // Long tweaks that differ only at the end still get their own run folders.
    const long = (v: number) =>
      experimentRuns('core', 'quick', ['train.steps=300', 'train.evalEvery=50', 'train.imagesPerStep=32', `train.augment.maxShift=${v}`], ['single-turn'])[0]
        ?.run as string;
    assert.notEqual(long(0), long(4));
    assert.ok(long(0).length <= 'single-turn_'.length + 80, long(0));
    assert.equal(long(4), long(4));
    assert.throws(() => experimentRuns('core', 'quick', ['train.stepz=3']), /train\.stepz is not a known setting/);
    assert.throws(
      () => experimentRuns('core', 'quick', ['train.targetMaskKind=bogus']),
      /train\.targetMaskKind must be 'causal' or 'bidirectional' or 'isolated' or null, got 'bogus'/,
    );
    // A setting added later (null = off) is no difference from its absence in a config saved before it.
    const { targetMaskKind: _added, ...before } = runs[1]!.train;
    assert.deepEqual(configDiff({ ...runs[1], train: before }, runs[1]), []);
    assert.deepEqual(configDiff({ ...runs[1], train: { ...before, targetMaskKind: 'isolated' } }, runs[1]), ['train.targetMaskKind: "isolated" vs null']);
    // A switch added later (false = off) likewise, but not when it is on.
    const { maskDuplicateTargets: _switch, ...lossBefore } = runs[1]!.train.loss;
    const savedBefore = { ...runs[1], train: { ...runs[1]!.train, loss: lossBefore } };
    assert.deepEqual(configDiff(savedBefore, runs[1]), []);
    const on = { ...runs[1]!, train: { ...runs[1]!.train, loss: { ...runs[1]!.train.loss, maskDuplicateTargets: true } } };
    assert.deepEqual(configDiff(savedBefore, on), ['train.loss.maskDuplicateTargets: undefined vs true']);
    assert.throws(() => experimentRuns('nope', 'quick'), /Unknown experiment 'nope'/);
    assert.deepEqual(parseArgs(['core', '--scale', 'full', '--set', 'a=1']).sets, ['a=1']);
    assert.equal(parseArgs(['core', '--revalidate']).revalidate, true);
    // Seeds repeat each run; the default seed keeps the plain name, the others are <run>-seed<s> before any tweak.
    const seeded = experimentRuns('core', 'quick', ['train.steps=10'], ['single-turn', 'muco-k7'], undefined, [0, 2]);
    assert.deepEqual(
      seeded.map((r) => [r.run, r.train.seed]),
      [
        ['single-turn_train.steps=10', 0],
        ['single-turn-seed2_train.steps=10', 2],
        ['muco-k7_train.steps=10', 0],
        ['muco-k7-seed2_train.steps=10', 2],
      ],
    );
    assert.deepEqual({ ...seeded[1], run: '', train: { ...seeded[1]!.train, seed: 0 } }, { ...seeded[0], run: '' }, 'only the seed differs');
    assert.equal(stockRun('muco-k7-seed2_train.steps=10'), 'muco-k7');
    assert.equal(runWithoutSeed('muco-k7-seed2_train.steps=10'), 'muco-k7_train.steps=10');
    assert.equal(seedOfRunName('muco-k7-seed2_train.steps=10'), 2);
    assert.equal(seedOfRunName('muco-k7'), null);
    assert.throws(() => experimentRuns('core', 'quick', [], null, undefined, [1, 1]), /seeds must be distinct non-negative integers/);
    assert.deepEqual(parseArgs(['core', '--seeds', '0,1,2']).seeds, [0, 1, 2]);
    assert.throws(() => parseArgs(['core', '--seeds', '0,x']), /--seeds takes a comma-separated list/);
    // Factors scale the (tweaked) base, so a grid's runs stay matched.
    const longer = experimentRuns('longer', 'quick', ['train.steps=10']);
    assert.deepEqual(
      longer.map((r) => [r.train.steps, r.train.imagesPerStep]),
      [
        [20, 2 * (runs[0]?.train.imagesPerStep as number)],
        [20, 2 * (runs[0]?.train.imagesPerStep as number)],
        [20, 2 * (runs[0]?.train.imagesPerStep as number)],
      ],
    );
    assert.deepEqual(longer[2]?.data.kinds, ['retrieval']);
  });

  it('trains, evaluates and writes a results folder in the schema; a killed run resumes; a finished one is skipped', async () => {
    const results = path.join(tmp, 'results');
    // Interrupt after 2 steps (a checkpoint exists), then run again: it resumes and finishes.
    await assert.rejects(
      runExperiment(
        { ...cfg, train: { ...cfg.train, steps: 4 } },
        {
          resultsRoot: results,
          progress: 'none',
          hooks: {
            onStep: (r) => {
              if (r.step === 2) throw new Error('killed');
            },
          },
        },
      ),
      /killed/,
    );
    const dir = path.join(results, 'core', cfg.run);
    assert.ok(fs.existsSync(path.join(dir, 'checkpoints', 'step-000002')), fs.readdirSync(dir).join(','));
    assert.ok(!fs.existsSync(path.join(dir, 'metrics.json')));
    // While another writer holds the folder, the same command is refused and names it.
    const release = lockRun(dir);
    await assert.rejects(runExperiment(cfg, { resultsRoot: results, progress: 'none' }), /is in use: process \d+/);
    release();
    const first = await runExperiment(cfg, { resultsRoot: results, progress: 'none' });
    assert.equal(fs.existsSync(path.join(dir, '.lock')), false, 'the lock outlived the run');
    assert.equal(first.skipped, false);
    const m = readMetrics(dir);
    assert.equal((m.metrics['train'] as Record<string, number>)['resumedFrom'], 2);
    assert.match(m.metadata.backendDetail ?? '', new RegExp(`^${m.metadata.backend} `), 'the evaluation records where it ran');
    for (const key of ['train', 'validation', 'mmeb', 'mbeir']) assert.ok(key in m.metrics, `metrics.${key} missing`);
    for (const f of ['config.json', 'tokenizer.json', 'log.jsonl', 'mmeb.csv', 'mbeir.csv', 'outcomes.json'])
      assert.ok(fs.existsSync(path.join(dir, f)), `${f} missing`);
    // The per-query outcomes aggregate to exactly the metrics the run reports (what the verdicts compare).
    const outcomes = readOutcomes(dir)!;
    const near = (a: number, b: number, what: string): void => assert.ok(Math.abs(a - b) < 1e-9, `${what}: ${a} vs ${b}`);
    near(100 * macroMean(outcomes.mmeb!), (m.metrics['mmeb'] as Record<string, number>)['overall']!, 'mmeb overall');
    near(
      100 * macroMean(outcomes.mbeirLocal!),
      ((m.metrics['mbeir'] as Record<string, Record<string, number>>)['local'] as Record<string, number>)['average']!,
      'mbeir local',
    );
    near(macroMean(outcomes.validation!), (m.metrics['validation'] as Record<string, number>)['mrr']!, 'validation mrr');
    assert.equal(outcomes.validation!['validation']!.length, (m.metrics['validation'] as Record<string, number>)['records']);
    const steps = fs
      .readFileSync(path.join(dir, 'log.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => (JSON.parse(l) as { step: number }).step);
    assert.deepEqual(steps, [0, 1, 2, 3]);
    // Training figures come from the whole log (both sessions), as an uninterrupted run's would.
    const logged = fs
      .readFileSync(path.join(dir, 'log.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { loss: number; pairsPerSec: number; seconds: number });
    const naiveMean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;
    const trainMetrics = m.metrics['train'] as Record<string, number>;
    assert.ok(Math.abs(trainMetrics['finalLoss']! - naiveMean(logged.map((r) => r.loss))) < 1e-12);
    assert.ok(Math.abs(trainMetrics['pairsPerSec']! - naiveMean(logged.map((r) => r.pairsPerSec))) < 1e-9);
    assert.ok(Math.abs(trainMetrics['trainSeconds']! - logged.reduce((a, r) => a + r.seconds, 0)) < 1e-9);
    const again = await runExperiment(cfg, { resultsRoot: results, progress: 'none' });
    assert.equal(again.skipped, true);
    await assert.rejects(
      runExperiment({ ...cfg, train: { ...cfg.train, steps: 5 } }, { resultsRoot: results, progress: 'none' }),
      /finished with another config than this run's \(train\.steps: 4 vs 5\)/,
    );
    const rows = comparisonRows(path.join(results, 'core'));
    assert.equal(rows.length, 1);
    // Chance levels come from the evaluated rows and pools, as a row of their own.
    const chance = chanceRow(path.join(results, 'core'));
    assert.ok(chance !== null && (chance['MMEB overall'] as number) > 0 && (chance['M-BEIR local'] as number) > 0, JSON.stringify(chance));
    const rel = lossCurves(path.join(results, 'core'), [cfg.run], 1, true);
    const logged0 = JSON.parse(fs.readFileSync(path.join(dir, 'log.jsonl'), 'utf8').split('\n')[0] as string) as { loss: number; pairs: number };
    assert.ok(Math.abs((rel.data[0] as { y: number[] }).y[0]! - logged0.loss / Math.log(logged0.pairs)) < 1e-12, 'relative loss = loss / ln(pairs)');
    assert.deepEqual((rel.data[1] as { y: number[]; name: string }).y, [1, 1]);
    const fig = scoreBars(
      [
        { run: 'a', x: 1, y: null },
        { run: 'b', x: 2, y: null },
      ],
      ['x', 'y'],
      't',
    );
    assert.deepEqual((fig.data[0] as { x: string[] }).x, ['x'], 'a column no run has is left out');
    const summary = writeExperimentSummary(path.join(results, 'core'), 'core', 'smoke', [cfg.run]);
    assert.match(summary, /\| chance \(random embeddings\) \|/);
    assert.doesNotMatch(summary, /dual encoder/, 'no reference row before the baseline ran at this scale');
    // The dual-encoder baseline of the same scale (same metric blocks) becomes a reference row between runs and chance.
    const baseline = path.join(results, 'baselines', 'dual-encoder');
    fs.mkdirSync(baseline, { recursive: true });
    const baselineMetrics = { ...m, metrics: { ...m.metrics, validation: { ...(m.metrics['validation'] as Record<string, number>), mrr: 0.4242 } } };
    fs.writeFileSync(path.join(baseline, 'metrics.json'), JSON.stringify(baselineMetrics));
    const withReference = writeExperimentSummary(path.join(results, 'core'), 'core', 'smoke', [cfg.run]).split('\n');
    const refLine = withReference.findIndex((l) => l.startsWith(`| ${REFERENCE_ROW} |`));
    assert.ok(
      refLine > withReference.findIndex((l) => l.startsWith('| muco-k7')) && refLine < withReference.findIndex((l) => l.startsWith('| chance')),
      withReference.join('\n'),
    );
    assert.match(withReference[refLine] as string, /\| 42\.4 \|/);
    fs.rmSync(path.join(results, 'baselines'), { recursive: true });
    assert.match(markdownTable(rows), /\| muco-k7_/);
    // Without an order the summary lists the catalogue's runs, then every other finished run (a --set tweak).
    const byDefault = writeExperimentSummary(path.join(results, 'core'), 'core', 'smoke');
    assert.ok(byDefault.includes(`| ${cfg.run} |`), `the tweaked run ${cfg.run} is listed:\n${byDefault}`);
    // The same work under another experiment's name is reused, not retrained; different work is not.
    const twin = { ...cfg, experiment: 'logit-mask', run: 'mask-on' };
    const reused = await runExperiment(twin, { resultsRoot: results, progress: 'none' });
    const twinDir = path.join(results, 'logit-mask', 'mask-on');
    assert.equal(reused.dir, twinDir);
    const tm = readMetrics(twinDir);
    assert.equal(tm.metrics['reusedFrom'], `core/${cfg.run}`);
    assert.equal(tm.metadata.run, 'mask-on');
    assert.deepEqual({ ...tm.metrics, reusedFrom: undefined }, { ...m.metrics, reusedFrom: undefined });
    assert.equal((JSON.parse(fs.readFileSync(path.join(twinDir, 'config.json'), 'utf8')) as RunConfig).run, 'mask-on');
    // The final weights export (what is committed for the core runs) loads as the same model.
    const exported = exportRunModel(dir);
    assert.deepEqual(fs.readdirSync(exported).sort(), ['model.json', 'tokenizer.json', 'weights.bin']);
    const fromCkpt = (await loadCheckpoint(latestCheckpoint(dir) as string)).embedder;
    const fromExport = (await loadCheckpoint(exported)).embedder;
    const probe = [{ text: 'a red heart' }];
    assert.deepEqual(Array.from(await fromExport.embedInputs(probe)), Array.from(await fromCkpt.embedInputs(probe)));
    fromCkpt.dispose();
    fromExport.dispose();
    const other = { ...twin, run: 'mask-off', train: { ...cfg.train, loss: { ...cfg.train.loss, logitMask: !cfg.train.loss.logitMask } } };
    assert.equal(findEquivalentRun(other, results), null);
    // Revalidation recomputes the same validation from the final weights (plus when) and touches nothing else.
    const v = await revalidateRun(dir);
    const after = readMetrics(dir);
    assert.deepEqual({ ...after.metrics, validation: undefined }, { ...m.metrics, validation: undefined });
    assert.deepEqual(
      { ...(after.metrics['validation'] as Record<string, unknown>), recomputed: undefined },
      { ...(m.metrics['validation'] as Record<string, unknown>), recomputed: undefined },
    );
    assert.equal((v['recomputed'] as Record<string, string>)['weights'], path.join('checkpoints', 'step-000004'));
    for (const key of ['mrrOtherImage', 'mrrImageOnly']) assert.equal(typeof v[key], 'number', key);
    // Outcomes of a run that finished without them are recorded from its weights, equal to the run's own;
    // a run that has them is left alone; weights that do not reproduce metrics.json are refused.
    const outcomesFile = path.join(dir, 'outcomes.json');
    const kept = fs.readFileSync(outcomesFile, 'utf8');
    fs.rmSync(outcomesFile);
    assert.deepEqual(await recordOutcomes(dir), outcomes);
    assert.equal(await recordOutcomes(dir), null);
    fs.rmSync(outcomesFile);
    const metricsFile = path.join(dir, 'metrics.json');
    const good = fs.readFileSync(metricsFile, 'utf8');
    const tampered = JSON.parse(good) as { metrics: { mmeb: { overall: number } } };
    tampered.metrics.mmeb.overall += 5;
    fs.writeFileSync(metricsFile, JSON.stringify(tampered));
    await assert.rejects(recordOutcomes(dir), /mmeb recomputed from .* but metrics\.json says .*: these are not the weights/);
    assert.equal(fs.existsSync(outcomesFile), false);
    fs.writeFileSync(metricsFile, good);
    fs.writeFileSync(outcomesFile, kept);
    // Weights older than the run's last step (an unfinished run) are refused.
    fs.renameSync(path.join(dir, 'checkpoints', 'step-000004'), path.join(dir, 'checkpoints', 'held'));
    await assert.rejects(revalidateRun(dir), /from step 2, but the run trains 4 steps/);
    fs.renameSync(path.join(dir, 'checkpoints', 'held'), path.join(dir, 'checkpoints', 'step-000004'));
    fs.rmSync(path.join(dir, 'checkpoints'), { recursive: true });
    assert.equal(finalWeights(dir), exported);
    fs.rmSync(exported, { recursive: true });
    // Without weights of its own, the copy's weights are the run's: the same validation, named as from there.
    const viaTwin = await revalidateRun(dir, results);
    assert.equal(viaTwin['mrr'], v['mrr']);
    assert.equal((viaTwin['recomputed'] as Record<string, string>)['weights'], path.join('..', '..', 'logit-mask', 'mask-on', 'checkpoints', 'step-000004'));
    fs.rmSync(path.join(twinDir, 'checkpoints'), { recursive: true });
    await assert.rejects(revalidateRun(dir, results), /neither checkpoints nor model\/.*no equivalent run has/);
  });

  it('every committed results/**/metrics.json validates against the schema', () => {
    const files = findMetrics(path.join(ROOT, 'results'));
    // The committed full-scale results are part of the repository: finding none means the walk is broken.
    assert.ok(files.length >= 10, `found only ${files.length} metrics.json under results/`);
    for (const f of files) validateMetricsFile(JSON.parse(fs.readFileSync(f, 'utf8')), f);
  });
});
