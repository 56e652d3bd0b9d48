// clipGradNorm, clipGradValue and skipNonFinite, with hostile gradient lists: the result is that
// of the same call on plain copies of what a single read of the list gives, or a TypeError or
// RangeError naming the argument with every gradient untouched; skipNonFinite never applies a
// step with a NaN or an infinity in a gradient it used.
import { changedSince, copies, sameTraining, setupArb, snapshot, train } from './spec.mjs';
import { hasNonFinite } from './inputs.mjs';
import {
  CONTAINERS, activate, attempt, check, container, detach, diffArrays, disguise, errorProblem, errorText, fail, fc,
  fmt, isRealF32, levelArb, lib, optionsObject, realLength, realOverlap, realView, seedArb, sizeArb, snapArrays,
  specialArb, storageArb, stored, values,
} from './support.mjs';

const CLIP_KINDS = ['good', 'good', 'good', 'good', 'nan', 'null', 'samePrev', 'overlapPrev', 'f64', 'array', 'detached', 'proxy', 'subclass', 'lyingLength', 'ownLength', 'lyingBuffer'];

const clipElementArb = (kinds) => fc.record({ kind: fc.constantFrom(...kinds), n: sizeArb(), storage: storageArb(), seed: seedArb(), ref: fc.nat(3) });

function buildClipElement(d, built, special) {
  const fresh = () => stored(d.storage, values(d.seed, d.n, special), d.ref);
  const reals = built.filter(isRealF32);
  const prev = reals.length ? reals[d.ref % reals.length] : null;
  switch (d.kind) {
    case 'good': return fresh();
    case 'nan': {
      const a = fresh();
      if (d.n > 0) a[d.seed % d.n] = [NaN, Infinity, -Infinity][d.seed % 3];
      return a;
    }
    case 'null': return null;
    case 'samePrev': return prev ?? fresh();
    case 'overlapPrev': {
      if (!prev || realLength(prev) < 2) return fresh();
      const v = realView(prev);
      return new Float32Array(v.buffer, v.byteOffset + 4, Math.min(d.n + 1, v.length - 1));
    }
    case 'f64': return new Float64Array(d.n);
    case 'array': return Array.from({ length: d.n }, () => 1);
    case 'detached': {
      const a = new Float32Array(d.n);
      detach(a.buffer);
      return a;
    }
    case 'proxy': return disguise('proxy', fresh());
    case 'subclass': return disguise('subclass', fresh());
    case 'lyingLength': return disguise('lyingLength', fresh(), d.n + 1);
    case 'ownLength': return disguise('ownLength', fresh(), d.n + 2);
    case 'lyingBuffer': return disguise('lyingBuffer', prev ?? fresh());
    default: throw new Error(d.kind);
  }
}

/** What is wrong with a gradient list for the clipping functions (a snapshot: a plain array). */
function clipProblems(list) {
  const problems = { invalid: [], either: [] };
  if (!Array.isArray(list)) {
    problems.invalid.push('grads');
    return problems;
  }
  list.forEach((g, i) => {
    if (!isRealF32(g)) {
      problems.invalid.push(`grads[${i}]`);
      return;
    }
    for (let j = 0; j < i; j++) {
      const h = list[j];
      if (!isRealF32(h)) continue;
      if (realOverlap(g, h)) problems.invalid.push(`grads[${i}]`, `grads[${j}]`);
      else if (g === h) problems.either.push(`grads[${i}]`, `grads[${j}]`); // the same empty array twice
    }
  });
  return problems;
}

const MAX_NORMS = [1, 0.5, 0, 10, 1e-6, 1e30, -0, -1, NaN, Infinity, '1', null, undefined];
const NORM_TYPES = [2, 1, Infinity, undefined, 3, 0, '2', 'inf', NaN, -Infinity];

const clipArb = (kinds, containers, optionKinds) =>
  fc.record({
    fn: fc.constantFrom('clipGradNorm', 'clipGradValue'),
    level: levelArb(),
    special: specialArb(),
    first: fc.array(clipElementArb(kinds), { minLength: 0, maxLength: 4 }),
    later: fc.array(clipElementArb(kinds), { minLength: 4, maxLength: 4 }),
    containerKind: fc.constantFrom(...containers),
    limit: fc.constantFrom(...MAX_NORMS),
    options: fc.oneof(
      { weight: 6, arbitrary: fc.record({ normType: fc.constantFrom(...NORM_TYPES), errorIfNonfinite: fc.constantFrom(true, false, undefined, 1, 'yes') }, { requiredKeys: [] }) },
      { weight: 1, arbitrary: fc.constantFrom(undefined, null, 5, { maxNorm: 1 }, { norm_type: 2 }) },
    ),
    optionsKind: fc.constantFrom(...optionKinds),
    notArray: fc.constantFrom(false, false, false, false, false, false, false, false, 'a Float32Array', 'null', 'object'),
  });

