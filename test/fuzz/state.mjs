// State dicts: a state dict round-trips through loadStateDict with the same bits; a malformed one
// (wrong optimizer, groups, ids, keys, buffers, step counts; getters and Proxies) is refused with a
// TypeError or RangeError naming what is wrong, and nothing of it is applied.
import {
  OPTIMIZERS, changedSince, classifyNumber, copies, gradsAt, initialParams, judge, makeOptimizer, sameTraining,
  setupArb, snapshot, someValueArb,
} from './spec.mjs';
import {
  activate, attempt, check, deepDiff, detach, disguise, errorProblem, errorText, fail, fc, isRealF32, noProblems,
  packed, plainCopy, realLength, values,
} from './support.mjs';

/** A deep copy of a state dict (typed arrays copied). */
export function cloneDict(x) {
  if (isRealF32(x)) return plainCopy(x);
  if (ArrayBuffer.isView(x)) return x.slice();
  if (Array.isArray(x)) return x.map(cloneDict);
  if (x !== null && typeof x === 'object') return Object.fromEntries(Object.entries(x).map(([k, v]) => [k, cloneDict(v)]));
  return x;
}

/** A's params after its history: B starts from the same values, with a different state. */
function pair(setup) {
  const a = (() => {
    const params = initialParams(setup);
    const opt = makeOptimizer(setup, params);
    for (let k = 0; k < setup.history; k++) opt.step(gradsAt(setup, k));
    return { opt, params };
  })();
  const make = (steps) => {
    const params = a.params.map(plainCopy);
    const opt = makeOptimizer(setup, params);
    for (let k = 0; k < steps; k++) opt.step(gradsAt(setup, 20 + k, 0));
    return { opt, params };
  };
  return { a, make };
}

// ---------------------------------------------------------------------------------------------
// stateDict.roundtrip

const roundtripArb = () =>
  fc.record({
    setup: setupArb(),
    form: fc.constantFrom('same', 'clone', 'packed', 'packedSab', 'structuredClone'),
    bSteps: fc.integer({ min: 0, max: 2 }),
  });

function repack(dict, kind) {
  const out = cloneDict(dict);
  const entries = Object.values(out.state);
  const arrays = entries.flatMap((e) => Object.entries(e).filter(([, v]) => isRealF32(v)).map(([k]) => [e, k]));
  const views = packed(kind, arrays.map(([e, k]) => e[k]), arrays.map((_, i) => i % 3));
  arrays.forEach(([e, k], i) => (e[k] = views[i]));
  return out;
}

function roundtripPredicate({ setup, form, bSteps }) {
  activate(setup.level);
  const { a, make } = pair(setup);
  const dict = a.opt.stateDict();
  const expected = cloneDict(dict);
  const given = form === 'same' ? dict : form === 'clone' ? cloneDict(dict) : form === 'structuredClone' ? structuredClone(dict)
    : repack(dict, form === 'packedSab' ? 'sab' : 'plain');
  const b = make(bSteps);
  const r = attempt(() => b.opt.loadStateDict(given));
  if (!r.ok) fail(`loading a state dict from stateDict() (${form}) threw ${errorText(r.error)}`);
  check(deepDiff(expected, b.opt.stateDict(), 'stateDict() after loading'));
  // The optimizer keeps copies: the caller's arrays are the caller's.
  for (const entry of Object.values(given.state ?? {})) for (const v of Object.values(entry)) if (isRealF32(v)) v.fill(12345);
  check(deepDiff(expected, b.opt.stateDict(), 'stateDict() after the loaded dict was overwritten'));
  // Params are not state: B continues from A's values.
  b.params.forEach((p, i) => p.set(a.params[i]));
  const grads = gradsAt(setup, 40, 0);
  a.opt.step(copies(grads));
  b.opt.step(copies(grads));
  check(sameTraining(a.opt, a.params, b.opt, b.params, 'the optimizer the state dict came from'));
}

