/**
 * What every optimizer shares: parameter groups, lazily created state, validation of gradients and
 * hyperparameters, one kernel call per step for all tensors with a gradient, and state dicts.
 * @internal
 */
import { runKernel } from './backend.js';
import { allFinite } from './gradients.js';
import type { KernelFn, KernelId, Slot } from './kernels.js';
import { checkGroup, resolveOptions, type OptionSpec } from './options.js';
import { booleanOption, checkGrads, checkParams, checkUpdateArrays, indexByBuffer, type UpdateArray } from './validate.js';
import { checkStateDict, type OptimizerStateDict, type ParamStateEntry } from './state-dict.js';

/** The kernel an optimizer runs and the shape of its arguments. */
export interface KernelSpec {
  readonly id: KernelId;
  readonly js: KernelFn;
  readonly slots: number;
  readonly scalars: number;
}

/** Whether a state buffer (kernel slot 2, 3, ...) is used under a group's options. */
export type BufferUse = 'required' | 'optional' | 'unused';

/**
 * bufferUse for optimizers whose buffers are all always used. Constants: bufferUse runs for every
 * param on every step.
 */
export const ALL_REQUIRED: readonly (readonly BufferUse[])[] = [0, 1, 2, 3].map((n) => Object.freeze(new Array<BufferUse>(n).fill('required')));

/** Everything the base class needs to know about an optimizer besides its arithmetic. */
export interface OptimizerDefinition<O extends object> {
  readonly name: string;
  readonly kernel: KernelSpec;
  readonly spec: OptionSpec<O>;
  /** PyTorch's names of the state buffers, in kernel slot order (slot 2 first). */
  readonly bufferNames: readonly string[];
  /** Per-param numbers besides the step count (NAdam: mu_product), with their initial values. */
  readonly scalarState?: Readonly<Record<string, number>>;
  /** False for optimizers whose PyTorch state has no step count (SGD). */
  readonly countsSteps?: boolean;
}

/** Per-param state: the step count, the state buffers in kernel slot order, other numbers. */
export interface StateRecord {
  step: number;
  readonly buffers: Slot[];
  readonly scalars: Record<string, number>;
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
}

function isParamList(params: unknown): boolean {
  return Array.isArray(params) && (params.length === 0 || !(params[0] !== null && typeof params[0] === 'object' && 'params' in params[0]));
}

export abstract class Optimizer<O extends object, State extends object> {
  /** The parameter groups; their hyperparameters may be changed between steps. */
  readonly paramGroups: ParamGroup<O>[];
  /** The defaults the groups started from. */
  readonly defaults: Readonly<Required<O>>;
  /** Whether `step` checks the gradients for NaN and infinity first (see StepOptions). */
  readonly skipNonFinite: boolean;

  private flat: Float32Array[] = [];
  private groupOf: number[] = [];
  private records: (StateRecord | undefined)[] = [];
  private paramsByBuffer = new Map<ArrayBufferLike, number[]>();
  // Reused by every step, so a step allocates nothing once the state exists.
  private arrays: Slot[] = [];
  private scalars = new Float32Array(0);
  private flags = new Uint32Array(0);
  private stepped: StateRecord[] = [];
  private steppedGroups: ParamGroup<O>[] = [];

  protected constructor(private readonly definition: OptimizerDefinition<O>, params: unknown, options: unknown) {
    const { name, spec } = definition;
    this.defaults = Object.freeze(resolveOptions(spec, name, 'options', options, undefined, ['skipNonFinite']));
    this.skipNonFinite = booleanOption(name, 'options.skipNonFinite', (options as StepOptions | undefined)?.skipNonFinite, false);
    this.paramGroups = [];
    if (isParamList(params)) {
      this.addGroup(name, { params } as never, 'params');
    } else {
      if (!Array.isArray(params)) throw new TypeError(`${name}: params must be an array of Float32Array or of parameter groups`);
      if (params.length === 0) throw new RangeError(`${name}: params must not be empty`);
      params.forEach((group, i) => this.addGroup(name, group, `params[${i}]`));
    }
  }

  /** All params, group after group: the order `step` expects their gradients in. */
  get params(): readonly Float32Array[] {
    return this.flat;
  }

  /**
   * Adds a parameter group (as PyTorch's add_param_group): its options override the defaults, its
   * params must not be in another group. New params take gradients after the existing ones.
   * @throws TypeError or RangeError naming the offending argument; nothing changes then.
   */
  addParamGroup(group: ParamGroupInit<O>): void {
    this.addGroup(`${this.definition.name}.addParamGroup`, group, 'group');
  }

