// Native kernels at every ISA level against the TypeScript specification, bit for bit (NaN matches
// any NaN), on random and adversarial values: NaN, infinities, signed zeros, subnormals, +-FLT_MAX,
// magnitudes from 1e-30 to 1e30, in params, gradients and state; every size from 0 to 70 plus
// 1003 and 4099 (so every vector-body/scalar-tail split), at unaligned offsets, over several steps.
// It needs both backends in one process, so it runs in the native project only.
import { describe, expect, test } from 'vitest';

import {
  Adadelta, Adagrad, Adam, Adamax, AdamW, Lion, NAdam, RAdam, RMSprop, SGD,
  adadeltaUpdate, adagradUpdate, adamaxUpdate, adamUpdate, adamwUpdate, lionUpdate, nadamUpdate, radamUpdate,
  rmspropUpdate, sgdUpdate,
} from '../lib/index.js';
import { availableIsas, backend, useBackend } from '../lib/bridge/backend.js';
import { adversarial, describeBitDifference, normal, rng, unalignedCopy } from './helpers.js';

const SIZES = [...Array.from({ length: 71 }, (_, i) => i), 1003, 4099];
const OFFSETS = [0, 1, 2, 3];
const STEPS = 3;

interface Case {
  name: string;
  /** Names of the state arrays the update takes after param and grad; null entries are passed as null. */
  state: readonly (string | null)[];
  /** Runs one functional update of step t. */
  update(arrays: Float32Array[], t: number): void;
}

function cases(): Case[] {
  const list: Case[] = [];
  const adamHypers = [
    {}, { weightDecay: 0.1 }, { amsgrad: true }, { maximize: true, weightDecay: 0.5, amsgrad: true },
    { betas: [0, 0] as [number, number], eps: 0 }, { lr: 0 }, { lr: 10, betas: [0.5, 0.25] as [number, number], eps: 1 },
    { epsInsideSqrt: true }, { epsInsideSqrt: true, amsgrad: true, weightDecay: 0.1, eps: 0 },
  ];
  for (const h of adamHypers) {
    const ams = h.amsgrad === true;
    list.push({
      name: `adamUpdate ${JSON.stringify(h)}`,
      state: ['expAvg', 'expAvgSq', ams ? 'maxExpAvgSq' : null],
      update: ([p, g, m, v, vm], t) => adamUpdate(p!, g!, m!, v!, ams ? vm! : null, { ...h, step: t }),
    });
    list.push({
      name: `adamwUpdate ${JSON.stringify(h)}`,
      state: ['expAvg', 'expAvgSq', ams ? 'maxExpAvgSq' : null],
      update: ([p, g, m, v, vm], t) => adamwUpdate(p!, g!, m!, v!, ams ? vm! : null, { ...h, step: t }),
    });
  }
  for (const h of [{}, { weightDecay: 0.1, lrDecay: 0.1 }, { maximize: true, eps: 0, lr: 3 }, { epsInsideSqrt: true }]) {
    list.push({
      name: `adagradUpdate ${JSON.stringify(h)}`,
      state: ['sum'],
      update: ([p, g, s], t) => adagradUpdate(p!, g!, s!, { ...h, step: t }),
    });
  }
  for (const centered of [false, true]) {
    for (const momentum of [0, 0.9]) {
      for (const weightDecay of [0, 0.25]) {
        for (const maximize of [false, true]) {
          const h = { centered, momentum, weightDecay, maximize, eps: maximize ? 0 : 1e-8, epsInsideSqrt: weightDecay > 0 };
          list.push({
            name: `rmspropUpdate ${JSON.stringify(h)}`,
            state: ['squareAvg', centered ? 'gradAvg' : null, momentum ? 'momentumBuffer' : null],
            update: ([p, g, sq, ga, buf]) => rmspropUpdate(p!, g!, sq!, centered ? ga! : null, momentum ? buf! : null, h),
          });
        }
      }
    }
  }
  const sgdHypers = [
    {}, { momentum: 0.9 }, { momentum: 0.9, dampening: 0.3 }, { momentum: 0.9, nesterov: true },
    { momentum: 0.5, weightDecay: 0.1, maximize: true }, { weightDecay: 2, lr: 0.5 },
  ];
  for (const h of sgdHypers) {
    const withBuffer = (h.momentum ?? 0) !== 0;
    list.push({
      name: `sgdUpdate ${JSON.stringify(h)}`,
      state: [withBuffer ? 'momentumBuffer' : null],
      update: ([p, g, buf], t) => sgdUpdate(p!, g!, withBuffer ? buf! : null, { ...h, step: t }),
    });
  }
  for (const h of [{}, { weightDecay: 0.1, maximize: true }, { rho: 1, eps: 0, lr: 0.5 }, { previousSquareAvg: true }, { previousSquareAvg: true, weightDecay: 0.1, rho: 0.5, eps: 1e-7 }]) {
    list.push({
      name: `adadeltaUpdate ${JSON.stringify(h)}`,
      state: ['squareAvg', 'accDelta'],
      update: ([p, g, sq, acc]) => adadeltaUpdate(p!, g!, sq!, acc!, h),
    });
  }
  for (const h of [{}, { weightDecay: 0.1, maximize: true }, { betas: [0, 0] as [number, number], eps: 0 }, { epsOutsideMax: true }, { epsOutsideMax: true, maximize: true, eps: 1e-7 }]) {
    list.push({
      name: `adamaxUpdate ${JSON.stringify(h)}`,
      state: ['expAvg', 'expInf'],
      update: ([p, g, m, u], t) => adamaxUpdate(p!, g!, m!, u!, { ...h, step: t }),
    });
  }
  for (const h of [{}, { weightDecay: 0.1 }, { weightDecay: 0.1, decoupledWeightDecay: true, maximize: true }, { momentumDecay: 0.5, eps: 0 }]) {
    let muProduct = 1;
    list.push({
      name: `nadamUpdate ${JSON.stringify(h)}`,
      state: ['expAvg', 'expAvgSq'],
      update: ([p, g, m, v], t) => {
        if (t === 1) muProduct = 1;
        muProduct = nadamUpdate(p!, g!, m!, v!, { ...h, step: t, muProduct });
      },
    });
  }
  for (const h of [{}, { weightDecay: 0.1 }, { weightDecay: 0.1, decoupledWeightDecay: true, maximize: true }, { eps: 0 }]) {
    list.push({
      name: `radamUpdate ${JSON.stringify(h)} (steps 4 to 6: across the rectification switch)`,
      state: ['expAvg', 'expAvgSq'],
      update: ([p, g, m, v], t) => radamUpdate(p!, g!, m!, v!, { ...h, step: t + 3 }),
    });
  }
  for (const h of [{}, { weightDecay: 0.5, maximize: true }, { betas: [0, 1 - 2 ** -24] as [number, number], lr: 1 }]) {
    list.push({
      name: `lionUpdate ${JSON.stringify(h)}`,
      state: ['expAvg'],
      update: ([p, g, m]) => lionUpdate(p!, g!, m!, h),
    });
  }
  return list;
}

