import { strict as assert } from 'assert';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import { basename, join, resolve } from 'path';
import { buildData, DataBuildConfig } from '../lib/data/build';
import { readCacheIndex } from '../lib/data/cache';
import { hasInformationGap } from '../lib/data/gap';
import { readMiniM3t, readTrainingRecords } from '../lib/data/m3t';
import { chooseInstruction, discoverMbeir, readInstructions, readMbeirQueries } from '../lib/eval/mbeir-format';
import { checkMmebImages, discoverMmeb, readMmebFile } from '../lib/eval/mmeb-format';
import { PairRecord, TurnRecord } from '../lib/data/records';
import { defaultSourcePaths, loadConcepts } from '../lib/data/sources';
import { familySplit, SPLIT_DEFAULTS, SPLITS } from '../lib/data/splits';
import { LogLevel, logLevel, setLogLevel } from '../lib/log';

const ROOT = resolve(__dirname, '..');
const LIMIT = 60;

function readJsonl<T>(file: string): T[] {
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as T);
}

describe('npm run data (a limited build)', function () {
  this.timeout(120000);
  let out: string;
  let cfg: Partial<DataBuildConfig>;
  let turns: TurnRecord[];
  let pairs: PairRecord[];
  let conceptOfImage: Map<string, string>;
  let previousLevel: LogLevel;

  before(async () => {
    previousLevel = logLevel();
    if (previousLevel === 'debug' || previousLevel === 'info') setLogLevel('warn');
    out = mkdtempSync(join(tmpdir(), 'muco-data-'));
    cfg = { root: ROOT, outDir: out, limit: LIMIT, miniMmeb: { maxQueries: 25, maxCandidates: 30 }, miniMbeir: { maxQueries: 25 } };
    const result = await buildData(cfg);
    assert.deepEqual(result.ran, ['cache', 'records', 'mini-mmeb', 'mini-mbeir', 'card']);
    turns = SPLITS.flatMap((s) => readJsonl<TurnRecord>(join(out, 'm3t', `${s}.jsonl`)));
    pairs = SPLITS.flatMap((s) => readJsonl<PairRecord>(join(out, 'm3t', `${s}-pairs.jsonl`)));
    conceptOfImage = new Map(readCacheIndex(join(out, 'cache')).entries.map((e) => [e.id.replace('/', '-'), e.conceptId]));
  });
  after(() => {
    setLogLevel(previousLevel);
    rmSync(out, { recursive: true, force: true });
  });

  it('puts every concept and family in one split; the held-out style only in ood', () => {
    assert.ok(turns.length > 300 && pairs.length > 50, `${turns.length} turn records, ${pairs.length} pairs`);
    const splitsOf = new Map<string, Set<string>>();
    const add = (key: string, split: string): void => {
      splitsOf.set(key, (splitsOf.get(key) ?? new Set()).add(split));
    };
    for (const r of turns) {
      if (r.style === 'openmoji') {
        assert.equal(r.split, 'ood', `${r.id} is held-out style`);
        continue;
      }
      assert.notEqual(r.split, 'ood', `${r.id}: only the held-out style is OOD`);
      assert.equal(r.split, familySplit(r.family, SPLIT_DEFAULTS));
      add(`concept:${r.concept}`, r.split);
      add(`family:${r.family}`, r.split);
    }
    for (const p of pairs) {
      if (p.split === 'ood') {
        assert.ok(p.style === 'openmoji', `${p.id}: an OOD pair starts from a held-out-style image`);
        continue;
      }
      assert.ok(p.style !== 'openmoji' && p.targetStyle !== 'openmoji', p.id);
      add(`concept:${p.concept}`, p.split);
      add(`concept:${p.targetConcept}`, p.split);
    }
    const crossing = [...splitsOf.entries()].filter(([, s]) => s.size > 1);
    assert.deepEqual(crossing, [], 'no concept or family crosses train/validation/test');
    const used = new Set([...splitsOf.values()].flatMap((s) => [...s]));
    assert.ok(used.has('train') && used.has('test'), `splits present: ${[...used]}`);
  });

  it('keeps the information gap in every turn and writes M3T-shaped records', () => {
    for (const r of turns) {
      assert.equal(r.qry.length, r.pos_text.length);
      assert.equal(r.kinds.length, r.qry.length);
      assert.ok(r.kinds.length >= 6, `${r.id} has ${r.kinds.length} turns`);
      r.qry.forEach((q, k) => {
        for (const phrasing of typeof q === 'string' ? [q] : q)
          assert.ok(hasInformationGap(phrasing, r.pos_text[k] as string), `${r.id} turn ${k}: "${phrasing}"`);
      });
      assert.equal(r.kinds[r.kinds.length - 1], 'retrieval');
      assert.equal(r.pos_text[r.pos_text.length - 1], r.qry_sentence, 'the retrieval target is the dense description');
    }
    assert.ok(pairs.some((p) => p.kinds[0] === 'edit_skin_tone') && pairs.some((p) => p.kinds[0] === 'cross_style'));
  });

  it('the readers and the loader helper read the built records with their images', async () => {
    const train = await readMiniM3t(out, 'train', 'both');
    assert.equal(train.imageRoot, ROOT);
    assert.equal(train.records.length, turns.filter((r) => r.split === 'train').length + pairs.filter((p) => p.split === 'train').length);
    const checked = await readTrainingRecords(join(out, 'm3t', 'test-pairs.jsonl'), { imageRoot: ROOT, checkImages: true });
    assert.ok(checked.every((r) => r.targetImagePath !== '' && r.turns.length === 1));
  });

  it('mini-MMEB: MMEB columns, positive first, existing images, test concepts only', async () => {
    const manifest = JSON.parse(readFileSync(join(out, 'mini-mmeb', 'manifest.json'), 'utf8')) as {
      datasets: { name: string; metaTask: string; distribution: string; file: string; numCandidates: number }[];
    };
    assert.ok(manifest.datasets.length >= 12, `${manifest.datasets.length} data sets`);
    assert.ok(manifest.datasets.filter((d) => d.distribution === 'OOD').length >= 3);
    assert.deepEqual([...new Set(manifest.datasets.map((d) => d.metaTask))].sort(), ['CLS', 'RET', 'VG', 'VQA']);
    const testConcepts = new Set(turns.filter((r) => r.split === 'test').map((r) => r.concept));
    let positivesChecked = 0;
    const labelOf = new Map(turns.filter((r) => r.facets.includes('name')).map((r) => [r.concept, r.pos_text[r.facets.indexOf('name')]]));
    for (const d of manifest.datasets) {
      const rows = readJsonl<{ qry_text: string; qry_img_path: string; tgt_text: string[]; tgt_img_path: string[] }>(join(out, 'mini-mmeb', d.file));
      for (const row of rows) {
        assert.equal(row.tgt_text.length, row.tgt_img_path.length, d.name);
        assert.ok(row.tgt_text.length >= 2 && (d.metaTask === 'CLS' || row.tgt_text.length <= 30), `${d.name}: ${row.tgt_text.length} candidates`);
        for (const p of [row.qry_img_path, ...row.tgt_img_path].filter((x) => x !== '')) {
          assert.ok(existsSync(join(out, 'mini-mmeb', p)), `${d.name}: ${p} exists`);
          const concept = p.includes('/grid/') ? undefined : conceptOfImage.get(basename(p, '.png'));
          if (concept !== undefined) assert.ok(testConcepts.has(concept), `${d.name}: ${p} is a test concept`);
        }
        if (d.name === 'EmojiName' && labelOf.has(conceptOfImage.get(basename(row.qry_img_path, '.png')) ?? '')) {
          assert.equal(row.tgt_text[0], labelOf.get(conceptOfImage.get(basename(row.qry_img_path, '.png')) as string), 'the positive is at index 0');
          positivesChecked++;
        }
      }
    }
    assert.ok(positivesChecked > 0, 'some EmojiName rows were checked');
    // The eval engineer's reader accepts the layout.
    for (const entry of discoverMmeb(join(out, 'mini-mmeb'))) checkMmebImages(await readMmebFile(entry.file), entry.imageRoot, entry.name);
  });

  it('mini-M-BEIR: M-BEIR layout, qrels agree with queries, positives in the local pool', async () => {
    const root = join(out, 'mini-mbeir');
    const queryFiles = readdirSync(join(root, 'query', 'test'));
    const taskIds = new Set<number>();
    for (const qf of queryFiles) {
      const name = qf.replace(/^mbeir_/, '').replace(/_test\.jsonl$/, '');
      const queries = readJsonl<{ qid: string; query_modality: string; pos_cand_list: string[]; task_id: number; query_img_path: string | null }>(
        join(root, 'query', 'test', qf),
      );
      const pool = new Set(readJsonl<{ did: string; modality: string }>(join(root, 'cand_pool', 'local', `mbeir_${name}_cand_pool.jsonl`)).map((c) => c.did));
      const qrels = readFileSync(join(root, 'qrels', 'test', `mbeir_${name}_test_qrels.txt`), 'utf8')
        .trim()
        .split('\n')
        .map((l) => l.split(' '));
      assert.ok(
        qrels.every((c) => c.length === 5 && c[1] === '0' && c[3] === '1'),
        `${name}: 5-column qrels`,
      );
      for (const q of queries) {
        taskIds.add(q.task_id);
        assert.match(q.qid, /^1\d:\d+$/);
        assert.ok(q.pos_cand_list.length > 0 && q.pos_cand_list.every((d) => pool.has(d)), `${name} ${q.qid}`);
        assert.deepEqual(
          qrels
            .filter((c) => c[0] === q.qid)
            .map((c) => c[2])
            .sort(),
          [...q.pos_cand_list].sort(),
        );
        if (q.query_img_path !== null) assert.ok(existsSync(join(root, q.query_img_path)), q.query_img_path);
      }
    }
    assert.ok(taskIds.size >= 4, `task types: ${[...taskIds]}`);
    // Every local pool's candidates are distinct (the builder checks it too): a perfect model can score 100.
    for (const qf of queryFiles) {
      const name = qf.replace(/^mbeir_/, '').replace(/_test\.jsonl$/, '');
      const rows = readJsonl<{ txt: string | null; img_path: string | null }>(join(root, 'cand_pool', 'local', `mbeir_${name}_cand_pool.jsonl`));
      assert.equal(new Set(rows.map((c) => `${c.txt}|${c.img_path}`)).size, rows.length, `${name}: identical candidates`);
    }
    const testConcepts = new Set(turns.filter((r) => r.split === 'test').map((r) => r.concept));
    for (const c of readJsonl<{ img_path: string | null }>(join(root, 'cand_pool', 'global', 'mbeir_union_test_cand_pool.jsonl'))) {
      const concept = c.img_path === null ? undefined : conceptOfImage.get(basename(c.img_path, '.png'));
      if (concept !== undefined) assert.ok(testConcepts.has(concept), `${c.img_path} is a test concept`);
    }
    const tsv = readFileSync(join(root, 'instructions', 'query_instructions.tsv'), 'utf8')
      .trim()
      .split('\n');
    assert.equal(tsv[0]?.split('\t').slice(0, 4).join(','), 'query_modality,cand_modality,dataset,dataset_id');
    const layout = discoverMbeir(root);
    const instructions = readInstructions(layout.instructionsFile as string);
    for (const t of layout.tasks) for (const q of readMbeirQueries(t.queryFile)) assert.ok(chooseInstruction(instructions, q, 'first'));
  });

  it('a second run does nothing; a deleted file is rebuilt identically by its step alone', async () => {
    assert.deepEqual((await buildData(cfg)).ran, []);
    const file = join(out, 'm3t', 'test.jsonl');
    const before = readFileSync(file, 'utf8');
    unlinkSync(file);
    const image = join(
      out,
      'mini-mbeir',
      readJsonl<{ img_path: string }>(join(out, 'mini-mbeir', 'cand_pool', 'global', 'mbeir_union_test_cand_pool.jsonl')).find((c) => c.img_path !== null)
        ?.img_path as string,
    );
    unlinkSync(image);
    assert.deepEqual((await buildData(cfg)).ran, ['records', 'mini-mbeir']);
    assert.equal(readFileSync(file, 'utf8'), before);
    assert.ok(existsSync(image));
    assert.deepEqual((await buildData(cfg)).ran, []);
  });

  it('fails on a corrupt source image, naming its path', async () => {
    const paths = defaultSourcePaths(ROOT);
    const concepts = loadConcepts(paths, ROOT, { limit: 10, seed: 1 });
    const twemoji = concepts.flatMap((c) => c.images).filter((i) => i.style === 'twemoji');
    assert.ok(twemoji.length > 0);
    const dir = mkdtempSync(join(tmpdir(), 'muco-twemoji-'));
    try {
      mkdirSync(dir, { recursive: true });
      for (const i of twemoji) copyFileSync(join(ROOT, i.path), join(dir, basename(i.path)));
      const victim = join(dir, basename((twemoji[0] as { path: string }).path));
      writeFileSync(victim, '<svg xmlns="http://www.w3.org/2000/svg"><path d="M0 0');
      const build = buildData({ root: ROOT, outDir: join(dir, 'out'), limit: 10, sources: { twemoji: dir } });
      await assert.rejects(build, (e: Error) => e.message.includes(victim) && /corrupt/.test(e.message));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
