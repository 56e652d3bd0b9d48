/**
 * The checkpoint file: the safetensors layout, so Python tools can read it
 * (safetensors.safe_open, safetensors.numpy.load_file):
 *
 *   8 bytes    header length N, unsigned little-endian
 *   N bytes    JSON header, padded with spaces to a multiple of 8 bytes:
 *              { "__metadata__": { string: string },
 *                "state.<param index>.<PyTorch buffer name>": { "dtype": "F32", "shape": [n], "data_offsets": [begin, end] }, ... }
 *   the data   every buffer's float32 values, little-endian, back to back in header order
 *
 * __metadata__ holds format, optimizer (the class), param_groups (JSON: hyperparameters and param
 * ids per group), state (JSON: per param its step count and other numbers), schedulers (JSON: the
 * state dicts of the schedulers saved with the optimizer, when there are any; an infinite or NaN
 * number is written as {"$number": "Infinity"}, which JSON cannot hold) and sha256.
 *
 * The sha256 covers everything that is loaded, whatever the layout: a canonical serialization of
 * the header's content (the metadata but sha256, sorted by key; each tensor's name, dtype and
 * shape, sorted by name) followed by the tensors' bytes in the same name order. A flipped byte
 * anywhere that changes what would be loaded is refused; one that only changes JSON whitespace
 * loads the same content; a writer that lays the same tensors out in another order keeps the
 * checksum valid. Format 1 files (whose sha256 covered the data
 * only) still load, and say so; files written by other safetensors writers carry no sha256 and
 * load with checksum 'none'.
 *
 * Decoding checks every size before it allocates from it: lengths and offsets must be whole
 * numbers inside the file, so a forged header cannot make it allocate more than the file holds.
 * @internal
 */
import { createHash, type Hash } from 'node:crypto';
import { endianness } from 'node:os';

import { isFloat32Array, realBuffer, realByteOffset, realLength } from '../core/intrinsics.js';
import type { OptimizerStateDict, ParamStateEntry } from '../optimizers/state-dict.js';
import { describe, readArray } from '../core/validate.js';

export const FORMAT = 'simd-optim.optimizer/2';
const FORMAT_DATA_ONLY = 'simd-optim.optimizer/1';
/** The metadata keys a file without a checksum may have. */
const UNCHECKED_KEYS = ['format', 'optimizer', 'param_groups', 'state', 'schedulers'];
/** As the safetensors library: a larger header is refused before it is parsed. */
const MAX_HEADER_BYTES = 100_000_000;
const littleEndian = endianness() === 'LE';

/** What a file's sha256 covered: header and data, the data only (format 1), or nothing. */
export type Checksum = 'all' | 'data' | 'none';

interface TensorEntry {
  dtype: 'F32';
  shape: [number];
  data_offsets: [number, number];
}

export interface Encoded {
  header: Uint8Array;
  chunks: Uint8Array[];
}

/** Float32 bytes in little-endian order (a copy only on big-endian machines). */
function littleEndianBytes(a: Float32Array, length: number): Uint8Array {
  if (littleEndian) return new Uint8Array(realBuffer(a), realByteOffset(a), 4 * length);
  const out = new Uint8Array(4 * length);
  const view = new DataView(out.buffer);
  for (let i = 0; i < length; i++) view.setFloat32(i * 4, a[i]!, true);
  return out;
}

/**
 * The checksum of a file's content, canonical whatever its key order, whitespace or layout:
 * `bytesOf(name)` gives each tensor's data.
 */
function contentHash(metadata: Record<string, string>, tensors: Record<string, TensorEntry>, bytesOf: (name: string) => Uint8Array): string {
  const meta = Object.keys(metadata).filter((k) => k !== 'sha256').sort().map((k) => [k, metadata[k]]);
  const names = Object.keys(tensors).sort();
  const hash: Hash = createHash('sha256').update(JSON.stringify([meta, names.map((k) => [k, tensors[k]!.dtype, tensors[k]!.shape])]), 'utf8');
  for (const name of names) hash.update(bytesOf(name));
  return hash.digest('hex');
}

/**
 * The file of a state dict. The dict is read once (a user's Checkpointable may return anything):
 * its state entries must be numbers or Float32Arrays.
 * @throws TypeError naming what is not serializable.
 */
