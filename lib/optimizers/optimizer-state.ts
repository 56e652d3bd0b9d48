/**
 * The per-param state every optimizer keeps, and its description as state-dict entries.
 * @internal
 */
import { copyFloat32, realLength } from '../core/intrinsics.js';
import type { KernelSpec } from './optimizer.js';
import type { Slot } from '../bridge/kernels.js';
import type { OptionSpec } from '../core/options.js';
import type { ParamStateEntry } from './state-dict.js';
import type { NumberRule } from '../core/validate.js';

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
  /** The range of each of those numbers, checked when a state dict is loaded. */
  readonly scalarRules?: Readonly<Record<string, NumberRule>>;
  /** False for optimizers whose PyTorch state has no step count (SGD). */
  readonly countsSteps?: boolean;
  /**
   * True when `prepare` depends only on the group's options and the param's step count (not on
   * its other numbers or buffers): the params of one group at one step count then share its result,
   * computed once per step (Adam's two powers per tensor were 15% of a step of 10,000 small tensors).
   */
  readonly scalarsByStep?: boolean;
  /**
   * True when, once the state buffers its options use exist, `prepare` depends only on the
   * group's options and the param's step count (SGD: its first step's flag depends on the
   * momentum buffer). A step plan then prepares the scalars once per group and step count, and
   * runs params whose arrays lie end to end as one. Default: scalarsByStep.
   */
  readonly planSharesScalars?: boolean;
  /** Which state buffers (kernel slots 2, 3, ...) a group's options use; runs for every param on every step. */
  readonly bufferUse: (hyper: Required<O>) => readonly BufferUse[];
  /**
   * Writes a tensor's float32 scalars at `scalars[offset...]` for the step about to run
   * (record.step + 1) and returns its kernel flags. It may create a buffer the step needs in
   * `buffers[at + k]` (SGD's momentum buffer on its first step) but changes nothing else: the
   * buffers are attached and the counts moved by `advance` once the kernel has succeeded.
   */
  readonly prepare: (
    record: Readonly<StateRecord>, hyper: Required<O>, length: number, scalars: Float32Array, offset: number, buffers: Slot[], at: number,
  ) => number;
  /** A new state buffer for kernel slot k + 2, for a param of this length. Default: zeros. */
  readonly createBuffer?: (k: number, length: number, hyper: Required<O>) => Float32Array;
  /** Updates a record after a successful step. Default: counts the step, and nothing else. */
  readonly advance?: (record: StateRecord, hyper: Required<O>) => void;
  /**
   * Runs after `advance`, for each param the step updated, with its gradient: what an optimizer
   * computes from the step's results (SWATS's projection). An optimizer with it takes no step
   * plan: every step stages its tensors.
   */
  readonly afterStep?: (record: StateRecord, hyper: Required<O>, grad: Float32Array, length: number, threads: number | 'auto') => void;
}

/** Per-param state: the step count, the state buffers in kernel slot order, other numbers. */
export interface StateRecord {
  step: number;
  readonly buffers: Slot[];
  readonly scalars: Record<string, number>;
}

/**
 * The state-dict entries of the records: per param that has state, its step count, its other
 * numbers and copies of all its buffers (also one its options no longer use, as PyTorch keeps
 * it), under PyTorch's names.
 * @throws RangeError when a buffer no longer has its param's length (it was detached).
 */
export function stateEntries<O extends object>(
  where: string,
  definition: OptimizerDefinition<O>,
  records: readonly (StateRecord | undefined)[],
  lengths: readonly number[],
): Record<number, ParamStateEntry> {
  const { bufferNames, countsSteps = true } = definition;
  const state: Record<number, ParamStateEntry> = {};
  records.forEach((record, i) => {
    if (!record) return;
    const entry: ParamStateEntry = {};
    if (countsSteps) entry['step'] = record.step;
    Object.assign(entry, record.scalars);
    record.buffers.forEach((buffer, k) => {
      if (!buffer) return; // an unused buffer that exists is state too (PyTorch keeps it)
      const length = realLength(buffer);
      if (length !== lengths[i]) {
        throw new RangeError(`${where}: the state of params[${i}] (${bufferNames[k]}) has ${length} elements, expected ${lengths[i]} (its buffer was detached)`);
      }
      entry[bufferNames[k]!] = copyFloat32(buffer, length);
    });
    state[i] = entry;
  });
  return state;
}

/**
 * State buffers below this many elements that one step creates are made views of one buffer per
 * slot, in the order of the params: a model of many small params, views of one buffer, then has its
 * state end to end too, and a step plan runs it as one task (see step-plan.ts). Larger buffers keep
 * their own memory: merging gains nothing there, and the copy would cost.
 */
const ARENA_MAX_ELEMENTS = 1 << 16;

/**
 * Moves the small state buffers a staged step has just created (those not yet in their record)
 * into one buffer per slot, values included. `arrays` holds `slots` entries per staged tensor.
 */
export function gatherNewState(
  arrays: Slot[], count: number, slots: number, lengths: readonly number[], records: readonly (StateRecord | null)[],
): void {
  for (let k = 2; k < slots; k++) {
    let total = 0, made = 0;
    for (let t = 0; t < count; t++) {
      const buffer = arrays[t * slots + k];
      if (buffer && buffer !== records[t]!.buffers[k - 2] && lengths[t]! < ARENA_MAX_ELEMENTS) total += lengths[t]!, made++;
    }
    if (made < 2) continue;
    const arena = new Float32Array(total);
    let offset = 0;
    for (let t = 0; t < count; t++) {
      const buffer = arrays[t * slots + k];
      if (!buffer || buffer === records[t]!.buffers[k - 2] || lengths[t]! >= ARENA_MAX_ELEMENTS) continue;
      const view = arena.subarray(offset, offset + lengths[t]!);
      view.set(buffer); // our own new array: its initial values (Adagrad's initialAccumulatorValue)
      arrays[t * slots + k] = view;
      offset += lengths[t]!;
    }
  }
}
