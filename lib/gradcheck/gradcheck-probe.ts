/**
 * One coordinate's numerical derivative, and the error of that derivative.
 *
 * THE VALUE. With D(h) = (f(v+h) - f(v-h)) / 2h the central difference at x_i = v,
 *   D(h) = f' + c h^2 + e h^4 + O(h^6),   c = f'''/6,  e = f^(5)/120,
 * the 5-point stencil (Richardson's extrapolation of two central differences)
 *   N(h) = D(h) + (D(h) - D(2h)) / 3 = f' - 4 e h^4 + O(h^6)
 * is the numeric derivative. It is computed as the derivative at v of the quartic through the five
 * points actually probed (offsets read back from the array, f(x) at offset 0): the same number
 * when the stored points are symmetric, and still exact for quartics where rounding made them not.
 *
 * ITS ERROR: R + T.
 * R, rounding. f computes in float32 or float64 (the precision), so each value f_k carries a
 * rounding error of about one ulp of |f_k| in that precision (half an ulp for the final rounding,
 * the other half for the roundings before it). N = sum_k w_k f_k with the stencil's weights
 * (2/3h for f(v+-h), 1/12h for f(v+-2h)), hence
 *   R = sum_k |w_k| ulp(|f_k|),  about 1.5 ulp(|f|) / h.
 * T, truncation: what remains after extrapolation, N's h^4 term. The difference of the two central
 * differences, |D(h) - D(2h)| / 3, is the h^2 term, the error of D(h), not of N: at the steps used
 * it is 1e2 to 1e4 times N's error, and no fixed scaling of it fits every f (assuming the terms of
 * the series shrink geometrically was off by 100 on an MLP). N's error is measured one step
 * further out instead: N(2h) - N(h) = -60 e h^4 = 15 (N(h) - f'), so
 *   T1 = |N(h) - N(2h)| / 15,
 * which costs f(v +- 4h). Where the two extrapolations agree by accident (the series not yet
 * settled at 4h), T1 is spuriously small; the pair one step further out predicts it at a sixteenth
 * of its own size, T2 = |N(2h) - N(4h)| / (15 * 16), and T = max(T1, T2).
 *
 * THE STEP. R grows as 1/h while T falls as h^4, so the best step is far larger than the
 * eps^(1/3) that suits a plain central difference (whose truncation falls as h^2 only), and the
 * rounding part is smaller in proportion: for a function of unit scale it is about eps^(1/5)
 * (eps = 2^-23 or 2^-52), where R + T is least (T = R / 4). The probe finds it on a ladder of
 * steps h_k = H / 2^k from H = 32 eps^(1/5) max(1, |v|) (a power of two, so that v +- h is exact
 * whenever v's binade allows): each rung adds f(v +- h_k), two evaluations, and from the fourth
 * rung on each gives N(h_k) with R and T. The ladder descends until R + T has grown well past its
 * least value, and the rung with the least R + T is taken; badly scaled coordinates find their own
 * scale this way. A rung where f is not finite (the edge of a domain, log of a negative number) is
 * dropped with the rungs above it.
 *
 * f's rounding can exceed an ulp of |f| many times (f = A - B with A and B much larger than f).
 * Below the best step, truncation is negligible and |N(h) - N(2h)| is rounding alone, growing as h
 * shrinks: when the last two rungs show more of it than R + R(2h), R is scaled up by the ratio
 * (noiseFactor).
 *
 * KINKS. The fourth divided difference of the five values, in derivative units
 * (|f(v+2h) - 4f(v+h) + 6f(v) - 4f(v-h) + f(v-2h)| / 2h when symmetric), is f'''' h^3 / 2 for a
 * smooth f, falling 8x a rung, and about the slope's jump, whatever h, when a kink lies within 2h.
 * A rung whose signal stands out of its rounding noise and did not fall from the rung above looks
 * like a kink; such rungs are taken only when nothing else is usable, and the ladder goes on down
 * while they last, so a kink near v (not at it) is stepped past.
 *
 * The probe never sees the analytic gradient: a wrong gradient cannot move the reference it is
 * judged against.
 */
