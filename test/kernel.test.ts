/** scripts/kernel: the Jupyter kernel is registered under the project's own name, the one every notebook asks for. */
import { strict as assert } from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import { kernelDir, KERNEL_NAME } from '../scripts/kernel';

describe('notebook kernel', () => {
  it('is registered as muco-ts (never replacing a generic tslab kernel), and every notebook asks for it', () => {
    assert.equal(KERNEL_NAME, 'muco-ts');
    assert.equal(path.basename(kernelDir(false)), KERNEL_NAME);
    const dir = path.join(__dirname, '..', 'notebooks');
    const notebooks = fs.readdirSync(dir).filter((f) => f.endsWith('.ipynb'));
    assert.ok(notebooks.length >= 10);
    for (const f of notebooks) {
      const meta = (JSON.parse(fs.readFileSync(path.join(dir, f), 'utf8')) as { metadata: { kernelspec: { name: string } } }).metadata;
      assert.equal(meta.kernelspec.name, KERNEL_NAME, f);
    }
  });
});
