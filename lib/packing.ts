/**
 * Packing query–target pairs into rendered sequences for the three training regimes:
 * - single-turn: one pair per sequence (`TEMPLATE_BASE`; the image is re-encoded for every pair);
 * - MuCo pretraining (docs/method.md §2, §6): k of an image's n pairs on one query sequence (image in turn 0)
 *   and one text-only target sequence, both in the same random turn order;
 * - fine-tuning reconstruction (§1.5): `TEMPLATE_TRAIN` with the masked counterpart on each side.
 *
 * Alignment invariant of every `PackedBatch`: the i-th query embedding's positive is the i-th target
 * embedding; embeddings are numbered sequence by sequence, then in `<|emb|>` order within a sequence.
 */
import { renderDialogue, TEMPLATE_BASE, TEMPLATE_PRETRAIN, TEMPLATE_TRAIN, type ContentPart, type MaskKind, type RenderedSequence } from './dialogue';
import type { Rng } from './random';
import type { Tokenizer } from './tokenizer';

/** One query–target pair of an image. A query may list alternative phrasings: one is sampled. */
export interface QueryTargetPair {
  query: string | readonly string[];
  target: string;
  /** The turn kind (M3T: `cls`, `vqa_global1`, …), when known: batches can share one (TrainConfig.batchKinds). */
  kind?: string;
}

/** An image with its n query–target pairs (an M3T record). */
export interface ImageRecord {
  id: string;
  /** The image (path, pixels, ...; passed through to `queryImages`); absent or null: a text-only query. */
  image?: unknown;
  /** Caption of the image, used as "Image description: …" in fine-tuning counterparts. */
  caption?: string;
  pairs: readonly QueryTargetPair[];
}

/** One side of a single-pair example (MMEB-train style). */
export interface PairSide {
  text: string;
  image?: unknown;
  caption?: string;
}

export interface SinglePair {
  id: string;
  query: PairSide;
  target: PairSide;
}

/** Options shared by the packers. */
export interface PackingOptions {
  /** k: turns (pairs) per image, sampled without replacement; `null` = all n. Capped at n. */
  turns: number | null;
  /** Tokens per image (the model's vision config). */
  imageTokens: number;
  maskKind: MaskKind;
  /**
   * The attention mask of a k-turn dialogue's target sequence; null = `maskKind`. The paper packs the k targets
   * causally, so target t also encodes targets 1…t−1 of the same image; `isolated` embeds each target as if it
   * stood alone, as candidates are embedded at test time (README "Making the models learn").
   */
  targetMaskKind: MaskKind | null;
  /**
   * The longest sequence the trainer collates (its `maxLen`); null: no limit. A fine-tuning sequence over it has
   * its masked counterpart cut from the end until it fits, so both of its embeddings survive (collation would
   * drop the subsequent turn, and with it the embedding the loss pairs by slot).
   */
  maxLen: number | null;
}

/** Defaults of the packing options; `imageTokens` has none (it must match the model's vision config). */
export const DEFAULT_PACKING_OPTIONS: Readonly<Omit<PackingOptions, 'imageTokens'>> = Object.freeze({
  turns: null,
  maskKind: 'causal',
  targetMaskKind: null,
  maxLen: null,
});

/** Packing options as callers give them: overrides plus the required `imageTokens`. */
export type PackingInput = Partial<PackingOptions> & Pick<PackingOptions, 'imageTokens'>;

/** Reject keys a defaults object does not have (a misspelt option must not be silently ignored). */
function checkKeys(given: object, known: readonly string[], what: string): void {
  for (const key of Object.keys(given)) {
    if (!known.includes(key)) throw new Error(`Unknown ${what} option "${key}"; known options: ${known.join(', ')}.`);
  }
}

/** Counterpart masking (§1.5 and the official `masking`): both rates are probabilities. */
export interface CounterpartMaskOptions {
  /** Each space-separated word becomes `<|mask|>` with this probability (paper: 50%). */
  wordMaskRate: number;
  /** The whole counterpart becomes a single `<|mask|>` with this probability (official code: 0.5). */
  wholeMaskRate: number;
}

export const DEFAULT_COUNTERPART_MASK: Readonly<CounterpartMaskOptions> = Object.freeze({
  wordMaskRate: 0.5,
  wholeMaskRate: 0.5,
});

