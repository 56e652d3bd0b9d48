/**
 * `simd-optim/bench`: the package's benchmark machinery for a user's own code (a training step, a
 * custom kernel). Samples taken in rounds, ns per element beside the same-traffic ceiling of the
 * bytes declared, runs saved with the machine's fingerprint and compared with a Mann-Whitney U
 * test, SVG charts (with vega and vega-lite installed). The CLI `simd-optim-bench FILE` runs a
 * file's benchmarks with the same --save / --compare workflow as `npm run bench`.
 * @packageDocumentation
 */
import { nativeAddon } from '../bridge/backend.js';
import { KernelId, ReduceId } from '../bridge/kernels.js';
import { fingerprint } from './fingerprint.js';
import { runRounds, type Measurement, type RoundOptions } from './runner.js';
import type { BenchRun } from './types.js';

export type { BenchRow, BenchRun, Comparison, Fingerprint, Judgment, RowComparison, RowKind, Verdict } from './types.js';
export type { Measurement, RoundOptions } from './runner.js';
export type { ShiftTest } from './stats.js';
export type { SampleOptions } from './measure.js';
export type { ChartOptions } from './chart.js';
export type { CompareOptions } from './compare.js';
export { compareRuns, formatComparison, sizeLabel, suspects, withRecheck } from './compare.js';
export { fingerprint, fingerprintDifferences } from './fingerprint.js';
export { median, sample } from './measure.js';
export { shiftTest } from './stats.js';
export { loadRun, runPath, saveRun } from './store.js';
export { comparisonChart, runChart } from './chart.js';

/** One of a user's benchmarks. */
export interface Benchmark {
  /** Its name: the row's table in reports and charts. */
  readonly name: string;
  /** The call to time; called many times per sample. */
  readonly fn: () => unknown;
  /** Elements one call processes: times are reported per element. */
  readonly elements: number;
  /**
   * Bytes one call reads and writes (an in-place update of n floats reads and writes 4n). With
   * them, a same-traffic ceiling row is measured beside: a native loop that moves those bytes,
   * the most a memory-bound call can reach. Needs the native addon.
   */
  readonly readBytes?: number;
  readonly writeBytes?: number;
}


/**
 * A call that moves `readBytes` and `writeBytes` as a memory-bound loop does: a read-write pass
 * over `writeBytes` and a read pass over the rest. Null without the native addon.
 */
export function sameTrafficCeiling(readBytes: number, writeBytes: number): (() => void) | null {
  if (!(Number.isFinite(readBytes) && Number.isFinite(writeBytes) && writeBytes >= 0) || writeBytes > readBytes) {
    throw new RangeError(`readBytes must be >= writeBytes >= 0 (a write reads its bytes too), got ${readBytes} and ${writeBytes}`);
  }
  if (!nativeAddon) return null;
  const addon = nativeAddon;
  const written = [new Float32Array(Math.ceil(writeBytes / 4)), null, null, null, null]; // the traffic kernel's five slots
  const readOnly = [new Float32Array(Math.ceil((readBytes - writeBytes) / 4))];
  const scalars = new Float32Array([0]), flags = new Uint32Array([1 | (1 << 8)]);
  return () => {
    if (written[0]!.length > 0) addon.step(KernelId.Traffic, written, scalars, flags, 1, 1);
    if (readOnly[0]!.length > 0) addon.reduce(ReduceId.ReadPass, readOnly, 1, 1);
  };
}

/** One benchmark as read once: every field read a single time, then checked (a getter runs once). */
interface BenchmarkSnapshot {
  readonly name: string;
  readonly fn: () => unknown;
  readonly elements: number;
  readonly readBytes: number | undefined;
  readonly writeBytes: number | undefined;
}

