// `npm run build` step: writes dist/plotly.min.js, the minified plotly.js that notebooks inline once per
// kernel (lib/plot.ts plotlyLibraryHtml): 4.8 MB instead of the 10 MB of plotly.js-dist's only file, so an
// executed notebook stays small. esbuild comes with tsx; without it the unminified file is used, as before.
'use strict';
const fs = require('fs');
const path = require('path');

const out = path.join(__dirname, '..', 'dist', 'plotly.min.js');
const source = require.resolve('plotly.js-dist/plotly.js');
if (fs.existsSync(out) && fs.statSync(out).mtimeMs >= fs.statSync(source).mtimeMs) process.exit(0);
let esbuild;
try {
  esbuild = require('esbuild');
} catch {
  process.stdout.write('esbuild not found: notebooks will inline the unminified plotly.js (10 MB per executed notebook).\n');
  process.exit(0);
}
const { code } = esbuild.transformSync(fs.readFileSync(source, 'utf8'), { minify: true });
fs.mkdirSync(path.dirname(out), { recursive: true });
const tmp = `${out}.tmp-${process.pid}`;
fs.writeFileSync(tmp, code);
fs.renameSync(tmp, out);
process.stdout.write(`wrote ${path.relative(process.cwd(), out)} (${(code.length / 1e6).toFixed(1)} MB)\n`);
