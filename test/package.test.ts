// The package as its users get it: `import` and `require` of 'simd-optim' (resolved through the
// exports map by package self-reference, after `npm install` built dist/), its type declarations
// under both conditions, and the environment variables that choose the backend.
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';

import { availableIsas, backend } from '../lib/bridge/backend.js';

const ROOT = path.resolve(__dirname, '..');

/** Runs a snippet in a fresh node process; returns its stdout, or throws with its stderr. */
function node(code: string, env: Record<string, string> = {}, type: 'commonjs' | 'module' = 'commonjs', cwd = ROOT): string {
  const clean = { ...process.env };
  delete clean['SIMD_OPTIM_BACKEND'];
  delete clean['SIMD_OPTIM_ISA'];
  const run = spawnSync(process.execPath, ['--input-type', type, '-e', code], { cwd, env: { ...clean, ...env }, encoding: 'utf8' });
  if (run.status !== 0) throw new Error(run.stderr);
  return run.stdout.trim();
}

const PROBE = `const w = new Float32Array([1, 2]); const o = new m.SGD([w], { lr: 0.5 }); o.step([new Float32Array([1, -1])]);
console.log(JSON.stringify({ backend: m.backend, isa: m.isa, w: Array.from(w) }));`;

test('dist/ is built (npm test compiles it first)', () => {
  expect(existsSync(path.join(ROOT, 'dist', 'index.js'))).toBe(true);
  expect(existsSync(path.join(ROOT, 'dist', 'index.mjs'))).toBe(true);
});

test('require and import give the same working module', () => {
  const viaRequire = JSON.parse(node(`const m = require('simd-optim'); ${PROBE}`));
  const viaImport = JSON.parse(node(`import * as m from 'simd-optim'; ${PROBE}`, {}, 'module'));
  expect(viaRequire).toEqual(viaImport);
  expect(viaRequire.w).toEqual([0.5, 2.5]);
  const exported = node(`import * as m from 'simd-optim'; import { createRequire } from 'node:module';
    const c = createRequire(import.meta.url)('simd-optim');
    console.log(JSON.stringify([Object.keys(m).sort(), Object.keys(c).sort(), m.Adam === c.Adam]));`, {}, 'module');
  const [esmKeys, cjsKeys, same] = JSON.parse(exported);
  expect(esmKeys).toEqual(cjsKeys);
  expect(same).toBe(true); // one module instance, whichever way it is loaded
  for (const name of ['Adam', 'AdamW', 'Adagrad', 'RMSprop', 'SGD', 'adamUpdate', 'adamwUpdate', 'adagradUpdate',
    'rmspropUpdate', 'sgdUpdate', 'backend', 'isa', 'Adadelta', 'Adamax', 'NAdam', 'RAdam', 'Lion', 'clipGradNorm', 'clipGradNormAsync',
    'clipGradValue', 'saveCheckpoint', 'loadCheckpoint', 'StepLR', 'OneCycleLR', 'ReduceLROnPlateau', 'gradcheck',
    'checkDirectional', 'numericalGradient']) {
    expect(esmKeys).toContain(name);
  }
});

test('type declarations resolve for import and require', () => {
  const tsc = path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
  expect(() => execFileSync(process.execPath, [tsc, '-p', path.join(ROOT, 'test', 'types')], { cwd: ROOT, encoding: 'utf8' })).not.toThrow();
  // simd-optim/tfjs beside tfjs's own declarations, which need skipLibCheck (they fail strict checks).
  expect(() => execFileSync(process.execPath, [tsc, '-p', path.join(ROOT, 'test', 'types', 'tsconfig.tfjs.json')], { cwd: ROOT, encoding: 'utf8' })).not.toThrow();
});

