// The specification the properties judge against: every optimizer's options and their rules
// (PyTorch's ranges, every value a finite number), its state buffers and its functional update;
// arbitraries of valid and arbitrary options; a reproducible training set-up.
import {
  bitsOf, deepDiff, diffArrays, fc, fmt, levelArb, lib, seedArb, sizeArb, snapArrays, specialArb, values,
} from './support.mjs';

const num = (rule = {}) => ({ kind: 'number', ...rule });
export const BOOL = { kind: 'boolean' };
export const BETAS = { kind: 'betas' };
const NONNEG = num({ min: 0 });

const ADAM_OPTIONS = { lr: NONNEG, betas: BETAS, eps: NONNEG, weightDecay: NONNEG, amsgrad: BOOL, maximize: BOOL, epsInsideSqrt: BOOL };
const adamUpdateSpec = (fn) => ({
  fn, arrays: ['param', 'grad', 'expAvg', 'expAvgSq', 'maxExpAvgSq'], needs: { maxExpAvgSq: (h) => h.amsgrad === true }, step: 'required',
});

/**
 * name -> { cls, options: name -> rule, buffers (PyTorch's names, slot order), bufferUse(hyper),
 * countsSteps, scalars, update: { fn, arrays (names, in argument order), needs (array -> when
 * required), step, extra: further hyper keys and rules } }. step: 'required'; 'validated' (optional,
 * checked when given); 'momentum' (required when momentum != 0); 'ignored' (accepted, unused:
 * whether a bad value must then be rejected is left open).
 */
export const OPTIMIZERS = {
  Adam: {
    options: ADAM_OPTIONS, buffers: ['exp_avg', 'exp_avg_sq', 'max_exp_avg_sq'],
    bufferUse: (h) => [true, true, h.amsgrad === true], update: adamUpdateSpec('adamUpdate'),
  },
  AdamW: {
    options: ADAM_OPTIONS, buffers: ['exp_avg', 'exp_avg_sq', 'max_exp_avg_sq'],
    bufferUse: (h) => [true, true, h.amsgrad === true], update: adamUpdateSpec('adamwUpdate'),
  },
  Adagrad: {
    options: { lr: NONNEG, lrDecay: NONNEG, weightDecay: NONNEG, initialAccumulatorValue: NONNEG, eps: NONNEG, maximize: BOOL, epsInsideSqrt: BOOL },
    buffers: ['sum'], bufferUse: () => [true], update: { fn: 'adagradUpdate', arrays: ['param', 'grad', 'sum'], needs: {}, step: 'required' },
  },
  RMSprop: {
    options: { lr: NONNEG, alpha: NONNEG, eps: NONNEG, weightDecay: NONNEG, momentum: NONNEG, centered: BOOL, maximize: BOOL, epsInsideSqrt: BOOL },
    buffers: ['square_avg', 'grad_avg', 'momentum_buffer'], bufferUse: (h) => [true, h.centered === true, h.momentum > 0],
    update: {
      fn: 'rmspropUpdate', arrays: ['param', 'grad', 'squareAvg', 'gradAvg', 'momentumBuffer'],
      needs: { gradAvg: (h) => h.centered === true, momentumBuffer: (h) => h.momentum > 0 }, step: 'validated',
    },
  },
  SGD: {
    options: { lr: NONNEG, momentum: NONNEG, dampening: num(), weightDecay: NONNEG, nesterov: BOOL, maximize: BOOL },
    buffers: ['momentum_buffer'], bufferUse: (h) => [h.momentum !== 0 ? 'optional' : false], countsSteps: false,
    crossCheck: (o) => (o.nesterov === true && !(o.momentum > 0 && o.dampening === 0) ? ['nesterov', 'momentum', 'dampening'] : []),
    update: { fn: 'sgdUpdate', arrays: ['param', 'grad', 'momentumBuffer'], needs: { momentumBuffer: (h) => h.momentum !== 0 }, step: 'momentum' },
  },
  Adadelta: {
    options: { lr: NONNEG, rho: num({ min: 0, max: 1 }), eps: NONNEG, weightDecay: NONNEG, maximize: BOOL, previousSquareAvg: BOOL },
    buffers: ['square_avg', 'acc_delta'], bufferUse: () => [true, true],
    update: { fn: 'adadeltaUpdate', arrays: ['param', 'grad', 'squareAvg', 'accDelta'], needs: {}, step: 'ignored' },
  },
  Adamax: {
    options: { lr: NONNEG, betas: BETAS, eps: NONNEG, weightDecay: NONNEG, maximize: BOOL, epsOutsideMax: BOOL },
    buffers: ['exp_avg', 'exp_inf'], bufferUse: () => [true, true],
    update: { fn: 'adamaxUpdate', arrays: ['param', 'grad', 'expAvg', 'expInf'], needs: {}, step: 'required' },
  },
  NAdam: {
    options: { lr: NONNEG, betas: BETAS, eps: NONNEG, weightDecay: NONNEG, momentumDecay: NONNEG, decoupledWeightDecay: BOOL, maximize: BOOL },
    buffers: ['exp_avg', 'exp_avg_sq'], bufferUse: () => [true, true], scalars: ['mu_product'],
    update: { fn: 'nadamUpdate', arrays: ['param', 'grad', 'expAvg', 'expAvgSq'], needs: {}, step: 'required', extra: { muProduct: num({ min: 0, max: 1 }) } },
  },
  RAdam: {
    options: { lr: NONNEG, betas: BETAS, eps: NONNEG, weightDecay: NONNEG, decoupledWeightDecay: BOOL, maximize: BOOL },
    buffers: ['exp_avg', 'exp_avg_sq'], bufferUse: () => [true, true],
    update: { fn: 'radamUpdate', arrays: ['param', 'grad', 'expAvg', 'expAvgSq'], needs: {}, step: 'required' },
  },
  Lion: {
    options: { lr: NONNEG, betas: BETAS, weightDecay: NONNEG, maximize: BOOL },
    buffers: ['exp_avg'], bufferUse: () => [true], update: { fn: 'lionUpdate', arrays: ['param', 'grad', 'expAvg'], needs: {}, step: 'ignored' },
  },
};
for (const [name, spec] of Object.entries(OPTIMIZERS)) spec.cls = lib[name];
export const OPT_NAMES = Object.keys(OPTIMIZERS);

