/**
 * Gradient norms across processes: data-parallel training where each rank (a process, a machine, a
 * Worker) holds a shard of the parameters and their gradients, and clipping must see the norm of
 * all of them. Each rank computes the partials of its own tensors with gradNormPartials, the
 * transport of the user's choice gathers them, combineGradNormPartials turns them into the total
 * norm, and each rank scales its shard with clipGradNorm(shard, maxNorm, { totalNorm }).
 *
 * Exact: a norm is specified per tensor (see lib/optimizers/gradients.ts: a tensor's sum is its
 * blocks' sums in order, the norm the tensors' sums in order), so the partials are the per-tensor
 * sums (of squares for the 2-norm, of |x| for the 1-norm, the largest |x| for Infinity), and adding
 * them in the order of the tensors gives the bits clipGradNorm gives in one process holding every
 * tensor.
 */
import { runReduce, threadsFor } from '../bridge/backend.js';
import { ReduceId } from '../bridge/kernels.js';
import { isFloat32Array, realLength, typedArrayName } from '../core/intrinsics.js';
import { checkOptionsObject, describe, readArray, threadsOption } from '../core/validate.js';
import { maxAbsJs, readNormType, sumAbsJs, sumSquaresJs, type NormType } from './gradients.js';

export type { NormType } from './gradients.js';

/** Options of {@link gradNormPartials}. */
export interface GradNormPartialsOptions {
  /** 2 (default), 1 or Infinity: the norm the partials are for. */
  normType?: NormType;
  /** How many threads may share the work (as ClipGradNormOptions.threads). */
  threads?: number | 'auto';
}

/**
 * One number per gradient, in order: what that tensor adds to the norm (its sum of squares for
 * the 2-norm, its sum of |g| for the 1-norm, its largest |g| for Infinity), in float64. Give every
 * rank's partials, in the order of the tensors in the whole model, to combineGradNormPartials.
 * @throws TypeError or RangeError naming the offending argument.
 */
export function gradNormPartials(grads: readonly Float32Array[], options?: GradNormPartialsOptions): Float64Array {
  const where = 'gradNormPartials';
  const o = checkOptionsObject(where, 'options', options, ['normType', 'threads']);
  const normType = readNormType(where, o['normType']);
  const threadSetting = threadsOption(where, 'options.threads', o['threads']);
  const list = readArray(where, 'grads', grads, 'an array of Float32Array');
  const arrays: Float32Array[] = [], lengths: number[] = [];
  list.forEach((g, i) => {
    if (!isFloat32Array(g)) throw new TypeError(`${where}: grads[${i}] must be a Float32Array, got ${describe(g)}`);
    arrays.push(g);
    lengths.push(realLength(g));
  });
  const out = new Float64Array(arrays.length);
  for (let i = 0; i < arrays.length; i++) {
    const one = [arrays[i]!], length = [lengths[i]!], threads = threadsFor(threadSetting, 4 * lengths[i]!);
    out[i] = normType === 2 ? runReduce(ReduceId.SumSquares, sumSquaresJs, one, 1, length, threads)
      : normType === 1 ? runReduce(ReduceId.SumAbs, sumAbsJs, one, 1, length, threads)
      : runReduce(ReduceId.MaxAbs, maxAbsJs, one, 1, length, threads);
  }
  return out;
}

/**
 * The total norm from every rank's partials, given in the order of the tensors in the whole model
 * (rank 0's tensors first, if rank 0 holds the first ones): the same float64 clipGradNorm returns
 * for all the gradients in one process.
 * @param partials - gradNormPartials of each rank, in order (or one Float64Array of them all).
 * @throws TypeError or RangeError naming the offending argument.
 */
export function combineGradNormPartials(partials: readonly Float64Array[] | Float64Array, options?: { normType?: NormType }): number {
  const where = 'combineGradNormPartials';
  const o = checkOptionsObject(where, 'options', options, ['normType']);
  const normType = readNormType(where, o['normType']);
  const lists: unknown[] = typedArrayName(partials) === 'Float64Array' ? [partials] : readArray(where, 'partials', partials, 'an array of Float64Array');
  let total = 0;
  // Checked first, all of them: judged by their internal slots (a Proxy or a look-alike is not a
  // Float64Array), each length read once.
  const lengths = lists.map((list, r) => {
    if (typedArrayName(list) !== 'Float64Array') throw new TypeError(`${where}: partials[${r}] must be a Float64Array (from gradNormPartials), got ${describe(list)}`);
    return realLength(list as Float64Array);
  });
  lists.forEach((value, r) => {
    const list = value as Float64Array;
    for (let i = 0, n = lengths[r]!; i < n; i++) {
      const x = list[i]!;
      // As the reductions combine them: in order, from 0; the maximum NaN-propagating.
      total = normType === Infinity ? (x !== x || total !== total ? NaN : Math.max(total, x)) : total + x;
    }
  });
  return normType === 2 ? Math.sqrt(total) : total;
}
