/**
 * `npm run bench`: our training step against its PyTorch twin (bench/torch/twin.py), side by side in one run
 * (issue #9). Cases, each a full training step (forward, backward, clipping, optimizer update):
 *   block        the backend benchmark's transformer block (bench/block.ts), Adam
 *   single-turn  the `small` embedder, 8 images per step, one pair per image, AdamW, clip 1
 *   muco-k7      the `small` embedder, 8 images per step, 7 turns per image (56 pairs), AdamW, clip 1
 *
 * 1. Export: the weights, each case's collated batch (token ids, additive attention masks, image patches, the
 *    splice map of image tokens, the `<|emb|>` rows, the logit mask) and our loss and gradients go to a
 *    fixture folder; the twin loads them, so both compute the same step on the same numbers.
 * 2. Check: the twin's loss and gradients against ours (the run fails past 1e-4 relative on the loss or 1e-3
 *    on the gradients).
 * 3. Time: rounds alternate ours and the twin's (warm-up, then timed steps), medians over all rounds, the twin
 *    at our thread count and at 1 thread, its faster setting counting; the
 *    matMul peak of both (1024² sgemm), GFLOP/s of each step from lib/flops, process RSS after each case.
 * Writes bench/results/vs-torch.json. Needs Debian's python3-torch (and libopenblas0-pthread).
 * `npm run bench -- --ours [case,case]`: our side only (time and kernel profile), for iterating on speed.
 */
import { ChildProcessWithoutNullStreams, execSync, spawn } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as readline from 'readline';
import * as tf from '@tensorflow/tfjs';
import { describeBackend, initBackend } from '../lib/backend';
import { attentionMaskData, collate } from '../lib/batch';
import { DEFAULT_FLOPS_OPTIONS, dimsOf, stepFlops, stepShapeFromPacked } from '../lib/analysis/flops';
import { setLogLevel } from '../lib/log';
import { sameGroupMask } from '../lib/loss';
import { modelConfig, ModelConfig } from '../lib/model/config';
import { Embedder, embRows } from '../lib/model/embedder';
import { spliceIndex } from '../lib/model/language';
import { patchify } from '../lib/model/vision';
import { AdamW, clipByGlobalNorm, DEFAULT_ADAMW } from '../lib/optim';
import type { PackedBatch } from '../lib/packing';
import { computeStep, StepOptions } from '../lib/step';
import { packStep, trainConfig } from '../lib/train';
import { BLOCK, BLOCK_ADAM_LR, blockForwardFlops, blockLoss, blockStep, makeBlockFixture } from './block';
import { benchRecords, benchTokenizer } from './fixture';
import { sgemmPeak } from './peak';
import { kernelProfile, median } from './profile';

const IMAGES = 8;
const LR = 1e-4;
const CLIP = 1;
const PYTHON = process.env['MUCO_TORCH_PYTHON'] ?? '/usr/bin/python3';
/** Rounds of (ours, twin) and timed steps per round, after one warm-up step per round. */
const PLAN: Record<CaseName, { rounds: number; steps: number }> = {
  block: { rounds: 5, steps: 8 },
  'single-turn': { rounds: 5, steps: 3 },
  'muco-k7': { rounds: 5, steps: 3 },
};
/** Our step's phases per run: [forward + backward, clip + optimizer] ms (the `--ours` report). */
const phases: [number, number][] = [];
const TOLERANCE = { loss: 1e-4, grad: 1e-3 };

type CaseName = 'block' | 'single-turn' | 'muco-k7';
const MODEL_CASES: { name: Exclude<CaseName, 'block'>; packing: 'single' | 'multi'; turns: number }[] = [
  { name: 'single-turn', packing: 'single', turns: 1 },
  { name: 'muco-k7', packing: 'multi', turns: 7 },
];

// ---------------------------------------------------------------------------------------------------------
// The fixture: named arrays in one binary file plus a JSON manifest.

class Fixture {
  private readonly parts: Buffer[] = [];
  private offset = 0;
  readonly arrays: Record<string, { dtype: 'float32' | 'int32'; shape: number[]; offset: number }> = {};
  readonly meta: Record<string, unknown> = {};

  add(name: string, data: Float32Array | Int32Array, shape: number[]): void {
    const size = shape.reduce((a, b) => a * b, 1);
    if (size !== data.length) throw new Error(`fixture ${name}: ${data.length} values for shape [${shape.join(', ')}].`);
    this.arrays[name] = { dtype: data instanceof Float32Array ? 'float32' : 'int32', shape, offset: this.offset };
    const buf = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
    this.parts.push(Buffer.from(buf));
    this.offset += buf.byteLength;
  }