export const STEP_RULE = num({ min: 1, integer: true, count: true });

// ---------------------------------------------------------------------------------------------
// Classification: 'valid' values must be accepted, 'invalid' ones rejected naming the option;
// 'either' covers what the specification leaves open: -0, finite doubles beyond float32's range
// or below its smallest subnormal, whole numbers beyond 2^53.

const FLT_MAX = 3.4028234663852886e38;

export function classifyNumber(rule, v) {
  if (v === undefined) return 'valid';
  if (typeof v !== 'number' || !Number.isFinite(v)) return 'invalid';
  if (rule.min !== undefined && !(v >= rule.min)) return 'invalid';
  if (rule.above !== undefined && !(v > rule.above)) return 'invalid';
  if (rule.max !== undefined && !(v <= rule.max)) return 'invalid';
  if (rule.below !== undefined && !(v < rule.below)) return 'invalid';
  if (rule.integer && !Number.isInteger(v)) return 'invalid';
  if (Object.is(v, -0)) return 'either';
  // Step counts (rule.count) beyond 2^53 cannot be counted exactly: rejected; other whole numbers
  // beyond 2^53 are left open, and so is 2^53 itself.
  if (rule.integer && Math.abs(v) > 2 ** 53) return rule.count ? 'invalid' : 'either';
  if (rule.integer) return Math.abs(v) === 2 ** 53 || Math.abs(v) > Number.MAX_SAFE_INTEGER ? 'either' : 'valid';
  if (Math.abs(v) > FLT_MAX || (v !== 0 && Math.fround(v) === 0)) return 'either';
  return 'valid';
}

/** Adds `name` to problems.invalid or problems.either as the value of rule `rule` requires. */
export function judge(problems, rule, value, name) {
  if (value === undefined) return;
  if (rule.kind === 'boolean') {
    if (typeof value !== 'boolean') problems.invalid.push(name);
    return;
  }
  if (rule.kind === 'betas') {
    if (!Array.isArray(value) || value.length !== 2) {
      problems.invalid.push(name);
      return;
    }
    [0, 1].forEach((i) => {
      const c = classifyNumber({ min: 0, below: 1 }, value[i]);
      if (value[i] === undefined) problems.invalid.push(`${name}[${i}]`);
      else if (c !== 'valid') problems[c].push(`${name}[${i}]`);
    });
    return;
  }
  const c = classifyNumber(rule, value);
  if (c !== 'valid') problems[c].push(name);
}

const isPlainObject = (o) => o !== null && typeof o === 'object' && !Array.isArray(o) && !ArrayBuffer.isView(o);

/**
 * What is wrong with an options object (plain data): { invalid, either } lists of names.
 * `base` gives the values the object leaves out (for the cross checks); `extra` further known keys.
 */
