// SWATS: its Adam phase is AdamW bit for bit; it follows a float64 transcription of the paper's
// Algorithm 1 (the same switch step, the same SGD rate); every backend, level and thread count
// gives the same bits, the projection's float64 sums included; its phase survives state dicts and
// checkpoints.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';

import { AdamW, SWATS, loadCheckpoint, saveCheckpoint, type SWATSOptions } from '../lib/index.js';
import { backend, nativeAddon, runReduce } from '../lib/bridge/backend.js';
import { ReduceId } from '../lib/bridge/kernels.js';
import { dotJs } from '../lib/optimizers/gradients.js';
import { backendsUnderTest, describeBitDifference, normal, rng, withFallback } from './helpers.js';

const f = Math.fround;

/** A least-squares problem, y = X w* + noise: its gradient in float64. */
function leastSquares(rows: number, columns: number, seed: number) {
  const random = rng(seed);
  const X = Array.from({ length: rows * columns }, () => 2 * random() - 1);
  const truth = Array.from({ length: columns }, () => 2 * random() - 1);
  const y = Array.from({ length: rows }, (_, i) => truth.reduce((s, w, j) => s + w * X[i * columns + j]!, 0) + 0.1 * (2 * random() - 1));
  return (w: ArrayLike<number>): number[] => {
    const g = new Array<number>(columns).fill(0);
    for (let i = 0; i < rows; i++) {
      let r = -y[i]!;
      for (let j = 0; j < columns; j++) r += w[j]! * X[i * columns + j]!;
      for (let j = 0; j < columns; j++) g[j] = g[j]! + (2 / rows) * r * X[i * columns + j]!;
    }
    return g;
  };
}

/** Algorithm 1 of Keskar & Socher (2017) in float64, line by line; Adam's eps placed as PyTorch's. */
function paperSwats(w0: readonly number[], grad: (w: number[]) => number[], o: { lr: number; beta1: number; beta2: number; eps: number; switchEps: number }, steps: number) {
  const n = w0.length, w = [...w0], m = new Array<number>(n).fill(0), a = new Array<number>(n).fill(0), v = new Array<number>(n).fill(0);
  let lambda = 0, phase: 'adam' | 'sgd' = 'adam', sgdLr = 0, switchStep = 0;
  const trajectory: number[][] = [];
  for (let k = 1; k <= steps; k++) {
    const g = grad(w);
    if (phase === 'sgd') {
      for (let i = 0; i < n; i++) {
        v[i] = o.beta1 * v[i]! + g[i]!;
        w[i] = w[i]! - (1 - o.beta1) * sgdLr * v[i]!;
      }
    } else {
      const p = new Array<number>(n);
      for (let i = 0; i < n; i++) {
        m[i] = o.beta1 * m[i]! + (1 - o.beta1) * g[i]!;
        a[i] = o.beta2 * a[i]! + (1 - o.beta2) * g[i]! ** 2;
        p[i] = -(o.lr / (1 - o.beta1 ** k)) * (m[i]! / (Math.sqrt(a[i]!) / Math.sqrt(1 - o.beta2 ** k) + o.eps));
        w[i] = w[i]! + p[i]!;
      }
      const pg = p.reduce((s, x, i) => s + x * g[i]!, 0);
      if (pg !== 0) {
        const gamma = p.reduce((s, x) => s + x * x, 0) / -pg;
        lambda = o.beta2 * lambda + (1 - o.beta2) * gamma;
        const corrected = lambda / (1 - o.beta2 ** k);
        if (k > 1 && corrected > 0 && Math.abs(corrected - gamma) < o.switchEps) {
          phase = 'sgd';
          sgdLr = corrected;
          switchStep = k;
          v.fill(0);
        }
      }
    }
    trajectory.push([...w]);
  }
  return { trajectory, sgdLr, switchStep };
}

/** Quadratic bowls with noise, one per param: gradients that make the estimate settle. */
function bowlGradients(params: readonly Float32Array[], seed: number) {
  const random = rng(seed);
  const curvature = params.map((p) => Float32Array.from({ length: p.length }, () => 0.5 + random()));
  return (step: number): Float32Array[] => {
    const noise = rng(seed * 1000 + step);
    return params.map((p, t) => Float32Array.from(p, (x, i) => f(curvature[t]![i]! * x + 0.01 * (noise() - 0.5))));
  };
}

