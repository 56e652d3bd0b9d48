// StandardScaler (lib/preprocessing/standard-scaler.ts, native/scaler.cc): every native ISA level
// fits and scales with the fallback's bits, on missing values (NaN), subnormals, signed zeros and
// huge floats, and the outputs are the documented formula fl32((x - mean) / scale); hostile
// arguments (look-alike, lying, detached and throwing arrays, out overlapping data, bad column
// counts, infinities, an all-NaN column, malformed or self-changing state dicts) give the result
// of the same call on plain copies of a single read, or a TypeError or RangeError naming the
// argument with the scaler's state, data and out untouched; inverseTransform undoes transform
// within a few float32 roundings, and a state dict through JSON scales with the same bits.
import { DISGUISES } from './inputs.mjs';
import {
  activate, attempt, bitsOf, check, deepDiff, detach, diffArrays, disguise, errorProblem, errorText, fail, fc, fmt,
  isRealF32, levelArb, lib, plainCopy, realLength, realOverlap, realView, rng, seedArb, snapArrays, specialArb,
  storageArb, stored, values,
} from './support.mjs';

const { StandardScaler } = lib;

// ---------------------------------------------------------------------------------------------
// Tables: rows of `columns` float32 values.

/** Every remainder of the 32 accumulators of fit and the 16-value blocks, and wide rows (MNIST). */
const columnsArb = () => fc.oneof({ weight: 8, arbitrary: fc.integer({ min: 1, max: 40 }) }, { weight: 1, arbitrary: fc.constantFrom(64, 100, 784) });
const rowsArb = () => fc.oneof({ weight: 3, arbitrary: fc.integer({ min: 1, max: 9 }) }, { weight: 1, arbitrary: fc.integer({ min: 1, max: 300 }) });
const tableArb = () =>
  fc.record({ columns: columnsArb(), rows: rowsArb(), seed: seedArb(), special: specialArb(), missing: fc.constantFrom(0, 0, 0.05, 0.6), layout: fc.constantFrom('raw', 'offsets', 'constant') });

/** At most this many values per table: 784 columns keep a run fast. */
const MAX_VALUES = 16384;
const OFFSETS = [0, 1000, -3, 5e-3, 1e30, -2e-38];
const SPREADS = [1, 0.01, 250, 1e-4, 1e25, 1e-40];

/**
 * Data fit accepts: 'raw' values() with its specials, 'offsets' columns of very different
 * offsets and spreads (feature scaling's reason to exist), 'constant' every third column one
 * value (the constant-feature rule). Infinities become NaN and every column keeps a number.
 */
function table({ columns, rows, seed, special, missing, layout }) {
  const r = Math.max(0, Math.min(rows, Math.floor(MAX_VALUES / columns)));
  const x = values(seed, r * columns, special);
  const random = rng(seed ^ 0x5bd1e995);
  for (let i = 0; i < x.length; i++) {
    const c = i % columns;
    if (layout === 'offsets') x[i] = OFFSETS[c % 6] + SPREADS[(c >> 1) % 6] * x[i];
    if (layout === 'constant' && c % 3 === 0) x[i] = OFFSETS[c % 6] + 0.1;
    if (!Number.isFinite(x[i]) || random() < missing) x[i] = NaN;
  }
  for (let c = 0; c < columns && r > 0; c++) {
    let i = c;
    while (i < x.length && Number.isNaN(x[i])) i += columns;
    if (i >= x.length) x[c] = c + 0.5;
  }
  return x;
}

/** Null when two lists of float64 numbers have the same bits. */
function f64Diff(label, a, b) {
  const x = new BigUint64Array(Float64Array.from(a).buffer), y = new BigUint64Array(Float64Array.from(b).buffer);
  if (x.length !== y.length) return `${label}: length ${x.length} vs ${y.length}`;
  const i = x.findIndex((bits, k) => bits !== y[k]);
  return i < 0 ? null : `${label}[${i}]: ${fmt(a[i])} (0x${x[i].toString(16)}) vs ${fmt(b[i])} (0x${y[i].toString(16)})`;
}

