/**
 * What every optimizer shares: parameter groups, lazily created state, validation of gradients and
 * hyperparameters, one kernel call per step for all tensors with a gradient, and state dicts.
 *
 * Every operation is all or nothing. A step first reads its inputs, each once (the gradient list
 * and every group's options, where a caller's getters and Proxies run), then validates what it
 * read and the arrays it will touch (params and state buffers must still have the lengths they
 * had: a detached or resized buffer is refused), and only then runs the kernel; state created for
 * the step is attached to the optimizer after the kernel has succeeded.
 * @internal
 */
import { runKernel, runKernelAsync, runPlanned, threadsFor } from '../bridge/backend.js';
import { allFinite } from './gradients.js';
import { realBuffer, realByteOffset, realLength } from '../core/intrinsics.js';
import { checkGradients, readGradients, refuseShrinkable, type ParamLayout } from './step-inputs.js';
import type { KernelFn, KernelId, Slot } from '../bridge/kernels.js';
import { newSnapshot, readGroup, resolveOptions } from '../core/options.js';
import { gatherNewState, stateEntries, type BufferUse, type OptimizerDefinition, type StateRecord } from './optimizer-state.js';
import { assignGroupValues, checkStateDict, groupDictValues, groupValues, type OptimizerStateDict } from './state-dict.js';
import { checkNewGroups, readGroupInit, type GroupInit } from './param-groups.js';
import { booleanOption, busyError, readArray, threadsOption } from '../core/validate.js';
import { fillTaskScalars, makePlan, planIntact, type StepPlan } from './step-plan.js';
import { makeGroupObject, type GroupGuard } from './group-object.js';

export { ALL_REQUIRED, type BufferUse, type OptimizerDefinition, type StateRecord } from './optimizer-state.js';

/** The kernel an optimizer runs and the shape of its arguments. */
export interface KernelSpec {
  readonly id: KernelId;
  readonly js: KernelFn;
  readonly slots: number;
  readonly scalars: number;
}

/** Gradients for one step, in the order of `params`; null or undefined skips that param. */
export type Gradients = readonly (Float32Array | null | undefined)[];

/** A parameter group: its params and its hyperparameters, which may be changed between steps. */
export type ParamGroup<O extends object> = { readonly params: readonly Float32Array[] } & Required<O>;

/** A parameter group as given to a constructor: params plus the options that differ from the defaults. */
export type ParamGroupInit<O extends object> = { params: readonly Float32Array[] } & O;

/** Options every optimizer takes besides its hyperparameters. */
export interface StepOptions {
  /**
   * Check every gradient for NaN and infinity before a step and skip the whole step (no param,
   * state or step count changes) when one is found; `step` then returns false. Default false.
   */
  skipNonFinite?: boolean;
  /**
   * How many threads a step may split its work over (all its tensors together, and the
   * non-finite check): a whole number >= 1, or 'auto' (the default): one thread per 131,072
   * elements of the step, at most os.availableParallelism() (one less for stepAsync, which leaves
   * a core to the event loop). The threads are a native pool shared
   * by every optimizer of the process; the result is the same bits for every count. The fallback
   * runs on the calling thread.
   */
  threads?: number | 'auto';
}

const EMPTY: readonly Float32Array[] = Object.freeze([]);

/**
 * The method that records an optimizer's whole state by reference and returns a function putting
 * it back: what loadCheckpoint uses to undo a load when a scheduler's state then does not fit. A
 * state dict round trip would copy every buffer and break the identity of the arrays a caller holds
 * (`optimizer.state`). @internal
 */
export const captureState = Symbol('simd-optim.captureState');

export abstract class Optimizer<O extends object, State extends object> {
  /** The defaults the groups started from. */
  readonly defaults: Readonly<Required<O>>;
  /** Whether `step` checks the gradients for NaN and infinity first (see StepOptions). */
  readonly skipNonFinite: boolean;
  /** How many threads a step may use (see StepOptions.threads). */
  readonly threads: number | 'auto';
  /** 'Adam.step', made once: a step builds no strings unless it throws. */
  private readonly stepLabel: string;

