// Learning-rate schedules: bad options and bad state dicts are refused with a TypeError or
// RangeError naming them, leaving the optimizer's groups as they were (and a later schedule on it
// as on an optimizer that never saw the attempt); steps keep every rate finite, or throw and
// change nothing; a LambdaLR whose function fails leaves lastEpoch and every rate unchanged.
import { ODD_NUMBERS, ODD_VALUES, judge } from './spec.mjs';
import {
  attempt, check, deepDiff, errorProblem, errorText, fail, fc, fmt, lib, noProblems, optionsObject,
} from './support.mjs';
import { cloneDict } from './state.mjs';

const num = (rule, valid) => ({ type: 'num', rule: { kind: 'number', ...rule }, valid });
const INT1 = num({ min: 1, integer: true }, [1, 2, 3, 5]);
const INT0 = num({ min: 0, integer: true }, [0, 1, 2, 5]);
const NONNEG = num({ min: 0 }, [0, 0.1, 0.5, 0.9, 1, 2]);
const UNIT = num({ min: 0, max: 1 }, [0, 0.1, 0.5, 1]);
const POSITIVE = num({ above: 0 }, [0.5, 1, 3, 10]);
const MOMENTUM = num({ min: 0, below: 1 }, [0, 0.5, 0.85, 0.95]);
const BOOL = { type: 'bool' };
const PER_GROUP = { type: 'perGroup', rule: { kind: 'number', min: 0 }, valid: [0.01, 0.1, 0.5] };
const req = (o) => ({ ...o, required: true });
const oneOf = (...values) => ({ type: 'enum', values });

/** Every scheduler's options: PyTorch's, camelCase, with this package's rules. */
const SCHEDULERS = {
  StepLR: { stepSize: req(INT1), gamma: NONNEG },
  MultiStepLR: { milestones: req({ type: 'milestones' }), gamma: NONNEG },
  ExponentialLR: { gamma: req(NONNEG) },
  ConstantLR: { factor: UNIT, totalIters: INT0 },
  LinearLR: { startFactor: num({ above: 0, max: 1 }, [0.1, 0.5, 1]), endFactor: UNIT, totalIters: INT1 },
  PolynomialLR: { totalIters: INT1, power: NONNEG },
  CosineAnnealingLR: { tMax: req(POSITIVE), etaMin: NONNEG },
  LambdaLR: { lrLambda: req({ type: 'lambda' }) },
  InverseTimeLR: { k: req(NONNEG) },
  InverseSqrtLR: {},
  CosineAnnealingWarmRestarts: { t0: req(INT1), tMult: INT1, etaMin: NONNEG },
  OneCycleLR: {
    maxLr: req(PER_GROUP), totalSteps: INT1, epochs: INT1, stepsPerEpoch: INT1, pctStart: UNIT, annealStrategy: oneOf('cos', 'linear'),
    cycleMomentum: BOOL, baseMomentum: MOMENTUM, maxMomentum: MOMENTUM, divFactor: POSITIVE, finalDivFactor: POSITIVE, threePhase: BOOL,
  },
  CyclicLR: {
    baseLr: req(PER_GROUP), maxLr: req(PER_GROUP), stepSizeUp: POSITIVE, stepSizeDown: POSITIVE, mode: oneOf('triangular', 'triangular2', 'exp_range'),
    gamma: NONNEG, cycleMomentum: BOOL, baseMomentum: MOMENTUM, maxMomentum: MOMENTUM,
  },
  ReduceLROnPlateau: {
    mode: oneOf('min', 'max'), factor: num({ min: 0, below: 1 }, [0, 0.1, 0.5]), patience: INT0, threshold: NONNEG, thresholdMode: oneOf('rel', 'abs'),
    cooldown: INT0, minLr: PER_GROUP, eps: NONNEG,
  },
};
const KINDS = Object.keys(SCHEDULERS);
const UNKNOWN = ['step_size', 'lr', 'foo', 'lastEpoch', 'verbose'];

