// gradcheck's sensitivity, measured on the corpus of test/gradcheck-corpus.ts: every correct
// gradient passes, and an error of 1% (float32) or 1e-6 (float64) planted on any coordinate whose
// |gradient| is at least a tenth of the RMS gradient fails and is named. The margins measured here
// are the README's table, which the last test compares with what it measures.
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { describe, expect, test } from 'vitest';

import { gradcheck, type CoordinateCheck, type GradcheckReport, type Tensor } from '../lib/index.js';
import { GRADCHECK_DEFAULTS } from '../lib/gradcheck/gradcheck.js';
import { probeCoordinate } from '../lib/gradcheck/gradcheck-probe.js';
import { checkCoordinate } from '../lib/gradcheck/gradcheck-verdict.js';
import { CORPUS, ENTROPY, TARGET, eligible, type CorpusFunction, type CorpusProblem, type Dtype } from './gradcheck-corpus.js';

const DTYPES: Dtype[] = ['float32', 'float64'];
const SAFETY = GRADCHECK_DEFAULTS.safety;

interface Measured {
  coordinates: number;
  eligible: number;
  value: number;
  evaluationsPerCoordinate: number;
  /** Largest |analytic - numeric| / estimate over every coordinate of the correct gradient. */
  maxCorrect: number;
  /** Smallest |planted - numeric| / estimate over every planted error. */
  minPlanted: number;
}

interface Runs {
  measured: Measured;
  correct: GradcheckReport;
  /** gradcheck with +-target planted alternately on every eligible coordinate. */
  plantedReport: GradcheckReport;
  judged: { correct: CoordinateCheck[]; planted: CoordinateCheck[] };
  /** The eligible coordinates, as tensor:index. */
  expected: string[];
}

/** The gradient with `factor(k)` applied to the k-th coordinate of `where`. */
function planted(gradient: number[][], where: [number, number][], factor: (k: number) => number): number[][] {
  const copy = gradient.map((g) => g.slice());
  where.forEach(([t, i], k) => (copy[t]![i]! *= factor(k)));
  return copy;
}

const ratio = (c: CoordinateCheck) => c.absError / c.errorEstimate;
const placeOf = (c: Pick<CoordinateCheck, 'tensor' | 'index'>) => `${c.tensor}:${c.index}`;

/**
 * Every coordinate judged as gradcheck judges it: with the correct analytic value, and with each
 * planted one on the eligible coordinates (one probe per coordinate, shared: the probe never sees
 * the analytic value; refinements of close calls are each verdict's own).
 */
function verdicts(p: CorpusProblem, gradient: number[][], targets: [number, number][], dtype: Dtype) {
  const f0 = p.f(p.x);
  const probe = { precision: dtype, rtol: GRADCHECK_DEFAULTS.rtol(dtype), step: undefined, richardson: true };
  const chosen = new Set(targets.map(([t, i]) => `${t}:${i}`));
  const correct: CoordinateCheck[] = [], plantedChecks: CoordinateCheck[] = [];
  p.x.forEach((x, t) => {
    const g = gradient[t]!;
    const floor = 1e-3 * Math.sqrt(g.reduce((s, v) => s + v * v, 0) / g.length);
    const judging = { value: () => p.f(p.x), f0, probe, floor, rtol: probe.rtol, safety: SAFETY, strict: false };
    g.forEach((a, i) => {
      const place = { tensor: t, name: p.names[t]!, index: i };
      const once = probeCoordinate(x, i, judging.value, f0, probe);
      correct.push(checkCoordinate(x, place, a, judging, once));
      if (chosen.has(`${t}:${i}`)) {
        for (const sign of [1, -1]) plantedChecks.push(checkCoordinate(x, place, a * (1 + sign * TARGET[dtype]), judging, once));
      }
    });
  });
  return { correct, planted: plantedChecks };
}

const runs = new Map<string, Runs>();

/** The verdicts, gradcheck on the correct gradient and on a planted one, and the margins; once per case. */
function run(fn: CorpusFunction, dtype: Dtype): Runs {
  const key = `${fn.name} | ${dtype}`;
  const done = runs.get(key);
  if (done) return done;
  const p = fn.build(dtype);
  let evaluations = 0;
  const f = (xs: Tensor[]) => (evaluations++, p.f(xs));
  const gradient = p.grad(p.x);
  const correct = gradcheck(f, () => gradient, p.x, { names: p.names });
  const coordinates = gradient.reduce((s, g) => s + g.length, 0);
  const evaluationsPerCoordinate = evaluations / coordinates;
  const targets = eligible(gradient);
  const wrong = planted(gradient, targets, (k) => 1 + (k % 2 === 0 ? 1 : -1) * TARGET[dtype]);
  const plantedReport = gradcheck(p.f, () => wrong, p.x, { names: p.names, maxFailures: 100_000 });
  const judged = verdicts(p, gradient, targets, dtype);
  const measured = {
    coordinates, eligible: targets.length, value: Math.abs(p.f(p.x)), evaluationsPerCoordinate,
    maxCorrect: Math.max(...judged.correct.map(ratio)),
    minPlanted: Math.min(...judged.planted.map(ratio)),
  };
  const result = { measured, correct, plantedReport, judged, expected: targets.map(([t, i]) => placeOf({ tensor: t, index: i })).sort() };
  runs.set(key, result);
  return result;
}

