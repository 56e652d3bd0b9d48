// What every fuzz property shares: the package under test (the compiled dist/), the backend and
// ISA level of a run, bit-exact snapshots judged by the intrinsic typed-array accessors (never by
// what a hostile object says of itself), the error contract, test data, storage kinds and hostile
// wrappers. Arbitraries produce plain descriptions; hostile objects are built from them inside
// the predicates, so a counterexample prints as data and printing it runs no trap or getter.
import fc from 'fast-check';

import * as lib from '../../dist/index.js';
import { availableIsas, backend, useBackend } from '../../dist/bridge/backend.js';
import { rng } from '../random.mjs';

export { fc, lib };

// ---------------------------------------------------------------------------------------------
// Backend and ISA level: on the native backend every run picks one of the levels the CPU has.

/** The levels this process fuzzes: every native ISA level, or 'js' on the fallback. */
export const LEVELS = backend === 'native' ? availableIsas() : ['js'];
export const BACKEND = backend;

export const levelArb = () => fc.constantFrom(...LEVELS);

export function activate(level) {
  if (level === 'js') useBackend('js');
  else useBackend('native', level);
}

// ---------------------------------------------------------------------------------------------
// The intrinsic typed-array accessors: what an array really is, whatever its own properties,
// its subclass's getters or a Proxy claim.

const TypedArrayPrototype = Object.getPrototypeOf(Float32Array.prototype);
const accessor = (key) => Object.getOwnPropertyDescriptor(TypedArrayPrototype, key).get;
const tagOf = accessor(Symbol.toStringTag);
const lengthOf = accessor('length');
const bufferOf = accessor('buffer');
const byteOffsetOf = accessor('byteOffset');
const byteLengthOf = accessor('byteLength');

/** True for a real Float32Array, subclass instances included; false for Proxies and look-alikes. */
export const isRealF32 = (v) => v !== null && typeof v === 'object' && tagOf.call(v) === 'Float32Array';
export const isRealTypedArray = (v) => v !== null && typeof v === 'object' && tagOf.call(v) !== undefined;

export function realView(a) {
  return { length: lengthOf.call(a), buffer: bufferOf.call(a), byteOffset: byteOffsetOf.call(a), byteLength: byteLengthOf.call(a) };
}
export const realLength = (a) => lengthOf.call(a);

/** Whether two real views share a byte. */
export function realOverlap(a, b) {
  const x = realView(a), y = realView(b);
  return x.buffer === y.buffer && x.byteLength > 0 && y.byteLength > 0 &&
    x.byteOffset < y.byteOffset + y.byteLength && y.byteOffset < x.byteOffset + x.byteLength;
}

/** A copy of the bits of a real Float32Array (empty when detached or out of bounds). */
export function bitsOf(a) {
  const v = realView(a);
  if (v.length === 0) return new Uint32Array(0);
  return new Uint32Array(new Uint32Array(v.buffer, v.byteOffset, v.length));
}

/** A plain Float32Array with the same bits (in a fresh, ordinary ArrayBuffer). */
export function plainCopy(a) {
  return new Float32Array(bitsOf(a).buffer);
}

const isNaNBits = (u) => (u & 0x7f800000) === 0x7f800000 && (u & 0x7fffff) !== 0;
const hex = (u) => `0x${(u >>> 0).toString(16).padStart(8, '0')}`;
const asFloat = (u) => new Float32Array(new Uint32Array([u]).buffer)[0];

/** Null when the bit snapshots agree (NaN matches any NaN), else where they differ. */
export function bitsDiff(label, before, after) {
  if (before.length !== after.length) return `${label}: length ${before.length} became ${after.length}`;
  for (let i = 0; i < before.length; i++) {
    if (before[i] !== after[i] && !(isNaNBits(before[i]) && isNaNBits(after[i]))) {
      return `${label}[${i}]: ${asFloat(before[i])} (${hex(before[i])}) became ${asFloat(after[i])} (${hex(after[i])})`;
    }
  }
  return null;
}

export function arrayDiff(label, a, b) {
  return bitsDiff(label, bitsOf(a), bitsOf(b));
}

