/**
 * `npm run bench:model`: forward and forward+backward time per sequence of the embedder, `tiny` and `small`,
 * single-turn vs 7-turn sequences, on the fastest available backend (lib/backend's `auto`). Medians; writes
 * bench/results/model.json. Not run by tests.
 */
import * as fs from 'fs';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { describeBackend, initBackend } from '../lib/backend';
import { collate } from '../lib/batch';
import { modelConfig, ModelPreset, parameterCount } from '../lib/model/config';
import { Embedder } from '../lib/model/embedder';
import { patchTensor } from '../lib/model/vision';
import { packMultiTurn, packSingleTurn } from '../lib/packing';
import { Rng } from '../lib/random';
import { benchRecords, benchTokenizer, medianMs } from './fixture';

const SEQUENCES = 16;

async function main(): Promise<void> {
  const report = await initBackend();
  const rows: Record<string, unknown>[] = [];
  for (const preset of ['tiny', 'small'] as ModelPreset[]) {
    const probe = modelConfig(preset);
    const records = benchRecords(SEQUENCES, probe.imageSize);
    const tokenizer = benchTokenizer(records);
    const config = modelConfig(preset, { vocabSize: Math.max(tokenizer.vocabSize, 512) });
    const model = Embedder.create(config, tokenizer, 0);
    for (const turns of [1, 7]) {
      const opts = { turns, imageTokens: model.imageTokens, maskKind: 'causal' as const };
      const packed = turns === 1 ? packSingleTurn(records, tokenizer, new Rng(1), opts) : packMultiTurn(records, tokenizer, new Rng(1), opts);
      const batch = collate(packed.query);
      const images = packed.queryImages as Float32Array[];
      const forward = (): void => {
        tf.tidy(() => {
          model.embed(batch, patchTensor(images, config)).embeddings.dataSync();
        });
      };
      const backward = (): void => {
        tf.tidy(() => {
          const { value, grads } = tf.variableGrads(() => tf.sum(model.embed(batch, patchTensor(images, config)).embeddings) as tf.Scalar, model.variables());
          value.dataSync();
          tf.dispose(Object.values(grads));
        });
      };
      const reps = preset === 'tiny' ? 10 : 5;
      const fwd = await medianMs(forward, reps);
      const fwdBwd = await medianMs(backward, reps);
      const row = {
        preset,
        turns,
        sequences: batch.batchSize,
        seqLen: batch.seqLen,
        embeddings: packed.groups.length,
        forwardMsPerSequence: fwd / batch.batchSize,
        forwardBackwardMsPerSequence: fwdBwd / batch.batchSize,
        forwardBackwardMsPerEmbedding: fwdBwd / packed.groups.length,
        parameters: parameterCount(config).total,
      };
      rows.push(row);
      process.stdout.write(
        `${preset.padEnd(6)} ${turns} turn(s)  T=${String(batch.seqLen).padStart(4)}  fwd ${row.forwardMsPerSequence.toFixed(2)} ms/seq  fwd+bwd ${row.forwardBackwardMsPerSequence.toFixed(2)} ms/seq  (${row.forwardBackwardMsPerEmbedding.toFixed(2)} ms/embedding)\n`,
      );
    }
    model.dispose();
  }
  const out = { date: new Date().toISOString(), backend: describeBackend(report), sequencesPerBatch: SEQUENCES, rows };
  const file = path.join(__dirname, 'results', 'model.json');
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, JSON.stringify(out, null, 2) + '\n');
  process.stdout.write(`${describeBackend(report)}\nwrote ${file}\n`);
}

void main();