// ---------------------------------------------------------------------------------------------
// stateDict.malformed and stateDict.hostile

const MUTATIONS = [
  'optimizer', 'notObject', 'groupsNotArray', 'dropGroup', 'addGroup', 'groupNotObject', 'ids', 'renameIds', 'groupMissingKey',
  'groupValue', 'groupValue', 'groupExtraKey', 'stateNotObject', 'unknownId', 'entryNotObject', 'dropEntry', 'dropBuffer',
  'extraBuffer', 'bufferLength', 'bufferType', 'bufferType', 'step', 'step', 'muProduct',
];
const PRESENTATIONS = ['getterBuffer', 'getterStep', 'getterGroupValue', 'proxyDict', 'proxyState', 'proxyEntry', 'proxyGroups'];
const HOSTILE = [...PRESENTATIONS, 'disguisedBuffer', 'disguisedBuffer', 'disguisedBuffer'];

const mutationArb = (ops) =>
  fc.record({ op: fc.constantFrom(...ops), pick: fc.nat(), pick2: fc.nat(), value: someValueArb(), seed: fc.nat(1000) });

const malformedArb = (ops) =>
  fc.record({
    setup: setupArb().map((s) => ({ ...s, history: Math.max(1, s.history) })),
    mutations: fc.array(mutationArb(ops), { minLength: 1, maxLength: 1 }),
    bSteps: fc.integer({ min: 0, max: 2 }),
  });

const STEP_VALUES = [-1, 1.5, NaN, Infinity, '3', 2 ** 53 + 2, 2 ** 53, undefined, null, 0, 7, -0];
const BUFFER_TYPES = ['f64', 'array', 'u32', 'detached', 'subclass', 'sab', 'offset'];
const DISGUISED_BUFFERS = ['proxy', 'lyingLength', 'ownLength', 'lyingLengthRight'];

/**
 * Applies one mutation to `dict` (a fresh copy) in place; returns its problems (names) and,
 * for hostile mutations, `first` (the dict a single read of everything sees) and mayReject names.
 */
