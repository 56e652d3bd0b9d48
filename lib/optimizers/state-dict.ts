/**
 * The shape of an optimizer's state dict, and the check a state dict passes before
 * loadStateDict installs any of it: the dict is first read into a plain copy (each property read
 * once, so getters and Proxies run once), then the copy is checked against the optimizer, and
 * only buffers whose real length was checked are copied.
 * @internal
 */
import { copyFloat32, isFloat32Array, realLength } from '../core/intrinsics.js';
import { resolveOptions, type OptionSpec } from '../core/options.js';
import { describe, fitsRule, readArray, type NumberRule } from '../core/validate.js';

/** One param's state: `step`, other numbers (NAdam's `mu_product`), buffers under PyTorch's names. */
export type ParamStateEntry = Record<string, number | Float32Array>;

/** An optimizer's state as plain data, like PyTorch's optimizer.state_dict(). */
export interface OptimizerStateDict {
  /** The optimizer class: a state dict loads only into the same kind. */
  optimizer: string;
  /** Per param, keyed by the ids its group lists in `params` (index in the optimizer's params). */
  state: Record<number, ParamStateEntry>;
  /** Per group: its hyperparameters and the ids of its params. */
  paramGroups: ({ params: number[] } & Record<string, unknown>)[];
}

export interface StateDictExpectation<O extends object> {
  optimizer: string;
  spec: OptionSpec<O>;
  groupSizes: readonly number[];
  paramLengths: readonly number[];
  groupOf: readonly number[];
  bufferNames: readonly string[];
  bufferUse: (hyper: Required<O>) => readonly ('required' | 'optional' | 'unused')[];
  countsSteps: boolean;
  /** The per-param numbers besides the step count, each with its rule. */
  scalarRules: Readonly<Record<string, NumberRule>>;
}

export interface CheckedStateDict<O extends object> {
  groups: Required<O>[];
  /** Each group's initialLr (a scheduler's record of its first lr), where the dict has one. */
  initialLrs: (number | undefined)[];
  records: ({ step: number; buffers: Record<string, Float32Array>; scalars: Record<string, number> } | undefined)[];
}

const isObject = (x: unknown): x is Record<string, unknown> =>
  x !== null && typeof x === 'object' && !Array.isArray(x) && !ArrayBuffer.isView(x);

/** A plain copy of an object's own enumerable properties, each read once. */
function readObject(where: string, label: string, value: unknown): Record<string, unknown> {
  if (!isObject(value)) throw new TypeError(`${where}: ${label} must be an object, got ${describe(value)}`);
  // Null prototype: an own key "__proto__" (JSON.parse makes one) is then an entry like any other,
  // refused by name, not a prototype to set and silently drop.
  const copy = Object.create(null) as Record<string, unknown>;
  for (const key of Object.keys(value)) copy[key] = value[key];
  return copy;
}

/** A canonical array index ('0', '12'; not '01', '1e0' or '-1'), or -1. */
function indexOf(key: string): number {
  const n = Number(key);
  return Number.isSafeInteger(n) && n >= 0 && String(n) === key ? n : -1;
}

