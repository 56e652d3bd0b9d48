// StandardScaler: its statistics against a float64 reference, constant columns, missing values,
// bad input that changes nothing, state dicts, and the bits of its output (the same code runs on
// both backends; the checksum pins them across machines too).
import { describe, expect, test } from 'vitest';

import { StandardScaler } from '../lib/index.js';
import { normal, rng } from './helpers.js';

const ROWS = 500, COLUMNS = 4;

/** Columns of very different offsets and spreads: feature scaling's reason to exist. */
function data(seed = 1): Float32Array {
  const random = rng(seed);
  const z = normal(random, ROWS * COLUMNS);
  const offsets = [0, 1000, -3, 5e-3], spreads = [1, 0.01, 250, 1e-4];
  return Float32Array.from(z, (v, i) => offsets[i % COLUMNS]! + spreads[i % COLUMNS]! * v);
}

/** Mean and population variance per column in float64, summed in sorted order (a different order from the scaler's). */
function reference(values: Float32Array, columns: number) {
  const mean: number[] = [], variance: number[] = [];
  for (let c = 0; c < columns; c++) {
    const col = Array.from(values.filter((_, i) => i % columns === c)).filter((v) => !Number.isNaN(v)).sort((a, b) => a - b);
    const m = col.reduce((a, b) => a + b, 0) / col.length;
    mean.push(m);
    variance.push(col.reduce((a, v) => a + (v - m) ** 2, 0) / col.length);
  }
  return { mean, variance };
}

describe('statistics', () => {
  test('mean and variance agree with a float64 reference; the output has mean 0 and std 1 per column', () => {
    const x = data();
    const scaler = new StandardScaler();
    const y = scaler.fitTransform(x, COLUMNS);
    const ref = reference(x, COLUMNS);
    for (let c = 0; c < COLUMNS; c++) {
      expect(Math.abs(scaler.mean![c]! - ref.mean[c]!)).toBeLessThanOrEqual(1e-12 * Math.max(1, Math.abs(ref.mean[c]!)));
      expect(Math.abs(scaler.var![c]! - ref.variance[c]!) / ref.variance[c]!).toBeLessThan(1e-9);
      expect(scaler.scale![c]).toBeCloseTo(Math.sqrt(ref.variance[c]!), 12);
      const out = reference(y, COLUMNS);
      expect(Math.abs(out.mean[c]!)).toBeLessThan(1e-5);
      expect(Math.abs(out.variance[c]! - 1)).toBeLessThan(1e-5);
    }
    // Each output value is (x - mean) / scale in float64, rounded to float32 once.
    for (let i = 0; i < 40; i++) {
      const c = i % COLUMNS;
      expect(y[i]).toBe(Math.fround((x[i]! - scaler.mean![c]!) / scaler.scale![c]!));
    }
  });

  test('a constant column is divided by 1, not by its rounding error, and never becomes NaN', () => {
    // 0.1 in float32, 100,001 times: a plain float64 sum would not divide back to exactly the value.
    const rows = 100_001;
    const x = new Float32Array(rows * 2);
    for (let r = 0; r < rows; r++) { x[2 * r] = 0.1; x[2 * r + 1] = r % 7; }
    const scaler = new StandardScaler();
    const y = scaler.fitTransform(x, 2);
    expect(scaler.scale![0]).toBe(1);
    expect(scaler.var![0]).toBe(0); // Welford: every deviation after the first value is exactly 0
    for (let r = 0; r < rows; r += 997) {
      expect(Math.abs(y[2 * r]!)).toBeLessThan(1e-7);
    }
    expect(scaler.scale![1]).toBeGreaterThan(1); // the other column is scaled
  });

  test('NaN is a missing value: left out of fit, kept by transform', () => {
    const x = Float32Array.from([1, NaN, 3, 10, NaN, 30, 5, 50]);
    const scaler = new StandardScaler();
    const y = scaler.fitTransform(x, 2);
    expect(Array.from(scaler.mean!)).toEqual([3, 30]);
    expect(scaler.stateDict().nSamplesSeen).toEqual([3, 3]);
    expect(Number.isNaN(y[1]!)).toBe(true);
    expect(Number.isNaN(y[4]!)).toBe(true);
    expect(y[0]).toBeCloseTo(-Math.sqrt(1.5), 6);
  });

  test('withMean false keeps the offset, withStd false the spread', () => {
    const x = data();
    const noMean = new StandardScaler({ withMean: false }).fitTransform(x, COLUMNS);
    const noStd = new StandardScaler({ withStd: false }).fitTransform(x, COLUMNS);
    const ref = reference(x, COLUMNS);
    for (const v of reference(noMean, COLUMNS).variance) expect(v).toBeCloseTo(1, 3); // float32 outputs near 1e5: their ulp is 0.008
    expect(Math.abs(reference(noMean, COLUMNS).mean[1]! - ref.mean[1]! / Math.sqrt(ref.variance[1]!))).toBeLessThan(1);
    expect(reference(noStd, COLUMNS).variance[2]).toBeCloseTo(ref.variance[2]!, -1);
  });

  test('inverseTransform undoes transform to within a few float32 roundings', () => {
    const x = data(3);
    const scaler = new StandardScaler().fit(x, COLUMNS);
    const back = scaler.inverseTransform(scaler.transform(x));
    for (let i = 0; i < x.length; i++) {
      expect(Math.abs(back[i]! - x[i]!)).toBeLessThanOrEqual(4 * 2 ** -23 * Math.max(Math.abs(x[i]!), scaler.scale![i % COLUMNS]!));
    }
  });

  test('the bits of a transform are pinned: a checksum of the output of fixed data', () => {
    const y = new StandardScaler().fitTransform(data(7), COLUMNS);
    const bits = new Uint32Array(y.buffer);
    let h = 0;
    for (const b of bits) h = (Math.imul(h, 31) + b) >>> 0;
    expect(h).toMatchInlineSnapshot(`633445294`);
  });
});

