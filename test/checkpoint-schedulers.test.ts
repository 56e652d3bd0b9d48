// Checkpoints carry schedulers too: saveCheckpoint(path, opt, { schedulers }) and
// loadCheckpoint(path, opt, { schedulers }) resume the schedule exactly where it was, all or
// nothing; a scheduler state left in the file is not lost silently, and a scheduler built after a
// load starts from the group's first lr (initialLr travels with the optimizer's groups).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';

import {
  Adam, CosineAnnealingLR, ReduceLROnPlateau, StepLR, loadCheckpoint, loadCheckpointAsync, saveCheckpoint, saveCheckpointAsync,
} from '../lib/index.js';
import { backendsUnderTest, describeBitDifference, normal, rng } from './helpers.js';

const dir = mkdtempSync(path.join(tmpdir(), 'simd-optim-schedulers-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const json = (value: unknown) => JSON.stringify(value, (_k, v) => (v instanceof Float32Array ? Array.from(v) : v));

/** A model, its optimizer, a cosine schedule and a plateau schedule, as a training script builds them. */
function setup(init: Float32Array[]) {
  const params = init.map((p) => p.slice());
  const opt = new Adam([{ params: [params[0]!] }, { params: [params[1]!], lr: 0.01 }], { lr: 0.1 });
  const cosine = new CosineAnnealingLR(opt, { tMax: 10 });
  const plateau = new ReduceLROnPlateau(opt, { patience: 1, factor: 0.5 });
  return { params, opt, cosine, plateau };
}

/** One epoch: a step, the schedules, a loss that stalls (so the plateau schedule acts). */
function epoch(s: ReturnType<typeof setup>, grads: Float32Array[], k: number) {
  s.opt.step(grads);
  s.cosine.step();
  s.plateau.step(k < 3 ? 1 - k : 1);
}

describe.each(backendsUnderTest())('on $label', ({ activate, label }) => {
  const tag = label.replace('/', '-');

  test.each(['sync', 'async'])('resuming optimizer and schedulers gives the bits of a run without a break (%s)', async (mode) => {
    activate();
    const random = rng(1);
    const init = [normal(random, 20), normal(random, 5)];
    const grads = Array.from({ length: 8 }, () => init.map((p) => normal(random, p.length)));
    const straight = setup(init);
    grads.forEach((g, k) => epoch(straight, g, k));

    const first = setup(init);
    grads.slice(0, 4).forEach((g, k) => epoch(first, g, k));
    const file = path.join(dir, `resume-${tag}-${mode}.safetensors`);
    const resumed = setup(first.params); // a new process: the same model, freshly built
    if (mode === 'sync') {
      saveCheckpoint(file, first.opt, { schedulers: [first.cosine, first.plateau] });
      expect(loadCheckpoint(file, resumed.opt, { schedulers: [resumed.cosine, resumed.plateau] })).toEqual({ checksum: 'all', schedulers: 2 });
    } else {
      await saveCheckpointAsync(file, first.opt, { schedulers: [first.cosine, first.plateau] });
      await loadCheckpointAsync(file, resumed.opt, { schedulers: [resumed.cosine, resumed.plateau] });
    }
    grads.slice(4).forEach((g, k) => epoch(resumed, g, k + 4));
    resumed.params.forEach((p, k) => expect(describeBitDifference(`param ${k}`, p, straight.params[k]!)).toBeNull());
    expect(json(resumed.opt.stateDict())).toBe(json(straight.opt.stateDict()));
    expect(resumed.cosine.stateDict()).toEqual(straight.cosine.stateDict());
    expect(resumed.plateau.stateDict()).toEqual(straight.plateau.stateDict());
  });
});

describe('scheduler state in checkpoints', () => {
  function saved(name: string) {
    const random = rng(2);
    const init = [normal(random, 6), normal(random, 3)];
    const s = setup(init);
    for (let k = 0; k < 3; k++) epoch(s, init.map((p) => normal(random, p.length)), k);
    const file = path.join(dir, name);
    saveCheckpoint(file, s.opt, { schedulers: [s.cosine, s.plateau] });
    return { file, init, s };
  }

  test('a plateau schedule that has seen no metric (best = Infinity) round-trips', () => {
    const init = [new Float32Array(4), new Float32Array(2)];
    const s = setup(init);
    const file = path.join(dir, 'infinity.safetensors');
    saveCheckpoint(file, s.opt, { schedulers: [s.cosine, s.plateau] });
    const t = setup(init);
    t.plateau.step(5); // changes best, to see it restored
    loadCheckpoint(file, t.opt, { schedulers: [t.cosine, t.plateau] });
    expect(t.plateau.stateDict()).toEqual(s.plateau.stateDict());
    expect(t.plateau.best).toBe(Infinity);
  });

  test('a file whose scheduler state is not restored says so in a warning', async () => {
    const { file, init } = saved('warn.safetensors');
    const t = setup(init);
    const warnings: Error[] = [];
    const listener = (w: Error) => warnings.push(w);
    process.on('warning', listener);
    try {
      expect(loadCheckpoint(file, t.opt)).toEqual({ checksum: 'all', schedulers: 2 });
      await new Promise((resolve) => setImmediate(resolve));
    } finally {
      process.off('warning', listener);
    }
    expect(warnings.map((w) => (w as Error & { code?: string }).code)).toContain('SIMD_OPTIM_SCHEDULER_STATE_NOT_RESTORED');
  });

  test('schedulers that do not fit: nothing is restored, the optimizer included', () => {
    const { file, init } = saved('misfit.safetensors');
    const t = setup(init);
    t.opt.step(init.map((p) => new Float32Array(p.length).fill(0.1)));
    const before = [json(t.opt.stateDict()), t.cosine.stateDict(), t.plateau.stateDict(), t.opt.paramGroups.map((g) => g.lr)];
    const now = () => [json(t.opt.stateDict()), t.cosine.stateDict(), t.plateau.stateDict(), t.opt.paramGroups.map((g) => g.lr)];
    expect(() => loadCheckpoint(file, t.opt, { schedulers: [t.cosine] })).toThrow(/holds the state of 2 scheduler\(s\), options\.schedulers has 1/);
    expect(now()).toEqual(before);
    // The second in the wrong order: the first loads, the second does not; all is put back.
    const step = new StepLR(t.opt, { stepSize: 2 });
    const afterStep = [json(t.opt.stateDict()), t.cosine.stateDict(), t.plateau.stateDict(), t.opt.paramGroups.map((g) => g.lr)];
    expect(() => loadCheckpoint(file, t.opt, { schedulers: [t.cosine, step] })).toThrow(/options\.schedulers\[1\] does not fit .*'ReduceLROnPlateau', not StepLR/);
    expect(now()).toEqual(afterStep);
    expect(() => loadCheckpoint(file, t.opt, { schedulers: [t.cosine, {}] as never })).toThrow(/options\.schedulers\[1\] must be a scheduler/);
    expect(() => saveCheckpoint(file, t.opt, { schedulers: t.cosine } as never)).toThrow(/options\.schedulers must be an array/);
  });

  test('a load undone keeps the very arrays the caller holds, and buffers the options no longer use', () => {
    // Undoing by a state dict round trip would swap every state buffer for a copy (a caller's
    // reference to optimizer.state's exp_avg would go stale) and drop max_exp_avg_sq once amsgrad
    // is turned off.
    const { file, init } = saved('identity.safetensors');
    const t = setup(init);
    t.opt.paramGroups[0]!.amsgrad = true;
    t.opt.step(init.map((p) => new Float32Array(p.length).fill(0.1)));
    t.opt.paramGroups[0]!.amsgrad = false;
    const held = t.opt.state.get(t.params[0]!) as { expAvg: Float32Array; maxExpAvgSq?: Float32Array | null };
    const before = json(t.opt.stateDict());
    expect(before).toContain('max_exp_avg_sq');
    const step = new StepLR(t.opt, { stepSize: 2 });
    expect(() => loadCheckpoint(file, t.opt, { schedulers: [t.cosine, step] })).toThrow(/does not fit/);
    const after = t.opt.state.get(t.params[0]!) as typeof held;
    expect(after.expAvg).toBe(held.expAvg);
    expect(after.maxExpAvgSq).toBe(held.maxExpAvgSq);
    expect(json(t.opt.stateDict())).toBe(before);
    // Turned back on, amsgrad goes on from the kept maximum, as in PyTorch.
    t.opt.paramGroups[0]!.amsgrad = true;
    const copy = new Adam([{ params: [new Float32Array(6)] }, { params: [new Float32Array(3)], lr: 0.01 }], { lr: 0.1 });
    copy.loadStateDict(t.opt.stateDict());
    expect(json(copy.stateDict())).toBe(json(t.opt.stateDict()));
  });

  test('the optimizer\'s and schedulers\' stateDict and loadStateDict are each read once per call', () => {
    const { file, init } = saved('methods.safetensors');
    const t = setup(init);
    const reads: Record<string, number> = {};
    const counted = <T extends object>(target: T, label: string): T =>
      new Proxy(target, {
        get: (o, k, receiver) => {
          if (k === 'stateDict' || k === 'loadStateDict') reads[`${label}.${k}`] = (reads[`${label}.${k}`] ?? 0) + 1;
          return Reflect.get(o, k, receiver);
        },
      });
    const opt = counted(t.opt, 'opt'), cosine = counted(t.cosine, 'cosine'), plateau = counted(t.plateau, 'plateau');
    loadCheckpoint(file, opt, { schedulers: [cosine, plateau] });
    saveCheckpoint(path.join(dir, 'methods-again.safetensors'), opt, { schedulers: [cosine, plateau] });
    expect(reads).toEqual({
      'opt.stateDict': 2, 'opt.loadStateDict': 2,
      'cosine.stateDict': 2, 'cosine.loadStateDict': 2, 'plateau.stateDict': 2, 'plateau.loadStateDict': 2,
    });
  });

  test('a scheduler built after loading the optimizer alone starts from the first lr, not the loaded one', () => {
    const random = rng(3);
    const opt = new Adam([new Float32Array(4)], { lr: 0.1 });
    const sched = new StepLR(opt, { stepSize: 1, gamma: 0.5 });
    for (let k = 0; k < 3; k++) {
      opt.step([normal(random, 4)]);
      sched.step();
    }
    expect(opt.paramGroups[0]!.lr).toBeCloseTo(0.0125, 15);
    const file = path.join(dir, 'initial-lr.safetensors');
    saveCheckpoint(file, opt);
    const fresh = new Adam([new Float32Array(4)], { lr: 0.1 });
    loadCheckpoint(file, fresh);
    expect(fresh.paramGroups[0]!.lr).toBeCloseTo(0.0125, 15);
    const rebuilt = new StepLR(fresh, { stepSize: 1, gamma: 0.5 });
    expect(rebuilt.baseLrs).toEqual([0.1]); // PyTorch's initial_lr: the schedule's base, not 0.0125
  });
});
