// The optimizer classes: construction, step, addParamGroup, and their lists. Every call either
// succeeds with the bits of the same call on plain inputs, or throws a TypeError or RangeError
// naming the argument and changes nothing.
import {
  BOOL, OPTIMIZERS, OPT_NAMES, anyOptionsArb, anyOptionsByNameArb, changedSince, copies, gradsAt, initialParams, judge,
  optionsProblems, pickValid, sameTraining, setupArb, snapshot, someValueArb, train, validOptionsArb,
  validOptionsByNameArb,
} from './spec.mjs';
import { DISGUISES, ELEMENT_KINDS, buildElement, elementArb, gradProblems } from './inputs.mjs';
import {
  CONTAINERS, LATER_VALUES, OPTION_OBJECTS, activate, allocate, attempt, check, container, detach, diffArrays,
  disguise, errorProblem, errorText, fail, fc, fmt, isRealF32, judgeOutcome, levelArb, noProblems, optionsObject,
  packed, plainCopy, realLength, realOverlap, realView, seedArb, sizeArb, snapArrays, storageArb, stored, values,
} from './support.mjs';

const hostileContainer = (kind) => kind === 'getters' || kind === 'proxy' || kind === 'iterator';

/** The problems of the groups as they are now (after the caller changed them between steps). */
function groupProblems(name, groups) {
  const spec = OPTIMIZERS[name];
  const problems = noProblems();
  groups.forEach((group, g) => {
    const before = problems.invalid.length;
    for (const [key, rule] of Object.entries(spec.options)) {
      const value = group[key];
      if (value === undefined) problems.invalid.push(`paramGroups[${g}].${key}`);
      else judge(problems, rule, value, `paramGroups[${g}].${key}`);
    }
    if (spec.crossCheck && problems.invalid.length === before) {
      for (const n of spec.crossCheck(group)) problems.invalid.push(`paramGroups[${g}].${n}`);
    }
  });
  return problems;
}

function merge(...lists) {
  return { invalid: lists.flatMap((p) => p.invalid), either: lists.flatMap((p) => p.either) };
}

/** One more valid step on both optimizers, then their bits and state dicts must agree. */
function nextStepAgrees(setup, a, paramsA, b, paramsB) {
  const grads = gradsAt(setup, setup.history + 5, 0);
  a.step(copies(grads));
  b.step(copies(grads));
  return sameTraining(a, paramsA, b, paramsB, 'an optimizer that never saw the call');
}

// ---------------------------------------------------------------------------------------------
// optimizer.construct

const PARAM_KINDS = ['fresh', 'fresh', 'fresh', 'fresh', 'zero', 'dup', 'overlap', 'overlapLying', 'f64', 'array', 'null', 'proxy', 'subclass', 'lyingLength', 'ownLength', 'detached'];
const paramEntryArb = () => fc.record({ kind: fc.constantFrom(...PARAM_KINDS), n: sizeArb(), storage: storageArb(), ref: fc.nat(7), shift: fc.nat(3) });

/** Builds a param entry: the value to pass, and the real array it is (or null). */
function buildParam(e, seed, pool) {
  const fresh = () => stored(e.storage, values(seed, e.n), e.shift);
  const base = pool.length ? pool[e.ref % pool.length] : null;
  switch (e.kind) {
    case 'fresh':
      return fresh();
    case 'zero':
      return allocate(e.storage, 0, e.shift);
    case 'dup':
      return base ?? fresh();
    case 'overlap':
    case 'overlapLying': {
      if (!base || realLength(base) === 0) return fresh();
      const v = realView(base);
      const start = Math.min(e.shift, v.length - 1);
      const view = new Float32Array(v.buffer, v.byteOffset + 4 * start, Math.max(1, Math.min(e.n, v.length - start)));
      return e.kind === 'overlap' ? view : disguise('lyingBuffer', view);
    }
    case 'f64':
      return new Float64Array(e.n);
    case 'array':
      return Array.from({ length: e.n }, () => 0);
    case 'null':
      return null;
    case 'proxy':
      return disguise('proxy', fresh());
    case 'subclass':
      return disguise('subclass', fresh());
    case 'lyingLength':
      return disguise('lyingLength', fresh(), e.n + 1);
    case 'ownLength':
      return disguise('ownLength', fresh(), e.n + 3);
    case 'detached': {
      const a = new Float32Array(e.n);
      detach(a.buffer);
      return a;
    }
    default:
      throw new Error(e.kind);
  }
}

