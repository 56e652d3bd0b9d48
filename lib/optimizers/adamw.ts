/**
 * AdamW (torch.optim.AdamW): Adam with decoupled weight decay (Loshchilov & Hutter). It runs the
 * Adam kernel of lib/optimizers/adam.ts with the decoupled-decay flag; the float32 specification is there:
 *
 *   p = p * fl(1 - lr*weightDecay)     first, instead of adding weightDecay*p to the gradient
 *   ...then the Adam update with weightDecay 0.
 */
import { AdamFamily, adamDefinition, adamFamilyUpdate, ADAMW_SPEC, type AdamHyper, type AdamOptions } from './adam.js';
import type { ParamGroupInit, StepOptions } from './optimizer.js';

const ADAMW_DEFINITION = adamDefinition('AdamW', ADAMW_SPEC, true);

/**
 * AdamW, with PyTorch's options and defaults (weightDecay 1e-2). Updates the params in place.
 * @example
 * const opt = new AdamW([w, b], { lr: 1e-3, weightDecay: 0.01 });
 * opt.step([gw, gb]);
 */
export class AdamW extends AdamFamily {
  /**
   * @param params - the parameters to optimize (distinct, non-overlapping), or parameter groups
   *   `{ params, ...options }` whose options override `options`.
   * @param options - lr 1e-3, betas [0.9, 0.999], eps 1e-8, weightDecay 1e-2, amsgrad false,
   *   maximize false, epsInsideSqrt false; and skipNonFinite, threads (see StepOptions).
   * @throws TypeError or RangeError naming the offending argument.
   */
  constructor(params: readonly Float32Array[] | readonly ParamGroupInit<AdamOptions>[], options?: AdamOptions & StepOptions) {
    super(ADAMW_DEFINITION, params, options);
  }
}

/**
 * One AdamW update of one tensor whose state the caller keeps. Same arguments as adamUpdate;
 * hyper.weightDecay defaults to 1e-2 and is decoupled.
 * @throws TypeError or RangeError naming the offending argument; nothing is written then.
 */
export function adamwUpdate(
  param: Float32Array,
  grad: Float32Array,
  expAvg: Float32Array,
  expAvgSq: Float32Array,
  maxExpAvgSq: Float32Array | null,
  hyper: AdamHyper,
): void {
  adamFamilyUpdate('adamwUpdate', true, param, grad, expAvg, expAvgSq, maxExpAvgSq, hyper);
}
