import { strict as assert } from 'assert';
import * as tf from '@tensorflow/tfjs';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import {
  chooseInstruction,
  discoverMbeir,
  formatString,
  type MbeirQuery,
  mbeirCandidateItem,
  mbeirQueryItem,
  parseInstructions,
  parseQrels,
  readMbeirPool,
  readMbeirQueries,
} from '../lib/eval/mbeir-format';
import { type EncodeItem, type Encoder, randomEncoder, randomUnitVector } from '../lib/eval/encoder';
import { aggregateMbeir, MBEIR_TASKS, reportedK } from '../lib/eval/mbeir-aggregate';
import { evaluateMbeir, mbeirSummary } from '../lib/eval/mbeir';
import { logLevel, setLogLevel } from '../lib/log';
import { main } from '../scripts/eval';
import { readMetrics } from '../lib/results';
import { deriveSeed, Rng } from '../lib/random';
import published from './fixtures/eval/mbeir-published.json';

const tmpRoot = fs.mkdtempSync(path.join(os.tmpdir(), 'muco-mbeir-'));
after(() => fs.rmSync(tmpRoot, { recursive: true, force: true }));
let previousLevel = logLevel();
before(() => {
  previousLevel = logLevel();
  setLogLevel('error');
});
after(() => setLogLevel(previousLevel));

const jsonl = (recs: object[]): string => recs.map((r) => JSON.stringify(r)).join('\n') + '\n';

interface TaskSpec {
  name: string;
  datasetId: number;
  taskId: number;
  queryModality: 'text' | 'image' | 'image,text';
  candModality: 'text' | 'image' | 'image,text';
  numQueries: number;
  poolSize: number;
  /** Queries with index % twoPositivesEvery === 0 get a second positive (0: never). */
  twoPositivesEvery: number;
}

/**
 * Writes an M-BEIR root in the real layout. Every text/image carries a token `T<n>`: a query and its
 * positives share their token, so an encoder keyed on tokens can make the positive nearest.
 */
function writeMbeirRoot(root: string, specs: TaskSpec[], rng: Rng): void {
  const dirs = ['query/test', 'cand_pool/local', 'cand_pool/global', 'qrels/test', 'instructions', 'mbeir_images'];
  for (const d of dirs) fs.mkdirSync(path.join(root, d), { recursive: true });
  const union: object[] = [];
  const instr = ['query_modality\tcand_modality\tdataset\tdataset_id\tprompt_1\tprompt_2\tprompt_3'];
  let token = 0;
  for (const s of specs) {
    fs.mkdirSync(path.join(root, 'mbeir_images', s.name), { recursive: true });
    const content = (tok: number, modality: string, kind: string): Record<string, string | null> => {
      const img = `mbeir_images/${s.name}/${kind}_T${tok}.jpg`;
      if (modality !== 'text') fs.writeFileSync(path.join(root, img), '');
      return { txt: modality === 'image' ? null : `a ${kind} about T${tok}`, img_path: modality === 'text' ? null : img };
    };
    const pool: { did: string; tok: number }[] = [];
    const poolRecs = Array.from({ length: s.poolSize }, (_, i) => {
      const tok = token++;
      const did = `${s.datasetId}:${i}`;
      pool.push({ did, tok });
      return { did, ...content(tok, s.candModality, 'cand'), modality: s.candModality, src_content: null };
    });
    const order = rng.permutation(s.poolSize);
    const queries: object[] = [];
    const qrels: string[] = [];
    for (let q = 0; q < s.numQueries; q++) {
      const pos = [pool[order[q % s.poolSize] as number] as { did: string; tok: number }];
      if (s.twoPositivesEvery > 0 && q % s.twoPositivesEvery === 0) {
        // A second positive: a fresh pool entry sharing the query's token.
        const did = `${s.datasetId}:${s.poolSize + q}`;
        poolRecs.push({ did, ...content(pos[0]!.tok, s.candModality, 'twin'), modality: s.candModality, src_content: null });
        pos.push({ did, tok: pos[0]!.tok });
      }
      const qc = content(pos[0]!.tok, s.queryModality, 'query');
      const qid = `${s.datasetId}:${q}`;
      queries.push({
        qid,
        query_txt: qc['txt'],
        query_img_path: qc['img_path'],
        query_modality: s.queryModality,
        query_src_content: null,
        pos_cand_list: pos.map((p) => p.did),
        neg_cand_list: [],
        task_id: s.taskId,
      });
      for (const p of pos) qrels.push(`${qid} 0 ${p.did} 1 ${s.taskId}`);
    }
    fs.writeFileSync(path.join(root, 'query/test', `mbeir_${s.name}_test.jsonl`), jsonl(queries));
    const poolName = s.name.startsWith('mscoco') ? `mbeir_${s.name}_test_cand_pool.jsonl` : `mbeir_${s.name}_cand_pool.jsonl`;
    fs.writeFileSync(path.join(root, 'cand_pool/local', poolName), jsonl(poolRecs));
    fs.writeFileSync(path.join(root, 'qrels/test', `mbeir_${s.name}_test_qrels.txt`), qrels.join('\n') + '\n');
    union.push(...poolRecs);
    instr.push(`${s.queryModality}\t${s.candModality}\t${s.name}\t${s.datasetId}\tfind the match for this\tretrieve the matching one\t`);
  }
  fs.writeFileSync(path.join(root, 'cand_pool/global/mbeir_union_test_cand_pool.jsonl'), jsonl(union));
  fs.writeFileSync(path.join(root, 'instructions/query_instructions.tsv'), instr.join('\n') + '\n');
}

