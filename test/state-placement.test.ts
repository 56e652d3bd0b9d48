// New state buffers are placed, modulo 4 KiB, away from the other arrays of their step
// (lib/optimizers/state-placement.ts): a stored array a few bytes ahead of a loaded one modulo 4 KiB
// made the same step up to 1.7x slower, by where the allocator happened to put the state. Where
// arrays sit is not a speed assertion: the test reads the addresses' low bits through the addon.
import { describe, expect, test } from 'vitest';

import { Adagrad, Adam, RMSprop, SGD } from '../lib/index.js';
import { addressBits } from '../lib/bridge/backend.js';
import { farthestShift, PLACED_MIN_ELEMENTS } from '../lib/optimizers/state-placement.js';

const PAGE = 4096;
const distance = (a: number, b: number) => {
  const d = (((a - b) % PAGE) + PAGE) % PAGE;
  return Math.min(d, PAGE - d);
};

test('farthestShift: the cache-line start farthest, modulo 4 KiB, from every other array', () => {
  expect(farthestShift(0, [0])).toBe(2048);
  expect(farthestShift(16, [16])).toBe(2048);
  expect(farthestShift(0, [])).toBe(0);
  for (const [base, others] of [[100, [0, 2048]], [4000, [10, 20, 3000]], [0, [0, 1024, 2048, 3072]]] as [number, number[]][]) {
    const at = base + farthestShift(base, others);
    const nearest = Math.min(...others.map((x) => distance(at, x)));
    // Against every other cache-line start, none is farther.
    for (let shift = 0; shift < PAGE; shift += 64) {
      expect(Math.min(...others.map((x) => distance(base + shift, x)))).toBeLessThanOrEqual(nearest);
    }
  }
});

const hasAddon = addressBits(new Float32Array(1)) !== null;

describe.runIf(hasAddon)('state is placed away from the arrays of its step', () => {
  type Make = (params: Float32Array[]) => { step(grads: Float32Array[]): void; state: ReadonlyMap<Float32Array, object> };
  const KINDS: [string, Make][] = [
    ['Adam', (p) => new Adam(p, { lr: 1e-3 })],
    ['Adam amsgrad', (p) => new Adam(p, { lr: 1e-3, amsgrad: true })],
    ['RMSprop centered momentum', (p) => new RMSprop(p, { lr: 1e-3, centered: true, momentum: 0.9 })],
    ['SGD momentum', (p) => new SGD(p, { lr: 1e-3, momentum: 0.9 })],
    ['Adagrad', (p) => new Adagrad(p, { lr: 1e-3 })],
  ];
  const stateArrays = (opt: ReturnType<Make>, p: Float32Array) =>
    Object.values(opt.state.get(p) ?? {}).filter((v): v is Float32Array => v instanceof Float32Array);

  // Param and grad at every stagger a user's allocator can give them, the worst (a few cache lines
  // apart) included; 1024 elements (4 KiB arrays, where the allocator's placement is arbitrary) and 70,000.
  test.each([1024, 70_000])('one tensor of %i elements: every state array at least 448 bytes (7 cache lines) from the others, modulo 4 KiB', (n) => {
    const space = new ArrayBuffer(4 * (2 * n + 2 * PAGE));
    for (const [name, make] of KINDS) {
      for (const gradAt of [0, 16, 64, 192, 1024, 2048, 4032]) {
        const p = new Float32Array(space, 0, n).fill(0.5);
        const g = new Float32Array(space, 4 * n + PAGE + gradAt, n).fill(0.01);
        const opt = make([p]);
        opt.step([g]);
        const state = stateArrays(opt, p);
        expect(state.length, name).toBeGreaterThan(0);
        const starts = [p, g, ...state].map((a) => addressBits(a)!);
        for (let s = 2; s < starts.length; s++) {
          for (let o = 0; o < starts.length; o++) {
            if (o !== s) expect(distance(starts[s]!, starts[o]!), `${name}, grad at +${gradAt}: state ${s - 2} against array ${o}`).toBeGreaterThanOrEqual(448);
          }
        }
        // The values are the step's: one more step through the placed state is the fallback's.
        opt.step([g]);
      }
    }
  });

  test('many small params as views of one buffer: their state stays end to end, placed once for all', () => {
    const n = 300, count = 40;
    const params = new Float32Array(n * count).fill(0.5), grads = new Float32Array(n * count).fill(0.01);
    const ps = Array.from({ length: count }, (_, i) => params.subarray(i * n, (i + 1) * n));
    const gs = Array.from({ length: count }, (_, i) => grads.subarray(i * n, (i + 1) * n));
    const opt = new Adam(ps, { lr: 1e-3 });
    opt.step(gs);
    const first = stateArrays(opt, ps[0]!);
    for (let i = 1; i < count; i++) {
      stateArrays(opt, ps[i]!).forEach((a, k) => {
        expect(a.buffer).toBe(first[k]!.buffer);
        expect(a.byteOffset).toBe(first[k]!.byteOffset + 4 * n * i);
      });
    }
    const starts = [ps[0]!, gs[0]!, ...first].map((a) => addressBits(a)!);
    for (let s = 2; s < starts.length; s++) {
      for (let o = 0; o < starts.length; o++) if (o !== s) expect(distance(starts[s]!, starts[o]!)).toBeGreaterThanOrEqual(448);
    }
  });

  test(`state below ${PLACED_MIN_ELEMENTS} elements is left where it was made`, () => {
    const p = new Float32Array(PLACED_MIN_ELEMENTS - 1), opt = new Adam([p]);
    opt.step([new Float32Array(p.length)]);
    for (const a of stateArrays(opt, p)) expect(a.buffer.byteLength).toBe(a.byteLength);
  });
});
