// clipGradNorm and clipGradValue: PyTorch's semantics, a float64 reference for the norms, and
// the same bits on every backend and ISA level (the norms have a fixed summation order).
import { describe, expect, test } from 'vitest';

import { clipGradNorm, clipGradNormAsync, clipGradValue } from '../lib/index.js';
import { allFinite as allFiniteOf } from '../lib/optimizers/gradients.js';

/** The non-finite check on a list of gradients (null where a param has none). */
const allFinite = (grads: (Float32Array | null | undefined)[]) =>
  allFiniteOf(grads.map((g) => g ?? null), grads.length, grads.map((g) => g?.length ?? 0));
import { availableIsas, backend, useBackend } from '../lib/bridge/backend.js';
import { adversarial, backendsUnderTest, describeBitDifference, normal, rng, unalignedCopy } from './helpers.js';

const SIZES = [0, 1, 15, 16, 17, 31, 33, 1003, 4099];

function tensors(seed: number, scale = 1): Float32Array[] {
  const random = rng(seed);
  return SIZES.map((n, i) => unalignedCopy(normal(random, n, scale), i % 4));
}

function reference(grads: Float32Array[], normType: number): number {
  let acc = 0;
  for (const g of grads) {
    for (const x of g) acc = normType === Infinity ? Math.max(acc, Math.abs(x)) : acc + Math.abs(x) ** normType;
  }
  return normType === 2 ? Math.sqrt(acc) : acc;
}

describe.each(backendsUnderTest())('on $label', ({ activate }) => {
  test.each([2, 1, Infinity] as const)('normType %s: the norm, and scaling only above maxNorm', (normType) => {
    activate();
    const grads = tensors(1);
    const total = reference(grads, normType);
    expect(clipGradNorm(grads.map((g) => g.slice()), 1e9, { normType })).toBeCloseTo(total, 9);
    const below = grads.map((g) => g.slice());
    clipGradNorm(below, total * 1.01, { normType });
    below.forEach((g, k) => expect(describeBitDifference(`untouched ${k}`, g, grads[k]!)).toBeNull());
    const clipped = grads.map((g) => g.slice());
    const returned = clipGradNorm(clipped, 0.25, { normType });
    const coef = Math.fround(0.25 / (returned + 1e-6));
    clipped.forEach((g, k) => expect(describeBitDifference(`scaled ${k}`, g, grads[k]!.map((x) => Math.fround(x * coef)))).toBeNull());
    expect(reference(clipped, normType)).toBeCloseTo(0.25, 5);
  });

  test('a NaN or infinite norm scales nothing, unless errorIfNonfinite asks to throw', () => {
    activate();
    const grads = tensors(2);
    grads[7]![500] = Infinity;
    const before = grads.map((g) => g.slice());
    expect(clipGradNorm(grads, 1)).toBe(Infinity);
    grads.forEach((g, k) => expect(describeBitDifference(`grad ${k}`, g, before[k]!)).toBeNull());
    grads[3]![4] = NaN;
    expect(clipGradNorm(grads, 1, { normType: 1 })).toBeNaN();
    expect(clipGradNorm(grads, 1, { normType: Infinity })).toBeNaN();
    expect(() => clipGradNorm(grads, 1, { errorIfNonfinite: true })).toThrow(RangeError);
    grads.forEach((g, k) => expect(describeBitDifference(`grad ${k}`, g, [...before.slice(0, 3), grads[3]!, ...before.slice(4)][k]!)).toBeNull());
  });

  test.each([2, 1, Infinity] as const)('clipGradNormAsync, normType %s: the norm and the scaled bits of clipGradNorm, any thread count', async (normType) => {
    activate();
    const random = rng(11);
    const make = () => [normal(random, 70000), normal(random, 5), normal(random, 40000)];
    for (const maxNorm of [0.5, 1e9]) {
      for (const threads of [1, 2, 'auto'] as const) {
        const grads = make(), copies = grads.map((g) => g.slice());
        const pending = clipGradNormAsync(grads, maxNorm, { normType, threads });
        expect(await pending).toBe(clipGradNorm(copies, maxNorm, { normType }));
        grads.forEach((g, k) => expect(describeBitDifference(`grads[${k}]`, g, copies[k]!)).toBeNull());
      }
    }
    const grads = make(), copies = grads.map((g) => g.slice());
    expect(await clipGradNormAsync(grads, 0.5, { totalNorm: 3 })).toBe(clipGradNorm(copies, 0.5, { totalNorm: 3 }));
    grads.forEach((g, k) => expect(describeBitDifference(`grads[${k}]`, g, copies[k]!)).toBeNull());
  });

  test('clipGradNormAsync: bad arguments and a non-finite norm with errorIfNonfinite reject, and change nothing', async () => {
    activate();
    const g = new Float32Array([3, 4]);
    await expect(clipGradNormAsync([g], -1)).rejects.toThrow(RangeError);
    await expect(clipGradNormAsync([g, g], 1)).rejects.toThrow(/overlap/);
    await expect(clipGradNormAsync([g], 1, { normType: 3 as never })).rejects.toThrow(/normType/);
    const resizable = new Float32Array(new ArrayBuffer(8, { maxByteLength: 16 }));
    await expect(clipGradNormAsync([resizable], 1)).rejects.toThrow(/grads\[0\] is a view of a resizable ArrayBuffer/);
    const bad = new Float32Array([1, Number.NaN]);
    await expect(clipGradNormAsync([bad], 1, { errorIfNonfinite: true })).rejects.toThrow(/total norm of order 2 of grads is NaN/);
    expect(Array.from(g)).toEqual([3, 4]);
    expect(await clipGradNormAsync([g], 1)).toBe(5);
    expect(Array.from(g).map((x) => x.toFixed(5))).toEqual(['0.60000', '0.80000']);
  });

  test('the non-finite check finds one NaN or infinity at any position of any tensor', () => {
    activate();
    const random = rng(6);
    for (const n of [1, 15, 16, 17, 40, 67]) {
      const grads = [normal(random, 33), unalignedCopy(adversarial(random, n, 0).map((x) => (Number.isFinite(x) ? x : 0)), n % 4)];
      grads[1]![0] = -0;
      grads[1]![n - 1] = 1.401298464324817e-45; // subnormals and -0 are finite
      expect(allFinite([null, ...grads])).toBe(true);
      for (let i = 0; i < n; i++) {
        for (const bad of [NaN, Infinity, -Infinity]) {
          const saved = grads[1]![i]!;
          grads[1]![i] = bad;
          expect(allFinite([grads[0], undefined, grads[1]]), `n=${n} i=${i} ${bad}`).toBe(false);
          grads[1]![i] = saved;
        }
      }
    }
  });

  test('clipGradValue clamps to [-clip, clip]; NaN stays NaN, signed zeros stay', () => {
    activate();
    const g = new Float32Array([-3, -0.5, -0, 0, 0.5, 3, NaN, Infinity, -Infinity]);
    clipGradValue([g], 1);
    expect(Array.from(g)).toEqual([-1, -0.5, -0, 0, 0.5, 1, NaN, 1, -1]);
    expect(Object.is(g[2], -0)).toBe(true);
  });

  test('bad arguments throw, naming them, and change nothing', () => {
    activate();
    const grads = tensors(3);
    const before = grads.map((g) => g.slice());
    expect(() => clipGradNorm(grads, -1)).toThrow(/maxNorm/);
    expect(() => clipGradNorm(grads, NaN)).toThrow(/maxNorm/);
    expect(() => clipGradNorm(grads, '1' as never)).toThrow(TypeError);
    expect(() => clipGradNorm(grads, 1, { normType: 3 as never })).toThrow(/normType/);
    expect(() => clipGradNorm(grads, 1, { norm: 2 } as never)).toThrow(/options.norm/);
    expect(() => clipGradNorm([grads[0]!, new Float64Array(3) as never], 0.1)).toThrow(/grads\[1\]/);
    expect(() => clipGradNorm([grads[8]!, grads[8]!.subarray(5, 9)], 0.1)).toThrow(/grads\[0\] and grads\[1\] overlap/);
    expect(() => clipGradValue(grads, -1)).toThrow(/clipValue/);
    expect(() => clipGradValue([grads[1]!, grads[1]!], 0.1)).toThrow(/grads\[0\] and grads\[1\] overlap/);
    grads.forEach((g, k) => expect(describeBitDifference(`grad ${k}`, g, before[k]!)).toBeNull());
  });
});

