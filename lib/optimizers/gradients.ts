/**
 * Gradient utilities: norm clipping, value clipping and the non-finite check, on both backends
 * with the same bits (native/gradients.cc), for every number of threads.
 *
 * The norms have a fixed summation order, so every ISA level, every thread count and this
 * fallback return the same float64 number. Each tensor is cut into blocks of REDUCE_BLOCK
 * elements (32768); in a block, element i is added to float64 lane i % 16, in increasing i, and
 * the 16 lanes are combined as lanes[j] += lanes[j + w] for w = 8, 4, 2, 1. A tensor's sum is
 * the sum of its blocks' in order, and the norm is the sum of the tensors' sums in order (its
 * square root for the 2-norm). Blocks can be computed anywhere, on any thread, and combined
 * afterwards; squares of float32 values are exact in float64, so the only roundings are the adds.
 */
import { runKernel, runKernelAsync, runReduce, runReduceAsync, threadsFor } from '../bridge/backend.js';
import { canShrink, isFloat32Array, realBuffer, realLength } from '../core/intrinsics.js';
import { KernelId, REDUCE_BLOCK, ReduceId, type Slot } from '../bridge/kernels.js';
import { booleanOption, busyError, checkNoOverlap, checkOptionsObject, describe, extentOf, threadsOption } from '../core/validate.js';

const f = Math.fround;
const lanes = new Float64Array(16);

function combine(l: Float64Array): number {
  for (let width = 8; width >= 1; width >>= 1) {
    for (let j = 0; j < width; j++) l[j] = l[j]! + l[j + width]!;
  }
  return l[0]!;
}

/** Sums of squares (or of |x|) block by block, tensor by tensor, as the header says. */
function blockSums(arrays: readonly Slot[], count: number, lengths: readonly number[], squares: boolean): number {
  let total = 0;
  for (let t = 0; t < count; t++) {
    const a = arrays[t]!;
    let tensorSum = 0;
    for (let begin = 0, n = lengths[t]!; begin < n; begin += REDUCE_BLOCK) {
      lanes.fill(0);
      const end = Math.min(n, begin + REDUCE_BLOCK);
      if (squares) for (let i = begin; i < end; i++) lanes[(i - begin) & 15] = lanes[(i - begin) & 15]! + a[i]! * a[i]!;
      else for (let i = begin; i < end; i++) lanes[(i - begin) & 15] = lanes[(i - begin) & 15]! + Math.abs(a[i]!);
      tensorSum = tensorSum + combine(lanes);
    }
    total = total + tensorSum;
  }
  return total;
}

/** @internal */
export function sumSquaresJs(arrays: readonly Slot[], count: number, lengths: readonly number[]): number {
  return blockSums(arrays, count, lengths, true);
}

/** @internal */
export function sumAbsJs(arrays: readonly Slot[], count: number, lengths: readonly number[]): number {
  return blockSums(arrays, count, lengths, false);
}

/**
 * The sum of x * y over pairs of arrays (x0, y0, x1, y1, ...; `count` arrays, `lengths` per array):
 * each product is exact in float64, added in the lanes and blocks of the sums above. @internal
 */
export function dotJs(arrays: readonly Slot[], count: number, lengths: readonly number[]): number {
  let total = 0;
  for (let t = 0; t + 1 < count; t += 2) {
    const x = arrays[t]!, y = arrays[t + 1]!;
    let tensorSum = 0;
    for (let begin = 0, n = lengths[t]!; begin < n; begin += REDUCE_BLOCK) {
      lanes.fill(0);
      const end = Math.min(n, begin + REDUCE_BLOCK);
      for (let i = begin; i < end; i++) lanes[(i - begin) & 15] = lanes[(i - begin) & 15]! + x[i]! * y[i]!;
      tensorSum = tensorSum + combine(lanes);
    }
    total = total + tensorSum;
  }
  return total;
}

/** @internal The maximum is exact; lanes only fix where a NaN is noticed, which cannot matter. */
export function maxAbsJs(arrays: readonly Slot[], count: number, lengths: readonly number[]): number {
  let max = 0;
  for (let t = 0; t < count; t++) {
    const a = arrays[t]!;
    for (let i = 0, n = lengths[t]!; i < n; i++) max = Math.max(max, Math.abs(a[i]!));
  }
  return max;
}

