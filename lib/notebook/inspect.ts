/**
 * Inspecting rendered dialogues (notebook 01, debugging): what each part of a sequence costs in tokens, the
 * tokens as colour-coded HTML, a vocabulary for a few records, and one sequence's attention mask as a 0/1
 * matrix and a plotly figure (docs/method.md §2, §6 sequences and attention, §2 reconstruction template;
 * Table 6 "w/o compounded supervision" for the `isolated` mask).
 */
import { attentionMaskData, collate } from '../batch';
import { templateTexts, type RenderedSequence } from '../dialogue';
import type { ImageRecord } from '../packing';
import { heatmap, type Figure } from '../plot';
import { SPECIAL_IDS, SPECIAL_TOKENS, Tokenizer } from '../tokenizer';

/** Token counts of one sequence by part; `system + image + Σ turns = total`. */
export interface SequenceParts {
  /** The system message (turn index -1) with its header and `<|im_end|>`. */
  system: number;
  /** The image span (`imageTokens`; 0 for a text-only sequence). */
  image: number;
  /** Per turn t: its tokens except the image span (the `\n` joiner, headers, user text, the reply). */
  turns: number[];
  total: number;
}

function inImage(seq: RenderedSequence, i: number): boolean {
  const s = seq.imageSpan;
  return s !== null && i >= s.start && i < s.start + s.length;
}

/** Count a sequence's tokens by part (system prompt, image, each turn). */
export function sequenceParts(seq: RenderedSequence): SequenceParts {
  let system = 0;
  const turns: number[] = [];
  seq.turnIndex.forEach((t, i) => {
    if (inImage(seq, i)) return;
    if (t < 0) system += 1;
    else turns[t] = (turns[t] ?? 0) + 1;
  });
  return { system, image: seq.imageSpan?.length ?? 0, turns: Array.from(turns, (n) => n ?? 0), total: seq.ids.length };
}

/**
 * One table row per named sequence: `sequence, system, image, turn 0, …, turn n-1, total` (every row has
 * every column; a turn a sequence lacks is '').
 */
export function partsRows(seqs: Readonly<Record<string, RenderedSequence>>): Record<string, string | number>[] {
  const parts = Object.entries(seqs).map(([name, seq]) => [name, sequenceParts(seq)] as const);
  const turnCount = Math.max(0, ...parts.map(([, p]) => p.turns.length));
  return parts.map(([name, p]) => {
    const row: Record<string, string | number> = { sequence: name, system: p.system, image: p.image };
    for (let t = 0; t < turnCount; t++) row[`turn ${t}`] = p.turns[t] ?? '';
    row['total'] = p.total;
    return row;
  });
}

/**
 * A tokenizer whose vocabulary covers a few records (every query phrasing, target and caption) and the
 * chat template's fixed texts, so token counts equal o200k_base counts instead of byte fallbacks.
 */
export function tokenizerFor(records: readonly ImageRecord[]): Tokenizer {
  const texts = templateTexts();
  for (const r of records) {
    if (r.caption !== undefined) texts.push(`Image description: ${r.caption}`);
    for (const p of r.pairs) texts.push(...(typeof p.query === 'string' ? [p.query] : p.query), p.target);
  }
  return Tokenizer.fromCorpus(texts);
}

/** Background colour per turn (cycled), and for the system prompt. */
const TURN_COLOURS = ['#cfe8ff', '#ffe0b3', '#d4f5d4', '#f9d0e0', '#e6dcff', '#fff3b0', '#c8f0ee', '#f5d5c8'];
const SYSTEM_COLOUR = '#e4e4e4';

function turnColour(turn: number): string {
  return turn < 0 ? SYSTEM_COLOUR : (TURN_COLOURS[turn % TURN_COLOURS.length] as string);
}

function escapeHtml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** A token as text: its decoded string, or the hex form when it is part of a multi-byte character. */
function tokenText(tokenizer: Tokenizer, id: number): string {
  if (id < SPECIAL_TOKENS.length) return tokenizer.tokenString(id);
  const text = tokenizer.decode([id]);
  return text.includes('\uFFFD') ? tokenizer.tokenString(id) : text;
}

