/**
 * The curated public API of muco-ts. Notebooks and the CLI import the compiled form of this file (dist/).
 */
export { initBackend, backendReport, describeBackend, seededTensor, tensorsLeftBy, assertNoLeak } from './backend';
export type { BackendName, BackendRequest, BackendOptions, BackendReport, InitKind } from './backend';
export { log, setLogLevel, logLevel } from './log';
export type { LogLevel } from './log';
export { Rng, deriveSeed } from './random';
export { plotlyLibraryHtml, figureHtml, writeFigureHtml, heatmap, lines, bars } from './plot';
export type { Figure, FigureHtmlOptions, WriteFigureOptions } from './plot';
export { show, showTable, tableHtml, loadPlotly, isSmoke } from './notebook';
export * as tf from '@tensorflow/tfjs';
