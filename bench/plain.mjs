// The same updates as a hand-written JavaScript optimizer would do them: float64 arithmetic on
// Float32Array elements, no Math.fround. What simd-optim replaces; the speed to beat.
// Each takes [param, grad, ...state] and the 1-based step t.

export const plainLoops = {
  adam([p, g, m, v], t, lr = 1e-3, beta1 = 0.9, beta2 = 0.999, eps = 1e-8, wd = 0) {
    const stepSize = lr / (1 - beta1 ** t);
    const bc2Sqrt = Math.sqrt(1 - beta2 ** t);
    for (let i = 0; i < p.length; i++) {
      const gi = g[i] + wd * p[i];
      const mi = beta1 * m[i] + (1 - beta1) * gi;
      const vi = beta2 * v[i] + (1 - beta2) * gi * gi;
      m[i] = mi;
      v[i] = vi;
      p[i] -= (stepSize * mi) / (Math.sqrt(vi) / bc2Sqrt + eps);
    }
  },
  adamw([p, g, m, v], t, lr = 1e-3, beta1 = 0.9, beta2 = 0.999, eps = 1e-8, wd = 1e-2) {
    const stepSize = lr / (1 - beta1 ** t);
    const bc2Sqrt = Math.sqrt(1 - beta2 ** t);
    const decay = 1 - lr * wd;
    for (let i = 0; i < p.length; i++) {
      const gi = g[i];
      const mi = beta1 * m[i] + (1 - beta1) * gi;
      const vi = beta2 * v[i] + (1 - beta2) * gi * gi;
      m[i] = mi;
      v[i] = vi;
      p[i] = p[i] * decay - (stepSize * mi) / (Math.sqrt(vi) / bc2Sqrt + eps);
    }
  },
  adagrad([p, g, sum], t, lr = 1e-2, lrDecay = 0, eps = 1e-10) {
    const clr = lr / (1 + (t - 1) * lrDecay);
    for (let i = 0; i < p.length; i++) {
      const gi = g[i];
      const s = sum[i] + gi * gi;
      sum[i] = s;
      p[i] -= (clr * gi) / (Math.sqrt(s) + eps);
    }
  },
  rmsprop([p, g, sq], _t, lr = 1e-2, alpha = 0.99, eps = 1e-8) {
    for (let i = 0; i < p.length; i++) {
      const gi = g[i];
      const s = alpha * sq[i] + (1 - alpha) * gi * gi;
      sq[i] = s;
      p[i] -= (lr * gi) / (Math.sqrt(s) + eps);
    }
  },
  sgd([p, g, buf], _t, lr = 0.01, momentum = 0.9) {
    for (let i = 0; i < p.length; i++) {
      const b = momentum * buf[i] + g[i];
      buf[i] = b;
      p[i] -= lr * b;
    }
  },
};
