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
import { Adam, loadCheckpoint, saveCheckpoint, saveCheckpointAsync } from '../lib/index.js';
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
    // A writer that is certainly dead (its pid exited), one of this thread that is not writing
    // (a process that had this pid before), and one of a live process, which may still be writing.
    const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' }).stdout;
    const base = path.basename(file);
    fs.writeFileSync(path.join(work, `.${base}.${dead}.0.0123456789ab.tmp`), 'x');
    fs.writeFileSync(path.join(work, `.${base}.${process.pid}.${threadId}.0123456789ab.tmp`), 'x');
    const live = `.${base}.${process.ppid}.0.0123456789ab.tmp`;
    fs.writeFileSync(path.join(work, live), 'x');
    const left = temporaries(work);
    expect(left.length).toBeGreaterThanOrEqual(3);
    const opt = trained(10, 9);
    saveCheckpoint(file, opt);
    expect(temporaries(work)).toEqual([live]);
    expect(loaded(file, 10)).toBe(json(opt.stateDict()));
    // Another file's temporaries are not this save's business.
    fs.writeFileSync(path.join(work, `.other.safetensors.${dead}.0.0123456789ab.tmp`), 'x');
    await saveCheckpointAsync(file, opt);
    expect(temporaries(work).sort()).toEqual([`.other.safetensors.${dead}.0.0123456789ab.tmp`, live].sort());
  }, 60_000);
});
