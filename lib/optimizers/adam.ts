/**
 * Adam (torch.optim.Adam) and the kernel it shares with AdamW.
 *
 * The float32 specification: every line below is one IEEE float32 operation, in this order; the
 * native kernels (native/adam.cc) compute the same bits at every instruction-set level.
 *
 *   g  = maximize ? -grad : grad
 *   p  = p * decayFactor                      AdamW only, decayFactor = fl(1 - lr*weightDecay)
 *   g  = fma(p, weightDecay, g)               Adam with weightDecay != 0   (grad.add(p, alpha=wd))
 *   m  = fma(g, 1 - beta1, m * beta1)         (m.mul_(beta1).add_(g, alpha=1-beta1))
 *   v  = fma((1 - beta2) * g, g, v * beta2)   (v.mul_(beta2).addcmul_(g, g, value=1-beta2))
 *   vm = max(vm, v)                           amsgrad; NaN if either is NaN, as torch.maximum
 *   d  = sqrt(amsgrad ? vm : v) / biasCorrection2Sqrt + eps
 *   d  = sqrt((amsgrad ? vm : v) / biasCorrection2 + eps)       epsInsideSqrt
 *   p  = p + (negStepSize * m) / d            (p.addcdiv_(m, d, value=-stepSize))
 *
 * fma(a, b, c) is a*b + c rounded once (IEEE fusedMultiplyAdd), exactly where PyTorch's vectorized
 * CPU kernels fuse: with it this specification reproduces torch.optim's reference trajectories
 * bit for bit (test/golden.test.ts).
 *
 * With t the step count after its increment, these scalars are computed in float64 and rounded
 * to float32 once: negStepSize = -lr / (1 - beta1^t), biasCorrection2 = 1 - beta2^t,
 * biasCorrection2Sqrt = sqrt(1 - beta2^t); so are 1 - beta1, 1 - beta2 and 1 - lr*weightDecay.
 * epsInsideSqrt adds eps to the bias-corrected second moment under the root, as optax's eps_root
 * and TensorFlow.js's Adagrad and RMSprop do.
 */
import { fmaf } from '../core/float32.js';
import { ADAM, FLAG_DECOUPLED_DECAY, FLAG_EPS_INSIDE_SQRT, FLAG_MAXIMIZE, FLAG_WEIGHT_DECAY, KernelId, type Slot } from '../bridge/kernels.js';
import { betas, bool, num, type OptionSpec } from '../core/options.js';
import { functionalUpdate } from './functional.js';
import {
  Optimizer, type BufferUse, type OptimizerDefinition, type ParamGroupInit, type StateRecord, type StepOptions,
} from './optimizer.js';

const f = Math.fround;

/** Options of Adam and AdamW, PyTorch's names in camelCase. */
export interface AdamOptions {
  /** Learning rate. Default 1e-3. */
  lr?: number;
  /** Coefficients of the running averages of the gradient and its square. Default [0.9, 0.999]. */
  betas?: readonly [number, number];
  /** Added to the denominator for numerical stability. Default 1e-8. */
  eps?: number;
  /** Adam: L2 penalty added to the gradient (default 0). AdamW: decoupled decay (default 1e-2). */
  weightDecay?: number;
  /** Use the AMSGrad variant (the maximum of all second moments so far). Default false. */
  amsgrad?: boolean;
  /** Maximize the objective instead of minimizing it. Default false. */
  maximize?: boolean;
  /** sqrt(v + eps) instead of sqrt(v) + eps (v bias-corrected), as optax's eps_root. Default false. */
  epsInsideSqrt?: boolean;
}

/** Per-param state of Adam and AdamW. */
export interface AdamState {
  step: number;
  expAvg: Float32Array;
  expAvgSq: Float32Array;
  /** Only with amsgrad. */
  maxExpAvgSq?: Float32Array;
}

/** The hyperparameters of one functional Adam or AdamW update. */
export interface AdamHyper extends AdamOptions {
  /** The step count after its increment: 1 for the first update of a tensor. */
  step: number;
}

function adamSpec(defaultWeightDecay: number): OptionSpec<AdamOptions> {
  return {
    options: {
      lr: [1e-3, num({ min: 0 })],
      betas: [[0.9, 0.999], betas],
      eps: [1e-8, num({ min: 0 })],
      weightDecay: [defaultWeightDecay, num({ min: 0 })],
      amsgrad: [false, bool],
      maximize: [false, bool],
      epsInsideSqrt: [false, bool],
    },
  };
}

/** @internal */
export const ADAM_SPEC = adamSpec(0);
/** @internal */
export const ADAMW_SPEC = adamSpec(1e-2);