  addTensor(name: string, t: tf.Tensor): void {
    this.add(name, t.dtype === 'int32' ? (t.dataSync() as Int32Array) : (t.dataSync() as Float32Array), t.shape);
  }

  write(dir: string): void {
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, 'data.bin'), Buffer.concat(this.parts));
    fs.writeFileSync(path.join(dir, 'manifest.json'), JSON.stringify({ arrays: this.arrays, meta: this.meta }));
  }
}

function exportSide(f: Fixture, prefix: string, model: Embedder, packed: PackedBatch, side: 'query' | 'target'): void {
  const seqs = side === 'query' ? packed.query : packed.target;
  const images = (side === 'query' ? packed.queryImages : packed.targetImages).filter((x): x is Float32Array => x instanceof Float32Array);
  const batch = collate(seqs, { maxLen: model.config.maxLen });
  const { batchSize: B, seqLen: T } = batch;
  f.add(`${prefix}/ids`, batch.ids, [B, T]);
  f.add(`${prefix}/mask`, attentionMaskData(batch), [B, 1, T, T]);
  f.add(`${prefix}/rows`, embRows(batch).rows, [embRows(batch).rows.length]);
  if (images.length > 0) {
    const c = model.config;
    f.add(`${prefix}/patches`, patchify(images, c), [images.length, (c.imageSize / c.patchSize) ** 2, c.patchSize * c.patchSize * 3]);
    f.add(`${prefix}/splice`, spliceIndex(batch, model.imageTokens), [B * T]);
  }
}

// ---------------------------------------------------------------------------------------------------------
// Our steps.

interface ModelCase {
  name: CaseName;
  packed: PackedBatch;
  flops: number;
  pairs: number;
  run: () => Promise<void>;
}

function stepOptions(config: ModelConfig, temperature: number, logitMask: boolean): StepOptions {
  return {
    loss: { objective: 'pretrain', temperature, logitMask, maskDuplicateTargets: false, symmetric: false, finetuneForm: 'paper', maskTwin: true },
    chunkSize: null,
    maxLen: config.maxLen,
    seed: 0,
  };
}

/** A model case: exports its batch, our loss and gradients; returns a closure running our full step. */
async function modelCase(
  f: Fixture,
  spec: (typeof MODEL_CASES)[number],
  config: ModelConfig,
  records: ReturnType<typeof benchRecords>,
  tokenizer: ReturnType<typeof benchTokenizer>,
): Promise<ModelCase> {
  const model = Embedder.create(config, tokenizer, 0);
  const c = trainConfig({ imagesPerStep: IMAGES, packing: spec.packing, turns: spec.turns, chunkSize: null });
  const packed = packStep(model, records.slice(0, IMAGES), c, 0);
  const opts = stepOptions(config, c.loss.temperature, c.loss.logitMask);
  exportSide(f, `${spec.name}/query`, model, packed, 'query');
  exportSide(f, `${spec.name}/target`, model, packed, 'target');
  if (c.loss.logitMask) f.add(`${spec.name}/logitMask`, sameGroupMask(packed.groups), [packed.groups.length, packed.groups.length]);
  const { values, grads } = await computeStep(model, packed, opts);
  for (const [name, v] of model.params) f.addTensor(`${spec.name}/grad/${name}`, grads[v.name] as tf.Tensor);
  tf.dispose(Object.values(grads));
  f.meta[spec.name] = { loss: values.loss, temperature: c.loss.temperature, pairs: packed.groups.length };
  const opt = new AdamW(
    [...model.params.entries()].map(([name, variable]) => ({ name, variable })),
    DEFAULT_ADAMW,
  );
  const run = async (): Promise<void> => {
    const t0 = performance.now();
    const { grads: g } = await computeStep(model, packed, opts);
    const t1 = performance.now();
    const clipped = clipByGlobalNorm(g, CLIP);
    tf.dispose([...Object.values(g), clipped.norm]);
    opt.step(clipped.grads, LR);
    tf.dispose(Object.values(clipped.grads));
    const t2 = performance.now();
    phases.push([t1 - t0, t2 - t1]);
  };
  const flops = stepFlops(dimsOf(config), stepShapeFromPacked(packed, { maxLen: config.maxLen }), DEFAULT_FLOPS_OPTIONS).total;
  return { name: spec.name, packed, flops, pairs: packed.groups.length, run };
}