import type { Tensor } from './gradcheck.js';

/** The precision f computes in. */
export type Precision = 'float32' | 'float64';

/** What probing one coordinate found. @internal */
export interface Probe {
  /** The numeric derivative (NaN when f was not finite at any usable step). */
  numeric: number;
  /** The step h taken (half the distance between the stored v + h and v - h). */
  step: number;
  /** R + T: the estimated error of `numeric`. */
  errorEstimate: number;
  /** The rounding part R and the truncation part T of errorEstimate. */
  rounding: number;
  truncation: number;
  /** The kink signal and its rounding noise, in derivative units. */
  kinkSignal: number;
  kinkNoise: number;
  /** The kink signal did not fall from the step above (a smooth f's falls 8x as the step halves). */
  kinkSignalSteady: boolean;
  /** One-sided differences (f(v+h) - f(v)) / h and (f(v) - f(v-h)) / h, shown for kinks. */
  forward: number;
  backward: number;
  /** No usable step: v + h rounds to v, or overflows. */
  stepProblem: boolean;
  /** How many times the ulp estimate f's rounding was measured to be (at least 1). */
  noiseFactor: number;
}

/** How the probe is set up. @internal */
export interface ProbeSettings {
  precision: Precision;
  /** The relative tolerance: the kink signal is judged against it. */
  rtol: number;
  /** A fixed step h for every coordinate (no ladder: the stencil at h, measured with 2h, 4h, 8h). */
  step?: number | undefined;
  /** false: one central difference (2 evaluations), step eps^(1/3) * max(1, |v|). */
  richardson: boolean;
}

/** The unit in the last place of |y| in the given precision (the smallest subnormal at 0). @internal */
export function ulp(y: number, precision: Precision): number {
  const [bits, smallest] = precision === 'float32' ? [23, -149] : [52, -1074];
  const a = Math.abs(y);
  if (!Number.isFinite(a)) return NaN;
  if (a === 0) return 2 ** smallest;
  let e = Math.floor(Math.log2(a));
  if (2 ** e > a) e--;
  else if (2 ** (e + 1) <= a) e++;
  return 2 ** Math.max(e - bits, smallest);
}

/** Machine epsilon of a precision. @internal */
export const epsilonOf = (precision: Precision): number => (precision === 'float32' ? 2 ** -23 : 2 ** -52);

/** The kink signal must exceed its rounding noise this many times to count. */
const KINK_NOISE_FACTOR = 20;
/**
 * ... and this fraction of rtol * |derivative|. A kink within 2h that is not detected shifts N by
 * at most about three times its signal; at 0.3 rtol every kink that could move N by rtol is seen.
 */
const KINK_FRACTION_OF_RTOL = 0.3;
/** Rungs of the ladder at most (2 evaluations each). */
const MAX_RUNGS = 24;
/** The ladder stops once R + T exceeds its least value so far this many times... */
const STOP_FACTOR = 4;

/** Whether a probe's kink signal is beyond what rounding and smooth curvature explain at `scale`. @internal */
export function looksLikeKink(p: Pick<Probe, 'kinkSignal' | 'kinkNoise'>, scale: number, rtol: number): boolean {
  return p.kinkSignal > KINK_NOISE_FACTOR * p.kinkNoise && p.kinkSignal > KINK_FRACTION_OF_RTOL * rtol * scale;
}

/** f at the stored points v + tPlus and v + tMinus. */
interface Rung {
  tPlus: number;
  tMinus: number;
  fPlus: number;
  fMinus: number;
}

/** The 5-point stencil on two rungs (inner, outer) and the center. */
interface Stencil {
  numeric: number;
  rounding: number;
  step: number;
  kinkSignal: number;
  kinkNoise: number;
  forward: number;
  backward: number;
}

