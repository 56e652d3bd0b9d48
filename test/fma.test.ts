// The fused multiply-add of the specification: lib/float32.ts (from float64 operations) and each
// native level (FMA instructions on avx2/avx512/neon, the same float64 algorithm on sse2/scalar)
// against results of the hardware instruction, on 8192 inputs chosen to be hard: float32 midpoints
// reached after a float64 rounding (where computing in float64 and rounding twice goes wrong),
// subnormal results, the overflow threshold, cancellation and arbitrary bit patterns.
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { describe, expect, test } from 'vitest';

import { availableIsas, backend, nativeAddon } from '../lib/bridge/backend.js';
import { fmaf } from '../lib/core/float32.js';
import { KernelId } from '../lib/bridge/kernels.js';
import { describeBitDifference, FIXTURES } from './helpers.js';

const raw = readFileSync(path.join(FIXTURES, 'fma', 'cases.bin'));
const table = new Float32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength));
const n = table.length / 4;
const column = (k: number): Float32Array => Float32Array.from({ length: n }, (_, i) => table[i * 4 + k]!);
const [a, b, c, expected] = [column(0), column(1), column(2), column(3)];

test('the fixture holds the hand-picked edge cases', () => {
  expect(expected[0]).toBe(3.4028234663852886e38); // just below the overflow midpoint: FLT_MAX
  expect(expected[1]).toBe(Infinity);
  expect(expected[3]).toBe(0); // 2^-150: a tie, to even
  expect(expected[4]).toBe(2 ** -148);
});

test('fmaf gives the hardware result bit for bit', () => {
  const ours = Float32Array.from({ length: n }, (_, i) => fmaf(a[i]!, b[i]!, c[i]!));
  expect(describeBitDifference('fmaf', ours, expected)).toBeNull();
});

test('fmaf is not plain float64 rounding: the fixture would catch that', () => {
  const twice = Float32Array.from({ length: n }, (_, i) => a[i]! * b[i]! + c[i]!);
  expect(describeBitDifference('double rounding', twice, expected)).not.toBeNull();
});

describe.skipIf(backend !== 'native')('native fma at every level', () => {
  test.each(availableIsas())('%s', (level) => {
    expect(nativeAddon!.selectIsa(level)).toBe(true);
    // Whole array (vector body), and shifted by one so every element also passes through other
    // lanes and the scalar tail.
    for (const shift of [0, 1, 3]) {
      const out = a.slice(shift);
      nativeAddon!.step(KernelId.FmaProbe, [out, b.subarray(shift), c.subarray(shift)], new Float32Array(0), new Uint32Array(1), 1, 1);
      expect(describeBitDifference(`${level} shift ${shift}`, out, expected.subarray(shift))).toBeNull();
    }
  });
});
