/**
 * One writer per run folder. Two identical commands would otherwise both train the whole run and append every
 * step to log.jsonl twice. `lockRun` creates `<dir>/.lock` exclusively, holding the owner's pid, host and start
 * time; a second command is told who holds it. A lock whose process is gone (killed, machine restarted) is
 * stale: it is taken over with a warning.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { log } from './log';

interface LockInfo {
  pid: number;
  host: string;
  since: string;
  command: string;
}

const LOCK = '.lock';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: the process exists but belongs to someone else.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function readLock(file: string): LockInfo | null {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8')) as LockInfo;
  } catch {
    return null; // torn or half-written: treated as stale
  }
}

/** Take the run folder's lock (the folder must exist). Returns the function that releases it. */
export function lockRun(dir: string): () => void {
  const file = path.join(dir, LOCK);
  const mine: LockInfo = { pid: process.pid, host: os.hostname(), since: new Date().toISOString(), command: process.argv.slice(1).join(' ') };
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      fs.writeFileSync(file, JSON.stringify(mine) + '\n', { flag: 'wx' });
      let released = false;
      const release = (): void => {
        if (released) return;
        released = true;
        const held = readLock(file);
        if (held !== null && held.pid === mine.pid && held.since === mine.since) fs.rmSync(file, { force: true });
        process.removeListener('exit', release);
      };
      process.on('exit', release);
      return release;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const held = readLock(file);
    const sameHost = held !== null && held.host === os.hostname();
    if (held !== null && (!sameHost || alive(held.pid))) {
      const where = sameHost ? `process ${held.pid}` : `process ${held.pid} on ${held.host}`;
      throw new Error(
        `${dir} is in use: ${where} has been writing it since ${held.since} (${held.command}). Wait for it to finish or stop it; ` +
          `if that process is gone (another machine that crashed), delete ${file}.`,
      );
    }
    log.warn(`${dir}: taking over a stale lock${held === null ? '' : ` of process ${held.pid} (since ${held.since}), which is no longer running`}.`);
    fs.rmSync(file, { force: true });
  }
  throw new Error(`Could not lock ${dir}: another process keeps taking ${file}.`);
}