export function encode(where: string, input: unknown, schedulers: readonly unknown[] = []): Encoded {
  if (input === null || typeof input !== 'object') throw new TypeError(`${where}: stateDict() must return an object, got ${describe(input)}`);
  const dict = input as Record<string, unknown>;
  const optimizer = dict['optimizer'], stateValue = dict['state'], groupsValue = dict['paramGroups'];
  if (typeof optimizer !== 'string') throw new TypeError(`${where}: stateDict().optimizer must be a string, got ${describe(optimizer)}`);
  const paramGroups = JSON.stringify(readArray(where, 'stateDict().paramGroups', groupsValue));
  if (stateValue === null || typeof stateValue !== 'object') throw new TypeError(`${where}: stateDict().state must be an object`);
  const tensors: Record<string, TensorEntry> = {};
  const numbers: Record<string, Record<string, number>> = {};
  const chunks: Uint8Array[] = [];
  const chunkOf = new Map<string, Uint8Array>();
  let offset = 0;
  for (const [index, entryValue] of Object.entries(stateValue as Record<string, unknown>)) {
    if (!PARAM_INDEX.test(index)) throw new TypeError(`${where}: stateDict().state has a key '${index.slice(0, 40)}' that is not a param index`);
    if (entryValue === null || typeof entryValue !== 'object') throw new TypeError(`${where}: stateDict().state[${index}] must be an object`);
    numbers[index] = {};
    for (const [name, value] of Object.entries(entryValue as ParamStateEntry)) {
      // What decode accepts, so that every file written loads.
      if (!BUFFER_NAME.test(name)) throw new TypeError(`${where}: stateDict().state[${index}] has an entry '${name.slice(0, 40)}', not a buffer name (a-z, 0-9, _)`);
      if (typeof value === 'number') {
        numbers[index]![name] = value;
        continue;
      }
      if (!isFloat32Array(value)) throw new TypeError(`${where}: stateDict().state[${index}].${name} must be a number or a Float32Array`);
      const length = realLength(value);
      const bytes = littleEndianBytes(value, length);
      tensors[`state.${index}.${name}`] = { dtype: 'F32', shape: [length], data_offsets: [offset, offset + bytes.byteLength] };
      chunkOf.set(`state.${index}.${name}`, bytes);
      offset += bytes.byteLength;
      chunks.push(bytes);
    }
  }
  const metadata: Record<string, string> = { format: FORMAT, optimizer, param_groups: paramGroups, state: JSON.stringify(numbers) };
  if (schedulers.length > 0) metadata['schedulers'] = JSON.stringify(schedulers, (_key, value: unknown) =>
    typeof value === 'number' && !Number.isFinite(value) ? { $number: String(value) } : value);
  metadata['sha256'] = contentHash(metadata, tensors, (name) => chunkOf.get(name)!);
  let json = JSON.stringify({ __metadata__: metadata, ...tensors });
  json += ' '.repeat((8 - ((8 + Buffer.byteLength(json)) % 8)) % 8);
  const body = Buffer.from(json, 'utf8');
  const header = Buffer.alloc(8 + body.length);
  header.writeBigUInt64LE(BigInt(body.length), 0);
  body.copy(header, 8);
  return { header, chunks };
}

/** A corrupted, truncated or forged file: a RangeError naming it. */
function bad(where: string, file: string, why: string): never {
  throw new RangeError(`${where}: ${file} is not a valid simd-optim checkpoint: ${why}`);
}

/** `state.<param index>.<buffer name>`: buffer names as PyTorch's (exp_avg, momentum_buffer, ...). */
export const TENSOR_NAME = /^state\.(0|[1-9]\d{0,15})\.([a-z][a-z0-9_]{0,63})$/;
const PARAM_INDEX = /^(0|[1-9]\d{0,15})$/;
const BUFFER_NAME = /^[a-z][a-z0-9_]{0,63}$/;

const isWhole = (x: unknown): x is number => typeof x === 'number' && Number.isSafeInteger(x) && x >= 0;

/** A checked header: where each tensor's data is, and the metadata to finish decoding with. */
export interface Layout {
  metadata: Record<string, string>;
  format: string;
  /** Tensors by name, as the checksum describes them. */
  tensors: Record<string, TensorEntry>;
  /** The same tensors in file order (by data offset); they tile the data exactly. */
  ordered: { key: string; index: number; name: string; begin: number; end: number; length: number }[];
  /** Where the data begins in the file: 8 + the header's length. */
  dataStart: number;
}

/**
 * The header's length from the first 8 bytes of a file of `fileLength` bytes, checked against the
 * file before anything is allocated from it.
 */
