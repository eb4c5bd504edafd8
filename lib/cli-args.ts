/**
 * The command lines' shared argument reader: `--name value` options, repeatable `--name value` lists,
 * `--flag` switches and positional words, in one pass. What each option means stays with its CLI.
 */
export type OptionKind = 'value' | 'list' | 'flag';

export interface ParsedArgs {
  /** The last value of each `value` option given. */
  values: Map<string, string>;
  /** Every value of each `list` option given, in order. */
  lists: Map<string, string[]>;
  flags: Set<string>;
  positional: string[];
}

/**
 * Read `argv` against `spec` (option name with its dashes → kind). An option without its value is an error;
 * an unknown option (or, with `positional: false`, any other word) is an error built by `unknown`.
 */
export function readArgs(
  argv: readonly string[],
  spec: Readonly<Record<string, OptionKind>>,
  options: { unknown: (arg: string) => string; positional?: boolean },
): ParsedArgs {
  const out: ParsedArgs = { values: new Map(), lists: new Map(), flags: new Set(), positional: [] };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    const kind = spec[a];
    if (kind === 'flag') {
      out.flags.add(a);
      continue;
    }
    if (kind === 'value' || kind === 'list') {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value.`);
      if (kind === 'value') out.values.set(a, v);
      else out.lists.set(a, [...(out.lists.get(a) ?? []), v]);
      continue;
    }
    if (a.startsWith('--') || options.positional !== true) throw new Error(options.unknown(a));
    out.positional.push(a);
  }
  return out;
}

/** `--seeds 0,1,2` as numbers (spaces allowed); null when the option was not given. */
export function parseSeeds(text: string | undefined): number[] | null {
  if (text === undefined) return null;
  const seeds = text.split(',').map((t) => t.trim());
  if (!seeds.every((t) => /^\d+$/.test(t)))
    throw new Error(`--seeds takes a comma-separated list of non-negative integers, e.g. --seeds 0,1,2; got "${text}".`);
  return seeds.map(Number);
}
