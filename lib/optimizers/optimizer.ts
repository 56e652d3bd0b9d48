/**
 * What every optimizer shares: parameter groups, lazily created state, validation of gradients and
 * hyperparameters, one kernel call per step for all tensors with a gradient (optimizer-core.ts
 * holds the groups, the state and the state dicts).
 *
 * Every operation is all or nothing. A step first reads its inputs, each once (the gradient list
 * and every group's options, where a caller's getters and Proxies run), then validates what it
 * read and the arrays it will touch (params and state buffers must still have the lengths they
 * had: a detached or resized buffer is refused), and only then runs the kernel; state created for
 * the step is attached to the optimizer after the kernel has succeeded.
 * @internal
 */
import { runKernel, runKernelAsync, runPlanned, threadsFor, trafficPerElement } from '../bridge/backend.js';
import { allFinite } from './gradients.js';
import { realBuffer, realLength } from '../core/intrinsics.js';
import { checkGradients, readGradients, refuseShrinkable } from './step-inputs.js';
import type { Slot } from '../bridge/kernels.js';
import { readGroup } from '../core/options.js';
import { gatherNewState, type OptimizerDefinition, type StateRecord } from './optimizer-state.js';
import { busyError } from '../core/validate.js';
import { fillTaskScalars, makePlan, planIntact, type StepPlan } from './step-plan.js';
import { OptimizerCore, type Gradients } from './optimizer-core.js';

export { ALL_REQUIRED, type BufferUse, type OptimizerDefinition, type StateRecord } from './optimizer-state.js';
export { captureState, type Gradients, type KernelSpec, type ParamGroup, type ParamGroupInit, type StepOptions } from './optimizer-core.js';

export abstract class Optimizer<O extends object, State extends object> extends OptimizerCore<O, State> {
  /** The bytes a step moves per element ('auto' threads counts them). */
  private readonly traffic: number;
  /** True when `advance` only counts the step (not overridden): a planned step then counts them in one loop. */
  private readonly countsOnly: boolean;
  /** Whether this.grads holds gradients to let go of when the step ends. */
  private gradsHeld = false;

  protected constructor(definition: OptimizerDefinition<O>, params: unknown, options: unknown) {
    super(definition, params, options);
    this.traffic = trafficPerElement(definition.kernel.slots);
    this.countsOnly = this.advance === Optimizer.prototype.advance;
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
      if (plan !== null) return this.runPlan(plan, threadsFor(this.threads, plan.elements * this.traffic));
      const count = this.checkAndStage(where);
      return this.runStaged(count, threadsFor(this.threads, this.stagedElements * this.traffic));
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
    const records = this.records;
    if (this.countsOnly) {
      for (let t = 0; t < stepped.length; t++) records[stepped[t]!]!.step++;
      return;
    }
    for (let t = 0; t < stepped.length; t++) {
      const i = stepped[t]!;
      this.advance(records[i]!, this.hyper[this.groupOf[i]!]!);
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
      const plan = this.readInputs(where, grads, true);
      if (plan !== null) return await this.runPlanAsync(plan);
      const count = this.checkAndStage(where);
      const threads = threadsFor(this.threads, this.stagedElements * this.traffic, 1); // 'auto' leaves the event loop a core
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
    const threads = threadsFor(this.threads, plan.elements * this.traffic, 1);
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
  private readInputs(where: string, grads: Gradients, onAnotherThread = false): StepPlan | null {
    const plan = this.plan;
    this.gradsHeld = true; // from here until endStep, this.grads may hold the caller's arrays
    const same = readGradients(where, grads, this.flat.length, this.grads, plan?.grads);
    for (let g = 0; g < this.groups.length; g++) readGroup(this.definition.spec, where, g, this.groups[g]!, this.hyper[g]!);
    if (plan === null) return null;
    // A step on another thread takes the full path for a resizable buffer, which refuses it.
    if (same && !(onAnotherThread && plan.shrinkable) && planIntact(plan) && this.preparePlan(plan)) {
      this.gradsHeld = false; // the plan's gradients were not copied
      return plan;
    }
    if (same) for (let i = 0; i < this.flat.length; i++) this.grads[i] = plan.grads[i]!; // the full step reads them here
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
    if (this.gradsHeld) for (let i = 0; i < this.grads.length; i++) this.grads[i] = null;
    this.gradsHeld = false;
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
}
