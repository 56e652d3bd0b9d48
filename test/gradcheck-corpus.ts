// The functions gradcheck's sensitivity is measured on (test/gradcheck-sensitivity.test.ts and the
// README's table): smooth functions as users write them, each evaluated either in float32 (every
// operation rounded to float32, sums accumulated in float32, as a Float32Array pipeline computes)
// or in float64, with its exact gradient.
import type { Tensor } from '../lib/index.js';
import { gaussian, rng } from './helpers.js';

export type Dtype = 'float32' | 'float64';

export interface CorpusProblem {
  x: Tensor[];
  f: (xs: Tensor[]) => number;
  grad: (xs: Tensor[]) => number[][];
  names: string[];
}

export interface CorpusFunction {
  name: string;
  /** The function, written out. */
  what: string;
  build(dtype: Dtype): CorpusProblem;
}

type Round = (v: number) => number;
const roundingOf = (dtype: Dtype): Round => (dtype === 'float32' ? Math.fround : (v) => v);
const arrayOf = (dtype: Dtype, values: number[]): Tensor => (dtype === 'float32' ? Float32Array.from(values) : Float64Array.from(values));

function normals(seed: number, n: number, scale = 1, mean = 0): number[] {
  const random = rng(seed);
  return Array.from({ length: n }, () => mean + gaussian(random) * scale);
}
function uniforms(seed: number, n: number, low: number, high: number): number[] {
  const random = rng(seed);
  return Array.from({ length: n }, () => low + (high - low) * random());
}

/** sum_i terms(i), each term and each partial sum rounded. */
function sum(r: Round, n: number, term: (i: number) => number): number {
  let s = 0;
  for (let i = 0; i < n; i++) s = r(s + r(term(i)));
  return s;
}

const softplus = (r: Round, z: number) => (z > 0 ? r(z + r(Math.log1p(r(Math.exp(-z))))) : r(Math.log1p(r(Math.exp(z)))));
const sigmoid = (z: number) => 1 / (1 + Math.exp(-z));

/** A single-tensor problem: f and grad of one array, as a list of one. */
function single(x: Tensor, f: (x: Tensor) => number, grad: (x: Tensor) => number[]): CorpusProblem {
  return { x: [x], f: (xs) => f(xs[0]!), grad: (xs) => [grad(xs[0]!)], names: ['x'] };
}

/** Dense layer out[n][o] = sum_d in[n][d] W[d][o] + b[o], accumulated in the rounding given. */
function dense(r: Round, input: ArrayLike<number>, W: ArrayLike<number>, b: ArrayLike<number> | null, rows: number, inDim: number, outDim: number): Float64Array {
  const out = new Float64Array(rows * outDim);
  for (let n = 0; n < rows; n++) {
    for (let o = 0; o < outDim; o++) {
      let s = b ? b[o]! : 0;
      for (let d = 0; d < inDim; d++) s = r(s + r(input[n * inDim + d]! * W[d * outDim + o]!));
      out[n * outDim + o] = s;
    }
  }
  return out;
}
/** dW[d][o] = sum_n in[n][d] dOut[n][o]; db[o] = sum_n dOut[n][o]; dIn[n][d] = sum_o dOut[n][o] W[d][o]. */
function denseBack(input: ArrayLike<number>, W: ArrayLike<number>, dOut: ArrayLike<number>, rows: number, inDim: number, outDim: number) {
  const dW = new Array<number>(inDim * outDim).fill(0), db = new Array<number>(outDim).fill(0), dIn = new Array<number>(rows * inDim).fill(0);
  for (let n = 0; n < rows; n++) {
    for (let o = 0; o < outDim; o++) {
      const g = dOut[n * outDim + o]!;
      db[o]! += g;
      for (let d = 0; d < inDim; d++) {
        dW[d * outDim + o]! += input[n * inDim + d]! * g;
        dIn[n * inDim + d]! += g * W[d * outDim + o]!;
      }
    }
  }
  return { dW, db, dIn };
}

