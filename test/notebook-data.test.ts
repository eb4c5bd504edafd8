import { strict as assert } from 'node:assert';
import { mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import { join, resolve } from 'path';
import { readMiniM3t } from '../lib/data/m3t';
import { SPLITS } from '../lib/data/splits';
import { LogLevel, logLevel, setLogLevel } from '../lib/log';
import { hasBuiltData, locateData, readDataCard, readTurnRecords, toImageRecord, turnRows } from '../lib/notebook/data';

const ROOT = resolve(__dirname, '..');

function countBy<T>(items: readonly T[], key: (x: T) => string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const x of items) out[key(x)] = (out[key(x)] ?? 0) + 1;
  return out;
}

describe('notebook-data (a SMOKE subset)', function () {
  this.timeout(60000);
  let tmp: string;
  let subset: string;
  let previousLevel: LogLevel;

  before(async () => {
    previousLevel = logLevel();
    if (previousLevel === 'debug' || previousLevel === 'info') setLogLevel('warn');
    tmp = mkdtempSync(join(tmpdir(), 'muco-nbdata-'));
    subset = join(tmp, 'subset');
    const loc = await locateData({ root: ROOT, dataDir: join(tmp, 'absent'), smoke: true, smokeLimit: 8, subsetDir: subset });
    assert.deepEqual(loc, { dir: subset, kind: 'subset', limit: 8 });
  });
  after(() => {
    setLogLevel(previousLevel);
    rmSync(tmp, { recursive: true, force: true });
  });

  it('builds a subset once and reuses it; an already built folder is used as is', async () => {
    assert.ok(hasBuiltData(subset));
    const card = statSync(join(subset, 'card.json')).mtimeMs;
    const again = await locateData({ root: ROOT, dataDir: join(tmp, 'absent'), smoke: true, smokeLimit: 8, subsetDir: subset });
    assert.equal(again.kind, 'subset');
    assert.equal(statSync(join(subset, 'card.json')).mtimeMs, card, 'an up-to-date subset is not rebuilt');
    assert.deepEqual(await locateData({ root: ROOT, dataDir: subset }), { dir: subset, kind: 'existing', limit: null });
  });

  it('knows an unbuilt folder and rejects unknown options', async () => {
    const partial = join(tmp, 'partial');
    mkdirSync(join(partial, 'm3t'), { recursive: true });
    writeFileSync(join(partial, 'm3t', 'manifest.json'), '{}');
    assert.equal(hasBuiltData(partial), false, 'no cache index, no card');
    await assert.rejects(locateData({ smokeLimt: 3 } as never), /unknown locateData option "smokeLimt"; expected one of root, dataDir/);
    await assert.rejects(locateData({ root: ROOT, dataDir: partial, smoke: true, smokeLimit: 0 }), /smokeLimit must be a positive integer, got 0/);
  });

  it('reads raw turn records whose per-turn counts agree with the data card', () => {
    const records = readTurnRecords(subset);
    const card = readDataCard(subset);
    assert.deepEqual(
      countBy(records, (r) => r.split),
      Object.fromEntries(SPLITS.map((s) => [s, card.records.images[s]]).filter(([, n]) => n !== 0)),
    );
    const rows = turnRows(records);
    assert.equal(
      rows.length,
      records.reduce((n, r) => n + r.kinds.length, 0),
    );
    assert.deepEqual(
      countBy(rows, (r) => r.kind),
      card.records.byTurnKind,
    );
    assert.deepEqual(
      countBy(rows, (r) => r.lang),
      card.records.byLanguage,
    );
    assert.deepEqual(
      countBy(rows, (r) => r.facet),
      card.records.byFacet,
    );
    assert.equal(card.limit, 8);
    assert.equal(readTurnRecords(subset, ['train'], 2).length, 2);
    assert.throws(() => readTurnRecords(subset, ['dev' as never]), /unknown split "dev"; expected one of train, validation, test, ood/);
    assert.throws(() => readDataCard(join(tmp, 'absent')), /no data card at .*absent.card\.json; run `npm run data`/);
  });

  it("turns a normalised record into the packers' ImageRecord", async () => {
    const { records } = await readMiniM3t(subset, 'train');
    const rec = records[0];
    assert.ok(rec !== undefined);
    const img = toImageRecord(rec);
    assert.equal(img.id, rec.id);
    assert.equal(img.image, rec.queryImagePath);
    assert.equal(img.caption, rec.querySentence);
    assert.deepEqual(
      img.pairs,
      rec.turns.map((t) => ({ query: t.query, target: t.target })),
    );
    const textOnly = toImageRecord({ ...rec, queryImagePath: '', querySentence: '' });
    assert.equal(textOnly.image, null);
    assert.equal('caption' in textOnly, false);
  });
});
