// Parameter groups, state dicts and the non-finite guard, on each backend and ISA level.
import { describe, expect, test, vi } from 'vitest';
import { inspect } from 'node:util';

import {
  Adadelta, Adagrad, Adam, Adamax, AdamW, Lion, NAdam, RAdam, RMSprop, SGD, adamUpdate, type OptimizerStateDict,
} from '../lib/index.js';
import { backend, nativeAddon } from '../lib/bridge/backend.js';
import { adversarial, backendsUnderTest, describeBitDifference, normal, rng } from './helpers.js';

type AnyOptimizer = {
  step(grads: readonly (Float32Array | null)[]): boolean;
  stateDict(): OptimizerStateDict;
  loadStateDict(s: OptimizerStateDict): void;
  paramGroups: Record<string, unknown>[];
  readonly state: ReadonlyMap<Float32Array, object>;
};
type Factory = (params: Float32Array[] | Record<string, unknown>[], options?: Record<string, unknown>) => AnyOptimizer;

const FACTORIES: [string, Factory, Record<string, unknown>][] = [
  ['Adam', (p, o) => new Adam(p as never, o), { amsgrad: true, weightDecay: 0.01 }],
  ['AdamW', (p, o) => new AdamW(p as never, o), { epsInsideSqrt: true }],
  ['Adagrad', (p, o) => new Adagrad(p as never, o), { lrDecay: 0.01, initialAccumulatorValue: 0.1 }],
  ['RMSprop', (p, o) => new RMSprop(p as never, o), { centered: true, momentum: 0.9 }],
  ['SGD', (p, o) => new SGD(p as never, o), { momentum: 0.9, nesterov: true }],
  ['Adadelta', (p, o) => new Adadelta(p as never, o), { weightDecay: 0.1 }],
  ['Adamax', (p, o) => new Adamax(p as never, o), {}],
  ['NAdam', (p, o) => new NAdam(p as never, o), { decoupledWeightDecay: true, weightDecay: 0.1 }],
  ['RAdam', (p, o) => new RAdam(p as never, o), {}],
  ['Lion', (p, o) => new Lion(p as never, o), { weightDecay: 0.1 }],
];

function problem(seed: number, sizes = [37, 5, 130]) {
  const random = rng(seed);
  return {
    init: sizes.map((n) => normal(random, n)),
    grads: Array.from({ length: 12 }, () => sizes.map((n) => normal(random, n, 0.5))),
  };
}

const copies = (arrays: Float32Array[]) => arrays.map((a) => a.slice());

function expectSameBits(actual: Float32Array[], expected: Float32Array[], label: string): void {
  expect(actual.length).toBe(expected.length);
  actual.forEach((a, k) => expect(describeBitDifference(`${label} ${k}`, a, expected[k]!)).toBeNull());
}

