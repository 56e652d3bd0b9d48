/**
 * Optimizer checkpoints: saveCheckpoint / loadCheckpoint and their async forms, in the
 * safetensors layout of lib/io/checkpoint-format.ts.
 *
 * Nothing is lost. A save writes a temporary file in the target's directory, checks every write
 * (a short write is continued, an error such as ENOSPC or EIO from fsync is thrown), fsyncs it,
 * renames it over the target and fsyncs the directory; on any failure before the rename it removes
 * the temporary file and throws, and the previous checkpoint is left as it was. Temporary files of
 * a writer that died (killed mid-save) are removed by the next save to the same path
 * (lib/io/temporary-files.ts). A load reads and checks the whole file (layout, sizes, checksum;
 * lib/io/checkpoint-read.ts) before the optimizer checks that the state fits it; nothing changes
 * unless everything does.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

import { encode, type Checksum } from './checkpoint-format.js';
import { ioLimits, readCheckpoint, readCheckpointSync } from './checkpoint-read.js';
import { acquireTemporary, releaseTemporary, removeStaleTemporaries, removeStaleTemporariesAsync } from './temporary-files.js';
import type { SchedulerStateDict } from '../schedules/lr-scheduler.js';
import type { OptimizerStateDict } from '../optimizers/state-dict.js';
import { captureState } from '../optimizers/optimizer.js';
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

/**
 * An object's stateDict and loadStateDict, each read once (a getter runs once, and the functions
 * checked are the ones called), bound to it; null when either is not a function.
 */
function methodsOf<D>(value: unknown): { stateDict(): D; loadStateDict(state: D): void; target: object } | null {
  if (value === null || typeof value !== 'object') return null;
  const stateDict: unknown = (value as Record<string, unknown>)['stateDict'];
  const loadStateDict: unknown = (value as Record<string, unknown>)['loadStateDict'];
  if (typeof stateDict !== 'function' || typeof loadStateDict !== 'function') return null;
  return {
    stateDict: () => (stateDict as () => D).call(value),
    loadStateDict: (state: D) => (loadStateDict as (s: D) => void).call(value, state),
    target: value,
  };
}

/** options.schedulers: a list of objects with stateDict and loadStateDict, read once. */
function readSchedulers(where: string, value: unknown): CheckpointableScheduler[] | undefined {
  if (value === undefined) return undefined;
  return readArray(where, 'options.schedulers', value, 'an array of schedulers').map((s, i) => {
    const scheduler = methodsOf<SchedulerStateDict>(s);
    if (!scheduler) {
      throw new TypeError(`${where}: options.schedulers[${i}] must be a scheduler of this package (with stateDict and loadStateDict), got ${describe(s)}`);
    }
    return scheduler;
  });
}

function saveOptions(where: string, options: unknown): unknown[] {
  const o = checkOptionsObject(where, 'options', options, ['schedulers']);
  return (readSchedulers(where, o['schedulers']) ?? []).map((s) => s.stateDict());
}

type Bound = Checkpointable & { target: object };

function checkArguments(where: string, file: unknown, optimizer: unknown): Bound {
  if (typeof file !== 'string' || file === '') throw new TypeError(`${where}: path must be a non-empty string, got ${describe(file)}`);
  const methods = methodsOf<OptimizerStateDict>(optimizer);
  if (!methods) {
    throw new TypeError(`${where}: optimizer must be an optimizer of this package (with stateDict and loadStateDict), got ${describe(optimizer)}`);
  }
  return methods;
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
    const written = fileOps.writeSync(fd, chunk, offset, Math.min(chunk.byteLength - offset, ioLimits.chunkBytes));
    if (!(written > 0)) throw shortWrite(offset, chunk.byteLength);
    offset += written;
  }
}

async function writeAll(handle: fs.promises.FileHandle, chunk: Uint8Array): Promise<void> {
  for (let offset = 0; offset < chunk.byteLength;) {
    const written = await fileOps.write(handle, chunk, offset, Math.min(chunk.byteLength - offset, ioLimits.chunkBytes));
    if (!(written > 0)) throw shortWrite(offset, chunk.byteLength);
    offset += written;
  }
}

