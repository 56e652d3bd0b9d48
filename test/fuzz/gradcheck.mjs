// gradcheck, checkDirectional and numericalGradient: any x, f, grad and options give a report (or
// a Float64Array), the user's own error, or a TypeError or RangeError naming the argument; and x
// is bit-identical afterwards whatever happened (every probe writes its saved value back).
import { ODD_NUMBERS, ODD_VALUES } from './spec.mjs';
import {
  attempt, check, diffArrays, disguise, errorProblem, fail, fc, fmt, isRealF32, isRealTypedArray, lib, realLength,
  seedArb, snapArrays, values,
} from './support.mjs';

const X_KINDS = ['f32', 'f32', 'f64', 'list', 'list', 'emptyList', 'array', 'proxy', 'lyingLength', 'u8', 'null'];
const F_KINDS = ['quadratic', 'quadratic', 'quadratic', 'NaN', 'string', 'throws', 'throwsLater', 'mutates', 'noisy', 'kink'];
const GRAD_KINDS = ['right', 'right', 'right', 'wrong', 'short', 'notArray', 'throws', 'listForOne', 'NaN', 'typed'];
const VALID_OPTIONS = {
  richardson: [true, false], step: [1e-3, 0.1], rtol: [1e-3, 0.5], safety: [10, 0], floor: [1e-6], sample: [1, 2, 100], seed: [1, 7],
  strict: [true, false], throw: [false, true], maxFailures: [10, 0], names: ['right'], directions: [1, 3], precision: ['float32', 'float64'],
};
const ODD_OPTIONS = {
  richardson: [1], step: [0, -1, NaN, '0.1'], rtol: [0, -1, NaN], safety: [-1, Infinity], floor: [0, -1], sample: [0, 1.5], seed: [1.5, NaN],
  strict: ['yes'], maxFailures: [-1, 2.5], names: ['short', 'notArray'], directions: [0, 2.5], precision: ['float16', 32], foo: [1],
};
const optionsRecord = (table) => fc.record(Object.fromEntries(Object.entries(table).map(([k, v]) => [k, fc.constantFrom(...v)])), { requiredKeys: [] });

const gradcheckArb = () =>
  fc.record({
    fn: fc.constantFrom('gradcheck', 'checkDirectional', 'numericalGradient'),
    x: fc.constantFrom(...X_KINDS),
    n: fc.integer({ min: 0, max: 6 }),
    seed: seedArb(),
    f: fc.constantFrom(...F_KINDS),
    grad: fc.constantFrom(...GRAD_KINDS),
    options: fc.oneof(
      { weight: 3, arbitrary: optionsRecord(VALID_OPTIONS) },
      { weight: 2, arbitrary: fc.tuple(optionsRecord(VALID_OPTIONS), fc.constantFrom(...Object.keys(ODD_OPTIONS))).map(([o, k]) => ({ ...o, [k]: ODD_OPTIONS[k][0] })) },
      { weight: 1, arbitrary: fc.constantFrom(undefined, null, 5, 'options', [], ...ODD_NUMBERS.slice(0, 2), ...ODD_VALUES.slice(0, 1)) },
    ),
  });