/** Probing one coordinate: x[i] moved, f evaluated, x[i] written back. */
class Coordinate {
  readonly v: number;
  constructor(private readonly x: Tensor, private readonly i: number, private readonly value: () => number, readonly f0: number, readonly precision: Precision) {
    this.v = x[i]!;
  }

  /** f at v + h and v - h as stored; 'small' when h rounds away at v, 'large' when v +- h overflows. */
  rung(h: number): Rung | 'small' | 'large' {
    const [tPlus, fPlus] = this.at(h);
    const [tMinus, fMinus] = this.at(-h);
    if (!Number.isFinite(tPlus - tMinus)) return 'large';
    if (!(tPlus > 0 && tMinus < 0)) return 'small';
    return { tPlus, tMinus, fPlus, fMinus };
  }

  private at(delta: number): [number, number] {
    const { x, i, v } = this;
    x[i] = v + delta;
    const stored = x[i]!;
    try {
      return [stored - v, this.value()];
    } finally {
      x[i] = v;
    }
  }

  /** The derivative at v of the quartic through the five points, its rounding, and the kink signal. */
  stencil(inner: Rung, outer: Rung): Stencil {
    const nodes = [outer.tMinus, inner.tMinus, 0, inner.tPlus, outer.tPlus];
    const values = [outer.fMinus, inner.fMinus, this.f0, inner.fPlus, outer.fPlus];
    let numeric = 0, rounding = 0, divided = 0, dividedNoise = 0;
    for (let k = 0; k < 5; k++) {
      let denominator = 1, numerator = 1;
      for (let j = 0; j < 5; j++) {
        if (j === k) continue;
        denominator *= nodes[k]! - nodes[j]!;
        if (j !== 2) numerator *= -nodes[j]!;
      }
      // The derivative at 0 of node k's Lagrange basis polynomial.
      const weight = k === 2 ? -nodes.reduce((s, n, j) => (j === 2 ? s : s + 1 / n), 0) : numerator / denominator;
      const noise = ulp(values[k]!, this.precision);
      numeric += weight * values[k]!;
      rounding += Math.abs(weight) * noise;
      divided += values[k]! / denominator;
      dividedNoise += noise / Math.abs(denominator);
    }
    const step = (inner.tPlus - inner.tMinus) / 2;
    const cube = 12 * step ** 3;
    return {
      numeric, rounding, step, kinkSignal: cube * Math.abs(divided), kinkNoise: cube * dividedNoise,
      forward: (inner.fPlus - this.f0) / inner.tPlus, backward: (this.f0 - inner.fMinus) / -inner.tMinus,
    };
  }
}

const finite = (r: Rung) => Number.isFinite(r.fPlus) && Number.isFinite(r.fMinus);
const centralDifference = (r: Rung) => (r.fPlus - r.fMinus) / (r.tPlus - r.tMinus);
/** How many times N's error shrinks from rung to rung: (step ratio)^4 - 1, 15 for halving. */
const spread = (inner: Stencil, outer: Stencil) => (outer.step / inner.step) ** 4 - 1;

/**
 * Probes coordinate i of x (see the module comment); leaves x[i] exactly as it was. `value()`
 * evaluates f on the whole input; f0 is f at x.
 * @internal
 */