/** Duplicates and overlaps among the real params (all groups together). */
function judgeDistinct(flat, problems) {
  for (let a = 0; a < flat.length; a++) {
    if (flat[a].detached) problems.either.push(...flat[a].names);
    for (let b = a + 1; b < flat.length; b++) {
      const x = flat[a].v, y = flat[b].v;
      const names = [...flat[a].names, ...flat[b].names];
      if (x === y) (realLength(x) === 0 ? problems.either : problems.invalid).push(...names);
      else if (realOverlap(x, y)) problems.invalid.push(...names);
    }
  }
}

const groupArb = (name) =>
  fc.oneof(
    {
      weight: 6,
      arbitrary: fc.record({
        entries: fc.array(paramEntryArb(), { minLength: 0, maxLength: 3 }),
        overrides: fc.oneof({ weight: 3, arbitrary: validOptionsArb(name) }, { weight: 1, arbitrary: anyOptionsArb(name) }),
        paramsAs: fc.constantFrom('array', 'array', 'array', 'array', 'missing', 'notArray'),
      }),
    },
    { weight: 1, arbitrary: fc.constantFrom(null, 5, 'group', []) },
  );

const constructArb = () =>
  fc.constantFrom(...OPT_NAMES).chain((name) =>
    fc.record({
      name: fc.constant(name),
      level: levelArb(),
      seed: seedArb(),
      form: fc.constantFrom('flat', 'flat', 'groups', 'groups', 'junk'),
      entries: fc.array(paramEntryArb(), { minLength: 0, maxLength: 4 }),
      groups: fc.array(groupArb(name), { minLength: 0, maxLength: 3 }),
      junk: fc.constantFrom(undefined, null, 5, 'w', {}, 'a Float32Array'),
      listKind: fc.constantFrom('array', 'array', 'frozen', 'getters', 'proxy'),
      options: fc.oneof(validOptionsArb(name), anyOptionsArb(name, { skipNonFinite: BOOL })),
      optionsKind: fc.constantFrom(...OPTION_OBJECTS),
      later: fc.constantFrom(...LATER_VALUES),
    }),
  );

function constructPredicate({ name, level, seed, form, entries, groups, junk, listKind, options, optionsKind, later }) {
  activate(level);
  const spec = OPTIMIZERS[name];
  const problems = noProblems();
  const mayReject = [];
  const pool = [];
  const flat = []; // { v, names, detached }
  let counter = 0;
  const take = (e, names) => {
    const v = buildParam(e, seed + counter, pool);
    if (isRealF32(v)) {
      flat.push({ v, names: [...names, `params[${flat.length}]`], detached: e.kind === 'detached' });
      pool.push(v);
    }
    counter++;
    return v;
  };
  const ctorOptionsValid = optionsProblems(spec, options, 'options', { extra: { skipNonFinite: BOOL } });
  let arg;
  let twinArg;
  if (form === 'junk') {
    arg = junk === 'a Float32Array' ? new Float32Array(2) : junk;
    problems.invalid.push('params');
  } else if (form === 'flat') {
    const firsts = entries.map((e, i) => take(e, [`params[${i}]`]));
    firsts.forEach((v, i) => {
      if (!isRealF32(v)) problems.invalid.push(`params[${i}]`);
    });
    if (firsts.length === 0) problems.invalid.push('params');
    const c = container(listKind, firsts, firsts.map((_, i) => firsts[(i + 1) % firsts.length]));
    arg = c.value;
    if (hostileContainer(listKind)) mayReject.push('params');
    twinArg = () => flat.map((f) => plainCopy(f.v));
  } else {
    if (groups.length === 0) problems.invalid.push('params');
    const built = groups.map((g, gi) => {
      if (g === null || typeof g !== 'object' || Array.isArray(g)) {
        problems.invalid.push(`params[${gi}]`);
        return g;
      }
      const list = g.entries.map((e, i) => take(e, [`params[${gi}].params[${i}]`]));
      list.forEach((v, i) => {
        if (!isRealF32(v)) problems.invalid.push(`params[${gi}].params[${i}]`, `params[${gi}]`);
      });
      // A 'params' among the options is replaced by the group's params below: not an option.
      const { params: _p, ...overrides } = g.overrides !== null && typeof g.overrides === 'object' && !Array.isArray(g.overrides) ? g.overrides : {};
      const group = { ...overrides };
      if (g.paramsAs === 'array') group.params = list;
      else if (g.paramsAs === 'notArray') group.params = list[0] ?? 5;
      if (g.paramsAs !== 'array') problems.invalid.push(`params[${gi}].params`, `params[${gi}]`);
      else if (list.length === 0) problems.either.push(`params[${gi}].params`, `params[${gi}]`);
      const base = ctorOptionsValid.invalid.length === 0 && options && typeof options === 'object' ? options : {};
      const p = optionsProblems(spec, overrides, `params[${gi}]`, { base });
      problems.invalid.push(...p.invalid);
      problems.either.push(...p.either);
      return group;
    });
    arg = built;
    twinArg = (copyOf) => built.map((g) => ({ ...g, params: g.params.map((p) => copyOf.get(p)) }));
  }
  judgeDistinct(flat, problems);
  problems.invalid.push(...ctorOptionsValid.invalid);
  problems.either.push(...ctorOptionsValid.either);
  const laterRecord = {};
  if (options !== null && typeof options === 'object' && !Array.isArray(options)) {
    for (const k of Object.keys(options)) laterRecord[k] = later;
    if (optionsKind === 'getters' || optionsKind === 'proxy') mayReject.push(...Object.keys(options).map((k) => `options.${k}`));
  }
  const optionsArg = optionsObject(optionsKind, options, laterRecord);
  const snaps = snapArrays(flat.filter((f) => !f.detached).map((f, i) => [`param ${i}`, f.v]));

  const r = attempt(() => new spec.cls(arg, optionsArg));
  const outcome = judgeOutcome(r, problems, { where: name, mayReject });
  check(diffArrays(snaps), 'construction wrote into a param');
  if (outcome === 'threw') return;

  const opt = r.value;
  const expected = flat.map((f) => f.v);
  if (opt.params.length !== expected.length || expected.some((p, i) => opt.params[i] !== p)) {
    fail(`opt.params is not the list given (first reads): ${opt.params.length} params, expected ${expected.length}`);
  }
  // The same construction from plain values takes the same steps.
  const copyOf = new Map(expected.map((p) => [p, plainCopy(p)]));
  const twinParams = expected.map((p) => copyOf.get(p));
  const twin = new spec.cls(form === 'flat' ? twinParams : twinArg(copyOf), options);
  for (let k = 0; k < 2; k++) {
    const grads = expected.map((p, i) => values(seed * 7 + 13 * k + i, realLength(p)));
    const s = attempt(() => opt.step(copies(grads)));
    if (!s.ok) fail(`a valid step after the construction threw ${errorText(s.error)}`);
    twin.step(copies(grads));
  }
  check(sameTraining(opt, expected, twin, twinParams, 'the same optimizer built from plain values'));
}