function mutate(dict, m, setup, lengths) {
  const spec = OPTIMIZERS[setup.name];
  const problems = noProblems();
  const mayReject = [];
  const isObj = (o) => o !== null && typeof o === 'object' && !Array.isArray(o);
  // Earlier mutations may have broken the structure: later ones then only touch what is intact.
  const groups = Array.isArray(dict.paramGroups) && dict.paramGroups.every((grp) => isObj(grp) && Array.isArray(grp.params)) ? dict.paramGroups : [];
  const stateKeys = isObj(dict.state) ? Object.keys(dict.state).filter((id) => isObj(dict.state[id])) : [];
  const g = groups.length ? m.pick % groups.length : 0;
  const key = stateKeys.length ? stateKeys[m.pick % stateKeys.length] : null;
  const entry = key !== null ? dict.state[key] : null;
  if (['unknownId', 'renameIds'].includes(m.op) && !isObj(dict.state)) return null;
  if (['dropBuffer', 'extraBuffer', 'groupValue', 'renameIds'].includes(m.op) && groups.length === 0) return null;
  const optionKeys = Object.keys(spec.options);
  const k = optionKeys[m.pick2 % optionKeys.length];
  const paramIndexOf = (id) => {
    let at = 0;
    for (const grp of groups) {
      const i = grp.params.indexOf(Number(id));
      if (i >= 0) return at + i;
      at += grp.params.length;
    }
    return -1;
  };
  const bufferNames = entry ? Object.keys(entry).filter((n) => isRealF32(entry[n])) : [];
  const buf = bufferNames.length ? bufferNames[m.pick2 % bufferNames.length] : null;
  switch (m.op) {
    case 'optimizer': {
      const names = [setup.name, 'SGD', 'Adam', 'adam', '', undefined, 42, null];
      dict.optimizer = names[m.pick % names.length];
      if (dict.optimizer !== setup.name) problems.invalid.push('');
      break;
    }
    case 'notObject':
      return { replace: [null, 5, 'dict', [], undefined][m.pick % 5], problems: { invalid: [''], either: [] }, mayReject };
    case 'groupsNotArray':
      dict.paramGroups = [null, {}, 'groups', 3][m.pick % 4];
      problems.invalid.push('paramGroups');
      break;
    case 'dropGroup':
      if (!groups.length) return null;
      groups.splice(g, 1);
      problems.invalid.push('paramGroups', 'parameter groups');
      break;
    case 'addGroup':
      if (!groups.length) return null;
      groups.push({ ...cloneDict(groups[g]), params: groups[g].params.map((id) => id + 1000) });
      problems.invalid.push('paramGroups', 'parameter groups');
      break;
    case 'groupNotObject':
      if (!groups.length) return null;
      groups[g] = [5, null, 'group', []][m.pick2 % 4];
      problems.invalid.push(`paramGroups[${g}]`);
      break;
    case 'ids': {
      if (!groups.length) return null;
      const ids = groups[g].params;
      const variants = [[], [...ids, 999], ids.length ? [...ids.slice(1), ids[0] + 0.5] : [0.5], ids.length ? [ids[0], ...ids.slice(0, -1)] : ['0'], ids.map(String)];
      const v = variants[m.pick2 % variants.length];
      if (v.length === ids.length && v.every((x, i) => x === ids[i])) return null;
      groups[g].params = v;
      problems.invalid.push(`paramGroups[${g}].params`, `paramGroups[${g}]`, 'state[');
      // Strings for ids: PyTorch's ids are ints; a string is malformed.
      break;
    }
    case 'renameIds': {
      // Ids are labels: the same dict with every id shifted is the same state.
      const shift = 100 + (m.pick2 % 50);
      groups.forEach((grp) => (grp.params = grp.params.map((id) => id + shift)));
      dict.state = Object.fromEntries(Object.entries(dict.state).map(([id, e]) => [String(Number(id) + shift), e]));
      break;
    }
    case 'groupMissingKey':
      if (!groups.length) return null;
      delete groups[g][k];
      problems.invalid.push(`paramGroups[${g}].${k}`);
      break;
    case 'groupValue': {
      if (!groups.length) return null;
      groups[g][k] = m.value;
      // A key present with the value undefined: missing, or the default? Left open.
      if (m.value === undefined) problems.either.push(`paramGroups[${g}].${k}`);
      judge(problems, spec.options[k], m.value, `paramGroups[${g}].${k}`);
      if (spec.crossCheck && problems.invalid.length === 0) {
        for (const n of spec.crossCheck(groups[g])) problems.invalid.push(`paramGroups[${g}].${n}`);
      }
      // A changed hyperparameter can make a buffer required, or unused.
      const uses = spec.bufferUse(groups[g]);
      for (const grpIdx of [g]) {
        for (const id of groups[grpIdx].params) {
          const e = dict.state[id];
          if (!e) continue;
          spec.buffers.forEach((b, slot) => {
            if (uses[slot] === true && !isRealF32(e[b])) problems.invalid.push(`state[${id}].${b}`);
            if (uses[slot] === false && isRealF32(e[b])) problems.either.push(`state[${id}].${b}`, `paramGroups[${g}].${k}`);
          });
        }
      }
      break;
    }
    case 'groupExtraKey':
      if (!groups.length) return null;
      groups[g][['initialLr', 'foo', 'learningRate'][m.pick2 % 3]] = 0.5;
      problems.either.push(`paramGroups[${g}]`);
      break;
    case 'stateNotObject': {
      const v = [null, 5, 'state', []][m.pick2 % 4];
      dict.state = v;
      (Array.isArray(v) && stateKeys.length === 0 ? problems.either : problems.invalid).push('state');
      break;
    }
    case 'unknownId':
      dict.state[String(5000 + (m.pick2 % 10))] = entry ? cloneDict(entry) : { step: 1 };
      problems.invalid.push(`state[${5000 + (m.pick2 % 10)}]`);
      break;
    case 'entryNotObject':
      if (key === null) return null;
      dict.state[key] = [5, null, 'entry', [1]][m.pick2 % 4];
      problems.invalid.push(`state[${key}]`);
      break;
    case 'dropEntry':
      if (key === null) return null;
      delete dict.state[key];
      break;
    case 'dropBuffer': {
      if (!buf) return null;
      delete entry[buf];
      const slot = spec.buffers.indexOf(buf);
      const uses = spec.bufferUse(groups[groupOfIndex(groups, paramIndexOf(key))] ?? {});
      if (uses[slot] === true) problems.invalid.push(`state[${key}].${buf}`);
      break;
    }
    case 'extraBuffer': {
      if (key === null) return null;
      const absent = spec.buffers.find((b) => !(b in entry));
      const name = m.pick2 % 2 === 0 && absent ? absent : 'foo';
      entry[name] = new Float32Array(lengths[paramIndexOf(key)] ?? 0);
      if (name === 'foo') problems.invalid.push(`state[${key}].${name}`, `state[${key}]`);
      else {
        // An optional buffer (SGD's momentum buffer) may be given; an unused one is left open.
        const use = spec.bufferUse(groups[groupOfIndex(groups, paramIndexOf(key))] ?? {})[spec.buffers.indexOf(name)];
        if (use === false) problems.either.push(`state[${key}].${name}`);
      }
      break;
    }
    case 'bufferLength': {
      if (!buf) return null;
      const n = realLength(entry[buf]);
      entry[buf] = values(m.seed, n + [1, -1, 5][m.pick2 % 3] >= 0 ? n + [1, -1, 5][m.pick2 % 3] : n + 1);
      problems.invalid.push(`state[${key}].${buf}`);
      break;
    }
    case 'bufferType': {
      if (!buf) return null;
      const old = entry[buf];
      const n = realLength(old);
      const type = BUFFER_TYPES[m.pick2 % BUFFER_TYPES.length];
      const valid = type === 'subclass' || type === 'sab' || type === 'offset';
      if (type === 'f64') entry[buf] = Float64Array.from(old);
      else if (type === 'array') entry[buf] = Array.from(old);
      else if (type === 'u32') entry[buf] = new Uint32Array(n);
      else if (type === 'detached') {
        const a = plainCopy(old);
        detach(a.buffer);
        entry[buf] = a;
        if (n === 0) {
          problems.either.push(`state[${key}].${buf}`);
          break;
        }
      } else if (type === 'subclass') entry[buf] = disguise('subclass', plainCopy(old));
      else if (type === 'sab') entry[buf] = packed('sab', [old], [1])[0];
      else entry[buf] = packed('plain', [old], [3])[0];
      if (!valid) problems.invalid.push(`state[${key}].${buf}`);
      break;
    }
    case 'disguisedBuffer': {
      // Judged by what the array really is: a Proxy is no Float32Array; a lie about the length
      // neither hides a wrong length nor spoils a right one.
      if (!buf) return null;
      const n = realLength(entry[buf]);
      const type = DISGUISED_BUFFERS[m.pick2 % DISGUISED_BUFFERS.length];
      if (type === 'proxy') entry[buf] = disguise('proxy', plainCopy(entry[buf]));
      else if (type === 'lyingLength') entry[buf] = disguise('lyingLength', new Float32Array(n + 1), n);
      else if (type === 'ownLength') entry[buf] = disguise('ownLength', new Float32Array(n + 2), n);
      else entry[buf] = disguise('lyingLength', plainCopy(entry[buf]), n + 1);
      if (type !== 'lyingLengthRight') problems.invalid.push(`state[${key}].${buf}`);
      break;
    }
    case 'step': {
      if (key === null) return null;
      const v = STEP_VALUES[m.pick2 % STEP_VALUES.length];
      if (v === undefined) delete entry.step;
      else entry.step = v;
      if (spec.countsSteps === false) {
        if (v !== undefined) problems.invalid.push(`state[${key}].step`, `state[${key}]`);
      } else if (v === undefined) {
        problems.invalid.push(`state[${key}].step`);
      } else {
        const c = classifyNumber({ min: 0, integer: true, count: true }, v);
        if (c !== 'valid') problems[c].push(`state[${key}].step`);
      }
      break;
    }
    case 'muProduct': {
      if (key === null || setup.name !== 'NAdam') return null;
      const v = [NaN, '1', undefined, Infinity, 0.5, -0.5][m.pick2 % 6];
      if (v === undefined) delete entry.mu_product;
      else entry.mu_product = v;
      // A product of coefficients in [0, 1): the package accepts [0, 1].
      if (!(typeof v === 'number' && v >= 0 && v <= 1)) problems.invalid.push(`state[${key}].mu_product`);
      break;
    }
    default:
      throw new Error(m.op);
  }
  return { problems, mayReject };
}

