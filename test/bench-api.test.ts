// simd-optim/bench for a user's own code: runs in rounds with a ceiling for the declared bytes,
// refuses malformed benchmarks naming them, and the CLI's save / compare workflow.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, test } from 'vitest';

import { compareRuns, runBenchmarks, sameTrafficCeiling, type Benchmark } from '../lib/bench/index.js';
import { backend } from '../lib/bridge/backend.js';

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
    if (backend === 'native') expect(() => sameTrafficCeiling(4, 8)).toThrow(/readBytes must be >= writeBytes/);
  });
});

describe.runIf(backend === 'native')('the simd-optim-bench CLI', () => {
  test('--save, then --compare: no regression, exit 0; a file without benchmarks: exit 2 with the reason', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'simd-optim-user-bench-'));
    writeFileSync(path.join(dir, 'mine.mjs'), `const n = 4096, a = new Float32Array(n);
export default [{ name: 'scale', elements: n, readBytes: 4 * n, writeBytes: 4 * n, fn: () => { for (let i = 0; i < n; i++) a[i] *= 0.5; } }];\n`);
    writeFileSync(path.join(dir, 'empty.mjs'), 'export default 42;\n');
    const cli = (...args: string[]) => spawnSync(process.execPath, [path.resolve(__dirname, '../dist/bench/cli.js'), ...args], { cwd: dir, encoding: 'utf8' });
    const saved = cli('mine.mjs', '--save', 'base', '--rounds', '3');
    expect(saved.status, saved.stderr).toBe(0);
    expect(saved.stdout).toMatch(/\| scale \| 4K \| .* ns \| .* ns \| \d+% \|/);
    const compared = cli('mine.mjs', '--compare', 'base', '--rounds', '3', '--threshold', '50%');
    expect(compared.stdout).toContain('No regressions.');
    expect(compared.status).toBe(0);
    const bad = cli('empty.mjs');
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/must export default an array/);
  }, 60_000);
});
