/**
 * Verdicts on the paper's claims from committed results (docs/statistics.md): for each claim of ./claims, the
 * finished runs of its treatment and reference (every seed), their per-query outcomes, the paired bootstrap of
 * the difference and the verdict. `npm run verdicts` writes them to results/<scale>/verdicts.{json,md}.
 */
import * as fs from 'fs';
import * as path from 'path';
import { OUTCOME_LABEL, readOutcomes } from '../eval/outcomes';
import { writeFileAtomic, writeJson } from '../results';
import type { Figure } from '../plot';
import { runWithoutSeed, seedOfRunName } from '../runner/catalog';
import { seededRuns } from '../runner/seed-summary';
import type { RunConfig } from '../runner/config';
import {
  BootstrapOptions,
  DifferenceInterval,
  formatMeanSd,
  formatPoints,
  formatSigned,
  macroMean,
  MeanSd,
  meanSd,
  Outcomes,
  pairedBootstrap,
  Verdict,
  verdictOf,
} from '../stats';
import { Claim, CLAIMS, paperEffect } from './claims';

export interface ClaimResult {
  id: string;
  statement: string;
  paper: Claim['paper'] & { effect: number };
  experiment: string;
  metric: string;
  margin: number;
  status: Verdict | 'not run';
  /** Why a claim was not run (which runs are missing and how to produce them). */
  reason: string | null;
  /** Runs used, `<run>` folder names, by side. */
  runs: { treatment: string[]; reference: string[] };
  /** Finished runs left out because the other side has no run of their seed (seeds are paired). */
  unpaired: string[];
  /** Per-seed aggregates in percent, mean ± sd. */
  treatment: MeanSd | null;
  reference: MeanSd | null;
  /** Treatment − reference in percentage points, with its bootstrap interval. */
  difference: DifferenceInterval | null;
}

interface SideRun {
  run: string;
  /** The training seed its name says (`-seed<s>`), 0 for the plain name (lib/runner/catalog). */
  seed: number;
  outcomes: Outcomes;
  /** SHA-256 of the base model's weights it started from (config.json `init.sha256`); null from scratch or unrecorded. */
  base: string | null;
}

/** The base model a finished run started from, as its config.json records it (lib/runner/init). */
function runBase(runDir: string): string | null {
  const file = path.join(runDir, 'config.json');
  if (!fs.existsSync(file)) return null;
  const init = (JSON.parse(fs.readFileSync(file, 'utf8')) as Partial<RunConfig>).init;
  return init?.from === 'base' && typeof init.sha256 === 'string' ? init.sha256 : null;
}

/** The finished runs named `stock` (a catalogue name, with its tweak suffix if any) of any seed in an experiment folder, with outcomes for `metric`. */
function sideRuns(experimentDir: string, stock: string, metric: Claim['metric']): { found: SideRun[]; withoutOutcomes: string[] } {
  const found: SideRun[] = [];
  const withoutOutcomes: string[] = [];
  // In seed order (lib/runner/seed-summary), so seed s of one side pairs with seed s of the other.
  for (const run of seededRuns(experimentDir, [stock])[0]?.folders ?? []) {
    const o = readOutcomes(path.join(experimentDir, run))?.[metric];
    if (o === undefined) withoutOutcomes.push(run);
    else found.push({ run, seed: seedOfRunName(run) ?? 0, outcomes: o, base: runBase(path.join(experimentDir, run)) });
  }
  return { found, withoutOutcomes };
}

function notRun(claim: Claim, reason: string, runs: ClaimResult['runs'], unpaired: string[] = []): ClaimResult {
  return { ...head(claim), status: 'not run', reason, runs, unpaired, treatment: null, reference: null, difference: null };
}

function head(claim: Claim): Pick<ClaimResult, 'id' | 'statement' | 'paper' | 'experiment' | 'metric' | 'margin'> {
  return {
    id: claim.id,
    statement: claim.statement,
    paper: { ...claim.paper, effect: paperEffect(claim) },
    experiment: claim.referenceExperiment === undefined ? claim.experiment : `${claim.experiment} vs ${claim.referenceExperiment}`,
    metric: OUTCOME_LABEL[claim.metric],
    margin: claim.margin,
  };
}

export interface VerdictOptions extends BootstrapOptions {
  /**
   * The tweak suffix of the runs to compare (`_train.steps=200`, as lib/runner/catalog appends to tweaked run
   * names; `tweakSuffix` of a run name gives it); '' (default): the stock runs.
   */
  suffix: string;
}