function groupOfIndex(groups, index) {
  let at = 0;
  for (let g = 0; g < groups.length; g++) {
    at += groups[g].params.length;
    if (index < at) return g;
  }
  return -1;
}

/**
 * Hostile presentations of a valid dict: `dict` is changed in place so that a second read sees a
 * corrupted value; returns the names a rejection may give. The first read sees the valid dict.
 */
function hostile(dict, m, setup) {
  const groups = dict.paramGroups;
  const keys = Object.keys(dict.state);
  const key = keys.length ? keys[m.pick % keys.length] : null;
  const entry = key !== null ? dict.state[key] : null;
  const g = m.pick % groups.length;
  const once = (first, later) => {
    let reads = 0;
    return () => (reads++ === 0 ? first : later);
  };
  const counting = (target, corrupt) => {
    const reads = new Map();
    return new Proxy(target, {
      get(t, p, receiver) {
        if (typeof p !== 'string') return Reflect.get(t, p, receiver);
        const n = reads.get(p) ?? 0;
        reads.set(p, n + 1);
        return n === 0 ? Reflect.get(t, p, receiver) : corrupt(p, Reflect.get(t, p, receiver));
      },
    });
  };
  switch (m.op) {
    case 'getterBuffer': {
      const bufs = entry ? Object.keys(entry).filter((b) => isRealF32(entry[b])) : [];
      if (!bufs.length) return null;
      const b = bufs[m.pick2 % bufs.length];
      const v = entry[b];
      Object.defineProperty(entry, b, { get: once(v, new Float32Array(realLength(v) + 3)), enumerable: true, configurable: true });
      return [`state[${key}].${b}`, `state[${key}]`];
    }
    case 'getterStep': {
      if (!entry || !('step' in entry)) return null;
      const v = entry.step;
      Object.defineProperty(entry, 'step', { get: once(v, -1), enumerable: true, configurable: true });
      return [`state[${key}].step`, `state[${key}]`];
    }
    case 'getterGroupValue': {
      const v = groups[g].lr;
      Object.defineProperty(groups[g], 'lr', { get: once(v, NaN), enumerable: true, configurable: true });
      return [`paramGroups[${g}].lr`, `paramGroups[${g}]`];
    }
    case 'proxyDict':
      return { replace: counting(dict, (p, v) => (p === 'paramGroups' ? [] : p === 'state' ? null : v)), names: ['paramGroups', 'state', 'optimizer'] };
    case 'proxyState':
      dict.state = counting(dict.state, (p, v) => (v !== null && typeof v === 'object' ? { ...v, step: -5 } : v));
      return ['state'];
    case 'proxyEntry': {
      if (!entry) return null;
      dict.state[key] = counting(entry, (p, v) => (isRealF32(v) ? new Float32Array(realLength(v) + 1) : p === 'step' ? 1.5 : v));
      return [`state[${key}]`];
    }
    case 'proxyGroups':
      dict.paramGroups = counting(groups, (p, v) => (/^\d+$/.test(p) ? { ...v, lr: NaN } : p === 'length' ? v + 1 : v));
      return ['paramGroups'];
    default:
      throw new Error(m.op);
  }
}

