// StandardScaler's native passes (native/scaler.cc) against their TypeScript specification: the
// same bits at every instruction-set level, for column counts that fill the 32 accumulators of
// fit exactly, leave lanes over or need several vectors per row, rows that end mid-pass, missing
// values, extreme magnitudes, unaligned and in-place arrays; and the binding's own refusals.
import { describe, expect, test } from 'vitest';

import { StandardScaler } from '../lib/index.js';
import { backend, nativeAddon } from '../lib/bridge/backend.js';
import { momentSlots, slotMomentsJs, standardizeJs, unstandardizeJs } from '../lib/preprocessing/standard-scaler.js';
import { adversarial, backendsUnderTest, describeBitDifference, normal, rng, unalignedCopy, withFallback } from './helpers.js';

const COLUMN_COUNTS = [1, 2, 3, 4, 5, 7, 8, 9, 11, 15, 16, 17, 31, 32, 33, 100, 784];

/** Rows that leave the last pass of fit partial (for columns < 32) and a tail after whole blocks of 16 values. */
function rowsFor(columns: number): number {
  const perPass = Math.max(1, Math.floor(32 / columns));
  return Math.max(3, Math.ceil(3000 / columns)) * perPass + (perPass > 1 ? perPass - 1 : 1);
}

/** Columns of different offsets and spreads, 3% missing. */
function table(seed: number, columns: number, rows: number): Float32Array {
  const random = rng(seed);
  const z = normal(random, rows * columns);
  return Float32Array.from(z, (v, i) => {
    if (random() < 0.03) return NaN;
    const c = i % columns;
    return (c % 3 === 0 ? 1000 * c : -c) + 10 ** ((c % 7) - 3) * v;
  });
}

const f64Bits = (x: Float64Array) => Array.from(new BigUint64Array(x.buffer, x.byteOffset, x.length), (b) => b.toString(16));

describe.each(backendsUnderTest())('$label', ({ activate }) => {
  test.each(COLUMN_COUNTS)('%i columns: fit, transform and inverseTransform give the fallback\'s bits', (columns) => {
    const rows = rowsFor(columns);
    const x = unalignedCopy(table(columns, columns, rows), 1);
    const run = () => {
      const scaler = new StandardScaler().fit(x, columns);
      const y = scaler.transform(x);
      const inPlace = unalignedCopy(x, 3);
      scaler.transform(inPlace, inPlace);
      return { state: scaler.stateDict(), y, inPlace, back: scaler.inverseTransform(y) };
    };
    const want = withFallback(run);
    activate();
    const got = run();
    for (const key of ['mean', 'var', 'scale', 'nSamplesSeen'] as const) {
      expect(f64Bits(Float64Array.from(got.state[key])), key).toEqual(f64Bits(Float64Array.from(want.state[key])));
    }
    for (const key of ['y', 'inPlace', 'back'] as const) {
      expect(describeBitDifference(key, got[key], want[key])).toBeNull();
    }
  });

  test('the kernels on extreme values: subnormals, the largest floats, outputs that overflow or underflow float32', () => {
    activate();
    const random = rng(11);
    for (const columns of [1, 3, 16, 21]) {
      const n = columns * 97;
      const x = adversarial(random, n);
      const shift = Float64Array.from({ length: columns + 16 }, (_, j) => [0, 1e-40, -3e38, 2.5][j % columns % 4]!);
      const divisor = Float64Array.from({ length: columns + 16 }, (_, j) => [1, 1e-30, 3e-7, 7e36][j % columns % 4]!);
      for (const [inverse, spec] of [[0, standardizeJs], [1, unstandardizeJs]] as const) {
        const want = new Float32Array(n);
        spec(x, want, n, columns, shift, divisor);
        const got = new Float32Array(n);
        if (backend === 'native') nativeAddon!.scaleColumns(inverse, x, got, columns, shift, divisor);
        else spec(x, got, n, columns, shift, divisor);
        expect(describeBitDifference(`${columns} columns, inverse ${inverse}`, got, want)).toBeNull();
      }
      // fit's accumulators: infinities are errors before they get here, so they are NaN (missing).
      const finite = x.map((v) => (Number.isFinite(v) ? v : NaN));
      const slots = momentSlots(columns), padded = Math.ceil(slots / 16) * 16;
      const state = () => [new Float64Array(padded), new Float64Array(padded), new Float64Array(padded)] as const;
      const want = state(), got = state();
      slotMomentsJs(finite, n, slots, ...want);
      if (backend === 'native') nativeAddon!.columnMoments(finite, slots, ...got);
      else slotMomentsJs(finite, n, slots, ...got);
      for (let k = 0; k < 3; k++) expect(f64Bits(got[k]!)).toEqual(f64Bits(want[k]!));
    }
  });

  test('an infinity anywhere is named by its first index, and the scaler keeps its statistics', () => {
    activate();
    const scaler = new StandardScaler().fit(Float32Array.from([1, 2, 3, 4]), 2);
    const before = scaler.stateDict();
    for (const columns of [1, 2, 5, 40]) {
      const x = table(3, columns, 50);
      x[7 * columns + 1] = NaN;
      x[9 * columns - 1] = -Infinity;
      x[30 * columns] = Infinity;
      const i = 9 * columns - 1;
      expect(() => scaler.fit(x, columns)).toThrow(new RegExp(`data\\[${i}\\] is -Infinity \\(row ${Math.floor(i / columns)}, column ${i % columns}\\)`));
    }
    expect(scaler.stateDict()).toEqual(before);
  });
});