/** What stateDict() says now (or that it throws: not fitted). */
function stateOf(scaler) {
  const r = attempt(() => scaler.stateDict());
  return r.ok ? r.value : { notFitted: errorText(r.error) };
}

const STATS = ['mean', 'var', 'scale', 'nSamplesSeen'];

// ---------------------------------------------------------------------------------------------
// scaler.backends: level vs the fallback, bit for bit; both against the formula of the docs.

const backendsArb = () =>
  fc.record({
    level: levelArb(), table: tableArb(), withMean: fc.boolean(), withStd: fc.boolean(), storage: storageArb(), offset: fc.nat(3),
    probe: fc.record({ rows: rowsArb(), seed: seedArb(), special: specialArb() }),
  });

function scaleAll(level, { table: t, withMean, withStd, storage, offset }, x, z) {
  activate(level);
  const scaler = new StandardScaler({ withMean, withStd });
  const fitted = attempt(() => scaler.fit(stored(storage, x, offset), t.columns));
  if (!fitted.ok) fail(`fit threw ${errorText(fitted.error)} on ${level}`);
  const given = stored(storage, z, offset);
  const inPlace = stored(storage, z, offset), backInPlace = stored(storage, z, offset);
  const y = scaler.transform(given);
  const out = scaler.transform(given, stored(storage, z.map(() => 7), offset + 1));
  scaler.transform(inPlace, inPlace);
  const back = scaler.inverseTransform(y);
  scaler.inverseTransform(backInPlace, backInPlace);
  const again = new StandardScaler({ withMean, withStd });
  const fy = again.fitTransform(stored(storage, x, offset), t.columns);
  return { state: scaler.stateDict(), againState: again.stateDict(), y, out, inPlace, back, backInPlace, fy, yx: scaler.transform(x) };
}

/** The outputs a run must have whatever the level: the formulas, on the statistics it reports. */
function followsFormula(s, x, z, columns) {
  const { mean, var: variance, scale, nSamplesSeen, withMean, withStd } = s.state;
  for (let c = 0; c < columns; c++) {
    let count = 0;
    for (let i = c; i < x.length; i += columns) if (!Number.isNaN(x[i])) count++;
    if (nSamplesSeen[c] !== count) return `nSamplesSeen[${c}] is ${nSamplesSeen[c]}, but column ${c} holds ${count} numbers`;
    if (scale[c] !== 1 && (!withStd || scale[c] !== Math.sqrt(variance[c]))) return `scale[${c}] is ${scale[c]}: neither 1 nor sqrt(var) = ${Math.sqrt(variance[c])} (withStd ${withStd})`;
  }
  const apply = (input, inverse) => {
    const want = new Float32Array(input.length); // each store rounds to float32 once
    for (let i = 0; i < input.length; i++) {
      const c = i % columns, shift = withMean ? mean[c] : 0;
      want[i] = inverse ? input[i] * scale[c] + shift : (input[i] - shift) / scale[c];
    }
    return bitsOf(want);
  };
  return diffArrays([
    ['transform (vs fl32((x - mean) / scale))', s.y, apply(z, false)], ['transform into out', s.out, bitsOf(s.y)],
    ['transform in place', s.inPlace, bitsOf(s.y)], ['inverseTransform (vs fl32(y * scale + mean))', s.back, apply(s.y, true)],
    ['inverseTransform in place', s.backInPlace, apply(z, true)], ['fitTransform (vs fit, then transform)', s.fy, bitsOf(s.yx)],
  ]) ?? deepDiff(s.state, s.againState, 'stateDict() (fit vs fitTransform)');
}