/** The verdict of one claim from the runs under `scaleDir` (results/<scale>). */
export function claimVerdict(scaleDir: string, claim: Claim, options: Partial<VerdictOptions> = {}): ClaimResult {
  const suffix = options.suffix ?? '';
  const scale = path.basename(scaleDir);
  const sideOf = (experiment: string, stock: string) => {
    const dir = path.join(scaleDir, experiment);
    return { experiment, stock, dir, ...sideRuns(dir, stock + suffix, claim.metric) };
  };
  const t = sideOf(claim.experiment, claim.treatment);
  const r = sideOf(claim.referenceExperiment ?? claim.experiment, claim.reference);
  const sides = [t, r];
  const runs = { treatment: t.found.map((x) => x.run), reference: r.found.map((x) => x.run) };
  const lacking = sides.filter((s) => s.found.length === 0);
  if (lacking.length > 0) {
    const reasons = lacking.map((s) => {
      const hint =
        s.withoutOutcomes.length > 0
          ? `${s.withoutOutcomes.join(', ')} finished without per-query outcomes: \`npm run experiment -- ${s.experiment} --scale ${scale} --outcomes\` records them`
          : `run \`npm run experiment -- ${s.experiment} --scale ${scale} --runs ${runWithoutSeed(s.stock)}\``;
      return `no finished run of ${s.stock} in ${s.dir} (${hint})`;
    });
    return notRun(claim, `${reasons.join('; ')}.`, runs);
  }
  // Seed s of one side pairs with seed s of the other (same data order and augmentation); a seed only one side
  // has (e.g. a grid half-way through a seed) waits for its twin.
  const common = (xs: SideRun[], ys: SideRun[]): SideRun[] => xs.filter((x) => ys.some((y) => y.seed === x.seed));
  const [a, b] = [common(t.found, r.found), common(r.found, t.found)];
  const unpaired = [...t.found, ...r.found].filter((x) => !a.includes(x) && !b.includes(x)).map((x) => x.run);
  if (a.length === 0) {
    return notRun(
      claim,
      `no seed in common: ${t.stock} has seeds ${t.found.map((x) => x.seed).join(', ')}, ${r.stock} ${r.found.map((x) => x.seed).join(', ')} (run the missing seeds with --seeds).`,
      runs,
      unpaired,
    );
  }
  // Runs from different base models differ in more than the claim's setting: no verdict across them.
  const bases = new Set([...a, ...b].map((x) => x.base).filter((x) => x !== null));
  if (bases.size > 1) {
    const named = [...a, ...b].map((x) => `${x.run} ${x.base === null ? 'from scratch' : `from ${x.base.slice(0, 12)}…`}`);
    return notRun(
      claim,
      `the runs start from different base models (${named.join(', ')}): re-run the older ones from the current base (results/base/<preset>, their config.json's init.sha256 names the one they used).`,
      runs,
      unpaired,
    );
  }
  const used = { treatment: a.map((x) => x.run), reference: b.map((x) => x.run) };
  const pointsOf = (xs: SideRun[]): MeanSd => meanSd(xs.map((x) => 100 * macroMean(x.outcomes)));
  const raw = pairedBootstrap(
    a.map((x) => x.outcomes),
    b.map((x) => x.outcomes),
    options,
  );
  const difference: DifferenceInterval = { ...raw, diff: 100 * raw.diff, lo: 100 * raw.lo, hi: 100 * raw.hi };
  return {
    ...head(claim),
    status: verdictOf(difference, claim.margin),
    reason: null,
    runs: used,
    unpaired,
    treatment: pointsOf(a),
    reference: pointsOf(b),
    difference,
  };
}

export function claimVerdicts(scaleDir: string, claims: readonly Claim[] = CLAIMS, options: Partial<VerdictOptions> = {}): ClaimResult[] {
  return claims.map((c) => claimVerdict(scaleDir, c, options));
}

const f1 = formatPoints;
// An exact zero reads ±0.0 in the verdict table: no direction at all.
const sign = (x: number): string => (x === 0 ? `±${f1(0)}` : formatSigned(x));

function side(m: MeanSd | null): string {
  return m === null || m.sd === null ? formatMeanSd(m) : `${formatMeanSd(m)} (${m.n} seeds)`;
}

/** Our difference with its interval (and the margin of a "matches or beats" claim); '–' when not run. */
function oursCell(r: ClaimResult): string {
  const d = r.difference;
  return d === null ? '–' : `${sign(d.diff)} [${sign(d.lo)}, ${sign(d.hi)}]${r.margin > 0 ? ` (margin ${f1(r.margin)})` : ''}`;
}

/**
 * The README's compact verdict table of a scale (lib/analysis/readme-verdicts puts it in place): the claims that
 * could be tested, each with the runs' means (and seeds), our difference with its interval, the paper's, and the
 * verdict; then the claims not run.
 */
