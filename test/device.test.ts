/**
 * What carries the GPU check to a GPU machine (docs/gpu.md), tested on the CPU: the data subset the bundle
 * packs, the replay of a run from it (bench/gpu-run.ts), the bundle itself (scripts/device-bundle.ts) and the
 * way the checkout is made small enough to travel (scripts/device-travel.ts).
 */
import { strict as assert } from 'assert';
import { execFileSync, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { bundledRun, replayConfig, replayRun } from '../bench/gpu-run';
import { initBackend } from '../lib/backend';
import { buildData } from '../lib/data/build';
import { ImageCache } from '../lib/data/cache';
import { readMiniM3t } from '../lib/data/m3t';
import { writeM3tSubset } from '../lib/data/subset';
import { LogLevel, logLevel, setLogLevel } from '../lib/log';
import { saveCheckpoint } from '../lib/model/checkpoint';
import { Embedder } from '../lib/model/embedder';
import { experimentRuns } from '../lib/runner/catalog';
import { runExperiment, runTokenizer } from '../lib/runner/run';
import { validationRecall } from '../lib/runner/validate';
import { isSlim, restore, slim, travellingBytes } from '../scripts/device-travel';

const ROOT = path.join(__dirname, '..');

describe('device: data subset and run replay', function () {
  this.timeout(600_000);
  let tmp: string;
  let previous: LogLevel;

  before(async () => {
    previous = logLevel();
    setLogLevel('warn');
    await initBackend({ backend: 'wasm' });
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'muco-device-'));
    await buildData({ root: ROOT, outDir: path.join(tmp, 'data'), limit: 24, miniMmeb: { maxQueries: 4, maxCandidates: 8 }, miniMbeir: { maxQueries: 4 } });
  });
  after(async () => {
    setLogLevel(previous);
    fs.rmSync(tmp, { recursive: true, force: true });
    await initBackend({ backend: 'cpu' });
  });

  it('a subset holds the chosen splits byte for byte and exactly the pixels of the images they name', async () => {
    const out = path.join(tmp, 'subset');
    const summary = await writeM3tSubset(path.join(tmp, 'data'), out, ['train', 'validation'], 32);
    const full = ImageCache.open(path.join(tmp, 'data', 'cache'), 32);
    const part = ImageCache.open(path.join(out, 'cache'), 32);
    let records = 0;
    const named = new Set<string>();
    for (const split of ['train', 'validation']) {
      const a = await readMiniM3t(path.join(tmp, 'data'), split, 'both');
      const b = await readMiniM3t(out, split, 'both');
      assert.deepEqual(
        b.records.map((r) => r.id),
        a.records.map((r) => r.id),
      );
      records += a.records.length;
      for (const r of a.records)
        for (const p of [r.queryImagePath, r.targetImagePath, ...r.negatives.map((n) => n.imagePath)]) {
          if (p === '') continue;
          named.add(p);
          assert.deepEqual(part.bytes(part.rowOf(p) as number), full.bytes(full.rowOf(p) as number), p);
        }
    }
    assert.equal(summary.records, records);
    assert.equal(summary.images, named.size);
    assert.equal(part.count, named.size);
    assert.ok(part.count < full.count, 'the test split and the benchmarks’ images are left out');
    assert.deepEqual(Object.keys(JSON.parse(fs.readFileSync(path.join(out, 'm3t', 'manifest.json'), 'utf8')).splits), ['train', 'validation']);
    await assert.rejects(writeM3tSubset(path.join(tmp, 'data'), out, ['train'], 32), /exists already/);
    await assert.rejects(writeM3tSubset(path.join(tmp, 'data'), path.join(tmp, 'other'), ['dev'], 32), /no split "dev"; expected one of train, validation/);
    await assert.rejects(writeM3tSubset(path.join(tmp, 'data'), path.join(tmp, 'other'), ['train'], 48), /not 48/);
  });

  it('a replay from the bundle layout repeats the run: the same losses, and the same validation from cached pixels', async () => {
    // A finished run from a (freshly saved) base, as the committed runs are, on the limited build.
    const [c] = experimentRuns('core', 'smoke', [], ['muco-k7'], {
      data: { dir: path.join(tmp, 'data') },
      train: { steps: 3, evalEvery: 2 },
      eval: { benchmarks: [], validationRecords: 8 },
    });
    const { records } = { records: (await readMiniM3t(path.join(tmp, 'data'), 'train')).records };
    const tokenizer = runTokenizer(records, 1000);
    const cfg0 = { ...c!, model: { ...c!.model, vocabSize: tokenizer.vocabSize } };
    const base = Embedder.create(cfg0.model, tokenizer, 5);
    const baseDir = path.join(tmp, 'base');
    await saveCheckpoint(baseDir, base.config, tokenizer, base.params, { step: 0, base: true });
    base.dispose();
    const cfg = { ...cfg0, init: { from: 'base' as const, dir: baseDir, sha256: null } };
    const { dir } = await runExperiment(cfg, { resultsRoot: path.join(tmp, 'results'), progress: 'none' });
    const logged = fs
      .readFileSync(path.join(dir, 'log.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { loss: number; eval?: Record<string, number> });

    // Packed as scripts/device-bundle.ts packs it.
    const packed = path.join(tmp, 'packed');
    fs.mkdirSync(path.join(packed, 'base'), { recursive: true });
    for (const f of ['config.json', 'log.jsonl']) fs.copyFileSync(path.join(dir, f), path.join(packed, f));
    for (const f of ['model.json', 'tokenizer.json', 'weights.bin']) fs.copyFileSync(path.join(baseDir, f), path.join(packed, 'base', f));
    await writeM3tSubset(path.join(tmp, 'data'), path.join(packed, 'data'), ['train', 'validation'], cfg.model.imageSize);

    const before = tf.memory().numTensors;
    const partials: number[] = [];
    const replay = await replayRun(bundledRun(packed), { maxSteps: 3, deadline: Infinity, progress: (p) => partials.push(p.steps) });
    assert.equal(tf.memory().numTensors, before, 'the replay disposes its model');
    assert.equal(replay.run, `${cfg.experiment}/${cfg.run}`);
    assert.equal(replay.steps, 3);
    assert.deepEqual(
      replay.loss,
      logged.map((l) => l.loss),
    );
    assert.deepEqual(replay.cpuLoss, replay.loss);
    assert.equal(replay.firstLossRelError, 0);
    assert.deepEqual(partials, [2]);
    assert.deepEqual(
      replay.windows.map((w) => [w.from, w.to]),
      [
        [0, 2],
        [2, 3],
      ],
    );
    // Step 2 is an evalEvery step, step 3 the run's last: both are checked here and there, and agree exactly.
    assert.deepEqual(
      replay.validation.map((v) => v.step),
      [2, 3],
    );
    for (const v of replay.validation) {
      assert.ok(v.here.mrr !== undefined && v.here.clsAccuracy !== undefined);
      assert.deepEqual(v.here, v.cpu, `validation at step ${v.step}`);
    }

    // The cached-pixel check equals the decoding one on any model.
    const model = Embedder.create(cfg.model, tokenizer, 9);
    const decoded = await validationRecall(model, { ...cfg, data: { ...cfg.data, dir: path.join(tmp, 'data') } });
    const cached = await validationRecall(model, replayConfig(bundledRun(packed)), undefined, { imagesFromCache: true });
    model.dispose();
    assert.deepEqual(cached, decoded);

    // A stop at the deadline keeps what was trained; a base with other weights than the run recorded is refused.
    const stopped = await replayRun(bundledRun(packed), { maxSteps: 3, deadline: 0 });
    assert.deepEqual(stopped.loss, replay.loss.slice(0, 1));
    await assert.rejects(replayRun(bundledRun(packed), { maxSteps: Number('abc'), deadline: Infinity }), /whole number ≥ 1, got NaN/);
    fs.writeFileSync(path.join(packed, 'base', 'weights.bin'), Buffer.alloc(fs.statSync(path.join(packed, 'base', 'weights.bin')).size));
    assert.throws(() => replayConfig(bundledRun(packed)), /init\.sha256/);
    const scratch = path.join(tmp, 'scratch-run');
    fs.mkdirSync(scratch);
    fs.writeFileSync(path.join(scratch, 'config.json'), JSON.stringify({ ...cfg, init: { from: 'scratch', dir: null, sha256: null } }));
    assert.throws(() => replayConfig(bundledRun(scratch)), /needs a run that starts from a base model/);
    assert.throws(() => replayConfig(bundledRun(path.join(tmp, 'nowhere'))), /config\.json is missing.*npm run device-bundle/);
  });
});

/**
 * A PATH with every program of this one except xz, as on a machine image without xz-utils, and with an
 * `ldconfig` whose cache is empty, as on an image without the Vulkan and GL loader libraries.
 */
function bareImagePath(dir: string, without: string[] = []): string {
  fs.mkdirSync(dir);
  fs.writeFileSync(path.join(dir, 'ldconfig'), '#!/bin/sh\nexit 0\n', { mode: 0o755 });
  const taken = new Set(['ldconfig', 'xz', 'unxz', 'xzcat', 'lzma', 'unlzma', ...without]);
  for (const d of (process.env.PATH ?? '').split(':')) {
    if (d === '' || !fs.existsSync(d)) continue;
    for (const f of fs.readdirSync(d)) {
      if (taken.has(f)) continue;
      taken.add(f);
      fs.symlinkSync(path.join(d, f), path.join(dir, f));
    }
  }
  return dir;
}

/**
 * run.sh on a bare image (no xz, no loader libraries) unpacks everything through python3's lzma and the loader
 * packages into its own folder, and the bundled Node runs the bundled check, which here stops at its argument
 * check before any GPU work. Needs python3 with lzma.
 */
function runShOnBareImage(bundle: string, tmp: string): void {
  try {
    execFileSync('python3', ['-c', 'import lzma'], { stdio: 'ignore' });
  } catch {
    process.stdout.write('      (run.sh check skipped: needs python3)\n');
    return;
  }
  const work = path.join(tmp, 'device');
  const env = { ...process.env, PATH: bareImagePath(path.join(tmp, 'bin')), MUCO_DEVICE_DIR: work, OUT: tmp };
  const runSh = (e: NodeJS.ProcessEnv) => spawnSync('sh', [path.join(bundle, 'run.sh'), '--budget-s', 'soon'], { env: e, encoding: 'utf8' });
  const bare = runSh(env);
  assert.notEqual(bare.status, 0);
  assert.match(bare.stderr, /--budget-s must be a positive number, got 'soon'/);
  assert.match(bare.stdout, /unpacked from the bundle: libvulkan1 libglvnd0 libegl1 libgl1 libglx0 libopengl0 libgles2\n/);
  for (const so of ['libvulkan.so.1', 'libGLdispatch.so.0', 'libEGL.so.1']) assert.ok(fs.existsSync(path.join(work, 'sys/usr/lib/x86_64-linux-gnu', so)), so);
  const xz = (f: string): Buffer => execFileSync('xz', ['-dc', path.join(bundle, f)], { maxBuffer: 1 << 30 });
  assert.ok(xz('node.xz').equals(fs.readFileSync(path.join(work, 'node'))), 'node');
  assert.ok(xz('gpu-check.js.xz').equals(fs.readFileSync(path.join(work, 'gpu-check.js'))), 'gpu-check.js');
  const dawn = 'node_modules/webgpu/dist/linux-x64/dawn.node';
  assert.ok(xz(`${dawn}.xz`).equals(fs.readFileSync(path.join(work, dawn))), 'dawn.node');
  for (const f of ['config.json', 'log.jsonl', 'base/weights.bin', 'data/cache/images-32.u8']) assert.ok(fs.existsSync(path.join(work, 'run', f)), `run/${f}`);
  assert.equal(fs.existsSync(path.join(work, 'run.tar')), false, 'the unpacked archive is removed');
  // With nothing to unpack with, it stops at the first unpack and says why, before the check runs.
  const none = runSh({ ...env, PATH: bareImagePath(path.join(tmp, 'bin-no-python'), ['python3']) });
  assert.notEqual(none.status, 0);
  assert.match(none.stderr, /neither xz nor python3 with lzma is here/);
  assert.doesNotMatch(none.stderr, /--budget-s/);
}

describe('device: the bundle', function () {
  this.timeout(600_000);

  it('holds every file the GPU machine needs, under its size limit, and fits the device tool with results/ left out', async function () {
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'muco-bundle-'));
    const previous = logLevel();
    setLogLevel('warn');
    try {
      await buildData({ root: ROOT, outDir: path.join(tmp, 'data'), limit: 12, miniMmeb: { maxQueries: 4, maxCandidates: 8 }, miniMbeir: { maxQueries: 4 } });
      const out = path.join(tmp, 'bundle');
      const bundle = (...extra: string[]): Buffer =>
        execFileSync('npx', ['tsx', 'scripts/device-bundle.ts', '--out', out, '--data', path.join(tmp, 'data'), ...extra], { cwd: ROOT, stdio: 'pipe' });
      // A limited build is not the data the run trained on: its first step is replayed, and the bundle refused.
      assert.throws(
        () => bundle(),
        (e: Error & { stderr?: Buffer }) => /Replaying step 0 of core\/muco-k7 .* is not the one the run trained on/.test(String(e.stderr)),
      );
      assert.deepEqual(
        fs.readdirSync(out).filter((f) => f.startsWith('.run-')),
        [],
        'the staging folder is removed',
      );
      bundle('--unchecked');
      const files = [
        'run.sh',
        'gpu-check.js.xz',
        'gpu-reference.json',
        'node.xz',
        'run.tar.xz',
        'node_modules/webgpu/index.js',
        'node_modules/webgpu/dist/linux-x64/dawn.node.xz',
      ];
      for (const f of files) assert.ok(fs.existsSync(path.join(out, f)), f);
      const debs = fs.readdirSync(path.join(out, 'debs'));
      for (const pkg of ['libvulkan1', 'libglvnd0', 'libegl1', 'libgl1', 'libglx0', 'libopengl0', 'libgles2'])
        assert.ok(
          debs.some((f) => f.startsWith(`${pkg}_`) && f.endsWith('.deb')),
          pkg,
        );
      const listing = execFileSync('tar', ['-tJf', path.join(out, 'run.tar.xz')], { encoding: 'utf8' }).split('\n');
      for (const f of ['run/config.json', 'run/log.jsonl', 'run/base/weights.bin', 'run/data/m3t/manifest.json', 'run/data/cache/images-32.u8'])
        assert.ok(listing.includes(f), f);
      const mib = (b: number): number => b / 2 ** 20;
      const bundled = travellingBytes(ROOT, [path.relative(ROOT, out)]).carried;
      assert.ok(mib(bundled) < 60, `bundle ${mib(bundled).toFixed(1)} MiB`);
      // What travels without results/: the rest of the checkout is a few MiB.
      const tree = travellingBytes(ROOT).tree;
      const results = execFileSync('git', ['ls-files', '-z', 'results'], { cwd: ROOT, encoding: 'utf8' })
        .split('\0')
        .filter((f) => f !== '' && fs.existsSync(path.join(ROOT, f)))
        .reduce((n, f) => n + fs.statSync(path.join(ROOT, f)).size, 0);
      assert.ok(mib(tree - results + bundled) < 64, `${mib(tree - results + bundled).toFixed(1)} MiB would travel`);
      runShOnBareImage(out, tmp);
    } finally {
      setLogLevel(previous);
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  });
});