  // Groups and params, as given; the public arrays are frozen copies, rebuilt when a group is added.
  private groups: ParamGroup<O>[] = [];
  private publicGroups: readonly ParamGroup<O>[] = Object.freeze([]);
  private flat: Float32Array[] = [];
  private publicParams: readonly Float32Array[] = EMPTY;
  /** Each param's length when it was given: a step refuses a param or state buffer that lost it. */
  private lengths: number[] = [];
  private groupOf: number[] = [];
  private records: (StateRecord | undefined)[] = [];
  /** The params in each buffer (for the grads' overlap check), and the param owning each state buffer. */
  private paramsByBuffer = new Map<ArrayBufferLike, number[]>();
  private stateOwner = new Map<ArrayBufferLike, number>();
  /** What the gradients are checked against: the same arrays and maps, which change in place. */
  private readonly layout: ParamLayout = {
    params: this.flat, lengths: this.lengths, paramsByBuffer: this.paramsByBuffer, stateOwner: this.stateOwner,
    stateOverlapping: (buffer, begin, end) => {
      const i = this.records.findIndex((r) => r?.buffers.some((b) => b !== null && realBuffer(b) === buffer &&
        realByteOffset(b) < end && begin < realByteOffset(b) + 4 * realLength(b)));
      return i < 0 ? undefined : i;
    },
  };
  // Reused by every step, so a step allocates nothing once the state exists.
  private hyper: Required<O>[] = [];
  private grads: Slot[] = [];
  private arrays: Slot[] = [];
  private scalars = new Float32Array(0);
  private flags = new Uint32Array(0);
  private tensorLengths: number[] = [];
  private stepped: number[] = [];
  private steppedRecords: (StateRecord | null)[] = [];
  /** How many tensors the current step has staged so far (cleared when it ends), and their elements. */
  private staged = 0;
  private stagedElements = 0;
  /**
   * The plan of the last step (see step-plan.ts), while the steps are given the same gradients;
   * and the gradients of the last full step, to see when they are (references: they stay alive
   * until the next step).
   */
  private plan: StepPlan | null = null;
  private previousGrads: Slot[] = [];
  /**
   * The operation running now ('Adam.step', ...), if any. A getter or Proxy trap that a step
   * reads can call back into the optimizer; a step, addParamGroup or loadStateDict from there
   * would replace what the running step is using, so it is refused (ERR_SIMD_OPTIM_BUSY). So is a
   * change of a group's option (group-object.ts), above all while a stepAsync is in flight.
   */
  private readonly guard: GroupGuard;

  protected constructor(private readonly definition: OptimizerDefinition<O>, params: unknown, options: unknown) {
    const { name, spec } = definition;
    const extra: Record<string, unknown> = {};
    this.defaults = Object.freeze(resolveOptions(spec, name, 'options', options, undefined, ['skipNonFinite', 'threads'], extra));
    this.skipNonFinite = booleanOption(name, 'options.skipNonFinite', extra['skipNonFinite'], false);
    this.threads = threadsOption(name, 'options.threads', extra['threads']);
    this.stepLabel = `${name}.step`;
    this.guard = { name, running: null, ownWrite: false };
    const list = readArray(name, 'params', params, 'an array of Float32Array or of parameter groups');
    if (list.length === 0) throw new RangeError(`${name}: params must not be empty`);
    // A list of groups when its first entry is a plain object; each group is read once (a copy).
    const first = list[0];
    const groups = first !== null && typeof first === 'object' && !Array.isArray(first) && !ArrayBuffer.isView(first)
      ? list.map((group, i) => readGroupInit(name, spec, group, `params[${i}]`))
      : [{ label: 'params', params: list, overrides: {} }];
    this.addGroups(name, groups);
  }

  /** All params, group after group: the order `step` expects their gradients in. Frozen. */
  get params(): readonly Float32Array[] {
    return this.publicParams;
  }

