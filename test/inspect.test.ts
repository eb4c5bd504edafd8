import { strict as assert } from 'node:assert';
import {
  MASK_KINDS,
  renderDialogue,
  SYSTEM_PROMPT,
  TEMPLATE_BASE,
  TEMPLATE_PRETRAIN,
  TEMPLATE_TRAIN,
  type MaskKind,
  type RenderedSequence,
} from '../lib/dialogue';
import { maskFigure, maskMatrix, partsRows, partStarts, sequenceHtml, sequenceParts, tokenizerFor } from '../lib/notebook/inspect';
import type { ImageRecord } from '../lib/packing';
import { Tokenizer } from '../lib/tokenizer';
import { fixtureTokenizer } from './fixtures/dialogues/corpus';

const QUERIES = ['What is shown in the image?', 'What color is the apple?', 'Where is the apple?'];
const TARGETS = ['A photo of a red apple.', 'The apple is red.', 'The apple is on the table, near the left edge.'];

function pretrain(turns: string[], image: boolean, maskKind: MaskKind = 'causal', imageTokens = 4): RenderedSequence {
  return renderDialogue(TEMPLATE_PRETRAIN, { turns, image }, fixtureTokenizer(), { imageTokens, maskKind });
}

describe('inspect: sequenceParts', () => {
  const tok = fixtureTokenizer();
  const enc = (s: string): number => tok.encode(s).length;

  it('matches token counts written out from the ChatML rules (naive twin)', () => {
    // system: <|im_start|> "system\n{prompt}" <|im_end|>
    const system = 1 + enc(`system\n${SYSTEM_PROMPT}`) + 1;
    // a turn: "\n" <|im_start|> "user\n…" <|im_end|> "\n" <|im_start|> "assistant\n" <|emb|> <|im_end|>
    const reply = enc('\n') + 1 + enc('assistant\n') + 1 + 1;
    const textTurn = (text: string): number => enc('\n') + 1 + enc(`user\n${text}`) + 1 + reply;
    const imageTurn = (text: string): number => enc('\n') + 1 + enc('user\n') + enc(`\n${text}`) + 1 + reply;

    const single = sequenceParts(renderDialogue(TEMPLATE_BASE, { turns: [QUERIES[0] as string] }, tok));
    assert.deepEqual(single, { system, image: 0, turns: [textTurn(QUERIES[0] as string)], total: system + textTurn(QUERIES[0] as string) });

    const multi = sequenceParts(pretrain(QUERIES, true, 'causal', 5));
    const turns = QUERIES.map((q, t) => (t === 0 ? imageTurn(q) : textTurn(q)));
    assert.deepEqual(multi, { system, image: 5, turns, total: system + 5 + turns.reduce((a, b) => a + b, 0) });
  });

  it('counts a later turn of a k-turn dialogue like the single-turn rendering of its text', () => {
    const multi = sequenceParts(pretrain(TARGETS, false));
    TARGETS.forEach((text, t) => {
      const single = sequenceParts(renderDialogue(TEMPLATE_BASE, { turns: [text] }, tok));
      assert.equal(multi.turns[t], single.turns[0], `turn ${t}`);
      assert.equal(multi.system, single.system);
    });
  });

  it('splits the fine-tuning template into its three user turns', () => {
    const seq = renderDialogue(TEMPLATE_TRAIN, { turns: ['What is it?'], image: true, counterpart: [{ type: 'text', text: 'red' }, { type: 'mask' }] }, tok, {
      imageTokens: 4,
    });
    const p = sequenceParts(seq);
    assert.equal(p.turns.length, 3);
    assert.equal(p.system + p.image + p.turns.reduce((a, b) => a + b, 0), p.total);
  });

  it('partsRows gives every row every column, blank where a sequence has fewer turns', () => {
    const rows = partsRows({ single: renderDialogue(TEMPLATE_BASE, { turns: ['a'] }, tok), multi: pretrain(['a', 'b', 'c'], false) });
    assert.deepEqual(Object.keys(rows[0] as object), ['sequence', 'system', 'image', 'turn 0', 'turn 1', 'turn 2', 'total']);
    assert.deepEqual(Object.keys(rows[1] as object), Object.keys(rows[0] as object));
    assert.equal((rows[0] as Record<string, unknown>)['turn 2'], '');
    assert.equal((rows[1] as Record<string, unknown>)['total'], pretrain(['a', 'b', 'c'], false).ids.length);
  });
});