/** Writes one tensor's scalars for step t and returns its flags. @internal */
export function adamScalars(o: Required<AdamOptions>, decoupled: boolean, t: number, s: Float32Array, at: number): number {
  const beta1 = o.betas[0], beta2 = o.betas[1]; // indexed: destructuring allocates an iterator
  s[at + ADAM.beta1] = beta1;
  s[at + ADAM.oneMinusBeta1] = 1 - beta1;
  s[at + ADAM.beta2] = beta2;
  s[at + ADAM.oneMinusBeta2] = 1 - beta2;
  s[at + ADAM.weightDecay] = o.weightDecay;
  s[at + ADAM.decayFactor] = 1 - o.lr * o.weightDecay;
  const biasCorrection2 = 1 - beta2 ** t; // once: a power costs more than the rest of this function
  s[at + ADAM.negStepSize] = -(o.lr / (1 - beta1 ** t));
  s[at + ADAM.biasCorrection2Sqrt] = Math.sqrt(biasCorrection2);
  s[at + ADAM.eps] = o.eps;
  s[at + ADAM.biasCorrection2] = biasCorrection2;
  let flags = o.maximize ? FLAG_MAXIMIZE : 0;
  if (o.weightDecay !== 0) flags |= decoupled ? FLAG_DECOUPLED_DECAY : FLAG_WEIGHT_DECAY;
  if (o.amsgrad) flags |= ADAM.flagAmsgrad;
  if (o.epsInsideSqrt) flags |= FLAG_EPS_INSIDE_SQRT;
  return flags;
}

function adamTensor(
  n: number,
  param: Float32Array,
  grad: Float32Array,
  expAvg: Float32Array,
  expAvgSq: Float32Array,
  maxExpAvgSq: Float32Array | null,
  s: Float32Array,
  at: number,
  flags: number,
): void {
  const beta1 = s[at + ADAM.beta1]!, oneMinusBeta1 = s[at + ADAM.oneMinusBeta1]!;
  const beta2 = s[at + ADAM.beta2]!, oneMinusBeta2 = s[at + ADAM.oneMinusBeta2]!;
  const weightDecay = s[at + ADAM.weightDecay]!, decayFactor = s[at + ADAM.decayFactor]!;
  const negStepSize = s[at + ADAM.negStepSize]!, biasCorrection2Sqrt = s[at + ADAM.biasCorrection2Sqrt]!;
  const eps = s[at + ADAM.eps]!, biasCorrection2 = s[at + ADAM.biasCorrection2]!;
  const maximize = (flags & FLAG_MAXIMIZE) !== 0;
  const epsInside = (flags & FLAG_EPS_INSIDE_SQRT) !== 0;
  const decoupledDecay = (flags & FLAG_DECOUPLED_DECAY) !== 0;
  const coupledDecay = !decoupledDecay && (flags & FLAG_WEIGHT_DECAY) !== 0; // as native/adam.cc
  const amsgrad = maxExpAvgSq !== null && (flags & ADAM.flagAmsgrad) !== 0;
  for (let i = 0; i < n; i++) {
    let p = param[i]!;
    let g = maximize ? -grad[i]! : grad[i]!;
    if (decoupledDecay) p = f(p * decayFactor);
    if (coupledDecay) g = fmaf(p, weightDecay, g);
    const m = fmaf(g, oneMinusBeta1, f(expAvg[i]! * beta1));
    const v = fmaf(f(oneMinusBeta2 * g), g, f(expAvgSq[i]! * beta2));
    let vHat = v;
    if (amsgrad) {
      vHat = Math.max(maxExpAvgSq[i]!, v);
      maxExpAvgSq[i] = vHat;
    }
    const denom = epsInside
      ? f(Math.sqrt(f(f(vHat / biasCorrection2) + eps)))
      : f(f(f(Math.sqrt(vHat)) / biasCorrection2Sqrt) + eps);
    p = f(p + f(f(negStepSize * m) / denom));
    expAvg[i] = m;
    expAvgSq[i] = v;
    param[i] = p;
  }
}

/** The TypeScript kernel: the executable specification of native/adam.cc. @internal */
export function adamKernelJs(arrays: readonly Slot[], scalars: Float32Array, flags: Uint32Array, count: number, lengths: readonly number[]): void {
  for (let t = 0; t < count; t++) {
    const a = t * ADAM.slots;
    adamTensor(
      lengths[t]!,
      arrays[a + ADAM.param]!,
      arrays[a + ADAM.grad]!,
      arrays[a + ADAM.expAvg]!,
      arrays[a + ADAM.expAvgSq]!,
      arrays[a + ADAM.maxExpAvgSq] ?? null,
      scalars,
      t * ADAM.scalars,
      flags[t]!,
    );
  }
}

