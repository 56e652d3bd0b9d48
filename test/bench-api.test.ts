// simd-optim/bench for a user's own code: runs in rounds with a ceiling for the declared bytes,
// refuses malformed benchmarks naming them, and the CLI's save / compare workflow.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, test } from 'vitest';

import { compareRuns, runBenchmarks, sameTrafficCeiling, type Benchmark } from '../lib/bench/index.js';
import { backend } from '../lib/bridge/backend.js';
import { warmUp } from '../lib/bench/measure.js';
import { runRound } from '../lib/bench/runner.js';

const n = 4096;
const a = new Float32Array(n).fill(1), b = new Float32Array(n).fill(2);
const axpy: Benchmark = { name: 'axpy', elements: n, readBytes: 8 * n, writeBytes: 4 * n, fn: () => { for (let i = 0; i < n; i++) a[i] = a[i]! + 0.5 * b[i]!; } };
const fast = { rounds: 3, batches: 1, minBatchNs: 1e5 };

describe('runBenchmarks', () => {
  test('a row per benchmark, samples per round, and the same-traffic ceiling beside it on the native backend', () => {
    const run = runBenchmarks([axpy, { name: 'no bytes', elements: 10, fn: () => Math.sqrt(2) }], fast);
    expect(run.format).toBe('simd-optim-bench/1');
    expect(run.rows['axpy|yours']!.samples).toHaveLength(3);
    expect(run.rows['no bytes|yours']!.ceilingNs).toBeUndefined();
    if (backend === 'native') {
      expect(run.rows['axpy|ceiling']!.kind).toBe('ceiling');
      expect(run.rows['axpy|yours']!.ceilingNs).toBeGreaterThan(0);
    } else {
      expect(run.rows['axpy|ceiling']).toBeUndefined(); // the ceiling is a native loop
    }
    expect(compareRuns(run, run).regressions).toEqual([]);
  });

  test('malformed benchmarks are refused, naming the entry', () => {
    expect(() => runBenchmarks([{ name: 'x', elements: 1 } as unknown as Benchmark])).toThrow(/benchmarks\[0\]\.fn must be a function/);
    expect(() => runBenchmarks([{ ...axpy, elements: 0 }])).toThrow(/benchmarks\[0\]\.elements must be a whole number >= 1/);
    expect(() => runBenchmarks([axpy, axpy])).toThrow(/two benchmarks are named 'axpy'/);
    expect(() => runBenchmarks([{ ...axpy, readBytes: -1 }])).toThrow(RangeError);
    expect(() => runBenchmarks([{ ...axpy, readBytes: 4, writeBytes: 8 }])).toThrow(/benchmarks\[0\]: readBytes must be >= writeBytes/);
    expect(() => runBenchmarks([{ ...axpy, fn: async () => 1 }])).toThrow(/benchmarks\[0\]\.fn returned a promise/);
    expect(() => runBenchmarks(axpy as unknown as Benchmark[])).toThrow(/benchmarks must be an array/);
    expect(() => sameTrafficCeiling(4, 8)).toThrow(/readBytes must be >= writeBytes/); // on either backend
  });

  test('each benchmark is read once, and all are checked before any function runs', () => {
    let reads = 0, calls = 0;
    const counted = { name: 'counted', fn: () => void calls++, get elements() { return ++reads === 1 ? 16 : -1; } };
    // The second entry is bad: the first entry's function must not have run.
    expect(() => runBenchmarks([counted, { name: 'counted', elements: 1, fn: () => void calls++ }])).toThrow(/two benchmarks are named 'counted'/);
    expect(calls).toBe(0);
    reads = 0;
    const run = runBenchmarks([counted], fast);
    expect(reads).toBe(1); // a second read would give -1
    expect(run.rows['counted|yours']!.elements).toBe(16);
  });
});

