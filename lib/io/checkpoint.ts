/**
 * Optimizer checkpoints: saveCheckpoint / loadCheckpoint and their async forms, in the
 * safetensors layout of lib/io/checkpoint-format.ts.
 *
 * Nothing is lost. A save writes a temporary file in the target's directory, checks every write
 * (a short write is continued, an error such as ENOSPC or EIO from fsync is thrown), fsyncs it,
 * renames it over the target and fsyncs the directory; on any failure before the rename it removes
 * the temporary file and throws, and the previous checkpoint is left as it was. Temporary files of
 * a writer that died (killed mid-save) are removed by the next save to the same path. A load reads
 * and checks the whole file (layout, sizes, checksum) before the optimizer checks that the state
 * fits it; nothing changes unless everything does.
 */
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { threadId } from 'node:worker_threads';

import { decode, encode, type Checksum } from './checkpoint-format.js';
import type { SchedulerStateDict } from '../schedules/lr-scheduler.js';
import type { OptimizerStateDict } from '../optimizers/state-dict.js';
import { booleanOption, checkOptionsObject, describe, readArray } from '../core/validate.js';

export type { Checksum } from './checkpoint-format.js';

/** What saveCheckpoint and loadCheckpoint need of an optimizer. */
export interface Checkpointable {
  stateDict(): OptimizerStateDict;
  loadStateDict(stateDict: OptimizerStateDict): void;
}

/** What a checkpoint needs of a learning-rate scheduler (every scheduler of this package). */
export interface CheckpointableScheduler {
  stateDict(): SchedulerStateDict;
  loadStateDict(state: SchedulerStateDict): void;
}

/** Options of {@link saveCheckpoint}. */
export interface SaveCheckpointOptions {
  /**
   * Schedulers of this optimizer whose state the checkpoint carries too (their stateDict()). Give
   * the same kinds, in the same order, to loadCheckpoint to resume the schedule where it was.
   */
  schedulers?: readonly CheckpointableScheduler[];
}

/** Options of {@link loadCheckpoint}. */
export interface LoadCheckpointOptions {
  /**
   * Refuse a file whose header is not covered by a checksum: one written by another safetensors
   * writer (no checksum), or by simd-optim's format 1 (a checksum of the data only). Default false.
   */
  requireChecksum?: boolean;
  /**
   * Schedulers to restore from the checkpoint, as many as were saved with it, in the same order
   * (construct them on the optimizer first, as when training started). The optimizer and all of
   * them are restored, or, if any state does not fit, none is.
   */
  schedulers?: readonly CheckpointableScheduler[];
}

/** What a load found. */
export interface CheckpointInfo {
  /**
   * What the file's sha256 covered and was verified against: 'all' (the header's content and the
   * data: files this version writes), 'data' (format 1 files: the data only), 'none' (no checksum:
   * a file written by another safetensors writer; its layout and every value were still checked).
   */
  checksum: Checksum;
  /** How many schedulers' states the file holds (restored when options.schedulers was given). */
  schedulers: number;
}

/** What a save needs of an open file (fs.promises.FileHandle), typed without Node's types. @internal */
export interface WritableFile {
  write(buffer: Uint8Array, offset: number, length: number): Promise<{ bytesWritten: number }>;
  sync(): Promise<void>;
}

/**
 * The file operations a save performs, called through this object so the tests can inject
 * failures (a short write, EIO from fsync). @internal
 */
export const fileOps = {
  writeSync: (fd: number, buffer: Uint8Array, offset: number, length: number): number => fs.writeSync(fd, buffer, offset, length),
  fsyncSync: (fd: number): void => fs.fsyncSync(fd),
  write: async (handle: WritableFile, buffer: Uint8Array, offset: number, length: number): Promise<number> =>
    (await handle.write(buffer, offset, length)).bytesWritten,
  sync: (handle: WritableFile): Promise<void> => handle.sync(),
};

