import { strict as assert } from 'assert';
import { COLOUR_NAMES, colourName, colourStats, REGIONS } from '../lib/data/colour';
import { familySplit, SPLIT_DEFAULTS } from '../lib/data/splits';
import { Families } from '../lib/data/concepts';
import { regionalIndicatorCode } from '../lib/data/sources';
import { Rng } from '../lib/random';

/** Naive twin of colourStats: per-pixel lists, counted afterwards. */
function naiveStats(rgba: Uint8Array, side: number): { main: string[]; regions: Record<string, string> } {
  const names: { x: number; y: number; n: string }[] = [];
  for (let y = 0; y < side; y++)
    for (let x = 0; x < side; x++) {
      const i = (y * side + x) * 4;
      if ((rgba[i + 3] as number) >= 128) names.push({ x, y, n: colourName(rgba[i] as number, rgba[i + 1] as number, rgba[i + 2] as number) });
    }
  const count = (list: { n: string }[]): Map<string, number> => {
    const m = new Map<string, number>();
    for (const p of list) m.set(p.n, (m.get(p.n) ?? 0) + 1);
    return m;
  };
  const all = count(names);
  const main = COLOUR_NAMES.filter((n) => (all.get(n) ?? 0) / names.length >= 0.1).sort(
    (a, b) => (all.get(b) ?? 0) - (all.get(a) ?? 0) || COLOUR_NAMES.indexOf(a) - COLOUR_NAMES.indexOf(b),
  );
  const h = side / 2;
  const inside: Record<string, (x: number, y: number) => boolean> = {
    top: (_x, y) => y < h,
    bottom: (_x, y) => y >= h,
    left: (x) => x < h,
    right: (x) => x >= h,
    centre: (x, y) => x >= side / 4 && x < (3 * side) / 4 && y >= side / 4 && y < (3 * side) / 4,
  };
  const regions: Record<string, string> = {};
  for (const r of REGIONS) {
    const f = inside[r] as (x: number, y: number) => boolean;
    let area = 0;
    for (let y = 0; y < side; y++) for (let x = 0; x < side; x++) if (f(x, y)) area++;
    const here = names.filter((p) => f(p.x, p.y));
    if (here.length / area < 0.15) continue;
    const m = count(here);
    const best = COLOUR_NAMES.reduce((b, n) => ((m.get(n) ?? 0) > (m.get(b) ?? 0) ? n : b), COLOUR_NAMES[0] as string);
    if ((m.get(best) ?? 0) >= 0.4 * here.length) regions[r] = best;
  }
  return { main, regions };
}

describe('colour facts', () => {
  it('names clear colours', () => {
    const cases: [number[], string][] = [
      [[0, 0, 0], 'black'],
      [[255, 255, 255], 'white'],
      [[128, 128, 128], 'grey'],
      [[230, 20, 20], 'red'],
      [[255, 140, 0], 'orange'],
      [[250, 220, 30], 'yellow'],
      [[30, 160, 60], 'green'],
      [[30, 80, 220], 'blue'],
      [[140, 60, 200], 'purple'],
      [[240, 100, 180], 'pink'],
      [[120, 70, 30], 'brown'],
    ];
    for (const [rgb, name] of cases) assert.equal(colourName(rgb[0] as number, rgb[1] as number, rgb[2] as number), name, `${rgb}`);
  });

  it('colourStats agrees with a naive per-pixel twin on random blocky images', () => {
    const rng = new Rng(5);
    const palette = [
      [230, 20, 20],
      [30, 80, 220],
      [250, 220, 30],
      [255, 255, 255],
      [0, 0, 0],
    ];
    for (let t = 0; t < 20; t++) {
      const side = 16;
      const rgba = new Uint8Array(side * side * 4);
      const blocks = Array.from({ length: 16 }, () => ({ c: rng.pick(palette), a: rng.next() < 0.3 ? 0 : 255 }));
      for (let y = 0; y < side; y++)
        for (let x = 0; x < side; x++) {
          const b = blocks[Math.floor(y / 4) * 4 + Math.floor(x / 4)] as { c: number[]; a: number };
          rgba.set([...(b.c as number[]), b.a], (y * side + x) * 4);
        }
      const got = colourStats(rgba, side);
      const want = naiveStats(rgba, side);
      assert.deepEqual(
        got.main.map((m) => m.name),
        want.main,
        `image ${t}`,
      );
      assert.deepEqual(got.regions, want.regions, `image ${t}`);
    }
  });

  it('ignores transparent pixels: a fully transparent image has no colours', () => {
    const s = colourStats(new Uint8Array(8 * 8 * 4), 8);
    assert.deepEqual(s, { main: [], regions: {}, coverage: 0 });
  });
});

describe('splits and families', () => {
  it('familySplit is a pure function of (seed, family) with roughly the configured fractions', () => {
    const counts = { train: 0, validation: 0, test: 0 };
    for (let i = 0; i < 20000; i++) counts[familySplit(`family-${i}`, SPLIT_DEFAULTS)]++;
    assert.ok(Math.abs(counts.test / 20000 - SPLIT_DEFAULTS.test) < 0.015, JSON.stringify(counts));
    assert.ok(Math.abs(counts.validation / 20000 - SPLIT_DEFAULTS.validation) < 0.015, JSON.stringify(counts));
    assert.equal(familySplit('family-7', SPLIT_DEFAULTS), familySplit('family-7', { ...SPLIT_DEFAULTS }));
    assert.throws(() => familySplit('x', { ...SPLIT_DEFAULTS, test: 0.7, validation: 0.4 }), /validation \+ test < 1/);
  });

  it('Families merges transitively and independently of order', () => {
    const a = new Families();
    a.union('c', 'b');
    a.union('b', 'a');
    a.union('x', 'y');
    const b = new Families();
    b.union('a', 'b');
    b.union('y', 'x');
    b.union('b', 'c');
    for (const id of ['a', 'b', 'c', 'x', 'y']) assert.equal(a.find(id), b.find(id));
    assert.equal(a.find('c'), 'a');
    assert.notEqual(a.find('x'), a.find('a'));
  });

  it('maps regional-indicator pairs to country codes', () => {
    assert.equal(regionalIndicatorCode('1F1EB-1F1F7'), 'FR');
    assert.equal(regionalIndicatorCode('1F44B'), undefined);
    assert.equal(regionalIndicatorCode('1F3F4-E0067'), undefined);
  });
});
