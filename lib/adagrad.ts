/**
 * Adagrad (torch.optim.Adagrad, dense gradients).
 *
 * The float32 specification: every line is one IEEE float32 operation, in this order; the native
 * kernels (native/adagrad.cc) compute the same bits at every instruction-set level.
 *
 *   g   = maximize ? -grad : grad
 *   g   = fma(p, weightDecay, g)              weightDecay != 0   (grad.add(p, alpha=wd))
 *   sum = fma(g, g, sum)                      (sum.addcmul_(g, g, value=1))
 *   std = sqrt(sum) + eps
 *   p   = p + (negClr * g) / std              (addcdiv: value * t1 / t2)
 *
 * negClr = -lr / (1 + (t - 1) * lrDecay), t the step count after its increment, is computed in
 * float64 and rounded to float32 once. sum starts at initialAccumulatorValue. fma(a, b, c) is
 * a*b + c rounded once, where PyTorch's vectorized CPU kernels fuse (see lib/adam.ts).
 */
import { fmaf } from './float32.js';
import { ADAGRAD, FLAG_MAXIMIZE, FLAG_WEIGHT_DECAY, KernelId, type Slot } from './kernels.js';
import { Optimizer, runSingleTensor, single, type StateRecord } from './optimizer.js';
import { booleanOption, checkOptionsObject, checkUpdateArrays, numberOption, stepOption } from './validate.js';

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

const OPTION_NAMES = ['lr', 'lrDecay', 'weightDecay', 'initialAccumulatorValue', 'eps', 'maximize'] as const;

function resolveOptions(where: string, name: string, options: unknown, extra: readonly string[] = []): Required<AdagradOptions> {
  const o = checkOptionsObject(where, name, options, [...OPTION_NAMES, ...extra]);
  return {
    lr: numberOption(where, `${name}.lr`, o['lr'], 1e-2, { min: 0 }),
    lrDecay: numberOption(where, `${name}.lrDecay`, o['lrDecay'], 0, { min: 0 }),
    weightDecay: numberOption(where, `${name}.weightDecay`, o['weightDecay'], 0, { min: 0 }),
    initialAccumulatorValue: numberOption(where, `${name}.initialAccumulatorValue`, o['initialAccumulatorValue'], 0, { min: 0 }),
    eps: numberOption(where, `${name}.eps`, o['eps'], 1e-10, { min: 0 }),
    maximize: booleanOption(where, `${name}.maximize`, o['maximize'], false),
  };
}

function adagradScalars(o: Required<AdagradOptions>, t: number, s: Float32Array, at: number): number {
  s[at + ADAGRAD.weightDecay] = o.weightDecay;
  s[at + ADAGRAD.negClr] = -(o.lr / (1 + (t - 1) * o.lrDecay));
  s[at + ADAGRAD.eps] = o.eps;
  return (o.maximize ? FLAG_MAXIMIZE : 0) | (o.weightDecay !== 0 ? FLAG_WEIGHT_DECAY : 0);
}

/** The TypeScript kernel: the executable specification of native/adagrad.cc. @internal */
export function adagradKernelJs(arrays: readonly Slot[], scalars: Float32Array, flags: Uint32Array, count: number): void {
  for (let t = 0; t < count; t++) {
    const a = t * ADAGRAD.slots, at = t * ADAGRAD.scalars;
    const param = arrays[a + ADAGRAD.param]!, grad = arrays[a + ADAGRAD.grad]!, sum = arrays[a + ADAGRAD.sum]!;
    const weightDecay = scalars[at + ADAGRAD.weightDecay]!;
    const negClr = scalars[at + ADAGRAD.negClr]!;
    const eps = scalars[at + ADAGRAD.eps]!;
    const maximize = (flags[t]! & FLAG_MAXIMIZE) !== 0;
    const decay = (flags[t]! & FLAG_WEIGHT_DECAY) !== 0;
    for (let i = 0; i < param.length; i++) {
      let p = param[i]!;
      let g = maximize ? -grad[i]! : grad[i]!;
      if (decay) g = fmaf(p, weightDecay, g);
      const acc = fmaf(g, g, sum[i]!);
      const std = f(f(Math.sqrt(acc)) + eps);
      p = f(p + f(f(negClr * g) / std));
      sum[i] = acc;
      param[i] = p;
    }
  }
}

const ADAGRAD_KERNEL = { id: KernelId.Adagrad, js: adagradKernelJs, slots: ADAGRAD.slots, scalars: ADAGRAD.scalars } as const;

/**
 * Adagrad (Duchi et al.), with PyTorch's options and defaults. Updates the params in place.
 * @example
 * const opt = new Adagrad([w, b], { lr: 1e-2 });
 * opt.step([gw, gb]);
 */
export class Adagrad extends Optimizer<Required<AdagradOptions>, AdagradState> {
  /**
   * @param params - the parameters to optimize, distinct and non-overlapping.
   * @param options - lr 1e-2, lrDecay 0, weightDecay 0, initialAccumulatorValue 0, eps 1e-10, maximize false.
   * @throws TypeError or RangeError naming the offending argument.
   */
  constructor(params: readonly Float32Array[], options?: AdagradOptions) {
    super('Adagrad', params, resolveOptions('Adagrad', 'options', options), ADAGRAD_KERNEL);
  }

  protected createBuffers(length: number): Slot[] {
    return [new Float32Array(length).fill(this.options.initialAccumulatorValue)];
  }

  protected prepare(record: StateRecord, _length: number, scalars: Float32Array, offset: number): number {
    return adagradScalars(this.options, record.step + 1, scalars, offset);
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
  const where = 'adagradUpdate';
  const o = resolveOptions(where, 'hyper', hyper, ['step']);
  const step = stepOption(where, hyper);
  checkUpdateArrays(where, [
    { name: 'param', value: param, written: true },
    { name: 'grad', value: grad, written: false },
    { name: 'sum', value: sum, written: true },
  ]);
  const flags = adagradScalars(o, step, single.scalars, 0);
  single.arrays[ADAGRAD.param] = param;
  single.arrays[ADAGRAD.grad] = grad;
  single.arrays[ADAGRAD.sum] = sum;
  runSingleTensor(ADAGRAD_KERNEL, flags);
}