describe('SWATS', () => {
  test('before its switch, each step is AdamW bit for bit (decay, maximize)', () => {
    for (const options of [{ weightDecay: 0.01 }, { maximize: true }, {}] as const) {
      const random = rng(3);
      const a = [normal(random, 70000), normal(random, 5)], b = a.map((p) => p.slice());
      const swats = new SWATS(a, { lr: 1e-2, switchEps: 0, ...options }); // |x| < 0 never holds: no switch
      const adamw = new AdamW(b, { lr: 1e-2, eps: 1e-9, weightDecay: 0, ...options });
      for (let k = 0; k < 20; k++) {
        const grads = a.map((p) => normal(random, p.length));
        swats.step(grads);
        adamw.step(grads);
      }
      expect(a.map((p, i) => describeBitDifference(`params[${i}] ${JSON.stringify(options)}`, p, b[i]!)).filter(Boolean)).toEqual([]);
      expect(swats.phases()).toEqual(['adam', 'adam']);
    }
  });

  test("follows a float64 transcription of the paper's Algorithm 1: the same switch step and SGD rate", () => {
    const grad = leastSquares(64, 8, 1); // switches at step 105, far from the threshold on either side
    const o = { lr: 3e-3, beta1: 0.9, beta2: 0.999, eps: 1e-9, switchEps: 1e-6 };
    const steps = 400;
    const paper = paperSwats(new Array<number>(8).fill(0), grad, o, steps);
    expect(paper.switchStep).toBeGreaterThan(1);
    expect(paper.switchStep).toBeLessThan(steps - 100);
    const w = new Float32Array(8);
    const opt = new SWATS([w], { lr: o.lr, betas: [o.beta1, o.beta2], eps: o.eps, switchEps: o.switchEps });
    let worst = 0;
    for (let k = 1; k <= steps; k++) {
      opt.step([Float32Array.from(grad(w))]);
      const want = paper.trajectory[k - 1]!;
      for (let i = 0; i < 8; i++) worst = Math.max(worst, Math.abs(w[i]! - want[i]!) / Math.max(1e-3, Math.abs(want[i]!)));
    }
    const state = opt.state.get(w)!;
    expect([state.phase, state.switchStep]).toEqual(['sgd', paper.switchStep]);
    expect(Math.abs(state.sgdLr - paper.sgdLr) / paper.sgdLr).toBeLessThan(1e-4);
    expect(state.switchLr).toBe(o.lr);
    expect(worst).toBeLessThan(1e-4);
  });

  test('options are checked, naming themselves', () => {
    const w = new Float32Array(2);
    expect(() => new SWATS([w], { switchEps: -1 })).toThrow(/options\.switchEps/);
    expect(() => new SWATS([w], { betas: [1, 0.9] as never })).toThrow(RangeError);
    expect(() => new SWATS([w], { foo: 1 } as SWATSOptions)).toThrow(/foo/);
  });

  test('after the switch, a schedule that scales lr scales the SGD step alike', () => {
    const w = Float32Array.of(1, -2), g = Float32Array.of(0.5, 0.25);
    const opt = new SWATS([w], { lr: 0.1, switchEps: 1e9 }); // switches at step 2
    opt.step([g]);
    opt.step([g]);
    const s = opt.state.get(w)!;
    expect([s.phase, s.switchStep, s.switchLr]).toEqual(['sgd', 2, 0.1]);
    expect(Array.from(s.momentumBuffer)).toEqual([0, 0]); // v = 0 at the switch
    opt.paramGroups[0]!.lr = 0.05;
    const before = w.slice();
    opt.step([g]);
    const negSgdLr = f(-(1 - 0.9) * s.sgdLr * (0.05 / 0.1));
    // v = 0 * beta1 + g; w = fma(v, negSgdLr, w), exact here in float64 then rounded once
    expect(Array.from(w)).toEqual(Array.from(before, (x, i) => f(x + g[i]! * negSgdLr)));
  });
});

