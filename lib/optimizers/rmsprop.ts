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
 *   avg = sqrt(centered ? fma(-ga, ga, sq) : sq) + eps           (epsInsideSqrt: sqrt(... + eps))
 *   buf = buf * momentum + g / avg            momentum > 0       (buf.mul_(m).addcdiv_(g, avg))
 *   p   = fma(buf, negLr, p)                  momentum > 0       (p.add_(buf, alpha=-lr))
 *   p   = p + (negLr * g) / avg               momentum == 0      (p.addcdiv_(g, avg, value=-lr))
 *
 * 1 - alpha and -lr are computed in float64 and rounded to float32 once. fma(a, b, c) is a*b + c
 * rounded once, where PyTorch's vectorized CPU kernels fuse (see lib/optimizers/adam.ts).
 */
import { fmaf } from '../core/float32.js';
import { FLAG_EPS_INSIDE_SQRT, FLAG_MAXIMIZE, FLAG_WEIGHT_DECAY, KernelId, RMSPROP, type Slot } from '../bridge/kernels.js';
import { bool, num, type OptionSpec } from '../core/options.js';
import {
  Optimizer, type BufferUse, type OptimizerDefinition, type ParamGroupInit,
  type StateRecord, type StepOptions,
} from './optimizer.js';
import { functionalUpdate } from './functional.js';

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
  /** sqrt(avg + eps) instead of sqrt(avg) + eps, as TensorFlow.js. Default false. */
  epsInsideSqrt?: boolean;
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

const SPEC: OptionSpec<RMSpropOptions> = {
  options: {
    lr: [1e-2, num({ min: 0 })],
    alpha: [0.99, num({ min: 0 })],
    eps: [1e-8, num({ min: 0 })],
    weightDecay: [0, num({ min: 0 })],
    momentum: [0, num({ min: 0 })],
    centered: [false, bool],
    maximize: [false, bool],
    epsInsideSqrt: [false, bool],
  },
};

/** Writes one tensor's scalars and returns its flags (simd-optim/tfjs uses it too). @internal */
export function rmspropScalars(o: Required<RMSpropOptions>, s: Float32Array, at: number): number {
  s[at + RMSPROP.alpha] = o.alpha;
  s[at + RMSPROP.oneMinusAlpha] = 1 - o.alpha;
  s[at + RMSPROP.weightDecay] = o.weightDecay;
  s[at + RMSPROP.momentum] = o.momentum;
  s[at + RMSPROP.negLr] = -o.lr;
  s[at + RMSPROP.eps] = o.eps;
  let flags = (o.maximize ? FLAG_MAXIMIZE : 0) | (o.weightDecay !== 0 ? FLAG_WEIGHT_DECAY : 0);
  if (o.centered) flags |= RMSPROP.flagCentered;
  if (o.momentum > 0) flags |= RMSPROP.flagMomentum;
  if (o.epsInsideSqrt) flags |= FLAG_EPS_INSIDE_SQRT;
  return flags;
}

