/**
 * The reports of gradcheck and checkDirectional, and the tables they print.
 */

/** What gradcheck found at one coordinate. */
export interface CoordinateCheck {
  /** Index of the tensor in the list (0 for a single array). */
  tensor: number;
  /** The tensor's name in the tables (options.names, or 'x' / 'x[t]'). */
  name: string;
  index: number;
  analytic: number;
  numeric: number;
  absError: number;
  /** |analytic - numeric| / max(|analytic|, |numeric|, floor). */
  relError: number;
  /** The step actually taken: half the distance between x + h and x - h as stored. */
  step: number;
  /**
   * The estimated error of `numeric`: the rounding of f's values at the points probed plus the
   * truncation left after extrapolation (measured with the next larger steps).
   */
  errorEstimate: number;
  /** ok; failure (a wrong gradient); kink (f is not smooth here); step (no usable step);
   *  nonfinite (NaN or infinity in either gradient). */
  kind: 'ok' | 'failure' | 'kink' | 'step' | 'nonfinite';
  /** Forward and backward differences, kept for kinks. */
  forward: number;
  backward: number;
}

/** The result of gradcheck. */
export interface GradcheckReport {
  /**
   * True when no coordinate failed (nor had a NaN or infinite gradient) and f behaved
   * (deterministic, left x alone, finite at x); kinks and step-size problems alone do not make it
   * false, except that a check where no coordinate could be probed at all is not ok.
   */
  ok: boolean;
  /** Coordinates compared. */
  checked: number;
  maxAbsError: number;
  maxRelError: number;
  /**
   * The worst failure when there is one: the failing coordinate with the largest relative error
   * (NaN or infinite ones first), `failures[0]`. When nothing failed, the coordinate with the
   * largest relative error among those compared (kinks excluded); null when none was compared.
   * A passing coordinate can have a larger relative error than a failing one (a tiny gradient
   * whose difference is within the stencil's own error): it is never the worst while a failure
   * exists.
   */
  worst: CoordinateCheck | null;
  /**
   * The failing coordinates, worst first (largest relative error, NaN or infinite ones first); at
   * most options.maxFailures of them, `failureCount` in all. A coordinate fails when its relative
   * error exceeds rtol and its absolute error exceeds safety error estimates, or when either
   * gradient is NaN or infinite there (kind 'nonfinite'), or at a kink with options.strict.
   */
  failures: CoordinateCheck[];
  /** How many coordinates failed in all. */
  failureCount: number;
  /** Coordinates where f is not smooth (not failures unless options.strict). */
  kinks: CoordinateCheck[];
  /** Coordinates where no usable step exists (x + h rounds to x, or overflows). */
  stepProblems: CoordinateCheck[];
  /** What went wrong with f or grad themselves: mutation of x, nondeterminism, NaN at x. */
  problems: string[];
  /** Precision, thresholds and method used. */
  settings: { precision: 'float32' | 'float64'; rtol: number; safety: number; richardson: boolean; strict: boolean };
  /** A table a person can read at a glance. */
  toString(): string;
}

/** One direction of checkDirectional. */
export interface DirectionCheck {
  analytic: number;
  numeric: number;
  absError: number;
  relError: number;
  errorEstimate: number;
  ok: boolean;
}

/** The result of checkDirectional. */
export interface DirectionalReport {
  ok: boolean;
  directions: DirectionCheck[];
  problems: string[];
  toString(): string;
}

const num = (x: number): string => (Number.isFinite(x) ? x.toPrecision(6) : String(x));
const small = (x: number): string => (Number.isFinite(x) ? x.toExponential(2) : String(x));

function pad(cells: string[][]): string {
  const widths = cells[0]!.map((_, c) => Math.max(...cells.map((row) => row[c]!.length)));
  return cells.map((row) => row.map((cell, c) => (c < 2 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join('  ').trimEnd()).join('\n');
}

function coordinateRows(list: readonly CoordinateCheck[], note: (c: CoordinateCheck) => string): string {
  const rows = [['tensor', 'index', 'analytic', 'numeric', 'abs error', 'rel error', 'est. error', 'step', '']];
  for (const c of list) {
    rows.push([c.name, `[${c.index}]`, num(c.analytic), num(c.numeric), small(c.absError), small(c.relError), small(c.errorEstimate), small(c.step), note(c)]);
  }
  return pad(rows);
}

/** The printed form of a gradcheck report. @internal */
export function formatGradcheck(r: Omit<GradcheckReport, 'toString'>): string {
  const s = r.settings;
  const method = `${s.precision}, ${s.richardson ? 'Richardson (5-point)' : 'central differences'}, rtol ${s.rtol}, ${s.safety} x error estimate${s.strict ? ', strict' : ''}`;
  const lines: string[] = [];
  if (r.ok) {
    lines.push(`gradcheck passed: ${r.checked} coordinates, max rel error ${small(r.maxRelError)}, max abs error ${small(r.maxAbsError)} (${method})`);
  } else {
    const what = r.failureCount > 0 ? `${r.failureCount} of ${r.checked} coordinates wrong` : 'f or grad misbehaved';
    lines.push(`gradcheck FAILED: ${what} (${method})`);
  }
  for (const p of r.problems) lines.push(`  problem: ${p}`);
  if (r.failures.length > 0) {
    lines.push('', 'worst failures:');
    lines.push(coordinateRows(r.failures, (c) => (c.kind === 'nonfinite' ? '<- NaN or infinite' : c.kind === 'kink' ? '<- kink (strict)' : '<- wrong')));
  } else if (r.worst) {
    lines.push('', 'worst coordinate:');
    lines.push(coordinateRows([r.worst], () => ''));
  }
  if (r.kinks.length > 0) {
    lines.push('', `kinks (f is not smooth within 2 steps; not counted as failures${s.strict ? ' in non-strict mode' : ''}):`);
    for (const k of r.kinks.slice(0, 5)) {
      lines.push(`  ${k.name}[${k.index}]: forward ${num(k.forward)}, backward ${num(k.backward)}, analytic ${num(k.analytic)}`);
    }
    if (r.kinks.length > 5) lines.push(`  ... and ${r.kinks.length - 5} more`);
  }
  if (r.stepProblems.length > 0) {
    lines.push('', 'step-size problems (no step: these say nothing about the gradient):');
    for (const p of r.stepProblems.slice(0, 5)) lines.push(`  ${p.name}[${p.index}]: x = ${num(p.numeric)}, step ${small(p.step)}`);
  }
  return lines.join('\n');
}

/** The printed form of a checkDirectional report. @internal */
export function formatDirectional(r: Omit<DirectionalReport, 'toString'>): string {
  const lines = [`checkDirectional ${r.ok ? 'passed' : 'FAILED'}: ${r.directions.length} random directions`];
  for (const p of r.problems) lines.push(`  problem: ${p}`);
  const rows = [['direction', '', 'analytic', 'numeric', 'abs error', 'rel error', 'est. error', '']];
  r.directions.forEach((d, k) => rows.push([String(k), '', num(d.analytic), num(d.numeric), small(d.absError), small(d.relError), small(d.errorEstimate), d.ok ? '' : '<- wrong']));
  lines.push(pad(rows));
  return lines.join('\n');
}