describe('bad input throws, naming it, and changes nothing', () => {
  test('fit', () => {
    const scaler = new StandardScaler().fit(Float32Array.from([1, 2, 3, 4]), 2);
    const before = scaler.stateDict();
    expect(() => scaler.fit([1, 2] as never, 1)).toThrow(/fit: data must be a Float32Array/);
    expect(() => scaler.fit(new Float32Array(5), 2)).toThrow(/5 values, not a whole number .* rows of 2/);
    expect(() => scaler.fit(new Float32Array(4), 0)).toThrow(/columns must be a whole number >= 1/);
    expect(() => scaler.fit(new Float32Array(0), 1)).toThrow(RangeError);
    expect(() => scaler.fit(Float32Array.from([1, 2, Infinity, 4]), 2)).toThrow(/data\[2\] is Infinity \(row 1, column 0\)/);
    expect(() => scaler.fit(Float32Array.from([1, NaN, 3, NaN]), 2)).toThrow(/column 1 of data has no value that is not NaN/);
    expect(() => new StandardScaler({ withMeans: true } as never)).toThrow(/unknown option options\.withMeans/);
    expect(() => new StandardScaler({ withStd: 1 } as never)).toThrow(/options\.withStd must be a boolean/);
    expect(scaler.stateDict()).toEqual(before);
  });

  test('transform', () => {
    const scaler = new StandardScaler();
    expect(() => scaler.transform(new Float32Array(2))).toThrow(/not fitted yet/);
    scaler.fit(Float32Array.from([1, 2, 3, 4]), 2);
    const out = Float32Array.from([7, 7, 7, 7]);
    expect(() => scaler.transform(new Float32Array(3), new Float32Array(3))).toThrow(/3 values, not a whole number of rows of 2/);
    expect(() => scaler.transform(new Float32Array(4), new Float32Array(2))).toThrow(/out has 2 values, data 4/);
    const shared = new Float32Array(6);
    expect(() => scaler.transform(shared.subarray(0, 4), shared.subarray(2, 6))).toThrow(/out overlaps data/);
    expect(() => scaler.transform(new Float32Array(4), [0, 0, 0, 0] as never)).toThrow(/out must be a Float32Array/);
    expect(Array.from(out)).toEqual([7, 7, 7, 7]);
    // In place is allowed: out is data itself.
    const x = Float32Array.from([1, 2, 3, 4]);
    expect(scaler.transform(x, x)).toBe(x);
    expect(Array.from(x)).toEqual([-1, -1, 1, 1]);
  });
  test('fitTransform checks out before its statistics replace the old ones', () => {
    const fresh = new StandardScaler();
    expect(() => fresh.fitTransform(Float32Array.of(1, 2), 1, new Float32Array(1))).toThrow(/fitTransform: out has 1 values, data 2/);
    expect(() => fresh.stateDict()).toThrow(/not fitted yet/);
    const fitted = new StandardScaler().fit(Float32Array.of(10, 30), 1);
    const before = fitted.stateDict();
    const shared = new Float32Array(3);
    expect(() => fitted.fitTransform(shared.subarray(0, 2), 1, shared.subarray(1, 3))).toThrow(/fitTransform: out overlaps data/);
    expect(() => fitted.fitTransform(Float32Array.of(0, 0), 1, [0, 0] as never)).toThrow(/fitTransform: out must be a Float32Array/);
    expect(fitted.stateDict()).toEqual(before);
  });
});