function backendsPredicate(d) {
  const x = table(d.table);
  const z = values(d.probe.seed, d.table.columns * Math.min(d.probe.rows, Math.floor(MAX_VALUES / d.table.columns)), d.probe.special);
  const got = scaleAll(d.level, d, x, z);
  // On the fallback this is a second run of the same code: determinism.
  const want = scaleAll('js', d, x, z);
  const vs = `${d.level} vs the fallback`;
  for (const key of STATS) check(f64Diff(`stateDict().${key} (${vs})`, got.state[key], want.state[key]));
  check(deepDiff(want.state, got.state, `stateDict() (${vs})`));
  check(diffArrays(['y', 'out', 'inPlace', 'back', 'backInPlace', 'fy', 'yx'].map((key) => [`${key} (${vs})`, got[key], bitsOf(want[key])])));
  check(followsFormula(got, x, z, d.table.columns), `on ${d.level}`);
}

// ---------------------------------------------------------------------------------------------
// scaler.hostile.*: fit, transform, inverseTransform and fitTransform on hostile arguments.

/** A real Float32Array whose own accessors throw: the library must never consult them. */
class Throwing extends Float32Array {}
for (const key of ['length', 'buffer', 'byteOffset', 'byteLength']) {
  Object.defineProperty(Throwing.prototype, key, { get() { throw new Error(`the ${key} getter was called`); } });
}

// Each argument is valid more often than not, so that calls succeed as well as fail.
const DATA_KINDS = ['inf', 'inf', 'nanColumn', 'wrongLength', 'empty', 'detached', 'f64', 'array', 'null', 'string'];
const OUT_KINDS = ['sameMemory', 'overlap', 'overlap', 'wrongLength', 'f64', 'array', 'detached', 'null'];
// Valid: the table's columns, one row of all values, the rows as columns. Then one more, and bad ones.
const COLUMN_ARGS = ['other', 0, -1, 2.5, NaN, Infinity, -Infinity, 2 ** 32 + 1, 1e21, '3', null, undefined, 3n, 'valueOf'];
const mostly = (good, bad) => fc.oneof({ weight: 3, arbitrary: fc.constantFrom(...good) }, { weight: 2, arbitrary: fc.constantFrom(...bad) });

const callArb = (methods) =>
  fc.record({
    method: fc.constantFrom(...methods), level: levelArb(), withMean: fc.boolean(), withStd: fc.boolean(), fitted: fc.boolean(),
    base: fc.record({ columns: fc.integer({ min: 1, max: 40 }), rows: fc.integer({ min: 1, max: 20 }), seed: seedArb() }),
    columns: columnsArb(), rows: fc.oneof({ weight: 4, arbitrary: fc.integer({ min: 0, max: 12 }) }, { weight: 1, arbitrary: fc.integer({ min: 0, max: 80 }) }),
    columnsArg: mostly(['same', 'same', 'whole', 'rows'], COLUMN_ARGS),
    data: fc.record({
      kind: mostly(['good'], DATA_KINDS), disguise: fc.constantFrom(...DISGUISES, 'throwing'), storage: storageArb(), offset: fc.nat(3),
      seed: seedArb(), missing: fc.constantFrom(0, 0, 0.3), at: fc.nat(), twice: fc.boolean(),
    }),
    out: fc.record({ kind: mostly(['none', 'none', 'good', 'same'], OUT_KINDS), disguise: fc.constantFrom(...DISGUISES, 'throwing'), storage: storageArb(), shift: fc.nat() }),
  });

const dress = (how, view, lie) => {
  if (how !== 'throwing') return disguise(how, view, lie);
  const { buffer, byteOffset, length } = realView(view);
  return new Throwing(buffer, byteOffset, length);
};