// ---------------------------------------------------------------------------------------------
// optimizer.step.rejects

const groupChangeArb = () =>
  fc.record({ g: fc.nat(2), op: fc.constantFrom('set', 'set', 'set', 'delete'), key: fc.nat(), value: someValueArb() });

/** The key a change descriptor names for this optimizer (one past the options: an extra key). */
function changeKey(name, change) {
  const keys = [...Object.keys(OPTIMIZERS[name].options), 'initialLr'];
  return keys[change.key % keys.length];
}

const rejectsArb = () =>
  fc.record({
    setup: setupArb(),
    gaps: fc.array(fc.nat(3), { minLength: 4, maxLength: 4 }),
    call: fc.oneof(
      { weight: 1, arbitrary: fc.record({ kind: fc.constant('notArray'), value: fc.constantFrom(null, undefined, 5, 'grads', {}, 'a Float32Array', 'array-like') }) },
      { weight: 1, arbitrary: fc.record({ kind: fc.constant('count'), delta: fc.constantFrom(-1, 1, 2) }) },
      { weight: 5, arbitrary: fc.record({ kind: fc.constant('elements'), elements: fc.array(elementArb(ELEMENT_KINDS, ['plain']), { minLength: 4, maxLength: 4 }) }) },
    ),
    change: fc.option(groupChangeArb(), { nil: undefined, freq: 2 }),
  });

/** Applies a group change; returns its undo, or null when the optimizer refused it (frozen groups). */
function changeGroup(opt, change, name) {
  const entry = opt.paramGroups[change.g % opt.paramGroups.length];
  change = { ...change, key: changeKey(name, change) };
  const before = Object.getOwnPropertyDescriptor(entry, change.key);
  // An option is an accessor whose value lives behind it: a set is undone by setting it back.
  const previous = before?.set ? entry[change.key] : undefined;
  try {
    if (change.op === 'delete') delete entry[change.key];
    else entry[change.key] = change.value;
  } catch {
    return null;
  }
  const took = change.op === 'delete' ? !(change.key in entry) : Object.is(entry[change.key], change.value);
  if (!took) return null;
  return () => {
    if (before?.set && change.op !== 'delete') entry[change.key] = previous;
    else if (before) Object.defineProperty(entry, change.key, before);
    else delete entry[change.key];
  };
}

