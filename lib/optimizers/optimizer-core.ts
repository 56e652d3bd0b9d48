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
import { realBuffer, realLength } from '../core/intrinsics.js';
import type { KernelFn, KernelId } from '../bridge/kernels.js';
import { newSnapshot, resolveOptions } from '../core/options.js';
import { stateEntries, type OptimizerDefinition, type StateRecord } from './optimizer-state.js';
import { assignGroupValues, checkStateDict, groupDictValues, groupValues, type OptimizerStateDict } from './state-dict.js';
import { checkNewGroups, readGroupInit, type GroupInit } from './param-groups.js';
import { booleanOption, busyError, readArray, threadsOption } from '../core/validate.js';
import { makeGroupObject, type GroupGuard } from './group-object.js';
import { StepEngine } from './step-engine.js';

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
  // The public arrays are frozen copies, rebuilt when a group is added.
  private publicGroups: readonly ParamGroup<O>[] = Object.freeze([]);
  private publicParams: readonly Float32Array[] = EMPTY;
  /**
   * The operation running now ('Adam.step', ...), if any. A getter or Proxy trap that a step
   * reads can call back into the optimizer; a step, addParamGroup or loadStateDict from there
   * would replace what the running step is using, so it is refused (ERR_SIMD_OPTIM_BUSY). So is a
   * change of a group's option (group-object.ts), above all while a stepAsync is in flight.
   */
  protected readonly guard: GroupGuard;
  /** The groups, the params, their state and the step itself: see step-engine.ts for why apart. */
  protected readonly engine: StepEngine<O>;

  protected constructor(protected readonly definition: OptimizerDefinition<O>, params: unknown, options: unknown) {
    const { name, spec } = definition;
    const extra: Record<string, unknown> = {};
    this.defaults = Object.freeze(resolveOptions(spec, name, 'options', options, undefined, ['skipNonFinite', 'threads'], extra));
    const skipNonFinite = booleanOption(name, 'options.skipNonFinite', extra['skipNonFinite'], false);
    const threads = threadsOption(name, 'options.threads', extra['threads']);
    this.guard = { name, running: null, ownWrite: false };
    this.engine = new StepEngine(definition, skipNonFinite, threads, this.guard);
    const list = readArray(name, 'params', params, 'an array of Float32Array or of parameter groups');
    if (list.length === 0) throw new RangeError(`${name}: params must not be empty`);
    // A list of groups when its first entry is a plain object; each group is read once (a copy).
    const first = list[0];
    const groups = first !== null && typeof first === 'object' && !Array.isArray(first) && !ArrayBuffer.isView(first)
      ? list.map((group, i) => readGroupInit(name, spec, group, `params[${i}]`))
      : [{ label: 'params', params: list, overrides: {} }];
    this.addGroups(name, groups);
  }

  /** Whether `step` checks the gradients for NaN and infinity first (see StepOptions). */
  get skipNonFinite(): boolean {
    return this.engine.skipNonFinite;
  }

  /** How many threads a step may use (see StepOptions.threads). */
  get threads(): number | 'auto' {
    return this.engine.threads;
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
    const engine = this.engine;
    const hyper = checkNewGroups(where, this.definition.spec, this.defaults as Required<O>, groups, engine.flat, engine.groupOf);
    // Nothing below throws: install.
    groups.forEach((g, k) => {
      const params = Object.freeze(g.params.slice() as Float32Array[]);
      const entry = makeGroupObject(this.definition.spec, hyper[k]!, this.guard) as ParamGroup<O>;
      Object.defineProperty(entry, 'params', { value: params, enumerable: true, writable: false, configurable: false });
      const groupIndex = engine.groups.length;
      engine.groups.push(entry);
      engine.hyper.push(newSnapshot(this.definition.spec));
      for (const p of params) {
        const index = engine.flat.length;
        engine.flat.push(p);
        engine.lengths.push(realLength(p));
        engine.groupOf.push(groupIndex);
        engine.records.push(undefined);
        const buffer = realBuffer(p);
        const list = engine.paramsByBuffer.get(buffer);
        if (list) list.push(index);
        else engine.paramsByBuffer.set(buffer, [index]);
      }
    });
    engine.resize();
    this.publicGroups = Object.freeze(engine.groups.slice());
    this.publicParams = Object.freeze(engine.flat.slice());
  }

  /**
   * The state of each param that has taken a step, keyed by the param: its step count and its
   * state buffers (the live arrays: reading them is free, writing them changes the optimizer).
   */
  get state(): ReadonlyMap<Float32Array, Readonly<State>> {
    const map = new Map<Float32Array, Readonly<State>>();
    const { records, flat } = this.engine;
    records.forEach((record, i) => {
      if (record) map.set(flat[i]!, Object.freeze(this.describeState(record)));
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
    const { groups, records, lengths } = this.engine;
    const values = groupDictValues(where, groups, Object.keys(this.definition.spec.options));
    const state = stateEntries(where, this.definition, records, lengths);
    let next = 0;
    const paramGroups = values.map((copy, g) => ({ ...copy, params: groups[g]!.params.map(() => next++) }));
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
    const engine = this.engine, groups = engine.groups;
    const checked = checkStateDict(where, stateDict, {
      optimizer: name,
      spec,
      groupSizes: groups.map((g) => g.params.length),
      paramLengths: engine.lengths,
      groupOf: engine.groupOf,
      bufferNames,
      bufferUse: this.definition.bufferUse,
      countsSteps,
      scalarRules,
    });
    // Assigning into the group objects runs the caller's setters, if any were defined on them:
    // on a throw, the values assigned so far are put back.
    const previous = groupValues(groups, Object.keys(spec.options));
    this.guard.ownWrite = true; // the groups' own setters let the load through
    try {
      checked.groups.forEach((hyper, g) => {
        Object.assign(groups[g]!, hyper);
        const initialLr = checked.initialLrs[g];
        if (initialLr !== undefined) (groups[g] as { initialLr?: number }).initialLr = initialLr;
      });
    } catch (error) {
      assignGroupValues(groups, previous);
      throw new TypeError(`${where}: the parameter groups could not be updated (${(error as Error).message})`, { cause: error });
    } finally {
      this.guard.ownWrite = false;
    }
    engine.records = checked.records.map((r) =>
      r ? { step: r.step, buffers: bufferNames.map((b) => r.buffers[b] ?? null), scalars: { ...scalarState, ...r.scalars } } : undefined,
    );
    const owners = engine.stateOwner;
    owners.clear();
    engine.records.forEach((r, i) => r?.buffers.forEach((b) => b && !owners.has(realBuffer(b)) && owners.set(realBuffer(b), i)));
    engine.forgetPlan();
  }

  /** See captureState. Nothing is copied: a load replaces the records, it never writes into them. @internal */
  [captureState](): () => void {
    const engine = this.engine;
    const records = engine.records.slice(), owners = new Map(engine.stateOwner);
    const values = groupValues(engine.groups, Object.keys(this.definition.spec.options));
    return () => {
      engine.records = records;
      engine.stateOwner.clear(); // in place: the engine's layout holds the map
      for (const [buffer, owner] of owners) engine.stateOwner.set(buffer, owner);
      assignGroupValues(engine.groups, values);
      engine.forgetPlan();
    };
  }

  /** The public view of a record. */
  protected abstract describeState(record: StateRecord): State;
}
