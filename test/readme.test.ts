// The README's first training loop, run as a new user would run it: the code block as written
// (with 'simd-optim' resolved to this build), its output compared with the output the README shows.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, expect, test } from 'vitest';

import { backend, isa } from '../lib/bridge/backend.js';

const ROOT = path.resolve(__dirname, '..');
const dir = mkdtempSync(path.join(tmpdir(), 'simd-optim-readme-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The fenced blocks of a README section, in order: [language, code]. */
function blocks(section: string): [string, string][] {
  const readme = readFileSync(path.join(ROOT, 'README.md'), 'utf8');
  const start = readme.indexOf(`\n## ${section}\n`);
  const end = readme.indexOf('\n## ', start + 1);
  const text = readme.slice(start, end < 0 ? undefined : end);
  return [...text.matchAll(/```(\w*)\n([\s\S]*?)```/g)].map((m) => [m[1]!, m[2]!]);
}

test("the README's first training loop runs and prints what the README says", () => {
  const [[lang, code], [, shown]] = blocks('A first training loop') as [[string, string], [string, string]];
  expect(lang).toBe('js');
  const entry = pathToFileURL(path.join(ROOT, 'dist', 'index.mjs')).href;
  const file = path.join(dir, 'linear.mjs');
  writeFileSync(file, code.replace(/from 'simd-optim'/g, `from '${entry}'`));
  const run = spawnSync(process.execPath, [file], { cwd: dir, encoding: 'utf8' });
  expect(run.stderr).toBe('');
  expect(run.status).toBe(0);
  // The last line names the backend it ran on; everything else is the same bits on every backend.
  const expected = shown.replace(/on native \(avx512\)/, `on ${backend} (${isa})`);
  expect(run.stdout).toBe(expected);
});
