/**
 * Feature scaling, as the lecture notes teach it: x <- (x - mean) / std, per column, with the mean
 * and standard deviation of the training data (scikit-learn's StandardScaler, in camelCase).
 *
 *   fit:        Welford's updates in float64, one pass, each value read once. The rows of a column
 *               are dealt to R = max(1, floor(32 / columns)) accumulators (row r to r mod R), so
 *               one pass of up to 32 values updates as many independent accumulators (the native
 *               kernel runs them as SIMD lanes, four AVX-512 vectors whose divisions overlap); for each accumulator, with k = count + 1, d = x - mean:
 *                 mean' = mean + d / k,   m2' = m2 + d * (x - mean')
 *               then each column's R accumulators are merged in order (Chan, Golub & LeVeque):
 *                 n = na + nb,  delta = mb - ma,  mean = ma + delta * (nb / n),
 *                 m2 = m2a + m2b + delta * delta * (na * nb / n)
 *               var = m2 / n; scale = sqrt(var), or 1 for a constant column (a column of equal
 *               values has every deviation exactly 0, so var exactly 0)
 *   transform:  y = fl32((x - mean) / scale)     in float64, rounded to float32 once
 *   inverse:    x = fl32(y * scale + mean)       in float64 (no fused multiply-add), rounded once
 *
 * The arithmetic is float64 because a float32 mean would be off by half its ulp: for a column
 * near 1000 with spread 0.01, that is 0.3% of the spread, a visible shift of every scaled value.
 * The functions named *Js below are the executable specification of native/scaler.cc, which
 * computes the same bits at every instruction-set level. NaN in the data is a missing value: fit
 * leaves it out of its column's statistics and transform keeps it NaN (as scikit-learn). An
 * infinity is an error.
 */
import { booleanOption, checkFloat32Array, checkOptionsObject, describe, extentOf, extentsOverlap } from '../core/validate.js';
import { realLength } from '../core/intrinsics.js';
import { scalingAddon } from '../bridge/backend.js';

/** Options of StandardScaler, scikit-learn's names in camelCase. */
export interface StandardScalerOptions {
  /** Subtract the mean. Default true. */
  withMean?: boolean;
  /** Divide by the standard deviation. Default true. */
  withStd?: boolean;
}

/** A fitted scaler as plain data (JSON-safe: numbers and arrays of numbers). */
export interface StandardScalerStateDict {
  columns: number;
  withMean: boolean;
  withStd: boolean;
  /** Per column, float64. */
  mean: number[];
  /** Per column, the population variance, float64. */
  var: number[];
  /** Per column: the standard deviation, or 1 for a constant column, or 1 without withStd. */
  scale: number[];
  /** Per column: the values counted (NaNs are not). */
  nSamplesSeen: number[];
}

interface Fitted {
  readonly columns: number;
  readonly mean: Float64Array;
  readonly variance: Float64Array;
  readonly scale: Float64Array;
  readonly count: Float64Array;
  /**
   * What transform uses: the mean (0 without withMean) and the scale, for columns + 16 entries,
   * entry j being column j % columns's (the native kernel reads 16 columns from any column on).
   */
  readonly shift: Float64Array;
  readonly divisor: Float64Array;
}

/** Standardizes the columns of row-major Float32Array data. */
export class StandardScaler {
  readonly withMean: boolean;
  readonly withStd: boolean;
  private fitted: Fitted | null = null;

  /**
   * @param options - withMean true, withStd true.
   * @throws TypeError naming an unknown or mistyped option.
   */
  constructor(options?: StandardScalerOptions) {
    const where = 'StandardScaler';
    const given = checkOptionsObject(where, 'options', options, ['withMean', 'withStd']);
    this.withMean = booleanOption(where, 'options.withMean', given['withMean'], true);
    this.withStd = booleanOption(where, 'options.withStd', given['withStd'], true);
  }

  /** The number of columns fitted, or 0 before fit. */
  get columns(): number {
    return this.fitted?.columns ?? 0;
  }

  /** Per column mean (float64), a copy; null before fit. */
  get mean(): Float64Array | null {
    return this.fitted ? this.fitted.mean.slice() : null;
  }

  /** Per column population variance (float64), a copy; null before fit. */
  get var(): Float64Array | null {
    return this.fitted ? this.fitted.variance.slice() : null;
  }

