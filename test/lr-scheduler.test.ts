// Learning-rate schedules against PyTorch's closed forms (torch/optim/lr_scheduler.py, transcribed
// below) and hand-computed anchors; each sets the optimizer's group lr, from epoch 0 at
// construction.
import { describe, expect, test } from 'vitest';

import {
  Adam, ConstantLR, CosineAnnealingLR, CosineAnnealingWarmRestarts, CyclicLR, ExponentialLR, InverseSqrtLR, InverseTimeLR,
  LambdaLR, LinearLR, MultiStepLR, OneCycleLR, PolynomialLR, ReduceLROnPlateau, SequentialLR, SGD, StepLR, type LRScheduler,
} from '../lib/index.js';

const EPOCHS = 40;
const bisectRight = (sorted: number[], x: number) => sorted.filter((m) => m <= x).length;

function optimizer(lrs = [0.1, 0.02]) {
  return new SGD(lrs.map((lr) => ({ params: [new Float32Array(2)], lr })), { momentum: 0.9 });
}

function trace(sched: LRScheduler, opt: { paramGroups: { lr: number }[] }, epochs = EPOCHS): number[][] {
  const out: number[][] = [];
  for (let e = 0; e < epochs; e++) {
    expect(opt.paramGroups.map((g) => g.lr)).toEqual(sched.getLastLr());
    out.push(sched.getLastLr());
    sched.step();
  }
  return out;
}

function expectClose(actual: number[][], expected: (epoch: number, base: number) => number, bases = [0.1, 0.02]): void {
  actual.forEach((lrs, epoch) => lrs.forEach((lr, g) => {
    const want = expected(epoch, bases[g]!);
    expect(Math.abs(lr - want), `epoch ${epoch} group ${g}: ${lr} vs ${want}`).toBeLessThanOrEqual(1e-15 + 1e-12 * Math.abs(want));
  }));
}

