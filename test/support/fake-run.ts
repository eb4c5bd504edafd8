/** A fake finished run folder for tests of code that reads results (no training). */
import * as fs from 'fs';
import * as path from 'path';
import { RunConfig } from '../../lib/runner/config';
import { writeJson, writeMetrics } from '../../lib/results';

/** A finished run folder as runExperiment leaves it (vocabulary resolved, metrics, log, a checkpoint). */
export function fakeFinishedRun(root: string, cfg: RunConfig, metrics: Record<string, unknown> = {}): string {
  const dir = path.join(root, cfg.experiment, cfg.run);
  writeJson(path.join(dir, 'config.json'), { ...cfg, model: { ...cfg.model, vocabSize: 1234 } });
  writeMetrics(dir, {
    metadata: { experiment: cfg.experiment, run: cfg.run, gitSha: 'abc', date: '2026-01-01T00:00:00.000Z', backend: 'cpu', seed: 0 },
    metrics: { train: { steps: cfg.train.steps, parameters: 1000 }, ...(metrics as Record<string, never>) },
  });
  fs.writeFileSync(path.join(dir, 'log.jsonl'), '{"step":0,"loss":2,"pairs":28}\n{"step":1,"loss":1.5,"pairs":28}\n');
  fs.mkdirSync(path.join(dir, 'checkpoints', 'step-000003'), { recursive: true });
  fs.writeFileSync(path.join(dir, 'checkpoints', 'step-000003', 'model.json'), '{}');
  fs.writeFileSync(path.join(dir, 'checkpoints', 'step-000003', 'trainer.json'), '{}');
  return dir;
}
