import { strict as assert } from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { parquetWriteBuffer } from 'hyparquet-writer';
import { checkMmebImages, discoverMmeb, type MmebRow, mmebRowItems, normaliseMmebText, readMmebFile } from '../lib/eval/mmeb-format';
import { type EncodeItem, type Encoder, itemKey, randomEncoder, randomUnitVector } from '../lib/eval/encoder';
import { aggregateMmeb, MMEB_V1_DATASETS, type MmebMetaTask, overallFromMetaTasks } from '../lib/eval/mmeb-aggregate';
import { evaluateMmeb, mmebLeaderboardJson, mmebSummary, readMmebScores, scoreMmebRows } from '../lib/eval/mmeb';
import { logLevel, setLogLevel } from '../lib/log';
import { main, parseEvalArgs, checkpointName } from '../scripts/eval';
import { readMetrics } from '../lib/results';
import { Rng } from '../lib/random';
import published from './fixtures/eval/mmeb-published.json';

const tmpRoot = fs.mkdtempSync(path.join(os.tmpdir(), 'muco-mmeb-'));
/** A fixed image root for scoring tests, so seeded encoders see the same paths on every run. */
const IMAGE_ROOT = '/mmeb-fixture';
after(() => fs.rmSync(tmpRoot, { recursive: true, force: true }));
let previousLevel = logLevel();
before(() => {
  previousLevel = logLevel();
  setLogLevel('error');
});
after(() => setLogLevel(previousLevel));

/** Writes rows in MMEB-eval's parquet schema: two strings and two LIST<string> columns. */
function writeMmebParquet(file: string, rows: MmebRow[]): void {
  const buf = parquetWriteBuffer({
    columnData: [
      { name: 'qry_text', data: rows.map((r) => r.qryText) },
      { name: 'qry_img_path', data: rows.map((r) => r.qryImage) },
      { name: 'tgt_text', data: rows.map((r) => r.tgtText) },
      { name: 'tgt_img_path', data: rows.map((r) => r.tgtImage) },
    ],
    schema: [
      { name: 'root', num_children: 4 },
      { name: 'qry_text', type: 'BYTE_ARRAY', converted_type: 'UTF8', repetition_type: 'OPTIONAL' },
      { name: 'qry_img_path', type: 'BYTE_ARRAY', converted_type: 'UTF8', repetition_type: 'OPTIONAL' },
      { name: 'tgt_text', repetition_type: 'OPTIONAL', converted_type: 'LIST', num_children: 1 },
      { name: 'list', repetition_type: 'REPEATED', num_children: 1 },
      { name: 'element', type: 'BYTE_ARRAY', converted_type: 'UTF8', repetition_type: 'OPTIONAL' },
      { name: 'tgt_img_path', repetition_type: 'OPTIONAL', converted_type: 'LIST', num_children: 1 },
      { name: 'list', repetition_type: 'REPEATED', num_children: 1 },
      { name: 'element', type: 'BYTE_ARRAY', converted_type: 'UTF8', repetition_type: 'OPTIONAL' },
    ],
  });
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, new Uint8Array(buf));
}

function toJsonl(rows: MmebRow[]): string {
  return rows.map((r) => JSON.stringify({ qry_text: r.qryText, qry_img_path: r.qryImage, tgt_text: r.tgtText, tgt_img_path: r.tgtImage })).join('\n');
}

/** A classification-style data set: image queries, the same label set per row, the positive label first. */
function classificationRows(numRows: number, numLabels: number, rng: Rng): MmebRow[] {
  const labels = Array.from({ length: numLabels }, (_, i) => `label${i}`);
  return Array.from({ length: numRows }, (_, i) => {
    const pos = rng.int(numLabels);
    const rest = rng.shuffle(labels.filter((_, j) => j !== pos));
    return {
      qryText: `<|image_1|>\nRepresent the given image for classification\n`,
      qryImage: `images/q${i}.png`,
      tgtText: [labels[pos] as string, ...rest],
      tgtImage: labels.map(() => ''),
      // The oracle below reads the true label from here.
      ...{ truth: pos },
    } as MmebRow;
  });
}

