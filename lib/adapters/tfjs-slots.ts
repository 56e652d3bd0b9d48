/**
 * The state and the step of simd-optim/tfjs's optimizers, apart from the classes (which extend
 * TensorFlow.js's own, one per kind: see tfjs.ts).
 *
 * TensorFlow.js keeps an optimizer's state by position in the gradient list (the i-th gradient of
 * every call uses state i), named after the variable it was first created for, and creates it even
 * for a position whose gradient is null. This keeps the same layout, so getWeights and setWeights
 * exchange state with tfjs's own optimizers in both directions.
 *
 * A step reads its inputs once into a snapshot and checks all of it before anything is written:
 * every name is a registered float32 variable, every gradient a live float32 tensor of its shape,
 * no variable twice. Then one kernel call updates every tensor.
 *
 * Where the kernel reads and writes. A variable's data may be shared with other tensors
 * (tf.variable(x) shares x's, tf.clone and reshape share theirs), and those must not change. So a
 * variable whose data the backend counts once (`backend.refCount`) is updated in place, in the
 * backend's own memory: the cpu backend's array, or a view of the wasm heap. Any other variable is
 * updated in a copy of its values and assigned the new tensor, as tfjs's own optimizers do every
 * step; after that first assignment its data is its own. Gradients are read where they lie too. On
 * a backend that only hands out copies (tfjs-node), every step copies.
 * @internal
 */
import type * as TF from '@tensorflow/tfjs-core';
import { runKernel, threadsFor, trafficPerElement } from '../bridge/backend.js';
import type { KernelFn, KernelId, Slot } from '../bridge/kernels.js';
import { isFloat32Array, realLength } from '../core/intrinsics.js';
import { extentOf, type Extent } from '../core/validate.js';

/** tfjs's { name, tensor } (its NamedTensor, which tfjs-core does not export by name). */
export interface NamedTensor {
  name: string;
  tensor: TF.Tensor;
}

/** A kernel of the package, with its argument layout. @internal */
export interface TfjsKernel {
  readonly id: KernelId;
  readonly js: KernelFn;
  /** Array slots per tensor: param, grad, then the state arrays. */
  readonly slots: number;
  readonly scalars: number;
}

/** What differs between the kinds of optimizer. @internal */
export interface TfjsKind {
  readonly kernel: TfjsKernel;
  /** tfjs's suffixes of the state tensors (`${name}/m`), in tfjs's getWeights order. */
  readonly stateSuffixes: readonly string[];
  /** The kernel slot of each state tensor, in the same order. */
  readonly stateSlots: readonly number[];
  /** The value a new state array starts with (Adagrad's initialAccumulatorValue; 0 otherwise). */
  readonly initialValue?: (state: number) => number;
}

/** One position of the gradient list. */
interface Position {
  /** `${variable name}/${suffix}` per state array, as tfjs names them. */
  readonly names: string[];
  readonly shape: number[];
  readonly state: Float32Array[];
}

/** A variable and its gradient, read once. */
interface Entry {
  readonly position: number;
  readonly variable: TF.Variable;
  readonly grad: Float32Array;
  /** What the step writes: the variable's own data (in place), or a copy of its values. */
  param: Float32Array;
  inPlace: boolean;
}

/** How a backend lends a tensor's own data, found once per backend instance. */
interface Access {
  /** The tensor's own values (not a copy), or null where the backend only gives copies. */
  readonly lend: ((tensor: TF.Tensor) => unknown) | null;
  /** How many tensors share a tensor's data; undefined where the backend does not say. */
  readonly refCount: ((tensor: TF.Tensor) => unknown) | undefined;
  /** Whether dataSync returns the tensor's own array (cpu), which a copy must then slice. */
  readonly dataSyncLends: boolean;
}

const accessByBackend = new WeakMap<object, Access>();

function accessOf(tf: typeof TF): Access {
  const backend = tf.backend() as TF.KernelBackend & { typedArrayFromHeap?: unknown };
  let access = accessByBackend.get(backend);
  if (access === undefined) {
    const probe = tf.tensor1d([0]);
    const dataSyncLends = probe.dataSync() === probe.dataSync();
    probe.dispose();
    const heap = backend.typedArrayFromHeap; // tfjs-backend-wasm: a view of the tensor's bytes in its heap
    const lend = typeof heap === 'function' ? (t: TF.Tensor) => heap.call(backend, t) as unknown
      : dataSyncLends ? (t: TF.Tensor) => t.dataSync() as unknown : null;
    const count = (backend as { refCount?: unknown }).refCount;
    const refCount = typeof count === 'function' ? (t: TF.Tensor) => count.call(backend, t.dataId) as unknown : undefined;
    access = { lend, refCount, dataSyncLends };
    accessByBackend.set(backend, access);
  }
  return access;
}

