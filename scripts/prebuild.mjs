#!/usr/bin/env node
// The prebuilt binaries that `npm pack` / `npm publish` ship in prebuilds/, built with prebuildify
// (N-API, stripped, libc-tagged on Linux), where node-gyp-build (lib/bridge/backend.ts, scripts/install.js)
// finds them: prebuilds/<platform>-<arch>/simd-optim[.glibc|.musl].node.
//
//   node scripts/prebuild.mjs            build what is missing or stale and can be built here:
//                                        this machine's platform, and on Linux (glibc) the other
//                                        of x64/arm64 with Debian's cross compiler
//   node scripts/prebuild.mjs --check    build nothing; exit 1 listing what is missing or stale
//   node scripts/prebuild.mjs --pack     build, then check (package.json "prepack"): npm pack and
//                                        npm publish refuse to run without the required set
//   node scripts/prebuild.mjs --host     build this machine's platform only (the CI matrix jobs)
//
//   --only=linux-arm64,...  build these targets only     --force   rebuild even when fresh
//   --require=all|none|<ids>  the set --check and --pack insist on (default linux-x64,linux-arm64;
//                           also SIMD_OPTIM_PREBUILDS_REQUIRE). `none` still refuses stale binaries:
//                           for packing where the cross compiler cannot be had (npm also runs
//                           prepack when it installs the package from a git URL)
//   --verbose               node-gyp's full output
//
// Freshness: beside each binary, <binary>.sources records what it was built from (a sha256 of
// binding.gyp, every file under native/ and node-addon-api's version, line endings normalized) and
// the binary's own sha256. A binary is fresh when both still match; the check also reads the
// binary's header for its CPU (an x86-64 file in linux-arm64/ is refused) and, for ELF, that it is
// stripped. Every other binary under prebuilds/ (downloaded from the CI matrix, say) must be fresh
// too. Nothing is rebuilt when everything is fresh.
//
// Builds run in a copy of the sources under node_modules/.cache/simd-optim-prebuild/<target>, so
// build/Release (the from-source build node-gyp-build prefers) is never touched, and replace the
// target's binary only when they succeed. Node's headers come from npm_config_nodedir, else from
// the running Node's own include/node; node-gyp downloads them only when neither exists.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import { createRequire } from 'node:module';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);
const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));
const NAME = pkg.name;
const prebuildsDir = path.join(root, 'prebuilds');
const cacheDir = path.join(root, 'node_modules', '.cache', 'simd-optim-prebuild');

// ---------------------------------------------------------------------------------------------
// Targets

/** Every target the package knows; `dir` and `file` are the names node-gyp-build looks for. */
const TARGETS = [
  { id: 'linux-x64', platform: 'linux', arch: 'x64', libc: 'glibc' },
  { id: 'linux-arm64', platform: 'linux', arch: 'arm64', libc: 'glibc' },
  { id: 'linux-x64-musl', platform: 'linux', arch: 'x64', libc: 'musl' },
  { id: 'linux-arm64-musl', platform: 'linux', arch: 'arm64', libc: 'musl' },
  { id: 'darwin-x64', platform: 'darwin', arch: 'x64' },
  { id: 'darwin-arm64', platform: 'darwin', arch: 'arm64' },
  { id: 'win32-x64', platform: 'win32', arch: 'x64' },
  { id: 'win32-arm64', platform: 'win32', arch: 'arm64' },
].map((t) => ({ ...t, dir: `${t.platform}-${t.arch}`, file: [NAME, t.libc, 'node'].filter(Boolean).join('.') }));
const byId = new Map(TARGETS.map((t) => [t.id, t]));
const DEFAULT_REQUIRED = ['linux-x64', 'linux-arm64'];

/** GNU triplets of Debian's cross toolchains (g++-aarch64-linux-gnu, g++-x86-64-linux-gnu). */
const GNU_TRIPLET = { x64: 'x86_64-linux-gnu', arm64: 'aarch64-linux-gnu' };
const DEBIAN_CROSS_PACKAGE = { x64: 'g++-x86-64-linux-gnu', arm64: 'g++-aarch64-linux-gnu' };

