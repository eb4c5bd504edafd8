import { strict as assert } from 'assert';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import { normalizeRecord, parseListString, readTrainingRecords, writeRecordsParquet } from '../lib/data/m3t';

const FIXTURES = join(__dirname, 'fixtures', 'data');

describe('training-record readers', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'muco-readers-'));
    mkdirSync(join(dir, 'images'));
    writeFileSync(join(dir, 'images', 'smoothie.png'), 'x');
    writeFileSync(join(dir, 'images', 'red.png'), 'x');
    for (const f of ['muco-m3t-sample.jsonl', 'mmeb-train-sample.jsonl']) copyFileSync(join(FIXTURES, f), join(dir, f));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('reads official M3T rows: 7 turns in M3T order, phrasings kept as lists', async () => {
    const [m3t, pair] = await readTrainingRecords(join(dir, 'muco-m3t-sample.jsonl'), { checkImages: true });
    assert.ok(m3t !== undefined && pair !== undefined);
    assert.equal(m3t.turns.length, 7);
    assert.deepEqual(
      m3t.turns.map((t) => t.kind),
      ['cls', 'vqa_global1', 'vqa_global2', 'vqa_local1', 'vqa_local2', 'vqa_creative', 'retrieval'],
    );
    assert.deepEqual(m3t.turns[0]?.query, ['Which broad category does this belong to?', 'Classify the main subject.']);
    assert.equal(m3t.turns[1]?.query, 'What is the dominant object?');
    assert.equal(m3t.turns[3]?.target, 'green');
    assert.equal(m3t.queryImagePath, 'images/smoothie.png');
    assert.equal(m3t.targetImagePath, '');
    assert.match(m3t.querySentence, /green smoothie/);
    // A single-pair row: the <|image_1|> placeholder is stripped, negatives parsed from a Python list repr.
    assert.equal(pair.turns.length, 1);
    assert.equal(pair.turns[0]?.query, 'Find a similar everyday image with the described change: make it red');
    assert.equal(pair.turns[0]?.target, 'Represent the given image.');
    assert.deepEqual(pair.negatives, [{ text: 'Represent the given image.', imagePath: 'images/smoothie.png' }]);
  });

  it('reads MMEB-train rows with JSON or Python list strings and empty paths', async () => {
    const rows = await readTrainingRecords(join(dir, 'mmeb-train-sample.jsonl'), { format: 'mmeb-train', checkImages: true });
    assert.equal(rows.length, 2);
    assert.deepEqual(rows[0]?.negatives, [
      { text: 'water', imagePath: '' },
      { text: 'milk', imagePath: '' },
    ]);
    assert.equal(rows[0]?.turns[0]?.query, 'Represent the given image with the following question: What is in the glass?');
    assert.equal(rows[1]?.queryImagePath, '');
    assert.equal(rows[1]?.targetImagePath, 'images/red.png');
    assert.equal(rows[1]?.group, `${join(dir, 'mmeb-train-sample.jsonl')}#1`);
  });

  it('parses list strings: JSON, Python repr with escapes, empty', () => {
    assert.deepEqual(parseListString(`['a', "b's", 'c\\'d', 'e\\nf']`), ['a', "b's", "c'd", 'e\nf']);
    assert.deepEqual(parseListString('["x", "y"]'), ['x', 'y']);
    assert.deepEqual(parseListString('[]'), []);
    assert.deepEqual(parseListString('plain'), ['plain']);
    assert.throws(() => normalizeRecord({ qry: 'q', pos_text: 'p', neg_text: "['a', 'b'" }, 'f.jsonl', 3), /f\.jsonl row 3: cannot parse the list string/);
  });

  it('round-trips our rows and reads raw MMEB-train columns through parquet', async () => {
    const ours = [
      {
        id: 'twemoji/1f44b',
        qry: [['Name it.', 'What is it called?'], 'Which group?'],
        pos_text: ['waving hand', 'people & body'],
        pos_sentence: ['waving hand', 'people & body'],
        qry_sentence: 'A hand.',
        qry_image_path: 'images/red.png',
        pos_image_path: '',
        kinds: ['vqa_global1', 'cls'],
      },
      {
        id: 'p1',
        qry: '<|image_1|>\nwith dark skin tone',
        pos_text: '<|image_1|>\nRepresent the given image.',
        qry_image_path: 'images/red.png',
        pos_image_path: 'images/smoothie.png',
        neg_text: ['n1'],
      },
    ];
    const file = join(dir, 'ours.parquet');
    await writeRecordsParquet(file, ours);
    const back = await readTrainingRecords(file, { checkImages: true });
    assert.equal(back[0]?.id, 'twemoji/1f44b');
    assert.deepEqual(
      back[0]?.turns.map((t) => t.query),
      [['Name it.', 'What is it called?'], 'Which group?'],
    );
    assert.deepEqual(
      back[0]?.turns.map((t) => t.kind),
      ['vqa_global1', 'cls'],
    );
    assert.deepEqual(
      back[0]?.turns.map((t) => t.target),
      ['waving hand', 'people & body'],
    );
    assert.equal(back[1]?.turns[0]?.query, 'with dark skin tone');
    assert.equal(back[1]?.turns[0]?.kind, 'single');
    assert.equal(back[1]?.targetImagePath, 'images/smoothie.png');
    assert.deepEqual(
      back[1]?.negatives.map((n) => n.text),
      ['n1'],
    );

    const { parquetWriteBuffer } = await import('hyparquet-writer');
    const raw = parquetWriteBuffer({
      columnData: [
        { name: 'qry', data: ['<|image_1|>\nWhat is it?', 'a caption'], type: 'STRING' },
        { name: 'qry_image_path', data: ['images/red.png', ''], type: 'STRING' },
        { name: 'pos_text', data: ['a red drink', '<|image_1|>\nRepresent the given image.'], type: 'STRING' },
        { name: 'pos_image_path', data: ['', 'images/smoothie.png'], type: 'STRING' },
        { name: 'neg_text', data: ["['water', 'milk']", ''], type: 'STRING' },
      ],
    });
    writeFileSync(join(dir, 'mmeb.parquet'), new Uint8Array(raw));
    const mmeb = await readTrainingRecords(join(dir, 'mmeb.parquet'), { format: 'mmeb-train', checkImages: true });
    assert.deepEqual(
      mmeb.map((r) => r.turns[0]?.query),
      ['What is it?', 'a caption'],
    );
    assert.deepEqual(
      mmeb[0]?.negatives.map((n) => n.text),
      ['water', 'milk'],
    );
    assert.deepEqual(mmeb[1]?.negatives, []);
  });

  it('names file and line for a malformed JSONL line', async () => {
    const file = join(dir, 'bad.jsonl');
    writeFileSync(file, '{"qry": "a", "pos_text": "b"}\n\n{"qry": "a", "pos_text": \n');
    await assert.rejects(readTrainingRecords(file), (e: Error) => e.message.includes(`${file} line 3 (row 1): not valid JSON`));
  });

  it('names file, row and field for missing or mistyped fields', async () => {
    const cases: [unknown, RegExp][] = [
      [{ pos_text: 'b' }, /row 0 \(line 1\): field "qry": expected a string or a list of turns, got nothing \(missing\)/],
      [{ qry: 'a' }, /field "pos_text": expected a string or a list of strings, got nothing/],
      [{ qry: ['a', 'b'], pos_text: ['x'] }, /field "pos_text": expected a list of 2 strings aligned with qry/],
      [{ qry: ['a', []], pos_text: ['x', 'y'] }, /field "qry\[1\]": expected a string or a non-empty list of strings/],
      [{ qry: 'a', pos_text: 'b', qry_image_path: 7 }, /field "qry_image_path": expected a string, got 7/],
      [{ qry: 'a', pos_text: 'b', neg_text: ['n1', 'n2'], neg_image_path: ['only-one.png'] }, /field "neg_image_path": expected 2 paths aligned with neg_text/],
      [[1, 2], /field "\(row\)": expected an object/],
    ];
    for (const [row, pattern] of cases) {
      const file = join(dir, 'case.jsonl');
      writeFileSync(file, JSON.stringify(row) + '\n');
      await assert.rejects(readTrainingRecords(file), (e: Error) => pattern.test(e.message) && e.message.includes(file), `${JSON.stringify(row)} → ${pattern}`);
    }
    const file = join(dir, 'multi.jsonl');
    writeFileSync(file, '{"qry": ["a"], "pos_text": ["b"]}\n');
    await assert.rejects(readTrainingRecords(file, { format: 'mmeb-train' }), /field "qry": expected a string \(MMEB-train has one query per row\)/);
  });

  it('names the missing image with its field, and the missing file', async () => {
    const file = join(dir, 'noimg.jsonl');
    writeFileSync(
      file,
      '{"qry": "a", "pos_text": "b", "qry_image_path": "images/red.png"}\n{"qry": "a", "pos_text": "b", "pos_image_path": "images/gone.png"}\n',
    );
    await assert.rejects(readTrainingRecords(file, { checkImages: true }), (e: Error) =>
      /row 1 \(line 2\): field "pos_image_path": image images\/gone\.png not found under/.test(e.message),
    );
    assert.equal((await readTrainingRecords(file)).length, 2, 'without checkImages the paths are not checked');
    await assert.rejects(readTrainingRecords(join(dir, 'nope.jsonl')), /nope\.jsonl does not exist/);
    await assert.rejects(readTrainingRecords(join(dir, 'images', 'red.png')), /unknown extension/);
  });
});
