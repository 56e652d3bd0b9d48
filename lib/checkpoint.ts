/**
 * Optimizer checkpoints in the safetensors layout, so Python tools can read them
 * (safetensors.safe_open, safetensors.numpy.load_file):
 *
 *   8 bytes    header length N, unsigned little-endian
 *   N bytes    JSON header, padded with spaces to a multiple of 8 bytes:
 *              { "__metadata__": { string: string },
 *                "state.<param index>.<PyTorch buffer name>": { "dtype": "F32", "shape": [n], "data_offsets": [begin, end] }, ... }
 *   the data   every buffer's float32 values, little-endian, back to back in header order
 *
 * __metadata__ holds format ("simd-optim.optimizer/1"), optimizer (the class), param_groups (JSON:
 * hyperparameters and param ids per group), state (JSON: per param its step count and other
 * numbers) and sha256 (of the data), so that a corrupted file is refused, not loaded.
 *
 * Writes are atomic: a temporary file in the same directory, fsync, rename, fsync of the
 * directory. Loads read and check the whole file, then hand the state dict to loadStateDict,
 * which checks it against the optimizer before changing anything.
 */
import { createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import { endianness } from 'node:os';
import * as path from 'node:path';

import type { OptimizerStateDict, ParamStateEntry } from './state-dict.js';

const FORMAT = 'simd-optim.optimizer/1';
const littleEndian = endianness() === 'LE';

/** What saveCheckpoint and loadCheckpoint need of an optimizer. */
export interface Checkpointable {
  stateDict(): OptimizerStateDict;
  loadStateDict(stateDict: OptimizerStateDict): void;
}

interface Encoded {
  header: Buffer;
  chunks: Uint8Array[];
}

/** Float32 bytes in little-endian order (a copy only on big-endian machines). */
function littleEndianBytes(a: Float32Array): Uint8Array {
  if (littleEndian) return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
  const out = new Uint8Array(a.byteLength);
  const view = new DataView(out.buffer);
  a.forEach((x, i) => view.setFloat32(i * 4, x, true));
  return out;
}

function encode(dict: OptimizerStateDict): Encoded {
  const tensors: Record<string, { dtype: 'F32'; shape: number[]; data_offsets: [number, number] }> = {};
  const numbers: Record<string, Record<string, number>> = {};
  const chunks: Uint8Array[] = [];
  const hash = createHash('sha256');
  let offset = 0;
  for (const [index, entry] of Object.entries(dict.state)) {
    numbers[index] = {};
    for (const [name, value] of Object.entries(entry)) {
      if (typeof value === 'number') {
        numbers[index]![name] = value;
        continue;
      }
      const bytes = littleEndianBytes(value);
      tensors[`state.${index}.${name}`] = { dtype: 'F32', shape: [value.length], data_offsets: [offset, offset + bytes.byteLength] };
      offset += bytes.byteLength;
      chunks.push(bytes);
      hash.update(bytes);
    }
  }
  const metadata = {
    format: FORMAT,
    optimizer: dict.optimizer,
    param_groups: JSON.stringify(dict.paramGroups),
    state: JSON.stringify(numbers),
    sha256: hash.digest('hex'),
  };
  let json = JSON.stringify({ __metadata__: metadata, ...tensors });
  json += ' '.repeat((8 - ((8 + Buffer.byteLength(json)) % 8)) % 8);
  const body = Buffer.from(json, 'utf8');
  const header = Buffer.alloc(8 + body.length);
  header.writeBigUInt64LE(BigInt(body.length), 0);
  body.copy(header, 8);
  return { header, chunks };
}

function fail(file: string, why: string): never {
  throw new Error(`loadCheckpoint: ${file} is not a valid simd-optim checkpoint: ${why}`);
}

/** Parses and checks a whole checkpoint file's bytes into a state dict (copies). */
function decode(file: string, bytes: Uint8Array): OptimizerStateDict {
  if (bytes.byteLength < 8) fail(file, `it has ${bytes.byteLength} bytes, fewer than the 8 of the header length`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLength = view.getBigUint64(0, true);
  if (headerLength > BigInt(bytes.byteLength - 8)) fail(file, `the header claims ${headerLength} bytes, the file has ${bytes.byteLength - 8} after the length (truncated?)`);
  const dataStart = 8 + Number(headerLength);
  let header: Record<string, unknown>;
  try {
    header = JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset + 8, Number(headerLength)).toString('utf8')) as Record<string, unknown>;
  } catch (error) {
    return fail(file, `its header is not JSON (${(error as Error).message})`);
  }
  const metadata = header['__metadata__'] as Record<string, unknown> | undefined;
  if (!metadata || metadata['format'] !== FORMAT) fail(file, `its __metadata__.format is not '${FORMAT}'`);
  const data = bytes.subarray(dataStart);
  const digest = createHash('sha256');
  // Tensors must tile the data exactly, in order: anything else is truncation or corruption.
  const entries = Object.entries(header).filter(([name]) => name !== '__metadata__');
  const tensors = entries.map(([name, info]) => {
    const match = /^state\.(\d+)\.([a-z_]+)$/.exec(name);
    const t = info as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    const [begin, end] = Array.isArray(t.data_offsets) ? (t.data_offsets as unknown[]) : [];
    const shape = Array.isArray(t.shape) ? (t.shape as unknown[]) : [];
    if (!match) fail(file, `unexpected tensor name '${name}'`);
    if (t.dtype !== 'F32' || shape.length !== 1 || !Number.isInteger(shape[0]) || !Number.isInteger(begin) || !Number.isInteger(end)) {
      fail(file, `tensor '${name}' is not a float32 vector with integer data_offsets`);
    }
    if ((end as number) - (begin as number) !== 4 * (shape[0] as number)) fail(file, `tensor '${name}' has ${shape[0]} floats in ${(end as number) - (begin as number)} bytes`);
    return { index: match[1]!, name: match[2]!, begin: begin as number, end: end as number, length: shape[0] as number };
  });
  tensors.sort((a, b) => a.begin - b.begin);
  let expected = 0;
  for (const t of tensors) {
    if (t.begin !== expected) fail(file, `tensor state.${t.index}.${t.name} starts at byte ${t.begin} of the data, expected ${expected}`);
    expected = t.end;
  }
  if (expected !== data.byteLength) fail(file, `the tensors cover ${expected} bytes of data, the file has ${data.byteLength} (truncated?)`);
  digest.update(data);
  if (digest.digest('hex') !== metadata['sha256']) fail(file, 'the data does not match its sha256 (corrupted)');
  let paramGroups: OptimizerStateDict['paramGroups'];
  let numbers: Record<string, Record<string, number>>;
  try {
    paramGroups = JSON.parse(String(metadata['param_groups'])) as OptimizerStateDict['paramGroups'];
    numbers = JSON.parse(String(metadata['state'])) as Record<string, Record<string, number>>;
  } catch (error) {
    return fail(file, `its metadata is not JSON (${(error as Error).message})`);
  }
  if (numbers === null || typeof numbers !== 'object') fail(file, 'its metadata.state is not an object');
  const state: Record<number, ParamStateEntry> = {};
  for (const [index, entry] of Object.entries(numbers)) state[Number(index)] = { ...entry };
  const dataView = new DataView(data.buffer, data.byteOffset, data.byteLength);
  for (const t of tensors) {
    const values = new Float32Array(t.length);
    for (let i = 0; i < t.length; i++) values[i] = dataView.getFloat32(t.begin + 4 * i, true);
    (state[Number(t.index)] ??= {})[t.name] = values;
  }
  return { optimizer: String(metadata['optimizer']), state, paramGroups };
}