export function optionsProblems(spec, options, prefix, { base = {}, extra = {} } = {}) {
  const problems = { invalid: [], either: [] };
  if (options === undefined) return problems;
  if (!isPlainObject(options)) {
    problems.invalid.push(prefix);
    return problems;
  }
  const rules = { ...spec.options, ...extra };
  for (const key of Object.keys(options)) {
    if (!(key in rules) || !Object.prototype.hasOwnProperty.call(rules, key)) problems.invalid.push(`${prefix}.${key}`);
    else judge(problems, rules[key], options[key], `${prefix}.${key}`);
  }
  if (spec.crossCheck) {
    const effective = { ...defaultsOf(spec), ...base };
    for (const [k, v] of Object.entries(options)) if (v !== undefined) effective[k] = v;
    // Beside other problems, which one is reported first is the implementation's choice.
    const crossed = spec.crossCheck(effective).map((n) => `${prefix}.${n}`);
    (problems.invalid.length === 0 ? problems.invalid : problems.either).push(...crossed);
  }
  return problems;
}

const DEFAULTS = {
  SGD: { lr: 1e-3, momentum: 0, dampening: 0, weightDecay: 0, nesterov: false, maximize: false },
};
function defaultsOf(spec) {
  return spec === OPTIMIZERS.SGD ? DEFAULTS.SGD : {};
}

// ---------------------------------------------------------------------------------------------
// Values.

const TYPICAL = {
  lr: [0, 1e-3, 0.01, 0.1, 0.5],
  eps: [0, 1e-8, 1e-6, 1e-3],
  weightDecay: [0, 1e-2, 0.1],
  momentum: [0, 0.5, 0.9],
  dampening: [0, 0.1, -0.5, 1],
  alpha: [0.99, 0, 0.5, 1, 1.5],
  rho: [0.9, 0, 1, 0.5],
  lrDecay: [0, 0.01],
  initialAccumulatorValue: [0, 0.1],
  momentumDecay: [4e-3, 0, 1],
  muProduct: [1, 0.9, 0.5],
};

/** Values that break one rule or another (classified per rule by classifyNumber). */
export const ODD_NUMBERS = [NaN, Infinity, -Infinity, -0, -1, -1e-3, 1, 1.5, 2, 1e300, 5e-324, 1e-46, 3.5e38, 2 ** 53 + 2];
export const ODD_VALUES = ['0.1', null, true, false, {}, [], 1n, undefined];
const ODD_BETAS = [[1, 0.9], [0.9, 1], [0.9], [0.9, 0.9, 0.9], [-0.1, 0.9], [NaN, 0.9], [0.9, Infinity], [0.9, '0.9'], 0.9, 'x', [undefined, 0.9]];

export function validValueArb(name, rule) {
  switch (rule.kind) {
    case 'boolean':
      return fc.boolean();
    case 'betas':
      return fc.oneof(
        fc.constantFrom([0.9, 0.999], [0, 0], [0.5, 0.9], [0.99, 0.5]),
        fc.tuple(fc.double({ min: 0, max: 0.9999, noNaN: true }), fc.double({ min: 0, max: 0.9999, noNaN: true })),
      );
    default: {
      const lo = rule.min ?? rule.above ?? -1;
      const hi = Math.min(rule.max ?? rule.below ?? 2, 2);
      const ranged = rule.integer
        ? fc.integer({ min: Math.ceil(lo), max: Math.floor(hi) })
        : fc.double({ min: lo, max: hi, noNaN: true }).filter((v) => classifyNumber(rule, v) === 'valid');
      return TYPICAL[name] ? fc.oneof(fc.constantFrom(...TYPICAL[name]), ranged) : ranged;
    }
  }
}

export function anyValueArb(name, rule) {
  const odd = rule.kind === 'boolean' ? [0, 1, 'true', null, undefined]
    : rule.kind === 'betas' ? [...ODD_BETAS, null, undefined]
    : [...ODD_NUMBERS, ...ODD_VALUES];
  return fc.oneof({ weight: 2, arbitrary: validValueArb(name, rule) }, { weight: 1, arbitrary: fc.constantFrom(...odd) });
}

/** A valid options object for optimizer `name` (a random subset of its options). */
export function validOptionsArb(name) {
  const spec = OPTIMIZERS[name];
  const record = {};
  for (const [k, rule] of Object.entries(spec.options)) record[k] = validValueArb(k, rule);
  let arb = fc.record(record, { requiredKeys: [] });
  if (spec.crossCheck) arb = arb.map((o) => (spec.crossCheck({ ...defaultsOf(spec), ...o }).length ? { ...o, nesterov: false } : o));
  return arb;
}

