/**
 * Checkpoints in TensorFlow.js's standard artifact format, written by a `tf.io.IOHandler` for Node files:
 *
 *   <dir>/model.json      tfjs model artifacts JSON (weightsManifest) + our `userDefinedMetadata`:
 *                         {format, modelConfig, tokenizerFingerprint, extra}
 *   <dir>/weights.bin     all weights, float32, in manifest order
 *   <dir>/tokenizer.json  the vocabulary (lib/tokenizer)
 *
 * Writes are atomic: everything goes into a sibling temporary folder that is renamed into place, so a crash
 * never leaves a half-written checkpoint. Loading checks the config and the vocabulary and says what differs.
 */
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { Tokenizer } from '../tokenizer';
import { ModelConfig, validateModelConfig } from './config';
import { Embedder } from './embedder';
import { Params, parameterSpecs } from './params';

export const CHECKPOINT_FORMAT = 'muco-ts/embedder@1';

export interface CheckpointMetadata {
  format: string;
  modelConfig: ModelConfig;
  tokenizerFingerprint: string;
  /** Anything the caller wants to keep with the weights (e.g. the training step). */
  extra: Record<string, unknown>;
}

/** Size and SHA-256 of a binary file's content, recorded at save time and checked at load time. */
export interface Integrity {
  bytes: number;
  sha256: string;
}

export function integrityOf(data: Uint8Array): Integrity {
  return { bytes: data.byteLength, sha256: crypto.createHash('sha256').update(data).digest('hex') };
}

/** Parse a JSON file, naming it when it is not valid JSON (a truncated write, an edit gone wrong). */
export function readJsonFile<T>(file: string): T {
  const text = fs.readFileSync(file, 'utf8');
  try {
    return JSON.parse(text) as T;
  } catch (err) {
    throw new Error(`${file} is not valid JSON (${(err as Error).message}; ${text.length} bytes): the file is damaged.`);
  }
}

/** Bytes the weight specs need (float32 and int32: 4 per value). */
export function specBytes(specs: readonly tf.io.WeightsManifestEntry[]): number {
  return specs.reduce((sum, s) => {
    if (s.dtype !== 'float32' && s.dtype !== 'int32')
      throw new Error(`Weight ${s.name} has dtype ${String(s.dtype)}: checkpoints hold float32 and int32 only.`);
    return sum + 4 * s.shape.reduce((a, b) => a * b, 1);
  }, 0);
}

/**
 * Check a binary file against the bytes its specs need and, when recorded, its content hash. A truncated,
 * over-long or altered file is an error that names it.
 */
export function checkBinary(file: string, data: Uint8Array, specs: readonly tf.io.WeightsManifestEntry[], recorded?: Integrity): void {
  const need = specBytes(specs);
  if (data.byteLength !== need) {
    throw new Error(
      `${file} holds ${data.byteLength} bytes but its manifest needs ${need} (${data.byteLength < need ? 'truncated' : 'over-long'}): the file is damaged.`,
    );
  }
  if (recorded !== undefined) {
    const got = integrityOf(data);
    if (got.sha256 !== recorded.sha256)
      throw new Error(
        `${file} does not match the SHA-256 recorded when it was saved (${got.sha256.slice(0, 12)}… vs ${recorded.sha256.slice(0, 12)}…): the file is damaged.`,
      );
  }
}

/** A tf.io handler that saves artifacts to, and loads them from, a folder on disk. */
export function fileHandler(dir: string): Required<Pick<tf.io.IOHandler, 'save' | 'load'>> {
  return {
    async save(artifacts: tf.io.ModelArtifacts): Promise<tf.io.SaveResult> {
      if (!(artifacts.weightData instanceof ArrayBuffer) || artifacts.weightSpecs === undefined) {
        throw new Error('fileHandler.save needs weightSpecs and a single ArrayBuffer of weightData.');
      }
      const weights = new Uint8Array(artifacts.weightData);
      const modelJson = {
        format: 'muco-ts',
        generatedBy: `tfjs ${tf.version.tfjs}`,
        weightsManifest: [{ paths: ['weights.bin'], weights: artifacts.weightSpecs }],
        weightsIntegrity: integrityOf(weights),
        userDefinedMetadata: artifacts.userDefinedMetadata ?? {},
      };
      fs.writeFileSync(path.join(dir, 'weights.bin'), weights);
      fs.writeFileSync(path.join(dir, 'model.json'), JSON.stringify(modelJson, null, 1));
      return { modelArtifactsInfo: tf.io.getModelArtifactsInfoForJSON(artifacts) };
    },
    async load(): Promise<tf.io.ModelArtifacts> {
      const file = path.join(dir, 'model.json');
      if (!fs.existsSync(file)) throw new Error(`No checkpoint at ${dir}: ${file} is missing.`);
      const json = readJsonFile<{
        weightsManifest: { paths: string[]; weights: tf.io.WeightsManifestEntry[] }[];
        weightsIntegrity?: Integrity;
        userDefinedMetadata: Record<string, unknown>;
      }>(file);
      const group = json.weightsManifest?.[0];
      if (group === undefined) throw new Error(`${file} has an empty weightsManifest.`);
      const buffers = group.paths.map((p) => fs.readFileSync(path.join(dir, p)));
      const data = Buffer.concat(buffers);
      // Checkpoints written before the integrity record are checked for size only.
      checkBinary(path.join(dir, group.paths.join('+')), data, group.weights, json.weightsIntegrity);
      return {
        weightSpecs: group.weights,
        weightData: data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength),
        userDefinedMetadata: json.userDefinedMetadata as Record<string, object>,
      };
    },
  };
}