function clipPredicate({ fn, level, special, first, later, containerKind, limit, options, optionsKind, notArray }) {
  activate(level);
  const built = [];
  first.forEach((d) => built.push(buildClipElement(d, built, special)));
  const alt = [];
  later.forEach((d) => alt.push(buildClipElement(d, [...built, ...alt], special)));
  const c = notArray ? { value: { 'a Float32Array': values(1, 3), null: null, object: { 0: values(1, 3), length: 1 } }[notArray], snapshots: [null] }
    : container(containerKind, built, alt.slice(0, built.length));
  const mayReject = ['getters', 'proxy', 'iterator'].includes(containerKind) && !notArray ? ['grads'] : [];
  const argProblems = { invalid: [], either: [] };
  const limitName = fn === 'clipGradNorm' ? 'maxNorm' : 'clipValue';
  if (typeof limit !== 'number' || !Number.isFinite(limit) || limit < 0) argProblems.invalid.push(limitName);
  else if (Object.is(limit, -0)) argProblems.either.push(limitName);
  let optionsArg;
  if (fn === 'clipGradNorm') {
    if (options !== undefined && (options === null || typeof options !== 'object')) argProblems.invalid.push('options');
    else if (options !== undefined) {
      for (const k of Object.keys(options)) if (k !== 'normType' && k !== 'errorIfNonfinite') argProblems.invalid.push(`options.${k}`);
      if (options.normType !== undefined && ![1, 2, Infinity].includes(options.normType)) argProblems.invalid.push('options.normType');
      if (options.errorIfNonfinite !== undefined && typeof options.errorIfNonfinite !== 'boolean') argProblems.invalid.push('options.errorIfNonfinite');
      if (optionsKind === 'getters' || optionsKind === 'proxy') mayReject.push(...Object.keys(options).map((k) => `options.${k}`));
    }
    optionsArg = optionsObject(optionsKind, options, { normType: 'inf', errorIfNonfinite: 'yes' });
  }
  const reals = [...built, ...alt].filter(isRealF32);
  const snaps = snapArrays(reals.map((g, i) => [`gradient ${i}`, g]));
  const call = (grads, opts) => (fn === 'clipGradNorm' ? lib.clipGradNorm(grads, limit, opts) : lib.clipGradValue(grads, limit));
  const r = attempt(() => call(c.value, optionsArg));

  // Each snapshot a correct implementation may have read, judged, and run on plain copies.
  const outcomes = c.snapshots.map((s) => {
    const problems = s === null ? { invalid: ['grads'], either: [] } : clipProblems(s);
    problems.invalid.push(...argProblems.invalid);
    problems.either.push(...argProblems.either);
    let plain = null;
    if (problems.invalid.length === 0 && s !== null) {
      const before = new Map(snaps.map(([, v, bits]) => [v, bits]));
      const copiesOf = s.map((g) => new Float32Array(new Uint32Array(before.get(g)).buffer));
      plain = { copiesOf, result: attempt(() => call(copiesOf, options)) };
    }
    return { s, problems, plain };
  });
  if (!r.ok) {
    const names = [...outcomes.flatMap((o) => [...o.problems.invalid, ...o.problems.either]), ...mayReject];
    // errorIfNonfinite: a RangeError for a non-finite norm, as the plain call gives.
    const plainThrows = outcomes.some((o) => o.plain && !o.plain.result.ok);
    if (names.length === 0 && !plainThrows) fail(`${fn} threw ${errorText(r.error)} on valid arguments`);
    check(errorProblem(r.error, { where: fn, names: plainThrows ? [] : names }), `${fn}(${containerKind}, ${fmt(limit)}, ${fmt(options)})`);
    check(diffArrays(snaps), `after the refused ${fn}`);
    return;
  }
  const diffs = [];
  for (const o of outcomes) {
    if (o.problems.invalid.length || !o.plain) continue;
    if (!o.plain.result.ok) {
      diffs.push(`the plain call threw ${errorText(o.plain.result.error)}`);
      continue;
    }
    const a = r.value, b = o.plain.result.value;
    if (!Object.is(a, b) && !(Number.isNaN(a) && Number.isNaN(b))) {
      diffs.push(`returned ${fmt(a)}, the plain call ${fmt(b)}`);
      continue;
    }
    const d = diffArrays(o.s.map((g, i) => [`grads[${i}] (plain copies vs this call)`, g, new Uint32Array(o.plain.copiesOf[i].buffer)]));
    if (!d) return;
    diffs.push(d);
  }
  if (outcomes.every((o) => o.problems.invalid.length)) fail(`${fn} succeeded, but it must reject ${outcomes[0].problems.invalid.join(', ')}`);
  fail(`${fn} did not compute on what it validated: ${diffs.join('; ')}`);
}