/** Summed (or mean) softmax cross-entropy of scores S (rows x classes), in the rounding given. */
function crossEntropy(r: Round, S: ArrayLike<number>, labels: number[], classes: number, mean: boolean): number {
  const rows = labels.length;
  let loss = 0;
  for (let n = 0; n < rows; n++) {
    let max = -Infinity;
    for (let c = 0; c < classes; c++) max = Math.max(max, S[n * classes + c]!);
    let total = 0;
    for (let c = 0; c < classes; c++) total = r(total + r(Math.exp(r(S[n * classes + c]! - max))));
    loss = r(loss + r(r(r(Math.log(total)) + max) - S[n * classes + labels[n]!]!));
  }
  return mean ? r(loss / rows) : loss;
}

/** The gradient of crossEntropy with respect to the scores, exactly. */
function crossEntropyGradient(S: ArrayLike<number>, labels: number[], classes: number, mean: boolean): Float64Array {
  const rows = labels.length;
  const dS = new Float64Array(S.length);
  for (let n = 0; n < rows; n++) {
    let max = -Infinity, total = 0;
    for (let c = 0; c < classes; c++) max = Math.max(max, S[n * classes + c]!);
    for (let c = 0; c < classes; c++) total += Math.exp(S[n * classes + c]! - max);
    for (let c = 0; c < classes; c++) {
      dS[n * classes + c] = (Math.exp(S[n * classes + c]! - max) / total - (c === labels[n] ? 1 : 0)) / (mean ? rows : 1);
    }
  }
  return dS;
}

const labelsOf = (rows: number, classes: number, seed: number) => uniforms(seed, rows, 0, classes).map(Math.floor);

const softplusSum: CorpusFunction = {
  name: 'softplus sum',
  what: 'sum_i c_i softplus(a_i x_i + b_i), 60 coordinates',
  build(dtype) {
    const r = roundingOf(dtype), n = 60;
    const a = uniforms(21, n, 0.5, 2), b = normals(22, n), c = uniforms(23, n, 1, 3);
    return single(arrayOf(dtype, normals(24, n, 1.5)),
      (x) => sum(r, n, (i) => r(c[i]! * softplus(r, r(r(a[i]! * x[i]!) + b[i]!)))),
      (x) => Array.from(x, (v, i) => c[i]! * a[i]! * sigmoid(a[i]! * v + b[i]!)));
  },
};

/** A tanh MLP D -> H -> C with biases and a mean softmax cross-entropy over N examples. */
function tanhMlp(name: string, N: number, D: number, H: number, C: number, seed: number): CorpusFunction {
  return {
    name,
    what: `tanh MLP ${D}-${H}-${C}, softmax cross-entropy over ${N} examples, ${D * H + H + H * C + C} parameters`,
    build(dtype) {
      const r = roundingOf(dtype);
      const X = normals(seed, N * D), labels = labelsOf(N, C, seed + 1);
      const hidden = (p: Tensor[], rr: Round) => dense(rr, X, p[0]!, p[1]!, N, D, H).map((z) => rr(Math.tanh(z)));
      const x = [normals(seed + 2, D * H, 0.5), normals(seed + 3, H, 0.1), normals(seed + 4, H * C, 0.5), normals(seed + 5, C, 0.1)].map((v) => arrayOf(dtype, v));
      return {
        x, names: ['W1', 'b1', 'W2', 'b2'],
        f: (p) => crossEntropy(r, dense(r, hidden(p, r), p[2]!, p[3]!, N, H, C), labels, C, true),
        grad: (p) => {
          const exact = (v: number) => v;
          const A = hidden(p, exact);
          const dS = crossEntropyGradient(dense(exact, A, p[2]!, p[3]!, N, H, C), labels, C, true);
          const second = denseBack(A, p[2]!, dS, N, H, C);
          const dZ = second.dIn.map((g, k) => g * (1 - A[k]! * A[k]!));
          const first = denseBack(X, p[0]!, dZ, N, D, H);
          return [first.dW, first.db, second.dW, second.db];
        },
      };
    },
  };
}