/** The arguments a call description stands for, and the real memory behind them (view, outView). */
function buildCall(d) {
  const { data: dd, out: od, columns, rows } = d;
  const good = (r = rows) => table({ columns, rows: r, seed: dd.seed, special: 0.03, missing: dd.missing, layout: 'raw' });
  const detached = (n) => ((n = new Float32Array(n)), detach(n.buffer), n);
  const other = { f64: () => new Float64Array(columns * rows), array: () => Array.from(good()), null: () => null, string: () => 'data', detached: () => detached(columns * rows) }[dd.kind];
  let data, view = null, home = null;
  if (other) view = isRealF32((data = other())) ? data : null;
  else {
    const x = dd.kind === 'empty' ? new Float32Array(0) : dd.kind === 'wrongLength' ? good(rows + 1).subarray(0, columns * rows + (dd.at % 2 ? 1 : -1)) : good();
    // One or two infinities (the message must name the first); or a column of NaN only.
    if (dd.kind === 'inf') for (const k of dd.twice ? [0, 1] : [0]) if (x.length) x[(dd.at + k * 7919) % x.length] = (dd.at >> k) & 1 ? -Infinity : Infinity;
    if (dd.kind === 'nanColumn') for (let i = dd.at % columns; i < x.length; i += columns) x[i] = NaN;
    // For 'overlap', data in the middle of a buffer: out can start before or after it and share floats.
    if (od.kind === 'overlap' && x.length >= 2) (home = new Float32Array(3 * x.length)).set(x, x.length);
    view = home ? home.subarray(x.length, 2 * x.length) : stored(dd.storage, x, dd.offset);
    data = dress(dd.disguise, view, x.length + 1);
  }
  const n = view ? realLength(view) : columns * rows;
  const s = home ? (1 + (od.shift % (n - 1))) * (od.shift % 2 ? -1 : 1) : 0;
  // Another array over all of data's floats, or (overlap) over some of them.
  const alias = () => (home ? home.subarray(n + s, 2 * n + s) : view && n ? new Float32Array(realView(view).buffer, realView(view).byteOffset, n) : null);
  const fresh = (m) => stored(od.storage, new Float32Array(m).fill(7), 1);
  const real = { good: () => fresh(n), sameMemory: () => alias() ?? fresh(n), overlap: alias, wrongLength: () => fresh(od.shift % 2 || n === 0 ? n + 1 : n - 1) }[od.kind];
  if (real) {
    const v = real();
    return { data, view, out: v ? dress(od.disguise, v, n + 2) : undefined, outView: v };
  }
  const out = { none: () => undefined, same: () => data, f64: () => new Float64Array(n), array: () => new Array(n).fill(7), null: () => null, detached: () => detached(n) }[od.kind]();
  return { data, view, out, outView: od.kind === 'same' ? view : isRealF32(out) ? out : null };
}

const COLUMN_TOKENS = {
  same: (columns) => columns, whole: (columns, rows, view) => Math.max(1, isRealF32(view) ? realLength(view) : columns * rows),
  rows: (columns, rows) => Math.max(1, rows), other: (columns) => columns + 1, valueOf: (columns) => ({ valueOf: () => columns }),
};

/** The names a refusal may give (empty: the call must succeed), and the infinity message when that is the only problem. */
function callProblems(method, data, columns, out, fittedColumns) {
  const names = [], fits = method === 'fit' || method === 'fitTransform';
  let infinity = null;
  const real = isRealF32(data), n = real ? realLength(data) : 0;
  if (!real) names.push('data');
  if (fits && !(typeof columns === 'number' && Number.isInteger(columns) && columns >= 1)) names.push('columns');
  else if (real && (n % (fits ? columns : fittedColumns) !== 0 || (fits && n === 0))) names.push('data', 'columns');
  else if (real && fits) {
    const x = plainCopy(data);
    const i = x.findIndex((v) => v === Infinity || v === -Infinity);
    if (i >= 0) {
      names.push('data');
      infinity = `: data[${i}] is ${x[i]} (row ${Math.floor(i / columns)}, column ${i % columns})`;
    }
    for (let c = 0; c < columns; c++) {
      let i = c;
      while (i < n && Number.isNaN(x[i])) i += columns;
      if (i >= n) names.push(`column ${c} of data`);
    }
  }
  if (out !== undefined && method !== 'fit') {
    if (!isRealF32(out)) names.push('out');
    else if (real && (realLength(out) !== n || (out !== data && realOverlap(out, data)))) names.push('out');
  }
  return { names, infinity: names.length === 1 ? infinity : null };
}

