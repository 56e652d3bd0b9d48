/**
 * What every optimizer shares: parameter bookkeeping, lazily created state, gradient validation,
 * and one kernel call per step covering all tensors that have a gradient.
 * @internal
 */
import { runKernel } from './backend.js';
import type { KernelFn, KernelId, Slot } from './kernels.js';
import { checkGrads, checkParams, indexByBuffer } from './validate.js';

/** The kernel an optimizer runs and the shape of its arguments. */
export interface KernelSpec {
  readonly id: KernelId;
  readonly js: KernelFn;
  readonly slots: number;
  readonly scalars: number;
}

/** Per-param state: the step count and the state buffers in kernel slot order (slots 2...). */
export interface StateRecord {
  step: number;
  readonly buffers: Slot[];
}

/** Gradients for one step, in the order of the params; null or undefined skips that param. */
export type Gradients = readonly (Float32Array | null | undefined)[];

export abstract class Optimizer<Options extends object, State extends object> {
  /** The parameters, in the order `step` expects their gradients. Updated in place. */
  readonly params: readonly Float32Array[];
  /** The hyperparameters, with PyTorch's defaults filled in. */
  readonly options: Readonly<Options>;

  private readonly records: (StateRecord | undefined)[];
  private readonly paramsByBuffer: Map<ArrayBufferLike, number[]>;
  // Reused by every step, so a step allocates nothing once the state exists.
  private readonly arrays: Slot[];
  private readonly scalars: Float32Array;
  private readonly flags: Uint32Array;
  private readonly stepped: StateRecord[] = [];

  protected constructor(
    private readonly name: string,
    params: unknown,
    options: Options,
    private readonly kernel: KernelSpec,
  ) {
    this.params = Object.freeze(checkParams(name, params));
    this.options = Object.freeze(options);
    const n = this.params.length;
    this.records = new Array<StateRecord | undefined>(n).fill(undefined);
    this.paramsByBuffer = indexByBuffer(this.params);
    this.arrays = new Array<Slot>(n * kernel.slots).fill(null);
    this.scalars = new Float32Array(n * kernel.scalars);
    this.flags = new Uint32Array(n);
  }

  /**
   * Applies one update to every param whose gradient is given. All gradients are checked before
   * any array is written; a param whose gradient is null or undefined is left alone, its state and
   * step count too (as PyTorch skips params whose .grad is None).
   * @param grads - one entry per param, in the order of `params`.
   * @throws TypeError if `grads` or an entry is not the right kind of value.
   * @throws RangeError if `grads` has the wrong number of entries, an entry has the wrong length,
   *   or an entry shares memory with a param.
   */
  step(grads: Gradients): void {
    checkGrads(`${this.name}.step`, grads, this.params, this.paramsByBuffer);
    const { slots, scalars: scalarCount } = this.kernel;
    let count = 0;
    for (let i = 0; i < this.params.length; i++) {
      const grad = grads[i];
      if (!grad) continue;
      const param = this.params[i]!;
      let record = this.records[i];
      if (!record) {
        record = { step: 0, buffers: this.createBuffers(param.length) };
        this.records[i] = record;
      }
      const base = count * slots;
      this.arrays[base] = param;
      this.arrays[base + 1] = grad;
      this.flags[count] = this.prepare(record, param.length, this.scalars, count * scalarCount);
      for (let k = 2; k < slots; k++) this.arrays[base + k] = record.buffers[k - 2] ?? null;
      this.stepped[count] = record;
      count++;
    }
    if (count === 0) return;
    try {
      runKernel(this.kernel.id, this.kernel.js, this.arrays, this.scalars, this.flags, count);
      for (let t = 0; t < count; t++) this.stepped[t]!.step++;
    } finally {
      // Do not keep the caller's gradients alive until the next step.
      for (let t = 0; t < count; t++) this.arrays[t * slots + 1] = null;
    }
  }

  /**
   * The state of each param that has taken a step, keyed by the param: its step count and its
   * state buffers (the live arrays: reading them is free, writing them changes the optimizer).
   */
  get state(): ReadonlyMap<Float32Array, Readonly<State>> {
    const map = new Map<Float32Array, Readonly<State>>();
    this.records.forEach((record, i) => {
      if (record) map.set(this.params[i]!, Object.freeze(this.describeState(record)));
    });
    return map;
  }

  /** New state buffers (kernel slots 2...) for a param of this length; null for unused slots. */
  protected abstract createBuffers(length: number): Slot[];

  /**
   * Writes this tensor's float32 scalars at `scalars[offset...]` for the step about to run
   * (record.step + 1) and returns its kernel flags. May allocate buffers the options now need.
   */
  protected abstract prepare(record: StateRecord, length: number, scalars: Float32Array, offset: number): number;

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