/** Snapshots of several arrays, to compare after a call. */
export function snapArrays(named) {
  return named.map(([label, a]) => [label, a, bitsOf(a)]);
}
export function diffArrays(snaps) {
  for (const [label, a, before] of snaps) {
    const d = bitsDiff(label, before, bitsOf(a));
    if (d) return d;
  }
  return null;
}

/** Structural difference of two plain data trees (state dicts): typed arrays by bits. */
export function deepDiff(a, b, path = 'dict') {
  if (isRealF32(a) || isRealF32(b)) {
    if (!isRealF32(a) || !isRealF32(b)) return `${path}: ${fmt(a)} vs ${fmt(b)}`;
    return bitsDiff(path, bitsOf(a), bitsOf(b));
  }
  if (isRealTypedArray(a) || isRealTypedArray(b)) return `${path}: unexpected typed array ${fmt(a)} vs ${fmt(b)}`;
  if (typeof a === 'number' && typeof b === 'number') {
    return Object.is(a, b) || (Number.isNaN(a) && Number.isNaN(b)) ? null : `${path}: ${fmt(a)} vs ${fmt(b)}`;
  }
  if (Array.isArray(a) || Array.isArray(b)) {
    if (!Array.isArray(a) || !Array.isArray(b)) return `${path}: ${fmt(a)} vs ${fmt(b)}`;
    if (a.length !== b.length) return `${path}: length ${a.length} vs ${b.length}`;
    for (let i = 0; i < a.length; i++) {
      const d = deepDiff(a[i], b[i], `${path}[${i}]`);
      if (d) return d;
    }
    return null;
  }
  if (a !== null && b !== null && typeof a === 'object' && typeof b === 'object') {
    const ka = Object.keys(a).sort(), kb = Object.keys(b).sort();
    if (ka.join() !== kb.join()) return `${path}: keys [${ka}] vs [${kb}]`;
    for (const k of ka) {
      const d = deepDiff(a[k], b[k], `${path}.${k}`);
      if (d) return d;
    }
    return null;
  }
  return Object.is(a, b) ? null : `${path}: ${fmt(a)} vs ${fmt(b)}`;
}

export function fmt(v) {
  if (typeof v === 'number') return Object.is(v, -0) ? '-0' : String(v);
  if (typeof v === 'string') return JSON.stringify(v);
  if (typeof v === 'bigint') return `${v}n`;
  if (typeof v === 'function') return 'a function';
  if (v === null || v === undefined) return String(v);
  if (isRealTypedArray(v)) return `${tagOf.call(v)}(${lengthOf.call(v)})`;
  if (Array.isArray(v)) return `[${v.map(fmt).join(', ')}]`;
  try {
    return JSON.stringify(v);
  } catch {
    return Object.prototype.toString.call(v);
  }
}

// ---------------------------------------------------------------------------------------------
// The error contract: a TypeError or RangeError whose message starts with the function's name
// and names the argument; never an internal message.

const INTERNAL = [
  /incompatible receiver/, /Cannot read propert/, /Cannot set propert/, /is not a function/, /is not iterable/,
  /\barrays\[\d+\]/, /^(step|reduce): /, /Cannot perform/, /detached ArrayBuffer/, /Invalid typed array length/,
  /Array buffer allocation failed/, /Maximum call stack/, /undefined is not/, /null is not/,
];

/**
 * Null when `error` honours the contract, else what is wrong with it.
 * @param where - acceptable message prefixes (without the colon).
 * @param names - when given, the message must contain one of them.
 * @param kinds - acceptable classes (default TypeError and RangeError).
 */
export function errorProblem(error, { where, names, kinds = [TypeError, RangeError] }) {
  const prefixes = [].concat(where);
  if (!(error instanceof Error)) return `threw a non-Error: ${fmt(error)}`;
  const shown = `${error.constructor?.name}: ${error.message}`;
  if (!kinds.some((k) => error instanceof k) || error.constructor === Error) {
    return `threw ${shown} (expected ${kinds.map((k) => k.name).join(' or ')})`;
  }
  if (!prefixes.some((p) => error.message.startsWith(`${p}:`))) {
    return `threw ${shown}: the message does not start with ${prefixes.map((p) => `'${p}:'`).join(' or ')}`;
  }
  const internal = INTERNAL.find((re) => re.test(error.message));
  if (internal) return `threw ${shown}: an internal message (${internal})`;
  if (names && names.length > 0 && !names.some((n) => error.message.includes(n))) {
    return `threw ${shown}: it names none of ${names.map((n) => `'${n}'`).join(', ')}`;
  }
  return null;
}