/** options.schedulers: a list of objects with stateDict and loadStateDict, read once. */
function readSchedulers(where: string, value: unknown): CheckpointableScheduler[] | undefined {
  if (value === undefined) return undefined;
  return readArray(where, 'options.schedulers', value, 'an array of schedulers').map((s, i) => {
    const scheduler = s as Partial<CheckpointableScheduler> | null;
    if (scheduler === null || typeof scheduler !== 'object' || typeof scheduler.stateDict !== 'function' || typeof scheduler.loadStateDict !== 'function') {
      throw new TypeError(`${where}: options.schedulers[${i}] must be a scheduler of this package (with stateDict and loadStateDict), got ${describe(s)}`);
    }
    return scheduler as CheckpointableScheduler;
  });
}

function saveOptions(where: string, options: unknown): unknown[] {
  const o = checkOptionsObject(where, 'options', options, ['schedulers']);
  return (readSchedulers(where, o['schedulers']) ?? []).map((s) => s.stateDict());
}

function checkArguments(where: string, file: unknown, optimizer: unknown): asserts file is string {
  if (typeof file !== 'string' || file === '') throw new TypeError(`${where}: path must be a non-empty string, got ${describe(file)}`);
  const o = optimizer as Partial<Checkpointable> | null;
  if (o === null || typeof o !== 'object' || typeof o.stateDict !== 'function' || typeof o.loadStateDict !== 'function') {
    throw new TypeError(`${where}: optimizer must be an optimizer of this package (with stateDict and loadStateDict), got ${describe(optimizer)}`);
  }
}

// Temporary files: `.<target name>.<pid>.<threadId>.<random>.tmp`, beside the target.
const inFlight = new Set<string>();

