/**
 * A run against a baseline, row by row: the change in time with its confidence interval and a
 * verdict from the Mann-Whitney U test over the two rows' samples (lib/bench/stats.ts).
 *
 * A row is slower only when its whole confidence interval lies beyond the threshold (faster: below
 * 1 / (1 + threshold) - 1): the test is of "slower by more than the threshold", not of "slower at
 * all". Runs on one machine drift from one process to the next (where the arrays land in memory,
 * the clock, the neighbours) by more than the spread of one process's samples, so a test of any
 * change calls that drift significant (on this project's 2-core machine, 4 false regressions of
 * 554 rows between two full runs of an unchanged tree when the estimate alone had to pass 10%).
 * The threshold is the size of change that matters; the interval says it is real. Only the package's own rows are regressions: a
 * slower ceiling says the machine is slower, a slower peer is not this package's doing.
 *
 * Rows are compared by their time, not by their time over the ceiling's: dividing by the ceiling
 * adds the ceiling's own noise (in cache it varies as much as the kernels), and comparing ratios
 * measured on one machine hid a capped ISA in cache. The ceilings' own verdicts tell whether the
 * machine's memory was slower in one run (another process, a busy neighbour): the report says so.
 */
import { fingerprintDifferences } from './fingerprint.js';
import { median } from './measure.js';
import { shiftTest, smallestP } from './stats.js';
import type { BenchRow, BenchRun, Comparison, Judgment, RowComparison, Verdict } from './types.js';

/** How a comparison judges a change. */
export interface CompareOptions {
  /** The smallest slowdown that counts, as a fraction (0.1: 10% more time). Default 0.1. */
  readonly threshold?: number;
  /** Significance level of the test; the intervals cover 1 - alpha. Default 0.05. */
  readonly alpha?: number;
}

/**
 * Reads a threshold as a user writes it: "10%" or a fraction such as 0.1. A bare number above 1
 * is refused: "--threshold 10" meant 10%, not 1000%.
 */
export function parseThreshold(text: string): number {
  const value = text.endsWith('%') ? Number(text.slice(0, -1)) / 100 : Number(text);
  if (text.trim() === '' || !Number.isFinite(value) || value < 0 || (!text.endsWith('%') && value > 1)) {
    throw new RangeError(`--threshold must be a percentage such as 10% (or a fraction such as 0.1), got '${text}'`);
  }
  return value;
}

/** Reads a significance level: a number strictly between 0 and 1 ("0.05"). */
export function parseAlpha(text: string): number {
  const value = Number(text);
  if (text.trim() === '' || !(value > 0 && value < 1)) throw new RangeError(`--alpha must be a number between 0 and 1 such as 0.05, got '${text}'`);
  return value;
}

/** Reads a number of rounds: a whole number >= 4, the fewest samples that can be significant at 0.05. */
export function parseRounds(text: string): number {
  const value = Number(text);
  if (!Number.isInteger(value) || value < 4) throw new RangeError(`--rounds must be a whole number >= 4 (fewer samples can never differ significantly), got '${text}'`);
  return value;
}

/** Compares every row the two runs share. */
export function compareRuns(baseline: BenchRun, current: BenchRun, options: CompareOptions = {}): Comparison {
  const threshold = options.threshold ?? 0.1, alpha = options.alpha ?? 0.05;
  if (!(threshold >= 0) || !Number.isFinite(threshold)) throw new RangeError(`threshold must be a number >= 0, got ${threshold}`);
  if (!(alpha > 0 && alpha < 1)) throw new RangeError(`alpha must be between 0 and 1, got ${alpha}`);
  const rows: RowComparison[] = [], added: string[] = [], tooFewSamples: string[] = [];
  for (const [key, now] of Object.entries(current.rows)) {
    const before = baseline.rows[key];
    if (!before) {
      added.push(key);
      continue;
    }
    for (const [which, row] of [['baseline', before], ['run', now]] as const) {
      if (row.samples.length === 0 || !row.samples.every((s) => s > 0 && Number.isFinite(s))) {
        throw new RangeError(`the ${which}'s row '${key}' has no samples, or one that is not a positive finite time`);
      }
    }
    if (smallestP(before.samples.length, now.samples.length) >= alpha) tooFewSamples.push(key);
    rows.push({
      key, table: now.table, series: now.series, kind: now.kind, elements: now.elements,
      baselineNs: median(before.samples), currentNs: median(now.samples),
      ...judge(before.samples, now.samples, threshold, alpha),
    });
  }
  const missing = Object.keys(baseline.rows).filter((key) => !(key in current.rows));
  return {
    rows, missing, added, threshold, alpha, tooFewSamples,
    machineDifferences: fingerprintDifferences(baseline.fingerprint, current.fingerprint),
    regressions: rows.filter((r) => r.verdict === 'slower' && r.kind === 'package'),
  };
}

