/**
 * Plotly figures, rendered offline: for notebooks (tslab displays HTML) and as HTML files under results/.
 *
 * `plotly.js-dist` is a browser bundle (requiring it in Node throws), so we never execute it here: we read its
 * text and inline it once per notebook (`plotlyLibraryHtml`), then each figure is a `<div>` plus a
 * `Plotly.newPlot` call (`figureHtml`). This works without a network, in JupyterLab and in the classic
 * Notebook (whose require.js would otherwise capture Plotly's UMD definition). Files under results/ are
 * static SVG pages by default (`writeFigureHtml`), self-contained and small.
 */
import * as fs from 'fs';
import * as path from 'path';
import { figureSvg, logTicks } from './svg-figure';

/** A plotly figure: traces and layout as plotly.js accepts them (kept loose: plotly's schema is huge). */
export interface Figure {
  data: Record<string, unknown>[];
  layout?: Record<string, unknown>;
  config?: Record<string, unknown>;
}

export interface FigureHtmlOptions {
  /** Element id; default a fresh unique id. */
  id?: string;
  /** Pixel height of the plot; default 420. */
  height?: number;
}

let nextId = 0;

/** The minified library `npm run build` writes next to the compiled module (scripts/minify-plotly.js), else plotly.js-dist's own. */
export function plotlyPath(): string {
  const minified = path.join(__dirname, 'plotly.min.js');
  return fs.existsSync(minified) ? minified : require.resolve('plotly.js-dist/plotly.js');
}

/**
 * A `<script>` that defines `window.Plotly` from the inlined library. Display it once per notebook before any
 * figure. The UMD wrapper is neutralised so require.js (classic Notebook) does not capture the module.
 */
export function plotlyLibraryHtml(): string {
  const source = fs.readFileSync(plotlyPath(), 'utf8');
  return (
    '<script type="text/javascript">(function(){var define=undefined,module=undefined,exports=undefined;\n' +
    source.replace(/<\/script>/gi, '<\\/script>') +
    '\n})();</script>'
  );
}

function escapeJson(value: unknown): string {
  // Safe inside <script>: no closing tag, no HTML comment openers.
  return JSON.stringify(value).replace(/</g, '\\u003c').replace(/>/g, '\\u003e');
}

/** A `<div>` and the script that draws `figure` into it with the already-loaded `window.Plotly`. */
export function figureHtml(figure: Figure, options: FigureHtmlOptions = {}): string {
  if (!Array.isArray(figure.data)) throw new Error('figureHtml: figure.data must be an array of traces.');
  const id = options.id ?? `muco-fig-${process.pid}-${nextId++}`;
  const height = options.height ?? 420;
  const layout = { height, margin: { t: 40, r: 20, b: 50, l: 60 }, ...figure.layout };
  const config = { responsive: true, displaylogo: false, ...figure.config };
  return (
    `<div id="${id}" style="width:100%;height:${height}px"></div>\n` +
    `<script type="text/javascript">(function(){var el=document.getElementById(${escapeJson(id)});` +
    `function draw(){window.Plotly.newPlot(el,${escapeJson(figure.data)},${escapeJson(layout)},${escapeJson(config)});}` +
    `if(window.Plotly){draw();}else{var t=setInterval(function(){if(window.Plotly){clearInterval(t);draw();}},50);}` +
    `})();</script>`
  );
}

export interface WriteFigureOptions extends FigureHtmlOptions {
  /**
   * `svg` (default): a static SVG (lib/svg-figure.ts), a few kilobytes, for line and bar figures;
   * `plotly`: the interactive figure with plotly.js embedded (≈10 MB), for any figure. Both are self-contained:
   * the file renders wherever it is opened, copied or mailed, without the project or a network.
   */
  format?: 'svg' | 'plotly';
  title?: string;
}

/** Write a standalone, self-contained HTML page with one figure (atomically). */
export function writeFigureHtml(file: string, figure: Figure, options: WriteFigureOptions = {}): void {
  fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
  const title = options.title ?? String((figure.layout?.['title'] as { text?: string } | undefined)?.text ?? 'figure');
  const head = `<!DOCTYPE html>\n<html><head><meta charset="utf-8"><title>${title.replace(/</g, '&lt;')}</title>\n`;
  const html =
    (options.format ?? 'svg') === 'svg'
      ? `${head}</head>\n<body>\n${figureSvg(figure, options.height === undefined ? {} : { height: options.height })}\n</body></html>\n`
      : `${head}${plotlyLibraryHtml()}\n</head>\n<body>\n${figureHtml(figure, options)}\n</body></html>\n`;
  const tmp = `${file}.tmp-${process.pid}`;
  fs.writeFileSync(tmp, html);
  fs.renameSync(tmp, file);
}

/** A heatmap figure of a matrix (rows × columns), e.g. an attention or logit mask. */
export function heatmap(
  z: number[][],
  options: { title?: string; x?: (string | number)[]; y?: (string | number)[]; colorscale?: string; zmin?: number; zmax?: number } = {},
): Figure {
  return {
    data: [
      {
        type: 'heatmap',
        z,
        ...(options.x ? { x: options.x } : {}),
        ...(options.y ? { y: options.y } : {}),
        colorscale: options.colorscale ?? 'Viridis',
        ...(options.zmin !== undefined ? { zmin: options.zmin } : {}),
        ...(options.zmax !== undefined ? { zmax: options.zmax } : {}),
      },
    ],
    layout: { title: { text: options.title ?? '' }, yaxis: { autorange: 'reversed' } },
  };
}

/** A line chart: one trace per named series of (x, y) points. */
export function lines(
  series: { name: string; x: number[]; y: number[] }[],
  options: { title?: string; xTitle?: string; yTitle?: string; logX?: boolean; logY?: boolean } = {},
): Figure {
  // Log axes get explicit ticks labelled with whole values (20, 50): plotly's own label minor ticks "2", "5".
  const logAxis = (values: number[]): Record<string, unknown> => {
    const pos = values.filter((v) => v > 0 && Number.isFinite(v));
    if (pos.length === 0) return { type: 'log' };
    const t = logTicks(Math.min(...pos), Math.max(...pos));
    return { type: 'log', tickvals: t.values, ticktext: t.labels };
  };
  return {
    data: series.map((s) => ({ type: 'scatter', mode: 'lines+markers', name: s.name, x: s.x, y: s.y })),
    layout: {
      title: { text: options.title ?? '' },
      xaxis: { title: { text: options.xTitle ?? '' }, ...(options.logX ? logAxis(series.flatMap((s) => s.x)) : {}) },
      yaxis: { title: { text: options.yTitle ?? '' }, ...(options.logY ? logAxis(series.flatMap((s) => s.y)) : {}) },
    },
  };
}

/** A grouped bar chart: categories on x, one trace per named series. */
export function bars(categories: string[], series: { name: string; y: number[] }[], options: { title?: string; yTitle?: string } = {}): Figure {
  return {
    data: series.map((s) => ({ type: 'bar', name: s.name, x: categories, y: s.y })),
    layout: { barmode: 'group', title: { text: options.title ?? '' }, yaxis: { title: { text: options.yTitle ?? '' } } },
  };
}