function gradcheckPredicate({ fn, x, n, seed, f, grad, options }) {
  // x, as given, and the real arrays inside it (to check they are left as they were).
  const tensor = (k) => values(seed + k, n);
  const xs = {
    f32: () => tensor(0), f64: () => Float64Array.from(tensor(0)), list: () => [tensor(0), Float64Array.from(tensor(1))], emptyList: () => [],
    array: () => Array.from(tensor(0)), proxy: () => disguise('proxy', tensor(0)), lyingLength: () => disguise('lyingLength', tensor(0), n + 1),
    u8: () => new Uint8Array(n), null: () => null,
  };
  const input = xs[x]();
  const list = Array.isArray(input) ? input : [input];
  const reals = list.filter((t) => isRealTypedArray(t) && !(t instanceof Uint8Array) && (isRealF32(t) || t instanceof Float64Array));
  const snaps = snapArrays(reals.map((t, i) => [`x tensor ${i}`, t instanceof Float64Array ? new Float32Array(t.buffer, t.byteOffset, realLength(t) * 2) : t]));
  const userError = new Error('f failed');
  let calls = 0;
  const quadratic = (t) => {
    let s = 0;
    for (let i = 0; i < t.length; i++) s += 0.5 * t[i] * t[i];
    return s;
  };
  const total = (v) => (Array.isArray(v) ? v.reduce((s, t) => s + quadratic(t), 0) : quadratic(v));
  const fs = {
    quadratic: total,
    NaN: () => NaN,
    string: () => '1',
    throws: () => {
      throw userError;
    },
    throwsLater: (v) => {
      if (++calls > 3) throw userError;
      return total(v);
    },
    mutates: (v) => {
      const t = Array.isArray(v) ? v[0] : v;
      if (t && t.length) t[0] += 1;
      return total(v);
    },
    noisy: (v) => total(v) + (calls++ % 2) * 1e-3,
    kink: (v) => (Array.isArray(v) ? v : [v]).reduce((s, t) => s + Array.from(t).reduce((a, b) => a + Math.abs(b), 0), 0),
  };
  const rightGrad = (t) => Float64Array.from(t);
  const grads = {
    right: (v) => (Array.isArray(v) ? v.map(rightGrad) : rightGrad(v)),
    wrong: (v) => (Array.isArray(v) ? v.map((t) => Float64Array.from(t, (a) => 2 * a + 1)) : Float64Array.from(v, (a) => 2 * a + 1)),
    short: (v) => (Array.isArray(v) ? v.map((t) => new Float64Array(t.length + 1)) : new Float64Array(v.length + 1)),
    notArray: () => 5,
    throws: () => {
      throw userError;
    },
    listForOne: (v) => [rightGrad(Array.isArray(v) ? v[0] : v)],
    NaN: (v) => (Array.isArray(v) ? v.map((t) => Float64Array.from(t, () => NaN)) : Float64Array.from(v, () => NaN)),
    typed: (v) => (Array.isArray(v) ? v.map((t) => Float32Array.from(t)) : Float32Array.from(v)),
  };
  let opts = options;
  if (options !== null && typeof options === 'object' && !Array.isArray(options) && 'names' in options) {
    opts = { ...options, names: options.names === 'right' ? list.map((_, i) => `t${i}`) : options.names === 'short' ? [] : 'x' };
  }
  const r = attempt(() => (fn === 'numericalGradient' ? lib.numericalGradient(fs[f], input, opts) : lib[fn](fs[f], grads[grad], input, opts)));
  // Whatever happened, x is as it was; except that numericalGradient does not check f, so an f
  // that writes into x has its writes kept (gradcheck and checkDirectional detect and undo them).
  if (!(fn === 'numericalGradient' && f === 'mutates')) check(diffArrays(snaps), `x after ${fn} (f ${f}, grad ${grad}, options ${fmt(opts)})`);
  if (r.ok) {
    if (fn === 'numericalGradient') {
      if (!(r.value instanceof Float64Array) || r.value.length !== realLength(input)) fail(`numericalGradient returned ${fmt(r.value)}`);
    } else if (typeof r.value?.ok !== 'boolean' || typeof r.value.toString() !== 'string') {
      fail(`${fn} returned ${fmt(r.value)}, not a report`);
    }
    return;
  }
  const e = r.error;
  if (e === userError) return; // f's or grad's own error passes through
  // options.throw makes a failed check an Error carrying its report: documented.
  if (opts?.throw === true && e instanceof Error && e.constructor === Error && e.report && e.message.startsWith(`${fn} failed`)) return;
  check(errorProblem(e, { where: fn }), `${fn}(f ${f}, grad ${grad}, x ${x}, options ${fmt(opts)})`);
}

export const properties = [{ name: 'gradcheck.inputs', arbitrary: gradcheckArb(), predicate: gradcheckPredicate }];