describe('environment variables', () => {
  const nativeLoads = backend === 'native' || node(`console.log(require('simd-optim').backend)`) === 'native';

  test('SIMD_OPTIM_BACKEND=js forces the fallback', () => {
    const out = JSON.parse(node(`const m = require('simd-optim'); ${PROBE}`, { SIMD_OPTIM_BACKEND: 'js' }));
    expect(out).toEqual({ backend: 'js', isa: 'js', w: [0.5, 2.5] });
  });

  test.skipIf(!nativeLoads)('SIMD_OPTIM_BACKEND=native and SIMD_OPTIM_ISA caps', () => {
    const best = node(`console.log(require('simd-optim').isa)`, { SIMD_OPTIM_BACKEND: 'native' });
    expect(['avx512', 'avx2', 'sse2', 'neon', 'scalar']).toContain(best);
    expect(node(`console.log(require('simd-optim').isa)`, { SIMD_OPTIM_ISA: 'scalar' })).toBe('scalar');
    const levels = backend === 'native' ? availableIsas() : [best];
    for (const level of levels) {
      expect(node(`console.log(require('simd-optim').isa)`, { SIMD_OPTIM_ISA: level })).toBe(level);
    }
    // A cap above what the CPU has is a ceiling, not a demand.
    expect(node(`console.log(require('simd-optim').isa)`, { SIMD_OPTIM_ISA: 'avx512' })).toBe(
      levels.includes('avx512') ? 'avx512' : best,
    );
  });

  test('where code cannot be generated from strings, groups are still read and checked', () => {
    // lib/core/options.ts generates each spec's group reader; without code generation it loops.
    const run = (flags: string[]) => {
      const result = spawnSync(process.execPath, [...flags, '-e', `const m = require('simd-optim');
        const w = new Float32Array([1, 2]); const o = new m.Adam([w], { lr: 0.5 });
        o.step([new Float32Array([1, -1])]); o.paramGroups[0].betas = [0.5, 0.9]; o.step([new Float32Array([1, -1])]);
        let refused = ''; o.paramGroups[0].lr = NaN; try { o.step([new Float32Array([1, 1])]); } catch (e) { refused = e.message; }
        console.log(JSON.stringify({ w: Array.from(w), refused }));`], { cwd: ROOT, encoding: 'utf8' });
      if (result.status !== 0) throw new Error(result.stderr);
      return JSON.parse(result.stdout) as { w: number[]; refused: string };
    };
    const plain = run([]);
    expect(plain.refused).toMatch(/Adam\.step: paramGroups\[0\]\.lr must be a finite number >= 0, got NaN/);
    expect(run(['--disallow-code-generation-from-strings'])).toEqual(plain);
  });

  test('invalid values are errors at load time', () => {
    expect(() => node(`require('simd-optim')`, { SIMD_OPTIM_BACKEND: 'gpu' })).toThrow(/SIMD_OPTIM_BACKEND/);
    expect(() => node(`require('simd-optim')`, { SIMD_OPTIM_ISA: 'sse4' })).toThrow(/SIMD_OPTIM_ISA/);
  });

  describe('without a native build', () => {
    // A copy of the package with dist/ but no build/ and no prebuilds/.
    const dir = mkdtempSync(path.join(tmpdir(), 'simd-optim-nobuild-'));
    cpSync(path.join(ROOT, 'dist'), path.join(dir, 'dist'), { recursive: true });
    cpSync(path.join(ROOT, 'package.json'), path.join(dir, 'package.json'));
    symlinkSync(path.join(ROOT, 'node_modules'), path.join(dir, 'node_modules'));
    writeFileSync(path.join(dir, 'probe.js'), `const m = require('./dist/index.js'); ${PROBE.replace(/\n/g, ' ')}`);
    afterAll(() => rmSync(dir, { recursive: true, force: true }));

    test('falls back to the TypeScript kernels', () => {
      const out = JSON.parse(node(`require('./probe.js')`, {}, 'commonjs', dir));
      expect(out).toEqual({ backend: 'js', isa: 'js', w: [0.5, 2.5] });
    });

    test('SIMD_OPTIM_BACKEND=native makes that an error', () => {
      expect(() => node(`require('./probe.js')`, { SIMD_OPTIM_BACKEND: 'native' }, 'commonjs', dir)).toThrow(
        /SIMD_OPTIM_BACKEND=native, but the native addon could not be loaded/,
      );
    });
  });
});