/** The change from `before` to `now` samples, its interval and verdict (see the top of this file). */
function judge(before: readonly number[], now: readonly number[], threshold: number, alpha: number): Judgment {
  // On logarithms the shift is a ratio of times: exp(shift) - 1 is the relative change.
  const test = shiftTest(before.map(Math.log), now.map(Math.log), alpha);
  let verdict: Verdict = 'no significant change';
  if (test.p < alpha && Math.expm1(test.low) > threshold) verdict = 'slower';
  else if (test.p < alpha && Math.expm1(test.high) < 1 / (1 + threshold) - 1) verdict = 'faster';
  return { change: Math.expm1(test.shift), low: Math.expm1(test.low), high: Math.expm1(test.high), p: test.p, verdict };
}

/**
 * The keys of the rows a recheck should measure again: the regressions, and, given the run's
 * measurements, each one's same-traffic ceiling (see withRecheck).
 */
export function suspects(comparison: Comparison, measurements: readonly { readonly key: string; readonly ceilingKey?: string }[] = []): string[] {
  const keys = comparison.regressions.map((r) => r.key);
  const ceilingOf = new Map(measurements.map((m) => [m.key, m.ceilingKey]));
  for (const key of [...keys]) {
    const ceiling = ceilingOf.get(key);
    if (ceiling !== undefined && !keys.includes(ceiling)) keys.push(ceiling);
  }
  return keys;
}

/**
 * The comparison once its regressions were measured again, in new processes after the run: a row
 * stays a regression only if the new samples, against the same baseline, are slower beyond the
 * threshold too. Why: on a shared machine a stretch of a few minutes can be slower for some rows
 * (memory-bound ones, when a neighbour streams memory) in every process of a run, and a run's own
 * samples cannot tell that from a change of the code; a real slowdown is slower again. Measured on
 * this project's 2-core VM: two full runs of an unchanged tree, 4 rows of 598 called slower (Adam
 * on 2 threads at 16M +46% [+20%, +75%]); a capped ISA is slower in every recheck.
 *
 * A stretch can also outlast the recheck: the same row, on the next day's unchanged tree, was
 * +34.7% and again +29.1%, with its two-thread ceiling +40% in the run. So when the recheck measured
 * the row's same-traffic ceiling too (its samples beside the row's, as suspects asks), a row whose
 * ceiling is slower beyond the threshold in the same processes is the machine, not a regression.
 * A capped ISA leaves the ceiling as it was.
 */
export function withRecheck(comparison: Comparison, baseline: BenchRun, rechecked: Readonly<Record<string, BenchRow>>): Comparison {
  // Only the suspects are judged again: the ceilings measured beside them are evidence, not rows on trial.
  const suspected = new Set(comparison.regressions.map((r) => r.key));
  const rows = comparison.rows.map((row) => {
    const again = rechecked[row.key], before = baseline.rows[row.key];
    if (again === undefined || before === undefined || !suspected.has(row.key)) return row;
    if (!again.samples.every((s) => s > 0 && Number.isFinite(s))) throw new RangeError(`the recheck's row '${row.key}' has a sample that is not a positive finite time`);
    const recheck = judge(before.samples, again.samples, comparison.threshold, comparison.alpha);
    const ceilingBefore = before.ceilingSamples, ceilingAgain = again.ceilingSamples;
    if (recheck.verdict !== 'slower' || ceilingBefore === undefined || ceilingAgain === undefined || ceilingAgain.length === 0) return { ...row, recheck };
    return { ...row, recheck, recheckCeiling: judge(ceilingBefore, ceilingAgain, comparison.threshold, comparison.alpha) };
  });
  const regression = (r: RowComparison): boolean =>
    r.verdict === 'slower' && r.kind === 'package' && (r.recheck === undefined || (r.recheck.verdict === 'slower' && r.recheckCeiling?.verdict !== 'slower'));
  return { ...comparison, rows, regressions: rows.filter(regression) };
}

/** Elements as the bench prints them: powers of 1024 with a K or M suffix (1K, 64K, 16M, 1.5K). */
export function sizeLabel(elements: number): string {
  const [divisor, suffix] = elements >= 1 << 20 ? [1 << 20, 'M'] : elements >= 1 << 10 ? [1 << 10, 'K'] : [1, ''];
  return `${Number((elements / divisor).toPrecision(3))}${suffix}`;
}