function rejectsPredicate({ setup, gaps, call, change }) {
  activate(setup.level);
  const params = packed('plain', initialParams(setup), gaps);
  const { opt } = train(setup, params);
  const twin = train(setup);
  let undo = null;
  if (change) {
    undo = changeGroup(opt, change, setup.name);
    if (!undo) return; // the optimizer refuses the change itself: nothing to step with
  }
  let grads;
  let problems;
  const n = params.length;
  if (call.kind === 'notArray') {
    grads = call.value === 'a Float32Array' ? new Float32Array(n) : call.value === 'array-like' ? { length: n, ...gradsAt(setup, 9) } : call.value;
    problems = { invalid: ['grads'], either: [] };
  } else if (call.kind === 'count') {
    grads = Array.from({ length: Math.max(0, n + call.delta) }, (_, i) => values(i, params[Math.min(i, n - 1)].length));
    problems = { invalid: ['grads'], either: [] };
  } else {
    grads = call.elements.slice(0, n).map((e, i) => buildElement(e, i, params, setup.special));
    problems = gradProblems(grads, params);
  }
  problems = merge(problems, groupProblems(setup.name, opt.paramGroups));
  const realGrads = Array.isArray(grads) ? grads.filter(isRealF32) : [];
  const snap = snapshot(opt, params, realGrads.map((g, i) => [`gradient ${i}`, g]));
  const r = attempt(() => opt.step(grads));
  const outcome = judgeOutcome(r, problems, { where: `${setup.name}.step` });
  if (outcome === 'threw') {
    check(changedSince(snap, opt, params), 'after the rejected step');
    undo?.();
    check(nextStepAgrees(setup, opt, params, twin.opt, twin.params), 'the next valid step after the rejected one');
    return;
  }
  if (r.value !== true) fail(`step returned ${fmt(r.value)}, expected true`);
  if (change) changeGroup(twin.opt, change, setup.name);
  twin.opt.step(copies(grads));
  check(sameTraining(opt, params, twin.opt, twin.params, 'the same step on plain arrays'));
}

// ---------------------------------------------------------------------------------------------
// optimizer.step.disguised, optimizer.step.hostileContainer, optimizer.step.groupGetters: one
// step through hostile inputs must be the step on what a single read of each input gives, or a
// rejection that changes nothing.

const HOSTILE_KINDS = ['good', 'good', 'good', 'null', 'alias', 'wrongLength', 'nan'];
const HONEST_CONTAINERS = ['array', 'frozen', 'holey'];

function gradsThroughArb({ containers, disguises, getter }) {
  return fc.record({
    setup: setupArb(),
    containerKind: fc.constantFrom(...containers),
    first: fc.array(elementArb(HOSTILE_KINDS, disguises), { minLength: 4, maxLength: 4 }),
    later: fc.array(elementArb(HOSTILE_KINDS, disguises), { minLength: 4, maxLength: 4 }),
    lieLength: fc.boolean(),
    getter: getter ? fc.record({ g: fc.nat(2), key: fc.nat(), first: fc.nat(), later: fc.constantFrom(...LATER_VALUES, [1, 1], [NaN, 0.9]) }) : fc.constant(undefined),
  }).map((x) => {
    const n = x.setup.lengths.length;
    const out = { ...x, first: x.first.slice(0, n), later: x.later.slice(0, n) };
    if (x.getter) {
      const keys = Object.entries(OPTIMIZERS[x.setup.name].options).filter(([, r]) => r.kind !== 'boolean').map(([k]) => k);
      const key = keys[x.getter.key % keys.length];
      out.getter = { g: x.getter.g, key, first: pickValid(x.setup.name, key, x.getter.first), later: x.getter.later };
    }
    return out;
  });
}

const disguisedArb = () => gradsThroughArb({ containers: HONEST_CONTAINERS, disguises: DISGUISES });
const hostileContainerArb = () => gradsThroughArb({ containers: CONTAINERS, disguises: ['plain'] });
const groupGettersArb = () => gradsThroughArb({ containers: ['array'], disguises: ['plain'], getter: true });

