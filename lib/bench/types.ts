/**
 * The shapes of a benchmark run and of a comparison of two runs: what `npm run bench` and the
 * `simd-optim/bench` API save, load, compare and chart.
 */

/** What identifies the machine a run was measured on: runs compare well only on the same one. */
export interface Fingerprint {
  /** The CPU's model name (from /proc/cpuinfo or os.cpus()). */
  readonly cpu: string;
  /** os.availableParallelism(). */
  readonly cores: number;
  /** The ISA levels the CPU runs natively, best first (whatever SIMD_OPTIM_ISA caps). */
  readonly isa: readonly string[];
  /** process.version. */
  readonly node: string;
  /** process.platform-process.arch. */
  readonly platform: string;
  /** Cache sizes by level, as the OS reports them ("L1d": "48K", "L2": "2048K", ...); empty where unknown. */
  readonly caches: Readonly<Record<string, string>>;
}

/** Who a row measures: this package, the same-traffic ceiling, or another library (a peer). */
export type RowKind = 'package' | 'ceiling' | 'peer';

/** One figure of a run: a configuration at one size, with every sample taken. */
export interface BenchRow {
  /** The table it belongs to: an optimizer ('Adam'), 'gradients', 'threads', or a user's name. */
  readonly table: string;
  /**
   * The line within the table: 'default' (the configuration `import 'simd-optim'` runs with),
   * 'native avx512', 'native avx512 · 2 threads', 'js fallback', 'plain JS loop', 'ceiling',
   * 'tfjs cpu', 'tfjs wasm', 'torch', ...
   */
  readonly series: string;
  readonly kind: RowKind;
  /** Elements processed per call. */
  readonly elements: number;
  /** Threads used, where the row sets them. */
  readonly threads?: number;
  /** Nanoseconds per element, one per sample (each the best of a few batches), in the order taken. */
  readonly samples: readonly number[];
  /** The median of the same-traffic ceiling's samples for this row, ns per element, where it has one. */
  readonly ceilingNs?: number;
  /** The ceiling's samples, one per sample of this row, taken in the same round just before it. */
  readonly ceilingSamples?: readonly number[];
}

/** A whole run: every row, keyed `table|series|size`, and the machine it ran on. */
export interface BenchRun {
  readonly format: 'simd-optim-bench/1';
  readonly fingerprint: Fingerprint;
  /** ISO date of the run. */
  readonly date: string;
  /** The environment variables that change what the package runs (SIMD_OPTIM_*), as they were. */
  readonly env: Readonly<Record<string, string>>;
  readonly rows: Readonly<Record<string, BenchRow>>;
}

/** What a comparison concluded about one row. */
export type Verdict = 'faster' | 'slower' | 'no significant change';

/** One row of a comparison of a run with a baseline. */
export interface RowComparison {
  readonly key: string;
  readonly table: string;
  readonly series: string;
  readonly kind: RowKind;
  readonly elements: number;
  /** Medians of the samples, ns per element. */
  readonly baselineNs: number;
  readonly currentNs: number;
  /**
   * The change in time, current over baseline minus 1 (+0.25: 25% slower), estimated by
   * Hodges-Lehmann on the logarithms of the samples, with its confidence interval.
   */
  readonly change: number;
  readonly low: number;
  readonly high: number;
  /** Two-sided p-value of the Mann-Whitney U test of the two sample sets. */
  readonly p: number;
  readonly verdict: Verdict;
  /**
   * For a package row called slower, the same judgment of new samples taken in new processes after
   * the run (see withRecheck): it stays a regression only if they call it slower too.
   */
  readonly recheck?: Judgment;
  /**
   * For a row slower again in the recheck, its same-traffic ceiling measured in the same processes,
   * against the baseline's: slower too, and the row is the machine, not a regression.
   */
  readonly recheckCeiling?: Judgment;
}

/** A change judged from two sets of samples. */
export interface Judgment {
  readonly change: number;
  readonly low: number;
  readonly high: number;
  readonly p: number;
  readonly verdict: Verdict;
}

/** A comparison of a run with a baseline. */
export interface Comparison {
  readonly rows: readonly RowComparison[];
  /** Rows of the baseline this run did not measure, and rows it measured that the baseline lacks. */
  readonly missing: readonly string[];
  readonly added: readonly string[];
  /** What differs between the two fingerprints ("cpu: X → Y"); empty when they match. */
  readonly machineDifferences: readonly string[];
  /** The slowdown beyond which a significant change counts as a regression (0.1: 10%). */
  readonly threshold: number;
  /** Significance level of the test and 1 - coverage of the intervals (0.05). */
  readonly alpha: number;
  /**
   * The package's rows that are significantly slower by more than the threshold (and, once
   * rechecked, slower again in the recheck).
   */
  readonly regressions: readonly RowComparison[];
  /** Rows with too few samples on a side ever to be significant at alpha (fewer than 4 and 4 at 0.05). */
  readonly tooFewSamples: readonly string[];
}
