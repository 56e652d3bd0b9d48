/**
 * The layout of the arguments every kernel takes, native or TypeScript: for each tensor a fixed
 * number of array slots (param, grad, state...), of float32 scalars and one word of flags.
 * Mirrors native/kernels.h; test/native.test.ts checks both sides agree.
 * @internal
 */

/** One array slot: a Float32Array, or null where the flags need none. */
export type Slot = Float32Array | null;

/**
 * A kernel run over `count` tensors, each with its slots, scalars, flags and length at offset t.
 * The lengths are the validated snapshot's: the TypeScript kernels loop over them, never over an
 * array's `length` property (which a caller could have redefined); the native kernels read the
 * same lengths from the arrays' internal slots.
 */
export type KernelFn = (arrays: readonly Slot[], scalars: Float32Array, flags: Uint32Array, count: number, lengths: readonly number[]) => void;

/** A reduction over the first `count` arrays, each of the length given (see KernelFn). */
export type ReduceFn = (arrays: readonly Slot[], count: number, lengths: readonly number[]) => number;

/** Kernel ids, the order of KernelId in native/kernels.h. */
export const KernelId = {
  Adam: 0, Adagrad: 1, Rmsprop: 2, Sgd: 3, Traffic: 4, FmaProbe: 5,
  Adadelta: 6, Adamax: 7, Nadam: 8, Radam: 9, Lion: 10, Scale: 11, Clamp: 12, Swats: 13,
} as const;
export type KernelId = (typeof KernelId)[keyof typeof KernelId];

/**
 * The block of the reductions and of the split of a step over threads (kBlock in
 * native/kernels.h): tensors are cut at multiples of it, whatever the number of threads.
 */
export const REDUCE_BLOCK = 1 << 15;

/** Reduction ids, the order of ReduceId in native/kernels.h. */
export const ReduceId = { SumSquares: 0, SumAbs: 1, MaxAbs: 2, NonFinite: 3, ReadPass: 4, Dot: 5 } as const;
export type ReduceId = (typeof ReduceId)[keyof typeof ReduceId];

/** Flags shared by every optimizer kernel. */
export const FLAG_MAXIMIZE = 1 << 0;
export const FLAG_WEIGHT_DECAY = 1 << 1;
export const FLAG_DECOUPLED_DECAY = 1 << 2;
export const FLAG_EPS_INSIDE_SQRT = 1 << 7;

export const ADAM = {
  slots: 5,
  param: 0, grad: 1, expAvg: 2, expAvgSq: 3, maxExpAvgSq: 4,
  scalars: 10,
  beta1: 0, oneMinusBeta1: 1, beta2: 2, oneMinusBeta2: 3, weightDecay: 4, decayFactor: 5,
  negStepSize: 6, biasCorrection2Sqrt: 7, eps: 8, biasCorrection2: 9,
  flagAmsgrad: 1 << 3,
} as const;

export const ADAGRAD = {
  slots: 3,
  param: 0, grad: 1, sum: 2,
  scalars: 3,
  weightDecay: 0, negClr: 1, eps: 2,
} as const;

export const RMSPROP = {
  slots: 5,
  param: 0, grad: 1, squareAvg: 2, gradAvg: 3, momentumBuffer: 4,
  scalars: 6,
  alpha: 0, oneMinusAlpha: 1, weightDecay: 2, momentum: 3, negLr: 4, eps: 5,
  flagCentered: 1 << 2,
  flagMomentum: 1 << 3,
} as const;

export const SGD = {
  slots: 3,
  param: 0, grad: 1, momentumBuffer: 2,
  scalars: 4,
  weightDecay: 0, momentum: 1, oneMinusDampening: 2, negLr: 3,
  flagMomentum: 1 << 2,
  flagNesterov: 1 << 3,
  flagFirstStep: 1 << 4,
} as const;

export const ADADELTA = {
  slots: 4,
  param: 0, grad: 1, squareAvg: 2, accDelta: 3,
  scalars: 5,
  rho: 0, oneMinusRho: 1, weightDecay: 2, negLr: 3, eps: 4,
  flagPreviousSquareAvg: 1 << 3,
} as const;

export const ADAMAX = {
  slots: 4,
  param: 0, grad: 1, expAvg: 2, expInf: 3,
  scalars: 6,
  beta1: 0, oneMinusBeta1: 1, beta2: 2, weightDecay: 3, negClr: 4, eps: 5,
  flagEpsOutsideMax: 1 << 3,
} as const;

export const NADAM = {
  slots: 4,
  param: 0, grad: 1, expAvg: 2, expAvgSq: 3,
  scalars: 10,
  beta1: 0, oneMinusBeta1: 1, beta2: 2, oneMinusBeta2: 3, weightDecay: 4, decayFactor: 5,
  biasCorrection2: 6, eps: 7, gradCoefficient: 8, expAvgCoefficient: 9,
} as const;

export const RADAM = {
  slots: 4,
  param: 0, grad: 1, expAvg: 2, expAvgSq: 3,
  scalars: 11,
  beta1: 0, oneMinusBeta1: 1, beta2: 2, oneMinusBeta2: 3, weightDecay: 4, decayFactor: 5,
  biasCorrection1: 6, lr: 7, eps: 8, biasCorrection2Sqrt: 9, rect: 10,
  flagRectified: 1 << 3,
} as const;

export const LION = {
  slots: 3,
  param: 0, grad: 1, expAvg: 2,
  scalars: 6,
  beta1: 0, oneMinusBeta1: 1, beta2: 2, oneMinusBeta2: 3, decayFactor: 4, negLr: 5,
} as const;

/** SWATS: the update slot is Adam's step in the Adam phase, SGD's momentum in the SGD phase. */
export const SWATS = {
  slots: 5,
  param: 0, grad: 1, expAvg: 2, expAvgSq: 3, update: 4,
  scalars: 10,
  beta1: 0, oneMinusBeta1: 1, beta2: 2, oneMinusBeta2: 3, weightDecay: 4, decayFactor: 5,
  negStepSize: 6, biasCorrection2Sqrt: 7, eps: 8, negSgdLr: 9,
  flagSgdPhase: 1 << 3,
} as const;

/** The benchmark's same-traffic loop: flags = reads | writes << 8. */
export const TRAFFIC = { slots: 5, scalars: 1 } as const;

/** For the tests: slot 0 = fma(slot 0, slot 1, slot 2). */
export const FMA_PROBE = { slots: 3, scalars: 0 } as const;

/** Gradient clipping: slot 0 scaled by scalar 0, or clamped to [scalar 0, scalar 1]. */
export const SCALE = { slots: 1, scalars: 1 } as const;
export const CLAMP = { slots: 1, scalars: 2 } as const;