/** Write `params` (+ config, vocabulary, extra metadata) to `dir` atomically, replacing an older checkpoint there. */
export async function saveCheckpoint(
  dir: string,
  config: ModelConfig,
  tokenizer: Tokenizer,
  params: Params,
  extra: Record<string, unknown> = {},
  /** Writes more files into the checkpoint's temporary folder before it is renamed into place. */
  writeMore?: (tmpDir: string) => void,
): Promise<void> {
  const target = path.resolve(dir);
  const tmp = `${target}.tmp-${process.pid}-${Date.now()}`;
  fs.mkdirSync(tmp, { recursive: true });
  const named: tf.NamedTensorMap = {};
  for (const [name, v] of params) named[name] = v;
  const { data, specs } = await tf.io.encodeWeights(named);
  const metadata: CheckpointMetadata = { format: CHECKPOINT_FORMAT, modelConfig: config, tokenizerFingerprint: tokenizer.fingerprint(), extra };
  await fileHandler(tmp).save({ weightSpecs: specs, weightData: data, userDefinedMetadata: metadata as unknown as Record<string, object> });
  tokenizer.save(path.join(tmp, 'tokenizer.json'));
  writeMore?.(tmp);
  renameIntoPlace(tmp, target);
}

/** Replace folder `target` by the finished folder `tmp` (rename; an older target is moved aside first, then removed). */
export function renameIntoPlace(tmp: string, target: string): void {
  if (fs.existsSync(target)) {
    const old = `${target}.old-${process.pid}-${Date.now()}`;
    fs.renameSync(target, old);
    fs.renameSync(tmp, target);
    fs.rmSync(old, { recursive: true, force: true });
  } else {
    fs.mkdirSync(path.dirname(target), { recursive: true });
    fs.renameSync(tmp, target);
  }
}

export interface LoadOptions {
  /** When given, the checkpoint's config must equal it (else an error lists the differing keys). */
  expectConfig?: ModelConfig;
  /** When given, the checkpoint's vocabulary must match this tokenizer. */
  expectTokenizer?: Tokenizer;
}

/** Read a checkpoint's metadata without loading weights. */
export function readCheckpointMetadata(dir: string): CheckpointMetadata {
  const file = path.join(dir, 'model.json');
  if (!fs.existsSync(file)) throw new Error(`No checkpoint at ${dir}: ${file} is missing.`);
  const meta = readJsonFile<{ userDefinedMetadata?: CheckpointMetadata }>(file).userDefinedMetadata;
  if (meta === undefined || meta.format !== CHECKPOINT_FORMAT) {
    throw new Error(`${file} is not a ${CHECKPOINT_FORMAT} checkpoint (format ${String(meta?.format)}).`);
  }
  // Checkpoints written before a config key existed hold the value that was built in then.
  return { ...meta, modelConfig: { ...LEGACY_CONFIG_DEFAULTS, ...meta.modelConfig } };
}

/** Model config keys added after checkpoints were first written, with the behaviour those checkpoints have. */
const LEGACY_CONFIG_DEFAULTS: Partial<ModelConfig> = { visionStem: 'patch' };

function configDiff(a: ModelConfig, b: ModelConfig): string[] {
  return (Object.keys(a) as (keyof ModelConfig)[]).filter((k) => a[k] !== b[k]).map((k) => `${k}: checkpoint ${a[k]} vs expected ${b[k]}`);
}

