// Threads: a step, the non-finite check and clipGradNorm split over the native pool give the same
// bits for every thread count, on every ISA level; the pool starts when first needed and is
// shared. Tensors are sized around the 32768-element block at which work is cut.
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { describe, expect, test } from 'vitest';

import { availableIsas, availableThreads, nativeAddon, threadsFor, trafficPerElement, useBackend } from '../lib/bridge/backend.js';
import {
  Adadelta, Adagrad, Adam, Adamax, AdamW, Lion, NAdam, RAdam, RMSprop, SGD, clipGradNorm, gradNormPartials,
} from '../lib/index.js';
import { backendsUnderTest, describeBitDifference, normal, rng } from './helpers.js';

const ROOT = path.resolve(__dirname, '..');
const SIZES = [1, 17, 32767, 32768, 32769, 100003, 3];

type Stepper = { step(grads: Float32Array[]): boolean; stateDict(): { state: Record<number, Record<string, unknown>> } };
const MAKERS: [string, (p: Float32Array[], threads: number) => Stepper][] = [
  ['Adam amsgrad', (p, threads) => new Adam(p, { amsgrad: true, weightDecay: 0.01, threads })],
  ['AdamW', (p, threads) => new AdamW(p, { threads })],
  ['Adagrad', (p, threads) => new Adagrad(p, { threads })],
  ['RMSprop centered', (p, threads) => new RMSprop(p, { centered: true, momentum: 0.9, threads })],
  ['SGD nesterov', (p, threads) => new SGD(p, { lr: 0.01, momentum: 0.9, nesterov: true, threads })],
  ['Adadelta', (p, threads) => new Adadelta(p, { threads })],
  ['Adamax', (p, threads) => new Adamax(p, { threads })],
  ['NAdam', (p, threads) => new NAdam(p, { threads })],
  ['RAdam', (p, threads) => new RAdam(p, { threads })],
  ['Lion', (p, threads) => new Lion(p, { threads, skipNonFinite: true })],
];

function trained(make: (p: Float32Array[], threads: number) => Stepper, threads: number): Float32Array[] {
  const random = rng(17);
  const params = SIZES.map((n) => normal(random, n));
  const opt = make(params, threads);
  for (let k = 0; k < 3; k++) opt.step(SIZES.map((n) => normal(random, n)));
  const buffers = Object.values(opt.stateDict().state).flatMap((entry) => Object.values(entry).filter((v): v is Float32Array => v instanceof Float32Array));
  return [...params, ...buffers];
}

describe.each(backendsUnderTest())('on $label', ({ activate }) => {
  test.each(MAKERS)('%s: the same bits with 1, 2, 3 and 8 threads', (_name, make) => {
    activate();
    const one = trained(make, 1);
    for (const threads of [2, 3, 8]) {
      const many = trained(make, threads);
      expect(many.map((a, i) => describeBitDifference(`array ${i} with ${threads} threads`, a, one[i]!)).filter(Boolean)).toEqual([]);
    }
  });

  test('clipGradNorm: the same norm and scaled gradients with any thread count, for every norm', () => {
    activate();
    const random = rng(5);
    const grads = SIZES.map((n) => normal(random, n));
    for (const normType of [1, 2, Infinity] as const) {
      const reference = grads.map((g) => g.slice());
      const norm = clipGradNorm(reference, 0.5, { normType, threads: 1 });
      for (const threads of [2, 3, 8, 'auto'] as const) {
        const copy = grads.map((g) => g.slice());
        expect(clipGradNorm(copy, 0.5, { normType, threads })).toBe(norm);
        expect(copy.map((g, i) => describeBitDifference(`grads[${i}]`, g, reference[i]!)).filter(Boolean)).toEqual([]);
      }
    }
  });
});

// The one specification: tensors spanning several blocks, every native level and thread count
// against the fallback (the differential suite's tensors are all smaller than one block).
describe.skipIf(!nativeAddon)('native at every level and thread count gives the fallback\'s bits', () => {
  test.each(MAKERS)('%s', (_name, make) => {
    useBackend('js');
    const expected = trained(make, 1);
    for (const level of availableIsas()) {
      useBackend('native', level);
      for (const threads of [1, 3]) {
        const actual = trained(make, threads);
        expect(actual.map((a, i) => describeBitDifference(`${level}, ${threads} threads, array ${i}`, a, expected[i]!)).filter(Boolean)).toEqual([]);
      }
    }
  });

  test('clipGradNorm and gradNormPartials, every norm', () => {
    const random = rng(6);
    const grads = SIZES.map((n) => normal(random, n));
    for (const normType of [1, 2, Infinity] as const) {
      useBackend('js');
      const reference = grads.map((g) => g.slice());
      const norm = clipGradNorm(reference, 0.5, { normType });
      const partials = gradNormPartials(grads, { normType });
      for (const level of availableIsas()) {
        useBackend('native', level);
        for (const threads of [1, 3]) {
          const copy = grads.map((g) => g.slice());
          expect(clipGradNorm(copy, 0.5, { normType, threads }), `${level} ${threads}`).toBe(norm);
          expect(Array.from(gradNormPartials(grads, { normType, threads }))).toEqual(Array.from(partials));
          expect(copy.map((g, i) => describeBitDifference(`${level} grads[${i}]`, g, reference[i]!)).filter(Boolean)).toEqual([]);
        }
      }
    }
  });
});