/** @internal x - x is 0 for finite x and NaN for NaN and infinities. */
export function nonFiniteJs(arrays: readonly Slot[], count: number, lengths: readonly number[]): number {
  for (let t = 0; t < count; t++) {
    const a = arrays[t]!;
    for (let i = 0, n = lengths[t]!; i < n; i++) if (a[i]! - a[i]! !== 0) return 1;
  }
  return 0;
}

function scaleJs(arrays: readonly Slot[], scalars: Float32Array, _flags: Uint32Array, count: number, lengths: readonly number[]): void {
  const factor = scalars[0]!;
  for (let t = 0; t < count; t++) {
    const a = arrays[t]!;
    for (let i = 0, n = lengths[t]!; i < n; i++) a[i] = f(a[i]! * factor);
  }
}

function clampJs(arrays: readonly Slot[], scalars: Float32Array, _flags: Uint32Array, count: number, lengths: readonly number[]): void {
  const low = scalars[0]!, high = scalars[1]!;
  for (let t = 0; t < count; t++) {
    const a = arrays[t]!;
    for (let i = 0, n = lengths[t]!; i < n; i++) a[i] = Math.min(Math.max(a[i]!, low), high);
  }
}

// Reused arguments: clipping allocates nothing per call once these have grown.
const slots: Slot[] = [];
const scalars = new Float32Array(2);
let flagWords = new Uint32Array(16);
// Plain arrays of small integers: a length read from a Float64Array is a double, and a loop
// bounded by a double runs about 10% slower in V8.
let lengths: number[] = new Array<number>(16).fill(0);
const bufferSeen = new Map<ArrayBufferLike, number>();

/**
 * The clipping function running now, if any: the scratch arrays above are shared, so a call from
 * a getter of the gradient list (or an element) being read is refused rather than let it
 * overwrite them.
 */
let running: string | null = null;

function enter(where: string): void {
  if (running !== null) throw busyError(where, running);
  running = where;
}

function grow(count: number): void {
  if (flagWords.length < count) flagWords = new Uint32Array(count * 2);
  if (lengths.length < count) lengths = new Array<number>(count * 2).fill(0);
}

/**
 * Reads the gradient list once into `slots` (every entry a Float32Array), then checks that no two
 * share memory (they are written); returns how many.
 */
function collect(where: string, grads: unknown): number {
  if (!Array.isArray(grads)) throw new TypeError(`${where}: grads must be an array of Float32Array, got ${describe(grads)}`);
  const count = (grads as unknown[]).length;
  grow(count);
  try {
    for (let i = 0; i < count; i++) {
      const g: unknown = (grads as unknown[])[i];
      if (!isFloat32Array(g)) throw new TypeError(`${where}: grads[${i}] must be a Float32Array, got ${describe(g)}`);
      slots[i] = g;
    }
    // After every read: the checks see what the computation will use. Only gradients in one
    // buffer can overlap; the sweep over their offsets runs when two share one.
    let shared = false;
    for (let i = 0; i < count; i++) {
      const g = slots[i]!;
      lengths[i] = realLength(g);
      if (count === 1) break;
      const buffer = realBuffer(g);
      if (bufferSeen.has(buffer)) shared = true;
      else bufferSeen.set(buffer, i);
    }
    if (shared) checkNoOverlap(where, (slots.slice(0, count) as Float32Array[]).map(extentOf), (i) => `grads[${i}]`);
  } catch (error) {
    release(count);
    throw error;
  } finally {
    if (count > 1) bufferSeen.clear();
  }
  return count;
}

function release(count: number): void {
  for (let i = 0; i < count; i++) slots[i] = null;
}

const CLIP_OPTIONS = ['normType', 'errorIfNonfinite', 'threads', 'totalNorm'];

/** The order of a norm: 2 (Euclidean), 1, or Infinity (the largest |g|). */
export type NormType = 1 | 2 | typeof Infinity;

/** options.normType: 2 when missing; a RangeError for another number, a TypeError for anything else. @internal */
export function readNormType(where: string, value: unknown): NormType {
  const normType = value ?? 2;
  if (normType !== 1 && normType !== 2 && normType !== Infinity) {
    const why = `${where}: options.normType must be 1, 2 or Infinity, got ${describe(normType)}`;
    throw typeof normType === 'number' ? new RangeError(why) : new TypeError(why);
  }
  return normType;
}
const NO_OPTIONS: Record<string, unknown> = Object.freeze({});

