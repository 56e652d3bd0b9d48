/**
 * SGD with momentum, dampening and Nesterov momentum (torch.optim.SGD).
 *
 * The float32 specification: every line is one IEEE float32 operation, in this order; the native
 * kernels (native/sgd.cc) compute the same bits at every instruction-set level.
 *
 *   g   = maximize ? -grad : grad
 *   g   = fma(p, weightDecay, g)                    weightDecay != 0   (grad.add(p, alpha=wd))
 *   buf = g                                         momentum != 0, first step (PyTorch clones)
 *   buf = fma(g, 1 - dampening, buf * momentum)     momentum != 0, later steps
 *   g   = nesterov ? fma(buf, momentum, g) : buf    momentum != 0
 *   p   = fma(g, negLr, p)                          (p.add_(g, alpha=-lr))
 *
 * 1 - dampening and -lr are computed in float64 and rounded to float32 once. fma(a, b, c) is
 * a*b + c rounded once, where PyTorch's vectorized CPU kernels fuse (see lib/optimizers/adam.ts).
 */
import { fmaf } from '../core/float32.js';
import { FLAG_MAXIMIZE, FLAG_WEIGHT_DECAY, KernelId, SGD as LAYOUT, type Slot } from '../bridge/kernels.js';
import { bool, num, optionsLabel, type OptionSpec } from '../core/options.js';
import {
  Optimizer, type BufferUse, type OptimizerDefinition, type ParamGroupInit,
  type StateRecord, type StepOptions,
} from './optimizer.js';
import { functionalUpdate } from './functional.js';

const f = Math.fround;

/** Options of SGD, PyTorch's names in camelCase. */
export interface SGDOptions {
  /** Learning rate. Default 1e-3. */
  lr?: number;
  /** Momentum factor. Default 0. */
  momentum?: number;
  /** Dampening of the momentum. Default 0. */
  dampening?: number;
  /** L2 penalty added to the gradient. Default 0. */
  weightDecay?: number;
  /** Nesterov momentum; needs momentum > 0 and dampening 0. Default false. */
  nesterov?: boolean;
  /** Maximize the objective instead of minimizing it. Default false. */
  maximize?: boolean;
}

/** Per-param state of SGD: the momentum buffer, once momentum is in use. */
export interface SGDState {
  momentumBuffer: Float32Array | null;
}

/** The hyperparameters of one functional SGD update. */
export interface SGDHyper extends SGDOptions {
  /**
   * The 1-based count of this update; required when momentum != 0. On step 1 the momentum
   * buffer is set to the gradient, as PyTorch does when the buffer does not exist yet.
   */
  step?: number;
}

const SPEC: OptionSpec<SGDOptions> = {
  options: {
    lr: [1e-3, num({ min: 0 })],
    momentum: [0, num({ min: 0 })],
    dampening: [0, num()],
    weightDecay: [0, num({ min: 0 })],
    nesterov: [false, bool],
    maximize: [false, bool],
  },
  crossCheck(where, prefix, o) {
    if (o.nesterov && (o.momentum <= 0 || o.dampening !== 0)) {
      const label = optionsLabel(prefix);
      throw new RangeError(`${where}: ${label}.nesterov requires ${label}.momentum > 0 and ${label}.dampening 0`);
    }
  },
};

/** Writes one tensor's scalars and returns its flags (simd-optim/tfjs uses it too). @internal */
export function sgdScalars(o: Required<SGDOptions>, firstStep: boolean, s: Float32Array, at: number): number {
  s[at + LAYOUT.weightDecay] = o.weightDecay;
  s[at + LAYOUT.momentum] = o.momentum;
  s[at + LAYOUT.oneMinusDampening] = 1 - o.dampening;
  s[at + LAYOUT.negLr] = -o.lr;
  let flags = (o.maximize ? FLAG_MAXIMIZE : 0) | (o.weightDecay !== 0 ? FLAG_WEIGHT_DECAY : 0);
  if (o.momentum !== 0) {
    flags |= LAYOUT.flagMomentum;
    if (o.nesterov) flags |= LAYOUT.flagNesterov;
    if (firstStep) flags |= LAYOUT.flagFirstStep;
  }
  return flags;
}

