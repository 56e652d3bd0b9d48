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
import { booleanOption, checkOptionsObject, fitsRule, numberOption, readBetas, type NumberRule } from './validate.js';

export type Rule =
  | ({ kind: 'number' } & NumberRule)
  | { kind: 'boolean' }
  | { kind: 'betas' };

export interface OptionSpec<O extends object> {
  /** Default and rule of every option, in the order they are documented. */
  readonly options: { readonly [K in keyof O]-?: readonly [Required<O>[K], Rule] };
  /** Checks that involve several options (SGD's nesterov rule); throws RangeError. */
  readonly crossCheck?: (where: string, prefix: string, o: Required<O>) => void;
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

/** A snapshot object for readGroup to fill: every option present, betas a pair of its own. */
export function newSnapshot<O extends object>(spec: OptionSpec<O>): Required<O> {
  const out: Record<string, unknown> = {};
  for (const name of Object.keys(spec.options)) {
    const [fallback, rule] = spec.options[name as keyof O];
    out[name] = rule.kind === 'betas' ? [0, 0] : fallback;
  }
  return out as Required<O>;
}

/**
 * Reads a parameter group into `into` before a step: every option read once, present and valid.
 * Extra keys are left alone (PyTorch's groups are open dicts too). Allocates nothing unless it
 * throws.
 */
export function readGroup<O extends object>(
  spec: OptionSpec<O>,
  where: string,
  prefix: string,
  group: object,
  into: Required<O>,
): void {
  const target = into as Record<string, unknown>;
  for (const name in spec.options) {
    const rule = spec.options[name][1];
    const value = (group as Record<string, unknown>)[name];
    if (value === undefined) throw new TypeError(`${where}: ${prefix}.${name} is missing`);
    if (rule.kind === 'betas') {
      readBetas(where, `${prefix}.${name}`, value, undefined, target[name] as [number, number]);
    } else if (rule.kind === 'number') {
      if (typeof value !== 'number' || !fitsRule(value, rule)) numberOption(where, `${prefix}.${name}`, value, 0, rule);
      target[name] = value;
    } else {
      target[name] = booleanOption(where, `${prefix}.${name}`, value, false);
    }
  }
  spec.crossCheck?.(where, prefix, into);
}