/** Oracle: a query image maps to its true label's vector, so the positive scores 1 and wins. */
function oracleEncoder(rows: MmebRow[], dim: number): Encoder {
  const labelOfImage = new Map<string, string>();
  rows.forEach((r) => labelOfImage.set(path.basename(r.qryImage), r.tgtText[0] as string));
  const vec = (key: string): Float32Array => {
    const v = new Float32Array(dim);
    randomUnitVector(new Rng([...key].reduce((h, c) => (h * 31 + c.charCodeAt(0)) >>> 0, 7)), v, 0, dim);
    return v;
  };
  return {
    dim,
    encode: (items: EncodeItem[]) => {
      const out = new Float32Array(items.length * dim);
      items.forEach((it, i) => out.set(vec(it.image !== undefined ? (labelOfImage.get(path.basename(it.image)) as string) : it.text), i * dim));
      return Promise.resolve(out);
    },
  };
}

/** Wraps an encoder and records every item it is asked to encode. */
function counting(enc: Encoder): Encoder & { seen: string[] } {
  const seen: string[] = [];
  return {
    dim: enc.dim,
    seen,
    encode: (items: EncodeItem[]) => {
      items.forEach((it) => seen.push(itemKey(it)));
      return enc.encode(items);
    },
  };
}

describe('MMEB reader', () => {
  const rows: MmebRow[] = [
    {
      qryText: '<|image_1|>\nRepresent the given image for classification\n',
      qryImage: 'ImageNet-1K/a.jpg',
      tgtText: ['tench', 'goldfish'],
      tgtImage: ['', ''],
    },
    {
      qryText: 'Find me an everyday image that matches the given caption: a dog',
      qryImage: '',
      tgtText: ['<|image_1|>\nRepresent the given image.', '<|image_1|>\nRepresent the given image.'],
      tgtImage: ['coco/1.jpg', 'coco/2.jpg'],
    },
  ];

  it('reads the released parquet format (LIST<string> candidate columns)', async () => {
    const file = path.join(tmpRoot, 'read', 'ImageNet-1K', 'test-00000-of-00001.parquet');
    writeMmebParquet(file, rows);
    assert.deepEqual(await readMmebFile(file), rows);
    assert.deepEqual(await readMmebFile(file, { limit: 1 }), rows.slice(0, 1));
  });

  it('reads the same columns as JSONL, and the V2 form with separate instructions', async () => {
    const file = path.join(tmpRoot, 'read', 'rows.jsonl');
    fs.writeFileSync(file, toJsonl(rows) + '\n\n');
    assert.deepEqual(await readMmebFile(file), rows);
    const v2 = path.join(tmpRoot, 'read', 'v2.jsonl');
    const rec = {
      qry_inst: 'Represent the given image with the following question:',
      qry_text: 'What is it?',
      qry_img_path: 'x.jpg',
      tgt_inst: '',
      tgt_text: ['a cat', 'a dog'],
      tgt_img_path: ['', ''],
    };
    fs.writeFileSync(v2, JSON.stringify(rec));
    const [r] = await readMmebFile(v2);
    assert.equal(r?.qryText, 'Represent the given image with the following question: What is it?');
    assert.deepEqual(r?.tgtText, ['a cat', 'a dog']);
  });

  it('malformed rows give errors naming the file, line and field', async () => {
    const bad = (name: string, line: string): string => {
      const f = path.join(tmpRoot, 'read', name);
      fs.writeFileSync(f, toJsonl(rows.slice(0, 1)) + '\n' + line + '\n');
      return f;
    };
    const cases: [string, string, RegExp][] = [
      [
        'mismatch.jsonl',
        '{"qry_text":"q","qry_img_path":"","tgt_text":["a","b"],"tgt_img_path":[""]}',
        /mismatch\.jsonl:2: "tgt_text" has 2 candidates but "tgt_img_path" has 1/,
      ],
      [
        'missing.jsonl',
        '{"qry_img_path":"","tgt_text":["a"],"tgt_img_path":[""]}',
        /missing\.jsonl:2: field "qry_text" must be a string, got nothing|missing\.jsonl:2: field "qry_text" must be a string/,
      ],
      ['notarray.jsonl', '{"qry_text":"q","tgt_text":"a","tgt_img_path":[""]}', /notarray\.jsonl:2: field "tgt_text" must be an array of strings, got "a"/],
      ['empty.jsonl', '{"qry_text":"q","tgt_text":[],"tgt_img_path":[]}', /empty\.jsonl:2: "tgt_text" is empty/],
      ['badjson.jsonl', '{"qry_text": "q",', /badjson\.jsonl:2: not valid JSON/],
      [
        'element.jsonl',
        '{"qry_text":"q","tgt_text":["a", 3],"tgt_img_path":["",""]}',
        /element\.jsonl:2: field "tgt_text"\[1\] must be a string, got number 3/,
      ],
    ];
    for (const [name, line, re] of cases) await assert.rejects(readMmebFile(bad(name, line)), re);
    await assert.rejects(readMmebFile(path.join(tmpRoot, 'nope.parquet')), /MMEB file not found/);
  });

  it('replaces or strips the image placeholder and normalises newlines', () => {
    assert.equal(normaliseMmebText('<|image_1|>\nRepresent the given image.\n', true), 'Represent the given image.');
    assert.equal(normaliseMmebText('<|image_1|>\nRepresent the given image.', true, '<image>'), '<image>\nRepresent the given image.');
    assert.equal(normaliseMmebText('<|image_1|>\nText only\n\n\nhere', false, '<image>'), 'Text only\nhere');
    assert.equal(normaliseMmebText('<|vision_start|><|image_pad|><|vision_end|>\nQ', true, '[img]'), '[img]\nQ');
    const items = mmebRowItems(rows[1] as MmebRow, { imageRoot: '/data/mmeb' });
    assert.deepEqual(items.query, { text: 'Find me an everyday image that matches the given caption: a dog' });
    assert.deepEqual(items.candidates[0], { text: 'Represent the given image.', image: '/data/mmeb/coco/1.jpg' });
  });

  it('checks that images exist, naming the resolved path and the fix', () => {
    const root = path.join(tmpRoot, 'imgs');
    fs.mkdirSync(path.join(root, 'coco'), { recursive: true });
    fs.writeFileSync(path.join(root, 'coco', '1.jpg'), '');
    assert.throws(() => checkMmebImages(rows.slice(1), root, 'MSCOCO_t2i'), /image "coco\/2\.jpg" not found at .*--image-dir/);
    fs.writeFileSync(path.join(root, 'coco', '2.jpg'), '');
    checkMmebImages(rows.slice(1), root, 'MSCOCO_t2i');
  });
});

