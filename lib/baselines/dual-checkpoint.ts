/**
 * The dual encoder's weights on disk, in TensorFlow.js's artifact format (as lib/model/checkpoint.ts writes the
 * embedder's):
 *
 *   <dir>/model.json      weightsManifest + userDefinedMetadata {format, config, tokenizerFingerprint, extra}
 *   <dir>/weights.bin     every parameter, float32, in manifest order
 *   <dir>/tokenizer.json  the vocabulary
 *   (+ whatever `writeMore` adds: the trainer's optimizer state)
 *
 * Written into a sibling temporary folder that is renamed into place, so a crash never leaves half a checkpoint.
 */
import * as fs from 'fs';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { fileHandler, renameIntoPlace } from '../model/checkpoint';
import { Tokenizer } from '../tokenizer';
import { DualEncoder, DualEncoderConfig, dualEncoderConfig, dualParameterSpecs, DualParams } from './dual-encoder';

export const DUAL_CHECKPOINT_FORMAT = 'muco-ts/dual-encoder@1';

export interface DualCheckpointMetadata {
  format: string;
  config: DualEncoderConfig;
  tokenizerFingerprint: string;
  extra: Record<string, unknown>;
}

/** Save the model's weights (+ config, vocabulary, `extra`) to `dir` atomically. */
export async function saveDualEncoder(
  dir: string,
  model: DualEncoder,
  extra: Record<string, unknown> = {},
  writeMore?: (tmpDir: string) => void,
): Promise<void> {
  const target = path.resolve(dir);
  const tmp = `${target}.tmp-${process.pid}-${Date.now()}`;
  fs.mkdirSync(tmp, { recursive: true });
  try {
    const named: tf.NamedTensorMap = {};
    for (const [name, v] of model.params) named[name] = v;
    const { data, specs } = await tf.io.encodeWeights(named);
    const metadata: DualCheckpointMetadata = {
      format: DUAL_CHECKPOINT_FORMAT,
      config: model.config,
      tokenizerFingerprint: model.tokenizer.fingerprint(),
      extra,
    };
    await fileHandler(tmp).save({ weightSpecs: specs, weightData: data, userDefinedMetadata: metadata as unknown as Record<string, object> });
    model.tokenizer.save(path.join(tmp, 'tokenizer.json'));
    writeMore?.(tmp);
    renameIntoPlace(tmp, target);
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

/** A checkpoint's metadata, without the weights. */
export function readDualMetadata(dir: string): DualCheckpointMetadata {
  const file = path.join(dir, 'model.json');
  if (!fs.existsSync(file)) throw new Error(`No dual-encoder weights at ${dir}: ${file} is missing.`);
  const meta = (JSON.parse(fs.readFileSync(file, 'utf8')) as { userDefinedMetadata?: DualCheckpointMetadata }).userDefinedMetadata;
  if (meta === undefined || meta.format !== DUAL_CHECKPOINT_FORMAT) {
    throw new Error(`${file} is not a ${DUAL_CHECKPOINT_FORMAT} checkpoint (format ${String(meta?.format)}); MLLM checkpoints load with lib/model/checkpoint.`);
  }
  return meta;
}

/** Load a dual encoder saved by `saveDualEncoder`; the weights must fit the saved config exactly. */
export async function loadDualEncoder(dir: string): Promise<{ model: DualEncoder; metadata: DualCheckpointMetadata }> {
  const metadata = readDualMetadata(dir);
  const config = dualEncoderConfig(metadata.config);
  const tokenizer = Tokenizer.load(path.join(dir, 'tokenizer.json'));
  if (tokenizer.fingerprint() !== metadata.tokenizerFingerprint) {
    throw new Error(
      `${dir}: tokenizer.json does not match the vocabulary the weights were trained with (fingerprint ${tokenizer.fingerprint()} vs ${metadata.tokenizerFingerprint}).`,
    );
  }
  const artifacts = await fileHandler(dir).load();
  const tensors = tf.io.decodeWeights(artifacts.weightData as ArrayBuffer, artifacts.weightSpecs ?? []);
  const params: DualParams = new Map();
  for (const [name, t] of Object.entries(tensors)) {
    params.set(name, tf.variable(t, true, `dual-ckpt/${name}/${loadCounter++}`));
    t.dispose();
  }
  const problems: string[] = [];
  const specs = dualParameterSpecs(config);
  for (const spec of specs) {
    const p = params.get(spec.name);
    if (p === undefined) problems.push(`missing ${spec.name}`);
    else if (p.shape.join('x') !== spec.shape.join('x')) problems.push(`${spec.name} is [${p.shape.join(', ')}], expected [${spec.shape.join(', ')}]`);
  }
  const known = new Set(specs.map((s) => s.name));
  for (const name of params.keys()) if (!known.has(name)) problems.push(`unexpected ${name}`);
  if (problems.length > 0) {
    for (const v of params.values()) v.dispose();
    throw new Error(`${dir}: the weights do not fit the saved config: ${problems.slice(0, 5).join('; ')}${problems.length > 5 ? '; …' : ''}.`);
  }
  return { model: new DualEncoder(config, tokenizer, params), metadata };
}

let loadCounter = 0;

/** Copy a checkpoint's weights into an existing model (resume); config and vocabulary must match. */
export async function loadDualEncoderInto(dir: string, model: DualEncoder): Promise<Record<string, unknown>> {
  const { model: saved, metadata } = await loadDualEncoder(dir);
  try {
    if (JSON.stringify(saved.config) !== JSON.stringify(model.config) || saved.tokenizer.fingerprint() !== model.tokenizer.fingerprint()) {
      throw new Error(`${dir} was saved with another model config or vocabulary than this run's; delete the run folder to start over.`);
    }
    for (const [name, v] of model.params) v.assign(saved.params.get(name) as tf.Variable);
  } finally {
    saved.dispose();
  }
  return metadata.extra;
}
