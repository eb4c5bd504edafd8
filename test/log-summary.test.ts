/** lib/runner/log-summary: a run's training figures from its whole log, against a naive twin. */
import { strict as assert } from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { runLogSummary, summariseLog } from '../lib/runner/log-summary';
import { Rng } from '../lib/random';

function naive(records: Record<string, number>[], window: number): Record<string, number | null> {
  const last: Record<string, number>[] = [];
  for (let i = Math.max(0, records.length - window); i < records.length; i++) last.push(records[i] as Record<string, number>);
  const avg = (rs: Record<string, number>[], k: string): number | null => {
    let s = 0;
    for (const r of rs) s += r[k] as number;
    return rs.length === 0 ? null : s / rs.length;
  };
  let seconds = 0;
  for (const r of records) seconds += r['seconds'] as number;
  return {
    finalLoss: avg(last, 'loss'),
    finalAccuracy: avg(last, 'accuracy'),
    pairsPerSec: avg(records, 'pairsPerSec'),
    imagesPerSec: avg(records, 'imagesPerSec'),
    trainSeconds: seconds,
  };
}

describe('log summary', () => {
  it('matches a naive twin over the whole log, for any window', () => {
    const rng = new Rng(3);
    for (const n of [0, 1, 7, 10, 31]) {
      const records = Array.from({ length: n }, (_, step) => ({
        step,
        loss: rng.next() * 3,
        accuracy: rng.next(),
        pairsPerSec: 10 + rng.next(),
        imagesPerSec: 5 + rng.next(),
        seconds: rng.next(),
      }));
      for (const window of [1, 10, 50]) {
        const got = summariseLog(records, window);
        const want = naive(records, window);
        assert.equal(got.loggedSteps, n);
        for (const key of Object.keys(want)) {
          const g = got[key as keyof typeof got] as number | null;
          const w = want[key] as number | null;
          if (w === null) assert.equal(g, null, key);
          else assert.ok(Math.abs((g as number) - w) < 1e-12, `${key}: ${g} vs ${w}`);
        }
      }
    }
  });

  it('reads a log written over two sessions as one, skipping missing fields', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'muco-log-'));
    const rows = [
      { step: 0, loss: 2, accuracy: 0.1, pairsPerSec: 100, imagesPerSec: 50, seconds: 1 },
      { step: 1, loss: 1, accuracy: 0.5, pairsPerSec: 300, imagesPerSec: 150, seconds: 1 },
      { step: 2, loss: 0.5, accuracy: 0.7, seconds: 2 }, // a record without throughput
    ];
    fs.writeFileSync(path.join(dir, 'log.jsonl'), rows.map((r) => JSON.stringify(r)).join('\n') + '\n');
    const s = runLogSummary(dir, 2);
    assert.equal(s.finalLoss, 0.75);
    assert.equal(s.pairsPerSec, 200);
    assert.equal(s.trainSeconds, 4);
    fs.rmSync(dir, { recursive: true });
  });
});