describe.each(backendsUnderTest())('on $label', ({ activate }) => {
  describe.each(FACTORIES)('%s', (_name, make, options) => {
    test('save after k steps, load into a fresh optimizer, m more: the bits of k + m straight', () => {
      activate();
      const { init, grads } = problem(3);
      const straight = copies(init);
      const a = make([{ params: [straight[0]!, straight[1]!] }, { params: [straight[2]!], lr: 0.05 }], options);
      grads.forEach((g) => a.step(g));

      const resumed = copies(init);
      const b = make([{ params: [resumed[0]!, resumed[1]!] }, { params: [resumed[2]!], lr: 0.05 }], options);
      grads.slice(0, 7).forEach((g) => b.step(g));
      const saved = b.stateDict();
      const c = make([{ params: [resumed[0]!, resumed[1]!] }, { params: [resumed[2]!] }], options); // lr comes back from the dict
      c.loadStateDict(saved);
      expect(c.paramGroups[1]!['lr']).toBe(0.05);
      grads.slice(7).forEach((g) => c.step(g));
      expectSameBits(resumed, straight, 'param');
      expect(JSON.stringify(Object.keys(c.stateDict().state[0]!))).toBe(JSON.stringify(Object.keys(a.stateDict().state[0]!)));
      const sa = a.stateDict().state, sc = c.stateDict().state;
      for (const i of [0, 1, 2]) {
        for (const [key, value] of Object.entries(sa[i]!)) {
          if (value instanceof Float32Array) expect(describeBitDifference(key, sc[i]![key] as Float32Array, value)).toBeNull();
          else expect(sc[i]![key]).toBe(value);
        }
      }
    });

    test('stateDict is a copy, and loadStateDict copies', () => {
      activate();
      const { init, grads } = problem(4);
      const params = copies(init);
      const opt = make(params, options);
      opt.step(grads[0]!);
      const dict = opt.stateDict();
      const buffers = Object.values(dict.state[0]!).filter((v): v is Float32Array => v instanceof Float32Array);
      expect(buffers.length).toBeGreaterThan(0);
      const live = Object.values(opt.state.get(params[0]!)!).filter((v): v is Float32Array => v instanceof Float32Array);
      buffers.forEach((b) => b.fill(123));
      live.forEach((l) => expect(l[0]).not.toBe(123));
      opt.loadStateDict(dict);
      buffers.forEach((b) => b.fill(456));
      Object.values(opt.state.get(params[0]!)!).forEach((v) => v instanceof Float32Array && expect(v[0]).toBe(123));
    });

    test('a state dict that does not fit is refused and changes nothing', () => {
      activate();
      const { init, grads } = problem(5);
      const params = copies(init);
      const opt = make(params, options);
      opt.step(grads[0]!);
      const good = opt.stateDict();
      const before = JSON.stringify(good, (_k, v) => (v instanceof Float32Array ? Array.from(v) : v));
      const paramsBefore = copies(params);
      const clone = (): OptimizerStateDict => structuredClone(good);
      const firstBuffer = Object.keys(good.state[0]!).find((k) => good.state[0]![k] instanceof Float32Array)!;
      const bad: [string, OptimizerStateDict, RegExp][] = [
        ['another optimizer', { ...clone(), optimizer: _name === 'Adam' ? 'SGD' : 'Adam' }, /state dict is of/],
        ['a group more', { ...clone(), paramGroups: [...clone().paramGroups, { ...clone().paramGroups[0]!, params: [9] }] }, /parameter groups/],
        ['a param fewer', (() => { const d = clone(); d.paramGroups[0]!.params.pop(); return d; })(), /param ids/],
        ['a short buffer', (() => { const d = clone(); d.state[0]![firstBuffer] = new Float32Array(3); return d; })(), /has 3 elements/],
        ['an unknown name', (() => { const d = clone(); d.state[0]!['exp_avg_squared'] = new Float32Array(37); return d; })(), /unknown entry/],
        ['a bad hyperparameter', (() => { const d = clone(); d.paramGroups[0]!['lr'] = -1; return d; })(), /lr/],
        ['a missing hyperparameter', (() => { const d = clone(); delete d.paramGroups[0]!['lr']; return d; })(), /lr is missing/],
        ['a state for no param', (() => { const d = clone(); d.state[7] = d.state[0]!; return d; })(), /belongs to no param/],
        ['not a dict', 'state' as never, /must be an object/],
      ];
      if (_name !== 'SGD') {
        bad.push(['a missing buffer', (() => { const d = clone(); delete d.state[0]![firstBuffer]; return d; })(), /is missing/]);
        bad.push(['a fractional step', (() => { const d = clone(); d.state[0]!['step'] = 1.5; return d; })(), /step/]);
      }
      for (const [what, dict, message] of bad) {
        expect(() => opt.loadStateDict(dict), what).toThrow(message);
        expect(JSON.stringify(opt.stateDict(), (_k, v) => (v instanceof Float32Array ? Array.from(v) : v)), what).toBe(before);
        expectSameBits(params, paramsBefore, what);
      }
    });

    test('skipNonFinite skips the whole step and reports it', () => {
      activate();
      const { init, grads } = problem(6);
      const guarded = copies(init), reference = copies(init);
      const a = make(guarded, { ...options, skipNonFinite: true });
      const b = make(reference, options);
      for (let s = 0; s < 6; s++) {
        expect(a.step(grads[s]!)).toBe(true);
        b.step(grads[s]!);
        if (s === 2) {
          const poisoned = copies(grads[s]!);
          poisoned[2]![129] = s % 2 ? Infinity : NaN;
          const before = JSON.stringify(a.stateDict(), (_k, v) => (v instanceof Float32Array ? Array.from(v) : v));
          expect(a.step(poisoned)).toBe(false);
          expect(JSON.stringify(a.stateDict(), (_k, v) => (v instanceof Float32Array ? Array.from(v) : v))).toBe(before);
        }
      }
      expectSameBits(guarded, reference, 'param');
      const unguarded = make(copies(init), options);
      const poisoned = copies(grads[0]!);
      poisoned[0]![0] = -Infinity;
      expect(unguarded.step(poisoned)).toBe(true);
    });
  });

  test('group options override the defaults, as separate optimizers would', () => {
    activate();
    const { init, grads } = problem(7);
    const grouped = copies(init);
    const opt = new Adam([{ params: [grouped[0]!, grouped[1]!], weightDecay: 0.01 }, { params: [grouped[2]!], amsgrad: true }], { lr: 0.1 });
    const separate = copies(init);
    const first = new Adam([separate[0]!, separate[1]!], { lr: 0.1, weightDecay: 0.01 });
    const second = new Adam([separate[2]!], { lr: 0.1, amsgrad: true });
    for (const g of grads) {
      opt.step(g);
      first.step([g[0]!, g[1]!]);
      second.step([g[2]!]);
    }
    expectSameBits(grouped, separate, 'param');
    expect(opt.paramGroups.map((g) => [g.lr, g.weightDecay, g.amsgrad])).toEqual([[0.1, 0.01, false], [0.1, 0, true]]);
    expect(opt.params).toEqual([grouped[0], grouped[1], grouped[2]]);
  });

  test('changing paramGroups[i].lr between steps is a schedule', () => {
    activate();
    const { init, grads } = problem(8, [33]);
    const param = init[0]!.slice();
    const opt = new Adam([param]);
    const manual = init[0]!.slice(), m = new Float32Array(33), v = new Float32Array(33);
    grads.forEach((g, s) => {
      const lr = 0.1 / (1 + s);
      opt.paramGroups[0]!.lr = lr;
      opt.step(g);
      adamUpdate(manual, g[0]!, m, v, null, { lr, step: s + 1 });
    });
    expect(describeBitDifference('param', param, manual)).toBeNull();
  });

  test('a hyperparameter changed to a bad value is caught before the step writes anything', () => {
    activate();
    const { init, grads } = problem(9);
    const params = copies(init);
    const opt = new Adam([{ params: [params[0]!] }, { params: [params[1]!, params[2]!] }]);
    opt.step(grads[0]!);
    const before = copies(params);
    opt.paramGroups[1]!.lr = -0.5;
    expect(() => opt.step(grads[1]!)).toThrow(/paramGroups\[1\]\.lr/);
    (opt.paramGroups[1] as { betas: unknown }).betas = [0.9, 1];
    opt.paramGroups[1]!.lr = 0.5;
    expect(() => opt.step(grads[1]!)).toThrow(/paramGroups\[1\]\.betas\[1\]/);
    (opt.paramGroups[0] as { amsgrad: unknown }).amsgrad = 'yes';
    expect(() => opt.step(grads[1]!)).toThrow(TypeError);
    expectSameBits(params, before, 'param');
    expect((opt.state.get(params[0]!) as { step: number }).step).toBe(1);
    expect(() => {
      (opt.paramGroups[0] as { params: unknown }).params = [];
    }).toThrow(TypeError);
  });

  test('a param in two groups, or overlapping one in another group, is an error', () => {
    activate();
    const w = new Float32Array(8), b = new Float32Array(4);
    expect(() => new SGD([{ params: [w] }, { params: [b, w] }])).toThrow(/params\[1\]\.params\[1\] is the same array as params\[0\]\.params\[0\]/);
    expect(() => new SGD([{ params: [w.subarray(0, 5)] }, { params: [w.subarray(4)] }])).toThrow(/overlap/);
    expect(() => new SGD([{ params: [w], learningRate: 1 } as never])).toThrow(/params\[0\]\.learningRate/);
    expect(() => new SGD([w, { params: [b] }] as never)).toThrow(TypeError);
    const opt = new SGD([w], { lr: 0.1 });
    expect(() => opt.addParamGroup({ params: [w] })).toThrow(RangeError);
    opt.addParamGroup({ params: [b], lr: 0.5 });
    opt.step([new Float32Array(8).fill(1), new Float32Array(4).fill(1)]);
    expect(Array.from(w)[0]).toBeCloseTo(-0.1, 6);
    expect(Array.from(b)[0]).toBeCloseTo(-0.5, 6);
  });

  test.skipIf(backend !== 'native')('one native call per step, whatever the number of groups and tensors', () => {
    activate();
    const { init, grads } = problem(10);
    const opt = new RMSprop([{ params: [init[0]!] }, { params: [init[1]!], momentum: 0.5 }, { params: [init[2]!], centered: true }]);
    const spy = vi.spyOn(nativeAddon!, 'step');
    opt.step(grads[0]!);
    opt.step(grads[1]!);
    expect(spy).toHaveBeenCalledTimes(2);
    spy.mockRestore();
  });

  test('SGD: a state dict without a momentum buffer starts it from the next gradient, as PyTorch', () => {
    activate();
    const random = rng(11);
    const init = adversarial(random, 20, 0), g = normal(random, 20);
    const a = new SGD([init.slice()], { momentum: 0.9, dampening: 0.5 });
    const dict = a.stateDict();
    expect(dict.state).toEqual({});
    const p = init.slice();
    const b = new SGD([p], { momentum: 0.9, dampening: 0.5 });
    b.loadStateDict(dict);
    b.step([g]);
    expect(describeBitDifference('buffer', b.state.get(p)!.momentumBuffer!, g)).toBeNull(); // cloned, not dampened
  });
});