export function probeCoordinate(x: Tensor, i: number, value: () => number, f0: number, s: ProbeSettings): Probe {
  const c = new Coordinate(x, i, value, f0, s.precision);
  const eps = epsilonOf(s.precision);
  if (!s.richardson) return centralOnly(c, s.step ?? Math.cbrt(eps) * Math.max(1, Math.abs(c.v)));
  const H = s.step === undefined ? 2 ** Math.round(Math.log2(32 * eps ** 0.2 * Math.max(1, Math.abs(c.v)))) : 8 * s.step;
  const maxRungs = s.step === undefined ? MAX_RUNGS : 4;
  const rungs: Rung[] = [];
  const stencils: Stencil[] = [];
  const candidates: Candidate[] = [];
  let fallback: Probe | null = null;
  let h = H, scale = 0; // scale: the largest |N| so far, a derivative scale no accidental zero can hide
  for (let k = 0; k < maxRungs; k++, h /= 2) {
    const rung = c.rung(h);
    if (rung === 'large' && rungs.length === 0) continue;
    if (typeof rung === 'string') break;
    if (!finite(rung)) {
      // f is not finite within h of v: start the ladder again below.
      fallback ??= nonfinite(h);
      rungs.length = 0;
      stencils.length = 0;
      candidates.length = 0;
      continue;
    }
    rungs.push(rung);
    const n = rungs.length;
    if (n < 2) continue;
    stencils.push(c.stencil(rungs[n - 1]!, rungs[n - 2]!));
    const m = stencils.length, here = stencils[m - 1]!;
    if (m < 2) {
      // One stencil: its error is bounded by the plain Richardson term |D(h) - D(2h)| / 3.
      const plain = Math.abs(centralDifference(rungs[n - 1]!) - centralDifference(rungs[n - 2]!)) / 3;
      fallback = probeOf(here, plain, true);
      continue;
    }
    const above = stencils[m - 2]!;
    const truncation = Math.abs(here.numeric - above.numeric) / spread(here, above);
    const steady = here.kinkSignal > above.kinkSignal / 4;
    scale = Math.max(scale, Math.abs(above.numeric), Math.abs(here.numeric));
    if (m < 3) {
      fallback = probeOf(here, truncation, steady);
      continue;
    }
    // T2 guards T1 against the two extrapolations agreeing by accident.
    const farther = stencils[m - 3]!;
    const guard = Math.abs(above.numeric - farther.numeric) / spread(above, farther) / (spread(here, above) + 1);
    const probe = probeOf(here, Math.max(truncation, guard), steady);
    // The difference to the stencil above, in units of the two roundings: at steps below the best,
    // where truncation is negligible, it is rounding alone and measures it (see noiseFactor).
    const difference = Math.abs(here.numeric - above.numeric);
    // Rounding alone grows as the step shrinks; a kink's or the series' share of the difference does not.
    const noise = difference >= Math.abs(above.numeric - farther.numeric) ? difference / (here.rounding + above.rounding) : 0;
    candidates.push({ probe, suspect: steady && looksLikeKink(here, scale, s.rtol), noise });
    const best = choose(candidates, 1);
    if (best.suspect) {
      // Every rung so far looks like a kink. A smooth f's signal falls 8x a rung, a kink's only
      // once the step is below its distance from v: go on down until rounding alone exceeds the
      // tolerance, where no step could resolve the derivative anyway.
      if (here.rounding > s.rtol * scale) break;
    } else if (probe.errorEstimate > STOP_FACTOR * best.probe.errorEstimate && here.rounding > best.probe.errorEstimate) {
      break;
    }
  }
  if (candidates.length === 0) return fallback ?? { ...nonfinite(h), stepProblem: true };
  // f's rounding error can exceed an ulp of |f| many times (f = A - B with A and B far larger than
  // f): the last two rungs, below the best, measure it. Never below the ulp estimate.
  const first = choose(candidates, 1);
  const last = candidates.slice(-2);
  const noiseFactor = last.length === 2 && !last.includes(first) ? Math.max(1, Math.min(last[0]!.noise, last[1]!.noise)) : 1;
  return choose(candidates, noiseFactor).probe;
}

interface Candidate {
  probe: Probe;
  /** The rung looks like a kink (prefer others). */
  suspect: boolean;
  /** |N - N_above| / (R + R_above). */
  noise: number;
}

