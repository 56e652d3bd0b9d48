// The benchmark's peers (bench/peers.mjs): tfjs and torch rows come back in the BenchRow shape,
// what a peer lacks is skipped with a note, and the peers' steps compute what the tables claim.
import { existsSync } from 'node:fs';
import { afterEach, describe, expect, test } from 'vitest';

import { benchPeers, peerSteps, peerTables } from '../bench/peers.mjs';
import type { BenchRow } from '../lib/bench/types.js';

// A Python with torch, where the machine has one (SIMD_OPTIM_BENCH_PYTHON, as the bench reads it).
const TORCH_PYTHON = process.env['SIMD_OPTIM_BENCH_PYTHON'] ?? '/work/torchenv/bin/python';
const savedPython = process.env.SIMD_OPTIM_BENCH_PYTHON;

afterEach(() => {
  if (savedPython === undefined) delete process.env.SIMD_OPTIM_BENCH_PYTHON;
  else process.env.SIMD_OPTIM_BENCH_PYTHON = savedPython;
});

type Peers = { rows: BenchRow[]; notes: string[] };
const run = (): Promise<Peers> => benchPeers({ tables: ['Adam', 'Lion'], sizes: [1024], samples: 2 });

function expectSamples(row: BenchRow | undefined, samples = 2): void {
  expect(row).toBeDefined();
  expect(row!.kind).toBe('peer');
  expect(row!.elements).toBe(1024);
  expect(row!.samples).toHaveLength(samples);
  for (const ns of row!.samples) expect(Number.isFinite(ns) && ns > 0).toBe(true);
}

// One parameter and gradient whose first Adam step is known: m̂ = g and v̂ = g², so each element
// moves by lr · g / (|g| + eps), lr · sign(g) within 1e-8 / |g| of it.
const PARAM = Float32Array.from([0.5, -0.25, 1, 0, -2, 3]);
const GRAD = Float32Array.from([0.1, -0.2, 0.05, 1, -0.01, 0.3]);
const LR = 1e-3;
const afterAdam = Array.from(PARAM, (p, i) => p - LR * Math.sign(GRAD[i]!));
// SGD with momentum 0.9 at lr 0.01: the first step's buffer is the gradient itself.
const afterMomentum = Array.from(PARAM, (p, i) => p - 0.01 * GRAD[i]!);
const STEPPED = ['Adam', 'SGD momentum', 'Lion'];

function expectClose(actual: Float32Array | null, expected: number[]): void {
  expect(actual).not.toBeNull();
  expect(actual!.length).toBe(expected.length);
  // float32: one ulp of 3 is 2.4e-7; the eps term adds up to 1e-6 · lr.
  actual!.forEach((value, i) => expect(Math.abs(value - expected[i]!)).toBeLessThan(1e-6));
}

describe('bench peers', () => {
  test('tfjs cpu and wasm time Adam, skip Lion with a note; torch is skipped without a python', async () => {
    process.env.SIMD_OPTIM_BENCH_PYTHON = '/nonexistent/simd-optim-python';
    const { rows, notes } = await run();
    expectSamples(rows.find((r) => r.series === 'tfjs cpu' && r.table === 'Adam'));
    expectSamples(rows.find((r) => r.series === 'tfjs wasm' && r.table === 'Adam'));
    expect(rows.filter((r) => r.table === 'Lion')).toEqual([]);
    expect(notes.some((n) => n.startsWith('tfjs') && n.includes('Lion'))).toBe(true);
    expect(rows.filter((r) => r.series === 'torch')).toEqual([]);
    expect(notes.some((n) => n.startsWith('torch: skipped') && n.includes('SIMD_OPTIM_BENCH_PYTHON'))).toBe(true);
    expect(notes.some((n) => n.includes('tfjs-core 4.'))).toBe(true);
  });

  test('the tfjs steps compute Adam and SGD momentum', async () => {
    for (const peer of ['tfjs cpu', 'tfjs wasm']) {
      const after = await peerSteps({ peer, tables: STEPPED, param: PARAM, grad: GRAD });
      expectClose(after.Adam, afterAdam);
      expectClose(after['SGD momentum'], afterMomentum);
      expect(after.Lion).toBeNull();
    }
    expect(peerTables().torch).not.toContain('Lion');
  });

  // Python and torch take seconds to start, and the peers do not depend on simd-optim's backend:
  // the torch test runs in one of the two vitest projects only.
  test.skipIf(!existsSync(TORCH_PYTHON) || process.env.SIMD_OPTIM_BACKEND === 'js')('torch rows come back, and its steps compute Adam and SGD momentum', async () => {
    process.env.SIMD_OPTIM_BENCH_PYTHON = TORCH_PYTHON;
    const { rows, notes } = await benchPeers({ tables: ['Adam', 'Lion'], sizes: [1024], samples: 2, peers: ['torch'] });
    const torchRow = rows.find((r: BenchRow) => r.series === 'torch' && r.table === 'Adam');
    expectSamples(torchRow);
    expect(torchRow!.threads).toBeGreaterThanOrEqual(1);
    expect(rows.filter((r: BenchRow) => r.series === 'torch' && r.table === 'Lion')).toEqual([]);
    expect(notes.some((n: string) => /^torch \d/.test(n))).toBe(true);
    const after = await peerSteps({ peer: 'torch', tables: STEPPED, param: PARAM, grad: GRAD });
    expectClose(after.Adam, afterAdam);
    expectClose(after['SGD momentum'], afterMomentum);
    expect(after.Lion).toBeNull();
  });
});