function throughPredicate({ setup, containerKind, first, later, lieLength, getter }) {
  activate(setup.level);
  const { opt, params } = train(setup);
  const firstValues = first.map((e, i) => buildElement(e, i, params, setup.special));
  const laterValues = later.map((e, i) => buildElement(e, i, params, setup.special));
  const c = container(containerKind, firstValues, laterValues, lieLength);
  const mayReject = hostileContainer(containerKind) ? ['grads'] : [];
  const realGrads = [...firstValues, ...laterValues].filter(isRealF32);
  let entry = null;
  if (getter) {
    // The group holds the getter's first value as plain data first: the snapshot and the twin see it.
    entry = opt.paramGroups[getter.g % opt.paramGroups.length];
    entry[getter.key] = getter.first;
  }
  const snap = snapshot(opt, params, realGrads.map((g, i) => [`gradient ${i}`, g]));
  if (getter) {
    let reads = 0;
    try {
      Object.defineProperty(entry, getter.key, { get: () => (reads++ === 0 ? getter.first : getter.later), enumerable: true, configurable: true });
      mayReject.push(`paramGroups[${getter.g % opt.paramGroups.length}].${getter.key}`);
    } catch {
      entry = null; // the optimizer's groups refuse accessors: nothing to test there
    }
  }
  const r = attempt(() => opt.step(c.value));
  if (entry) Object.defineProperty(entry, getter.key, { value: getter.first, writable: true, enumerable: true, configurable: true });

  const judged = c.snapshots.map((s) => ({ s, problems: gradProblems(s, params) }));
  const valid = judged.filter((j) => j.problems.invalid.length === 0);
  if (!r.ok) {
    const names = [...judged.flatMap((j) => [...j.problems.invalid, ...j.problems.either]), ...mayReject];
    if (valid.length === c.snapshots.length && mayReject.length === 0 && judged.every((j) => j.problems.either.length === 0)) {
      fail(`threw ${errorText(r.error)}, but the gradients it was given are valid`);
    }
    check(errorProblem(r.error, { where: `${setup.name}.step`, names }));
    check(changedSince(snap, opt, params), 'after the rejected step');
    return;
  }
  if (valid.length === 0) fail(`succeeded, but what it read is invalid: ${judged[0].problems.invalid.join(', ')}`);
  const diffs = [];
  for (const { s } of valid) {
    const twin = train(setup);
    if (entry) twin.opt.paramGroups[getter.g % twin.opt.paramGroups.length][getter.key] = getter.first;
    twin.opt.step(copies(s));
    const d = sameTraining(opt, params, twin.opt, twin.params, 'the same step on the values first read');
    if (!d) return;
    diffs.push(d);
  }
  fail(`the step computed with something other than what was validated: ${diffs.join('; ')}`);
}

// ---------------------------------------------------------------------------------------------
// optimizer.step.storage

const storageArbFor = () =>
  fc.record({
    setup: setupArb(),
    paramLayout: fc.constantFrom('separate', 'packed', 'packedSab'),
    paramStorage: fc.array(storageArb(), { minLength: 4, maxLength: 4 }),
    offsets: fc.array(fc.nat(5), { minLength: 4, maxLength: 4 }),
    gaps: fc.array(fc.nat(5), { minLength: 4, maxLength: 4 }),
    gradLayout: fc.constantFrom('separate', 'packed', 'packedSab', 'shared'),
    gradStorage: fc.array(storageArb(), { minLength: 4, maxLength: 4 }),
    steps: fc.integer({ min: 1, max: 3 }),
  });

function storagePredicate({ setup, paramLayout, paramStorage, offsets, gaps, gradLayout, gradStorage, steps }) {
  activate(setup.level);
  const init = initialParams(setup);
  const params = paramLayout === 'separate' ? init.map((p, i) => stored(paramStorage[i], p, offsets[i]))
    : packed(paramLayout === 'packedSab' ? 'sab' : 'plain', init, gaps);
  const opt = (() => {
    const r = attempt(() => train(setup, params));
    if (!r.ok) fail(`valid params in ${paramLayout} storage (${paramStorage}) were refused: ${errorText(r.error)}`);
    return r.value.opt;
  })();
  const twin = train(setup);
  for (let k = 0; k < steps; k++) {
    const plain = gradsAt(setup, setup.history + k);
    let grads;
    if (gradLayout === 'separate') grads = plain.map((g, i) => (g ? stored(gradStorage[i], g, offsets[i]) : g));
    else if (gradLayout === 'shared') grads = plain.map((g, i) => plain.find((h) => h && g && h.length === g.length) ?? g);
    else grads = packed(gradLayout === 'packedSab' ? 'sab' : 'plain', plain.map((g) => g ?? new Float32Array(0)), gaps).map((g, i) => (plain[i] ? g : null));
    const r = attempt(() => opt.step(grads));
    if (!r.ok) fail(`a valid step (gradients ${gradLayout}) threw ${errorText(r.error)}`);
    twin.opt.step(copies(grads));
  }
  check(sameTraining(opt, params, twin.opt, twin.params, `the same training in plain arrays (params ${paramLayout}, gradients ${gradLayout})`));
}

// ---------------------------------------------------------------------------------------------
// optimizer.step.resized

const resizedArb = () =>
  fc.record({
    setup: setupArb({ maxHistory: 2 }),
    target: fc.nat(3),
    storage: fc.constantFrom('rab', 'rab-tracking', 'gsab', 'gsab-tracking'),
    offset: fc.nat(3),
    slack: fc.nat(3),
    action: fc.constantFrom('grow', 'shrink', 'shrinkRestore', 'detach'),
    amount: fc.integer({ min: 1, max: 9 }),
    gradsLength: fc.constantFrom('built', 'current'),
  });

