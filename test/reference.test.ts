// NAdam and Lion have no PyTorch 1.13 reference trajectory (1.13's NAdam has a bug fixed in 2.x,
// and Lion is not in torch.optim): they are checked against independent float64 re-computations
// of their published formulas, on each backend and ISA level.
import { describe, expect, test } from 'vitest';

import { Adadelta, Adagrad, Adam, Adamax, AdamW, Lion, NAdam, RMSprop } from '../lib/index.js';
import { backendsUnderTest, normal, rng } from './helpers.js';

const N = 257;
const STEPS = 60;

/** Max of |ours - ref| / (1e-6 + 1e-5 |ref|): at most 1 within the golden tolerance. */
function worst(ours: Float32Array, ref: Float64Array): number {
  let w = 0;
  for (let i = 0; i < ref.length; i++) w = Math.max(w, Math.abs(ours[i]! - ref[i]!) / (1e-6 + 1e-5 * Math.abs(ref[i]!)));
  return w;
}

function data(seed: number): { init: Float32Array; grads: Float32Array[] } {
  const random = rng(seed);
  return { init: normal(random, N), grads: Array.from({ length: STEPS }, () => normal(random, N, 0.3)) };
}

/** PyTorch 2.x NAdam (torch/optim/nadam.py, _single_tensor_nadam), in float64. */
function nadamReference(init: Float32Array, grads: Float32Array[], o: { lr: number; beta1: number; beta2: number; eps: number; wd: number; psi: number; decoupled: boolean }) {
  const p = Float64Array.from(init), m = new Float64Array(N), v = new Float64Array(N);
  let muProduct = 1;
  grads.forEach((grad, s) => {
    const t = s + 1;
    const bc2 = 1 - o.beta2 ** t;
    const mu = o.beta1 * (1 - 0.5 * 0.96 ** (t * o.psi));
    const muNext = o.beta1 * (1 - 0.5 * 0.96 ** ((t + 1) * o.psi));
    muProduct *= mu;
    for (let i = 0; i < N; i++) {
      let g = grad[i]!;
      if (o.decoupled) p[i] = p[i]! * (1 - o.lr * o.wd);
      else g += o.wd * p[i]!;
      m[i] = o.beta1 * m[i]! + (1 - o.beta1) * g;
      v[i] = o.beta2 * v[i]! + (1 - o.beta2) * g * g;
      const denom = Math.sqrt(v[i]! / bc2) + o.eps;
      p[i] = p[i]! - (o.lr * (1 - mu) * g) / ((1 - muProduct) * denom) - (o.lr * muNext * m[i]!) / ((1 - muProduct * muNext) * denom);
    }
  });
  return { p, m, v, muProduct };
}

/** Lion (Chen et al. 2023, Algorithm 2), in float64. */
function lionReference(init: Float32Array, grads: Float32Array[], o: { lr: number; beta1: number; beta2: number; wd: number }) {
  const p = Float64Array.from(init), m = new Float64Array(N);
  for (const grad of grads) {
    for (let i = 0; i < N; i++) {
      const g = grad[i]!;
      const c = o.beta1 * m[i]! + (1 - o.beta1) * g;
      p[i] = p[i]! - o.lr * (Math.sign(c) + o.wd * p[i]!);
      m[i] = o.beta2 * m[i]! + (1 - o.beta2) * g;
    }
  }
  return { p, m };
}

