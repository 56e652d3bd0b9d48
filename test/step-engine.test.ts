// The step of every optimizer kind runs on objects of one hidden class (lib/optimizers/step-engine.ts).
// Speed is measured in bench/ (models: "one tensor of 1 element, every optimizer kind stepped
// first"); what is tested here is the cause, which V8 reports exactly.
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { expect, test } from 'vitest';

const ROOT = path.resolve(__dirname, '..');

test('every optimizer kind steps through objects of one hidden class', () => {
  const script = path.join(ROOT, 'test', 'fixtures', 'jit', 'one-step-class.mjs');
  const run = spawnSync(process.execPath, ['--allow-natives-syntax', script, path.join(ROOT, 'dist', 'index.js')], { encoding: 'utf8', timeout: 60_000 });
  expect(run.status, run.stderr.slice(0, 2000)).toBe(0);
  // When the step was a method of each kind's class, its fields were read from 12 hidden classes.
  expect(JSON.parse(run.stdout)).toEqual({ kinds: 12, differing: [], first: 'Adam' });
});