  /**
   * The parameter groups (a frozen list): each group's hyperparameters may be changed between
   * steps and are checked again before each; its `params` may not.
   */
  get paramGroups(): readonly ParamGroup<O>[] {
    return this.publicGroups;
  }

  /**
   * Adds a parameter group (as PyTorch's add_param_group): its options override the defaults, its
   * params must not be in another group. New params take gradients after the existing ones.
   * @throws TypeError or RangeError naming the offending argument; nothing changes then.
   */
  addParamGroup(group: ParamGroupInit<O>): void {
    const where = `${this.definition.name}.addParamGroup`;
    this.exclusive(where, () => this.addGroups(where, [readGroupInit(where, this.definition.spec, group, 'group')]));
  }

  /** Checks the new groups against each other and the existing params, then adds them. */
  private addGroups(where: string, groups: GroupInit[]): void {
    const hyper = checkNewGroups(where, this.definition.spec, this.defaults as Required<O>, groups, this.flat, this.groupOf);
    // Nothing below throws: install.
    groups.forEach((g, k) => {
      const params = Object.freeze(g.params.slice() as Float32Array[]);
      const entry = makeGroupObject(this.definition.spec, hyper[k]!, this.guard) as ParamGroup<O>;
      Object.defineProperty(entry, 'params', { value: params, enumerable: true, writable: false, configurable: false });
      const groupIndex = this.groups.length;
      this.groups.push(entry);
      this.hyper.push(newSnapshot(this.definition.spec));
      for (const p of params) {
        const index = this.flat.length;
        this.flat.push(p);
        this.lengths.push(realLength(p));
        this.groupOf.push(groupIndex);
        this.records.push(undefined);
        const buffer = realBuffer(p);
        const list = this.paramsByBuffer.get(buffer);
        if (list) list.push(index);
        else this.paramsByBuffer.set(buffer, [index]);
      }
    });
    this.forgetPlan();
    this.publicGroups = Object.freeze(this.groups.slice());
    this.publicParams = Object.freeze(this.flat.slice());
    const n = this.flat.length;
    this.grads = new Array<Slot>(n).fill(null);
    this.arrays = new Array<Slot>(n * this.definition.kernel.slots).fill(null);
    this.scalars = new Float32Array(n * this.definition.kernel.scalars);
    this.flags = new Uint32Array(n);
    this.tensorLengths = new Array<number>(n).fill(0); // small integers: V8 keeps them unboxed
  }

  /**
   * Applies one update to every param whose gradient is given, with its group's current
   * hyperparameters. Gradients and hyperparameters are all checked before any array is written; a
   * param whose gradient is null or undefined is left alone, its state and step count too (as
   * PyTorch skips params whose .grad is None).
   * @param grads - one entry per param, in the order of `params` (group after group).
   * @returns true when the update was applied; false when skipNonFinite found a NaN or infinity
   *   and skipped it.
   * @throws TypeError or RangeError naming the offending argument; nothing has changed then.
   */
  step(grads: Gradients): boolean {
    const where = this.stepLabel;
    if (this.guard.running !== null) throw busyError(where, this.guard.running);
    this.guard.running = where;
    try {
      const plan = this.readInputs(where, grads);
      if (plan !== null) return this.runPlan(plan, threadsFor(this.threads, plan.elements));
      const count = this.checkAndStage(where);
      return this.runStaged(count, threadsFor(this.threads, this.stagedElements));
    } finally {
      this.endStep();
    }
  }

  /** Step 3, on this thread: the non-finite check, the kernel, then attaching the step's state. */
  private runStaged(count: number, threads: number): boolean {
    if (this.skipNonFinite && !allFinite(this.grads, this.flat.length, this.lengths, threads)) return false;
    if (count === 0) return true;
    const { kernel } = this.definition;
    runKernel(kernel.id, kernel.js, this.arrays, this.scalars, this.flags, count, this.tensorLengths, threads);
    this.commit(count);
    this.planNext(count);
    return true;
  }

