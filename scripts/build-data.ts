/**
 * `npm run data [-- options]`: build mini-M3T, its image cache and the mini benchmarks into data/.
 * Idempotent: a second run does nothing (and says so); a deleted file makes its step rebuild.
 *
 *   --limit N         keep at most N emoji concepts and N countries (quick look)
 *   --out DIR         output folder (default data)
 *   --image-size N    model input size to cache besides 32 and 64 px (default 32)
 *   --force           rebuild every step
 */
import { buildData, DataBuildConfig } from '../lib/data/build';

function parseArgs(argv: string[]): Partial<DataBuildConfig> {
  const out: Partial<DataBuildConfig> = {};
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const value = (): string => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${arg} needs a value.`);
      return v;
    };
    const int = (): number => {
      const v = Number(value());
      if (!Number.isInteger(v) || v <= 0) throw new Error(`${arg} needs a positive integer.`);
      return v;
    };
    switch (arg) {
      case '--limit':
        out.limit = int();
        break;
      case '--out':
        out.outDir = value();
        break;
      case '--image-size':
        out.imageSize = int();
        break;
      case '--force':
        out.force = true;
        break;
      default:
        throw new Error(`unknown option ${arg}; expected --limit N, --out DIR, --image-size N or --force.`);
    }
  }
  return out;
}

buildData(parseArgs(process.argv.slice(2))).catch((err: unknown) => {
  process.stderr.write(`npm run data failed: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
