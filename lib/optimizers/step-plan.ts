/**
 * A step plan: the kernel arguments of a step, kept while the next steps are given the same
 * gradient arrays, so that a step of thousands of small tensors costs little per tensor.
 *
 * A full step reads, checks and stages every tensor and hands the native side one array per slot
 * of each (about 90 ns of N-API per array). When two steps in a row are given the same gradient
 * arrays, the optimizer makes a plan of the second one:
 * - tensors of one scalar block (one group at one step count) whose arrays lie end to end in the
 *   same buffers (views of one ArrayBuffer, in param order, and state made together: see
 *   rehomeState) are merged into one task over a view of all of them: every kernel is
 *   elementwise, so the bits are the same;
 * - the native side reads the arrays once (native/plan.cc) and keeps their pointers.
 * A step with the plan then checks that each gradient is the same array as before and that every
 * buffer the plan touches still has its byte length (nothing detached, nothing resized), prepares
 * the scalars once per block, and runs one native call. Anything else (other arrays, a buffer
 * changed, options that change a kernel's flags, a group added, a state loaded) takes the full
 * step, which checks everything as before.
 * @internal
 */
import type { NativePlan } from '../bridge/backend.js';
import type { Slot } from '../bridge/kernels.js';
import { canShrink, isSharedBuffer, realBuffer, realByteLength, realByteOffset } from '../core/intrinsics.js';

export interface StepPlan {
  /** The gradient of each param the plan was made with (null: none); compared by identity. */
  readonly grads: readonly Slot[];
  /** Every buffer the plan's arrays view, whether it is shared, and its byte length then. */
  readonly buffers: readonly ArrayBufferLike[];
  readonly shared: readonly boolean[];
  readonly byteLengths: readonly number[];
  /** The tasks: `slots` arrays each (merged views), lengths, flags and scalar blocks. */
  readonly arrays: Slot[];
  readonly lengths: readonly number[];
  readonly flags: Uint32Array;
  readonly blocks: Uint32Array;
  readonly count: number;
  /** Each task's gradient: what the non-finite check reads. */
  readonly gradViews: readonly Slot[];
  /** Per block: the param its scalars are prepared for, where its first task's state slots start in `arrays`, its flags. */
  readonly blockParams: readonly number[];
  readonly blockAt: readonly number[];
  readonly blockFlags: Uint32Array;
  /** The scalars of each block (prepared every step), and of each task (for the TypeScript kernels). */
  readonly blockScalars: Float32Array;
  readonly taskScalars: Float32Array;
  /** The params stepped, in order, and their elements. */
  readonly stepped: readonly number[];
  readonly elements: number;
  /** Whether an array views a resizable buffer (stepAsync then takes the full step, which refuses it). */
  readonly shrinkable: boolean;
  /** The addon's copy of the tasks, made at the plan's first native step. */
  native: NativePlan | null;
}

/** What a full step staged, as the plan is made from it. */
export interface StagedStep {
  readonly grads: readonly Slot[];
  readonly arrays: readonly Slot[];
  readonly flags: Uint32Array;
  readonly lengths: readonly number[];
  readonly stepped: readonly number[];
  /** Per staged tensor: its scalar block (the same number for tensors that share scalars, in runs). */
  readonly blockOf: readonly number[];
  readonly count: number;
  readonly slots: number;
  readonly scalars: number;
}

/** Whether array `a` starts where a task's slot ends: same buffer, next byte. */
function continues(a: Float32Array, buffer: ArrayBufferLike, end: number): boolean {
  return realBuffer(a) === buffer && realByteOffset(a) === end && !canShrink(a);
}