function hostLibc() {
  if (process.platform !== 'linux') return undefined;
  return process.report.getReport().header.glibcVersionRuntime ? 'glibc' : 'musl';
}
const host = { platform: process.platform, arch: process.arch, libc: hostLibc() };
const hostTarget = TARGETS.find((t) => t.platform === host.platform && t.arch === host.arch && t.libc === host.libc);

function commandWorks(command, args = ['--version']) {
  const run = spawnSync(command, args, { encoding: 'utf8', windowsHide: true });
  return run.status === 0 ? (run.stdout.split('\n')[0] ?? '').trim() : null;
}

/**
 * How `target` can be built on this machine: { env, stripBin, compiler } or { reason } when not.
 * Natively for the host's own target; Linux glibc x64 <-> arm64 with a GNU cross toolchain
 * (prefix overridable with SIMD_OPTIM_CROSS_PREFIX, e.g. for a toolchain outside PATH).
 */
function buildPlan(target) {
  if (target === hostTarget) {
    const cxx = process.env.CXX || (process.platform === 'darwin' ? 'c++' : 'g++');
    const compiler = process.platform === 'win32' ? 'msvc' : commandWorks(cxx);
    if (!compiler) return { reason: `no C++ compiler: \`${cxx} --version\` failed (node-gyp needs python3, make and a C++17 compiler)` };
    return { env: {}, stripBin: process.env.STRIP || 'strip', compiler };
  }
  if (target.platform === 'linux' && target.libc === 'glibc' && host.platform === 'linux' && host.libc === 'glibc') {
    const prefix = process.env.SIMD_OPTIM_CROSS_PREFIX || `${GNU_TRIPLET[target.arch]}-`;
    const cxx = `${prefix}g++`;
    const compiler = commandWorks(cxx);
    if (!compiler) {
      return {
        reason:
          `the cross compiler ${cxx} is not installed. On Debian or Ubuntu: ` +
          `\`sudo apt-get install ${DEBIAN_CROSS_PACKAGE[target.arch]}\`, then run this again`,
      };
    }
    if (!commandWorks(`${prefix}strip`)) return { reason: `${prefix}strip is missing (binutils of the cross toolchain)` };
    const env = { CC: `${prefix}gcc`, CXX: cxx, LINK: cxx, AR: `${prefix}ar`, STRIP: `${prefix}strip` };
    return { env, stripBin: `${prefix}strip`, compiler };
  }
  if (target.platform === 'linux' && target.libc === 'glibc') {
    return { reason: 'it needs a Linux machine with glibc (x64 or arm64; the other of the two with a cross compiler)' };
  }
  const where = target.libc === 'musl' ? `Alpine Linux ${target.arch}` : `${target.platform} ${target.arch}`;
  return { reason: `it is built on ${where}, by .github/workflows/prebuild.yml` };
}

// ---------------------------------------------------------------------------------------------
// Sources and records

function listFiles(dir, rel = '') {
  const out = [];
  for (const entry of fs.readdirSync(path.join(dir, rel), { withFileTypes: true })) {
    const name = rel ? `${rel}/${entry.name}` : entry.name;
    if (entry.isDirectory()) out.push(...listFiles(dir, name));
    else if (entry.isFile()) out.push(name);
  }
  return out;
}

const sha256 = (data) => createHash('sha256').update(data).digest('hex');

/**
 * What a binary is built from: binding.gyp, native/** and node-addon-api's version (its headers
 * are compiled in). CRLF is hashed as LF, so a Windows checkout with autocrlf agrees with Linux.
 */
function sourceState() {
  const files = ['binding.gyp', ...listFiles(path.join(root, 'native')).map((f) => `native/${f}`)].sort();
  const lines = files.map((f) => `${sha256(fs.readFileSync(path.join(root, f), 'latin1').replace(/\r\n/g, '\n'))}  ${f}`);
  const napi = JSON.parse(fs.readFileSync(require.resolve('node-addon-api/package.json'), 'utf8')).version;
  const digest = sha256(`${lines.join('\n')}\nnode-addon-api ${napi}\n`);
  return { files, lines, napi, digest };
}

const recordPath = (target) => path.join(prebuildsDir, target.dir, `${target.file}.sources`);

