/**
 * Hyperparameter specifications: each optimizer declares its options once (default and rule per
 * name), and the same declaration validates constructor options, parameter-group overrides, the
 * groups again before every step (they may be changed between steps, as schedules do), and the
 * groups of a loaded state dict.
 *
 * A group is read into a snapshot before every step: each option read once (a getter runs once),
 * the snapshot validated, and the step computed from the snapshot only.
 * @internal
 */
import { booleanOption, checkOptionsObject, numberOption, readBetas, type NumberRule } from './validate.js';

export type Rule =
  | ({ kind: 'number' } & NumberRule)
  | { kind: 'boolean' }
  | { kind: 'betas' };

export interface OptionSpec<O extends object> {
  /** Default and rule of every option, in the order they are documented. */
  readonly options: { readonly [K in keyof O]-?: readonly [Required<O>[K], Rule] };
  /**
   * Checks that involve several options (SGD's nesterov rule); throws RangeError. `prefix` is the
   * options' label for the message ('options'), or the index of the parameter group they belong to
   * (labelled 'paramGroups[1]' by optionsLabel, only when a message is made: a step must not
   * allocate, and a closure made to build the label lazily did whenever V8 did not inline this).
   */
  readonly crossCheck?: (where: string, prefix: string | number, o: Required<O>) => void;
}

export const num = (rule: NumberRule = {}): Rule => ({ kind: 'number', ...rule });
export const bool: Rule = { kind: 'boolean' };
export const betas: Rule = { kind: 'betas' };

/**
 * Options with defaults filled in, validated, as a new object (betas a frozen pair). `base`
 * supplies values the object leaves out (the optimizer's defaults for a parameter group); `extra`
 * names further keys the caller handles, whose values are copied into `extraValues`.
 */
export function resolveOptions<O extends object>(
  spec: OptionSpec<O>,
  where: string,
  prefix: string,
  options: unknown,
  base?: Required<O>,
  extra: readonly string[] = [],
  extraValues?: Record<string, unknown>,
): Required<O> {
  const names = Object.keys(spec.options);
  const given = checkOptionsObject(where, prefix, options, [...names, ...extra]);
  const out: Record<string, unknown> = {};
  for (const name of names) {
    const [fallback, rule] = spec.options[name as keyof O];
    const start = base ? (base as Record<string, unknown>)[name] : fallback;
    const label = `${prefix}.${name}`;
    const value = given[name];
    if (rule.kind === 'betas') {
      out[name] = Object.freeze(readBetas(where, label, value, start as [number, number], [0, 0]));
    } else if (rule.kind === 'number') {
      out[name] = numberOption(where, label, value, start as number, rule);
    } else {
      out[name] = booleanOption(where, label, value, start as boolean);
    }
  }
  if (extraValues) for (const name of extra) extraValues[name] = given[name];
  spec.crossCheck?.(where, prefix, out as Required<O>);
  return out as Required<O>;
}

/** The label of a crossCheck prefix: 'options' as given, or a group's index as 'paramGroups[i]'. */
export function optionsLabel(prefix: string | number): string {
  return typeof prefix === 'number' ? `paramGroups[${prefix}]` : prefix;
}

/** A snapshot object for readGroup to fill: every option present, betas a pair of its own. */
export function newSnapshot<O extends object>(spec: OptionSpec<O>): Required<O> {
  const out: Record<string, unknown> = {};
  for (const name of Object.keys(spec.options)) {
    const [fallback, rule] = spec.options[name as keyof O];
    out[name] = rule.kind === 'betas' ? [0, 0] : fallback;
  }
  return out as Required<O>;
}

/** Reads a parameter group into a snapshot before a step: see groupReader. */
export type GroupReader<O extends object> = (where: string, index: number, group: object, into: Required<O>) => void;

/**
 * The function that reads parameter group `index` into `into` before a step: every option read
 * once, present and valid. Extra keys are left alone (PyTorch's groups are open dicts too). It
 * allocates nothing (not even its error label, `paramGroups[index]`) unless it throws. Made once
 * per optimizer: a step then looks up nothing.
 */