describe('MMEB layouts', () => {
  it('finds the HF layout (one folder per config), skips CIFAR-100, uses eval_images', () => {
    const root = path.join(tmpRoot, 'hf');
    writeMmebParquet(path.join(root, 'ImageNet-1K', 'test-00000-of-00001.parquet'), []);
    writeMmebParquet(path.join(root, 'CIFAR-100', 'test-00000-of-00001.parquet'), []);
    fs.mkdirSync(path.join(root, 'MSCOCO_t2i'));
    fs.writeFileSync(path.join(root, 'MSCOCO_t2i', 'test.jsonl'), '');
    fs.mkdirSync(path.join(root, 'eval_images'));
    const entries = discoverMmeb(root);
    assert.deepEqual(
      entries.map((e) => [e.name, e.metaTask, e.distribution]),
      [
        ['ImageNet-1K', 'CLS', 'IND'],
        ['MSCOCO_t2i', 'RET', 'IND'],
      ],
    );
    assert.equal(entries[0]?.imageRoot, path.join(root, 'eval_images'));
  });

  it('reads a manifest (mini benchmarks) and rejects bad entries', () => {
    const root = path.join(tmpRoot, 'manifest');
    fs.mkdirSync(root, { recursive: true });
    const manifest = { imageRoot: 'images', datasets: [{ name: 'EmojiCLS', metaTask: 'classification', distribution: 'OOD', file: 'EmojiCLS.jsonl' }] };
    fs.writeFileSync(path.join(root, 'manifest.json'), JSON.stringify(manifest));
    const [e] = discoverMmeb(root);
    assert.deepEqual(
      [e?.name, e?.metaTask, e?.distribution, e?.file, e?.imageRoot],
      ['EmojiCLS', 'CLS', 'OOD', path.join(root, 'EmojiCLS.jsonl'), path.join(root, 'images')],
    );
    manifest.datasets[0]!.metaTask = 'ranking';
    fs.writeFileSync(path.join(root, 'manifest.json'), JSON.stringify(manifest));
    assert.throws(() => discoverMmeb(root), /metaTask "ranking" is not one of CLS, VQA, RET, VG/);
  });

  it('an empty root is an error that says what was looked for', () => {
    const root = path.join(tmpRoot, 'emptyroot');
    fs.mkdirSync(root);
    assert.throws(() => discoverMmeb(root), /found no data set/);
  });
});