const percent = (x: number) => `${x >= 0 ? '+' : ''}${(100 * x).toFixed(1)}%`;
const ns = (x: number) => (x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x >= 1 ? x.toFixed(2) : x.toFixed(3));

/** The comparison as Markdown: a loud warning for another machine, the table, the regressions. */
export function formatComparison(comparison: Comparison, baselineName: string): string {
  const lines: string[] = [];
  if (comparison.machineDifferences.length > 0) {
    lines.push(`> **WARNING: ${baselineName} was recorded on another machine or Node.** Its figures are not comparable with`);
    lines.push('> these (cache sizes, clocks and cores change every ratio); record a baseline here with --save first.');
    for (const d of comparison.machineDifferences) lines.push(`> - ${d}`);
    lines.push('');
  }
  const level = Math.round((1 - comparison.alpha) * 100);
  lines.push(`## Against ${baselineName} (threshold ${percent(comparison.threshold)}, ${level}% intervals, Mann-Whitney U)\n`);
  lines.push(`| row | size | baseline ns/element | now | change [${level}% interval] | p | verdict |`);
  lines.push('|---|---|---|---|---|---|---|');
  for (const r of comparison.rows) {
    let verdict = r.verdict === 'no significant change' ? r.verdict : `**${r.verdict}**`;
    if (r.recheck) verdict += r.recheck.verdict === 'slower' ? `, and again: ${percent(r.recheck.change)} [${percent(r.recheck.low)}, ${percent(r.recheck.high)}]` : `; not again (${percent(r.recheck.change)} [${percent(r.recheck.low)}, ${percent(r.recheck.high)}])`;
    if (r.recheckCeiling?.verdict === 'slower') verdict += `, as was its same-traffic ceiling: ${percent(r.recheckCeiling.change)} [${percent(r.recheckCeiling.low)}, ${percent(r.recheckCeiling.high)}] (the machine)`;
    lines.push(`| ${r.table} · ${r.series} | ${sizeLabel(r.elements)} | ${ns(r.baselineNs)} | ${ns(r.currentNs)} | ${percent(r.change)} [${percent(r.low)}, ${percent(r.high)}] | ${r.p < 0.001 ? '<0.001' : r.p.toFixed(3)} | ${verdict} |`);
  }
  lines.push('');
  const ceilings = comparison.rows.filter((r) => r.kind === 'ceiling' && r.verdict !== 'no significant change');
  if (ceilings.length > 0) {
    lines.push(`> The machine itself changed between the runs: ${ceilings.length} same-traffic ceilings (${ceilings.map((r) => `${r.table} ${sizeLabel(r.elements)} ${percent(r.change)}`).join(', ')})`);
    lines.push('> moved beyond the threshold. Rows at those sizes may have moved with them; run both on a quiet machine.\n');
  }
  if (comparison.tooFewSamples.length > 0) {
    lines.push(`> **${comparison.tooFewSamples.length} rows have too few samples to ever be significant** at ${comparison.alpha} (at least 4 on each side): use more rounds.\n`);
  }
  if (comparison.missing.length > 0) lines.push(`Not measured in this run: ${comparison.missing.length} rows of the baseline.`);
  if (comparison.added.length > 0) lines.push(`Not in the baseline: ${comparison.added.length} rows of this run.`);
  const faster = comparison.rows.filter((r) => r.verdict === 'faster').length;
  const slower = comparison.rows.filter((r) => r.verdict === 'slower').length;
  lines.push(`${comparison.rows.length} rows compared: ${slower} slower, ${faster} faster, ${comparison.rows.length - slower - faster} without a significant change beyond ${percent(comparison.threshold)}.`);
  const rechecked = comparison.rows.filter((r) => r.recheck !== undefined);
  if (rechecked.length > 0) {
    const again = rechecked.filter((r) => r.recheck!.verdict === 'slower');
    const machine = again.filter((r) => r.recheckCeiling?.verdict === 'slower').length;
    lines.push(`The ${rechecked.length} rows of the package called slower were measured again in new processes: ${again.length - machine} slower again (regressions), ${rechecked.length - again.length} not (a slow stretch of the machine, not the code)${machine > 0 ? `, ${machine} slower again with their same-traffic ceilings (the machine)` : ''}.`);
  }
  if (comparison.regressions.length === 0) lines.push('No regressions.');
  else for (const r of comparison.regressions) lines.push(`- regression: ${r.table} · ${r.series}, ${sizeLabel(r.elements)}: ${percent(r.change)} [${percent(r.low)}, ${percent(r.high)}]`);
  return lines.join('\n') + '\n';
}
