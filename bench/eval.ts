/**
 * `npm run bench:eval`: exact top-k ranking throughput (queries/s) of lib/rank against 10k and 100k random
 * unit candidates of width 256, side by side in one run:
 * - `chunked`: `topK` with the js scorer (candidate chunks × query blocks, running top-k; O(queries·k) memory);
 * - `tf-cpu`: `topK` with the tf.matMul scorer on the tfjs `cpu` backend (same chunking);
 * - `naive`: score every candidate, then fully sort each query's row (O(candidates) memory per query).
 * Medians over repetitions after a warm-up; checks that all methods return the same top-k. Writes
 * bench/results/eval.json and prints a table. Not run by tests.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { describeBackend, initBackend } from '../lib/backend';
import { modelConfig } from '../lib/model/config';
import { EmbedInput, Embedder } from '../lib/model/embedder';
import { benchRecords, benchTokenizer } from './fixture';
import { randomUnitVector } from '../lib/eval/encoder';
import { Rng } from '../lib/random';
import { topK, type TopKResult } from '../lib/rank';

const DIM = 256;
const K = 10;
const CONFIGS = [
  { candidates: 10_000, queries: 64, reps: 5 },
  { candidates: 100_000, queries: 32, reps: 3 },
];

type Method = 'chunked' | 'tf-cpu' | 'naive';
const METHODS: Method[] = ['chunked', 'tf-cpu', 'naive'];

function randomUnit(rng: Rng, n: number): Float32Array {
  const out = new Float32Array(n * DIM);
  for (let i = 0; i < n; i++) randomUnitVector(rng, out, i * DIM, DIM);
  return out;
}

/** The reference: all scores of a query, then a full stable sort of the candidate indices. */
function naiveTopK(queries: Float32Array, cands: Float32Array): Int32Array {
  const nq = queries.length / DIM;
  const nc = cands.length / DIM;
  const out = new Int32Array(nq * K);
  const scores = new Float64Array(nc);
  for (let q = 0; q < nq; q++) {
    for (let c = 0; c < nc; c++) {
      let s = 0;
      for (let d = 0; d < DIM; d++) s += (queries[q * DIM + d] as number) * (cands[c * DIM + d] as number);
      scores[c] = s;
    }
    const order = Array.from({ length: nc }, (_, i) => i).sort((a, b) => (scores[b] as number) - (scores[a] as number) || a - b);
    out.set(order.slice(0, K), q * K);
  }
  return out;
}

function run(method: Method, queries: Float32Array, cands: Float32Array): Int32Array {
  if (method === 'naive') return naiveTopK(queries, cands);
  const r: TopKResult = topK(queries, cands, DIM, K, { scorer: method === 'chunked' ? 'js' : 'tf' });
  return r.indices;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
}

/** Same top-k, allowing a swap of neighbours whose float32 (tf) scores tie where float64 scores do not. */
function agreement(a: Int32Array, b: Int32Array): number {
  let same = 0;
  for (let i = 0; i < a.length; i++) if (a[i] === b[i]) same++;
  return same / a.length;
}

async function main(): Promise<void> {
  await tf.setBackend('cpu');
  const rng = new Rng(2026);
  const results = [];
  for (const cfg of CONFIGS) {
    const cands = randomUnit(rng, cfg.candidates);
    const queries = randomUnit(rng, cfg.queries);
    const row: Record<string, unknown> = { ...cfg, dim: DIM, k: K };
    const outputs: Partial<Record<Method, Int32Array>> = {};
    for (const method of METHODS) {
      outputs[method] = run(method, queries, cands); // warm-up (JIT, tf kernels)
      const times: number[] = [];
      for (let i = 0; i < cfg.reps; i++) {
        const t0 = process.hrtime.bigint();
        run(method, queries, cands);
        times.push(Number(process.hrtime.bigint() - t0) / 1e6);
      }
      const ms = median(times);
      row[method] = { medianMs: ms, queriesPerSecond: (cfg.queries * 1000) / ms, times };
      process.stderr.write(`${cfg.candidates} candidates, ${method}: ${ms.toFixed(1)} ms for ${cfg.queries} queries\n`);
    }
    row['identicalChunkedVsNaive'] = agreement(outputs.chunked as Int32Array, outputs.naive as Int32Array) === 1;
    row['agreementTfVsNaive'] = agreement(outputs['tf-cpu'] as Int32Array, outputs.naive as Int32Array);
    results.push(row);
  }
  const embedding = await embeddingThroughput();
  const out = {
    date: new Date().toISOString(),
    embedding,
    machine: { cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model ?? '?', node: process.versions.node, tfjs: tf.version.tfjs },
    note: 'queries/s of exact top-10 over random unit vectors (width 256); medians after one warm-up; tf-cpu = tfjs cpu backend',
    results,
  };
  const file = path.join(__dirname, 'results', 'eval.json');
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, JSON.stringify(out, null, 2) + '\n');
  const lines = ['candidates  queries  ' + METHODS.map((m) => `${m} q/s`.padStart(14)).join('') + '   chunked=naive'];
  for (const r of results) {
    const qps = METHODS.map((m) => (r[m] as { queriesPerSecond: number }).queriesPerSecond.toFixed(1).padStart(14)).join('');
    lines.push(`${String(r['candidates']).padStart(10)}  ${String(r['queries']).padStart(7)}  ${qps}   ${String(r['identicalChunkedVsNaive'])}`);
  }
  console.log(lines.join('\n'));
  console.log(`wrote ${file}`);
}

/**
 * Embedding throughput of the `small` embedder with the single-turn template (what evaluation spends its time
 * on), text-only and image+text items, on the fastest backend; an untrained model costs the same as a trained one.
 */
async function embeddingThroughput(): Promise<Record<string, number | string>> {
  const report = await initBackend();
  const records = benchRecords(256, modelConfig('small').imageSize, 5);
  const tokenizer = benchTokenizer(records);
  const model = Embedder.create(modelConfig('small', { vocabSize: Math.max(tokenizer.vocabSize, 512) }), tokenizer, 0);
  const text = records.map((r) => ({ text: r.pairs[6]!.target }));
  const withImage = records.map((r) => ({ text: String(r.pairs[0]!.query), image: r.image as Float32Array }));
  const rate = async (items: EmbedInput[]): Promise<number> => {
    await model.embedInputs(items.slice(0, 64));
    const t0 = performance.now();
    await model.embedInputs(items);
    return (items.length * 1000) / (performance.now() - t0);
  };
  const out = { backend: describeBackend(report), textItemsPerSecond: await rate(text), imageTextItemsPerSecond: await rate(withImage) };
  process.stderr.write(`embedding (small): ${out.textItemsPerSecond.toFixed(0)} text items/s, ${out.imageTextItemsPerSecond.toFixed(0)} image+text items/s\n`);
  model.dispose();
  await tf.setBackend('cpu');
  return out;
}

main().catch((e: Error) => {
  console.error(e.stack ?? e.message);
  process.exit(1);
});
