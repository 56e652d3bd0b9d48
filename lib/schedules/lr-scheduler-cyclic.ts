/**
 * The schedules with phases or cycles: CosineAnnealingWarmRestarts, OneCycleLR, CyclicLR and
 * SequentialLR, as torch.optim.lr_scheduler computes them. OneCycleLR and
 * CyclicLR also cycle the momentum (betas[0] of the Adam family, momentum of SGD and RMSprop)
 * when cycleMomentum is true.
 */
import {
  LRScheduler, oneOf, perGroup, schedulerOptions, readStateObject, transact, type SchedulableOptimizer,
} from './lr-scheduler.js';
import { booleanOption, describe, numberOption, readArray } from '../core/validate.js';

type Group = { lr: number; initialLr?: number; betas?: readonly number[]; momentum?: number };

function momentumKind(where: string, groups: readonly Group[]): 'betas' | 'momentum' {
  const group = groups[0]!;
  if (Array.isArray(group.betas)) return 'betas';
  if (typeof group.momentum === 'number') return 'momentum';
  throw new RangeError(`${where}: options.cycleMomentum needs an optimizer with momentum or betas`);
}

function setMomentum(where: string, group: Group, kind: 'betas' | 'momentum', value: number): void {
  if (!(value >= 0) || !(kind === 'betas' ? value < 1 : value < Infinity)) {
    throw new RangeError(`${where}: the momentum would be ${value}, not a number in [0, ${kind === 'betas' ? '1)' : 'Infinity)'}`);
  }
  if (kind === 'momentum') {
    group.momentum = value;
    return;
  }
  const betas = group.betas;
  const beta2 = Array.isArray(betas) ? (betas as unknown[])[1] : undefined;
  if (typeof beta2 !== 'number') throw new TypeError(`${where}: the group's betas must be an array of two numbers, got ${describe(betas)}`);
  group.betas = Object.freeze([value, beta2]);
}


/** SGDR (Loshchilov & Hutter): cosine annealing restarted every t0, t0*tMult, t0*tMult^2, ... epochs. */
export class CosineAnnealingWarmRestarts extends LRScheduler {
  private readonly t0: number;
  private readonly tMult: number;
  private readonly etaMin: number;
  /** @param options - t0 (required, whole number >= 1), tMult 1 (whole number >= 1), etaMin 0. */
  constructor(optimizer: SchedulableOptimizer, options: { t0: number; tMult?: number; etaMin?: number }) {
    super('CosineAnnealingWarmRestarts', optimizer);
    const o = schedulerOptions(this.name, options, ['t0', 'tMult', 'etaMin']);
    if (o['t0'] === undefined) throw new TypeError(`${this.name}: options.t0 is required`);
    this.t0 = numberOption(this.name, 'options.t0', o['t0'], 1, { min: 1, integer: true });
    this.tMult = numberOption(this.name, 'options.tMult', o['tMult'], 1, { min: 1, integer: true });
    this.etaMin = numberOption(this.name, 'options.etaMin', o['etaMin'], 0, { min: 0 });
    this.initialStep();
  }
  protected lrAt(epoch: number, base: number): number {
    // PyTorch's T_cur and T_i for a whole epoch, without its float logarithm.
    let period = this.t0;
    let current = epoch;
    if (this.tMult === 1) {
      current = epoch % this.t0;
    } else {
      while (current >= period) {
        current -= period;
        period *= this.tMult;
      }
    }
    return this.etaMin + ((base - this.etaMin) * (1 + Math.cos((Math.PI * current) / period))) / 2;
  }
}

interface Phase {
  end: number;
  startLr: number[];
  endLr: number[];
  startMomentum: number;
  endMomentum: number;
}

/** The 1cycle policy (Smith & Topin): up from maxLr/divFactor to maxLr, then down to a minimum. */
export class OneCycleLR extends LRScheduler {
  readonly totalSteps: number;
  private readonly phases: Phase[];
  private readonly anneal: (start: number, end: number, pct: number) => number;
  private readonly momentumKind: 'betas' | 'momentum' | null;
  private momentumNow = 0;

