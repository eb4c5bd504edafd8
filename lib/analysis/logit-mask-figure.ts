/**
 * The MuCo logit mask drawn as in the paper's Fig. 3 (docs/method.md §3 Eq. 4–5): the Bk × Bk matrix of
 * query-turn × target-turn logits, with each query's positive on the diagonal, the other turns of the same
 * image masked out of its negatives, and every turn of every other image kept as a negative. The cells come
 * from the library's own `sameGroupMask`, so the figure shows what the loss uses.
 */
import { MASKED_LOGIT, sameGroupMask } from '../loss';
import type { Figure } from '../plot';

/** Cell categories: what a logit is to the loss. */
export const LOGIT_CELL = { masked: 0, negative: 1, positive: 2 } as const;

/** [n, n] categories of the logits of embeddings with image ids `groups` (positives are (i, i)). */
export function logitMaskCategories(groups: readonly number[]): number[][] {
  const n = groups.length;
  const mask = sameGroupMask(groups);
  return Array.from({ length: n }, (_, i) =>
    Array.from({ length: n }, (_, j) => (i === j ? LOGIT_CELL.positive : mask[i * n + j] === MASKED_LOGIT ? LOGIT_CELL.masked : LOGIT_CELL.negative)),
  );
}

/** Row and column labels "image b · turn t" for `images` × `turns` embeddings in (image, turn) order. */
export function turnLabels(images: number, turns: number): { groups: number[]; labels: string[] } {
  const groups: number[] = [];
  const labels: string[] = [];
  for (let b = 0; b < images; b++) {
    for (let t = 0; t < turns; t++) {
      groups.push(b);
      labels.push(`img ${b + 1} · turn ${t + 1}`);
    }
  }
  return { groups, labels };
}

/** The Fig. 3 heatmap of `images` × `turns` (three colours: masked, negative, positive). */
export function logitMaskFigure(images: number, turns: number, title?: string): Figure {
  if (!(Number.isInteger(images) && images >= 1 && Number.isInteger(turns) && turns >= 1)) {
    throw new Error(`logitMaskFigure: images and turns must be positive integers, got ${images} and ${turns}.`);
  }
  const { groups, labels } = turnLabels(images, turns);
  const z = logitMaskCategories(groups);
  const symbol = ['masked', 'negative', 'positive'];
  const colour = ['#d0d0d0', '#9ecae1', '#08519c'];
  // A stepped colour scale: each category one flat colour.
  const colorscale = colour.flatMap((c, i) => [
    [i / 3, c],
    [(i + 1) / 3, c],
  ]);
  return {
    data: [
      {
        type: 'heatmap',
        z,
        x: labels,
        y: labels,
        zmin: -0.5,
        zmax: 2.5,
        colorscale,
        showscale: false,
        text: z.map((row) => row.map((v) => symbol[v] as string)),
        hovertemplate: 'query %{y}<br>target %{x}<br>%{text}<extra></extra>',
        xgap: 1,
        ygap: 1,
      },
    ],
    layout: {
      title: { text: title ?? `MuCo logit mask: ${images} images × ${turns} turns (dark: positive, light blue: negative, grey: masked)` },
      xaxis: { title: { text: 'target embedding' }, tickangle: -45 },
      yaxis: { title: { text: 'query embedding' }, autorange: 'reversed' },
    },
  };
}
