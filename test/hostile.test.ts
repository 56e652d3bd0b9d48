// Hostile inputs: getters, Proxies, lying length and buffer properties, own iterators, resized
// and detached buffers. Every input is read once into a snapshot, the snapshot is checked, and the
// computation only uses the snapshot; a rejected call changes nothing, and the next valid step is
// bit-identical to a fresh optimizer's. On each backend and native ISA level.
import { describe, expect, test } from 'vitest';

import {
  Adadelta, Adagrad, Adam, Adamax, AdamW, Lion, NAdam, RAdam, RMSprop, SGD, ConstantLR, ExponentialLR, LambdaLR,
  MultiStepLR, OneCycleLR, ReduceLROnPlateau, SequentialLR, StepLR,
  adamUpdate, clipGradNorm, clipGradValue, sgdUpdate,
} from '../lib/index.js';
import { backendsUnderTest, describeBitDifference, normal, rng } from './helpers.js';

type Optim = {
  step(grads: readonly (Float32Array | null | undefined)[]): boolean;
  stateDict(): unknown;
  readonly paramGroups: readonly Record<string, unknown>[];
  readonly params: readonly Float32Array[];
  readonly state: ReadonlyMap<Float32Array, Record<string, unknown>>;
};
type Make = (params: Float32Array[]) => Optim;

const MAKERS: [string, Make][] = [
  ['Adam', (p) => new Adam(p, { amsgrad: true, weightDecay: 0.1 })],
  ['AdamW', (p) => new AdamW(p)],
  ['Adagrad', (p) => new Adagrad(p, { initialAccumulatorValue: 0.1 })],
  ['RMSprop', (p) => new RMSprop(p, { centered: true, momentum: 0.5 })],
  ['SGD', (p) => new SGD(p, { lr: 0.1, momentum: 0.9, dampening: 0.5 })],
  ['Adadelta', (p) => new Adadelta(p)],
  ['Adamax', (p) => new Adamax(p)],
  ['NAdam', (p) => new NAdam(p)],
  ['RAdam', (p) => new RAdam(p)],
  ['Lion', (p) => new Lion(p)],
];

const json = (value: unknown) => JSON.stringify(value, (_k, v) => (v instanceof Float32Array ? Array.from(v) : v));

function expectSameBits(label: string, a: readonly Float32Array[], b: readonly Float32Array[]): void {
  a.forEach((x, k) => expect(describeBitDifference(`${label} ${k}`, x, b[k]!)).toBeNull());
}

function expectError(fn: () => unknown, kind: typeof TypeError | typeof RangeError, ...parts: string[]): void {
  let error: unknown = null;
  try {
    fn();
  } catch (e) {
    error = e;
  }
  expect(error, `expected a ${kind.name} mentioning ${parts.join(', ')}`).toBeInstanceOf(kind);
  for (const part of parts) expect((error as Error).message).toContain(part);
}

/** A Float32Array whose own `length` property says `claimed`. */
function lyingLength(real: number, claimed: number): Float32Array {
  const a = new Float32Array(real).fill(0.25);
  Object.defineProperty(a, 'length', { value: claimed });
  return a;
}

/** Detaches an ArrayBuffer, as postMessage with a transfer list does. */
function detach(buffer: ArrayBufferLike): void {
  structuredClone(buffer, { transfer: [buffer as ArrayBuffer] });
}