/**
 * A variable updated in place must share no byte with another array of the call (two variables
 * made from one Float32Array on the cpu backend, or a gradient made from a variable's array): the
 * kernel would read what it already wrote. Such params are copied. Sorted by start, an extent
 * overlaps another exactly when it starts before the furthest end of those sorted before it, or
 * the next one starts before it ends.
 */
function copyOverlapping(entries: Entry[]): void {
  const items: { extent: Extent; entry: Entry | null }[] = [];
  for (const entry of entries) {
    items.push({ extent: extentOf(entry.grad), entry: null });
    if (entry.inPlace) items.push({ extent: extentOf(entry.param), entry });
  }
  const byBuffer = new Map<ArrayBufferLike, { extent: Extent; entry: Entry | null }[]>();
  for (const item of items) {
    if (item.extent.end === item.extent.begin) continue;
    const list = byBuffer.get(item.extent.buffer);
    if (list === undefined) byBuffer.set(item.extent.buffer, [item]);
    else list.push(item);
  }
  for (const list of byBuffer.values()) {
    if (list.length < 2 || !list.some((item) => item.entry !== null)) continue;
    list.sort((a, b) => a.extent.begin - b.extent.begin);
    let furthest = -Infinity;
    for (let i = 0; i < list.length; i++) {
      const { extent, entry } = list[i]!;
      const overlaps = furthest > extent.begin || (i + 1 < list.length && list[i + 1]!.extent.begin < extent.end);
      furthest = Math.max(furthest, extent.end);
      if (overlaps && entry !== null && entry.inPlace) {
        entry.param = entry.param.slice();
        entry.inPlace = false;
      }
    }
  }
}

const sameShape = (a: readonly number[], b: readonly number[]) => a.length === b.length && a.every((n, i) => n === b[i]);

/** @internal */
export class TfjsSlots {
  private readonly positions: Position[] = [];
  /** Tensors the last getWeights returned: the optimizer owns them, as tfjs's own own their variables. */
  private lent: TF.Tensor[] = [];
  private arrays: Slot[] = [];
  private scalars = new Float32Array(0);
  private flags = new Uint32Array(0);
  private readonly lengths: number[] = [];

  constructor(private readonly tf: typeof TF, private readonly kind: TfjsKind, private readonly where: string) {}

  /** The number of positions with state. */
  get size(): number {
    return this.positions.length;
  }

  /** State array k of position i (for the kinds that rescale or read it). */
  state(i: number, k: number): Float32Array {
    return this.positions[i]!.state[k]!;
  }

