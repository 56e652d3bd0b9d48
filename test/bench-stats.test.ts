// The regression check's machinery: the U test and its interval against published values, the
// verdicts and regressions of a comparison, saved runs, and samples taken in rounds.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, test } from 'vitest';

import { compareRuns, formatComparison, parseAlpha, parseRounds, parseThreshold, sizeLabel, suspects, withRecheck } from '../lib/bench/compare.js';
import { fingerprint } from '../lib/bench/fingerprint.js';
import { runRounds } from '../lib/bench/runner.js';
import { normalQuantile, shiftTest, smallestP } from '../lib/bench/stats.js';
import { loadRun, runPath, saveRun } from '../lib/bench/store.js';
import type { BenchRow, BenchRun } from '../lib/bench/types.js';

describe('the Mann-Whitney U test and the Hodges-Lehmann interval', () => {
  test('exact, small sets without ties: R wilcox.test(6:10, 1:5, conf.int = TRUE)', () => {
    const t = shiftTest([1, 2, 3, 4, 5], [6, 7, 8, 9, 10]);
    expect(t.p).toBeCloseTo(2 / 252, 12); // the two most extreme of C(10, 5) arrangements
    expect([t.shift, t.low, t.high]).toEqual([5, 2, 8]);
  });

  test('normal approximation with continuity correction (scipy asymptotic): 1..10 against 11..20', () => {
    const a = Array.from({ length: 10 }, (_, i) => i + 1), b = a.map((x) => x + 10);
    const t = shiftTest(a, b);
    // U = 0, mean 50, variance 10 * 10 * 21 / 12 = 175: z = 49.5 / sqrt(175) = 3.7418.
    expect(t.p).toBeCloseTo(1.8271e-4, 7);
    expect(t.shift).toBe(10);
    expect(t.low).toBeLessThan(10);
    expect(t.high).toBeGreaterThan(10);
  });

  test('ties: identical sets are no change; the tie correction keeps p in [0, 1]', () => {
    expect(shiftTest([1, 1, 1], [1, 1, 1])).toEqual({ p: 1, shift: 0, low: 0, high: 0 });
    const t = shiftTest([1, 1, 2, 2, 3], [2, 3, 3, 4, 4]);
    expect(t.p).toBeGreaterThan(0.03);
    expect(t.p).toBeLessThan(0.08);
  });

  test('overlapping sets are not significant; the interval contains the shift', () => {
    const t = shiftTest([1.1, 2.2, 3.3, 4.4, 5.5], [1.5, 2.5, 3.5, 4.5, 5.6]);
    expect(t.p).toBeGreaterThan(0.5);
    expect(t.low).toBeLessThanOrEqual(t.shift);
    expect(t.high).toBeGreaterThanOrEqual(t.shift);
  });

  test('the normal quantile', () => {
    expect(normalQuantile(0.975)).toBeCloseTo(1.959964, 5);
    expect(normalQuantile(0.5)).toBeCloseTo(0, 12);
    expect(normalQuantile(0.001)).toBeCloseTo(-3.090232, 5);
  });

  test('empty sets and non-finite samples are refused', () => {
    expect(() => shiftTest([], [1])).toThrow(RangeError);
    expect(() => shiftTest([1, 2, 3], [1, NaN, 3])).toThrow(/finite/);
  });

  test("exact whenever a set has at most 8 untied values, as scipy's 'auto': 1 value against 9", () => {
    // The single value below all nine: 1 arrangement of 10 each way.
    expect(shiftTest([0], [1, 2, 3, 4, 5, 6, 7, 8, 9]).p).toBeCloseTo(0.2, 12);
  });

  test('the smallest p-value a pair of set sizes can give', () => {
    expect(smallestP(5, 5)).toBeCloseTo(2 / 252, 12);
    expect(smallestP(4, 4)).toBeCloseTo(2 / 70, 12);
    expect(smallestP(3, 3)).toBeCloseTo(0.1, 12);
    expect(smallestP(1, 1)).toBe(1);
  });
});

const machine = { cpu: 'Test CPU', cores: 2, isa: ['avx2', 'scalar'], node: 'v20.0.0', platform: 'linux-x64', caches: { L2: '1024K' } };

function row(table: string, series: string, elements: number, center: number, kind: BenchRow['kind'] = 'package'): BenchRow {
  // Seven samples spread ±3% around the center.
  return { table, series, kind, elements, samples: [-3, -2, -1, 0, 1, 2, 3].map((k) => center * (1 + k / 100)) };
}

