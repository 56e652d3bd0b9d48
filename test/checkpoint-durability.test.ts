// Nothing is lost: a save on a full disk, a save whose fsync fails, a save that makes short
// writes, and writers killed mid-save never leave a truncated checkpoint in place of a good one,
// and their temporary files do not pile up.
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { threadId } from 'node:worker_threads';
import { afterAll, afterEach, describe, expect, test } from 'vitest';

import { fileOps } from '../lib/io/checkpoint.js';
import { ioLimits } from '../lib/io/checkpoint-read.js';
import { acquireTemporary, origin, releaseTemporary, removeStaleTemporaries } from '../lib/io/temporary-files.js';
import { Adam, loadCheckpoint, loadCheckpointAsync, saveCheckpoint, saveCheckpointAsync } from '../lib/index.js';
import { normal, rng } from './helpers.js';

const ROOT = path.resolve(__dirname, '..');
const dir = fs.mkdtempSync(path.join(tmpdir(), 'simd-optim-durability-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

const json = (value: unknown) => JSON.stringify(value, (_k, v) => (v instanceof Float32Array ? Array.from(v) : v));
const temporaries = (where: string) => fs.readdirSync(where).filter((f) => f.endsWith('.tmp'));

function trained(n: number, seed = 1) {
  const random = rng(seed);
  const params = [normal(random, n)];
  const opt = new Adam(params);
  opt.step([normal(random, n)]);
  return opt;
}

/** Loads `file` into a fresh optimizer like `like` and returns its state, as JSON. */
function loaded(file: string, n: number): string {
  const opt = new Adam([new Float32Array(n)]);
  loadCheckpoint(file, opt);
  return json(opt.stateDict());
}

function errorOf(fn: () => unknown): NodeJS.ErrnoException {
  try {
    fn();
  } catch (error) {
    return error as NodeJS.ErrnoException;
  }
  throw new Error('expected a throw');
}

describe('injected failures', () => {
  const original = { ...fileOps };
  afterEach(() => Object.assign(fileOps, original));

  test.each(['sync', 'async'])('EIO from fsync (%s): the save throws, the temporary file is gone, the previous file loads', async (mode) => {
    const file = path.join(dir, `eio-${mode}.safetensors`);
    const first = trained(50, 1);
    saveCheckpoint(file, first);
    const before = fs.readFileSync(file);
    const eio = () => Object.assign(new Error('EIO: i/o error, fsync'), { code: 'EIO' });
    fileOps.fsyncSync = () => {
      throw eio();
    };
    fileOps.sync = () => Promise.reject(eio());
    const second = trained(50, 2);
    const error = mode === 'sync' ? errorOf(() => saveCheckpoint(file, second)) : await saveCheckpointAsync(file, second).then(() => null, (e: unknown) => e as NodeJS.ErrnoException);
    expect(error?.code).toBe('EIO');
    expect(error?.message).toMatch(/previous file \(if any\) is unchanged/);
    expect(fs.readFileSync(file).equals(before)).toBe(true);
    expect(temporaries(dir)).toEqual([]);
    expect(loaded(file, 50)).toBe(json(first.stateDict()));
  });

  test.each(['sync', 'async'])('short writes (%s) are continued until every byte is written', async (mode) => {
    const file = path.join(dir, `short-${mode}.safetensors`);
    let calls = 0;
    fileOps.writeSync = (fd, buffer, offset, length) => (calls++, fs.writeSync(fd, buffer, offset, Math.min(length, 13)));
    fileOps.write = async (handle, buffer, offset, length) => (calls++, (await handle.write(buffer, offset, Math.min(length, 13))).bytesWritten);
    const opt = trained(100, 3);
    if (mode === 'sync') saveCheckpoint(file, opt);
    else await saveCheckpointAsync(file, opt);
    expect(calls).toBeGreaterThan(50);
    expect(loaded(file, 100)).toBe(json(opt.stateDict()));
  });

  test.each(['sync', 'async'])('a write that makes no progress (%s) is an error, not a truncated file', async (mode) => {
    const file = path.join(dir, `stuck-${mode}.safetensors`);
    const first = trained(50, 4);
    saveCheckpoint(file, first);
    fileOps.writeSync = (fd, buffer, offset, length) => (length > 64 ? fs.writeSync(fd, buffer, offset, 64) : 0);
    fileOps.write = async (handle, buffer, offset, length) => (length > 64 ? (await handle.write(buffer, offset, 64)).bytesWritten : 0);
    const second = trained(50, 5);
    const error = mode === 'sync' ? errorOf(() => saveCheckpoint(file, second)) : await saveCheckpointAsync(file, second).then(() => null, (e: unknown) => e as NodeJS.ErrnoException);
    expect(error?.code).toBe('EIO');
    expect(temporaries(dir)).toEqual([]);
    expect(loaded(file, 50)).toBe(json(first.stateDict()));
  });
});

// A tiny tmpfs: the real ENOSPC path. Mounting needs root (CAP_SYS_ADMIN); elsewhere these tests
// are skipped, and say so.
const mountPoint = fs.mkdtempSync(path.join(tmpdir(), 'simd-optim-tmpfs-'));
const mount = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=256k', 'tmpfs', mountPoint], { encoding: 'utf8' });
const mounted = mount.status === 0;
if (!mounted) console.warn(`SKIPPED: the full-disk tests need root to mount a tmpfs (${(mount.stderr || String(mount.error)).trim()})`);
afterAll(() => {
  if (mounted) spawnSync('umount', [mountPoint]);
  fs.rmSync(mountPoint, { recursive: true, force: true });
});

describe.skipIf(!mounted)('on a full file system (a 256 KiB tmpfs)', () => {
  test.each(['sync', 'async'])('a save that does not fit (%s) throws ENOSPC and leaves the previous checkpoint', async (mode) => {
    const file = path.join(mountPoint, `full-${mode}.safetensors`);
    const small = trained(1000, 6);
    saveCheckpoint(file, small);
    const big = trained(60_000, 7); // 480 KB of state: the file does not fit
    const error = mode === 'sync' ? errorOf(() => saveCheckpoint(file, big)) : await saveCheckpointAsync(file, big).then(() => null, (e: unknown) => e as NodeJS.ErrnoException);
    expect(error?.code).toBe('ENOSPC');
    expect(temporaries(mountPoint)).toEqual([]);
    expect(loaded(file, 1000)).toBe(json(small.stateDict()));
    // The space of the failed write is free again: a save that fits succeeds.
    const other = trained(1000, 8);
    saveCheckpoint(file, other);
    expect(loaded(file, 1000)).toBe(json(other.stateDict()));
  });
});

describe('temporary files of dead writers', () => {
  test('writers killed mid-save leave temporary files; the next save to the same path removes them', async () => {
    const work = fs.mkdtempSync(path.join(dir, 'kill-'));
    const file = path.join(work, 'model.safetensors');
    const writer = `
      const m = require(${JSON.stringify(path.join(ROOT, 'dist', 'index.js'))});
      const p = new Float32Array(1 << 20), g = new Float32Array(1 << 20).fill(0.5);
      const opt = new m.Adam([p]);
      opt.step([g]);
      process.stdout.write('ready\\n');
      for (;;) m.saveCheckpoint(${JSON.stringify(file)}, opt);`;
    for (let round = 0; round < 8; round++) {
      const child = spawn(process.execPath, ['-e', writer], { stdio: ['ignore', 'pipe', 'inherit'] });
      await new Promise<void>((resolve) => child.stdout.once('data', () => resolve()));
      await new Promise((resolve) => setTimeout(resolve, 20 + Math.random() * 60));
      child.kill('SIGKILL');
      await new Promise((resolve) => child.once('exit', resolve));
    }
    // Named as this package names them: <origin>.<pid>.<thread>.<12 hex>. A writer that is
    // certainly dead (its pid exited), one of this thread that is not writing (a process that had
    // this pid before), one of a live process and one of another of this process's threads (both
    // may still be writing).
    const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' }).stdout;
    const base = path.basename(file);
    const named = (...parts: (string | number)[]) => `.${base}.${parts.join('.')}.tmp`;
    fs.writeFileSync(path.join(work, named(origin, dead, 0, '0123456789ab')), 'x');
    fs.writeFileSync(path.join(work, named(origin, process.pid, threadId, '0123456789ab')), 'x');
    const live = [named(origin, process.ppid, 0, '0123456789ab'), named(origin, process.pid, threadId + 1, '0123456789ab')];
    for (const name of live) fs.writeFileSync(path.join(work, name), 'x');
    const left = temporaries(work);
    expect(left.length).toBeGreaterThanOrEqual(4);
    const opt = trained(10, 9);
    saveCheckpoint(file, opt);
    expect(temporaries(work).sort()).toEqual(live.sort());
    expect(loaded(file, 10)).toBe(json(opt.stateDict()));
    // Another file's temporaries are not this save's business.
    const other = `.other.safetensors.${origin}.${dead}.0.0123456789ab.tmp`;
    fs.writeFileSync(path.join(work, other), 'x');
    await saveCheckpointAsync(file, opt);
    expect(temporaries(work).sort()).toEqual([other, ...live].sort());
  }, 60_000);
});

describe('temporary files of writers this process cannot judge', () => {
  const HOUR = 3600;
  function setUp(name: string): { work: string; file: string; at: (n: string) => string } {
    const work = fs.mkdtempSync(path.join(dir, `${name}-`));
    return { work, file: path.join(work, 'model.safetensors'), at: (n: string) => path.join(work, n) };
  }
  /** Sets a file's modification time `seconds` into the past. */
  const age = (file: string, seconds: number) => {
    const t = Date.now() / 1000 - seconds;
    fs.utimesSync(file, t, t);
  };

  test('another host or pid namespace: left alone unless older than a day, whatever its pid', () => {
    // A container sharing the volume, or another machine on NFS: its pid 1 or 4242 says nothing here.
    const { file, work, at } = setUp('origin');
    const foreign = ['.model.safetensors.0badc0de.1.0.0123456789ab.tmp', `.model.safetensors.0badc0de.${process.pid}.${threadId}.0123456789ab.tmp`];
    const old = '.model.safetensors.0badc0de.4242.0.0123456789ab.tmp';
    for (const name of [...foreign, old]) fs.writeFileSync(at(name), 'x');
    age(at(foreign[0]!), 23 * HOUR);
    age(at(old), 25 * HOUR);
    saveCheckpoint(file, trained(4));
    expect(temporaries(work).sort()).toEqual(foreign.sort());
  });

  test('names of older versions (no origin): removed only once an hour old', () => {
    const { file, work, at } = setUp('legacy');
    const recent = [`.model.safetensors.${process.pid}.0123abcd.tmp`, `.model.safetensors.1.0.0123456789ab.tmp`];
    const old = [`.model.safetensors.4242.89abcdef.tmp`, `.model.safetensors.4242.0.0123456789ab.tmp`];
    for (const name of [...recent, ...old]) fs.writeFileSync(at(name), 'x');
    for (const name of old) age(at(name), 2 * HOUR);
    saveCheckpoint(file, trained(4));
    expect(temporaries(work).sort()).toEqual(recent.sort());
  });

  test('a file in flight in one copy of the package is not removed by another copy in the same thread', () => {
    // Two versions of the package in one dependency tree share the set of saves in flight.
    const { file, at } = setUp('copies');
    const copy = fs.mkdtempSync(path.join(dir, 'copy-'));
    fs.cpSync(path.join(ROOT, 'dist'), copy, { recursive: true });
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const other = require(path.join(copy, 'io', 'temporary-files.js')) as typeof import('../lib/io/temporary-files.js');
    expect(other.removeStaleTemporaries).not.toBe(removeStaleTemporaries);
    const tmp = acquireTemporary(file);
    fs.writeFileSync(tmp, 'x');
    other.removeStaleTemporaries(file);
    expect(fs.existsSync(tmp)).toBe(true);
    releaseTemporary(tmp);
    other.removeStaleTemporaries(file); // now it is a file of this thread that no save is writing
    expect(fs.existsSync(tmp)).toBe(false);
    expect(fs.existsSync(at('model.safetensors'))).toBe(false);
  });

  test('a stale name that cannot be removed does not fail the save', async () => {
    const { file, work, at } = setUp('unremovable');
    const stuck = `.model.safetensors.${origin}.${process.pid}.${threadId}.0123456789ab.tmp`;
    fs.mkdirSync(at(stuck)); // rm without recursive refuses a directory
    fs.writeFileSync(at(path.join(stuck, 'inside')), 'x');
    const opt = trained(4);
    saveCheckpoint(file, opt);
    await saveCheckpointAsync(file, opt);
    expect(loaded(file, 4)).toBe(json(opt.stateDict()));
    expect(temporaries(work)).toEqual([stuck]);
  });
});

describe('files larger than one read or write', () => {
  // Node refuses a single read or write above 2 GiB (and readFileSync a file above it); checkpoints
  // are read and written in chunks of ioLimits.chunkBytes (1 GiB). Lowered here to an odd size,
  // not a multiple of 4, so that every tensor spans chunks and chunks split floats.
  const original = { ...ioLimits };
  afterEach(() => Object.assign(ioLimits, original));

  test('save and load in chunks of 4093 bytes give the same state, sync and async', async () => {
    ioLimits.chunkBytes = 4093;
    let largest = 0;
    const write = fileOps.writeSync, writeAsync = fileOps.write;
    fileOps.writeSync = (fd, buffer, offset, length) => ((largest = Math.max(largest, length)), write(fd, buffer, offset, length));
    fileOps.write = (handle, buffer, offset, length) => ((largest = Math.max(largest, length)), writeAsync(handle, buffer, offset, length));
    try {
      const opt = trained(100_003, 5);
      const file = path.join(dir, 'chunked.safetensors');
      saveCheckpoint(file, opt);
      expect(largest).toBe(4093);
      expect(loaded(file, 100_003)).toBe(json(opt.stateDict()));
      largest = 0;
      await saveCheckpointAsync(file, opt);
      expect(largest).toBe(4093);
      const again = new Adam([new Float32Array(100_003)]);
      await loadCheckpointAsync(file, again);
      expect(json(again.stateDict())).toBe(json(opt.stateDict()));
    } finally {
      fileOps.writeSync = write;
      fileOps.write = writeAsync;
    }
  });

  test('a file that shrinks between its header and its data is refused, the optimizer unchanged', () => {
    ioLimits.chunkBytes = 4093;
    const file = path.join(dir, 'shrinking.safetensors');
    saveCheckpoint(file, trained(50_000, 6));
    const opt = trained(50_000, 7), before = json(opt.stateDict());
    // A file cut after the checks of its size were made is what a concurrent truncation looks like.
    fs.truncateSync(file, fs.statSync(file).size - 10);
    expect(() => loadCheckpoint(file, opt)).toThrow(RangeError);
    expect(json(opt.stateDict())).toBe(before);
  });
});

describe('permissions', () => {
  test('replacing a checkpoint keeps its permission bits, sync and async', async () => {
    const file = path.join(dir, 'mode.safetensors');
    const opt = trained(8);
    saveCheckpoint(file, opt);
    fs.chmodSync(file, 0o640);
    saveCheckpoint(file, opt);
    expect(fs.statSync(file).mode & 0o777).toBe(0o640);
    fs.chmodSync(file, 0o604);
    await saveCheckpointAsync(file, opt);
    expect(fs.statSync(file).mode & 0o777).toBe(0o604);
  });
});