/** What the trainer needs from one packed batch. */
export interface PackedBatch {
  query: RenderedSequence[];
  target: RenderedSequence[];
  /** Per query sequence, the image (null when text-only). */
  queryImages: unknown[];
  /** Per target sequence, the image (null when text-only). */
  targetImages: unknown[];
  /** Per embedding: the group (index of the image record / pair in the input); same-group logits are masked. */
  groups: number[];
  /** Per embedding: the index of its pair within its record (before shuffling); fine-tuning: 0. */
  pairIndex: number[];
  /** Per embedding: its `<|emb|>` slot within its sequence (turn order; fine-tuning: 0 initial, 1 subsequent). */
  slot: number[];
  /** Per embedding: the text of its target turn (identical texts of other images are false negatives: lib/loss). */
  targetText: string[];
}

function hasImage(image: unknown): boolean {
  return image !== undefined && image !== null;
}

function resolveOptions(options: PackingInput): PackingOptions {
  checkKeys(options, ['turns', 'imageTokens', 'maskKind', 'targetMaskKind', 'maxLen'], 'packing');
  const opts = { ...DEFAULT_PACKING_OPTIONS, ...options };
  if (opts.turns !== null && !(Number.isInteger(opts.turns) && opts.turns >= 1)) {
    throw new Error(`PackingOptions.turns must be a positive integer or null (all pairs), got ${opts.turns}.`);
  }
  if (opts.maxLen !== null && !(Number.isInteger(opts.maxLen) && opts.maxLen >= 1)) {
    throw new Error(`PackingOptions.maxLen must be a positive integer or null (no limit), got ${opts.maxLen}.`);
  }
  return opts;
}

/** A chosen pair: its index in the record and the sampled query phrasing. */
export interface ChosenPair {
  pairIndex: number;
  query: string;
  target: string;
}

/**
 * Choose k of a record's pairs in random order (one permutation, applied to queries and targets alike) and
 * sample one phrasing of each query. Draws: `permutation(n)`, then one `pick` per list-valued query.
 */
export function choosePairs(record: ImageRecord, turns: number | null, rng: Rng): ChosenPair[] {
  const n = record.pairs.length;
  if (n === 0) throw new Error(`Record "${record.id}" has no query–target pairs; a record needs at least one.`);
  const k = Math.min(turns ?? n, n);
  return rng
    .permutation(n)
    .slice(0, k)
    .map((pairIndex) => {
      const pair = record.pairs[pairIndex] as QueryTargetPair;
      if (typeof pair.query !== 'string' && pair.query.length === 0) {
        throw new Error(`Record "${record.id}" pair ${pairIndex} has an empty list of query phrasings; give at least one.`);
      }
      const query = typeof pair.query === 'string' ? pair.query : rng.pick(pair.query);
      return { pairIndex, query, target: pair.target };
    });
}

function emptyBatch(): PackedBatch {
  return { query: [], target: [], queryImages: [], targetImages: [], groups: [], pairIndex: [], slot: [], targetText: [] };
}

/** Single-turn examples: each chosen pair of each record becomes its own query and target sequence. */
export function packSingleTurn(records: readonly ImageRecord[], tokenizer: Tokenizer, rng: Rng, options: PackingInput): PackedBatch {
  const opts = resolveOptions(options);
  const out = emptyBatch();
  const render = { imageTokens: opts.imageTokens, maskKind: opts.maskKind };
  records.forEach((record, group) => {
    const image = hasImage(record.image);
    for (const [j, c] of choosePairs(record, opts.turns, rng).entries()) {
      out.query.push(renderDialogue(TEMPLATE_BASE, { turns: [c.query], image }, tokenizer, { ...render, id: `${record.id}/query/${j}` }));
      out.target.push(renderDialogue(TEMPLATE_BASE, { turns: [c.target] }, tokenizer, { ...render, id: `${record.id}/target/${j}` }));
      out.queryImages.push(image ? record.image : null);
      out.targetImages.push(null);
      out.groups.push(group);
      out.pairIndex.push(c.pairIndex);
      out.slot.push(0);
      out.targetText.push(c.target);
    }
  });
  return out;
}

