// Type-checked by test/package.test.ts (tsc --strict, through the package's exports map): the
// calls users write to gradcheck, checkDirectional and numericalGradient, typed or not.
import { checkDirectional, gradcheck, numericalGradient, type CoordinateCheck, type GradcheckReport, type Tensor } from 'simd-optim';

const w = new Float32Array(4);
const b = new Float32Array(2);
const d = new Float64Array(3);
const sum = (x: Float32Array) => x.reduce((s, v) => s + v, 0);

// One Float32Array, f and grad typed for it; grad returning a Float32Array, a Float64Array, a number[].
const typed: GradcheckReport = gradcheck((x: Float32Array) => sum(x), (x: Float32Array) => x.map(() => 1), w);
gradcheck((x: Float32Array) => x[0]!, () => new Float64Array(4), w);
gradcheck((x: Float32Array) => x[0]!, () => [1, 0, 0, 0], w);
// The list form with Float32Array[].
gradcheck((xs: Float32Array[]) => sum(xs[0]!) + sum(xs[1]!), (xs: Float32Array[]) => xs.map((x) => x.map(() => 1)), [w, b]);
// Untyped lambdas: x is the Float32Array passed.
gradcheck((x) => x.reduce((a, v) => a + v, 0), (x) => x.map(() => 1), w);
gradcheck((xs) => xs.length, (xs) => xs.map((x) => new Float32Array(x.length)), [w, b]);
// Float64Array, typed and untyped; a tuple of mixed arrays; Tensor itself.
gradcheck((x: Float64Array) => x[0]!, (x: Float64Array) => Array.from(x, () => 0), d);
gradcheck((x) => x.reduce((a, v) => a + v, 0), (x) => x.map(() => 1), d);
gradcheck(([u, v]: [Float32Array, Float64Array]) => u[0]! + v[0]!, ([u, v]) => [u.map(() => 1), v.map(() => 1)], [w, d]);
const t: Tensor = d;
gradcheck((x: Tensor) => x[0]!, (x: Tensor) => Array.from(x), t, { precision: 'float64', names: ['t'], safety: 5 });
// The same shapes for checkDirectional and numericalGradient.
checkDirectional((x: Float32Array) => sum(x), (x) => x.map(() => 1), w);
checkDirectional((xs: Float32Array[]) => xs.length, (xs) => xs.map((x) => new Float32Array(x.length)), [w, b]);
const numeric: Float64Array = numericalGradient((x: Float32Array) => sum(x), w);

// The report: ok, failures, worst.
const ok: boolean = typed.ok;
const failures: CoordinateCheck[] = typed.failures;
const worst: CoordinateCheck | null = typed.worst;
const kind: 'ok' | 'failure' | 'kink' | 'step' | 'nonfinite' | undefined = worst?.kind;

// What stays an error:
// @ts-expect-error f of one array, x a list
gradcheck((x: Float32Array) => x[0]!, () => [1], [w]);
// @ts-expect-error f of a Float64Array, x a Float32Array
gradcheck((x: Float64Array) => x[0]!, () => [1], w);
// @ts-expect-error grad returning a list for one array
gradcheck((x: Float32Array) => x[0]!, () => [[1]], w);
// @ts-expect-error f returning a string
gradcheck((x: Float32Array) => String(x[0]), () => [1], w);
// @ts-expect-error x a number[]
gradcheck((x: number[]) => x[0]!, () => [1], [1, 2]);

export { ok, failures, kind, numeric };