function checkArguments(where: string, file: unknown, optimizer: unknown): void {
  if (typeof file !== 'string' || file === '') throw new TypeError(`${where}: path must be a non-empty string, got ${typeof file}`);
  const o = optimizer as Partial<Checkpointable> | null;
  if (!o || typeof o.stateDict !== 'function' || typeof o.loadStateDict !== 'function') {
    throw new TypeError(`${where}: optimizer must be an optimizer of this package (with stateDict and loadStateDict)`);
  }
}

function temporaryName(file: string): string {
  return path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
}

function syncDirectory(file: string): void {
  try {
    const fd = fs.openSync(path.dirname(file), 'r');
    try {
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
  } catch {
    // Not every platform can open or fsync a directory (Windows); the rename is still atomic.
  }
}

/**
 * Writes the optimizer's state (its stateDict) to `file`, atomically: a reader sees the old file
 * or the new one, never a part of it, even if the process dies on the way.
 * @throws the file system's error; the previous file, if any, is then left as it was.
 */
export function saveCheckpoint(file: string, optimizer: Checkpointable): void {
  checkArguments('saveCheckpoint', file, optimizer);
  const { header, chunks } = encode(optimizer.stateDict());
  const tmp = temporaryName(file);
  try {
    const fd = fs.openSync(tmp, 'w');
    try {
      fs.writeSync(fd, header);
      for (const chunk of chunks) fs.writeSync(fd, chunk);
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(tmp, file);
  } catch (error) {
    fs.rmSync(tmp, { force: true });
    throw error;
  }
  syncDirectory(file);
}

/**
 * Restores the optimizer's state from a checkpoint written by saveCheckpoint. The whole file is
 * read and checked first (layout, sizes, sha256), then the optimizer checks that the state fits
 * it (kind, groups, buffer names and lengths); on any error it throws and nothing has changed.
 * @throws Error for an unreadable, truncated or corrupted file; TypeError or RangeError when the
 *   state does not fit the optimizer.
 */
export function loadCheckpoint(file: string, optimizer: Checkpointable): void {
  checkArguments('loadCheckpoint', file, optimizer);
  optimizer.loadStateDict(decode(file, fs.readFileSync(file)));
}

/** saveCheckpoint without blocking the event loop (the state is captured when it is called). */
export async function saveCheckpointAsync(file: string, optimizer: Checkpointable): Promise<void> {
  checkArguments('saveCheckpointAsync', file, optimizer);
  const { header, chunks } = encode(optimizer.stateDict());
  const tmp = temporaryName(file);
  try {
    const handle = await fs.promises.open(tmp, 'w');
    try {
      await handle.writev([header, ...chunks]);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await fs.promises.rename(tmp, file);
  } catch (error) {
    await fs.promises.rm(tmp, { force: true });
    throw error;
  }
  syncDirectory(file);
}

/** loadCheckpoint that reads the file without blocking the event loop. */
export async function loadCheckpointAsync(file: string, optimizer: Checkpointable): Promise<void> {
  checkArguments('loadCheckpointAsync', file, optimizer);
  optimizer.loadStateDict(decode(file, await fs.promises.readFile(file)));
}