  /** Step 3 with a plan, on this thread: the non-finite check, the kernel, the step counts. */
  private runPlan(plan: StepPlan, threads: number): boolean {
    if (this.skipNonFinite && !allFinite(plan.gradViews, plan.count, plan.lengths, threads)) return false;
    const { kernel } = this.definition;
    if (!runPlanned(kernel.id, plan, threads)) {
      fillTaskScalars(plan, kernel.scalars);
      runKernel(kernel.id, kernel.js, plan.arrays, plan.taskScalars, plan.flags, plan.count, plan.lengths);
    }
    this.advanceAll(plan.stepped);
    return true;
  }

  private advanceAll(stepped: readonly number[]): void {
    for (let t = 0; t < stepped.length; t++) {
      const i = stepped[t]!;
      this.advance(this.records[i]!, this.hyper[this.groupOf[i]!]!);
    }
  }

  /**
   * `step`, off the event loop: the same update and the same bits, computed on another thread
   * while the event loop runs. Gradients and options are read and checked before it returns
   * (a bad argument rejects the promise and changes nothing). Until the promise settles, the
   * optimizer refuses `step`, `stepAsync`, `stateDict`, `loadStateDict` and `addParamGroup`
   * (an Error with code ERR_SIMD_OPTIM_BUSY), and the params, gradients and state buffers must not
   * be written, transferred or resized. On the TypeScript fallback the update runs before the
   * promise is returned.
   * @returns a promise of what `step` returns: true when applied, false when skipNonFinite found a
   *   NaN or infinity and nothing changed.
   */
  async stepAsync(grads: Gradients): Promise<boolean> {
    const where = `${this.definition.name}.stepAsync`;
    if (this.guard.running !== null) throw busyError(where, this.guard.running);
    this.guard.running = where;
    try {
      const plan = this.readInputs(where, grads);
      if (plan !== null && !plan.shrinkable) return await this.runPlanAsync(plan);
      const count = this.checkAndStage(where);
      const threads = threadsFor(this.threads, this.stagedElements, 1); // 'auto' leaves the event loop a core
      const pending = count === 0 ? null : this.startAsync(where, count, threads);
      if (pending === null) return this.runStaged(count, threads); // the fallback, or nothing to do
      const applied = await pending;
      if (applied) this.commit(count), this.planNext(count);
      return applied;
    } finally {
      this.endStep();
    }
  }

  /** stepAsync with a plan: its tasks on another thread (see startAsync). */
  private async runPlanAsync(plan: StepPlan): Promise<boolean> {
    const { kernel } = this.definition;
    const threads = threadsFor(this.threads, plan.elements, 1);
    fillTaskScalars(plan, kernel.scalars);
    const pending = runKernelAsync(kernel.id, plan.arrays, plan.taskScalars, plan.flags, plan.count, threads, this.skipNonFinite);
    if (pending === null) return this.runPlan(plan, threads);
    const applied = await pending;
    if (applied) this.advanceAll(plan.stepped);
    return applied;
  }

  /** The native step of the staged tensors on another thread, or null on the fallback. */
  private startAsync(where: string, count: number, threads: number): Promise<boolean> | null {
    const { kernel } = this.definition;
    refuseShrinkable(where, this.arrays, count, kernel.slots, this.stepped);
    return runKernelAsync(kernel.id, this.arrays, this.scalars, this.flags, count, threads, this.skipNonFinite);
  }

  /**
   * Step 1: read the caller's inputs once (the caller's code, getters and Proxies, runs here and
   * nowhere after). Returns the plan when it holds for this step, its scalars prepared: the same
   * gradient arrays, every buffer whole, the same kernel flags.
   */
  private readInputs(where: string, grads: Gradients): StepPlan | null {
    const plan = this.plan;
    const same = readGradients(where, grads, this.flat.length, this.grads, plan?.grads);
    for (let g = 0; g < this.groups.length; g++) readGroup(this.definition.spec, where, g, this.groups[g]!, this.hyper[g]!);
    if (plan === null) return null;
    if (same && planIntact(plan) && this.preparePlan(plan)) return plan;
    this.forgetPlan();
    return null;
  }

