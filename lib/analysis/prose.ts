/**
 * Sentences that state results, computed from the numbers they state, so what a notebook or the README says
 * can never disagree with what it shows: the verdicts on the paper's claims, whether each run reads the image,
 * and the ordering of runs on a metric.
 */
import { formatPoints, formatSigned } from '../stats';
import type { ClaimResult } from './verdicts';

const f1 = formatPoints;
const signed = formatSigned;
const count = (n: number, one: string, many = `${one}s`): string => `${n} ${n === 1 ? one : many}`;

/** One sentence per outcome class of the verdicts, naming the claims in it with their numbers. */
export function verdictSentences(results: readonly ClaimResult[], scale: string): string[] {
  const by = (status: ClaimResult['status']): ClaimResult[] => results.filter((r) => r.status === status);
  const detail = (r: ClaimResult): string =>
    r.difference === null
      ? r.id
      : `${r.id} ${signed(r.difference.diff)} [${signed(r.difference.lo)}, ${signed(r.difference.hi)}] vs the paper's ${signed(r.paper.effect)}`;
  const tested = results.length - by('not run').length;
  if (tested === 0) return [`At the ${scale} scale no comparison could be made: ${count(results.length, 'comparison')} lack finished runs.`];
  const out = [`At the ${scale} scale ${count(tested, 'comparison')} of ${results.length} could be made.`];
  const supported = by('supported');
  const contradicted = by('contradicted');
  const inconclusive = by('inconclusive');
  out.push(
    supported.length === 0
      ? "None goes the paper's way beyond the noise of our evaluation."
      : `${count(supported.length, 'goes', 'go')} the paper's way beyond the noise (95% interval above 0${supported.some((r) => r.margin > 0) ? ', or above −margin for "matches or beats"' : ''}): ${supported.map(detail).join('; ')}.`,
  );
  if (contradicted.length > 0) out.push(`${count(contradicted.length, 'goes', 'go')} against it beyond the noise: ${contradicted.map(detail).join('; ')}.`);
  if (inconclusive.length > 0)
    out.push(`${count(inconclusive.length, 'is', 'are')} inconclusive (the interval straddles the threshold): ${inconclusive.map(detail).join('; ')}.`);
  const notRun = by('not run');
  if (notRun.length > 0) out.push(`Not run at this scale: ${notRun.map((r) => r.id).join(', ')}.`);
  return out;
}

export interface ControlRow {
  run: string;
  /** Validation MRR (%) with the true image, another record's image, and the image alone. */
  mrr: number | null;
  otherImage: number | null;
  imageOnly: number | null;
}

/**
 * Whether each run reads the image, by the validation controls: it does when swapping in another record's
 * image costs at least two thirds of its MRR above chance (the criterion of docs/base-model.md).
 */
export function controlSentences(rows: readonly ControlRow[], chanceMrr: number | null): string[] {
  return rows.map((r) => {
    if (r.mrr === null || r.otherImage === null) return `${r.run}: no image controls recorded (revalidate it: npm run experiment -- <name> --revalidate).`;
    const floor = chanceMrr ?? 0;
    const above = r.mrr - floor;
    const numbers = `validation MRR ${f1(r.mrr)} with its image, ${f1(r.otherImage)} with another record's${r.imageOnly === null ? '' : `, ${f1(r.imageOnly)} from the image alone`}${chanceMrr === null ? '' : ` (chance ${f1(chanceMrr)})`}`;
    if (above <= 0.5) return `${r.run} is at chance: ${numbers}.`;
    const reads = r.otherImage - floor <= above / 3;
    return reads ? `${r.run} reads the image: ${numbers}.` : `${r.run} leans on the query text more than on the image: ${numbers}.`;
  });
}

/** The runs ordered on one metric, best first, e.g. "mini-MMEB overall: muco-k7 12.0 > single-turn 9.5 (chance 2.9)". */
export function rankingSentence(metric: string, rows: readonly { run: string; value: number | null }[], chance: number | null = null): string {
  const known = rows.filter((r): r is { run: string; value: number } => r.value !== null).sort((a, b) => b.value - a.value);
  if (known.length === 0) return `${metric}: no run has it.`;
  const parts = known.map((r, i) => `${i === 0 ? '' : (known[i - 1] as { value: number }).value === r.value ? ' = ' : ' > '}${r.run} ${f1(r.value)}`).join('');
  return `${metric}: ${parts}${chance === null ? '' : ` (chance ${f1(chance)})`}.`;
}
