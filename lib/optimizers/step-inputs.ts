/**
 * The checks of a step's inputs, apart from the optimizer that owns them: the gradient list read
 * once into a snapshot, each gradient and param checked against the lengths they must have and
 * the memory they must not share, and, for a step on another thread, the arrays whose memory
 * could go under it. @internal
 */
import type { Slot } from '../bridge/kernels.js';
import { canShrink, isFloat32Array, realBuffer, realByteOffset, realLength } from '../core/intrinsics.js';
import { describe } from '../core/validate.js';

/**
 * Copies the gradient list into `into` (one entry per param), reading its length and each entry
 * once. With `expected` (the gradients a step plan was made with, checked then), returns true and
 * leaves `into` alone when every entry is the same as there: a planned step of many tensors reads
 * each entry and compares it, nothing more. Otherwise fills `into` and returns false.
 */
export function readGradients(where: string, grads: unknown, n: number, into: Slot[], expected?: readonly Slot[]): boolean {
  if (!Array.isArray(grads)) throw new TypeError(`${where}: grads must be an array, got ${describe(grads)}`);
  const given = (grads as unknown[]).length;
  if (given !== n) throw new RangeError(`${where}: grads has ${given} entries, expected one per param (${n})`);
  let i = 0, grad: unknown = null;
  if (expected !== undefined) {
    for (; i < n; i++) {
      grad = (grads as unknown[])[i];
      if (grad !== expected[i]) break;
    }
    if (i === n) return true;
    for (let j = 0; j < i; j++) into[j] = expected[j]!; // what was read so far, checked before
  } else if (n > 0) {
    grad = (grads as unknown[])[0];
  }
  // Entry i has been read into `grad`; every later one is read here, once.
  for (; i < n; grad = ++i < n ? (grads as unknown[])[i] : null) {
    if (grad !== null && grad !== undefined && !isFloat32Array(grad)) {
      throw new TypeError(`${where}: grads[${i}] must be a Float32Array, null or undefined, got ${describe(grad)}`);
    }
    into[i] = (grad as Float32Array | null | undefined) ?? null;
  }
  return false;
}

/** What checkGradients checks the gradients against. */
export interface ParamLayout {
  readonly params: readonly Float32Array[];
  /** Each param's length when it was given. */
  readonly lengths: readonly number[];
  /** The params in each buffer, and the param owning each state buffer. */
  readonly paramsByBuffer: ReadonlyMap<ArrayBufferLike, readonly number[]>;
  readonly stateOwner: ReadonlyMap<ArrayBufferLike, number>;
  /** For a message: the param whose state overlaps bytes [begin, end) of `buffer`, if one does. */
  readonly stateOverlapping: (buffer: ArrayBufferLike, begin: number, end: number) => number | undefined;
}

/**
 * Each param with a gradient still as long as it was given, each gradient as long as its param
 * and sharing no memory with any param or state buffer.
 */
export function checkGradients(where: string, grads: readonly Slot[], layout: ParamLayout): void {
  const { params, lengths, paramsByBuffer, stateOwner } = layout;
  for (let i = 0; i < params.length; i++) {
    const grad = grads[i];
    if (!grad) continue;
    const paramLength = realLength(params[i]!);
    if (paramLength !== lengths[i]) {
      throw new RangeError(
        `${where}: params[${i}] has ${paramLength} elements, it had ${lengths[i]} when it was given to the optimizer (its buffer was resized or detached)`,
      );
    }
    const length = realLength(grad);
    if (length !== lengths[i]) throw new RangeError(`${where}: grads[${i}] has ${length} elements, params[${i}] has ${lengths[i]}`);
    const buffer = realBuffer(grad);
    const sharing = paramsByBuffer.get(buffer);
    if (sharing && length > 0) {
      const begin = realByteOffset(grad), end = begin + 4 * length;
      for (const j of sharing) {
        const p = params[j]!, pBegin = realByteOffset(p), pEnd = pBegin + 4 * realLength(p);
        if (begin < pEnd && pBegin < end) throw new RangeError(`${where}: grads[${i}] overlaps params[${j}] in memory`);
      }
    }
    const owner = stateOwner.get(buffer);
    if (owner !== undefined && length > 0) {
      // Small state buffers share one ArrayBuffer (optimizer-state.ts): name the one it overlaps.
      const begin = realByteOffset(grad), precise = layout.stateOverlapping(buffer, begin, begin + 4 * length);
      throw new RangeError(`${where}: grads[${i}] shares memory with the optimizer's state of params[${precise ?? owner}]`);
    }
  }
}

/**
 * Refuses arrays a step on another thread cannot be given: views of a resizable ArrayBuffer,
 * which can shrink, and its memory go, while the other thread writes it. `arrays` holds `slots`
 * entries per staged tensor; `stepped[t]` is the param index of staged tensor t.
 */
export function refuseShrinkable(where: string, arrays: readonly Slot[], count: number, slots: number, stepped: readonly number[]): void {
  for (let k = 0; k < count * slots; k++) {
    const array = arrays[k];
    if (array && canShrink(array)) {
      const i = stepped[Math.floor(k / slots)]!;
      const what = k % slots === 0 ? `params[${i}]` : k % slots === 1 ? `grads[${i}]` : `the state of params[${i}]`;
      throw new TypeError(`${where}: ${what} is a view of a resizable ArrayBuffer, which could shrink under a step running on another thread; use step()`);
    }
  }
}
