/**
 * The step of every optimizer: one object of this one class per optimizer, whatever its kind.
 *
 * Why a class of its own and not methods of the Optimizer base class: V8 keys its inline caches
 * by hidden class, and every optimizer kind (Adam, SGD, ...) is a hidden class of its own. Once a
 * process had stepped five kinds, every `this.field` of the base class's step became a
 * megamorphic load and nothing was inlined: a 1-element Adam step went from 260 ns to 470 ns
 * (a 1K step from 660 ns to 880 ns), and the bench's small rows moved with whichever kinds a
 * process had touched first. Here every field is read from one hidden class, and what differs by
 * kind is data: the definition's hooks, copied into fields.
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
import { realBuffer, realByteOffset, realLength } from '../core/intrinsics.js';
import { checkGradients, readGradients, refuseShrinkable, type ParamLayout } from './step-inputs.js';
import type { KernelFn, KernelId, Slot } from '../bridge/kernels.js';
import { groupReader, type GroupReader } from '../core/options.js';
import { gatherNewState, type BufferUse, type OptimizerDefinition, type StateRecord } from './optimizer-state.js';
import { placeNewState } from './state-placement.js';
import { busyError } from '../core/validate.js';
import { fillTaskScalars, makePlan, planIntact, type StepPlan } from './step-plan.js';
import type { GroupGuard } from './group-object.js';
import type { Gradients, ParamGroup } from './optimizer-core.js';

const countStep = (record: StateRecord): void => {
  record.step++;
};
const newZeros = (_k: number, length: number): Float32Array => new Float32Array(length);

export class StepEngine<O extends object> {
  // What differs by optimizer kind, copied out of the definition: read from this one class.
  readonly name: string;
  private readonly kernelId: KernelId;
  private readonly kernelJs: KernelFn;
  /** Kernel arrays per tensor (param, grad, state buffers) and float32 scalars per tensor. */
  readonly slots: number;
  private readonly scalarsPerTensor: number;
  private readonly bufferNames: readonly string[];
  private readonly scalarState: Readonly<Record<string, number>>;
  private readonly scalarsByStep: boolean;
  private readonly planSharesScalars: boolean;
  private readonly readGroup: GroupReader<O>;
  readonly bufferUse: (hyper: Required<O>) => readonly BufferUse[];
  private readonly prepare: OptimizerDefinition<O>['prepare'];
  private readonly createBuffer: (k: number, length: number, hyper: Required<O>) => Float32Array;
  private readonly advance: (record: StateRecord, hyper: Required<O>) => void;
  private readonly afterStep: NonNullable<OptimizerDefinition<O>['afterStep']> | null;
  /** True when `advance` only counts the step: a planned step then counts them in one loop. */
  private readonly countsOnly: boolean;
  /** The bytes a step moves per element ('auto' threads counts them). */
  private readonly traffic: number;
  /** 'Adam.step', made once: a step builds no strings unless it throws. */
  private readonly stepLabel: string;
  private readonly asyncLabel: string;

  // Groups and params, as given (optimizer-core.ts adds them).
  groups: ParamGroup<O>[] = [];
  flat: Float32Array[] = [];
  /** Each param's length when it was given: a step refuses a param or state buffer that lost it. */
  lengths: number[] = [];
  groupOf: number[] = [];
  records: (StateRecord | undefined)[] = [];
  /** The params in each buffer (for the grads' overlap check), and the param owning each state buffer. */
  readonly paramsByBuffer = new Map<ArrayBufferLike, number[]>();
  readonly stateOwner = new Map<ArrayBufferLike, number>();
  /** What the gradients are checked against: the same arrays and maps, which change in place. */
  private readonly layout: ParamLayout;
  // Reused by every step, so a step allocates nothing once the state exists.
  hyper: Required<O>[] = [];
  private grads: Slot[] = [];
  private arrays: Slot[] = [];
  private scalars = new Float32Array(0);
  /** Whether a step made a record (and so state) since state was last placed. */
  private newState = false;
  private flags = new Uint32Array(0);
  private tensorLengths: number[] = [];
  private stepped: number[] = [];
  private steppedRecords: (StateRecord | null)[] = [];
  /** How many tensors the current step has staged so far (cleared when it ends), and their elements. */
  private staged = 0;
  private stagedElements = 0;
  /** Whether this.grads holds gradients to let go of when the step ends. */
  private gradsHeld = false;
  /**
   * The plan of the last step (see step-plan.ts), while the steps are given the same gradients;
   * and the gradients of the last full step, to see when they are (references: they stay alive
   * until the next step).
   */
  plan: StepPlan | null = null;
  private previousGrads: Slot[] = [];

  constructor(
    definition: OptimizerDefinition<O>,
    /** Whether `step` checks the gradients for NaN and infinity first (see StepOptions). */
    readonly skipNonFinite: boolean,
    /** How many threads a step may use (see StepOptions.threads). */
    readonly threads: number | 'auto',
    /** The operation running now, if any (see OptimizerCore.guard). */
    readonly guard: GroupGuard,
  ) {
    const { name, kernel } = definition;
    this.name = name;
    this.kernelId = kernel.id;
    this.kernelJs = kernel.js;
    this.slots = kernel.slots;
    this.scalarsPerTensor = kernel.scalars;
    this.bufferNames = definition.bufferNames;
    this.scalarState = definition.scalarState ?? {};
    this.scalarsByStep = definition.scalarsByStep ?? false;
    this.planSharesScalars = definition.planSharesScalars ?? this.scalarsByStep;
    this.readGroup = groupReader(definition.spec);
    this.bufferUse = definition.bufferUse;
    this.prepare = definition.prepare;
    this.createBuffer = definition.createBuffer ?? newZeros;
    this.advance = definition.advance ?? countStep;
    this.afterStep = definition.afterStep ?? null;
    this.countsOnly = definition.advance === undefined;
    this.traffic = trafficPerElement(kernel.slots);
    this.stepLabel = `${name}.step`;
    this.asyncLabel = `${name}.stepAsync`;
    this.layout = {
      params: this.flat, lengths: this.lengths, paramsByBuffer: this.paramsByBuffer, stateOwner: this.stateOwner,
      stateOverlapping: (buffer, begin, end) => {
        const i = this.records.findIndex((r) => r?.buffers.some((b) => b !== null && realBuffer(b) === buffer &&
          realByteOffset(b) < end && begin < realByteOffset(b) + 4 * realLength(b)));
        return i < 0 ? undefined : i;
      },
    };
  }

  /** Sizes the per-step arrays for the params there are now (after groups were added). */
  resize(): void {
    const n = this.flat.length;
    this.forgetPlan();
    this.grads = new Array<Slot>(n).fill(null);
    this.arrays = new Array<Slot>(n * this.slots).fill(null);
    this.scalars = new Float32Array(n * this.scalarsPerTensor);
    this.flags = new Uint32Array(n);
    this.tensorLengths = new Array<number>(n).fill(0); // small integers: V8 keeps them unboxed
  }

  forgetPlan(): void {
    this.plan = null;
    this.previousGrads = [];
  }

  /** See Optimizer.step. */
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
    runKernel(this.kernelId, this.kernelJs, this.arrays, this.scalars, this.flags, count, this.tensorLengths, threads);
    this.commit(count);
    this.planNext(count);
    return true;
  }

  /** Step 3 with a plan, on this thread: the non-finite check, the kernel, the step counts. */
  private runPlan(plan: StepPlan, threads: number): boolean {
    if (this.skipNonFinite && !allFinite(plan.gradViews, plan.count, plan.lengths, threads)) return false;
    if (!runPlanned(this.kernelId, plan, threads)) {
      fillTaskScalars(plan, this.scalarsPerTensor);
      runKernel(this.kernelId, this.kernelJs, plan.arrays, plan.taskScalars, plan.flags, plan.count, plan.lengths);
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

  /** See Optimizer.stepAsync. */
  async stepAsync(grads: Gradients): Promise<boolean> {
    const where = this.asyncLabel;
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
    const threads = threadsFor(this.threads, plan.elements * this.traffic, 1);
    fillTaskScalars(plan, this.scalarsPerTensor);
    const pending = runKernelAsync(this.kernelId, plan.arrays, plan.taskScalars, plan.flags, plan.count, threads, this.skipNonFinite);
    if (pending === null) return this.runPlan(plan, threads);
    const applied = await pending;
    if (applied) this.advanceAll(plan.stepped);
    return applied;
  }

  /** The native step of the staged tensors on another thread, or null on the fallback. */
  private startAsync(where: string, count: number, threads: number): Promise<boolean> | null {
    refuseShrinkable(where, this.arrays, count, this.slots, this.stepped);
    return runKernelAsync(this.kernelId, this.arrays, this.scalars, this.flags, count, threads, this.skipNonFinite);
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
    for (let g = 0; g < this.groups.length; g++) this.readGroup(where, g, this.groups[g]!, this.hyper[g]!);
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
    const perTensor = this.scalarsPerTensor;
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
    if (this.afterStep !== null) return; // it reads each step's gradients: no plan
    const n = this.flat.length, previous = this.previousGrads;
    let same = previous.length === n;
    for (let i = 0; same && i < n; i++) same = previous[i] === this.grads[i];
    if (!same) {
      if (previous.length !== n) this.previousGrads = new Array<Slot>(n).fill(null);
      for (let i = 0; i < n; i++) this.previousGrads[i] = this.grads[i]!;
      return;
    }
    const blockOf = new Array<number>(count);
    let blocks = 0;
    for (let t = 0; t < count; t++) {
      const i = this.stepped[t]!, j = this.stepped[t - 1]!;
      const shares = this.planSharesScalars && t > 0 && this.groupOf[i] === this.groupOf[j] && this.records[i]!.step === this.records[j]!.step &&
        this.flags[t] === this.flags[t - 1];
      blockOf[t] = shares ? blockOf[t - 1]! : blocks++;
    }
    this.plan = makePlan({
      grads: this.grads, arrays: this.arrays, flags: this.flags, lengths: this.tensorLengths, stepped: this.stepped, blockOf, count,
      slots: this.slots, scalars: this.scalarsPerTensor,
    });
    this.previousGrads = [];
  }

  /** After a step, whatever happened: let go of the caller's arrays and of the step's records. */
  private endStep(): void {
    const slots = this.slots;
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
    const slots = this.slots, perTensor = this.scalarsPerTensor;
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
      const base = count * slots;
      this.arrays[base] = param;
      this.arrays[base + 1] = this.grads[i]!;
      for (let k = 0; k < slots - 2; k++) {
        let buffer = uses[k] === 'unused' ? null : record.buffers[k] ?? null;
        if (buffer !== null && realLength(buffer) !== length) {
          throw new RangeError(
            `${where}: the state of params[${i}] (${this.bufferNames[k]}) has ${realLength(buffer)} elements, expected ${length} (its buffer was detached)`,
          );
        }
        if (buffer === null && uses[k] === 'required') buffer = this.createBuffer(k, length, hyper);
        this.arrays[base + 2 + k] = buffer;
      }
      const offset = count * perTensor, group = this.groupOf[i]!;
      if (this.scalarsByStep && group === lastGroup && record.step === lastStep) {
        this.scalars.copyWithin(offset, lastOffset, lastOffset + perTensor);
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
    gatherNewState(this.arrays, count, slots, this.tensorLengths, this.steppedRecords);
    return count;
  }

  private newRecord(): StateRecord {
    this.newState = true;
    return { step: 0, buffers: new Array<Slot>(this.slots - 2).fill(null), scalars: { ...this.scalarState } };
  }

  /** After a successful kernel: attach new records and buffers, advance the counts. */
  private commit(count: number): void {
    const slots = this.slots;
    if (this.newState) this.placeNewState(count);
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
      if (this.afterStep !== null) this.afterStep(record, this.hyper[this.groupOf[i]!]!, this.grads[i]!, this.tensorLengths[t]!, this.threads);
    }
  }

  /**
   * Moves the state buffers this step created, values and all, to where they start far from the
   * tensor's other arrays modulo 4 KiB (state-placement.ts); the steps after run there. Here, once
   * the first step is done, rather than before it: the step's own path stays as V8 inlined it (the
   * check in stage() made SWATS's step allocate).
   */
  private placeNewState(count: number): void {
    this.newState = false;
    const slots = this.slots, arrays = this.arrays, records = this.steppedRecords;
    placeNewState(arrays, count, slots, this.tensorLengths, (t, k) => arrays[t * slots + k] !== records[t]!.buffers[k - 2]);
  }
}
