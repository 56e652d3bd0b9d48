// Worker threads: a server that recycles Workers must survive terminating one mid-step, and each
// thread's module instance keeps the ISA level its own environment asked for.
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import { describe, expect, test } from 'vitest';

import { backend, isa, nativeAddon } from '../lib/bridge/backend.js';

const ROOT = path.resolve(__dirname, '..');
const DIST = path.join(ROOT, 'dist', 'index.js');

test('terminating Workers inside step and clipGradNorm never aborts the process', () => {
  // Before the fix, 30 rounds of 2 Workers aborted the process (exit 134, "FATAL ERROR:
  // Error::ThrowAsJavaScriptException napi_throw") in 10 runs out of 10.
  const script = path.join(ROOT, 'test', 'fixtures', 'workers', 'terminate-mid-step.mjs');
  const run = spawnSync(process.execPath, [script, '30', '2'], { encoding: 'utf8', timeout: 120_000 });
  expect(run.signal, run.stderr).toBeNull();
  expect(run.status, run.stderr.slice(0, 2000)).toBe(0);
  expect(run.stdout).toContain('survived 30 rounds');
}, 150_000);

test('Workers that are the thread pool\'s only users come and go without a hang', () => {
  const script = path.join(ROOT, 'test', 'fixtures', 'workers', 'pool-users-come-and-go.mjs');
  const run = spawnSync(process.execPath, [script, '40'], { encoding: 'utf8', timeout: 120_000 });
  expect(run.signal, 'timed out: a pool release hung').toBeNull();
  expect(run.status, run.stderr.slice(0, 2000)).toBe(0);
  expect(run.stdout).toContain('pool survived 40 rounds');
}, 150_000);

/** Starts a Worker that loads the package with `env` and reports what it uses. */
function workerReport(env: Record<string, string>): Promise<{ backend: string; isa: string; current: string | null }> {
  const code = `
    const { parentPort } = require('node:worker_threads');
    const m = require(${JSON.stringify(DIST)});
    const b = require(${JSON.stringify(path.join(ROOT, 'dist', 'bridge', 'backend.js'))});
    const w = new Float32Array(1000).fill(1);
    new m.Adam([w]).step([new Float32Array(1000).fill(0.5)]);
    parentPort.postMessage({ backend: m.backend, isa: m.isa, current: b.nativeAddon ? b.nativeAddon.currentIsa() : null });`;
  return new Promise((resolve, reject) => {
    const worker = new Worker(code, { eval: true, env: { ...process.env, ...env } });
    worker.once('message', (m) => {
      resolve(m);
      void worker.terminate();
    });
    worker.once('error', reject);
  });
}

describe.skipIf(backend !== 'native')('ISA level per thread', () => {
  test('a Worker capped at scalar runs scalar kernels; this thread keeps its own level', async () => {
    const before = nativeAddon!.currentIsa();
    expect(before).toBe(isa);
    const capped = await workerReport({ SIMD_OPTIM_BACKEND: 'native', SIMD_OPTIM_ISA: 'scalar' });
    expect(capped).toEqual({ backend: 'native', isa: 'scalar', current: 'scalar' });
    // Before the fix the Worker's cap switched the process: this thread ran scalar kernels while
    // its exported isa still said otherwise.
    expect(nativeAddon!.currentIsa()).toBe(before);
    const uncapped = await workerReport({ SIMD_OPTIM_BACKEND: 'native', SIMD_OPTIM_ISA: '' });
    expect(uncapped.current).toBe(nativeAddon!.availableIsas()[0]);
    expect(nativeAddon!.currentIsa()).toBe(before);
  });

  test('the level reported is the one the kernel library was compiled for', () => {
    for (const level of nativeAddon!.availableIsas()) {
      expect(nativeAddon!.selectIsa(level)).toBe(true);
      expect(nativeAddon!.currentIsa()).toBe(level);
    }
  });
});