describe('warm-up', () => {
  const spin = (ns: number) => {
    const end = process.hrtime.bigint() + BigInt(ns);
    while (process.hrtime.bigint() < end);
  };
  // A call that is slow over its first 300 calls in a setup, as code V8 has not compiled yet.
  const coldStart = { key: 'k', table: 't', series: 's', kind: 'package' as const, elements: 1, prepare: () => {
    let calls = 0;
    return () => spin(++calls <= 300 ? 50_000 : 5_000);
  } };

  test('warmUp runs batches until one is no faster than the fastest before it', () => {
    let calls = 0;
    // Slow, half slow, fast, then fast ones until one is no faster (4 batches on a quiet machine).
    const batches = warmUp(() => spin(++calls <= 150 ? 50_000 : 5_000), 100);
    expect(batches).toBeGreaterThanOrEqual(4);
    expect(batches).toBeLessThan(10);
    expect(calls).toBe(100 * batches);
  });

  test('a row is sampled after its warm-up, not during it', () => {
    // Calibrated in an earlier round's process: 100 calls a batch. With one call of warm-up, all
    // three batches fell in the slow start.
    const taken = runRound([coldStart], new Map([['k', 100]]), { batches: 3 });
    expect(taken.get('k')).toBeLessThan(20_000);
  });

  test("a later round prepares a row as the first did, and samples with the first round's calls", () => {
    // 3 ms a call over its first 12 calls, then 0.3 ms: a step V8 compiles slowly. The first round
    // calibrated it to 2 calls a batch; warming up with 2 batches of those (4 calls) left the
    // sample's 6 calls in the slow start.
    const slowStart = { ...coldStart, prepare: () => {
      let calls = 0;
      return () => spin(++calls <= 12 ? 3e6 : 3e5);
    } };
    const iterations = new Map([['k', 2]]);
    const taken = runRound([slowStart], iterations, { batches: 3 });
    expect(taken.get('k')).toBeLessThan(1e6);
    expect(iterations.get('k')).toBe(2);
  });
});

