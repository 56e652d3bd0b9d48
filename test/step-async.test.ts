// stepAsync: the same bits as step, off the event loop on the native backend; all or nothing;
// the optimizer refuses what would race with the step until it settles.
import * as fs from 'node:fs';
import * as os from 'node:os';
import { describe, expect, test } from 'vitest';

import { backend } from '../lib/bridge/backend.js';
import {
  Adadelta, Adagrad, Adam, Adamax, AdamW, Lion, NAdam, RAdam, RMSprop, SGD, StepLR, clipGradNormAsync,
} from '../lib/index.js';
import { backendsUnderTest, describeBitDifference, normal, rng } from './helpers.js';

const SIZES = [1, 33, 40000, 5];
type Opt = {
  step(grads: Float32Array[]): boolean;
  stepAsync(grads: Float32Array[]): Promise<boolean>;
  stateDict(): { state: Record<number, Record<string, unknown>> };
};
const MAKERS: [string, (p: Float32Array[], threads: number) => Opt][] = [
  ['Adam amsgrad', (p, threads) => new Adam(p, { amsgrad: true, threads })],
  ['AdamW', (p, threads) => new AdamW(p, { threads })],
  ['Adagrad', (p, threads) => new Adagrad(p, { threads })],
  ['RMSprop centered', (p, threads) => new RMSprop(p, { centered: true, momentum: 0.5, threads })],
  ['SGD dampening', (p, threads) => new SGD(p, { lr: 0.1, momentum: 0.9, dampening: 0.3, threads })],
  ['Adadelta', (p, threads) => new Adadelta(p, { threads })],
  ['Adamax', (p, threads) => new Adamax(p, { threads })],
  ['NAdam', (p, threads) => new NAdam(p, { threads })],
  ['RAdam', (p, threads) => new RAdam(p, { threads })],
  ['Lion', (p, threads) => new Lion(p, { threads })],
];

const arraysOf = (params: Float32Array[], opt: Opt) => [
  ...params,
  ...Object.values(opt.stateDict().state).flatMap((e) => Object.values(e).filter((v): v is Float32Array => v instanceof Float32Array)),
];

describe.each(backendsUnderTest())('on $label', ({ activate }) => {
  test.each(MAKERS)('%s: stepAsync gives the bits of step, with 1 and 2 threads', async (_name, make) => {
    activate();
    for (const threads of [1, 2]) {
      const random = rng(9);
      const init = SIZES.map((n) => normal(random, n));
      const grads = [0, 1, 2].map(() => SIZES.map((n) => normal(random, n)));
      const a = init.map((p) => p.slice()), b = init.map((p) => p.slice());
      const sync = make(a, threads), async = make(b, threads);
      for (const g of grads) {
        expect(sync.step(g)).toBe(true);
        expect(await async.stepAsync(g)).toBe(true);
      }
      const x = arraysOf(a, sync), y = arraysOf(b, async);
      expect(y.length).toBe(x.length);
      expect(y.map((arr, i) => describeBitDifference(`array ${i}`, arr, x[i]!)).filter(Boolean)).toEqual([]);
    }
  });

  test('a NaN gradient with skipNonFinite resolves false and changes nothing; a bad argument rejects and changes nothing', async () => {
    activate();
    const random = rng(3);
    const params = SIZES.map((n) => normal(random, n));
    const opt = new Adam(params, { skipNonFinite: true });
    await opt.stepAsync(SIZES.map((n) => normal(random, n)));
    const before = JSON.stringify(opt.stateDict(), (_k, v: unknown) => (v instanceof Float32Array ? Array.from(v) : v));
    const bad = SIZES.map((n) => normal(random, n));
    bad[2]![39999] = NaN;
    expect(await opt.stepAsync(bad)).toBe(false);
    await expect(opt.stepAsync([new Float32Array(1)] as never)).rejects.toThrow(RangeError);
    await expect(opt.stepAsync('x' as never)).rejects.toThrow(TypeError);
    expect(JSON.stringify(opt.stateDict(), (_k, v: unknown) => (v instanceof Float32Array ? Array.from(v) : v))).toBe(before);
  });

});