/** A 2-hidden-layer sigmoid MLP regressor, squared error summed over N examples. */
const sigmoidMlp: CorpusFunction = {
  name: 'sigmoid MLP, summed loss',
  what: 'sigmoid MLP 6-12-8-1, squared error summed over 8 examples, 197 parameters',
  build(dtype) {
    const r = roundingOf(dtype), N = 8, D = 6, H1 = 12, H2 = 8;
    const X = normals(31, N * D), Y = normals(32, N, 6);
    const forward = (p: Tensor[], rr: Round) => {
      const [W1, b1, W2, b2, W3, b3] = p as [Tensor, Tensor, Tensor, Tensor, Tensor, Tensor];
      const A1 = dense(rr, X, W1, b1, N, D, H1).map((z) => rr(sigmoid(z)));
      const A2 = dense(rr, A1, W2, b2, N, H1, H2).map((z) => rr(sigmoid(z)));
      const out = dense(rr, A2, W3, b3, N, H2, 1);
      return { A1, A2, residual: out.map((o, n) => rr(o - Y[n]!)) };
    };
    const x = [normals(33, D * H1, 0.6), normals(34, H1, 0.2), normals(35, H1 * H2, 0.6), normals(36, H2, 0.2), normals(37, H2, 1.5), [0.3]].map((v) => arrayOf(dtype, v));
    return {
      x, names: ['W1', 'b1', 'W2', 'b2', 'W3', 'b3'],
      f: (p) => {
        const { residual } = forward(p, r);
        return sum(r, N, (n) => r(residual[n]! * residual[n]!));
      },
      grad: (p) => {
        const { A1, A2, residual } = forward(p, (v) => v);
        const third = denseBack(A2, p[4]!, residual.map((e) => 2 * e), N, H2, 1);
        const second = denseBack(A1, p[2]!, third.dIn.map((g, k) => g * A2[k]! * (1 - A2[k]!)), N, H1, H2);
        const first = denseBack(X, p[0]!, second.dIn.map((g, k) => g * A1[k]! * (1 - A1[k]!)), N, D, H1);
        return [first.dW, first.db, second.dW, second.db, third.dW, third.db];
      },
    };
  },
};

const softmaxRegression: CorpusFunction = {
  name: 'softmax cross-entropy',
  what: 'linear classifier 12 features x 10 classes, cross-entropy summed over 16 examples, 130 parameters',
  build(dtype) {
    const r = roundingOf(dtype), N = 16, D = 12, C = 10;
    const X = normals(41, N * D), labels = labelsOf(N, C, 42);
    return {
      x: [arrayOf(dtype, normals(43, D * C, 0.3)), arrayOf(dtype, normals(44, C, 0.1))], names: ['W', 'b'],
      f: (p) => crossEntropy(r, dense(r, X, p[0]!, p[1]!, N, D, C), labels, C, false),
      grad: (p) => {
        const back = denseBack(X, p[0]!, crossEntropyGradient(dense((v) => v, X, p[0]!, p[1]!, N, D, C), labels, C, false), N, D, C);
        return [back.dW, back.db];
      },
    };
  },
};

const logSumExp: CorpusFunction = {
  name: 'log-sum-exp + quadratic',
  what: 'log sum_i exp(x_i) + 0.05 |x|^2, 200 coordinates',
  build(dtype) {
    const r = roundingOf(dtype), n = 200;
    const f = (x: Tensor) => {
      const max = Math.max(...x);
      return r(r(r(Math.log(sum(r, n, (i) => Math.exp(r(x[i]! - max))))) + max) + r(0.05 * sum(r, n, (i) => x[i]! * x[i]!)));
    };
    const grad = (x: Tensor) => {
      const max = Math.max(...x);
      const e = Array.from(x, (v) => Math.exp(v - max));
      const total = e.reduce((a, b) => a + b, 0);
      return e.map((v, i) => v / total + 0.1 * x[i]!);
    };
    return single(arrayOf(dtype, normals(51, n, 2)), f, grad);
  },
};