/** @internal */
export const ADAM_KERNEL = { id: KernelId.Adam, js: adamKernelJs, slots: ADAM.slots, scalars: ADAM.scalars } as const;


/** Adam and AdamW differ only in defaults and in how weight decay is applied. @internal */
export class AdamFamily extends Optimizer<AdamOptions, AdamState> {
  protected constructor(definition: OptimizerDefinition<AdamOptions>, params: unknown, options: unknown) {
    super(definition, params, options);
  }

  protected describeState(record: StateRecord): AdamState {
    const [expAvg, expAvgSq, maxExpAvgSq] = record.buffers;
    const state: AdamState = { step: record.step, expAvg: expAvg!, expAvgSq: expAvgSq! };
    if (maxExpAvgSq) state.maxExpAvgSq = maxExpAvgSq;
    return state;
  }
}

// Constants: bufferUse runs for every param on every step.
const WITH_MAX: readonly BufferUse[] = Object.freeze(['required', 'required', 'required']);
const WITHOUT_MAX: readonly BufferUse[] = Object.freeze(['required', 'required', 'unused']);

/** The definition of Adam (decoupled false) or AdamW (true). @internal */
export function adamDefinition(name: string, spec: OptionSpec<AdamOptions>, decoupled: boolean): OptimizerDefinition<AdamOptions> {
  return {
    name, kernel: ADAM_KERNEL, spec, bufferNames: ['exp_avg', 'exp_avg_sq', 'max_exp_avg_sq'], scalarsByStep: true,
    bufferUse: (hyper) => (hyper.amsgrad ? WITH_MAX : WITHOUT_MAX),
    prepare: (record, hyper, _length, scalars, offset) => adamScalars(hyper, decoupled, record.step + 1, scalars, offset),
  };
}

const ADAM_DEFINITION = adamDefinition('Adam', ADAM_SPEC, false);

/**
 * Adam (Kingma & Ba), with PyTorch's options and defaults. Updates the params in place.
 * @example
 * const opt = new Adam([w, b], { lr: 1e-3 });
 * opt.step([gw, gb]);
 * // parameter groups: new Adam([{ params: [w], weightDecay: 0.01 }, { params: [b] }], { lr: 1e-3 })
 */
export class Adam extends AdamFamily {
  /**
   * @param params - the parameters to optimize (distinct, non-overlapping), or parameter groups
   *   `{ params, ...options }` whose options override `options`.
   * @param options - lr 1e-3, betas [0.9, 0.999], eps 1e-8, weightDecay 0, amsgrad false,
   *   maximize false, epsInsideSqrt false; and skipNonFinite, threads (see StepOptions).
   * @throws TypeError or RangeError naming the offending argument.
   */
  constructor(params: readonly Float32Array[] | readonly ParamGroupInit<AdamOptions>[], options?: AdamOptions & StepOptions) {
    super(ADAM_DEFINITION, params, options);
  }
}

/** Shared by adamUpdate and adamwUpdate. @internal */
export function adamFamilyUpdate(
  where: string,
  decoupled: boolean,
  param: Float32Array,
  grad: Float32Array,
  expAvg: Float32Array,
  expAvgSq: Float32Array,
  maxExpAvgSq: Float32Array | null,
  hyper: AdamHyper,
): void {
  functionalUpdate(where, decoupled ? ADAMW_SPEC : ADAM_SPEC, ADAM_KERNEL, hyper, true, (o) => [
    { name: 'param', value: param, written: true },
    { name: 'grad', value: grad, written: false },
    { name: 'expAvg', value: expAvg, written: true },
    { name: 'expAvgSq', value: expAvgSq, written: true },
    { name: 'maxExpAvgSq', value: o.amsgrad ? maxExpAvgSq : null, optional: !o.amsgrad, written: true, neededWhen: 'when hyper.amsgrad is true' },
  ], (o, s, step) => adamScalars(o, decoupled, step, s, 0));
}

/**
 * One Adam update of one tensor whose state the caller keeps (like torch.optim.adam's
 * functional form). Updates param, expAvg, expAvgSq and, with amsgrad, maxExpAvgSq in place.
 * @param maxExpAvgSq - required when hyper.amsgrad is true, ignored otherwise.
 * @param hyper - the options of {@link Adam} plus `step`, the 1-based count of this update.
 * @throws TypeError or RangeError naming the offending argument; nothing is written then.
 */
export function adamUpdate(
  param: Float32Array,
  grad: Float32Array,
  expAvg: Float32Array,
  expAvgSq: Float32Array,
  maxExpAvgSq: Float32Array | null,
  hyper: AdamHyper,
): void {
  adamFamilyUpdate('adamUpdate', false, param, grad, expAvg, expAvgSq, maxExpAvgSq, hyper);
}
