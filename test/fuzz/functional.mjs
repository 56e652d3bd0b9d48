// The functional updates (adamUpdate, sgdUpdate, ...): any arrays and any hyperparameters either
// give the bits of the same update on plain copies of what was read, or a TypeError or
// RangeError naming the argument, with every array untouched.
import {
  OPTIMIZERS, OPT_NAMES, STEP_RULE, anyOptionsByNameArb, optionsProblems, validOptionsByNameArb,
} from './spec.mjs';
import {
  LATER_VALUES, activate, attempt, bitsOf, check, detach, diffArrays, disguise, errorText, fail, fc, fmt, isRealF32,
  judgeOutcome, levelArb, lib, optionsObject, realLength, realOverlap, realView, seedArb, sizeArb, snapArrays,
  specialArb, storageArb, stored, values,
} from './support.mjs';

const HONEST_KINDS = ['good', 'good', 'good', 'good', 'good', 'null', 'aliasPrev', 'overlapPrev', 'wrongLength', 'f64', 'array', 'detached'];
const DISGUISED_KINDS = ['good', 'good', 'good', 'proxy', 'subclass', 'lyingLength', 'ownLength', 'lyingBuffer', 'ownBuffer'];

const arrayArgArb = (kinds) => fc.record({ kind: fc.constantFrom(...kinds), seed: seedArb(), delta: fc.constantFrom(-1, 1, 3), ref: fc.nat(4), storage: storageArb() });

/** The value an argument descriptor stands for at position k, given the real arrays before it. */
function buildArray(d, k, n, built, special) {
  const fresh = () => stored(d.storage, values(d.seed, n, special), d.ref % 3);
  const reals = built.filter(isRealF32);
  const prev = reals.length ? reals[d.ref % reals.length] : null;
  switch (d.kind) {
    case 'good':
      return fresh();
    case 'null':
      return null;
    case 'aliasPrev':
      return prev ?? fresh();
    case 'overlapPrev': {
      if (!prev || realLength(prev) === 0) return fresh();
      const v = realView(prev);
      const room = (v.buffer.byteLength - v.byteOffset) / 4 - 1;
      return room >= n && n > 0 ? new Float32Array(v.buffer, v.byteOffset + 4, n) : prev;
    }
    case 'wrongLength':
      return values(d.seed, Math.max(0, n + d.delta === n ? n + 1 : n + d.delta));
    case 'f64':
      return new Float64Array(n);
    case 'array':
      return Array.from({ length: n }, () => 0);
    case 'proxy':
      return disguise('proxy', fresh());
    case 'subclass':
      return disguise('subclass', fresh());
    case 'lyingLength':
      return disguise('lyingLength', values(d.seed, n + d.delta >= 0 ? n + d.delta : n + 1), n);
    case 'ownLength':
      return disguise('ownLength', values(d.seed, n + d.delta >= 0 ? n + d.delta : n + 1), n);
    case 'lyingBuffer':
      return disguise('lyingBuffer', prev ?? fresh());
    case 'ownBuffer':
      return disguise('ownBuffer', prev ?? fresh());
    case 'detached': {
      const a = new Float32Array(n);
      detach(a.buffer);
      return a;
    }
    default:
      throw new Error(d.kind);
  }
}

const STEPS = [1, 1, 2, 3, 7, 'absent', 'absent', 0, -1, 1.5, NaN, Infinity, '1', 2 ** 53 + 2, null];

const updateArb = ({ kinds, hyperKinds, anyHyper }) =>
  fc.record({
    name: fc.constantFrom(...OPT_NAMES),
    level: levelArb(),
    n: sizeArb(),
    special: specialArb(),
    args: fc.array(arrayArgArb(kinds), { minLength: 5, maxLength: 5 }),
    hyper: anyHyper ? fc.oneof({ weight: 3, arbitrary: validOptionsByNameArb() }, { weight: 1, arbitrary: anyOptionsByNameArb() }) : validOptionsByNameArb(),
    step: anyHyper ? fc.constantFrom(...STEPS) : fc.constantFrom(1, 2, 3, 7),
    muProduct: anyHyper ? fc.constantFrom('absent', 1, 0.9, 0.5, NaN, Infinity, '1') : fc.constantFrom('absent', 1, 0.9),
    hyperKind: fc.constantFrom(...hyperKinds),
    later: fc.constantFrom(...LATER_VALUES, 2),
  }).map((x) => ({ ...x, hyper: x.hyper[x.name], args: x.args.slice(0, OPTIMIZERS[x.name].update.arrays.length) }));

/** The effective hyperparameters (defaults under what is given), for deciding which arrays are needed. */
function effective(name, hyper) {
  const base = { amsgrad: false, centered: false, momentum: 0 };
  if (hyper === null || typeof hyper !== 'object') return base;
  // An option given as undefined takes its default, as an absent one does.
  return { ...base, ...Object.fromEntries(Object.entries(hyper).filter(([, v]) => v !== undefined)) };
}

