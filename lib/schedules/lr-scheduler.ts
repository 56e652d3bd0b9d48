/**
 * Learning-rate schedules, as torch.optim.lr_scheduler: a scheduler wraps an optimizer and sets
 * each parameter group's lr; call `sched.step()` after `opt.step()`. Constructing one sets the
 * epoch-0 rate, as PyTorch does. Rates come from PyTorch's closed forms (its
 * _get_closed_form_lr), evaluated in float64 from the group's initial lr, so they do not drift.
 * Like PyTorch, the first scheduler on an optimizer records each group's lr as `initialLr` in the
 * group, and every scheduler takes its base rates from there.
 */
import { checkOptionsObject, describe, numberOption, readArray, type NumberRule } from '../core/validate.js';

/** What a scheduler needs of an optimizer: its parameter groups, each with an lr. */
export interface SchedulableOptimizer {
  readonly paramGroups: readonly { lr: number }[];
}

/** A scheduler's state as plain data. */
export interface SchedulerStateDict {
  scheduler: string;
  lastEpoch: number;
  baseLrs: number[];
  lastLr: number[];
  [key: string]: unknown;
}

type Group = { lr: number; initialLr?: number; [key: string]: unknown };

/** A number, or one per parameter group. @internal */
export function perGroup(where: string, name: string, value: unknown, groups: number, fallback?: number, rule = { min: 0 }): number[] {
  if (Array.isArray(value)) {
    const list = readArray(where, name, value);
    if (list.length !== groups) throw new RangeError(`${where}: ${name} has ${list.length} entries, the optimizer ${groups} groups`);
    return list.map((v, i) => {
      if (v === undefined) throw new TypeError(`${where}: ${name}[${i}] is missing`);
      return numberOption(where, `${name}[${i}]`, v, 0, rule);
    });
  }
  if (value === undefined && fallback === undefined) throw new TypeError(`${where}: ${name} is required`);
  return new Array<number>(groups).fill(numberOption(where, name, value, fallback ?? 0, rule));
}

/**
 * The optimizer's groups, read once, with each group's lr and initialLr read once too (a getter
 * runs once; what is checked is what is used): each group an object with a finite lr >= 0.
 * @internal
 */
export function readOptimizerGroups(where: string, optimizer: unknown): { groups: Group[]; lrs: number[]; initialLrs: unknown[] } {
  const groups = optimizer !== null && typeof optimizer === 'object' ? (optimizer as SchedulableOptimizer).paramGroups : undefined;
  if (!Array.isArray(groups) || groups.length === 0) {
    throw new TypeError(`${where}: optimizer must be an optimizer of this package (paramGroups with an lr each), got ${describe(optimizer)}`);
  }
  const list = readArray(where, 'optimizer.paramGroups', groups);
  const lrs: number[] = [], initialLrs: unknown[] = [];
  list.forEach((g, i) => {
    if (g === null || typeof g !== 'object') throw new TypeError(`${where}: optimizer.paramGroups[${i}] must be an object, got ${describe(g)}`);
    const lr: unknown = (g as Group).lr;
    if (typeof lr !== 'number') throw new TypeError(`${where}: optimizer.paramGroups[${i}].lr must be a number, got ${describe(lr)}`);
    if (!(lr >= 0) || !Number.isFinite(lr)) throw new RangeError(`${where}: optimizer.paramGroups[${i}].lr must be a finite number >= 0, got ${lr}`);
    lrs.push(lr);
    initialLrs.push((g as Group).initialLr);
  });
  return { groups: list as Group[], lrs, initialLrs };
}

/** A number a state dict must have: missing is a RangeError (a state without it is not this scheduler's). @internal */
export function stateNumber(where: string, name: string, value: unknown, rule: NumberRule): number {
  if (value === undefined) throw new RangeError(`${where}: ${name} is missing`);
  return numberOption(where, name, value, 0, rule);
}

/**
 * A rate a schedule computed: finite and >= 0, or a RangeError (the optimizer would refuse it at
 * its next step; the schedule says so where the rate comes from). A negative value within
 * rounding of 0 (LinearLR decaying to 0 computes -1e-18) is 0. @internal
 */
export function checkedRate(where: string, what: string, value: number, group: number, epoch: number, scale: number, sources: readonly string[] = []): number {
  if (value < 0 && value >= -(2 ** -40) * Math.abs(scale)) return 0;
  if (!(value >= 0) || value === Infinity) {
    const from = sources.length ? ` (computed from its initial lr ${scale} and ${sources.join(', ')})` : '';
    throw new RangeError(`${where}: the ${what} of group ${group} at epoch ${epoch} would be ${value}${from}, not a finite number >= 0`);
  }
  return value;
}

