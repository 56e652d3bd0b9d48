// Step plans (lib/optimizers/step-plan.ts): a step given the same gradient arrays as the step
// before runs from a plan, tensors lying end to end merged into one task. It must give the bits
// of a step without one, whatever changes between steps (values, options, which params have a
// gradient, groups, loaded state, the backend and level), and refuse what a full step refuses
// (detached or resized buffers) before anything is written. On each backend and native level.
import { describe, expect, test } from 'vitest';

import { Adadelta, Adagrad, Adam, Adamax, AdamW, Lion, NAdam, RAdam, RMSprop, SGD } from '../lib/index.js';
import { useBackend } from '../lib/bridge/backend.js';
import { availableIsas, backend } from '../lib/bridge/backend.js';
import { backendsUnderTest, describeBitDifference, normal, rng } from './helpers.js';

type Groups = { params: Float32Array[]; [option: string]: unknown }[];
type Optim = {
  step(grads: readonly (Float32Array | null)[]): boolean;
  stepAsync(grads: readonly (Float32Array | null)[]): Promise<boolean>;
  stateDict(): { state: Record<number, Record<string, unknown>> };
  loadStateDict(dict: unknown): void;
  addParamGroup(group: { params: Float32Array[] }): void;
  readonly paramGroups: readonly Record<string, unknown>[];
};
type Make = (groups: Groups, options?: Record<string, unknown>) => Optim;

// Options that use every state buffer and flag each optimizer has, so every slot is merged.
const MAKERS: [string, Make, Record<string, unknown>][] = [
  ['Adam', (g, o) => new Adam(g, { amsgrad: true, weightDecay: 0.1, ...o }), { amsgrad: false }],
  ['AdamW', (g, o) => new AdamW(g, o), { weightDecay: 0 }],
  ['Adagrad', (g, o) => new Adagrad(g, { initialAccumulatorValue: 0.1, lrDecay: 0.01, ...o }), { weightDecay: 0.2 }],
  ['RMSprop', (g, o) => new RMSprop(g, { centered: true, momentum: 0.5, ...o }), { centered: false }],
  ['SGD', (g, o) => new SGD(g, { lr: 0.1, momentum: 0.9, dampening: 0.5, ...o }), { nesterov: true, dampening: 0 }],
  ['SGD without momentum', (g, o) => new SGD(g, { lr: 0.1, ...o }), { momentum: 0.9 }],
  ['Adadelta', (g, o) => new Adadelta(g, o), { weightDecay: 0.1 }],
  ['Adamax', (g, o) => new Adamax(g, o), { maximize: true }],
  ['NAdam', (g, o) => new NAdam(g, o), { decoupledWeightDecay: true, weightDecay: 0.1 }],
  ['RAdam', (g, o) => new RAdam(g, o), { weightDecay: 0.1 }],
  ['Lion', (g, o) => new Lion(g, o), { maximize: true }],
];

const LENGTHS = [5, 16, 3, 33, 1, 8, 70000, 12];

/** Tensors of LENGTHS: views of one ArrayBuffer, end to end in order, or separate arrays. */
function tensors(values: Float32Array[], views: boolean): Float32Array[] {
  if (!views) return values.map((v) => v.slice());
  const buffer = new ArrayBuffer(4 * values.reduce((n, v) => n + v.length, 0));
  let offset = 0;
  return values.map((v) => {
    const view = new Float32Array(buffer, offset, v.length);
    view.set(v);
    offset += 4 * v.length;
    return view;
  });
}

/** Two groups: the first four params, and the rest with a smaller lr. */
const groupsOf = (params: Float32Array[]): Groups => [{ params: params.slice(0, 4) }, { params: params.slice(4), lr: 0.003 }];

const planOf = (opt: Optim) => (opt as unknown as { engine: { plan: { count: number; blockParams: unknown[] } | null } }).engine.plan;

function expectSame(label: string, a: readonly Float32Array[], b: readonly Float32Array[]): void {
  a.forEach((x, k) => expect(describeBitDifference(`${label} ${k}`, x, b[k]!)).toBeNull());
}

const stateBits = (opt: Optim) => JSON.stringify(opt.stateDict(), (_k, v) => (v instanceof Float32Array ? Array.from(new Uint32Array(v.slice().buffer)) : v));