/** Oracle: an item's vector is a fixed random unit vector of its `T<n>` token, so positives score 1. */
const tokenEncoder = (dim: number): Encoder => ({
  dim,
  encode: (items: EncodeItem[]) => {
    const out = new Float32Array(items.length * dim);
    items.forEach((it, i) => {
      // Only the text and the image's file name: the temporary folder's random name may itself contain "T<digit>".
      const tok = /T(\d+)/.exec(`${it.text} ${it.image === undefined ? '' : path.basename(it.image)}`)?.[1];
      if (tok === undefined) throw new Error(`no token in ${JSON.stringify(it)}`);
      randomUnitVector(new Rng(deriveSeed(1, tok)), out, i * dim, dim);
    });
    return Promise.resolve(out);
  },
});

/** Seeded randomness must not depend on the temporary folder's name: encode root-relative image paths. */
const relativeTo = (enc: Encoder, dir: string): Encoder => ({
  dim: enc.dim,
  encode: (items: EncodeItem[]) => enc.encode(items.map((it) => (it.image === undefined ? it : { ...it, image: path.relative(dir, it.image) }))),
});

const SPECS: TaskSpec[] = [
  { name: 'mscoco_task0', datasetId: 9, taskId: 0, queryModality: 'text', candModality: 'image', numQueries: 300, poolSize: 100, twoPositivesEvery: 0 },
  {
    name: 'fashioniq_task7',
    datasetId: 7,
    taskId: 7,
    queryModality: 'image,text',
    candModality: 'image',
    numQueries: 300,
    poolSize: 100,
    twoPositivesEvery: 0,
  },
  { name: 'webqa_task1', datasetId: 2, taskId: 1, queryModality: 'text', candModality: 'text', numQueries: 40, poolSize: 60, twoPositivesEvery: 4 },
];
const root = path.join(tmpRoot, 'M-BEIR');
before(() => writeMbeirRoot(root, SPECS, new Rng(4)));