/** The group keys a scheduler writes, restored when one of its operations fails halfway. */
const WRITTEN_KEYS = ['lr', 'initialLr', 'betas', 'momentum'] as const;

/**
 * Runs `fn`; if it throws, puts back every group's lr, initialLr, betas and momentum as they
 * were, and calls `undo` (the scheduler's own fields), so the operation changed nothing. @internal
 */
export function transact<T>(groups: readonly Group[], undo: () => void, fn: () => T): T {
  const saved = groups.map((g) => WRITTEN_KEYS.map((key) => [key, Object.prototype.hasOwnProperty.call(g, key), g[key]] as const));
  try {
    return fn();
  } catch (error) {
    saved.forEach((entries, i) => {
      for (const [key, had, value] of entries) {
        const group = groups[i] as Record<string, unknown>;
        try {
          if (had) group[key] = value;
          else delete group[key];
        } catch {
          // A group that refuses its own old value: nothing better can be done.
        }
      }
    });
    undo();
    throw error;
  }
}

/** Base of the epoch-indexed schedulers. */
export abstract class LRScheduler {
  /** The optimizer whose groups' lr this scheduler sets. */
  readonly optimizer: SchedulableOptimizer;
  /** The number of `step` calls so far (0 right after construction, as in PyTorch). */
  lastEpoch = -1;
  /** Each group's initial lr. */
  readonly baseLrs: number[];
  protected lastLr: number[] = [];
  protected readonly groups: Group[];
  /** What is running, for error messages: 'StepLR' while constructing, then 'StepLR.step', ... */
  protected operation: string;

  protected constructor(protected readonly name: string, optimizer: SchedulableOptimizer) {
    const { groups, lrs, initialLrs } = readOptimizerGroups(name, optimizer);
    this.groups = groups;
    this.optimizer = optimizer;
    this.operation = name;
    // As PyTorch, the first scheduler records each group's lr as initialLr (in initialStep, once
    // the subclass has checked its options) and every scheduler starts from there.
    this.baseLrs = lrs.map((lr, i) => {
      const initial = initialLrs[i];
      return typeof initial === 'number' && Number.isFinite(initial) ? initial : lr;
    });
  }

  /**
   * Subclasses call this at the end of their constructors: records initialLr in the groups
   * (`initialLrs` replaces it, `lrs` sets the groups' lr first, for OneCycleLR and CyclicLR) and
   * takes PyTorch's initial step to epoch 0. A failure leaves the optimizer as it was.
   */
  protected initialStep(initialLrs?: readonly number[], lrs?: readonly number[]): void {
    transact(this.groups, () => (this.lastEpoch = -1), () => {
      this.groups.forEach((g, i) => {
        if (lrs) g.lr = lrs[i]!;
        if (initialLrs) g.initialLr = initialLrs[i]!;
        else if (typeof g.initialLr !== 'number') g.initialLr = this.baseLrs[i]!;
      });
      this.lastEpoch++;
      this.apply();
    });
    this.operation = `${this.name}.step`;
  }

  /** The scheduler's own fields, to put back when an operation fails (see transact). @internal */
  saveFields(): () => void {
    const lastEpoch = this.lastEpoch, baseLrs = [...this.baseLrs], lastLr = [...this.lastLr];
    return () => {
      this.lastEpoch = lastEpoch;
      baseLrs.forEach((b, i) => (this.baseLrs[i] = b));
      this.lastLr = lastLr;
    };
  }

  /**
   * Moves to the next epoch (or iteration) and sets every group's lr. If a rate cannot be computed
   * (LambdaLR's function returning NaN) or set, it throws, and nothing has changed.
   */
  step(): void {
    transact(this.groups, this.saveFields(), () => {
      this.lastEpoch++;
      this.apply();
    });
  }

  /** Sets the groups' lr (and momentum, for the cyclic schedules) for lastEpoch. @internal */
  apply(): void {
    const sources = this.rateSources();
    const next = this.baseLrs.map((base, i) => checkedRate(this.operation, 'lr', this.lrAt(this.lastEpoch, base, i), i, this.lastEpoch, base, sources));
    next.forEach((lr, i) => (this.groups[i]!.lr = lr));
    this.lastLr = next;
  }

  /**
   * The options a rate is computed from, named when a rate comes out infinite or NaN (a gamma
   * above 1 overflowing), so the error points at what the user gave.
   */
  protected rateSources(): readonly string[] {
    return [];
  }