  /** Per column divisor: the standard deviation, 1 for a constant column or without withStd; null before fit. */
  get scale(): Float64Array | null {
    return this.fitted ? this.fitted.scale.slice() : null;
  }

  /**
   * Computes each column's mean and standard deviation of `data`, rows of `columns` values.
   * Replaces what an earlier fit computed, only once all of it is checked.
   * @returns this, for chaining.
   * @throws TypeError or RangeError naming the argument: not a Float32Array, a length that is not
   *   a multiple of columns, an infinity, a column with no value that is not NaN.
   */
  fit(data: Float32Array, columns: number): this {
    this.fitted = this.computeFit('StandardScaler.fit', data, columns);
    return this;
  }

  /** fit's statistics, checked whole; nothing is committed here. */
  private computeFit(where: string, data: Float32Array, columns: number): Fitted {
    const n = checkData(where, 'data', data);
    if (!Number.isInteger(columns) || columns < 1) throw new RangeError(`${where}: columns must be a whole number >= 1, got ${describe(columns)}`);
    if (n === 0 || n % columns !== 0) throw new RangeError(`${where}: data has ${n} values, not a whole number (>= 1) of rows of ${columns}`);
    // One pass, each value read once (data may be shared memory another thread writes).
    const slots = momentSlots(columns);
    const padded = Math.ceil(slots / 16) * 16;
    const slotMean = new Float64Array(padded), slotM2 = new Float64Array(padded), slotCount = new Float64Array(padded);
    const addon = scalingAddon();
    if (addon) addon.columnMoments(data, slots, slotMean, slotM2, slotCount);
    else slotMomentsJs(data, n, slots, slotMean, slotM2, slotCount);
    // An infinity turns its accumulator's m2 into NaN (inf - inf), which stays; finite float32
    // values cannot (their squares are far below float64's range).
    for (let s = 0; s < slots; s++) {
      if (slotM2[s] !== slotM2[s]) throw infinityError(where, data, n, columns);
    }
    const { mean, m2, count } = mergeSlots(columns, slots, slotMean, slotM2, slotCount);
    for (let c = 0; c < columns; c++) {
      if (count[c] === 0) throw new RangeError(`${where}: column ${c} of data has no value that is not NaN`);
    }
    const variance = new Float64Array(columns), scale = new Float64Array(columns);
    for (let c = 0; c < columns; c++) {
      const k = count[c]!;
      const v = m2[c]! / k;
      variance[c] = v;
      scale[c] = this.withStd && !isConstant(v, mean[c]!, k) ? Math.sqrt(v) : 1;
    }
    return fittedFrom(columns, mean, variance, scale, count, this.withMean);
  }

  /**
   * (x - mean) / scale for every value of `data`, into `out` (a new array when not given; `data`
   * itself for in place).
   * @throws TypeError or RangeError naming the argument; nothing is written then.
   */
  transform(data: Float32Array, out?: Float32Array): Float32Array {
    const { fitted, n, target } = this.prepare('StandardScaler.transform', data, out);
    this.runTransform(fitted, data, target, n);
    return target;
  }

  /**
   * x * scale + mean: undoes transform (up to the float32 rounding of each).
   * @throws TypeError or RangeError naming the argument; nothing is written then.
   */
  inverseTransform(data: Float32Array, out?: Float32Array): Float32Array {
    const { fitted, n, target } = this.prepare('StandardScaler.inverseTransform', data, out);
    const { columns, shift, divisor } = fitted;
    const addon = scalingAddon();
    if (addon) addon.scaleColumns(1, data, target, columns, shift, divisor);
    else unstandardizeJs(data, target, n, columns, shift, divisor);
    return target;
  }

  /**
   * fit, then transform of the same data. `out` is checked with the rest before the new
   * statistics replace the old: a refused call changes nothing.
   * @throws TypeError or RangeError naming the argument, as fit and transform do.
   */
  fitTransform(data: Float32Array, columns: number, out?: Float32Array): Float32Array {
    const where = 'StandardScaler.fitTransform';
    const fitted = this.computeFit(where, data, columns);
    const { n, target } = this.prepare(where, data, out, fitted);
    this.fitted = fitted;
    this.runTransform(fitted, data, target, n);
    return target;
  }