describe.each(backendsUnderTest())('on $label', ({ activate }) => {
  describe.each(MAKERS)('%s', (name, make, change) => {
    const random = rng(name.length * 7 + 1);
    const init = LENGTHS.map((n) => normal(random, n));
    const gradSeries = Array.from({ length: 12 }, () => LENGTHS.map((n) => normal(random, n)));

    /**
     * Twelve steps: `reused` writes each step's values into the same gradient arrays (planned
     * from the third step on), the reference passes new arrays every step (never planned).
     * Between steps: an lr change, a param without a gradient, an option that changes a flag.
     */
    function run(views: boolean, edit: (opt: Optim, k: number) => void = () => {}) {
      activate();
      const planned = tensors(init, views), fresh = tensors(init, views);
      const a = make(groupsOf(planned)), b = make(groupsOf(fresh));
      const grads = tensors(gradSeries[0]!, views);
      const planCounts: (number | null)[] = [];
      gradSeries.forEach((series, k) => {
        grads.forEach((g, i) => g.set(series[i]!));
        const given = grads.map((g, i) => (k === 6 && i === 2 ? null : g));
        for (const opt of [a, b]) edit(opt, k);
        expect(a.step(given)).toBe(true);
        expect(b.step(given.map((g) => g && g.slice()))).toBe(true);
        expectSame(`step ${k + 1}: param`, planned, fresh);
        expect(stateBits(a)).toBe(stateBits(b));
        planCounts.push(planOf(a)?.count ?? null);
      });
      return planCounts;
    }

    test('the same bits as steps without a plan: views of one buffer, merged', () => {
      const counts = run(true, (opt, k) => {
        if (k === 4) (opt.paramGroups[1] as { lr: number }).lr = 0.01;
        if (k === 9) Object.assign(opt.paramGroups[0]!, change);
      });
      // Planned from the second step with the same arrays on; rebuilt after the step without
      // grads[2] and after the flag change. Views of one buffer merge within each group.
      expect(counts[2]).not.toBeNull();
      if (name === 'NAdam') expect(counts[3]).toBe(LENGTHS.length); // its scalars are per param (mu_product)
      else expect(counts[3]).toBeLessThan(LENGTHS.length);
    });

    test('the same bits as steps without a plan: separate arrays', () => {
      const counts = run(false, (opt, k) => {
        if (k === 3) Object.assign(opt.paramGroups[1]!, change);
      });
      expect(counts[2]).toBe(LENGTHS.length);
    });

    test('a detached or resized buffer under a plan is refused before anything is written', async () => {
      activate();
      const rab = new ArrayBuffer(4 * 20, { maxByteLength: 4 * 40 });
      const params = [...tensors(init.slice(0, 3), true), new Float32Array(rab, 0, 20).fill(0.5)];
      const grads = [...tensors(gradSeries[0]!.slice(0, 3), true), new Float32Array(20).fill(0.25)];
      const opt = make([{ params }]);
      for (let k = 0; k < 3; k++) opt.step(grads);
      expect(planOf(opt)).not.toBeNull();
      const before = params.map((p) => p.slice()), state = stateBits(opt);
      rab.resize(4 * 10);
      expect(() => opt.step(grads)).toThrow(/params\[3\] has 0 elements/);
      expectSame('param', params.slice(0, 3), before.slice(0, 3));
      expect(stateBits(opt)).toBe(state);
      rab.resize(4 * 20); // its last 10 elements are zeros now: the shrink dropped them
      opt.step(grads); // whole again: accepted
      opt.step(grads); // and planned again
      expect(planOf(opt)).not.toBeNull();
      // stepAsync under the plan refuses the resizable buffer as a full step does: it could shrink
      // under the other thread. Nothing changes.
      const planned = params.map((p) => p.slice()), plannedState = stateBits(opt);
      await expect(opt.stepAsync(grads)).rejects.toThrow(/params\[3\] is a view of a resizable ArrayBuffer/);
      expectSame('param', params, planned);
      expect(stateBits(opt)).toBe(plannedState);
      const detached = grads[1]!.buffer;
      structuredClone(detached, { transfer: [detached as ArrayBuffer] });
      const after = params.map((p) => p.slice());
      expect(() => opt.step(grads)).toThrow(/grads\[0\] has 0 elements/);
      expectSame('param', params, after);
    });

    test("the plan's own scalars detached (by code that reaches into the optimizer): a new plan, the same bits", () => {
      activate();
      const params = tensors(init, true), again = tensors(init, true);
      const grads = tensors(gradSeries[0]!, true);
      const a = make([{ params }]), b = make([{ params: again }]);
      for (let k = 0; k < 3; k++) a.step(grads), b.step(grads.map((g) => g.slice()));
      // The native plan keeps a pointer to the scalars it reads; a step must see their buffer gone.
      const scalars = (planOf(a) as unknown as { blockScalars: Float32Array }).blockScalars.buffer as ArrayBuffer;
      structuredClone(scalars, { transfer: [scalars] });
      for (let k = 0; k < 3; k++) a.step(grads), b.step(grads.map((g) => g.slice()));
      expectSame('param', params, again);
      expect(stateBits(a)).toBe(stateBits(b));
    });

    test('groups added and state loaded under a plan', () => {
      activate();
      const params = tensors(init, true), again = tensors(init, true);
      const grads = tensors(gradSeries[0]!, true);
      const extra = new Float32Array(9).fill(0.5), extraAgain = extra.slice(), extraGrad = new Float32Array(9).fill(0.125);
      const a = make([{ params }]), b = make([{ params: again }]);
      for (let k = 0; k < 3; k++) a.step(grads), b.step(grads.map((g) => g.slice()));
      a.addParamGroup({ params: [extra] });
      b.addParamGroup({ params: [extraAgain] });
      for (let k = 0; k < 3; k++) a.step([...grads, extraGrad]), b.step([...grads, extraGrad].map((g) => g.slice()));
      expectSame('param', [...params, extra], [...again, extraAgain]);
      // A loaded state replaces the buffers a plan was made with: the next steps must update the
      // loaded ones (a and b are at the same state: a stale plan would leave a's unchanged).
      const all = [...grads, extraGrad];
      a.loadStateDict(b.stateDict());
      for (let k = 0; k < 3; k++) a.step(all), b.step(all.map((g) => g.slice()));
      expect(stateBits(a)).toBe(stateBits(b));
    });

    test('stepAsync with a plan gives step()\'s bits', async () => {
      activate();
      const a = tensors(init, true), b = tensors(init, true);
      const grads = tensors(gradSeries[0]!, true);
      const async = make(groupsOf(a)), sync = make(groupsOf(b));
      for (let k = 0; k < 5; k++) {
        expect(await async.stepAsync(grads)).toBe(true);
        sync.step(grads.map((g) => g.slice()));
        expectSame(`step ${k + 1}`, a, b);
      }
      expect(planOf(async)).not.toBeNull();
    });

    test('skipNonFinite under a plan skips the whole step', () => {
      activate();
      const params = tensors(init, true);
      const grads = tensors(gradSeries[0]!, true);
      const opt = make(groupsOf(params), { skipNonFinite: true });
      for (let k = 0; k < 3; k++) opt.step(grads);
      expect(planOf(opt)).not.toBeNull();
      const before = params.map((p) => p.slice()), state = stateBits(opt);
      grads[6]![69999] = Number.NaN;
      expect(opt.step(grads)).toBe(false);
      expectSame('param', params, before);
      expect(stateBits(opt)).toBe(state);
    });
  });
});

