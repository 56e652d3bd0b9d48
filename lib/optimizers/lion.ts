/**
 * Lion (Chen et al. 2023, "Symbolic Discovery of Optimization Algorithms"): the sign of an
 * interpolation of momentum and gradient. Not in torch.optim; the formula is the paper's:
 *   c = beta1 m + (1 - beta1) g,  p <- p - lr (sign(c) + weightDecay p),  m <- beta2 m + (1 - beta2) g
 *
 * The float32 specification: every line is one IEEE float32 operation, in this order; the native
 * kernels (native/lion.cc) compute the same bits at every instruction-set level.
 *
 *   g = maximize ? -grad : grad
 *   c = fma(g, 1 - beta1, m * beta1)
 *   p = p * fl(1 - lr*weightDecay)           weightDecay != 0 (decoupled, first, as AdamW)
 *   p = fma(sign(c), -lr, p)                 sign: +-1, or c itself for +-0 and NaN (Math.sign)
 *   m = fma(g, 1 - beta2, m * beta2)
 */
import { fmaf } from '../core/float32.js';
import { FLAG_DECOUPLED_DECAY, FLAG_MAXIMIZE, KernelId, LION, type Slot } from '../bridge/kernels.js';
import { betas, bool, num, type OptionSpec } from '../core/options.js';
import {
  ALL_REQUIRED, Optimizer, type OptimizerDefinition, type ParamGroupInit,
  type StateRecord, type StepOptions,
} from './optimizer.js';
import { functionalUpdate } from './functional.js';

const f = Math.fround;

/** Options of Lion. */
export interface LionOptions {
  /** Learning rate. Default 1e-4 (the paper: 3-10x smaller than AdamW's). */
  lr?: number;
  /** Interpolation coefficient of the update, and of the momentum. Default [0.9, 0.99]. */
  betas?: readonly [number, number];
  /** Decoupled weight decay. Default 0. */
  weightDecay?: number;
  /** Maximize the objective instead of minimizing it. Default false. */
  maximize?: boolean;
}

/** Per-param state of Lion. */
export interface LionState {
  step: number;
  expAvg: Float32Array;
}

const SPEC: OptionSpec<LionOptions> = {
  options: {
    lr: [1e-4, num({ min: 0 })],
    betas: [[0.9, 0.99], betas],
    weightDecay: [0, num({ min: 0 })],
    maximize: [false, bool],
  },
};

function lionScalars(o: Required<LionOptions>, s: Float32Array, at: number): number {
  const beta1 = o.betas[0], beta2 = o.betas[1]; // indexed: destructuring allocates an iterator
  s[at + LION.beta1] = beta1;
  s[at + LION.oneMinusBeta1] = 1 - beta1;
  s[at + LION.beta2] = beta2;
  s[at + LION.oneMinusBeta2] = 1 - beta2;
  s[at + LION.decayFactor] = 1 - o.lr * o.weightDecay;
  s[at + LION.negLr] = -o.lr;
  return (o.maximize ? FLAG_MAXIMIZE : 0) | (o.weightDecay !== 0 ? FLAG_DECOUPLED_DECAY : 0);
}

// The loop lives in its own function with typed-array parameters: V8 then knows the element
// kind of every array; reading them out of the Slot list in the loop halves the speed. It has a
// loop with weight decay and one without, which also keeps its bytecode above V8's inlining limit
// (460 bytes): a step that inlined it spent its inlining budget before the fmaf calls, and each
// call then boxed its doubles (50-100 collections per 100,000 steps, in 7 runs of 10).
function lionTensor(n: number, param: Float32Array, grad: Float32Array, expAvg: Float32Array, s: Float32Array, at: number, flags: number): void {
  const beta1 = s[at + LION.beta1]!, oneMinusBeta1 = s[at + LION.oneMinusBeta1]!;
  const beta2 = s[at + LION.beta2]!, oneMinusBeta2 = s[at + LION.oneMinusBeta2]!;
  const decayFactor = s[at + LION.decayFactor]!, negLr = s[at + LION.negLr]!;
  const maximize = (flags & FLAG_MAXIMIZE) !== 0;
  const decay = (flags & FLAG_DECOUPLED_DECAY) !== 0;
  if (decay) {
    for (let i = 0; i < n; i++) {
      const g = maximize ? -grad[i]! : grad[i]!;
      const m = expAvg[i]!;
      const c = fmaf(g, oneMinusBeta1, f(m * beta1));
      param[i] = fmaf(Math.sign(c), negLr, f(param[i]! * decayFactor));
      expAvg[i] = fmaf(g, oneMinusBeta2, f(m * beta2));
    }
    return;
  }
  for (let i = 0; i < n; i++) {
    const g = maximize ? -grad[i]! : grad[i]!;
    const m = expAvg[i]!;
    const c = fmaf(g, oneMinusBeta1, f(m * beta1));
    param[i] = fmaf(Math.sign(c), negLr, param[i]!);
    expAvg[i] = fmaf(g, oneMinusBeta2, f(m * beta2));
  }
}

/** The TypeScript kernel: the executable specification of native/lion.cc. @internal */
export function lionKernelJs(arrays: readonly Slot[], scalars: Float32Array, flags: Uint32Array, count: number, lengths: readonly number[]): void {
  for (let t = 0; t < count; t++) {
    const a = t * LION.slots;
    lionTensor(lengths[t]!, arrays[a + LION.param]!, arrays[a + LION.grad]!, arrays[a + LION.expAvg]!, scalars, t * LION.scalars, flags[t]!);
  }
}

const KERNEL = { id: KernelId.Lion, js: lionKernelJs, slots: LION.slots, scalars: LION.scalars } as const;
const DEFINITION: OptimizerDefinition<LionOptions> = {
  name: 'Lion', kernel: KERNEL, spec: SPEC, bufferNames: ['exp_avg'], scalarsByStep: true,
  bufferUse: () => ALL_REQUIRED[1]!,
  prepare: (_record, hyper, _length, scalars, offset) => lionScalars(hyper, scalars, offset),
};

/**
 * Lion (EvoLved Sign Momentum). Updates the params in place.
 * @example
 * const opt = new Lion([w, b], { lr: 1e-4, weightDecay: 0.1 });
 * opt.step([gw, gb]);
 */
export class Lion extends Optimizer<LionOptions, LionState> {
  /**
   * @param params - the parameters to optimize (distinct, non-overlapping), or parameter groups.
   * @param options - lr 1e-4, betas [0.9, 0.99], weightDecay 0, maximize false; and skipNonFinite, threads (see StepOptions).
   * @throws TypeError or RangeError naming the offending argument.
   */
  constructor(params: readonly Float32Array[] | readonly ParamGroupInit<LionOptions>[], options?: LionOptions & StepOptions) {
    super(DEFINITION, params, options);
  }

  protected describeState(record: StateRecord): LionState {
    return { step: record.step, expAvg: record.buffers[0]! };
  }
}

/**
 * One Lion update of one tensor whose state the caller keeps. Updates param and expAvg in place.
 * @throws TypeError or RangeError naming the offending argument; nothing is written then.
 */
export function lionUpdate(param: Float32Array, grad: Float32Array, expAvg: Float32Array, hyper: LionOptions & { step?: number }): void {
  functionalUpdate('lionUpdate', SPEC, KERNEL, hyper, false, [
    { name: 'param', value: param, written: true },
    { name: 'grad', value: grad, written: false },
    { name: 'expAvg', value: expAvg, written: true },
  ], (o, s) => lionScalars(o, s, 0));
}
