// The package as users install it: `npm pack`, then `npm install ./simd-optim-<version>.tgz` into
// fresh projects, in the three situations users are in:
//   - a platform with a prebuilt binary, no compiler on PATH: the prebuild is used (native);
//   - no prebuilt binary and no compiler: the install still succeeds, says why in one line, and
//     the package runs its fallback (js), with one warning;
//   - no prebuilt binary, a compiler: the addon is built from source (native);
//   - a build from source asked for that fails, with a prebuilt binary that fits: the prebuilt one.
// Each runs the same short training loop as CommonJS and as an ES module and compares the bits with
// the repository's build; a TypeScript consumer is type-checked with --strict.
//
// Run by `npm run test:install` (and CI), not by `npm test`: it packs, installs three times and
// compiles the addon once, about a minute and a half.
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';

const ROOT = path.resolve(__dirname, '..', '..');
const CONSUMER = path.join(__dirname, 'consumer');
const work = mkdtempSync(path.join(tmpdir(), 'simd-optim-install-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** npm's own entry point, run with this node: no npm shim needed on a restricted PATH. */
function npmCli(): string {
  const candidates = [
    process.env['npm_execpath'],
    path.join(path.dirname(process.execPath), '..', 'lib', 'node_modules', 'npm', 'bin', 'npm-cli.js'),
  ];
  const found = candidates.find((c) => c && c.endsWith('.js') && existsSync(c));
  if (!found) throw new Error('npm-cli.js not found');
  return found;
}

/** The environment of a user's shell: no npm_* variables of the npm that runs this test. */
function userEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (!/^npm_/i.test(key) && !key.startsWith('SIMD_OPTIM_') && key !== 'VITEST' && !key.startsWith('VITEST_')) env[key] = value;
  }
  return { ...env, ...extra };
}

/** A PATH with node, sh and python3 but no make and no C++ compiler. */
function pathWithoutCompiler(): string {
  const bin = path.join(work, 'no-compiler-bin');
  mkdirSync(bin, { recursive: true });
  const tools: Record<string, string | undefined> = {
    node: process.execPath,
    sh: realpathSync('/bin/sh'),
    python3: ['/usr/bin/python3', '/usr/local/bin/python3'].find((p) => existsSync(p)),
  };
  for (const [name, target] of Object.entries(tools)) {
    if (target && !existsSync(path.join(bin, name))) symlinkSync(target, path.join(bin, name));
  }
  for (const tool of ['make', 'g++', 'c++', 'cc', 'gcc', 'clang++']) {
    expect(existsSync(path.join(bin, tool)), `${tool} must not be on the restricted PATH`).toBe(false);
  }
  return bin;
}

interface Installed {
  dir: string;
  status: number | null;
  output: string;
}

/** A fresh project with the tarball installed into it. */
function install(name: string, tarball: string, env: NodeJS.ProcessEnv): Installed {
  const dir = path.join(work, name);
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name: `consumer-${name}`, version: '1.0.0', private: true }));
  cpSync(CONSUMER, dir, { recursive: true });
  const run = spawnSync(process.execPath, [npmCli(), 'install', tarball, '--foreground-scripts', '--no-audit', '--no-fund'], {
    cwd: dir, env, encoding: 'utf8', timeout: 300_000,
  });
  return { dir, status: run.status, output: `${run.stdout}${run.stderr}` };
}

interface Trained {
  backend: string;
  isa: string;
  bits: string;
}

function train(dir: string, script: string, env: NodeJS.ProcessEnv): { result: Trained; stderr: string } {
  const run = spawnSync(process.execPath, [script], { cwd: dir, env, encoding: 'utf8' });
  if (run.status !== 0) throw new Error(`${script} failed: ${run.stderr}`);
  return { result: JSON.parse(run.stdout) as Trained, stderr: run.stderr };
}

let tarball = '';
let bare = '';
let reference: Trained;

beforeAll(() => {
  // The tarball as `npm publish` would make it (prepack builds and checks the prebuilds).
  const packed = execFileSync(process.execPath, [npmCli(), 'pack', '--pack-destination', work, '--json'], {
    cwd: ROOT, env: userEnv(), encoding: 'utf8', maxBuffer: 64 << 20,
  });
  const listing = JSON.parse(packed.slice(packed.indexOf('['))) as { filename: string; files: { path: string }[] }[];
  tarball = path.join(work, listing[0]!.filename);
  const files = listing[0]!.files.map((f) => f.path);
  expect(files.filter((f) => f.startsWith('prebuilds/linux-x64/'))).not.toEqual([]);
  // The same package without its prebuilds: a platform none of them fits.
  const unpacked = path.join(work, 'unpacked');
  mkdirSync(unpacked);
  execFileSync('tar', ['-xzf', tarball, '-C', unpacked]);
  rmSync(path.join(unpacked, 'package', 'prebuilds'), { recursive: true, force: true });
  bare = path.join(work, 'bare.tgz');
  execFileSync('tar', ['-czf', bare, '-C', unpacked, 'package']);
  reference = train(CONSUMER, path.join(CONSUMER, 'train.cjs'), userEnv({ SIMD_OPTIM_PACKAGE: path.join(ROOT, 'dist', 'index.js') })).result;
  expect(reference.backend).toBe('native');
}, 300_000);

