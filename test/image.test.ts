import { strict as assert } from 'assert';
import { mkdtempSync, rmSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import { join } from 'path';
import sharp from 'sharp';
import { boxDownsample, bytesToFloat, CLIP_MEAN, CLIP_STD, decodeImage, decodeImageBytes, flattenRgba, ImageFileError, renderSize } from '../lib/image';
import { Rng } from '../lib/random';

/** Naive twins, written independently of lib/image.ts. */
function naiveFlatten(rgba: Uint8Array, bg: [number, number, number]): number[] {
  const out: number[] = [];
  for (let p = 0; p < rgba.length / 4; p++) {
    const a = (rgba[4 * p + 3] as number) / 255;
    for (let c = 0; c < 3; c++) out.push(Math.round((rgba[4 * p + c] as number) * a + (bg[c] as number) * (1 - a)));
  }
  return out;
}

function naiveBox(rgb: Uint8Array, side: number, f: number): number[] {
  const o = side / f;
  const out: number[] = [];
  for (let y = 0; y < o; y++) {
    for (let x = 0; x < o; x++) {
      for (let c = 0; c < 3; c++) {
        const vals: number[] = [];
        for (let yy = y * f; yy < (y + 1) * f; yy++) for (let xx = x * f; xx < (x + 1) * f; xx++) vals.push(rgb[(yy * side + xx) * 3 + c] as number);
        out.push(Math.round(vals.reduce((a, b) => a + b, 0) / vals.length));
      }
    }
  }
  return out;
}

function randomBytes(rng: Rng, n: number): Uint8Array {
  return Uint8Array.from({ length: n }, () => rng.int(256));
}

describe('image pipeline', () => {
  let dir: string;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'muco-image-'));
    // A 40×20 red/blue PNG (non-square: letterboxed), a JPEG, a WebP, an SVG with a transparent half.
    const raw = new Uint8Array(40 * 20 * 3);
    for (let y = 0; y < 20; y++) for (let x = 0; x < 40; x++) raw.set(x < 20 ? [255, 0, 0] : [0, 0, 255], (y * 40 + x) * 3);
    const img = sharp(Buffer.from(raw), { raw: { width: 40, height: 20, channels: 3 } });
    await img.clone().png().toFile(join(dir, 'rb.png'));
    await img.clone().jpeg({ quality: 95 }).toFile(join(dir, 'rb.jpg'));
    await img.clone().webp({ lossless: true }).toFile(join(dir, 'rb.webp'));
    writeFileSync(
      join(dir, 'half.svg'),
      '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 10 10"><rect x="0" y="0" width="10" height="5" fill="#00ff00"/></svg>',
    );
    writeFileSync(join(dir, 'empty.png'), '');
    writeFileSync(join(dir, 'garbage.png'), Buffer.from(randomBytes(new Rng(1), 500)));
    const png = await img.clone().png().toBuffer();
    writeFileSync(join(dir, 'truncated.png'), png.subarray(0, Math.floor(png.length / 2)));
    writeFileSync(join(dir, 'broken.svg'), '<svg xmlns="http://www.w3.org/2000/svg"><rect');
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('renders at the smallest multiple of the size that is ≥ 64 px', () => {
    assert.deepEqual([16, 32, 48, 64, 100].map(renderSize), [64, 64, 96, 64, 100]);
    assert.throws(() => renderSize(0), /integer in \[1, 4096\]/);
  });

  it('decodes PNG, JPEG and WebP to [size, size, 3] with white letterbox bars', async () => {
    for (const file of ['rb.png', 'rb.jpg', 'rb.webp']) {
      const px = await decodeImageBytes(join(dir, file), 32);
      assert.equal(px.length, 32 * 32 * 3);
      const at = (x: number, y: number): number[] => Array.from(px.subarray((y * 32 + x) * 3, (y * 32 + x) * 3 + 3));
      assert.deepEqual(at(16, 0), [255, 255, 255], `${file}: top bar is white`);
      assert.deepEqual(at(16, 31), [255, 255, 255], `${file}: bottom bar is white`);
      const left = at(4, 16);
      const right = at(28, 16);
      assert.ok((left[0] as number) > 200 && (left[2] as number) < 60, `${file}: left is red, got ${left}`);
      assert.ok((right[2] as number) > 200 && (right[0] as number) < 60, `${file}: right is blue, got ${right}`);
    }
  });

  it('rasterises SVG and paints transparency white', async () => {
    const px = await decodeImageBytes(join(dir, 'half.svg'), 16);
    const at = (x: number, y: number): number[] => Array.from(px.subarray((y * 16 + x) * 3, (y * 16 + x) * 3 + 3));
    assert.deepEqual(at(8, 2), [0, 255, 0]);
    assert.deepEqual(at(8, 13), [255, 255, 255]);
  });

  it('gives floats in [0, 1] or CLIP-normalised, laid out [H, W, 3]', async () => {
    const unit = await decodeImage(join(dir, 'half.svg'), { size: 16 });
    const bytes = await decodeImageBytes(join(dir, 'half.svg'), 16);
    assert.equal(unit.length, 16 * 16 * 3);
    bytes.forEach((b, i) => assert.ok(Math.abs((unit[i] as number) - b / 255) < 1e-6));
    const clip = await decodeImage(join(dir, 'half.svg'), { size: 16, normalization: 'clip' });
    bytes.forEach((b, i) => assert.ok(Math.abs((clip[i] as number) - (b / 255 - (CLIP_MEAN[i % 3] as number)) / (CLIP_STD[i % 3] as number)) < 1e-5));
  });

  it('flattenRgba and boxDownsample agree with naive loops', () => {
    const rng = new Rng(7);
    for (let t = 0; t < 5; t++) {
      const rgba = randomBytes(rng, 8 * 8 * 4);
      assert.deepEqual(Array.from(flattenRgba(rgba, [255, 255, 255])), naiveFlatten(rgba, [255, 255, 255]));
      assert.deepEqual(Array.from(flattenRgba(rgba, [10, 20, 30])), naiveFlatten(rgba, [10, 20, 30]));
      const rgb = randomBytes(rng, 12 * 12 * 3);
      for (const f of [1, 2, 3, 4]) assert.deepEqual(Array.from(boxDownsample(rgb, 12, f)), naiveBox(rgb, 12, f));
    }
    assert.throws(() => boxDownsample(new Uint8Array(12 * 12 * 3), 12, 5), /positive divisor of 12/);
  });

  it('bytesToFloat matches per-element formulas', () => {
    const rgb = randomBytes(new Rng(3), 30);
    const clip = bytesToFloat(rgb, 'clip');
    rgb.forEach((b, i) => assert.ok(Math.abs((clip[i] as number) - (b / 255 - (CLIP_MEAN[i % 3] as number)) / (CLIP_STD[i % 3] as number)) < 1e-5));
  });

  for (const [file, pattern] of [
    ['missing.png', /does not exist/],
    ['empty.png', /is empty/],
    ['garbage.png', /corrupt or not a supported image/],
    ['truncated.png', /corrupt or not a supported image/],
    ['broken.svg', /corrupt or not a supported image/],
  ] as const) {
    it(`rejects ${file} with an error naming the file`, async () => {
      const path = join(dir, file);
      await assert.rejects(decodeImage(path), (err: unknown) => {
        assert.ok(err instanceof ImageFileError);
        assert.equal(err.path, path);
        assert.ok(err.message.includes(path), err.message);
        assert.match(err.message, pattern);
        return true;
      });
    });
  }
});