describe('the group objects', () => {
  test('show their options as a plain object would: keys, spread, JSON, console.log', () => {
    const w = new Float32Array(2);
    const opt = new Adam([{ params: [w], lr: 0.5 }], { amsgrad: true });
    const group = opt.paramGroups[0]!;
    expect(Object.keys(group)).toEqual([...Object.keys(opt.defaults), 'params']);
    expect({ ...group }).toMatchObject({ lr: 0.5, amsgrad: true, betas: [0.9, 0.999], params: [w] });
    expect(JSON.parse(JSON.stringify({ ...group, params: undefined }))).toMatchObject({ lr: 0.5, eps: 1e-8 });
    expect(inspect(group)).toContain('lr: 0.5');
    expect(inspect(group)).not.toContain('Getter');
    group.lr = 0.25; // between steps: taken by the next one
    (group as { note?: string }).note = 'a key of the caller';
    expect(opt.paramGroups[0]!.lr).toBe(0.25);
    expect(opt.step([new Float32Array([1, 1])])).toBe(true);
    expect(Array.from(w).map((x) => x.toFixed(6))).toEqual(["-0.250000", "-0.250000"]); // Adam moves by lr on its first step
  });

  test('an option set from a getter the step reads is refused, as a step from there is', () => {
    const opt = new Adam([new Float32Array(2)]);
    const group = opt.paramGroups[0]!;
    let refused: unknown = null;
    const grads = [new Float32Array(2)];
    Object.defineProperty(grads, 0, { get: () => { try { group.lr = 1; } catch (e) { refused = e; } return new Float32Array(2); } });
    opt.step(grads);
    expect(refused).toMatchObject({ code: 'ERR_SIMD_OPTIM_BUSY' });
    expect(group.lr).toBe(1e-3);
  });
});