/** Makes the plan of a staged step (after it ran): merges tensors, lists buffers. Throws nothing. */
export function makePlan(staged: StagedStep): StepPlan {
  const { slots, count: stagedCount } = staged;
  const arrays: Slot[] = [], lengths: number[] = [], flags: number[] = [], blocks: number[] = [];
  const blockParams: number[] = [], blockAt: number[] = [], blockFlags: number[] = [];
  // The task being built: per slot its buffer, first byte and end byte, and its tensors.
  const taskBuffers: (ArrayBufferLike | null)[] = new Array<ArrayBufferLike | null>(slots).fill(null);
  const taskStart: number[] = new Array<number>(slots).fill(0), taskEnd: number[] = new Array<number>(slots).fill(0);
  let first = 0, length = 0;
  const close = (end: number): void => {
    for (let k = 0; k < slots; k++) {
      const original = staged.arrays[first * slots + k] ?? null;
      arrays.push(end - first === 1 || original === null ? original : new Float32Array(taskBuffers[k]!, taskStart[k]!, length));
    }
    lengths.push(length);
    flags.push(staged.flags[first]!);
    blocks.push(staged.blockOf[first]!);
  };
  for (let t = 0; t < stagedCount; t++) {
    const merges = t > 0 && staged.blockOf[t] === staged.blockOf[t - 1] && staged.flags[t] === staged.flags[t - 1] && mergeable(t);
    if (!merges) {
      if (t > 0) close(t);
      first = t;
      length = 0;
      for (let k = 0; k < slots; k++) {
        const a = staged.arrays[t * slots + k] ?? null;
        taskBuffers[k] = a && realBuffer(a);
        taskStart[k] = taskEnd[k] = a ? realByteOffset(a) : 0;
      }
      if (t === 0 || staged.blockOf[t] !== staged.blockOf[t - 1]) {
        blockParams.push(staged.stepped[t]!);
        blockAt.push(lengths.length * slots + 2);
        blockFlags.push(staged.flags[t]!);
      }
    }
    length += staged.lengths[t]!;
    for (let k = 0; k < slots; k++) taskEnd[k] = taskEnd[k]! + 4 * staged.lengths[t]!;
  }
  if (stagedCount > 0) close(stagedCount);

  function mergeable(t: number): boolean {
    for (let k = 0; k < slots; k++) {
      const a = staged.arrays[t * slots + k] ?? null, buffer = taskBuffers[k] ?? null;
      if (a === null ? buffer !== null : buffer === null || !continues(a, buffer, taskEnd[k]!)) return false;
    }
    return true;
  }

  // The native plan keeps a pointer to the scalars too: their buffer is checked with the others.
  const blockScalars = new Float32Array(blockParams.length * staged.scalars);
  const buffers: ArrayBufferLike[] = [blockScalars.buffer], seen = new Set<ArrayBufferLike>(buffers);
  let shrinkable = false;
  for (const a of arrays) {
    if (a === null) continue;
    shrinkable ||= canShrink(a);
    const buffer = realBuffer(a);
    if (!seen.has(buffer)) seen.add(buffer), buffers.push(buffer);
  }
  const shared = buffers.map(isSharedBuffer);
  const count = lengths.length;
  return {
    grads: staged.grads.slice(),
    buffers, shared, byteLengths: buffers.map((b, k) => realByteLength(b, shared[k]!)),
    arrays, lengths, flags: Uint32Array.from(flags), blocks: Uint32Array.from(blocks), count,
    gradViews: lengths.map((_, t) => arrays[t * slots + 1] ?? null),
    blockParams, blockAt, blockFlags: Uint32Array.from(blockFlags),
    blockScalars,
    taskScalars: new Float32Array(count * staged.scalars),
    stepped: staged.stepped.slice(0, stagedCount),
    elements: lengths.reduce((a, b) => a + b, 0),
    shrinkable,
    native: null,
  };
}

/** Whether every buffer of the plan still has its byte length: nothing detached or resized. */
export function planIntact(plan: StepPlan): boolean {
  const { buffers, shared, byteLengths } = plan;
  for (let k = 0; k < buffers.length; k++) {
    if (realByteLength(buffers[k]!, shared[k]!) !== byteLengths[k]) return false;
  }
  return true;
}

/** Copies each block's scalars to each of its tasks, for the kernels that read one block per tensor. */
export function fillTaskScalars(plan: StepPlan, perTensor: number): void {
  const { blocks, blockScalars, taskScalars, count } = plan;
  for (let t = 0; t < count; t++) {
    const from = blocks[t]! * perTensor, to = t * perTensor;
    for (let j = 0; j < perTensor; j++) taskScalars[to + j] = blockScalars[from + j]!;
  }
}