function expectSameTraining(dir: string, env: NodeJS.ProcessEnv, backend: 'native' | 'js'): string {
  const cjs = train(dir, 'train.cjs', env);
  const esm = train(dir, 'train.mjs', env);
  expect(cjs.result.backend).toBe(backend);
  expect(esm.result).toEqual(cjs.result);
  expect(cjs.result.bits).toBe(reference.bits); // the same bits on every backend and ISA level
  const tsc = spawnSync(process.execPath, [path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', dir], { encoding: 'utf8' });
  expect(`${tsc.stdout}${tsc.stderr}`).toBe('');
  return cjs.stderr + esm.stderr;
}

describe('installing the packed tarball', () => {
  test('with a prebuilt binary and no compiler on PATH: native, nothing built, nothing stray', () => {
    const env = userEnv({ PATH: pathWithoutCompiler() });
    const { dir, status, output } = install('prebuilt', tarball, env);
    expect(status, output).toBe(0);
    const warnings = expectSameTraining(dir, env, 'native');
    expect(warnings).toBe('');
    const installed = path.join(dir, 'node_modules', 'simd-optim');
    expect(readdirSync(installed).sort()).toEqual(
      ['CHANGELOG.md', 'LICENSE', 'README.md', 'binding.gyp', 'dist', 'native', 'package.json', 'prebuilds', 'scripts'].sort(),
    );
    expect(output).not.toMatch(/npm warn (package-json|.*simd-optim@.*(invalid|missing|deprecated))/i);
    // The README's first training loop, as a new user copies it, against the installed package.
    const readme = readFileSync(path.join(ROOT, 'README.md'), 'utf8');
    const section = readme.slice(readme.indexOf('\n## A first training loop\n'));
    const [code, shown] = [...section.matchAll(/```\w*\n([\s\S]*?)```/g)].map((m) => m[1]!);
    writeFileSync(path.join(dir, 'linear.mjs'), code!);
    const loop = spawnSync(process.execPath, ['linear.mjs'], { cwd: dir, env, encoding: 'utf8' });
    expect(loop.stderr).toBe('');
    expect(loop.stdout.replace(/on native \(\w+\)/, 'on native (avx512)')).toBe(shown);
  }, 300_000);

  test('without a prebuilt binary and without a compiler: the install succeeds, says why, and the fallback runs', () => {
    const env = userEnv({ PATH: pathWithoutCompiler() });
    const { dir, status, output } = install('no-compiler', bare, env);
    expect(status, output).toBe(0);
    expect(output).toMatch(/simd-optim: no prebuilt binary for linux-x64 and the native build failed \(not found: make\); the TypeScript fallback will be used/);
    const warnings = expectSameTraining(dir, env, 'js');
    expect(warnings).toMatch(/\[SIMD_OPTIM_NATIVE_UNAVAILABLE\] SimdOptimWarning: .*its build failed when it was installed: not found: make/);
    // Asking for the fallback silences the warning; asking for the addon makes its absence an error.
    expect(train(dir, 'train.cjs', { ...env, SIMD_OPTIM_BACKEND: 'js' }).stderr).toBe('');
    const strict = spawnSync(process.execPath, ['train.cjs'], { cwd: dir, env: { ...env, SIMD_OPTIM_BACKEND: 'native' }, encoding: 'utf8' });
    expect(strict.status).not.toBe(0);
    expect(strict.stderr).toMatch(/SIMD_OPTIM_BACKEND=native, but the native addon could not be loaded/);
  }, 300_000);

  test('a build from source asked for and failing, with a prebuilt binary that fits: the prebuilt one is used', () => {
    const env = userEnv({ PATH: pathWithoutCompiler(), SIMD_OPTIM_BUILD_FROM_SOURCE: '1' });
    const { dir, status, output } = install('from-source-fails', tarball, env);
    expect(status, output).toBe(0);
    expect(output).toMatch(/simd-optim: the build from source failed \(not found: make\); the prebuilt binary for linux-x64 will be used/);
    expect(output).not.toMatch(/TypeScript fallback will be used/);
    const { SIMD_OPTIM_BUILD_FROM_SOURCE: _ignored, ...runEnv } = env;
    expect(expectSameTraining(dir, runEnv, 'native')).toBe('');
    expect(existsSync(path.join(dir, 'node_modules', 'simd-optim', 'build', 'native-unavailable.json'))).toBe(false);
  }, 300_000);

  test('without a prebuilt binary, with a compiler: built from source, native', () => {
    const env = userEnv();
    const { dir, status, output } = install('from-source', bare, env);
    expect(status, output).toBe(0);
    expect(output).not.toMatch(/native build failed/);
    expect(expectSameTraining(dir, env, 'native')).toBe('');
    expect(existsSync(path.join(dir, 'node_modules', 'simd-optim', 'build', 'Release', 'simd_optim.node'))).toBe(true);
  }, 600_000);
});
