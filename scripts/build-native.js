#!/usr/bin/env node
/**
 * `npm install` (the root project's own `install` script) and `node scripts/build-native.js`: build the optional
 * native OpenBLAS matMul addon in native/ (lib/backend/native-blas.ts loads it). Optional and safe by design: when
 * node-gyp, a C compiler or OpenBLAS is missing, or the build fails, it prints ONE line and exits 0, and the
 * toolkit runs on the plain wasm path. MUCO_NATIVE=0 skips the build. Plain JavaScript: it runs before any
 * TypeScript tooling is guaranteed to exist.
 */
'use strict';
const { spawnSync } = require('child_process');
const fs = require('fs');
const path = require('path');

const root = path.join(__dirname, '..');
const nativeDir = path.join(root, 'native');
const logFile = path.join(nativeDir, 'build', 'build.log');

function say(line) {
  process.stdout.write(`muco native BLAS: ${line}\n`);
}

/** node-gyp: npm passes its bundled copy to lifecycle scripts; otherwise look next to npm, then on PATH. */
function findNodeGyp() {
  const candidates = [process.env.npm_config_node_gyp];
  if (process.env.npm_execpath) {
    candidates.push(path.join(path.dirname(process.env.npm_execpath), '..', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'));
  }
  const prefix = path.join(path.dirname(process.execPath), '..');
  candidates.push(path.join(prefix, 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'));
  for (const c of candidates) if (c && fs.existsSync(c)) return { cmd: process.execPath, args: [c] };
  const which = spawnSync('sh', ['-c', 'command -v node-gyp'], { encoding: 'utf8' });
  return which.status === 0 ? { cmd: which.stdout.trim(), args: [] } : null;
}

/** OpenBLAS' cblas.h, via pkg-config or Debian's pthread location. */
function hasOpenBlas() {
  const pc = spawnSync('pkg-config', ['--exists', 'openblas']);
  if (pc.status === 0) return true;
  return fs.existsSync('/usr/include/x86_64-linux-gnu/openblas-pthread/cblas.h');
}

function main() {
  if (process.env.MUCO_NATIVE === '0') return say('skipped (MUCO_NATIVE=0); the wasm backend uses its own matMul.');
  const gyp = findNodeGyp();
  if (gyp === null) return say('skipped: node-gyp not found (it ships with npm); the wasm backend uses its own matMul.');
  if (!hasOpenBlas()) {
    return say('skipped: OpenBLAS not found (Debian: apt-get install libopenblas-dev); the wasm backend uses its own matMul.');
  }
  // Node's headers: ~/.npmrc may name nodedir; otherwise a system Node keeps them under <prefix>/include/node.
  const args = [...gyp.args, 'rebuild'];
  const prefix = path.join(path.dirname(process.execPath), '..');
  if (!process.env.npm_config_nodedir && fs.existsSync(path.join(prefix, 'include', 'node', 'node_api.h'))) {
    args.push(`--nodedir=${prefix}`);
  }
  const run = spawnSync(gyp.cmd, args, { cwd: nativeDir, encoding: 'utf8' });
  fs.mkdirSync(path.dirname(logFile), { recursive: true });
  fs.writeFileSync(logFile, `${gyp.cmd} ${args.join(' ')}\n${run.stdout ?? ''}${run.stderr ?? ''}${run.error ? String(run.error) : ''}`);
  const built = path.join(nativeDir, 'build', 'Release', 'muco_blas.node');
  if (run.status !== 0 || !fs.existsSync(built)) {
    return say(`build failed (details in ${path.relative(root, logFile)}); the wasm backend uses its own matMul.`);
  }
  say(`built ${path.relative(root, built)} (OpenBLAS sgemm for the wasm backend's matMul).`);
}

try {
  main();
} catch (err) {
  say(`skipped: ${err && err.message ? err.message.split('\n')[0] : String(err)}`);
}
process.exit(0);