  /** The fitted statistics and options as plain data. @throws Error before fit. */
  stateDict(): StandardScalerStateDict {
    const fitted = this.fitted;
    if (!fitted) throw new Error('StandardScaler.stateDict: the scaler is not fitted yet');
    return {
      columns: fitted.columns, withMean: this.withMean, withStd: this.withStd,
      mean: Array.from(fitted.mean), var: Array.from(fitted.variance), scale: Array.from(fitted.scale),
      nSamplesSeen: Array.from(fitted.count),
    };
  }

  /**
   * Restores what stateDict returned. Every field is checked before anything changes; the options
   * must be this scaler's.
   * @throws TypeError or RangeError naming the field.
   */
  loadStateDict(state: StandardScalerStateDict): void {
    const where = 'StandardScaler.loadStateDict';
    if (state === null || typeof state !== 'object') throw new TypeError(`${where}: state must be an object, got ${describe(state)}`);
    const columns = state.columns, withMean = state.withMean, withStd = state.withStd; // each read once
    if (!Number.isInteger(columns) || columns < 1) throw new RangeError(`${where}: state.columns must be a whole number >= 1, got ${describe(columns)}`);
    if (withMean !== this.withMean || withStd !== this.withStd) {
      throw new RangeError(`${where}: state was made with withMean ${String(withMean)}, withStd ${String(withStd)}; this scaler has ${this.withMean}, ${this.withStd}`);
    }
    const list = (name: 'mean' | 'var' | 'scale' | 'nSamplesSeen', ok: (v: number) => boolean, rule: string) => {
      const value: unknown = state[name];
      // The length read once, the elements by index up to it: a Proxy or an array with its own
      // iterator cannot hand over other values than the ones checked.
      const length: unknown = Array.isArray(value) ? value.length : undefined;
      if (length !== columns) throw new TypeError(`${where}: state.${name} must be an array of ${columns} numbers`);
      const elements = value as readonly unknown[];
      const copy = new Float64Array(columns);
      for (let i = 0; i < columns; i++) {
        const v = elements[i];
        if (typeof v !== 'number' || !ok(v)) throw new RangeError(`${where}: state.${name}[${i}] must be ${rule}, got ${describe(v)}`);
        copy[i] = v;
      }
      return copy;
    };
    const mean = list('mean', Number.isFinite, 'a finite number');
    const variance = list('var', (v) => Number.isFinite(v) && v >= 0, 'a finite number >= 0');
    const scale = list('scale', (v) => Number.isFinite(v) && v > 0, 'a finite number > 0');
    const count = list('nSamplesSeen', (v) => Number.isInteger(v) && v >= 1, 'a whole number >= 1');
    this.fitted = fittedFrom(columns, mean, variance, scale, count, this.withMean);
  }

  private runTransform(fitted: Fitted, data: Float32Array, target: Float32Array, n: number): void {
    const { columns, shift, divisor } = fitted;
    const addon = scalingAddon();
    if (addon) addon.scaleColumns(0, data, target, columns, shift, divisor);
    else standardizeJs(data, target, n, columns, shift, divisor);
  }

  private prepare(where: string, data: Float32Array, out: Float32Array | undefined, fitted = this.fitted): { fitted: Fitted; n: number; target: Float32Array } {
    if (!fitted) throw new Error(`${where}: the scaler is not fitted yet (call fit first)`);
    const n = checkData(where, 'data', data);
    if (n % fitted.columns !== 0) throw new RangeError(`${where}: data has ${n} values, not a whole number of rows of ${fitted.columns}`);
    if (out === undefined) return { fitted, n, target: new Float32Array(n) };
    const m = checkData(where, 'out', out);
    if (m !== n) throw new RangeError(`${where}: out has ${m} values, data ${n}`);
    // In place is data itself; any other overlap would read values already written.
    if (out !== data && extentsOverlap(extentOf(out), extentOf(data))) throw new RangeError(`${where}: out overlaps data without being data itself`);
    return { fitted, n, target: out };
  }
}

/** A real Float32Array's real length, or a TypeError naming it. */
function checkData(where: string, name: string, value: unknown): number {
  return realLength(checkFloat32Array(where, name, value));
}

/**
 * A variance that is rounding error only (scikit-learn's _is_constant_feature): the column's values
 * were all equal, and dividing by the square root of this would blow them up.
 */
