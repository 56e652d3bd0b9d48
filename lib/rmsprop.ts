/**
 * RMSprop (torch.optim.RMSprop).
 *
 * The float32 specification: every line is one IEEE float32 operation, in this order; the native
 * kernels (native/rmsprop.cc) compute the same bits at every instruction-set level.
 *
 *   g   = maximize ? -grad : grad
 *   g   = fma(p, weightDecay, g)              weightDecay != 0   (grad.add(p, alpha=wd))
 *   sq  = fma((1 - alpha) * g, g, sq * alpha) (sq.mul_(alpha).addcmul_(g, g, value=1-alpha))
 *   ga  = fma(g, 1 - alpha, ga * alpha)       centered (ga.mul_(alpha).add_(g, alpha=1-alpha))
 *   avg = sqrt(centered ? fma(-ga, ga, sq) : sq) + eps
 *   buf = buf * momentum + g / avg            momentum > 0       (buf.mul_(m).addcdiv_(g, avg))
 *   p   = fma(buf, negLr, p)                  momentum > 0       (p.add_(buf, alpha=-lr))
 *   p   = p + (negLr * g) / avg               momentum == 0      (p.addcdiv_(g, avg, value=-lr))
 *
 * 1 - alpha and -lr are computed in float64 and rounded to float32 once. fma(a, b, c) is a*b + c
 * rounded once, where PyTorch's vectorized CPU kernels fuse (see lib/adam.ts).
 */
import { fmaf } from './float32.js';
import { FLAG_MAXIMIZE, FLAG_WEIGHT_DECAY, KernelId, RMSPROP, type Slot } from './kernels.js';
import { Optimizer, runSingleTensor, single, type StateRecord } from './optimizer.js';
import { booleanOption, checkOptionsObject, checkUpdateArrays, numberOption, stepOption } from './validate.js';

const f = Math.fround;

/** Options of RMSprop, PyTorch's names in camelCase. */
export interface RMSpropOptions {
  /** Learning rate. Default 1e-2. */
  lr?: number;
  /** Smoothing constant of the running averages. Default 0.99. */
  alpha?: number;
  /** Added to the denominator for numerical stability. Default 1e-8. */
  eps?: number;
  /** L2 penalty added to the gradient. Default 0. */
  weightDecay?: number;
  /** Momentum factor. Default 0. */
  momentum?: number;
  /** Normalize by an estimate of the gradient's variance instead of its second moment. Default false. */
  centered?: boolean;
  /** Maximize the objective instead of minimizing it. Default false. */
  maximize?: boolean;
}

/** Per-param state of RMSprop. */
export interface RMSpropState {
  step: number;
  squareAvg: Float32Array;
  /** Only when centered. */
  gradAvg?: Float32Array;
  /** Only with momentum > 0. */
  momentumBuffer?: Float32Array;
}

/** The hyperparameters of one functional RMSprop update. */
export interface RMSpropHyper extends RMSpropOptions {
  /** Accepted for symmetry with the other updates; RMSprop does not depend on it. */
  step?: number;
}

const OPTION_NAMES = ['lr', 'alpha', 'eps', 'weightDecay', 'momentum', 'centered', 'maximize'] as const;

function resolveOptions(where: string, name: string, options: unknown, extra: readonly string[] = []): Required<RMSpropOptions> {
  const o = checkOptionsObject(where, name, options, [...OPTION_NAMES, ...extra]);
  return {
    lr: numberOption(where, `${name}.lr`, o['lr'], 1e-2, { min: 0 }),
    alpha: numberOption(where, `${name}.alpha`, o['alpha'], 0.99, { min: 0 }),
    eps: numberOption(where, `${name}.eps`, o['eps'], 1e-8, { min: 0 }),
    weightDecay: numberOption(where, `${name}.weightDecay`, o['weightDecay'], 0, { min: 0 }),
    momentum: numberOption(where, `${name}.momentum`, o['momentum'], 0, { min: 0 }),
    centered: booleanOption(where, `${name}.centered`, o['centered'], false),
    maximize: booleanOption(where, `${name}.maximize`, o['maximize'], false),
  };
}

function rmspropScalars(o: Required<RMSpropOptions>, s: Float32Array, at: number): number {
  s[at + RMSPROP.alpha] = o.alpha;
  s[at + RMSPROP.oneMinusAlpha] = 1 - o.alpha;
  s[at + RMSPROP.weightDecay] = o.weightDecay;
  s[at + RMSPROP.momentum] = o.momentum;
  s[at + RMSPROP.negLr] = -o.lr;
  s[at + RMSPROP.eps] = o.eps;
  let flags = (o.maximize ? FLAG_MAXIMIZE : 0) | (o.weightDecay !== 0 ? FLAG_WEIGHT_DECAY : 0);
  if (o.centered) flags |= RMSPROP.flagCentered;
  if (o.momentum > 0) flags |= RMSPROP.flagMomentum;
  return flags;
}

