/**
 * Typed configs: each component exports its config type and its defaults; overrides are merged onto the
 * defaults by `resolveConfig`, which rejects unknown keys and wrong types with a message naming the key.
 * Experiments hold overrides only; the resolved config is saved with every result.
 */

/** A deep partial: what an override file may contain. */
export type Overrides<T> = { [K in keyof T]?: T[K] extends object ? (T[K] extends unknown[] ? T[K] : Overrides<T[K]>) : T[K] };

function kindOf(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  return typeof v;
}

/**
 * Merge `overrides` onto `defaults`, recursively for plain objects. Every key in `overrides` must exist in
 * `defaults` with a value of the same kind (number, string, boolean, array, object); a default of `null`
 * accepts any value. Returns a new object; neither input is changed.
 *
 * @param where a name for error messages, e.g. `model` or `experiment.train`.
 */
export function resolveConfig<T extends object>(defaults: T, overrides: Overrides<T> | undefined, where = 'config'): T {
  const out: Record<string, unknown> = { ...(defaults as Record<string, unknown>) };
  if (overrides === undefined) return out as T;
  if (kindOf(overrides) !== 'object') throw new Error(`${where}: overrides must be an object, got ${kindOf(overrides)}.`);
  for (const [key, value] of Object.entries(overrides as Record<string, unknown>)) {
    if (!(key in out)) {
      const known = Object.keys(defaults).sort().join(', ');
      throw new Error(`${where}.${key} is not a known setting. Known settings: ${known}.`);
    }
    if (value === undefined) continue;
    const base = out[key];
    const expected = kindOf(base);
    const got = kindOf(value);
    if (expected !== 'null' && got !== expected && !(expected === 'number' && got === 'null')) {
      throw new Error(`${where}.${key} must be a ${expected} (default ${JSON.stringify(base)}), got ${got} ${JSON.stringify(value)}.`);
    }
    out[key] = expected === 'object' ? resolveConfig(base as object, value as object, `${where}.${key}`) : value;
  }
  return out as T;
}

/**
 * Parse `key.path=value` assignments (from a CLI's `--set`) into a nested override object. Values are JSON
 * when they parse as JSON (numbers, booleans, arrays, quoted strings), else plain strings.
 */
export function parseAssignments(assignments: readonly string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const a of assignments) {
    const eq = a.indexOf('=');
    if (eq <= 0) throw new Error(`--set ${a}: expected key=value, e.g. --set train.steps=200.`);
    const keys = a.slice(0, eq).split('.');
    const raw = a.slice(eq + 1);
    let value: unknown;
    try {
      value = JSON.parse(raw);
    } catch {
      value = raw;
    }
    let node = out;
    keys.slice(0, -1).forEach((k) => {
      if (kindOf(node[k]) !== 'object') node[k] = {};
      node = node[k] as Record<string, unknown>;
    });
    node[keys[keys.length - 1] as string] = value;
  }
  return out;
}