  /**
   * @param options - maxLr (required, a number or one per group), totalSteps (or epochs and
   *   stepsPerEpoch), pctStart 0.3, annealStrategy 'cos' | 'linear', cycleMomentum true,
   *   baseMomentum 0.85, maxMomentum 0.95, divFactor 25, finalDivFactor 1e4, threePhase false.
   */
  constructor(
    optimizer: SchedulableOptimizer,
    options: {
      maxLr: number | readonly number[]; totalSteps?: number; epochs?: number; stepsPerEpoch?: number; pctStart?: number;
      annealStrategy?: 'cos' | 'linear'; cycleMomentum?: boolean; baseMomentum?: number; maxMomentum?: number;
      divFactor?: number; finalDivFactor?: number; threePhase?: boolean;
    },
  ) {
    super('OneCycleLR', optimizer);
    const w = this.name;
    const o = schedulerOptions(w, options, ['maxLr', 'totalSteps', 'epochs', 'stepsPerEpoch', 'pctStart', 'annealStrategy', 'cycleMomentum',
      'baseMomentum', 'maxMomentum', 'divFactor', 'finalDivFactor', 'threePhase']);
    const maxLr = perGroup(w, 'options.maxLr', o['maxLr'], this.groups.length);
    if (o['totalSteps'] !== undefined) {
      this.totalSteps = numberOption(w, 'options.totalSteps', o['totalSteps'], 1, { min: 1, integer: true });
    } else if (o['epochs'] !== undefined && o['stepsPerEpoch'] !== undefined) {
      this.totalSteps = numberOption(w, 'options.epochs', o['epochs'], 1, { min: 1, integer: true }) *
        numberOption(w, 'options.stepsPerEpoch', o['stepsPerEpoch'], 1, { min: 1, integer: true });
    } else {
      throw new TypeError(`${w}: options.totalSteps, or options.epochs and options.stepsPerEpoch, are required`);
    }
    const pctStart = numberOption(w, 'options.pctStart', o['pctStart'], 0.3, { min: 0, max: 1 });
    const strategy = oneOf(w, 'options.annealStrategy', o['annealStrategy'], ['cos', 'linear'] as const, 'cos');
    const divFactor = numberOption(w, 'options.divFactor', o['divFactor'], 25, { above: 0 });
    const finalDivFactor = numberOption(w, 'options.finalDivFactor', o['finalDivFactor'], 1e4, { above: 0 });
    const threePhase = booleanOption(w, 'options.threePhase', o['threePhase'], false);
    const cycleMomentum = booleanOption(w, 'options.cycleMomentum', o['cycleMomentum'], true);
    const baseMomentum = numberOption(w, 'options.baseMomentum', o['baseMomentum'], 0.85, { min: 0, below: 1 });
    const maxMomentum = numberOption(w, 'options.maxMomentum', o['maxMomentum'], 0.95, { min: 0, below: 1 });
    this.anneal = strategy === 'cos'
      ? (start, end, pct) => end + ((start - end) / 2) * (Math.cos(Math.PI * pct) + 1)
      : (start, end, pct) => (end - start) * pct + start;
    const initial = maxLr.map((m) => m / divFactor);
    const min = initial.map((i) => i / finalDivFactor);
    // A tiny divFactor (5e-324) makes the initial lr infinite, and the schedule NaN from there.
    initial.forEach((lr, i) => {
      if (!Number.isFinite(lr)) throw new RangeError(`${w}: options.maxLr / options.divFactor is ${lr} for group ${i}, not a finite lr (options.divFactor ${divFactor} is too small)`);
      if (!Number.isFinite(min[i]!)) throw new RangeError(`${w}: the final lr, options.maxLr / options.divFactor / options.finalDivFactor, is ${min[i]} for group ${i} (options.finalDivFactor ${finalDivFactor} is too small)`);
    });
    initial.forEach((lr, i) => (this.baseLrs[i] = lr));
    const total = this.totalSteps;
    this.phases = threePhase
      ? [
          { end: pctStart * total - 1, startLr: initial, endLr: maxLr, startMomentum: maxMomentum, endMomentum: baseMomentum },
          { end: 2 * pctStart * total - 2, startLr: maxLr, endLr: initial, startMomentum: baseMomentum, endMomentum: maxMomentum },
          { end: total - 1, startLr: initial, endLr: min, startMomentum: maxMomentum, endMomentum: maxMomentum },
        ]
      : [
          { end: pctStart * total - 1, startLr: initial, endLr: maxLr, startMomentum: maxMomentum, endMomentum: baseMomentum },
          { end: total - 1, startLr: maxLr, endLr: min, startMomentum: baseMomentum, endMomentum: maxMomentum },
        ];
    // PyTorch divides by a phase's length: one of no steps is a ZeroDivisionError there.
    this.phases.forEach((phase, i) => {
      if (phase.end === (i === 0 ? 0 : this.phases[i - 1]!.end)) {
        throw new RangeError(`${w}: options.pctStart ${pctStart} with ${total} steps gives phase ${i + 1} no steps`);
      }
    });
    this.momentumKind = cycleMomentum ? momentumKind(w, this.groups) : null;
    // As PyTorch: the schedule's own initial lr replaces the group's.
    this.initialStep(initial);
  }

  /** @throws RangeError past totalSteps steps, as PyTorch (nothing changes then). */
  override step(): void {
    if (this.lastEpoch + 1 > this.totalSteps) {
      throw new RangeError(`OneCycleLR: tried to step ${this.lastEpoch + 1} times; options.totalSteps is ${this.totalSteps}`);
    }
    super.step();
  }

