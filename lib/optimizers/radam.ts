/**
 * RAdam (torch.optim.RAdam): Adam with the variance of the adaptive rate rectified.
 *
 * The float32 specification: every line is one IEEE float32 operation, in this order; the native
 * kernels (native/radam.cc) compute the same bits at every instruction-set level.
 *
 *   g = maximize ? -grad : grad
 *   p = p * fl(1 - lr*weightDecay)               decoupledWeightDecay   (p.mul_(1 - lr*wd))
 *   g = fma(p, weightDecay, g)                   weightDecay != 0 otherwise
 *   m = fma(g, 1 - beta1, m * beta1)
 *   v = fma((1 - beta2) * g, g, v * beta2)
 *   b = m / biasCorrection1
 *   rho_t > 5:  a = (1 / (sqrt(v) + eps)) * biasCorrection2Sqrt    (scalar / tensor in PyTorch
 *               p = p - ((b * lr) * a) * rect                        is reciprocal() * scalar)
 *   otherwise:  p = p - b * lr
 *
 * In float64, t the step count after its increment: biasCorrection1 = 1 - beta1^t,
 * biasCorrection2Sqrt = sqrt(1 - beta2^t), rho_inf = 2 / (1 - beta2) - 1, rho_t = rho_inf -
 * 2 t beta2^t / (1 - beta2^t), rect = sqrt((rho_t - 4)(rho_t - 2) rho_inf / ((rho_inf - 4)
 * (rho_inf - 2) rho_t)); each rounded to float32 once. This order reproduces PyTorch's reference
 * trajectory bit for bit (test/golden.test.ts).
 */
import { fmaf } from '../core/float32.js';
import { FLAG_DECOUPLED_DECAY, FLAG_MAXIMIZE, FLAG_WEIGHT_DECAY, KernelId, RADAM, type Slot } from '../bridge/kernels.js';
import { betas, bool, num, type OptionSpec } from '../core/options.js';
import {
  ALL_REQUIRED, Optimizer, type OptimizerDefinition, type ParamGroupInit,
  type StateRecord, type StepOptions,
} from './optimizer.js';
import { functionalUpdate } from './functional.js';

const f = Math.fround;

/** Options of RAdam, PyTorch's names in camelCase. */
export interface RAdamOptions {
  /** Learning rate. Default 1e-3. */
  lr?: number;
  /** Coefficients of the running averages of the gradient and its square. Default [0.9, 0.999]. */
  betas?: readonly [number, number];
  /** Added to the denominator for numerical stability. Default 1e-8. */
  eps?: number;
  /** Weight decay (L2 penalty, or decoupled as AdamW's). Default 0. */
  weightDecay?: number;
  /** Apply weight decay as AdamW does. Default false. */
  decoupledWeightDecay?: boolean;
  /** Maximize the objective instead of minimizing it. Default false. */
  maximize?: boolean;
}

/** Per-param state of RAdam. */
export interface RAdamState {
  step: number;
  expAvg: Float32Array;
  expAvgSq: Float32Array;
}

const SPEC: OptionSpec<RAdamOptions> = {
  options: {
    lr: [1e-3, num({ min: 0 })],
    betas: [[0.9, 0.999], betas],
    eps: [1e-8, num({ min: 0 })],
    weightDecay: [0, num({ min: 0 })],
    decoupledWeightDecay: [false, bool],
    maximize: [false, bool],
  },
};

function radamScalars(o: Required<RAdamOptions>, t: number, s: Float32Array, at: number): number {
  const beta1 = o.betas[0], beta2 = o.betas[1]; // indexed: destructuring allocates an iterator
  const biasCorrection2 = 1 - beta2 ** t;
  const rhoInf = 2 / (1 - beta2) - 1;
  const rhoT = rhoInf - (2 * t * beta2 ** t) / biasCorrection2;
  s[at + RADAM.beta1] = beta1;
  s[at + RADAM.oneMinusBeta1] = 1 - beta1;
  s[at + RADAM.beta2] = beta2;
  s[at + RADAM.oneMinusBeta2] = 1 - beta2;
  s[at + RADAM.weightDecay] = o.weightDecay;
  s[at + RADAM.decayFactor] = 1 - o.lr * o.weightDecay;
  s[at + RADAM.biasCorrection1] = 1 - beta1 ** t;
  s[at + RADAM.lr] = o.lr;
  s[at + RADAM.eps] = o.eps;
  s[at + RADAM.biasCorrection2Sqrt] = Math.sqrt(biasCorrection2);
  const rectified = rhoT > 5;
  s[at + RADAM.rect] = rectified ? Math.sqrt(((rhoT - 4) * (rhoT - 2) * rhoInf) / ((rhoInf - 4) * (rhoInf - 2) * rhoT)) : 0;
  let flags = o.maximize ? FLAG_MAXIMIZE : 0;
  if (o.weightDecay !== 0) flags |= o.decoupledWeightDecay ? FLAG_DECOUPLED_DECAY : FLAG_WEIGHT_DECAY;
  if (rectified) flags |= RADAM.flagRectified;
  return flags;
}