describe("'auto' threads", () => {
  test('count the bytes a step moves, not its elements: SGD at 1M stays on one thread, Adam takes two', () => {
    const adam = trafficPerElement(5), sgd = trafficPerElement(3);
    expect([adam, sgd]).toEqual([36, 20]);
    expect(threadsFor('auto', (1 << 18) * adam)).toBe(1);
    expect(threadsFor('auto', (1 << 20) * sgd)).toBe(1);
    expect(threadsFor('auto', (1 << 20) * adam)).toBe(Math.min(2, availableThreads));
    expect(threadsFor('auto', (1 << 20) * adam, 1)).toBe(Math.max(1, Math.min(2, availableThreads - 1)));
    expect(threadsFor('auto', 1e12)).toBe(availableThreads);
    expect(threadsFor(3, 0)).toBe(3);
  });
});

describe('the threads option', () => {
  test('accepts a whole number from 1 to 256 or auto, and says what is wrong otherwise', () => {
    const p = [new Float32Array(4)];
    expect(new Adam(p).threads).toBe('auto');
    expect(new Adam(p, { threads: 2 }).threads).toBe(2);
    expect(() => new Adam(p, { threads: 0 })).toThrow(/Adam: options\.threads must be a whole number from 1 to 256 or 'auto', got 0/);
    expect(() => new Adam(p, { threads: 1.5 })).toThrow(RangeError);
    expect(() => new Adam(p, { threads: '2' as never })).toThrow(TypeError);
    expect(() => clipGradNorm(p, 1, { threads: -1 })).toThrow(/clipGradNorm: options\.threads/);
  });
});

describe.skipIf(!nativeAddon)('the native pool', () => {
  test('starts threads when a step first needs them, shares them, and lives through Workers coming and going', () => {
    // A fresh process: the pool of this one may have been started by other suites.
    const script = `
      const { Worker } = require('node:worker_threads');
      const m = require(${JSON.stringify(path.join(ROOT, 'dist', 'index.js'))});
      const b = require(${JSON.stringify(path.join(ROOT, 'dist', 'bridge', 'backend.js'))});
      const seen = [b.nativeAddon.poolThreads()];
      new m.Adam([new Float32Array(1000)], { threads: 1 }).step([new Float32Array(1000)]);
      seen.push(b.nativeAddon.poolThreads());
      new m.Adam([new Float32Array(100000)], { threads: 3 }).step([new Float32Array(100000)]);
      seen.push(b.nativeAddon.poolThreads());
      const w = new Worker(\`
        const m = require(${JSON.stringify(path.join(ROOT, 'dist', 'index.js'))});
        new m.Adam([new Float32Array(100000)], { threads: 5 }).step([new Float32Array(100000)]);
        require('node:worker_threads').parentPort.postMessage('done');\`, { eval: true });
      w.once('message', async () => {
        seen.push(b.nativeAddon.poolThreads());
        await w.terminate();
        new m.Adam([new Float32Array(100000)], { threads: 2 }).step([new Float32Array(100000)]);
        seen.push(b.nativeAddon.poolThreads());
        console.log(JSON.stringify(seen));
      });`;
    const run = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 60_000 });
    expect(run.status, run.stderr).toBe(0);
    expect(JSON.parse(run.stdout)).toEqual([0, 0, 2, 4, 4]);
  });

  // Pool threads spin for SIMD_OPTIM_SPIN_US before they sleep, and a caller spins for its helpers'
  // last parts. Neither may change a bit, and a thread spinning when the last user goes (a Worker
  // terminated, the process exiting) must still leave: a missed wake-up there hangs the process.
  test.each(['0', '100000', 'not a number'])('SIMD_OPTIM_SPIN_US=%s: the same bits, and the pool stops when its users go', (spin) => {
    const script = `
      const { Worker } = require('node:worker_threads');
      const m = require(${JSON.stringify(path.join(ROOT, 'dist', 'index.js'))});
      const b = require(${JSON.stringify(path.join(ROOT, 'dist', 'bridge', 'backend.js'))});
      const run = (threads) => {
        const p = Float32Array.from({ length: 200003 }, (_, i) => Math.sin(i));
        const opt = new m.Adam([p], { threads });
        for (let k = 0; k < 5; k++) opt.step([Float32Array.from({ length: 200003 }, (_, i) => Math.cos(i * (k + 1)))]);
        return Buffer.from(p.buffer).toString('base64');
      };
      const one = run(1);
      const same = [run(2), run(2)].every((bits) => bits === one);
      let workers = 0;
      const next = () => {
        if (workers === 3) return console.log(JSON.stringify({ same, threads: b.nativeAddon.poolThreads() }));
        workers++;
        const w = new Worker(\`
          const m = require(${JSON.stringify(path.join(ROOT, 'dist', 'index.js'))});
          const opt = new m.Adam([new Float32Array(100000)], { threads: 2 });
          for (let k = 0; k < 20; k++) opt.step([new Float32Array(100000).fill(1)]);
          require('node:worker_threads').parentPort.postMessage('stepped');
          for (;;) opt.step([new Float32Array(100000).fill(1)]);\`, { eval: true });
        w.once('message', () => w.terminate().then(next));
      };
      next();`;
    const run = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 60_000, env: { ...process.env, SIMD_OPTIM_SPIN_US: spin } });
    expect(run.status, run.stderr).toBe(0);
    expect(JSON.parse(run.stdout)).toEqual({ same: true, threads: 1 });
  });
});
