/**
 * Adagrad (torch.optim.Adagrad, dense gradients).
 *
 * The float32 specification: every line is one IEEE float32 operation, in this order; the native
 * kernels (native/adagrad.cc) compute the same bits at every instruction-set level.
 *
 *   g   = maximize ? -grad : grad
 *   g   = fma(p, weightDecay, g)              weightDecay != 0   (grad.add(p, alpha=wd))
 *   sum = fma(g, g, sum)                      (sum.addcmul_(g, g, value=1))
 *   std = sqrt(sum) + eps                     (epsInsideSqrt: sqrt(sum + eps), as TensorFlow.js)
 *   p   = p + (negClr * g) / std              (addcdiv: value * t1 / t2)
 *
 * negClr = -lr / (1 + (t - 1) * lrDecay), t the step count after its increment, is computed in
 * float64 and rounded to float32 once. sum starts at initialAccumulatorValue. fma(a, b, c) is
 * a*b + c rounded once, where PyTorch's vectorized CPU kernels fuse (see lib/optimizers/adam.ts).
 */
import { fmaf } from '../core/float32.js';
import { ADAGRAD, FLAG_EPS_INSIDE_SQRT, FLAG_MAXIMIZE, FLAG_WEIGHT_DECAY, KernelId, type Slot } from '../bridge/kernels.js';
import { bool, num, type OptionSpec } from '../core/options.js';
import {
  ALL_REQUIRED, Optimizer, type OptimizerDefinition, type ParamGroupInit,
  type StateRecord, type StepOptions,
} from './optimizer.js';
import { functionalUpdate } from './functional.js';

const f = Math.fround;

/** Options of Adagrad, PyTorch's names in camelCase. */
export interface AdagradOptions {
  /** Learning rate. Default 1e-2. */
  lr?: number;
  /** Learning-rate decay: the rate at step t is lr / (1 + (t - 1) * lrDecay). Default 0. */
  lrDecay?: number;
  /** L2 penalty added to the gradient. Default 0. */
  weightDecay?: number;
  /** The starting value of the sum of squared gradients. Default 0. */
  initialAccumulatorValue?: number;
  /** Added to the denominator for numerical stability. Default 1e-10. */
  eps?: number;
  /** Maximize the objective instead of minimizing it. Default false. */
  maximize?: boolean;
  /** sqrt(sum + eps) instead of sqrt(sum) + eps, as TensorFlow.js. Default false. */
  epsInsideSqrt?: boolean;
}

/** Per-param state of Adagrad. */
export interface AdagradState {
  step: number;
  sum: Float32Array;
}

/** The hyperparameters of one functional Adagrad update. */
export interface AdagradHyper extends AdagradOptions {
  /** The step count after its increment: 1 for the first update of a tensor. */
  step: number;
}

const SPEC: OptionSpec<AdagradOptions> = {
  options: {
    lr: [1e-2, num({ min: 0 })],
    lrDecay: [0, num({ min: 0 })],
    weightDecay: [0, num({ min: 0 })],
    initialAccumulatorValue: [0, num({ min: 0 })],
    eps: [1e-10, num({ min: 0 })],
    maximize: [false, bool],
    epsInsideSqrt: [false, bool],
  },
};

/** Writes one tensor's scalars and returns its flags (simd-optim/tfjs uses it too). @internal */
export function adagradScalars(o: Required<AdagradOptions>, t: number, s: Float32Array, at: number): number {
  s[at + ADAGRAD.weightDecay] = o.weightDecay;
  s[at + ADAGRAD.negClr] = -(o.lr / (1 + (t - 1) * o.lrDecay));
  s[at + ADAGRAD.eps] = o.eps;
  return (o.maximize ? FLAG_MAXIMIZE : 0) | (o.weightDecay !== 0 ? FLAG_WEIGHT_DECAY : 0) | (o.epsInsideSqrt ? FLAG_EPS_INSIDE_SQRT : 0);
}

