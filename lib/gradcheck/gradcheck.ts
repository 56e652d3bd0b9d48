/**
 * Numerical gradient checking that works in float32 (cf. torch.autograd.gradcheck, jax check_grads).
 *
 * Each coordinate is probed by gradcheck-probe.ts: a 5-point stencil (Richardson's extrapolation of
 * two central differences) at a step chosen per coordinate, with an estimate of the stencil's own
 * error (rounding of f's values at the points taken, plus the truncation left after extrapolation);
 * the derivation is at the top of that file. A coordinate fails when
 *   relError > rtol  and  |a - n| > safety * errorEstimate,
 * with relError = |a - n| / max(|a|, |n|, floor) and floor = 1e-3 * the RMS of the tensor's checked
 * analytic gradient: the first condition says the difference matters, the second that it is not
 * the stencil's own error. Defaults: rtol 1e-3 (float32) or 1e-7 (float64), a tenth of the smallest
 * relative error the check is built to catch (1% and 1e-6); safety 5, twice the largest ratio of
 * error to estimate seen on correct gradients (the README's table). Close calls are refined
 * first (gradcheck-verdict.ts).
 */
import type { CoordinateCheck, GradcheckReport } from './gradcheck-report.js';
import { probeCoordinate, type Precision } from './gradcheck-probe.js';
import { checkCoordinate, summarize } from './gradcheck-verdict.js';
import { copyTypedArray, realLength, typedArrayName } from '../core/intrinsics.js';
import { checkOptionsObject, describe, numberOption, booleanOption, readArray } from '../core/validate.js';

export type { CoordinateCheck, DirectionCheck, DirectionalReport, GradcheckReport } from './gradcheck-report.js';

/** The arrays gradcheck works on. */
export type Tensor = Float32Array | Float64Array;

/** Options of numericalGradient, gradcheck and checkDirectional. */
export interface GradcheckOptions {
  /**
   * Richardson extrapolation: the 5-point stencil at a step chosen per coordinate, with an
   * estimate of its error (13 to 22 evaluations of f per coordinate on the README's corpus).
   * Default true. false: one central difference at eps^(1/3) * max(1, |x_i|), 2 evaluations, a
   * much coarser check and no kink detection.
   */
  richardson?: boolean;
  /**
   * One absolute step h for every coordinate instead of the step chosen per coordinate: the
   * stencil at h, its error measured at 2h, 4h and 8h (8 evaluations).
   */
  step?: number;
  /**
   * Relative tolerance. gradcheck: default 1e-3 when f computes in float32, 1e-7 in float64 (a
   * tenth of the 1% and 1e-6 errors it is built to catch). checkDirectional: 1e-3 and 1e-6.
   */
  rtol?: number;
  /** How many error estimates a difference must exceed to fail. Default 5 (checkDirectional: 10). */
  safety?: number;
  /** The denominator floor of the relative error. Default 1e-3 * RMS of the tensor's analytic gradient. */
  floor?: number;
  /** Check this many coordinates per tensor: the largest |analytic| ones and seeded random others. */
  sample?: number;
  /** Seed of the sampling and of checkDirectional's directions. Default 1. */
  seed?: number;
  /** Kinks count as failures when the gradient does not match there. Default false. */
  strict?: boolean;
  /** Throw an Error carrying the report (error.report) and its table when the check fails. */
  throw?: boolean;
  /** How many failures the report lists. Default 10. */
  maxFailures?: number;
  /** Names of the tensors in the tables. */
  names?: readonly string[];
  /** checkDirectional: how many random directions. Default 3. */
  directions?: number;
  /**
   * The precision f computes in: it sets eps, hence the steps and the rounding estimate. Default
   * 'float32' when any input is a Float32Array, 'float64' when all are Float64Arrays.
   */
  precision?: 'float32' | 'float64';
}

/** Defaults of rtol and safety: gradcheck's, and checkDirectional's (which keeps a plain Richardson bound). @internal */
export interface Defaults {
  rtol: (precision: Precision) => number;
  safety: number;
}
/** @internal */
export const GRADCHECK_DEFAULTS: Defaults = { rtol: (p) => (p === 'float32' ? 1e-3 : 1e-7), safety: 5 };

const KNOWN = ['richardson', 'step', 'rtol', 'safety', 'floor', 'sample', 'seed', 'strict', 'throw', 'maxFailures', 'names', 'directions', 'precision'];