  private addGroup(where: string, group: unknown, label: string): void {
    if (group === null || typeof group !== 'object' || Array.isArray(group)) {
      throw new TypeError(`${where}: ${label} must be a parameter group { params, ...options }`);
    }
    const { params, ...overrides } = group as { params?: unknown };
    const hyper = resolveOptions(this.definition.spec, where, label, overrides, this.defaults as Required<O>);
    const paramsName = label === 'params' ? 'params' : `${label}.params`;
    const own = checkParams(where, params, paramsName);
    if (this.flat.length > 0) {
      // The whole list again, so a param already in another group is caught with its place named.
      checkParams(where, [...this.flat, ...own], 'params', (i) =>
        i < this.flat.length ? `params[${i}] (group ${this.groupOf[i]})` : `${paramsName}[${i - this.flat.length}]`,
      );
    }
    const entry = { ...hyper } as ParamGroup<O>;
    Object.defineProperty(entry, 'params', { value: Object.freeze(own), enumerable: true, writable: false });
    const groupIndex = this.paramGroups.length;
    this.paramGroups.push(entry);
    for (const p of own) {
      this.flat.push(p);
      this.groupOf.push(groupIndex);
      this.records.push(undefined);
    }
    this.paramsByBuffer = indexByBuffer(this.flat);
    const n = this.flat.length;
    this.arrays = new Array<Slot>(n * this.definition.kernel.slots).fill(null);
    this.scalars = new Float32Array(n * this.definition.kernel.scalars);
    this.flags = new Uint32Array(n);
  }

  /**
   * Applies one update to every param whose gradient is given, with its group's current
   * hyperparameters. Gradients and hyperparameters are all checked before any array is written; a
   * param whose gradient is null or undefined is left alone, its state and step count too (as
   * PyTorch skips params whose .grad is None).
   * @param grads - one entry per param, in the order of `params` (group after group).
   * @returns true when the update was applied; false when skipNonFinite found a NaN or infinity
   *   and skipped it.
   * @throws TypeError or RangeError naming the offending argument.
   */
  step(grads: Gradients): boolean {
    const { name, kernel, spec } = this.definition;
    const where = `${name}.step`;
    checkGrads(where, grads, this.flat, this.paramsByBuffer);
    for (let g = 0; g < this.paramGroups.length; g++) checkGroup(spec, where, `paramGroups[${g}]`, this.paramGroups[g]!);
    if (this.skipNonFinite && !allFinite(grads)) return false;
    let count = 0;
    for (let i = 0; i < this.flat.length; i++) {
      const grad = grads[i];
      if (!grad) continue;
      const param = this.flat[i]!;
      const group = this.paramGroups[this.groupOf[i]!]!;
      let record = this.records[i];
      if (!record) {
        record = { step: 0, buffers: new Array<Slot>(kernel.slots - 2).fill(null), scalars: { ...this.definition.scalarState } };
        this.records[i] = record;
      }
      this.ensureBuffers(record, param.length, group);
      const base = count * kernel.slots;
      this.arrays[base] = param;
      this.arrays[base + 1] = grad;
      this.flags[count] = this.prepare(record, group, param.length, this.scalars, count * kernel.scalars);
      for (let k = 2; k < kernel.slots; k++) this.arrays[base + k] = record.buffers[k - 2] ?? null;
      this.stepped[count] = record;
      this.steppedGroups[count] = group;
      count++;
    }
    if (count === 0) return true;
    try {
      runKernel(kernel.id, kernel.js, this.arrays, this.scalars, this.flags, count);
      for (let t = 0; t < count; t++) this.advance(this.stepped[t]!, this.steppedGroups[t]!);
    } finally {
      // Do not keep the caller's gradients alive until the next step.
      for (let t = 0; t < count; t++) this.arrays[t * kernel.slots + 1] = null;
    }
    return true;
  }