function valueArb(o) {
  const odd = fc.constantFrom(...ODD_NUMBERS, ...ODD_VALUES);
  switch (o.type) {
    case 'num':
      return fc.oneof({ weight: 4, arbitrary: fc.constantFrom(...o.valid) }, { weight: 1, arbitrary: odd });
    case 'bool':
      return fc.oneof({ weight: 4, arbitrary: fc.boolean() }, { weight: 1, arbitrary: fc.constantFrom(0, 'true', null) });
    case 'enum':
      return fc.oneof({ weight: 4, arbitrary: fc.constantFrom(...o.values) }, { weight: 1, arbitrary: fc.constantFrom('COS', 'triangular3', 0, null) });
    case 'perGroup':
      return fc.oneof(
        { weight: 3, arbitrary: fc.constantFrom(...o.valid) },
        { weight: 2, arbitrary: fc.array(fc.constantFrom(...o.valid), { minLength: 1, maxLength: 3 }) },
        { weight: 1, arbitrary: odd },
        { weight: 1, arbitrary: fc.array(fc.constantFrom(0.1, NaN, -1, '0.1'), { minLength: 1, maxLength: 3 }) },
      );
    case 'milestones':
      return fc.oneof(
        { weight: 4, arbitrary: fc.array(fc.integer({ min: 0, max: 8 }), { maxLength: 4 }) },
        { weight: 1, arbitrary: fc.constantFrom([1.5], [-1], 'x', [NaN], null, [2 ** 60]) },
      );
    case 'lambda':
      return fc.oneof({ weight: 4, arbitrary: fc.constantFrom('fn', 'fns') }, { weight: 1, arbitrary: fc.constantFrom('notFn', 'fnsShort', null, 'fnsWithJunk') });
    default:
      throw new Error(o.type);
  }
}

function optionsArb(kind) {
  const spec = SCHEDULERS[kind];
  const record = Object.fromEntries(Object.entries(spec).map(([k, o]) => [k, valueArb(o)]));
  const required = Object.entries(spec).filter(([, o]) => o.required).map(([k]) => k);
  return fc.oneof(
    { weight: 8, arbitrary: fc.tuple(fc.record(record, { requiredKeys: [] }), fc.record(Object.fromEntries(required.map((k) => [k, record[k]]))), fc.option(fc.constantFrom(...UNKNOWN), { nil: undefined, freq: 5 }))
      .map(([o, req, unknown]) => ({ ...req, ...o, ...(unknown ? { [unknown]: 1 } : {}) })) },
    { weight: 1, arbitrary: fc.constantFrom(null, 5, 'options', [], undefined) },
  );
}

/** Valid options of each kind, for the schedules that follow a refused one. */
const VALID = {
  StepLR: { stepSize: 2, gamma: 0.5 }, MultiStepLR: { milestones: [1, 3] }, ExponentialLR: { gamma: 0.9 }, ConstantLR: {}, LinearLR: {},
  PolynomialLR: {}, CosineAnnealingLR: { tMax: 4 }, LambdaLR: { lrLambda: 'fn' }, InverseTimeLR: { k: 0.5 }, InverseSqrtLR: {},
  CosineAnnealingWarmRestarts: { t0: 2, tMult: 2 }, OneCycleLR: { maxLr: 0.5, totalSteps: 10, cycleMomentum: false }, CyclicLR: { baseLr: 0.01, maxLr: 0.5, stepSizeUp: 2, cycleMomentum: false },
  ReduceLROnPlateau: { patience: 1 },
};

const OPTIMIZERS = {
  Adam: (params, groups) => new lib.Adam(groups(params)),
  SGD: (params, groups) => new lib.SGD(groups(params), { momentum: 0.9 }),
  Adagrad: (params, groups) => new lib.Adagrad(groups(params)),
  RMSprop: (params, groups) => new lib.RMSprop(groups(params)),
};

const optimizerArb = () => fc.record({ name: fc.constantFrom(...Object.keys(OPTIMIZERS)), lrs: fc.array(fc.constantFrom(0.1, 0.01, 1, 0.5, 0), { minLength: 1, maxLength: 3 }) });