function call(scaler, method, data, columns, out) {
  if (method === 'fit') return scaler.fit(data, columns);
  if (method === 'fitTransform') return out === undefined ? scaler.fitTransform(data, columns) : scaler.fitTransform(data, columns, out);
  return out === undefined ? scaler[method](data) : scaler[method](data, out);
}

// fitTransform is fit, then transform: either may speak for it.
const whereOf = (method) => (method === 'fitTransform' ? ['fitTransform', 'fit', 'transform'] : [method]).map((m) => `StandardScaler.${m}`);

function callPredicate(d) {
  activate(d.level);
  const fits = d.method === 'fit' || d.method === 'fitTransform';
  const baseColumns = fits ? d.base.columns : d.columns;
  const make = () => {
    const s = new StandardScaler({ withMean: d.withMean, withStd: d.withStd });
    return !fits || d.fitted ? s.fit(table({ ...d.base, columns: baseColumns, special: 0.03, missing: 0.05, layout: 'raw' }), baseColumns) : s;
  };
  const scaler = make(), twin = make();
  const { data, view, out, outView } = buildCall(d);
  const token = COLUMN_TOKENS[d.columnsArg];
  const columns = !fits ? undefined : typeof d.columnsArg === 'string' && token ? token(d.columns, d.rows, view) : d.columnsArg;
  const { names, infinity } = callProblems(d.method, data, columns, out, baseColumns);
  // What a single read sees: plain copies, taken before the call (which may write data in place).
  const plainData = isRealF32(view) ? plainCopy(view) : null;
  const plainOut = out === undefined ? undefined : out === data ? plainData : isRealF32(outView) ? plainCopy(outView) : null;
  const snaps = snapArrays([['data', view], ['out', outView]].filter(([, v]) => isRealF32(v)));
  const before = stateOf(scaler);
  const r = attempt(() => call(scaler, d.method, data, columns, out));
  if (!r.ok) {
    if (names.length === 0) fail(`${d.method} threw ${errorText(r.error)} on valid arguments`);
    check(errorProblem(r.error, { where: whereOf(d.method), names }), `expected a rejection naming one of ${names.join(', ')}`);
    if (infinity && !r.error.message.endsWith(infinity)) fail(`threw '${r.error.message}'; the first infinity is${infinity.slice(1)}`);
    check(deepDiff(before, stateOf(scaler), 'stateDict()'), `after the refused ${d.method} (${errorText(r.error)})`);
    check(diffArrays(snaps), `after the refused ${d.method} (${errorText(r.error)})`);
    return;
  }
  if (names.length) fail(`${d.method} succeeded, but it must reject ${names.join(', ')}`);
  const p = attempt(() => call(twin, d.method, plainData, columns, plainOut));
  if (!p.ok) fail(`${d.method} succeeded, but the same call on plain copies threw ${errorText(p.error)}`);
  check(deepDiff(stateOf(twin), stateOf(scaler), 'stateDict()'), 'this call vs the same call on plain copies');
  if (d.method === 'fit') {
    if (r.value !== scaler) fail(`fit returned ${fmt(r.value)}, not the scaler`);
    return;
  }
  if (out !== undefined ? r.value !== out : !isRealF32(r.value) || r.value === data) fail(`${d.method} returned ${fmt(r.value)}: not ${out !== undefined ? 'out' : 'a new array'}`);
  check(diffArrays([['the result (vs the same call on plain copies)', r.value, bitsOf(p.value)]]));
  if (out !== data) check(diffArrays(snaps.filter(([label]) => label === 'data')), `${d.method} wrote into data`);
}

// ---------------------------------------------------------------------------------------------
// scaler.hostile.loadStateDict and scaler.hostile.stateReads