  override apply(): void {
    super.apply();
    if (this.momentumKind) this.groups.forEach((g) => setMomentum(this.operation, g, this.momentumKind!, this.momentumNow));
  }

  protected lrAt(epoch: number, _base: number, group: number): number {
    let start = 0;
    for (let i = 0; i < this.phases.length; i++) {
      const phase = this.phases[i]!;
      if (epoch <= phase.end || i === this.phases.length - 1) {
        // Stepping to totalSteps (one past the last step, which PyTorch allows) would extrapolate
        // the last phase, to a negative lr with linear annealing: the final rate is held instead.
        const pct = Math.min(1, (epoch - start) / (phase.end - start));
        this.momentumNow = this.anneal(phase.startMomentum, phase.endMomentum, pct);
        return this.anneal(phase.startLr[group]!, phase.endLr[group]!, pct);
      }
      start = phase.end;
    }
    return this.baseLrs[group]!; // not reached: the last phase always matches
  }
}

/** Cyclical learning rates (Smith): triangular, triangular2 or exp_range cycles between baseLr and maxLr. */
export class CyclicLR extends LRScheduler {
  private readonly maxLrs: number[];
  private readonly totalSize: number;
  private readonly stepRatio: number;
  private readonly mode: 'triangular' | 'triangular2' | 'exp_range';
  private readonly gamma: number;
  private readonly momentumKind: 'betas' | 'momentum' | null;
  private readonly baseMomentum: number;
  private readonly maxMomentum: number;

  /**
   * @param options - baseLr and maxLr (required, a number or one per group), stepSizeUp 2000,
   *   stepSizeDown (stepSizeUp), mode 'triangular' | 'triangular2' | 'exp_range', gamma 1,
   *   cycleMomentum true, baseMomentum 0.8, maxMomentum 0.9.
   */
  constructor(
    optimizer: SchedulableOptimizer,
    options: {
      baseLr: number | readonly number[]; maxLr: number | readonly number[]; stepSizeUp?: number; stepSizeDown?: number;
      mode?: 'triangular' | 'triangular2' | 'exp_range'; gamma?: number; cycleMomentum?: boolean; baseMomentum?: number; maxMomentum?: number;
    },
  ) {
    super('CyclicLR', optimizer);
    const w = this.name;
    const o = schedulerOptions(w, options, ['baseLr', 'maxLr', 'stepSizeUp', 'stepSizeDown', 'mode', 'gamma', 'cycleMomentum', 'baseMomentum', 'maxMomentum']);
    const baseLr = perGroup(w, 'options.baseLr', o['baseLr'], this.groups.length);
    this.maxLrs = perGroup(w, 'options.maxLr', o['maxLr'], this.groups.length);
    const up = numberOption(w, 'options.stepSizeUp', o['stepSizeUp'], 2000, { above: 0 });
    const down = numberOption(w, 'options.stepSizeDown', o['stepSizeDown'], up, { above: 0 });
    this.totalSize = up + down;
    this.stepRatio = up / this.totalSize;
    this.mode = oneOf(w, 'options.mode', o['mode'], ['triangular', 'triangular2', 'exp_range'] as const, 'triangular');
    this.gamma = numberOption(w, 'options.gamma', o['gamma'], 1, { min: 0 });
    const cycleMomentum = booleanOption(w, 'options.cycleMomentum', o['cycleMomentum'], true);
    this.baseMomentum = numberOption(w, 'options.baseMomentum', o['baseMomentum'], 0.8, { min: 0, below: 1 });
    this.maxMomentum = numberOption(w, 'options.maxMomentum', o['maxMomentum'], 0.9, { min: 0, below: 1 });
    this.momentumKind = cycleMomentum ? momentumKind(w, this.groups) : null;
    baseLr.forEach((lr, i) => (this.baseLrs[i] = lr));
    this.initialStep(undefined, baseLr);
  }

  private position(epoch: number): { cycle: number; scaleFactor: number; scale: number } {
    const cycle = Math.floor(1 + epoch / this.totalSize);
    const x = 1 + epoch / this.totalSize - cycle;
    const scaleFactor = x <= this.stepRatio ? x / this.stepRatio : (x - 1) / (this.stepRatio - 1);
    const scale = this.mode === 'triangular' ? 1 : this.mode === 'triangular2' ? 1 / 2 ** (cycle - 1) : this.gamma ** epoch;
    return { cycle, scaleFactor, scale };
  }

  override apply(): void {
    super.apply();
    if (!this.momentumKind) return;
    const { scaleFactor, scale } = this.position(this.lastEpoch);
    const momentum = this.maxMomentum - (this.maxMomentum - this.baseMomentum) * scaleFactor * scale;
    this.groups.forEach((g) => setMomentum(this.operation, g, this.momentumKind!, momentum));
  }