describe.each(backendsUnderTest())('on $label', ({ activate }) => {
  test('epsInsideSqrt puts eps under the root of the bias-corrected second moment', () => {
    activate();
    const { init, grads } = data(13);
    const g = grads[0]!;
    const eps = 0.01; // large, so inside and outside the root differ visibly
    const ref = (p: number, gi: number, denom: number, lr: number) => p - (lr * gi) / denom;
    const cases: [string, (p: Float32Array[]) => { step(g: Float32Array[]): boolean }, (p: number, gi: number) => number][] = [
      // Step 1: m_hat = g and v_hat = g^2 for Adam; sum = g^2 for Adagrad; sq = (1 - alpha) g^2 for RMSprop.
      ['Adam', (p) => new Adam(p, { lr: 0.1, eps, epsInsideSqrt: true }), (p, gi) => ref(p, gi, Math.sqrt(gi * gi + eps), 0.1)],
      ['AdamW', (p) => new AdamW(p, { lr: 0.1, eps, epsInsideSqrt: true, weightDecay: 0 }), (p, gi) => ref(p, gi, Math.sqrt(gi * gi + eps), 0.1)],
      ['Adagrad', (p) => new Adagrad(p, { lr: 0.1, eps, epsInsideSqrt: true }), (p, gi) => ref(p, gi, Math.sqrt(gi * gi + eps), 0.1)],
      ['RMSprop', (p) => new RMSprop(p, { lr: 0.1, eps, epsInsideSqrt: true }), (p, gi) => ref(p, gi, Math.sqrt(0.01 * gi * gi + eps), 0.1)],
    ];
    for (const [name, make, expected] of cases) {
      const param = init.slice();
      make([param]).step([g]);
      const want = Float64Array.from(init, (p, i) => expected(p, g[i]!));
      expect(worst(param, want), name).toBeLessThanOrEqual(1);
    }
    // The test can tell: with eps outside the root, Adam lands elsewhere.
    const outside = init.slice();
    new Adam([outside], { lr: 0.1, eps }).step([g]);
    expect(worst(outside, Float64Array.from(init, (p, i) => ref(p, g[i]!, Math.sqrt(g[i]! * g[i]!) + eps, 0.1)))).toBeLessThanOrEqual(1);
    expect(worst(outside, Float64Array.from(init, (p, i) => ref(p, g[i]!, Math.sqrt(g[i]! * g[i]! + eps), 0.1)))).toBeGreaterThan(1);
  });

  test('TensorFlow.js orders: Adadelta previousSquareAvg, Adamax epsOutsideMax', () => {
    activate();
    const { init, grads } = data(13);
    const eps = 0.01; // large, so the two placements differ visibly
    // Two Adadelta steps in float64, the denominator from the square average before or after the gradient.
    const adadelta = (previous: boolean) => Float64Array.from(init, (p0, i) => {
      let p = p0, sq = 0, acc = 0;
      for (const g of [grads[0]![i]!, grads[1]![i]!]) {
        const sqNew = 0.9 * sq + 0.1 * g * g;
        const delta = (Math.sqrt(acc + eps) / Math.sqrt((previous ? sq : sqNew) + eps)) * g;
        acc = 0.9 * acc + 0.1 * delta * delta;
        sq = sqNew;
        p -= 0.5 * delta;
      }
      return p;
    });
    // Two Adamax steps in float64, eps inside the max or added after it. They differ where the decayed
    // norm wins the max (with eps in it, or not), so beta2 is small.
    const adamax = (outside: boolean) => Float64Array.from(init, (p0, i) => {
      let p = p0, m = 0, u = 0, t = 0;
      for (const g of [grads[0]![i]!, grads[1]![i]!]) {
        t++;
        m = 0.9 * m + 0.1 * g;
        u = Math.max(0.5 * u, Math.abs(g) + (outside ? 0 : eps));
        p -= (0.1 / (1 - 0.9 ** t)) * m / (u + (outside ? eps : 0));
      }
      return p;
    });
    const run = (make: (p: Float32Array[]) => { step(g: Float32Array[]): boolean }) => {
      const param = init.slice();
      const opt = make([param]);
      opt.step([grads[0]!]);
      opt.step([grads[1]!]);
      return param;
    };
    for (const previous of [false, true]) {
      const got = run((p) => new Adadelta(p, { lr: 0.5, eps, previousSquareAvg: previous }));
      expect(worst(got, adadelta(previous)), `Adadelta previousSquareAvg ${previous}`).toBeLessThanOrEqual(4);
      expect(worst(got, adadelta(!previous)), `Adadelta previousSquareAvg ${previous} differs`).toBeGreaterThan(4);
    }
    for (const outside of [false, true]) {
      const got = run((p) => new Adamax(p, { lr: 0.1, betas: [0.9, 0.5], eps, epsOutsideMax: outside }));
      expect(worst(got, adamax(outside)), `Adamax epsOutsideMax ${outside}`).toBeLessThanOrEqual(4);
      expect(worst(got, adamax(!outside)), `Adamax epsOutsideMax ${outside} differs`).toBeGreaterThan(4);
    }
  });

  test.each([
    { weightDecay: 0, decoupledWeightDecay: false },
    { weightDecay: 0.05, decoupledWeightDecay: false },
    { weightDecay: 0.05, decoupledWeightDecay: true, momentumDecay: 0.01, lr: 0.01 },
  ])('NAdam %o follows the PyTorch 2.x formula', (options) => {
    activate();
    const { init, grads } = data(11);
    const param = init.slice();
    const opt = new NAdam([param], options);
    for (const g of grads) opt.step([g]);
    const ref = nadamReference(init, grads, {
      lr: options.lr ?? 2e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, wd: options.weightDecay,
      psi: options.momentumDecay ?? 4e-3, decoupled: options.decoupledWeightDecay,
    });
    const state = opt.state.get(param)!;
    expect(worst(param, ref.p)).toBeLessThanOrEqual(1);
    expect(worst(state.expAvg, ref.m)).toBeLessThanOrEqual(1);
    expect(worst(state.expAvgSq, ref.v)).toBeLessThanOrEqual(1);
    expect(Math.abs(state.muProduct - ref.muProduct)).toBeLessThan(1e-6);
    expect(state.step).toBe(STEPS);
    // The update really moved the params: a wrong formula cannot pass by doing nothing.
    expect(worst(param, Float64Array.from(init))).toBeGreaterThan(100);
  });

  test.each([
    { lr: 1e-3, weightDecay: 0 },
    { lr: 1e-3, weightDecay: 0.5, betas: [0.95, 0.98] as [number, number] },
  ])('Lion %o follows the paper', (options) => {
    activate();
    const { init, grads } = data(12);
    const param = init.slice();
    const opt = new Lion([param], options);
    for (const g of grads) opt.step([g]);
    const [beta1, beta2] = options.betas ?? [0.9, 0.99];
    const ref = lionReference(init, grads, { lr: options.lr, beta1, beta2, wd: options.weightDecay });
    expect(worst(param, ref.p)).toBeLessThanOrEqual(1);
    expect(worst(opt.state.get(param)!.expAvg, ref.m)).toBeLessThanOrEqual(1);
    expect(worst(param, Float64Array.from(init))).toBeGreaterThan(100);
  });
});
