/**
 * `npm run pretrain -- [--preset small] [--name NAME] [--set key.path=value ...] [--root results/base]
 *                      [--backend auto|webgpu|wasm|cpu|tensorflow] [--stop-after N] [--reevaluate]`
 *
 * Trains the base model of a preset generatively (lib/pretrain, docs/base-model.md) into
 * results/base/<name>/ (name defaults to the preset). Resumable: rerun the same command after an interruption.
 * `--reevaluate` recomputes a finished base's held-out scores from its weights (after the evaluation changed).
 * `--set` takes keys under model., pretrain., data. and eval. (e.g. --set pretrain.steps=500).
 */
import { describeBackend, initBackend } from '../lib/backend';
import { readArgs } from '../lib/cli-args';
import { parseAssignments } from '../lib/config';
import { buildData } from '../lib/data/build';
import { log } from '../lib/log';
import type { ModelPreset } from '../lib/model/config';
import { BaseRunOverrides, resolveBaseRun, runBase } from '../lib/pretrain/run';

async function main(argv: readonly string[]): Promise<void> {
  const spec = {
    '--preset': 'value',
    '--name': 'value',
    '--root': 'value',
    '--set': 'list',
    '--backend': 'value',
    '--stop-after': 'value',
    '--reevaluate': 'flag',
  } as const;
  const p = readArgs(argv, spec, { unknown: (a) => `Unknown argument ${a}; see the header of scripts/pretrain.ts.` });
  const preset = (p.values.get('--preset') ?? 'small') as ModelPreset;
  const name = p.values.get('--name');
  const root = p.values.get('--root');
  const backend = p.values.get('--backend') ?? 'auto';
  const stop = p.values.get('--stop-after');
  const stopAfter = stop === undefined ? undefined : Number(stop);
  const reevaluate = p.flags.has('--reevaluate');
  const sets = p.lists.get('--set') ?? [];
  const overrides = { preset, ...(parseAssignments(sets) as BaseRunOverrides) };
  const cfg = resolveBaseRun(overrides);
  const report = await initBackend({ backend: backend as never });
  log.info(`backend: ${describeBackend(report)}`);
  await buildData({ outDir: cfg.data.dir });
  const out = await runBase(cfg, {
    ...(name === undefined ? {} : { name }),
    ...(root === undefined ? {} : { root }),
    ...(stopAfter === undefined ? {} : { stopAfter }),
    reevaluate,
  });
  log.info(out.skipped ? `${out.dir} is finished already` : `wrote ${out.dir}`);
  console.log(JSON.stringify(out.metrics.metrics, null, 1));
}

main(process.argv.slice(2)).catch((e: unknown) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});