const detachedStateArb = () =>
  fc.record({
    // State exists (a prior step) and is not empty, so a detached buffer is a shorter one.
    setup: setupArb({ maxHistory: 2 }).map((s) => ({ ...s, history: Math.max(1, s.history), lengths: s.lengths.map((n) => Math.max(1, n)), skip: 0 })),
    target: fc.nat(3),
    storage: fc.constant('plain'),
    offset: fc.constant(0),
    slack: fc.constant(0),
    action: fc.constant('detachState'),
    amount: fc.constant(0),
    gradsLength: fc.constant('built'),
  });

function resizedPredicate({ setup, target, storage, offset, slack, action, amount, gradsLength }) {
  activate(setup.level);
  const t = target % setup.lengths.length;
  const init = initialParams(setup);
  const params = init.map((p, i) => {
    if (i !== t) return p;
    const a = allocate(storage, realLength(p), offset, storage.endsWith('tracking') || storage === 'plain' ? 0 : slack);
    a.set(p);
    return a;
  });
  const { opt } = train(setup, params);
  const twin = train(setup);
  const built = setup.lengths;
  const buffer = realView(params[t]).buffer;
  const shared = storage.startsWith('gsab');
  let act = action;
  if (shared && (act === 'shrink' || act === 'shrinkRestore' || act === 'detach')) act = 'grow';
  const problems = noProblems();
  let detachedState = null;
  switch (act) {
    case 'grow': {
      const size = Math.min(buffer.maxByteLength, buffer.byteLength + 4 * amount);
      if (shared) buffer.grow(size);
      else buffer.resize(size);
      break;
    }
    case 'shrink':
      buffer.resize(Math.max(0, buffer.byteLength - 4 * amount));
      break;
    case 'shrinkRestore': {
      const size = buffer.byteLength;
      buffer.resize(Math.max(0, size - 4 * amount));
      buffer.resize(size);
      break;
    }
    case 'detach':
      detach(buffer);
      break;
    case 'detachState': {
      const state = opt.state.get(params[t]);
      const first = state && Object.entries(state).find(([, v]) => v instanceof Float32Array);
      if (!first) return; // no state buffer to detach
      detachedState = first[0];
      problems.reason = `a step with state(params[${t}]).${first[0]} detached`;
      if (realLength(first[1]) > 0) problems.invalid.push('');
      else problems.either.push('');
      detach(realView(first[1]).buffer);
      break;
    }
  }
  const now = realLength(params[t]);
  if (act !== 'detachState') {
    if (now !== built[t]) problems.invalid.push(`params[${t}]`);
    else if (act !== 'shrinkRestore') problems.either.push(`params[${t}]`);
  }
  const grads = built.map((n, i) => values(setup.seed + i, i === t && gradsLength === 'current' ? now : n, 0));
  const arrays = [...params.map((p, i) => [`params[${i}]`, p]), ...grads.map((g, i) => [`grads[${i}]`, g])];
  const state = opt.state;
  params.forEach((p, i) => {
    for (const [k, v] of Object.entries(state.get(p) ?? {})) if (v instanceof Float32Array && !(i === t && k === detachedState)) arrays.push([`state(params[${i}]).${k}`, v]);
  });
  const snaps = snapArrays(arrays);
  const targetBefore = plainCopy(params[t]);
  const r = attempt(() => opt.step(grads));
  const outcome = judgeOutcome(r, problems, { where: `${setup.name}.step`, kinds: act === 'detachState' ? undefined : [RangeError] });
  if (outcome === 'threw') {
    check(diffArrays(snaps), `after the rejected step (${act} of ${storage})`);
  } else if (act !== 'detachState') {
    // Same length as built: the step is the step of a plain optimizer on the same values.
    twin.params[t].set(targetBefore);
    twin.opt.step(copies(grads));
    check(sameTraining(opt, params, twin.opt, twin.params, 'the same step on plain arrays'));
  }
  if (act === 'detachState') {
    const d = attempt(() => opt.stateDict());
    if (!d.ok) check(errorProblem(d.error, { where: `${setup.name}.stateDict` }), 'stateDict() with a detached state buffer');
  }
}

// ---------------------------------------------------------------------------------------------
// optimizer.windows

const WINDOW_OPS = [
  'params.push', 'params[0]=', 'params.length=0', 'params.pop', 'params.reverse', 'params.splice', 'params.sort', 'params=',
  'groups.push', 'groups[0]=', 'groups.pop', 'groups.length=0', 'groups.reverse', 'groups=[]', 'group.params.push', 'group.params[0]=',
  'group.params=',
];