function makeOptimizer({ name, lrs }) {
  const params = lrs.map(() => new Float32Array(2));
  return OPTIMIZERS[name](params, (ps) => ps.map((p, i) => ({ params: [p], lr: lrs[i] })));
}
const hasMomentum = (name) => name !== 'Adagrad';

/** The functions an lrLambda descriptor stands for. */
function lambdas(token, groups) {
  const fn = (e) => 0.5 ** e;
  switch (token) {
    case 'fn': return fn;
    case 'fns': return Array.from({ length: groups }, (_, i) => (e) => (i + 1) / (e + 1));
    case 'notFn': return 'lambda';
    case 'fnsShort': return Array.from({ length: groups + 1 }, () => fn);
    case 'fnsWithJunk': return [...Array.from({ length: groups - 1 }, () => fn), 5];
    default: return token;
  }
}
const buildOptions = (options, groups) =>
  options !== null && typeof options === 'object' && !Array.isArray(options) && 'lrLambda' in options ? { ...options, lrLambda: lambdas(options.lrLambda, groups) } : options;

/** What is wrong with a scheduler's options for an optimizer of `groups` groups. */
function problemsOf(kind, options, groups, optimizerName) {
  const spec = SCHEDULERS[kind];
  const problems = noProblems();
  if (options !== undefined && (options === null || typeof options !== 'object' || Array.isArray(options))) {
    problems.invalid.push('options');
    return problems;
  }
  const o = options ?? {};
  for (const key of Object.keys(o)) if (!(key in spec)) problems.invalid.push(`options.${key}`);
  for (const [key, s] of Object.entries(spec)) {
    const v = o[key];
    const name = `options.${key}`;
    if (v === undefined) {
      if (s.required) problems.invalid.push(name);
      continue;
    }
    switch (s.type) {
      case 'num':
        judge(problems, s.rule, v, name);
        break;
      case 'bool':
        if (typeof v !== 'boolean') problems.invalid.push(name);
        break;
      case 'enum':
        if (!s.values.includes(v)) problems.invalid.push(name);
        break;
      case 'perGroup':
        if (Array.isArray(v)) {
          if (v.length !== groups) problems.invalid.push(name);
          else v.forEach((x, i) => judge(problems, s.rule, x, `${name}[${i}]`));
        } else judge(problems, s.rule, v, name);
        break;
      case 'milestones':
        if (!Array.isArray(v)) problems.invalid.push(name);
        else v.forEach((x, i) => judge(problems, { kind: 'number', min: 0, integer: true }, x, `${name}[${i}]`));
        break;
      case 'lambda':
        if (!['fn', 'fns'].includes(v)) problems.invalid.push(name);
        break;
    }
  }
  if (kind === 'OneCycleLR') {
    if (o.totalSteps === undefined && (o.epochs === undefined || o.stepsPerEpoch === undefined)) problems.invalid.push('options.totalSteps', 'options.epochs', 'options.stepsPerEpoch');
    // With totalSteps given, epochs and stepsPerEpoch are not used: whether bad ones are refused is open.
    if (o.totalSteps !== undefined) {
      for (const k of ['epochs', 'stepsPerEpoch']) {
        if (problems.invalid.includes(`options.${k}`)) {
          problems.invalid = problems.invalid.filter((n) => n !== `options.${k}`);
          problems.either.push(`options.${k}`);
        }
      }
    }
  }
  if (kind === 'OneCycleLR' && problems.invalid.length === 0) {
    // A phase of no steps (pctStart * totalSteps = 1, as PyTorch's division by zero) is refused.
    const total = o.totalSteps ?? o.epochs * o.stepsPerEpoch;
    const pct = o.pctStart ?? 0.3;
    const ends = o.threePhase ? [pct * total - 1, 2 * pct * total - 2, total - 1] : [pct * total - 1, total - 1];
    if (ends.some((end, i) => end === (i === 0 ? 0 : ends[i - 1]))) problems.invalid.push('options.pctStart');
  }
  if ((kind === 'OneCycleLR' || kind === 'CyclicLR') && o.cycleMomentum !== false && !hasMomentum(optimizerName)) {
    problems.invalid.push('options.cycleMomentum');
  }
  if (kind === 'CyclicLR' && o.stepSizeUp === undefined && o.stepSizeDown !== undefined) {
    // stepSizeDown defaults to stepSizeUp; nothing more to say.
  }
  return problems;
}

