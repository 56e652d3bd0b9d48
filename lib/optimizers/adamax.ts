/**
 * Adamax (torch.optim.Adamax): Adam with the infinity norm.
 *
 * The float32 specification: every line is one IEEE float32 operation, in this order; the native
 * kernels (native/adamax.cc) compute the same bits at every instruction-set level.
 *
 *   g = maximize ? -grad : grad
 *   g = fma(p, weightDecay, g)               weightDecay != 0   (grad.add(p, alpha=wd))
 *   m = fma(g, 1 - beta1, m * beta1)         (m.mul_(beta1).add_(g, alpha=1-beta1))
 *   u = max(u * beta2, |g| + eps)            NaN if either is NaN, as torch.maximum
 *   p = p + (negClr * m) / u                 (p.addcdiv_(m, u, value=-clr))
 *
 * or with epsOutsideMax, as TensorFlow.js and Keras:
 *
 *   u = max(u * beta2, |g|)
 *   p = p + (negClr * m) / (u + eps)
 *
 * negClr = -lr / (1 - beta1^t), t the step count after its increment, is computed in float64 and
 * rounded once. fma(a, b, c) is a*b + c rounded once (see lib/optimizers/adam.ts).
 */
import { fmaf } from '../core/float32.js';
import { ADAMAX, FLAG_MAXIMIZE, FLAG_WEIGHT_DECAY, KernelId, type Slot } from '../bridge/kernels.js';
import { betas, bool, num, type OptionSpec } from '../core/options.js';
import {
  ALL_REQUIRED, Optimizer, type OptimizerDefinition, type ParamGroupInit,
  type StateRecord, type StepOptions,
} from './optimizer.js';
import { functionalUpdate } from './functional.js';

const f = Math.fround;

/** Options of Adamax, PyTorch's names in camelCase. */
export interface AdamaxOptions {
  /** Learning rate. Default 2e-3. */
  lr?: number;
  /** Coefficients of the running average of the gradient and of the infinity norm. Default [0.9, 0.999]. */
  betas?: readonly [number, number];
  /** Added to the denominator for numerical stability. Default 1e-8. */
  eps?: number;
  /** L2 penalty added to the gradient. Default 0. */
  weightDecay?: number;
  /** Maximize the objective instead of minimizing it. Default false. */
  maximize?: boolean;
  /**
   * Keep eps out of the infinity norm and add it to the denominator, max(beta2 * u, |g|) + eps, as
   * TensorFlow.js and Keras do (PyTorch: max(beta2 * u, |g| + eps)). Default false.
   */
  epsOutsideMax?: boolean;
}

/** Per-param state of Adamax. */
export interface AdamaxState {
  step: number;
  expAvg: Float32Array;
  expInf: Float32Array;
}

const SPEC: OptionSpec<AdamaxOptions> = {
  options: {
    lr: [2e-3, num({ min: 0 })],
    betas: [[0.9, 0.999], betas],
    eps: [1e-8, num({ min: 0 })],
    weightDecay: [0, num({ min: 0 })],
    maximize: [false, bool],
    epsOutsideMax: [false, bool],
  },
};

/** Writes one tensor's scalars and returns its flags (simd-optim/tfjs uses it too). @internal */
export function adamaxScalars(o: Required<AdamaxOptions>, t: number, s: Float32Array, at: number): number {
  const beta1 = o.betas[0], beta2 = o.betas[1]; // indexed: destructuring allocates an iterator
  s[at + ADAMAX.beta1] = beta1;
  s[at + ADAMAX.oneMinusBeta1] = 1 - beta1;
  s[at + ADAMAX.beta2] = beta2;
  s[at + ADAMAX.weightDecay] = o.weightDecay;
  s[at + ADAMAX.negClr] = -(o.lr / (1 - beta1 ** t));
  s[at + ADAMAX.eps] = o.eps;
  return (o.maximize ? FLAG_MAXIMIZE : 0) | (o.weightDecay !== 0 ? FLAG_WEIGHT_DECAY : 0)
    | (o.epsOutsideMax ? ADAMAX.flagEpsOutsideMax : 0);
}