function blockCase(f: Fixture): ModelCase {
  const fx = makeBlockFixture();
  for (const [name, v] of Object.entries(fx.params)) f.addTensor(`block/param/${name}`, v);
  f.addTensor('block/x', fx.x);
  f.addTensor('block/target', fx.target);
  f.addTensor('block/mask', fx.mask);
  const vars = Object.values(fx.params);
  const { value, grads } = tf.variableGrads(() => blockLoss(fx), vars);
  f.meta['block'] = { loss: value.dataSync()[0], config: BLOCK, lr: BLOCK_ADAM_LR };
  for (const [name, v] of Object.entries(fx.params)) f.addTensor(`block/grad/${name}`, grads[v.name] as tf.Tensor);
  tf.dispose([value, ...Object.values(grads)]);
  const step = blockStep(fx);
  const run = async (): Promise<void> => {
    const loss = step();
    loss.dataSync();
    loss.dispose();
  };
  return { name: 'block', packed: null as unknown as PackedBatch, flops: 3 * blockForwardFlops(), pairs: 0, run };
}

// ---------------------------------------------------------------------------------------------------------
// The twin, as a child speaking JSON lines.

class Twin {
  private readonly child: ChildProcessWithoutNullStreams;
  private readonly lines: AsyncIterableIterator<string>;

  constructor(fixtureDir: string, threads: number) {
    const script = path.join(__dirname, 'torch', 'twin.py');
    this.child = spawn(PYTHON, [script, fixtureDir, '--threads', String(threads)], { stdio: ['pipe', 'pipe', 'pipe'] });
    this.child.stderr.on('data', (d: Buffer) => process.stderr.write(`[twin] ${d.toString()}`));
    this.lines = readline.createInterface({ input: this.child.stdout })[Symbol.asyncIterator]();
  }

  async ask<T>(request: Record<string, unknown>): Promise<T> {
    this.child.stdin.write(JSON.stringify(request) + '\n');
    const next = await this.lines.next();
    if (next.done === true) throw new Error(`The PyTorch twin exited (request ${JSON.stringify(request)}); see its messages above.`);
    const reply = JSON.parse(next.value) as T & { error?: string };
    if (reply.error !== undefined) throw new Error(`PyTorch twin: ${reply.error}`);
    return reply;
  }

  close(): void {
    this.child.stdin.end();
  }
}

function checkTorch(): void {
  try {
    execSync(`${PYTHON} -c "import torch, numpy"`, { stdio: 'pipe' });
  } catch {
    throw new Error(
      `${PYTHON} cannot import torch and numpy: install Debian's python3-torch and python3-numpy (apt-get install python3-torch libopenblas0-pthread), or point MUCO_TORCH_PYTHON at a Python that has them.`,
    );
  }
}

// ---------------------------------------------------------------------------------------------------------

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const rssMB = (): number => Math.round(process.memoryUsage().rss / 2 ** 20);

