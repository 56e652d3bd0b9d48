#!/usr/bin/env node
// The install step (package.json "install"): never fails for want of a compiler.
//
// 1. A prebuilt binary in prebuilds/ that loads on this machine (node-gyp-build's choice), or an
//    earlier build: nothing to do. `npm install --build-from-source` (npm_config_build_from_source)
//    or SIMD_OPTIM_BUILD_FROM_SOURCE=1 skips this and builds.
// 2. Otherwise build from source with node-gyp, its output kept in build/install.log.
// 3. If that fails but a prebuilt binary loads (a build from source was asked for), say so and use
//    the prebuilt one.
// 4. If that fails (no compiler, no make, no python3...), say so in one line, record why in
//    build/native-unavailable.json (lib/bridge/backend.ts names the reason when it falls back) and exit 0:
//    the package works without the addon, with the TypeScript fallback.
'use strict';
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const buildDir = path.join(root, 'build');
const marker = path.join(buildDir, 'native-unavailable.json');
const log = path.join(buildDir, 'install.log');

const truthy = (value) => value !== undefined && value !== '' && value !== '0' && value !== 'false';
const fromSource = truthy(process.env.npm_config_build_from_source) || truthy(process.env.SIMD_OPTIM_BUILD_FROM_SOURCE);

function loadable() {
  try {
    const addon = require('node-gyp-build')(root);
    return typeof addon.step === 'function';
  } catch {
    return false;
  }
}

/** node-gyp: npm's (npm passes its path), an installed one, or the one on PATH. */
function nodeGyp() {
  const fromNpm = process.env.npm_config_node_gyp;
  if (fromNpm && fs.existsSync(fromNpm)) return [process.execPath, fromNpm];
  try {
    return [process.execPath, require.resolve('node-gyp/bin/node-gyp.js')];
  } catch {
    return [process.platform === 'win32' ? 'node-gyp.cmd' : 'node-gyp'];
  }
}

/**
 * Why node-gyp failed, in one line: its own error (`not found: make`), and when that only says
 * the compiler failed (`make failed with exit code: 2`), the compiler's first error too.
 */
function reasonOf(output) {
  const lines = output.split(/\r?\n/);
  const stack = lines.find((l) => /gyp ERR! stack (Error|\w+Error):/.test(l));
  const compiler = lines.find((l) => !/^gyp /.test(l) && /(^|\s|:)(fatal error|error)( [A-Z]+\d+)?:/.test(l));
  let reason;
  if (stack) {
    reason = stack.replace(/.*gyp ERR! stack (?:Error: )?/, '').trim();
    if (compiler && /failed with exit code/.test(reason)) reason += `: ${compiler.trim()}`;
  } else {
    const error = compiler ?? lines.find((l) => /\berror\b/i.test(l) && !/gyp ERR! (not ok|cwd|node -v|node-gyp -v|command|System)/.test(l));
    reason = (error ?? lines.filter(Boolean).pop() ?? 'unknown error').replace(/^gyp ERR! /, '').trim();
  }
  return reason.length > 300 ? `${reason.slice(0, 297)}...` : reason;
}

if (!fromSource && loadable()) {
  fs.rmSync(marker, { force: true });
  process.exit(0);
}

const [command, ...args] = nodeGyp();
// maxBuffer: a compile that prints many warnings must not be killed for it (the default is 1 MiB).
const run = spawnSync(command, [...args, 'rebuild'], {
  cwd: root, encoding: 'utf8', shell: command.endsWith('.cmd'), windowsHide: true, maxBuffer: 64 * 1024 * 1024,
});
const output = `${run.stdout ?? ''}${run.stderr ?? ''}${run.error ? String(run.error) : ''}`;
fs.mkdirSync(buildDir, { recursive: true });
fs.writeFileSync(log, output);

if (run.status === 0 && loadable()) {
  fs.rmSync(marker, { force: true });
  process.exit(0);
}

const reason = run.error ? `node-gyp could not be run: ${run.error.message}` : reasonOf(output);
const where = `${process.platform}-${process.arch}`;
if (fromSource && loadable()) {
  // Asked to build from source, the build failed, but a prebuilt binary fits: the package is native.
  fs.rmSync(marker, { force: true });
  console.warn(`simd-optim: the build from source failed (${reason}); the prebuilt binary for ${where} will be used (build log: ${log}).`);
  process.exit(0);
}
fs.writeFileSync(marker, JSON.stringify({ platform: where, node: process.version, reason, log }, null, 2) + '\n');
console.warn(
  `simd-optim: no prebuilt binary for ${where} and the native build failed (${reason}); the TypeScript fallback ` +
    'will be used, about 30x slower. For the native one install python3, make and a C++17 compiler, then run ' +
    `\`npm rebuild simd-optim\` (build log: ${log}).`,
);
process.exit(0);