export function readmeVerdictTable(results: readonly ClaimResult[], scale: string, dir = `results/${scale}`): string {
  const tested = results.filter((r) => r.difference !== null);
  const lines = ['| claim | metric: treatment vs reference | ours: difference [95% CI] | paper | verdict |', '|---|---|---|---|---|'];
  for (const r of tested) {
    lines.push(`| ${r.id} | ${r.metric}: ${side(r.treatment)} vs ${side(r.reference)} | ${oursCell(r)} | ${sign(r.paper.effect)} | **${r.status}** |`);
  }
  if (tested.length === 0) lines.splice(0, 2, `No claim could be tested at the ${scale} scale yet.`);
  const notRun = results.filter((r) => r.difference === null).map((r) => r.id);
  if (notRun.length > 0) lines.push('', `Not run at the ${scale} scale: ${notRun.join(', ')} (\`${dir}/verdicts.md\` says which runs each needs).`);
  return lines.join('\n');
}

/** The verdict table (Markdown) with a line on how to read it. */
export function verdictsMarkdown(results: readonly ClaimResult[], scale: string): string {
  const lines = [
    `# The paper's claims at the ${scale} scale`,
    '',
    'Each claim compares two of our runs on the same queries. "ours" is the treatment − reference difference of the',
    'metric in points with its 95% paired-bootstrap interval (queries resampled within each data set; seeds too when',
    'there are several). *supported*: the interval lies above 0 (above −margin for "matches or beats" claims);',
    '*contradicted*: below; *inconclusive*: it straddles. Written by `npm run verdicts` from the finished runs.',
    '',
    '| claim | paper | ours: treatment vs reference | ours: difference [95% CI] | verdict |',
    '|---|---|---|---|---|',
  ];
  for (const r of results) {
    const paper = `${r.paper.table}: ${f1(r.paper.treatmentValue)} vs ${f1(r.paper.referenceValue)} (${sign(r.paper.effect)})`;
    const unpaired = r.unpaired.length > 0 ? ` (left out, no run of the same seed on the other side: ${r.unpaired.join(', ')})` : '';
    const verdict = r.status === 'not run' ? `not run: ${r.reason ?? ''}` : `**${r.status}**${unpaired}`;
    lines.push(`| ${r.id}: ${r.statement} | ${paper} | ${r.metric}: ${side(r.treatment)} vs ${side(r.reference)} | ${oursCell(r)} | ${verdict} |`);
  }
  lines.push(
    '',
    'The coherence claim (MuCo representations cohere better across turns and modalities) has no per-query measure',
    'here; notebook 08 measures it on the core runs.',
    '',
  );
  return lines.join('\n');
}

/** Write results/<scale>/verdicts.{json,md}; returns the results. */
export function writeVerdicts(scaleDir: string, scale: string, options: Partial<VerdictOptions> = {}): ClaimResult[] {
  const results = claimVerdicts(scaleDir, CLAIMS, options);
  writeJson(path.join(scaleDir, 'verdicts.json'), { scale, claims: results }, { overwrite: true });
  writeFileAtomic(path.join(scaleDir, 'verdicts.md'), verdictsMarkdown(results, scale), { overwrite: true });
  return results;
}

/** Rows for a notebook table: the paper's effect beside ours with its interval and the verdict. */
export function verdictRows(results: readonly ClaimResult[]): Record<string, string | number | null>[] {
  return results.map((r) => ({
    claim: `${r.id}: ${r.statement}`,
    'paper Δ': r.paper.effect,
    'ours Δ': r.difference === null ? null : Math.round(r.difference.diff * 10) / 10,
    '95% CI': r.difference === null ? '–' : `[${f1(r.difference.lo)}, ${f1(r.difference.hi)}]`,
    treatment: side(r.treatment),
    reference: side(r.reference),
    verdict: r.status === 'not run' ? `not run (${r.reason ?? ''})` : r.status,
  }));
}

/** The paper's effect and ours, with ours' 95% interval as error bars (points of each claim's metric). */
export function verdictFigure(results: readonly ClaimResult[], title = "the paper's effects and ours (treatment − reference, points)"): Figure {
  const run = results.filter((r) => r.difference !== null);
  const ids = run.map((r) => r.id);
  return {
    data: [
      { type: 'bar', name: 'paper (MMEB, %)', x: ids, y: run.map((r) => r.paper.effect) },
      {
        type: 'bar',
        name: 'ours, 95% CI',
        x: ids,
        y: run.map((r) => r.difference?.diff ?? 0),
        error_y: {
          type: 'data',
          symmetric: false,
          array: run.map((r) => (r.difference === null ? 0 : r.difference.hi - r.difference.diff)),
          arrayminus: run.map((r) => (r.difference === null ? 0 : r.difference.diff - r.difference.lo)),
        },
      },
    ],
    layout: { barmode: 'group', title: { text: title }, yaxis: { title: { text: 'difference (points)' }, zeroline: true } },
  };
}
