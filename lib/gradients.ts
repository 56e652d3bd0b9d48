/**
 * Gradient utilities: norm clipping, value clipping and the non-finite check, on both backends
 * with the same bits (native/gradients.cc).
 *
 * The norms have a fixed summation order, so every ISA level and this fallback return the same
 * float64 number: element i of a tensor is added to float64 lane i % 16, in increasing i, the
 * lanes continuing from tensor to tensor; the 16 lanes are then combined as
 * lanes[j] += lanes[j + w] for w = 8, 4, 2, 1, and the norm is lanes[0] (its square root for the
 * 2-norm). Squares of float32 values are exact in float64, so the only roundings are the adds.
 */
import { runKernel, runReduce } from './backend.js';
import { KernelId, ReduceId, type Slot } from './kernels.js';
import { checkFloat32Array, overlaps } from './validate.js';

const f = Math.fround;
const lanes = new Float64Array(16);

function combine(l: Float64Array): number {
  for (let width = 8; width >= 1; width >>= 1) {
    for (let j = 0; j < width; j++) l[j] = l[j]! + l[j + width]!;
  }
  return l[0]!;
}

/** @internal */
export function sumSquaresJs(arrays: readonly Float32Array[], count: number): number {
  lanes.fill(0);
  for (let t = 0; t < count; t++) {
    const a = arrays[t]!;
    for (let i = 0; i < a.length; i++) lanes[i & 15] = lanes[i & 15]! + a[i]! * a[i]!;
  }
  return combine(lanes);
}

/** @internal */
export function sumAbsJs(arrays: readonly Float32Array[], count: number): number {
  lanes.fill(0);
  for (let t = 0; t < count; t++) {
    const a = arrays[t]!;
    for (let i = 0; i < a.length; i++) lanes[i & 15] = lanes[i & 15]! + Math.abs(a[i]!);
  }
  return combine(lanes);
}

/** @internal The maximum is exact; lanes only fix where a NaN is noticed, which cannot matter. */
export function maxAbsJs(arrays: readonly Float32Array[], count: number): number {
  let max = 0;
  for (let t = 0; t < count; t++) {
    const a = arrays[t]!;
    for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i]!));
  }
  return max;
}

/** @internal x - x is 0 for finite x and NaN for NaN and infinities. */
export function nonFiniteJs(arrays: readonly Float32Array[], count: number): number {
  for (let t = 0; t < count; t++) {
    const a = arrays[t]!;
    for (let i = 0; i < a.length; i++) if (a[i]! - a[i]! !== 0) return 1;
  }
  return 0;
}

function scaleJs(arrays: readonly Slot[], scalars: Float32Array, _flags: Uint32Array, count: number): void {
  const factor = scalars[0]!;
  for (let t = 0; t < count; t++) {
    const a = arrays[t]!;
    for (let i = 0; i < a.length; i++) a[i] = f(a[i]! * factor);
  }
}

function clampJs(arrays: readonly Slot[], scalars: Float32Array, _flags: Uint32Array, count: number): void {
  const low = scalars[0]!, high = scalars[1]!;
  for (let t = 0; t < count; t++) {
    const a = arrays[t]!;
    for (let i = 0; i < a.length; i++) a[i] = Math.min(Math.max(a[i]!, low), high);
  }
}

// Reused arguments: clipping allocates nothing per call once these have grown.
const slots: Slot[] = [];
const scalars = new Float32Array(2);
let flagWords = new Uint32Array(16);

/** Every gradient given, checked, in `slots`; returns how many. Written ones must not overlap. */
function collect(where: string, grads: unknown): number {
  if (!Array.isArray(grads)) throw new TypeError(`${where}: grads must be an array of Float32Array`);
  for (let i = 0; i < grads.length; i++) {
    const g = checkFloat32Array(where, `grads[${i}]`, grads[i]);
    for (let j = 0; j < i; j++) {
      if (g === grads[j] || overlaps(g, grads[j] as Float32Array)) throw new RangeError(`${where}: grads[${i}] overlaps grads[${j}] in memory`);
    }
  }
  for (let i = 0; i < grads.length; i++) slots[i] = grads[i] as Float32Array;
  if (flagWords.length < grads.length) flagWords = new Uint32Array(grads.length * 2);
  return grads.length;
}

function release(count: number): void {
  for (let i = 0; i < count; i++) slots[i] = null;
}