describe.skipIf(backend !== 'native')('on the native backend', () => {
  test('while a stepAsync is in flight (on the fallback it has finished when it returns), step, stepAsync, stateDict, loadStateDict and addParamGroup are refused', async () => {
    const params = [new Float32Array(1 << 18)];
    const grads = [new Float32Array(1 << 18).fill(0.1)];
    const opt = new Adam(params);
    const dict = opt.stateDict();
    const pending = opt.stepAsync(grads);
    const code = (fn: () => unknown) => {
      try {
        fn();
        return 'no error';
      } catch (error) {
        return (error as { code?: string }).code;
      }
    };
    expect(code(() => opt.step(grads))).toBe('ERR_SIMD_OPTIM_BUSY');
    expect(code(() => opt.stateDict())).toBe('ERR_SIMD_OPTIM_BUSY');
    expect(code(() => opt.loadStateDict(dict))).toBe('ERR_SIMD_OPTIM_BUSY');
    expect(code(() => opt.addParamGroup({ params: [new Float32Array(2)] }))).toBe('ERR_SIMD_OPTIM_BUSY');
    await expect(opt.stepAsync(grads)).rejects.toMatchObject({ code: 'ERR_SIMD_OPTIM_BUSY' });
    // An option change would miss the step in flight: refused, the value kept. A scheduler too.
    const group = opt.paramGroups[0]!;
    expect(code(() => (group.lr = 0.5))).toBe('ERR_SIMD_OPTIM_BUSY');
    expect(code(() => (group.betas = [0.5, 0.5]))).toBe('ERR_SIMD_OPTIM_BUSY');
    expect(code(() => Object.assign(group, { eps: 1 }))).toBe('ERR_SIMD_OPTIM_BUSY');
    expect(code(() => new StepLR(opt, { stepSize: 1 }).step())).toBe('ERR_SIMD_OPTIM_BUSY');
    expect(() => (group.lr = 0.5)).toThrow('Adam: paramGroups[...].lr = ...: called while Adam.stepAsync is in flight; await it first');
    expect([group.lr, group.eps]).toEqual([1e-3, 1e-8]);
    expect(await pending).toBe(true);
    expect(opt.step(grads)).toBe(true); // settled: usable again
    group.lr = 0.5;
    expect(group.lr).toBe(0.5);
  });
  test('a detached gradient or param is refused before anything runs, and nothing changes', async () => {
    const params = [new Float32Array(8).fill(1)];
    const opt = new Adam(params);
    const grad = new Float32Array(8).fill(0.1);
    structuredClone(grad.buffer, { transfer: [grad.buffer] });
    await expect(opt.stepAsync([grad])).rejects.toThrow(/grads\[0\] has 0 elements/);
    structuredClone(params[0]!.buffer, { transfer: [params[0]!.buffer] });
    await expect(opt.stepAsync([new Float32Array(8)])).rejects.toThrow(/params\[0\] has 0 elements.*detached/);
    expect(Object.keys(opt.stateDict().state)).toEqual([]);
  });

  test('views of a resizable ArrayBuffer are refused (their memory could go while another thread writes it)', async () => {
    const buffer = new ArrayBuffer(64, { maxByteLength: 128 });
    const opt = new SGD([new Float32Array(buffer, 0, 8)], { lr: 0.1 });
    await expect(opt.stepAsync([new Float32Array(8)])).rejects.toThrow(/params\[0\] is a view of a resizable ArrayBuffer/);
    expect(opt.step([new Float32Array(8)])).toBe(true); // the synchronous step is fine
  });

  test('the event loop runs while the step does', async () => {
    const n = 1 << 22;
    const opt = new Adam([new Float32Array(n)], { threads: 1 });
    const grads = [new Float32Array(n).fill(0.1)];
    let ticks = 0;
    const timer = setInterval(() => ticks++, 0);
    // Several steps of 4M elements: each takes milliseconds, long enough for timers to fire.
    for (let k = 0; k < 20 && ticks === 0; k++) await opt.stepAsync(grads);
    clearInterval(timer);
    expect(ticks).toBeGreaterThan(0);
  });

  test('the event loop runs while clipGradNormAsync does', async () => {
    const grads = [new Float32Array(1 << 23).fill(0.1)];
    let ticks = 0;
    const timer = setInterval(() => ticks++, 0);
    for (let k = 0; k < 20 && ticks === 0; k++) await clipGradNormAsync(grads, 1e9, { threads: 1 });
    clearInterval(timer);
    expect(ticks).toBeGreaterThan(0);
  });

  // A long job runs off the event loop's CPU (a libuv thread woken on it preempted the event loop
  // for milliseconds), and its thread's CPU mask is given back afterwards. Seen from
  // /proc/self/task/*/status while the job runs: one thread allowed one CPU fewer.
  const cpusOf = (): Map<string, string> => {
    const masks = new Map<string, string>();
    for (const task of fs.readdirSync('/proc/self/task')) {
      try {
        const status = fs.readFileSync(`/proc/self/task/${task}/status`, 'utf8');
        masks.set(task, /^Cpus_allowed_list:\s*(.*)$/m.exec(status)![1]!);
      } catch {
        // a thread that ended meanwhile
      }
    }
    return masks;
  };
  const movedDuring = async (start: () => Promise<unknown>): Promise<{ moved: boolean; before: Map<string, string>; after: Map<string, string> }> => {
    const before = cpusOf();
    for (let attempt = 0; attempt < 3; attempt++) {
      let settled = false;
      const pending = start().finally(() => (settled = true));
      let moved = false;
      const end = Date.now() + 2000;
      // Synchronous: the promise cannot settle meanwhile, but the other thread computes and then
      // restores its mask, so look until a thread is seen moved or the time is up.
      while (!moved && Date.now() < end) {
        for (const [task, cpus] of cpusOf()) if (before.has(task) && cpus !== before.get(task)) moved = true;
      }
      await pending;
      expect(settled).toBe(true);
      if (moved) return { moved, before, after: cpusOf() };
    }
    return { moved: false, before, after: cpusOf() };
  };
  const linuxWithTwoCpus = process.platform === 'linux' && os.availableParallelism() >= 2;

  test.skipIf(!linuxWithTwoCpus)('a long stepAsync runs away from the event loop\'s CPU, and its thread\'s CPU mask is restored after', async () => {
    const n = 1 << 24;
    const opt = new Adam([new Float32Array(n)], { threads: 1 });
    const grads = [new Float32Array(n).fill(0.1)];
    await opt.stepAsync(grads); // the state made, the libuv threads started
    const { moved, before, after } = await movedDuring(() => opt.stepAsync(grads));
    expect(moved).toBe(true);
    for (const [task, cpus] of after) if (before.has(task)) expect(cpus, `thread ${task}`).toBe(before.get(task));
  });

  test.skipIf(!linuxWithTwoCpus)('so does a long clipGradNormAsync', async () => {
    const grads = [new Float32Array(1 << 25).fill(0.1)];
    await clipGradNormAsync(grads, 1e9, { threads: 1 });
    const { moved, before, after } = await movedDuring(() => clipGradNormAsync(grads, 1e9, { threads: 1 }));
    expect(moved).toBe(true);
    for (const [task, cpus] of after) if (before.has(task)) expect(cpus, `thread ${task}`).toBe(before.get(task));
  });
});