const ODD = [NaN, Infinity, -Infinity, -1, 0, -0, 5e-324, 0.5, 1, 7, 2.5, 1e300, 2 ** 53, '1', null, undefined, true];
const MUTATIONS = ['none', 'notObject', 'columns', 'option', 'notArray', 'length', 'element', 'element', 'element', 'hole', 'extraKey'];
const PRESENTATIONS = ['getterField', 'throwingField', 'getterElement', 'throwingElement', 'proxyState', 'proxyLength', 'ownIterator'];
const KEYS = ['columns', 'withMean', 'withStd', ...STATS];
const RULES = {
  mean: Number.isFinite, var: (v) => Number.isFinite(v) && v >= 0, scale: (v) => Number.isFinite(v) && v > 0,
  nSamplesSeen: (v) => Number.isInteger(v) && v >= 1,
};

/** Every name a refusal of this plain state may give (empty: it must load). */
function stateProblems(s, withMean, withStd) {
  if (s === null || typeof s !== 'object') return ['state'];
  const names = [];
  if (s.withMean !== withMean || s.withStd !== withStd) names.push('withMean', 'withStd');
  if (!Number.isInteger(s.columns) || s.columns < 1) return [...names, 'state.columns'];
  for (const f of STATS) {
    const v = s[f];
    if (!Array.isArray(v) || v.length !== s.columns) names.push(`state.${f}`);
    else for (let i = 0; i < v.length; i++) if (typeof v[i] !== 'number' || !RULES[f](v[i])) names.push(`state.${f}[${i}]`);
  }
  return names;
}

/** The plain state `s` malformed (in place, or replaced): what to pass, and what a single read of it sees. */
function mutate(s, { op, field, at, value }) {
  const f = STATS[field % 4], list = s[f];
  switch (op) {
    case 'notObject': s = [null, undefined, 5, 'state', [], true][at % 6]; break;
    case 'columns': s.columns = at % 3 ? ODD[at % ODD.length] : s.columns + (at % 2 ? 1 : -1); break;
    case 'option': {
      const k = at % 2 ? 'withStd' : 'withMean';
      s[k] = [!s[k], 1, 'true', undefined][(at >> 1) % 4];
      break;
    }
    case 'notArray': s[f] = [Float64Array.from(list), { ...list, length: list.length }, undefined, 'x'][at % 4]; break;
    case 'length': if (at % 2) list.push(list[0]); else list.pop(); break;
    case 'element': list[at % list.length] = value; break;
    case 'hole': delete list[at % list.length]; break;
    case 'extraKey': s.extra = value; break;
    default:
  }
  return { given: s, snapshots: [s], mayReject: op === 'extraKey' ? ['extra'] : [] };
}

/** A valid plain state presented through getters or Proxies that change, or throw, after the first read. */
function present(s, { op, field, at }) {
  const key = KEYS[at % KEYS.length], f = STATS[field % 4], i = at % s.columns;
  const sentinel = new Error('a getter of the state threw');
  const corrupt = (k, v) => (typeof v === 'number' ? v + 1 : typeof v === 'boolean' ? !v : Array.isArray(v) ? v.slice(1) : v);
  const given = { ...s, [f]: [...s[f]] };
  const mayReject = [`state.${f}`, `state.${f}[${i}]`, `state.${key}`, 'state'];
  const once = (first, later, reads = 0) => () => (reads++ === 0 ? first : later());
  switch (op) {
    case 'getterField': Object.defineProperty(given, key, { get: once(s[key], () => corrupt(key, s[key])), enumerable: true }); break;
    case 'throwingField': Object.defineProperty(given, key, { get: () => { throw sentinel; }, enumerable: true }); break;
    case 'getterElement': Object.defineProperty(given[f], i, { get: once(s[f][i], () => NaN), enumerable: true }); break;
    case 'throwingElement': Object.defineProperty(given[f], i, { get: () => { throw sentinel; }, enumerable: true }); break;
    case 'proxyState': {
      const reads = new Set();
      return { given: new Proxy(given, { get: (t, k) => (reads.has(k) ? corrupt(k, t[k]) : (reads.add(k), t[k])) }), snapshots: [s], mayReject: [...mayReject, ...KEYS.map((k) => `state.${k}`)] };
    }
    case 'proxyLength': {
      // The length a single read sees is the array's; later reads say one fewer, one more, or 0.
      let reads = 0;
      const delta = [-1, 1, -s.columns][at % 3];
      given[f] = new Proxy(given[f], { get: (t, k) => (k === 'length' && reads++ > 0 ? t.length + delta : t[k]) });
      break;
    }
    case 'ownIterator': {
      // Iteration may be how the array is read: then it gives these values, of the right length or not.
      const alt = [s[f].map((v) => v * 2), [...s[f], s[f][0]], s[f].slice(1)][at % 3];
      Object.defineProperty(given[f], Symbol.iterator, { value: function* () { yield* alt; } });
      return { given, snapshots: [s, { ...s, [f]: alt }], mayReject };
    }
    default:
  }
  return { given, snapshots: op.startsWith('throwing') ? [] : [s], mayReject, sentinel: op.startsWith('throwing') ? sentinel : null };
}