/**
 * What a schedule may change and training depends on: each group's lr, betas and momentum, and the
 * optimizer's state dict. (Bookkeeping such as initialLr is judged by its effect on later schedules.)
 */
function groupsState(opt) {
  return {
    groups: opt.paramGroups.map((g) => cloneDict(Object.fromEntries(Object.entries(g).filter(([k]) => k === 'lr' || k === 'betas' || k === 'momentum')))),
    dict: opt.stateDict(),
  };
}

// ---------------------------------------------------------------------------------------------
// scheduler.construct

const constructArb = () =>
  fc.constantFrom(...KINDS).chain((kind) =>
    fc.record({
      kind: fc.constant(kind),
      optimizer: optimizerArb(),
      optimizerArg: fc.constantFrom('real', 'real', 'real', 'real', 'null', 'object', 'emptyGroups', 'groupWithoutLr', 'stringLr'),
      options: optionsArb(kind),
      optionsKind: fc.constantFrom('plain', 'plain', 'plain', 'getters', 'proxy'),
      later: fc.constantFrom(NaN, -1, 'x', undefined, 3),
      then: fc.constantFrom(...KINDS),
    }),
  );

function constructPredicate({ kind, optimizer, optimizerArg, options, optionsKind, later, then }) {
  const opt = makeOptimizer(optimizer);
  const twin = makeOptimizer(optimizer);
  const groups = optimizer.lrs.length;
  const junk = { null: null, object: {}, emptyGroups: { paramGroups: [] }, groupWithoutLr: { paramGroups: [{}] }, stringLr: { paramGroups: [{ lr: '0.1' }] } };
  const arg = optimizerArg === 'real' ? opt : junk[optimizerArg];
  const problems = optimizerArg === 'real' ? problemsOf(kind, options, groups, optimizer.name) : { invalid: ['optimizer'], either: [] };
  if (optimizerArg !== 'real') {
    const p = problemsOf(kind, options, groups, 'Adagrad');
    problems.either.push(...p.invalid, ...p.either);
  }
  const before = groupsState(opt);
  // Hostile options objects: each getter gives the generated value once, then `later`.
  const plain = buildOptions(options, groups);
  const isObject = plain !== null && typeof plain === 'object' && !Array.isArray(plain);
  const given = isObject ? optionsObject(optionsKind, plain, Object.fromEntries(Object.keys(plain).map((k) => [k, later]))) : plain;
  const mayReject = isObject && optionsKind !== 'plain' ? Object.keys(plain).map((k) => `options.${k}`) : [];
  const r = attempt(() => new lib[kind](arg, given));
  if (r.ok) {
    if (problems.invalid.length) fail(`new ${kind} succeeded, but it must reject ${problems.invalid.join(', ')}`);
    if (optimizerArg !== 'real') return;
    opt.paramGroups.forEach((g, i) => {
      if (typeof g.lr !== 'number' || !Number.isFinite(g.lr) || g.lr < 0) fail(`new ${kind} set paramGroups[${i}].lr to ${fmt(g.lr)}`);
    });
    if (mayReject.length) {
      // Read once: the same schedule as from the plain options, now and after three steps.
      const t = attempt(() => new lib[kind](twin, plain));
      if (!t.ok) fail(`new ${kind} accepted options through ${optionsKind} that plain it refuses: ${errorText(t.error)}`);
      for (let k = 0; k <= 3; k++) {
        check(deepDiff(groupsState(twin), groupsState(opt), `the optimizer after ${k} steps (plain options vs ${optionsKind})`));
        const step = (s) => (kind === 'ReduceLROnPlateau' ? s.step(2) : s.step());
        const a = attempt(() => step(r.value));
        const b = attempt(() => step(t.value));
        if (a.ok !== b.ok) fail(`step ${k + 1}: ${a.ok ? 'ok' : errorText(a.error)} with options through ${optionsKind}, ${b.ok ? 'ok' : errorText(b.error)} with plain ones`);
      }
    }
    return;
  }
  const names = [...problems.invalid, ...problems.either, ...mayReject];
  if (names.length === 0) fail(`new ${kind} threw ${errorText(r.error)} on valid options ${fmt(options)}`);
  check(errorProblem(r.error, { where: kind, names }), `new ${kind}(${optimizerArg}, ${fmt(options)})`);
  check(deepDiff(before, groupsState(opt), 'the optimizer'), `after the refused new ${kind}`);
  // A schedule made afterwards behaves as on an optimizer that never saw the refused one.
  const follow = (o) => {
    const s = new lib[then](o, buildOptions(VALID[then], groups));
    for (let k = 0; k < 3; k++) (then === 'ReduceLROnPlateau' ? s.step(1) : s.step());
    return groupsState(o);
  };
  const a = attempt(() => follow(opt));
  const b = attempt(() => follow(twin));
  if (a.ok !== b.ok) fail(`new ${then} after the refused ${kind}: ${a.ok ? 'ok' : errorText(a.error)} vs ${b.ok ? 'ok' : errorText(b.error)} on a fresh optimizer`);
  if (a.ok) check(deepDiff(b.value, a.value, `the optimizer after new ${then} and 3 steps (fresh vs after the refused ${kind})`));
}

