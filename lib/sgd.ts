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
 * a*b + c rounded once, where PyTorch's vectorized CPU kernels fuse (see lib/adam.ts).
 */
import { fmaf } from './float32.js';
import { FLAG_MAXIMIZE, FLAG_WEIGHT_DECAY, KernelId, SGD as LAYOUT, type Slot } from './kernels.js';
import { Optimizer, runSingleTensor, single, type StateRecord } from './optimizer.js';
import { booleanOption, checkOptionsObject, checkUpdateArrays, numberOption, stepOption } from './validate.js';

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

const OPTION_NAMES = ['lr', 'momentum', 'dampening', 'weightDecay', 'nesterov', 'maximize'] as const;

function resolveOptions(where: string, name: string, options: unknown, extra: readonly string[] = []): Required<SGDOptions> {
  const o = checkOptionsObject(where, name, options, [...OPTION_NAMES, ...extra]);
  const resolved = {
    lr: numberOption(where, `${name}.lr`, o['lr'], 1e-3, { min: 0 }),
    momentum: numberOption(where, `${name}.momentum`, o['momentum'], 0, { min: 0 }),
    dampening: numberOption(where, `${name}.dampening`, o['dampening'], 0, {}),
    weightDecay: numberOption(where, `${name}.weightDecay`, o['weightDecay'], 0, { min: 0 }),
    nesterov: booleanOption(where, `${name}.nesterov`, o['nesterov'], false),
    maximize: booleanOption(where, `${name}.maximize`, o['maximize'], false),
  };
  if (resolved.nesterov && (resolved.momentum <= 0 || resolved.dampening !== 0)) {
    throw new RangeError(`${where}: ${name}.nesterov requires ${name}.momentum > 0 and ${name}.dampening 0`);
  }
  return resolved;
}

function sgdScalars(o: Required<SGDOptions>, firstStep: boolean, s: Float32Array, at: number): number {
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

/** The TypeScript kernel: the executable specification of native/sgd.cc. @internal */
export function sgdKernelJs(arrays: readonly Slot[], scalars: Float32Array, flags: Uint32Array, count: number): void {
  for (let t = 0; t < count; t++) {
    const a = t * LAYOUT.slots, at = t * LAYOUT.scalars;
    const param = arrays[a + LAYOUT.param]!, grad = arrays[a + LAYOUT.grad]!;
    const buffer = arrays[a + LAYOUT.momentumBuffer] ?? null;
    const weightDecay = scalars[at + LAYOUT.weightDecay]!, momentum = scalars[at + LAYOUT.momentum]!;
    const oneMinusDampening = scalars[at + LAYOUT.oneMinusDampening]!, negLr = scalars[at + LAYOUT.negLr]!;
    const fl = flags[t]!;
    const maximize = (fl & FLAG_MAXIMIZE) !== 0;
    const decay = (fl & FLAG_WEIGHT_DECAY) !== 0;
    const useMomentum = buffer !== null && (fl & LAYOUT.flagMomentum) !== 0;
    const nesterov = (fl & LAYOUT.flagNesterov) !== 0;
    const firstStep = (fl & LAYOUT.flagFirstStep) !== 0;
    for (let i = 0; i < param.length; i++) {
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
}

const SGD_KERNEL = { id: KernelId.Sgd, js: sgdKernelJs, slots: LAYOUT.slots, scalars: LAYOUT.scalars } as const;

/**
 * Stochastic gradient descent with optional momentum, dampening, Nesterov momentum and weight
 * decay, with PyTorch's options and defaults. Updates the params in place.
 * @example
 * const opt = new SGD([w, b], { lr: 0.1, momentum: 0.9, nesterov: true });
 * opt.step([gw, gb]);
 */
export class SGD extends Optimizer<Required<SGDOptions>, SGDState> {
  /**
   * @param params - the parameters to optimize, distinct and non-overlapping.
   * @param options - lr 1e-3, momentum 0, dampening 0, weightDecay 0, nesterov false, maximize false.
   * @throws TypeError or RangeError naming the offending argument.
   */
  constructor(params: readonly Float32Array[], options?: SGDOptions) {
    super('SGD', params, resolveOptions('SGD', 'options', options), SGD_KERNEL);
  }

  protected createBuffers(): Slot[] {
    return [null];  // PyTorch creates the momentum buffer on the first step that uses it
  }

  protected prepare(record: StateRecord, length: number, scalars: Float32Array, offset: number): number {
    const firstStep = this.options.momentum !== 0 && record.buffers[0] === null;
    if (firstStep) record.buffers[0] = new Float32Array(length);
    return sgdScalars(this.options, firstStep, scalars, offset);
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
  const where = 'sgdUpdate';
  const o = resolveOptions(where, 'hyper', hyper, ['step']);
  let firstStep = false;
  if (o.momentum !== 0) {
    firstStep = stepOption(where, hyper) === 1;
    if (!(momentumBuffer instanceof Float32Array)) {
      throw new TypeError(`${where}: momentumBuffer must be a Float32Array when hyper.momentum != 0`);
    }
  } else if (hyper !== undefined && (hyper as { step?: unknown }).step !== undefined) {
    stepOption(where, hyper);
  }
  const buffer = o.momentum !== 0 ? momentumBuffer : null;
  checkUpdateArrays(where, [
    { name: 'param', value: param, written: true },
    { name: 'grad', value: grad, written: false },
    { name: 'momentumBuffer', value: buffer, optional: true, written: true },
  ]);
  const flags = sgdScalars(o, firstStep, single.scalars, 0);
  single.arrays[LAYOUT.param] = param;
  single.arrays[LAYOUT.grad] = grad;
  single.arrays[LAYOUT.momentumBuffer] = buffer;
  runSingleTensor(SGD_KERNEL, flags);
}
