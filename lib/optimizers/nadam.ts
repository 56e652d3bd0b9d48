/**
 * NAdam (torch.optim.NAdam of PyTorch 2.x): Adam with Nesterov momentum.
 *
 * The float32 specification: every line is one IEEE float32 operation, in this order; the native
 * kernels (native/nadam.cc) compute the same bits at every instruction-set level.
 *
 *   g = maximize ? -grad : grad
 *   p = p * fl(1 - lr*weightDecay)               decoupledWeightDecay   (p.mul_(1 - lr*wd))
 *   g = fma(p, weightDecay, g)                   weightDecay != 0 otherwise
 *   m = fma(g, 1 - beta1, m * beta1)
 *   v = fma((1 - beta2) * g, g, v * beta2)
 *   d = sqrt(v / biasCorrection2) + eps
 *   p = p + (gradCoefficient * g) / d
 *   p = p + (expAvgCoefficient * m) / d
 *
 * In float64, with t the step count after its increment: mu_t = beta1 (1 - 0.5 * 0.96^(t *
 * momentumDecay)); muProduct, kept per param in float32 as PyTorch's mu_product tensor, becomes
 * fl(muProduct * fl(mu_t)); gradCoefficient = -lr (1 - mu_t) / (1 - muProduct), expAvgCoefficient
 * = -lr mu_{t+1} / (1 - muProduct * mu_{t+1}), biasCorrection2 = 1 - beta2^t; each rounded once.
 * (PyTorch 1.13 multiplied mu into mu_product_next twice; this is the 2.x formula.)
 */
import { fmaf } from '../core/float32.js';
import { FLAG_DECOUPLED_DECAY, FLAG_MAXIMIZE, FLAG_WEIGHT_DECAY, KernelId, NADAM, type Slot } from '../bridge/kernels.js';
import { betas, bool, num, type OptionSpec } from '../core/options.js';
import {
  ALL_REQUIRED, Optimizer, type OptimizerDefinition, type ParamGroupInit,
  type StateRecord, type StepOptions,
} from './optimizer.js';
import { functionalUpdate } from './functional.js';
import { numberOption } from '../core/validate.js';

const f = Math.fround;

/** Options of NAdam, PyTorch's names in camelCase. */
export interface NAdamOptions {
  /** Learning rate. Default 2e-3. */
  lr?: number;
  /** Coefficients of the running averages of the gradient and its square. Default [0.9, 0.999]. */
  betas?: readonly [number, number];
  /** Added to the denominator for numerical stability. Default 1e-8. */
  eps?: number;
  /** Weight decay (L2 penalty, or decoupled as AdamW's). Default 0. */
  weightDecay?: number;
  /** Momentum decay psi of the momentum schedule. Default 4e-3. */
  momentumDecay?: number;
  /** Apply weight decay as AdamW does (NAdamW). Default false. */
  decoupledWeightDecay?: boolean;
  /** Maximize the objective instead of minimizing it. Default false. */
  maximize?: boolean;
}

/** Per-param state of NAdam. */
export interface NAdamState {
  step: number;
  /** The running product of the momentum coefficients mu_t, a float32 value as in PyTorch. */
  muProduct: number;
  expAvg: Float32Array;
  expAvgSq: Float32Array;
}

const SPEC: OptionSpec<NAdamOptions> = {
  options: {
    lr: [2e-3, num({ min: 0 })],
    betas: [[0.9, 0.999], betas],
    eps: [1e-8, num({ min: 0 })],
    weightDecay: [0, num({ min: 0 })],
    momentumDecay: [4e-3, num({ min: 0 })],
    decoupledWeightDecay: [false, bool],
    maximize: [false, bool],
  },
};

/** mu_product is a product of coefficients in [0, 1). @internal */
export const MU_PRODUCT_RULE = { min: 0, max: 1 } as const;

const mu = (o: Required<NAdamOptions>, t: number): number => o.betas[0] * (1 - 0.5 * 0.96 ** (t * o.momentumDecay));

/** mu_product after step t, from its value before: float32, as PyTorch's tensor. @internal */
export function nextMuProduct(o: Required<NAdamOptions>, muProduct: number, t: number): number {
  return f(muProduct * f(mu(o, t)));
}

function nadamScalars(o: Required<NAdamOptions>, t: number, muProductBefore: number, s: Float32Array, at: number): number {
  const beta1 = o.betas[0], beta2 = o.betas[1]; // indexed: destructuring allocates an iterator
  const muProduct = nextMuProduct(o, muProductBefore, t);
  const muNext = mu(o, t + 1);
  s[at + NADAM.beta1] = beta1;
  s[at + NADAM.oneMinusBeta1] = 1 - beta1;
  s[at + NADAM.beta2] = beta2;
  s[at + NADAM.oneMinusBeta2] = 1 - beta2;
  s[at + NADAM.weightDecay] = o.weightDecay;
  s[at + NADAM.decayFactor] = 1 - o.lr * o.weightDecay;
  s[at + NADAM.biasCorrection2] = 1 - beta2 ** t;
  s[at + NADAM.eps] = o.eps;
  s[at + NADAM.gradCoefficient] = (-o.lr * (1 - mu(o, t))) / (1 - muProduct);
  s[at + NADAM.expAvgCoefficient] = (-o.lr * muNext) / (1 - muProduct * muNext);
  let flags = o.maximize ? FLAG_MAXIMIZE : 0;
  if (o.weightDecay !== 0) flags |= o.decoupledWeightDecay ? FLAG_DECOUPLED_DECAY : FLAG_WEIGHT_DECAY;
  return flags;
}