describe('MMEB scoring', () => {
  const rows = classificationRows(400, 10, new Rng(1));

  it('embeddings that make the positive nearest score 100', async () => {
    const s = await scoreMmebRows(rows, oracleEncoder(rows, 32), { imageRoot: IMAGE_ROOT });
    assert.equal(s['hit@1'], 1);
    assert.equal(s['acc'], 1);
    assert.equal(s['mrr@10'], 1);
    assert.equal(s['ndcg_linear@5'], 1);
    assert.equal(s['num_correct'], 400);
    assert.equal(s['num_ties'], 0);
  });

  it('random embeddings score near chance (1/#candidates = 0.1)', async () => {
    const s = await scoreMmebRows(rows, randomEncoder({ dim: 32, seed: 3 }), { imageRoot: IMAGE_ROOT });
    const hit = s['hit@1'] as number;
    assert.ok(Math.abs(hit - 0.1) < 0.05, `hit@1 ${hit}`);
    assert.ok((s['hit@5'] as number) > 0.35 && (s['hit@5'] as number) < 0.65, `hit@5 ${s['hit@5']}`);
  });

  it('agrees with a naive twin (full scores, first-argmax) on random embeddings', async () => {
    const enc = randomEncoder({ dim: 8, seed: 5 });
    const s = await scoreMmebRows(rows, enc, { imageRoot: IMAGE_ROOT });
    let correct = 0;
    for (const r of rows) {
      const it = mmebRowItems(r, { imageRoot: IMAGE_ROOT });
      const q = await enc.encode([it.query]);
      const c = await enc.encode(it.candidates);
      const scores = it.candidates.map((_, j) => q.reduce((acc, v, d) => acc + v * (c[j * 8 + d] as number), 0));
      let arg = 0;
      scores.forEach((v, j) => (v > (scores[arg] as number) ? (arg = j) : 0));
      if (arg === 0) correct++;
    }
    assert.equal(s['num_correct'], correct);
  });

  it('constant embeddings score 100 through the tie rule, and the ties are counted', async () => {
    const constant: Encoder = { dim: 4, encode: (items) => Promise.resolve(new Float32Array(items.length * 4).fill(0.5)) };
    const s = await scoreMmebRows(rows.slice(0, 50), constant, { imageRoot: IMAGE_ROOT });
    assert.equal(s['hit@1'], 1);
    assert.equal(s['num_ties'], 50);
  });

  it('encodes each distinct query and candidate once, in batches', async () => {
    const enc = counting(randomEncoder({ dim: 8 }));
    await scoreMmebRows(rows, enc, { imageRoot: IMAGE_ROOT, batchSize: 7 });
    assert.equal(enc.seen.length, new Set(enc.seen).size);
    assert.equal(enc.seen.length, 400 + 10); // 400 distinct query images, 10 shared labels
  });

  it('runs a discovered benchmark end to end and aggregates with its catalogue', async () => {
    const root = path.join(tmpRoot, 'mini');
    writeMmebParquet(path.join(root, 'cls.parquet'), rows.slice(0, 100));
    fs.writeFileSync(path.join(root, 'ret.jsonl'), toJsonl(rows.slice(100, 150)));
    const manifest = {
      datasets: [
        { name: 'MiniCLS', metaTask: 'CLS', distribution: 'IND', file: 'cls.parquet' },
        { name: 'MiniRET', metaTask: 'RET', distribution: 'OOD', file: 'ret.jsonl' },
      ],
    };
    fs.writeFileSync(path.join(root, 'manifest.json'), JSON.stringify(manifest));
    const entries = discoverMmeb(root, { imageDir: tmpRoot });
    const files = await evaluateMmeb(entries, oracleEncoder(rows, 16), { checkImages: false });
    const sum = mmebSummary(files, entries);
    assert.deepEqual([sum.overall, sum.metaTask.CLS, sum.metaTask.RET, sum.metaTask.VQA, sum.IND, sum.OOD], [100, 100, 100, null, 100, 100]);
    assert.equal(sum.complete, true);
    await assert.rejects(evaluateMmeb(entries, oracleEncoder(rows, 16)), /image "images\/q0\.png" not found/);
  });
});