/**
 * MuCo pretraining examples (§1.3, Eq. 3): per record, one k-turn query sequence (image in turn 0) and one
 * text-only k-turn target sequence, turns in the same random order on both sides.
 */
export function packMultiTurn(records: readonly ImageRecord[], tokenizer: Tokenizer, rng: Rng, options: PackingInput): PackedBatch {
  const opts = resolveOptions(options);
  const out = emptyBatch();
  const render = { imageTokens: opts.imageTokens, maskKind: opts.maskKind };
  records.forEach((record, group) => {
    const image = hasImage(record.image);
    const chosen = choosePairs(record, opts.turns, rng);
    const queries = chosen.map((c) => c.query);
    const targets = chosen.map((c) => c.target);
    out.query.push(renderDialogue(TEMPLATE_PRETRAIN, { turns: queries, image }, tokenizer, { ...render, id: `${record.id}/query` }));
    out.target.push(
      renderDialogue(TEMPLATE_PRETRAIN, { turns: targets }, tokenizer, {
        ...render,
        maskKind: opts.targetMaskKind ?? opts.maskKind,
        id: `${record.id}/target`,
      }),
    );
    out.queryImages.push(image ? record.image : null);
    out.targetImages.push(null);
    chosen.forEach((c, t) => {
      out.groups.push(group);
      out.pairIndex.push(c.pairIndex);
      out.slot.push(t);
      out.targetText.push(c.target);
    });
  });
  return out;
}

/** Sample one pair of a record as a single-pair example (the official single-pair mode on M3T rows). */
export function sampleSinglePair(record: ImageRecord, rng: Rng): SinglePair {
  const [c] = choosePairs(record, 1, rng) as [ChosenPair];
  const query: PairSide = { text: c.query };
  if (hasImage(record.image)) query.image = record.image;
  if (record.caption !== undefined) query.caption = record.caption;
  return { id: `${record.id}/${c.pairIndex}`, query, target: { text: c.target } };
}

/**
 * The unmasked counterpart text of a side: an image becomes "Image description: {caption}" on its own line
 * before the text (the official code substitutes it for the image placeholder, which the data follows
 * with a newline).
 */
export function counterpartText(side: PairSide, where = 'counterpart'): string {
  if (!hasImage(side.image)) return side.text;
  if (side.caption === undefined) {
    throw new Error(
      `${where}: the side has an image but no caption; a counterpart stays text-only, so give PairSide.caption (e.g. from the record's caption).`,
    );
  }
  const description = `Image description: ${side.caption}`;
  return side.text === '' ? description : `${description}\n${side.text}`;
}

/**
 * Mask a counterpart (official `masking`): with probability `wholeMaskRate` the whole text becomes one
 * `<|mask|>`; otherwise each space-separated word becomes `<|mask|>` with probability `wordMaskRate`, a run
 * of masked words becoming one `<|mask|>`; words are re-joined with single spaces.
 * Draws: one `next()` for the whole-mask decision, then (if not whole) one `next()` per word.
 */
export function maskCounterpart(text: string, rng: Rng, options: Partial<CounterpartMaskOptions> = {}): ContentPart[] {
  checkKeys(options, Object.keys(DEFAULT_COUNTERPART_MASK), 'counterpart mask');
  const opts = { ...DEFAULT_COUNTERPART_MASK, ...options };
  for (const [name, rate] of Object.entries(opts)) {
    if (!(rate >= 0 && rate <= 1)) throw new Error(`CounterpartMaskOptions.${name} must be a probability in [0, 1], got ${rate}.`);
  }
  if (rng.next() < opts.wholeMaskRate) return [{ type: 'mask' }];
  const parts: ContentPart[] = [];
  let pending = '';
  let lastWasMask = false;
  text.split(' ').forEach((word, i) => {
    const masked = rng.next() < opts.wordMaskRate;
    if (masked && lastWasMask) return;
    if (i > 0) pending += ' ';
    if (masked) {
      if (pending !== '') parts.push({ type: 'text', text: pending });
      parts.push({ type: 'mask' });
      pending = '';
    } else {
      pending += word;
    }
    lastWasMask = masked;
  });
  if (pending !== '') parts.push({ type: 'text', text: pending });
  return parts;
}