function isConstant(variance: number, mean: number, count: number): boolean {
  const eps = Number.EPSILON;
  return variance <= count * eps * variance + (count * mean * eps) ** 2;
}

function fittedFrom(columns: number, mean: Float64Array, variance: Float64Array, scale: Float64Array, count: Float64Array, withMean: boolean): Fitted {
  const shift = new Float64Array(columns + 16), divisor = new Float64Array(columns + 16);
  for (let j = 0; j < shift.length; j++) {
    shift[j] = withMean ? mean[j % columns]! : 0;
    divisor[j] = scale[j % columns]!;
  }
  return { columns, mean, variance, scale, count, shift, divisor };
}

/**
 * How many accumulators fit runs: R = max(1, floor(32 / columns)) per column, slot s for column
 * s % columns. 32 rather than 16: with 4 AVX-512 vectors of accumulators instead of 2, fit ran at
 * 0.40 ns per value instead of 0.62 (64: 0.35).
 * @internal
 */
export function momentSlots(columns: number): number {
  return columns >= 32 ? columns : Math.floor(32 / columns) * columns;
}

/**
 * Welford's updates of data[i] into slot i % slots, in increasing i, NaN skipped (the
 * specification of native slotMoments). The state arrays carry on from what they hold.
 * @internal
 */
export function slotMomentsJs(data: Float32Array, n: number, slots: number, mean: Float64Array, m2: Float64Array, count: Float64Array): void {
  for (let i = 0, s = 0; i < n; i++) {
    const x = data[i]!;
    if (x === x) { // not NaN
      const k = count[s]! + 1;
      const before = mean[s]!;
      const deviation = x - before;
      const after = before + deviation / k;
      m2[s] = m2[s]! + deviation * (x - after);
      mean[s] = after;
      count[s] = k;
    }
    if (++s === slots) s = 0;
  }
}

/** Column c's accumulators c, c + columns, ... merged in that order (Chan, Golub & LeVeque). */
function mergeSlots(columns: number, slots: number, slotMean: Float64Array, slotM2: Float64Array, slotCount: Float64Array) {
  const mean = new Float64Array(columns), m2 = new Float64Array(columns), count = new Float64Array(columns);
  for (let c = 0; c < columns; c++) {
    let n = slotCount[c]!, m = slotMean[c]!, q = slotM2[c]!;
    for (let s = c + columns; s < slots; s += columns) {
      const nb = slotCount[s]!;
      if (nb === 0) continue;
      if (n === 0) {
        n = nb; m = slotMean[s]!; q = slotM2[s]!;
        continue;
      }
      const total = n + nb;
      const delta = slotMean[s]! - m;
      m = m + delta * (nb / total);
      q = q + slotM2[s]! + delta * delta * ((n * nb) / total);
      n = total;
    }
    mean[c] = m; m2[c] = q; count[c] = n;
  }
  return { mean, m2, count };
}

/** out[i] = fl32((data[i] - shift[c]) / divisor[c]), c = i % columns (the specification of native standardize). @internal */
export function standardizeJs(data: Float32Array, out: Float32Array, n: number, columns: number, shift: Float64Array, divisor: Float64Array): void {
  for (let i = 0, c = 0; i < n; i++) {
    out[i] = (data[i]! - shift[c]!) / divisor[c]!; // stored: rounded to float32 once
    if (++c === columns) c = 0;
  }
}

/** out[i] = fl32(data[i] * divisor[c] + shift[c]), two float64 roundings (native unstandardize). @internal */
export function unstandardizeJs(data: Float32Array, out: Float32Array, n: number, columns: number, shift: Float64Array, divisor: Float64Array): void {
  for (let i = 0, c = 0; i < n; i++) {
    out[i] = data[i]! * divisor[c]! + shift[c]!;
    if (++c === columns) c = 0;
  }
}

/** Names the first infinity in data; fit saw one, so it throws either way. */
function infinityError(where: string, data: Float32Array, n: number, columns: number): RangeError {
  let i = 0;
  while (i < n && data[i] !== Infinity && data[i] !== -Infinity) i++;
  if (i === n) return new RangeError(`${where}: data held an infinity while it was read, and no longer does (was it changed meanwhile?)`);
  return new RangeError(`${where}: data[${i}] is ${data[i]!} (row ${Math.floor(i / columns)}, column ${i % columns})`);
}