test('merging the accumulators of a column keeps its mean and variance to float64 rounding, far from zero', () => {
  // One column, so 32 accumulators: a mean of 1e6 with a spread of 0.3 (float32 steps of 1/16
  // there), against exact integer sums in units of 1/16. A single Welford accumulator is off by
  // 1.0e-10 of the variance here; 32 merged ones by 2.8e-11 (shorter chains of roundings).
  const random = rng(5);
  const x = Float32Array.from({ length: 10_007 }, () => 1e6 + 0.05 * Math.round(20 * random()));
  const scaler = new StandardScaler().fit(x, 1);
  let s1 = 0n, s2 = 0n;
  for (const v of x) {
    const units = BigInt((v - 1e6) * 16); // exact: every value is 1e6 plus a whole number of 1/16
    s1 += units;
    s2 += units * units;
  }
  const n = BigInt(x.length);
  const mean = 1e6 + Number(s1) / 16 / x.length;
  const variance = Number(s2 * n - s1 * s1) / Number(n * n) / 256;
  expect(Math.abs(scaler.mean![0]! - mean)).toBeLessThan(2 * 2 ** -52 * 1e6);
  expect(Math.abs(scaler.var![0]! - variance) / variance).toBeLessThan(5e-11);
});

describe.skipIf(backend !== 'native')('the binding checks what it is given', () => {
  test('scaleColumns and columnMoments refuse arrays that would take them out of bounds', () => {
    const addon = nativeAddon!;
    const x = new Float32Array(32), y = new Float32Array(32), d = new Float64Array(20), short = new Float64Array(19);
    expect(() => addon.scaleColumns(0, x, y, 4, short, d)).toThrow(/shift is too short/);
    expect(() => addon.scaleColumns(1, x, y, 4, d, short)).toThrow(/divisor is too short/);
    expect(() => addon.scaleColumns(2 as never, x, y, 4, d, d)).toThrow(/inverse must be 0 or 1/);
    expect(() => addon.scaleColumns(0, x, new Float32Array(31), 4, d, d)).toThrow(/differ in length/);
    expect(() => addon.scaleColumns(0, x.subarray(0, 16), x.subarray(8, 24), 4, d, d)).toThrow(/overlaps/);
    expect(() => addon.scaleColumns(0, x, y, 0, d, d)).toThrow(/columns must be a whole number >= 1/);
    expect(() => addon.scaleColumns(0, x, y, 4, new Float32Array(20) as never, d)).toThrow(/shift must be a Float64Array/);
    const state = new Float64Array(16);
    expect(() => addon.columnMoments(x, 17, new Float64Array(32), new Float64Array(32), new Float64Array(31))).toThrow(/count is too short/);
    expect(() => addon.columnMoments(x, 0, state, state, state)).toThrow(/slots must be a whole number >= 1/);
    const shared = new Float64Array(48);
    expect(() => addon.columnMoments(x, 16, shared.subarray(0, 16), shared.subarray(8, 24), shared.subarray(32))).toThrow(/must not overlap/);
    expect(Array.from(y).every((v) => v === 0)).toBe(true);
  });
});
