/**
 * `npm run device-bundle [-- --out DIR] [--data DIR] [--unchecked]`: everything the GPU check (bench/gpu.ts)
 * needs on a linux-x64 GPU machine that has neither internet nor Node, in one folder (default `device-bundle/`,
 * git-ignored) of at most 60 MiB. `--data` names the data build the replayed run's splits come from (default
 * `data/`, made by `npm run data`); its first step is replayed here before anything else is packed, unless
 * `--unchecked` (tests, on a limited build).
 *
 *   gpu-check.js.xz      bench/gpu.ts and the library, bundled and minified by esbuild (tfjs included)
 *   gpu-reference.json   the CPU reference (`npm run bench:gpu -- --reference`)
 *   run.tar.xz           the run the check replays (bench/gpu-run.ts): results/full/core/muco-k7's config and
 *                        log, its base model, and the mini-M3T train and validation splits with only their
 *                        images' pixels (lib/data/subset.ts)
 *   node.xz              this Node binary, stripped and compressed
 *   node_modules/webgpu  Dawn's `dawn.node` for linux-x64 (compressed) and its loader
 *   debs/                the Vulkan loader and the GL dispatch libraries (LOADERS), unpacked where missing
 *   run.sh               unpacks (into /tmp), finds the NVIDIA Vulkan driver and runs the check: `sh run.sh`
 *
 * docs/gpu.md says how to run it.
 */
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { bundledRun, REPO_RUN, replayRun } from '../bench/gpu-run';
import { initBackend } from '../lib/backend';
import { readArgs } from '../lib/cli-args';
import { sizeOf } from './device-travel';
import { writeM3tSubset } from '../lib/data/subset';
import { baseModelDir } from '../lib/runner/init';
import type { RunConfig } from '../lib/runner/config';

const LIMIT_MIB = 60;
const ROOT = path.join(__dirname, '..');

/**
 * The Vulkan loader and the GL dispatch libraries the NVIDIA Vulkan driver loads through, as Debian packages
 * with the library that shows each is installed. The device tool's notes name this set for Vulkan on its images.
 */
const LOADERS: [pkg: string, soname: string][] = [
  ['libvulkan1', 'libvulkan.so.1'],
  ['libglvnd0', 'libGLdispatch.so.0'],
  ['libegl1', 'libEGL.so.1'],
  ['libgl1', 'libGL.so.1'],
  ['libglx0', 'libGLX.so.0'],
  ['libopengl0', 'libOpenGL.so.0'],
  ['libgles2', 'libGLESv2.so.2'],
];

const RUN_SH = `#!/bin/sh
# Unpack into $MUCO_DEVICE_DIR (default /tmp/muco-device) and run the GPU check (bench/gpu.ts); writes gpu.json
# into $OUT (or beside this script). Extra arguments go to the check.
set -e
B="$(cd "$(dirname "$0")" && pwd)"
W="\${MUCO_DEVICE_DIR:-/tmp/muco-device}"
D="$W/node_modules/webgpu/dist/linux-x64"
# xz where the image has it, else Python's lzma (an image may ship python3 without xz-utils)
unpack() {
  if command -v xz >/dev/null 2>&1; then xz -dc "$1"
  elif python3 -c 'import lzma' >/dev/null 2>&1; then
    python3 -c 'import lzma, shutil, sys; shutil.copyfileobj(lzma.open(sys.argv[1]), sys.stdout.buffer)' "$1"
  else echo "run.sh: neither xz nor python3 with lzma is here to unpack $1; install xz-utils" >&2; return 1
  fi
}
# One command a line: set -e stops at any of them (it ignores a failure inside an && list). Binaries are
# unpacked to .part and renamed, so a second run never takes a broken unpack for a finished one.
mkdir -p "$D"
if [ ! -x "$W/node" ]; then
  unpack "$B/node.xz" > "$W/node.part"
  chmod +x "$W/node.part"
  mv "$W/node.part" "$W/node"
fi
unpack "$B/gpu-check.js.xz" > "$W/gpu-check.js"
rm -rf "$W/run"
unpack "$B/run.tar.xz" > "$W/run.tar"
tar -xf "$W/run.tar" -C "$W"
rm "$W/run.tar"
cp "$B/node_modules/webgpu/index.js" "$B/node_modules/webgpu/package.json" "$W/node_modules/webgpu/"
if [ ! -f "$D/dawn.node" ]; then
  unpack "$B/node_modules/webgpu/dist/linux-x64/dawn.node.xz" > "$D/dawn.part"
  mv "$D/dawn.part" "$D/dawn.node"
fi
# Each bundled loader library that the image lacks goes into $W/sys, on the library path: nothing is written to /
added=
for p in ${LOADERS.map(([pkg, so]) => `${pkg}:${so}`).join(' ')}; do
  ldconfig -p | awk -v so="\${p#*:}" '$1 == so { found = 1 } END { exit !found }' && continue
  for f in "$B"/debs/"\${p%%:*}"_*.deb; do
    if [ ! -f "$f" ]; then echo "run.sh: \${p#*:} is not installed and the bundle has no \${p%%:*} package" >&2; continue; fi
    dpkg -x "$f" "$W/sys"
    added="$added \${p%%:*}"
  done
done
L=
[ -z "$added" ] || { echo "unpacked from the bundle:$added"; L="$W/sys/usr/lib/x86_64-linux-gnu"; }
[ -d /usr/local/nvidia/lib64 ] && L="\${L:+$L:}/usr/local/nvidia/lib64"
[ -z "$L" ] || export LD_LIBRARY_PATH="$L\${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
if [ -z "$VK_DRIVER_FILES" ]; then
  for f in /usr/share/vulkan/icd.d/nvidia_icd.json /etc/vulkan/icd.d/nvidia_icd.json /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json; do
    if [ -f "$f" ]; then export VK_DRIVER_FILES="$f"; break; fi
  done
fi
echo "Vulkan driver: \${VK_DRIVER_FILES:-none named (Dawn searches the default places)}"
command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader || true
export MUCO_BACKEND=webgpu
exec "$W/node" "$W/gpu-check.js" --reference-file "$B/gpu-reference.json" --run-dir "$W/run" --out "\${OUT:-$B}/gpu.json" "$@"
`;