function updatePredicate({ name, level, n, special, args, hyper, step, muProduct, hyperKind, later }) {
  activate(level);
  const spec = OPTIMIZERS[name];
  const u = spec.update;
  const fn = lib[u.fn];
  // The hyperparameters as given (plain data), then through a possibly hostile object.
  let plainHyper = hyper;
  if (plainHyper !== null && typeof plainHyper === 'object' && !Array.isArray(plainHyper)) {
    plainHyper = { ...plainHyper };
    if (step !== 'absent') plainHyper.step = step;
    if (name === 'NAdam' && muProduct !== 'absent') plainHyper.muProduct = muProduct;
  }
  const extra = { step: STEP_RULE, ...(u.extra ?? {}) };
  const problems = optionsProblems(spec, plainHyper, 'hyper', { extra });
  if (u.step === 'ignored' && problems.invalid.includes('hyper.step')) {
    problems.invalid = problems.invalid.filter((p) => p !== 'hyper.step');
    problems.either.push('hyper.step');
  }
  const isObject = plainHyper !== null && typeof plainHyper === 'object' && !Array.isArray(plainHyper);
  const eff = effective(name, isObject ? plainHyper : undefined);
  const stepMissing = !isObject || plainHyper.step === undefined;
  if (stepMissing && (u.step === 'required' || (u.step === 'momentum' && typeof eff.momentum === 'number' && eff.momentum !== 0))) {
    problems.invalid.push('hyper.step');
  }
  const mayReject = [];
  const laterRecord = {};
  if (isObject) {
    for (const k of Object.keys(plainHyper)) laterRecord[k] = later;
    if (hyperKind === 'getters' || hyperKind === 'proxy') mayReject.push(...Object.keys(plainHyper).map((k) => `hyper.${k}`));
  }
  const hyperArg = optionsObject(hyperKind, plainHyper, laterRecord);

  // The arrays.
  const built = [];
  args.forEach((d, k) => built.push(buildArray(d, k, n, built, special)));
  const param = built[0];
  const paramLength = isRealF32(param) ? realLength(param) : -1;
  const needed = u.arrays.map((a, k) => k < 2 || !u.needs[a] || u.needs[a](eff));
  const present = [];
  u.arrays.forEach((a, k) => {
    if (!needed[k]) return;
    const v = built[k];
    if (!isRealF32(v)) {
      problems.invalid.push(a);
      return;
    }
    if (paramLength >= 0 && realLength(v) !== paramLength) problems.invalid.push(a, 'param');
    present.push({ a, v, written: a !== 'grad' });
  });
  for (let i = 0; i < present.length; i++) {
    for (let j = i + 1; j < present.length; j++) {
      const x = present[i], y = present[j];
      if (!(x.written || y.written)) continue;
      if (realOverlap(x.v, y.v)) problems.invalid.push(x.a, y.a);
      else if (x.v === y.v) problems.either.push(x.a, y.a); // the same zero-length array twice
    }
  }
  const reals = built.filter(isRealF32);
  const snaps = snapArrays(reals.map((v, k) => [`argument ${k}`, v]));
  const r = attempt(() => fn(...built, hyperArg));
  const outcome = judgeOutcome(r, problems, { where: u.fn, mayReject });
  if (outcome === 'threw') {
    check(diffArrays(snaps), `after the rejected ${u.fn}`);
    return;
  }
  // The same update on plain copies (taken before the call) of the arrays it needs, with the
  // hyperparameters' first reads.
  const before = new Map(snaps.map(([, v, bits]) => [v, bits]));
  const twinArgs = built.map((v, k) => (needed[k] && isRealF32(v) ? new Float32Array(new Uint32Array(before.get(v)).buffer) : null));
  const t = attempt(() => lib[u.fn](...twinArgs, plainHyper));
  if (!t.ok) fail(`succeeded, but the same update on plain copies threw ${errorText(t.error)}`);
  if (!Object.is(r.value, t.value) && !(Number.isNaN(r.value) && Number.isNaN(t.value))) {
    fail(`returned ${fmt(r.value)}, the same update on plain copies ${fmt(t.value)}`);
  }
  for (let k = 0; k < built.length; k++) {
    if (twinArgs[k]) check(diffArrays([[`${u.arrays[k]} (plain copies vs this call)`, built[k], bitsOf(twinArgs[k])]]));
  }
}

export const properties = [
  { name: 'functional.rejects', arbitrary: updateArb({ kinds: HONEST_KINDS, hyperKinds: ['plain', 'frozen', 'nullProto'], anyHyper: true }), predicate: updatePredicate },
  { name: 'functional.disguised', arbitrary: updateArb({ kinds: DISGUISED_KINDS, hyperKinds: ['plain'], anyHyper: false }), predicate: updatePredicate },
  { name: 'functional.hostileHyper', arbitrary: updateArb({ kinds: ['good'], hyperKinds: ['getters', 'proxy'], anyHyper: true }), predicate: updatePredicate },
];
