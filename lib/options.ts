/**
 * Hyperparameter specifications: each optimizer declares its options once (default and rule per
 * name), and the same declaration validates constructor options, parameter-group overrides, the
 * groups again before every step (they may be changed between steps, as schedules do), and the
 * groups of a loaded state dict.
 * @internal
 */
import { checkOptionsObject, type NumberRule, numberOption, booleanOption, betasOption } from './validate.js';

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

function checkValue(where: string, name: string, value: unknown, fallback: unknown, rule: Rule): unknown {
  switch (rule.kind) {
    case 'number':
      return numberOption(where, name, value, fallback as number, rule);
    case 'boolean':
      return booleanOption(where, name, value, fallback as boolean);
    case 'betas':
      return Object.freeze(betasOption(where, name, value, fallback as [number, number]));
  }
}

/**
 * Options with defaults filled in, validated. `base` supplies values the object leaves out (the
 * optimizer's defaults for a parameter group); `extra` names further keys the caller handles.
 */
export function resolveOptions<O extends object>(
  spec: OptionSpec<O>,
  where: string,
  prefix: string,
  options: unknown,
  base?: Required<O>,
  extra: readonly string[] = [],
): Required<O> {
  const names = Object.keys(spec.options);
  const given = checkOptionsObject(where, prefix, options, [...names, ...extra]);
  const out: Record<string, unknown> = {};
  for (const name of names) {
    const [fallback, rule] = spec.options[name as keyof O];
    const start = base ? (base as Record<string, unknown>)[name] : fallback;
    out[name] = checkValue(where, `${prefix}.${name}`, given[name], start, rule);
  }
  spec.crossCheck?.(where, prefix, out as Required<O>);
  return out as Required<O>;
}

/**
 * Re-checks a parameter group in place before a step: every option present and valid. Extra keys
 * are left alone (PyTorch's groups are open dicts too). Allocates nothing unless it throws.
 */
export function checkGroup<O extends object>(spec: OptionSpec<O>, where: string, prefix: string, group: Required<O>): void {
  for (const name in spec.options) {
    const value = (group as Record<string, unknown>)[name];
    const rule = spec.options[name][1];
    if (value === undefined) throw new TypeError(`${where}: ${prefix}.${name} is missing`);
    if (rule.kind === 'betas' && Array.isArray(value) && value.length === 2) {
      const [b1, b2] = value as unknown[];
      if (typeof b1 === 'number' && typeof b2 === 'number' && b1 >= 0 && b1 < 1 && b2 >= 0 && b2 < 1) continue;
    } else if (rule.kind === 'number' && typeof value === 'number' && Number.isFinite(value)) {
      if ((rule.min === undefined || value >= rule.min) && (rule.above === undefined || value > rule.above) &&
          (rule.max === undefined || value <= rule.max) && (rule.below === undefined || value < rule.below) &&
          (!rule.integer || Number.isInteger(value))) continue;
    } else if (rule.kind === 'boolean' && typeof value === 'boolean') {
      continue;
    }
    checkValue(where, `${prefix}.${name}`, value, undefined, rule); // throws with the full message
  }
  spec.crossCheck?.(where, prefix, group);
}