function run(rows: BenchRow[], fp = machine): BenchRun {
  return { format: 'simd-optim-bench/1', fingerprint: fp, date: '2026-01-01T00:00:00.000Z', env: {}, rows: Object.fromEntries(rows.map((r) => [`${r.table}|${r.series}|${sizeLabel(r.elements)}`, r])) };
}

describe('comparing runs', () => {
  const before = run([
    row('Adam', 'default', 65536, 0.4), row('Adam', 'default', 1 << 24, 0.6), row('Adam', 'ceiling', 65536, 0.3, 'ceiling'),
    row('Adam', 'js fallback', 65536, 10), row('SGD', 'default', 65536, 0.2), row('Lion', 'default', 1024, 1),
  ]);
  const after = run([
    row('Adam', 'default', 65536, 0.4 * 1.7), row('Adam', 'default', 1 << 24, 0.6 * 1.02), row('Adam', 'ceiling', 65536, 0.3 * 1.5, 'ceiling'),
    row('Adam', 'js fallback', 65536, 10 * 0.6), row('SGD', 'default', 65536, 0.2 * 1.08), row('NAdam', 'default', 1024, 1),
  ]);

  test('verdicts: slower and faster beyond the threshold, no significant change within it', () => {
    const c = compareRuns(before, after, { threshold: 0.1 });
    const verdict = (key: string) => c.rows.find((r) => r.key === key)!.verdict;
    expect(verdict('Adam|default|64K')).toBe('slower');
    expect(verdict('Adam|default|16M')).toBe('no significant change'); // 2%: within the threshold
    expect(verdict('SGD|default|64K')).toBe('no significant change'); // significant, but 8% < 10%
    expect(verdict('Adam|js fallback|64K')).toBe('faster');
    expect(verdict('Adam|ceiling|64K')).toBe('slower');
    const slow = c.rows.find((r) => r.key === 'Adam|default|64K')!;
    expect(slow.change).toBeCloseTo(0.7, 1);
    expect(slow.low).toBeLessThan(slow.change);
    expect(slow.high).toBeGreaterThan(slow.change);
    expect(slow.p).toBeLessThan(0.01);
  });

  test("regressions are the package's slower rows only (a slower ceiling is the machine); missing and added rows are listed", () => {
    const c = compareRuns(before, after);
    expect(c.regressions.map((r) => r.key)).toEqual(['Adam|default|64K']);
    expect(c.missing).toEqual(['Lion|default|1K']);
    expect(c.added).toEqual(['NAdam|default|1K']);
    expect(c.machineDifferences).toEqual([]);
    const text = formatComparison(c, 'base');
    expect(text).toContain('- regression: Adam · default, 64K: +70.0%');
    expect(text).not.toContain('WARNING');
  });

  test('a regression counts only if a recheck measures it slower again: a slow stretch of the machine is not', () => {
    const c = compareRuns(before, after);
    expect(suspects(c)).toEqual(['Adam|default|64K']);
    // Measured again: as fast as the baseline (the first run had caught a slow stretch).
    const quiet = withRecheck(c, before, { 'Adam|default|64K': row('Adam', 'default', 65536, 0.4 * 1.01) });
    expect(quiet.regressions).toEqual([]);
    const rechecked = quiet.rows.find((r) => r.key === 'Adam|default|64K')!;
    expect(rechecked.verdict).toBe('slower');
    expect(rechecked.recheck!.verdict).toBe('no significant change');
    const text = formatComparison(quiet, 'base');
    expect(text).toContain('**slower**; not again (+1.0%');
    expect(text).toContain('1 rows of the package called slower were measured again in new processes: 0 slower again (regressions), 1 not');
    expect(text).toContain('No regressions.');
    // Slower again: it stays.
    const real = withRecheck(c, before, { 'Adam|default|64K': row('Adam', 'default', 65536, 0.4 * 1.6) });
    expect(real.regressions.map((r) => r.key)).toEqual(['Adam|default|64K']);
    expect(formatComparison(real, 'base')).toMatch(/\*\*slower\*\*, and again: \+60\.0%.*\n[^]*- regression: Adam · default, 64K: \+70\.0%/);
    // Slower again, and so is its same-traffic ceiling, measured in the same processes: the
    // machine (a stretch that outlasted the recheck), not a regression. Its ceiling as before:
    // the row stays a regression.
    expect(suspects(c, [{ key: 'Adam|default|64K', ceilingKey: 'Adam|ceiling|64K' }, { key: 'Adam|ceiling|64K' }])).toEqual(['Adam|default|64K', 'Adam|ceiling|64K']);
    const withCeiling = (factor: number): BenchRow => ({ ...row('Adam', 'default', 65536, 0.4 * 1.6), ceilingSamples: row('Adam', 'ceiling', 65536, 0.3 * factor).samples });
    const ceilingRow = row('Adam', 'ceiling', 65536, 0.3, 'ceiling');
    const baseWithCeiling = run([{ ...row('Adam', 'default', 65536, 0.4), ceilingSamples: ceilingRow.samples }, ceilingRow]);
    const cc = compareRuns(baseWithCeiling, run([withCeiling(1), ceilingRow]));
    const machine = withRecheck(cc, baseWithCeiling, { 'Adam|default|64K': withCeiling(1.5), 'Adam|ceiling|64K': row('Adam', 'ceiling', 65536, 0.3 * 1.5, 'ceiling') });
    expect(machine.regressions).toEqual([]);
    expect(machine.rows[0]!.recheckCeiling!.verdict).toBe('slower');
    // The ceiling measured beside it is evidence, not a row on trial: no recheck of its own.
    expect(machine.rows.find((r) => r.key === 'Adam|ceiling|64K')!.recheck).toBeUndefined();
    expect(formatComparison(machine, 'base')).toContain('The 1 rows of the package called slower were measured again');
    expect(formatComparison(machine, 'base')).toMatch(/and again: \+60\.0%.*, as was its same-traffic ceiling: \+50\.0%.*\(the machine\)/);
    expect(formatComparison(machine, 'base')).toContain('0 slower again (regressions), 0 not (a slow stretch of the machine, not the code), 1 slower again with their same-traffic ceilings (the machine).');
    const code = withRecheck(cc, baseWithCeiling, { 'Adam|default|64K': withCeiling(1.01) });
    expect(code.regressions.map((r) => r.key)).toEqual(['Adam|default|64K']);
    expect(code.rows[0]!.recheckCeiling!.verdict).toBe('no significant change');
    // Rows not rechecked keep their first verdict; bad samples are refused.
    expect(withRecheck(c, before, {}).regressions.map((r) => r.key)).toEqual(['Adam|default|64K']);
    expect(() => withRecheck(c, before, { 'Adam|default|64K': { ...row('Adam', 'default', 65536, 0.4), samples: [0.4, NaN, 0.4, 0.4] } })).toThrow(RangeError);
  });

  test('slower means the whole interval beyond the threshold: a lower one makes the 8% change a regression, a higher one clears the 70%', () => {
    const sgd = compareRuns(before, after).rows.find((r) => r.key === 'SGD|default|64K')!;
    expect(sgd.low).toBeGreaterThan(0.02);
    expect(sgd.low).toBeLessThan(0.08);
    expect(compareRuns(before, after, { threshold: 0.02 }).regressions.map((r) => r.key)).toContain('SGD|default|64K');
    // 12% slower by its estimate, but samples spread ±15%: the interval reaches below 10%.
    const wide = (center: number): BenchRow => ({ table: 'Adam', series: 'default', kind: 'package', elements: 1024, samples: [-15, -10, -5, 0, 5, 10, 15].map((k) => center * (1 + k / 100)) });
    const spread = compareRuns(run([wide(1)]), run([wide(1.12)])).rows[0]!;
    expect(spread.change).toBeGreaterThan(0.1);
    expect(spread.verdict).toBe('no significant change');
    expect(compareRuns(before, after, { threshold: 1 }).regressions).toEqual([]);
    expect(() => compareRuns(before, after, { threshold: -1 })).toThrow(RangeError);
    expect(() => compareRuns(before, after, { alpha: 0 })).toThrow(RangeError);
  });

  test('another machine is named, loudly', () => {
    const other = run(Object.values(after.rows), { ...machine, cpu: 'Other CPU', caches: { L2: '2048K' } });
    const c = compareRuns(before, other);
    expect(c.machineDifferences).toEqual(['cpu: Test CPU → Other CPU', 'caches: {"L2":"1024K"} → {"L2":"2048K"}']);
    expect(formatComparison(c, 'base')).toMatch(/WARNING: base was recorded on another machine/);
  });

  test('ceilings that moved say the machine changed', () => {
    const c = compareRuns(before, after);
    expect(formatComparison(c, 'base')).toMatch(/The machine itself changed between the runs: 1 same-traffic ceilings \(Adam 64K \+50\.0%\)/);
    expect(formatComparison(compareRuns(before, before), 'base')).not.toContain('The machine itself changed');
  });

  test('rows with too few samples to be significant are named; a row without samples is refused', () => {
    const three = (center: number): BenchRow => ({ table: 'Adam', series: 'default', kind: 'package', elements: 1024, samples: [1, 2, 3].map((k) => center * (1 + k / 100)) });
    const c = compareRuns(run([three(1)]), run([three(2)]));
    expect(c.tooFewSamples).toEqual(['Adam|default|1K']);
    expect(c.rows[0]!.verdict).toBe('no significant change'); // twice as slow, and it cannot tell
    expect(formatComparison(c, 'base')).toContain('1 rows have too few samples to ever be significant');
    const empty: BenchRow = { ...three(1), samples: [] };
    expect(() => compareRuns(run([three(1)]), run([empty]))).toThrow(/the run's row 'Adam\|default\|1K' has no samples/);
  });

  test('options as users write them: 10% or 0.1, never a bare 10; rounds of at least 4', () => {
    expect(parseThreshold('10%')).toBeCloseTo(0.1, 12);
    expect(parseThreshold('0.05')).toBe(0.05);
    for (const bad of ['10', '-1%', 'x', '']) expect(() => parseThreshold(bad)).toThrow(/--threshold must be a percentage/);
    expect(parseAlpha('0.01')).toBe(0.01);
    for (const bad of ['5%', '0', '1', '']) expect(() => parseAlpha(bad)).toThrow(/--alpha/);
    expect(parseRounds('7')).toBe(7);
    for (const bad of ['3', '4.5', 'abc']) expect(() => parseRounds(bad)).toThrow(/--rounds must be a whole number >= 4/);
  });

  test('the same run against itself: nothing changes', () => {
    const c = compareRuns(before, before);
    expect(c.rows.every((r) => r.verdict === 'no significant change' && r.change === 0)).toBe(true);
  });
});

describe('saved runs', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'simd-optim-bench-'));

  test('a name goes to the results directory, a path is itself', () => {
    expect(runPath('main', dir)).toBe(path.join(dir, 'main.json'));
    expect(runPath('x/y.json', dir)).toBe(path.resolve('x/y.json'));
    expect(() => runPath('', dir)).toThrow(RangeError);
  });

  test('saved and loaded whole; a file that is not a run is refused, naming it', () => {
    const r = run([row('Adam', 'default', 1024, 1)], fingerprint());
    const file = runPath('one', path.join(dir, 'nested'));
    saveRun(file, r);
    expect(loadRun(file)).toEqual(r);
    const bad = path.join(dir, 'bad.json');
    writeFileSync(bad, JSON.stringify({ ...r, rows: { x: { table: 'Adam', samples: ['fast'] } } }));
    expect(() => loadRun(bad)).toThrow(/bad\.json: row 'x' is not a benchmark row/);
    writeFileSync(bad, '{"format": "other"}');
    expect(() => loadRun(bad)).toThrow(TypeError);
    writeFileSync(bad, '{');
    expect(() => loadRun(bad)).toThrow(/is not JSON/);
    expect(() => loadRun(path.join(dir, 'none.json'))).toThrow(/no saved run at .*none\.json/);
    expect(readFileSync(file, 'utf8').endsWith('\n')).toBe(true);
  });

  test('the fingerprint names this machine', () => {
    const fp = fingerprint();
    expect(fp.cores).toBe(os.availableParallelism());
    expect(fp.node).toBe(process.version);
    expect(fp.cpu.length).toBeGreaterThan(0);
  });
});

describe('samples in rounds', () => {
  test('one sample of every measurement per round, in order; ceilings attached by key', () => {
    const order: string[] = [];
    const measurement = (key: string, kind: BenchRow['kind'], ceilingKey?: string) => ({
      key, table: 't', series: key, kind, elements: 10, ...(ceilingKey ? { ceilingKey } : {}),
      prepare: () => {
        order.push(key);
        return () => Math.sqrt(order.length);
      },
    });
    const progress: number[] = [];
    const rows = runRounds([measurement('c', 'ceiling'), measurement('a', 'package', 'c')], { rounds: 3, batches: 1, minBatchNs: 1e4, onSample: (done) => progress.push(done) });
    for (const bad of [{ rounds: 0 }, { batches: 0 }, { minBatchNs: NaN }]) expect(() => runRounds([], bad)).toThrow(RangeError);
    expect(order).toEqual(['c', 'a', 'c', 'a', 'c', 'a']);
    expect(progress).toEqual([1, 2, 3, 4, 5, 6]);
    expect(rows['a']!.samples).toHaveLength(3);
    expect(rows['a']!.ceilingNs).toBeGreaterThan(0);
    expect(rows['c']!.ceilingNs).toBeUndefined();
  });
});