describe('M-BEIR readers', () => {
  it('discovers the layout: query files, local pools (incl. MSCOCO test-pool naming), global pool, instructions', () => {
    const layout = discoverMbeir(root);
    assert.deepEqual(
      layout.tasks.map((t) => [t.name, t.dataset, t.taskId]),
      [
        ['fashioniq_task7', 'fashioniq', 7],
        ['mscoco_task0', 'mscoco', 0],
        ['webqa_task1', 'webqa', 1],
      ],
    );
    assert.match(layout.tasks[1]?.localPoolFile ?? '', /mbeir_mscoco_task0_test_cand_pool\.jsonl$/);
    assert.ok(layout.globalPoolFile?.endsWith('mbeir_union_test_cand_pool.jsonl'));
    assert.ok(layout.instructionsFile !== undefined);
    assert.throws(() => discoverMbeir(tmpRoot), /no query\/test\/ folder/);
  });

  it('reads queries, pools, qrels (5 or 4 columns, positives only) and instructions', () => {
    const qs = readMbeirQueries(path.join(root, 'query/test/mbeir_webqa_task1_test.jsonl'));
    assert.equal(qs.length, 40);
    assert.equal(qs[0]?.posCandList.length, 2);
    assert.equal(readMbeirPool(path.join(root, 'cand_pool/local/mbeir_webqa_task1_cand_pool.jsonl')).length, 70);
    const qrels = parseQrels('9:1 0 9:5 1 0\n9:1 0 9:6 0 0\n9:2 0 9:7 2\n', 'q.txt');
    assert.deepEqual([...(qrels.get('9:1')?.relevant ?? [])], ['9:5']);
    assert.equal(qrels.get('9:1')?.taskId, 0);
    assert.deepEqual([...(qrels.get('9:2')?.relevant ?? [])], ['9:7']);
    const instr = parseInstructions('h\th\th\th\th\ntext\timage\tmscoco\t9\tfind an image\tanother one\t\n', 'i.tsv');
    assert.deepEqual(instr.get('9, text, image'), ['find an image', 'another one']);
  });

  it('malformed records give errors naming the file, line and field', () => {
    const bad = (name: string, text: string): string => {
      const f = path.join(tmpRoot, name);
      fs.writeFileSync(f, text);
      return f;
    };
    assert.throws(
      () => readMbeirQueries(bad('q1.jsonl', '{"qid":"x12","query_modality":"text","query_txt":"a","pos_cand_list":[],"task_id":0}\n')),
      /q1\.jsonl:1: field "qid" must look like "<dataset_id>:<n>"/,
    );
    assert.throws(
      () => readMbeirQueries(bad('q2.jsonl', '{"qid":"9:1","query_modality":"image","query_txt":"a","pos_cand_list":[],"task_id":0}\n')),
      /q2\.jsonl:1: modality "image" needs an image path, got text present, image missing/,
    );
    assert.throws(
      () => readMbeirQueries(bad('q3.jsonl', '{"qid":"9:1","query_modality":"text","query_txt":"a","pos_cand_list":["9:2"],"task_id":"0"}\n')),
      /q3\.jsonl:1: field "task_id" must be an integer/,
    );
    assert.throws(
      () => readMbeirQueries(bad('q4.jsonl', '{"qid":"9:1","query_modality":"audio","pos_cand_list":[],"task_id":0}\n')),
      /must be "text", "image" or "image,text", got "audio"/,
    );
    const dup = '{"did":"9:1","txt":"a","modality":"text"}\n{"did":"9:1","txt":"b","modality":"text"}\n';
    assert.throws(() => readMbeirPool(bad('p.jsonl', dup)), /did "9:1" appears twice/);
    assert.throws(() => parseQrels('9:1 0 9:5\n', 'r.txt'), /r\.txt:1: a qrels line has 4 or 5 space-separated columns/);
    assert.throws(() => parseQrels('9:1 0 9:5 yes 0\n', 'r.txt'), /r\.txt:1: relevance must be an integer, got "yes"/);
    assert.throws(() => parseInstructions('header\ntext\timage\n', 'i.tsv'), /i\.tsv:2: expected tab-separated/);
  });

  it("formats texts as UniIR's format_string and prefixes the chosen instruction", () => {
    assert.equal(formatString('a dog on a couch'), 'A dog on a couch.');
    assert.equal(formatString(' "is it red?" \r'), 'Is it red?');
    assert.equal(formatString(''), '');
    assert.equal(formatString(undefined), '');
    const q: MbeirQuery = { qid: '9:1', text: 'a dog on a couch', modality: 'text', posCandList: [], taskId: 0 };
    assert.deepEqual(mbeirQueryItem(q, 'retrieve an image of this caption', '/r'), { text: 'Retrieve an image of this caption. a dog on a couch.' });
    assert.deepEqual(mbeirQueryItem({ ...q, text: undefined, image: 'x.jpg', modality: 'image' } as MbeirQuery, 'find a caption', '/r'), {
      text: 'Find a caption.',
      image: '/r/x.jpg',
    });
    assert.deepEqual(mbeirCandidateItem({ did: '9:2', image: 'y.jpg', modality: 'image' }, '/r'), { text: '', image: '/r/y.jpg' });
  });

  it('chooses instructions deterministically: first, seeded per query, or none', () => {
    const instr = parseInstructions('h\ntext\timage\tmscoco\t9\tv0\tv1\tv2\n', 'i.tsv');
    const q = (n: number): MbeirQuery => ({ qid: `9:${n}`, text: 't', modality: 'text', posCandList: [], taskId: 0 });
    assert.equal(chooseInstruction(instr, q(1), 'first'), 'v0');
    assert.equal(chooseInstruction(instr, q(1), 'none'), undefined);
    const picks = Array.from({ length: 60 }, (_, n) => chooseInstruction(instr, q(n), 'seeded', 3));
    assert.deepEqual(
      picks,
      Array.from({ length: 60 }, (_, n) => chooseInstruction(instr, q(n), 'seeded', 3)),
    );
    assert.deepEqual(new Set(picks), new Set(['v0', 'v1', 'v2']));
    assert.throws(() => chooseInstruction(instr, { ...q(1), taskId: 3 }, 'first'), /No query instruction for key "9, text, text"/);
  });
});