describe('inspect: tokenizerFor', () => {
  it('encodes every text of the records exactly as a vocabulary built from that text alone', () => {
    const records: ImageRecord[] = [
      { id: 'r1', image: 'x.png', caption: 'a red apple on a wooden table', pairs: [{ query: ['Which fruit is it?', 'Name the fruit.'], target: 'apple' }] },
      { id: 'r2', pairs: [{ query: 'Wie heißt das Land?', target: '日本 (Japan)' }] },
    ];
    const tok = tokenizerFor(records);
    const texts = [
      'Which fruit is it?',
      'Name the fruit.',
      'apple',
      'Wie heißt das Land?',
      '日本 (Japan)',
      'Image description: a red apple on a wooden table',
      SYSTEM_PROMPT,
    ];
    for (const text of texts) {
      assert.equal(tok.encode(text).length, Tokenizer.fromCorpus([text]).encode(text).length, text);
      assert.equal(tok.decode(tok.encode(text)), text);
    }
  });
});

describe('inspect: sequenceHtml', () => {
  const tok = fixtureTokenizer();
  const textOf = (html: string): string =>
    (html.split('</div>')[1] as string)
      .replace(/<[^>]*>/g, '')
      .replace(/↵/g, '')
      .replace(/&lt;/g, '<')
      .replace(/&gt;/g, '>')
      .replace(/&quot;/g, '"')
      .replace(/&amp;/g, '&');

  it('shows the sequence text, one box per token and one for the image span', () => {
    const seq = pretrain(QUERIES, true, 'causal', 6);
    const html = sequenceHtml(seq, tok);
    assert.equal(textOf(html), seq.text);
    const body = html.split('</div>')[1] as string;
    assert.equal((body.match(/<span /g) ?? []).length, seq.ids.length - 6 + 1);
    assert.equal((html.split('</div>')[0]?.match(/<span /g) ?? []).length, 1 + QUERIES.length, 'legend: system + one per turn');
  });

  it('escapes special-token strings that are user text', () => {
    const seq = renderDialogue(TEMPLATE_BASE, { turns: ['say <|emb|> & <b>'] }, tok);
    const html = sequenceHtml(seq, tok);
    assert.ok(!html.includes('<b>'), 'user text must not become markup');
    assert.equal(textOf(html), seq.text);
  });
});

describe('inspect: maskMatrix and maskFigure', () => {
  /** Naive twin from the definitions (lib/batch.ts): may query q attend key k? */
  function allowed(seq: RenderedSequence, q: number, k: number): boolean {
    const span = seq.imageSpan;
    const image = span !== null && k >= span.start && k < span.start + span.length;
    const tq = seq.turnIndex[q] as number;
    const tk = seq.turnIndex[k] as number;
    switch (seq.maskKind) {
      case 'causal':
        return k <= q;
      case 'bidirectional':
        return true;
      case 'isolated':
        return k <= q && (tk === tq || tk === -1 || image);
    }
  }

  for (const kind of MASK_KINDS) {
    it(`gives the ${kind} pattern of one sequence`, () => {
      const seq = pretrain(QUERIES, true, kind);
      const m = maskMatrix(seq);
      const T = seq.ids.length;
      assert.equal(m.length, T);
      for (let q = 0; q < T; q++) {
        assert.equal(m[q]?.length, T);
        for (let k = 0; k < T; k++) assert.equal(m[q]?.[k], allowed(seq, q, k) ? 1 : 0, `q=${q} k=${k}`);
      }
    });
  }

  it('marks the parts on the axes and draws the mask', () => {
    const seq = pretrain(QUERIES, true, 'isolated');
    const starts = partStarts(seq);
    assert.deepEqual(
      starts.map((s) => s.label),
      ['system', 'turn 0', 'image', 'turn 1', 'turn 2'],
    );
    assert.equal(starts[2]?.start, seq.imageSpan?.start);
    assert.equal(starts[3]?.start, seq.turnIndex.indexOf(1));
    const fig = maskFigure(seq);
    assert.deepEqual(fig.data[0]?.['z'], maskMatrix(seq));
    assert.equal((fig.layout?.['shapes'] as unknown[]).length, 2 * (starts.length - 1));
    assert.deepEqual(
      (fig.layout?.['xaxis'] as { ticktext: string[] }).ticktext,
      starts.map((s) => s.label),
    );
  });
});