export function attempt(fn) {
  try {
    return { ok: true, value: fn() };
  } catch (error) {
    return { ok: false, error };
  }
}

export async function attemptAsync(fn) {
  try {
    return { ok: true, value: await fn() };
  } catch (error) {
    return { ok: false, error };
  }
}

/** A failed property: fast-check prints the message under the counterexample. */
export function fail(message) {
  throw new Error(message);
}
export function check(problem, context) {
  if (problem) fail(context ? `${problem}\n  (${context})` : problem);
}

export const errorText = (e) => (e instanceof Error ? `${e.constructor?.name}: ${e.message}` : fmt(e));

// ---------------------------------------------------------------------------------------------
// Test data: float32 values from a seed, with NaN, infinities, signed zeros and subnormals at a
// chosen rate. Seeds shrink well and keep counterexamples short.

export { rng };

const FLT_MAX = 3.4028234663852886e38;
export const SPECIALS = [
  NaN, Infinity, -Infinity, 0, -0, FLT_MAX, -FLT_MAX, 1.401298464324817e-45, -1.401298464324817e-45,
  1.1754942106924411e-38, -5.877471754111438e-39, 1.1754943508222875e-38, 1e-30, -1e30,
];

/** n float32 values: mostly N(0,1)-ish, with probability `special` a special value. */
export function values(seed, n, special = 0) {
  const random = rng(seed);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    if (random() < special) out[i] = SPECIALS[Math.floor(random() * SPECIALS.length)];
    else out[i] = (random() * 2 - 1) * (random() < 0.1 ? 100 : 1);
  }
  return out;
}

export const seedArb = () => fc.integer({ min: 0, max: 0x7fffffff });
export const specialArb = () => fc.constantFrom(0, 0, 0.03, 0.3);
/** Tensor sizes: mostly small, up to 300. */
export const sizeArb = () => fc.oneof({ weight: 5, arbitrary: fc.integer({ min: 0, max: 9 }) }, { weight: 1, arbitrary: fc.integer({ min: 0, max: 300 }) });

// ---------------------------------------------------------------------------------------------
// Storage: where a tensor's floats live. All of these are valid inputs.

export const STORAGE = ['plain', 'offset', 'sab', 'gsab', 'rab', 'rab-tracking', 'gsab-tracking'];
export const storageArb = () => fc.constantFrom('plain', 'plain', ...STORAGE);

/** A Float32Array of n floats in storage `kind`, starting `offset` floats into its buffer. */
export function allocate(kind, n, offset = 0, slack = 0) {
  const bytes = 4 * (offset + n);
  switch (kind) {
    case 'plain':
      return new Float32Array(n);
    case 'offset':
      return new Float32Array(offset + n + slack).subarray(offset, offset + n);
    case 'sab':
      return new Float32Array(new SharedArrayBuffer(bytes + 4 * slack), 4 * offset, n);
    case 'gsab':
      return new Float32Array(new SharedArrayBuffer(bytes, { maxByteLength: bytes + 4 * slack + 256 }), 4 * offset, n);
    case 'rab':
      return new Float32Array(new ArrayBuffer(bytes + 4 * slack, { maxByteLength: bytes + 4 * slack + 256 }), 4 * offset, n);
    case 'rab-tracking':
      return new Float32Array(new ArrayBuffer(bytes, { maxByteLength: bytes + 256 }), 4 * offset);
    case 'gsab-tracking':
      return new Float32Array(new SharedArrayBuffer(bytes, { maxByteLength: bytes + 256 }), 4 * offset);
    default:
      throw new Error(`unknown storage ${kind}`);
  }
}

/** Copies `data` into a new array of storage `kind`. */
export function stored(kind, data, offset = 0) {
  const a = allocate(kind, realLength(data), offset);
  a.set(data);
  return a;
}