describe.each(backendsUnderTest())('on $label, many small tensors', ({ activate }) => {
  // 600 tensors of 1 to 200 elements and one of 70,000: the threads take parts holding many
  // chunks, views merge, and the plan is used from the third step on.
  const random = rng(29);
  const lengths = [...Array.from({ length: 600 }, (_, i) => 1 + ((i * 37) % 200)), 70000];
  const init = lengths.map((n) => normal(random, n));
  const gradSeries = Array.from({ length: 5 }, () => lengths.map((n) => normal(random, n)));

  async function trained(make: Make, views: boolean, threads: number, mode: 'step' | 'stepAsync') {
    const params = tensors(init, views), grads = tensors(gradSeries[0]!, views);
    const opt = make(groupsOf(params), { threads });
    for (const series of gradSeries) {
      grads.forEach((g, i) => g.set(series[i]!));
      expect(mode === 'step' ? opt.step(grads) : await opt.stepAsync(grads)).toBe(true);
    }
    expect(planOf(opt)).not.toBeNull();
    return [...params, ...Object.values(opt.stateDict().state).flatMap((e) => Object.values(e).filter((v): v is Float32Array => v instanceof Float32Array))];
  }

  test.each(MAKERS)('%s: planned steps give the same bits with 1, 2 and 3 threads, step and stepAsync', async (_name, make) => {
    activate();
    for (const views of [true, false]) {
      const one = await trained(make, views, 1, 'step');
      for (const [threads, mode] of [[2, 'step'], [3, 'step'], [1, 'stepAsync'], [2, 'stepAsync']] as const) {
        const other = await trained(make, views, threads, mode);
        expect(other.map((a, i) => describeBitDifference(`${views ? 'views' : 'separate'} ${mode} ${threads} threads: array ${i}`, a, one[i]!)).filter(Boolean)).toEqual([]);
      }
    }
  });
});

describe.runIf(backend === 'native')('a plan across backends and levels', () => {
  test.each(MAKERS)('%s: a step on each level in turn gives the fallback\'s bits', (_name, make) => {
    const random = rng(3);
    const init = LENGTHS.map((n) => normal(random, n));
    const grads = LENGTHS.map((n) => normal(random, n));
    const a = tensors(init, true), b = tensors(init, true);
    const mixed = make(groupsOf(a)), reference = make(groupsOf(b));
    const levels = [...availableIsas().map((l) => () => useBackend('native', l)), () => useBackend('js')];
    for (let k = 0; k < 10; k++) {
      levels[k % levels.length]!();
      mixed.step(grads);
      useBackend('js');
      reference.step(grads.map((g) => g.slice()));
      expectSame(`step ${k + 1}`, a, b);
    }
    useBackend('native');
  });
});
