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

/** HTML table from rows of objects; numbers are shown with up to 4 significant decimals. */
export function tableHtml(rows: Record<string, unknown>[], caption?: string): string {
  const cols = rows.length > 0 ? Object.keys(rows[0] as object) : [];
  const esc = (v: unknown): string => {
    const s =
      typeof v === 'number'
        ? Number.isInteger(v)
          ? String(v)
          : Math.abs(v) >= 100
            ? v.toFixed(1)
            : Math.abs(v) >= 0.01
              ? v.toFixed(3)
              : v.toPrecision(3)
        : String(v ?? '');
    return s.replace(/&/g, '&amp;').replace(/</g, '&lt;');
  };
  const head = cols.map((c) => `<th>${esc(c)}</th>`).join('');
  const body = rows.map((r) => `<tr>${cols.map((c) => `<td>${esc(r[c])}</td>`).join('')}</tr>`).join('\n');
  const cap = caption === undefined ? '' : `<caption>${esc(caption)}</caption>`;
  return `<table>${cap}<thead><tr>${head}</tr></thead><tbody>\n${body}\n</tbody></table>`;
}

/** True when the notebook runs on its SMOKE preset (set by `npm run notebooks`, or MUCO_SMOKE=1 by hand). */
export function isSmoke(): boolean {
  const v = process.env['MUCO_SMOKE'];
  return v !== undefined && v !== '' && v !== '0';
}
