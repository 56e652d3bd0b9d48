// The regression check end to end, as a user runs it: a short run saved, the same tree compared
// with it (no regression), and the ISA capped below the baseline's (a real slowdown, flagged with
// its row and size). Timing-dependent by nature, so it asks for large effects only (avx2 against
// avx512 is about 1.3x on Adam in cache, the threshold 10%), with ten samples of the default row,
// and retries (twice) an attempt the rest of the suite disturbed.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, test } from 'vitest';

import { availableIsas, backend } from '../lib/bridge/backend.js';

const root = path.resolve(__dirname, '..');
const dir = mkdtempSync(path.join(os.tmpdir(), 'simd-optim-bench-run-'));
const baseline = path.join(dir, 'baseline.json');

function bench(args: string[], env: Record<string, string> = {}) {
  const run = spawnSync(process.execPath, ['bench/run.mjs', '--quick', '--only', 'Adam', '--sizes', '64K', '--chart', 'none', ...args], {
    cwd: root, encoding: 'utf8', env: { ...process.env, SIMD_OPTIM_BACKEND: '', SIMD_OPTIM_ISA: '', ...env }, timeout: 120_000,
  });
  return { status: run.status, out: run.stdout + run.stderr };
}

// The bench needs the addon: it runs once, in the native project.
describe.runIf(backend === 'native')('npm run bench -- --save, then --compare', () => {
  test('an unchanged tree: no regression; a capped ISA: the default Adam row in cache is slower', { timeout: 300_000, retry: 2 }, () => {
    const saved = bench(['--save', baseline]);
    expect(saved.status, saved.out).toBe(0);
    expect(saved.out).toMatch(/Saved \d+ rows to/);
    // The default rows have twice the samples of the others (5 rounds, and 5 more of them alone).
    const rows = (JSON.parse(readFileSync(baseline, 'utf8')) as { rows: Record<string, { samples: number[] }> }).rows;
    expect(rows['Adam|default|64K']!.samples).toHaveLength(10);
    expect(rows['Adam|native avx2|64K']?.samples ?? rows['Adam|native sse2|64K']!.samples).toHaveLength(5);
    const same = bench(['--compare', baseline]);
    expect(same.out).toContain('No regressions.');
    expect(same.status, same.out).toBe(0);
    expect(same.out).not.toContain('WARNING');
    if (!availableIsas().includes('avx512')) return;
    const capped = bench(['--compare', baseline], { SIMD_OPTIM_ISA: 'avx2' });
    expect(capped.status, capped.out).toBe(1);
    expect(capped.out).toMatch(/- regression: Adam · default, 64K: \+\d+/);
  });
});
