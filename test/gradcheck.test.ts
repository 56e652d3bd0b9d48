// Numerical gradient checking: correct gradients pass in float32 and float64, planted bugs fail and
// are named, kinks are kinks, misbehaving functions are reported.
import { describe, expect, test } from 'vitest';

import { checkDirectional, gradcheck, numericalGradient, type Tensor } from '../lib/index.js';
import { gaussian, rng } from './helpers.js';

type Make = (values: ArrayLike<number>) => Tensor;
const PRECISIONS: [string, Make][] = [
  ['float32', (v) => Float32Array.from(v)],
  ['float64', (v) => Float64Array.from(v)],
];

function normals(seed: number, n: number, scale = 1): number[] {
  const random = rng(seed);
  return Array.from({ length: n }, () => gaussian(random) * scale);
}

// A small classification problem: N examples of D features, C classes.
const N = 8, D = 5, H = 6, C = 4;
const X = normals(1, N * D);
const Y = Array.from({ length: N }, (_, i) => (i * 7) % C);

function scores(W: ArrayLike<number>, inputs: ArrayLike<number>, inDim: number, outDim: number, bias?: ArrayLike<number>): number[] {
  const out: number[] = [];
  for (let n = 0; n < N; n++) {
    for (let c = 0; c < outDim; c++) {
      let s = bias ? bias[c]! : 0;
      for (let d = 0; d < inDim; d++) s += inputs[n * inDim + d]! * W[d * outDim + c]!;
      out.push(s);
    }
  }
  return out;
}

/** Mean softmax cross-entropy of scores S (N x C) and its gradient dS. */
function softmaxCE(S: number[]): { loss: number; dS: number[] } {
  let loss = 0;
  const dS = new Array<number>(S.length).fill(0);
  for (let n = 0; n < N; n++) {
    const row = S.slice(n * C, n * C + C);
    const max = Math.max(...row);
    const exps = row.map((s) => Math.exp(s - max));
    const sum = exps.reduce((a, b) => a + b, 0);
    loss += Math.log(sum) + max - row[Y[n]!]!;
    exps.forEach((e, c) => (dS[n * C + c] = (e / sum - (c === Y[n] ? 1 : 0)) / N));
  }
  return { loss: loss / N, dS };
}

function backToW(dS: number[], inputs: ArrayLike<number>, inDim: number, outDim: number): number[] {
  const dW = new Array<number>(inDim * outDim).fill(0);
  for (let n = 0; n < N; n++) for (let d = 0; d < inDim; d++) for (let c = 0; c < outDim; c++) dW[d * outDim + c] += inputs[n * inDim + d]! * dS[n * outDim + c]!;
  return dW;
}

const softmax = {
  f: (W: Tensor) => softmaxCE(scores(W, X, D, C)).loss,
  grad: (W: Tensor) => backToW(softmaxCE(scores(W, X, D, C)).dS, X, D, C),
};

/** The multiclass SVM loss of the lecture notes: mean of sum_{j != y} max(0, s_j - s_y + 1). */
const svm = {
  f: (W: Tensor) => {
    const S = scores(W, X, D, C);
    let loss = 0;
    for (let n = 0; n < N; n++) for (let c = 0; c < C; c++) if (c !== Y[n]) loss += Math.max(0, S[n * C + c]! - S[n * C + Y[n]!]! + 1);
    return loss / N;
  },
  grad: (W: Tensor) => {
    const S = scores(W, X, D, C);
    const dS = new Array<number>(N * C).fill(0);
    for (let n = 0; n < N; n++) {
      for (let c = 0; c < C; c++) {
        if (c !== Y[n] && S[n * C + c]! - S[n * C + Y[n]!]! + 1 > 0) {
          dS[n * C + c] += 1 / N;
          dS[n * C + Y[n]!] -= 1 / N;
        }
      }
    }
    return backToW(dS, X, D, C);
  },
};