interface Setup<X> {
  tensors: Tensor[];
  input: X;
  precision: 'float32' | 'float64';
  eps: number;
  names: string[];
  o: Record<string, unknown>;
}

/** @internal */
export function setup<X>(where: string, x: X, options: unknown): Setup<X> {
  const list = Array.isArray(x) ? readArray(where, 'x', x) : [x];
  if (list.length === 0) throw new RangeError(`${where}: x must not be an empty list`);
  const tensors = list.map((t, i) => {
    const kind = typedArrayName(t);
    if (kind !== 'Float32Array' && kind !== 'Float64Array') {
      throw new TypeError(`${where}: ${Array.isArray(x) ? `x[${i}]` : 'x'} must be a Float32Array or a Float64Array, got ${describe(t)}`);
    }
    return t as Tensor;
  });
  const o = checkOptionsObject(where, 'options', options, KNOWN);
  const declared = o['precision'];
  if (declared !== undefined && declared !== 'float32' && declared !== 'float64') {
    throw new RangeError(`${where}: options.precision must be 'float32' or 'float64'`);
  }
  const precision = declared ?? (tensors.every((t) => typedArrayName(t) === 'Float64Array') ? 'float64' : 'float32');
  const given = o['names'] === undefined ? undefined : readArray(where, 'options.names', o['names']);
  if (given !== undefined && (given.length !== tensors.length || !given.every((n) => typeof n === 'string'))) {
    throw new TypeError(`${where}: options.names must be an array of ${tensors.length} strings`);
  }
  const names = tensors.map((_, i) => (given ? (given[i] as string) : Array.isArray(x) ? `x[${i}]` : 'x'));
  return { tensors, input: x, precision, eps: precision === 'float32' ? 2 ** -23 : 2 ** -52, names, o };
}

/** @internal */
export function evaluate<X>(where: string, f: (x: X) => number, input: X): number {
  const value = f(input);
  if (typeof value !== 'number') throw new TypeError(`${where}: f must return a number, got ${typeof value}`);
  return value;
}

/** mulberry32: the seeded sampling and directions. */
/** @internal */
export function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** @internal */
export function snapshot(tensors: readonly Tensor[]): Tensor[] {
  return tensors.map((t) => copyTypedArray(t));
}

/** The first coordinate where x differs from the snapshot (bits; NaN equals NaN), restoring it. */
function changedAndRestore(tensors: readonly Tensor[], saved: readonly Tensor[], names: readonly string[]): string | null {
  for (let t = 0; t < tensors.length; t++) {
    const now = tensors[t]!, before = saved[t]!;
    for (let i = 0, n = realLength(now); i < n; i++) {
      if (!Object.is(now[i], before[i]) && !(Number.isNaN(now[i]) && Number.isNaN(before[i]))) {
        const message = `${names[t]}[${i}] changed from ${before[i]} to ${now[i]}`;
        now.set(before);
        return message;
      }
    }
  }
  return null;
}

/**
 * The numerical gradient of a scalar function at x, one derivative per coordinate, as a
 * Float64Array: the 5-point stencil at a step chosen per coordinate (the one gradcheck uses), or
 * one central difference with richardson: false. x is probed in place and every probed coordinate
 * is restored exactly (its saved value written back).
 * @typeParam X - x's type; f may be typed for it: `(x: Float32Array) => number`.
 * @throws TypeError or RangeError naming the offending argument.
 */
export function numericalGradient<X extends Tensor>(f: (x: X) => number, x: X, options: Pick<GradcheckOptions, 'richardson' | 'step' | 'precision'> = {}): Float64Array {
  const where = 'numericalGradient';
  if (typeof f !== 'function') throw new TypeError(`${where}: f must be a function`);
  if (Array.isArray(x)) throw new TypeError(`${where}: x must be one Float32Array or Float64Array (gradcheck takes lists)`);
  const s = setup(where, x, options);
  const richardson = booleanOption(where, 'options.richardson', s.o['richardson'], true);
  const step = s.o['step'] === undefined ? undefined : numberOption(where, 'options.step', s.o['step'], 0, { above: 0 });
  const f0 = evaluate(where, f, x);
  const settings = { precision: s.precision, rtol: GRADCHECK_DEFAULTS.rtol(s.precision), step, richardson };
  const value = () => evaluate(where, f, x);
  const out = new Float64Array(realLength(x));
  for (let i = 0; i < out.length; i++) out[i] = probeCoordinate(x, i, value, f0, settings).numeric;
  return out;
}

