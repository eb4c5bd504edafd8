/**
 * `npm run bench:vocabulary`: what the chat template costs when the vocabulary lacks its words. Side by side
 * in one run, on real mini-M3T training records (`npm run data` first): a vocabulary built from the training
 * texts alone (the template's role names and system prompt then fall back to one token per byte) against
 * one that also holds the template's fixed texts (`runTokenizer`'s default, docs/model.md "The vocabulary").
 * Reports the mean tokens per sequence (single-turn query and target, MuCo k = 7 query dialogue and target
 * sequence) and the training step time of the `small` model, single-turn and MuCo k = 7 at 16 images per
 * step, same seed and batches. Writes bench/results/vocabulary.json.
 */
import * as fs from 'fs';
import * as path from 'path';
import { describeBackend, initBackend } from '../lib/backend';
import { ImageCache } from '../lib/data/cache';
import { readMiniM3t } from '../lib/data/m3t';
import { renderDialogue, TEMPLATE_BASE, TEMPLATE_PRETRAIN } from '../lib/dialogue';
import { setLogLevel } from '../lib/log';
import { imageTokens, modelConfig } from '../lib/model/config';
import { Embedder } from '../lib/model/embedder';
import { runTokenizer } from '../lib/runner/run';
import type { Tokenizer } from '../lib/tokenizer';
import { train, trainConfig, type TrainRecord } from '../lib/train';
import { median } from './profile';

const IMAGES = 16;
const STEPS = 5; // the first is a warm-up; medians over the rest
const MAX_BPE_TOKENS = 6000; // the scales' data.maxBpeTokens

const mean = (xs: number[]): number => xs.reduce((s, x) => s + x, 0) / xs.length;
const firstQuery = (q: string | readonly string[]): string => (typeof q === 'string' ? q : (q[0] as string));

/** Mean rendered lengths of the sequences a training step builds from `records`. */
function lengths(records: readonly TrainRecord[], tok: Tokenizer, tokensPerImage: number): Record<string, number> {
  const len = (template: typeof TEMPLATE_BASE, turns: string[], image: boolean): number =>
    renderDialogue(template, { turns, image }, tok, image ? { imageTokens: tokensPerImage } : {}).ids.length;
  const pairs = records.flatMap((r) => r.pairs);
  return {
    singleQuery: mean(pairs.map((p) => len(TEMPLATE_BASE, [firstQuery(p.query)], true))),
    singleTarget: mean(pairs.map((p) => len(TEMPLATE_BASE, [p.target], false))),
    mucoQuery: mean(
      records.map((r) =>
        len(
          TEMPLATE_PRETRAIN,
          r.pairs.slice(0, 7).map((p) => firstQuery(p.query)),
          true,
        ),
      ),
    ),
    mucoTarget: mean(
      records.map((r) =>
        len(
          TEMPLATE_PRETRAIN,
          r.pairs.slice(0, 7).map((p) => p.target),
          false,
        ),
      ),
    ),
  };
}

async function main(): Promise<void> {
  setLogLevel('warn');
  const report = await initBackend();
  const split = await readMiniM3t('data', 'train');
  const config0 = modelConfig('small');
  const cache = ImageCache.open(split.cacheDir, config0.imageSize);
  const records: TrainRecord[] = split.records
    .filter((r) => r.queryImagePath !== '' && r.turns.length >= 7)
    .slice(0, IMAGES * STEPS)
    .map((r) => ({
      id: r.id,
      image: cache.floats(cache.rowOf(r.queryImagePath) as number),
      pairs: r.turns.map((t) => ({ query: t.query, target: t.target, kind: t.kind })),
    }));
  const vocabularies: [string, Tokenizer][] = [
    ['training texts only', runTokenizer(split.records, MAX_BPE_TOKENS, { chatTemplate: false })],
    ['with the template', runTokenizer(split.records, MAX_BPE_TOKENS)],
  ];
  const rows: Record<string, number | string>[] = [];
  for (const [vocabulary, tok] of vocabularies) {
    const config = modelConfig('small', { vocabSize: Math.max(tok.vocabSize, config0.vocabSize) });
    const tokens = lengths(records, tok, imageTokens(config));
    for (const [variant, packing, turns] of [
      ['single-turn', 'single', 1],
      ['MuCo k=7', 'multi', 7],
    ] as const) {
      const model = Embedder.create(config, tok, 0);
      const c = trainConfig({ steps: STEPS, imagesPerStep: IMAGES, packing, turns, schedule: { warmupSteps: 1 }, augment: { maxShift: 0 } });
      const summary = await train(model, { size: records.length, get: (i) => records[i] as TrainRecord }, c, { progress: 'none' });
      const stepSeconds = median(summary.records.slice(1).map((r) => r.seconds));
      rows.push({ vocabulary, variant, stepSeconds, ...tokens });
      process.stdout.write(`${vocabulary.padEnd(20)} ${variant.padEnd(12)} step ${stepSeconds.toFixed(2)} s\n`);
      model.dispose();
    }
    process.stdout.write(
      `${vocabulary.padEnd(20)} tokens per sequence: single-turn query ${tokens.singleQuery?.toFixed(1)}, target ${tokens.singleTarget?.toFixed(1)}; ` +
        `MuCo k=7 query ${tokens.mucoQuery?.toFixed(1)}, target ${tokens.mucoTarget?.toFixed(1)}\n`,
    );
  }
  const seconds = (vocabulary: string, variant: string): number =>
    rows.find((r) => r.vocabulary === vocabulary && r.variant === variant)?.stepSeconds as number;
  const speedup = Object.fromEntries(['single-turn', 'MuCo k=7'].map((v) => [v, seconds('training texts only', v) / seconds('with the template', v)]));
  process.stdout.write(`step-time ratio, without / with the template's words: ${JSON.stringify(speedup)}\n${describeBackend(report)}\n`);
  const file = path.join(__dirname, 'results', 'vocabulary.json');
  fs.writeFileSync(
    file,
    JSON.stringify({ date: new Date().toISOString(), backend: describeBackend(report), model: 'small', imagesPerStep: IMAGES, rows, speedup }, null, 2) + '\n',
  );
}

void main();