// ---------------------------------------------------------------------------------------------
// skipNonFinite

const skipArb = () =>
  fc.record({
    setup: setupArb(),
    containerKind: fc.constantFrom(...CONTAINERS),
    first: fc.array(fc.constantFrom('good', 'good', 'nan', 'null'), { minLength: 4, maxLength: 4 }),
    later: fc.array(fc.constantFrom('good', 'nan', 'null'), { minLength: 4, maxLength: 4 }),
    seed: seedArb(),
  }).map((x) => ({ ...x, first: x.first.slice(0, x.setup.lengths.length), later: x.later.slice(0, x.setup.lengths.length) }));

function skipPredicate({ setup, containerKind, first, later, seed }) {
  activate(setup.level);
  const { opt, params } = train(setup, undefined, { skipNonFinite: true });
  const make = (kind, i, k) => {
    if (kind === 'null') return null;
    const g = values(seed + 97 * k + i, params[i].length, 0);
    if (kind === 'nan' && g.length > 0) g[(seed + i) % g.length] = [NaN, Infinity, -Infinity][(seed + i) % 3];
    return g;
  };
  const firstValues = first.map((kind, i) => make(kind, i, 0));
  const laterValues = later.map((kind, i) => make(kind, i, 1));
  const c = container(containerKind, firstValues, laterValues);
  const snap = snapshot(opt, params, [...firstValues, ...laterValues].filter(Boolean).map((g, i) => [`gradient ${i}`, g]));
  const r = attempt(() => opt.step(c.value));
  const hostile = ['getters', 'proxy', 'iterator'].includes(containerKind);
  if (!r.ok) {
    if (!hostile) fail(`step threw ${errorText(r.error)} on valid gradients`);
    check(errorProblem(r.error, { where: `${setup.name}.step`, names: ['grads'] }));
    check(changedSince(snap, opt, params), 'after the refused step');
    return;
  }
  const diffs = [];
  for (const s of c.snapshots) {
    if (hasNonFinite(s)) {
      // The step must be skipped: false, nothing changed.
      if (r.value !== false) {
        diffs.push(`returned ${fmt(r.value)} though a gradient it read holds a NaN or an infinity`);
        continue;
      }
      const d = changedSince(snap, opt, params);
      if (!d) return;
      diffs.push(`skipped, but ${d}`);
      continue;
    }
    if (r.value !== true) {
      diffs.push(`returned ${fmt(r.value)} on finite gradients`);
      continue;
    }
    const twin = train(setup, undefined, { skipNonFinite: true });
    twin.opt.step(copies(s));
    const d = sameTraining(opt, params, twin.opt, twin.params, 'the same step on what was first read');
    if (!d) return;
    diffs.push(d);
  }
  fail(`skipNonFinite judged other gradients than it stepped with: ${diffs.join('; ')}`);
}

const HONEST = ['good', 'good', 'good', 'good', 'nan', 'null', 'samePrev', 'overlapPrev', 'f64', 'array', 'detached'];
const DISGUISED = ['good', 'good', 'nan', 'proxy', 'subclass', 'lyingLength', 'ownLength', 'lyingBuffer'];

export const properties = [
  { name: 'gradients.clip', arbitrary: clipArb(HONEST, ['array', 'frozen'], ['plain']), predicate: clipPredicate },
  { name: 'gradients.clip.disguised', arbitrary: clipArb(DISGUISED, ['array'], ['plain']), predicate: clipPredicate },
  { name: 'gradients.clip.hostile', arbitrary: clipArb(['good', 'good', 'nan'], CONTAINERS, ['plain', 'getters', 'proxy']), predicate: clipPredicate },
  { name: 'gradients.skipNonFinite', arbitrary: skipArb(), predicate: skipPredicate },
];