describe.each(backendsUnderTest())('on $label', ({ activate }) => {
  describe.each(MAKERS)('%s', (name, make) => {
    const setup = () => {
      const random = rng(name.length);
      const init = [normal(random, 8), normal(random, 8)];
      const grads = [normal(random, 8), normal(random, 8)];
      return { init, grads };
    };

    /** After a rejected first step, a valid step must give a fresh optimizer's bits. */
    function expectNoTrace(rejected: (opt: Optim, params: Float32Array[], grads: Float32Array[]) => void, kind: typeof TypeError | typeof RangeError, ...parts: string[]) {
      activate();
      const { init, grads } = setup();
      const params = init.map((p) => p.slice());
      const opt = make(params);
      const before = json(opt.stateDict());
      expectError(() => rejected(opt, params, grads), kind, ...parts);
      expectSameBits('param', params, init);
      expect(json(opt.stateDict())).toBe(before);
      const fresh = init.map((p) => p.slice());
      make(fresh).step(grads);
      opt.step(grads);
      expectSameBits('param after the next valid step', params, fresh);
    }

    test('a gradient whose own length property lies is refused by its real length', () => {
      expectNoTrace((opt, _p, grads) => opt.step([grads[0]!, lyingLength(4, 8)]), RangeError, `${name}.step: grads[1] has 4 elements, params[1] has 8`);
    });

    test('a Proxy of a Float32Array is not a Float32Array', () => {
      expectNoTrace((opt, _p, grads) => opt.step([grads[0]!, new Proxy(grads[1]!, {})]), TypeError, `${name}.step: grads[1] must be a Float32Array`);
    });

    test("a gradient aliasing its param is refused even when its subclass's buffer getter lies", () => {
      class Liar extends Float32Array {
        override get buffer(): ArrayBuffer {
          return new ArrayBuffer(32);
        }
      }
      expectNoTrace((opt, params, grads) => {
        const alias = new Liar(params[1]!.buffer, params[1]!.byteOffset, 8);
        opt.step([grads[0]!, alias]);
      }, RangeError, 'grads[1] overlaps params[1]');
    });

    test('the gradient list is read once: a getter on an entry runs once, an own iterator is ignored', () => {
      activate();
      const { init, grads } = setup();
      const params = init.map((p) => p.slice());
      const opt = make(params);
      let reads = 0;
      const list: Float32Array[] = [grads[0]!, grads[1]!];
      Object.defineProperty(list, 1, { get: () => (reads++ === 0 ? grads[1] : new Float32Array(8).fill(NaN)), enumerable: true });
      (list as unknown as { [Symbol.iterator]: unknown })[Symbol.iterator] = function* () {
        yield new Float32Array(8);
        yield new Float32Array(8);
      };
      opt.step(list);
      expect(reads).toBe(1);
      const fresh = init.map((p) => p.slice());
      make(fresh).step(grads);
      expectSameBits('param', params, fresh);
    });

    test('a hyperparameter getter on a group is read once per step', () => {
      activate();
      const { init, grads } = setup();
      const params = init.map((p) => p.slice());
      const opt = make(params);
      const group = opt.paramGroups[0]!;
      const lr = group['lr'] as number;
      let reads = 0;
      // A valid value the first time it is read in each step, NaN after: only a second read sees NaN.
      Object.defineProperty(group, 'lr', { get: () => (reads++ % 2 === 0 ? lr : NaN), configurable: true, enumerable: true });
      opt.step(grads);
      expect(reads).toBe(1);
      const fresh = init.map((p) => p.slice());
      make(fresh).step(grads);
      expectSameBits('param', params, fresh);
      params.forEach((p) => p.forEach((x) => expect(Number.isFinite(x)).toBe(true)));
    });

    test('a param whose resizable buffer was resized, or detached, is refused and nothing is written', () => {
      activate();
      const { init, grads } = setup();
      const rab = new ArrayBuffer(32, { maxByteLength: 64 });
      const tracking = new Float32Array(rab); // tracks the buffer's length
      tracking.set(init[0]!);
      const other = init[1]!.slice();
      const opt = make([tracking, other]);
      opt.step(grads);
      const afterOne = [tracking.slice(), other.slice()];
      const dict = json(opt.stateDict());
      rab.resize(48);
      expectError(() => opt.step([new Float32Array(12), grads[1]!]), RangeError, `${name}.step: params[0] has 12 elements, it had 8`);
      expectError(() => opt.step(grads), RangeError, 'params[0] has 12 elements, it had 8');
      rab.resize(16);
      expectError(() => opt.step([new Float32Array(4), grads[1]!]), RangeError, 'params[0] has 4 elements, it had 8');
      rab.resize(32);
      expectSameBits('other param', [other], [afterOne[1]!]);
      expect(json(opt.stateDict())).toBe(dict);
      opt.step(grads); // back to its length: accepted again
      detach(other.buffer);
      expectError(() => opt.step(grads), RangeError, 'params[1] has 0 elements, it had 8');
    });

    test('a detached state buffer is refused before anything is written', () => {
      activate();
      const { init, grads } = setup();
      const params = init.map((p) => p.slice());
      const opt = make(params);
      opt.step(grads);
      const after = params.map((p) => p.slice());
      const state = opt.state.get(params[1]!)!;
      const buffer = Object.values(state).find((v): v is Float32Array => v instanceof Float32Array)!;
      // Small state buffers made in one step are views of one ArrayBuffer: detaching params[1]'s
      // detaches params[0]'s too, and the first found is named.
      detach(buffer.buffer);
      expectError(() => opt.step(grads), RangeError, `${name}.step: the state of params[`, 'detached');
      expectSameBits('param', params, after);
      expectError(() => opt.stateDict(), RangeError, 'the state of params[');
    });

    test('a gradient sharing memory with the optimizer state is refused', () => {
      activate();
      const { init, grads } = setup();
      const params = init.map((p) => p.slice());
      const opt = make(params);
      opt.step(grads);
      const buffer = Object.values(opt.state.get(params[0]!)!).find((v): v is Float32Array => v instanceof Float32Array)!;
      expectError(() => opt.step([grads[0]!, buffer]), RangeError, 'grads[1] shares memory with the optimizer\'s state of params[0]');
    });

    test('params and paramGroups are not writable windows into the optimizer', () => {
      activate();
      const { init, grads } = setup();
      const params = init.map((p) => p.slice());
      const opt = make(params);
      const before = json(opt.stateDict());
      expect(() => ((opt.params as Float32Array[])[0] = grads[0]!)).toThrow(TypeError);
      expect(() => (opt.params as Float32Array[]).push(new Float32Array(3))).toThrow(TypeError);
      expect(() => ((opt.paramGroups as object[])[0] = { params: [grads[0]], lr: 1 })).toThrow(TypeError);
      expect(() => (opt.paramGroups as object[]).push({ params: [] })).toThrow(TypeError);
      expect(() => ((opt.paramGroups[0] as { params: unknown }).params = [grads[0]])).toThrow(TypeError);
      expect(json(opt.stateDict())).toBe(before);
      opt.step(grads);
      expectSameBits('grads', grads, setup().grads); // the gradients were read, never written
      expect(opt.params[0]).toBe(params[0]);
    });
  });

  test('SGD with dampening: a rejected first step does not mark the momentum buffer as started', () => {
    activate();
    const p = new Float32Array([1, 1]);
    const opt = new SGD([p, new Float32Array(2)], { lr: 1, momentum: 0.9, dampening: 0.5 });
    expectError(() => opt.step([new Float32Array([0.1, 0.1]), lyingLength(1, 2)]), RangeError, 'grads[1]');
    opt.step([new Float32Array([0.1, 0.1]), null]);
    // First step: buf = g, p = 1 - 0.1 = 0.9 (with the buffer wrongly started: 0.95).
    expect(Array.from(p)).toEqual([Math.fround(0.9), Math.fround(0.9)]);
  });

  test('betas: holes, Proxies and getters are read once and a hole is an error, not a 0', () => {
    activate();
    const w = new Float32Array(4);
    // eslint-disable-next-line no-sparse-arrays
    expectError(() => new Adam([w], { betas: [, 0.999] as never }), TypeError, 'options.betas[0] is missing');
    const opt = new Adam([w]);
    // eslint-disable-next-line no-sparse-arrays
    (opt.paramGroups[0] as { betas: unknown }).betas = [, 0.99];
    expectError(() => opt.step([new Float32Array(4).fill(1)]), TypeError, 'Adam.step: paramGroups[0].betas[0] is missing');
    expect(Array.from(w)).toEqual([0, 0, 0, 0]);
    let reads = 0;
    (opt.paramGroups[0] as { betas: unknown }).betas = new Proxy([0.9, 0.999], { get: (t, k) => (reads++, Reflect.get(t, k)) });
    opt.step([new Float32Array(4).fill(1)]);
    expect(reads).toBe(3); // length, 0 and 1, once each
  });

  test('skipNonFinite checks the gradients the step uses, whatever their iterator yields', () => {
    activate();
    const w = new Float32Array(4);
    const opt = new Adam([w], { skipNonFinite: true });
    const list = [new Float32Array(4).fill(NaN)];
    (list as unknown as { [Symbol.iterator]: unknown })[Symbol.iterator] = function* () {
      yield new Float32Array(4);
    };
    expect(opt.step(list)).toBe(false);
    expect(Array.from(w)).toEqual([0, 0, 0, 0]);
  });

  test('functional updates: lying lengths, Proxies and step getters', () => {
    activate();
    const p = new Float32Array(4), g = new Float32Array(4).fill(1);
    const m = lyingLength(2, 4), v = new Float32Array(4);
    expectError(() => adamUpdate(p, g, m, v, null, { step: 1 }), RangeError, 'adamUpdate: expAvg has 2 elements, param has 4');
    expectError(() => adamUpdate(p, new Proxy(g, {}), new Float32Array(4), v, null, { step: 1 }), TypeError, 'adamUpdate: grad must be a Float32Array');
    let reads = 0;
    const hyper = { lr: 0.1, momentum: 0.9, get step() { return reads++ === 0 ? 1 : 2; } };
    const buffer = new Float32Array(4);
    sgdUpdate(p, g, buffer, hyper);
    expect(reads).toBe(1);
    expect(Array.from(buffer)).toEqual([1, 1, 1, 1]); // step 1: the buffer starts as the gradient
    expect(Array.from(p)).toEqual([-0.1, -0.1, -0.1, -0.1].map(Math.fround));
  });

  test('clipGradNorm and clipGradValue use the real lengths and read the list once', () => {
    activate();
    const a = new Float32Array([3, 4]);
    const b = lyingLength(2, 5);
    expect(clipGradNorm([a, b], 100)).toBeCloseTo(Math.sqrt(25 + 2 * 0.0625), 12);
    let reads = 0;
    const list = [a];
    Object.defineProperty(list, 0, { get: () => (reads++, a), enumerable: true });
    clipGradValue(list, 1);
    expect(reads).toBe(1);
    expect(Array.from(a)).toEqual([1, 1]);
    expectError(() => clipGradNorm([new Proxy(a, {})], 1), TypeError, 'clipGradNorm: grads[0] must be a Float32Array');
    let optionReads = 0;
    clipGradNorm([a], 1, { get errorIfNonfinite() { optionReads++; return false; } });
    expect(optionReads).toBe(1);
  });

  test('a key "__proto__" (as JSON.parse makes) is an entry like any other: refused, not dropped', () => {
    activate();
    const opt = new Adam([new Float32Array(2)]);
    opt.step([new Float32Array(2).fill(1)]);
    const dict = opt.stateDict();
    // Copied into a plain object, the key set a prototype: the entry vanished and the load passed.
    const text = JSON.stringify({ optimizer: 'Adam', paramGroups: dict.paramGroups, state: { 0: { step: 1 } } });
    const forged = JSON.parse(text.replace('"step":1', '"step":1,"__proto__":{"lr":5}')) as typeof dict;
    Object.assign(forged.state[0]!, { exp_avg: new Float32Array(2), exp_avg_sq: new Float32Array(2) });
    expect(Object.keys(forged.state[0]!)).toContain('__proto__');
    const before = JSON.stringify(opt.stateDict(), (_k, v: unknown) => (v instanceof Float32Array ? Array.from(v) : v));
    expect(() => opt.loadStateDict(forged)).toThrow(/state\[0\] has an unknown entry '__proto__'/);
    expect(JSON.stringify(opt.stateDict(), (_k, v: unknown) => (v instanceof Float32Array ? Array.from(v) : v))).toBe(before);
    expect(() => new Adam([new Float32Array(2)], JSON.parse('{"__proto__": {"lr": 5}}') as object)).toThrow(/unknown option options\.__proto__/);
  });

  test('a getter that calls back into the optimizer or clipping is refused; the running call is unaffected', () => {
    activate();
    const random = rng(21);
    const init = [normal(random, 33), normal(random, 7)];
    const grads = init.map((p) => normal(random, p.length));
    const reference = new Adam(init.map((p) => p.slice()));
    reference.step(grads);
    for (const reenter of ['step', 'loadStateDict', 'addParamGroup', 'clipGradNorm', 'clipGradValue'] as const) {
      const params = init.map((p) => p.slice());
      const opt = new Adam(params);
      const codes: string[] = [];
      const again = () => {
        try {
          if (reenter === 'step') opt.step(grads);
          else if (reenter === 'loadStateDict') opt.loadStateDict(reference.stateDict());
          else if (reenter === 'addParamGroup') opt.addParamGroup({ params: [new Float32Array(3)] });
          else if (reenter === 'clipGradNorm') clipGradNorm(grads.map((g) => g.slice()), 1);
          else clipGradValue(grads.map((g) => g.slice()), 1);
        } catch (error) {
          codes.push((error as { code?: string }).code ?? String(error));
        }
      };
      // A list whose second entry's read calls back in: before, a nested step cleared the outer
      // step's gradient snapshot and the outer one silently skipped params[0].
      const hostile = new Proxy(grads, { get: (t, k) => (k === '1' && again(), Reflect.get(t, k)) });
      if (reenter.startsWith('clip')) {
        const outer = grads.map((g) => g.slice());
        const list = new Proxy(outer, { get: (t, k) => (k === '1' && again(), Reflect.get(t, k)) });
        if (reenter === 'clipGradNorm') clipGradNorm(list, 0.5);
        else clipGradValue(list, 0.01);
        const expected = grads.map((g) => g.slice());
        if (reenter === 'clipGradNorm') clipGradNorm(expected, 0.5);
        else clipGradValue(expected, 0.01);
        expect(outer.map((g) => Array.from(g))).toEqual(expected.map((g) => Array.from(g)));
        // A step from inside clipping is another object: allowed, with scratch of its own.
        expect(codes).toEqual(['ERR_SIMD_OPTIM_BUSY']);
        continue;
      }
      opt.step(hostile);
      expect(codes, reenter).toEqual(['ERR_SIMD_OPTIM_BUSY']);
      expect(params.map((p, i) => describeBitDifference(`params[${i}]`, p, reference.params[i]!)), reenter).toEqual([null, null]);
      expect(opt.params.length).toBe(2);
    }
    // Clipping from inside a step (with skipNonFinite, which shares clipping's reductions) is fine.
    const params = init.map((p) => p.slice());
    const opt = new Adam(params, { skipNonFinite: true });
    const copies = grads.map((g) => g.slice());
    const list = new Proxy(grads, { get: (t, k) => (k === '1' && clipGradNorm(copies, 1), Reflect.get(t, k)) });
    expect(opt.step(list)).toBe(true);
    expect(params.map((p, i) => describeBitDifference(`params[${i}]`, p, reference.params[i]!))).toEqual([null, null]);
  });

  test('SharedArrayBuffer and growable SharedArrayBuffer params train like ordinary ones', () => {
    activate();
    const random = rng(7);
    const init = normal(random, 8), grad = normal(random, 8);
    const shared = new Float32Array(new SharedArrayBuffer(32));
    const growable = new Float32Array(new SharedArrayBuffer(32, { maxByteLength: 64 }), 0, 8);
    shared.set(init);
    growable.set(init);
    const plain = init.slice();
    for (const p of [shared, growable, plain]) new Adam([p]).step([grad]);
    expectSameBits('shared', [shared, growable], [plain, plain]);
  });
});