export function headerLength(where: string, file: string, first8: Uint8Array, fileLength: number): number {
  if (fileLength < 8 || first8.byteLength < 8) bad(where, file, `it has ${fileLength} bytes, fewer than the 8 of the header length`);
  const declared = new DataView(first8.buffer, first8.byteOffset, 8).getBigUint64(0, true);
  if (declared > BigInt(Math.min(fileLength - 8, MAX_HEADER_BYTES))) {
    bad(where, file, `the header claims ${declared} bytes, the file has ${fileLength - 8} after the length (truncated?)`);
  }
  return Number(declared);
}

/** Parses and checks the JSON header (the `headerLength` bytes after the first 8) of a file of `fileLength` bytes. */
export function parseLayout(where: string, file: string, headerBytes: Uint8Array, fileLength: number): Layout {
  const text = Buffer.from(headerBytes.buffer, headerBytes.byteOffset, headerBytes.byteLength).toString('utf8');
  let header: unknown;
  try {
    header = JSON.parse(text);
  } catch (error) {
    return bad(where, file, `its header is not JSON (${(error as Error).message})`);
  }
  if (header === null || typeof header !== 'object' || Array.isArray(header)) bad(where, file, 'its header is not a JSON object');
  const repeated = repeatedKey(text);
  if (repeated !== null) bad(where, file, `its header has the key '${repeated.slice(0, 80)}' twice`);
  const { __metadata__: metadataValue, ...entries } = header as Record<string, unknown>;
  if (metadataValue === null || typeof metadataValue !== 'object' || Array.isArray(metadataValue)) bad(where, file, 'it has no __metadata__ object');
  // A null-prototype copy: a key such as "__proto__" is then a key like any other.
  const metadata = Object.create(null) as Record<string, string>;
  for (const [key, value] of Object.entries(metadataValue as Record<string, unknown>)) {
    if (typeof value !== 'string') bad(where, file, `__metadata__.${key} is not a string`);
    metadata[key] = value;
  }
  const format = metadata['format'];
  if (format !== FORMAT && format !== FORMAT_DATA_ONLY) bad(where, file, `its __metadata__.format is not '${FORMAT}'`);
  const dataStart = 8 + headerBytes.byteLength;
  const dataLength = fileLength - dataStart;
  // Every size is checked against the file before anything is allocated from it.
  const tensors = Object.create(null) as Record<string, TensorEntry>;
  const ordered = Object.entries(entries).map(([key, info]) => {
    const match = TENSOR_NAME.exec(key);
    if (!match) bad(where, file, `unexpected tensor name '${key.slice(0, 80)}'`);
    const t = (info ?? {}) as Record<string, unknown>;
    const shape = Array.isArray(t['shape']) ? (t['shape'] as unknown[]) : [];
    const offsets = Array.isArray(t['data_offsets']) ? (t['data_offsets'] as unknown[]) : [];
    const [length] = shape, [begin, end] = offsets;
    if (t['dtype'] !== 'F32' || shape.length !== 1 || offsets.length !== 2 || !isWhole(length) || !isWhole(begin) || !isWhole(end)) {
      bad(where, file, `tensor '${key}' is not a float32 vector with whole-number shape and data_offsets`);
    }
    if (end < begin || end > dataLength) bad(where, file, `tensor '${key}' has data_offsets [${begin}, ${end}] outside the ${dataLength} bytes of data (truncated?)`);
    if (end - begin !== 4 * length) bad(where, file, `tensor '${key}' has ${length} floats in ${end - begin} bytes`);
    tensors[key] = { dtype: 'F32', shape: [length], data_offsets: [begin, end] };
    return { key, index: Number(match[1]!), name: match[2]!, begin, end, length };
  });
  // Tensors must tile the data exactly, in order: anything else is truncation or corruption.
  ordered.sort((a, b) => a.begin - b.begin);
  let expected = 0;
  for (const t of ordered) {
    if (t.begin !== expected) bad(where, file, `tensor ${t.key} starts at byte ${t.begin} of the data, expected ${expected}`);
    expected = t.end;
  }
  if (expected !== dataLength) bad(where, file, `the tensors cover ${expected} bytes of data, the file has ${dataLength} (truncated?)`);
  // Without a checksum only this format's own metadata keys are accepted: a flipped byte in the
  // name "sha256" must not turn a damaged file into an unverified one that loads.
  if (metadata['sha256'] === undefined) {
    const extra = Object.keys(metadata).find((key) => !UNCHECKED_KEYS.includes(key));
    if (extra !== undefined) bad(where, file, `its __metadata__ has no sha256 but a key '${extra.slice(0, 40)}' (a damaged sha256?)`);
  }
  return { metadata, format, tensors, ordered, dataStart };
}