  /** The scalars of each of the plan's blocks for this step; false when a block's flags changed. */
  private preparePlan(plan: StepPlan): boolean {
    const perTensor = this.definition.kernel.scalars;
    for (let b = 0; b < plan.blockParams.length; b++) {
      const i = plan.blockParams[b]!;
      const flags = this.prepare(this.records[i]!, this.hyper[this.groupOf[i]!]!, this.lengths[i]!, plan.blockScalars, b * perTensor, plan.arrays, plan.blockAt[b]!);
      if (flags !== plan.blockFlags[b]) return false;
    }
    return true;
  }

  /** Step 2 of a full step: check what was read and that every array is whole, stage the kernel's arguments. */
  private checkAndStage(where: string): number {
    checkGradients(where, this.grads, this.layout);
    return this.stage(where);
  }

  /**
   * After a full step has committed: when it was given the same gradients as the last full step,
   * plan the next ones; otherwise remember its gradients.
   */
  private planNext(count: number): void {
    const n = this.flat.length, previous = this.previousGrads;
    let same = previous.length === n;
    for (let i = 0; same && i < n; i++) same = previous[i] === this.grads[i];
    if (!same) {
      if (previous.length !== n) this.previousGrads = new Array<Slot>(n).fill(null);
      for (let i = 0; i < n; i++) this.previousGrads[i] = this.grads[i]!;
      return;
    }
    const { kernel, scalarsByStep = false, planSharesScalars = scalarsByStep } = this.definition;
    const blockOf = new Array<number>(count);
    let blocks = 0;
    for (let t = 0; t < count; t++) {
      const i = this.stepped[t]!, j = this.stepped[t - 1]!;
      const shares = planSharesScalars && t > 0 && this.groupOf[i] === this.groupOf[j] && this.records[i]!.step === this.records[j]!.step &&
        this.flags[t] === this.flags[t - 1];
      blockOf[t] = shares ? blockOf[t - 1]! : blocks++;
    }
    this.plan = makePlan({
      grads: this.grads, arrays: this.arrays, flags: this.flags, lengths: this.tensorLengths, stepped: this.stepped, blockOf, count,
      slots: kernel.slots, scalars: kernel.scalars,
    });
    this.previousGrads = [];
  }

  private forgetPlan(): void {
    this.plan = null;
    this.previousGrads = [];
  }

  /** After a step, whatever happened: let go of the caller's arrays and of the step's records. */
  private endStep(): void {
    const slots = this.definition.kernel.slots;
    // A failed stage may have filled part of one more tensor.
    for (let t = 0, end = Math.min(this.staged + 1, this.flat.length); t < end; t++) {
      for (let k = t * slots; k < t * slots + slots; k++) this.arrays[k] = null;
      this.steppedRecords[t] = null;
    }
    this.staged = 0;
    this.stagedElements = 0;
    for (let i = 0; i < this.grads.length; i++) this.grads[i] = null;
    this.guard.running = null;
  }

