/**
 * Argument checks shared by every optimizer. Each throws a TypeError (wrong kind of value) or a
 * RangeError (right kind, value not allowed) whose message names the argument, and each runs
 * before anything is written: a rejected call leaves params and state exactly as they were.
 * @internal
 */

export type Grads = readonly (Float32Array | null | undefined)[];

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an Array';
  if (ArrayBuffer.isView(value)) return `a ${value.constructor.name}`;
  if (typeof value === 'number') return String(value);
  if (typeof value === 'string') return `'${value}'`;
  return typeof value;
}

/** The options object itself: undefined or a plain object whose keys are all known. */
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
  for (const key of Object.keys(options)) {
    if (!known.includes(key)) {
      throw new TypeError(`${where}: unknown option ${name}.${key} (known: ${known.join(', ')})`);
    }
  }
  return options as Record<string, unknown>;
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

/** A finite number within the rule; `fallback` when the value is undefined. */
export function numberOption(where: string, name: string, value: unknown, fallback: number, rule: NumberRule): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number') {
    throw new TypeError(`${where}: ${name} must be ${ruleText(rule)}, got ${describe(value)}`);
  }
  const ok =
    Number.isFinite(value) &&
    (rule.min === undefined || value >= rule.min) &&
    (rule.above === undefined || value > rule.above) &&
    (rule.max === undefined || value <= rule.max) &&
    (rule.below === undefined || value < rule.below) &&
    (!rule.integer || Number.isInteger(value));
  if (!ok) throw new RangeError(`${where}: ${name} must be ${ruleText(rule)}, got ${value}`);
  return value;
}

export function booleanOption(where: string, name: string, value: unknown, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (typeof value !== 'boolean') throw new TypeError(`${where}: ${name} must be a boolean, got ${describe(value)}`);
  return value;
}

/** A pair of coefficients, each in [0, 1) as PyTorch requires of betas. */
export function betasOption(
  where: string,
  name: string,
  value: unknown,
  fallback: readonly [number, number],
): [number, number] {
  if (value === undefined) return [fallback[0], fallback[1]];
  if (!Array.isArray(value) || value.length !== 2) {
    throw new TypeError(`${where}: ${name} must be an array of two numbers, got ${describe(value)}`);
  }
  const rule = { min: 0, below: 1 };
  return [numberOption(where, `${name}[0]`, value[0], 0, rule), numberOption(where, `${name}[1]`, value[1], 0, rule)];
}

/** True when two views share at least one byte of the same buffer. */
export function overlaps(a: ArrayBufferView, b: ArrayBufferView): boolean {
  return (
    a.buffer === b.buffer &&
    a.byteLength > 0 &&
    b.byteLength > 0 &&
    a.byteOffset < b.byteOffset + b.byteLength &&
    b.byteOffset < a.byteOffset + a.byteLength
  );
}

export function checkFloat32Array(where: string, name: string, value: unknown): Float32Array {
  if (!(value instanceof Float32Array)) {
    throw new TypeError(`${where}: ${name} must be a Float32Array, got ${describe(value)}`);
  }
  return value;
}

/**
 * A parameter list: a non-empty array of distinct, non-overlapping Float32Arrays. Errors name
 * `${name}[i]`, or what `label(i)` says.
 */
export function checkParams(
  where: string,
  params: unknown,
  name = 'params',
  label: (i: number) => string = (i) => `${name}[${i}]`,
): Float32Array[] {
  if (!Array.isArray(params)) throw new TypeError(`${where}: ${name} must be an array of Float32Array, got ${describe(params)}`);
  if (params.length === 0) throw new RangeError(`${where}: ${name} must not be empty`);
  const checked = params.map((p, i) => checkFloat32Array(where, label(i), p));
  const seen = new Map<Float32Array, number>();
  checked.forEach((p, i) => {
    const first = seen.get(p);
    if (first !== undefined) throw new RangeError(`${where}: ${label(i)} is the same array as ${label(first)}`);
    seen.set(p, i);
  });
  // Overlapping params would be updated twice per step. Sweep each buffer's views by offset,
  // remembering the view that reaches furthest: O(n log n) rather than all pairs.
  for (const indices of indexByBuffer(checked).values()) {
    if (indices.length < 2) continue;
    indices.sort((a, b) => checked[a]!.byteOffset - checked[b]!.byteOffset);
    let reach = -1;
    let reachIndex = -1;
    for (const i of indices) {
      const p = checked[i]!;
      if (p.byteLength === 0) continue;
      if (p.byteOffset < reach) {
        throw new RangeError(`${where}: ${label(Math.min(i, reachIndex))} and ${label(Math.max(i, reachIndex))} overlap in memory`);
      }
      if (p.byteOffset + p.byteLength > reach) {
        reach = p.byteOffset + p.byteLength;
        reachIndex = i;
      }
    }
  }
  return checked;
}

