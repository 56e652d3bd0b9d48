// Bench charts: a run and a comparison render to SVG headless, show every name they are given, draw
// the ceiling dashed and the verdicts in their colours, and render the same input to the same bytes.
import { describe, expect, test } from 'vitest';

import { comparisonChart, runChart } from '../lib/bench/chart.js';
import { sizeLabel } from '../lib/bench/compare.js';
import type { BenchRow, BenchRun, Comparison, RowComparison, RowKind, Verdict } from '../lib/bench/types.js';

const SIZES = [1024, 65536, 1048576];

function row(table: string, series: string, kind: RowKind, elements: number, ns: number): BenchRow {
  // A few samples around ns, the median exactly ns.
  return { table, series, kind, elements, samples: [ns * 1.02, ns, ns * 0.99, ns * 1.1, ns * 0.97] };
}

function makeRun(tables: readonly string[], sizes: readonly number[]): BenchRun {
  const rows: Record<string, BenchRow> = {};
  const add = (r: BenchRow): void => {
    rows[`${r.table}|${r.series}|${r.elements}`] = r;
  };
  for (const table of tables) {
    for (const elements of sizes) {
      // Time per element grows past the caches, as on a real machine.
      const cache = elements > 65536 ? 2 : 1;
      add(row(table, 'default', 'package', elements, 0.3 * cache));
      add(row(table, 'native avx2', 'package', elements, 0.4 * cache));
      add(row(table, 'ceiling', 'ceiling', elements, 0.2 * cache));
      add(row(table, 'tfjs cpu', 'peer', elements, 3 * cache));
    }
  }
  return {
    format: 'simd-optim-bench/1',
    fingerprint: { cpu: 'Test CPU', cores: 8, isa: ['avx2', 'sse2'], node: 'v20.0.0', platform: 'linux-x64', caches: {} },
    date: '2025-01-01T00:00:00.000Z',
    env: {},
    rows,
  };
}

function compared(table: string, series: string, elements: number, change: number, verdict: Verdict): RowComparison {
  return {
    key: `${table}|${series}|${elements}`,
    table,
    series,
    kind: 'package',
    elements,
    baselineNs: 1,
    currentNs: 1 + change,
    change,
    low: change - 0.03,
    high: change + 0.03,
    p: verdict === 'no significant change' ? 0.6 : 0.001,
    verdict,
  };
}

const comparison: Comparison = {
  rows: [
    compared('Adam', 'default', 1024, 0.25, 'slower'),
    compared('Adam', 'native avx2', 1048576, -0.3, 'faster'),
    compared('SGD', 'default', 16777216, 0.01, 'no significant change'),
  ],
  missing: [],
  added: [],
  machineDifferences: [],
  threshold: 0.1,
  alpha: 0.05,
  regressions: [],
};

describe('runChart', () => {
  const run = makeRun(['Adam', 'gradients'], SIZES);

  test('renders every table and series, the ceiling dashed', async () => {
    const svg = await runChart(run);
    expect(svg.startsWith('<svg')).toBe(true);
    for (const name of ['Adam', 'gradients', 'default', 'native avx2', 'ceiling', 'tfjs cpu']) {
      expect(svg).toContain(`>${name}</text>`);
    }
    // The ceiling's line is dashed (6,4); the others are drawn with a dash of 1,0, i.e. solid.
    expect(svg).toMatch(/aria-label="[^"]*series: ceiling" [^>]*line mark[^>]*stroke-dasharray="6,4"/);
    expect(svg).toMatch(/aria-label="[^"]*series: default" [^>]*line mark[^>]*stroke-dasharray="1,0"/);
    // A peer's colour is never one of the package's.
    const stroke = (series: string): string | undefined =>
      new RegExp(`series: ${series}" [^>]*line mark[^>]*stroke="(#[0-9a-f]+)"`).exec(svg)?.[1];
    expect(new Set(['default', 'native avx2', 'ceiling', 'tfjs cpu'].map(stroke)).size).toBe(4);
    expect(svg).toContain('ns per element');
    expect(svg).toContain('elements per call');
    expect(svg).toContain('>64K</text>');
  });

  test('the same run renders to the same bytes', async () => {
    const first = await runChart(run, { title: 'same' });
    const second = await runChart(run, { title: 'same' });
    expect(second).toBe(first);
    expect(first).toContain('>same</text>');
  });

  test('one table at one size still shows its points', async () => {
    const svg = await runChart(makeRun(['Adam'], [4096]));
    expect(svg.startsWith('<svg')).toBe(true);
    expect(svg).toContain('>Adam</text>');
    expect(svg).toContain('>4K</text>');
    // A line through one point draws nothing: the four series must show as points.
    expect(svg.match(/aria-roledescription="point"/g)).toHaveLength(4);
    expect(svg).not.toContain('NaN');
  });
});

describe('comparisonChart', () => {
  test('renders every row with the colour of its verdict', async () => {
    const svg = await comparisonChart(comparison);
    expect(svg.startsWith('<svg')).toBe(true);
    for (const label of ['Adam · default · 1K', 'Adam · native avx2 · 1M', 'SGD · default · 16M']) {
      expect(svg).toContain(`>${label}</text>`);
    }
    for (const colour of ['#d62728', '#2ca02c', '#8c8c8c']) expect(svg).toContain(`fill="${colour}"`);
    expect(svg).toContain('change in time (+ slower)');
    expect(svg).toContain('stroke-dasharray="4,4"');
    expect(await comparisonChart(comparison)).toBe(svg);
  });
});

test('sizeLabel: powers of 1024 with K or M', () => {
  expect([1, 1000, 1024, 65536, 1048576, 16777216, 1536].map(sizeLabel)).toEqual([
    '1',
    '1000',
    '1K',
    '64K',
    '1M',
    '16M',
    '1.5K',
  ]);
});
