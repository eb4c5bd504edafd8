/**
 * Colour facts computed from pixels, for mini-M3T's "local VQA" turns (M3T §2: questions about localised
 * details) and for the dense descriptions. Only opaque pixels count, so the white canvas around an emoji or
 * a 4:3 flag never answers "what colour is at the top?".
 *
 * Naming is a fixed, documented heuristic on HSV (hue in degrees, saturation and value in [0, 1]):
 * value < 0.2 → black; saturation < 0.18 → white (value > 0.85), grey otherwise; then by hue:
 * red [345, 15), orange [15, 40), yellow [40, 68), green [68, 165), blue [165, 255), purple [255, 290),
 * pink [290, 345); an orange or red hue with value < 0.6 reads as brown.
 * A region gets a colour only when it is covered enough and one colour holds at least `minRegionShare` of
 * its opaque pixels (a vertical tricolour has no single colour in its top half).
 */

export const COLOUR_NAMES = [
  'black', 'white', 'grey', 'red', 'orange', 'yellow', 'green', 'blue', 'purple', 'pink', 'brown',
] as const;
export type ColourName = (typeof COLOUR_NAMES)[number];

export const REGIONS = ['top', 'bottom', 'left', 'right', 'centre'] as const;
export type Region = (typeof REGIONS)[number];

/** Colour facts of one image. */
export interface ColourStats {
  /** Colours covering at least `minShare` of the opaque pixels, most common first, with their shares. */
  main: { name: ColourName; share: number }[];
  /** The most common colour of each region's opaque pixels; absent when the region is mostly empty. */
  regions: Partial<Record<Region, ColourName>>;
  /** Fraction of the canvas covered by opaque pixels. */
  coverage: number;
}

/** Name an RGB colour (0–255 channels) with the heuristic above. */
export function colourName(r: number, g: number, b: number): ColourName {
  const max = Math.max(r, g, b) / 255;
  const min = Math.min(r, g, b) / 255;
  const v = max;
  const s = max === 0 ? 0 : (max - min) / max;
  if (v < 0.2) return 'black';
  if (s < 0.18) return v > 0.85 ? 'white' : 'grey';
  const h = hueDegrees(r, g, b);
  if (h >= 345 || h < 15) return v < 0.6 ? 'brown' : 'red';
  if (h < 40) return v < 0.6 ? 'brown' : 'orange';
  if (h < 68) return 'yellow';
  if (h < 165) return 'green';
  if (h < 255) return 'blue';
  if (h < 290) return 'purple';
  return 'pink';
}

function hueDegrees(r: number, g: number, b: number): number {
  const max = Math.max(r, g, b);
  const d = max - Math.min(r, g, b);
  if (d === 0) return 0;
  let h: number;
  if (max === r) h = ((g - b) / d) % 6;
  else if (max === g) h = (b - r) / d + 2;
  else h = (r - g) / d + 4;
  return (h * 60 + 360) % 360;
}

function inRegion(region: Region, x: number, y: number, side: number): boolean {
  const half = side / 2;
  switch (region) {
    case 'top':
      return y < half;
    case 'bottom':
      return y >= half;
    case 'left':
      return x < half;
    case 'right':
      return x >= half;
    case 'centre':
      return x >= side / 4 && x < (3 * side) / 4 && y >= side / 4 && y < (3 * side) / 4;
  }
}

function argmax(counts: Map<ColourName, number>): ColourName | undefined {
  let best: ColourName | undefined;
  let bestCount = -1;
  // Ties go to the earlier name in COLOUR_NAMES, so the result does not depend on pixel order.
  for (const name of COLOUR_NAMES) {
    const c = counts.get(name) ?? 0;
    if (c > bestCount) {
      best = name;
      bestCount = c;
    }
  }
  return bestCount > 0 ? best : undefined;
}

/**
 * Colour facts of a square RGBA image.
 * @param rgba [side, side, 4] bytes; pixels with alpha < 128 are ignored.
 * @param minShare smallest share of the opaque pixels for a colour to be listed in `main`.
 * @param minRegionCoverage smallest opaque fraction of a region for it to get a colour.
 * @param minRegionShare smallest share of a region's opaque pixels its dominant colour must hold.
 */
export function colourStats(rgba: Uint8Array, side: number, minShare = 0.1, minRegionCoverage = 0.15, minRegionShare = 0.4): ColourStats {
  if (rgba.length !== side * side * 4) {
    throw new Error(`colourStats expects [${side}, ${side}, 4] = ${side * side * 4} bytes, got ${rgba.length}.`);
  }
  const total = new Map<ColourName, number>();
  const perRegion = new Map<Region, Map<ColourName, number>>(REGIONS.map((r) => [r, new Map()]));
  const regionPixels = new Map<Region, number>(REGIONS.map((r) => [r, 0]));
  let opaque = 0;
  for (let y = 0; y < side; y++) {
    for (let x = 0; x < side; x++) {
      const i = (y * side + x) * 4;
      for (const region of REGIONS) if (inRegion(region, x, y, side)) regionPixels.set(region, (regionPixels.get(region) ?? 0) + 1);
      if ((rgba[i + 3] as number) < 128) continue;
      opaque++;
      const name = colourName(rgba[i] as number, rgba[i + 1] as number, rgba[i + 2] as number);
      total.set(name, (total.get(name) ?? 0) + 1);
      for (const region of REGIONS) {
        if (!inRegion(region, x, y, side)) continue;
        const m = perRegion.get(region) as Map<ColourName, number>;
        m.set(name, (m.get(name) ?? 0) + 1);
      }
    }
  }
  const main = COLOUR_NAMES.map((name) => ({ name, share: opaque === 0 ? 0 : (total.get(name) ?? 0) / opaque }))
    .filter((c) => c.share >= minShare && c.share > 0)
    .sort((a, b) => b.share - a.share || COLOUR_NAMES.indexOf(a.name) - COLOUR_NAMES.indexOf(b.name))
    .map((c) => ({ name: c.name, share: Math.round(c.share * 1000) / 1000 }));
  const regions: Partial<Record<Region, ColourName>> = {};
  for (const region of REGIONS) {
    const counts = perRegion.get(region) as Map<ColourName, number>;
    let covered = 0;
    for (const c of counts.values()) covered += c;
    if (covered / (regionPixels.get(region) ?? 1) < minRegionCoverage) continue;
    const best = argmax(counts);
    if (best !== undefined && (counts.get(best) ?? 0) >= minRegionShare * covered) regions[region] = best;
  }
  return { main, regions, coverage: Math.round((opaque / (side * side)) * 1000) / 1000 };
}