// The loop lives in its own function with typed-array parameters: V8 then knows the element
// kind of every array; reading them out of the Slot list in the loop halves the speed.
function nadamTensor(n: number, param: Float32Array, grad: Float32Array, expAvg: Float32Array, expAvgSq: Float32Array, s: Float32Array, at: number, flags: number): void {
  const beta1 = s[at + NADAM.beta1]!, oneMinusBeta1 = s[at + NADAM.oneMinusBeta1]!;
  const beta2 = s[at + NADAM.beta2]!, oneMinusBeta2 = s[at + NADAM.oneMinusBeta2]!;
  const weightDecay = s[at + NADAM.weightDecay]!, decayFactor = s[at + NADAM.decayFactor]!;
  const biasCorrection2 = s[at + NADAM.biasCorrection2]!, eps = s[at + NADAM.eps]!;
  const gradCoefficient = s[at + NADAM.gradCoefficient]!, expAvgCoefficient = s[at + NADAM.expAvgCoefficient]!;
  const maximize = (flags & FLAG_MAXIMIZE) !== 0;
  const decoupled = (flags & FLAG_DECOUPLED_DECAY) !== 0;
  const coupled = !decoupled && (flags & FLAG_WEIGHT_DECAY) !== 0;
  for (let i = 0; i < n; i++) {
    let p = param[i]!;
    let g = maximize ? -grad[i]! : grad[i]!;
    if (decoupled) p = f(p * decayFactor);
    if (coupled) g = fmaf(p, weightDecay, g);
    const m = fmaf(g, oneMinusBeta1, f(expAvg[i]! * beta1));
    const v = fmaf(f(oneMinusBeta2 * g), g, f(expAvgSq[i]! * beta2));
    const denom = f(f(Math.sqrt(f(v / biasCorrection2))) + eps);
    p = f(p + f(f(gradCoefficient * g) / denom));
    p = f(p + f(f(expAvgCoefficient * m) / denom));
    expAvg[i] = m;
    expAvgSq[i] = v;
    param[i] = p;
  }
}

/** The TypeScript kernel: the executable specification of native/nadam.cc. @internal */
export function nadamKernelJs(arrays: readonly Slot[], scalars: Float32Array, flags: Uint32Array, count: number, lengths: readonly number[]): void {
  for (let t = 0; t < count; t++) {
    const a = t * NADAM.slots;
    nadamTensor(lengths[t]!, arrays[a + NADAM.param]!, arrays[a + NADAM.grad]!, arrays[a + NADAM.expAvg]!, arrays[a + NADAM.expAvgSq]!, scalars, t * NADAM.scalars, flags[t]!);
  }
}

const KERNEL = { id: KernelId.Nadam, js: nadamKernelJs, slots: NADAM.slots, scalars: NADAM.scalars } as const;
const DEFINITION: OptimizerDefinition<NAdamOptions> = {
  name: 'NAdam', kernel: KERNEL, spec: SPEC, bufferNames: ['exp_avg', 'exp_avg_sq'],
  scalarState: { mu_product: 1 }, scalarRules: { mu_product: MU_PRODUCT_RULE },
  bufferUse: () => ALL_REQUIRED[2]!,
  prepare: (record, hyper, _length, scalars, offset) => nadamScalars(hyper, record.step + 1, record.scalars['mu_product']!, scalars, offset),
  advance: (record, hyper) => {
    record.scalars['mu_product'] = nextMuProduct(hyper, record.scalars['mu_product']!, record.step + 1);
    record.step++;
  },
};

/**
 * NAdam (Dozat), with PyTorch 2.x's options, defaults and formula. Updates the params in place.
 * @example
 * const opt = new NAdam([w, b], { lr: 2e-3 });
 * opt.step([gw, gb]);
 */
export class NAdam extends Optimizer<NAdamOptions, NAdamState> {
  /**
   * @param params - the parameters to optimize (distinct, non-overlapping), or parameter groups.
   * @param options - lr 2e-3, betas [0.9, 0.999], eps 1e-8, weightDecay 0, momentumDecay 4e-3,
   *   decoupledWeightDecay false, maximize false; and skipNonFinite, threads (see StepOptions).
   * @throws TypeError or RangeError naming the offending argument.
   */
  constructor(params: readonly Float32Array[] | readonly ParamGroupInit<NAdamOptions>[], options?: NAdamOptions & StepOptions) {
    super(DEFINITION, params, options);
  }

  protected describeState(record: StateRecord): NAdamState {
    return { step: record.step, muProduct: record.scalars['mu_product']!, expAvg: record.buffers[0]!, expAvgSq: record.buffers[1]! };
  }
}

/**
 * One NAdam update of one tensor whose state the caller keeps. Updates param, expAvg and
 * expAvgSq in place and returns the new muProduct, to pass in with the next update.
 * @param hyper - the options of {@link NAdam}, `step` (1-based count of this update) and
 *   `muProduct` (1 before the first update, then what the previous update returned).
 * @throws TypeError or RangeError naming the offending argument; nothing is written then.
 */
export function nadamUpdate(
  param: Float32Array,
  grad: Float32Array,
  expAvg: Float32Array,
  expAvgSq: Float32Array,
  hyper: NAdamOptions & { step: number; muProduct: number },
): number {
  const where = 'nadamUpdate';
  let next = 1;
  functionalUpdate(where, SPEC, KERNEL, hyper, true, [
    { name: 'param', value: param, written: true },
    { name: 'grad', value: grad, written: false },
    { name: 'expAvg', value: expAvg, written: true },
    { name: 'expAvgSq', value: expAvgSq, written: true },
  ], (o, s, step, extra) => {
    const muProduct = numberOption(where, 'hyper.muProduct', extra['muProduct'], 1, MU_PRODUCT_RULE);
    next = nextMuProduct(o, muProduct, step);
    return nadamScalars(o, step, muProduct, s, 0);
  }, ['muProduct']);
  return next;
}