// The loop lives in its own function with typed-array parameters: V8 then knows the element
// kind of every array; reading them out of the Slot list in the loop halves the speed.
function adagradTensor(n: number, param: Float32Array, grad: Float32Array, sum: Float32Array, s: Float32Array, at: number, flags: number): void {
  const weightDecay = s[at + ADAGRAD.weightDecay]!;
  const negClr = s[at + ADAGRAD.negClr]!;
  const eps = s[at + ADAGRAD.eps]!;
  const maximize = (flags & FLAG_MAXIMIZE) !== 0;
  const decay = (flags & FLAG_WEIGHT_DECAY) !== 0;
  const epsInside = (flags & FLAG_EPS_INSIDE_SQRT) !== 0;
  for (let i = 0; i < n; i++) {
    let p = param[i]!;
    let g = maximize ? -grad[i]! : grad[i]!;
    if (decay) g = fmaf(p, weightDecay, g);
    const acc = fmaf(g, g, sum[i]!);
    const std = epsInside ? f(Math.sqrt(f(acc + eps))) : f(f(Math.sqrt(acc)) + eps);
    p = f(p + f(f(negClr * g) / std));
    sum[i] = acc;
    param[i] = p;
  }
}

/** The TypeScript kernel: the executable specification of native/adagrad.cc. @internal */
export function adagradKernelJs(arrays: readonly Slot[], scalars: Float32Array, flags: Uint32Array, count: number, lengths: readonly number[]): void {
  for (let t = 0; t < count; t++) {
    const a = t * ADAGRAD.slots;
    adagradTensor(lengths[t]!, arrays[a + ADAGRAD.param]!, arrays[a + ADAGRAD.grad]!, arrays[a + ADAGRAD.sum]!, scalars, t * ADAGRAD.scalars, flags[t]!);
  }
}

const ADAGRAD_KERNEL = { id: KernelId.Adagrad, js: adagradKernelJs, slots: ADAGRAD.slots, scalars: ADAGRAD.scalars } as const;

const DEFINITION: OptimizerDefinition<AdagradOptions> = {
  name: 'Adagrad', kernel: ADAGRAD_KERNEL, spec: SPEC, bufferNames: ['sum'], scalarsByStep: true,
  bufferUse: () => ALL_REQUIRED[1]!,
  createBuffer: (_k, length, hyper) => new Float32Array(length).fill(hyper.initialAccumulatorValue),
  prepare: (record, hyper, _length, scalars, offset) => adagradScalars(hyper, record.step + 1, scalars, offset),
};

/**
 * Adagrad (Duchi et al.), with PyTorch's options and defaults. Updates the params in place.
 * @example
 * const opt = new Adagrad([w, b], { lr: 1e-2 });
 * opt.step([gw, gb]);
 */
export class Adagrad extends Optimizer<AdagradOptions, AdagradState> {
  /**
   * @param params - the parameters to optimize (distinct, non-overlapping), or parameter groups
   *   `{ params, ...options }` whose options override `options`.
   * @param options - lr 1e-2, lrDecay 0, weightDecay 0, initialAccumulatorValue 0, eps 1e-10,
   *   maximize false, epsInsideSqrt false; and skipNonFinite, threads (see StepOptions).
   * @throws TypeError or RangeError naming the offending argument.
   */
  constructor(params: readonly Float32Array[] | readonly ParamGroupInit<AdagradOptions>[], options?: AdagradOptions & StepOptions) {
    super(DEFINITION, params, options);
  }

  protected describeState(record: StateRecord): AdagradState {
    return { step: record.step, sum: record.buffers[0]! };
  }
}

/**
 * One Adagrad update of one tensor whose state the caller keeps. Updates param and sum in place.
 * @param sum - the running sum of squared gradients (start it at initialAccumulatorValue).
 * @param hyper - the options of {@link Adagrad} plus `step`, the 1-based count of this update.
 * @throws TypeError or RangeError naming the offending argument; nothing is written then.
 */
export function adagradUpdate(param: Float32Array, grad: Float32Array, sum: Float32Array, hyper: AdagradHyper): void {
  functionalUpdate('adagradUpdate', SPEC, ADAGRAD_KERNEL, hyper, true, [
    { name: 'param', value: param, written: true },
    { name: 'grad', value: grad, written: false },
    { name: 'sum', value: sum, written: true },
  ], (o, s, step) => adagradScalars(o, step, s, 0));
}