describe('M-BEIR scoring', () => {
  let layout: ReturnType<typeof discoverMbeir>;
  before(() => (layout = discoverMbeir(root)));

  it('embeddings that make the positive nearest score 100 on local and global pools', async () => {
    const res = await evaluateMbeir(layout, tokenEncoder(16), { pools: ['local', 'global'] });
    for (const pool of [res.local, res.global]) {
      assert.deepEqual(Object.keys(pool).sort(), ['fashioniq_task7', 'mscoco_task0', 'webqa_task1']);
      for (const s of Object.values(pool)) {
        assert.equal(s['score'], 1);
        assert.equal(s['hit@1'], 1);
        assert.equal(s['mrr@10'], 1);
      }
    }
    assert.equal(res.local['fashioniq_task7']?.['k'], 10);
    assert.equal(res.local['mscoco_task0']?.['k'], 5);
    // Two positives tied at score 1: hit@1 = 1 but fractional recall@1 would be 1/2 for those queries.
    assert.equal(res.local['webqa_task1']?.['recall@5'], 1);
    const used = Object.values(res.instructions).flatMap((c) => Object.entries(c));
    assert.deepEqual(new Set(used.map(([i]) => i)), new Set(['find the match for this']));
    assert.equal(
      used.reduce((n, [, c]) => n + c, 0),
      640,
    );
  });

  it('random embeddings score near chance (k / pool size)', async () => {
    const res = await evaluateMbeir(layout, relativeTo(randomEncoder({ dim: 32, seed: 2 }), root), { pools: ['local', 'global'] });
    const near = (v: number | undefined, want: number, tol: number): void => assert.ok(Math.abs((v as number) - want) < tol, `${v} vs ${want}`);
    near(res.local['mscoco_task0']?.['score'], 5 / 100, 0.035);
    near(res.local['fashioniq_task7']?.['score'], 10 / 100, 0.045);
    near(res.global['mscoco_task0']?.['score'], 5 / 270, 0.025);
    near(res.global['fashioniq_task7']?.['hit@10'], 10 / 270, 0.03);
  });

  it('agrees with a naive full-sort twin on the local pool', async () => {
    const enc = relativeTo(randomEncoder({ dim: 8, seed: 9 }), root);
    const res = await evaluateMbeir(layout, enc, { pools: ['local'], poolChunk: 7 });
    const spec = layout.tasks.find((t) => t.name === 'webqa_task1')!;
    const pool = readMbeirPool(spec.localPoolFile!);
    const cands = await enc.encode(pool.map((c) => mbeirCandidateItem(c, root)));
    const qrels = parseQrels(fs.readFileSync(spec.qrelsFile, 'utf8'), 'qrels');
    const queries = readMbeirQueries(spec.queryFile);
    let hits = 0;
    for (const q of queries) {
      const [qv] = [await enc.encode([mbeirQueryItem(q, 'find the match for this', root)])];
      const s = pool.map((_, j) => qv!.reduce((a, v, d) => a + v * (cands[j * 8 + d] as number), 0));
      const order = s.map((_, j) => j).sort((a, b) => (s[b] as number) - (s[a] as number) || a - b);
      if (order.slice(0, 5).some((j) => qrels.get(q.qid)?.relevant.has(pool[j]!.did))) hits++;
    }
    assert.equal(res.local['webqa_task1']?.['score'], hits / queries.length);
  });

  it('the tf.matMul scorer (cpu backend) gives the same scores as the exact js scorer', async () => {
    await tf.setBackend('cpu');
    const enc = relativeTo(randomEncoder({ dim: 32, seed: 4 }), root);
    const js = await evaluateMbeir(layout, enc, { pools: ['local', 'global'] });
    const viaTf = await evaluateMbeir(layout, enc, { pools: ['local', 'global'], scorer: 'tf' });
    assert.deepEqual(viaTf, js);
  });

  it('a query without qrels, or a missing image, is a clear error', async () => {
    const broken = path.join(tmpRoot, 'broken');
    writeMbeirRoot(broken, [SPECS[2]!], new Rng(1));
    const qfile = path.join(broken, 'qrels/test/mbeir_webqa_task1_test_qrels.txt');
    fs.writeFileSync(
      qfile,
      fs
        .readFileSync(qfile, 'utf8')
        .split('\n')
        .filter((l) => !l.startsWith('2:0 '))
        .join('\n'),
    );
    await assert.rejects(evaluateMbeir(discoverMbeir(broken), randomEncoder()), /query 2:0 has no relevant candidate/);
    fs.rmSync(path.join(root, 'mbeir_images/mscoco_task0/cand_T0.jpg'));
    await assert.rejects(evaluateMbeir(layout, randomEncoder()), /candidate image: .*cand_T0\.jpg not found/);
    fs.writeFileSync(path.join(root, 'mbeir_images/mscoco_task0/cand_T0.jpg'), '');
  });

  it('the summary averages the sets and flags a partial run against the 16', async () => {
    const res = await evaluateMbeir(layout, tokenEncoder(8), { limit: 10 });
    const sum = mbeirSummary(res.local);
    assert.equal(sum.average, 100);
    assert.equal(sum.complete, false);
    assert.equal(sum.missing.length, 13);
    assert.equal(sum.groups['M→S'], 100);
    assert.equal(sum.groups['M→M'], null);
  });
});

