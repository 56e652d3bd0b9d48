/**
 * Numerical gradient checking that works in float32 (cf. torch.autograd.gradcheck, jax check_grads).
 *
 * Each coordinate is probed at x +- h and x +- 2h, with h = eps^(1/3) * max(1, |x_i|) and eps the
 * machine epsilon of the precision f computes in: x's type by default (2^-23 for a Float32Array,
 * 2^-52 for a Float64Array), or options.precision. Every
 * difference is divided by the step actually stored ((x + h) - (x - h) read back from the array),
 * and x_i is restored by writing its saved value back. From the two central differences D(h) and
 * D(2h) come:
 *   - the numeric derivative: Richardson's extrapolation D(h) + (D(h) - D(2h)) / 3 (the 5-point
 *     stencil), or D(h) alone with richardson: false;
 *   - an error estimate: |D(h) - D(2h)| / 3 (truncation) plus the rounding of f's values
 *     (eps * |f| / h, f's values being taken as accurate to x's precision);
 *   - kink detection: for a smooth f the one-sided differences satisfy
 *     (F(2h) - B(2h)) = 2 (F(h) - B(h)) to third order; a jump in slope within 2h breaks that
 *     by the size of the jump.
 * A coordinate fails when relError > rtol and |a - n| > safety * errorEstimate, where
 * relError = |a - n| / max(|a|, |n|, floor) and floor = 1e-3 * the RMS of the tensor's checked
 * analytic gradient. Defaults: rtol 1e-3 (float32) or 1e-6 (float64), safety 10.
 */
import { formatGradcheck, type CoordinateCheck, type GradcheckReport } from './gradcheck-report.js';
import { copyTypedArray, realLength, typedArrayName } from '../core/intrinsics.js';
import { checkOptionsObject, describe, numberOption, booleanOption, readArray } from '../core/validate.js';

export type { CoordinateCheck, DirectionCheck, DirectionalReport, GradcheckReport } from './gradcheck-report.js';

/** The arrays gradcheck works on. */
export type Tensor = Float32Array | Float64Array;