describe('device: travel size (slim and restore)', () => {
  let repo: string;
  const git = (...args: string[]): string => execFileSync('git', args, { cwd: repo, encoding: 'utf8' });
  beforeEach(() => {
    repo = fs.mkdtempSync(path.join(os.tmpdir(), 'muco-travel-'));
    git('init', '-q');
    git('config', 'user.email', 't@example.org');
    git('config', 'user.name', 't');
    fs.mkdirSync(path.join(repo, 'results', 'run'), { recursive: true });
    fs.mkdirSync(path.join(repo, 'lib'));
    fs.writeFileSync(path.join(repo, 'results', 'run', 'weights.bin'), Buffer.alloc(5000));
    fs.writeFileSync(path.join(repo, 'lib', 'a.ts'), 'x'.repeat(100));
    fs.writeFileSync(path.join(repo, '.gitignore'), 'bundle/\n');
    git('add', '.');
    git('commit', '-q', '-m', 'c');
    fs.mkdirSync(path.join(repo, 'bundle'));
    fs.writeFileSync(path.join(repo, 'bundle', 'node.xz'), Buffer.alloc(700));
    fs.writeFileSync(path.join(repo, 'notes.md'), 'y'.repeat(10)); // untracked, not ignored: travels
  });
  afterEach(() => fs.rmSync(repo, { recursive: true, force: true }));

  it('counts tracked and untracked-not-ignored files, plus what is carried', () => {
    assert.deepEqual(travellingBytes(repo, ['bundle']), { tree: 5000 + 100 + 10 + 8, carried: 700 });
  });

  it('--slim leaves results/ out of what travels without touching files or commits; --restore undoes it exactly', () => {
    fs.writeFileSync(path.join(repo, '.git', 'info', 'exclude'), '# mine\n*.tmp\n');
    const head = git('rev-parse', 'HEAD');
    slim(repo);
    assert.ok(isSlim(repo));
    assert.equal(travellingBytes(repo).tree, 100 + 10 + 8);
    assert.ok(fs.existsSync(path.join(repo, 'results', 'run', 'weights.bin')));
    slim(repo); // a second slim changes nothing
    restore(repo);
    assert.ok(!isSlim(repo));
    assert.equal(git('status', '--porcelain'), '?? notes.md\n');
    assert.equal(git('rev-parse', 'HEAD'), head);
    assert.equal(fs.readFileSync(path.join(repo, '.git', 'info', 'exclude'), 'utf8'), '# mine\n*.tmp\n');
    restore(repo); // and so does a second restore
    assert.equal(git('status', '--porcelain'), '?? notes.md\n');
  });

  it('--restore without a slim in effect leaves staged work alone; a slim undone by hand is redone', () => {
    fs.writeFileSync(path.join(repo, 'results', 'run', 'weights.bin'), Buffer.alloc(4000));
    fs.writeFileSync(path.join(repo, 'results', 'run', 'new.json'), '{}');
    git('add', 'results');
    restore(repo);
    assert.equal(git('status', '--porcelain'), 'A  results/run/new.json\nM  results/run/weights.bin\n?? notes.md\n');
    git('commit', '-q', '-m', 'd');
    slim(repo);
    git('reset', '-q', '--', 'results'); // put back by hand: the exclude lines remain
    slim(repo);
    assert.equal(travellingBytes(repo).tree, 100 + 10 + 8);
    restore(repo);
    assert.equal(git('status', '--porcelain'), '?? notes.md\n');
  });

  it('works in a linked worktree, whose exclude file lives in the main repository', () => {
    const linked = `${repo}-linked`;
    git('worktree', 'add', '-q', linked);
    try {
      slim(linked);
      assert.ok(isSlim(linked));
      assert.equal(travellingBytes(linked).tree, 100 + 8);
      const status = execFileSync('git', ['status', '--porcelain'], { cwd: linked, encoding: 'utf8' });
      assert.ok(!/^\?\? /m.test(status), `results/ is ignored, not untracked: ${status.slice(0, 200)}`);
      restore(linked);
      assert.equal(execFileSync('git', ['status', '--porcelain'], { cwd: linked, encoding: 'utf8' }), '');
    } finally {
      git('worktree', 'remove', '--force', linked);
    }
  });

  it('--slim refuses while results/ has staged changes', () => {
    fs.writeFileSync(path.join(repo, 'results', 'run', 'new.json'), '{}');
    git('add', 'results');
    assert.throws(() => slim(repo), /Staged changes under results \(results\/run\/new\.json/);
    assert.ok(!isSlim(repo));
  });
});
