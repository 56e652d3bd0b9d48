/**
 * SWATS (Keskar & Socher 2017, "Improving Generalization Performance by Switching from Adam to
 * SGD"): Adam until the SGD learning rate Adam's steps imply has settled, then SGD with momentum
 * at that rate. Algorithm 1 of the paper, run for each param (tensor) on its own:
 *
 *   Adam phase, step k:  p_k = -lr sqrt(1 - beta2^k) / (1 - beta1^k) * m_k / (sqrt(a_k) + eps)
 *                        w_k = w_{k-1} + p_k
 *                        if p_k.g_k != 0:
 *                          gamma_k  = p_k.p_k / (-p_k.g_k)        the rate of SGD's step along p_k
 *                          lambda_k = beta2 lambda_{k-1} + (1 - beta2) gamma_k
 *                          switch when k > 1 and |lambda_k / (1 - beta2^k) - gamma_k| < switchEps
 *                          (and the rate is > 0): sgdLr = lambda_k / (1 - beta2^k), v = 0
 *   SGD phase:           v_k = beta1 v_{k-1} + g_k
 *                        w_k = w_{k-1} - (1 - beta1) sgdLr v_k
 *
 * The float32 specification of the elementwise part (native/swats.cc computes the same bits):
 *
 *   Adam phase                                   SGD phase
 *   g = maximize ? -grad : grad                  g = maximize ? -grad : grad
 *   w = w * fl(1 - lr*weightDecay)  (wd != 0)    w = w * fl(1 - lr*weightDecay)  (wd != 0)
 *   m = fma(g, 1 - beta1, m * beta1)             u = u * beta1 + g
 *   a = fma((1 - beta2) * g, g, a * beta2)       w = fma(u, negSgdLr, w)
 *   d = sqrt(a) / biasCorrection2Sqrt + eps
 *   u = (negStepSize * m) / d
 *   w = w + u
 *
 * That is AdamW's arithmetic, bit for bit, with Adam's step u kept (in the buffer that becomes
 * SGD's momentum at the switch). negSgdLr = fl(-(1 - beta1) sgdLr lr / switchLr): a schedule that
 * scales lr after the switch scales the SGD rate alike. The projection's sums, p.p and p.g, are
 * float64 sums of exact products in the fixed lanes and blocks of clipGradNorm (the same bits on
 * every backend, level and thread count); gamma, lambda and the test are float64.
 */
import { fmaf } from '../core/float32.js';
import { FLAG_DECOUPLED_DECAY, FLAG_MAXIMIZE, KernelId, ReduceId, SWATS as LAYOUT, type Slot } from '../bridge/kernels.js';
import { runReduce, threadsFor } from '../bridge/backend.js';
import { realLength } from '../core/intrinsics.js';
import { betas, bool, num, type OptionSpec } from '../core/options.js';
import { dotJs, sumSquaresJs } from './gradients.js';
import {
  ALL_REQUIRED, Optimizer, type OptimizerDefinition, type ParamGroupInit, type StateRecord, type StepOptions,
} from './optimizer.js';

const f = Math.fround;

/** Options of SWATS, PyTorch's names in camelCase. */
export interface SWATSOptions {
  /** Adam's learning rate. Default 1e-3. */
  lr?: number;
  /** Adam's running-average coefficients; beta1 is SGD's momentum after the switch. Default [0.9, 0.999]. */
  betas?: readonly [number, number];
  /** Added to Adam's denominator. Default 1e-9 (the paper's). */
  eps?: number;
  /** Decoupled weight decay (as AdamW's), in both phases: w *= 1 - lr*weightDecay. Default 0. */
  weightDecay?: number;
  /** The switch test's tolerance: |lambda_k / (1 - beta2^k) - gamma_k| < switchEps. Default 1e-9 (the paper's eps). */
  switchEps?: number;
  /** Maximize the objective instead of minimizing it. Default false. */
  maximize?: boolean;
}

/** Per-param state of SWATS. */
export interface SWATSState {
  step: number;
  /** 'adam' until this param's estimate settles, then 'sgd'. */
  phase: 'adam' | 'sgd';
  /** lambda_k, the running average of the projected rate (not bias-corrected). */
  lrEstimate: number;
  /** The SGD learning rate chosen at the switch (lambda_k / (1 - beta2^k)); 0 before it. */
  sgdLr: number;
  /** The step at which it switched; 0 before. */
  switchStep: number;
  /** The group's lr at the switch; 0 before. */
  switchLr: number;
  expAvg: Float32Array;
  expAvgSq: Float32Array;
  /** Adam's last step p_k in the Adam phase, SGD's momentum v_k in the SGD phase. */
  momentumBuffer: Float32Array;
}

const SPEC: OptionSpec<SWATSOptions> = {
  options: {
    lr: [1e-3, num({ min: 0 })],
    betas: [[0.9, 0.999], betas],
    eps: [1e-9, num({ min: 0 })],
    weightDecay: [0, num({ min: 0 })],
    switchEps: [1e-9, num({ min: 0 })],
    maximize: [false, bool],
  },
};

const PHASE_ADAM = 0, PHASE_SGD = 1;