  /**
   * Fills the kernel's arguments for every param with a gradient: its arrays (state buffers the
   * step needs are created here but not attached yet), scalars, flags and length. Throws, having
   * changed nothing, when a state buffer no longer has its length.
   */
  private stage(where: string): number {
    const { kernel, bufferNames, scalarsByStep = false } = this.definition;
    let count = 0;
    // The last tensor whose scalars prepare computed: its group, step count and offset.
    let lastGroup = -1, lastStep = -1, lastOffset = 0;
    for (let i = 0; i < this.flat.length; i++) {
      if (!this.grads[i]) continue;
      const length = this.lengths[i]!;
      const param = this.flat[i]!;
      const hyper = this.hyper[this.groupOf[i]!]!;
      const record = this.records[i] ?? this.newRecord();
      const uses = this.bufferUse(hyper);
      const base = count * kernel.slots;
      this.arrays[base] = param;
      this.arrays[base + 1] = this.grads[i]!;
      for (let k = 0; k < kernel.slots - 2; k++) {
        let buffer = uses[k] === 'unused' ? null : record.buffers[k] ?? null;
        if (buffer !== null && realLength(buffer) !== length) {
          throw new RangeError(
            `${where}: the state of params[${i}] (${bufferNames[k]}) has ${realLength(buffer)} elements, expected ${length} (its buffer was detached)`,
          );
        }
        if (buffer === null && uses[k] === 'required') buffer = this.createBuffer(k, length, hyper);
        this.arrays[base + 2 + k] = buffer;
      }
      const offset = count * kernel.scalars, group = this.groupOf[i]!;
      if (scalarsByStep && group === lastGroup && record.step === lastStep) {
        this.scalars.copyWithin(offset, lastOffset, lastOffset + kernel.scalars);
        this.flags[count] = this.flags[count - 1]!; // the previous staged tensor is that one, or shares with it
      } else {
        this.flags[count] = this.prepare(record, hyper, length, this.scalars, offset, this.arrays, base + 2);
        lastGroup = group;
        lastStep = record.step;
        lastOffset = offset;
      }
      this.tensorLengths[count] = length;
      this.stepped[count] = i;
      this.steppedRecords[count] = record;
      this.staged = ++count;
      this.stagedElements += length;
    }
    gatherNewState(this.arrays, count, kernel.slots, this.tensorLengths, this.steppedRecords);
    return count;
  }

  private newRecord(): StateRecord {
    return { step: 0, buffers: new Array<Slot>(this.definition.kernel.slots - 2).fill(null), scalars: { ...this.definition.scalarState } };
  }

  /** After a successful kernel: attach new records and buffers, advance the counts. */
  private commit(count: number): void {
    const slots = this.definition.kernel.slots;
    for (let t = 0; t < count; t++) {
      const i = this.stepped[t]!;
      const record = this.steppedRecords[t]!;
      for (let k = 0; k < slots - 2; k++) {
        const buffer = this.arrays[t * slots + 2 + k];
        if (buffer && record.buffers[k] !== buffer) {
          record.buffers[k] = buffer;
          const owner = realBuffer(buffer);
          if (!this.stateOwner.has(owner)) this.stateOwner.set(owner, i); // the first param whose state it holds
        }
      }
      this.records[i] = record;
      this.advance(record, this.hyper[this.groupOf[i]!]!);
    }
  }

  /**
   * The state of each param that has taken a step, keyed by the param: its step count and its
   * state buffers (the live arrays: reading them is free, writing them changes the optimizer).
   */
  get state(): ReadonlyMap<Float32Array, Readonly<State>> {
    const map = new Map<Float32Array, Readonly<State>>();
    this.records.forEach((record, i) => {
      if (record) map.set(this.flat[i]!, Object.freeze(this.describeState(record)));
    });
    return map;
  }

  /**
   * A copy of the optimizer's state as plain data, as PyTorch's state_dict: per param (by its
   * index in `params`) the step count and the state buffers under PyTorch's names, as Float32Array
   * copies; per group its hyperparameters and the indices of its params.
   * @throws RangeError when a state buffer was detached (its values are gone).
   */
  stateDict(): OptimizerStateDict {
    const where = `${this.definition.name}.stateDict`;
    if (this.guard.running !== null) throw busyError(where, this.guard.running);
    const values = groupDictValues(where, this.groups, Object.keys(this.definition.spec.options));
    const state = stateEntries(where, this.definition, this.records, this.lengths);
    let next = 0;
    const paramGroups = values.map((copy, g) => ({ ...copy, params: this.groups[g]!.params.map(() => next++) }));
    return { optimizer: this.definition.name, state, paramGroups };
  }

  /**
   * Replaces the state and the groups' hyperparameters with those of a state dict (from
   * `stateDict`, or a checkpoint). The dict is read once into a copy and everything is checked
   * first: the optimizer kind, the number of groups and of params in each, every hyperparameter,
   * every buffer's name and length, every step count. When anything does not fit it throws, and
   * nothing has changed.
   * @throws TypeError or RangeError saying what does not fit.
   */
  loadStateDict(stateDict: OptimizerStateDict): void {
    const where = `${this.definition.name}.loadStateDict`;
    this.exclusive(where, () => this.load(where, stateDict));
  }

