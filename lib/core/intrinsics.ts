/**
 * What an argument really is, whatever it claims: the brand, length, buffer and offset of a typed
 * array read from its internal slots through the intrinsic %TypedArray%.prototype getters,
 * captured when this module loads. Properties a caller can define (an own `length`, a subclass's
 * `buffer` getter) and Proxies (which have no internal slots) cannot change what these return.
 *
 * The rule every entry point follows: read each input once into a snapshot (numbers as
 * primitives, typed arrays through these getters), validate the snapshot, compute only from it.
 * @internal
 */

/** fn(self, ...args): Node's uncurryThis, so a later change to Function.prototype.call is moot. */
const uncurryThis = Function.prototype.bind.bind(Function.prototype.call) as <A extends unknown[], R>(
  fn: (...args: A) => R,
) => (self: unknown, ...args: A) => R;

const TypedArrayPrototype = Object.getPrototypeOf(Uint8Array.prototype) as object;

function intrinsicGetter<T>(key: string | symbol): (self: unknown) => T {
  return uncurryThis(Object.getOwnPropertyDescriptor(TypedArrayPrototype, key)!.get! as () => T);
}

/** The [[TypedArrayName]] of a typed array, undefined for anything else (Proxies included). */
const tagOf = intrinsicGetter<string | undefined>(Symbol.toStringTag);
const lengthOf = intrinsicGetter<number>('length');
const byteOffsetOf = intrinsicGetter<number>('byteOffset');
const bufferOf = intrinsicGetter<ArrayBufferLike>('buffer');
const typedArraySet = uncurryThis(
  (TypedArrayPrototype as { set: (source: ArrayLike<number>, offset?: number) => void }).set,
);

// ArrayBuffer.prototype.resizable, where the runtime has resizable buffers (undefined otherwise).
const resizableDescriptor = Object.getOwnPropertyDescriptor(ArrayBuffer.prototype, 'resizable');
const resizableOf = resizableDescriptor?.get ? uncurryThis(resizableDescriptor.get as () => boolean) : null;

const arrayBufferByteLength = uncurryThis(Object.getOwnPropertyDescriptor(ArrayBuffer.prototype, 'byteLength')!.get! as () => number);
const sharedByteLength = uncurryThis(Object.getOwnPropertyDescriptor(SharedArrayBuffer.prototype, 'byteLength')!.get! as () => number);

/** Whether a buffer (from realBuffer) is a SharedArrayBuffer, of any realm. */
export function isSharedBuffer(buffer: ArrayBufferLike): boolean {
  try {
    arrayBufferByteLength(buffer);
    return false;
  } catch {
    return true;
  }
}

/**
 * A buffer's byte length now, from its internal slot: 0 once an ArrayBuffer is detached. `shared`
 * is what isSharedBuffer said of it.
 */
export function realByteLength(buffer: ArrayBufferLike, shared: boolean): number {
  return shared ? sharedByteLength(buffer) : arrayBufferByteLength(buffer);
}

/**
 * Whether a view's buffer is an ArrayBuffer that can shrink (resizable): its memory can go while
 * another thread works on it. A SharedArrayBuffer can only grow.
 */
export function canShrink(array: ArrayBufferView): boolean {
  if (resizableOf === null) return false;
  try {
    return resizableOf(bufferOf(array)); // an ArrayBuffer of any realm
  } catch {
    return false; // a SharedArrayBuffer (of any realm: instanceof would miss another realm's)
  }
}

/** True for a real Float32Array (a subclass's instance too); false for a Proxy or look-alike. */
export function isFloat32Array(value: unknown): value is Float32Array {
  return tagOf(value) === 'Float32Array';
}

/** The brand of a typed array ('Float64Array', ...), or undefined. */
export function typedArrayName(value: unknown): string | undefined {
  return tagOf(value);
}

/**
 * The number of elements a typed array really has now: 0 once its buffer is detached or a
 * resizable buffer shrank below it. Only for values isFloat32Array (or typedArrayName) accepted.
 */
export function realLength(array: ArrayBufferView): number {
  return lengthOf(array);
}

/** The ArrayBuffer or SharedArrayBuffer a typed array really views. */
export function realBuffer(array: ArrayBufferView): ArrayBufferLike {
  return bufferOf(array);
}

/** Where the view really starts in its buffer, in bytes. */
export function realByteOffset(array: ArrayBufferView): number {
  return byteOffsetOf(array);
}

/**
 * A copy of a Float32Array of `length` elements (its real length, checked by the caller), made
 * through the intrinsic set, which reads the source's internal slots: no getter or species of the
 * source is consulted.
 */
export function copyFloat32(source: Float32Array, length: number): Float32Array {
  const copy = new Float32Array(length);
  if (length > 0) typedArraySet(copy, source); // set refuses a detached source, even an empty one
  return copy;
}

/** A copy of a Float32Array or Float64Array through the intrinsic set (see copyFloat32). */
export function copyTypedArray<T extends Float32Array | Float64Array>(source: T): T {
  const length = lengthOf(source);
  const copy = (tagOf(source) === 'Float64Array' ? new Float64Array(length) : new Float32Array(length)) as T;
  if (length > 0) typedArraySet(copy, source);
  return copy;
}
