/**
 * checkDirectional: the gradient along a few seeded random directions, for inputs too large to
 * check coordinate by coordinate. Shares gradcheck's set-up, preflight checks and settings.
 */
import { formatDirectional, type DirectionalReport } from './gradcheck-report.js';
import { evaluate, finish, preflight, random, rms, settingsOf, setup, snapshot, type Defaults, type GradcheckOptions, type Tensor } from './gradcheck.js';
import { realLength } from '../core/intrinsics.js';

/** Its error estimate is the plain Richardson bound, with thresholds to match. */
const DIRECTIONAL_DEFAULTS: Defaults = { rtol: (p) => (p === 'float32' ? 1e-3 : 1e-6), safety: 10 };

function gaussian(next: () => number): number {
  return Math.sqrt(-2 * Math.log(1 - next())) * Math.cos(2 * Math.PI * next());
}

/**
 * Checks the gradient along a few seeded random Gaussian directions d (one per tensor, scaled to
 * the tensor's RMS): d . grad f(x) against the numerical derivative of t -> f(x + t d). Costs 4
 * evaluations of f per direction whatever the size of x; it catches gradients wrong in bulk (a
 * missing factor, a wrong sign on a whole tensor), not one wrong coordinate among millions.
 * @typeParam X - x's type, inferred from x: f and grad may be typed for it or left untyped.
 * @throws TypeError or RangeError naming a bad argument (and, with options.throw, an Error
 *   carrying the report when the check fails).
 */
export function checkDirectional<X extends Tensor>(f: (x: X) => number, grad: (x: X) => ArrayLike<number>, x: X, options?: GradcheckOptions): DirectionalReport;
/** The list form, as gradcheck's: f and grad take the list, grad returns one gradient per array. */
export function checkDirectional<L extends readonly Tensor[] | []>(f: (xs: L) => number, grad: (xs: L) => readonly ArrayLike<number>[], x: L, options?: GradcheckOptions): DirectionalReport;
export function checkDirectional(f: (x: never) => number, grad: (x: never) => unknown, x: Tensor | readonly Tensor[], options: GradcheckOptions = {}): DirectionalReport {
  const where = 'checkDirectional';
  if (typeof f !== 'function') throw new TypeError(`${where}: f must be a function`);
  const s = setup(where, x as unknown, options);
  const o = settingsOf(where, s, DIRECTIONAL_DEFAULTS);
  const fx = f as (x: unknown) => number;
  const { analytic, problems } = preflight(where, fx, grad as (x: unknown) => unknown, s);
  const directions: DirectionalReport['directions'] = [];
  if (problems.length === 0) {
    const next = random(o.seed);
    const saved = snapshot(s.tensors);
    const step = o.step ?? Math.cbrt(s.eps);
    for (let k = 0; k < o.directions; k++) {
      const d = s.tensors.map((t) => {
        const scale = rms(t) || 1;
        return Float64Array.from(t, () => gaussian(next) * scale);
      });
      // f at x + m step d, and g . (the displacement actually stored).
      const at = (m: number): [number, number] => {
        let projected = 0;
        s.tensors.forEach((t, ti) => {
          const dt = d[ti]!, base = saved[ti]!, g = analytic[ti]!;
          for (let i = 0, n = realLength(t); i < n; i++) {
            t[i] = base[i]! + m * step * dt[i]!;
            projected += g[i]! * (t[i]! - base[i]!);
          }
        });
        try {
          return [evaluate(where, fx, s.input), projected];
        } finally {
          s.tensors.forEach((t, ti) => t.set(saved[ti]!));
        }
      };
      const [fp1, ap1] = at(1), [fm1, am1] = at(-1), [fp2, ap2] = at(2), [fm2, am2] = at(-2);
      const n1 = (fp1 - fm1) / (2 * step), a1 = (ap1 - am1) / (2 * step);
      const n2 = (fp2 - fm2) / (4 * step), a2 = (ap2 - am2) / (4 * step);
      const numeric = o.richardson ? n1 + (n1 - n2) / 3 : n1;
      const analyticValue = o.richardson ? a1 + (a1 - a2) / 3 : a1;
      const fScale = Math.max(Math.abs(fp1), Math.abs(fm1), Math.abs(fp2), Math.abs(fm2));
      const errorEstimate = Math.abs(n1 - n2 - (a1 - a2)) / 3 + ((4 * s.eps * fScale) / (2 * step)) * 1.67;
      let incoherent = 0;
      s.tensors.forEach((_, ti) => analytic[ti]!.forEach((g, i) => (incoherent += (g * d[ti]![i]!) ** 2)));
      const floor = o.floor ?? Math.max(1e-3 * Math.sqrt(incoherent), Number.MIN_VALUE);
      const absError = Math.abs(analyticValue - numeric);
      const relError = absError / Math.max(Math.abs(analyticValue), Math.abs(numeric), floor);
      const ok = Number.isFinite(numeric) && Number.isFinite(analyticValue) && !(relError > o.rtol && absError > o.safety * errorEstimate);
      directions.push({ analytic: analyticValue, numeric, absError, relError, errorEstimate, ok });
    }
  }
  const body = { ok: problems.length === 0 && directions.every((d) => d.ok), directions, problems };
  return finish(where, { ...body, toString: () => formatDirectional(body) }, o.throwOnFailure);
}
