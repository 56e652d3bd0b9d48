/**
 * Argument checks shared by every entry point. Each throws a TypeError (wrong kind of value) or a
 * RangeError (right kind, value not allowed) whose message names the argument, and each runs
 * before anything is written: a rejected call leaves params and state exactly as they were.
 *
 * Inputs are read once: options objects and arrays are copied into plain snapshots (each
 * property read once), typed arrays are judged by their internal slots (lib/core/intrinsics.ts), and
 * the checks and the computation only look at the snapshots.
 * @internal
 */
import { isFloat32Array, realBuffer, realByteOffset, realLength, typedArrayName } from './intrinsics.js';

/** A short description of a value for an error message; it never runs the caller's code. */
export function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an Array';
  const typed = typedArrayName(value);
  if (typed !== undefined) return `a ${typed}`;
  if (typeof value === 'number') return String(value);
  if (typeof value === 'string') return `'${value.length > 40 ? value.slice(0, 40) + '...' : value}'`;
  if (typeof value === 'bigint') return `${value}n`;
  return typeof value;
}

/**
 * A plain copy of an options object: its own enumerable properties, each read once, all of them
 * `known`. Undefined gives an empty object.
 */
export function checkOptionsObject(
  where: string,
  name: string,
  options: unknown,
  known: readonly string[],
): Record<string, unknown> {
  if (options === undefined) return {};
  if (options === null || typeof options !== 'object' || Array.isArray(options) || ArrayBuffer.isView(options)) {
    throw new TypeError(`${where}: ${name} must be an object, got ${describe(options)}`);
  }
  const copy = Object.create(null) as Record<string, unknown>; // "__proto__" is a key, not a prototype
  for (const key of Object.keys(options)) {
    if (!known.includes(key)) {
      throw new TypeError(`${where}: unknown option ${name}.${key} (known: ${known.join(', ')})`);
    }
    copy[key] = (options as Record<string, unknown>)[key];
  }
  return copy;
}

/** A plain copy of an array: its length and each element read once. */
export function readArray(where: string, name: string, value: unknown, expected = 'an array'): unknown[] {
  if (!Array.isArray(value)) throw new TypeError(`${where}: ${name} must be ${expected}, got ${describe(value)}`);
  const length = (value as unknown[]).length;
  const copy = new Array<unknown>(length);
  for (let i = 0; i < length; i++) copy[i] = (value as unknown[])[i];
  return copy;
}

export interface NumberRule {
  /** Smallest allowed value (inclusive). */
  min?: number;
  /** Largest allowed value (inclusive). */
  max?: number;
  /** Values must be strictly below this. */
  below?: number;
  /** Values must be strictly above this. */
  above?: number;
  /** Only whole numbers. */
  integer?: boolean;
}

function ruleText(rule: NumberRule): string {
  const parts: string[] = [];
  if (rule.min !== undefined) parts.push(`>= ${rule.min}`);
  if (rule.above !== undefined) parts.push(`> ${rule.above}`);
  if (rule.max !== undefined) parts.push(`<= ${rule.max}`);
  if (rule.below !== undefined) parts.push(`< ${rule.below}`);
  return `a finite ${rule.integer ? 'integer' : 'number'}${parts.length ? ' ' + parts.join(' and ') : ''}`;
}

/** Whether a number satisfies the rule (finite, within bounds, whole if required). */
export function fitsRule(value: number, rule: NumberRule): boolean {
  return (
    Number.isFinite(value) &&
    (rule.min === undefined || value >= rule.min) &&
    (rule.above === undefined || value > rule.above) &&
    (rule.max === undefined || value <= rule.max) &&
    (rule.below === undefined || value < rule.below) &&
    (!rule.integer || Number.isSafeInteger(value))
  );
}

/** A finite number within the rule; `fallback` when the value is undefined. */
export function numberOption(where: string, name: string, value: unknown, fallback: number, rule: NumberRule): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number') {
    throw new TypeError(`${where}: ${name} must be ${ruleText(rule)}, got ${describe(value)}`);
  }
  if (!fitsRule(value, rule)) throw new RangeError(`${where}: ${name} must be ${ruleText(rule)}, got ${value}`);
  return value;
}

export function booleanOption(where: string, name: string, value: unknown, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (typeof value !== 'boolean') throw new TypeError(`${where}: ${name} must be a boolean, got ${describe(value)}`);
  return value;
}

const BETA_RULE: NumberRule = { min: 0, below: 1 };

/**
 * A pair of coefficients, each in [0, 1) as PyTorch requires of betas, written into `into`
 * (reused by the per-step snapshots, so checking a group allocates nothing). `fallback` when the
 * value is undefined. Each of length, [0] and [1] is read once; a hole is an error, not a 0.
 */
export function readBetas(
  where: string,
  name: string,
  value: unknown,
  fallback: readonly [number, number] | undefined,
  into: [number, number],
): [number, number] {
  if (value === undefined && fallback !== undefined) {
    into[0] = fallback[0];
    into[1] = fallback[1];
    return into;
  }
  if (!Array.isArray(value)) throw new TypeError(`${where}: ${name} must be an array of two numbers, got ${describe(value)}`);
  const length = (value as unknown[]).length;
  if (length !== 2) throw new RangeError(`${where}: ${name} must have two entries, got ${length}`);
  const b0: unknown = (value as unknown[])[0];
  const b1: unknown = (value as unknown[])[1];
  if (b0 === undefined) throw new TypeError(`${where}: ${name}[0] is missing`);
  if (b1 === undefined) throw new TypeError(`${where}: ${name}[1] is missing`);
  into[0] = numberOption(where, `${name}[0]`, b0, 0, BETA_RULE);
  into[1] = numberOption(where, `${name}[1]`, b1, 0, BETA_RULE);
  return into;
}

