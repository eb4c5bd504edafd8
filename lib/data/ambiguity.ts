/**
 * Build-time check that a benchmark never asks for the impossible: a query whose positive has an identical
 * twin (same text, same image file) that is marked non-relevant can never be ranked right, so a perfect model
 * would be capped below 100%. Both mini benchmarks run it on everything they write and fail the build with
 * examples when it finds any.
 */

/** A candidate as the check sees it: its text ('' when none) and image path ('' when none). */
export interface CandidateContent {
  text: string;
  image: string;
}

/** One retrieval problem: its positives and every candidate it is ranked against, by id. */
export interface RankingProblem {
  query: string;
  positives: readonly string[];
  candidates: ReadonlyMap<string, CandidateContent> | readonly [string, CandidateContent][];
}

const key = (c: CandidateContent): string => `${c.text}\u0000${c.image}`;

/**
 * Every (query, positive, twin) where a non-positive candidate has exactly the positive's content.
 * @returns at most `limit` examples, as readable lines, and the number of affected queries
 */
export function ambiguousQueries(problems: Iterable<RankingProblem>, limit = 5): { queries: number; examples: string[] } {
  let queries = 0;
  const examples: string[] = [];
  for (const p of problems) {
    const entries = p.candidates instanceof Map ? [...p.candidates.entries()] : [...(p.candidates as readonly [string, CandidateContent][])];
    const positive = new Set(p.positives);
    const byContent = new Map<string, string[]>();
    for (const [id, c] of entries) {
      const k = key(c);
      byContent.set(k, [...(byContent.get(k) ?? []), id]);
    }
    let hit = false;
    for (const [id, c] of entries) {
      if (!positive.has(id)) continue;
      const twin = (byContent.get(key(c)) ?? []).find((other) => !positive.has(other));
      if (twin === undefined) continue;
      hit = true;
      if (examples.length < limit) examples.push(`query ${p.query}: positive ${id} and non-relevant ${twin} are both ${JSON.stringify(c.text.slice(0, 80))}${c.image === '' ? '' : ` + ${c.image}`}`);
    }
    if (hit) queries++;
  }
  return { queries, examples };
}

/** Throw, naming the benchmark part and examples, when any query's positive has a non-relevant identical twin. */
export function assertUnambiguous(where: string, problems: Iterable<RankingProblem>): void {
  const { queries, examples } = ambiguousQueries(problems);
  if (queries > 0) {
    throw new Error(`${where}: ${queries} queries have a positive with an identical candidate marked non-relevant, so no model can rank them right (${examples.join('; ')}). Make the candidates distinct in the builder.`);
  }
}
