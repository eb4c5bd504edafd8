import { strict as assert } from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../lib/backend';
import { resolveRun } from '../lib/runner/config';
import { baseTokenizer, baseWeightsHash, initialModel, resolveInit } from '../lib/runner/init';
import { saveCheckpoint } from '../lib/model/checkpoint';
import { Embedder } from '../lib/model/embedder';
import { Tokenizer } from '../lib/tokenizer';

describe('run initialisation (base or scratch)', () => {
  let dir: string;
  let base: Embedder;
  const tokenizer = Tokenizer.fromCorpus(['a red square', 'a blue circle', 'which colour is it?']);
  before(async () => {
    await initBackend({ backend: 'cpu' });
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'init-'));
    const cfg = resolveRun('e', 'r', { preset: 'tiny', model: { vocabSize: tokenizer.vocabSize } });
    base = Embedder.create(cfg.model, tokenizer, 11);
    await saveCheckpoint(path.join(dir, 'model'), base.config, tokenizer, base.params, { step: 1, base: true });
  });
  after(() => {
    base.dispose();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const run = (o: Parameters<typeof resolveRun>[2] = {}) => resolveRun('e', 'r', { preset: 'tiny', init: { dir: path.join(dir, 'model') }, ...o });

  it('starts from the base by default and loads exactly its weights, recording their hash', async () => {
    assert.equal(resolveRun('e', 'r', {}).init.from, 'base');
    const cfg = resolveInit(run());
    assert.equal(cfg.init.sha256, baseWeightsHash(path.join(dir, 'model')));
    assert.match(cfg.init.sha256 ?? '', /^[0-9a-f]{64}$/);
    const tok = baseTokenizer(cfg) as Tokenizer;
    assert.equal(tok.fingerprint(), tokenizer.fingerprint());
    const model = await initialModel(cfg, tok);
    for (const [name, v] of base.params) assert.deepEqual(model.params.get(name)?.dataSync(), v.dataSync(), name);
    model.dispose();
  });

  it('scratch is a seeded fresh model, unlike the base', async () => {
    const cfg = resolveInit(run({ init: { from: 'scratch' }, model: { vocabSize: tokenizer.vocabSize } }));
    assert.equal(cfg.init.sha256, null);
    const model = await initialModel(cfg, tokenizer);
    assert.notDeepEqual(model.params.get('lm.embed')?.dataSync(), base.params.get('lm.embed')?.dataSync());
    model.dispose();
  });

  it('a missing base names the file and the fix', () => {
    assert.throws(
      () => resolveInit(run({ init: { dir: path.join(dir, 'nowhere') } })),
      (e: Error) => /nowhere[/\\]model\.json/.test(e.message) && /npm run pretrain -- --preset tiny/.test(e.message) && /init\.from=scratch/.test(e.message),
    );
  });

  it('a base of another architecture, or with other weights than the run recorded, is refused by name', () => {
    assert.throws(() => resolveInit(run({ model: { layers: 3 } })), /model\.layers: base 2 vs run 3/);
    assert.throws(() => resolveInit(run({ init: { dir: path.join(dir, 'model'), sha256: 'f'.repeat(64) } })), /init\.sha256/);
    assert.throws(() => resolveRun('e', 'r', { init: { from: 'pretrained' as never } }), /init\.from must be 'base' or 'scratch'/);
  });

  it('leaks no tensor', async () => {
    const before = tf.memory().numTensors;
    const cfg = resolveInit(run());
    const model = await initialModel(cfg, baseTokenizer(cfg) as Tokenizer);
    model.dispose();
    assert.equal(tf.memory().numTensors, before);
  });
});