  /**
   * One step: checks the whole input, runs `beforeStep`, creates missing state, runs `fill` for each
   * tensor to write its scalars and return its flags, then one kernel call, then assigns every variable.
   * @returns the number of tensors updated.
   */
  apply(
    variableGradients: TF.NamedTensorMap | readonly NamedTensor[],
    fill: (scalars: Float32Array, at: number) => number,
    beforeStep?: () => void,
  ): number {
    const tf = this.tf, where = `${this.where}.applyGradients`;
    const isList = Array.isArray(variableGradients);
    if (!isList && (variableGradients === null || typeof variableGradients !== 'object')) {
      throw new TypeError(`${where}: variableGradients must be a map of names to tensors or a list of { name, tensor }`);
    }
    // Each item, name and tensor read once.
    const names: unknown[] = [], tensors: unknown[] = [];
    if (isList) {
      const list = variableGradients as readonly NamedTensor[];
      for (let i = 0, n = list.length; i < n; i++) {
        const item: unknown = list[i];
        if (item === null || typeof item !== 'object') throw new TypeError(`${where}: variableGradients[${i}] must be a { name, tensor }`);
        names.push((item as NamedTensor).name);
        tensors.push((item as NamedTensor).tensor);
      }
    } else {
      const map = variableGradients as TF.NamedTensorMap;
      for (const name of Object.keys(map)) {
        names.push(name);
        tensors.push(map[name]);
      }
    }

    // The snapshot: every name, variable and gradient read once and checked before anything changes.
    const registered = tf.engine().registeredVariables;
    const { lend, refCount, dataSyncLends } = accessOf(tf);
    const seen = new Set<string>();
    const entries: Entry[] = [];
    const variables: TF.Variable[] = [];
    for (let i = 0; i < names.length; i++) {
      const name = names[i];
      const label = isList ? `variableGradients[${i}]` : `variableGradients['${String(name)}']`;
      if (typeof name !== 'string') throw new TypeError(`${where}: ${label}.name must be a string`);
      if (seen.has(name)) throw new RangeError(`${where}: the variable '${name}' appears twice`);
      seen.add(name);
      const variable = registered[name];
      if (variable === undefined) throw new TypeError(`${where}: ${label}: no variable named '${name}' is registered`);
      if (variable.dtype !== 'float32') throw new TypeError(`${where}: the variable '${name}' is ${variable.dtype}; only float32 variables are updated`);
      if (variable.isDisposed) throw new TypeError(`${where}: the variable '${name}' is disposed`);
      const existing = this.positions[i];
      if (existing !== undefined && !sameShape(existing.shape, variable.shape)) {
        throw new RangeError(`${where}: ${label} ('${name}') has shape [${variable.shape}], but the state at position ${i} was made for shape [${existing.shape}]`);
      }
      variables.push(variable);
      const grad = tensors[i];
      if (grad === null || grad === undefined) continue; // tfjs skips it, after making its state
      if (!(grad instanceof tf.Tensor)) throw new TypeError(`${where}: ${label} must be a tf.Tensor`);
      if (grad.isDisposed) throw new TypeError(`${where}: the gradient of '${name}' is disposed`);
      if (grad.dtype !== 'float32') throw new TypeError(`${where}: the gradient of '${name}' is ${grad.dtype}, not float32`);
      if (!sameShape(grad.shape, variable.shape)) {
        throw new RangeError(`${where}: the gradient of '${name}' has shape [${grad.shape}], the variable [${variable.shape}]`);
      }
      // Lent only by the backend that holds it: a tensor made before tf.setBackend still lives in
      // the backend it was made in (the current one counts it 0), and is read through dataSync.
      const data = lend !== null && ((refCount?.(grad) ?? 0) as number) > 0 ? lend(grad) : grad.dataSync();
      // The brand and the real length: a look-alike tensor's dataSync could return anything.
      if (!isFloat32Array(data) || realLength(data) !== variable.size) throw new TypeError(`${where}: the gradient of '${name}' did not read as ${variable.size} float32 values`);
      // In place only where the variable alone holds its data (see the top of this file).
      const count = refCount?.(variable);
      const inPlace = lend !== null && count === 1;
      const values = inPlace ? lend(variable) : variable.dataSync();
      if (!isFloat32Array(values) || realLength(values) !== variable.size) throw new TypeError(`${where}: the variable '${name}' did not read as ${variable.size} float32 values`);
      // Otherwise a copy. The current backend's dataSync already returns one (wasm, tfjs-node) for
      // its own tensors only: a variable still in the cpu backend (made before tf.setBackend) reads
      // as that backend's own array, which tensors sharing its data would see written.
      const readsCopy = !dataSyncLends && typeof count === 'number' && count > 0;
      entries.push({ position: i, variable, grad: data, param: inPlace || readsCopy ? values : values.slice(), inPlace });
    }
    copyOverlapping(entries);

    beforeStep?.();
    for (let i = this.positions.length; i < variables.length; i++) this.positions.push(this.createPosition(variables[i]!));

    const { slots, scalars: perTensor } = this.kind.kernel;
    const count = entries.length;
    this.reserve(count);
    let elements = 0;
    for (let t = 0; t < count; t++) {
      const { position, grad, param } = entries[t]!;
      const at = t * slots;
      this.arrays[at] = param;
      this.arrays[at + 1] = grad;
      const state = this.positions[position]!.state;
      for (let k = 0; k < state.length; k++) this.arrays[at + this.kind.stateSlots[k]!] = state[k]!;
      this.flags[t] = fill(this.scalars, t * perTensor);
      this.lengths[t] = param.length;
      elements += param.length;
    }
    // Nothing from the snapshot to here allocates in the backend: a wasm heap that grew would have
    // detached the views of it taken above.
    try {
      runKernel(this.kind.kernel.id, this.kind.kernel.js, this.arrays, this.scalars, this.flags, count, this.lengths,
        threadsFor('auto', elements * trafficPerElement(slots)));
    } finally {
      this.arrays.fill(null); // keep no tensor's data alive
    }
    // The new tensors of the copied variables may grow the heap; they come last.
    for (let t = 0; t < count; t++) {
      const { variable, param, inPlace } = entries[t]!;
      if (inPlace) continue;
      const next = tf.tensor(param, variable.shape, 'float32'); // takes the array, no copy on cpu
      variable.assign(next);
      next.dispose(); // the variable holds the data now
    }
    return count;
  }