describe('MMEB aggregation reproduces published numbers', () => {
  const tol = 0.05 + 1e-6; // inputs and outputs are both rounded to 0.1

  for (const [model, { perDataset, published: pub }] of Object.entries(published.models)) {
    it(`${model}: meta-tasks, IND/OOD and overall (${published.source.slice(0, 40)}…)`, () => {
      const agg = aggregateMmeb(perDataset);
      assert.equal(agg.complete, true);
      assert.equal(agg.numDatasets, 36);
      const got: Record<string, number | null> = { ...agg.metaTask, IND: agg.IND, OOD: agg.OOD, overall: agg.overall };
      for (const [key, want] of Object.entries(pub)) {
        const v = got[key] as number;
        assert.ok(Math.abs(v - want) <= tol, `${model} ${key}: computed ${v.toFixed(3)}, published ${want}`);
      }
    });
  }

  it('overall is the mean over data sets, not over meta-tasks (the other definition misses)', () => {
    const { perDataset, published: pub } = published.models['VLM2Vec-V1-Qwen2VL-2B'];
    const agg = aggregateMmeb(perDataset);
    const metaMean = (agg.metaTask.CLS! + agg.metaTask.VQA! + agg.metaTask.RET! + agg.metaTask.VG!) / 4;
    assert.ok(Math.abs(metaMean - pub.overall) > 1);
  });

  it('overall from published meta-task means (data-set weighted)', () => {
    for (const [name, row] of Object.entries(published.metaTaskRows.rows)) {
      const v = overallFromMetaTasks(row as Record<MmebMetaTask, number>);
      assert.ok(Math.abs(v - row.overall) <= 0.06, `${name}: ${v.toFixed(3)} vs ${row.overall}`);
    }
  });

  it('a partial run is flagged incomplete; an unknown data set is an error', () => {
    const agg = aggregateMmeb({ 'ImageNet-1K': 80, GQA: 60 });
    assert.equal(agg.complete, false);
    assert.equal(agg.missing.length, 34);
    assert.equal(agg.overall, 70);
    assert.equal(agg.metaTask.VG, null);
    assert.throws(() => aggregateMmeb({ 'CIFAR-100': 50 }), /"CIFAR-100" is not in the catalogue/);
    assert.equal(MMEB_V1_DATASETS.length, 36);
  });

  it('reads external score files (v1 "acc" and V2 "hit@1") and a leaderboard JSON', () => {
    const { perDataset, published: pub } = published.models['VLM2Vec-V1-Qwen2VL-7B'];
    const dir = path.join(tmpRoot, 'external');
    fs.mkdirSync(dir, { recursive: true });
    Object.entries(perDataset).forEach(([name, v], i) => {
      const file = i % 2 === 0 ? { acc: v / 100, num_correct: v * 10, num_pred: 1000 } : { 'hit@1': v / 100, 'hit@5': 0.9, num_pred: 1000, num_data: 1000 };
      fs.writeFileSync(path.join(dir, `${name}_score.json`), JSON.stringify(file));
    });
    fs.writeFileSync(path.join(dir, 'CIFAR-100_score.json'), JSON.stringify({ acc: 0.5 }));
    const files = readMmebScores(dir, MMEB_V1_DATASETS);
    assert.equal(Object.keys(files).length, 36);
    const sum = mmebSummary(files);
    assert.ok(Math.abs(sum.overall - pub.overall) <= tol);
    const lb = path.join(tmpRoot, 'leaderboard.json');
    fs.writeFileSync(lb, JSON.stringify(mmebLeaderboardJson(files, { model_name: 'VLM2Vec-7B' })));
    assert.ok(Math.abs(mmebSummary(readMmebScores(lb)).overall - pub.overall) <= tol);
    fs.writeFileSync(path.join(dir, 'Broken_score.json'), JSON.stringify({ accuracy: 0.5 }));
    assert.throws(() => readMmebScores(dir), /Broken_score\.json: an MMEB score file needs "hit@1" \(V2\) or "acc" \(v1\)/);
  });
});