const stateArb = (ops) =>
  fc.record({
    level: levelArb(), withMean: fc.boolean(), withStd: fc.boolean(), fitted: fc.boolean(), otherOptions: fc.constantFrom(false, false, false, true),
    base: fc.record({ columns: fc.integer({ min: 1, max: 40 }), rows: fc.integer({ min: 1, max: 20 }), seed: seedArb() }),
    source: fc.record({ columns: columnsArb(), rows: fc.integer({ min: 1, max: 20 }), seed: seedArb() }),
    change: fc.record({ op: fc.constantFrom(...ops), field: fc.nat(3), at: fc.nat(), value: fc.constantFrom(...ODD) }),
  });

function statePredicate(d) {
  activate(d.level);
  const options = { withMean: d.withMean, withStd: d.withStd };
  const make = () => (d.fitted ? new StandardScaler(options).fit(table({ ...d.base, special: 0.03, missing: 0.05, layout: 'raw' }), d.base.columns) : new StandardScaler(options));
  const source = new StandardScaler(d.otherOptions ? { ...options, withMean: !d.withMean } : options);
  source.fit(table({ ...d.source, special: 0.03, missing: 0.05, layout: 'offsets' }), d.source.columns);
  const plain = JSON.parse(JSON.stringify(source.stateDict()));
  const { given, snapshots, mayReject, sentinel } = (PRESENTATIONS.includes(d.change.op) ? present : mutate)(plain, d.change);
  const scaler = make();
  const before = stateOf(scaler);
  const r = attempt(() => scaler.loadStateDict(given));
  const outcomes = snapshots.map((s) => ({ s, names: stateProblems(s, d.withMean, d.withStd) }));
  if (!r.ok) {
    // A getter's own exception may pass through; anything else is the contract's.
    if (!sentinel || r.error !== sentinel) {
      const names = [...outcomes.flatMap((o) => o.names), ...mayReject];
      if (names.length === 0) fail(`loadStateDict refused a valid state (${d.change.op}): ${errorText(r.error)}`);
      check(errorProblem(r.error, { where: 'StandardScaler.loadStateDict', names }), `expected a rejection naming one of ${names.join(', ')}`);
    }
    check(deepDiff(before, stateOf(scaler), 'stateDict()'), `after the refused loadStateDict (${errorText(r.error)})`);
    return;
  }
  if (sentinel) fail('loadStateDict succeeded though a getter of the state threw');
  const diffs = outcomes.map(({ s, names }) => {
    if (names.length) return `the state a single read sees must be refused (${names.join(', ')})`;
    const twin = make();
    twin.loadStateDict(structuredClone(s));
    const z = values(d.change.at, 3 * s.columns, 0.3);
    return deepDiff(stateOf(twin), stateOf(scaler), 'stateDict()') ??
      diffArrays([['transform (vs the plain state loaded)', scaler.transform(z), bitsOf(twin.transform(z))]]);
  });
  if (diffs.includes(null)) return;
  fail(`loadStateDict (${d.change.op}) loaded what no single read of the state gives: ${diffs.join('; ')}`);
}