  /**
   * [iterations, then every state tensor, kind by kind], as tfjs's getWeights. The tensors are
   * the optimizer's: they stay valid until the next getWeights or dispose, as tfjs's own stay
   * valid until they are replaced. `scale(k, i)` multiplies state k of position i on the way out.
   */
  weights(iterations: NamedTensor, scale?: (k: number, i: number) => number): NamedTensor[] {
    this.release();
    const out: NamedTensor[] = [iterations];
    for (let k = 0; k < this.kind.stateSuffixes.length; k++) {
      for (let i = 0; i < this.positions.length; i++) {
        const { names, shape, state } = this.positions[i]!;
        const factor = scale?.(k, i) ?? 1;
        const values = factor === 1 ? state[k]!.slice() : state[k]!.map((v) => v * factor);
        const tensor = this.tf.keep(this.tf.tensor(values, shape, 'float32'));
        this.lent.push(tensor);
        out.push({ name: names[k]!, tensor });
      }
    }
    return out;
  }

  /**
   * Reads [iterations, state tensors kind by kind] (tfjs's layout), checks it all, and only then
   * replaces the state. Returns the iteration count. `scale(k, i)` as for weights, applied on the way in.
   */
  async setWeights(weightValues: readonly NamedTensor[], scale?: (k: number, i: number) => number): Promise<number> {
    const where = `${this.where}.setWeights`;
    if (!Array.isArray(weightValues) || weightValues.length === 0) throw new TypeError(`${where}: weightValues must be a list starting with the iteration count`);
    const kinds = this.kind.stateSuffixes.length;
    const rest = weightValues.length - 1;
    if (rest % Math.max(kinds, 1) !== 0 || (kinds === 0 && rest !== 0)) {
      throw new RangeError(`${where}: ${rest} state tensors do not split into ${kinds} per variable (${this.kind.stateSuffixes.join(', ') || 'none'})`);
    }
    const tensors = weightValues.map((w, j) => {
      if (w === null || typeof w !== 'object' || !(w.tensor instanceof this.tf.Tensor) || w.tensor.isDisposed) {
        throw new TypeError(`${where}: weightValues[${j}] must be a { name, tensor } with a live tensor`);
      }
      return w;
    });
    const data = await Promise.all(tensors.map((w) => w.tensor.data()));
    const iterations = Number(data[0]![0]);
    if (!Number.isInteger(iterations) || iterations < 0) throw new RangeError(`${where}: the iteration count must be a whole number >= 0, not ${iterations}`);
    const count = kinds === 0 ? 0 : rest / kinds;
    const positions: Position[] = [];
    for (let i = 0; i < count; i++) {
      const shape = tensors[1 + i]!.tensor.shape;
      const names: string[] = [], state: Float32Array[] = [];
      for (let k = 0; k < kinds; k++) {
        const j = 1 + k * count + i;
        const { name, tensor } = tensors[j]!;
        if (tensor.dtype !== 'float32' || !sameShape(tensor.shape, shape)) {
          throw new TypeError(`${where}: weightValues[${j}] ('${name}') must be float32 of shape [${shape}] like the other state of its variable`);
        }
        const factor = scale?.(k, i) ?? 1;
        const values = Float32Array.from(data[j] as Float32Array); // a copy: on cpu data() is the tensor's own
        if (factor !== 1) for (let e = 0; e < values.length; e++) values[e] = values[e]! * factor;
        names.push(String(name));
        state.push(values);
      }
      positions.push({ names, shape: [...shape], state });
    }
    this.positions.length = 0;
    this.positions.push(...positions);
    return iterations;
  }

  /** Drops the state and the tensors lent by weights(). */
  dispose(): void {
    this.release();
    this.positions.length = 0;
  }

  private release(): void {
    for (const tensor of this.lent) tensor.dispose();
    this.lent = [];
  }

  private createPosition(variable: TF.Variable): Position {
    const n = variable.size;
    return {
      names: this.kind.stateSuffixes.map((suffix) => `${variable.name}/${suffix}`),
      shape: [...variable.shape],
      state: this.kind.stateSuffixes.map((_, k) => new Float32Array(n).fill(this.kind.initialValue?.(k) ?? 0)),
    };
  }

  private reserve(count: number): void {
    const { slots, scalars } = this.kind.kernel;
    if (this.arrays.length < count * slots) this.arrays = new Array<Slot>(count * slots).fill(null);
    if (this.scalars.length < count * scalars) this.scalars = new Float32Array(count * scalars);
    if (this.flags.length < count) this.flags = new Uint32Array(count);
  }
}