// ---------------------------------------------------------------------------------------------
// scheduler.steps

const validOptionsArb = (kind) => optionsArb(kind).filter((o) => o !== null && typeof o === 'object' && !Array.isArray(o));

const stepsArb = () =>
  fc.constantFrom(...KINDS).chain((kind) =>
    fc.record({
      kind: fc.constant(kind),
      optimizer: optimizerArb(),
      options: validOptionsArb(kind),
      metrics: fc.array(fc.oneof(fc.double({ min: -10, max: 10, noNaN: true }), fc.constantFrom(NaN, Infinity, -Infinity, 0, -0, '1', null)), { minLength: 1, maxLength: 14 }),
      reload: fc.nat(14),
    }),
  ).filter((x) => problemsOf(x.kind, x.options, x.optimizer.lrs.length, x.optimizer.name).invalid.length === 0);

function stepsPredicate({ kind, optimizer, options, metrics, reload }) {
  const opt = makeOptimizer(optimizer);
  const groups = optimizer.lrs.length;
  const c = attempt(() => new lib[kind](opt, buildOptions(options, groups)));
  if (!c.ok) {
    // Options the oracle leaves open may be refused.
    const p = problemsOf(kind, options, groups, optimizer.name);
    if (p.either.length === 0) fail(`new ${kind} threw ${errorText(c.error)} on valid options`);
    return;
  }
  const s = c.value;
  const finite = (when) => opt.paramGroups.forEach((g, i) => {
    if (typeof g.lr !== 'number' || !Number.isFinite(g.lr) || g.lr < 0) fail(`${when}: paramGroups[${i}].lr is ${fmt(g.lr)}`);
  });
  finite(`new ${kind}(${fmt(options)})`);
  metrics.forEach((metric, k) => {
    if (k === reload) {
      // A scheduler's own state dict loads back into it.
      const d = attempt(() => s.loadStateDict(s.stateDict()));
      if (!d.ok) fail(`loading the scheduler's own stateDict() threw ${errorText(d.error)}`);
    }
    const before = { lastEpoch: s.lastEpoch, last: s.getLastLr(), groups: groupsState(opt) };
    const r = attempt(() => (kind === 'ReduceLROnPlateau' ? s.step(metric) : s.step()));
    if (!r.ok) {
      // A schedule may refuse a step whose rate would not be finite and >= 0 (an ExponentialLR
      // overflowing), saying which rate; it must then change nothing.
      const rates = /the (lr|momentum)( of group \d+)? .*would be/.test(String(r.error?.message)) ? ['lr', 'momentum'] : [];
      const allowed = kind === 'OneCycleLR' ? ['totalSteps', ...rates] : kind === 'ReduceLROnPlateau' ? ['metric'] : rates;
      if (allowed.length === 0 || (kind === 'ReduceLROnPlateau' && typeof metric === 'number')) fail(`step ${k + 1} of ${kind} threw ${errorText(r.error)}`);
      check(errorProblem(r.error, { where: [kind, `${kind}.step`], names: allowed }), `step ${k + 1}`);
      check(deepDiff(before, { lastEpoch: s.lastEpoch, last: s.getLastLr(), groups: groupsState(opt) }, 'the scheduler and the optimizer'), `after the refused step ${k + 1}`);
      return;
    }
    finite(`after step ${k + 1} of ${kind}(${fmt(options)})`);
  });
}

