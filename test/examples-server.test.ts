// The examples two-line-adam.mjs and http-server.mjs, run as a user runs them (shortened with
// --quick), on the backend of the project (the child inherits SIMD_OPTIM_BACKEND): the package's
// Adam agrees with the hand-written loop it replaces; the training server answers every request,
// in both modes, and its model learns. Timings are printed by the examples, never asserted.
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { expect, test } from 'vitest';

const ROOT = path.resolve(__dirname, '..');
const EXPECTED_BACKEND = process.env.SIMD_OPTIM_BACKEND; // set by each project of vitest.config.mts

function runExample(file: string) {
  const run = spawnSync(process.execPath, [path.join(ROOT, 'examples', file), '--quick'], { encoding: 'utf8', timeout: 90_000 });
  return { status: run.status, signal: run.signal, stdout: run.stdout, stderr: run.stderr };
}

/** The number after `label` on the line that has it. */
function numberAfter(stdout: string, label: RegExp): number {
  const match = new RegExp(`${label.source}\\s*([-+0-9.e]+)`).exec(stdout);
  expect(match, `${label} in:\n${stdout}`).not.toBeNull();
  return Number(match![1]);
}

test('two-line-adam: simd-optim\'s Adam agrees with the hand-written loop it replaces, and both train', () => {
  const run = runExample('two-line-adam.mjs');
  expect(run.stderr).toBe('');
  expect(run.status, run.stdout).toBe(0);
  // The difference is float32 rounding (about 1e-6 here); a wrong bias correction, beta or eps is >= 1e-3.
  const difference = numberAfter(run.stdout, /max relative difference of the params \(per tensor, to its largest element\):/);
  expect(difference).toBeGreaterThanOrEqual(0);
  expect(difference).toBeLessThanOrEqual(1e-4);
  expect(run.stdout).toMatch(/tolerance 0\.0001: agree/);
  for (const who of ['hand-written', 'simd-optim']) {
    const [, before, after] = new RegExp(`loss, ${who}:\\s+([0-9.]+) -> ([0-9.]+)`).exec(run.stdout) ?? [];
    expect(Number(after), `${who} trained`).toBeLessThan(Number(before) / 10);
  }
  // Both sizes were timed: one row each, with a speed-up for both configurations.
  for (const size of ['10,000', '1,000,000']) expect(run.stdout).toMatch(new RegExp(`^\\s+${size}\\s+.*x\\s+[0-9.]+x$`, 'm'));
  if (EXPECTED_BACKEND) expect(run.stdout).toContain(`backend ${EXPECTED_BACKEND} (`);
}, 90_000);

test('http-server: every request answered without errors in both modes (stepAsync and step), and the model trained', () => {
  const run = runExample('http-server.mjs');
  expect(run.stderr).toBe('');
  expect(run.status, run.stdout).toBe(0);
  if (EXPECTED_BACKEND) expect(run.stdout).toMatch(new RegExp(`^Backend ${EXPECTED_BACKEND} \\(`, 'm'));

  // mode  endpoint  requests  req/s  errors  timeouts  non-2xx  p50  p99  max
  const requestRows = [...run.stdout.matchAll(/^(stepAsync|step)\s+(GET \/health|POST \/train)\s+(\d+)\s+\d+\s+(\d+)\s+(\d+)\s+(\d+)\s/gm)];
  expect(requestRows.map((r) => `${r[1]} ${r[2]}`)).toEqual(['stepAsync GET /health', 'stepAsync POST /train', 'step GET /health', 'step POST /train']);
  for (const [, mode, endpoint, requests, errors, timeouts, non2xx] of requestRows) {
    const where = `${mode} ${endpoint}`;
    expect(Number(requests), where).toBeGreaterThan(0);
    expect({ errors: Number(errors), timeouts: Number(timeouts), non2xx: Number(non2xx) }, where).toEqual({ errors: 0, timeouts: 0, non2xx: 0 });
  }

  // mode  loop p50  p99  max  steps  samples/step  ms/step  eval loss before  after  weights changed
  const serverRows = [...run.stdout.matchAll(/^(stepAsync|step)\s+[0-9.]+\s+[0-9.]+\s+[0-9.]+\s+(\d+)\s+([0-9.]+)\s+[0-9.]+\s+([0-9.]+)\s+([0-9.]+)\s+(\d+)$/gm)];
  expect(serverRows.map((r) => r[1])).toEqual(['stepAsync', 'step']);
  for (const [, mode, steps, samplesPerStep, lossBefore, lossAfter, weightsChanged] of serverRows) {
    expect(Number(steps), mode).toBeGreaterThan(0);
    expect(Number(samplesPerStep), mode).toBeGreaterThanOrEqual(1);
    expect(Number(lossBefore), mode).toBeCloseTo(Math.LN2, 4); // all weights 0: p = 0.5 for every sample
    expect(Number(lossAfter), mode).toBeLessThan(Number(lossBefore) - 0.005); // about 0.1 to 0.2 less in practice
    expect(Number(weightsChanged), mode).toBeGreaterThan(0);
  }
  expect(run.stdout).toContain('every request answered, the model trained in both modes');
  // On the fallback stepAsync runs on the calling thread: the example must say its latencies compare nothing.
  if (EXPECTED_BACKEND === 'js') expect(run.stdout).toContain('On the TypeScript fallback stepAsync computes before it returns');
}, 90_000);
