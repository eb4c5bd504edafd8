/**
 * M3T's "information gap" rule (docs/method.md §7; the paper's Fig. C: "the query must not contain its answer"),
 * made checkable. A query *leaks* its answer when, after normalisation (Unicode NFKC, lower case,
 * punctuation → space, spaces collapsed), it contains
 *   - the whole answer, or
 *   - any list item of the answer (answers like "bye, hello, wave" are split on `,` `;` `·`) of ≥ 3
 *     characters,
 * as a whole-word phrase for space-separated scripts, or as a plain substring when the phrase contains
 * CJK, Thai or other scripts written without spaces.
 */

/** Lower-cased, NFKC-normalised, punctuation-free text with single spaces. */
export function normalizeForGap(text: string): string {
  return text
    .normalize('NFKC')
    .toLowerCase()
    .replace(/[\p{P}\p{S}]+/gu, ' ')
    .replace(/\s+/g, ' ')
    .trim();
}

const NO_SPACE_SCRIPT = /[\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}\p{Script=Thai}\p{Script=Lao}\p{Script=Khmer}\p{Script=Myanmar}]/u;

function containsPhrase(haystack: string, needle: string): boolean {
  if (needle === '') return false;
  if (NO_SPACE_SCRIPT.test(needle)) return haystack.includes(needle);
  return ` ${haystack} `.includes(` ${needle} `);
}

/** The parts of an answer that must not appear in its query: the whole answer and its list items. */
export function answerParts(answer: string): string[] {
  const whole = normalizeForGap(answer);
  const items = answer
    .split(/[,;·、，；]/)
    .map(normalizeForGap)
    .filter((p) => p.length >= 3 && p !== whole);
  return whole === '' ? items : [whole, ...items];
}

/** The first part of `answer` that `query` contains, or undefined when the gap holds. */
export function leakedPart(query: string, answer: string): string | undefined {
  const q = normalizeForGap(query);
  return answerParts(answer).find((p) => containsPhrase(q, p));
}

/** True when the query does not contain its answer (see the module comment). */
export function hasInformationGap(query: string, answer: string): boolean {
  return leakedPart(query, answer) === undefined;
}

/**
 * Throw when any phrasing of a query contains its answer.
 * @param where names the record and turn, for the message.
 */
export function assertInformationGap(query: string | readonly string[], answer: string, where: string): void {
  for (const q of typeof query === 'string' ? [query] : query) {
    const leak = leakedPart(q, answer);
    if (leak !== undefined) {
      throw new Error(`information-gap rule broken at ${where}: query "${q}" contains "${leak}" from its answer ` +
        `"${answer}". Rephrase the template or drop this facet for this concept.`);
    }
  }
}