  /** The lr of group i at `epoch`: PyTorch's closed form. */
  protected abstract lrAt(epoch: number, baseLr: number, group: number): number;

  /** The lr this scheduler last set, per group. */
  getLastLr(): number[] {
    return [...this.lastLr];
  }

  /** The scheduler's state as plain data (without the optimizer, or functions). */
  stateDict(): SchedulerStateDict {
    return { scheduler: this.name, lastEpoch: this.lastEpoch, baseLrs: [...this.baseLrs], lastLr: [...this.lastLr], ...this.extraState() };
  }

  /**
   * Restores a state from stateDict (read once into a copy and checked first: the kind, the number
   * of groups, the numbers). Sets the groups' lr to the restored epoch's. All or nothing.
   */
  loadStateDict(state: SchedulerStateDict): void {
    this.load(state, false);
  }

  /** loadStateDict; `unstarted` allows lastEpoch -1 (SequentialLR's schedulers not yet run). @internal */
  load(state: unknown, unstarted: boolean): void {
    const where = `${this.name}.loadStateDict`;
    const copy = readStateObject(where, state);
    if (copy['scheduler'] !== this.name) throw new RangeError(`${where}: the state dict is of ${describe(copy['scheduler'])}, not ${this.name}`);
    // -1: a scheduler that has not taken its first step (SequentialLR's later schedulers).
    const lastEpoch = stateNumber(where, 'lastEpoch', copy['lastEpoch'], { min: unstarted ? -1 : 0, integer: true });
    if (!Array.isArray(copy['baseLrs'])) throw new TypeError(`${where}: baseLrs must be an array, got ${describe(copy['baseLrs'])}`);
    const baseLrs = perGroup(where, 'baseLrs', copy['baseLrs'], this.groups.length);
    const extra = this.checkExtraState(where, copy);
    const operation = this.operation;
    this.operation = where;
    try {
      transact(this.groups, this.saveFields(), () => {
        this.lastEpoch = lastEpoch;
        baseLrs.forEach((b, i) => (this.baseLrs[i] = b));
        this.loadExtraState(extra);
        if (lastEpoch >= 0) this.apply();
        else this.lastLr = [...this.baseLrs];
      });
    } finally {
      this.operation = operation;
    }
  }

  /** More state for stateDict (SequentialLR's schedulers). */
  protected extraState(): Record<string, unknown> {
    return {};
  }

  /** Checks the extra state of a copied state dict; returns what loadExtraState installs. */
  protected checkExtraState(_where: string, _state: Record<string, unknown>): unknown {
    return undefined;
  }

  /** Installs what checkExtraState returned; may throw (then everything is put back). */
  protected loadExtraState(_checked: unknown): void {}
}

/** A state dict's own enumerable properties, each read once. @internal */
export function readStateObject(where: string, state: unknown): Record<string, unknown> {
  if (state === null || typeof state !== 'object' || Array.isArray(state)) {
    throw new TypeError(`${where}: the state dict must be an object, got ${describe(state)}`);
  }
  const copy = Object.create(null) as Record<string, unknown>; // "__proto__" is a key, not a prototype
  for (const key of Object.keys(state)) copy[key] = (state as Record<string, unknown>)[key];
  return copy;
}

/** One of the allowed strings; `fallback` when undefined. @internal */
export function oneOf<T extends string>(where: string, name: string, value: unknown, allowed: readonly T[], fallback: T): T {
  if (value === undefined) return fallback;
  if (!allowed.includes(value as T)) throw new RangeError(`${where}: ${name} must be one of ${allowed.map((a) => `'${a}'`).join(', ')}, got ${describe(value)}`);
  return value as T;
}

/** The options object of a scheduler: known names only. @internal */
export function schedulerOptions(where: string, value: unknown, known: readonly string[]): Record<string, unknown> {
  return checkOptionsObject(where, 'options', value, known);
}

/** lr = base * gamma^floor(epoch / stepSize). */
export class StepLR extends LRScheduler {
  private readonly stepSize: number;
  private readonly gamma: number;
  /** @param options - stepSize (required, a whole number >= 1), gamma 0.1. */
  constructor(optimizer: SchedulableOptimizer, options: { stepSize: number; gamma?: number }) {
    super('StepLR', optimizer);
    const o = schedulerOptions(this.name, options, ['stepSize', 'gamma']);
    if (o['stepSize'] === undefined) throw new TypeError('StepLR: options.stepSize is required');
    this.stepSize = numberOption(this.name, 'options.stepSize', o['stepSize'], 1, { min: 1, integer: true });
    this.gamma = numberOption(this.name, 'options.gamma', o['gamma'], 0.1, { min: 0 });
    this.initialStep();
  }
  protected override rateSources(): readonly string[] {
    return ['options.gamma'];
  }
  protected lrAt(epoch: number, base: number): number {
    return base * this.gamma ** Math.floor(epoch / this.stepSize);
  }
}

