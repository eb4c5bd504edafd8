/** lib/run-lock: one writer per run folder; a lock whose process is gone is taken over. */
import { strict as assert } from 'assert';
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { lockRun } from '../lib/run-lock';

describe('run lock', () => {
  let dir = '';
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'muco-lock-'));
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('refuses a second writer, naming the holder; released, the folder can be locked again', () => {
    const release = lockRun(dir);
    assert.throws(() => lockRun(dir), new RegExp(`is in use: process ${process.pid} has been writing it since`));
    release();
    release(); // idempotent
    assert.equal(fs.existsSync(path.join(dir, '.lock')), false);
    lockRun(dir)();
  });

  it('takes over a stale lock (its process has exited) and a torn one', () => {
    // A pid that certainly exited: a finished child's.
    const pid = Number(execFileSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']).toString());
    fs.writeFileSync(path.join(dir, '.lock'), JSON.stringify({ pid, host: os.hostname(), since: '2026-01-01T00:00:00Z', command: 'old' }));
    const release = lockRun(dir);
    assert.equal(JSON.parse(fs.readFileSync(path.join(dir, '.lock'), 'utf8')).pid, process.pid);
    release();
    fs.writeFileSync(path.join(dir, '.lock'), '{"pid": 12');
    lockRun(dir)();
  });

  it("never removes another writer's lock when released late", () => {
    const release = lockRun(dir);
    fs.writeFileSync(path.join(dir, '.lock'), JSON.stringify({ pid: process.pid, host: os.hostname(), since: 'later', command: 'other' }));
    release();
    assert.equal(JSON.parse(fs.readFileSync(path.join(dir, '.lock'), 'utf8')).since, 'later');
  });
});