/** Options of {@link clipGradNorm}. */
export interface ClipGradNormOptions {
  /** 2 (the Euclidean norm, default), 1, or Infinity (the largest |g|). */
  normType?: 1 | 2 | typeof Infinity;
  /** Throw a RangeError, before scaling anything, when the norm is NaN or infinite. Default false. */
  errorIfNonfinite?: boolean;
  /** How many threads may share the work: a whole number >= 1 or 'auto' (as StepOptions.threads). Same bits for any. */
  threads?: number | 'auto';
  /**
   * The total norm, computed elsewhere (combineGradNormPartials, for a shard of a model): grads is
   * scaled as if the norm were its own, and nothing is read to compute one.
   */
  totalNorm?: number;
}

/**
 * torch.nn.utils.clip_grad_norm_: the norm of all gradients together, as if they were one vector;
 * when it exceeds maxNorm, every gradient is scaled in place by fl(maxNorm / (norm + 1e-6)).
 * A NaN or infinite norm scales nothing (PyTorch would multiply every gradient by NaN or 0).
 * @param grads - the gradients, distinct and non-overlapping.
 * @returns the total norm, in float64 (the same bits on every backend).
 * @throws TypeError or RangeError naming the offending argument; nothing is written then.
 */
export function clipGradNorm(grads: readonly Float32Array[], maxNorm: number, options?: ClipGradNormOptions): number {
  const where = 'clipGradNorm';
  const o = readClipOptions(where, maxNorm, options);
  enter(where);
  let count = 0;
  try {
    count = collect(where, grads);
    let elements = 0;
    for (let i = 0; i < count; i++) elements += lengths[i]!;
    const threads = threadsFor(o.threads, 4 * elements); // the norm reads each element once
    const total = o.totalNorm ?? normOf(o.normType, slots, count, lengths, threads);
    const coefficient = clipCoefficient(where, o, total);
    if (coefficient !== null && count > 0) {
      scalars[0] = coefficient;
      runKernel(KernelId.Scale, scaleJs, slots, scalars, flagWords, count, lengths, threads);
    }
    return total;
  } finally {
    release(count);
    running = null;
  }
}

/**
 * {@link clipGradNorm} off the event loop: the same norm and the same scaled bits, the norm and the
 * scaling computed on other threads while the event loop runs ('auto' threads leave it a core,
 * as stepAsync does). The arguments are read and checked before it returns (a bad one rejects
 * and changes nothing). Until it settles, the gradients must not be written, transferred or
 * resized; views of a resizable ArrayBuffer are refused. On the fallback it computes before it
 * returns.
 * @returns a promise of the total norm.
 */
export async function clipGradNormAsync(grads: readonly Float32Array[], maxNorm: number, options?: ClipGradNormOptions): Promise<number> {
  const where = 'clipGradNormAsync';
  const o = readClipOptions(where, maxNorm, options);
  enter(where);
  let count = 0, arrays: Slot[], sizes: number[];
  try {
    count = collect(where, grads);
    for (let i = 0; i < count; i++) {
      if (canShrink(slots[i]!)) throw new TypeError(`${where}: grads[${i}] is a view of a resizable ArrayBuffer, which could shrink under a thread reading it; use clipGradNorm()`);
    }
    arrays = slots.slice(0, count); // its own: the scratch is the next call's once this returns
    sizes = lengths.slice(0, count);
  } finally {
    release(count);
    running = null;
  }
  const threads = threadsFor(o.threads, 4 * sizes.reduce((a, b) => a + b, 0), 1);
  const total = o.totalNorm ?? await normOfAsync(o.normType, arrays, count, sizes, threads);
  const coefficient = clipCoefficient(where, o, total);
  if (coefficient !== null && count > 0) {
    const factor = new Float32Array([coefficient]), flags = new Uint32Array(count);
    const pending = runKernelAsync(KernelId.Scale, arrays, factor, flags, count, threads, false);
    if (pending === null) runKernel(KernelId.Scale, scaleJs, arrays, factor, flags, count, sizes, threads);
    else await pending;
  }
  return total;
}

interface ClipOptions {
  normType: NormType;
  errorIfNonfinite: boolean;
  threads: number | 'auto';
  totalNorm: number | undefined;
}