describe('M-BEIR aggregation reproduces published averages', () => {
  const tol = 0.05 + 1e-6;
  const groups = [published.local, published.mucoLocal, published.mucoGlobal] as {
    source: string;
    rows: Record<string, { perTask: Record<string, number>; average: number; groups?: Record<string, number> }>;
  }[];

  for (const g of groups) {
    for (const [name, row] of Object.entries(g.rows)) {
      it(`${name} (${g.source.slice(0, 48)}…)`, () => {
        const agg = aggregateMbeir(row.perTask);
        assert.equal(agg.complete, true);
        assert.ok(Math.abs(agg.average - row.average) <= tol, `average ${agg.average.toFixed(3)} vs ${row.average}`);
        for (const [k, want] of Object.entries(row.groups ?? {})) {
          const v = agg.groups[k as keyof typeof agg.groups] as number;
          assert.ok(Math.abs(v - want) <= tol, `${k}: ${v.toFixed(3)} vs ${want}`);
        }
      });
    }
  }

  it('the canonical 16 sets, their order and the Recall@10 rule for the fashion sets', () => {
    assert.deepEqual(
      MBEIR_TASKS.map((t) => t.name),
      published.taskOrder,
    );
    assert.deepEqual(
      MBEIR_TASKS.filter((t) => t.k === 10).map((t) => t.name),
      ['fashion200k_task0', 'fashion200k_task3', 'fashioniq_task7'],
    );
    assert.equal(reportedK('cirr_task7'), 5);
    assert.throws(() => aggregateMbeir({ foo_task0: 1 }), /"foo_task0" is not in the catalogue/);
  });
});

describe('eval CLI on an M-BEIR-format benchmark', () => {
  it('scores local and global pools into a run folder', async () => {
    const orig = console.log;
    console.log = () => undefined;
    let dir: string;
    try {
      dir = await main(['--encoder', 'random', '--benchmark', `mbeir:${root}`, '--pool', 'local,global', '--results', path.join(tmpRoot, 'res'), '--run', 'r']);
    } finally {
      console.log = orig;
    }
    const m = readMetrics(dir);
    const local = m.metrics['local'] as { average: number; numTasks: number; complete: boolean };
    assert.equal(local.numTasks, 3);
    assert.equal(local.complete, false);
    assert.ok(typeof (m.metrics['global'] as { average: number }).average === 'number');
    const csv = fs.readFileSync(path.join(dir, 'mbeir.csv'), 'utf8').trim().split('\n');
    assert.equal(csv.length, 1 + 6);
    assert.match(csv[0] ?? '', /^task,taskType,pool,metric,score/);
  });
});