function windowOp(opt, op) {
  const extra = new Float32Array(3);
  switch (op) {
    case 'params.push': return opt.params.push(extra);
    case 'params[0]=': opt.params[0] = extra; return;
    case 'params.length=0': opt.params.length = 0; return;
    case 'params.pop': return opt.params.pop();
    case 'params.reverse': return opt.params.reverse();
    case 'params.splice': return opt.params.splice(0, 1, extra);
    case 'params.sort': return opt.params.sort((a, b) => b.length - a.length);
    case 'params=': opt.params = [extra]; return;
    case 'groups.push': return opt.paramGroups.push({ ...opt.paramGroups[0], params: [extra] });
    case 'groups[0]=': opt.paramGroups[0] = { ...opt.paramGroups[0], lr: 0.5 }; return;
    case 'groups.pop': return opt.paramGroups.pop();
    case 'groups.length=0': opt.paramGroups.length = 0; return;
    case 'groups.reverse': return opt.paramGroups.reverse();
    case 'groups=[]': opt.paramGroups = []; return;
    case 'group.params.push': return opt.paramGroups[0].params.push(extra);
    case 'group.params[0]=': opt.paramGroups[0].params[0] = extra; return;
    case 'group.params=': opt.paramGroups[0].params = [extra]; return;
  }
  throw new Error(op);
}

const windowsArb = () => fc.record({ setup: setupArb(), ops: fc.array(fc.constantFrom(...WINDOW_OPS), { minLength: 1, maxLength: 4 }) });

function windowsPredicate({ setup, ops }) {
  activate(setup.level);
  const { opt, params } = train(setup);
  const twin = train(setup);
  const snap = snapshot(opt, params);
  for (const op of ops) {
    const r = attempt(() => windowOp(opt, op));
    if (!r.ok && !(r.error instanceof TypeError || r.error instanceof RangeError)) fail(`${op} threw ${errorText(r.error)}`);
  }
  check(changedSince(snap, opt, params), `after ${ops.join(', ')}`);
  if (opt.paramGroups.some((g, i) => g.params.length !== snap.groupParams[i].length || g.params.some((p, j) => p !== snap.groupParams[i][j]))) {
    fail(`a group's params changed after ${ops.join(', ')}`);
  }
  const r = attempt(() => nextStepAgrees(setup, opt, params, twin.opt, twin.params));
  if (!r.ok) fail(`the next step threw ${errorText(r.error)} after ${ops.join(', ')}`);
  check(r.value, `the next step after ${ops.join(', ')}`);
}

// ---------------------------------------------------------------------------------------------
// optimizer.addParamGroup

const ADD_KINDS = ['fresh', 'fresh', 'fresh', 'existing', 'overlapExisting', 'dupWithin', 'f64', 'proxy', 'lyingLength', 'zero'];
const addArb = () =>
  fc.record({
    setup: setupArb(),
    group: fc.oneof(
      {
        weight: 6,
        arbitrary: fc.record({
          entries: fc.array(fc.record({ kind: fc.constantFrom(...ADD_KINDS), n: sizeArb(), ref: fc.nat(7), storage: storageArb() }), { minLength: 0, maxLength: 3 }),
          overrides: fc.oneof({ weight: 3, arbitrary: validOptionsByNameArb() }, { weight: 1, arbitrary: anyOptionsByNameArb() }),
          paramsAs: fc.constantFrom('array', 'array', 'array', 'missing', 'notArray'),
          kind: fc.constantFrom(...OPTION_OBJECTS),
        }),
      },
      { weight: 1, arbitrary: fc.constantFrom(null, 5, [], 'group', undefined) },
    ),
  }).map((x) => (x.group !== null && typeof x.group === 'object' && !Array.isArray(x.group)
    ? { ...x, group: { ...x.group, overrides: x.group.overrides[x.setup.name] } }
    : x));