/**
 * Verifies the checksum of a file whose tensors were read into `data` (by tensor key, each the
 * little-endian bytes of its float32 values) and builds its state dict from them.
 */
export function assemble(
  where: string,
  file: string,
  layout: Layout,
  data: Map<string, Float32Array>,
): { dict: OptimizerStateDict; checksum: Checksum; schedulers: unknown[] } {
  const { metadata, format, tensors, ordered } = layout;
  const bytesOf = (key: string): Uint8Array => {
    const a = data.get(key)!;
    return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
  };
  const sha256 = metadata['sha256'];
  let checksum: Checksum = 'none';
  if (sha256 !== undefined) {
    let actual: string;
    if (format === FORMAT) actual = contentHash(metadata, tensors, bytesOf);
    else {
      // Format 1: the data as it lies in the file, which the tensors tile in order.
      const hash = createHash('sha256');
      for (const t of ordered) hash.update(bytesOf(t.key));
      actual = hash.digest('hex');
    }
    if (actual !== sha256) bad(where, file, 'its content does not match its sha256 (corrupted)');
    checksum = format === FORMAT ? 'all' : 'data';
  }
  let paramGroups: unknown, numbers: unknown;
  try {
    paramGroups = JSON.parse(String(metadata['param_groups']));
    numbers = JSON.parse(String(metadata['state']));
  } catch (error) {
    return bad(where, file, `its metadata is not JSON (${(error as Error).message})`);
  }
  if (numbers === null || typeof numbers !== 'object' || Array.isArray(numbers)) bad(where, file, 'its __metadata__.state is not an object');
  const state: Record<number, ParamStateEntry> = {};
  for (const [index, entry] of Object.entries(numbers as Record<string, unknown>)) {
    if (!PARAM_INDEX.test(index)) bad(where, file, `its __metadata__.state has a key '${index.slice(0, 40)}' that is not a param index`);
    if (entry === null || typeof entry !== 'object' || Array.isArray(entry)) bad(where, file, `its __metadata__.state[${index}] is not an object`);
    state[Number(index)] = Object.assign(Object.create(null) as ParamStateEntry, entry);
  }
  for (const t of ordered) (state[t.index] ??= Object.create(null) as ParamStateEntry)[t.name] = fromLittleEndian(data.get(t.key)!);
  let schedulers: unknown[] = [];
  if (metadata['schedulers'] !== undefined) {
    try {
      schedulers = JSON.parse(String(metadata['schedulers']), (_key, value: unknown) => {
        const special = value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : null;
        if (special && Object.keys(special).length === 1 && typeof special['$number'] === 'string') {
          const n = Number(special['$number']);
          if (!Number.isFinite(n) && special['$number'] === String(n)) return n;
        }
        return value;
      }) as unknown[];
    } catch (error) {
      return bad(where, file, `its __metadata__.schedulers is not JSON (${(error as Error).message})`);
    }
    if (!Array.isArray(schedulers)) bad(where, file, 'its __metadata__.schedulers is not a list');
  }
  const dict = { optimizer: String(metadata['optimizer']), state, paramGroups: paramGroups as OptimizerStateDict['paramGroups'] };
  return { dict, checksum, schedulers };
}

/**
 * The first key that appears twice in one object of a valid JSON text, or null. JSON.parse keeps
 * the last of two equal keys silently; a checkpoint has none, so one is a sign of tampering.
 */
function repeatedKey(text: string): string | null {
  const objects: (Set<string> | null)[] = []; // per open bracket: the keys seen, null for arrays
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '{') objects.push(new Set());
    else if (c === '[') objects.push(null);
    else if (c === '}' || c === ']') objects.pop();
    else if (c === '"') {
      let end = i + 1;
      while (text[end] !== '"') end += text[end] === '\\' ? 2 : 1;
      const keys = objects[objects.length - 1];
      let next = end + 1;
      while (next < text.length && ' \t\n\r'.includes(text[next]!)) next++;
      if (keys && text[next] === ':') {
        const key = JSON.parse(text.slice(i, end + 1)) as string;
        if (keys.has(key)) return key;
        keys.add(key);
      }
      i = end;
    }
  }
  return null;
}

/** A tensor read as little-endian bytes, in the machine's order (swapped in place on big-endian machines). */
function fromLittleEndian(a: Float32Array): Float32Array {
  if (littleEndian) return a;
  const view = new DataView(a.buffer, a.byteOffset, a.byteLength);
  for (let i = 0; i < a.length; i++) a[i] = view.getFloat32(4 * i, true);
  return a;
}