export function groupReader<O extends object>(spec: OptionSpec<O>): GroupReader<O> {
  const { fast, slow, names } = compiled(spec);
  const crossCheck = spec.crossCheck;
  if (fast && !crossCheck) return (where, index, group, into) => fast(group, into, slow, where, index);
  return (where, index, group, into) => {
    if (fast) fast(group, into, slow, where, index);
    else for (let k = 0; k < names.length; k++) slow(where, index, k, (group as Record<string, unknown>)[names[k]!], into);
    if (crossCheck) crossCheck(where, index, into);
  };
}

type Slow = (where: string, index: number, k: number, value: unknown, into: object) => void;

interface Reader {
  names: string[];
  /** Checks option k's value and stores it, or throws with the rule's message. */
  slow: Slow;
  /** The same for every option at once, with named property accesses (see compile). */
  fast: ((group: object, into: object, slow: Slow, where: string, index: number) => void) | null;
}

const readers = new WeakMap<object, Reader>();

/**
 * A spec's reader. readGroup runs for every group on every step, and a loop over the option names
 * makes every access a keyed one (megamorphic: about 20 ns each); the fast reader is generated once
 * per spec with the names written out, so each access is a named one (about 1 ns), and leaves
 * everything but the plain valid number or boolean to `slow`. Where code cannot be generated
 * (node --disallow-code-generation-from-strings), the loop is used.
 */
function compiled<O extends object>(spec: OptionSpec<O>): Reader {
  let reader = readers.get(spec);
  if (reader) return reader;
  const names = Object.keys(spec.options);
  const rules = names.map((name) => (spec.options as unknown as Record<string, readonly [unknown, Rule]>)[name]![1]);
  // Only reached for a value the fast reader did not accept: it throws with the rule's message
  // (or, for a pair given as something other than a plain array, checks it the long way).
  const slow: Slow = (where, index, k, value, into) => {
    const name = names[k]!, rule = rules[k]!, label = `paramGroups[${index}].${name}`;
    const target = into as Record<string, unknown>;
    if (value === undefined) throw new TypeError(`${where}: ${label} is missing`);
    if (rule.kind === 'betas') readBetas(where, label, value, undefined, target[name] as [number, number]);
    else if (rule.kind === 'number') target[name] = numberOption(where, label, value, 0, rule);
    else target[name] = booleanOption(where, label, value, false);
  };
  const lines = names.map((name, k) => {
    const key = JSON.stringify(name), rule = rules[k]!;
    if (rule.kind === 'boolean') return `v = group[${key}]; if (typeof v === "boolean") into[${key}] = v; else slow(where, index, ${k}, v, into);`;
    if (rule.kind === 'betas') {
      // A pair: read the array, its length and both entries once each; two numbers in [0, 1) are
      // stored into the snapshot's own pair, anything else goes the long way (which reads the
      // array again: only to say what is wrong with it).
      return [
        `v = group[${key}];`,
        `if (Array.isArray(v)) {`,
        `  const n = v.length, b0 = v[0], b1 = v[1];`,
        `  if (n === 2 && typeof b0 === "number" && b0 >= 0 && b0 < 1 && typeof b1 === "number" && b1 >= 0 && b1 < 1) { const pair = into[${key}]; pair[0] = b0; pair[1] = b1; }`,
        `  else slow(where, index, ${k}, v, into);`,
        `} else slow(where, index, ${k}, v, into);`,
      ].join('\n');
    }
    const tests = ['typeof v === "number"', 'v - v === 0'];
    if (rule.min !== undefined) tests.push(`v >= ${rule.min}`);
    if (rule.above !== undefined) tests.push(`v > ${rule.above}`);
    if (rule.max !== undefined) tests.push(`v <= ${rule.max}`);
    if (rule.below !== undefined) tests.push(`v < ${rule.below}`);
    if (rule.integer) tests.push('Number.isSafeInteger(v)');
    return `v = group[${key}]; if (${tests.join(' && ')}) into[${key}] = v; else slow(where, index, ${k}, v, into);`;
  });
  let fast: Reader['fast'] = null;
  try {
    fast = new Function('group', 'into', 'slow', 'where', 'index', `"use strict";\nlet v;\n${lines.join('\n')}`) as Reader['fast'];
  } catch {
    fast = null;
  }
  reader = { names, slow, fast };
  readers.set(spec, reader);
  return reader;
}