function addPredicate({ setup, group }) {
  activate(setup.level);
  const spec = OPTIMIZERS[setup.name];
  const { opt, params } = train(setup);
  const twin = train(setup);
  const where = `${setup.name}.addParamGroup`;
  const problems = noProblems();
  const mayReject = [];
  let arg = group;
  const added = [];
  let plainGroup = null;
  if (group === null || typeof group !== 'object' || Array.isArray(group)) {
    problems.invalid.push('group');
  } else {
    const list = group.entries.map((e, i) => {
      const names = [`group.params[${i}]`];
      let v;
      switch (e.kind) {
        case 'fresh': v = stored(e.storage, values(e.ref + i, e.n)); break;
        case 'zero': v = allocate(e.storage, 0); break;
        case 'existing': v = params[e.ref % params.length]; break;
        case 'overlapExisting': {
          const p = params[e.ref % params.length];
          v = realLength(p) > 0 ? new Float32Array(p.buffer, p.byteOffset, 1) : stored(e.storage, values(i, e.n));
          break;
        }
        case 'dupWithin': v = added.length ? added[e.ref % added.length].v : stored(e.storage, values(i, e.n)); break;
        case 'f64': v = new Float64Array(e.n); break;
        case 'proxy': v = disguise('proxy', values(i, e.n)); break;
        case 'lyingLength': v = disguise('lyingLength', values(i, e.n), e.n + 2); break;
      }
      if (!isRealF32(v)) problems.invalid.push(...names);
      else added.push({ v, names });
      return v;
    });
    for (let a = 0; a < added.length; a++) {
      params.forEach((p, j) => {
        if (added[a].v === p ? realLength(p) > 0 : realOverlap(added[a].v, p)) problems.invalid.push(...added[a].names, `params[${j}]`);
        else if (added[a].v === p) problems.either.push(...added[a].names);
      });
      for (let b = a + 1; b < added.length; b++) {
        const x = added[a].v, y = added[b].v;
        if (x === y ? realLength(x) > 0 : realOverlap(x, y)) problems.invalid.push(...added[a].names, ...added[b].names);
        else if (x === y) problems.either.push(...added[a].names, ...added[b].names);
      }
    }
    const { params: _p, ...overrides } = group.overrides !== null && typeof group.overrides === 'object' && !Array.isArray(group.overrides) ? group.overrides : {};
    const init = { ...overrides };
    if (group.paramsAs === 'array') init.params = list;
    else if (group.paramsAs === 'notArray') init.params = list[0] ?? 5;
    if (group.paramsAs !== 'array') problems.invalid.push('group.params', 'group');
    else if (list.length === 0) problems.either.push('group.params', 'group');
    const p = optionsProblems(spec, overrides, 'group', { base: setup.options });
    problems.invalid.push(...p.invalid);
    problems.either.push(...p.either);
    // Hostile objects: a second read of params would see an existing param (a duplicate).
    const laterRecord = Object.fromEntries(Object.keys(init).map((k) => [k, k === 'params' ? [params[0]] : NaN]));
    arg = optionsObject(group.kind, init, laterRecord);
    if (group.kind === 'getters' || group.kind === 'proxy') mayReject.push('group');
    plainGroup = init;
  }
  const snap = snapshot(opt, params);
  const r = attempt(() => opt.addParamGroup(arg));
  const outcome = judgeOutcome(r, problems, { where, mayReject });
  if (outcome === 'threw') {
    check(changedSince(snap, opt, params), 'after the rejected addParamGroup');
    check(nextStepAgrees(setup, opt, params, twin.opt, twin.params), 'the next step after the rejected addParamGroup');
    return;
  }
  const expected = [...params, ...added.map((a) => a.v)];
  if (opt.params.length !== expected.length || expected.some((p, i) => opt.params[i] !== p)) {
    fail(`opt.params after addParamGroup is not the old params then the group's (first reads)`);
  }
  const copyOf = new Map(added.map((a) => [a.v, plainCopy(a.v)]));
  twin.opt.addParamGroup({ ...plainGroup, params: plainGroup.params.map((p) => copyOf.get(p)) });
  const twinParams = [...twin.params, ...added.map((a) => copyOf.get(a.v))];
  const grads = expected.map((p, i) => values(setup.seed + 3 * i, realLength(p)));
  const s = attempt(() => opt.step(copies(grads)));
  if (!s.ok) fail(`a valid step after addParamGroup threw ${errorText(s.error)}`);
  twin.opt.step(copies(grads));
  check(sameTraining(opt, expected, twin.opt, twinParams, 'the same group added from plain values'));
}

export const properties = [
  { name: 'optimizer.construct', arbitrary: constructArb(), predicate: constructPredicate },
  { name: 'optimizer.step.rejects', arbitrary: rejectsArb(), predicate: rejectsPredicate },
  { name: 'optimizer.step.disguised', arbitrary: disguisedArb(), predicate: throughPredicate },
  { name: 'optimizer.step.hostileContainer', arbitrary: hostileContainerArb(), predicate: throughPredicate },
  { name: 'optimizer.step.groupGetters', arbitrary: groupGettersArb(), predicate: throughPredicate },
  { name: 'optimizer.step.storage', arbitrary: storageArbFor(), predicate: storagePredicate },
  { name: 'optimizer.step.resized', arbitrary: resizedArb(), predicate: resizedPredicate },
  { name: 'optimizer.step.detachedState', arbitrary: detachedStateArb(), predicate: resizedPredicate },
  { name: 'optimizer.windows', arbitrary: windowsArb(), predicate: windowsPredicate },
  { name: 'optimizer.addParamGroup', arbitrary: addArb(), predicate: addPredicate },
];