/** lr = base * gamma^(number of milestones <= epoch). */
export class MultiStepLR extends LRScheduler {
  private readonly milestones: number[];
  private readonly gamma: number;
  /** @param options - milestones (required, whole numbers; a repeated one counts twice), gamma 0.1. */
  constructor(optimizer: SchedulableOptimizer, options: { milestones: readonly number[]; gamma?: number }) {
    super('MultiStepLR', optimizer);
    const o = schedulerOptions(this.name, options, ['milestones', 'gamma']);
    this.milestones = readArray(this.name, 'options.milestones', o['milestones'], 'an array of whole numbers')
      .map((m, i) => numberOption(this.name, `options.milestones[${i}]`, m, 0, { min: 0, integer: true }))
      .sort((a, b) => a - b);
    this.gamma = numberOption(this.name, 'options.gamma', o['gamma'], 0.1, { min: 0 });
    this.initialStep();
  }
  protected override rateSources(): readonly string[] {
    return ['options.gamma', 'options.milestones'];
  }
  protected lrAt(epoch: number, base: number): number {
    return base * this.gamma ** this.milestones.filter((m) => m <= epoch).length;
  }
}

/** lr = base * gamma^epoch. */
export class ExponentialLR extends LRScheduler {
  private readonly gamma: number;
  /** @param options - gamma (required). */
  constructor(optimizer: SchedulableOptimizer, options: { gamma: number }) {
    super('ExponentialLR', optimizer);
    const o = schedulerOptions(this.name, options, ['gamma']);
    if (o['gamma'] === undefined) throw new TypeError('ExponentialLR: options.gamma is required');
    this.gamma = numberOption(this.name, 'options.gamma', o['gamma'], 1, { min: 0 });
    this.initialStep();
  }
  protected override rateSources(): readonly string[] {
    return ['options.gamma'];
  }
  protected lrAt(epoch: number, base: number): number {
    return base * this.gamma ** epoch;
  }
}

/** lr = base * factor until totalIters, then base. */
export class ConstantLR extends LRScheduler {
  private readonly factor: number;
  private readonly totalIters: number;
  /** @param options - factor 1/3 (in [0, 1]), totalIters 5. */
  constructor(optimizer: SchedulableOptimizer, options: { factor?: number; totalIters?: number } = {}) {
    super('ConstantLR', optimizer);
    const o = schedulerOptions(this.name, options, ['factor', 'totalIters']);
    this.factor = numberOption(this.name, 'options.factor', o['factor'], 1 / 3, { min: 0, max: 1 });
    this.totalIters = numberOption(this.name, 'options.totalIters', o['totalIters'], 5, { min: 0, integer: true });
    this.initialStep();
  }
  protected lrAt(epoch: number, base: number): number {
    return base * (this.factor + (epoch >= this.totalIters ? 1 : 0) * (1 - this.factor));
  }
}

/** Linear warm-up (or decay): lr = base * (start + (end - start) * min(epoch, totalIters) / totalIters). */
export class LinearLR extends LRScheduler {
  private readonly startFactor: number;
  private readonly endFactor: number;
  private readonly totalIters: number;
  /** @param options - startFactor 1/3 (in (0, 1]), endFactor 1 (in [0, 1]), totalIters 5. */
  constructor(optimizer: SchedulableOptimizer, options: { startFactor?: number; endFactor?: number; totalIters?: number } = {}) {
    super('LinearLR', optimizer);
    const o = schedulerOptions(this.name, options, ['startFactor', 'endFactor', 'totalIters']);
    this.startFactor = numberOption(this.name, 'options.startFactor', o['startFactor'], 1 / 3, { above: 0, max: 1 });
    this.endFactor = numberOption(this.name, 'options.endFactor', o['endFactor'], 1, { min: 0, max: 1 });
    this.totalIters = numberOption(this.name, 'options.totalIters', o['totalIters'], 5, { min: 1, integer: true });
    this.initialStep();
  }
  protected lrAt(epoch: number, base: number): number {
    return base * (this.startFactor + ((this.endFactor - this.startFactor) * Math.min(this.totalIters, epoch)) / this.totalIters);
  }
}