describe.each(backendsUnderTest())('SWATS on $label', ({ activate }) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'swats-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const SIZES = [70000, 5, 33000, 1];

  function run(threads: number, steps: number, loadAt = -1) {
    const random = rng(9);
    const params = SIZES.map((n) => normal(random, n));
    const gradients = bowlGradients(params, 4);
    let opt = new SWATS(params, { lr: 2e-2, switchEps: 3e-5, weightDecay: 1e-3, threads });
    const switched: number[] = [];
    for (let k = 1; k <= steps; k++) {
      if (k === loadAt) {
        const file = path.join(dir, `at-${threads}.ckpt`);
        saveCheckpoint(file, opt);
        opt = new SWATS(params, { lr: 2e-2, switchEps: 3e-5, weightDecay: 1e-3, threads });
        loadCheckpoint(file, opt);
      }
      opt.step(gradients(k));
    }
    params.forEach((p) => switched.push(opt.state.get(p)!.switchStep));
    return { params, opt, switched, dict: opt.stateDict() };
  }

  test('the same bits as the fallback on 1 and 2 threads, the projection and switch included; a checkpoint carries the phase', () => {
    const reference = withFallback(() => run(1, 60));
    activate();
    // Some params switch and some do not, within these steps: both phases are covered.
    expect(reference.switched.some((k) => k > 0)).toBe(true);
    expect(reference.opt.phases()).toContain('sgd');
    for (const [threads, loadAt] of [[1, -1], [2, -1], [2, 40]] as const) {
      const got = run(threads, 60, loadAt);
      expect(got.switched).toEqual(reference.switched);
      expect(got.params.map((p, i) => describeBitDifference(`params[${i}] (${threads} threads)`, p, reference.params[i]!)).filter(Boolean)).toEqual([]);
      for (let i = 0; i < SIZES.length; i++) {
        const a = got.dict.state[i]!, b = reference.dict.state[i]!;
        expect([a['lr_estimate'], a['sgd_lr'], a['phase'], a['switch_step']]).toEqual([b['lr_estimate'], b['sgd_lr'], b['phase'], b['switch_step']]);
        expect(describeBitDifference(`momentum_buffer[${i}]`, a['momentum_buffer'] as Float32Array, b['momentum_buffer'] as Float32Array)).toBe(null);
      }
    }
  });

  test('the dot reduction: the fallback\'s bits for several pairs, across blocks, on 1 and 2 threads', () => {
    activate();
    const random = rng(21);
    const arrays = SIZES.flatMap((n) => [normal(random, n), normal(random, n)]);
    const lengths = arrays.map((a) => a.length);
    const want = dotJs(arrays, arrays.length, lengths);
    for (const threads of [1, 2]) expect(runReduce(ReduceId.Dot, dotJs, arrays, arrays.length, lengths, threads)).toBe(want);
    expect(runReduce(ReduceId.Dot, dotJs, arrays, 2, lengths)).toBe(dotJs(arrays, 2, lengths));
    if (backend === 'native') {
      expect(() => nativeAddon!.reduce(ReduceId.Dot, arrays, 3, 1)).toThrow(/in pairs/);
      expect(() => nativeAddon!.reduce(ReduceId.Dot, [arrays[0], arrays[2]], 2, 1)).toThrow(/differ in length/);
    }
  });

  // On the fallback stepAsync has finished before it returns: nothing can be detached mid-step.
  test.skipIf(backend !== 'native')('a gradient detached while stepAsync runs: the step settles, that param just gets no estimate', async () => {
    activate();
    const w = normal(rng(2), 1000), g = normal(rng(3), 1000);
    const opt = new SWATS([w], { lr: 1e-2, switchEps: 1e9 });
    opt.step([g.slice()]);
    const pending = opt.stepAsync([g]);
    structuredClone(g.buffer, { transfer: [g.buffer] }); // detaches g
    expect(await pending).toBe(true);
    const s = opt.state.get(w)!;
    expect([s.step, s.phase]).toEqual([2, 'adam']); // no estimate from step 2, so no switch yet
    opt.step([normal(rng(4), 1000)]);
    expect(opt.phases()).toEqual(['sgd']);
  });

  test('stepAsync gives the bits of step, the projection and switch included', async () => {
    activate();
    const random = rng(12);
    const a = SIZES.map((n) => normal(random, n)), b = a.map((p) => p.slice());
    const gradients = bowlGradients(a, 4);
    const sync = new SWATS(a, { lr: 2e-2, switchEps: 3e-5, threads: 2 }), later = new SWATS(b, { lr: 2e-2, switchEps: 3e-5, threads: 2 });
    for (let k = 1; k <= 40; k++) {
      const g = gradients(k);
      sync.step(g);
      expect(await later.stepAsync(g)).toBe(true);
    }
    expect(later.phases()).toEqual(sync.phases());
    expect(later.phases()).toContain('sgd');
    expect(a.map((p, i) => describeBitDifference(`params[${i}]`, p, b[i]!)).filter(Boolean)).toEqual([]);
  });

  test('a state dict taken after the switch loads into a new SWATS, which goes on as the first', () => {
    activate();
    const { params, opt } = run(1, 30);
    const copy = params.map((p) => p.slice());
    const twin = new SWATS(copy, { lr: 2e-2, switchEps: 3e-5, weightDecay: 1e-3 });
    twin.loadStateDict(opt.stateDict());
    expect(twin.phases()).toEqual(opt.phases());
    const gradients = bowlGradients(params, 8);
    for (let k = 1; k <= 10; k++) {
      const g = gradients(k);
      opt.step(g);
      twin.step(g);
    }
    expect(params.map((p, i) => describeBitDifference(`params[${i}]`, p, copy[i]!)).filter(Boolean)).toEqual([]);
    const bad = opt.stateDict();
    bad.state[0]!['phase'] = 2;
    expect(() => twin.loadStateDict(bad)).toThrow(/state\[0\]\.phase/);
  });
});