/** Validates a state dict against the optimizer it is loaded into; returns copies of everything. */
export function checkStateDict<O extends object>(where: string, input: unknown, expect: StateDictExpectation<O>): CheckedStateDict<O> {
  const dict = readObject(where, 'the state dict', input);
  const kind = dict['optimizer'];
  if (kind !== expect.optimizer) {
    throw new RangeError(`${where}: the state dict is of ${typeof kind === 'string' ? kind.slice(0, 60) : describe(kind)}, not ${expect.optimizer}`);
  }
  const groups = readArray(where, 'paramGroups', dict['paramGroups']);
  if (groups.length !== expect.groupSizes.length) {
    throw new RangeError(`${where}: the state dict has ${groups.length} parameter groups, the optimizer ${expect.groupSizes.length}`);
  }
  // Saved ids map to the optimizer's params by position, group after group, as in PyTorch.
  const idToIndex = new Map<number, number>();
  const optionNames = Object.keys(expect.spec.options);
  const initialLrs: (number | undefined)[] = [];
  const hyper = groups.map((value, g) => {
    const label = `paramGroups[${g}]`;
    const group = readObject(where, label, value);
    const ids = readArray(where, `${label}.params`, group['params']);
    if (ids.length !== expect.groupSizes[g]) {
      throw new RangeError(`${where}: ${label}.params must list ${expect.groupSizes[g]} param ids, as the optimizer's group ${g} has; it lists ${ids.length}`);
    }
    ids.forEach((id, k) => {
      if (typeof id !== 'number' || !Number.isSafeInteger(id) || id < 0) {
        throw new RangeError(`${where}: ${label}.params[${k}] must be a whole number >= 0, got ${describe(id)}`);
      }
      if (idToIndex.has(id)) throw new RangeError(`${where}: ${label}.params[${k}] repeats the id ${id}`);
      idToIndex.set(id, idToIndex.size);
    });
    delete group['params'];
    const initialLr = group['initialLr'];
    delete group['initialLr'];
    if (initialLr !== undefined && !(typeof initialLr === 'number' && Number.isFinite(initialLr) && initialLr >= 0)) {
      throw new RangeError(`${where}: ${label}.initialLr must be a finite number >= 0, got ${describe(initialLr)}`);
    }
    initialLrs.push(initialLr as number | undefined);
    for (const key of optionNames) {
      if (!(key in group)) throw new RangeError(`${where}: ${label}.${key} is missing`);
    }
    return resolveOptions(expect.spec, where, label, group);
  });
  const state = readObject(where, 'state', dict['state']);
  const records: CheckedStateDict<O>['records'] = expect.paramLengths.map(() => undefined);
  const scalarNames = Object.keys(expect.scalarRules);
  const known = [...(expect.countsSteps ? ['step'] : []), ...scalarNames, ...expect.bufferNames];
  for (const [key, value] of Object.entries(state)) {
    const id = indexOf(key);
    const index = id < 0 ? undefined : idToIndex.get(id);
    if (index === undefined) throw new RangeError(`${where}: state[${key}] belongs to no param of the paramGroups`);
    const label = `state[${key}]`;
    const entry = readObject(where, label, value);
    const uses = expect.bufferUse(hyper[expect.groupOf[index]!]!);
    const record = { step: 0, buffers: {} as Record<string, Float32Array>, scalars: {} as Record<string, number> };
    const length = expect.paramLengths[index]!;
    for (const [name, item] of Object.entries(entry)) {
      if (!known.includes(name)) throw new RangeError(`${where}: ${label} has an unknown entry '${name}' (known: ${known.join(', ')})`);
      if (name === 'step' && expect.countsSteps) {
        if (typeof item !== 'number' || !Number.isSafeInteger(item) || item < 0) {
          throw new RangeError(`${where}: ${label}.step must be a whole number >= 0, got ${describe(item)}`);
        }
        record.step = item;
      } else if (scalarNames.includes(name)) {
        if (typeof item !== 'number' || !fitsRule(item, expect.scalarRules[name]!)) {
          throw new RangeError(`${where}: ${label}.${name} must be a finite number in range, got ${describe(item)}`);
        }
        record.scalars[name] = item;
      } else {
        // A buffer the hyperparameters do not use now (max_exp_avg_sq with amsgrad turned off) is
        // kept, as PyTorch keeps it: turned back on, the optimizer goes on from it.
        if (!isFloat32Array(item)) throw new TypeError(`${where}: ${label}.${name} must be a Float32Array, got ${describe(item)}`);
        const itemLength = realLength(item);
        if (itemLength !== length) throw new RangeError(`${where}: ${label}.${name} has ${itemLength} elements, its param ${length}`);
        record.buffers[name] = copyFloat32(item, length);
      }
    }
    if (expect.countsSteps && !('step' in entry)) throw new RangeError(`${where}: ${label}.step is missing`);
    for (const name of scalarNames) {
      if (!(name in record.scalars)) throw new RangeError(`${where}: ${label}.${name} is missing`);
    }
    uses.forEach((use, k) => {
      if (use === 'required' && !record.buffers[expect.bufferNames[k]!]) {
        throw new RangeError(`${where}: ${label}.${expect.bufferNames[k]} is missing`);
      }
    });
    records[index] = record;
  }
  return { groups: hyper, initialLrs, records };
}

/**
 * The groups' values for a state dict, as they are now, each read once (a pair such as betas
 * copied): a dict of an optimizer whose lr was just set to NaN is still a record of its state;
 * loadStateDict is where values are checked. A scheduler's record of a group's first lr
 * (PyTorch's initial_lr travels in its dict too) is kept: a scheduler built after a load then
 * starts from it, not from the loaded, decayed lr.
 */
export function groupDictValues(where: string, groups: readonly object[], optionNames: readonly string[]): Record<string, unknown>[] {
  return groups.map((group) => {
    const copy: Record<string, unknown> = {};
    for (const key of optionNames) {
      const value = (group as Record<string, unknown>)[key];
      copy[key] = Array.isArray(value) ? readArray(where, key, value) : value;
    }
    const initialLr = (group as { initialLr?: unknown }).initialLr;
    if (typeof initialLr === 'number') copy['initialLr'] = initialLr;
    return copy;
  });
}

/** Each group's options (and initialLr) as they are now, for putting back with assignGroupValues. */
export function groupValues(groups: readonly object[], optionNames: readonly string[]): Record<string, unknown>[] {
  return groups.map((group) => {
    const values: Record<string, unknown> = {};
    for (const key of [...optionNames, 'initialLr']) values[key] = (group as Record<string, unknown>)[key];
    return values;
  });
}

/** Puts back groupValues; a caller's setter that refuses its own old value is ignored. */
export function assignGroupValues(groups: readonly object[], values: readonly Record<string, unknown>[]): void {
  values.forEach((v, g) => {
    try {
      Object.assign(groups[g]!, v);
    } catch {
      // nothing better can be done
    }
  });
}