/** A 2-layer tanh MLP with biases and a softmax cross-entropy loss; params [W1, b1, W2, b2]. */
function mlpParts(p: Tensor[]) {
  const [W1, b1, W2, b2] = p as [Tensor, Tensor, Tensor, Tensor];
  const A = scores(W1, X, D, H, b1).map(Math.tanh);
  const S = scores(W2, A, H, C, b2);
  return { W2, A, ...softmaxCE(S) };
}
const mlp = {
  f: (p: Tensor[]) => mlpParts(p).loss,
  grad: (p: Tensor[]): number[][] => {
    const { W2, A, dS } = mlpParts(p);
    const dW2 = backToW(dS, A, H, C);
    const db2 = Array.from({ length: C }, (_, c) => Array.from({ length: N }, (_, n) => dS[n * C + c]!).reduce((a, b) => a + b, 0));
    const dA = new Array<number>(N * H).fill(0);
    for (let n = 0; n < N; n++) for (let h = 0; h < H; h++) for (let c = 0; c < C; c++) dA[n * H + h] += dS[n * C + c]! * W2[h * C + c]!;
    const dZ = dA.map((g, k) => g * (1 - A[k]! * A[k]!));
    const dW1 = backToW(dZ, X, D, H);
    const db1 = Array.from({ length: H }, (_, h) => Array.from({ length: N }, (_, n) => dZ[n * H + h]!).reduce((a, b) => a + b, 0));
    return [dW1, db1, dW2, db2];
  },
  init: (make: Make) => [make(normals(2, D * H, 0.5)), make(normals(3, H, 0.1)), make(normals(4, H * C, 0.5)), make(normals(5, C, 0.1))],
  names: ['W1', 'b1', 'W2', 'b2'],
};

const rosenbrock = {
  f: (x: Tensor) => {
    let s = 0;
    for (let i = 0; i + 1 < x.length; i++) s += 100 * (x[i + 1]! - x[i]! ** 2) ** 2 + (1 - x[i]!) ** 2;
    return s;
  },
  grad: (x: Tensor, factor = 2) => {
    const g = new Array<number>(x.length).fill(0);
    for (let i = 0; i + 1 < x.length; i++) {
      g[i] += -400 * x[i]! * (x[i + 1]! - x[i]! ** 2) - factor * (1 - x[i]!);
      g[i + 1] += 200 * (x[i + 1]! - x[i]! ** 2);
    }
    return g;
  },
};

const logSumExp = {
  f: (x: Tensor) => {
    const max = Math.max(...x);
    return Math.log(x.reduce((s, v) => s + Math.exp(v - max), 0)) + max;
  },
  grad: (x: Tensor) => {
    const max = Math.max(...x);
    const e = Array.from(x, (v) => Math.exp(v - max));
    const sum = e.reduce((a, b) => a + b, 0);
    return e.map((v) => v / sum);
  },
};