  protected override rateSources(): readonly string[] {
    return ['options.gamma', 'options.baseLr', 'options.maxLr'];
  }
  protected lrAt(epoch: number, base: number, group: number): number {
    const { scaleFactor, scale } = this.position(epoch);
    return base + (this.maxLrs[group]! - base) * scaleFactor * scale;
  }
}

/** Runs schedulers one after the other: scheduler i from milestone i-1 on, restarted at its epoch 0. */
export class SequentialLR extends LRScheduler {
  private readonly schedulers: LRScheduler[];
  private readonly milestones: number[];

  /** @param options - schedulers (on this optimizer), milestones (one fewer, increasing whole numbers). */
  constructor(optimizer: SchedulableOptimizer, options: { schedulers: readonly LRScheduler[]; milestones: readonly number[] }) {
    super('SequentialLR', optimizer);
    const w = this.name;
    const o = schedulerOptions(w, options, ['schedulers', 'milestones']);
    const schedulers = readArray(w, 'options.schedulers', o['schedulers'], 'a non-empty array of schedulers');
    if (schedulers.length === 0 || !schedulers.every((s) => s instanceof LRScheduler)) {
      throw new TypeError(`${w}: options.schedulers must be a non-empty array of schedulers`);
    }
    (schedulers as LRScheduler[]).forEach((s, i) => {
      if (s.optimizer !== optimizer) throw new RangeError(`${w}: options.schedulers[${i}] belongs to another optimizer`);
    });
    const milestones = readArray(w, 'options.milestones', o['milestones'], 'an array of whole numbers');
    if (milestones.length !== schedulers.length - 1) {
      throw new RangeError(`${w}: options.milestones must have ${schedulers.length - 1} entries, one fewer than the schedulers`);
    }
    this.milestones = milestones.map((m: unknown, i) => numberOption(w, `options.milestones[${i}]`, m, 0, { min: 1, integer: true }));
    this.milestones.forEach((m, i) => {
      if (i > 0 && m <= this.milestones[i - 1]!) throw new RangeError(`${w}: options.milestones must increase`);
    });
    this.schedulers = schedulers as LRScheduler[];
    // As PyTorch: back to the initial rates, then only the first scheduler at its epoch 0.
    transact(this.groups, this.saveFields(), () => {
      this.groups.forEach((g, i) => (g.lr = typeof g.initialLr === 'number' ? g.initialLr : this.baseLrs[i]!));
      this.schedulers.forEach((s) => (s.lastEpoch = -1));
      this.lastEpoch = 0;
      this.activate(0, 0);
    });
    this.operation = `${w}.step`;
  }

  /** @internal */
  override saveFields(): () => void {
    const own = super.saveFields();
    const inner = (this.schedulers ?? []).map((s) => s.saveFields());
    return () => {
      own();
      inner.forEach((undo) => undo());
    };
  }

  private activate(index: number, epoch: number): void {
    const scheduler = this.schedulers[index]!;
    scheduler.lastEpoch = epoch;
    scheduler.apply();
    this.lastLr = scheduler.getLastLr();
  }

  override step(): void {
    transact(this.groups, this.saveFields(), () => {
      const epoch = this.lastEpoch + 1;
      const index = this.milestones.filter((m) => m <= epoch).length;
      const restart = index > 0 && this.milestones[index - 1] === epoch;
      this.activate(index, restart ? 0 : this.schedulers[index]!.lastEpoch + 1);
      this.lastEpoch = epoch;
    });
  }

  override apply(): void {
    const index = this.milestones.filter((m) => m <= this.lastEpoch).length;
    this.activate(index, this.schedulers[index]!.lastEpoch);
  }

  protected lrAt(): number {
    return 0; // not used: the active scheduler sets the rates
  }

  protected override extraState(): Record<string, unknown> {
    return { schedulers: this.schedulers.map((s) => s.stateDict()) };
  }

  protected override checkExtraState(where: string, state: Record<string, unknown>): unknown {
    const list = readArray(where, 'schedulers', state['schedulers']);
    if (list.length !== this.schedulers.length) throw new RangeError(`${where}: schedulers must have ${this.schedulers.length} entries, got ${list.length}`);
    // Each is checked by its scheduler when loaded (lastEpoch -1 allowed: one that has not run yet).
    return list.map((value, i) => readStateObject(`${where}: schedulers[${i}]`, value));
  }

  protected override loadExtraState(checked: unknown): void {
    (checked as Record<string, unknown>[]).forEach((s, i) => {
      try {
        this.schedulers[i]!.load(s, true);
      } catch (error) {
        const Kind = error instanceof TypeError ? TypeError : RangeError;
        throw new Kind(`${this.name}.loadStateDict: schedulers[${i}]: ${(error as Error).message}`, { cause: error });
      }
    });
  }
}
