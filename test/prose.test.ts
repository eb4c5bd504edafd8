import { strict as assert } from 'assert';
import { controlSentences, rankingSentence, verdictSentences } from '../lib/analysis/prose';
import type { ClaimResult } from '../lib/analysis/verdicts';
import { columnDecimals, notesHtml, tableHtml } from '../lib/notebook/display';

function result(id: string, status: ClaimResult['status'], diff: [number, number, number] | null, margin = 0): ClaimResult {
  return {
    id,
    statement: '',
    paper: { table: 'T', treatment: 'a', reference: 'b', treatmentValue: 58.2, referenceValue: 57.1, effect: 1.1 },
    experiment: 'core',
    metric: 'mini-MMEB overall',
    margin,
    status,
    reason: status === 'not run' ? 'missing' : null,
    runs: { treatment: [], reference: [] },
    unpaired: [],
    treatment: null,
    reference: null,
    difference: diff === null ? null : { diff: diff[0], lo: diff[1], hi: diff[2], level: 0.95, resamples: 100, seedsA: 1, seedsB: 1, queries: 10 },
  };
}

describe('prose computed from the numbers', () => {
  it('verdict sentences state each class with the numbers behind it', () => {
    const s = verdictSentences(
      [
        result('C1', 'supported', [4.2, 1.04, 7.5]),
        result('C2', 'inconclusive', [-0.5, -3, 2], 2),
        result('C3a', 'contradicted', [-6, -9, -2]),
        result('C4', 'not run', null),
      ],
      'full',
    );
    assert.deepEqual(s, [
      'At the full scale 3 comparisons of 4 could be made.',
      "1 goes the paper's way beyond the noise (95% interval above 0): C1 +4.2 [+1.0, +7.5] vs the paper's +1.1.",
      "1 goes against it beyond the noise: C3a −6.0 [−9.0, −2.0] vs the paper's +1.1.",
      "1 is inconclusive (the interval straddles the threshold): C2 −0.5 [−3.0, +2.0] vs the paper's +1.1.",
      'Not run at this scale: C4.',
    ]);
    assert.match(verdictSentences([result('C1', 'inconclusive', [0, -1, 1])], 'quick')[1]!, /^None goes the paper's way/);
    assert.deepEqual(verdictSentences([result('C1', 'not run', null)], 'smoke'), [
      'At the smoke scale no comparison could be made: 1 comparison lack finished runs.',
    ]);
  });

  it('control sentences tell reading the image from leaning on the text and from chance', () => {
    const s = controlSentences(
      [
        { run: 'a', mrr: 12.3, otherImage: 1.0, imageOnly: 10.6 },
        { run: 'b', mrr: 12.3, otherImage: 9.0, imageOnly: 3.0 },
        { run: 'c', mrr: 2.3, otherImage: 2.2, imageOnly: 2.1 },
        { run: 'd', mrr: null, otherImage: null, imageOnly: null },
      ],
      2.1,
    );
    assert.match(s[0]!, /^a reads the image: validation MRR 12\.3 with its image, 1\.0 with another record's, 10\.6 from the image alone \(chance 2\.1\)\.$/);
    assert.match(s[1]!, /^b leans on the query text/);
    assert.match(s[2]!, /^c is at chance/);
    assert.match(s[3]!, /no image controls recorded/);
  });

  it('ranking sentence orders the runs and marks ties', () => {
    assert.equal(
      rankingSentence(
        'mini-MMEB overall',
        [
          { run: 'x', value: 3 },
          { run: 'y', value: 12 },
          { run: 'z', value: 3 },
          { run: 'w', value: null },
        ],
        2.9,
      ),
      'mini-MMEB overall: y 12.0 > x 3.0 = z 3.0 (chance 2.9).',
    );
    assert.equal(rankingSentence('m', []), 'm: no run has it.');
  });

  it('notes render as an escaped list', () => {
    assert.equal(notesHtml(['a < b & c'], 'H'), '<p><b>H</b></p><ul><li>a &lt; b &amp; c</li></ul>');
  });
});

describe('notebook tables', () => {
  it('one number format per column: 42.8 beside 53.0, integers stay integers, text escaped', () => {
    const html = tableHtml(
      [
        { run: 'a<b', score: 42.8, steps: 200, tiny: 0.0001234, big: 1234.56 },
        { run: 'c', score: 53, steps: 300, tiny: 0.5, big: 100 },
      ],
      'cap & more',
    );
    assert.match(html, /<td>a&lt;b<\/td><td>42\.8<\/td><td>200<\/td><td>0\.000123<\/td><td>1234\.6<\/td>/);
    assert.match(html, /<td>c<\/td><td>53\.0<\/td><td>300<\/td><td>0\.5<\/td><td>100\.0<\/td>/);
    assert.match(html, /<caption>cap &amp; more<\/caption>/);
    assert.equal(columnDecimals([1.23456, 2]), 3);
    assert.equal(columnDecimals([null, 'x', 5]), 0);
  });
});