describe.each(PRECISIONS)('%s', (_precision, make) => {
  test('correct gradients pass: softmax cross-entropy, SVM, MLP, Rosenbrock, log-sum-exp', () => {
    const reports = [
      gradcheck(softmax.f, softmax.grad, make(normals(6, D * C, 0.3))),
      gradcheck(svm.f, svm.grad, make(normals(7, D * C, 0.3))),
      gradcheck(mlp.f, mlp.grad, mlp.init(make), { names: mlp.names }),
      gradcheck(rosenbrock.f, (x) => rosenbrock.grad(x), make(normals(8, 10, 0.5))),
      gradcheck(logSumExp.f, logSumExp.grad, make(normals(9, 12, 2))),
      // f computed in float32 (rounded result), whatever x's type: said with options.precision.
      gradcheck((x: Tensor) => Math.fround(rosenbrock.f(x)), (x) => rosenbrock.grad(x), make(normals(10, 10, 0.5)), { precision: 'float32' }),
    ];
    reports.forEach((r, k) => expect(r.ok, `case ${k}:\n${r.toString()}`).toBe(true));
    expect(reports[2]!.checked).toBe(D * H + H + H * C + C);
  });

  test('one coordinate off by 1% fails, and the report names it', () => {
    const report = gradcheck(mlp.f, (p: Tensor[]) => {
      const g = mlp.grad(p);
      g[0]![13]! *= 1.01;
      return g;
    }, mlp.init(make), { names: mlp.names });
    expect(report.ok).toBe(false);
    expect(report.failureCount).toBe(1);
    expect(report.worst).toMatchObject({ tensor: 0, name: 'W1', index: 13, kind: 'failure' });
    expect(report.worst!.relError).toBeGreaterThan(0.005);
    expect(report.toString()).toMatch(/W1\s+\[13\]/);
  });

  test('a wrong sign on the bias only: every failure is in b1', () => {
    const report = gradcheck(mlp.f, (p: Tensor[]) => {
      const g = mlp.grad(p);
      g[1] = g[1]!.map((v) => -v);
      return g;
    }, mlp.init(make), { names: mlp.names });
    expect(report.ok).toBe(false);
    expect(new Set(report.failures.map((c) => c.name))).toEqual(new Set(['b1']));
    expect(report.failureCount).toBe(H);
  });

  test('a missing factor 2 fails, in gradcheck and in checkDirectional', () => {
    const x = make(normals(11, 10, 0.5));
    const report = gradcheck(rosenbrock.f, (v) => rosenbrock.grad(v, 1), x);
    expect(report.ok).toBe(false);
    expect(report.failureCount).toBeGreaterThan(0);
    expect(checkDirectional(rosenbrock.f, (v) => rosenbrock.grad(v, 1), x).ok).toBe(false);
    expect(checkDirectional(rosenbrock.f, (v) => rosenbrock.grad(v), x).ok).toBe(true);
  });

  test('a ReLU network evaluated at a kink: a kink, not a failure (unless strict)', () => {
    // One hidden unit's pre-activation is exactly 0: relu'(0) is taken as 0, the numeric slope is 1/2.
    const w = make([0.7, -0.3, 0.5, 0.2]), x = [1, 0, 2, -1];
    const f = (p: Tensor[]) => {
      const [W, b] = p as [Tensor, Tensor];
      let s = 0;
      for (let h = 0; h < 2; h++) s += Math.max(0, W[h * 2]! * x[h * 2]! + W[h * 2 + 1]! * x[h * 2 + 1]! + b[h]!) * (h + 1);
      return s;
    };
    const grad = (p: Tensor[]) => {
      const [W, b] = p as [Tensor, Tensor];
      const dW = [0, 0, 0, 0], db = [0, 0];
      for (let h = 0; h < 2; h++) {
        if (W[h * 2]! * x[h * 2]! + W[h * 2 + 1]! * x[h * 2 + 1]! + b[h]! > 0) {
          dW[h * 2] = x[h * 2]! * (h + 1);
          dW[h * 2 + 1] = x[h * 2 + 1]! * (h + 1);
          db[h] = h + 1;
        }
      }
      return [dW, db];
    };
    const b = make([-0.7, 0.1]); // unit 0: 0.7 * 1 + (-0.3) * 0 - 0.7 = 0 exactly
    const report = gradcheck(f, grad, [w, b], { names: ['W', 'b'] });
    expect(report.ok, report.toString()).toBe(true);
    expect(report.kinks.map((k) => `${k.name}[${k.index}]`)).toContain('b[0]');
    expect(report.toString()).toMatch(/kinks/);
    expect(gradcheck(f, grad, [w, b], { strict: true }).ok).toBe(false);
  });

  test('a function that mutates x, or is not deterministic, is reported as such', () => {
    const x = make([1, 2, 3]);
    const mutating = gradcheck((v: Tensor) => (v[1]! += 1, v[0]! + v[1]!), () => [1, 1, 0], x);
    expect(mutating.ok).toBe(false);
    expect(mutating.problems.join()).toMatch(/f mutates x: x\[1\] changed from 2 to 3/);
    expect(Array.from(x)).toEqual([1, 2, 3]); // restored
    let calls = 0;
    const noisy = gradcheck((v: Tensor) => v[0]! + 1e-9 * ++calls, () => [1, 0, 0], x);
    expect(noisy.ok).toBe(false);
    expect(noisy.problems.join()).toMatch(/not deterministic/);
    const nan = gradcheck(() => NaN, () => [0, 0, 0], x);
    expect(nan.problems.join()).toMatch(/f\(x\) is NaN/);
  });

  test('NaN in the analytic gradient always fails and says so', () => {
    const report = gradcheck(logSumExp.f, (v) => logSumExp.grad(v).map((g, i) => (i === 4 ? NaN : g)), make(normals(12, 8)));
    expect(report.ok).toBe(false);
    expect(report.failures[0]).toMatchObject({ index: 4, kind: 'nonfinite' });
    expect(report.toString()).toMatch(/NaN or infinite/);
  });

  test('x is restored exactly after every probe', () => {
    const x = make(normals(13, 9, 3));
    const before = x.slice();
    gradcheck(logSumExp.f, logSumExp.grad, x);
    numericalGradient(logSumExp.f, x);
    checkDirectional(logSumExp.f, logSumExp.grad, x);
    expect(Array.from(x)).toEqual(Array.from(before));
  });

  test('sampling checks k coordinates per tensor, the largest analytic ones among them', () => {
    const p = mlp.init(make);
    const report = gradcheck(mlp.f, mlp.grad, p, { sample: 5, names: mlp.names });
    expect(report.checked).toBe(5 + 5 + 5 + C); // b2 has only C coordinates: all of them
    const g = mlp.grad(p)[0]!;
    const largest = g.map((v, i) => [Math.abs(v), i] as const).sort((a, b) => b[0] - a[0])[0]![1];
    const bug = gradcheck(mlp.f, (q: Tensor[]) => {
      const grads = mlp.grad(q);
      grads[0]![largest] *= 1.05;
      return grads;
    }, p, { sample: 3, names: mlp.names });
    expect(bug.ok).toBe(false);
    expect(bug.worst).toMatchObject({ name: 'W1', index: largest });
  });

  test('checkDirectional passes a correct gradient of many parameters', () => {
    const big = [make(normals(14, 4000, 0.1)), make(normals(15, 300, 0.1))];
    const f = (p: Tensor[]) => p[0]!.reduce((s, v, i) => s + Math.sin(v) * (i % 7), 0) + p[1]!.reduce((s, v) => s + v * v * v, 0);
    const grad = (p: Tensor[]) => [Array.from(p[0]!, (v, i) => Math.cos(v) * (i % 7)), Array.from(p[1]!, (v) => 3 * v * v)];
    const report = checkDirectional(f, grad, big);
    expect(report.ok, report.toString()).toBe(true);
    expect(report.directions).toHaveLength(3);
    const wrong = checkDirectional(f, (p: Tensor[]) => [grad(p)[0]!, grad(p)[1]!.map((v) => -v)], big);
    expect(wrong.ok).toBe(false);
  });
});