describe('closed forms', () => {
  test('StepLR', () => {
    const opt = optimizer();
    const lrs = trace(new StepLR(opt, { stepSize: 3, gamma: 0.5 }), opt);
    expectClose(lrs, (e, b) => b * 0.5 ** Math.floor(e / 3));
    expect(lrs.slice(0, 5).map((l) => l[0])).toEqual([0.1, 0.1, 0.1, 0.05, 0.05]);
  });
  test('MultiStepLR (a repeated milestone counts twice)', () => {
    const opt = optimizer();
    const milestones = [5, 2, 9, 9];
    const lrs = trace(new MultiStepLR(opt, { milestones, gamma: 0.1 }), opt);
    expectClose(lrs, (e, b) => b * 0.1 ** bisectRight([2, 5, 9, 9], e));
    expect(lrs[9]![0]).toBeCloseTo(0.1 * 1e-4, 15);
  });
  test('ExponentialLR', () => {
    const opt = optimizer();
    expectClose(trace(new ExponentialLR(opt, { gamma: 0.9 }), opt), (e, b) => b * 0.9 ** e);
  });
  test('ConstantLR', () => {
    const opt = optimizer();
    expectClose(trace(new ConstantLR(opt, { factor: 0.5, totalIters: 4 }), opt), (e, b) => b * (0.5 + (e >= 4 ? 1 : 0) * 0.5));
  });
  test('LinearLR (warm-up)', () => {
    const opt = optimizer();
    const lrs = trace(new LinearLR(opt, { startFactor: 0.25, endFactor: 1, totalIters: 6 }), opt);
    expectClose(lrs, (e, b) => b * (0.25 + (0.75 * Math.min(6, e)) / 6));
    expect(lrs[0]![0]).toBeCloseTo(0.025, 15);
    expect(lrs[6]![0]).toBeCloseTo(0.1, 15);
  });
  test('PolynomialLR', () => {
    const opt = optimizer();
    expectClose(trace(new PolynomialLR(opt, { totalIters: 10, power: 2 }), opt), (e, b) => b * (1 - Math.min(10, e) / 10) ** 2);
  });
  test('CosineAnnealingLR', () => {
    const opt = optimizer();
    const lrs = trace(new CosineAnnealingLR(opt, { tMax: 10, etaMin: 0.001 }), opt);
    expectClose(lrs, (e, b) => 0.001 + ((b - 0.001) * (1 + Math.cos((Math.PI * e) / 10))) / 2);
    expect(lrs[10]![0]).toBeCloseTo(0.001, 15);
  });
  test('CosineAnnealingWarmRestarts', () => {
    const opt = optimizer();
    const lrs = trace(new CosineAnnealingWarmRestarts(opt, { t0: 3, tMult: 2, etaMin: 0 }), opt);
    // PyTorch's closed form: n = floor(log_tMult(epoch / t0 * (tMult - 1) + 1)).
    expectClose(lrs, (e, b) => {
      let tCur = e, tI = 3;
      if (e >= 3) {
        const n = Math.floor(Math.log((e / 3) * (2 - 1) + 1) / Math.log(2) + 1e-12);
        tCur = e - (3 * (2 ** n - 1)) / (2 - 1);
        tI = 3 * 2 ** n;
      }
      return (b * (1 + Math.cos((Math.PI * tCur) / tI))) / 2;
    });
    expect([0, 3, 9, 21].map((e) => lrs[e]![0])).toEqual([0.1, 0.1, 0.1, 0.1]); // restarts
    const flat = optimizer();
    expectClose(trace(new CosineAnnealingWarmRestarts(flat, { t0: 4 }), flat), (e, b) => (b * (1 + Math.cos((Math.PI * (e % 4)) / 4))) / 2);
  });
  test('LambdaLR, one function per group', () => {
    const opt = optimizer();
    expectClose(trace(new LambdaLR(opt, { lrLambda: [(e) => 1 / (e + 1), (e) => 0.95 ** e] }), opt), (e, b) => (b === 0.1 ? b / (e + 1) : b * 0.95 ** e));
    expect(() => new LambdaLR(optimizer(), { lrLambda: () => NaN })).toThrow(/lrLambda/);
    // A failing step changes nothing: the epoch and the rates stay, alone or inside SequentialLR.
    const failing = optimizer([1]);
    const lambda = new LambdaLR(failing, { lrLambda: (e) => (e === 2 ? NaN : 0.5 ** e) });
    lambda.step();
    expect(() => lambda.step()).toThrow(/lrLambda\(2\)/);
    expect([lambda.lastEpoch, failing.paramGroups[0]!.lr]).toEqual([1, 0.5]);
    const seq = optimizer([1]);
    const inner = new LambdaLR(seq, { lrLambda: (e) => (e === 1 ? NaN : 1) });
    const sequential = new SequentialLR(seq, { schedulers: [new ConstantLR(seq, { factor: 0.5, totalIters: 9 }), inner], milestones: [2] });
    sequential.step();
    sequential.step(); // milestone: the lambda restarts at its epoch 0
    expect(() => sequential.step()).toThrow(/lrLambda/);
    expect([sequential.lastEpoch, inner.lastEpoch, seq.paramGroups[0]!.lr]).toEqual([2, 0, 1]);
  });
  test('InverseTimeLR and InverseSqrtLR (the lecture notes\' decays)', () => {
    const a = optimizer();
    expectClose(trace(new InverseTimeLR(a, { k: 0.5 }), a), (e, b) => b / (1 + 0.5 * e));
    const b = optimizer();
    expectClose(trace(new InverseSqrtLR(b), b), (e, base) => base / Math.sqrt(e + 1));
  });
});