describe('schedulers: all or nothing', () => {
  const optimizer = () => new SGD([{ params: [new Float32Array(2)], lr: 0.1 }, { params: [new Float32Array(2)], lr: 0.2 }]);

  test('a scheduler whose construction fails leaves the groups as they were', () => {
    const opt = optimizer();
    expect(() => new LambdaLR(opt, { lrLambda: () => NaN })).toThrow(RangeError);
    expect(opt.paramGroups.map((g) => (g as { initialLr?: number }).initialLr)).toEqual([undefined, undefined]);
    expect(opt.paramGroups.map((g) => g.lr)).toEqual([0.1, 0.2]);
    expect(() => new StepLR(opt, { stepSize: 0 })).toThrow(/stepSize/);
    expect(opt.paramGroups.map((g) => (g as { initialLr?: number }).initialLr)).toEqual([undefined, undefined]);
  });

  test('LambdaLR.loadStateDict refuses a state whose epoch it cannot compute, and keeps its own', () => {
    const opt = optimizer();
    const sched = new LambdaLR(opt, { lrLambda: (epoch) => (epoch > 5 ? NaN : 1 / (epoch + 1)) });
    sched.step();
    const state = { ...sched.stateDict(), lastEpoch: 9 };
    expect(() => sched.loadStateDict(state)).toThrow(/lrLambda\(9\)/);
    expect(sched.lastEpoch).toBe(1);
    expect(opt.paramGroups.map((g) => g.lr)).toEqual([0.05, 0.1]);
  });

  test('a step that cannot set a frozen group puts the others back', () => {
    const groups = [{ lr: 0.1 }, Object.freeze({ lr: 0.2, initialLr: 0.2 })];
    const duck = { paramGroups: groups };
    expect(() => new StepLR(duck, { stepSize: 1 })).toThrow(TypeError);
    expect(groups[0]).toEqual({ lr: 0.1 });
  });

  test('a schedule whose rate would be infinite or negative throws and changes nothing', () => {
    const opt = optimizer();
    const sched = new ExponentialLR(opt, { gamma: 1e300 });
    sched.step();
    expect(() => sched.step()).toThrow(/ExponentialLR\.step: the lr of group 0 at epoch 2 would be Infinity/);
    expect([sched.lastEpoch, ...opt.paramGroups.map((g) => g.lr)]).toEqual([1, 0.1 * 1e300, 0.2 * 1e300]);
  });

  test('a rate that overflows at construction names the option it comes from, and changes nothing', () => {
    // A milestone repeated at 0 applies gamma twice at once, as in PyTorch: 0.1 * 1e300^2.
    const opt = optimizer();
    expect(() => new MultiStepLR(opt, { milestones: [0, 0], gamma: 1e300 })).toThrow(
      /MultiStepLR: the lr of group 0 at epoch 0 would be Infinity \(computed from its initial lr 0\.1 and options\.gamma, options\.milestones\)/,
    );
    expect(opt.paramGroups.map((g) => [g.lr, g.initialLr])).toEqual([[0.1, undefined], [0.2, undefined]]);
  });

  test('SequentialLR loads its own state dict, and a refused load leaves its schedulers as they were', () => {
    const opt = optimizer();
    const inner = [new ConstantLR(opt, { factor: 0.5, totalIters: 2 }), new ExponentialLR(opt, { gamma: 0.9 })];
    const seq = new SequentialLR(opt, { schedulers: inner, milestones: [3] });
    const copyOpt = optimizer();
    const copyInner = [new ConstantLR(copyOpt, { factor: 0.5, totalIters: 2 }), new ExponentialLR(copyOpt, { gamma: 0.9 })];
    const copy = new SequentialLR(copyOpt, { schedulers: copyInner, milestones: [3] });
    copy.loadStateDict(seq.stateDict());
    for (let k = 0; k < 5; k++) {
      seq.step();
      copy.step();
    }
    expect(copyOpt.paramGroups.map((g) => g.lr)).toEqual(opt.paramGroups.map((g) => g.lr));
    // Back in the first scheduler's phase, the copy; the dict from further on: a load changes both.
    const early = optimizer();
    const earlyInner = [new ConstantLR(early, { factor: 0.5, totalIters: 2 }), new ExponentialLR(early, { gamma: 0.9 })];
    copy.loadStateDict(new SequentialLR(early, { schedulers: earlyInner, milestones: [3] }).stateDict());
    const good = seq.stateDict();
    const before = [copy.lastEpoch, ...copyInner.map((s) => s.lastEpoch), ...copyOpt.paramGroups.map((g) => g.lr)];
    const broken = { ...good, schedulers: [(good['schedulers'] as object[])[0], { scheduler: 'ExponentialLR', lastEpoch: 'x', baseLrs: [0.1, 0.2], lastLr: [] }] };
    expect(() => copy.loadStateDict(broken as never)).toThrow(/lastEpoch/);
    expect([copy.lastEpoch, ...copyInner.map((s) => s.lastEpoch), ...copyOpt.paramGroups.map((g) => g.lr)]).toEqual(before);
  });

  test('ReduceLROnPlateau names a bad group instead of reading null', () => {
    expect(() => new ReduceLROnPlateau({ paramGroups: [null] } as never)).toThrow(/ReduceLROnPlateau: optimizer\.paramGroups\[0\] must be an object/);
  });

  test('a value of the right type but not allowed is a RangeError; a state missing a counter is refused', () => {
    const opt = new Adam([new Float32Array(2), new Float32Array(3)]);
    opt.paramGroups[0]!.lr = NaN;
    expect(() => new StepLR(opt, { stepSize: 1 })).toThrow(RangeError);
    expect(() => new ReduceLROnPlateau(opt)).toThrow(RangeError);
    opt.paramGroups[0]!.lr = 0.1;
    const two = new Adam([{ params: [new Float32Array(2)] }, { params: [new Float32Array(3)] }]);
    expect(() => new LambdaLR(two, { lrLambda: [() => 1] })).toThrow(RangeError);
    expect(() => new LambdaLR(two, { lrLambda: [() => 1, 5] as never })).toThrow(TypeError);
    const step = new StepLR(opt, { stepSize: 1 });
    step.step();
    const { lastEpoch: _dropped, ...noEpoch } = step.stateDict();
    expect(() => step.loadStateDict(noEpoch as never)).toThrow(/lastEpoch is missing/);
    expect(step.lastEpoch).toBe(1);
    const plateau = new ReduceLROnPlateau(opt);
    plateau.step(1);
    const state = plateau.stateDict();
    for (const key of ['lastEpoch', 'numBadEpochs', 'cooldownCounter', 'best']) {
      const partial: Record<string, unknown> = { ...state };
      delete partial[key];
      expect(() => plateau.loadStateDict(partial as never), key).toThrow(new RegExp(`${key} is missing`));
    }
    expect(() => plateau.loadStateDict({ ...state, best: NaN })).toThrow(RangeError);
    expect(() => plateau.loadStateDict({ ...state, best: 'x' })).toThrow(TypeError);
    // A best accuracy is not a best loss.
    expect(() => new ReduceLROnPlateau(opt, { mode: 'max' }).loadStateDict(state)).toThrow(/mode 'min', this scheduler's is 'max'/);
  });

  test('OneCycleLR refuses a divFactor or finalDivFactor so small the lr would be infinite, naming it', () => {
    // Found by the fuzz suite: divFactor 5e-324 made the initial lr Infinity and the schedule NaN.
    const opt = new Adam([new Float32Array(2)], { lr: 0.1 });
    expect(() => new OneCycleLR(opt, { maxLr: 0.01, totalSteps: 2, divFactor: 5e-324 })).toThrow(/options\.divFactor 5e-324 is too small/);
    expect(() => new OneCycleLR(opt, { maxLr: 0.01, totalSteps: 2, finalDivFactor: 5e-324 })).toThrow(/options\.finalDivFactor 5e-324 is too small/);
    expect(opt.paramGroups[0]!.lr).toBe(0.1);
  });

  test('a scheduler computes from the lr it checked, not from a second read', () => {
    for (const make of [(o: Adam) => new StepLR(o, { stepSize: 1 }), (o: Adam) => new ReduceLROnPlateau(o)]) {
      const opt = new Adam([new Float32Array(2)], { lr: 0.1 });
      const group = opt.paramGroups[0]! as { lr: number };
      // A getter that gives a valid lr once, then NaN: before, the base lr was read a second time.
      let reads = 0, lr = 0.1;
      Object.defineProperty(group, 'lr', { get: () => (reads++ === 0 ? lr : NaN), set: (v: number) => (lr = v), configurable: true, enumerable: true });
      const scheduler = make(opt);
      expect(scheduler.getLastLr()).toEqual([0.1]);
    }
  });
});
