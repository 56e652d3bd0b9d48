// The same updates as a hand-written JavaScript optimizer would do them: float64 arithmetic on
// Float32Array elements, no Math.fround. What simd-optim replaces; the speed to beat.
// Each takes [param, grad, ...state] and the 1-based step t.

/** The plain SWATS loop's running estimate λ, per parameter array. */
const swatsEstimates = new WeakMap();

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
  adamAmsgrad([p, g, m, v, vmax], t, lr = 1e-3, beta1 = 0.9, beta2 = 0.999, eps = 1e-8) {
    const stepSize = lr / (1 - beta1 ** t);
    const bc2Sqrt = Math.sqrt(1 - beta2 ** t);
    for (let i = 0; i < p.length; i++) {
      const gi = g[i];
      const mi = beta1 * m[i] + (1 - beta1) * gi;
      const vi = beta2 * v[i] + (1 - beta2) * gi * gi;
      const vh = Math.max(vmax[i], vi);
      m[i] = mi;
      v[i] = vi;
      vmax[i] = vh;
      p[i] -= (stepSize * mi) / (Math.sqrt(vh) / bc2Sqrt + eps);
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
  // SWATS before its switch as a hand-written loop does it: AdamW's update with the projection's
  // sums (u.u and u.g) taken in the same pass, and the estimate and switch test after it.
  swatsAdamPhase([p, g, m, v], t, lr = 1e-3, beta1 = 0.9, beta2 = 0.999, eps = 1e-9, wd = 0) {
    const stepSize = lr / (1 - beta1 ** t);
    const bc2Sqrt = Math.sqrt(1 - beta2 ** t);
    const decay = 1 - lr * wd;
    let uu = 0, ug = 0;
    for (let i = 0; i < p.length; i++) {
      const gi = g[i];
      const mi = beta1 * m[i] + (1 - beta1) * gi;
      const vi = beta2 * v[i] + (1 - beta2) * gi * gi;
      m[i] = mi;
      v[i] = vi;
      const u = -(stepSize * mi) / (Math.sqrt(vi) / bc2Sqrt + eps);
      p[i] = p[i] * decay + u;
      uu += u * u;
      ug += u * gi;
    }
    const gamma = uu / -ug;
    const lambda = beta2 * (swatsEstimates.get(p) ?? 0) + (1 - beta2) * gamma;
    swatsEstimates.set(p, lambda);
    return Math.abs(lambda / (1 - beta2 ** t) - gamma) < 0; // switchEps 0, as the bench's SWATS row
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
  rmspropCentered([p, g, sq, ga, buf], _t, lr = 1e-2, alpha = 0.99, eps = 1e-8, momentum = 0.9) {
    for (let i = 0; i < p.length; i++) {
      const gi = g[i];
      const s = alpha * sq[i] + (1 - alpha) * gi * gi;
      const a = alpha * ga[i] + (1 - alpha) * gi;
      sq[i] = s;
      ga[i] = a;
      const b = momentum * buf[i] + gi / (Math.sqrt(s - a * a) + eps);
      buf[i] = b;
      p[i] -= lr * b;
    }
  },
  adadelta([p, g, sq, acc], _t, lr = 1, rho = 0.9, eps = 1e-6) {
    for (let i = 0; i < p.length; i++) {
      const gi = g[i];
      const s = rho * sq[i] + (1 - rho) * gi * gi;
      const delta = (Math.sqrt(acc[i] + eps) / Math.sqrt(s + eps)) * gi;
      sq[i] = s;
      acc[i] = rho * acc[i] + (1 - rho) * delta * delta;
      p[i] -= lr * delta;
    }
  },
  adamax([p, g, m, u], t, lr = 2e-3, beta1 = 0.9, beta2 = 0.999, eps = 1e-8) {
    const clr = lr / (1 - beta1 ** t);
    for (let i = 0; i < p.length; i++) {
      const gi = g[i];
      const mi = beta1 * m[i] + (1 - beta1) * gi;
      const ui = Math.max(beta2 * u[i], Math.abs(gi) + eps);
      m[i] = mi;
      u[i] = ui;
      p[i] -= (clr * mi) / ui;
    }
  },
  nadam([p, g, m, v], t, lr = 2e-3, beta1 = 0.9, beta2 = 0.999, eps = 1e-8, psi = 4e-3) {
    const mu = beta1 * (1 - 0.5 * 0.96 ** (t * psi));
    const muNext = beta1 * (1 - 0.5 * 0.96 ** ((t + 1) * psi));
    const muProduct = mu ** t; // close enough for timing
    const c1 = (lr * (1 - mu)) / (1 - muProduct), c2 = (lr * muNext) / (1 - muProduct * muNext);
    const bc2 = 1 - beta2 ** t;
    for (let i = 0; i < p.length; i++) {
      const gi = g[i];
      const mi = beta1 * m[i] + (1 - beta1) * gi;
      const vi = beta2 * v[i] + (1 - beta2) * gi * gi;
      m[i] = mi;
      v[i] = vi;
      const d = Math.sqrt(vi / bc2) + eps;
      p[i] -= (c1 * gi) / d + (c2 * mi) / d;
    }
  },
  radam([p, g, m, v], t, lr = 1e-3, beta1 = 0.9, beta2 = 0.999, eps = 1e-8) {
    const bc1 = 1 - beta1 ** t, bc2 = 1 - beta2 ** t;
    const rhoInf = 2 / (1 - beta2) - 1, rhoT = rhoInf - (2 * t * beta2 ** t) / bc2;
    const rect = rhoT > 5 ? Math.sqrt(((rhoT - 4) * (rhoT - 2) * rhoInf) / ((rhoInf - 4) * (rhoInf - 2) * rhoT)) : 0;
    for (let i = 0; i < p.length; i++) {
      const gi = g[i];
      const mi = beta1 * m[i] + (1 - beta1) * gi;
      const vi = beta2 * v[i] + (1 - beta2) * gi * gi;
      m[i] = mi;
      v[i] = vi;
      p[i] -= rhoT > 5 ? ((lr * mi) / bc1) * (Math.sqrt(bc2) / (Math.sqrt(vi) + eps)) * rect : (lr * mi) / bc1;
    }
  },
  lion([p, g, m], _t, lr = 1e-4, beta1 = 0.9, beta2 = 0.99) {
    for (let i = 0; i < p.length; i++) {
      const gi = g[i];
      const c = beta1 * m[i] + (1 - beta1) * gi;
      p[i] -= lr * Math.sign(c);
      m[i] = beta2 * m[i] + (1 - beta2) * gi;
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

/** The gradient utilities as hand-written JavaScript. */
export const plainGradients = {
  l2Norm(grads) {
    let sum = 0;
    for (const g of grads) for (let i = 0; i < g.length; i++) sum += g[i] * g[i];
    return Math.sqrt(sum);
  },
  allFinite(grads) {
    for (const g of grads) for (let i = 0; i < g.length; i++) if (!Number.isFinite(g[i])) return false;
    return true;
  },
};