// The loop lives in its own function with typed-array parameters: V8 then knows the element
// kind of every array; reading them out of the Slot list in the loop halves the speed.
function adamaxTensor(n: number, param: Float32Array, grad: Float32Array, expAvg: Float32Array, expInf: Float32Array, s: Float32Array, at: number, flags: number): void {
  const beta1 = s[at + ADAMAX.beta1]!, oneMinusBeta1 = s[at + ADAMAX.oneMinusBeta1]!;
  const beta2 = s[at + ADAMAX.beta2]!, weightDecay = s[at + ADAMAX.weightDecay]!;
  const negClr = s[at + ADAMAX.negClr]!, eps = s[at + ADAMAX.eps]!;
  const maximize = (flags & FLAG_MAXIMIZE) !== 0;
  const decay = (flags & FLAG_WEIGHT_DECAY) !== 0;
  const epsOutside = (flags & ADAMAX.flagEpsOutsideMax) !== 0;
  for (let i = 0; i < n; i++) {
    let p = param[i]!;
    let g = maximize ? -grad[i]! : grad[i]!;
    if (decay) g = fmaf(p, weightDecay, g);
    const m = fmaf(g, oneMinusBeta1, f(expAvg[i]! * beta1));
    const u = Math.max(f(expInf[i]! * beta2), epsOutside ? Math.abs(g) : f(Math.abs(g) + eps));
    p = f(p + f(f(negClr * m) / (epsOutside ? f(u + eps) : u)));
    expAvg[i] = m;
    expInf[i] = u;
    param[i] = p;
  }
}

/** The TypeScript kernel: the executable specification of native/adamax.cc. @internal */
export function adamaxKernelJs(arrays: readonly Slot[], scalars: Float32Array, flags: Uint32Array, count: number, lengths: readonly number[]): void {
  for (let t = 0; t < count; t++) {
    const a = t * ADAMAX.slots;
    adamaxTensor(lengths[t]!, arrays[a + ADAMAX.param]!, arrays[a + ADAMAX.grad]!, arrays[a + ADAMAX.expAvg]!, arrays[a + ADAMAX.expInf]!, scalars, t * ADAMAX.scalars, flags[t]!);
  }
}

const KERNEL = { id: KernelId.Adamax, js: adamaxKernelJs, slots: ADAMAX.slots, scalars: ADAMAX.scalars } as const;
const DEFINITION: OptimizerDefinition<AdamaxOptions> = {
  name: 'Adamax', kernel: KERNEL, spec: SPEC, bufferNames: ['exp_avg', 'exp_inf'], scalarsByStep: true,
  bufferUse: () => ALL_REQUIRED[2]!,
  prepare: (record, hyper, _length, scalars, offset) => adamaxScalars(hyper, record.step + 1, scalars, offset),
};

/**
 * Adamax (Kingma & Ba), with PyTorch's options and defaults. Updates the params in place.
 * @example
 * const opt = new Adamax([w, b], { lr: 2e-3 });
 * opt.step([gw, gb]);
 */
export class Adamax extends Optimizer<AdamaxOptions, AdamaxState> {
  /**
   * @param params - the parameters to optimize (distinct, non-overlapping), or parameter groups.
   * @param options - lr 2e-3, betas [0.9, 0.999], eps 1e-8, weightDecay 0, maximize false, epsOutsideMax false; and skipNonFinite, threads (see StepOptions).
   * @throws TypeError or RangeError naming the offending argument.
   */
  constructor(params: readonly Float32Array[] | readonly ParamGroupInit<AdamaxOptions>[], options?: AdamaxOptions & StepOptions) {
    super(DEFINITION, params, options);
  }

  protected describeState(record: StateRecord): AdamaxState {
    return { step: record.step, expAvg: record.buffers[0]!, expInf: record.buffers[1]! };
  }
}

/**
 * One Adamax update of one tensor whose state the caller keeps. Updates param, expAvg and expInf
 * in place. hyper.step is the 1-based count of this update.
 * @throws TypeError or RangeError naming the offending argument; nothing is written then.
 */
export function adamaxUpdate(
  param: Float32Array,
  grad: Float32Array,
  expAvg: Float32Array,
  expInf: Float32Array,
  hyper: AdamaxOptions & { step: number },
): void {
  functionalUpdate('adamaxUpdate', SPEC, KERNEL, hyper, true, [
    { name: 'param', value: param, written: true },
    { name: 'grad', value: grad, written: false },
    { name: 'expAvg', value: expAvg, written: true },
    { name: 'expInf', value: expInf, written: true },
  ], (o, s, step) => adamaxScalars(o, step, s, 0));
}