/**
 * The gradients of one step: one entry per param, each a Float32Array of its param's length that
 * shares no memory with any param, or null/undefined for a param without a gradient this step.
 * `paramsByBuffer` maps each buffer to the params in it (see indexByBuffer).
 */
export function checkGrads(
  where: string,
  grads: unknown,
  params: readonly Float32Array[],
  paramsByBuffer: ReadonlyMap<ArrayBufferLike, readonly number[]>,
): Grads {
  if (!Array.isArray(grads)) throw new TypeError(`${where}: grads must be an array, got ${describe(grads)}`);
  if (grads.length !== params.length) {
    throw new RangeError(`${where}: grads has ${grads.length} entries, expected one per param (${params.length})`);
  }
  for (let i = 0; i < grads.length; i++) {
    const grad: unknown = grads[i];
    if (grad === null || grad === undefined) continue;
    const g = checkFloat32Array(where, `grads[${i}]`, grad);
    if (g.length !== params[i]!.length) {
      throw new RangeError(`${where}: grads[${i}] has length ${g.length}, params[${i}] has length ${params[i]!.length}`);
    }
    const sharing = paramsByBuffer.get(g.buffer);
    if (sharing) {
      for (const j of sharing) {
        if (overlaps(g, params[j]!)) throw new RangeError(`${where}: grads[${i}] overlaps params[${j}] in memory`);
      }
    }
  }
  return grads as Grads;
}

export function indexByBuffer(views: readonly ArrayBufferView[]): Map<ArrayBufferLike, number[]> {
  const map = new Map<ArrayBufferLike, number[]>();
  views.forEach((v, i) => {
    const list = map.get(v.buffer);
    if (list) list.push(i);
    else map.set(v.buffer, [i]);
  });
  return map;
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

export function checkUpdateArrays(where: string, arrays: readonly UpdateArray[]): void {
  const param = checkFloat32Array(where, arrays[0]!.name, arrays[0]!.value);
  const present: { name: string; view: Float32Array; written: boolean }[] = [];
  for (const { name, value, optional, written, neededWhen } of arrays) {
    if (optional && (value === null || value === undefined)) continue;
    const view = checkFloat32Array(where, neededWhen ? `${name} (needed ${neededWhen})` : name, value);
    if (view.length !== param.length) {
      throw new RangeError(`${where}: ${name} has length ${view.length}, ${arrays[0]!.name} has length ${param.length}`);
    }
    present.push({ name, view, written });
  }
  for (let a = 0; a < present.length; a++) {
    for (let b = a + 1; b < present.length; b++) {
      const x = present[a]!, y = present[b]!;
      if ((x.written || y.written) && (x.view === y.view || overlaps(x.view, y.view))) {
        throw new RangeError(`${where}: ${y.name} overlaps ${x.name} in memory`);
      }
    }
  }
}

/** hyper.step of a functional update: the 1-based count of this update, a whole number >= 1. */
export function stepOption(where: string, hyper: unknown): number {
  const value = hyper !== null && typeof hyper === 'object' ? (hyper as Record<string, unknown>)['step'] : undefined;
  if (value === undefined) throw new TypeError(`${where}: hyper.step is required (1 for the first update)`);
  return numberOption(where, 'hyper.step', value, 1, { min: 1, integer: true });
}
