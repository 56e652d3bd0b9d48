// A warmed-up step allocates nothing on either backend: on a server stepping thousands of times a
// second, garbage per step turns into GC pauses. Run in child processes so that nothing else in the
// test process allocates meanwhile.
import { execFile } from 'node:child_process';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { expect, test } from 'vitest';

import { backend } from '../lib/bridge/backend.js';

const ROOT = path.resolve(__dirname, '..');
const SCRIPT = path.join(ROOT, 'test', 'fixtures', 'alloc', 'gc-per-step.cjs');
const DIST = path.join(ROOT, 'dist', 'index.js');
const OPTIMIZERS = ['SGD', 'Adam', 'AdamW', 'Adagrad', 'RMSprop', 'Adadelta', 'Adamax', 'NAdam', 'RAdam', 'Lion', 'SWATS'];

type Result = { kind: string; backend: string; gcs: number; rounds: number[] };

/**
 * Whether V8's optimized code allocates can depend on timing: what it inlines where depends on
 * its inlining budget when it optimizes a caller, and on what was optimized first. The fallback's
 * kernels call fmaf (lib/core/float32.ts) per element, and a call V8 does not inline boxes its
 * doubles: on a loaded machine Lion's loop was sometimes compiled inside Optimizer.step with the
 * budget spent (50-100 GCs per round, as with --max-inlined-bytecode-size-cumulative=300), and
 * otherwise alone, allocating nothing; Optimizer.step itself showed 4-5 GCs per round in some runs
 * and none in others. So a run that allocates is tried again, in a fresh process, up to two more
 * times; an allocation in the code itself shows in every run.
 */
async function quietest(kind: string, which: string): Promise<Result> {
  const run = promisify(execFile);
  let result: Result | undefined;
  for (let attempt = 0; attempt < 3; attempt++) {
    const { stdout } = await run(process.execPath, [SCRIPT, DIST, kind], { env: { ...process.env, SIMD_OPTIM_BACKEND: which } });
    result = JSON.parse(stdout) as Result;
    if (result.gcs <= 1) break;
  }
  return result!;
}

test('100,000 warmed-up steps of every optimizer trigger no garbage collection', async () => {
  const which = backend; // each project of the suite runs its own backend
  const results = await Promise.all(OPTIMIZERS.map((kind) => quietest(kind, which)));
  for (const r of results) expect(r.backend).toBe(which);
  // The quietest of up to 8 rounds (see the script): one collection can come from the runtime
  // itself (timers, the observer); a step that allocated one iterator (32 bytes) caused 12 in every round.
  expect(results.map((r) => `${r.kind} ${r.gcs > 1 ? JSON.stringify(r.rounds) : 'ok'}`)).toEqual(OPTIMIZERS.map((k) => `${k} ok`));
}, 240_000);
