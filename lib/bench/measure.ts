/**
 * Timing: a sample is the best of a few batches, each long enough for the clock. The best batch is
 * the one least disturbed by the rest of the machine; the spread between samples, taken at
 * different times, is what the comparison's statistics see.
 */

/** How one sample is taken. */
export interface SampleOptions {
  /** Batches per sample; the sample is the fastest. Default 3. */
  readonly batches?: number;
  /** Each batch repeats the call until it lasts this long, in nanoseconds. Default 10 ms. */
  readonly minBatchNs?: number;
}

const now = (): bigint => process.hrtime.bigint();

/** Calls per batch so that a batch lasts about minBatchNs (at least one call). */
export function calibrate(fn: () => unknown, minBatchNs = 10e6): number {
  fn();
  fn();
  let iterations = 1;
  for (;;) {
    const start = now();
    for (let i = 0; i < iterations; i++) fn();
    const elapsed = Number(now() - start);
    if (elapsed >= minBatchNs || iterations >= 1 << 22) return iterations;
    iterations = Math.min(1 << 22, Math.ceil((iterations * minBatchNs * 1.2) / Math.max(elapsed, 1000)));
  }
}

/**
 * Runs batches of fn until it stops getting faster: until a batch is no more than 3% faster than
 * the fastest before it, after at least two batches and at most `maxBatches`. Returns the batches
 * run.
 *
 * Why not one call: V8 compiles a function in tiers as it is called (interpreter, baseline,
 * optimized), and a 1K-element step took 6.6 ns/element over its first thousand calls in a new
 * process, 0.9 after ten thousand. Taken before that, a sample measures the compiler, and how far
 * it got depends on what ran before in the process and on the calls per batch: the same row,
 * unchanged, read 0.6 ns/element in one run and 1.5-2.9 in another.
 */
export function warmUp(fn: () => unknown, iterations: number, maxBatches = 10): number {
  let best = Infinity;
  for (let b = 1; b <= maxBatches; b++) {
    const start = now();
    for (let i = 0; i < iterations; i++) fn();
    const elapsed = Number(now() - start);
    if (b >= 2 && elapsed >= 0.97 * best) return b;
    best = Math.min(best, elapsed);
  }
  return maxBatches;
}

/**
 * One sample of fn, which processes `elements` per call: nanoseconds per element of the fastest of
 * `batches` batches of `iterations` calls (see calibrate).
 */
export function sampleOnce(fn: () => unknown, elements: number, iterations: number, batches = 3): number {
  let best = Infinity;
  for (let b = 0; b < batches; b++) {
    const start = now();
    for (let i = 0; i < iterations; i++) fn();
    best = Math.min(best, Number(now() - start) / (iterations * elements));
  }
  return best;
}

/** `count` samples of fn taken one after another, ns per element (see sampleOnce). */
export function sample(fn: () => unknown, elements: number, count: number, options: SampleOptions = {}): number[] {
  const iterations = calibrate(fn, options.minBatchNs);
  return Array.from({ length: count }, () => sampleOnce(fn, elements, iterations, options.batches));
}

/** The median of a list of numbers (NaN for an empty one). */
export function median(values: readonly number[]): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}
