/**
 * Image galleries for notebooks: raw RGB pixels (the image cache's rows) as inline PNG data URLs, cards of
 * an image with a caption and a small table, and the attribution lines the artwork shown requires
 * (Twemoji CC-BY 4.0, OpenMoji CC BY-SA 4.0, Noto Apache-2.0; see the data card).
 */
import sharp from 'sharp';
import { STYLE_INFO, type Style } from '../data/concepts';
import { ATTRIBUTION } from '../data/card';
import { tableHtml } from './display';

/**
 * Encode [height, width, 3] RGB bytes as a `data:image/png;base64,…` URL, each pixel scaled up to a
 * `scale`×`scale` block (nearest neighbour: a 64 px emoji stays crisp at 128 px).
 */
export async function pngDataUrl(rgb: Uint8Array, width: number, height: number, scale = 1): Promise<string> {
  if (rgb.length !== width * height * 3) {
    throw new Error(`pngDataUrl expects [${height}, ${width}, 3] = ${width * height * 3} bytes, got ${rgb.length}.`);
  }
  if (!(Number.isInteger(scale) && scale >= 1)) throw new Error(`pngDataUrl scale must be a positive integer, got ${scale}.`);
  let image = sharp(Buffer.from(rgb.buffer, rgb.byteOffset, rgb.length), { raw: { width, height, channels: 3 } });
  if (scale > 1) image = image.resize(width * scale, height * scale, { kernel: 'nearest' });
  const png = await image.png().toBuffer();
  return `data:image/png;base64,${png.toString('base64')}`;
}

/** One card of a gallery. */
export interface GalleryCard {
  /** Image URL (e.g. from `pngDataUrl`). */
  image: string;
  title: string;
  subtitle?: string;
  /** Rows of a small table under the image (column order = keys of the first row). */
  rows?: Record<string, unknown>[];
}

function escapeHtml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** Cards side by side (wrapping), each `width` px wide: image, bold title, grey subtitle, table. */
export function galleryHtml(cards: readonly GalleryCard[], width = 420): string {
  const card = (c: GalleryCard): string =>
    `<div style="width:${width}px;border:1px solid #ddd;border-radius:6px;padding:8px;font-size:85%">` +
    `<img src="${escapeHtml(c.image)}" alt="${escapeHtml(c.title)}" style="image-rendering:pixelated;display:block;margin-bottom:4px">` +
    `<div><b>${escapeHtml(c.title)}</b></div>` +
    (c.subtitle === undefined ? '' : `<div style="color:#666">${escapeHtml(c.subtitle)}</div>`) +
    (c.rows === undefined || c.rows.length === 0 ? '' : tableHtml(c.rows)) +
    '</div>';
  return `<div style="display:flex;flex-wrap:wrap;gap:10px;align-items:flex-start">${cards.map(card).join('')}</div>`;
}

/** The ATTRIBUTION line (lib/data/card.ts) each emoji style needs, found by its artist's name. */
const ATTRIBUTION_KEYS: Readonly<Partial<Record<Style, string>>> = { twemoji: 'Twemoji', openmoji: 'OpenMoji', noto: 'Noto' };

/**
 * The attribution and licence lines for the styles shown: the data card's line for Twemoji, OpenMoji and
 * Noto artwork, and "package: licence" for the flag renderings. One line per style, in first-seen order.
 * @throws on a style that mini-M3T does not have.
 */
export function attributionLines(styles: Iterable<string>): string[] {
  const out: string[] = [];
  for (const style of new Set(styles)) {
    if (!(style in STYLE_INFO)) throw new Error(`unknown image style "${style}"; expected one of ${Object.keys(STYLE_INFO).join(', ')}.`);
    const key = ATTRIBUTION_KEYS[style as Style];
    const line = key === undefined ? undefined : ATTRIBUTION.find((a) => a.includes(key));
    const info = STYLE_INFO[style as Style];
    out.push(line ?? `${style} artwork via the ${info.packageName} package: ${info.artworkLicence}.`);
  }
  return out;
}
