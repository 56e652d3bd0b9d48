/**
 * The parameter-group objects of `optimizer.paramGroups`: each option an own enumerable property
 * (spread, JSON and `Object.keys` see them as PyTorch's dicts show theirs), made an accessor so
 * that an assignment while a step is running, a `stepAsync` in flight above all, is refused with
 * ERR_SIMD_OPTIM_BUSY instead of silently missing the step it was meant for.
 *
 * The accessors are generated once per optimizer kind with the option names written out and the
 * values in private fields: every step reads every option of every group, and a generated getter
 * is inlined by V8 (about 1 ns) where a closure over the name is a keyed load (about 20 ns). Where
 * code cannot be generated, closures are used.
 * @internal
 */
import type { OptionSpec } from '../core/options.js';
import { busyError } from '../core/validate.js';

/** What the accessors ask before a write: the operation running now, if any (see Optimizer.running). */
export interface GroupGuard {
  readonly name: string;
  running: string | null;
  /** True while the optimizer itself writes the groups (a state dict being loaded). */
  ownWrite: boolean;
}

type Accessors = Record<string, { get(this: object): unknown; set(this: object, value: unknown): void }>;
type Factory = (values: Record<string, unknown>, guard: GroupGuard) => object;

const factories = new WeakMap<object, Factory>();

/** console.log shows a group's values, not [Getter/Setter]. */
const INSPECT = Symbol.for('nodejs.util.inspect.custom');
function showValues(this: object, _depth: number, options: unknown, show: (value: unknown, options: unknown) => string): string {
  return show({ ...this }, options);
}

/** Refuses a write while an operation runs: called by the setters. */
function refuse(guard: GroupGuard, key: string): Error {
  return busyError(`${guard.name}: paramGroups[...].${key} = ...`, guard.running!);
}

function generated(names: readonly string[]): Factory | null {
  if (!names.every((n) => /^[A-Za-z_$][\w$]*$/.test(n))) return null;
  const fields = names.map((n) => `#${n};`).join(' ');
  const init = names.map((n) => `this.#${n} = values[${JSON.stringify(n)}];`).join(' ');
  const accessors = names.map((n) => {
    const key = JSON.stringify(n);
    return `${key}: { get() { return this.#${n}; }, set(v) { const g = this.#guard; if (g.running !== null && !g.ownWrite) throw refuse(g, ${key}); this.#${n} = v; } }`;
  });
  const source = `"use strict";
    class Group { #guard; ${fields}
      constructor(values, guard) { this.#guard = guard; ${init} }
      static accessors = { ${accessors.join(',\n')} };
      [inspect](depth, options, show) { return show({ ...this }, options); }
    }
    return Group;`;
  try {
    const Group = new Function('refuse', 'inspect', source)(refuse, INSPECT) as { new (values: Record<string, unknown>, guard: GroupGuard): object; accessors: Accessors };
    return withOwnAccessors(names, Group.accessors, (values, guard) => new Group(values, guard));
  } catch {
    return null; // node --disallow-code-generation-from-strings
  }
}

/** The same with closures, where code cannot be generated. */
function closures(names: readonly string[]): Factory {
  const store = new WeakMap<object, { values: Record<string, unknown>; guard: GroupGuard }>();
  const accessors: Accessors = {};
  for (const n of names) {
    accessors[n] = {
      get() {
        return store.get(this)!.values[n];
      },
      set(v) {
        const own = store.get(this)!;
        if (own.guard.running !== null && !own.guard.ownWrite) throw refuse(own.guard, n);
        own.values[n] = v;
      },
    };
  }
  return withOwnAccessors(names, accessors, (values, guard) => {
    const group = {};
    Object.defineProperty(group, INSPECT, { value: showValues });
    store.set(group, { values: { ...values }, guard });
    return group;
  });
}

/**
 * Each group gets the accessors as own properties (the same functions for every group, so V8
 * gives all groups one shape). Configurable, as a plain object's: a caller may still redefine one.
 */
function withOwnAccessors(names: readonly string[], accessors: Accessors, create: Factory): Factory {
  return (values, guard) => {
    const group = create(values, guard);
    for (const n of names) Object.defineProperty(group, n, { get: accessors[n]!.get, set: accessors[n]!.set, enumerable: true, configurable: true });
    return group;
  };
}

/** A group object holding `values` (every option of the spec), guarded by `guard`. */
export function makeGroupObject<O extends object>(spec: OptionSpec<O>, values: Required<O>, guard: GroupGuard): Record<string, unknown> {
  let factory = factories.get(spec);
  if (!factory) {
    const names = Object.keys(spec.options);
    factory = generated(names) ?? closures(names);
    factories.set(spec, factory);
  }
  return factory(values as Record<string, unknown>, guard) as Record<string, unknown>;
}