const rosenbrock: CorpusFunction = {
  name: 'chained Rosenbrock',
  what: 'sum_i 100 (x_{i+1} - x_i^2)^2 + (1 - x_i)^2, 40 coordinates',
  build(dtype) {
    const r = roundingOf(dtype), n = 40;
    return single(arrayOf(dtype, normals(61, n, 0.3, 1)),
      (x) => sum(r, n - 1, (i) => {
        const d = r(x[i + 1]! - r(x[i]! * x[i]!)), e = r(1 - x[i]!);
        return r(r(100 * r(d * d)) + r(e * e));
      }),
      (x) => {
        const g = new Array<number>(n).fill(0);
        for (let i = 0; i + 1 < n; i++) {
          g[i]! += -400 * x[i]! * (x[i + 1]! - x[i]! ** 2) - 2 * (1 - x[i]!);
          g[i + 1]! += 200 * (x[i + 1]! - x[i]! ** 2);
        }
        return g;
      });
  },
};

const expSum: CorpusFunction = {
  name: 'exp sum',
  what: 'sum_i c_i exp(a_i x_i), 100 coordinates',
  build(dtype) {
    const r = roundingOf(dtype), n = 100;
    const a = uniforms(71, n, 0.5, 2), c = uniforms(72, n, 0.5, 2);
    return single(arrayOf(dtype, normals(73, n, 0.5, 1)),
      (x) => sum(r, n, (i) => r(c[i]! * r(Math.exp(r(a[i]! * x[i]!))))),
      (x) => Array.from(x, (v, i) => c[i]! * a[i]! * Math.exp(a[i]! * v)));
  },
};

const logCoshChain: CorpusFunction = {
  name: 'log cosh + tanh coupling',
  what: 'sum_i log cosh(a_i x_i) + tanh(x_i x_{i+1}), 150 coordinates',
  build(dtype) {
    const r = roundingOf(dtype), n = 150;
    const a = uniforms(81, n, 0.5, 3);
    return single(arrayOf(dtype, normals(82, n, 1)),
      (x) => sum(r, n, (i) => r(r(Math.log(r(Math.cosh(r(a[i]! * x[i]!))))) + (i + 1 < n ? r(Math.tanh(r(x[i]! * x[i + 1]!))) : 0))),
      (x) => {
        const g = Array.from(x, (v, i) => a[i]! * Math.tanh(a[i]! * v));
        for (let i = 0; i + 1 < n; i++) {
          const s = 1 - Math.tanh(x[i]! * x[i + 1]!) ** 2;
          g[i]! += s * x[i + 1]!;
          g[i + 1]! += s * x[i]!;
        }
        return g;
      });
  },
};

/** Log-uniform scales from 1e-3 to 1e3. */
const scalesOf = (seed: number, n: number) => uniforms(seed, n, -3, 3).map((e) => 10 ** e);

const logBarrier: CorpusFunction = {
  name: 'log barrier, x from 1e-3 to 1e3',
  what: 'sum_i x_i / m_i - log x_i, m_i log-uniform in [1e-3, 1e3], x_i / m_i in [0.3, 3], 100 coordinates',
  build(dtype) {
    const r = roundingOf(dtype), n = 100;
    const m = scalesOf(91, n), ratio = uniforms(92, n, 0.3, 3);
    return single(arrayOf(dtype, m.map((v, i) => v * ratio[i]!)),
      (x) => sum(r, n, (i) => r(r(x[i]! / m[i]!) - r(Math.log(x[i]!)))),
      (x) => Array.from(x, (v, i) => 1 / m[i]! - 1 / v));
  },
};