// ---------------------------------------------------------------------------------------------
// scheduler.lambdaFailure

const BEHAVIOURS = ['ok', 'ok', 'ok', 'NaN', 'Infinity', 'string', 'undefined', 'throw', 'negative'];

const lambdaArb = () =>
  fc.record({
    optimizer: optimizerArb(),
    perGroup: fc.boolean(),
    // behaviour[g][epoch]: what group g's function does at each epoch (cycling).
    behaviour: fc.array(fc.array(fc.constantFrom(...BEHAVIOURS), { minLength: 1, maxLength: 6 }), { minLength: 3, maxLength: 3 }),
    steps: fc.integer({ min: 1, max: 10 }),
    sequential: fc.boolean(),
  });

function lambdaPredicate({ optimizer, perGroup, behaviour, steps, sequential }) {
  const opt = makeOptimizer(optimizer);
  const groups = optimizer.lrs.length;
  const userError = new Error('the user function failed');
  const fnFor = (g) => (epoch) => {
    const b = behaviour[g][epoch % behaviour[g].length];
    switch (b) {
      case 'ok': return 0.9 ** epoch;
      case 'NaN': return NaN;
      case 'Infinity': return Infinity;
      case 'string': return '1';
      case 'undefined': return undefined;
      case 'throw': throw userError;
      case 'negative': return -1;
    }
    return 1;
  };
  const lrLambda = perGroup ? Array.from({ length: groups }, (_, g) => fnFor(g)) : fnFor(0);
  const before = groupsState(opt);
  const c = attempt(() => {
    const l = new lib.LambdaLR(opt, { lrLambda });
    return sequential ? new lib.SequentialLR(opt, { schedulers: [new lib.StepLR(opt, { stepSize: 2 }), l], milestones: [2] }) : l;
  });
  const judgeFailure = (error, context, snap) => {
    if (error !== userError) check(errorProblem(error, { where: ['LambdaLR', 'LambdaLR.step', 'SequentialLR', 'SequentialLR.step'] }), context);
    check(deepDiff(snap, current(), 'the scheduler and the optimizer'), `after ${context}`);
  };
  let s = null;
  const current = () => ({ lastEpoch: s?.lastEpoch, last: s?.getLastLr(), groups: groupsState(opt) });
  if (!c.ok) {
    // The first rate (epoch 0) is computed at construction: a failure there changes no rate.
    if (c.error !== userError) check(errorProblem(c.error, { where: ['LambdaLR', 'SequentialLR'] }), 'new LambdaLR');
    opt.paramGroups.forEach((g, i) => {
      if (!Object.is(g.lr, before.groups[i].lr)) fail(`the refused new LambdaLR changed paramGroups[${i}].lr from ${before.groups[i].lr} to ${g.lr}`);
    });
    return;
  }
  s = c.value;
  for (let k = 0; k < steps; k++) {
    const snap = current();
    const r = attempt(() => s.step());
    if (!r.ok) {
      judgeFailure(r.error, `step ${k + 1}`, snap);
      continue;
    }
    opt.paramGroups.forEach((g, i) => {
      if (typeof g.lr !== 'number' || !Number.isFinite(g.lr)) fail(`after step ${k + 1}, paramGroups[${i}].lr is ${fmt(g.lr)}`);
    });
  }
}