async function timeOurs(run: () => Promise<void>, steps: number): Promise<number[]> {
  await run(); // warm-up
  const ms: number[] = [];
  for (let i = 0; i < steps; i++) {
    const t0 = process.hrtime.bigint();
    await run();
    ms.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  return ms;
}

function gitSha(): string {
  try {
    return execSync('git rev-parse --short HEAD', { encoding: 'utf8' }).trim();
  } catch {
    return 'unknown';
  }
}

async function main(): Promise<void> {
  setLogLevel('warn');
  if (!process.argv.includes('--ours')) checkTorch();
  const report = await initBackend();
  const backend = describeBackend(report);
  const threads = report.wasm?.nativeBlas.active === true ? report.wasm.nativeBlas.threads : 1;
  const probe = modelConfig('small');
  const records = benchRecords(IMAGES, probe.imageSize);
  const tokenizer = benchTokenizer(records);
  const config = modelConfig('small', { vocabSize: Math.max(tokenizer.vocabSize, 512) });

  const fixture = new Fixture();
  const seed = Embedder.create(config, tokenizer, 0);
  for (const [name, v] of seed.params) fixture.addTensor(`param/${name}`, v);
  seed.dispose();
  fixture.meta['config'] = config;
  fixture.meta['train'] = { lr: LR, clip: CLIP, adamw: DEFAULT_ADAMW };
  const cases: ModelCase[] = [blockCase(fixture)];
  for (const spec of MODEL_CASES) cases.push(await modelCase(fixture, spec, config, records, tokenizer));
  if (process.argv.includes('--ours')) {
    // Iterating on our side only: time and profile each case, no twin, nothing written.
    const only = process.argv[process.argv.indexOf('--ours') + 1];
    for (const c of cases.filter((x) => only === undefined || only.startsWith('--') || only.split(',').includes(x.name))) {
      phases.length = 0;
      const ms = median(await timeOurs(c.run, 2 * PLAN[c.name].steps));
      if (phases.length > 0)
        process.stdout.write(
          `${c.name}: forward+backward ${median(phases.map((p) => p[0])).toFixed(1)} ms, clip+AdamW ${median(phases.map((p) => p[1])).toFixed(1)} ms\n`,
        );
      const profile = await kernelProfile(c.run, 3);
      const kernelMs = profile.reduce((a, k) => a + k.ms, 0);
      if (process.argv.includes('--calls')) {
        const info = await tf.profile(async () => {
          await c.run();
        });
        const groups = new Map<string, { ms: number; n: number }>();
        for (const k of info.kernels) {
          const key = `${k.name} ${JSON.stringify(k.inputShapes)}`;
          const g = groups.get(key) ?? { ms: 0, n: 0 };
          g.ms += k.kernelTimeMs as number;
          g.n++;
          groups.set(key, g);
        }
        const top = [...groups.entries()].sort((a, b) => b[1].ms - a[1].ms).slice(0, 40);
        process.stdout.write(top.map(([k, g]) => `  ${g.ms.toFixed(2).padStart(8)} ms ×${g.n} ${k}`).join('\n') + '\n');
      }
      process.stdout.write(
        `${c.name}: ${ms.toFixed(1)} ms (${(c.flops / (ms * 1e6)).toFixed(1)} GFLOP/s); kernels ${kernelMs.toFixed(1)} ms: ${profile
          .slice(0, 14)
          .map((k) => `${k.kernel} ${k.ms.toFixed(1)}×${k.calls}`)
          .join(', ')}\n`,
      );
    }
    return;
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'muco-vs-torch-'));
  fixture.write(dir);

  const twin = new Twin(dir, threads);
  try {
    const info = await twin.ask<{ torch: string; threads: number; blas: string }>({ op: 'info' });
    process.stdout.write(`ours:  ${backend}\ntwin:  PyTorch ${info.torch}, ${info.threads} thread(s), ${info.blas}\n\n`);
    const check = await twin.ask<{ cases: Record<string, { loss: number; ours: number; lossRelErr: number; gradRelErr: number; worst: string }> }>({
      op: 'check',
    });
    for (const [name, r] of Object.entries(check.cases)) {
      process.stdout.write(
        `check ${name.padEnd(12)} loss ours ${r.ours.toFixed(6)} twin ${r.loss.toFixed(6)} (rel ${r.lossRelErr.toExponential(1)}), gradients max rel ${r.gradRelErr.toExponential(1)} (${r.worst})\n`,
      );
      if (!(r.lossRelErr <= TOLERANCE.loss && r.gradRelErr <= TOLERANCE.grad)) {
        throw new Error(
          `The twin disagrees with our ${name} step (loss rel ${r.lossRelErr}, gradients rel ${r.gradRelErr}; tolerance ${TOLERANCE.loss} / ${TOLERANCE.grad}): the comparison would not be apples to apples.`,
        );
      }
    }
    const ourPeak = sgemmPeak();
    const torchPeak = await twin.ask<{ gflops: number; ms: number }>({ op: 'peak' });
    const peakGflops = Math.max(ourPeak.gflops, torchPeak.gflops);
    process.stdout.write(
      `\nmatMul peak 1024²: our native sgemm ${ourPeak.gflops.toFixed(1)} GFLOP/s (${ourPeak.threads} threads), torch ${torchPeak.gflops.toFixed(1)} GFLOP/s\n\n`,
    );

    const rows: Record<string, unknown>[] = [];
    const profiles: string[] = [];
    process.stdout.write(`torch ms is PyTorch's faster setting of ${threads} and 1 thread(s) (both in the JSON)\n`);
    process.stdout.write(`case          ours ms  torch ms  ours/torch  ours GFLOP/s  torch GFLOP/s  (% of peak)   RSS ours / torch MB\n`);
    for (const c of cases) {
      const plan = PLAN[c.name];
      const ours: number[] = [];
      // PyTorch at our thread count and at 1 thread (its intra-op threads can cost more than they give on
      // small tensors): the comparison takes its faster setting.
      const torchThreads = [...new Set([threads, 1])];
      const theirsBy = new Map<number, number[]>(torchThreads.map((n) => [n, []]));
      let torchRss = 0;
      let ourRss = 0;
      for (let r = 0; r < plan.rounds; r++) {
        await sleep(250); // let the other side's BLAS threads go idle
        ours.push(...(await timeOurs(c.run, plan.steps)));
        ourRss = Math.max(ourRss, rssMB());
        for (const n of torchThreads) {
          await sleep(250);
          const t = await twin.ask<{ ms: number[]; rssMB: number }>({ op: 'time', case: c.name, steps: plan.steps, threads: n });
          theirsBy.get(n)?.push(...t.ms);
          torchRss = Math.max(torchRss, t.rssMB);
        }
      }
      const profile = await kernelProfile(c.run, 3);
      const kernelMs = profile.reduce((a, k) => a + k.ms, 0);
      const torchMedians = Object.fromEntries([...theirsBy.entries()].map(([n, ms]) => [`${n} thread${n === 1 ? '' : 's'}`, median(ms)]));
      const bestThreads = [...theirsBy.entries()].sort((a, b) => median(a[1]) - median(b[1]))[0]?.[0] ?? threads;
      const theirs = theirsBy.get(bestThreads) ?? [];
      const [o, t] = [median(ours), median(theirs)];
      const gflops = (ms: number): number => c.flops / (ms * 1e6);
      const row = {
        case: c.name,
        oursMs: o,
        torchMs: t,
        ratio: o / t,
        torchThreads: bestThreads,
        torchMsByThreads: torchMedians,
        oursMinMs: Math.min(...ours),
        torchMinMs: Math.min(...theirs),
        flopsPerStep: c.flops,
        oursGflops: gflops(o),
        torchGflops: gflops(t),
        oursPctOfPeak: (100 * gflops(o)) / peakGflops,
        torchPctOfPeak: (100 * gflops(t)) / peakGflops,
        oursRssMB: ourRss,
        torchRssMB: torchRss,
        pairs: c.pairs,
        oursKernelMs: kernelMs,
        oursProfile: profile.slice(0, 16),
        oursTimesMs: ours,
        torchTimesMs: theirs,
      };
      profiles.push(
        `${c.name}: kernels ${kernelMs.toFixed(1)} ms of ${o.toFixed(1)} ms; ${profile
          .slice(0, 8)
          .map((k) => `${k.kernel} ${k.ms.toFixed(1)}`)
          .join(', ')}`,
      );
      rows.push(row);
      process.stdout.write(
        `${c.name.padEnd(12)} ${o.toFixed(1).padStart(8)} ${t.toFixed(1).padStart(9)} ${row.ratio.toFixed(2).padStart(11)} ${row.oursGflops.toFixed(1).padStart(13)} ${row.torchGflops.toFixed(1).padStart(14)}  (${row.oursPctOfPeak.toFixed(1)} / ${row.torchPctOfPeak.toFixed(1)})   ${ourRss} / ${torchRss}\n`,
      );
    }
    process.stdout.write(`\nour kernel profile (ms per step):\n${profiles.join('\n')}\n`);
    const cpu = os.cpus();
    const out = {
      metadata: {
        date: new Date().toISOString(),
        git: gitSha(),
        node: process.versions.node,
        tfjs: tf.version.tfjs,
        backend,
        torch: info,
        cpu: `${cpu[0]?.model ?? '?'} × ${cpu.length}`,
        loadAverage: os.loadavg().map((x) => Math.round(x * 100) / 100),
        images: IMAGES,
        model: 'small',
        block: BLOCK,
        plan: PLAN,
      },
      check: check.cases,
      peak: { ours: ourPeak, torch: torchPeak, gflops: peakGflops },
      rows,
    };
    const file = path.join(__dirname, 'results', 'vs-torch.json');
    fs.writeFileSync(file, JSON.stringify(out, null, 2) + '\n');
    process.stdout.write(
      `\nload average at the end: ${os
        .loadavg()
        .map((x) => x.toFixed(2))
        .join(' ')}\nwrote ${path.relative(process.cwd(), file)}\n`,
    );
  } finally {
    twin.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err: Error) => {
  process.stderr.write(`${err.stack ?? err.message}\n`);
  process.exit(1);
});