// Timed while other test files run: the CLI test retries an attempt they disturbed.
describe.runIf(backend === 'native')('the simd-optim-bench CLI', () => {
  test('--save, then --compare: exit 0 unchanged, 1 on a real slowdown, 2 on a bad file or option', { timeout: 60_000, retry: 2 }, () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'simd-optim-user-bench-'));
    // SLOW=1 makes the same benchmark do four times the work: a slowdown the check must find.
    writeFileSync(path.join(dir, 'mine.mjs'), `const n = 4096, a = new Float32Array(n), passes = process.env.SLOW === '1' ? 4 : 1;
export default [{ name: 'scale', elements: n, readBytes: 4 * n, writeBytes: 4 * n, fn: () => { for (let p = 0; p < passes; p++) for (let i = 0; i < n; i++) a[i] *= 0.5; } }];\n`);
    writeFileSync(path.join(dir, 'empty.mjs'), 'export default 42;\n');
    const cli = (args: string[], env: Record<string, string> = {}) =>
      spawnSync(process.execPath, [path.resolve(__dirname, '../dist/bench/cli.js'), ...args], { cwd: dir, encoding: 'utf8', env: { ...process.env, ...env } });
    const saved = cli(['mine.mjs', '--save', 'base', '--rounds', '5']);
    expect(saved.status, saved.stderr).toBe(0);
    expect(saved.stdout).toMatch(/\| scale \| 4K \| .* ns \| .* ns \| \d+% \|/);
    const compared = cli(['mine.mjs', '--compare', 'base', '--rounds', '5', '--threshold', '50%']);
    expect(compared.stdout).toContain('No regressions.');
    expect(compared.status).toBe(0);
    const slower = cli(['mine.mjs', '--compare', 'base', '--rounds', '5', '--threshold', '50%'], { SLOW: '1' });
    expect(slower.stdout).toMatch(/- regression: scale · yours, 4K: \+\d+/);
    expect(slower.status).toBe(1);
    for (const args of [['mine.mjs', '--compre', 'base'], ['mine.mjs', '--threshold', '10'], ['mine.mjs', '--rounds', '3']]) {
      const refused = cli(args);
      expect(refused.status, args.join(' ')).toBe(2);
    }
    const bad = cli(['empty.mjs']);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/must export default an array/);
  });

  test('what a run calls slower is measured again before it counts, and only those rows', { timeout: 90_000, retry: 2 }, () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'simd-optim-user-bench-'));
    // Each round's process counts itself in rounds.txt. SLOW_ONCE makes 'scale' four times slower
    // in the first five (the run itself: a slow stretch of the machine), SLOW in all of them (a
    // real slowdown). 'sum' notes every round that measures it (its 100th call: the checks of
    // a benchmark file call each function once in every process).
    writeFileSync(path.join(dir, 'mine.mjs'), `import { appendFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
const n = 4096, a = new Float32Array(n);
let passes = 1, round = 0, sums = 0;
if (process.env.SIMD_OPTIM_BENCH_ROUND === '1') {
  round = existsSync('rounds.txt') ? Number(readFileSync('rounds.txt', 'utf8')) + 1 : 1;
  writeFileSync('rounds.txt', String(round));
  if (process.env.SLOW === '1' || (process.env.SLOW_ONCE === '1' && round <= 5)) passes = 4;
}
export default [
  { name: 'scale', elements: n, fn: () => { for (let p = 0; p < passes; p++) for (let i = 0; i < n; i++) a[i] = a[i] * 0.5 + 0.5; } },
  { name: 'sum', elements: n, fn: () => { if (++sums === 100 && round > 0) appendFileSync('sum.txt', round + '\\n'); let s = 0; for (let i = 0; i < n; i++) s += a[i]; return s; } },
];\n`);
    const cli = (args: string[], env: Record<string, string> = {}) => {
      rmSync(path.join(dir, 'rounds.txt'), { force: true });
      rmSync(path.join(dir, 'sum.txt'), { force: true });
      return spawnSync(process.execPath, [path.resolve(__dirname, '../dist/bench/cli.js'), 'mine.mjs', ...args], { cwd: dir, encoding: 'utf8', env: { ...process.env, ...env } });
    };
    expect(cli(['--save', 'base', '--rounds', '5']).status).toBe(0);
    const stretch = cli(['--compare', 'base', '--rounds', '5', '--threshold', '50%'], { SLOW_ONCE: '1' });
    expect(stretch.stdout).toMatch(/scale · yours \| 4K .*\*\*slower\*\*; not again/);
    expect(stretch.stdout).toContain('No regressions.');
    expect(stretch.status, stretch.stdout).toBe(0);
    expect(readFileSync(path.join(dir, 'rounds.txt'), 'utf8')).toBe('10'); // 5 rounds, then 5 of the recheck
    expect(readFileSync(path.join(dir, 'sum.txt'), 'utf8').trim().split('\n')).toEqual(['1', '2', '3', '4', '5']);
    const real = cli(['--compare', 'base', '--rounds', '5', '--threshold', '50%'], { SLOW: '1' });
    expect(real.stdout).toMatch(/\*\*slower\*\*, and again/);
    expect(real.stdout).toMatch(/- regression: scale · yours, 4K/);
    expect(real.status).toBe(1);
  });

  test('each round is taken by a process of its own', { timeout: 60_000 }, () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'simd-optim-user-bench-'));
    // The file notes the process that loads it: the CLI itself, then one process per round.
    writeFileSync(path.join(dir, 'pids.mjs'), `import { appendFileSync } from 'node:fs';
appendFileSync('pids.txt', process.pid + '\\n');
export default [{ name: 'sqrt', elements: 1, fn: () => Math.sqrt(2) }];\n`);
    const run = spawnSync(process.execPath, [path.resolve(__dirname, '../dist/bench/cli.js'), 'pids.mjs', '--rounds', '4'], { cwd: dir, encoding: 'utf8' });
    expect(run.status, run.stderr).toBe(0);
    const pids = readFileSync(path.join(dir, 'pids.txt'), 'utf8').trim().split('\n');
    expect(pids).toHaveLength(5);
    expect(new Set(pids).size).toBe(5);
  });
});