function readRecord(file) {
  try {
    const fields = {};
    for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
      const m = /^([a-z0-9-]+): (.*)$/.exec(line);
      if (m) fields[m[1]] = m[2];
    }
    return fields;
  } catch {
    return null;
  }
}

function writeRecord(target, state, binarySha, info) {
  const text = [
    `# Sources of ${target.file} (${target.id}); \`node scripts/prebuild.mjs --check\` compares them with the checkout.`,
    `digest: sha256:${state.digest}`,
    `binary-sha256: ${binarySha}`,
    `target: ${target.id}`,
    `node-addon-api: ${state.napi}`,
    `node-headers: ${info.headers}`,
    `compiler: ${info.compiler}`,
    `built-on: ${host.platform}-${host.arch}${host.libc ? ` (${host.libc})` : ''}`,
    'files:',
    ...state.lines,
    '',
  ].join('\n');
  fs.writeFileSync(recordPath(target), text);
}

// ---------------------------------------------------------------------------------------------
// Binary headers: the CPU a file is for, and whether an ELF file still has its symbol table.

const ELF_MACHINE = { 62: 'x64', 183: 'arm64' };
const MACHO_CPU = { 0x01000007: 'x64', 0x0100000c: 'arm64' };
const PE_MACHINE = { 0x8664: 'x64', 0xaa64: 'arm64' };

function inspectBinary(file) {
  const b = fs.readFileSync(file);
  if (b.length > 64 && b.readUInt32BE(0) === 0x7f454c46) {
    if (b[4] !== 2 || b[5] !== 1) return { format: 'elf', arch: 'unknown (not 64-bit little-endian)' };
    const shoff = Number(b.readBigUInt64LE(0x28));
    const shentsize = b.readUInt16LE(0x3a);
    const shnum = b.readUInt16LE(0x3c);
    const shstrndx = b.readUInt16LE(0x3e);
    const section = (i) => shoff + i * shentsize;
    const strOff = Number(b.readBigUInt64LE(section(shstrndx) + 0x18));
    const sections = new Map();
    for (let i = 0; i < shnum; i++) {
      const nameOff = strOff + b.readUInt32LE(section(i));
      const at = section(i);
      sections.set(b.toString('latin1', nameOff, b.indexOf(0, nameOff)), { offset: Number(b.readBigUInt64LE(at + 0x18)), size: Number(b.readBigUInt64LE(at + 0x20)) });
    }
    // The C library it links (DT_NEEDED): glibc's libc.so.6 or musl's libc.musl-<arch>.so.1.
    const needed = [];
    const dynamic = sections.get('.dynamic');
    const dynstr = sections.get('.dynstr');
    if (dynamic && dynstr) {
      for (let at = dynamic.offset; at + 16 <= dynamic.offset + dynamic.size; at += 16) {
        if (b.readBigInt64LE(at) !== 1n) continue;
        const name = dynstr.offset + Number(b.readBigUInt64LE(at + 8));
        needed.push(b.toString('latin1', name, b.indexOf(0, name)));
      }
    }
    const libc = needed.some((n) => n.startsWith('libc.musl')) ? 'musl' : needed.includes('libc.so.6') ? 'glibc' : 'unknown';
    return { format: 'elf', arch: ELF_MACHINE[b.readUInt16LE(18)] ?? `machine ${b.readUInt16LE(18)}`, libc, stripped: !sections.has('.symtab') };
  }
  if (b.length > 8 && b.readUInt32LE(0) === 0xfeedfacf) {
    return { format: 'mach-o', arch: MACHO_CPU[b.readUInt32LE(4)] ?? `cputype ${b.readUInt32LE(4)}` };
  }
  if (b.length > 0x40 && b.toString('latin1', 0, 2) === 'MZ') {
    const pe = b.readUInt32LE(0x3c);
    if (b.toString('latin1', pe, pe + 4) === 'PE\0\0') {
      return { format: 'pe', arch: PE_MACHINE[b.readUInt16LE(pe + 4)] ?? `machine ${b.readUInt16LE(pe + 4)}` };
    }
  }
  return { format: 'unknown', arch: 'unknown' };
}

