/**
 * What every optimizer shares apart from its step (optimizer.ts): parameter groups, the per-param
 * state and state dicts.
 *
 * Every operation is all or nothing. A step first reads its inputs, each once (the gradient list
 * and every group's options, where a caller's getters and Proxies run), then validates what it
 * read and the arrays it will touch (params and state buffers must still have the lengths they
 * had: a detached or resized buffer is refused), and only then runs the kernel; state created for
 * the step is attached to the optimizer after the kernel has succeeded.
 * @internal
 */
import { realBuffer, realByteOffset, realLength } from '../core/intrinsics.js';
import type { ParamLayout } from './step-inputs.js';
import type { KernelFn, KernelId, Slot } from '../bridge/kernels.js';
import { newSnapshot, resolveOptions } from '../core/options.js';
import { stateEntries, type BufferUse, type OptimizerDefinition, type StateRecord } from './optimizer-state.js';
import { assignGroupValues, checkStateDict, groupDictValues, groupValues, type OptimizerStateDict } from './state-dict.js';
import { checkNewGroups, readGroupInit, type GroupInit } from './param-groups.js';
import { booleanOption, busyError, readArray, threadsOption } from '../core/validate.js';
import type { StepPlan } from './step-plan.js';
import { makeGroupObject, type GroupGuard } from './group-object.js';

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
   * non-finite check): a whole number >= 1, or 'auto' (the default): one thread per 12 MiB
   * of memory the step reads and writes (349,525 elements of Adam, 629,146 of SGD), at most
   * os.availableParallelism() (one less for stepAsync, which leaves a core to the event loop).
   * The threads are a native pool shared
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

export abstract class OptimizerCore<O extends object, State extends object> {
  /** The defaults the groups started from. */
  readonly defaults: Readonly<Required<O>>;
  /** Whether `step` checks the gradients for NaN and infinity first (see StepOptions). */
  readonly skipNonFinite: boolean;
  /** How many threads a step may use (see StepOptions.threads). */
  readonly threads: number | 'auto';
  /** 'Adam.step', made once: a step builds no strings unless it throws. */
  protected readonly stepLabel: string;

  // Groups and params, as given; the public arrays are frozen copies, rebuilt when a group is added.
  protected groups: ParamGroup<O>[] = [];
  protected publicGroups: readonly ParamGroup<O>[] = Object.freeze([]);
  protected flat: Float32Array[] = [];
  protected publicParams: readonly Float32Array[] = EMPTY;
  /** Each param's length when it was given: a step refuses a param or state buffer that lost it. */
  protected lengths: number[] = [];
  protected groupOf: number[] = [];
  protected records: (StateRecord | undefined)[] = [];
  /** The params in each buffer (for the grads' overlap check), and the param owning each state buffer. */
  protected paramsByBuffer = new Map<ArrayBufferLike, number[]>();
  protected stateOwner = new Map<ArrayBufferLike, number>();
  /** What the gradients are checked against: the same arrays and maps, which change in place. */
  protected readonly layout: ParamLayout = {
    params: this.flat, lengths: this.lengths, paramsByBuffer: this.paramsByBuffer, stateOwner: this.stateOwner,
    stateOverlapping: (buffer, begin, end) => {
      const i = this.records.findIndex((r) => r?.buffers.some((b) => b !== null && realBuffer(b) === buffer &&
        realByteOffset(b) < end && begin < realByteOffset(b) + 4 * realLength(b)));
      return i < 0 ? undefined : i;
    },
  };
  // Reused by every step, so a step allocates nothing once the state exists.
  protected hyper: Required<O>[] = [];
  protected grads: Slot[] = [];
  protected arrays: Slot[] = [];
  protected scalars = new Float32Array(0);
  protected flags = new Uint32Array(0);
  protected tensorLengths: number[] = [];
  protected stepped: number[] = [];
  protected steppedRecords: (StateRecord | null)[] = [];
  /** How many tensors the current step has staged so far (cleared when it ends), and their elements. */
  protected staged = 0;
  protected stagedElements = 0;
  /**
   * The plan of the last step (see step-plan.ts), while the steps are given the same gradients;
   * and the gradients of the last full step, to see when they are (references: they stay alive
   * until the next step).
   */
  protected plan: StepPlan | null = null;
  protected previousGrads: Slot[] = [];
  /**
   * The operation running now ('Adam.step', ...), if any. A getter or Proxy trap that a step
   * reads can call back into the optimizer; a step, addParamGroup or loadStateDict from there
   * would replace what the running step is using, so it is refused (ERR_SIMD_OPTIM_BUSY). So is a
   * change of a group's option (group-object.ts), above all while a stepAsync is in flight.
   */
  protected readonly guard: GroupGuard;

  protected constructor(protected readonly definition: OptimizerDefinition<O>, params: unknown, options: unknown) {
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

  protected forgetPlan(): void {
    this.plan = null;
    this.previousGrads = [];
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

  /** The public view of a record. */
  protected abstract describeState(record: StateRecord): State;
}
