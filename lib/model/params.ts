/**
 * The embedder's parameters: one flat, named map of tf.Variables (names like `lm.3.wq`), created from a
 * seed so a model is a pure function of (config, seed), identically on every backend.
 *
 * Initialisation (GPT-2 / nanoGPT style): weights N(0, 0.02²); the projections that write into the residual
 * stream (attention output, second MLP layer) N(0, (0.02/√(2L))²); norm gains 1; biases 0.
 */
import * as tf from '@tensorflow/tfjs';
import { seededTensor } from '../backend';
import { Rng } from '../random';
import { ModelConfig, patchCount, patchValues, stemChannels } from './config';

export type Params = Map<string, tf.Variable>;

type Init = { kind: 'normal'; std: number } | { kind: 'ones' } | { kind: 'zeros' };

/** Every parameter's name, shape and initialiser, in a fixed order. */
export function parameterSpecs(c: ModelConfig): { name: string; shape: number[]; init: Init }[] {
  const specs: { name: string; shape: number[]; init: Init }[] = [];
  const add = (name: string, shape: number[], init: Init): void => {
    specs.push({ name, shape, init });
  };
  const w = (std = 0.02): Init => ({ kind: 'normal', std });
  const ones: Init = { kind: 'ones' };
  const zeros: Init = { kind: 'zeros' };
  const v = c.visionDim;
  const vOut = 0.02 / Math.sqrt(2 * Math.max(1, c.visionLayers));
  if (c.visionStem === 'conv') {
    // He initialisation: the stem feeds GELUs, not a normalised residual stream.
    const c1 = stemChannels(c);
    add('vision.stem1.w', [27, c1], w(Math.sqrt(2 / 27)));
    add('vision.stem1.b', [c1], zeros);
    add('vision.stem2.w', [9 * c1, v], w(Math.sqrt(2 / (9 * c1))));
    add('vision.stem2.b', [v], zeros);
  } else {
    add('vision.patch.w', [patchValues(c), v], w());
    add('vision.patch.b', [v], zeros);
  }
  add('vision.pos', [patchCount(c), v], w());
  for (let l = 0; l < c.visionLayers; l++) {
    const p = `vision.${l}.`;
    add(p + 'ln1.g', [v], ones);
    add(p + 'ln1.b', [v], zeros);
    for (const n of ['wq', 'wk', 'wv']) add(p + n, [v, v], w());
    add(p + 'wo', [v, v], w(vOut));
    for (const n of ['bq', 'bk', 'bv', 'bo']) add(p + n, [v], zeros);
    add(p + 'ln2.g', [v], ones);
    add(p + 'ln2.b', [v], zeros);
    add(p + 'fc1.w', [v, c.visionMlpDim], w());
    add(p + 'fc1.b', [c.visionMlpDim], zeros);
    add(p + 'fc2.w', [c.visionMlpDim, v], w(vOut));
    add(p + 'fc2.b', [v], zeros);
  }
  add('merger.ln.g', [v], ones);
  add('merger.ln.b', [v], zeros);
  add('merger.fc1.w', [4 * v, 4 * v], w());
  add('merger.fc1.b', [4 * v], zeros);
  add('merger.fc2.w', [4 * v, c.dim], w());
  add('merger.fc2.b', [c.dim], zeros);
  const d = c.dim;
  const out = 0.02 / Math.sqrt(2 * c.layers);
  add('lm.embed', [c.vocabSize, d], w());
  for (let l = 0; l < c.layers; l++) {
    const p = `lm.${l}.`;
    add(p + 'attnNorm', [d], ones);
    for (const n of ['wq', 'wk', 'wv']) add(p + n, [d, d], w());
    add(p + 'wo', [d, d], w(out));
    add(p + 'mlpNorm', [d], ones);
    add(p + 'w1', [d, c.mlpDim], w());
    add(p + 'w3', [d, c.mlpDim], w());
    add(p + 'w2', [c.mlpDim, d], w(out));
  }
  add('lm.norm', [d], ones);
  return specs;
}

/** Create the parameters from a seed (each tensor from its own named sub-stream, so adding one changes no other). */
export function initParams(c: ModelConfig, seed: number): Params {
  const params: Params = new Map();
  const root = new Rng(seed);
  for (const spec of parameterSpecs(c)) {
    const rng = new Rng(root.getState() ^ hash(spec.name));
    const value = spec.init.kind === 'normal' ? seededTensor(spec.shape, rng, 'normal', spec.init.std) : seededTensor(spec.shape, rng, spec.init.kind);
    params.set(spec.name, tf.variable(value, true, `${seed}/${spec.name}/${variableCounter++}`));
    value.dispose();
  }
  return params;
}

let variableCounter = 0;

function hash(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193) >>> 0;
  return h;
}

/** The parameter called `name`, or an error naming it. */
export function param(params: Params, name: string): tf.Variable {
  const p = params.get(name);
  if (p === undefined) throw new Error(`Model parameter '${name}' is missing (checkpoint from another config?).`);
  return p;
}

export function disposeParams(params: Params): void {
  for (const v of params.values()) v.dispose();
  params.clear();
}