function loadPredicate({ setup, mutations, bSteps }) {
  activate(setup.level);
  const { a, make } = pair(setup);
  const base = a.opt.stateDict();
  let given = cloneDict(base);
  // What a single read of everything sees: the mutated dict; for hostile presentations, the valid one.
  let plainFirst = given;
  let problems = noProblems();
  const mayReject = [];
  for (const m of mutations) {
    if (PRESENTATIONS.includes(m.op)) {
      plainFirst = cloneDict(base);
      const h = hostile(given, m, setup);
      if (h === null) continue;
      if (Array.isArray(h)) mayReject.push(...h);
      else {
        given = h.replace;
        mayReject.push(...h.names);
      }
      break; // one hostile presentation at a time
    }
    const r = mutate(given, m, setup, a.params.map(realLength));
    if (r === null) continue;
    problems = { invalid: [...problems.invalid, ...r.problems.invalid], either: [...problems.either, ...r.problems.either] };
    if ('replace' in r) {
      given = r.replace;
      break;
    }
  }
  if (!mutations.some((m) => PRESENTATIONS.includes(m.op))) plainFirst = given;
  const change = mutations.some((m) => PRESENTATIONS.includes(m.op)) ? mutations[0].op
    : `${mutations[0].op}: ${attempt(() => deepDiff(base, given, 'dict')).value ?? 'the same bits'}`;
  const b = make(bSteps);
  const twin = make(bSteps);
  const where = `${setup.name}.loadStateDict`;
  const snap = snapshot(b.opt, b.params);
  const r = attempt(() => b.opt.loadStateDict(given));
  if (!r.ok) {
    const names = [...problems.invalid, ...problems.either, ...mayReject];
    if (names.length === 0) fail(`rejected a valid state dict (${change}): ${errorText(r.error)}`);
    check(errorProblem(r.error, { where, names }), `the change: ${change}; expected a rejection naming one of ${names.filter(Boolean).join(', ') || 'anything'}`);
    check(changedSince(snap, b.opt, b.params), `after the rejected loadStateDict (${change})`);
    const grads = gradsAt(setup, 40, 0);
    b.opt.step(copies(grads));
    twin.opt.step(copies(grads));
    check(sameTraining(b.opt, b.params, twin.opt, twin.params, 'an optimizer that never saw the call'));
    return;
  }
  if (problems.invalid.length) fail(`loaded a state dict it must reject (${problems.invalid.filter(Boolean).join(', ') || 'malformed'}); the change: ${change}`);
  // Accepted: the same as loading the plain dict (the first reads) into a twin.
  const c = attempt(() => twin.opt.loadStateDict(cloneDict(plainFirst)));
  if (!c.ok) fail(`accepted a state dict whose plain version (first reads) is rejected: ${errorText(c.error)}`);
  check(deepDiff(twin.opt.stateDict(), b.opt.stateDict(), 'stateDict() (loaded from the plain dict vs this load)'));
  const grads = gradsAt(setup, 40, 0);
  b.opt.step(copies(grads));
  twin.opt.step(copies(grads));
  check(sameTraining(b.opt, b.params, twin.opt, twin.params, 'the plain dict loaded'));
}

export const properties = [
  { name: 'stateDict.roundtrip', arbitrary: roundtripArb(), predicate: roundtripPredicate },
  { name: 'stateDict.malformed', arbitrary: malformedArb(MUTATIONS), predicate: loadPredicate },
  { name: 'stateDict.hostile', arbitrary: malformedArb(HOSTILE), predicate: loadPredicate },
];