// ---------------------------------------------------------------------------------------------
// scheduler.loadStateDict

const LOAD_MUTATIONS = [
  'none', 'scheduler', 'notObject', 'lastEpoch', 'lastEpoch', 'baseLrs', 'baseLrs', 'baseLrsLength', 'lastLr', 'extraKey',
  'innerSchedulers', 'innerDict', 'best', 'counters',
];

const loadArb = () =>
  fc.constantFrom(...KINDS, 'SequentialLR', 'SequentialLR').chain((kind) =>
    fc.record({
      kind: fc.constant(kind),
      optimizer: optimizerArb(),
      stepsA: fc.integer({ min: 0, max: 6 }),
      stepsB: fc.integer({ min: 0, max: 6 }),
      mutation: fc.constantFrom(...LOAD_MUTATIONS),
      value: fc.constantFrom(-1, 1.5, NaN, Infinity, '3', null, 2 ** 60, 3, 0, [0.1], [0.1, 0.2, 0.3, 0.4], [NaN], ['0.1'], -0),
    }),
  );

function makeScheduler(kind, opt, groups) {
  if (kind === 'SequentialLR') {
    return new lib.SequentialLR(opt, { schedulers: [new lib.ConstantLR(opt, { factor: 0.5, totalIters: 2 }), new lib.ExponentialLR(opt, { gamma: 0.9 })], milestones: [3] });
  }
  const options = { ...VALID[kind] };
  if ((kind === 'OneCycleLR' || kind === 'CyclicLR')) options.cycleMomentum = false;
  return new lib[kind](opt, buildOptions(options, groups));
}
const stepOnce = (s, kind, k) => (kind === 'ReduceLROnPlateau' ? s.step(k % 3 === 0 ? 1 : 2) : s.step());