export const UNKNOWN_KEYS = ['learningRate', 'LR', 'momentum', 'betas', 'foo', 'step', 'params', 'initialLr', 'constructor', 'toString'];

/** Any options value: mostly objects of valid and invalid values, sometimes an unknown key or a non-object. */
export function anyOptionsArb(name, extra = {}) {
  const spec = OPTIMIZERS[name];
  const record = {};
  for (const [k, rule] of Object.entries({ ...spec.options, ...extra })) record[k] = anyValueArb(k, rule);
  const objects = fc.tuple(fc.record(record, { requiredKeys: [] }), fc.option(fc.constantFrom(...UNKNOWN_KEYS), { nil: undefined, freq: 4 }))
    .map(([o, unknown]) => (unknown === undefined ? o : { ...o, [unknown]: 1 }));
  return fc.oneof({ weight: 8, arbitrary: objects }, { weight: 1, arbitrary: fc.constantFrom(null, 5, 'lr', [], [0.1], undefined) });
}

// ---------------------------------------------------------------------------------------------
// A reproducible training set-up: optimizer, level, tensor sizes, groups, options, history.

/** Valid options for every optimizer at once (a plain record shrinks well; pick by name). */
export function validOptionsByNameArb(names = OPT_NAMES) {
  return fc.record(Object.fromEntries(names.map((n) => [n, validOptionsArb(n)])));
}

/** Any options for every optimizer at once (see validOptionsByNameArb). */
export function anyOptionsByNameArb(names = OPT_NAMES, extra = {}) {
  return fc.record(Object.fromEntries(names.map((n) => [n, anyOptionsArb(n, extra)])));
}

/** A value for any option: valid for one rule or another, or odd. Judged per rule afterwards. */
export const someValueArb = () =>
  fc.oneof(
    fc.constantFrom(0, 1e-3, 0.1, 0.5, 0.9, 1, true, false, [0.9, 0.999], [0.5, 0.5]),
    fc.double({ min: 0, max: 1, noNaN: true }),
    fc.constantFrom(...ODD_NUMBERS, ...ODD_VALUES, ...ODD_BETAS),
  );

/** A valid value of option `key` of optimizer `name`, picked by a number (shrinks to the first). */
export function pickValid(name, key, pick) {
  const rule = OPTIMIZERS[name].options[key];
  if (rule.kind === 'betas') return [[0.9, 0.999], [0, 0], [0.5, 0.9], [0.99, 0.5]][pick % 4];
  if (rule.kind === 'boolean') return pick % 2 === 1;
  const typical = TYPICAL[key] ?? [0, 0.5];
  return typical[pick % typical.length];
}

export function setupArb({ names = OPT_NAMES, maxTensors = 4, maxHistory = 3 } = {}) {
  return fc.record({
    name: fc.constantFrom(...names),
    level: levelArb(),
    lengths: fc.array(sizeArb(), { minLength: 1, maxLength: maxTensors }),
    groups: fc.integer({ min: 0, max: 3 }),
    seed: seedArb(),
    special: specialArb(),
    history: fc.integer({ min: 0, max: maxHistory }),
    skip: fc.nat(255),
    options: validOptionsByNameArb(names),
    overrides: fc.tuple(validOptionsByNameArb(names), validOptionsByNameArb(names), validOptionsByNameArb(names)),
  }).map((s) => {
    const groups = groupsOf(s)?.length ?? 0;
    const spec = OPTIMIZERS[s.name];
    const options = s.options[s.name];
    // Overrides valid on their own can break a cross check with the options (SGD's nesterov).
    const overrides = s.overrides.slice(0, groups).map((o) => {
      const own = o[s.name];
      return spec.crossCheck?.({ ...defaultsOf(spec), ...options, ...own }).length ? { ...own, nesterov: false } : own;
    });
    return { ...s, options, overrides };
  });
}

/** The groups of a set-up as lists of param indices, or null for a flat param list. */
export function groupsOf(setup) {
  if (setup.groups === 0) return null;
  const n = setup.lengths.length;
  const k = Math.min(setup.groups, n);
  const out = [];
  let at = 0;
  for (let g = 0; g < k; g++) {
    const size = Math.floor(n / k) + (g < n % k ? 1 : 0);
    out.push(Array.from({ length: size }, (_, i) => at + i));
    at += size;
  }
  return out;
}