/** maxNorm and the options of clipGradNorm, read once and checked. */
function readClipOptions(where: string, maxNorm: unknown, options: unknown): ClipOptions & { maxNorm: number } {
  if (typeof maxNorm !== 'number') throw new TypeError(`${where}: maxNorm must be a number, got ${describe(maxNorm)}`);
  if (!(maxNorm >= 0) || !Number.isFinite(maxNorm)) throw new RangeError(`${where}: maxNorm must be a finite number >= 0, got ${maxNorm}`);
  const o = options === undefined ? NO_OPTIONS : checkOptionsObject(where, 'options', options, CLIP_OPTIONS);
  const normType = readNormType(where, o['normType']);
  const errorIfNonfinite = booleanOption(where, 'options.errorIfNonfinite', o['errorIfNonfinite'], false);
  const threads = threadsOption(where, 'options.threads', o['threads']);
  const given = o['totalNorm'];
  if (given !== undefined && typeof given !== 'number') throw new TypeError(`${where}: options.totalNorm must be a number, got ${describe(given)}`);
  if (typeof given === 'number' && given < 0) throw new RangeError(`${where}: options.totalNorm must be >= 0 (or NaN or Infinity), got ${given}`);
  return { maxNorm, normType, errorIfNonfinite, threads, totalNorm: given };
}

function normOf(normType: NormType, arrays: readonly Slot[], count: number, sizes: readonly number[], threads: number): number {
  return normType === 2 ? Math.sqrt(runReduce(ReduceId.SumSquares, sumSquaresJs, arrays, count, sizes, threads))
    : normType === 1 ? runReduce(ReduceId.SumAbs, sumAbsJs, arrays, count, sizes, threads)
    : runReduce(ReduceId.MaxAbs, maxAbsJs, arrays, count, sizes, threads);
}

async function normOfAsync(normType: NormType, arrays: readonly Slot[], count: number, sizes: readonly number[], threads: number): Promise<number> {
  const id = normType === 2 ? ReduceId.SumSquares : normType === 1 ? ReduceId.SumAbs : ReduceId.MaxAbs;
  const pending = runReduceAsync(id, arrays, count, threads);
  if (pending === null) return normOf(normType, arrays, count, sizes, threads);
  const sum = await pending;
  return normType === 2 ? Math.sqrt(sum) : sum;
}

/** The factor the gradients are scaled by, or null when they are left alone; throws for errorIfNonfinite. */
function clipCoefficient(where: string, o: ClipOptions & { maxNorm: number }, total: number): number | null {
  if (o.errorIfNonfinite && !Number.isFinite(total)) {
    throw new RangeError(`${where}: the total norm of order ${o.normType} of grads is ${total}`);
  }
  const clipCoef = o.maxNorm / (total + 1e-6);
  return Number.isFinite(total) && clipCoef < 1 ? clipCoef : null;
}

/**
 * torch.nn.utils.clip_grad_value_: clamps every gradient element to [-clipValue, clipValue] in
 * place (NaN stays NaN).
 * @throws TypeError or RangeError naming the offending argument; nothing is written then.
 */
export function clipGradValue(grads: readonly Float32Array[], clipValue: number): void {
  const where = 'clipGradValue';
  if (typeof clipValue !== 'number') throw new TypeError(`${where}: clipValue must be a number, got ${describe(clipValue)}`);
  if (!(clipValue >= 0) || clipValue === Infinity) throw new RangeError(`${where}: clipValue must be a finite number >= 0, got ${clipValue}`);
  enter(where);
  let count = 0;
  try {
    count = collect(where, grads);
    scalars[0] = -clipValue;
    scalars[1] = clipValue;
    if (count > 0) runKernel(KernelId.Clamp, clampJs, slots, scalars, flagWords, count, lengths);
  } finally {
    release(count);
    running = null;
  }
}

const finiteSlots: Slot[] = [];
let finiteLengths: number[] = new Array<number>(16).fill(0);

/**
 * Whether every element of every gradient given is finite: one pass. `grads` is a validated
 * snapshot (null where a param has no gradient) and `gradLengths` the lengths checked. @internal
 */
export function allFinite(grads: readonly Slot[], n: number, gradLengths: readonly number[], threads = 1): boolean {
  // Its own scratch: it runs inside a step, which may itself run inside a clipping call's getter.
  if (finiteLengths.length < n) finiteLengths = new Array<number>(n * 2).fill(0);
  let count = 0;
  for (let i = 0; i < n; i++) {
    const g = grads[i];
    if (!g) continue;
    finiteSlots[count] = g;
    finiteLengths[count++] = gradLengths[i]!;
  }
  try {
    return runReduce(ReduceId.NonFinite, nonFiniteJs, finiteSlots, count, finiteLengths, threads) === 0;
  } finally {
    for (let i = 0; i < count; i++) finiteSlots[i] = null;
  }
}

