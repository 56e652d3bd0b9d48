// Sharding: gradient-norm partials of each rank's tensors combine to the norm clipGradNorm gives
// in one process, bit for bit, for every norm and split; a shard clipped with that total is
// scaled as in one process; and the README's sharded step over Workers matches one optimizer.
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { describe, expect, test } from 'vitest';

import { clipGradNorm, combineGradNormPartials, gradNormPartials } from '../lib/index.js';
import { backendsUnderTest, describeBitDifference, normal, rng } from './helpers.js';

const ROOT = path.resolve(__dirname, '..');
const SIZES = [300, 70000, 0, 5, 32768, 33000, 17];

describe.each(backendsUnderTest())('on $label', ({ activate }) => {
  test.each([2, 1, Infinity] as const)('normType %s: partials of any split combine to the one-process norm; shards clip the same', (normType) => {
    activate();
    const random = rng(11);
    const grads = SIZES.map((n) => normal(random, n));
    const whole = grads.map((g) => g.slice());
    const norm = clipGradNorm(whole, 0.5, { normType });
    for (let split = 0; split <= SIZES.length; split++) {
      const a = grads.slice(0, split).map((g) => g.slice()), b = grads.slice(split).map((g) => g.slice());
      const total = combineGradNormPartials([gradNormPartials(a, { normType, threads: 2 }), gradNormPartials(b, { normType })], { normType });
      expect(total).toBe(norm);
      expect(clipGradNorm(a, 0.5, { totalNorm: total })).toBe(norm);
      clipGradNorm(b, 0.5, { totalNorm: total });
      expect([...a, ...b].map((g, i) => describeBitDifference(`grads[${i}]`, g, whole[i]!)).filter(Boolean)).toEqual([]);
    }
  });
});

test('bad arguments name themselves', () => {
  expect(() => gradNormPartials([new Float64Array(2)] as never)).toThrow(/gradNormPartials: grads\[0\] must be a Float32Array/);
  expect(() => gradNormPartials([], { normType: 3 as never })).toThrow(RangeError);
  expect(() => combineGradNormPartials([new Float32Array(2)] as never)).toThrow(/combineGradNormPartials: partials\[0\] must be a Float64Array/);
  // A Proxy passes instanceof, not the brand check: its length and elements would be read at will.
  expect(() => combineGradNormPartials([new Proxy(new Float64Array(2), {})])).toThrow(/partials\[0\] must be a Float64Array/);
  expect(() => clipGradNorm([new Float32Array(2)], 1, { totalNorm: -1 })).toThrow(/options\.totalNorm must be >= 0/);
  expect(() => clipGradNorm([new Float32Array(2)], 1, { totalNorm: '1' as never })).toThrow(TypeError);
});

test('the README\'s sharded step over two Workers gives the bits of one optimizer', () => {
  const run = spawnSync(process.execPath, [path.join(ROOT, 'examples', 'sharded-step.mjs')], { encoding: 'utf8', timeout: 60_000 });
  expect(run.stderr).toBe('');
  expect(run.stdout.trim()).toBe('same bits as one optimizer: true');
}, 60_000);