test('worst is the worst failure, even where a passing coordinate has a larger relative error', () => {
  // f ~ 1000 in float32: at x = -14 the gradient, 2.5e-6, moves f by less than an ulp over any
  // step, so the numeric derivative there is ~0: a relative error of ~100% (with no floor) that is
  // within its error estimate, hence passing. Index 20 is off by 1% and fails.
  const n = 40;
  const x = Float32Array.from({ length: n }, (_, i) => (i === 7 ? -14 : Math.sin(i) * 2));
  const softplus = (z: number) => (z > 0 ? z + Math.log1p(Math.exp(-z)) : Math.log1p(Math.exp(z)));
  const f = (v: Float32Array) => {
    let s = 1000;
    for (let i = 0; i < n; i++) s = Math.fround(s + Math.fround(3 * Math.fround(softplus(v[i]!))));
    return s;
  };
  const grad = (v: Float32Array) => Array.from(v, (t) => 3 / (1 + Math.exp(-t)));
  const options = { floor: 1e-12 };
  const report = gradcheck(f, (v: Float32Array) => grad(v).map((g, i) => (i === 20 ? g * 1.01 : g)), x, options);
  expect(report.failureCount).toBe(1);
  expect(report.maxRelError).toBeGreaterThan(0.5); // index 7's, passing
  expect(report.worst).toMatchObject({ index: 20, kind: 'failure' });
  expect(report.worst).toBe(report.failures[0]);
  expect(report.toString()).toMatch(/worst failures:\n.*\nx\s+\[20\]/);
  const correct = gradcheck(f, grad, x, options);
  expect(correct.ok, correct.toString()).toBe(true);
  expect(correct.worst).toMatchObject({ index: 7, kind: 'ok' }); // no failure: the largest relative error
});

