/**
 * `npm run pretrain -- [--preset small] [--name NAME] [--set key.path=value ...] [--root results/base]
 *                      [--backend auto|wasm|cpu|tensorflow] [--stop-after N] [--reevaluate]`
 *
 * Trains the base model of a preset generatively (lib/pretrain, docs/base-model.md) into
 * results/base/<name>/ (name defaults to the preset). Resumable: rerun the same command after an interruption.
 * `--reevaluate` recomputes a finished base's held-out scores from its weights (after the evaluation changed).
 * `--set` takes keys under model., pretrain., data. and eval. (e.g. --set pretrain.steps=500).
 */
import { describeBackend, initBackend } from '../lib/backend';
import { parseAssignments } from '../lib/config';
import { buildData } from '../lib/data/build';
import { log } from '../lib/log';
import type { ModelPreset } from '../lib/model/config';
import { BaseRunOverrides, resolveBaseRun, runBase } from '../lib/pretrain/run';

async function main(argv: readonly string[]): Promise<void> {
  let preset: ModelPreset = 'small';
  let name: string | undefined;
  let root: string | undefined;
  let backend = 'auto';
  let stopAfter: number | undefined;
  let reevaluate = false;
  const sets: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    const value = (): string => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value.`);
      return v;
    };
    if (a === '--preset') preset = value() as ModelPreset;
    else if (a === '--name') name = value();
    else if (a === '--root') root = value();
    else if (a === '--set') sets.push(value());
    else if (a === '--backend') backend = value();
    else if (a === '--stop-after') stopAfter = Number(value());
    else if (a === '--reevaluate') reevaluate = true;
    else throw new Error(`Unknown argument ${a}; see the header of scripts/pretrain.ts.`);
  }
  const overrides = { preset, ...(parseAssignments(sets) as BaseRunOverrides) };
  const cfg = resolveBaseRun(overrides);
  const report = await initBackend({ backend: backend as never });
  log.info(`backend: ${describeBackend(report)}`);
  await buildData({ outDir: cfg.data.dir });
  const out = await runBase(cfg, { ...(name === undefined ? {} : { name }), ...(root === undefined ? {} : { root }), ...(stopAfter === undefined ? {} : { stopAfter }), reevaluate });
  log.info(out.skipped ? `${out.dir} is finished already` : `wrote ${out.dir}`);
  console.log(JSON.stringify(out.metrics.metrics, null, 1));
}

main(process.argv.slice(2)).catch((e: unknown) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});
