import { strict as assert } from 'node:assert';
import sharp from 'sharp';
import { attributionLines, galleryHtml, pngDataUrl } from '../lib/notebook/gallery';
import { Rng } from '../lib/random';

/** Naive nearest-neighbour upscaling: output pixel (y, x) is input pixel (⌊y/s⌋, ⌊x/s⌋). */
function upscale(rgb: Uint8Array, width: number, height: number, s: number): Uint8Array {
  const out = new Uint8Array(width * s * height * s * 3);
  for (let y = 0; y < height * s; y++) {
    for (let x = 0; x < width * s; x++) {
      for (let c = 0; c < 3; c++) out[(y * width * s + x) * 3 + c] = rgb[(Math.floor(y / s) * width + Math.floor(x / s)) * 3 + c] as number;
    }
  }
  return out;
}

async function decodeDataUrl(url: string): Promise<{ data: Uint8Array; width: number; height: number }> {
  assert.ok(url.startsWith('data:image/png;base64,'), url.slice(0, 40));
  const png = Buffer.from(url.slice('data:image/png;base64,'.length), 'base64');
  const { data, info } = await sharp(png).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  return { data: new Uint8Array(data), width: info.width, height: info.height };
}

describe('gallery: pngDataUrl', () => {
  const rng = new Rng(7);
  const width = 5;
  const height = 3;
  const rgb = Uint8Array.from({ length: width * height * 3 }, () => rng.int(256));

  for (const scale of [1, 3]) {
    it(`encodes the pixels losslessly, scaled ×${scale} by nearest neighbour`, async () => {
      const back = await decodeDataUrl(await pngDataUrl(rgb, width, height, scale));
      assert.equal(back.width, width * scale);
      assert.equal(back.height, height * scale);
      assert.deepEqual(back.data, upscale(rgb, width, height, scale));
    });
  }

  it('rejects a wrong byte count and a non-integer scale', async () => {
    await assert.rejects(pngDataUrl(rgb.subarray(1), width, height), /expects \[3, 5, 3\] = 45 bytes, got 44/);
    await assert.rejects(pngDataUrl(rgb, width, height, 1.5), /positive integer, got 1.5/);
  });
});

describe('gallery: galleryHtml and attributionLines', () => {
  it('renders one card per image with escaped titles and tables', () => {
    const html = galleryHtml([
      { image: 'data:image/png;base64,AAAA', title: 'a <b>', subtitle: 'train', rows: [{ kind: 'cls', target: 'x < y' }] },
      { image: 'data:image/png;base64,BBBB', title: 'second' },
    ]);
    assert.equal((html.match(/<img /g) ?? []).length, 2);
    assert.ok(html.includes('a &lt;b&gt;') && !html.includes('a <b>'), 'title escaped');
    assert.ok(html.includes('<td>x &lt; y</td>'));
    assert.equal((html.match(/<table>/g) ?? []).length, 1);
  });

  it('gives the artwork attribution of each style once, in first-seen order', () => {
    const lines = attributionLines(['openmoji', 'twemoji', 'openmoji', 'flag-icons', 'noto']);
    assert.equal(lines.length, 4);
    assert.match(lines[0] as string, /OpenMoji.*CC BY-SA 4\.0/);
    assert.match(lines[1] as string, /Twemoji.*CC-BY 4\.0/);
    assert.match(lines[2] as string, /flag-icons.*MIT/);
    assert.match(lines[3] as string, /Noto.*Apache/);
    assert.throws(() => attributionLines(['emojione']), /unknown image style "emojione"; expected one of twemoji/);
  });
});
