/**
 * Adadelta (torch.optim.Adadelta).
 *
 * The float32 specification: every line is one IEEE float32 operation, in this order; the native
 * kernels (native/adadelta.cc) compute the same bits at every instruction-set level.
 *
 *   g     = maximize ? -grad : grad
 *   g     = fma(p, weightDecay, g)                   weightDecay != 0   (grad.add(p, alpha=wd))
 *   sq    = fma((1 - rho) * g, g, sq * rho)          (sq.mul_(rho).addcmul_(g, g, value=1-rho))
 *   std   = sqrt(sq + eps)                           (previousSquareAvg: sq as it was before this step)
 *   delta = (sqrt(acc + eps) / std) * g
 *   acc   = fma((1 - rho) * delta, delta, acc * rho)
 *   p     = fma(delta, -lr, p)                       (p.add_(delta, alpha=-lr))
 *
 * fma(a, b, c) is a*b + c rounded once, where PyTorch's vectorized CPU kernels fuse (see
 * lib/optimizers/adam.ts); 1 - rho and -lr are computed in float64 and rounded once.
 *
 * previousSquareAvg is TensorFlow.js's order (tf.train.adadelta divides by the square average of
 * the steps before, not by the one this gradient has just entered); simd-optim/tfjs uses it.
 */
import { fmaf } from '../core/float32.js';
import { ADADELTA, FLAG_MAXIMIZE, FLAG_WEIGHT_DECAY, KernelId, type Slot } from '../bridge/kernels.js';
import { bool, num, type OptionSpec } from '../core/options.js';
import {
  ALL_REQUIRED, Optimizer, type OptimizerDefinition, type ParamGroupInit,
  type StateRecord, type StepOptions,
} from './optimizer.js';
import { functionalUpdate } from './functional.js';

const f = Math.fround;

/** Options of Adadelta, PyTorch's names in camelCase. */
export interface AdadeltaOptions {
  /** Coefficient that scales delta before it is applied. Default 1.0. */
  lr?: number;
  /** Coefficient of the running averages of squared gradients and updates. Default 0.9. */
  rho?: number;
  /** Added inside the square roots for numerical stability. Default 1e-6. */
  eps?: number;
  /** L2 penalty added to the gradient. Default 0. */
  weightDecay?: number;
  /** Maximize the objective instead of minimizing it. Default false. */
  maximize?: boolean;
  /**
   * Divide by the square average as it was before this step's gradient entered it, as
   * TensorFlow.js's Adadelta does (PyTorch and Keras use the updated one). Default false.
   */
  previousSquareAvg?: boolean;
}

/** Per-param state of Adadelta. */
export interface AdadeltaState {
  step: number;
  squareAvg: Float32Array;
  accDelta: Float32Array;
}

const SPEC: OptionSpec<AdadeltaOptions> = {
  options: {
    lr: [1.0, num({ min: 0 })],
    rho: [0.9, num({ min: 0, max: 1 })],
    eps: [1e-6, num({ min: 0 })],
    weightDecay: [0, num({ min: 0 })],
    maximize: [false, bool],
    previousSquareAvg: [false, bool],
  },
};

/** Writes one tensor's scalars and returns its flags (simd-optim/tfjs uses it too). @internal */
export function adadeltaScalars(o: Required<AdadeltaOptions>, s: Float32Array, at: number): number {
  s[at + ADADELTA.rho] = o.rho;
  s[at + ADADELTA.oneMinusRho] = 1 - o.rho;
  s[at + ADADELTA.weightDecay] = o.weightDecay;
  s[at + ADADELTA.negLr] = -o.lr;
  s[at + ADADELTA.eps] = o.eps;
  return (o.maximize ? FLAG_MAXIMIZE : 0) | (o.weightDecay !== 0 ? FLAG_WEIGHT_DECAY : 0)
    | (o.previousSquareAvg ? ADADELTA.flagPreviousSquareAvg : 0);
}

