// The addon's own interface: its layouts agree with lib/bridge/kernels.ts, and the binding refuses
// arguments that would make a kernel read or write out of bounds, before running any kernel.
import { describe, expect, test } from 'vitest';

import { backend, nativeAddon } from '../lib/bridge/backend.js';
import {
  ADADELTA, ADAGRAD, ADAM, ADAMAX, CLAMP, FMA_PROBE, KernelId, LION, NADAM, RADAM, RMSPROP, SCALE, SGD, SWATS, TRAFFIC,
} from '../lib/bridge/kernels.js';

describe.skipIf(backend !== 'native')('native binding', () => {
  const addon = nativeAddon!;

  test('layouts match lib/bridge/kernels.ts', () => {
    expect(addon.layouts).toEqual({
      adam: { id: KernelId.Adam, slots: ADAM.slots, scalars: ADAM.scalars },
      adagrad: { id: KernelId.Adagrad, slots: ADAGRAD.slots, scalars: ADAGRAD.scalars },
      rmsprop: { id: KernelId.Rmsprop, slots: RMSPROP.slots, scalars: RMSPROP.scalars },
      sgd: { id: KernelId.Sgd, slots: SGD.slots, scalars: SGD.scalars },
      traffic: { id: KernelId.Traffic, slots: TRAFFIC.slots, scalars: TRAFFIC.scalars },
      fmaProbe: { id: KernelId.FmaProbe, slots: FMA_PROBE.slots, scalars: FMA_PROBE.scalars },
      adadelta: { id: KernelId.Adadelta, slots: ADADELTA.slots, scalars: ADADELTA.scalars },
      adamax: { id: KernelId.Adamax, slots: ADAMAX.slots, scalars: ADAMAX.scalars },
      nadam: { id: KernelId.Nadam, slots: NADAM.slots, scalars: NADAM.scalars },
      radam: { id: KernelId.Radam, slots: RADAM.slots, scalars: RADAM.scalars },
      lion: { id: KernelId.Lion, slots: LION.slots, scalars: LION.scalars },
      scale: { id: KernelId.Scale, slots: SCALE.slots, scalars: SCALE.scalars },
      clamp: { id: KernelId.Clamp, slots: CLAMP.slots, scalars: CLAMP.scalars },
      swats: { id: KernelId.Swats, slots: SWATS.slots, scalars: SWATS.scalars },
    });
  });

  test('reports its ISA levels best first and can switch between them', () => {
    const levels = addon.availableIsas();
    expect(levels.at(-1)).toBe('scalar');
    for (const level of levels) {
      expect(addon.selectIsa(level)).toBe(true);
      expect(addon.currentIsa()).toBe(level);
    }
    expect(addon.selectIsa('mmx')).toBe(false);
  });

  test('an array element read by step or reduce that calls back in is refused, not a write into freed scratch', () => {
    // Before, the binding held a reference into its scratch vector across the element read; a
    // nested call with more tensors resized the vector under it.
    const many = Array.from({ length: 64 }, () => new Float32Array(4));
    const nestedStep = () => addon.step(KernelId.Sgd, many.flatMap((p) => [p, new Float32Array(4), null]) as never, new Float32Array(64 * SGD.scalars), new Uint32Array(64), 64, 1);
    const p0 = new Float32Array([1, 2]);
    const arrays: unknown[] = [p0, new Float32Array(2), null];
    Object.defineProperty(arrays, 1, { get: () => (nestedStep(), new Float32Array([1, 1])) });
    expect(() => addon.step(KernelId.Sgd, arrays as never, new Float32Array(SGD.scalars), new Uint32Array(1), 1, 1)).toThrow(/called again while reading/);
    expect(Array.from(p0)).toEqual([1, 2]);
    const grads: unknown[] = [new Float32Array(2)];
    Object.defineProperty(grads, 0, { get: () => (addon.reduce(0 as never, many as never, 64, 1), new Float32Array(2)) });
    expect(() => addon.reduce(0 as never, grads as never, 1, 1)).toThrow(/called again while reading/);
  });

  test('a NaN norm is the one NaN of JavaScript at every level (no sign or payload from a kernel)', () => {
    const canonical = Buffer.from(new Float64Array([NaN]).buffer);
    for (const level of addon.availableIsas()) {
      addon.selectIsa(level);
      for (const op of [0, 1, 2]) {
        const x = new Float32Array([1, -NaN, 2]);
        const result = addon.reduce(op as never, [x] as never, 1, 1);
        expect(Buffer.from(new Float64Array([result]).buffer).equals(canonical), `${level} op ${op}`).toBe(true);
      }
    }
  });

  test('refuses out-of-bounds arguments and writes nothing', () => {
    const p0 = new Float32Array([1, 2, 3]), g0 = new Float32Array([1, 1, 1]);
    const p1 = new Float32Array([4, 5]), g1 = new Float32Array([1, 1]);
    const scalars = new Float32Array(2 * SGD.scalars).fill(-0.5);
    const flags = new Uint32Array(2);
    const run = (arrays: unknown[], s: unknown = scalars, f: unknown = flags, count = 2) =>
      addon.step(KernelId.Sgd, arrays as never, s as Float32Array, f as Uint32Array, count, 1);
    expect(() => run([p0, g0, null, p1, new Float32Array(3), null])).toThrow(RangeError); // grad longer than param
    expect(() => run([p0, g0, null, p1, new Float64Array(2), null])).toThrow(TypeError);
    expect(() => run([p0, g0, null, p1])).toThrow(RangeError); // too few slots for 2 tensors
    expect(() => run([p0, g0, null, p1, g1, null], scalars.subarray(1))).toThrow(RangeError);
    expect(() => run([p0, g0, null, p1, g1, null], scalars, new Uint32Array(1))).toThrow(RangeError);
    expect(() => run([p0, g0, null, p1, g1, null], scalars, new Int32Array(2))).toThrow(TypeError);
    expect(() => run([p0, g0, null, p1, g1, null], [1, 2, 3])).toThrow(TypeError);
    // Momentum flag set but no buffer: the slot the kernel would write is missing.
    expect(() => run([p0, g0, null, p1, g1, null], scalars, new Uint32Array([0, SGD.flagMomentum]))).toThrow(TypeError);
    expect(() => addon.step(99 as never, [], scalars, flags, 0, 1)).toThrow(RangeError);
    expect(Array.from(p0)).toEqual([1, 2, 3]);
    expect(Array.from(p1)).toEqual([4, 5]);
    run([p0, g0, null, p1, g1, null]);
    expect(Array.from(p0)).toEqual([0.5, 1.5, 2.5]);
    expect(Array.from(p1)).toEqual([3.5, 4.5]);
  });
});