  /** Runs `operation` as the only one of this optimizer (see `guard`). */
  private exclusive(where: string, operation: () => void): void {
    if (this.guard.running !== null) throw busyError(where, this.guard.running);
    this.guard.running = where;
    try {
      operation();
    } finally {
      this.guard.running = null;
    }
  }

  private load(where: string, stateDict: OptimizerStateDict): void {
    const { bufferNames, spec, countsSteps = true, scalarState = {}, scalarRules = {} } = this.definition;
    const name = this.definition.name;
    const checked = checkStateDict(where, stateDict, {
      optimizer: name,
      spec,
      groupSizes: this.groups.map((g) => g.params.length),
      paramLengths: this.lengths,
      groupOf: this.groupOf,
      bufferNames,
      bufferUse: (hyper) => this.bufferUse(hyper as Required<O>),
      countsSteps,
      scalarRules,
    });
    // Assigning into the group objects runs the caller's setters, if any were defined on them:
    // on a throw, the values assigned so far are put back.
    const previous = groupValues(this.groups, Object.keys(this.definition.spec.options));
    this.guard.ownWrite = true; // the groups' own setters let the load through
    try {
      checked.groups.forEach((hyper, g) => {
        Object.assign(this.groups[g]!, hyper);
        const initialLr = checked.initialLrs[g];
        if (initialLr !== undefined) (this.groups[g] as { initialLr?: number }).initialLr = initialLr;
      });
    } catch (error) {
      assignGroupValues(this.groups, previous);
      throw new TypeError(`${where}: the parameter groups could not be updated (${(error as Error).message})`, { cause: error });
    } finally {
      this.guard.ownWrite = false;
    }
    this.records = checked.records.map((r) =>
      r ? { step: r.step, buffers: bufferNames.map((b) => r.buffers[b] ?? null), scalars: { ...scalarState, ...r.scalars } } : undefined,
    );
    this.stateOwner.clear();
    this.records.forEach((r, i) => r?.buffers.forEach((b) => b && !this.stateOwner.has(realBuffer(b)) && this.stateOwner.set(realBuffer(b), i)));
    this.forgetPlan();
  }

  /** See captureState. Nothing is copied: a load replaces the records, it never writes into them. @internal */
  [captureState](): () => void {
    const records = this.records.slice(), owners = new Map(this.stateOwner);
    const values = groupValues(this.groups, Object.keys(this.definition.spec.options));
    return () => {
      this.records = records;
      this.stateOwner.clear(); // in place: this.layout holds the map
      for (const [buffer, owner] of owners) this.stateOwner.set(buffer, owner);
      assignGroupValues(this.groups, values);
      this.forgetPlan();
    };
  }

  /** Which state buffers (kernel slots 2, 3, ...) the group's options use. */
  protected abstract bufferUse(hyper: Required<O>): readonly BufferUse[];

  /** A new state buffer for kernel slot k + 2, for a param of this length. */
  protected createBuffer(_k: number, length: number, _hyper: Required<O>): Float32Array {
    return new Float32Array(length);
  }

  /**
   * Writes this tensor's float32 scalars at `scalars[offset...]` for the step about to run
   * (record.step + 1) and returns its kernel flags. It may create a buffer the step needs in
   * `buffers[at + k]` (SGD's momentum buffer on its first step) but changes nothing else: the
   * buffers are attached and the counts moved by `advance` once the kernel has succeeded.
   */
  protected abstract prepare(
    record: Readonly<StateRecord>, hyper: Required<O>, length: number, scalars: Float32Array, offset: number, buffers: Slot[], at: number,
  ): number;

  /** Updates the record after a successful step: the step count, and what else the optimizer keeps. */
  protected advance(record: StateRecord, _hyper: Required<O>): void {
    record.step++;
  }

  /** The public view of a record. */
  protected abstract describeState(record: StateRecord): State;
}