test('a kink near x, not at it, is stepped past and the coordinate checked', () => {
  // relu(x_i - k_i) with each kink 0.01 to 0.03 from x_i: inside the first steps, outside the last.
  const k = [0.5, -1, 2, 0.1], d = [0.01, -0.02, 0.03, -0.015];
  const x = Float32Array.from(k, (v, i) => v + d[i]!);
  const f = (v: Float32Array) => v.reduce((s, t, i) => s + Math.max(0, t - k[i]!) * (i + 1), 0);
  const grad = (v: Float32Array) => Array.from(v, (t, i) => (t > k[i]! ? i + 1 : 0));
  const report = gradcheck(f, grad, x);
  expect(report.ok, report.toString()).toBe(true);
  expect(report.kinks).toEqual([]);
  const wrong = gradcheck(f, (v: Float32Array) => grad(v).map((g, i) => (i === 2 ? g * 1.01 : g)), x);
  expect(wrong.failures.map((c) => c.index)).toEqual([2]);
});

test('f = A - B with A, B ~ 150 |f| in float32: its rounding is measured, not taken from |f|', () => {
  const n = 50;
  const x = Float32Array.from({ length: n }, (_, i) => (i % 5 === 0 ? 0.004 * (i + 1) : Math.sin(i * 1.7) * 1.5));
  const sumOfSquares = (v: Float32Array) => {
    let s = 0;
    for (let i = 0; i < n; i++) s = Math.fround(s + Math.fround(v[i]! * v[i]!));
    return s;
  };
  const offset = sumOfSquares(x) - 0.3;
  const report = gradcheck((v: Float32Array) => Math.fround(sumOfSquares(v) - offset), (v) => Array.from(v, (t) => 2 * t), x);
  expect(report.ok, report.toString()).toBe(true);
});

test('numericalGradient of log-sum-exp is the softmax', () => {
  const x = Float64Array.from(normals(16, 10));
  const numeric = numericalGradient(logSumExp.f, x);
  logSumExp.grad(x).forEach((g, i) => expect(Math.abs(numeric[i]! - g)).toBeLessThan(1e-9));
});

test('a step below the precision of x is a step-size problem, not a wrong gradient', () => {
  const x = Float32Array.from([1, 2, 3]);
  const report = gradcheck(logSumExp.f, () => [5, 5, 5], x, { step: 1e-12 });
  expect(report.failureCount).toBe(0);
  expect(report.stepProblems).toHaveLength(3);
  expect(report.ok).toBe(false);
  expect(report.problems.join()).toMatch(/no coordinate could be checked/);
});

test('throw: true throws an Error that carries the report and its table', () => {
  const x = Float64Array.from([0.5, -1]);
  let error: (Error & { report?: unknown }) | null = null;
  try {
    gradcheck(logSumExp.f, () => [0, 0], x, { throw: true });
  } catch (e) {
    error = e as Error & { report?: unknown };
  }
  expect(error).toBeInstanceOf(Error);
  expect(error!.message).toMatch(/gradcheck FAILED/);
  expect(error!.report).toMatchObject({ ok: false });
});

test('bad arguments are named', () => {
  expect(() => gradcheck(logSumExp.f, logSumExp.grad, [1, 2] as never)).toThrow(/x\[0\] must be a Float32Array/);
  expect(() => gradcheck(logSumExp.f, logSumExp.grad, Float64Array.from([1]), { rtol: -1 })).toThrow(/options.rtol/);
  expect(() => gradcheck(logSumExp.f, logSumExp.grad, Float64Array.from([1]), { tolerance: 1 } as never)).toThrow(/options.tolerance/);
  expect(() => gradcheck(logSumExp.f, () => [1, 2], Float64Array.from([1]))).toThrow(/has length 2/);
  expect(() => gradcheck('f' as never, logSumExp.grad, Float64Array.from([1]))).toThrow(/f must be a function/);
});