/** The candidate with the least error estimate, rounding scaled by noiseFactor; kinks last. */
function choose(candidates: readonly Candidate[], noiseFactor: number): Candidate {
  let best: Candidate | null = null, bestEstimate = Infinity;
  for (const candidate of candidates) {
    const estimate = noiseFactor * candidate.probe.rounding + candidate.probe.truncation;
    if (best === null || (best.suspect && !candidate.suspect) || (best.suspect === candidate.suspect && estimate < bestEstimate)) {
      best = candidate;
      bestEstimate = estimate;
    }
  }
  const { probe } = best!;
  if (noiseFactor === 1) return best!;
  const rounding = noiseFactor * probe.rounding;
  return { ...best!, probe: { ...probe, rounding, errorEstimate: rounding + probe.truncation, noiseFactor } };
}

/** Stencils averaged by refineProbe, the first one included. */
const REFINE_STENCILS = 8;

/**
 * A closer look at a probed coordinate: REFINE_STENCILS - 1 more stencils at steps
 * h 2^(-j/REFINE_STENCILS), j = 1, 2, ..., all between h/2 and h, averaged with the first. Their
 * rounding errors are independent (the points differ), so the rounding part of the average is
 * sqrt(sum R_j^2) / count, about half of R; the truncation of each is T (h_j / h)^4, and the average
 * of those is about 0.4 T. 4 evaluations per stencil.
 * @internal
 */
export function refineProbe(x: Tensor, i: number, value: () => number, f0: number, s: ProbeSettings, p: Probe): Probe {
  if (!Number.isFinite(p.errorEstimate) || p.stepProblem) return p;
  const c = new Coordinate(x, i, value, f0, s.precision);
  let numeric = p.numeric, rounding2 = p.rounding ** 2, truncation = p.truncation, count = 1;
  for (let j = 1; j < REFINE_STENCILS; j++) {
    const h = p.step * 2 ** (-j / REFINE_STENCILS);
    const inner = c.rung(h), outer = c.rung(2 * h);
    if (typeof inner === 'string' || typeof outer === 'string' || !finite(inner) || !finite(outer)) continue;
    const more = c.stencil(inner, outer);
    numeric += more.numeric;
    rounding2 += (p.noiseFactor * more.rounding) ** 2;
    truncation += p.truncation * (more.step / p.step) ** 4;
    count++;
  }
  const rounding = Math.sqrt(rounding2) / count;
  truncation /= count;
  return { ...p, numeric: numeric / count, rounding, truncation, errorEstimate: rounding + truncation };
}

function probeOf(s: Stencil, truncation: number, kinkSignalSteady: boolean): Probe {
  return { ...s, truncation, errorEstimate: s.rounding + truncation, kinkSignalSteady, stepProblem: false, noiseFactor: 1 };
}

function nonfinite(h: number): Probe {
  return { numeric: NaN, step: h, errorEstimate: NaN, rounding: NaN, truncation: NaN, kinkSignal: 0, kinkNoise: 0, kinkSignalSteady: false, forward: NaN, backward: NaN, stepProblem: false, noiseFactor: 1 };
}

/**
 * richardson: false. One central difference: with no second step to measure truncation by, the
 * one-sided gap |forward - backward| / 2 = |f''| h / 2 bounds it from above.
 */
function centralOnly(c: Coordinate, h: number): Probe {
  const r = c.rung(h);
  if (typeof r === 'string') return { ...nonfinite(h), stepProblem: true };
  const forward = (r.fPlus - c.f0) / r.tPlus, backward = (c.f0 - r.fMinus) / -r.tMinus;
  const rounding = (ulp(r.fPlus, c.precision) + ulp(r.fMinus, c.precision)) / (r.tPlus - r.tMinus);
  const truncation = Math.abs(forward - backward) / 2;
  const numeric = finite(r) ? centralDifference(r) : NaN;
  return {
    numeric, step: (r.tPlus - r.tMinus) / 2, errorEstimate: rounding + truncation, rounding, truncation,
    kinkSignal: 0, kinkNoise: 0, kinkSignalSteady: false, forward, backward, stepProblem: false, noiseFactor: 1,
  };
}
