/**
 * The body of every functional update (adamUpdate, sgdUpdate, ...): one kernel call on one tensor
 * whose state the caller keeps. The hyperparameters are copied once into a snapshot and checked,
 * then the arrays (all before anything is written), then the kernel runs on the snapshot.
 * @internal
 */
import { runKernel } from '../bridge/backend.js';
import type { KernelSpec } from './optimizer.js';
import type { Slot } from '../bridge/kernels.js';
import { resolveOptions, type OptionSpec } from '../core/options.js';
import { checkUpdateArrays, stepValue, type UpdateArray } from '../core/validate.js';

// Scratch arguments, module-level so an update allocates no typed arrays.
const arraysScratch = new Array<Slot>(5).fill(null);
const scalarsScratch = new Float32Array(16);
const flagsScratch = new Uint32Array(1);
const lengthsScratch: number[] = [0];

/**
 * Runs one functional update.
 * @param stepRequired - whether hyper.step must be given (a function of the options for SGD, which
 *   needs it only with momentum); when given it must be a whole number >= 1 either way.
 * @param arrays - in kernel slot order (or computed from the options); those the options do not
 *   use are null.
 * @param fillScalars - writes the kernel's scalars for this step (0 when no step was given) and
 *   returns its flags; `extra` holds the values of the `extra` keys of hyper, each read once.
 */
export function functionalUpdate<O extends object>(
  where: string,
  spec: OptionSpec<O>,
  kernel: KernelSpec,
  hyper: unknown,
  stepRequired: boolean | ((o: Required<O>) => boolean),
  arrays: readonly UpdateArray[] | ((o: Required<O>) => readonly UpdateArray[]),
  fillScalars: (o: Required<O>, scalars: Float32Array, step: number, extra: Record<string, unknown>) => number,
  extra: readonly string[] = [],
): void {
  const given: Record<string, unknown> = {};
  const o = resolveOptions(spec, where, 'hyper', hyper, undefined, ['step', ...extra], given);
  const required = typeof stepRequired === 'function' ? stepRequired(o) : stepRequired;
  const step = given['step'] === undefined && !required ? 0 : stepValue(where, given['step']);
  const list = typeof arrays === 'function' ? arrays(o) : arrays;
  const length = checkUpdateArrays(where, list);
  const flags = fillScalars(o, scalarsScratch, step, given);
  for (let k = 0; k < list.length; k++) arraysScratch[k] = (list[k]!.value as Float32Array | null | undefined) ?? null;
  flagsScratch[0] = flags;
  lengthsScratch[0] = length;
  try {
    runKernel(kernel.id, kernel.js, arraysScratch, scalarsScratch, flagsScratch, 1, lengthsScratch);
  } finally {
    arraysScratch.fill(null); // do not keep the caller's arrays alive
  }
}