/** Mutation, nondeterminism and a non-finite f(x), checked before any probing. */
/** @internal */
export function preflight<X>(where: string, f: (x: X) => number, grad: (x: X) => unknown, s: Setup<X>): { f0: number; analytic: Float64Array[]; problems: string[] } {
  const saved = snapshot(s.tensors);
  const problems: string[] = [];
  const f0 = evaluate(where, f, s.input);
  const mutated = changedAndRestore(s.tensors, saved, s.names);
  if (mutated) problems.push(`f mutates x: ${mutated} (x was restored)`);
  const again = evaluate(where, f, s.input);
  changedAndRestore(s.tensors, saved, s.names);
  if (!Object.is(again, f0) && !(Number.isNaN(again) && Number.isNaN(f0))) {
    problems.push(`f is not deterministic: f(x) returned ${f0}, then ${again}`);
  }
  if (!Number.isFinite(f0)) problems.push(`f(x) is ${f0}`);
  if (typeof grad !== 'function') throw new TypeError(`${where}: grad must be a function`);
  const g = grad(s.input);
  const mutatedByGrad = changedAndRestore(s.tensors, saved, s.names);
  if (mutatedByGrad) problems.push(`grad mutates x: ${mutatedByGrad} (x was restored)`);
  const list = Array.isArray(s.input) ? g : [g];
  if (!Array.isArray(list) || list.length !== s.tensors.length) {
    throw new TypeError(`${where}: grad must return ${Array.isArray(s.input) ? `a list of ${s.tensors.length} arrays` : 'one array'}, like x`);
  }
  const analytic = list.map((a: unknown, t) => {
    const arr = a as ArrayLike<number> | null;
    if (!arr || typeof arr !== 'object' || typeof arr.length !== 'number') throw new TypeError(`${where}: grad(x) for ${s.names[t]} is not an array`);
    if (arr.length !== realLength(s.tensors[t]!)) {
      throw new RangeError(`${where}: grad(x) for ${s.names[t]} has length ${arr.length}, ${s.names[t]} has ${realLength(s.tensors[t]!)}`);
    }
    return Float64Array.from(arr);
  });
  return { f0, analytic, problems };
}

function chooseIndices(analytic: Float64Array, sample: number | undefined, next: () => number): number[] {
  const n = analytic.length;
  const all = Array.from({ length: n }, (_, i) => i);
  if (sample === undefined || n <= sample) return all;
  const byMagnitude = all.slice().sort((a, b) => Math.abs(analytic[b]!) - Math.abs(analytic[a]!));
  const chosen = new Set(byMagnitude.slice(0, Math.ceil(sample / 2)));
  const rest = all.filter((i) => !chosen.has(i));
  while (chosen.size < sample && rest.length > 0) {
    const k = Math.floor(next() * rest.length);
    chosen.add(rest[k]!);
    rest[k] = rest[rest.length - 1]!;
    rest.pop();
  }
  return [...chosen].sort((a, b) => a - b);
}

/** @internal */
export const rms = (values: ArrayLike<number>, indices?: readonly number[]): number => {
  let sum = 0, count = 0;
  for (const i of indices ?? Array.from({ length: values.length }, (_, k) => k)) {
    const v = values[i]!;
    if (Number.isFinite(v)) {
      sum += v * v;
      count++;
    }
  }
  return count ? Math.sqrt(sum / count) : 0;
};

/** @internal */
export function settingsOf<X>(where: string, s: Setup<X>, defaults: Defaults) {
  const o = s.o;
  return {
    richardson: booleanOption(where, 'options.richardson', o['richardson'], true),
    step: o['step'] === undefined ? undefined : numberOption(where, 'options.step', o['step'], 0, { above: 0 }),
    rtol: numberOption(where, 'options.rtol', o['rtol'], defaults.rtol(s.precision), { above: 0 }),
    safety: numberOption(where, 'options.safety', o['safety'], defaults.safety, { min: 0 }),
    floor: o['floor'] === undefined ? undefined : numberOption(where, 'options.floor', o['floor'], 0, { above: 0 }),
    sample: o['sample'] === undefined ? undefined : numberOption(where, 'options.sample', o['sample'], 1, { min: 1, integer: true }),
    seed: numberOption(where, 'options.seed', o['seed'], 1, { integer: true }),
    strict: booleanOption(where, 'options.strict', o['strict'], false),
    throwOnFailure: booleanOption(where, 'options.throw', o['throw'], false),
    maxFailures: numberOption(where, 'options.maxFailures', o['maxFailures'], 10, { min: 0, integer: true }),
    directions: numberOption(where, 'options.directions', o['directions'], 3, { min: 1, integer: true }),
  };
}