// ---------------------------------------------------------------------------------------------
// scaler.roundtrip: inverseTransform undoes transform; a state dict through JSON scales the same.

const roundtripArb = () =>
  fc.record({ level: levelArb(), table: tableArb(), withMean: fc.boolean(), withStd: fc.boolean(), probeSeed: seedArb(), probeSpecial: specialArb() });

function roundtripPredicate({ level, table: t, withMean, withStd, probeSeed, probeSpecial }) {
  activate(level);
  const x = table(t), columns = t.columns;
  const a = new StandardScaler({ withMean, withStd }).fit(x, columns);
  const mean = a.mean, scale = a.scale;
  const back = a.inverseTransform(a.transform(x));
  for (let i = 0; i < x.length; i++) {
    const c = i % columns;
    // test/standard-scaler.test.ts's bound: two float32 roundings, of y (half an ulp of |y| * scale
    // = |x - shift|, within the spread scale) and of back (half an ulp of |x|). Without withStd
    // scale is 1, not the spread: then |x - shift| itself. Among subnormals a rounding is off by
    // up to 2^-150 whatever the magnitudes: four of those too.
    const spread = withStd ? scale[c] : Math.abs(x[i] - (withMean ? mean[c] : 0));
    const bound = 4 * 2 ** -23 * Math.max(Math.abs(x[i]), spread) + 4 * 2 ** -150;
    // Near ±FLT_MAX the second rounding may overflow: ±Infinity then stands for ±2^128.
    const got = Number.isFinite(back[i]) || Number.isNaN(back[i]) ? back[i] : Math.sign(back[i]) * 2 ** 128;
    if (Number.isNaN(x[i]) ? !Number.isNaN(back[i]) : !(Math.abs(got - x[i]) <= bound)) {
      fail(`inverseTransform(transform(x))[${i}] (row ${Math.floor(i / columns)}, column ${c}) is ${fmt(back[i])}, x is ${fmt(x[i])}: off by ${Math.abs(got - x[i])} > ${bound} (mean ${mean[c]}, scale ${scale[c]})`);
    }
  }
  const b = new StandardScaler({ withMean, withStd });
  const loaded = attempt(() => b.loadStateDict(JSON.parse(JSON.stringify(a.stateDict()))));
  if (!loaded.ok) fail(`loadStateDict refused stateDict() through JSON: ${errorText(loaded.error)}`);
  check(deepDiff(a.stateDict(), b.stateDict(), 'stateDict() (through JSON vs fitted)'));
  const z = values(probeSeed, 5 * columns, probeSpecial);
  check(diffArrays([
    ['transform (loaded through JSON vs fitted)', b.transform(z), bitsOf(a.transform(z))],
    ['inverseTransform (loaded through JSON vs fitted)', b.inverseTransform(z), bitsOf(a.inverseTransform(z))],
  ]));
}

export const properties = [
  { name: 'scaler.backends', arbitrary: backendsArb(), predicate: backendsPredicate },
  { name: 'scaler.hostile.fit', arbitrary: callArb(['fit']), predicate: callPredicate },
  { name: 'scaler.hostile.transform', arbitrary: callArb(['transform', 'inverseTransform']), predicate: callPredicate },
  { name: 'scaler.hostile.fitTransform', arbitrary: callArb(['fitTransform']), predicate: callPredicate },
  { name: 'scaler.hostile.loadStateDict', arbitrary: stateArb(MUTATIONS), predicate: statePredicate },
  { name: 'scaler.hostile.stateReads', arbitrary: stateArb(PRESENTATIONS), predicate: statePredicate },
  { name: 'scaler.roundtrip', arbitrary: roundtripArb(), predicate: roundtripPredicate },
];
