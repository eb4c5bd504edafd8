/**
 * Labels for linear probes on mini-M3T images: facts a model that sees the image should be able to read off
 * it. Each label is the one the training answers state, read from the record's dense description
 * (`querySentence`, built by lib/data/describe.ts), so a probe asks for what training asked for:
 *
 *   colour  the dominant colour: the first colour of "It is mostly …" / "The flag is mostly …", i.e. the top
 *           entry of the image's colour facts (lib/data/colour.ts `colourStats(…).main[0]`, measured on the
 *           64 px render), the answer of the `colours` turns
 *   group   the top-level emoji group ("smileys & emotion", "animals & nature", …) of "an emoji of the …
 *           group", the answer of the `group` classification turns. Country concepts (`flag:XX`, all six
 *           renderings) are left out: three of their renderings exist only for flags, so a probe could score
 *           by reading the drawing style, which has its own probe. Emoji of emojibase's "flags" group that
 *           are not countries (🏁, 🏳️‍🌈, 🏴‍☠️, subdivision flags) stay, as the class "flags".
 *   style   the drawing style (`record.style`: twemoji, noto, openmoji, flag-icons, …)
 *
 * Records without a query image, or whose description does not state the fact, are not labelled.
 */
import { COLOUR_NAMES, ColourName } from '../data/colour';
import type { TrainingRecord } from '../data/m3t';

export const PROBE_TASKS = ['colour', 'group', 'style'] as const;
export type ProbeTask = (typeof PROBE_TASKS)[number];

/** A record and its label for one probe task. */
export interface LabelledRecord {
  record: TrainingRecord;
  label: string;
}

const COLOUR = /(?:^|\. )(?:It|The flag) is mostly ([a-z]+)/;
const GROUP = /: an emoji of the (.+?) group \(/;

/** The dominant colour stated by a description, or undefined. */
export function dominantColour(description: string): ColourName | undefined {
  const name = COLOUR.exec(description)?.[1];
  return name !== undefined && (COLOUR_NAMES as readonly string[]).includes(name) ? (name as ColourName) : undefined;
}

/** The top-level emoji group stated by an emoji's description, or undefined (flags, other records). */
export function emojiGroup(description: string): string | undefined {
  return GROUP.exec(description)?.[1];
}

function labelOf(record: TrainingRecord, task: ProbeTask): string | undefined {
  switch (task) {
    case 'colour':
      return dominantColour(record.querySentence);
    case 'group':
      return record.concept?.startsWith('flag:') === true ? undefined : emojiGroup(record.querySentence);
    case 'style':
      return record.style;
  }
}

/** The records of `records` that carry an image and a label for `task`, in their order, with that label. */
export function probeLabels(records: readonly TrainingRecord[], task: ProbeTask): LabelledRecord[] {
  if (!(PROBE_TASKS as readonly string[]).includes(task))
    throw new Error(`probeLabels: unknown task '${String(task)}'; expected one of ${PROBE_TASKS.join(', ')}.`);
  const out: LabelledRecord[] = [];
  for (const record of records) {
    if (record.queryImagePath === '') continue;
    const label = labelOf(record, task);
    if (label !== undefined && label !== '') out.push({ record, label });
  }
  return out;
}
