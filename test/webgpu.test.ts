/**
 * The WebGPU backend (lib/backend/webgpu.ts). Everywhere: the kernels a training step runs all exist on WebGPU, the
 * gradient signatures of the GPU check agree with a naive twin, and asking for WebGPU without an adapter
 * fails saying why while `auto` falls through (a stand-in Dawn with no adapter, or only a software one). Where Dawn finds an adapter (CI installs Mesa's software Vulkan driver, lavapipe), a
 * training step on WebGPU matches the wasm backend within the GPU check's tolerance, so do the embeddings that
 * evaluation ranks, and `auto` never picks a software adapter.
 */
import { strict as assert } from 'assert';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../lib/backend';
import { modelConfig } from '../lib/model/config';
import { Embedder } from '../lib/model/embedder';
import { missingWebgpuKernels, registerWebgpu, webgpuErrors, withDawn, type GpuAdapterLike } from '../lib/backend/webgpu';
import { train, trainConfig } from '../lib/train';
import { compareSignatures, gradSignature, parityCases, PROJECTIONS, stepSignature, type StepSignature } from '../bench/gpu-parity';
import { benchRecords, benchTokenizer } from '../bench/fixture';
import { Rng } from '../lib/random';
import { DEFAULT_LOSS } from '../lib/loss';
import { fullBatchStep } from '../lib/step';

function tinySetup(): { model: Embedder; cases: ReturnType<typeof parityCases> } {
  const records = benchRecords(3, 16, 3);
  const tokenizer = benchTokenizer(records);
  const config = modelConfig('tiny', { vocabSize: Math.max(tokenizer.vocabSize, 256), imageSize: 16, patchSize: 4 });
  const model = Embedder.create(config, tokenizer, 0);
  return { model, cases: parityCases(model, records) };
}

async function signatures(): Promise<Record<string, StepSignature>> {
  const { model, cases } = tinySetup();
  const out: Record<string, StepSignature> = {};
  for (const c of cases) out[c.name] = await stepSignature(model, c.packed);
  model.dispose();
  return out;
}

/** Is a WebGPU adapter (hardware or software) available here? */
async function webgpuAvailable(): Promise<boolean> {
  try {
    await registerWebgpu(true);
    return true;
  } catch {
    return false;
  }
}

