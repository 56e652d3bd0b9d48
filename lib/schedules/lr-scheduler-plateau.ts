/**
 * ReduceLROnPlateau, as torch.optim.lr_scheduler computes it: the schedule driven by a metric.
 */
import {
  oneOf, perGroup, readOptimizerGroups, schedulerOptions, readStateObject, stateNumber, transact, type SchedulableOptimizer, type SchedulerStateDict,
} from './lr-scheduler.js';
import { describe, numberOption } from '../core/validate.js';

/**
 * Divides the lr by 1/factor when a metric has stopped improving for `patience` epochs. It
 * schedules the groups the optimizer had when it was built (as PyTorch, whose min_lrs are per
 * group).
 */
export class ReduceLROnPlateau {
  readonly optimizer: SchedulableOptimizer;
  lastEpoch = 0;
  best: number;
  numBadEpochs = 0;
  cooldownCounter = 0;
  private readonly groups: { lr: number; [key: string]: unknown }[];
  private readonly mode: 'min' | 'max';
  private readonly factor: number;
  private readonly patience: number;
  private readonly threshold: number;
  private readonly thresholdMode: 'rel' | 'abs';
  private readonly cooldown: number;
  private readonly minLrs: number[];
  private readonly eps: number;
  private lastLr: number[];

  /**
   * @param options - mode 'min' | 'max', factor 0.1 (< 1), patience 10, threshold 1e-4,
   *   thresholdMode 'rel' | 'abs', cooldown 0, minLr 0 (or one per group), eps 1e-8.
   */
  constructor(
    optimizer: SchedulableOptimizer,
    options: {
      mode?: 'min' | 'max'; factor?: number; patience?: number; threshold?: number; thresholdMode?: 'rel' | 'abs';
      cooldown?: number; minLr?: number | readonly number[]; eps?: number;
    } = {},
  ) {
    const w = 'ReduceLROnPlateau';
    const { groups, lrs } = readOptimizerGroups(w, optimizer);
    this.groups = groups;
    const o = schedulerOptions(w, options, ['mode', 'factor', 'patience', 'threshold', 'thresholdMode', 'cooldown', 'minLr', 'eps']);
    this.optimizer = optimizer;
    this.mode = oneOf(w, 'options.mode', o['mode'], ['min', 'max'] as const, 'min');
    this.factor = numberOption(w, 'options.factor', o['factor'], 0.1, { min: 0, below: 1 });
    this.patience = numberOption(w, 'options.patience', o['patience'], 10, { min: 0, integer: true });
    this.threshold = numberOption(w, 'options.threshold', o['threshold'], 1e-4, { min: 0 });
    this.thresholdMode = oneOf(w, 'options.thresholdMode', o['thresholdMode'], ['rel', 'abs'] as const, 'rel');
    this.cooldown = numberOption(w, 'options.cooldown', o['cooldown'], 0, { min: 0, integer: true });
    this.minLrs = perGroup(w, 'options.minLr', o['minLr'], this.groups.length, 0);
    this.eps = numberOption(w, 'options.eps', o['eps'], 1e-8, { min: 0 });
    this.best = this.mode === 'min' ? Infinity : -Infinity;
    this.lastLr = lrs;
  }

  private isBetter(a: number): boolean {
    if (this.mode === 'min') return this.thresholdMode === 'rel' ? a < this.best * (1 - this.threshold) : a < this.best - this.threshold;
    return this.thresholdMode === 'rel' ? a > this.best * (this.threshold + 1) : a > this.best + this.threshold;
  }

  private saveFields(): () => void {
    const { lastEpoch, best, numBadEpochs, cooldownCounter, lastLr } = this;
    return () => Object.assign(this, { lastEpoch, best, numBadEpochs, cooldownCounter, lastLr });
  }

  /**
   * Records this epoch's metric (a loss for mode 'min'), and lowers the lr when it stalls. A NaN
   * metric never counts as an improvement. All or nothing.
   */
  step(metric: number): void {
    if (typeof metric !== 'number') throw new TypeError(`ReduceLROnPlateau.step: metric must be a number, got ${describe(metric)}`);
    transact(this.groups, this.saveFields(), () => {
      this.lastEpoch++;
      if (this.isBetter(metric)) {
        this.best = metric;
        this.numBadEpochs = 0;
      } else {
        this.numBadEpochs++;
      }
      if (this.cooldownCounter > 0) {
        this.cooldownCounter--;
        this.numBadEpochs = 0;
      }
      if (this.numBadEpochs > this.patience) {
        this.groups.forEach((g, i) => {
          const lr = g.lr;
          const newLr = Math.max(lr * this.factor, this.minLrs[i]!);
          if (lr - newLr > this.eps) g.lr = newLr;
        });
        this.cooldownCounter = this.cooldown;
        this.numBadEpochs = 0;
      }
      this.lastLr = this.groups.map((g) => g.lr);
    });
  }

  /** The lr of each group after the last step. */
  getLastLr(): number[] {
    return [...this.lastLr];
  }

  /** The scheduler's counters as plain data. */
  stateDict(): SchedulerStateDict {
    return {
      scheduler: 'ReduceLROnPlateau', lastEpoch: this.lastEpoch, baseLrs: [], lastLr: [...this.lastLr],
      mode: this.mode, best: this.best, numBadEpochs: this.numBadEpochs, cooldownCounter: this.cooldownCounter,
    };
  }

  /** Restores the counters (read once and checked first; nothing changes when one is wrong). */
  loadStateDict(state: SchedulerStateDict): void {
    const w = 'ReduceLROnPlateau.loadStateDict';
    const copy = readStateObject(w, state);
    if (copy['scheduler'] !== 'ReduceLROnPlateau') throw new RangeError(`${w}: the state dict is of ${describe(copy['scheduler'])}, not ReduceLROnPlateau`);
    const lastEpoch = stateNumber(w, 'lastEpoch', copy['lastEpoch'], { min: 0, integer: true });
    const numBadEpochs = stateNumber(w, 'numBadEpochs', copy['numBadEpochs'], { min: 0, integer: true });
    const cooldownCounter = stateNumber(w, 'cooldownCounter', copy['cooldownCounter'], { min: 0, integer: true });
    const best = copy['best'];
    if (best === undefined) throw new RangeError(`${w}: best is missing`);
    if (typeof best !== 'number') throw new TypeError(`${w}: best must be a number, got ${describe(best)}`);
    if (Number.isNaN(best)) throw new RangeError(`${w}: best must not be NaN`);
    // A best loss is not a best accuracy: the state of a 'max' schedule is refused by a 'min' one.
    // (A state without mode, from before it was recorded, is taken as this scheduler's.)
    const mode = copy['mode'];
    if (mode !== undefined && mode !== this.mode) throw new RangeError(`${w}: the state is of mode ${describe(mode)}, this scheduler's is '${this.mode}'`);
    Object.assign(this, { lastEpoch, numBadEpochs, cooldownCounter, best });
    this.lastLr = this.groups.map((g) => g.lr);
  }
}
