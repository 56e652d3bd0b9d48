/**
 * Runs a list of measurements in rounds: each round takes one sample of every measurement, so a
 * row's samples are spread over the whole run. A disturbance of a few seconds (another process, a
 * clock change) then touches one sample of many rows, where the statistics see it as noise,
 * instead of every sample of one row, where it would look like a change of that row.
 */
import { calibrate, median, sampleOnce, warmUp } from './measure.js';
import type { BenchRow, RowKind } from './types.js';

/** One figure to measure: what it is, and how to set it up. */
export interface Measurement {
  /** Unique key, `table|series|size` by convention. */
  readonly key: string;
  readonly table: string;
  readonly series: string;
  readonly kind: RowKind;
  /** Elements processed per call of the function `prepare` returns. */
  readonly elements: number;
  readonly threads?: number;
  /** The key of the measurement that is this row's same-traffic ceiling, if any. */
  readonly ceilingKey?: string;
  /**
   * Sets the measurement up for one round (arrays, an optimizer...) and returns the call to time.
   * Called once per round, so the arrays of large rows need not all live at once.
   */
  readonly prepare: () => () => unknown;
}

/** How many samples, and how each is taken. */
export interface RoundOptions {
  /** Samples per row. Default 5. */
  readonly rounds?: number;
  /** Batches per sample (the fastest is the sample). Default 3. */
  readonly batches?: number;
  /** Each batch lasts at least this long, in nanoseconds. Default 10 ms. */
  readonly minBatchNs?: number;
  /** Called after each sample: for a progress bar. */
  readonly onSample?: (done: number, total: number, measurement: Measurement) => void;
}

/** Takes `rounds` samples of every measurement, in this process; returns the rows by key. */
export function runRounds(measurements: readonly Measurement[], options: RoundOptions = {}): Record<string, BenchRow> {
  const rounds = options.rounds ?? 5;
  if (!Number.isInteger(rounds) || rounds < 1) throw new RangeError(`rounds must be a whole number >= 1, got ${String(rounds)}`);
  const iterations = new Map<string, number>();
  const samples = new Map<string, number[]>(measurements.map((m) => [m.key, []]));
  const total = rounds * measurements.length;
  let done = 0;
  for (let round = 0; round < rounds; round++) {
    const taken = runRound(measurements, iterations, options, (m) => options.onSample?.(++done, total, m));
    for (const [key, value] of taken) samples.get(key)!.push(value);
  }
  return rowsOf(measurements, samples);
}

/**
 * One sample of every measurement, in order. `iterations` holds the calls per batch of the
 * measurements calibrated before (in this process or another); the others are calibrated here and
 * added to it.
 */
export function runRound(
  measurements: readonly Measurement[], iterations: Map<string, number>, options: Omit<RoundOptions, 'rounds' | 'onSample'>, onSample?: (m: Measurement) => void,
): Map<string, number> {
  const batches = options.batches ?? 3, minBatchNs = options.minBatchNs ?? 10e6;
  if (!Number.isInteger(batches) || batches < 1) throw new RangeError(`batches must be a whole number >= 1, got ${String(batches)}`);
  if (!(minBatchNs > 0 && Number.isFinite(minBatchNs))) throw new RangeError(`minBatchNs must be a number > 0, got ${String(minBatchNs)}`);
  const taken = new Map<string, number>();
  for (const m of measurements) {
    const fn = m.prepare();
    // Every round prepares a row as the first does, calibrating it once warm (calls counted while
    // the code is still being compiled are too few), and later rounds then sample with the first
    // round's calls. A later round that only warmed up caught V8 still compiling: the fallback's
    // 10,000 x 64 step read 11 ns/element in first rounds and 20-59 in the others, and two runs of
    // an unchanged tree differed by +190% there.
    let calls = calibrate(fn, minBatchNs);
    if (calls > 1) warmUp(fn, calls), (calls = calibrate(fn, minBatchNs));
    const first = iterations.get(m.key);
    if (first === undefined) iterations.set(m.key, calls);
    else calls = first;
    // A call that fills a batch alone (16M elements on the fallback: 160 ms) is its own average
    // over a long time, and the compiler's part of it is small: one call is the sample.
    taken.set(m.key, sampleOnce(fn, m.elements, calls, calls === 1 ? 1 : batches));
    onSample?.(m);
  }
  return taken;
}

/** The rows of a run from every measurement's samples, with each row's ceiling beside it. */
export function rowsOf(measurements: readonly Omit<Measurement, 'prepare'>[], samples: ReadonlyMap<string, readonly number[]>): Record<string, BenchRow> {
  const rows: Record<string, BenchRow> = {};
  for (const m of measurements) {
    const row: { -readonly [K in keyof BenchRow]: BenchRow[K] } = { table: m.table, series: m.series, kind: m.kind, elements: m.elements, samples: samples.get(m.key)! };
    if (m.threads !== undefined) row.threads = m.threads;
    const ceiling = m.ceilingKey === undefined ? undefined : samples.get(m.ceilingKey);
    if (ceiling) row.ceilingNs = median(ceiling), row.ceilingSamples = ceiling;
    rows[m.key] = row;
  }
  return rows;
}