describe.each(CORPUS)('$name', (fn) => {
  test.each(DTYPES)('%s: the correct gradient passes; every eligible coordinate with a planted error fails, and no other', (dtype) => {
    const { measured, correct, plantedReport, judged, expected } = run(fn, dtype);
    expect(correct.ok, correct.toString()).toBe(true);
    expect(correct.kinks).toEqual([]);
    expect(correct.checked).toBe(measured.coordinates);
    expect(measured.eligible).toBeGreaterThan(measured.coordinates / 10);
    // The public path, every planted error at once (+ and - in turn)...
    expect(plantedReport.failures.map(placeOf).sort()).toEqual(expected);
    expect(plantedReport.failures.every((c) => c.kind === 'failure')).toBe(true);
    // ... and each coordinate's verdict with the correct value and with +-target.
    expect(judged.correct.filter((c) => c.kind !== 'ok')).toEqual([]);
    expect(judged.planted.filter((c) => c.kind !== 'failure')).toEqual([]);
    expect(measured.maxCorrect).toBeLessThan(SAFETY);
    expect(measured.minPlanted).toBeGreaterThan(SAFETY);
  });

  test.each(DTYPES)('%s: one planted error, on the hardest eligible coordinate, is the report\'s worst', (dtype) => {
    const p = fn.build(dtype);
    const gradient = p.grad(p.x);
    const byMagnitude = eligible(gradient).sort(([t, i], [u, j]) => Math.abs(gradient[t]![i]!) - Math.abs(gradient[u]![j]!));
    const target = byMagnitude[0]!;
    const report = gradcheck(p.f, () => planted(gradient, [target], () => 1 - TARGET[dtype]), p.x, { names: p.names });
    expect(report.ok).toBe(false);
    expect(report.failureCount).toBe(1);
    expect(report.worst).toMatchObject({ tensor: target[0], index: target[1], kind: 'failure' });
  });
});

test('beyond float32\'s reach (x log x, f ~ 6e3, coordinates near 1e-3): no false failure, and float64 still sees 1e-6', () => {
  for (const dtype of DTYPES) {
    const p = ENTROPY.build(dtype);
    const gradient = p.grad(p.x);
    const report = gradcheck(p.f, () => gradient, p.x);
    expect(report.ok, report.toString()).toBe(true);
  }
  const p = ENTROPY.build('float64');
  const gradient = p.grad(p.x);
  const targets = eligible(gradient);
  const report = gradcheck(p.f, () => planted(gradient, targets, () => 1 + TARGET.float64), p.x, { maxFailures: 100_000 });
  expect(report.failureCount).toBe(targets.length);
});

/** The README's table: rows of cells between pipes, after the heading that names it. */
function readmeTable(): string[][] {
  const readme = readFileSync(path.join(__dirname, '..', 'README.md'), 'utf8');
  const start = readme.indexOf('<!-- gradcheck-sensitivity-table -->');
  expect(start, 'the README marks its sensitivity table').toBeGreaterThan(0);
  const lines = readme.slice(start).split('\n').slice(1);
  const rows = lines.slice(0, lines.findIndex((l) => !l.startsWith('|')));
  return rows.slice(2).map((row) => row.split('|').slice(1, -1).map((cell) => cell.trim()));
}

test('the README\'s table shows what this suite measures', () => {
  const shown = readmeTable();
  const table = CORPUS.flatMap((fn) => DTYPES.map((dtype) => {
    const m = run(fn, dtype).measured;
    return [fn.name, dtype, `${m.coordinates} (${m.eligible})`, m.value.toPrecision(2), m.evaluationsPerCoordinate.toFixed(1), m.maxCorrect.toFixed(2), m.minPlanted.toPrecision(3)];
  }));
  const printed = table.map((row) => `| ${row.join(' | ')} |`).join('\n');
  expect(shown.length, `measured:\n${printed}`).toBe(table.length);
  table.forEach((row, r) => {
    expect(shown[r]!.slice(0, 3), `row ${r}; measured:\n${printed}`).toEqual(row.slice(0, 3));
    // Numbers within 5%: the ratios are deterministic, the margin is for a future engine's Math.exp.
    for (let c = 3; c < row.length; c++) {
      const [a, b] = [Number(shown[r]![c]!.replace(/[^0-9.e+-]/g, '')), Number(row[c]!)];
      expect(Math.abs(a - b) / b, `row ${r} column ${c}: README ${shown[r]![c]}, measured ${row[c]}; measured:\n${printed}`).toBeLessThan(0.05);
    }
  });
});