/** A counterpart text's units: each word with the spaces around it (a run of spaces alone when there is no word). */
function textUnits(text: string): string[] {
  return text.match(/\s*\S+\s*|\s+/g) ?? [];
}

/** The first `n` units of a counterpart: words (with their trailing spaces) and masks, in order. */
function counterpartPrefix(parts: readonly ContentPart[], n: number): ContentPart[] {
  const out: ContentPart[] = [];
  let left = n;
  for (const p of parts) {
    if (left === 0) break;
    if (p.type !== 'text') {
      out.push(p);
      left--;
      continue;
    }
    const kept = textUnits(p.text).slice(0, left);
    left -= kept.length;
    if (kept.length > 0) out.push({ type: 'text', text: kept.join('') });
  }
  return out;
}

function counterpartUnits(parts: readonly ContentPart[]): number {
  return parts.reduce((n, p) => n + (p.type === 'text' ? textUnits(p.text).length : 1), 0);
}

/**
 * Render a fine-tuning sequence within `maxLen` tokens: unchanged when it fits, else with the longest prefix of
 * its masked counterpart (in words and masks) that fits, found by bisection (a few renders; longer prefixes
 * never tokenize shorter). An error when even an empty counterpart does not fit (the turn itself is too long).
 */
export function renderWithinLength(
  render: (counterpart: ContentPart[]) => RenderedSequence,
  counterpart: readonly ContentPart[],
  maxLen: number | null,
): RenderedSequence {
  const whole = render([...counterpart]);
  if (maxLen === null || whole.ids.length <= maxLen) return whole;
  let best = render([]);
  if (best.ids.length > maxLen) {
    throw new Error(`${best.id ?? 'A fine-tuning sequence'} has ${best.ids.length} tokens without its counterpart, over maxLen ${maxLen}; raise train.maxLen.`);
  }
  let lo = 0; // fits
  let hi = counterpartUnits(counterpart); // does not fit
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    const seq = render(counterpartPrefix(counterpart, mid));
    if (seq.ids.length <= maxLen) [lo, best] = [mid, seq];
    else hi = mid;
  }
  return best;
}

/**
 * Fine-tuning examples (§1.5): per pair, a `TEMPLATE_TRAIN` query sequence with the masked target as its
 * counterpart and a target sequence with the masked query. Each sequence carries two embeddings: slot 0
 * (initial, identical to the single-turn `TEMPLATE_BASE` embedding by the shared prefix) and slot 1
 * (subsequent). Draws per pair, in the official order: the target's counterpart mask, then the query's. A
 * sequence over `maxLen` keeps its turn and a shortened counterpart (`renderWithinLength`).
 */
export function packReconstruction(
  pairs: readonly SinglePair[],
  tokenizer: Tokenizer,
  rng: Rng,
  options: PackingInput,
  maskOptions: Partial<CounterpartMaskOptions> = {},
): PackedBatch {
  const opts = resolveOptions(options);
  const out = emptyBatch();
  const render = { imageTokens: opts.imageTokens, maskKind: opts.maskKind };
  pairs.forEach((pair, group) => {
    const forQuery = maskCounterpart(counterpartText(pair.target, `pair "${pair.id}" target`), rng, maskOptions);
    const forTarget = maskCounterpart(counterpartText(pair.query, `pair "${pair.id}" query`), rng, maskOptions);
    const side = (s: PairSide, counterpart: ContentPart[], name: string): RenderedSequence =>
      renderWithinLength(
        (cut) =>
          renderDialogue(TEMPLATE_TRAIN, { turns: [s.text], image: hasImage(s.image), counterpart: cut }, tokenizer, { ...render, id: `${pair.id}/${name}` }),
        counterpart,
        opts.maxLen,
      );
    out.query.push(side(pair.query, forQuery, 'query'));
    out.target.push(side(pair.target, forTarget, 'target'));
    out.queryImages.push(hasImage(pair.query.image) ? pair.query.image : null);
    out.targetImages.push(hasImage(pair.target.image) ? pair.target.image : null);
    for (const slot of [0, 1]) {
      out.groups.push(group);
      out.pairIndex.push(0);
      out.slot.push(slot);
      out.targetText.push(pair.target.text);
    }
  });
  return out;
}
