/**
 * The statistics of a comparison, distribution-free because timings are not normal (skewed, with
 * outliers from the rest of the machine):
 * - the Mann-Whitney U test (Wilcoxon rank-sum) of two sample sets, two-sided, as Google
 *   Benchmark's compare.py runs it: exact when a set has at most 8 values and there are no ties,
 *   otherwise the normal approximation with the tie and continuity corrections (the choice of
 *   scipy.stats.mannwhitneyu's 'auto');
 * - the Hodges-Lehmann estimate of the shift between them, with the confidence interval that
 *   inverts the same test (the median and the order statistics of all pairwise differences): R's
 *   wilcox.test(conf.int = TRUE) for the exact case; for larger sets the order statistic comes
 *   from the normal approximation of U's quantile, never narrower than the exact interval.
 *   Applied to logarithms, the shift is a ratio of times.
 */

/** Ranks of `values` (1-based, ties given their mean rank), and the tie correction sum of t^3 - t. */
function rank(values: readonly number[]): { ranks: number[]; ties: number } {
  const order = values.map((v, i) => [v, i] as const).sort((a, b) => a[0] - b[0]);
  const ranks = new Array<number>(values.length);
  let ties = 0;
  for (let i = 0; i < order.length; ) {
    let j = i;
    while (j + 1 < order.length && order[j + 1]![0] === order[i]![0]) j++;
    const mean = (i + j + 2) / 2;
    for (let k = i; k <= j; k++) ranks[order[k]![1]] = mean;
    const t = j - i + 1;
    ties += t * t * t - t;
    i = j + 1;
  }
  return { ranks, ties };
}

/** Counts of each U from 0 to m*n over all arrangements of m and n untied values (their sum: C(m+n, m)). */
function uCounts(m: number, n: number): number[] {
  // f[i][j][u]: arrangements of i and j values with statistic u; f(i,j) = f(i-1,j) shifted by j, plus f(i,j-1).
  let previous: number[][] = Array.from({ length: n + 1 }, () => [1]);
  for (let i = 1; i <= m; i++) {
    const current: number[][] = [[1]];
    for (let j = 1; j <= n; j++) {
      const counts = new Array<number>(i * j + 1).fill(0);
      const withI = previous[j]!, withJ = current[j - 1]!;
      for (let u = 0; u < withI.length; u++) counts[u + j]! += withI[u]!;
      for (let u = 0; u < withJ.length; u++) counts[u]! += withJ[u]!;
      current.push(counts);
    }
    previous = current;
  }
  return previous[n]!;
}

/** The exact distribution is used when a set has at most this many values and none are tied (scipy's 'auto'). */
const EXACT_LIMIT = 8;

/** P(U <= u) under the null hypothesis, exactly (no ties). */
function exactCdf(counts: readonly number[], u: number): number {
  let total = 0, below = 0;
  for (let k = 0; k < counts.length; k++) {
    total += counts[k]!;
    if (k <= u) below += counts[k]!;
  }
  return below / total;
}

/** The complementary error function (Numerical Recipes' Chebyshev fit, relative error < 1.2e-7). */
function erfc(x: number): number {
  const z = Math.abs(x), t = 1 / (1 + z / 2);
  const r = t * Math.exp(-z * z - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806 +
    t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))));
  return x >= 0 ? r : 2 - r;
}

/** The standard normal quantile (Acklam's rational approximation, relative error < 1.2e-9). */
export function normalQuantile(p: number): number {
  const a = [-39.69683028665376, 220.9460984245205, -275.9285104469687, 138.357751867269, -30.66479806614716, 2.506628277459239];
  const b = [-54.47609879822406, 161.5858368580409, -155.6989798598866, 66.80131188771972, -13.28068155288572];
  const c = [-0.007784894002430293, -0.3223964580411365, -2.400758277161838, -2.549732539343734, 4.374664141464968, 2.938163982698783];
  const d = [0.007784695709041462, 0.3224671290700398, 2.445134137142996, 3.754408661907416];
  const poly = (k: readonly number[], x: number) => k.reduce((s, v) => s * x + v, 0);
  if (p < 0.02425) {
    const q = Math.sqrt(-2 * Math.log(p));
    return poly(c, q) / (poly(d, q) * q + 1);
  }
  if (p > 1 - 0.02425) return -normalQuantile(1 - p);
  const q = p - 0.5, r = q * q;
  return (poly(a, r) * q) / (poly(b, r) * r + 1);
}

/** The outcome of a two-sample comparison. */
export interface ShiftTest {
  /** Two-sided p-value of the Mann-Whitney U test. */
  readonly p: number;
  /** Hodges-Lehmann estimate of the shift of `b` from `a` (median of b_j - a_i), and its interval. */
  readonly shift: number;
  readonly low: number;
  readonly high: number;
}

/** The smallest two-sided p-value sets of m and n values can give (all of one below all of the other). */
export function smallestP(m: number, n: number): number {
  let arrangements = 1; // C(m + n, m)
  for (let k = 1; k <= Math.min(m, n); k++) arrangements = (arrangements * (Math.max(m, n) + k)) / k;
  return Math.min(1, 2 / arrangements);
}

/**
 * Tests whether `b` is shifted from `a`, and estimates by how much, with a 1 - alpha confidence
 * interval. Needs at least one value in each set.
 */
export function shiftTest(a: readonly number[], b: readonly number[], alpha = 0.05): ShiftTest {
  const m = a.length, n = b.length;
  if (m === 0 || n === 0) throw new RangeError('shiftTest needs at least one sample in each set');
  if (![...a, ...b].every(Number.isFinite)) throw new RangeError('shiftTest needs finite samples');
  const { ranks, ties } = rank([...a, ...b]);
  let rankSumA = 0;
  for (let i = 0; i < m; i++) rankSumA += ranks[i]!;
  const uA = rankSumA - (m * (m + 1)) / 2, mean = (m * n) / 2;
  const exact = ties === 0 && Math.min(m, n) <= EXACT_LIMIT;
  const counts = exact ? uCounts(m, n) : null;
  let p: number;
  if (counts) {
    const u = Math.min(uA, m * n - uA);
    p = Math.min(1, 2 * exactCdf(counts, u));
  } else {
    const variance = ((m * n) / 12) * (m + n + 1 - ties / ((m + n) * (m + n - 1) || 1));
    const z = variance > 0 ? Math.max(0, Math.abs(uA - mean) - 0.5) / Math.sqrt(variance) : 0;
    p = variance > 0 ? Math.min(1, erfc(z / Math.SQRT2)) : 1;
  }

  const differences: number[] = [];
  for (const y of b) for (const x of a) differences.push(y - x);
  differences.sort((x, y) => x - y);
  const total = differences.length;
  // The interval's ends are the q-th smallest and largest differences (1-based), q the alpha/2
  // quantile of U (R: qwilcox(alpha / 2, m, n), at least 1).
  let q: number;
  if (counts) {
    q = 0;
    while (q < counts.length - 1 && exactCdf(counts, q) < alpha / 2) q++;
  } else {
    q = Math.round(mean - normalQuantile(1 - alpha / 2) * Math.sqrt((m * n * (m + n + 1)) / 12));
  }
  const k = Math.min(Math.max(q, 1), Math.ceil(total / 2)) - 1;
  const middle = total >> 1;
  const shift = total % 2 === 1 ? differences[middle]! : (differences[middle - 1]! + differences[middle]!) / 2;
  return { p, shift, low: differences[k]!, high: differences[total - 1 - k]! };
}