/** Runs `steps` updates on copies of the inputs with the active backend; returns the arrays after each step. */
function trajectory(c: Case, inputs: Float32Array[], grads: Float32Array[], offset: number): Float32Array[][] {
  const arrays = inputs.map((a) => unalignedCopy(a, offset));
  const snapshots: Float32Array[][] = [];
  for (let t = 1; t <= grads.length; t++) {
    arrays[1] = unalignedCopy(grads[t - 1]!, (offset + t) % 4);
    c.update(arrays, t);
    snapshots.push(arrays.map((a) => a.slice()));
  }
  return snapshots;
}

const nativeRun = backend === 'native';

describe.skipIf(!nativeRun)('native vs fallback, bit for bit', () => {
  const levels = availableIsas();

  test('the machine offers several ISA levels to compare', () => {
    expect(levels).toContain('scalar');
    expect(levels.length).toBeGreaterThan(1);
  });

  test.each(cases())('$name', (c) => {
    const names = ['param', 'grad', ...c.state.map((s) => s ?? 'unused')];
    let checked = 0;
    for (const n of SIZES) {
      for (const offset of OFFSETS) {
        const random = rng(n * 7919 + offset * 104729 + c.name.length);
        // Half the runs adversarial everywhere, half ordinary values with adversarial gradients.
        const wild = (n + offset) % 2 === 0;
        const inputs = names.map((name) =>
          name === 'grad' ? new Float32Array(n) : wild ? adversarial(random, n) : normal(random, n, 0.5),
        );
        // Second moments are squares in practice; keep them non-negative on the ordinary runs.
        if (!wild) for (let k = 2; k < inputs.length; k++) if (/Sq|sum|square/.test(names[k]!)) inputs[k] = inputs[k]!.map(Math.abs);
        const grads = Array.from({ length: STEPS }, () => adversarial(random, n, wild ? 0.2 : 0.05));

        useBackend('js');
        const expected = trajectory(c, inputs, grads, offset);
        for (const level of levels) {
          useBackend('native', level);
          const actual = trajectory(c, inputs, grads, offset);
          for (let s = 0; s < STEPS; s++) {
            for (let k = 0; k < names.length; k++) {
              if (names[k] === 'grad' || names[k] === 'unused') continue;
              const diff = describeBitDifference(names[k]!, actual[s]![k]!, expected[s]![k]!);
              if (diff) {
                const i = Number(/\[(\d+)\]/.exec(diff)![1]);
                const before = inputs.map((a, j) => `${names[j]}=${j === 1 ? grads[s]![i] : a[i]}`).join(' ');
                expect.fail(`${level} n=${n} offset=${offset} step ${s + 1}: ${diff} (native vs spec); initial values ${before}`);
              }
              checked++;
            }
          }
        }
      }
    }
    expect(checked).toBeGreaterThan(0);
  });

  test('long runs: Adam and AdamW over 400 steps, so the bias corrections take many values', () => {
    // Adam divides by fl(sqrt(1 - beta2^t)) with Markstein's correction on FMA levels; every
    // divisor along a run must give the bits of the division.
    for (const options of [{}, { betas: [0.5, 0.9] as [number, number] }, { betas: [0.9, 0.99999] as [number, number], amsgrad: true }]) {
      for (const make of [(p: Float32Array[]) => new Adam(p, options), (p: Float32Array[]) => new AdamW(p, options)]) {
        const random = rng(7);
        const init = normal(random, 67);
        const gradSteps = Array.from({ length: 400 }, () => normal(random, 67, 10 ** (6 * random() - 3)));
        const runWith = (): Float32Array[] => {
          const param = init.slice();
          const opt = make([param]);
          for (const g of gradSteps) opt.step([g]);
          const state = opt.state.get(param)!;
          return [param, state.expAvg, state.expAvgSq];
        };
        useBackend('js');
        const expected = runWith();
        for (const level of levels) {
          useBackend('native', level);
          runWith().forEach((a, k) => expect(describeBitDifference(`${level} ${JSON.stringify(options)} array ${k}`, a, expected[k]!)).toBeNull());
        }
      }
    }
  });

  test('classes: one native call over tensors of several sizes gives the fallback bits', () => {
    const sizes = [0, 1, 15, 16, 17, 33, 1003, 64];
    const optimizers = [
      (p: Float32Array[]) => new Adam(p, { weightDecay: 0.01, amsgrad: true }),
      (p: Float32Array[]) => new AdamW(p, { maximize: true }),
      (p: Float32Array[]) => new Adagrad(p, { lrDecay: 0.01, initialAccumulatorValue: 0.1 }),
      (p: Float32Array[]) => new RMSprop(p, { centered: true, momentum: 0.9, weightDecay: 0.1 }),
      (p: Float32Array[]) => new SGD(p, { momentum: 0.9, nesterov: true, weightDecay: 0.1 }),
      (p: Float32Array[]) => new SGD(p, { momentum: 0.8, dampening: 0.5 }),
      (p: Float32Array[]) => new Adadelta(p, { weightDecay: 0.1 }),
      (p: Float32Array[]) => new Adamax(p, { maximize: true }),
      (p: Float32Array[]) => new NAdam(p, { decoupledWeightDecay: true, weightDecay: 0.1 }),
      (p: Float32Array[]) => new RAdam(p, { betas: [0.9, 0.8] }),
      (p: Float32Array[]) => new Lion(p, { weightDecay: 0.1 }),
    ];
    for (const make of optimizers) {
      const random = rng(42);
      const init = sizes.map((n, i) => unalignedCopy(adversarial(random, n), i % 4));
      const gradSteps = Array.from({ length: 4 }, () => sizes.map((n) => adversarial(random, n)));
      const runWith = (): Float32Array[] => {
        const params = init.map((p, i) => unalignedCopy(p, (i + 1) % 4));
        const opt = make(params);
        // One param without a gradient on step 2: it must be left exactly as it is.
        gradSteps.forEach((grads, s) => opt.step(grads.map((g, i) => (s === 1 && i === 2 ? null : g))));
        return params.flatMap((p) => [p, ...Object.values(opt.state.get(p) ?? {}).filter((v) => v instanceof Float32Array)]);
      };
      useBackend('js');
      const expected = runWith();
      for (const level of levels) {
        useBackend('native', level);
        const actual = runWith();
        expect(actual.length).toBe(expected.length);
        actual.forEach((a, k) => expect(describeBitDifference(`${level} array ${k}`, a, expected[k]!)).toBeNull());
      }
    }
  });
});