describe('eval CLI on an MMEB-format benchmark', () => {
  const quiet = async <T>(fn: () => Promise<T>): Promise<T> => {
    const orig = console.log;
    console.log = () => undefined;
    try {
      return await fn();
    } finally {
      console.log = orig;
    }
  };

  it('writes a run folder in the results schema and refuses to overwrite it silently', async () => {
    const root = path.join(tmpRoot, 'cli');
    fs.mkdirSync(root, { recursive: true });
    fs.writeFileSync(path.join(root, 'toy.jsonl'), toJsonl(classificationRows(40, 5, new Rng(2))));
    fs.writeFileSync(
      path.join(root, 'manifest.json'),
      JSON.stringify({ datasets: [{ name: 'Toy', metaTask: 'CLS', distribution: 'IND', file: 'toy.jsonl' }] }),
    );
    const results = path.join(tmpRoot, 'cli-results');
    const argv = ['--encoder', 'random', '--dim', '16', '--benchmark', `mmeb:${root}`, '--results', results, '--no-check-images'];
    const dir = await quiet(() => main(argv));
    assert.equal(dir, path.join(results, 'eval', 'random16-mmeb-cli'));
    for (const f of ['config.json', 'metrics.json', 'log.jsonl', 'mmeb.csv', 'mmeb_leaderboard.json', 'scores/Toy_score.json']) {
      assert.ok(fs.existsSync(path.join(dir, f)), f);
    }
    const m = readMetrics(dir);
    assert.equal(m.metadata.backend, 'none');
    assert.equal(m.metrics['benchmark'], 'mmeb');
    assert.ok(typeof m.metrics['overall'] === 'number');
    await assert.rejects(
      quiet(() => main(argv)),
      /already has results/,
    );
    await quiet(() => main([...argv, '--overwrite']));
    // --external: a glob of our own score files compares against this benchmark's catalogue; bad files stop the
    // command before a run folder is made, naming the file.
    const ext = [...argv.filter((a, i) => argv[i - 1] !== '--results' && a !== '--results'), '--results', path.join(tmpRoot, 'cli-ext')];
    const withExt = await quiet(() => main([...ext, '--external', path.join(dir, 'scores', '*_score.json')]));
    assert.ok(fs.existsSync(path.join(withExt, 'metrics.json')));
    const bad = path.join(tmpRoot, 'bad-scores');
    fs.mkdirSync(bad, { recursive: true });
    fs.writeFileSync(path.join(bad, 'Toy_score.json'), '{"acc": 0.5,');
    await assert.rejects(
      quiet(() => main([...ext, '--run', 'bad1', '--external', bad])),
      (e: Error) => e.message.includes(path.join(bad, 'Toy_score.json')) && /not valid JSON/.test(e.message),
    );
    fs.writeFileSync(path.join(bad, 'Toy_score.json'), '{"acc": 75}');
    await assert.rejects(
      quiet(() => main([...ext, '--run', 'bad2', '--external', bad])),
      /acc is 75, but MMEB scores are fractions/,
    );
    await assert.rejects(
      quiet(() => main([...ext, '--run', 'bad3', '--external', path.join(bad, 'nothing-*.json')])),
      /no file in .* matches nothing-\*\.json/,
    );
    for (const r of ['bad1', 'bad2', 'bad3'])
      assert.ok(!fs.existsSync(path.join(tmpRoot, 'cli-ext', 'eval', r)), `${r}: a run folder was made before --external was checked`);
    // A failed attempt (results gone, partial files left) is run again by the same command.
    fs.rmSync(path.join(dir, 'metrics.json'));
    await quiet(() => main(argv));
    assert.ok(fs.existsSync(path.join(dir, 'metrics.json')));
  });

  it('names eval runs after the run folder, so two committed models never share a results folder', () => {
    assert.equal(checkpointName('results/full/core/muco-k7/model'), 'core-muco-k7');
    assert.equal(checkpointName('results/full/core/single-turn/model/'), 'core-single-turn');
    assert.equal(checkpointName('results/quick/core/muco-k7/checkpoints/step-000100'), 'core-muco-k7-step-000100');
    assert.equal(checkpointName('/tmp/my-export'), 'my-export');
  });

  it('argument errors say what was expected', async () => {
    assert.throws(() => parseEvalArgs(['--benchmark', 'mini-mmeb']), /Pass --checkpoint <dir>, or --encoder random/);
    assert.throws(
      () => parseEvalArgs(['--encoder', 'random', '--benchmark', 'imagenet']),
      /--benchmark must be mini-mmeb, mini-mbeir, mmeb:<path> or mbeir:<path>, got "imagenet"/,
    );
    assert.throws(
      () => parseEvalArgs(['--encoder', 'random', '--benchmark', 'mini-mbeir', '--pool', 'union']),
      /--pool must be one of local, global, got "union"/,
    );
    assert.throws(() => parseEvalArgs(['--encoder', 'random', '--benchmark', 'mini-mbeir', '--bogus']), /Unknown option "--bogus"/);
  });
});
