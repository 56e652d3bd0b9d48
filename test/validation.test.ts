// Bad input never corrupts training state: every rejected call throws a TypeError or RangeError
// naming the argument, and leaves params, state, gradients and step counts exactly as they were.
// Runs on each backend (and each native ISA level).
import { describe, expect, test } from 'vitest';

import {
  Adadelta, Adagrad, Adam, Adamax, AdamW, Lion, NAdam, RAdam, RMSprop, SGD,
  adadeltaUpdate, adagradUpdate, adamaxUpdate, adamUpdate, adamwUpdate, lionUpdate, nadamUpdate, radamUpdate,
  rmspropUpdate, sgdUpdate, loadCheckpoint, saveCheckpoint,
} from '../lib/index.js';
import { backendsUnderTest, firstBitDifference } from './helpers.js';

type Ctor = new (params: Float32Array[], options?: Record<string, unknown>) => {
  step(grads: readonly (Float32Array | null | undefined)[]): void;
  readonly state: ReadonlyMap<Float32Array, object>;
};

const CLASSES: [string, Ctor][] = [
  ['Adam', Adam as unknown as Ctor],
  ['AdamW', AdamW as unknown as Ctor],
  ['Adagrad', Adagrad as unknown as Ctor],
  ['RMSprop', RMSprop as unknown as Ctor],
  ['SGD', SGD as unknown as Ctor],
  ['Adadelta', Adadelta as unknown as Ctor],
  ['Adamax', Adamax as unknown as Ctor],
  ['NAdam', NAdam as unknown as Ctor],
  ['RAdam', RAdam as unknown as Ctor],
  ['Lion', Lion as unknown as Ctor],
];

/** Every Float32Array reachable from the optimizer, copied. */
function snapshot(params: Float32Array[], opt: InstanceType<Ctor>, grads: Float32Array[]): Float32Array[] {
  const state = params.flatMap((p) => Object.values(opt.state.get(p) ?? {}).filter((v) => v instanceof Float32Array));
  return [...params, ...grads, ...state].map((a) => a.slice());
}

function stepCounts(params: Float32Array[], opt: InstanceType<Ctor>): unknown[] {
  return params.map((p) => (opt.state.get(p) as { step?: number } | undefined)?.step);
}

function expectThrowsNaming(fn: () => unknown, kind: typeof TypeError | typeof RangeError, name: string): void {
  let error: unknown = null;
  try {
    fn();
  } catch (e) {
    error = e;
  }
  expect(error, `expected a ${kind.name} naming ${name}`).toBeInstanceOf(kind);
  expect((error as Error).message).toContain(name);
}