/** The hyperparameters group g of a set-up ends up with (options over defaults, then overrides). */
export function groupHyper(setup, g) {
  const base = { ...(setup.name === 'SGD' ? DEFAULTS.SGD : {}), ...setup.options };
  return groupsOf(setup) ? { ...base, ...setup.overrides[g] } : base;
}

export function groupOfParam(setup, i) {
  const groups = groupsOf(setup);
  return groups ? groups.findIndex((idx) => idx.includes(i)) : 0;
}

export function initialParams(setup) {
  return setup.lengths.map((n, i) => values(setup.seed + 17 * i + 1, n, setup.special));
}

export function makeOptimizer(setup, params, extraOptions = {}) {
  const { cls } = OPTIMIZERS[setup.name];
  const groups = groupsOf(setup);
  const options = { ...setup.options, ...extraOptions };
  if (!groups) return new cls(params, options);
  return new cls(groups.map((idx, g) => ({ params: idx.map((i) => params[i]), ...setup.overrides[g] })), options);
}

/** Gradients of history step k (some null, by the skip bits), or of a later step k. */
export function gradsAt(setup, k, special = setup.special) {
  return setup.lengths.map((n, i) => {
    const bit = (k * setup.lengths.length + i) % 8;
    if (k < setup.history && (setup.skip >> bit) & 1) return null;
    return values(setup.seed * 31 + 1009 * (k + 1) + 7 * i, n, special);
  });
}

/** Builds the optimizer over `params` (fresh from the set-up unless given) and runs its history. */
export function train(setup, params = initialParams(setup), extraOptions = {}) {
  const opt = makeOptimizer(setup, params, extraOptions);
  for (let k = 0; k < setup.history; k++) opt.step(gradsAt(setup, k));
  return { opt, params };
}

// ---------------------------------------------------------------------------------------------
// Snapshots of an optimizer: every array it can reach, its state dict, its lists.

export function stateArrays(opt, params) {
  const out = [];
  const state = opt.state;
  params.forEach((p, i) => {
    const s = state.get(p);
    if (!s) return;
    for (const [k, v] of Object.entries(s)) if (v instanceof Float32Array) out.push([`state(params[${i}]).${k}`, v]);
  });
  return out;
}

export function snapshot(opt, params, extra = []) {
  const state = stateArrays(opt, params);
  return {
    arrays: snapArrays([...params.map((p, i) => [`params[${i}]`, p]), ...state, ...extra]),
    stateCount: state.length,
    dict: opt.stateDict(),
    list: [...opt.params],
    groups: [...opt.paramGroups],
    groupParams: opt.paramGroups.map((g) => [...g.params]),
  };
}

/** Null when nothing reachable changed since `snap`, else the first change. */
export function changedSince(snap, opt, params) {
  const arrays = diffArrays(snap.arrays);
  if (arrays) return `an array changed: ${arrays}`;
  let dict;
  try {
    dict = opt.stateDict();
  } catch (e) {
    return `stateDict() threw afterwards: ${e}`;
  }
  const d = deepDiff(snap.dict, dict, 'stateDict()');
  if (d) return `the state dict changed: ${d}`;
  if (stateArrays(opt, params).length !== snap.stateCount) return 'the set of state buffers changed';
  if (opt.params.length !== snap.list.length || snap.list.some((p, i) => opt.params[i] !== p)) return 'opt.params changed';
  if (opt.paramGroups.length !== snap.groups.length || snap.groups.some((g, i) => opt.paramGroups[i] !== g)) return 'opt.paramGroups changed';
  return null;
}

/** Null when two optimizers (and their params) hold the same bits and state, else where not. */
export function sameTraining(a, paramsA, b, paramsB, label = 'twin') {
  for (let i = 0; i < paramsA.length; i++) {
    const d = diffArrays([[`params[${i}] (${label} vs this run)`, paramsA[i], bitsOf(paramsB[i])]]);
    if (d) return d;
  }
  let da, db;
  try {
    da = a.stateDict();
    db = b.stateDict();
  } catch (e) {
    return `stateDict() threw: ${e}`;
  }
  return deepDiff(db, da, `stateDict() (vs ${label})`);
}

/** Plain copies of a list of gradients (null stays null). */
export function copies(list) {
  return list.map((g) => (g === null || g === undefined ? g : new Float32Array(bitsOf(g).buffer)));
}

export const describeSetup = (s) => `${s.name} on ${s.level}, lengths [${s.lengths}], ${s.history} prior steps, options ${fmt(s.options)}`;