/**
 * The tokens of a sequence as HTML: one box per token, coloured by turn (grey: system prompt), special
 * tokens bold, the image span as one box `<|image|>×N`, newlines shown as ↵ and kept as line breaks. Hover
 * a box for its position, id and turn. Text content (without the ↵ marks) equals `seq.text` whenever every
 * token decodes on its own.
 */
export function sequenceHtml(seq: RenderedSequence, tokenizer: Tokenizer): string {
  const turns = [...new Set(seq.turnIndex)].sort((a, b) => a - b);
  const box = (text: string, turn: number, title: string, bold: boolean): string =>
    `<span title="${escapeHtml(title)}" style="background:${turnColour(turn)};border-right:1px solid #fff;` +
    `${bold ? 'font-weight:bold;' : ''}">${escapeHtml(text).replace(/\n/g, '↵\n')}</span>`;
  const legend = turns.map((t) => box(t < 0 ? 'system' : `turn ${t}`, t, '', false)).join(' ');
  const boxes: string[] = [];
  for (let i = 0; i < seq.ids.length; i++) {
    const turn = seq.turnIndex[i] ?? 0;
    const span = seq.imageSpan;
    if (span !== null && i === span.start) {
      boxes.push(box(`${SPECIAL_TOKENS[SPECIAL_IDS.image]}×${span.length}`, turn, `positions ${i}–${i + span.length - 1}: image, turn ${turn}`, true));
      i += span.length - 1;
      continue;
    }
    const id = seq.ids[i] as number;
    boxes.push(box(tokenText(tokenizer, id), turn, `position ${i}, id ${id}, turn ${turn}`, id < SPECIAL_TOKENS.length));
  }
  return (
    `<div style="font-size:90%;margin-bottom:4px">${legend}</div>` +
    `<div style="font-family:monospace;white-space:pre-wrap;line-height:1.9">${boxes.join('')}</div>`
  );
}

/**
 * The attention pattern of one sequence as a [T, T] 0/1 matrix (row = query position, column = key
 * position; 1 = may attend), from the same additive mask the model uses (lib/batch.ts `attentionMaskData`).
 */
export function maskMatrix(seq: RenderedSequence): number[][] {
  const batch = collate([seq]);
  const data = attentionMaskData(batch);
  const T = batch.seqLen;
  return Array.from({ length: T }, (_, q) => Array.from(data.subarray(q * T, (q + 1) * T), (v) => (v === 0 ? 1 : 0)));
}

/** Where each part of a sequence starts: the system prompt, each turn, and the image span. */
export function partStarts(seq: RenderedSequence): { label: string; start: number }[] {
  const out: { label: string; start: number }[] = [];
  seq.turnIndex.forEach((t, i) => {
    if (i === 0 || seq.turnIndex[i - 1] !== t) out.push({ label: t < 0 ? 'system' : `turn ${t}`, start: i });
  });
  if (seq.imageSpan !== null) out.push({ label: 'image', start: seq.imageSpan.start });
  return out.sort((a, b) => a.start - b.start);
}

/** A heatmap of `maskMatrix(seq)` with the parts marked on both axes (lines at each part's start). */
export function maskFigure(seq: RenderedSequence, title = `${seq.maskKind} attention`): Figure {
  const z = maskMatrix(seq);
  const base = heatmap(z, { title, colorscale: 'Blues', zmin: 0, zmax: 1 });
  const starts = partStarts(seq);
  const axis = { tickvals: starts.map((s) => s.start), ticktext: starts.map((s) => s.label), tickfont: { size: 9 } };
  const line = { color: '#d62728', width: 0.6 };
  const shapes = starts
    .filter((s) => s.start > 0)
    .flatMap((s) => [
      { type: 'line', x0: s.start - 0.5, x1: s.start - 0.5, y0: -0.5, y1: z.length - 0.5, line },
      { type: 'line', y0: s.start - 0.5, y1: s.start - 0.5, x0: -0.5, x1: z.length - 0.5, line },
    ]);
  return {
    data: base.data.map((d) => ({ ...d, showscale: false, hovertemplate: 'query %{y} → key %{x}: %{z}<extra></extra>' })),
    layout: {
      ...base.layout,
      xaxis: { ...axis, title: { text: 'key position' }, side: 'top' },
      yaxis: { ...axis, title: { text: 'query position' }, autorange: 'reversed', scaleanchor: 'x' },
      shapes,
    },
  };
}
