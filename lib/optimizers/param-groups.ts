/**
 * Parameter groups as a constructor or addParamGroup receives them: each read once into a copy,
 * then checked against each other and the optimizer's params before anything is added.
 * @internal
 */
import { resolveOptions, type OptionSpec } from '../core/options.js';
import { checkFloat32Array, checkNoOverlap, checkOptionsObject, describe, extentOf, readArray } from '../core/validate.js';

/** A group read once: its label for messages, its params (unchecked yet) and its options. */
export interface GroupInit {
  label: string;
  params: unknown[];
  overrides: object;
}

/** Reads a `{ params, ...options }` object once; unknown option names are errors. */
export function readGroupInit<O extends object>(where: string, spec: OptionSpec<O>, group: unknown, label: string): GroupInit {
  if (group === null || typeof group !== 'object' || Array.isArray(group) || ArrayBuffer.isView(group)) {
    throw new TypeError(`${where}: ${label} must be a parameter group { params, ...options }, got ${describe(group)}`);
  }
  const copy = checkOptionsObject(where, label, group, ['params', ...Object.keys(spec.options)]);
  const { params, ...overrides } = copy;
  return { label, params: readArray(where, `${label}.params`, params, 'an array of Float32Array'), overrides };
}

/**
 * Checks new groups: their options (the optimizer's defaults filling the gaps) and their params,
 * which must be Float32Arrays, distinct from and not overlapping each other or the existing
 * params. Returns each group's resolved options.
 * @throws TypeError or RangeError naming the offending argument.
 */
export function checkNewGroups<O extends object>(
  where: string,
  spec: OptionSpec<O>,
  defaults: Required<O>,
  groups: readonly GroupInit[],
  existing: readonly Float32Array[],
  groupOf: readonly number[],
): Required<O>[] {
  const hyper = groups.map((g) => resolveOptions(spec, where, g.label, g.overrides, defaults));
  const labels: string[] = existing.map((_, i) => `params[${i}] (group ${groupOf[i]})`);
  const added: Float32Array[] = [];
  for (const g of groups) {
    const name = g.label === 'params' ? 'params' : `${g.label}.params`;
    if (g.params.length === 0) throw new RangeError(`${where}: ${name} must not be empty`);
    g.params.forEach((p, i) => {
      added.push(checkFloat32Array(where, `${name}[${i}]`, p));
      labels.push(`${name}[${i}]`);
    });
  }
  const all = [...existing, ...added];
  const seen = new Map<Float32Array, number>();
  all.forEach((p, i) => {
    const first = seen.get(p);
    if (first !== undefined) throw new RangeError(`${where}: ${labels[i]} is the same array as ${labels[first]}`);
    seen.set(p, i);
  });
  // Overlapping params would be updated twice per step.
  checkNoOverlap(where, all.map(extentOf), (i) => labels[i]!);
  return hyper;
}
