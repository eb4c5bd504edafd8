/** The Fig. 3 logit-mask figure against the mask's definition written here, and its shape. */
import { strict as assert } from 'assert';
import { LOGIT_CELL, logitMaskCategories, logitMaskFigure, turnLabels } from '../lib/analysis/logit-mask-figure';

describe('logit mask figure', () => {
  it('categories follow the definition: diagonal positive, same image masked, other images negative', () => {
    const groups = [0, 0, 1, 1, 1, 2];
    const got = logitMaskCategories(groups);
    groups.forEach((gi, i) =>
      groups.forEach((gj, j) => {
        const want = i === j ? LOGIT_CELL.positive : gi === gj ? LOGIT_CELL.masked : LOGIT_CELL.negative;
        assert.equal(got[i]?.[j], want, `(${i}, ${j})`);
      }),
    );
    // By hand: 2 + 6 ordered same-image pairs off the diagonal are masked.
    assert.equal(got.flat().filter((v) => v === LOGIT_CELL.masked).length, 8);
    assert.ok(!logitMaskCategories([0, 1, 2]).flat().includes(LOGIT_CELL.masked), 'single-turn: nothing masked');
  });

  it('2 images × 4 turns: 8 × 8 cells with labels in (image, turn) order', () => {
    assert.deepEqual(turnLabels(2, 2), { groups: [0, 0, 1, 1], labels: ['img 1 · turn 1', 'img 1 · turn 2', 'img 2 · turn 1', 'img 2 · turn 2'] });
    const fig = logitMaskFigure(2, 4);
    const trace = fig.data[0] as { z: number[][]; x: string[]; text: string[][] };
    assert.equal(trace.z.length, 8);
    assert.equal(trace.x[5], 'img 2 · turn 2');
    assert.equal(trace.text[0]?.[1], 'masked');
    assert.equal(trace.text[0]?.[4], 'negative');
    assert.throws(() => logitMaskFigure(0, 4), /positive integers, got 0 and 4/);
  });
});