/** @internal */
export function finish<R extends { ok: boolean; toString(): string }>(where: string, report: R, throwOnFailure: boolean): R {
  if (throwOnFailure && !report.ok) {
    const error = new Error(`${where} failed:\n${report.toString()}`) as Error & { report: R };
    error.report = report;
    throw error;
  }
  return report;
}

/**
 * Compares an analytic gradient with numerical differences, coordinate by coordinate, and says
 * exactly which coordinates disagree, by how much, and how sure it is (see the module comment for
 * the method and thresholds). f must be deterministic and leave x alone; the report says so when
 * it does not. x may be one array or a list (then f and grad take the list, grad returns a list).
 *
 * In float32 a 1% error in any coordinate whose |gradient| is at least a tenth of the RMS gradient
 * is caught for smooth functions of up to a few hundred coordinates with |f| up to 1e3; in float64,
 * an error of 1e-6 (the README's table shows the margins).
 * @typeParam X - x's type, inferred from x: f and grad may be typed for it (`(x: Float32Array) =>
 *   number`) or left untyped.
 * @param f - The scalar function, of x as given.
 * @param grad - Its gradient at x, the same length as x: a Float32Array, a Float64Array or a
 *   number[].
 * @param x - The point: a Float32Array or a Float64Array. It is probed in place and restored exactly.
 * @param options - See {@link GradcheckOptions}.
 * @returns a report; its toString() is a table. With options.throw, a failing check throws an
 *   Error with the table as message and the report as error.report.
 * @throws TypeError or RangeError naming a bad argument.
 */
export function gradcheck<X extends Tensor>(f: (x: X) => number, grad: (x: X) => ArrayLike<number>, x: X, options?: GradcheckOptions): GradcheckReport;
/**
 * The list form: x is a list of arrays (the parameters of a model), f and grad take the list and
 * grad returns one gradient per array, in order.
 * @typeParam L - the list's type, inferred from x: `Float32Array[]`, a tuple, or a mix of
 *   Float32Array and Float64Array.
 */
export function gradcheck<L extends readonly Tensor[] | []>(f: (xs: L) => number, grad: (xs: L) => readonly ArrayLike<number>[], x: L, options?: GradcheckOptions): GradcheckReport;
export function gradcheck(f: (x: never) => number, grad: (x: never) => unknown, x: Tensor | readonly Tensor[], options: GradcheckOptions = {}): GradcheckReport {
  const where = 'gradcheck';
  if (typeof f !== 'function') throw new TypeError(`${where}: f must be a function`);
  const s = setup(where, x as unknown, options);
  const o = settingsOf(where, s, GRADCHECK_DEFAULTS);
  const fx = f as (x: unknown) => number;
  const { f0, analytic, problems } = preflight(where, fx, grad as (x: unknown) => unknown, s);
  const results: CoordinateCheck[] = [];
  if (problems.length === 0) {
    const next = random(o.seed);
    const globalRms = rms(analytic.flatMap((a) => Array.from(a)));
    const probe = { precision: s.precision, rtol: o.rtol, step: o.step, richardson: o.richardson };
    const value = () => evaluate(where, fx, s.input);
    s.tensors.forEach((tensor, t) => {
      const indices = chooseIndices(analytic[t]!, o.sample, next);
      const floor = o.floor ?? Math.max(1e-3 * (rms(analytic[t]!, indices) || globalRms), Number.MIN_VALUE);
      const judging = { value, f0, probe, floor, rtol: o.rtol, safety: o.safety, strict: o.strict };
      for (const i of indices) results.push(checkCoordinate(tensor, { tensor: t, name: s.names[t]!, index: i }, analytic[t]![i]!, judging));
    });
  }
  return finish(where, summarize(results, problems, o.maxFailures, { precision: s.precision, rtol: o.rtol, safety: o.safety, richardson: o.richardson, strict: o.strict }), o.throwOnFailure);
}