describe('webgpu backend', function () {
  this.timeout(600_000);
  let previous = 'cpu';
  before(() => {
    previous = tf.getBackend() ?? 'cpu';
  });
  after(async () => {
    await initBackend({ backend: previous as 'cpu' | 'wasm' });
  });

  it('every kernel of a training step (single-turn and MuCo) exists on WebGPU', async () => {
    require('@tensorflow/tfjs-backend-webgpu'); // registers its kernels; needs no adapter
    const missing = new Set(missingWebgpuKernels());
    assert.ok(missing.size < 30, `implausibly many kernels missing: ${missing.size}`);
    await initBackend({ backend: 'cpu' });
    const { model, cases } = tinySetup();
    const used = new Set<string>();
    for (const c of cases) {
      const info = await tf.profile(async () => {
        const { grads } = await fullBatchStep(model, c.packed, { loss: DEFAULT_LOSS, chunkSize: null, maxLen: 512, seed: 1 });
        tf.dispose(Object.values(grads));
      });
      info.kernelNames.forEach((k) => used.add(k));
    }
    model.dispose();
    assert.ok(used.has('BatchMatMul') || used.has('_FusedMatMul'), 'the profile saw no matMul: profiling is broken');
    const absent = [...used].filter((k) => missing.has(k));
    assert.deepEqual(absent, [], `kernels used in training but missing on WebGPU: ${absent.join(', ')}`);
  });

  it('gradient signatures match a naive twin, and the comparison floors exactly-zero gradients', () => {
    const values = Float32Array.from({ length: 37 }, (_, i) => Math.sin(i) * (i % 5));
    const sig = gradSignature(values, 42);
    const rng = new Rng(42);
    const naive = new Array<number>(PROJECTIONS).fill(0);
    for (const v of values) for (let p = 0; p < PROJECTIONS; p++) naive[p] = (naive[p] as number) + (rng.next() < 0.5 ? -v : v);
    assert.deepEqual(
      sig.projections.map((x) => x.toFixed(9)),
      naive.map((x) => x.toFixed(9)),
    );
    assert.ok(Math.abs(sig.norm - Math.hypot(...values)) < 1e-9);
    // a big gradient agrees to 1e-6; a noise-level one (1e-12) differs by 100% but sits under the floor
    const big = gradSignature([1, 2, 3], 1);
    const bigOff = gradSignature([1, 2, 3.000001], 1);
    const noise = gradSignature([1e-12], 2);
    const noiseOff = gradSignature([2e-12], 2);
    const r = compareSignatures({ loss: 1, grads: { a: big, b: noise } }, { loss: 1.0000001, grads: { a: bigOff, b: noiseOff } });
    assert.ok(r.maxGradRelError < 1e-5 && r.maxNormRelError < 1e-5, JSON.stringify(r));
    const bad = compareSignatures({ loss: 1, grads: { a: big } }, { loss: 1, grads: { a: gradSignature([1, 2, 3.1], 1) } });
    assert.ok(bad.maxGradRelError > 1e-3, 'a 3% error must fail the tolerance');
    assert.throws(() => compareSignatures({ loss: 1, grads: { a: big } }, { loss: 1, grads: { c: big } }), /variables differ/);
  });

  it('asking for WebGPU without an adapter fails saying why; auto never picks a software adapter', async function () {
    if (await webgpuAvailable()) {
      const report = await initBackend({ backend: 'auto' });
      if (report.webgpu !== null) assert.equal(report.webgpu.fallback, false, 'auto chose a software adapter');
      return;
    }
    await assert.rejects(initBackend({ backend: 'webgpu' }), /Vulkan|adapter|Dawn/);
    const report = await initBackend({ backend: 'auto' });
    assert.notEqual(report.backend, 'webgpu');
  });

  it('with a Dawn that finds no adapter, or only a software one: webgpu says why, auto falls through (any machine)', async () => {
    const dawn = (adapter: GpuAdapterLike | null) => ({ create: () => ({ requestAdapter: async () => adapter }), globals: {} });
    const none = withDawn(dawn(null));
    try {
      await assert.rejects(initBackend({ backend: 'webgpu' }), /No WebGPU adapter: Dawn found no Vulkan device.*VK_DRIVER_FILES.*MUCO_BACKEND=wasm/s);
      const report = await initBackend({ backend: 'auto' });
      assert.notEqual(report.backend, 'webgpu');
      assert.ok(
        report.skipped.some((s) => /^webgpu: No WebGPU adapter/.test(s)),
        report.skipped.join(' | '),
      );
    } finally {
      none();
    }
    const software: GpuAdapterLike = {
      info: { vendor: 'mesa', description: 'llvmpipe (stand-in)', isFallbackAdapter: true },
      features: new Set<string>(),
      limits: {},
      requestDevice: async () => assert.fail('auto must not open a device on a software adapter'),
    };
    const soft = withDawn(dawn(software));
    try {
      const report = await initBackend({ backend: 'auto' });
      assert.notEqual(report.backend, 'webgpu');
      assert.ok(
        report.skipped.some((s) => /^webgpu: Only a software WebGPU adapter \(llvmpipe \(stand-in\)\)/.test(s)),
        report.skipped.join(' | '),
      );
    } finally {
      soft();
    }
  });

  it('a training step on WebGPU matches wasm (loss and gradients within 1e-3)', async function () {
    if (!(await webgpuAvailable())) {
      this.skip(); // no Vulkan driver here: CI installs lavapipe so this runs there (.ci/run)
    }
    await initBackend({ backend: 'wasm' }); // equals cpu within 1e-5 (test/backend.test.ts), 50x faster
    const ref = await signatures();
    const report = await initBackend({ backend: 'webgpu' });
    assert.equal(report.backend, 'webgpu');
    const before = tf.memory().numTensors;
    const got = await signatures();
    assert.equal(tf.memory().numTensors, before, 'the WebGPU step leaked tensors');
    for (const name of Object.keys(ref)) {
      const r = compareSignatures(ref[name] as StepSignature, got[name] as StepSignature);
      assert.ok(r.lossRelError <= 1e-3 && r.maxGradRelError <= 1e-3 && r.maxNormRelError <= 1e-3, `${name}: ${JSON.stringify(r)}`);
    }
    assert.deepEqual(webgpuErrors(), []);
  });

  it('three optimiser steps on WebGPU (clipping sums one term per variable) follow wasm, with no device errors', async function () {
    if (!(await webgpuAvailable())) this.skip();
    const losses = async (backend: 'wasm' | 'webgpu'): Promise<number[]> => {
      await initBackend({ backend });
      const records = benchRecords(6, 16, 5);
      const tokenizer = benchTokenizer(records);
      const config = modelConfig('tiny', { vocabSize: Math.max(tokenizer.vocabSize, 256), imageSize: 16, patchSize: 4 });
      const model = Embedder.create(config, tokenizer, 0);
      assert.ok(model.variables().length > 8, 'the check needs more variables than the default per-stage buffer limit');
      const c = trainConfig({ steps: 3, imagesPerStep: 3, packing: 'multi', turns: 3, chunkSize: null, clipNorm: 1, schedule: { lr: 1e-2, warmupSteps: 1 } });
      const summary = await train(model, { size: records.length, get: (i) => records[i]! }, c, { progress: 'none' });
      model.dispose();
      return summary.records.map((r) => r.loss);
    };
    const ref = await losses('wasm');
    const got = await losses('webgpu');
    assert.deepEqual(webgpuErrors(), []);
    got.forEach((l, i) => assert.ok(Math.abs(l - (ref[i] as number)) <= 1e-3 * Math.abs(ref[i] as number), `step ${i}: webgpu ${l} vs wasm ${ref[i]}`));
  });

  it('evaluation embeddings on WebGPU (text, image, image + text) match wasm, in batches that need padding, without leaks', async function () {
    if (!(await webgpuAvailable())) this.skip();
    const embed = async (backend: 'wasm' | 'webgpu'): Promise<Float32Array> => {
      await initBackend({ backend });
      const records = benchRecords(5, 16, 7);
      const tokenizer = benchTokenizer(records);
      const config = modelConfig('tiny', { vocabSize: Math.max(tokenizer.vocabSize, 256), imageSize: 16, patchSize: 4 });
      const model = Embedder.create(config, tokenizer, 3);
      model.inferenceBatchSize = 4; // two batches, the second partly filled
      const rng = new Rng(4);
      const image = (): Float32Array => Float32Array.from({ length: 16 * 16 * 3 }, () => rng.next());
      const inputs = [
        { text: 'a red square' },
        { image: image() },
        { text: 'what colour is it?', image: image() },
        { text: 'the flag of a country with a long name' },
        { text: 'which emoji is this?', image: image() },
        { image: image() },
      ];
      await model.embedInputs(inputs.slice(0, 1)); // compiles the kernels before the leak count
      const before = tf.memory().numTensors;
      const out = await model.embedInputs(inputs);
      assert.equal(tf.memory().numTensors, before, `${backend}: embedInputs leaked tensors`);
      model.dispose();
      return out;
    };
    const ref = await embed('wasm');
    const got = await embed('webgpu');
    assert.deepEqual(webgpuErrors(), []);
    const worst = Math.max(...Array.from(got, (v, i) => Math.abs(v - (ref[i] as number))));
    assert.ok(worst <= 1e-4, `largest difference ${worst} (embeddings are unit vectors)`);
  });
});