describe('cycles and phases', () => {
  test('OneCycleLR: lr and momentum (betas[0] of Adam)', () => {
    const opt = new Adam([new Float32Array(3)], { lr: 0.5 });
    const sched = new OneCycleLR(opt, { maxLr: 1, totalSteps: 10 });
    const lrs: number[] = [], betas: number[] = [];
    for (let s = 0; s < 10; s++) {
      lrs.push(opt.paramGroups[0]!.lr);
      betas.push(opt.paramGroups[0]!.betas[0]);
      sched.step();
    }
    // PyTorch: phases end at 0.3 * 10 - 1 = 2 and 9; cos annealing.
    const anneal = (start: number, end: number, pct: number) => end + ((start - end) / 2) * (Math.cos(Math.PI * pct) + 1);
    lrs.forEach((lr, s) => {
      const want = s <= 2 ? anneal(0.04, 1, s / 2) : anneal(1, 0.04 / 1e4, (s - 2) / 7);
      expect(lr).toBeCloseTo(want, 14);
    });
    expect(lrs[0]).toBeCloseTo(0.04, 15);
    expect(lrs[2]).toBe(1);
    expect(lrs[9]).toBeCloseTo(4e-6, 15);
    expect(betas[0]).toBeCloseTo(0.95, 15);
    expect(betas[2]).toBeCloseTo(0.85, 15);
    expect(opt.paramGroups[0]!.betas[1]).toBe(0.999);
    // The loop stepped 10 times: lastEpoch = totalSteps is allowed, one more is not (PyTorch too).
    expect(sched.lastEpoch).toBe(10);
    expect(() => sched.step()).toThrow(/totalSteps is 10/);
    expect(sched.lastEpoch).toBe(10);
  });

  test('OneCycleLR three-phase and linear', () => {
    const opt = optimizer([0.1]);
    const sched = new OneCycleLR(opt, { maxLr: 2, totalSteps: 20, threePhase: true, annealStrategy: 'linear', cycleMomentum: false });
    const lrs = trace(sched, opt, 20).map((l) => l[0]!);
    const lin = (a: number, b: number, pct: number) => (b - a) * pct + a;
    lrs.forEach((lr, s) => {
      const want = s <= 5 ? lin(0.08, 2, s / 5) : s <= 10 ? lin(2, 0.08, (s - 5) / 5) : lin(0.08, 8e-6, (s - 10) / 9);
      expect(lr).toBeCloseTo(want, 14);
    });
    expect(opt.paramGroups[0]!.momentum).toBe(0.9);
  });

  test('CyclicLR triangular, triangular2, exp_range; momentum of SGD', () => {
    const opt = optimizer([0.5]);
    const sched = new CyclicLR(opt, { baseLr: 0.1, maxLr: 1, stepSizeUp: 4 });
    expect(opt.paramGroups[0]!.momentum).toBeCloseTo(0.9, 15);
    const lrs = trace(sched, opt, 9).map((l) => l[0]!);
    [0.1, 0.325, 0.55, 0.775, 1, 0.775, 0.55, 0.325, 0.1].forEach((want, e) => expect(lrs[e]).toBeCloseTo(want, 14));
    expect(opt.paramGroups[0]!.momentum).toBeCloseTo(0.9 - 0.1 * 0.25, 14); // epoch 9: a quarter up again
    const opt2 = optimizer([0.5]);
    const lrs2 = trace(new CyclicLR(opt2, { baseLr: 0.1, maxLr: 1, stepSizeUp: 2, stepSizeDown: 2, mode: 'triangular2', cycleMomentum: false }), opt2, 9);
    expect(lrs2[2]![0]).toBeCloseTo(1, 14);
    expect(lrs2[6]![0]).toBeCloseTo(0.55, 14);
    const opt3 = optimizer([0.5]);
    const lrs3 = trace(new CyclicLR(opt3, { baseLr: 0.1, maxLr: 1, stepSizeUp: 2, mode: 'exp_range', gamma: 0.9, cycleMomentum: false }), opt3, 9);
    expect(lrs3[2]![0]).toBeCloseTo(0.1 + 0.9 * 0.81, 14);
    expect(() => new CyclicLR(new Adam([new Float32Array(1)]), { baseLr: 0.1, maxLr: 1 })).not.toThrow();
  });

  test('SequentialLR: warm-up, then exponential decay restarted at its epoch 0', () => {
    const opt = optimizer([1]);
    const warmup = new LinearLR(opt, { startFactor: 0.1, totalIters: 2 });
    const decay = new ExponentialLR(opt, { gamma: 0.9 });
    const sched = new SequentialLR(opt, { schedulers: [warmup, decay], milestones: [2] });
    const lrs = trace(sched, opt, 6).map((l) => l[0]!);
    [0.1, 0.55, 1, 0.9, 0.81, 0.729].forEach((want, e) => expect(lrs[e]).toBeCloseTo(want, 14));
  });

  test('ReduceLROnPlateau: patience, cooldown, threshold, minLr', () => {
    const opt = optimizer([1, 0.5]);
    const sched = new ReduceLROnPlateau(opt, { factor: 0.5, patience: 1, cooldown: 1, minLr: [0.2, 0.4] });
    const seen: number[][] = [];
    for (const loss of [10, 9, 9, 9, 9, 9, 9, 8.9999, 5]) {
      sched.step(loss);
      seen.push(sched.getLastLr());
    }
    // Bad epochs: 9 (1), 9 (2 > patience: halve, cooldown 1), 9 (cooldown: 0), 9 (1), 9 (2: halve),
    // 8.9999 is not better by the relative threshold 1e-4, 5 is.
    expect(seen.map((l) => l[0])).toEqual([1, 1, 1, 0.5, 0.5, 0.5, 0.25, 0.25, 0.25]);
    expect(seen.map((l) => l[1])).toEqual([0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5].map((x, i) => (i >= 3 ? 0.4 : x)));
    const max = new ReduceLROnPlateau(optimizer([1]), { mode: 'max', patience: 0, thresholdMode: 'abs', threshold: 0.5 });
    max.step(1);
    max.step(1.4); // not better by 0.5: reduce
    expect(max.getLastLr()).toEqual([0.1]);
  });
});