function loadPredicate({ kind, optimizer, stepsA, stepsB, mutation, value }) {
  const groups = optimizer.lrs.length;
  const optA = makeOptimizer(optimizer);
  const a = makeScheduler(kind, optA, groups);
  for (let k = 0; k < stepsA; k++) attempt(() => stepOnce(a, kind, k));
  const dict = cloneDict(a.stateDict());
  const problems = noProblems();
  const where = `${kind}.loadStateDict`;
  let given = dict;
  switch (mutation) {
    case 'none':
      break;
    case 'scheduler':
      dict.scheduler = kind === 'StepLR' ? 'ExponentialLR' : 'StepLR';
      problems.invalid.push('');
      break;
    case 'notObject':
      given = [null, 5, 'dict', undefined][Math.abs(Number(value) || 0) % 4];
      problems.invalid.push('');
      break;
    case 'lastEpoch':
      dict.lastEpoch = value;
      judge(problems, { kind: 'number', min: 0, integer: true }, value, 'lastEpoch');
      if (value === undefined || value === null || Array.isArray(value)) problems.invalid.push('lastEpoch');
      break;
    case 'baseLrs':
      if (!Array.isArray(dict.baseLrs) || dict.baseLrs.length === 0) return;
      dict.baseLrs[0] = Array.isArray(value) ? value[0] : value;
      judge(problems, { kind: 'number', min: 0 }, dict.baseLrs[0], 'baseLrs[0]');
      if (dict.baseLrs[0] === null || dict.baseLrs[0] === undefined) problems.invalid.push('baseLrs[0]');
      break;
    case 'baseLrsLength':
      if (!Array.isArray(dict.baseLrs) || kind === 'ReduceLROnPlateau') return;
      dict.baseLrs = Array.isArray(value) ? value : [...dict.baseLrs, 0.1];
      if (dict.baseLrs.length !== groups) problems.invalid.push('baseLrs');
      else dict.baseLrs.forEach((x, i) => judge(problems, { kind: 'number', min: 0 }, x, `baseLrs[${i}]`));
      break;
    case 'lastLr':
      dict.lastLr = value;
      problems.either.push('lastLr'); // recomputed on load, or checked: left open
      break;
    case 'extraKey':
      dict.foo = value;
      problems.either.push('foo');
      break;
    case 'innerSchedulers':
      if (kind !== 'SequentialLR') return;
      dict.schedulers = dict.schedulers.slice(0, 1);
      problems.invalid.push('schedulers');
      break;
    case 'innerDict':
      if (kind !== 'SequentialLR') return;
      // The second inner dict is bad (-1 is what a scheduler that has not run yet holds; -2 never
      // is): the first must not be applied either.
      dict.schedulers[1] = { ...dict.schedulers[1], lastEpoch: -2 };
      dict.schedulers[0] = { ...dict.schedulers[0], lastEpoch: dict.schedulers[0].lastEpoch + 1 };
      problems.invalid.push('schedulers[1]', 'lastEpoch');
      break;
    case 'best':
      if (kind !== 'ReduceLROnPlateau') return;
      dict.best = value;
      if (typeof value !== 'number') problems.invalid.push('best');
      else if (Number.isNaN(value)) problems.either.push('best');
      break;
    case 'counters':
      if (kind !== 'ReduceLROnPlateau') return;
      dict.numBadEpochs = value;
      judge(problems, { kind: 'number', min: 0, integer: true }, value, 'numBadEpochs');
      if (value === null || value === undefined || Array.isArray(value)) problems.invalid.push('numBadEpochs');
      break;
  }
  const optB = makeOptimizer(optimizer);
  const b = makeScheduler(kind, optB, groups);
  const optT = makeOptimizer(optimizer);
  const twin = makeScheduler(kind, optT, groups);
  for (let k = 0; k < stepsB; k++) {
    attempt(() => stepOnce(b, kind, k));
    attempt(() => stepOnce(twin, kind, k));
  }
  const snap = () => ({ dict: attempt(() => b.stateDict()).value, last: b.getLastLr(), groups: groupsState(optB) });
  const before = snap();
  const r = attempt(() => b.loadStateDict(given));
  if (!r.ok) {
    const names = [...problems.invalid, ...problems.either];
    if (names.length === 0) fail(`refused its own state dict (${mutation}): ${errorText(r.error)}`);
    check(errorProblem(r.error, { where: [where, ...(kind === 'SequentialLR' ? KINDS.map((k) => `${k}.loadStateDict`) : [])], names }), `loadStateDict with ${mutation} = ${fmt(value)}`);
    check(deepDiff(before, snap(), 'the scheduler and its optimizer'), `after the refused loadStateDict (${mutation} = ${fmt(value)})`);
    for (let k = 0; k < 3; k++) {
      attempt(() => stepOnce(b, kind, k));
      attempt(() => stepOnce(twin, kind, k));
    }
    check(deepDiff(groupsState(optT), groupsState(optB), 'the optimizer (never refused vs refused)'), 'three steps after the refused loadStateDict');
    return;
  }
  if (problems.invalid.length) fail(`loaded a state dict with ${mutation} = ${fmt(value)}; it must refuse ${problems.invalid.filter(Boolean).join(', ') || 'it'}`);
  optB.paramGroups.forEach((g, i) => {
    if (typeof g.lr !== 'number' || !Number.isFinite(g.lr) || g.lr < 0) fail(`after loadStateDict (${mutation} = ${fmt(value)}), paramGroups[${i}].lr is ${fmt(g.lr)}`);
  });
  // ReduceLROnPlateau keeps no rates (the optimizer's state dict has them); the others restore them.
  if (mutation === 'none' && kind !== 'ReduceLROnPlateau') check(deepDiff(groupsState(optA).groups.map((g) => g.lr), groupsState(optB).groups.map((g) => g.lr), 'the rates (saved vs loaded)'));
}

export const properties = [
  { name: 'scheduler.construct', arbitrary: constructArb(), predicate: constructPredicate },
  { name: 'scheduler.steps', arbitrary: stepsArb(), predicate: stepsPredicate },
  { name: 'scheduler.lambdaFailure', arbitrary: lambdaArb(), predicate: lambdaPredicate },
  { name: 'scheduler.loadStateDict', arbitrary: loadArb(), predicate: loadPredicate },
];