/** Options of {@link clipGradNorm}. */
export interface ClipGradNormOptions {
  /** 2 (the Euclidean norm, default), 1, or Infinity (the largest |g|). */
  normType?: 1 | 2 | typeof Infinity;
  /** Throw a RangeError, before scaling anything, when the norm is NaN or infinite. Default false. */
  errorIfNonfinite?: boolean;
}

/**
 * torch.nn.utils.clip_grad_norm_: the norm of all gradients together, as if they were one vector;
 * when it exceeds maxNorm, every gradient is scaled in place by fl(maxNorm / (norm + 1e-6)).
 * A NaN or infinite norm scales nothing (PyTorch would multiply every gradient by NaN or 0).
 * @param grads - the gradients, distinct and non-overlapping.
 * @returns the total norm, in float64 (the same bits on every backend).
 * @throws TypeError or RangeError naming the offending argument; nothing is written then.
 */
export function clipGradNorm(grads: readonly Float32Array[], maxNorm: number, options: ClipGradNormOptions = {}): number {
  const where = 'clipGradNorm';
  if (typeof maxNorm !== 'number') throw new TypeError(`${where}: maxNorm must be a number`);
  if (!(maxNorm >= 0) || !Number.isFinite(maxNorm)) throw new RangeError(`${where}: maxNorm must be a finite number >= 0, got ${maxNorm}`);
  if (options === null || typeof options !== 'object') throw new TypeError(`${where}: options must be an object`);
  for (const key of Object.keys(options)) {
    if (key !== 'normType' && key !== 'errorIfNonfinite') throw new TypeError(`${where}: unknown option options.${key} (known: normType, errorIfNonfinite)`);
  }
  const normType = options.normType ?? 2;
  if (normType !== 1 && normType !== 2 && normType !== Infinity) {
    throw new RangeError(`${where}: options.normType must be 1, 2 or Infinity, got ${String(normType)}`);
  }
  if (options.errorIfNonfinite !== undefined && typeof options.errorIfNonfinite !== 'boolean') {
    throw new TypeError(`${where}: options.errorIfNonfinite must be a boolean`);
  }
  const count = collect(where, grads);
  try {
    const arrays = slots as Float32Array[];
    const total =
      normType === 2 ? Math.sqrt(runReduce(ReduceId.SumSquares, sumSquaresJs, arrays, count))
      : normType === 1 ? runReduce(ReduceId.SumAbs, sumAbsJs, arrays, count)
      : runReduce(ReduceId.MaxAbs, maxAbsJs, arrays, count);
    if (options.errorIfNonfinite && !Number.isFinite(total)) {
      throw new RangeError(`${where}: the total norm of order ${normType} is ${total}`);
    }
    const clipCoef = maxNorm / (total + 1e-6);
    if (Number.isFinite(total) && clipCoef < 1 && count > 0) {
      scalars[0] = clipCoef;
      runKernel(KernelId.Scale, scaleJs, slots, scalars, flagWords, count);
    }
    return total;
  } finally {
    release(count);
  }
}

/**
 * torch.nn.utils.clip_grad_value_: clamps every gradient element to [-clipValue, clipValue] in
 * place (NaN stays NaN).
 * @throws TypeError or RangeError naming the offending argument; nothing is written then.
 */
export function clipGradValue(grads: readonly Float32Array[], clipValue: number): void {
  const where = 'clipGradValue';
  if (typeof clipValue !== 'number') throw new TypeError(`${where}: clipValue must be a number`);
  if (!(clipValue >= 0) || clipValue === Infinity) throw new RangeError(`${where}: clipValue must be a finite number >= 0, got ${clipValue}`);
  const count = collect(where, grads);
  try {
    scalars[0] = -clipValue;
    scalars[1] = clipValue;
    if (count > 0) runKernel(KernelId.Clamp, clampJs, slots, scalars, flagWords, count);
  } finally {
    release(count);
  }
}

/** Whether every element of every gradient given is finite: one pass. @internal */
export function allFinite(grads: readonly (Float32Array | null | undefined)[]): boolean {
  let count = 0;
  for (const g of grads) if (g) slots[count++] = g;
  try {
    return runReduce(ReduceId.NonFinite, nonFiniteJs, slots as Float32Array[], count) === 0;
  } finally {
    release(count);
  }
}
