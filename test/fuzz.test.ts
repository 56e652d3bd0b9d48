// Property-based fuzzing of the whole public surface (test/fuzz/*.mjs, fast-check), on this
// project's backend. Each module runs in a child process, `node test/fuzz/run.mjs <module>`, so that
// a crash in the native addon is a failed test with its signal, not a lost worker; the child
// inherits SIMD_OPTIM_BACKEND and draws the native ISA level per run.
//
// Budget: SIMD_OPTIM_FUZZ_RUNS runs per property (100 by default, 1000 when CI=true);
// SIMD_OPTIM_FUZZ_SEED replays a run (random by default, printed); see test/fuzz/run.mjs.
import { spawn } from 'node:child_process';
import * as path from 'node:path';
import { beforeAll, describe, expect, test } from 'vitest';

import { CI_RUNS, MODULES, SHORT_RUNS, isCi } from './fuzz/modules.mjs';

const ROOT = path.resolve(__dirname, '..');
const RUNNER = path.join('test', 'fuzz', 'run.mjs');
const backend = process.env['SIMD_OPTIM_BACKEND'] || '(default)';
const seed = process.env['SIMD_OPTIM_FUZZ_SEED'] || String(Math.floor(Math.random() * 0x7fffffff));
const runs = Number(process.env['SIMD_OPTIM_FUZZ_RUNS'] || (isCi() ? CI_RUNS : SHORT_RUNS));
// Generous: a module takes a few seconds at 100 runs; a hung child is killed and reported.
const timeoutMs = Math.max(60_000, runs * 600);

function replay(module: string): string {
  const env = [`SIMD_OPTIM_BACKEND=${process.env['SIMD_OPTIM_BACKEND'] ?? ''}`];
  if (process.env['SIMD_OPTIM_ISA']) env.push(`SIMD_OPTIM_ISA=${process.env['SIMD_OPTIM_ISA']}`);
  env.push(`SIMD_OPTIM_FUZZ_SEED=${seed}`, `SIMD_OPTIM_FUZZ_RUNS=${runs}`);
  return `${env.join(' ')} node ${RUNNER} ${module}`;
}

interface Outcome {
  code: number | null;
  signal: NodeJS.Signals | null;
  output: string;
  timedOut: boolean;
}

function runModule(module: string): Promise<Outcome> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [RUNNER, module], {
      cwd: ROOT,
      env: { ...process.env, SIMD_OPTIM_FUZZ_SEED: seed, SIMD_OPTIM_FUZZ_RUNS: String(runs), SIMD_OPTIM_FUZZ_ALLOW_EMPTY: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, output, timedOut });
    });
  });
}

describe(`fuzz on ${backend}`, () => {
  beforeAll(() => {
    console.log(`fuzz seed ${seed} on ${backend}, ${runs} runs per property; replay: ${replay('<module>')}`);
  });

  test.each(MODULES as string[])('%s', async (module) => {
    const { code, signal, output, timedOut } = await runModule(module);
    const how = timedOut ? `timed out after ${timeoutMs} ms` : signal ? `was killed by ${signal}` : `exited with ${code}`;
    const message = [
      `fuzz module '${module}' on ${backend} ${how} (seed ${seed})`,
      `replay: ${replay(module)}`,
      '--- output of the child ---',
      output.trimEnd(),
    ].join('\n');
    expect({ code, signal }, message).toEqual({ code: 0, signal: null });
  }, timeoutMs + 10_000);
});