/** Several tensors packed into one buffer of `kind`, with gaps (in floats) between them. */
export function packed(kind, datas, gaps) {
  const total = datas.reduce((s, d, i) => s + realLength(d) + (gaps[i] ?? 0), 0);
  const whole = kind === 'sab' ? new Float32Array(new SharedArrayBuffer(4 * total)) : new Float32Array(total);
  let at = 0;
  return datas.map((d, i) => {
    at += gaps[i] ?? 0;
    const view = whole.subarray(at, at + realLength(d));
    view.set(d);
    at += realLength(d);
    return view;
  });
}

/** Detaches an ArrayBuffer (Node 20 has no ArrayBuffer.prototype.transfer). */
export function detach(buffer) {
  structuredClone(buffer, { transfer: [buffer] });
}

// ---------------------------------------------------------------------------------------------
// Hostile wrappers. Each lies in one way; the tests judge the call by what the real objects are.

/** Subclass whose length getter lies. */
export class LyingLength extends Float32Array {
  get length() {
    return this.lie ?? 0;
  }
}
/** Subclass whose buffer and byteOffset getters lie (pretend to be elsewhere). */
export class LyingBuffer extends Float32Array {
  get buffer() {
    return (this.fakeBuffer ??= new ArrayBuffer(4 * lengthOf.call(this)));
  }
  get byteOffset() {
    return 0;
  }
}

/**
 * A Float32Array over `target`'s memory (or a copy), disguised by `how`:
 *   'plain'       a plain Float32Array
 *   'subclass'    an honest Float32Array subclass instance
 *   'lyingLength' subclass with a length getter returning `lie`
 *   'ownLength'   an own `length` property (value `lie`) on a plain Float32Array
 *   'lyingBuffer' subclass whose buffer/byteOffset getters pretend it is alone in a fresh buffer
 *   'ownBuffer'   own buffer/byteOffset/byteLength properties pretending the same
 *   'proxy'       a Proxy around a Float32Array (not a Float32Array)
 * `view` is a real Float32Array whose memory the result uses.
 */
export function disguise(how, view, lie = 0) {
  const { buffer, byteOffset, length } = realView(view);
  switch (how) {
    case 'plain':
      return view;
    case 'subclass':
      return new (class Honest extends Float32Array {})(buffer, byteOffset, length);
    case 'lyingLength': {
      const a = new LyingLength(buffer, byteOffset, length);
      a.lie = lie;
      return a;
    }
    case 'ownLength': {
      const a = new Float32Array(buffer, byteOffset, length);
      Object.defineProperty(a, 'length', { value: lie });
      return a;
    }
    case 'lyingBuffer':
      return new LyingBuffer(buffer, byteOffset, length);
    case 'ownBuffer': {
      const a = new Float32Array(buffer, byteOffset, length);
      const fake = new ArrayBuffer(4 * length);
      Object.defineProperty(a, 'buffer', { value: fake });
      Object.defineProperty(a, 'byteOffset', { value: 0 });
      Object.defineProperty(a, 'byteLength', { value: 4 * length });
      return a;
    }
    case 'proxy':
      return new Proxy(new Float32Array(buffer, byteOffset, length), {});
    default:
      throw new Error(`unknown disguise ${how}`);
  }
}

/**
 * A list (of grads, params, ...) presented through a hostile container. Returns the object to
 * pass and, for judging the call, the snapshots a correct implementation may have taken: the
 * values its first reads see ('first'), and for an own iterator the values it yields ('iterated').
 *   'array'     a plain array
 *   'frozen'    a frozen array
 *   'getters'   index getters returning `first[i]` on the first read and `later[i]` after
 *   'proxy'     a Proxy whose get trap does the same for indices, and lies about length after
 *               its first read when `lieLength`
 *   'iterator'  a plain array with an own Symbol.iterator yielding `later`
 *   'holey'     first with holes where entries are undefined
 */
