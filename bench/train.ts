/**
 * `npm run bench:train`: training throughput of the `small` model, side by side in one run: single-turn
 * (one pair per image) and MuCo with k ∈ {2, 4, 7} turns at the same number of images per step, plus
 * single-turn at MuCo-7's effective batch (7× the images). Reports images/s, pairs/s, step time and peak
 * RSS; the k = 7 / single-turn pairs/s ratio is MuCo's efficiency claim. Writes bench/results/train.json.
 */
import * as fs from 'fs';
import * as path from 'path';
import { describeBackend, initBackend } from '../lib/backend';
import { setLogLevel } from '../lib/log';
import { modelConfig } from '../lib/model/config';
import { Embedder } from '../lib/model/embedder';
import { train, trainConfig } from '../lib/train';
import { benchRecords, benchTokenizer } from './fixture';

const IMAGES = 8;
const STEPS = 4; // the first is a warm-up; medians over the rest

/**
 * The 7×-images run holds 112 sequences' activations at once: it uses GradCache (chunks of 16 sequences, one
 * extra forward) to stay inside the wasm heap's 4 GiB; the others run full batch.
 */
interface Variant {
  name: string;
  packing: 'single' | 'multi';
  turns: number;
  images: number;
  chunkSize: number | null;
}
const VARIANTS: Variant[] = [
  { name: 'single-turn', packing: 'single', turns: 1, images: IMAGES, chunkSize: null },
  { name: 'MuCo k=2', packing: 'multi', turns: 2, images: IMAGES, chunkSize: null },
  { name: 'MuCo k=4', packing: 'multi', turns: 4, images: IMAGES, chunkSize: null },
  { name: 'MuCo k=7', packing: 'multi', turns: 7, images: IMAGES, chunkSize: null },
  { name: 'single-turn, 7x images', packing: 'single', turns: 1, images: 7 * IMAGES, chunkSize: IMAGES },
];

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;

async function main(): Promise<void> {
  setLogLevel('warn');
  const report = await initBackend();
  const probe = modelConfig('small');
  const records = benchRecords(7 * IMAGES * 2, probe.imageSize);
  const tokenizer = benchTokenizer(records);
  const config = modelConfig('small', { vocabSize: Math.max(tokenizer.vocabSize, 512) });
  const rows: Record<string, number | string>[] = [];
  for (const v of VARIANTS) {
    const model = Embedder.create(config, tokenizer, 0);
    const c = trainConfig({ steps: STEPS, imagesPerStep: v.images, packing: v.packing, turns: v.turns, chunkSize: v.chunkSize, schedule: { warmupSteps: 1 } });
    let peakRss = 0;
    const summary = await train(model, { size: records.length, get: (i) => records[i]! }, c, {
      progress: 'none',
      hooks: { onStep: () => void (peakRss = Math.max(peakRss, process.memoryUsage().rss)) },
    });
    const timed = summary.records.slice(1);
    const row = {
      variant: v.name,
      gradCacheChunk: v.chunkSize ?? 'none',
      imagesPerStep: v.images,
      pairsPerStep: timed[0]!.pairs,
      stepSeconds: median(timed.map((r) => r.seconds)),
      imagesPerSec: median(timed.map((r) => r.imagesPerSec)),
      pairsPerSec: median(timed.map((r) => r.pairsPerSec)),
      peakRssMB: Math.round(peakRss / 2 ** 20),
    };
    rows.push(row);
    process.stdout.write(
      `${v.name.padEnd(24)} step ${row.stepSeconds.toFixed(2)} s  ${row.imagesPerSec.toFixed(1)} images/s  ${row.pairsPerSec.toFixed(1)} pairs/s  RSS ${row.peakRssMB} MB\n`,
    );
    model.dispose();
  }
  const pairs = (name: string): number => rows.find((r) => r.variant === name)!.pairsPerSec as number;
  const ratio = pairs('MuCo k=7') / pairs('single-turn');
  process.stdout.write(`pairs/s, MuCo k=7 / single-turn at ${IMAGES} images per step: ${ratio.toFixed(2)}x\n${describeBackend(report)}\n`);
  const file = path.join(__dirname, 'results', 'train.json');
  fs.writeFileSync(
    file,
    JSON.stringify({ date: new Date().toISOString(), backend: describeBackend(report), model: 'small', rows, pairsPerSecRatioK7VsSingle: ratio }, null, 2) +
      '\n',
  );
}

void main();