describe.skipIf(backend !== 'native')('native vs fallback, bit for bit', () => {
  test.each([2, 1, Infinity] as const)('clipGradNorm, normType %s, on ordinary and adversarial gradients', (normType) => {
    for (const seed of [1, 2, 3, 4]) {
      const random = rng(seed);
      const grads = SIZES.map((n, i) => unalignedCopy(seed % 2 ? adversarial(random, n, 0.01) : normal(random, n, 10 ** (seed - 2)), (i + seed) % 4));
      useBackend('js');
      const expectedGrads = grads.map((g) => g.slice());
      const expected = clipGradNorm(expectedGrads, 1e-3, { normType });
      for (const level of availableIsas()) {
        useBackend('native', level);
        const actualGrads = grads.map((g) => g.slice());
        const actual = clipGradNorm(actualGrads, 1e-3, { normType });
        expect(Object.is(actual, expected) || (Number.isNaN(actual) && Number.isNaN(expected)), `${level} seed ${seed}: ${actual} vs ${expected}`).toBe(true);
        actualGrads.forEach((g, k) => expect(describeBitDifference(`${level} grad ${k}`, g, expectedGrads[k]!)).toBeNull());
      }
    }
  });

  test('clipGradValue on adversarial gradients', () => {
    const random = rng(5);
    const grads = SIZES.map((n, i) => unalignedCopy(adversarial(random, n), i % 4));
    useBackend('js');
    const expected = grads.map((g) => g.slice());
    clipGradValue(expected, 1e-3);
    for (const level of availableIsas()) {
      useBackend('native', level);
      const actual = grads.map((g) => g.slice());
      clipGradValue(actual, 1e-3);
      actual.forEach((g, k) => expect(describeBitDifference(`${level} grad ${k}`, g, expected[k]!)).toBeNull());
    }
  });
});