function sh(cmd: string, args: string[], cwd = ROOT): Buffer {
  return execFileSync(cmd, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 1 << 30 });
}

/** The step-0 loss of a replay may differ from the run's log by rounding only (another CPU backend, say). */
const STAGED_LOSS_TOLERANCE = 1e-4;

/**
 * The replayed run as one archive: `run/` with the run's config.json and log.jsonl, its base model (base/) and
 * the part of the data build it trains and validates on (data/), packed with tar and xz. Unless `unchecked`,
 * one step is replayed here first: a base that is not the run's, or a data build that is not the one the run
 * trained on (other batches), fails now rather than on the GPU machine.
 */
async function packRun(archive: string, dataDir: string, unchecked: boolean): Promise<void> {
  const cfg = JSON.parse(fs.readFileSync(path.join(ROOT, REPO_RUN.run, 'config.json'), 'utf8')) as RunConfig;
  const stage = fs.mkdtempSync(path.join(path.dirname(archive), '.run-'));
  try {
    const dir = path.join(stage, 'run');
    fs.mkdirSync(path.join(dir, 'base'), { recursive: true });
    for (const f of ['config.json', 'log.jsonl']) fs.copyFileSync(path.join(ROOT, REPO_RUN.run, f), path.join(dir, f));
    const base = path.join(ROOT, baseModelDir(cfg));
    for (const f of ['model.json', 'tokenizer.json', 'weights.bin']) fs.copyFileSync(path.join(base, f), path.join(dir, 'base', f));
    await writeM3tSubset(dataDir, path.join(dir, 'data'), [cfg.data.split, 'validation'], cfg.model.imageSize);
    if (!unchecked) {
      await initBackend();
      const r = await replayRun(bundledRun(dir), { maxSteps: 1, deadline: Infinity });
      if (!(r.firstLossRelError <= STAGED_LOSS_TOLERANCE))
        throw new Error(
          `Replaying step 0 of ${r.run} from ${dataDir} gives loss ${r.loss[0]}, but the run logged ${r.cpuLoss[0]}: that data build is not ` +
            `the one the run trained on. Build it with \`npm run data\` (no --limit) and pass --data data, or pass --unchecked to pack it anyway.`,
        );
    }
    sh('tar', ['-cJf', archive, '-C', stage, 'run']);
  } finally {
    fs.rmSync(stage, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const args = readArgs(process.argv.slice(2), { '--out': 'value', '--data': 'value', '--unchecked': 'flag' } as const, {
    unknown: (a) => `Unknown option ${a}; see the header of scripts/device-bundle.ts.`,
  });
  const out = path.resolve(args.values.get('--out') ?? path.join(ROOT, 'device-bundle'));
  const reference = path.join(ROOT, 'bench', 'gpu-reference.json');
  if (!fs.existsSync(reference)) throw new Error(`${reference} is missing: run \`npm run bench:gpu -- --reference\` first (on the CPU).`);
  if (process.platform !== 'linux' || process.arch !== 'x64')
    throw new Error(`The bundle carries this machine's Node binary, so it must be built on linux-x64 (this is ${process.platform}-${process.arch}).`);
  fs.rmSync(out, { recursive: true, force: true });
  fs.mkdirSync(path.join(out, 'debs'), { recursive: true });

  // 0. the replayed run, checked first (the quickest part to fail)
  const dataDir = path.resolve(args.values.get('--data') ?? path.join(ROOT, REPO_RUN.data));
  await packRun(path.join(out, 'run.tar.xz'), dataDir, args.flags.has('--unchecked'));

  // 1. the check, bundled (Dawn ships beside it; the optional native packages are not used on the GPU path)
  const esbuild = require('esbuild') as typeof import('esbuild');
  await esbuild.build({
    entryPoints: [path.join(ROOT, 'bench', 'gpu.ts')],
    outfile: path.join(out, 'gpu-check.js'),
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    // plotly is only resolved when a figure is written, which the check never does.
    external: ['webgpu', '@tensorflow/tfjs-node', '@tensorflow/tfjs-node-gpu', 'plotly.js-dist', 'plotly.js-dist/*', '*.node'],
    // The check decodes no image files: sharp (a native package) is replaced by a module that says so if called.
    plugins: [
      {
        name: 'no-sharp',
        setup(build) {
          build.onResolve({ filter: /^sharp$/ }, () => ({ path: 'sharp', namespace: 'no-sharp' }));
          build.onLoad({ filter: /.*/, namespace: 'no-sharp' }, () => ({
            contents: "module.exports = () => { throw new Error('sharp is not in the device bundle: the GPU check decodes no image files.'); };",
            loader: 'js',
          }));
        },
      },
    ],
    minify: true,
    keepNames: true,
    logLevel: 'warning',
  });
  fs.copyFileSync(reference, path.join(out, 'gpu-reference.json'));

  // 2. Dawn. Binaries are packed at xz level 3: a third of level 6's time for 3 MiB more (Node: 10 s vs 31 s here).
  const webgpu = path.dirname(require.resolve('webgpu/package.json'));
  const dawnDir = path.join(out, 'node_modules', 'webgpu', 'dist', 'linux-x64');
  fs.mkdirSync(dawnDir, { recursive: true });
  for (const f of ['package.json', 'index.js']) fs.copyFileSync(path.join(webgpu, f), path.join(out, 'node_modules', 'webgpu', f));
  fs.writeFileSync(path.join(dawnDir, 'dawn.node.xz'), sh('xz', ['-3', '-T0', '-c', path.join(webgpu, 'dist', 'linux-x64', 'dawn.node')]));

  // 3. Node, stripped of its debug symbols, compressed
  const stripped = path.join(out, 'node');
  fs.copyFileSync(process.execPath, stripped);
  try {
    sh('strip', ['--strip-all', stripped]);
  } catch {
    // no binutils: ship it unstripped
  }
  fs.writeFileSync(path.join(out, 'node.xz'), sh('xz', ['-3', '-T0', '-c', stripped]));
  fs.rmSync(stripped);

  // 4. the Vulkan loader and the GL dispatch libraries
  const pkgs = LOADERS.map(([pkg]) => pkg);
  try {
    sh('apt-get', ['download', ...pkgs], path.join(out, 'debs'));
  } catch (err) {
    throw new Error(`apt-get download ${pkgs.join(' ')} failed (${(err as Error).message.split('\n')[0]}): run \`apt-get update\` first.`);
  }

  fs.writeFileSync(path.join(out, 'gpu-check.js.xz'), sh('xz', ['-3', '-T0', '-c', path.join(out, 'gpu-check.js')]));
  fs.rmSync(path.join(out, 'gpu-check.js'));
  fs.writeFileSync(path.join(out, 'run.sh'), RUN_SH, { mode: 0o755 });
  const mib = sizeOf(out) / 2 ** 20;
  if (mib > LIMIT_MIB) throw new Error(`The bundle is ${mib.toFixed(1)} MiB, over its ${LIMIT_MIB} MiB limit.`);
  process.stdout.write(`wrote ${path.relative(process.cwd(), out)}/ (${mib.toFixed(1)} MiB): run it with \`sh ${path.relative(process.cwd(), out)}/run.sh\`\n`);
}

main().catch((err: Error) => {
  process.stderr.write(`${err.message}\n`);
  process.exit(1);
});
