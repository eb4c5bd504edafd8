/**
 * Dense descriptions assembled from a concept's fields and its image's colours: the target of M3T's
 * retrieval turn ("a short query whose positive target is the dense caption", docs/method.md §7) and the
 * `qry_sentence` / `pos_sentence` captions of the records. They name the drawing style, so the same
 * concept drawn by two artists gets two different descriptions.
 */
import { ColourStats } from './colour';
import { Concept, ImageRef, STYLE_INFO } from './concepts';
import { TONE_NAMES } from './emoji';

/** "a, b and c". */
export function listPhrase(items: readonly string[]): string {
  if (items.length <= 1) return items[0] ?? '';
  return `${items.slice(0, -1).join(', ')} and ${items[items.length - 1]}`;
}

/** Emoji version as written in the standard ("Emoji 0.6", "Emoji 13.0"). */
export function emojiVersion(version: number): string {
  return `Emoji ${Number.isInteger(version) ? version.toFixed(1) : String(version)}`;
}

/** CLDR skin-tone phrase for tones 1–5 ("dark skin tone", "light skin tone, dark skin tone"). */
export function tonePhrase(tones: readonly number[]): string {
  return tones.map((t) => `${TONE_NAMES[t] ?? String(t)} skin tone`).join(', ');
}

function colourSentence(colours: ColourStats, subject: string): string {
  const main = colours.main.slice(0, 3).map((c) => c.name);
  const parts: string[] = [];
  if (main.length > 0) parts.push(`${subject} mostly ${listPhrase(main)}`);
  const { top, bottom } = colours.regions;
  if (top !== undefined && bottom !== undefined && top !== bottom) parts.push(`${top} at the top and ${bottom} at the bottom`);
  return parts.length > 0 ? `${parts.join(', ')}.` : '';
}

function describeEmoji(concept: Concept, image: ImageRef, colours: ColourStats): string {
  const f = concept.emoji;
  if (f === undefined) throw new Error(`describeEmoji needs an emoji concept, got ${concept.id}.`);
  const group = concept.categories.group['en'] ?? f.groupKey;
  const subgroup = concept.categories.subgroup['en'] ?? f.subgroupKey;
  const out = [`${concept.label}: an emoji of the ${group} group (${subgroup}), drawn in the ${STYLE_INFO[image.style].phrase}.`];
  const attrs: string[] = [];
  if (f.tones.length > 0) attrs.push(tonePhrase(f.tones));
  if (f.gender !== undefined) attrs.push(`shown as a ${f.gender}`);
  if (f.hair !== undefined) attrs.push(`with ${f.hair}`);
  if (attrs.length > 0) out.push(`Variant: ${attrs.join('; ')}.`);
  const colour = colourSentence(colours, 'It is');
  if (colour !== '') out.push(colour);
  const tags = (concept.tags['en'] ?? []).slice(0, 6);
  if (tags.length > 0) out.push(`Keywords: ${tags.join(', ')}.`);
  if (f.associations.length > 0) out.push(`Often used for ${listPhrase(f.associations.slice(0, 4))}.`);
  if (f.shortcodes.length > 0) out.push(`Shortcode :${f.shortcodes[0]}:.`);
  out.push(`Introduced in ${emojiVersion(f.version)}.`);
  return out.join(' ');
}

function describeFlag(concept: Concept, image: ImageRef, colours: ColourStats): string {
  const f = concept.flag;
  if (f === undefined) throw new Error(`describeFlag needs a flag concept, got ${concept.id}.`);
  const out = [`Flag of ${concept.label} (${f.official}), drawn in the ${STYLE_INFO[image.style].phrase}.`];
  out.push(`A ${f.landlocked ? 'landlocked ' : ''}country in ${f.subregion}, ${f.region}.`);
  const facts: string[] = [];
  if (f.capitals.length > 0) facts.push(`capital ${listPhrase(f.capitals)}`);
  if (f.languages.length > 0) facts.push(`languages ${listPhrase(f.languages.slice(0, 4))}`);
  if (f.currencies.length > 0) facts.push(`currency ${listPhrase(f.currencies)}`);
  if (f.borderNames.length > 0) facts.push(`bordering ${listPhrase(f.borderNames.slice(0, 6))}`);
  if (facts.length > 0) out.push(`${facts.join('; ')}.`.replace(/^./, (c) => c.toUpperCase()));
  const colour = colourSentence(colours, 'The flag is');
  if (colour !== '') out.push(colour);
  return out.join(' ');
}

/** The dense description of one image of a concept. */
export function describeImage(concept: Concept, image: ImageRef, colours: ColourStats): string {
  return concept.kind === 'emoji' ? describeEmoji(concept, image, colours) : describeFlag(concept, image, colours);
}
