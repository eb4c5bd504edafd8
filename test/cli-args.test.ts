import { strict as assert } from 'assert';
import { readArgs } from '../lib/cli-args';

describe('command-line arguments', () => {
  const spec = { '--scale': 'value', '--set': 'list', '--list': 'flag' } as const;
  const unknown = (a: string): string => `Unknown option ${a}.`;

  it('reads values (last wins), repeatable lists, flags and positional words', () => {
    const p = readArgs(['core', '--scale', 'quick', '--set', 'a=1', '--list', '--scale', 'full', '--set', 'b=2'], spec, { unknown, positional: true });
    assert.equal(p.values.get('--scale'), 'full');
    assert.deepEqual(p.lists.get('--set'), ['a=1', 'b=2']);
    assert.ok(p.flags.has('--list'));
    assert.deepEqual(p.positional, ['core']);
  });

  it('says which option lacks its value, and rejects unknown options and unexpected words', () => {
    assert.throws(() => readArgs(['--scale'], spec, { unknown }), /--scale needs a value/);
    assert.throws(() => readArgs(['--sacle', 'x'], spec, { unknown, positional: true }), /Unknown option --sacle/);
    assert.throws(() => readArgs(['core'], spec, { unknown }), /Unknown option core/);
  });
});
