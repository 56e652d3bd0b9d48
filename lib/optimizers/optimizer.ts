/**
 * What every optimizer shares: parameter groups, lazily created state, validation of gradients and
 * hyperparameters, one kernel call per step for all tensors with a gradient. optimizer-core.ts
 * holds the groups and the state dicts; step-engine.ts the step (a class of its own, which every
 * kind of optimizer shares, for V8's inline caches: see there).
 *
 * Every operation is all or nothing. A step first reads its inputs, each once (the gradient list
 * and every group's options, where a caller's getters and Proxies run), then validates what it
 * read and the arrays it will touch (params and state buffers must still have the lengths they
 * had: a detached or resized buffer is refused), and only then runs the kernel; state created for
 * the step is attached to the optimizer after the kernel has succeeded.
 * @internal
 */
import type { OptimizerDefinition } from './optimizer-state.js';
import { OptimizerCore, type Gradients } from './optimizer-core.js';

export { ALL_REQUIRED, type BufferUse, type OptimizerDefinition, type StateRecord } from './optimizer-state.js';
export { captureState, type Gradients, type KernelSpec, type ParamGroup, type ParamGroupInit, type StepOptions } from './optimizer-core.js';

export abstract class Optimizer<O extends object, State extends object> extends OptimizerCore<O, State> {
  protected constructor(definition: OptimizerDefinition<O>, params: unknown, options: unknown) {
    super(definition, params, options);
  }

  /**
   * Applies one update to every param whose gradient is given, with its group's current
   * hyperparameters. Gradients and hyperparameters are all checked before any array is written; a
   * param whose gradient is null or undefined is left alone, its state and step count too (as
   * PyTorch skips params whose .grad is None).
   * @param grads - one entry per param, in the order of `params` (group after group).
   * @returns true when the update was applied; false when skipNonFinite found a NaN or infinity
   *   and skipped it.
   * @throws TypeError or RangeError naming the offending argument; nothing has changed then.
   */
  step(grads: Gradients): boolean {
    return this.engine.step(grads);
  }

  /**
   * `step`, off the event loop: the same update and the same bits, computed on another thread
   * while the event loop runs. Gradients and options are read and checked before it returns
   * (a bad argument rejects the promise and changes nothing). Until the promise settles, the
   * optimizer refuses `step`, `stepAsync`, `stateDict`, `loadStateDict` and `addParamGroup`
   * (an Error with code ERR_SIMD_OPTIM_BUSY), and the params, gradients and state buffers must not
   * be written, transferred or resized. On the TypeScript fallback the update runs before the
   * promise is returned.
   * @returns a promise of what `step` returns: true when applied, false when skipNonFinite found a
   *   NaN or infinity and nothing changed.
   */
  stepAsync(grads: Gradients): Promise<boolean> {
    return this.engine.stepAsync(grads);
  }
}