/** The bytes a view really covers, from its internal slots. */
export interface Extent {
  buffer: ArrayBufferLike;
  begin: number;
  end: number;
}

export function extentOf(view: Float32Array): Extent {
  const begin = realByteOffset(view);
  return { buffer: realBuffer(view), begin, end: begin + 4 * realLength(view) };
}

/** True when two extents share at least one byte of the same buffer. */
export function extentsOverlap(a: Extent, b: Extent): boolean {
  return a.buffer === b.buffer && a.end > a.begin && b.end > b.begin && a.begin < b.end && b.begin < a.end;
}

/** A real Float32Array (see lib/core/intrinsics.ts), or a TypeError naming the argument. */
export function checkFloat32Array(where: string, name: string, value: unknown): Float32Array {
  if (!isFloat32Array(value)) {
    throw new TypeError(`${where}: ${name} must be a Float32Array, got ${describe(value)}`);
  }
  return value;
}

/**
 * Throws when two of the extents overlap: for each buffer, its views sorted by offset, each
 * compared with the one reaching furthest so far, so O(n log n) rather than all pairs.
 */
export function checkNoOverlap(where: string, extents: readonly Extent[], label: (i: number) => string): void {
  const byBuffer = new Map<ArrayBufferLike, number[]>();
  extents.forEach((e, i) => {
    const list = byBuffer.get(e.buffer);
    if (list) list.push(i);
    else byBuffer.set(e.buffer, [i]);
  });
  for (const indices of byBuffer.values()) {
    if (indices.length < 2) continue;
    indices.sort((a, b) => extents[a]!.begin - extents[b]!.begin);
    let reach = -1;
    let reachIndex = -1;
    for (const i of indices) {
      const e = extents[i]!;
      if (e.end === e.begin) continue;
      if (e.begin < reach) {
        throw new RangeError(`${where}: ${label(Math.min(i, reachIndex))} and ${label(Math.max(i, reachIndex))} overlap in memory`);
      }
      if (e.end > reach) {
        reach = e.end;
        reachIndex = i;
      }
    }
  }
}

/**
 * A parameter list, read once: a non-empty array of distinct, non-overlapping Float32Arrays.
 * Errors name `${name}[i]`, or what `label(i)` says.
 */
export function checkParams(where: string, params: unknown, name = 'params'): Float32Array[] {
  const list = readArray(where, name, params, 'an array of Float32Array');
  if (list.length === 0) throw new RangeError(`${where}: ${name} must not be empty`);
  return list.map((p, i) => checkFloat32Array(where, `${name}[${i}]`, p));
}

/**
 * For the functional updates: every array a Float32Array of the param's length (or null where
 * allowed), and no written array sharing memory with any other argument.
 */
export interface UpdateArray {
  name: string;
  value: unknown;
  /** May be null or undefined (then it is not used). */
  optional?: boolean;
  written: boolean;
  /** Why a usually optional array is needed, for the error message ("when hyper.amsgrad is true"). */
  neededWhen?: string;
}

/** Checks the arrays of a functional update; returns the length they all have. */
export function checkUpdateArrays(where: string, arrays: readonly UpdateArray[]): number {
  const param = checkFloat32Array(where, arrays[0]!.name, arrays[0]!.value);
  const length = realLength(param);
  const present: { name: string; extent: Extent; written: boolean }[] = [];
  for (const { name, value, optional, written, neededWhen } of arrays) {
    if (optional && (value === null || value === undefined)) continue;
    const view = checkFloat32Array(where, neededWhen ? `${name} (needed ${neededWhen})` : name, value);
    const viewLength = realLength(view);
    if (viewLength !== length) {
      throw new RangeError(`${where}: ${name} has ${viewLength} elements, ${arrays[0]!.name} has ${length}`);
    }
    present.push({ name, extent: extentOf(view), written });
  }
  for (let a = 0; a < present.length; a++) {
    for (let b = a + 1; b < present.length; b++) {
      const x = present[a]!, y = present[b]!;
      if ((x.written || y.written) && extentsOverlap(x.extent, y.extent)) {
        throw new RangeError(`${where}: ${y.name} overlaps ${x.name} in memory`);
      }
    }
  }
  return length;
}

/** hyper.step of a functional update: the 1-based count of this update, a whole number >= 1. */
export function stepValue(where: string, value: unknown): number {
  if (value === undefined) throw new TypeError(`${where}: hyper.step is required (1 for the first update)`);
  return numberOption(where, 'hyper.step', value, 1, { min: 1, integer: true });
}

/**
 * The error of a call made while another operation of the same object is running: from a getter
 * or Proxy trap that operation invoked while it read its arguments. Its `code` is
 * ERR_SIMD_OPTIM_BUSY; the running operation goes on unaffected.
 */
export function busyError(where: string, running: string): Error {
  const error = new Error(
    running.endsWith('Async')
      ? `${where}: called while ${running} is in flight; await it first`
      : `${where}: called while ${running} is running (from a getter or Proxy it read); call it after ${running} returns`,
  );
  (error as Error & { code: string }).code = 'ERR_SIMD_OPTIM_BUSY';
  return error;
}

/** A `threads` option: a whole number from 1 to 256, or 'auto' (the default). */
export function threadsOption(where: string, name: string, value: unknown): number | 'auto' {
  if (value === undefined || value === 'auto') return 'auto';
  if (typeof value !== 'number') throw new TypeError(`${where}: ${name} must be a whole number >= 1 or 'auto', got ${describe(value)}`);
  if (!Number.isInteger(value) || value < 1 || value > 256) throw new RangeError(`${where}: ${name} must be a whole number from 1 to 256 or 'auto', got ${value}`);
  return value;
}
