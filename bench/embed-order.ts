/**
 * `npm run bench:embed-order [-- --model DIR --limit N]`: what sorting the items of an embedding batch by
 * modality and text length (lib/eval/encoder EmbeddingCache.sortByLength) saves in evaluation. For each of a
 * few mini-MMEB data sets, embeds the queries and candidates of its first N rows with a trained model (default
 * the committed full single-turn run), sorted and in the given order, alternating over repetitions in one
 * process, and checks the vectors agree. Writes bench/results/embed-order.json and prints a table. Not run by
 * tests.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { describeBackend, initBackend } from '../lib/backend';
import { readArgs } from '../lib/cli-args';
import { EmbeddingCache, type EncodeItem, itemKey } from '../lib/eval/encoder';
import { mmebRowItems, readMmebFile } from '../lib/eval/mmeb-format';
import { loadEncoder } from '../lib/model/checkpoint';
import { median } from './profile';

const DATASETS = ['EmojiNameMultilingual', 'EmojiI2T', 'EmojiT2I', 'EmojiEdit', 'FlagRegion'];

async function time(
  model: Awaited<ReturnType<typeof loadEncoder>>,
  items: EncodeItem[],
  sortByLength: boolean,
): Promise<{ ms: number; vectors: Float32Array }> {
  const t0 = performance.now();
  const vectors = await new EmbeddingCache(model, { sortByLength }).embed(items);
  return { ms: performance.now() - t0, vectors };
}

async function main(): Promise<void> {
  const args = readArgs(process.argv.slice(2), { '--model': 'value', '--limit': 'value', '--reps': 'value' } as const, {
    unknown: (a) => `Unknown option ${a}; see the header of bench/embed-order.ts.`,
  });
  const modelDir = args.values.get('--model') ?? 'results/full/core/single-turn/model';
  const limit = Number(args.values.get('--limit') ?? 20);
  const reps = Number(args.values.get('--reps') ?? 3);
  const report = await initBackend();
  const model = await loadEncoder(modelDir);
  const root = 'data/mini-mmeb';
  const rows: Record<string, unknown>[] = [];
  let total = { sorted: 0, given: 0 };
  for (const dataset of DATASETS) {
    const mmeb = await readMmebFile(path.join(root, `${dataset}.jsonl`), { limit });
    const items = mmeb.flatMap((r) => {
      const it = mmebRowItems(r, { imageRoot: root });
      return [it.query, ...it.candidates];
    });
    const sorted: number[] = [];
    const given: number[] = [];
    let maxDiff = 0;
    for (let i = 0; i < reps; i++) {
      // Alternate which goes first, so drift in the machine's load falls on both.
      const first = i % 2 === 0;
      const x = await time(model, items, first);
      const y = await time(model, items, !first);
      const [s, g] = first ? [x, y] : [y, x];
      sorted.push(s.ms);
      given.push(g.ms);
      for (let j = 0; j < s.vectors.length; j++) maxDiff = Math.max(maxDiff, Math.abs((s.vectors[j] as number) - (g.vectors[j] as number)));
    }
    const row = {
      dataset,
      items: items.length,
      distinct: new Set(items.map(itemKey)).size,
      sortedMs: median(sorted),
      givenMs: median(given),
      speedup: median(given) / median(sorted),
      maxDiff,
    };
    total = { sorted: total.sorted + row.sortedMs, given: total.given + row.givenMs };
    rows.push(row);
    process.stdout.write(
      `${dataset}: ${row.items} items, sorted ${row.sortedMs.toFixed(0)} ms vs given order ${row.givenMs.toFixed(0)} ms (×${row.speedup.toFixed(2)}), max |Δ| ${maxDiff.toExponential(1)}\n`,
    );
  }
  const summary = { speedup: total.given / total.sorted, sortedMs: total.sorted, givenMs: total.given };
  process.stdout.write(`all: ×${summary.speedup.toFixed(2)} (${(total.given / 1000).toFixed(1)} s → ${(total.sorted / 1000).toFixed(1)} s)\n`);
  const out = {
    date: new Date().toISOString(),
    machine: `${os.cpus().length} × ${os.cpus()[0]?.model ?? 'cpu'}`,
    backend: describeBackend(report),
    model: modelDir,
    limit,
    reps,
    rows,
    summary,
  };
  fs.mkdirSync('bench/results', { recursive: true });
  fs.writeFileSync('bench/results/embed-order.json', `${JSON.stringify(out, null, 2)}\n`);
  model.dispose();
}

main().catch((err: Error) => {
  process.stderr.write(`${err.message}\n`);
  process.exit(1);
});
