/**
 * A run folder's training state, shared by the embedding trainer (lib/train.ts), the base-model pretraining
 * (lib/pretrain/train.ts): checkpoints of model, optimizer and trainer (saved atomically, checked for damage on
 * restore, the newest intact one resumed), the per-step log (a torn last line tolerated), leftovers of
 * interrupted writes, and the guard that never saves diverged weights.
 */
import * as fs from 'fs';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { log } from './log';
import type { LearnableTemperature } from './loss';
import {
  checkBinary,
  checkpointDirs,
  integrityOf,
  Integrity,
  loadCheckpointInto,
  readCheckpointMetadata,
  readJsonFile,
  saveCheckpoint,
} from './model/checkpoint';
import type { Embedder } from './model/embedder';
import type { AdamW } from './optim';

/**
 * Largest |weight| a checkpoint may hold. Trained weights here stay within ~10 (embeddings ~0.02, norms ~1); a
 * step that throws them past this has diverged, and saving it would make every rerun resume into the failure.
 */
export const EXPLODED_WEIGHT = 1e4;

/** The largest absolute weight of the model (NaN when any weight is not finite). */
export async function maxAbsWeight(model: Embedder): Promise<number> {
  const m = tf.tidy(() => {
    const maxes = model.variables().map((v) => tf.max(tf.abs(v)));
    const anyNaN = tf.any(tf.stack(model.variables().map((v) => tf.any(tf.isNaN(v)))));
    return tf.where(anyNaN, tf.scalar(NaN), tf.max(tf.stack(maxes)));
  });
  const value = (await m.data())[0] as number;
  m.dispose();
  return value;
}

/** Save model, optimizer and trainer state as checkpoint `step` of the run; keep the last `c.keepCheckpoints`. */
export async function saveTrainState(
  runDir: string,
  step: number,
  model: Embedder,
  opt: AdamW,
  temp: LearnableTemperature | null,
  c: { keepCheckpoints: number },
): Promise<void> {
  const dir = path.join(runDir, 'checkpoints', `step-${String(step).padStart(6, '0')}`);
  const state = opt.state();
  const tensors: tf.NamedTensorMap = { ...state.tensors };
  if (temp !== null) tensors['logTau'] = temp.logTau;
  const { data, specs } = await tf.io.encodeWeights(tensors);
  const bytes = new Uint8Array(data as ArrayBuffer);
  await saveCheckpoint(dir, model.config, model.tokenizer, model.params, { step }, (tmp) => {
    fs.writeFileSync(path.join(tmp, 'optimizer.bin'), bytes);
    fs.writeFileSync(path.join(tmp, 'optimizer.json'), JSON.stringify({ t: state.t, specs, integrity: integrityOf(bytes) }));
    fs.writeFileSync(path.join(tmp, 'trainer.json'), JSON.stringify({ step, config: c }, null, 1));
  });
  for (const old of checkpointDirs(runDir).slice(0, -c.keepCheckpoints)) fs.rmSync(old.dir, { recursive: true, force: true });
}

/** Load a checkpoint's model, optimizer and temperature state; returns its step. */
/**
 * Restore the newest checkpoint that loads; a damaged one (truncated, altered, half-written) is skipped with a
 * warning for the one before it. Returns the step to continue from (0 without checkpoints); throws the newest
 * checkpoint's error when none loads.
 */
export async function resumeFromNewestIntact(runDir: string, model: Embedder, opt: AdamW, temp: LearnableTemperature | null): Promise<number> {
  const dirs = checkpointDirs(runDir).reverse();
  let first: Error | null = null;
  for (const { dir } of dirs) {
    try {
      const step = await restoreTrainState(dir, model, opt, temp);
      log.info(`resuming from ${dir} (step ${step})`);
      return step;
    } catch (err) {
      first ??= err as Error;
      log.warn(`checkpoint ${dir} does not load (${(err as Error).message.split('\n')[0]}); trying the one before it.`);
    }
  }
  if (first !== null) throw new Error(`No checkpoint of ${runDir} loads; the newest fails with: ${first.message}`);
  return 0;
}

export async function restoreTrainState(dir: string, model: Embedder, opt: AdamW, temp: LearnableTemperature | null): Promise<number> {
  const meta = readCheckpointMetadata(dir);
  await loadCheckpointInto(dir, model);
  const { t, specs, integrity } = readJsonFile<{ t: number; specs: tf.io.WeightsManifestEntry[]; integrity?: Integrity }>(path.join(dir, 'optimizer.json'));
  const buf = fs.readFileSync(path.join(dir, 'optimizer.bin'));
  checkBinary(path.join(dir, 'optimizer.bin'), buf, specs, integrity);
  const tensors = tf.io.decodeWeights(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength), specs);
  const logTau = tensors['logTau'];
  delete tensors['logTau'];
  if (temp !== null && logTau !== undefined) temp.logTau.assign(logTau);
  opt.load({ t, tensors });
  tf.dispose([...Object.values(tensors), ...(logTau === undefined ? [] : [logTau])]);
  return Number(meta.extra['step']);
}

/** Append one JSON line to the run's log.jsonl (nothing when runDir is null). */
export function appendLog(runDir: string | null, record: object): void {
  if (runDir === null) return;
  fs.appendFileSync(path.join(runDir, 'log.jsonl'), JSON.stringify(record) + '\n');
}

/**
 * Keep only the log lines of steps before `step` (a resumed run rewrites what came after its checkpoint). A
 * torn last line (the process was killed mid-write) is dropped with a warning; a broken line elsewhere is an
 * error naming the file and line.
 */
export function truncateLog(runDir: string, step: number): void {
  const file = path.join(runDir, 'log.jsonl');
  if (!fs.existsSync(file)) return;
  const lines = fs.readFileSync(file, 'utf8').split('\n');
  const last = lines.reduce((at, l, i) => (l.trim() === '' ? at : i), -1);
  const kept: string[] = [];
  lines.forEach((l, i) => {
    if (l.trim() === '') return;
    let record: { step: number };
    try {
      record = JSON.parse(l) as { step: number };
    } catch {
      if (i === last) {
        log.warn(`${file}: line ${i + 1} is cut off (an interrupted write); dropping it`);
        return;
      }
      throw new Error(`${file}: line ${i + 1} is not valid JSON (${l.slice(0, 60)}…); fix or delete that line to resume.`);
    }
    if (record.step < step) kept.push(l);
  });
  fs.writeFileSync(file, kept.map((l) => l + '\n').join(''));
}

/**
 * Remove what interrupted checkpoint writes left under `<runDir>/checkpoints`: temporary folders of processes
 * that are gone (`step-N.tmp-PID-…`) and step folders without their trainer.json. Returns what it removed.
 */
export function cleanCheckpointLeftovers(runDir: string): string[] {
  const root = path.join(runDir, 'checkpoints');
  if (!fs.existsSync(root)) return [];
  const removed: string[] = [];
  for (const name of fs.readdirSync(root)) {
    const dir = path.join(root, name);
    const tmp = /\.tmp-(\d+)-\d+$/.exec(name);
    const stale = tmp !== null ? !processAlive(Number(tmp[1])) : /^step-\d{6,}$/.test(name) && !fs.existsSync(path.join(dir, 'trainer.json'));
    if (!stale) continue;
    fs.rmSync(dir, { recursive: true, force: true });
    removed.push(dir);
  }
  if (removed.length > 0) log.warn(`removed ${removed.length} leftover(s) of interrupted checkpoint writes under ${root}`);
  return removed;
}

function processAlive(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}
