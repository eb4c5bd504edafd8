/**
 * Static SVG renderings of our plotly figures (line charts and grouped bars, lib/plot.ts), for the HTML files
 * written under results/: an SVG needs no script, so a summary's loss.html or scores.html renders the same
 * when opened from the project, copied elsewhere or mailed, and weighs kilobytes. Notebooks keep interactive
 * plotly. Also the tick choice both renderers share: log axes are labelled with whole values (20, 50, 100),
 * never plotly's bare mantissas ("2", "5").
 */
import type { Figure } from './plot';

/** Tick values and labels of an axis. */
export interface Ticks {
  values: number[];
  labels: string[];
}

/** A number as an axis label: up to 3 significant digits, no trailing zeros, k/M/G for large values. */
export function tickLabel(v: number): string {
  if (v === 0) return '0';
  const a = Math.abs(v);
  const scaled = (x: number, suffix: string): string => `${Number(x.toPrecision(3))}${suffix}`;
  if (a >= 1e9) return scaled(v / 1e9, 'G');
  if (a >= 1e6) return scaled(v / 1e6, 'M');
  if (a >= 1e4) return scaled(v / 1e3, 'k');
  return String(Number(v.toPrecision(3)));
}

/** About `target` evenly spaced ticks at 1, 2 or 5 × 10^n covering [lo, hi]. */
export function linearTicks(lo: number, hi: number, target = 5): Ticks {
  if (!(Number.isFinite(lo) && Number.isFinite(hi))) throw new Error(`linearTicks: the range [${lo}, ${hi}] is not finite.`);
  if (hi <= lo) return { values: [lo], labels: [tickLabel(lo)] };
  const raw = (hi - lo) / target;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = ([1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag) as number;
  const values: number[] = [];
  for (let v = Math.ceil(lo / step - 1e-9) * step; v <= hi + step * 1e-9; v += step) values.push(Number(v.toPrecision(12)));
  return { values, labels: values.map(tickLabel) };
}

/** Ticks of a log axis over [lo, hi] (both > 0): 1-2-5 × 10^n when the range spans few decades, powers of 10 otherwise. */
export function logTicks(lo: number, hi: number): Ticks {
  if (!(lo > 0 && hi > 0)) throw new Error(`logTicks: a log axis needs positive values, got [${lo}, ${hi}].`);
  const decades = Math.log10(hi / lo);
  const mantissas = decades <= 1.2 ? [1, 1.5, 2, 3, 5, 7] : decades <= 3.5 ? [1, 2, 5] : [1];
  const values: number[] = [];
  for (let e = Math.floor(Math.log10(lo)); e <= Math.ceil(Math.log10(hi)); e++) {
    for (const m of mantissas) {
      const v = Number((m * 10 ** e).toPrecision(6));
      if (v >= lo * (1 - 1e-9) && v <= hi * (1 + 1e-9)) values.push(v);
    }
  }
  if (values.length < 2) return { values: [lo, hi], labels: [tickLabel(lo), tickLabel(hi)] };
  return { values, labels: values.map(tickLabel) };
}

const PALETTE = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f', '#bcbd22', '#17becf'];

const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

type Trace = Record<string, unknown>;
const nums = (x: unknown): number[] => (Array.isArray(x) ? x.map(Number) : []);
const text = (t: unknown): string =>
  typeof t === 'string' ? t : typeof t === 'object' && t !== null && typeof (t as { text?: unknown }).text === 'string' ? (t as { text: string }).text : '';

/**
 * An SVG of a figure made by lib/plot's `lines` (scatter traces, linear or log axes) or `bars` (grouped bar
 * traces over shared categories). Other trace types are an error: write those with plotly (`inline: true`).
 */
export function figureSvg(figure: Figure, options: { width?: number; height?: number } = {}): string {
  const traces = figure.data;
  const kinds = new Set(traces.map((t) => String(t['type'] ?? 'scatter')));
  if (kinds.size > 1 || !(kinds.has('scatter') || kinds.has('bar') || kinds.size === 0)) {
    throw new Error(
      `figureSvg draws line (scatter) or bar figures, got trace types ${[...kinds].join(', ')}; write this figure with plotly (writeFigureHtml(..., { inline: true })).`,
    );
  }
  const width = options.width ?? 900;
  const legendRows = traces.length;
  const height = options.height ?? 420;
  const layout = figure.layout ?? {};
  const title = text(layout['title']);
  const xaxis = (layout['xaxis'] ?? {}) as Trace;
  const yaxis = (layout['yaxis'] ?? {}) as Trace;
  const m = { left: 70, right: 260, top: title === '' ? 20 : 50, bottom: 60 };
  const pw = width - m.left - m.right;
  const ph = height - m.top - m.bottom;
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${Math.max(height, m.top + 20 * legendRows + 20)}" font-family="sans-serif" font-size="12">`,
    `<rect width="100%" height="100%" fill="white"/>`,
  ];
  if (title !== '') out.push(`<text x="${width / 2}" y="24" text-anchor="middle" font-size="14">${esc(title)}</text>`);
  const logY = yaxis['type'] === 'log';
  const isBar = kinds.has('bar');
  const ys = traces.flatMap((t) => nums(t['y'])).filter((v) => Number.isFinite(v) && (!logY || v > 0));
  let yLo = ys.length === 0 ? 0 : Math.min(...ys);
  let yHi = ys.length === 0 ? 1 : Math.max(...ys);
  if (isBar) yLo = Math.min(0, yLo);
  if (yHi === yLo) yHi = yLo + 1;
  if (!logY) {
    const pad = (yHi - yLo) * 0.05;
    if (!isBar || yLo < 0) yLo -= pad;
    yHi += pad;
  }
  const yTicks = logY ? logTicks(yLo, yHi) : linearTicks(yLo, yHi);
  if (!logY) {
    yLo = Math.min(yLo, yTicks.values[0] as number);
    yHi = Math.max(yHi, yTicks.values.at(-1) as number);
  }
  const yPos = (v: number): number => m.top + ph - ph * (logY ? Math.log(v / yLo) / Math.log(yHi / yLo) : (v - yLo) / (yHi - yLo));
  const axisLines = `<line x1="${m.left}" y1="${m.top + ph}" x2="${m.left + pw}" y2="${m.top + ph}" stroke="#444"/><line x1="${m.left}" y1="${m.top}" x2="${m.left}" y2="${m.top + ph}" stroke="#444"/>`;
  yTicks.values.forEach((v, i) => {
    const y = yPos(v).toFixed(1);
    out.push(
      `<line x1="${m.left}" y1="${y}" x2="${m.left + pw}" y2="${y}" stroke="#e5e5e5"/><text x="${m.left - 6}" y="${y}" text-anchor="end" dominant-baseline="middle">${esc(yTicks.labels[i] as string)}</text>`,
    );
  });
  const yTitle = text(yaxis['title']);
  if (yTitle !== '') out.push(`<text transform="translate(16 ${m.top + ph / 2}) rotate(-90)" text-anchor="middle">${esc(yTitle)}</text>`);
  const colour = (i: number): string => PALETTE[i % PALETTE.length] as string;
  if (isBar) {
    const categories = (traces[0]?.['x'] as unknown[] | undefined)?.map(String) ?? [];
    const slot = pw / Math.max(1, categories.length);
    const bw = (slot * 0.8) / Math.max(1, traces.length);
    categories.forEach((c, ci) => {
      out.push(`<text x="${(m.left + slot * (ci + 0.5)).toFixed(1)}" y="${m.top + ph + 18}" text-anchor="middle">${esc(c)}</text>`);
      traces.forEach((t, ti) => {
        const v = nums(t['y'])[ci];
        if (v === undefined || !Number.isFinite(v)) return;
        const x = m.left + slot * ci + slot * 0.1 + bw * ti;
        const [y0, y1] = [yPos(Math.max(0, logY ? yLo : 0)), yPos(v)];
        out.push(
          `<rect x="${x.toFixed(1)}" y="${Math.min(y0, y1).toFixed(1)}" width="${bw.toFixed(1)}" height="${Math.abs(y0 - y1).toFixed(1)}" fill="${colour(ti)}"><title>${esc(`${String(t['name'] ?? '')}: ${c} ${v}`)}</title></rect>`,
        );
      });
    });
  } else {
    const logX = xaxis['type'] === 'log';
    const xs = traces.flatMap((t) => nums(t['x'])).filter((v) => Number.isFinite(v) && (!logX || v > 0));
    let xLo = xs.length === 0 ? 0 : Math.min(...xs);
    let xHi = xs.length === 0 ? 1 : Math.max(...xs);
    if (xHi === xLo) xHi = xLo + 1;
    const xTicks = logX ? logTicks(xLo, xHi) : linearTicks(xLo, xHi);
    if (!logX) {
      xLo = Math.min(xLo, xTicks.values[0] as number);
      xHi = Math.max(xHi, xTicks.values.at(-1) as number);
    }
    const xPos = (v: number): number => m.left + pw * (logX ? Math.log(v / xLo) / Math.log(xHi / xLo) : (v - xLo) / (xHi - xLo));
    xTicks.values.forEach((v, i) => {
      const x = xPos(v).toFixed(1);
      out.push(
        `<line x1="${x}" y1="${m.top}" x2="${x}" y2="${m.top + ph}" stroke="#f0f0f0"/><text x="${x}" y="${m.top + ph + 18}" text-anchor="middle">${esc(xTicks.labels[i] as string)}</text>`,
      );
    });
    traces.forEach((t, ti) => {
      const [tx, ty] = [nums(t['x']), nums(t['y'])];
      const pts = tx.flatMap((x, i) => {
        const y = ty[i] as number;
        return Number.isFinite(x) && Number.isFinite(y) && (!logX || x > 0) && (!logY || y > 0) ? [`${xPos(x).toFixed(1)},${yPos(y).toFixed(1)}`] : [];
      });
      if (pts.length > 0)
        out.push(
          `<polyline fill="none" stroke="${colour(ti)}" stroke-width="2" points="${pts.join(' ')}"><title>${esc(String(t['name'] ?? ''))}</title></polyline>`,
        );
      if (pts.length <= 40) for (const p of pts) out.push(`<circle cx="${p.split(',')[0]}" cy="${p.split(',')[1]}" r="3" fill="${colour(ti)}"/>`);
    });
  }
  const xTitle = text(xaxis['title']);
  if (xTitle !== '') out.push(`<text x="${m.left + pw / 2}" y="${m.top + ph + 42}" text-anchor="middle">${esc(xTitle)}</text>`);
  out.push(axisLines);
  traces.forEach((t, i) => {
    const y = m.top + 10 + 20 * i;
    out.push(
      `<rect x="${m.left + pw + 16}" y="${y - 6}" width="14" height="12" fill="${colour(i)}"/><text x="${m.left + pw + 36}" y="${y}" dominant-baseline="middle">${esc(String(t['name'] ?? `trace ${i}`))}</text>`,
    );
  });
  out.push('</svg>');
  return out.join('\n');
}
