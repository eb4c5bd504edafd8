/**
 * Generative examples for the base model (docs/base-model.md): one dialogue per image, the image in the first
 * user turn, k question/answer turns in random order, the answers as assistant text. The model is trained to
 * produce every answer token (and each answer's `<|im_end|>`) given the image and the dialogue before it, so
 * one forward pass over one image teaches k answers, as MuCo packs k embeddings.
 */
import { Message, renderMessages, RenderedSequence, SYSTEM_PROMPT } from '../dialogue';
import { choosePairs, ImageRecord } from '../packing';
import type { Rng } from '../random';
import type { Tokenizer } from '../tokenizer';

/** A question and its answer. */
export interface QaTurn {
  question: string;
  answer: string;
}

/** The chat messages of a question/answer dialogue about one (optional) image. */
export function qaMessages(turns: readonly QaTurn[], image: boolean): Message[] {
  if (turns.length === 0) throw new Error('A question/answer dialogue needs at least one turn, got 0.');
  const messages: Message[] = [{ role: 'system', content: SYSTEM_PROMPT }];
  turns.forEach((t, i) => {
    const user =
      i === 0 && image ? [{ type: 'image' as const }, { type: 'text' as const, text: '\n' + t.question }] : [{ type: 'text' as const, text: t.question }];
    messages.push({ role: 'user', content: user }, { role: 'assistant', content: [{ type: 'text', text: t.answer }] });
  });
  return messages;
}

/** Render a question/answer dialogue with its answer tokens marked (`RenderedSequence.answer`). */
export function renderQa(turns: readonly QaTurn[], image: boolean, tokenizer: Tokenizer, options: { imageTokens: number; id?: string }): RenderedSequence {
  return renderMessages(qaMessages(turns, image), tokenizer, {
    imageTokens: options.imageTokens,
    markAnswers: true,
    ...(options.id === undefined ? {} : { id: options.id }),
  });
}

/**
 * The prompt a generation continues: the dialogue up to the assistant header of the last (unanswered) turn,
 * tokenised exactly as in training (the same rendering with an empty answer, cut before its `<|im_end|>`).
 */
export function renderPrompt(question: string, image: boolean, tokenizer: Tokenizer, options: { imageTokens: number; id?: string }): RenderedSequence {
  const seq = renderQa([{ question, answer: '' }], image, tokenizer, options);
  const n = seq.ids.length - 1; // drop the empty answer's <|im_end|>
  return { ...seq, ids: seq.ids.slice(0, n), turnIndex: seq.turnIndex.slice(0, n), answer: (seq.answer ?? []).slice(0, n) };
}

export interface GenerativeBatch {
  sequences: RenderedSequence[];
  /** Per sequence, the record's image (null when text-only). */
  images: unknown[];
}

/** One question/answer dialogue per record: k of its turns (all when `turns` is null), one phrasing each. */
export function packGenerative(
  records: readonly ImageRecord[],
  tokenizer: Tokenizer,
  rng: Rng,
  options: { turns: number | null; imageTokens: number },
): GenerativeBatch {
  const out: GenerativeBatch = { sequences: [], images: [] };
  for (const record of records) {
    const image = record.image !== undefined && record.image !== null;
    const turns = choosePairs(record, options.turns, rng).map((c) => ({ question: c.query, answer: c.target }));
    out.sequences.push(renderQa(turns, image, tokenizer, { imageTokens: options.imageTokens, id: `${record.id}/qa` }));
    out.images.push(image ? record.image : null);
  }
  return out;
}
