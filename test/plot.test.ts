/**
 * Figures written under results/ (lib/plot.ts, lib/svg-figure.ts): self-contained pages (no path outside the
 * file, no script to fetch), ticks against loop twins, log axes labelled with whole values.
 */
import { strict as assert } from 'assert';
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { bars, heatmap, lines, writeFigureHtml } from '../lib/plot';
import { figureSvg, linearTicks, logTicks, tickLabel } from '../lib/svg-figure';

describe('figures', () => {
  it('linear ticks are 1-2-5 steps that cover the range (loop twin)', () => {
    for (const [lo, hi] of [
      [0, 1],
      [0.3, 7.9],
      [-3, 41],
      [1.2, 1.25],
      [0, 2300],
    ] as const) {
      const t = linearTicks(lo, hi);
      const step = (t.values[1] as number) - (t.values[0] as number);
      const mant = step / 10 ** Math.floor(Math.log10(step) + 1e-9);
      assert.ok(
        [1, 2, 5].some((m) => Math.abs(mant - m) < 1e-6),
        `step ${step}`,
      );
      assert.ok((t.values[0] as number) >= lo - 1e-9 && (t.values[0] as number) - step < lo, `first tick ${t.values[0]} for ${lo}`);
      assert.ok((t.values.at(-1) as number) <= hi + 1e-9 && (t.values.at(-1) as number) + step > hi, `last tick for ${hi}`);
      assert.ok(t.values.length >= 3 && t.values.length <= 11, `${t.values.length} ticks`);
    }
  });

  it('log ticks carry whole-value labels: 20 GFLOPs is "20", not a bare mantissa "2"', () => {
    const t = logTicks(12, 240);
    assert.deepEqual(t.values, [20, 50, 100, 200]);
    assert.deepEqual(t.labels, ['20', '50', '100', '200']);
    assert.deepEqual(logTicks(1, 1e6).values, [1, 10, 100, 1000, 1e4, 1e5, 1e6]);
    assert.deepEqual(logTicks(1, 1e6).labels.slice(-3), ['10k', '100k', '1M']);
    assert.deepEqual([tickLabel(0.05), tickLabel(42.8), tickLabel(2e10)], ['0.05', '42.8', '20G']);
    const fig = lines([{ name: 'a', x: [12, 240], y: [1, 2] }], { logX: true });
    assert.deepEqual((fig.layout?.['xaxis'] as { ticktext: string[] }).ticktext, ['20', '50', '100', '200']);
    assert.throws(() => logTicks(0, 10), /positive values/);
  });

  it('writes self-contained pages: an SVG by default (no script, no outside path), plotly embedded on request', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'muco-plot-'));
    try {
      const file = path.join(dir, 'loss.html');
      writeFigureHtml(
        file,
        lines(
          [
            { name: 'run <a>', x: [1, 2, 3], y: [3, 2, 1.5] },
            { name: 'chance', x: [1, 3], y: [1, 1] },
          ],
          { title: 'loss', xTitle: 'step', yTitle: 'loss' },
        ),
      );
      const html = fs.readFileSync(file, 'utf8');
      assert.doesNotMatch(html, /<script|src=|href=|node_modules|\.\.\//);
      assert.match(html, /<svg [^>]*>/);
      assert.equal((html.match(/<polyline/g) ?? []).length, 2);
      assert.match(html, /run &lt;a&gt;/, 'names are escaped');
      const barsFile = path.join(dir, 'scores.html');
      writeFigureHtml(
        barsFile,
        bars(
          ['CLS', 'VQA'],
          [
            { name: 'x', y: [10, 20] },
            { name: 'y', y: [5, 0] },
          ],
          { title: 'scores' },
        ),
      );
      assert.equal((fs.readFileSync(barsFile, 'utf8').match(/<rect [^>]*fill="#/g) ?? []).length, 4 + 2, 'four bars and two legend keys');
      const big = path.join(dir, 'heat.html');
      writeFigureHtml(
        big,
        heatmap([
          [1, 2],
          [3, 4],
        ]),
        { format: 'plotly' },
      );
      const page = fs.readFileSync(big, 'utf8');
      assert.match(page, /Plotly\.newPlot/);
      assert.doesNotMatch(page, /<script[^>]* src=/, 'plotly is embedded, not linked');
      assert.throws(() => figureSvg(heatmap([[1]])), /line \(scatter\) or bar figures, got trace types heatmap/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('places points by value: the SVG y of a bar is linear in its value', () => {
    const svg = figureSvg(bars(['a', 'b', 'c'], [{ name: 's', y: [0, 10, 20] }]));
    const heights = [...svg.matchAll(/<rect x="[^"]+" y="[^"]+" width="[^"]+" height="([^"]+)" fill="#1f77b4"><title>/g)].map((m) => Number(m[1]));
    assert.equal(heights.length, 3);
    assert.ok(Math.abs((heights[2] as number) - 2 * (heights[1] as number)) < 0.2 && (heights[0] as number) < 0.1, heights.join(','));
  });
});

describe('plotly for notebooks', function () {
  this.timeout(60_000);
  it('npm run build writes a minified plotly.js that still compiles, about half the size', () => {
    const out = path.join(__dirname, '..', 'dist', 'plotly.min.js');
    fs.rmSync(out, { force: true });
    execFileSync(process.execPath, [path.join(__dirname, '..', 'scripts', 'minify-plotly.js')]);
    const code = fs.readFileSync(out, 'utf8');
    const full = fs.statSync(require.resolve('plotly.js-dist/plotly.js')).size;
    assert.ok(code.length < 0.6 * full, `${code.length} vs ${full}`);
    assert.doesNotThrow(() => new Function(code), 'the minified library parses');
    assert.match(code, /Plotly/);
  });
});