const FORMAT = { linux: 'elf', darwin: 'mach-o', win32: 'pe' };

/** Problems with one binary, as sentences; empty when it is present, fresh and well-formed. */
function problemsOf(target, state) {
  const binary = path.join(prebuildsDir, target.dir, target.file);
  if (!fs.existsSync(binary)) return ['missing'];
  const record = readRecord(recordPath(target));
  if (!record) return [`no ${target.file}.sources beside it, so what it was built from is unknown`];
  const problems = [];
  if (record.target !== target.id) problems.push(`its record is for ${record.target ?? 'no target'}, not ${target.id}`);
  if (record.digest !== `sha256:${state.digest}`) {
    const recorded = new Map(
      fs.readFileSync(recordPath(target), 'utf8')
        .split('\n')
        .map((l) => /^([0-9a-f]{64}) {2}(.+)$/.exec(l))
        .filter(Boolean)
        .map((m) => [m[2], m[1]]),
    );
    const now = new Map(state.lines.map((l) => [l.slice(66), l.slice(0, 64)]));
    const changed = [...new Set([...recorded.keys(), ...now.keys()])].filter((f) => recorded.get(f) !== now.get(f)).sort();
    if (record['node-addon-api'] !== state.napi) changed.push(`node-addon-api ${record['node-addon-api']} -> ${state.napi}`);
    problems.push(`stale: built from other sources (${changed.join(', ') || 'digest differs'})`);
  }
  if (record['binary-sha256'] !== sha256(fs.readFileSync(binary))) problems.push('the binary is not the one its record describes (replaced after it was built)');
  const seen = inspectBinary(binary);
  if (seen.format !== FORMAT[target.platform]) problems.push(`a ${seen.format} file, not ${FORMAT[target.platform]}`);
  else if (seen.arch !== target.arch) problems.push(`built for ${seen.arch}, not ${target.arch}`);
  if (target.libc && seen.libc && seen.libc !== target.libc) problems.push(`linked against ${seen.libc}, not ${target.libc}`);
  if (seen.stripped === false) problems.push('not stripped');
  return problems;
}

// ---------------------------------------------------------------------------------------------
// Building