// The loop lives in its own function with typed-array parameters: V8 then knows the element
// kind of every array; reading them out of the Slot list in the loop halves the speed.
function sgdTensor(n: number, param: Float32Array, grad: Float32Array, buffer: Float32Array | null, s: Float32Array, at: number, flags: number): void {
  const weightDecay = s[at + LAYOUT.weightDecay]!, momentum = s[at + LAYOUT.momentum]!;
  const oneMinusDampening = s[at + LAYOUT.oneMinusDampening]!, negLr = s[at + LAYOUT.negLr]!;
  const maximize = (flags & FLAG_MAXIMIZE) !== 0;
  const decay = (flags & FLAG_WEIGHT_DECAY) !== 0;
  const useMomentum = buffer !== null && (flags & LAYOUT.flagMomentum) !== 0;
  const nesterov = (flags & LAYOUT.flagNesterov) !== 0;
  const firstStep = (flags & LAYOUT.flagFirstStep) !== 0;
  for (let i = 0; i < n; i++) {
    let p = param[i]!;
    let g = maximize ? -grad[i]! : grad[i]!;
    if (decay) g = fmaf(p, weightDecay, g);
    if (useMomentum) {
      const buf = firstStep ? g : fmaf(g, oneMinusDampening, f(buffer[i]! * momentum));
      buffer[i] = buf;
      g = nesterov ? fmaf(buf, momentum, g) : buf;
    }
    p = fmaf(g, negLr, p);
    param[i] = p;
  }
}

/** The TypeScript kernel: the executable specification of native/sgd.cc. @internal */
export function sgdKernelJs(arrays: readonly Slot[], scalars: Float32Array, flags: Uint32Array, count: number, lengths: readonly number[]): void {
  for (let t = 0; t < count; t++) {
    const a = t * LAYOUT.slots;
    sgdTensor(lengths[t]!, arrays[a + LAYOUT.param]!, arrays[a + LAYOUT.grad]!, arrays[a + LAYOUT.momentumBuffer] ?? null, scalars, t * LAYOUT.scalars, flags[t]!);
  }
}

const SGD_KERNEL = { id: KernelId.Sgd, js: sgdKernelJs, slots: LAYOUT.slots, scalars: LAYOUT.scalars } as const;

// Constants: bufferUse runs for every param on every step.
const OPTIONAL: readonly BufferUse[] = Object.freeze(['optional']);
const UNUSED: readonly BufferUse[] = Object.freeze(['unused']);

const DEFINITION: OptimizerDefinition<SGDOptions> = {
  name: 'SGD', kernel: SGD_KERNEL, spec: SPEC, bufferNames: ['momentum_buffer'], countsSteps: false, planSharesScalars: true,
  // PyTorch creates the momentum buffer on the first step that uses momentum, as a copy of the
  // gradient; a state dict may lack it.
  bufferUse: (hyper) => (hyper.momentum !== 0 ? OPTIONAL : UNUSED),
  prepare: (_record, hyper, length, scalars, offset, buffers, at) => {
    const firstStep = hyper.momentum !== 0 && buffers[at] === null;
    if (firstStep) buffers[at] = new Float32Array(length); // attached once the step has succeeded
    return sgdScalars(hyper, firstStep, scalars, offset);
  },
};

/**
 * Stochastic gradient descent with optional momentum, dampening, Nesterov momentum and weight
 * decay, with PyTorch's options and defaults. Updates the params in place.
 * @example
 * const opt = new SGD([w, b], { lr: 0.1, momentum: 0.9, nesterov: true });
 * opt.step([gw, gb]);
 */
export class SGD extends Optimizer<SGDOptions, SGDState> {
  /**
   * @param params - the parameters to optimize (distinct, non-overlapping), or parameter groups
   *   `{ params, ...options }` whose options override `options`.
   * @param options - lr 1e-3, momentum 0, dampening 0, weightDecay 0, nesterov false,
   *   maximize false; and skipNonFinite, threads (see StepOptions).
   * @throws TypeError or RangeError naming the offending argument.
   */
  constructor(params: readonly Float32Array[] | readonly ParamGroupInit<SGDOptions>[], options?: SGDOptions & StepOptions) {
    super(DEFINITION, params, options);
  }

  protected describeState(record: StateRecord): SGDState {
    return { momentumBuffer: record.buffers[0] ?? null };
  }
}

/**
 * One SGD update of one tensor whose state the caller keeps. Updates param and, with momentum,
 * momentumBuffer in place.
 * @param momentumBuffer - required when hyper.momentum != 0, ignored otherwise.
 * @param hyper - the options of {@link SGD}, plus `step` when momentum != 0 (1 on the first update).
 * @throws TypeError or RangeError naming the offending argument; nothing is written then.
 */
export function sgdUpdate(param: Float32Array, grad: Float32Array, momentumBuffer: Float32Array | null, hyper: SGDHyper): void {
  // With momentum the step must be known: on step 1 the buffer starts as a copy of the gradient.
  functionalUpdate('sgdUpdate', SPEC, SGD_KERNEL, hyper, (o) => o.momentum !== 0, (o) => [
    { name: 'param', value: param, written: true },
    { name: 'grad', value: grad, written: false },
    { name: 'momentumBuffer', value: o.momentum !== 0 ? momentumBuffer : null, optional: o.momentum === 0, written: true, neededWhen: 'when hyper.momentum != 0' },
  ], (o, s, step) => sgdScalars(o, step === 1, s, 0));
}
