/**
 * The shape of an optimizer's state dict, and the check a state dict passes before
 * loadStateDict installs any of it.
 * @internal
 */
import { resolveOptions, type OptionSpec } from './options.js';

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
  scalarNames: readonly string[];
}

export interface CheckedStateDict<O extends object> {
  groups: Required<O>[];
  records: ({ step: number; buffers: Record<string, Float32Array>; scalars: Record<string, number> } | undefined)[];
}

const isObject = (x: unknown): x is Record<string, unknown> => x !== null && typeof x === 'object' && !Array.isArray(x);

/** Validates a state dict against the optimizer it is loaded into; returns copies of everything. */
export function checkStateDict<O extends object>(
  where: string,
  dict: unknown,
  expect: StateDictExpectation<O>,
): CheckedStateDict<O> {
  if (!isObject(dict)) throw new TypeError(`${where}: the state dict must be an object`);
  if (dict['optimizer'] !== expect.optimizer) {
    throw new RangeError(`${where}: the state dict is of ${String(dict['optimizer'])}, not ${expect.optimizer}`);
  }
  const groups = dict['paramGroups'];
  if (!Array.isArray(groups)) throw new TypeError(`${where}: paramGroups must be an array`);
  if (groups.length !== expect.groupSizes.length) {
    throw new RangeError(`${where}: the state dict has ${groups.length} parameter groups, the optimizer ${expect.groupSizes.length}`);
  }
  // Saved ids map to the optimizer's params by position, group after group, as in PyTorch.
  const idToIndex = new Map<number, number>();
  const optionNames = Object.keys(expect.spec.options);
  const hyper = groups.map((group: unknown, g) => {
    const label = `paramGroups[${g}]`;
    if (!isObject(group)) throw new TypeError(`${where}: ${label} must be an object`);
    const ids = group['params'];
    if (!Array.isArray(ids) || ids.length !== expect.groupSizes[g]) {
      throw new RangeError(`${where}: ${label}.params must list ${expect.groupSizes[g]} param ids, as the optimizer's group ${g} has`);
    }
    for (const id of ids) {
      if (!Number.isInteger(id) || idToIndex.has(id as number)) throw new RangeError(`${where}: ${label}.params has a bad or repeated id ${String(id)}`);
      idToIndex.set(id as number, idToIndex.size);
    }
    const { params: _ids, ...options } = group;
    for (const key of optionNames) {
      if (!(key in options)) throw new RangeError(`${where}: ${label}.${key} is missing`);
    }
    return resolveOptions(expect.spec, where, label, options);
  });
  const state = dict['state'];
  if (!isObject(state)) throw new TypeError(`${where}: state must be an object keyed by param id`);
  const records: CheckedStateDict<O>['records'] = expect.paramLengths.map(() => undefined);
  for (const [key, entry] of Object.entries(state)) {
    const index = idToIndex.get(Number(key));
    if (index === undefined) throw new RangeError(`${where}: state[${key}] belongs to no param of the paramGroups`);
    const label = `state[${key}]`;
    if (!isObject(entry)) throw new TypeError(`${where}: ${label} must be an object`);
    const uses = expect.bufferUse(hyper[expect.groupOf[index]!]!);
    const record = { step: 0, buffers: {} as Record<string, Float32Array>, scalars: {} as Record<string, number> };
    if (expect.countsSteps) {
      const step = entry['step'];
      if (typeof step !== 'number' || !Number.isInteger(step) || step < 0) {
        throw new RangeError(`${where}: ${label}.step must be a whole number >= 0, got ${String(step)}`);
      }
      record.step = step;
    }
    for (const name of expect.scalarNames) {
      const value = entry[name];
      if (typeof value !== 'number' || !Number.isFinite(value)) throw new RangeError(`${where}: ${label}.${name} must be a finite number`);
      record.scalars[name] = value;
    }
    for (const [name, value] of Object.entries(entry)) {
      if (name === 'step' && expect.countsSteps) continue;
      if (expect.scalarNames.includes(name)) continue;
      const k = expect.bufferNames.indexOf(name);
      if (k < 0) throw new RangeError(`${where}: ${label} has an unknown entry '${name}' (known: ${[...(expect.countsSteps ? ['step'] : []), ...expect.scalarNames, ...expect.bufferNames].join(', ')})`);
      if (uses[k] === 'unused') throw new RangeError(`${where}: ${label}.${name} is not used with these hyperparameters`);
      if (!(value instanceof Float32Array)) throw new TypeError(`${where}: ${label}.${name} must be a Float32Array`);
      if (value.length !== expect.paramLengths[index]) {
        throw new RangeError(`${where}: ${label}.${name} has length ${value.length}, its param ${expect.paramLengths[index]}`);
      }
      record.buffers[name] = value.slice();
    }
    uses.forEach((use, k) => {
      if (use === 'required' && !record.buffers[expect.bufferNames[k]!]) {
        throw new RangeError(`${where}: ${label}.${expect.bufferNames[k]} is missing`);
      }
    });
    records[index] = record;
  }
  return { groups: hyper, records };
}