function temporaryName(file: string): string {
  return path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.${threadId}.${randomBytes(6).toString('hex')}.tmp`);
}

/**
 * Whether `name` is a temporary file of `base` left by a writer that is gone: another process
 * that no longer exists, or this thread when it is not writing it now (a process that had this
 * pid before, as after a container restart). Another live process's files, and those of this
 * process's other threads, are left alone: they may be writing them.
 */
function isStale(name: string, base: string): boolean {
  const prefix = `.${base}.`;
  if (!name.startsWith(prefix) || !name.endsWith('.tmp')) return false;
  const parts = name.slice(prefix.length, -4).split('.');
  let pid: number, thread: number;
  if (parts.length === 3 && /^\d+$/.test(parts[0]!) && /^\d+$/.test(parts[1]!) && /^[0-9a-f]+$/.test(parts[2]!)) {
    pid = Number(parts[0]);
    thread = Number(parts[1]);
  } else if (parts.length === 2 && /^\d+$/.test(parts[0]!) && /^[0-9a-f]{8}$/.test(parts[1]!)) {
    pid = Number(parts[0]); // the names of format 1 writers, which had no thread id
    thread = -1;
  } else {
    return false;
  }
  if (pid === process.pid) return thread === -1 || (thread === threadId && !inFlight.has(name));
  try {
    process.kill(pid, 0);
    return false;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

function removeStaleTemporaries(file: string): void {
  const base = path.basename(file);
  let names: string[];
  try {
    names = fs.readdirSync(path.dirname(file));
  } catch {
    return; // the save itself will report a missing or unreadable directory
  }
  for (const name of names) {
    if (isStale(name, base)) fs.rmSync(path.join(path.dirname(file), name), { force: true });
  }
}

async function removeStaleTemporariesAsync(file: string): Promise<void> {
  const base = path.basename(file);
  let names: string[];
  try {
    names = await fs.promises.readdir(path.dirname(file));
  } catch {
    return;
  }
  for (const name of names) {
    if (isStale(name, base)) await fs.promises.rm(path.join(path.dirname(file), name), { force: true });
  }
}

/** The error of a failed save: what failed, with the file system's code kept. */
function saveError(where: string, file: string, error: unknown): Error {
  const cause = error as NodeJS.ErrnoException;
  const wrapped = new Error(`${where}: writing ${file} failed, the previous file (if any) is unchanged: ${cause?.message ?? String(error)}`, { cause });
  if (cause?.code !== undefined) (wrapped as NodeJS.ErrnoException).code = cause.code;
  return wrapped;
}

function shortWrite(written: number, wanted: number): Error {
  const error = new Error(`a write wrote ${written} of ${wanted} bytes and then no more`) as NodeJS.ErrnoException;
  error.code = 'EIO';
  return error;
}

function writeAllSync(fd: number, chunk: Uint8Array): void {
  for (let offset = 0; offset < chunk.byteLength;) {
    const written = fileOps.writeSync(fd, chunk, offset, chunk.byteLength - offset);
    if (!(written > 0)) throw shortWrite(offset, chunk.byteLength);
    offset += written;
  }
}

async function writeAll(handle: fs.promises.FileHandle, chunk: Uint8Array): Promise<void> {
  for (let offset = 0; offset < chunk.byteLength;) {
    const written = await fileOps.write(handle, chunk, offset, chunk.byteLength - offset);
    if (!(written > 0)) throw shortWrite(offset, chunk.byteLength);
    offset += written;
  }
}

/** Codes of platforms and file systems that cannot fsync a directory; the rename is atomic still. */
const NO_DIRECTORY_SYNC = new Set(['EINVAL', 'EISDIR', 'EPERM', 'ENOTSUP', 'EBADF', 'EACCES']);

function directorySyncError(where: string, file: string, error: unknown): Error | null {
  const code = (error as NodeJS.ErrnoException).code;
  if (code !== undefined && NO_DIRECTORY_SYNC.has(code)) return null;
  return saveError(`${where} (the new file is in place, but its directory could not be synced)`, file, error);
}

/**
 * Writes the optimizer's state (its stateDict) to `file`, atomically: a reader sees the old file
 * or the new one, never a part of it, even if the process dies on the way or the disk is full.
 * @throws TypeError naming a bad argument; an Error with the file system's `code` (ENOSPC, EIO,
 *   ENOENT, ...) when writing fails, the previous file, if any, then left as it was.
 */
export function saveCheckpoint(file: string, optimizer: Checkpointable, options?: SaveCheckpointOptions): void {
  const where = 'saveCheckpoint';
  checkArguments(where, file, optimizer);
  const schedulers = saveOptions(where, options);
  const { header, chunks } = encode(where, optimizer.stateDict(), schedulers);
  removeStaleTemporaries(file);
  const tmp = temporaryName(file);
  inFlight.add(path.basename(tmp));
  let fd = -1;
  try {
    fd = fs.openSync(tmp, 'wx');
    writeAllSync(fd, header);
    for (const chunk of chunks) writeAllSync(fd, chunk);
    fileOps.fsyncSync(fd);
    const closing = fd;
    fd = -1;
    fs.closeSync(closing);
    fs.renameSync(tmp, file);
  } catch (error) {
    try {
      if (fd >= 0) fs.closeSync(fd);
    } finally {
      fs.rmSync(tmp, { force: true });
    }
    throw saveError(where, file, error);
  } finally {
    inFlight.delete(path.basename(tmp));
  }
  try {
    const dir = fs.openSync(path.dirname(file), 'r');
    try {
      fs.fsyncSync(dir);
    } finally {
      fs.closeSync(dir);
    }
  } catch (error) {
    const failure = directorySyncError(where, file, error);
    if (failure) throw failure;
  }
}

/**
 * saveCheckpoint without blocking the event loop. The state is captured when it is called, so the
 * optimizer may step while the file is written.
 */
export async function saveCheckpointAsync(file: string, optimizer: Checkpointable, options?: SaveCheckpointOptions): Promise<void> {
  const where = 'saveCheckpointAsync';
  checkArguments(where, file, optimizer);
  const schedulers = saveOptions(where, options);
  const { header, chunks } = encode(where, optimizer.stateDict(), schedulers);
  await removeStaleTemporariesAsync(file);
  const tmp = temporaryName(file);
  inFlight.add(path.basename(tmp));
  let handle: fs.promises.FileHandle | null = null;
  try {
    handle = await fs.promises.open(tmp, 'wx');
    await writeAll(handle, header);
    for (const chunk of chunks) await writeAll(handle, chunk);
    await fileOps.sync(handle);
    const closing = handle;
    handle = null;
    await closing.close();
    await fs.promises.rename(tmp, file);
  } catch (error) {
    if (handle) await handle.close().catch(() => undefined);
    await fs.promises.rm(tmp, { force: true }).catch(() => undefined);
    throw saveError(where, file, error);
  } finally {
    inFlight.delete(path.basename(tmp));
  }
  try {
    const dir = await fs.promises.open(path.dirname(file), 'r');
    try {
      await dir.sync();
    } finally {
      await dir.close();
    }
  } catch (error) {
    const failure = directorySyncError(where, file, error);
    if (failure) throw failure;
  }
}

interface LoadSettings {
  requireChecksum: boolean;
  schedulers: CheckpointableScheduler[] | undefined;
}

function loadOptions(where: string, options: unknown): LoadSettings {
  const o = checkOptionsObject(where, 'options', options, ['requireChecksum', 'schedulers']);
  return {
    requireChecksum: booleanOption(where, 'options.requireChecksum', o['requireChecksum'], false),
    schedulers: readSchedulers(where, o['schedulers']),
  };
}

/**
 * Installs a checked file's state: the optimizer's, then each scheduler's; if a scheduler's state
 * does not fit, the optimizer and the schedulers restored before it are put back.
 */
function install(where: string, file: string, bytes: Uint8Array, optimizer: Checkpointable, settings: LoadSettings): CheckpointInfo {
  const { dict, checksum, schedulers: states } = decode(where, file, bytes);
  if (settings.requireChecksum && checksum !== 'all') {
    throw new RangeError(
      `${where}: ${file} has no checksum over its header (${checksum === 'none' ? 'it was written by another safetensors writer' : 'format 1'}) and options.requireChecksum is true`,
    );
  }
  const schedulers = settings.schedulers;
  if (schedulers && schedulers.length !== states.length) {
    throw new RangeError(`${where}: ${file} holds the state of ${states.length} scheduler(s), options.schedulers has ${schedulers.length}`);
  }
  if (!schedulers || schedulers.length === 0) {
    optimizer.loadStateDict(dict);
    if (!schedulers && states.length > 0) {
      process.emitWarning(
        `${where}: ${file} holds the state of ${states.length} scheduler(s), which was not restored: pass them as options.schedulers to resume their schedule`,
        { type: 'SimdOptimWarning', code: 'SIMD_OPTIM_SCHEDULER_STATE_NOT_RESTORED' },
      );
    }
    return { checksum, schedulers: states.length };
  }
  const before = { optimizer: optimizer.stateDict(), schedulers: schedulers.map((s) => s.stateDict()) };
  optimizer.loadStateDict(dict);
  let loaded = 0;
  try {
    for (; loaded < schedulers.length; loaded++) schedulers[loaded]!.loadStateDict(states[loaded] as SchedulerStateDict);
  } catch (error) {
    let restored = '';
    try {
      optimizer.loadStateDict(before.optimizer);
      for (let i = 0; i < loaded; i++) schedulers[i]!.loadStateDict(before.schedulers[i]!);
    } catch (restoreError) {
      // Only when the state before was itself invalid (a group's lr set to NaN, say).
      restored = ` (and the state before could not be put back: ${(restoreError as Error).message})`;
    }
    const Kind = error instanceof TypeError ? TypeError : RangeError;
    throw new Kind(`${where}: options.schedulers[${loaded}] does not fit the state in ${file}: ${(error as Error).message}${restored}`, { cause: error });
  }
  return { checksum, schedulers: states.length };
}

/**
 * Restores the optimizer's state from a checkpoint written by saveCheckpoint. The whole file is
 * read and checked first (layout, sizes, checksum), then the optimizer checks that the state fits
 * it (kind, groups, buffer names and lengths); on any error it throws and nothing has changed.
 * @returns what the file's checksum covered (see CheckpointInfo).
 * @throws RangeError naming the file when it is truncated, corrupted or forged; TypeError or
 *   RangeError when the state does not fit the optimizer; the file system's error when it cannot
 *   be read.
 */
export function loadCheckpoint(file: string, optimizer: Checkpointable, options?: LoadCheckpointOptions): CheckpointInfo {
  const where = 'loadCheckpoint';
  checkArguments(where, file, optimizer);
  const settings = loadOptions(where, options);
  return install(where, file, fs.readFileSync(file), optimizer, settings);
}

/** loadCheckpoint that reads the file without blocking the event loop. */
export async function loadCheckpointAsync(file: string, optimizer: Checkpointable, options?: LoadCheckpointOptions): Promise<CheckpointInfo> {
  const where = 'loadCheckpointAsync';
  checkArguments(where, file, optimizer);
  const settings = loadOptions(where, options);
  return install(where, file, await fs.promises.readFile(file), optimizer, settings);
}
