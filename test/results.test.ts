import { strict as assert } from 'assert';
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import {
  appendLog,
  createRun,
  isUnfinishedRun,
  gitSha,
  type MetricsFile,
  readMetrics,
  runDir,
  toCsv,
  validateMetricsFile,
  writeCsv,
  writeFileAtomic,
  writeMetrics,
} from '../lib/results';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'muco-results-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

const good = (): MetricsFile => ({
  metadata: { experiment: 'eval', run: 'random-mini-mmeb', gitSha: 'abc123', date: '2026-01-02T03:04:05.000Z', backend: 'cpu', seed: 0 },
  metrics: { overall: 12.5, metaTask: { CLS: 10, VG: null }, datasets: ['A', 'B'], complete: true },
});

describe('results: run folders and atomic writes', () => {
  it('runDir joins root/experiment/run and rejects names that would escape it', () => {
    assert.equal(runDir('results', 'eval', 'r1'), path.join('results', 'eval', 'r1'));
    assert.throws(() => runDir('results', '..', 'r1'), /experiment name "\.\." must be a plain folder name/);
    assert.throws(() => runDir('results', 'eval', 'a/b'), /run name "a\/b"/);
  });

  it('writes atomically, refuses to overwrite unless asked, leaves no temporary files', () => {
    const file = path.join(tmp, 'atomic', 'x.json');
    writeFileAtomic(file, 'one');
    assert.throws(() => writeFileAtomic(file, 'two'), /x\.json already exists; refusing to overwrite it/);
    assert.equal(fs.readFileSync(file, 'utf8'), 'one');
    writeFileAtomic(file, 'three', { overwrite: true });
    assert.equal(fs.readFileSync(file, 'utf8'), 'three');
    assert.deepEqual(fs.readdirSync(path.dirname(file)), ['x.json']);
  });

  it('createRun writes config.json and will not silently replace a finished run', () => {
    const dir = createRun(tmp, 'exp', 'run1', { lr: 0.001 });
    assert.deepEqual(JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8')), { lr: 0.001 });
    writeMetrics(dir, good());
    assert.throws(() => createRun(tmp, 'exp', 'run1', { lr: 0.002 }), /already has results \(metrics\.json\)/);
    assert.throws(() => writeMetrics(dir, good()), /metrics\.json already exists/);
    createRun(tmp, 'exp', 'run1', { lr: 0.002 }, { overwrite: true });
    writeMetrics(dir, good(), { overwrite: true });
    assert.deepEqual(readMetrics(dir), good());
  });

  it('a folder an earlier attempt left without results is reused, not refused', () => {
    const dir = createRun(tmp, 'exp', 'failed', { lr: 0.001 });
    assert.ok(isUnfinishedRun(dir));
    createRun(tmp, 'exp', 'failed', { lr: 0.003 });
    assert.deepEqual(JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8')), { lr: 0.003 });
    writeMetrics(dir, good());
    assert.ok(!isUnfinishedRun(dir));
    assert.throws(() => createRun(tmp, 'exp', 'failed', { lr: 0.004 }), /already has results/);
  });

  it('appendLog adds one JSON line per record', () => {
    const dir = path.join(tmp, 'logs');
    appendLog(dir, { step: 1, loss: 2.5 });
    appendLog(dir, { step: 2, loss: 2.25 });
    const lines = fs
      .readFileSync(path.join(dir, 'log.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    assert.deepEqual(lines, [
      { step: 1, loss: 2.5 },
      { step: 2, loss: 2.25 },
    ]);
  });

  it('CSV: header from the keys, RFC 4180 quoting, empty cells for null / non-finite', () => {
    const csv = toCsv([
      { name: 'a,b', value: 1.5, note: 'say "hi"' },
      { name: 'line\nbreak', value: null, extra: NaN },
    ]);
    assert.equal(csv, 'name,value,note,extra\n"a,b",1.5,"say ""hi""",\n"line\nbreak",,,\n');
    writeCsv(tmp, 'table', [{ a: 1 }], { columns: ['a', 'b'] });
    assert.equal(fs.readFileSync(path.join(tmp, 'table.csv'), 'utf8'), 'a,b\n1,\n');
  });

  it('gitSha: a commit id in this checkout, "unknown" outside git', () => {
    assert.match(gitSha(), /^[0-9a-f]{40}(-dirty)?$/);
    assert.equal(gitSha(tmp), 'unknown');
  });

  it('gitSha: "-dirty" for changed code, not for the outputs runs write (results/, bench/results/)', () => {
    const repo = fs.mkdtempSync(path.join(os.tmpdir(), 'muco-git-'));
    const git = (...args: string[]): void => void execFileSync('git', ['-c', 'user.name=t', '-c', 'user.email=t@t', ...args], { cwd: repo, stdio: 'ignore' });
    git('init', '-q');
    for (const f of ['lib/a.ts', 'results/x/metrics.json', 'bench/results/b.json']) {
      fs.mkdirSync(path.join(repo, path.dirname(f)), { recursive: true });
      fs.writeFileSync(path.join(repo, f), '1');
    }
    git('add', '.');
    git('commit', '-qm', 'init');
    const clean = gitSha(repo);
    assert.match(clean, /^[0-9a-f]{40}$/);
    fs.writeFileSync(path.join(repo, 'results/x/metrics.json'), '2');
    fs.writeFileSync(path.join(repo, 'bench/results/b.json'), '2');
    assert.equal(gitSha(repo), clean);
    assert.equal(gitSha(path.join(repo, 'lib')), clean, 'from a subfolder too');
    fs.writeFileSync(path.join(repo, 'lib/a.ts'), '2');
    assert.equal(gitSha(repo), `${clean}-dirty`);
    fs.rmSync(repo, { recursive: true, force: true });
  });
});

describe('results: metrics.json validation names the field', () => {
  const cases: [string, (m: Record<string, any>) => void, RegExp][] = [
    ['missing seed', (m) => delete m['metadata']['seed'], /metadata\.seed must be an integer, got nothing \(missing\)/],
    ['fractional seed', (m) => (m['metadata']['seed'] = 1.5), /metadata\.seed must be an integer, got 1\.5/],
    ['bad date', (m) => (m['metadata']['date'] = 'yesterday'), /metadata\.date must be an ISO 8601 date string, got "yesterday"/],
    ['empty run', (m) => (m['metadata']['run'] = ''), /metadata\.run must be a non-empty string/],
    ['no metadata', (m) => delete m['metadata'], /metadata must be an object/],
    ['metrics array', (m) => (m['metrics'] = [1, 2]), /metrics must be an object, got \[1,2\]/],
    ['nested NaN', (m) => (m['metrics']['metaTask']['CLS'] = NaN), /metrics\.metaTask\.CLS must be a finite number/],
    ['function leaf', (m) => (m['metrics']['datasets'][1] = () => 1), /metrics\.datasets\[1\] must be a number, string, boolean, null, array or object/],
  ];
  for (const [name, mutate, re] of cases) {
    it(name, () => {
      const m = good() as unknown as Record<string, any>;
      mutate(m);
      assert.throws(() => validateMetricsFile(m, 'metrics.json'), re);
    });
  }

  it('a valid file passes, and readMetrics reports bad JSON with the path', () => {
    validateMetricsFile(good());
    const dir = path.join(tmp, 'badjson');
    fs.mkdirSync(dir);
    fs.writeFileSync(path.join(dir, 'metrics.json'), '{"metadata": ');
    assert.throws(() => readMetrics(dir), /badjson\/metrics\.json: not valid JSON/);
    assert.throws(() => readMetrics(path.join(tmp, 'none')), /metrics\.json not found: is .* a run folder/);
    assert.throws(() => writeMetrics(path.join(tmp, 'nan'), { ...good(), metrics: { x: NaN } }), /metrics\.x must be a finite number/);
  });
});