  /** Creates the buffers the group's options require and the record does not have yet. */
  private ensureBuffers(record: StateRecord, length: number, group: ParamGroup<O>): void {
    const uses = this.bufferUse(group);
    for (let k = 0; k < uses.length; k++) {
      if (uses[k] === 'required' && record.buffers[k] === null) record.buffers[k] = this.createBuffer(k, length, group);
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
   */
  stateDict(): OptimizerStateDict {
    const { name, bufferNames, countsSteps = true } = this.definition;
    const state: Record<number, ParamStateEntry> = {};
    this.records.forEach((record, i) => {
      if (!record) return;
      const entry: ParamStateEntry = {};
      if (countsSteps) entry['step'] = record.step;
      Object.assign(entry, record.scalars);
      const uses = this.bufferUse(this.paramGroups[this.groupOf[i]!]!);
      record.buffers.forEach((buffer, k) => {
        if (buffer && uses[k] !== 'unused') entry[bufferNames[k]!] = buffer.slice();
      });
      state[i] = entry;
    });
    let next = 0;
    const paramGroups = this.paramGroups.map((group) => {
      const hyper: Record<string, unknown> = {};
      for (const key of Object.keys(this.definition.spec.options)) {
        const value = (group as Record<string, unknown>)[key];
        hyper[key] = Array.isArray(value) ? [...value] : value;
      }
      return { ...hyper, params: group.params.map(() => next++) };
    });
    return { optimizer: name, state, paramGroups };
  }

  /**
   * Replaces the state and the groups' hyperparameters with those of a state dict (from
   * `stateDict`, or a checkpoint). Everything is checked first: the optimizer kind, the number of
   * groups and of params in each, every hyperparameter, every buffer's name and length, every
   * step count. When anything does not fit it throws, and nothing has changed.
   * @throws TypeError or RangeError saying what does not fit.
   */
  loadStateDict(stateDict: OptimizerStateDict): void {
    const { name, bufferNames, spec, countsSteps = true, scalarState = {} } = this.definition;
    const checked = checkStateDict(`${name}.loadStateDict`, stateDict, {
      optimizer: name,
      spec,
      groupSizes: this.paramGroups.map((g) => g.params.length),
      paramLengths: this.flat.map((p) => p.length),
      groupOf: this.groupOf,
      bufferNames,
      bufferUse: (hyper) => this.bufferUse(hyper as ParamGroup<O>),
      countsSteps,
      scalarNames: Object.keys(scalarState),
    });
    // Nothing below can throw: install the copies.
    checked.groups.forEach((hyper, g) => Object.assign(this.paramGroups[g]!, hyper));
    this.records = checked.records.map((r) =>
      r ? { step: r.step, buffers: bufferNames.map((b) => r.buffers[b] ?? null), scalars: { ...scalarState, ...r.scalars } } : undefined,
    );
  }

  /** Which state buffers (kernel slots 2, 3, ...) the group's options use. */
  protected abstract bufferUse(group: ParamGroup<O>): readonly BufferUse[];

  /** A new state buffer for kernel slot k + 2, for a param of this length. */
  protected createBuffer(_k: number, length: number, _group: ParamGroup<O>): Float32Array {
    return new Float32Array(length);
  }

  /**
   * Writes this tensor's float32 scalars at `scalars[offset...]` for the step about to run
   * (record.step + 1) and returns its kernel flags. It may add a buffer the step needs (SGD's
   * momentum buffer on its first step) but changes nothing else: counts move in `advance`, which
   * runs once the kernel has succeeded.
   */
  protected abstract prepare(record: StateRecord, group: ParamGroup<O>, length: number, scalars: Float32Array, offset: number): number;

  /** Updates the record after a successful step: the step count, and what else the optimizer keeps. */
  protected advance(record: StateRecord, _group: ParamGroup<O>): void {
    record.step++;
  }

  /** The public view of a record. */
  protected abstract describeState(record: StateRecord): State;
}

/**
 * Scratch arguments for the functional updates, which run a kernel on a single tensor: filled by
 * the caller, consumed by runSingleTensor. Module-level so an update allocates nothing.
 * @internal
 */
export const single = {
  arrays: new Array<Slot>(5).fill(null),
  scalars: new Float32Array(16),
};
const singleFlags = new Uint32Array(1);

/** Runs `kernel` on the tensor described by `single`, then forgets the caller's arrays. @internal */
export function runSingleTensor(kernel: KernelSpec, flags: number): void {
  singleFlags[0] = flags;
  try {
    runKernel(kernel.id, kernel.js, single.arrays, single.scalars, singleFlags, 1);
  } finally {
    single.arrays.fill(null);
  }
}

/**
 * The body of every functional update: validates the hyperparameters and the arrays (all before
 * anything is written), fills the scalars, runs the kernel on the one tensor. `arrays` are in
 * kernel slot order (or computed from the options), and those the options do not use are null.
 * @internal
 */
export function functionalUpdate<O extends object>(
  where: string,
  spec: OptionSpec<O>,
  kernel: KernelSpec,
  hyper: unknown,
  arrays: readonly UpdateArray[] | ((o: Required<O>) => readonly UpdateArray[]),
  fillScalars: (o: Required<O>, scalars: Float32Array) => number,
  extra: readonly string[] = ['step'],
): void {
  const o = resolveOptions(spec, where, 'hyper', hyper, undefined, extra);
  if (typeof arrays === 'function') arrays = arrays(o);
  checkUpdateArrays(where, arrays);
  const flags = fillScalars(o, single.scalars);
  for (let k = 0; k < arrays.length; k++) single.arrays[k] = (arrays[k]!.value as Float32Array | null | undefined) ?? null;
  runSingleTensor(kernel, flags);
}