/** node-gyp as a command prebuildify can spawn: npm's, an installed one, or whatever is on PATH. */
function nodeGypCommand(stage) {
  const candidates = [
    process.env.npm_config_node_gyp,
    (() => {
      try {
        return require.resolve('node-gyp/bin/node-gyp.js');
      } catch {
        return undefined;
      }
    })(),
    path.join(path.dirname(process.execPath), '..', 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'),
    path.join(path.dirname(process.execPath), 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'),
  ];
  const script = candidates.find((c) => c && fs.existsSync(c));
  if (!script) return process.platform === 'win32' ? 'node-gyp.cmd' : 'node-gyp';
  // prebuildify spawns one command (through a shell on Windows): a wrapper that runs the script
  // with this Node keeps paths with spaces working and needs no executable bit on the script.
  if (process.platform === 'win32') return `"${process.execPath}" "${script}"`;
  const wrapper = path.join(stage, 'node-gyp.sh');
  fs.writeFileSync(wrapper, `#!/bin/sh\nexec '${process.execPath.replace(/'/g, "'\\''")}' '${script.replace(/'/g, "'\\''")}' "$@"\n`, { mode: 0o755 });
  return wrapper;
}

/** Node's headers without a download: npm's nodedir, else the running Node's include/node. */
function nodeDir() {
  if (process.env.npm_config_nodedir) return process.env.npm_config_nodedir;
  // Windows also needs node.lib, which an installed Node lacks; node-gyp fetches both there.
  if (process.platform === 'win32') return undefined;
  const prefix = path.resolve(path.dirname(process.execPath), '..');
  return fs.existsSync(path.join(prefix, 'include', 'node', 'common.gypi')) ? prefix : undefined;
}

async function build(target, plan, state, verbose) {
  const prebuildify = require('prebuildify');
  const stage = path.join(cacheDir, target.id);
  fs.rmSync(stage, { recursive: true, force: true });
  fs.mkdirSync(stage, { recursive: true });
  for (const f of state.files) {
    fs.mkdirSync(path.dirname(path.join(stage, f)), { recursive: true });
    fs.copyFileSync(path.join(root, f), path.join(stage, f));
  }
  const nodedir = nodeDir();
  const env = { ...plan.env, JOBS: process.env.JOBS || 'max' };
  if (nodedir) env.npm_config_nodedir = nodedir;
  if (!verbose && !process.env.npm_config_loglevel) env.npm_config_loglevel = 'warn';
  const saved = {};
  for (const [k, v] of Object.entries(env)) {
    saved[k] = process.env[k];
    process.env[k] = v; // prebuildify hands process.env to node-gyp
  }
  const started = Date.now();
  try {
    await new Promise((resolve, reject) =>
      prebuildify(
        {
          cwd: stage,
          out: stage,
          name: NAME,
          platform: target.platform,
          arch: target.arch,
          napi: true,
          strip: true,
          stripBin: plan.stripBin,
          tagLibc: Boolean(target.libc),
          libc: target.libc,
          // N-API: any Node >= engines.node loads it; the headers of the running Node are at hand.
          targets: [{ runtime: 'node', target: process.versions.node }],
          nodeGyp: nodeGypCommand(stage),
          cache: path.join(cacheDir, 'node-gyp'),
        },
        (err) => (err ? reject(err) : resolve()),
      ),
    );
  } finally {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
  const built = path.join(stage, 'prebuilds', target.dir, target.file);
  if (!fs.existsSync(built)) throw new Error(`prebuildify did not produce ${path.relative(root, built)}`);
  // binding.gyp links the kernel levels by target_arch: a cross build that fell back to the
  // host's arch would show here before anything is copied.
  // (kernels_neon.a with make, libkernels_neon.a on macOS, lib/kernels_neon.lib with MSBuild.)
  const levels = { x64: 'kernels_avx512', arm64: 'kernels_neon' }[target.arch];
  const libs = listFiles(path.join(stage, 'build', 'Release')).map((f) => path.basename(f));
  if (!libs.some((f) => new RegExp(`^(lib)?${levels}\\.(a|lib)$`).test(f))) {
    throw new Error(`${levels} was not built: binding.gyp saw a target_arch other than ${target.arch}`);
  }
  const seen = inspectBinary(built);
  if (seen.arch !== target.arch) throw new Error(`the build produced a binary for ${seen.arch}, not ${target.arch}`);
  if (target.libc && seen.libc !== target.libc) throw new Error(`the build produced a binary linked against ${seen.libc}, not ${target.libc}`);
  if (seen.stripped === false) throw new Error('the build produced an unstripped binary');

  const destDir = path.join(prebuildsDir, target.dir);
  fs.mkdirSync(destDir, { recursive: true });
  const tmp = path.join(destDir, `.${target.file}.tmp`);
  fs.copyFileSync(built, tmp);
  fs.renameSync(tmp, path.join(destDir, target.file));
  writeRecord(target, state, sha256(fs.readFileSync(built)), { headers: nodedir ? `${process.versions.node} (${nodedir})` : process.versions.node, compiler: plan.compiler });
  const size = fs.statSync(path.join(destDir, target.file)).size;
  console.log(`prebuild: ${target.id}: built ${path.relative(root, path.join(destDir, target.file))} (${(size / 1024).toFixed(1)} KiB) in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  if (!process.env.SIMD_OPTIM_PREBUILD_KEEP_STAGE) fs.rmSync(stage, { recursive: true, force: true });
}

// ---------------------------------------------------------------------------------------------
// Main

function parseArgs(argv) {
  const opts = { mode: 'build', only: null, force: false, verbose: false, require: process.env.SIMD_OPTIM_PREBUILDS_REQUIRE || '' };
  for (const arg of argv) {
    const [key, value] = arg.split(/=(.*)/s);
    if (key === '--check') opts.mode = 'check';
    else if (key === '--pack') opts.mode = 'pack';
    else if (key === '--host') opts.mode = 'host';
    else if (key === '--force') opts.force = true;
    else if (key === '--verbose') opts.verbose = true;
    else if (key === '--only' && value) opts.only = value.split(',');
    else if (key === '--require' && value) opts.require = value;
    else {
      console.error(`prebuild: unknown argument ${arg} (see the comment at the top of scripts/prebuild.mjs)`);
      process.exit(2);
    }
  }
  const ids = (list) => {
    for (const id of list) {
      if (!byId.has(id)) {
        console.error(`prebuild: unknown target ${id}; known: ${TARGETS.map((t) => t.id).join(', ')}`);
        process.exit(2);
      }
    }
    return list.map((id) => byId.get(id));
  };
  opts.required =
    opts.require === 'all' ? TARGETS : opts.require === 'none' ? [] : ids(opts.require ? opts.require.split(',') : DEFAULT_REQUIRED);
  if (opts.only) opts.only = ids(opts.only);
  return opts;
}

/** Binaries under prebuilds/ that no known target accounts for (an old naming, a stray copy). */
function strays() {
  const known = new Set(TARGETS.map((t) => `${t.dir}/${t.file}`));
  const out = [];
  for (const dir of fs.existsSync(prebuildsDir) ? fs.readdirSync(prebuildsDir) : []) {
    const full = path.join(prebuildsDir, dir);
    if (!fs.statSync(full).isDirectory()) continue;
    for (const f of fs.readdirSync(full)) if (f.endsWith('.node') && !known.has(`${dir}/${f}`)) out.push(`${dir}/${f}`);
  }
  return out;
}

function check(state, required) {
  const failures = [];
  const present = TARGETS.filter((t) => fs.existsSync(path.join(prebuildsDir, t.dir, t.file)));
  for (const target of [...new Set([...required, ...present])]) {
    const problems = problemsOf(target, state);
    const where = `prebuilds/${target.dir}/${target.file}`;
    if (problems.length === 0) console.log(`prebuild: ok      ${target.id.padEnd(17)} ${where}`);
    else failures.push(`${target.id} (${where}): ${problems.join('; ')}`);
  }
  for (const stray of strays()) {
    failures.push(`prebuilds/${stray}: not a file of any known target (node-gyp-build could pick it); delete it`);
  }
  return failures;
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  const state = sourceState();

  if (opts.mode !== 'check') {
    let wanted;
    if (opts.only) wanted = opts.only;
    else if (opts.mode === 'host') {
      if (!hostTarget) throw new Error(`no prebuild target for ${host.platform}-${host.arch}`);
      wanted = [hostTarget];
    } else {
      // What can be built here among the required set and this machine's own target.
      wanted = [...new Set([...(hostTarget ? [hostTarget] : []), ...opts.required])];
    }
    const explicit = Boolean(opts.only) || opts.mode === 'host';
    const cannot = [];
    for (const target of wanted) {
      if (!opts.force && problemsOf(target, state).length === 0) {
        if (opts.mode !== 'pack') console.log(`prebuild: fresh   ${target.id.padEnd(17)} prebuilds/${target.dir}/${target.file}`);
        continue;
      }
      const plan = buildPlan(target);
      if (plan.reason) {
        cannot.push(`${target.id}: cannot be built here: ${plan.reason}`);
        continue;
      }
      await build(target, plan, state, opts.verbose);
    }
    for (const line of cannot) console.warn(`prebuild: ${line}`);
    if (explicit && cannot.length > 0) process.exit(1);
    if (opts.mode === 'build' || opts.mode === 'host') return;
  }

  const failures = check(state, opts.required);
  if (failures.length > 0) {
    console.error(`\nprebuild: ${opts.mode === 'pack' ? 'refusing to pack: ' : ''}the prebuilt binaries are not ready:`);
    for (const f of failures) console.error(`  - ${f}`);
    console.error(
      `\nRequired: ${opts.required.map((t) => t.id).join(', ') || 'none'}. \`node scripts/prebuild.mjs\` builds what this machine can ` +
        '(linux-arm64 needs g++-aarch64-linux-gnu on Debian/Ubuntu x64); the other platforms come from ' +
        '.github/workflows/prebuild.yml, unpacked into prebuilds/ from a build of these same sources.',
    );
    process.exit(1);
  }
}

main().catch((error) => {
  console.error(`prebuild: ${error.message}`);
  process.exit(1);
});
