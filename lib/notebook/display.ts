/**
 * Small helpers for tslab notebooks: display figures and tables, and read the SMOKE preset switch that the
 * headless notebook check sets (MUCO_SMOKE=1) so every notebook also runs in CI in seconds.
 */
import { Figure, figureHtml, plotlyLibraryHtml } from '../plot';

interface TslabDisplay {
  html(html: string): void;
  text(text: string): void;
}

function display(): TslabDisplay {
  try {
    // Resolved at call time: tslab exists only inside the notebook kernel.
    return (require('tslab') as { display: TslabDisplay }).display;
  } catch {
    throw new Error('Display helpers need the tslab kernel: run this inside a tslab notebook (npm run kernel).');
  }
}

let plotlyShown = false;

/** Display plotly.js once (inlined, offline) so later `show(figure)` calls can draw. */
export function loadPlotly(force = false): void {
  if (plotlyShown && !force) return;
  display().html(plotlyLibraryHtml());
  plotlyShown = true;
}

/** Display a plotly figure in the notebook (loads plotly.js first if needed). */
export function show(figure: Figure, height?: number): void {
  loadPlotly();
  display().html(figureHtml(figure, height === undefined ? {} : { height }));
}

/** Display sentences as a bullet list (the computed prose of lib/analysis/prose). */
export function showNotes(lines: readonly string[], heading?: string): void {
  display().html(notesHtml(lines, heading));
}

/** An HTML bullet list of plain-text sentences (escaped), with an optional bold heading. */
export function notesHtml(lines: readonly string[], heading?: string): string {
  const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
  const head = heading === undefined ? '' : `<p><b>${esc(heading)}</b></p>`;
  return `${head}<ul>${lines.map((l) => `<li>${esc(l)}</li>`).join('')}</ul>`;
}

/** Display an HTML table from rows of objects (column order = keys of the first row). */
export function showTable(rows: Record<string, unknown>[], caption?: string): void {
  display().html(tableHtml(rows, caption));
}

/**
 * Decimals for a numeric column: enough for its most precise value after rounding (3 decimals below 100, 1 from
 * 100 on, very small magnitudes aside), the same for every value of the column so 42.8 never sits beside 53.
 */
export function columnDecimals(values: readonly unknown[]): number {
  let decimals = 0;
  for (const v of values) {
    if (typeof v !== 'number' || !Number.isFinite(v) || Number.isInteger(v)) continue;
    const cap = Math.abs(v) >= 100 ? 1 : 3;
    const text = v.toFixed(cap).replace(/0+$/, '');
    decimals = Math.max(decimals, text.length - text.indexOf('.') - 1);
  }
  return decimals;
}

/** HTML table from rows of objects; each numeric column has one number format (`columnDecimals`). */
export function tableHtml(rows: Record<string, unknown>[], caption?: string): string {
  const cols = rows.length > 0 ? Object.keys(rows[0] as object) : [];
  const decimals = new Map(cols.map((c) => [c, columnDecimals(rows.map((r) => r[c]))]));
  const escText = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;');
  const cell = (v: unknown, col: string): string => {
    if (typeof v !== 'number') return escText(String(v ?? ''));
    if (!Number.isFinite(v)) return String(v);
    // Magnitudes too small for the column's decimals keep three significant digits.
    if (v !== 0 && Math.abs(v) < 0.001) return v.toPrecision(3);
    return v.toFixed(decimals.get(col) ?? 0);
  };
  const head = cols.map((c) => `<th>${escText(c)}</th>`).join('');
  const body = rows.map((r) => `<tr>${cols.map((c) => `<td>${cell(r[c], c)}</td>`).join('')}</tr>`).join('\n');
  const cap = caption === undefined ? '' : `<caption>${escText(caption)}</caption>`;
  return `<table>${cap}<thead><tr>${head}</tr></thead><tbody>\n${body}\n</tbody></table>`;
}

/** True when the notebook runs on its SMOKE preset (set by `npm run notebooks`, or MUCO_SMOKE=1 by hand). */
export function isSmoke(): boolean {
  const v = process.env['MUCO_SMOKE'];
  return v !== undefined && v !== '' && v !== '0';
}