const scaledTanh: CorpusFunction = {
  name: 'tanh, scales 1e-3 to 1e3',
  what: 'sum_i tanh(x_i / s_i) + (x_i / s_i)^2 / 4, s_i log-uniform in [1e-3, 1e3], x_i ~ s_i, 80 coordinates',
  build(dtype) {
    const r = roundingOf(dtype), n = 80;
    const s = scalesOf(101, n), z = normals(102, n);
    return single(arrayOf(dtype, s.map((v, i) => v * z[i]!)),
      (x) => sum(r, n, (i) => {
        const u = r(x[i]! / s[i]!);
        return r(r(Math.tanh(u)) + r(r(u * u) / 4));
      }),
      (x) => Array.from(x, (v, i) => (1 - Math.tanh(v / s[i]!) ** 2 + v / (2 * s[i]!)) / s[i]!));
  },
};

/**
 * Beyond float32's reach, kept to show that the check then says so by its error estimate instead
 * of failing: the coordinates near 1e-3 move f (~6e3) by a few ulps over their whole length scale.
 */
export const ENTROPY: CorpusFunction = {
  name: 'x log x, x from 1e-3 to 1e3',
  what: 'sum_i w_i x_i log x_i, x_i log-uniform in [1e-3, 1e3], 100 coordinates',
  build(dtype) {
    const r = roundingOf(dtype), n = 100;
    const w = uniforms(91, n, 0.05, 0.2);
    return single(arrayOf(dtype, scalesOf(92, n)),
      (x) => sum(r, n, (i) => r(w[i]! * r(x[i]! * r(Math.log(x[i]!))))),
      (x) => Array.from(x, (v, i) => w[i]! * (Math.log(v) + 1)));
  },
};

const leastSquares: CorpusFunction = {
  name: 'least squares, f ~ 1e4',
  what: '1/2 |A x - b|^2 with A 40 x 30, residuals ~ 20, value ~ 1e4',
  build(dtype) {
    const r = roundingOf(dtype), m = 40, n = 30;
    const A = normals(111, m * n), b = normals(112, m, 20);
    const residuals = (x: Tensor, rr: Round) => Array.from({ length: m }, (_, j) => rr(sum(rr, n, (i) => A[j * n + i]! * x[i]!) - b[j]!));
    return single(arrayOf(dtype, normals(113, n)),
      (x) => {
        const res = residuals(x, r);
        return r(sum(r, m, (j) => res[j]! * res[j]!) / 2);
      },
      (x) => {
        const res = residuals(x, (v) => v);
        return Array.from({ length: n }, (_, i) => res.reduce((s, e, j) => s + A[j * n + i]! * e, 0));
      });
  },
};

const expLarge: CorpusFunction = {
  name: 'exp sum, f ~ 1e4',
  what: 'sum_i exp(x_i), x_i ~ 3.5 +- 0.5, 200 coordinates, value ~ 1e4',
  build(dtype) {
    const r = roundingOf(dtype), n = 200;
    return single(arrayOf(dtype, normals(121, n, 0.5, 3.5)),
      (x) => sum(r, n, (i) => Math.exp(x[i]!)),
      (x) => Array.from(x, Math.exp));
  },
};

export const CORPUS: CorpusFunction[] = [
  softplusSum,
  tanhMlp('tanh MLP', 8, 8, 16, 4, 11),
  sigmoidMlp,
  softmaxRegression,
  logSumExp,
  rosenbrock,
  expSum,
  logCoshChain,
  logBarrier,
  scaledTanh,
  leastSquares,
  expLarge,
];

/** The smallest relative error gradcheck is built to catch in each dtype. */
export const TARGET: Record<Dtype, number> = { float32: 1e-2, float64: 1e-6 };

/**
 * Coordinates whose |gradient| is at least a tenth of the RMS gradient, of the whole gradient or
 * of their own tensor (the stricter reading: both count), as [tensor, index].
 */
export function eligible(gradient: number[][]): [number, number][] {
  const rmsOf = (values: number[]) => Math.sqrt(values.reduce((s, v) => s + v * v, 0) / values.length);
  const overall = rmsOf(gradient.flat());
  const out: [number, number][] = [];
  gradient.forEach((g, t) => {
    const own = rmsOf(g);
    g.forEach((v, i) => {
      if (Math.abs(v) >= 0.1 * Math.min(overall, own)) out.push([t, i]);
    });
  });
  return out;
}