function snapshot(b: unknown, index: number): BenchmarkSnapshot {
  const where = `benchmarks[${index}]`;
  if (typeof b !== 'object' || b === null) throw new TypeError(`${where} must be an object { name, fn, elements }`);
  const given = b as Record<string, unknown>;
  const s = { name: given['name'], fn: given['fn'], elements: given['elements'], readBytes: given['readBytes'], writeBytes: given['writeBytes'] };
  if (typeof s.name !== 'string' || s.name === '') throw new TypeError(`${where}.name must be a non-empty string`);
  if (typeof s.fn !== 'function') throw new TypeError(`${where}.fn must be a function`);
  if (typeof s.elements !== 'number' || !Number.isInteger(s.elements) || s.elements < 1) {
    throw new RangeError(`${where}.elements must be a whole number >= 1, got ${String(s.elements)}`);
  }
  for (const key of ['readBytes', 'writeBytes'] as const) {
    const v = s[key];
    if (v !== undefined && !(typeof v === 'number' && Number.isFinite(v) && v >= 0)) throw new RangeError(`${where}.${key} must be a number >= 0`);
  }
  const readBytes = s.readBytes as number | undefined, writeBytes = s.writeBytes as number | undefined;
  if ((writeBytes ?? 0) > (readBytes ?? writeBytes ?? 0)) {
    throw new RangeError(`${where}: readBytes must be >= writeBytes (a write reads its bytes too)`);
  }
  return { name: s.name, fn: s.fn as () => unknown, elements: s.elements, readBytes, writeBytes };
}

/**
 * Measures each benchmark in rounds (every benchmark once per round, `rounds` samples each, 7 by
 * default) with, where it declares its bytes, the same-traffic ceiling beside it, in this process.
 * Returns the run, to print, save (saveRun), compare (compareRuns) or chart (runChart). The CLI
 * `simd-optim-bench FILE` takes each round in a new process instead, which makes its intervals
 * honest about what differs from one process to the next (see the README).
 */
export function runBenchmarks(benchmarks: readonly Benchmark[], options: RoundOptions = {}): BenchRun {
  return runOf(runRounds(benchmarkMeasurements(benchmarks), { ...options, rounds: options.rounds ?? 7 }));
}

/** The measurements of a user's benchmarks, each read once and checked, with their ceilings. @internal */
export function benchmarkMeasurements(benchmarks: readonly Benchmark[]): Measurement[] {
  if (!Array.isArray(benchmarks)) throw new TypeError('benchmarks must be an array of { name, fn, elements }');
  const list = Array.from(benchmarks as readonly unknown[], snapshot);
  const names = new Set<string>();
  for (const b of list) {
    if (names.has(b.name)) throw new RangeError(`two benchmarks are named '${b.name}'`);
    names.add(b.name);
  }
  list.forEach((b, index) => {
    const result: unknown = b.fn();
    if (typeof (result as { then?: unknown } | null)?.then === 'function') {
      Promise.resolve(result).catch(() => {}); // its rejection, if any, is not this call's to report
      throw new TypeError(`benchmarks[${index}].fn returned a promise: time synchronous work (an async step would be timed to its first await)`);
    }
  });
  const measurements: Measurement[] = [];
  for (const b of list) {
    const bytes = b.readBytes !== undefined || b.writeBytes !== undefined;
    const ceiling = bytes ? sameTrafficCeiling(b.readBytes ?? b.writeBytes ?? 0, b.writeBytes ?? 0) : null;
    const ceilingKey = `${b.name}|ceiling`;
    if (ceiling) measurements.push({ key: ceilingKey, table: b.name, series: 'ceiling', kind: 'ceiling', elements: b.elements, prepare: () => ceiling });
    measurements.push({ key: `${b.name}|yours`, table: b.name, series: 'yours', kind: 'package', elements: b.elements, prepare: () => b.fn, ...(ceiling ? { ceilingKey } : {}) });
  }
  return measurements;
}

/** A run of these rows, on this machine, now. @internal */
export function runOf(rows: BenchRun['rows']): BenchRun {
  const env = Object.fromEntries(Object.entries(process.env).filter((e): e is [string, string] => e[0].startsWith('SIMD_OPTIM_') && e[1] !== undefined));
  return { format: 'simd-optim-bench/1', fingerprint: fingerprint(), date: new Date().toISOString(), env, rows };
}