/** Load an embedder (weights, config, vocabulary) from `dir`, checking it against what the caller expects. */
export async function loadCheckpoint(dir: string, options: LoadOptions = {}): Promise<{ embedder: Embedder; metadata: CheckpointMetadata }> {
  const metadata = readCheckpointMetadata(dir);
  validateModelConfig(metadata.modelConfig);
  if (options.expectConfig !== undefined) {
    const diff = configDiff(metadata.modelConfig, options.expectConfig);
    if (diff.length > 0) throw new Error(`Checkpoint ${dir} was saved with another model config (${diff.join('; ')}).`);
  }
  const tokenizer = Tokenizer.load(path.join(dir, 'tokenizer.json'));
  if (tokenizer.fingerprint() !== metadata.tokenizerFingerprint) {
    throw new Error(`Checkpoint ${dir}: tokenizer.json does not match the vocabulary the weights were trained with.`);
  }
  if (options.expectTokenizer !== undefined && options.expectTokenizer.fingerprint() !== tokenizer.fingerprint()) {
    throw new Error(
      `Checkpoint ${dir} was trained with another vocabulary (fingerprint ${tokenizer.fingerprint()} vs ${options.expectTokenizer.fingerprint()}).`,
    );
  }
  const artifacts = await fileHandler(dir).load();
  const tensors = tf.io.decodeWeights(artifacts.weightData as ArrayBuffer, artifacts.weightSpecs ?? []);
  const params: Params = new Map();
  for (const [name, t] of Object.entries(tensors)) {
    params.set(name, tf.variable(t, true, `ckpt/${name}/${loadCounter++}`));
    t.dispose();
  }
  checkParams(dir, metadata.modelConfig, params);
  return { embedder: new Embedder(metadata.modelConfig, tokenizer, params), metadata };
}

let loadCounter = 0;

function checkParams(dir: string, config: ModelConfig, params: Params): void {
  const problems: string[] = [];
  for (const spec of parameterSpecs(config)) {
    const p = params.get(spec.name);
    if (p === undefined) problems.push(`missing ${spec.name}`);
    else if (p.shape.join('x') !== spec.shape.join('x')) problems.push(`${spec.name} is [${p.shape}], expected [${spec.shape}]`);
  }
  const known = new Set(parameterSpecs(config).map((s) => s.name));
  for (const name of params.keys()) if (!known.has(name)) problems.push(`unexpected ${name}`);
  if (problems.length > 0) {
    for (const v of params.values()) v.dispose();
    throw new Error(`Checkpoint ${dir} does not fit its model config: ${problems.slice(0, 5).join('; ')}${problems.length > 5 ? '; …' : ''}.`);
  }
}

/**
 * Load a checkpoint's weights into an existing model's variables (resume): the checkpoint must have the
 * model's config and vocabulary.
 */
export async function loadCheckpointInto(dir: string, model: Embedder): Promise<void> {
  const { embedder } = await loadCheckpoint(dir, { expectConfig: model.config, expectTokenizer: model.tokenizer });
  for (const [name, v] of model.params) v.assign(embedder.params.get(name) as tf.Variable);
  embedder.dispose();
}

/** The `Encoder` of a checkpoint folder (what `npm run eval -- --checkpoint <dir>` uses). */
export async function loadEncoder(dir: string): Promise<Embedder> {
  return (await loadCheckpoint(dir)).embedder;
}

// ---------------------------------------------------------------------------------------------------------
// Finding a run's weights: the one place that knows the layout of <run>/checkpoints/ and <run>/model/.

const STEP_DIR = /^step-(\d{6,})$/;

/**
 * A run's complete checkpoints, oldest first: `checkpoints/step-NNNNNN` folders holding model.json and
 * trainer.json (both written before the folder is renamed into place, so a folder without them is a leftover).
 */
export function checkpointDirs(runDir: string): { step: number; dir: string }[] {
  const root = path.join(runDir, 'checkpoints');
  if (!fs.existsSync(root)) return [];
  return fs
    .readdirSync(root)
    .map((name) => ({ m: STEP_DIR.exec(name), dir: path.join(root, name) }))
    .filter((x) => x.m !== null && fs.existsSync(path.join(x.dir, 'model.json')) && fs.existsSync(path.join(x.dir, 'trainer.json')))
    .map((x) => ({ step: Number((x.m as RegExpExecArray)[1]), dir: x.dir }))
    .sort((a, b) => a.step - b.step);
}

/** The newest complete checkpoint folder of a run, or null. */
export function latestCheckpoint(runDir: string): string | null {
  return checkpointDirs(runDir).at(-1)?.dir ?? null;
}

/** The weights a run left: its newest checkpoint, else its exported `model/`; null when it has neither. */
export function finalWeights(runDir: string): string | null {
  const ckpt = latestCheckpoint(runDir);
  if (ckpt !== null) return ckpt;
  const exported = path.join(runDir, 'model');
  return fs.existsSync(path.join(exported, 'model.json')) ? exported : null;
}