/** Writes one tensor's scalars for the step after `record`'s and returns its flags. */
function swatsScalars(o: Required<SWATSOptions>, record: Readonly<StateRecord>, s: Float32Array, at: number): number {
  const beta1 = o.betas[0], beta2 = o.betas[1];
  const t = record.step + 1;
  s[at + LAYOUT.beta1] = beta1;
  s[at + LAYOUT.oneMinusBeta1] = 1 - beta1;
  s[at + LAYOUT.beta2] = beta2;
  s[at + LAYOUT.oneMinusBeta2] = 1 - beta2;
  s[at + LAYOUT.weightDecay] = o.weightDecay;
  s[at + LAYOUT.decayFactor] = 1 - o.lr * o.weightDecay;
  s[at + LAYOUT.negStepSize] = -(o.lr / (1 - beta1 ** t));
  s[at + LAYOUT.biasCorrection2Sqrt] = Math.sqrt(1 - beta2 ** t);
  s[at + LAYOUT.eps] = o.eps;
  const scalars = record.scalars;
  const switchLr = scalars['switch_lr']!;
  s[at + LAYOUT.negSgdLr] = -((1 - beta1) * scalars['sgd_lr']! * (switchLr > 0 ? o.lr / switchLr : 1));
  let flags = o.maximize ? FLAG_MAXIMIZE : 0;
  if (o.weightDecay !== 0) flags |= FLAG_DECOUPLED_DECAY;
  if (scalars['phase'] === PHASE_SGD) flags |= LAYOUT.flagSgdPhase;
  return flags;
}

// The loops live in functions with typed-array parameters: V8 then knows every array's kind.
function adamPhase(n: number, w: Float32Array, grad: Float32Array, m: Float32Array, a: Float32Array, u: Float32Array, s: Float32Array, at: number, flags: number): void {
  const beta1 = s[at + LAYOUT.beta1]!, oneMinusBeta1 = s[at + LAYOUT.oneMinusBeta1]!;
  const beta2 = s[at + LAYOUT.beta2]!, oneMinusBeta2 = s[at + LAYOUT.oneMinusBeta2]!;
  const decayFactor = s[at + LAYOUT.decayFactor]!, negStepSize = s[at + LAYOUT.negStepSize]!;
  const biasCorrection2Sqrt = s[at + LAYOUT.biasCorrection2Sqrt]!, eps = s[at + LAYOUT.eps]!;
  const maximize = (flags & FLAG_MAXIMIZE) !== 0, decay = (flags & FLAG_DECOUPLED_DECAY) !== 0;
  for (let i = 0; i < n; i++) {
    let p = w[i]!;
    const g = maximize ? -grad[i]! : grad[i]!;
    if (decay) p = f(p * decayFactor);
    const mi = fmaf(g, oneMinusBeta1, f(m[i]! * beta1));
    const ai = fmaf(f(oneMinusBeta2 * g), g, f(a[i]! * beta2));
    const d = f(f(f(Math.sqrt(ai)) / biasCorrection2Sqrt) + eps);
    const step = f(f(negStepSize * mi) / d);
    m[i] = mi;
    a[i] = ai;
    u[i] = step;
    w[i] = f(p + step);
  }
}

function sgdPhase(n: number, w: Float32Array, grad: Float32Array, v: Float32Array, s: Float32Array, at: number, flags: number): void {
  const beta1 = s[at + LAYOUT.beta1]!, decayFactor = s[at + LAYOUT.decayFactor]!, negSgdLr = s[at + LAYOUT.negSgdLr]!;
  const maximize = (flags & FLAG_MAXIMIZE) !== 0, decay = (flags & FLAG_DECOUPLED_DECAY) !== 0;
  for (let i = 0; i < n; i++) {
    let p = w[i]!;
    const g = maximize ? -grad[i]! : grad[i]!;
    if (decay) p = f(p * decayFactor);
    const vi = f(f(v[i]! * beta1) + g);
    v[i] = vi;
    w[i] = fmaf(vi, negSgdLr, p);
  }
}

/** The TypeScript kernel: the executable specification of native/swats.cc. @internal */
export function swatsKernelJs(arrays: readonly Slot[], scalars: Float32Array, flags: Uint32Array, count: number, lengths: readonly number[]): void {
  for (let t = 0; t < count; t++) {
    const a = t * LAYOUT.slots, at = t * LAYOUT.scalars, fl = flags[t]!;
    if ((fl & LAYOUT.flagSgdPhase) !== 0) sgdPhase(lengths[t]!, arrays[a + LAYOUT.param]!, arrays[a + LAYOUT.grad]!, arrays[a + LAYOUT.update]!, scalars, at, fl);
    else adamPhase(lengths[t]!, arrays[a + LAYOUT.param]!, arrays[a + LAYOUT.grad]!, arrays[a + LAYOUT.expAvg]!, arrays[a + LAYOUT.expAvgSq]!, arrays[a + LAYOUT.update]!, scalars, at, fl);
  }
}

// Reused by every projection: a step allocates nothing once its state exists.
const PAIR: Slot[] = [null, null];
const LENGTHS = [0, 0];