/** The TypeScript kernel: the executable specification of native/rmsprop.cc. @internal */
export function rmspropKernelJs(arrays: readonly Slot[], scalars: Float32Array, flags: Uint32Array, count: number): void {
  for (let t = 0; t < count; t++) {
    const a = t * RMSPROP.slots, at = t * RMSPROP.scalars;
    const param = arrays[a + RMSPROP.param]!, grad = arrays[a + RMSPROP.grad]!;
    const squareAvg = arrays[a + RMSPROP.squareAvg]!;
    const gradAvg = arrays[a + RMSPROP.gradAvg] ?? null;
    const momentumBuffer = arrays[a + RMSPROP.momentumBuffer] ?? null;
    const alpha = scalars[at + RMSPROP.alpha]!, oneMinusAlpha = scalars[at + RMSPROP.oneMinusAlpha]!;
    const weightDecay = scalars[at + RMSPROP.weightDecay]!, momentum = scalars[at + RMSPROP.momentum]!;
    const negLr = scalars[at + RMSPROP.negLr]!, eps = scalars[at + RMSPROP.eps]!;
    const fl = flags[t]!;
    const maximize = (fl & FLAG_MAXIMIZE) !== 0;
    const decay = (fl & FLAG_WEIGHT_DECAY) !== 0;
    const centered = gradAvg !== null && (fl & RMSPROP.flagCentered) !== 0;
    const useMomentum = momentumBuffer !== null && (fl & RMSPROP.flagMomentum) !== 0;
    for (let i = 0; i < param.length; i++) {
      let p = param[i]!;
      let g = maximize ? -grad[i]! : grad[i]!;
      if (decay) g = fmaf(p, weightDecay, g);
      const sq = fmaf(f(oneMinusAlpha * g), g, f(squareAvg[i]! * alpha));
      squareAvg[i] = sq;
      let avg = sq;
      if (centered) {
        const ga = fmaf(g, oneMinusAlpha, f(gradAvg[i]! * alpha));
        gradAvg[i] = ga;
        avg = fmaf(-ga, ga, sq);
      }
      avg = f(f(Math.sqrt(avg)) + eps);
      if (useMomentum) {
        const buf = f(f(momentumBuffer[i]! * momentum) + f(g / avg));
        momentumBuffer[i] = buf;
        p = fmaf(buf, negLr, p);
      } else {
        p = f(p + f(f(negLr * g) / avg));
      }
      param[i] = p;
    }
  }
}

const RMSPROP_KERNEL = { id: KernelId.Rmsprop, js: rmspropKernelJs, slots: RMSPROP.slots, scalars: RMSPROP.scalars } as const;

/**
 * RMSprop (Hinton), with PyTorch's options and defaults. Updates the params in place.
 * @example
 * const opt = new RMSprop([w, b], { lr: 1e-2, momentum: 0.9, centered: true });
 * opt.step([gw, gb]);
 */
export class RMSprop extends Optimizer<Required<RMSpropOptions>, RMSpropState> {
  /**
   * @param params - the parameters to optimize, distinct and non-overlapping.
   * @param options - lr 1e-2, alpha 0.99, eps 1e-8, weightDecay 0, momentum 0, centered false, maximize false.
   * @throws TypeError or RangeError naming the offending argument.
   */
  constructor(params: readonly Float32Array[], options?: RMSpropOptions) {
    super('RMSprop', params, resolveOptions('RMSprop', 'options', options), RMSPROP_KERNEL);
  }

  protected createBuffers(length: number): Slot[] {
    const o = this.options;
    return [
      new Float32Array(length),
      o.centered ? new Float32Array(length) : null,
      o.momentum > 0 ? new Float32Array(length) : null,
    ];
  }

  protected prepare(_record: StateRecord, _length: number, scalars: Float32Array, offset: number): number {
    return rmspropScalars(this.options, scalars, offset);
  }

  protected describeState(record: StateRecord): RMSpropState {
    const [squareAvg, gradAvg, momentumBuffer] = record.buffers;
    const state: RMSpropState = { step: record.step, squareAvg: squareAvg! };
    if (gradAvg) state.gradAvg = gradAvg;
    if (momentumBuffer) state.momentumBuffer = momentumBuffer;
    return state;
  }
}

/**
 * One RMSprop update of one tensor whose state the caller keeps. Updates param, squareAvg and,
 * when used, gradAvg and momentumBuffer in place.
 * @param gradAvg - required when hyper.centered is true, ignored otherwise.
 * @param momentumBuffer - required when hyper.momentum > 0, ignored otherwise.
 * @throws TypeError or RangeError naming the offending argument; nothing is written then.
 */
export function rmspropUpdate(
  param: Float32Array,
  grad: Float32Array,
  squareAvg: Float32Array,
  gradAvg: Float32Array | null,
  momentumBuffer: Float32Array | null,
  hyper: RMSpropHyper,
): void {
  const where = 'rmspropUpdate';
  const o = resolveOptions(where, 'hyper', hyper, ['step']);
  if (hyper !== undefined && (hyper as { step?: unknown }).step !== undefined) stepOption(where, hyper);
  if (o.centered && !(gradAvg instanceof Float32Array)) {
    throw new TypeError(`${where}: gradAvg must be a Float32Array when hyper.centered is true`);
  }
  if (o.momentum > 0 && !(momentumBuffer instanceof Float32Array)) {
    throw new TypeError(`${where}: momentumBuffer must be a Float32Array when hyper.momentum > 0`);
  }
  const used = { gradAvg: o.centered ? gradAvg : null, momentumBuffer: o.momentum > 0 ? momentumBuffer : null };
  checkUpdateArrays(where, [
    { name: 'param', value: param, written: true },
    { name: 'grad', value: grad, written: false },
    { name: 'squareAvg', value: squareAvg, written: true },
    { name: 'gradAvg', value: used.gradAvg, optional: true, written: true },
    { name: 'momentumBuffer', value: used.momentumBuffer, optional: true, written: true },
  ]);
  const flags = rmspropScalars(o, single.scalars, 0);
  single.arrays[RMSPROP.param] = param;
  single.arrays[RMSPROP.grad] = grad;
  single.arrays[RMSPROP.squareAvg] = squareAvg;
  single.arrays[RMSPROP.gradAvg] = used.gradAvg;
  single.arrays[RMSPROP.momentumBuffer] = used.momentumBuffer;
  runSingleTensor(RMSPROP_KERNEL, flags);
}