describe('state and validation', () => {
  test('stateDict and loadStateDict resume the schedule', () => {
    const a = optimizer();
    const sa = new CosineAnnealingLR(a, { tMax: 7 });
    for (let e = 0; e < 5; e++) sa.step();
    const b = optimizer();
    const sb = new CosineAnnealingLR(b, { tMax: 7 });
    sb.loadStateDict(sa.stateDict());
    expect(b.paramGroups.map((g) => g.lr)).toEqual(a.paramGroups.map((g) => g.lr));
    sa.step();
    sb.step();
    expect(sb.getLastLr()).toEqual(sa.getLastLr());
    expect(() => sb.loadStateDict({ ...sa.stateDict(), scheduler: 'StepLR' })).toThrow(/StepLR/);
    expect(() => sb.loadStateDict({ ...sa.stateDict(), lastEpoch: -3 })).toThrow(/lastEpoch/);
    const plateau = new ReduceLROnPlateau(optimizer());
    plateau.step(3);
    const copy = new ReduceLROnPlateau(optimizer());
    copy.loadStateDict(plateau.stateDict());
    expect(copy.best).toBe(3);
  });

  test('the first scheduler records initialLr; later ones start from it, as PyTorch', () => {
    const opt = optimizer([1]);
    new ExponentialLR(opt, { gamma: 0.5 }).step();
    expect(opt.paramGroups[0]!.lr).toBe(0.5);
    const second = new StepLR(opt, { stepSize: 10 });
    expect(second.baseLrs).toEqual([1]);
    expect(opt.paramGroups[0]!.lr).toBe(1);
  });

  test('bad options are named', () => {
    const opt = optimizer();
    expect(() => new StepLR(opt, {} as never)).toThrow(/stepSize is required/);
    expect(() => new StepLR(opt, { stepSize: 0 })).toThrow(/stepSize/);
    expect(() => new StepLR(opt, { stepSize: 2, gama: 0.1 } as never)).toThrow(/options.gama/);
    expect(() => new LinearLR(opt, { startFactor: 0 })).toThrow(/startFactor/);
    expect(() => new OneCycleLR(opt, { maxLr: [1] , totalSteps: 5 })).toThrow(/maxLr has 1 entries/);
    expect(() => new OneCycleLR(opt, { maxLr: 1 })).toThrow(/totalSteps/);
    expect(() => new CyclicLR(opt, { baseLr: 0.1, maxLr: 1, mode: 'sine' as never })).toThrow(/mode/);
    expect(() => new ReduceLROnPlateau(opt, { factor: 1 })).toThrow(/factor/);
    expect(() => new SequentialLR(opt, { schedulers: [new StepLR(opt, { stepSize: 2 })], milestones: [3] })).toThrow(/milestones/);
    expect(() => new StepLR({} as never, { stepSize: 2 })).toThrow(TypeError);
    expect(() => new OneCycleLR(new SGD([new Float32Array(1)]), { maxLr: 1, totalSteps: 3 })).not.toThrow();
  });
});