// The loop lives in its own function with typed-array parameters, so V8 knows the element kind of
// every array. The scalars are read from the Float32Array here, not passed in: doubles passed to a
// call V8 does not inline are boxed, six heap numbers per tensor per step (measured: 37 minor GCs
// in 200,000 steps of 8 tensors; none now, and 10% faster at 64K elements).
function adadeltaTensor(
  n: number,
  param: Float32Array,
  grad: Float32Array,
  squareAvg: Float32Array,
  accDelta: Float32Array,
  s: Float32Array,
  at: number,
  flags: number,
): void {
  const rho = s[at + ADADELTA.rho]!, oneMinusRho = s[at + ADADELTA.oneMinusRho]!;
  const weightDecay = s[at + ADADELTA.weightDecay]!, negLr = s[at + ADADELTA.negLr]!, eps = s[at + ADADELTA.eps]!;
  const maximize = (flags & FLAG_MAXIMIZE) !== 0;
  const decay = (flags & FLAG_WEIGHT_DECAY) !== 0;
  const previous = (flags & ADADELTA.flagPreviousSquareAvg) !== 0;
  for (let i = 0; i < n; i++) {
    let p = param[i]!;
    let g = maximize ? -grad[i]! : grad[i]!;
    if (decay) g = fmaf(p, weightDecay, g);
    const sqBefore = squareAvg[i]!;
    const sq = fmaf(f(oneMinusRho * g), g, f(sqBefore * rho));
    const std = f(Math.sqrt(f((previous ? sqBefore : sq) + eps)));
    const acc = accDelta[i]!;
    const delta = f(f(f(Math.sqrt(f(acc + eps))) / std) * g);
    p = fmaf(delta, negLr, p);
    squareAvg[i] = sq;
    accDelta[i] = fmaf(f(oneMinusRho * delta), delta, f(acc * rho));
    param[i] = p;
  }
}

/** The TypeScript kernel: the executable specification of native/adadelta.cc. @internal */
export function adadeltaKernelJs(arrays: readonly Slot[], scalars: Float32Array, flags: Uint32Array, count: number, lengths: readonly number[]): void {
  for (let t = 0; t < count; t++) {
    const a = t * ADADELTA.slots, s = t * ADADELTA.scalars;
    adadeltaTensor(
      lengths[t]!,
      arrays[a + ADADELTA.param]!, arrays[a + ADADELTA.grad]!, arrays[a + ADADELTA.squareAvg]!, arrays[a + ADADELTA.accDelta]!,
      scalars, s, flags[t]!,
    );
  }
}

const KERNEL = { id: KernelId.Adadelta, js: adadeltaKernelJs, slots: ADADELTA.slots, scalars: ADADELTA.scalars } as const;
const DEFINITION: OptimizerDefinition<AdadeltaOptions> = {
  name: 'Adadelta', kernel: KERNEL, spec: SPEC, bufferNames: ['square_avg', 'acc_delta'], scalarsByStep: true,
  bufferUse: () => ALL_REQUIRED[2]!,
  prepare: (_record, hyper, _length, scalars, offset) => adadeltaScalars(hyper, scalars, offset),
};

/**
 * Adadelta (Zeiler), with PyTorch's options and defaults. Updates the params in place.
 * @example
 * const opt = new Adadelta([w, b]);
 * opt.step([gw, gb]);
 */
export class Adadelta extends Optimizer<AdadeltaOptions, AdadeltaState> {
  /**
   * @param params - the parameters to optimize (distinct, non-overlapping), or parameter groups.
   * @param options - lr 1.0, rho 0.9, eps 1e-6, weightDecay 0, maximize false, previousSquareAvg false; and skipNonFinite, threads (see StepOptions).
   * @throws TypeError or RangeError naming the offending argument.
   */
  constructor(params: readonly Float32Array[] | readonly ParamGroupInit<AdadeltaOptions>[], options?: AdadeltaOptions & StepOptions) {
    super(DEFINITION, params, options);
  }

  protected describeState(record: StateRecord): AdadeltaState {
    return { step: record.step, squareAvg: record.buffers[0]!, accDelta: record.buffers[1]! };
  }
}

/**
 * One Adadelta update of one tensor whose state the caller keeps. Updates param, squareAvg and
 * accDelta in place.
 * @throws TypeError or RangeError naming the offending argument; nothing is written then.
 */
export function adadeltaUpdate(
  param: Float32Array,
  grad: Float32Array,
  squareAvg: Float32Array,
  accDelta: Float32Array,
  hyper: AdadeltaOptions & { step?: number },
): void {
  functionalUpdate('adadeltaUpdate', SPEC, KERNEL, hyper, false, [
    { name: 'param', value: param, written: true },
    { name: 'grad', value: grad, written: false },
    { name: 'squareAvg', value: squareAvg, written: true },
    { name: 'accDelta', value: accDelta, written: true },
  ], (o, s) => adadeltaScalars(o, s, 0));
}
