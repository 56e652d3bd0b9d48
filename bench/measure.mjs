// Timing: batches long enough for the clock (>= 20 ms, or one call), several of them, the best.
// The best batch is the one least disturbed by the rest of the machine; medians wander more.
const now = () => process.hrtime.bigint();

/** Nanoseconds per element of fn(), which processes n elements per call: the best of `batches`. */
export function measure(fn, n, { minBatchNs = 20e6, batches = 7 } = {}) {
  fn();
  fn();
  let iterations = 1;
  for (;;) {
    const start = now();
    for (let i = 0; i < iterations; i++) fn();
    const elapsed = Number(now() - start);
    if (elapsed >= minBatchNs || iterations >= 1 << 22) break;
    iterations = Math.min(1 << 22, Math.ceil((iterations * minBatchNs * 1.2) / Math.max(elapsed, 1000)));
  }
  const samples = [];
  for (let b = 0; b < batches; b++) {
    const start = now();
    for (let i = 0; i < iterations; i++) fn();
    samples.push(Number(now() - start) / (iterations * n));
  }
  return Math.min(...samples);
}