/**
 * The permission bits of the file a save replaces, so that replacing it keeps them (a checkpoint
 * made group-readable stays so); undefined when there is none yet (then the umask decides, as for
 * any new file).
 */
function existingMode(stat: () => number): number | undefined {
  try {
    return stat() & 0o7777;
  } catch {
    return undefined;
  }
}

/**
 * Sets the temporary file's mode to the target's (the umask narrowed it at open); best-effort, as
 * some file systems (FAT, SMB mounts) refuse chmod and a save must not fail for it.
 */
function keepMode(chmod: () => void): void {
  try {
    chmod();
  } catch {
    // the file keeps the mode it was created with
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
  const bound = checkArguments(where, file, optimizer);
  const schedulers = saveOptions(where, options);
  const { header, chunks } = encode(where, bound.stateDict(), schedulers);
  removeStaleTemporaries(file);
  const mode = existingMode(() => fs.statSync(file).mode);
  const tmp = acquireTemporary(file);
  let fd = -1;
  try {
    fd = fs.openSync(tmp, 'wx', mode ?? 0o666);
    if (mode !== undefined) keepMode(() => fs.fchmodSync(fd, mode));
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
    } catch {
      // the save's own error is the one to report
    }
    try {
      fs.rmSync(tmp, { force: true });
    } catch {
      // left for the next save to remove
    }
    throw saveError(where, file, error);
  } finally {
    releaseTemporary(tmp);
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
  const bound = checkArguments(where, file, optimizer);
  const schedulers = saveOptions(where, options);
  const { header, chunks } = encode(where, bound.stateDict(), schedulers);
  await removeStaleTemporariesAsync(file);
  let mode: number | undefined;
  try {
    mode = (await fs.promises.stat(file)).mode & 0o7777;
  } catch {
    mode = undefined;
  }
  const tmp = acquireTemporary(file);
  let handle: fs.promises.FileHandle | null = null;
  try {
    handle = await fs.promises.open(tmp, 'wx', mode ?? 0o666);
    if (mode !== undefined) await handle.chmod(mode).catch(() => undefined); // as keepMode
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
    releaseTemporary(tmp);
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
 * A function that puts the optimizer's state back as it is now: by reference for this package's
 * optimizers (buffers, even unused ones, and the arrays a caller holds stay the same objects), by
 * a state dict round trip for any other Checkpointable.
 */
function capture(optimizer: Bound): () => void {
  const own = (optimizer.target as { [captureState]?: () => () => void })[captureState];
  if (typeof own === 'function') return own.call(optimizer.target);
  const before = optimizer.stateDict();
  return () => optimizer.loadStateDict(before);
}

/**
 * Installs a checked file's state: the optimizer's, then each scheduler's; if a scheduler's state
 * does not fit, the optimizer and the schedulers restored before it are put back.
 */
function install(where: string, file: string, decoded: ReturnType<typeof readCheckpointSync>, optimizer: Bound, settings: LoadSettings): CheckpointInfo {
  const { dict, checksum, schedulers: states } = decoded;
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
  const before = { optimizer: capture(optimizer), schedulers: schedulers.map((s) => s.stateDict()) };
  optimizer.loadStateDict(dict);
  let loaded = 0;
  try {
    for (; loaded < schedulers.length; loaded++) schedulers[loaded]!.loadStateDict(states[loaded] as SchedulerStateDict);
  } catch (error) {
    let restored = '';
    try {
      before.optimizer();
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
  const bound = checkArguments(where, file, optimizer);
  const settings = loadOptions(where, options);
  return install(where, file, readCheckpointSync(where, file), bound, settings);
}

/** loadCheckpoint that reads the file without blocking the event loop. */
export async function loadCheckpointAsync(file: string, optimizer: Checkpointable, options?: LoadCheckpointOptions): Promise<CheckpointInfo> {
  const where = 'loadCheckpointAsync';
  const bound = checkArguments(where, file, optimizer);
  const settings = loadOptions(where, options);
  return install(where, file, await readCheckpoint(where, file), bound, settings);
}
