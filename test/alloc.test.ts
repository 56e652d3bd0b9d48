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
const OPTIMIZERS = ['SGD', 'Adam', 'AdamW', 'Adagrad', 'RMSprop', 'Adadelta', 'Adamax', 'NAdam', 'RAdam', 'Lion'];

test('100,000 warmed-up steps of every optimizer trigger no garbage collection', async () => {
  const which = backend; // each project of the suite runs its own backend
  const run = promisify(execFile);
  const results = await Promise.all(
    OPTIMIZERS.map(async (kind) => {
      const { stdout } = await run(process.execPath, [SCRIPT, DIST, kind], {
        env: { ...process.env, SIMD_OPTIM_BACKEND: which },
      });
      return JSON.parse(stdout) as { kind: string; backend: string; gcs: number; rounds: number[] };
    }),
  );
  for (const r of results) expect(r.backend).toBe(which);
  // The quietest of up to 8 rounds (see the script): one collection can come from the runtime
  // itself (timers, the observer); a step that allocated one iterator (32 bytes) caused 12 in every round.
  expect(results.map((r) => `${r.kind} ${r.gcs > 1 ? JSON.stringify(r.rounds) : 'ok'}`)).toEqual(OPTIMIZERS.map((k) => `${k} ok`));
}, 120_000);