// The loop lives in its own function with typed-array parameters, so V8 knows the element kind of
// every array. The scalars are read from the Float32Array here, not passed in: doubles passed to a
// call V8 does not inline are boxed, six heap numbers per tensor per step (measured: 50 minor GCs
// in 200,000 steps of 8 tensors; none now, and 10-20% faster at 64K elements).
function rmspropTensor(
  n: number,
  param: Float32Array,
  grad: Float32Array,
  squareAvg: Float32Array,
  gradAvg: Float32Array | null,
  momentumBuffer: Float32Array | null,
  s: Float32Array,
  at: number,
  flags: number,
): void {
  const alpha = s[at + RMSPROP.alpha]!, oneMinusAlpha = s[at + RMSPROP.oneMinusAlpha]!;
  const weightDecay = s[at + RMSPROP.weightDecay]!, momentum = s[at + RMSPROP.momentum]!;
  const negLr = s[at + RMSPROP.negLr]!, eps = s[at + RMSPROP.eps]!;
  const maximize = (flags & FLAG_MAXIMIZE) !== 0;
  const decay = (flags & FLAG_WEIGHT_DECAY) !== 0;
  const epsInside = (flags & FLAG_EPS_INSIDE_SQRT) !== 0;
  const centered = gradAvg !== null && (flags & RMSPROP.flagCentered) !== 0;
  const useMomentum = momentumBuffer !== null && (flags & RMSPROP.flagMomentum) !== 0;
  for (let i = 0; i < n; i++) {
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
    avg = epsInside ? f(Math.sqrt(f(avg + eps))) : f(f(Math.sqrt(avg)) + eps);
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

/** The TypeScript kernel: the executable specification of native/rmsprop.cc. @internal */
export function rmspropKernelJs(arrays: readonly Slot[], scalars: Float32Array, flags: Uint32Array, count: number, lengths: readonly number[]): void {
  for (let t = 0; t < count; t++) {
    const a = t * RMSPROP.slots, s = t * RMSPROP.scalars;
    rmspropTensor(
      lengths[t]!,
      arrays[a + RMSPROP.param]!, arrays[a + RMSPROP.grad]!, arrays[a + RMSPROP.squareAvg]!,
      arrays[a + RMSPROP.gradAvg] ?? null, arrays[a + RMSPROP.momentumBuffer] ?? null,
      scalars, s, flags[t]!,
    );
  }
}

const RMSPROP_KERNEL = { id: KernelId.Rmsprop, js: rmspropKernelJs, slots: RMSPROP.slots, scalars: RMSPROP.scalars } as const;

// Constants: bufferUse runs for every param on every step. Index: centered + 2 * momentum.
const USES: readonly (readonly BufferUse[])[] = [
  Object.freeze(['required', 'unused', 'unused']),
  Object.freeze(['required', 'required', 'unused']),
  Object.freeze(['required', 'unused', 'required']),
  Object.freeze(['required', 'required', 'required']),
];

const DEFINITION: OptimizerDefinition<RMSpropOptions> = {
  name: 'RMSprop', kernel: RMSPROP_KERNEL, spec: SPEC, bufferNames: ['square_avg', 'grad_avg', 'momentum_buffer'], scalarsByStep: true,
  bufferUse: (hyper) => USES[(hyper.centered ? 1 : 0) + (hyper.momentum > 0 ? 2 : 0)]!,
  prepare: (_record, hyper, _length, scalars, offset) => rmspropScalars(hyper, scalars, offset),
};

/**
 * RMSprop (Hinton), with PyTorch's options and defaults. Updates the params in place.
 * @example
 * const opt = new RMSprop([w, b], { lr: 1e-2, momentum: 0.9, centered: true });
 * opt.step([gw, gb]);
 */
export class RMSprop extends Optimizer<RMSpropOptions, RMSpropState> {
  /**
   * @param params - the parameters to optimize (distinct, non-overlapping), or parameter groups
   *   `{ params, ...options }` whose options override `options`.
   * @param options - lr 1e-2, alpha 0.99, eps 1e-8, weightDecay 0, momentum 0, centered false,
   *   maximize false, epsInsideSqrt false; and skipNonFinite, threads (see StepOptions).
   * @throws TypeError or RangeError naming the offending argument.
   */
  constructor(params: readonly Float32Array[] | readonly ParamGroupInit<RMSpropOptions>[], options?: RMSpropOptions & StepOptions) {
    super(DEFINITION, params, options);
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
  functionalUpdate(where, SPEC, RMSPROP_KERNEL, hyper, false, (o) => [
    { name: 'param', value: param, written: true },
    { name: 'grad', value: grad, written: false },
    { name: 'squareAvg', value: squareAvg, written: true },
    { name: 'gradAvg', value: o.centered ? gradAvg : null, optional: !o.centered, written: true, neededWhen: 'when hyper.centered is true' },
    { name: 'momentumBuffer', value: o.momentum > 0 ? momentumBuffer : null, optional: !(o.momentum > 0), written: true, neededWhen: 'when hyper.momentum > 0' },
  ], (o, s) => rmspropScalars(o, s, 0));
}