/**
 * The paper's projection and switch test for one param after its Adam step k (record.step):
 * from p_k (the update buffer) and the gradient, in float64. @internal
 */
export function projectAndSwitch(record: StateRecord, hyper: Required<SWATSOptions>, grad: Float32Array, length: number, threads: number | 'auto'): void {
  const scalars = record.scalars;
  if (scalars['phase'] !== PHASE_ADAM) return;
  const update = record.buffers[2]!;
  // The step has been applied; an array detached meanwhile (during stepAsync) gives no estimate
  // this step rather than an error that would leave the step half-committed.
  if (realLength(grad) !== length || realLength(update) !== length) return;
  const n = threadsFor(threads, 8 * length);
  PAIR[0] = update;
  PAIR[1] = grad;
  LENGTHS[0] = LENGTHS[1] = length;
  let pp: number, pgRaw: number;
  try {
    pp = runReduce(ReduceId.SumSquares, sumSquaresJs, PAIR, 1, LENGTHS, n);
    pgRaw = runReduce(ReduceId.Dot, dotJs, PAIR, 2, LENGTHS, n);
  } finally {
    PAIR[0] = PAIR[1] = null; // hold no caller's array past the step
  }
  const pg = hyper.maximize ? -pgRaw : pgRaw; // g = -grad: the products change sign, exactly
  if (pg === 0) return; // the paper: no estimate from a step orthogonal to the gradient
  const gamma = pp / -pg;
  if (!Number.isFinite(gamma)) return; // a non-finite gradient: no estimate from it
  const beta2 = hyper.betas[1], k = record.step;
  const lambda = beta2 * scalars['lr_estimate']! + (1 - beta2) * gamma;
  scalars['lr_estimate'] = lambda;
  const corrected = lambda / (1 - beta2 ** k);
  if (k > 1 && corrected > 0 && Math.abs(corrected - gamma) < hyper.switchEps) {
    scalars['phase'] = PHASE_SGD;
    scalars['sgd_lr'] = corrected;
    scalars['switch_step'] = k;
    scalars['switch_lr'] = hyper.lr;
    update.fill(0); // v = 0: SGD's momentum starts from nothing
  }
}

const KERNEL = { id: KernelId.Swats, js: swatsKernelJs, slots: LAYOUT.slots, scalars: LAYOUT.scalars } as const;
const DEFINITION: OptimizerDefinition<SWATSOptions> = {
  name: 'SWATS', kernel: KERNEL, spec: SPEC, bufferNames: ['exp_avg', 'exp_avg_sq', 'momentum_buffer'],
  scalarState: { phase: PHASE_ADAM, lr_estimate: 0, sgd_lr: 0, switch_step: 0, switch_lr: 0 },
  scalarRules: {
    phase: { min: 0, max: 1, integer: true }, lr_estimate: {}, sgd_lr: { min: 0 }, switch_step: { min: 0, integer: true }, switch_lr: { min: 0 },
  },
  bufferUse: () => ALL_REQUIRED[3]!,
  prepare: (record, hyper, _length, scalars, offset) => swatsScalars(hyper, record, scalars, offset),
  afterStep: projectAndSwitch,
};

/**
 * SWATS: Adam, then SGD with momentum once the SGD rate Adam's steps imply has settled (Keskar &
 * Socher 2017). Each param (tensor) estimates and switches on its own; `phases()` and
 * `state` show where each one is, and the rate it chose. Updates the params in place.
 * @example
 * const opt = new SWATS([w, b], { lr: 1e-3 });
 * opt.step([gw, gb]);
 * opt.phases(); // ['adam', 'adam'], later ['sgd', 'sgd']
 */
export class SWATS extends Optimizer<SWATSOptions, SWATSState> {
  /**
   * @param params - the parameters to optimize (distinct, non-overlapping), or parameter groups.
   * @param options - lr 1e-3, betas [0.9, 0.999], eps 1e-9, weightDecay 0 (decoupled),
   *   switchEps 1e-9, maximize false; and skipNonFinite, threads (see StepOptions).
   * @throws TypeError or RangeError naming the offending argument.
   */
  constructor(params: readonly Float32Array[] | readonly ParamGroupInit<SWATSOptions>[], options?: SWATSOptions & StepOptions) {
    super(DEFINITION, params, options);
  }

  protected describeState(record: StateRecord): SWATSState {
    const s = record.scalars;
    return {
      step: record.step, phase: s['phase'] === PHASE_SGD ? 'sgd' : 'adam', lrEstimate: s['lr_estimate']!, sgdLr: s['sgd_lr']!,
      switchStep: s['switch_step']!, switchLr: s['switch_lr']!,
      expAvg: record.buffers[0]!, expAvgSq: record.buffers[1]!, momentumBuffer: record.buffers[2]!,
    };
  }

  /** Each param's phase, in the order of the params ('adam' also for one not stepped yet). */
  phases(): ('adam' | 'sgd')[] {
    return this.engine.flat.map((_, i) => (this.engine.records[i]?.scalars['phase'] === PHASE_SGD ? 'sgd' : 'adam'));
  }
}