describe.each(backendsUnderTest())('on $label', ({ activate }) => {
  describe.each(CLASSES)('%s', (name, Optim) => {
    const options = name === 'SGD' ? { momentum: 0.9 } : name === 'RMSprop' ? { centered: true, momentum: 0.5 } : {};

    test('rejects bad params', () => {
      activate();
      expectThrowsNaming(() => new Optim('w' as never), TypeError, 'params');
      expectThrowsNaming(() => new Optim([]), RangeError, 'params');
      expectThrowsNaming(() => new Optim([new Float32Array(2), new Float64Array(2) as never]), TypeError, 'params[1]');
      expectThrowsNaming(() => new Optim([[1, 2] as never]), TypeError, 'params[0]');
      const shared = new Float32Array(10);
      expectThrowsNaming(() => new Optim([shared, shared]), RangeError, 'params[1]');
      expectThrowsNaming(() => new Optim([shared.subarray(0, 6), shared.subarray(5)]), RangeError, 'params[0] and params[1]');
      expect(() => new Optim([shared.subarray(0, 5), shared.subarray(5)])).not.toThrow();
    });

    test('rejects bad options', () => {
      activate();
      const p = [new Float32Array(3)];
      expectThrowsNaming(() => new Optim(p, { learningRate: 0.1 }), TypeError, 'learningRate');
      expectThrowsNaming(() => new Optim(p, { lr: -1 }), RangeError, 'lr');
      expectThrowsNaming(() => new Optim(p, { lr: NaN }), RangeError, 'lr');
      expectThrowsNaming(() => new Optim(p, { lr: Infinity }), RangeError, 'lr');
      expectThrowsNaming(() => new Optim(p, { lr: '0.1' }), TypeError, 'lr');
      expectThrowsNaming(() => new Optim(p, { weightDecay: -0.1 }), RangeError, 'weightDecay');
      expectThrowsNaming(() => new Optim(p, { maximize: 1 }), TypeError, 'maximize');
      expectThrowsNaming(() => new Optim(p, 5 as never), TypeError, 'options');
      if (name !== 'SGD' && name !== 'Lion') expectThrowsNaming(() => new Optim(p, { eps: -1e-8 }), RangeError, 'eps');
      expectThrowsNaming(() => new Optim(p, { skipNonFinite: 'yes' }), TypeError, 'skipNonFinite');
      if (['Adam', 'AdamW', 'Adamax', 'NAdam', 'RAdam', 'Lion'].includes(name)) {
        expectThrowsNaming(() => new Optim(p, { betas: [1, 0.999] }), RangeError, 'betas[0]');
        expectThrowsNaming(() => new Optim(p, { betas: [0.9, Infinity] }), RangeError, 'betas[1]');
      }
      if (name === 'Adadelta') expectThrowsNaming(() => new Optim(p, { rho: 1.5 }), RangeError, 'rho');
      if (name === 'NAdam') expectThrowsNaming(() => new Optim(p, { momentumDecay: -1 }), RangeError, 'momentumDecay');
      if (name === 'NAdam' || name === 'RAdam') expectThrowsNaming(() => new Optim(p, { decoupledWeightDecay: 1 }), TypeError, 'decoupledWeightDecay');
      if (name === 'Adam' || name === 'AdamW') {
        expectThrowsNaming(() => new Optim(p, { epsInsideSqrt: 0 }), TypeError, 'epsInsideSqrt');
        expectThrowsNaming(() => new Optim(p, { betas: [1, 0.999] }), RangeError, 'betas[0]');
        expectThrowsNaming(() => new Optim(p, { betas: [0.9, -0.1] }), RangeError, 'betas[1]');
        expectThrowsNaming(() => new Optim(p, { betas: [0.9, 1] }), RangeError, 'betas[1]');
        expectThrowsNaming(() => new Optim(p, { betas: 0.9 }), TypeError, 'betas');
        expectThrowsNaming(() => new Optim(p, { amsgrad: 'yes' }), TypeError, 'amsgrad');
      }
      if (name === 'SGD') {
        expectThrowsNaming(() => new Optim(p, { nesterov: true }), RangeError, 'nesterov');
        expectThrowsNaming(() => new Optim(p, { nesterov: true, momentum: 0.9, dampening: 0.1 }), RangeError, 'nesterov');
        expectThrowsNaming(() => new Optim(p, { momentum: -0.5 }), RangeError, 'momentum');
      }
      if (name === 'Adagrad') {
        expectThrowsNaming(() => new Optim(p, { lrDecay: -1 }), RangeError, 'lrDecay');
        expectThrowsNaming(() => new Optim(p, { initialAccumulatorValue: -1 }), RangeError, 'initialAccumulatorValue');
      }
      if (name === 'RMSprop') {
        expectThrowsNaming(() => new Optim(p, { alpha: -0.1 }), RangeError, 'alpha');
        expectThrowsNaming(() => new Optim(p, { momentum: -0.1 }), RangeError, 'momentum');
      }
    });

    test('a rejected step changes nothing', () => {
      activate();
      const params = [new Float32Array([1, -2, 3]), new Float32Array([0.5, 0.25])];
      const opt = new Optim(params, options);
      const good = [new Float32Array([0.1, 0.2, -0.3]), new Float32Array([1, -1])];
      opt.step(good); // state exists, so a partial update would show
      const before = snapshot(params, opt, good);
      const steps = stepCounts(params, opt);
      const bad: [unknown, typeof TypeError | typeof RangeError, string][] = [
        ['grads', TypeError, 'grads'],
        [[good[0]], RangeError, 'grads'],
        [[good[0], good[1], good[1]], RangeError, 'grads'],
        [[good[0], new Float64Array(2)], TypeError, 'grads[1]'],
        [[good[0], [1, 2]], TypeError, 'grads[1]'],
        [[good[0], new Float32Array(3)], RangeError, 'grads[1]'],
        [[good[0], params[1]], RangeError, 'grads[1]'],
        [[params[1], good[1]], RangeError, 'grads[0]'],
        [[good[0], new Float32Array(params[0]!.buffer, 4, 2)], RangeError, 'grads[1]'],
      ];
      for (const [grads, kind, argument] of bad) {
        expectThrowsNaming(() => opt.step(grads as never), kind, argument);
        const after = snapshot(params, opt, good);
        after.forEach((a, k) => expect(firstBitDifference(a, before[k]!), `array ${k} after ${argument}`).toBe(-1));
        expect(stepCounts(params, opt)).toEqual(steps);
      }
    });

    test('a param whose gradient is missing keeps its value, state and step count', () => {
      activate();
      const params = [new Float32Array([1, 2]), new Float32Array([3, 4])];
      const opt = new Optim(params, options);
      opt.step([new Float32Array([0.1, 0.1]), null]);
      expect(Array.from(params[1]!)).toEqual([3, 4]);
      expect(opt.state.has(params[1]!)).toBe(false);
      opt.step([undefined, new Float32Array([0.1, 0.1])]);
      expect(opt.state.has(params[1]!)).toBe(true);
    });
  });

  describe('functional updates', () => {
    const p = (): Float32Array => new Float32Array([1, 2, 3]);

    test('adamUpdate / adamwUpdate', () => {
      activate();
      for (const [fn, name] of [[adamUpdate, 'adamUpdate'], [adamwUpdate, 'adamwUpdate']] as const) {
        const param = p(), grad = p(), m = p(), v = p();
        const copies = [param, grad, m, v].map((a) => a.slice());
        expectThrowsNaming(() => fn(param, grad, m, v, null, {} as never), TypeError, 'hyper.step');
        expectThrowsNaming(() => fn(param, grad, m, v, null, { step: 0 }), RangeError, 'hyper.step');
        expectThrowsNaming(() => fn(param, grad, m, v, null, { step: 1.5 }), RangeError, 'hyper.step');
        expectThrowsNaming(() => fn(param, grad, m, v, null, { step: 1, lr: -1 }), RangeError, 'hyper.lr');
        expectThrowsNaming(() => fn(param, grad, m, v, null, { step: 1, foo: 1 } as never), TypeError, 'foo');
        expectThrowsNaming(() => fn(param, grad, m, v, null, { step: 1, amsgrad: true }), TypeError, 'maxExpAvgSq');
        expectThrowsNaming(() => fn(param, new Float32Array(2), m, v, null, { step: 1 }), RangeError, 'grad');
        expectThrowsNaming(() => fn(param, grad, [0, 0, 0] as never, v, null, { step: 1 }), TypeError, 'expAvg');
        expectThrowsNaming(() => fn(param, param, m, v, null, { step: 1 }), RangeError, 'grad');
        expectThrowsNaming(() => fn(param, grad, m, m, null, { step: 1 }), RangeError, 'expAvgSq');
        expectThrowsNaming(() => fn(param, grad, m, v, v, { step: 1, amsgrad: true }), RangeError, 'maxExpAvgSq');
        [param, grad, m, v].forEach((a, k) => expect(firstBitDifference(a, copies[k]!)).toBe(-1));
        fn(param, grad, m, v, null, { step: 1 });
        expect(firstBitDifference(param, copies[0]!)).not.toBe(-1);
      }
    });

    test('adagradUpdate', () => {
      activate();
      const param = p(), grad = p(), sum = p();
      expectThrowsNaming(() => adagradUpdate(param, grad, sum, {} as never), TypeError, 'hyper.step');
      expectThrowsNaming(() => adagradUpdate(param, grad, new Float32Array(4), { step: 1 }), RangeError, 'sum');
      expectThrowsNaming(() => adagradUpdate(param, grad, param, { step: 1 }), RangeError, 'sum');
      expectThrowsNaming(() => adagradUpdate(param, grad, sum, { step: 1, lrDecay: -1 }), RangeError, 'hyper.lrDecay');
      expect(Array.from(param)).toEqual([1, 2, 3]);
    });

    test('rmspropUpdate', () => {
      activate();
      const param = p(), grad = p(), sq = p();
      expectThrowsNaming(() => rmspropUpdate(param, grad, sq, null, null, { centered: true }), TypeError, 'gradAvg');
      expectThrowsNaming(() => rmspropUpdate(param, grad, sq, null, null, { momentum: 0.9 }), TypeError, 'momentumBuffer');
      expectThrowsNaming(() => rmspropUpdate(param, grad, sq, null, sq, { momentum: 0.9 }), RangeError, 'momentumBuffer');
      expectThrowsNaming(() => rmspropUpdate(param, grad, sq, null, null, { alpha: -1 }), RangeError, 'hyper.alpha');
      expect(Array.from(param)).toEqual([1, 2, 3]);
    });

    test('the updates of Adadelta, Adamax, NAdam, RAdam and Lion', () => {
      activate();
      const param = p(), grad = p(), a = p(), b = p();
      expectThrowsNaming(() => adadeltaUpdate(param, grad, a, a, {}), RangeError, 'accDelta');
      expectThrowsNaming(() => adadeltaUpdate(param, grad, a, b, { rho: 2 }), RangeError, 'hyper.rho');
      expectThrowsNaming(() => adamaxUpdate(param, grad, a, b, {} as never), TypeError, 'hyper.step');
      expectThrowsNaming(() => adamaxUpdate(param, grad, a, new Float32Array(2), { step: 1 }), RangeError, 'expInf');
      expectThrowsNaming(() => nadamUpdate(param, grad, a, b, { step: 1, muProduct: NaN }), RangeError, 'hyper.muProduct');
      expectThrowsNaming(() => nadamUpdate(param, grad, a, b, { step: 0, muProduct: 1 }), RangeError, 'hyper.step');
      expectThrowsNaming(() => radamUpdate(param, b, a, b, { step: 1 }), RangeError, 'expAvgSq');
      expectThrowsNaming(() => lionUpdate(param, grad, [1, 2, 3] as never, {}), TypeError, 'expAvg');
      expectThrowsNaming(() => lionUpdate(param, grad, a, { lr: -1 }), RangeError, 'hyper.lr');
      expect(Array.from(param)).toEqual([1, 2, 3]);
    });

    test('checkpoints name a bad optimizer or path', () => {
      activate();
      expectThrowsNaming(() => saveCheckpoint('/tmp/x.safetensors', {} as never), TypeError, 'optimizer');
      expectThrowsNaming(() => loadCheckpoint('/tmp/x.safetensors', null as never), TypeError, 'optimizer');
      expectThrowsNaming(() => saveCheckpoint(42 as never, new SGD([p()])), TypeError, 'path');
    });

    test('sgdUpdate', () => {
      activate();
      const param = p(), grad = p(), buf = p();
      expectThrowsNaming(() => sgdUpdate(param, grad, buf, { momentum: 0.9 }), TypeError, 'hyper.step');
      expectThrowsNaming(() => sgdUpdate(param, grad, null, { momentum: 0.9, step: 1 }), TypeError, 'momentumBuffer');
      expectThrowsNaming(() => sgdUpdate(param, grad, buf, { nesterov: true, step: 1 }), RangeError, 'nesterov');
      expectThrowsNaming(() => sgdUpdate(param, grad.subarray(1), null, {}), RangeError, 'grad');
      expect(Array.from(param)).toEqual([1, 2, 3]);
      sgdUpdate(param, grad, null, { lr: 0.5 });
      expect(Array.from(param)).toEqual([0.5, 1, 1.5]);
    });
  });
});