export function container(kind, first, later, lieLength = false) {
  switch (kind) {
    case 'array':
      return { value: [...first], snapshots: [first] };
    case 'frozen':
      return { value: Object.freeze([...first]), snapshots: [first] };
    case 'holey': {
      const a = new Array(first.length);
      first.forEach((v, i) => {
        if (v !== undefined) a[i] = v;
      });
      return { value: a, snapshots: [first] };
    }
    case 'getters': {
      const a = new Array(first.length);
      first.forEach((v, i) => {
        let reads = 0;
        Object.defineProperty(a, i, { get: () => (reads++ === 0 ? v : later[i]), enumerable: true, configurable: true });
      });
      return { value: a, snapshots: [first] };
    }
    case 'proxy': {
      const reads = new Map();
      const value = new Proxy([...first], {
        get(target, key, receiver) {
          if (typeof key === 'string' && /^\d+$/.test(key)) {
            const n = reads.get(key) ?? 0;
            reads.set(key, n + 1);
            return n === 0 ? target[key] : later[Number(key)];
          }
          if (key === 'length' && lieLength) {
            const n = reads.get(key) ?? 0;
            reads.set(key, n + 1);
            return n === 0 ? target.length : target.length + 1;
          }
          return Reflect.get(target, key, receiver);
        },
      });
      return { value, snapshots: [first] };
    }
    case 'iterator': {
      const a = [...first];
      Object.defineProperty(a, Symbol.iterator, { value: function* () { yield* later; }, enumerable: false });
      return { value: a, snapshots: [first, later] };
    }
    default:
      throw new Error(`unknown container ${kind}`);
  }
}
export const CONTAINERS = ['array', 'frozen', 'holey', 'getters', 'proxy', 'iterator'];

/**
 * An options object presenting `first` through `kind`: 'plain', 'getters' (each key's getter
 * returns first[k] once, then later[k]), 'proxy' (the same through a get trap), 'frozen',
 * 'nullProto' (no prototype), 'inherited' (the values on the prototype, not own: ignored).
 */
export function optionsObject(kind, first, later = {}) {
  if (first === undefined || first === null || typeof first !== 'object' || Array.isArray(first) || ArrayBuffer.isView(first)) return first;
  switch (kind) {
    case 'plain':
      return { ...first };
    case 'frozen':
      return Object.freeze({ ...first });
    case 'nullProto':
      return Object.assign(Object.create(null), first);
    case 'getters': {
      const o = {};
      for (const k of Object.keys(first)) {
        let reads = 0;
        Object.defineProperty(o, k, { get: () => (reads++ === 0 || !(k in later) ? first[k] : later[k]), enumerable: true, configurable: true });
      }
      return o;
    }
    case 'proxy': {
      const reads = new Map();
      return new Proxy({ ...first }, {
        get(target, key, receiver) {
          if (typeof key === 'string' && key in target) {
            const n = reads.get(key) ?? 0;
            reads.set(key, n + 1);
            return n === 0 || !(key in later) ? target[key] : later[key];
          }
          return Reflect.get(target, key, receiver);
        },
      });
    }
    default:
      throw new Error(`unknown options object ${kind}`);
  }
}
export const OPTION_OBJECTS = ['plain', 'frozen', 'nullProto', 'getters', 'proxy'];

/** Values that turn a valid hyperparameter read into a bad one on a second read. */
export const LATER_VALUES = [NaN, Infinity, -1, '0.1', undefined, 0.5, 1e-3];

// ---------------------------------------------------------------------------------------------
// Judging one call against the oracle's { invalid, either } lists of argument names.

/**
 * Checks a call's outcome: it must throw (naming one of the names) when `problems.invalid` is
 * not empty, may throw (naming one) when only `problems.either` or `mayReject` names are given,
 * and must succeed otherwise. Returns 'threw' or 'succeeded'.
 */
export function judgeOutcome(result, problems, { where, mayReject = [], kinds } = {}) {
  const names = [...problems.invalid, ...problems.either, ...mayReject];
  if (result.ok) {
    if (problems.invalid.length > 0) fail(`succeeded, but it must reject ${problems.invalid.filter(Boolean).join(', ') || problems.reason || 'the call'}`);
    return 'succeeded';
  }
  if (names.length === 0) fail(`threw ${errorText(result.error)} on valid input`);
  check(errorProblem(result.error, { where, names, kinds }), `expected a rejection naming one of ${names.join(', ')}`);
  return 'threw';
}

export const noProblems = () => ({ invalid: [], either: [] });