// The loop lives in its own function with typed-array parameters: V8 then knows the element
// kind of every array; reading them out of the Slot list in the loop halves the speed.
function radamTensor(n: number, param: Float32Array, grad: Float32Array, expAvg: Float32Array, expAvgSq: Float32Array, s: Float32Array, at: number, flags: number): void {
  const beta1 = s[at + RADAM.beta1]!, oneMinusBeta1 = s[at + RADAM.oneMinusBeta1]!;
  const beta2 = s[at + RADAM.beta2]!, oneMinusBeta2 = s[at + RADAM.oneMinusBeta2]!;
  const weightDecay = s[at + RADAM.weightDecay]!, decayFactor = s[at + RADAM.decayFactor]!;
  const biasCorrection1 = s[at + RADAM.biasCorrection1]!, lr = s[at + RADAM.lr]!;
  const eps = s[at + RADAM.eps]!, biasCorrection2Sqrt = s[at + RADAM.biasCorrection2Sqrt]!;
  const rect = s[at + RADAM.rect]!;
  const maximize = (flags & FLAG_MAXIMIZE) !== 0;
  const decoupled = (flags & FLAG_DECOUPLED_DECAY) !== 0;
  const coupled = !decoupled && (flags & FLAG_WEIGHT_DECAY) !== 0;
  const rectified = (flags & RADAM.flagRectified) !== 0;
  for (let i = 0; i < n; i++) {
    let p = param[i]!;
    let g = maximize ? -grad[i]! : grad[i]!;
    if (decoupled) p = f(p * decayFactor);
    if (coupled) g = fmaf(p, weightDecay, g);
    const m = fmaf(g, oneMinusBeta1, f(expAvg[i]! * beta1));
    const v = fmaf(f(oneMinusBeta2 * g), g, f(expAvgSq[i]! * beta2));
    let step = f(f(m / biasCorrection1) * lr);
    if (rectified) {
  const adaptive = f(f(1 / f(f(Math.sqrt(v)) + eps)) * biasCorrection2Sqrt);
      step = f(f(step * adaptive) * rect);
    }
    expAvg[i] = m;
    expAvgSq[i] = v;
    param[i] = f(p - step);
  }
}

/** The TypeScript kernel: the executable specification of native/radam.cc. @internal */
export function radamKernelJs(arrays: readonly Slot[], scalars: Float32Array, flags: Uint32Array, count: number, lengths: readonly number[]): void {
  for (let t = 0; t < count; t++) {
    const a = t * RADAM.slots;
    radamTensor(lengths[t]!, arrays[a + RADAM.param]!, arrays[a + RADAM.grad]!, arrays[a + RADAM.expAvg]!, arrays[a + RADAM.expAvgSq]!, scalars, t * RADAM.scalars, flags[t]!);
  }
}

const KERNEL = { id: KernelId.Radam, js: radamKernelJs, slots: RADAM.slots, scalars: RADAM.scalars } as const;
const DEFINITION: OptimizerDefinition<RAdamOptions> = {
  name: 'RAdam', kernel: KERNEL, spec: SPEC, bufferNames: ['exp_avg', 'exp_avg_sq'], scalarsByStep: true,
  bufferUse: () => ALL_REQUIRED[2]!,
  prepare: (record, hyper, _length, scalars, offset) => radamScalars(hyper, record.step + 1, scalars, offset),
};

/**
 * RAdam (Liu et al.), with PyTorch's options and defaults. Updates the params in place.
 * @example
 * const opt = new RAdam([w, b], { lr: 1e-3 });
 * opt.step([gw, gb]);
 */
export class RAdam extends Optimizer<RAdamOptions, RAdamState> {
  /**
   * @param params - the parameters to optimize (distinct, non-overlapping), or parameter groups.
   * @param options - lr 1e-3, betas [0.9, 0.999], eps 1e-8, weightDecay 0,
   *   decoupledWeightDecay false, maximize false; and skipNonFinite, threads (see StepOptions).
   * @throws TypeError or RangeError naming the offending argument.
   */
  constructor(params: readonly Float32Array[] | readonly ParamGroupInit<RAdamOptions>[], options?: RAdamOptions & StepOptions) {
    super(DEFINITION, params, options);
  }

  protected describeState(record: StateRecord): RAdamState {
    return { step: record.step, expAvg: record.buffers[0]!, expAvgSq: record.buffers[1]! };
  }
}

/**
 * One RAdam update of one tensor whose state the caller keeps. Updates param, expAvg and expAvgSq
 * in place. hyper.step is the 1-based count of this update.
 * @throws TypeError or RangeError naming the offending argument; nothing is written then.
 */
export function radamUpdate(
  param: Float32Array,
  grad: Float32Array,
  expAvg: Float32Array,
  expAvgSq: Float32Array,
  hyper: RAdamOptions & { step: number },
): void {
  functionalUpdate('radamUpdate', SPEC, KERNEL, hyper, true, [
    { name: 'param', value: param, written: true },
    { name: 'grad', value: grad, written: false },
    { name: 'expAvg', value: expAvg, written: true },
    { name: 'expAvgSq', value: expAvgSq, written: true },
  ], (o, s, step) => radamScalars(o, step, s, 0));
}