describe('loadStateDict reads each array once, by index', () => {
  test('a length that changes after it is read, or an iterator of other values, cannot slip past the checks', () => {
    const good = new StandardScaler().fit(Float32Array.of(1, 3), 1).stateDict();
    let reads = 0;
    const shrinking = new Proxy([2], { get: (target, key, receiver) => (key === 'length' ? (reads++ === 0 ? 1 : 0) : Reflect.get(target, key, receiver)) });
    const a = new StandardScaler();
    a.loadStateDict({ ...good, mean: shrinking as number[] });
    expect(a.stateDict().mean).toEqual([2]);
    const lying = Object.assign([1], { *[Symbol.iterator]() { yield 1; yield 2; } });
    const b = new StandardScaler();
    b.loadStateDict({ ...good, scale: lying });
    expect(b.stateDict().scale).toEqual([1]);
    expect(Array.from(b.transform(Float32Array.of(4)))).toEqual([2]);
  });
});

test('stateDict through JSON and loadStateDict give the same bits; a bad state is refused whole', () => {
  const x = data(5);
  const a = new StandardScaler().fit(x, COLUMNS);
  const b = new StandardScaler();
  b.loadStateDict(JSON.parse(JSON.stringify(a.stateDict())));
  expect(b.transform(x)).toEqual(a.transform(x));
  const good = a.stateDict();
  const bad: [object, RegExp][] = [
    [{ ...good, scale: [1, 0, 1, 1] }, /state\.scale\[1\] must be a finite number > 0/],
    [{ ...good, mean: [1, 2, 3] }, /state\.mean must be an array of 4 numbers/],
    [{ ...good, var: [1, -1, 1, 1] }, /state\.var\[1\] must be a finite number >= 0/],
    [{ ...good, columns: 2.5 }, /state\.columns must be a whole number/],
    [{ ...good, withStd: false }, /withStd false/],
    [{ ...good, nSamplesSeen: [1, 2, 3, 0] }, /nSamplesSeen\[3\]/],
    [{ ...good, scale: [1, Infinity, 1, 1] }, /state\.scale\[1\]/],
  ];
  const c = new StandardScaler().fit(Float32Array.from([0, 1]), 1);
  const before = c.stateDict();
  for (const [state, message] of bad) expect(() => c.loadStateDict(state as never)).toThrow(message);
  expect(c.stateDict()).toEqual(before);
});
