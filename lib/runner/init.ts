/**
 * Where a run's weights start (docs/base-model.md): the committed base model of its preset, or scratch.
 *
 * `resolveInit` fills in the base's folder and the SHA-256 of its weights, so the saved config names exactly
 * which base a run started from (and a run is not reused across different bases); `initialModel` builds the
 * model: the base's weights and vocabulary, or a seeded fresh initialisation.
 */
import { createHash } from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { loadCheckpoint, readCheckpointMetadata } from '../model/checkpoint';
import type { ModelConfig } from '../model/config';
import { Embedder } from '../model/embedder';
import { Tokenizer } from '../tokenizer';
import type { RunConfig } from './config';

/** The base model folder a run starts from (`init.dir`, else `results/base/<preset>/model`). */
export function baseModelDir(cfg: Pick<RunConfig, 'init' | 'preset'>): string {
  return cfg.init.dir ?? path.join('results', 'base', cfg.preset, 'model');
}

/** SHA-256 (hex) of a base model's weights. */
export function baseWeightsHash(dir: string): string {
  return createHash('sha256')
    .update(fs.readFileSync(path.join(dir, 'weights.bin')))
    .digest('hex');
}

/** The run config with its base located and hashed (unchanged for `scratch`); errors say how to fix. */
export function resolveInit(cfg: RunConfig): RunConfig {
  if (cfg.init.from === 'scratch') return cfg;
  const dir = baseModelDir(cfg);
  if (!fs.existsSync(path.join(dir, 'model.json')) || !fs.existsSync(path.join(dir, 'weights.bin'))) {
    throw new Error(
      `Run ${cfg.experiment}/${cfg.run} starts from the base model (init.from=base), but ${path.join(dir, 'model.json')} or weights.bin is missing. ` +
        `Train it with \`npm run pretrain -- --preset ${cfg.preset}\`, point init.dir at one, or start from scratch with --set init.from=scratch.`,
    );
  }
  const meta = readCheckpointMetadata(dir);
  const diff = (Object.keys(cfg.model) as (keyof ModelConfig)[]).filter((k) => k !== 'vocabSize' && meta.modelConfig[k] !== cfg.model[k]);
  if (diff.length > 0) {
    throw new Error(
      `The base model ${dir} has another architecture than run ${cfg.experiment}/${cfg.run} asks for (${diff.map((k) => `model.${k}: base ${String(meta.modelConfig[k])} vs run ${String(cfg.model[k])}`).join('; ')}). ` +
        `Drop those --set model.* tweaks, pretrain a base with them (\`npm run pretrain -- --name NAME --set model.KEY=VALUE\`, then init.dir=results/base/NAME/model), or use --set init.from=scratch.`,
    );
  }
  const sha256 = baseWeightsHash(dir);
  if (cfg.init.sha256 !== null && cfg.init.sha256 !== sha256) {
    throw new Error(
      `The base model ${dir} has weights ${sha256.slice(0, 12)}…, not the ${cfg.init.sha256.slice(0, 12)}… this run was started from (init.sha256): restore that base, or re-run under another name.`,
    );
  }
  return { ...cfg, init: { from: 'base', dir, sha256 }, model: { ...cfg.model, vocabSize: meta.modelConfig.vocabSize } };
}

/** The run's vocabulary when it starts from a base (the base's), else null (the run builds its own). */
export function baseTokenizer(cfg: RunConfig): Tokenizer | null {
  return cfg.init.from === 'base' ? Tokenizer.load(path.join(baseModelDir(cfg), 'tokenizer.json')) : null;
}

/** The model a (resolved) run starts training from. */
export async function initialModel(cfg: RunConfig, tokenizer: Tokenizer): Promise<Embedder> {
  if (cfg.init.from === 'scratch') return Embedder.create(cfg.model, tokenizer, cfg.train.seed);
  const dir = baseModelDir(cfg);
  if (baseWeightsHash(dir) !== cfg.init.sha256)
    throw new Error(`The base model ${dir} changed since this run resolved it (weights hash differs); re-run the command.`);
  return (await loadCheckpoint(dir, { expectConfig: cfg.model, expectTokenizer: tokenizer })).embedder;
}