/** lr = base * (1 - min(epoch, totalIters) / totalIters)^power. */
export class PolynomialLR extends LRScheduler {
  private readonly totalIters: number;
  private readonly power: number;
  /** @param options - totalIters 5, power 1. */
  constructor(optimizer: SchedulableOptimizer, options: { totalIters?: number; power?: number } = {}) {
    super('PolynomialLR', optimizer);
    const o = schedulerOptions(this.name, options, ['totalIters', 'power']);
    this.totalIters = numberOption(this.name, 'options.totalIters', o['totalIters'], 5, { min: 1, integer: true });
    this.power = numberOption(this.name, 'options.power', o['power'], 1, { min: 0 });
    this.initialStep();
  }
  protected lrAt(epoch: number, base: number): number {
    return base * (1 - Math.min(this.totalIters, epoch) / this.totalIters) ** this.power;
  }
}

/** lr = etaMin + (base - etaMin) (1 + cos(pi epoch / tMax)) / 2. */
export class CosineAnnealingLR extends LRScheduler {
  private readonly tMax: number;
  private readonly etaMin: number;
  /** @param options - tMax (required, >= 1), etaMin 0. */
  constructor(optimizer: SchedulableOptimizer, options: { tMax: number; etaMin?: number }) {
    super('CosineAnnealingLR', optimizer);
    const o = schedulerOptions(this.name, options, ['tMax', 'etaMin']);
    if (o['tMax'] === undefined) throw new TypeError('CosineAnnealingLR: options.tMax is required');
    this.tMax = numberOption(this.name, 'options.tMax', o['tMax'], 1, { above: 0 });
    this.etaMin = numberOption(this.name, 'options.etaMin', o['etaMin'], 0, { min: 0 });
    this.initialStep();
  }
  protected lrAt(epoch: number, base: number): number {
    return this.etaMin + ((base - this.etaMin) * (1 + Math.cos((Math.PI * epoch) / this.tMax))) / 2;
  }
}

/** lr = base * lrLambda(epoch), one function for all groups or one per group. */
export class LambdaLR extends LRScheduler {
  private readonly lambdas: ((epoch: number) => number)[];
  private readonly onePerGroup: boolean;
  /** @param options - lrLambda (required): a function of the epoch, or one per group. */
  constructor(optimizer: SchedulableOptimizer, options: { lrLambda: ((epoch: number) => number) | readonly ((epoch: number) => number)[] }) {
    super('LambdaLR', optimizer);
    const o = schedulerOptions(this.name, options, ['lrLambda']);
    const given = o['lrLambda'];
    const list = Array.isArray(given) ? readArray(this.name, 'options.lrLambda', given) : new Array<unknown>(this.groups.length).fill(given);
    if (!list.every((fn) => typeof fn === 'function')) {
      throw new TypeError(`LambdaLR: options.lrLambda must be a function or one function per group (${this.groups.length})`);
    }
    if (list.length !== this.groups.length) {
      throw new RangeError(`LambdaLR: options.lrLambda has ${list.length} functions, the optimizer ${this.groups.length} groups`);
    }
    this.lambdas = list as ((epoch: number) => number)[];
    this.onePerGroup = Array.isArray(given);
    this.initialStep();
  }
  protected lrAt(epoch: number, base: number, group: number): number {
    const factor = this.lambdas[group]!(epoch);
    if (typeof factor !== 'number' || !Number.isFinite(factor) || factor < 0) {
      throw new RangeError(`LambdaLR: lrLambda${this.onePerGroup ? `[${group}]` : ''}(${epoch}) returned ${describe(factor)}, not a finite number >= 0`);
    }
    return base * factor;
  }
}

/** The lecture notes' 1/t decay: lr = base / (1 + k epoch). */
export class InverseTimeLR extends LRScheduler {
  private readonly k: number;
  /** @param options - k (required, >= 0): the decay rate. */
  constructor(optimizer: SchedulableOptimizer, options: { k: number }) {
    super('InverseTimeLR', optimizer);
    const o = schedulerOptions(this.name, options, ['k']);
    if (o['k'] === undefined) throw new TypeError('InverseTimeLR: options.k is required');
    this.k = numberOption(this.name, 'options.k', o['k'], 0, { min: 0 });
    this.initialStep();
  }
  protected lrAt(epoch: number, base: number): number {
    return base / (1 + this.k * epoch);
  }
}

/** lr = base / sqrt(epoch + 1). */
export class InverseSqrtLR extends LRScheduler {
  constructor(optimizer: SchedulableOptimizer, options: Record<string, never> = {}) {
    super('InverseSqrtLR', optimizer);
    schedulerOptions(this.name, options, []);
    this.initialStep();
  }
  protected lrAt(epoch: number, base: number): number {
    return base / Math.sqrt(epoch + 1);
  }
}
