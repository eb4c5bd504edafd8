/**
 * Shared by the model and training benchmarks: a synthetic stand-in for mini-M3T with realistic lengths
 * (7 query–target pairs per image, queries of ~10 words, targets of ~4–30 words), so a benchmark needs no
 * built data, plus a median timer.
 */
import { Rng } from '../lib/random';
import type { TrainRecord } from '../lib/train';
import { Tokenizer } from '../lib/tokenizer';

const WORDS =
  'red green blue small large round square face hand flag star heart cat dog tree house car sun moon water fire left right top bottom centre smiling waving country capital region colour shape pattern emoji symbol'.split(
    ' ',
  );

function sentence(rng: Rng, n: number): string {
  return Array.from({ length: n }, () => rng.pick(WORDS)).join(' ');
}

/** `n` records of 7 pairs each with images of side `size`. */
export function benchRecords(n: number, size: number, seed = 0): TrainRecord[] {
  const rng = new Rng(seed);
  const lengths: [number, number][] = [
    [6, 2],
    [9, 4],
    [9, 4],
    [10, 5],
    [10, 5],
    [12, 8],
    [6, 30],
  ];
  return Array.from({ length: n }, (_, i) => ({
    id: `bench${i}`,
    image: Float32Array.from({ length: size * size * 3 }, () => rng.next()),
    pairs: lengths.map(([q, t]) => ({ query: sentence(rng, q) + '?', target: sentence(rng, t) })),
  }));
}

export function benchTokenizer(records: readonly TrainRecord[]): Tokenizer {
  return Tokenizer.fromCorpus(records.flatMap((r) => r.pairs.flatMap((p) => [p.target, typeof p.query === 'string' ? p.query : p.query.join(' ')])));
}

/** Median wall time in ms of `reps` runs of `fn` after `warmup` runs. */
export async function medianMs(fn: () => Promise<void> | void, reps: number, warmup = 1): Promise<number> {
  for (let i = 0; i < warmup; i++) await fn();
  const times: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    await fn();
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)] as number;
}