/** Options of numericalGradient, gradcheck and checkDirectional. */
export interface GradcheckOptions {
  /** Richardson extrapolation (4 evaluations of f per coordinate instead of 2). Default true. */
  richardson?: boolean;
  /** An absolute step h for every coordinate, instead of eps^(1/3) * max(1, |x_i|). */
  step?: number;
  /** Relative tolerance. Default 1e-3 for Float32Array inputs, 1e-6 for Float64Array. */
  rtol?: number;
  /** How many error estimates a difference must exceed to fail. Default 10. */
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

interface Probe {
  numeric: number;
  step: number;
  errorEstimate: number;
  kinkSignal: number;
  kinkNoise: number;
  forward: number;
  backward: number;
  stepProblem: boolean;
}

/** Probes coordinate i of tensor t; leaves x[i] exactly as it was. */
function probe<X>(where: string, f: (x: X) => number, s: Setup<X>, t: number, i: number, f0: number, richardson: boolean, step?: number): Probe {
  const x = s.tensors[t]!;
  const v = x[i]!;
  const h = step ?? Math.cbrt(s.eps) * Math.max(1, Math.abs(v));
  const at = (delta: number): [number, number] => {
    x[i] = v + delta;
    const stored = x[i]!;
    try {
      return [stored, evaluate(where, f, s.input)];
    } finally {
      x[i] = v;
    }
  };
  const [xp1, fp1] = at(h);
  const [xm1, fm1] = at(-h);
  const bad = { numeric: NaN, step: (xp1 - xm1) / 2, errorEstimate: NaN, kinkSignal: 0, kinkNoise: 0, forward: NaN, backward: NaN, stepProblem: true };
  if (!(xp1 > v && xm1 < v) || !Number.isFinite(xp1 - xm1)) return bad;
  const d1 = (fp1 - fm1) / (xp1 - xm1);
  const forward = (fp1 - f0) / (xp1 - v);
  const backward = (f0 - fm1) / (v - xm1);
  const fScale = Math.max(Math.abs(f0), Math.abs(fp1), Math.abs(fm1));
  if (!richardson) {
    // Without the wider probes: the one-sided gap bounds the truncation error of D(h) from above.
    const roundOnly = (4 * s.eps * fScale) / (xp1 - xm1);
    return { numeric: d1, step: (xp1 - xm1) / 2, errorEstimate: roundOnly + Math.abs(forward - backward) / 2, kinkSignal: 0, kinkNoise: 1, forward, backward, stepProblem: false };
  }
  const [xp2, fp2] = at(2 * h);
  const [xm2, fm2] = at(-2 * h);
  if (!(xp2 > xp1 && xm2 < xm1) || !Number.isFinite(xp2 - xm2)) return bad;
  const d2 = (fp2 - fm2) / (xp2 - xm2);
  const ratio = (xp2 - xm2) / (xp1 - xm1); // about 2
  const scale = ratio * ratio - 1; // about 3
  const scale2 = Math.max(fScale, Math.abs(fp2), Math.abs(fm2));
  const rounding = ((4 * s.eps * scale2) / (xp1 - xm1)) * (1 + 2 / scale);
  const forward2 = (fp2 - f0) / (xp2 - v);
  const backward2 = (f0 - fm2) / (v - xm2);
  return {
    numeric: d1 + (d1 - d2) / scale,
    step: (xp1 - xm1) / 2,
    errorEstimate: Math.abs(d1 - d2) / scale + rounding,
    kinkSignal: Math.abs(ratio * (forward - backward) - (forward2 - backward2)),
    kinkNoise: (16 * s.eps * scale2) / (v - xm1 + (xp1 - v)),
    forward,
    backward,
    stepProblem: false,
  };
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
 * Central differences of a scalar function at x (Richardson-extrapolated by default), one per
 * coordinate, as a Float64Array. x is probed in place and every probed coordinate is restored
 * exactly (its saved value written back).
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
  const out = new Float64Array(realLength(x));
  for (let i = 0; i < out.length; i++) out[i] = probe(where, f, s, 0, i, f0, richardson, step).numeric;
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
export function settingsOf<X>(where: string, s: Setup<X>) {
  const o = s.o;
  return {
    richardson: booleanOption(where, 'options.richardson', o['richardson'], true),
    step: o['step'] === undefined ? undefined : numberOption(where, 'options.step', o['step'], 0, { above: 0 }),
    rtol: numberOption(where, 'options.rtol', o['rtol'], s.precision === 'float32' ? 1e-3 : 1e-6, { above: 0 }),
    safety: numberOption(where, 'options.safety', o['safety'], 10, { min: 0 }),
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
  const o = settingsOf(where, s);
  const fx = f as (x: unknown) => number;
  const { f0, analytic, problems } = preflight(where, fx, grad as (x: unknown) => unknown, s);
  const results: CoordinateCheck[] = [];
  if (problems.length === 0) {
    const next = random(o.seed);
    const globalRms = rms(analytic.flatMap((a) => Array.from(a)));
    s.tensors.forEach((_, t) => {
      const indices = chooseIndices(analytic[t]!, o.sample, next);
      const floor = o.floor ?? Math.max(1e-3 * (rms(analytic[t]!, indices) || globalRms), Number.MIN_VALUE);
      for (const i of indices) {
        const p = probe(where, fx, s, t, i, f0, o.richardson, o.step);
        const a = analytic[t]![i]!, n = p.numeric;
        const absError = Math.abs(a - n);
        const relError = absError / Math.max(Math.abs(a), Math.abs(n), floor);
        const base = { tensor: t, name: s.names[t]!, index: i, analytic: a, numeric: n, absError, relError, step: p.step,
          errorEstimate: p.errorEstimate, forward: p.forward, backward: p.backward };
        let kind: CoordinateCheck['kind'];
        if (!Number.isFinite(a)) kind = 'nonfinite';
        else if (p.stepProblem) kind = 'step';
        else if (!Number.isFinite(n)) kind = 'nonfinite';
        else {
          const kink = o.richardson && p.kinkSignal > 100 * p.kinkNoise && p.kinkSignal > o.rtol * Math.max(Math.abs(a), Math.abs(n), floor);
          const wrong = relError > o.rtol && absError > o.safety * p.errorEstimate;
          kind = kink ? (o.strict && relError > o.rtol ? 'failure' : 'kink') : wrong ? 'failure' : 'ok';
        }
        results.push({ ...base, numeric: kind === 'step' ? s.tensors[t]![i]! : n, kind });
      }
    });
  }
  const compared = results.filter((r) => r.kind === 'ok' || r.kind === 'failure' || r.kind === 'nonfinite');
  if (problems.length === 0 && results.length > 0 && compared.length === 0 && results.every((r) => r.kind === 'step')) {
    problems.push('no coordinate could be checked: every step was below the precision of x (see the step-size problems)');
  }
  const failing = results.filter((r) => r.kind === 'failure' || r.kind === 'nonfinite');
  const severity = (r: CoordinateCheck) => (r.kind === 'nonfinite' ? Infinity : r.relError);
  failing.sort((p, q) => severity(q) - severity(p));
  const smooth = results.filter((r) => r.kind === 'ok' || r.kind === 'failure');
  // A passing coordinate can have a larger relative error than a failing one (its difference is
  // within the stencil's own error): the worst is the worst failure, if there is one.
  const worst = failing.length > 0 ? failing[0]! : compared.reduce<CoordinateCheck | null>((w, r) => (w === null || severity(r) > severity(w) ? r : w), null);
  const body = {
    ok: failing.length === 0 && problems.length === 0,
    checked: compared.length + results.filter((r) => r.kind === 'kink').length,
    maxAbsError: smooth.reduce((m, r) => Math.max(m, r.absError), 0),
    maxRelError: smooth.reduce((m, r) => Math.max(m, r.relError), 0),
    worst,
    failures: failing.slice(0, o.maxFailures),
    failureCount: failing.length,
    kinks: results.filter((r) => r.kind === 'kink'),
    stepProblems: results.filter((r) => r.kind === 'step'),
    problems,
    settings: { precision: s.precision, rtol: o.rtol, safety: o.safety, richardson: o.richardson, strict: o.strict },
  };
  const report: GradcheckReport = { ...body, toString: () => formatGradcheck(body) };
  return finish(where, report, o.throwOnFailure);
}
