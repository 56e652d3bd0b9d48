// Every native ISA level computes the bits of the TypeScript specification, on any data (NaN,
// infinities, subnormals, signed zeros) and any valid options: training, the functional updates,
// and the gradient norms and clipping. Only on the native backend (on the fallback there is
// nothing to compare).
import { OPTIMIZERS, OPT_NAMES, gradsAt, sameTraining, setupArb, train, validOptionsByNameArb } from './spec.mjs';
import {
  BACKEND, activate, attempt, check, diffArrays, errorText, fail, fc, fmt, levelArb, lib, plainCopy, seedArb, sizeArb,
  specialArb, values,
} from './support.mjs';

const trainingArb = () => fc.record({ setup: setupArb(), steps: fc.integer({ min: 1, max: 4 }), special: specialArb() });

function trainingPredicate({ setup, steps, special }) {
  const run = (level) => {
    activate(level);
    const t = train({ ...setup, special });
    for (let k = 0; k < steps; k++) t.opt.step(gradsAt(setup, setup.history + k, special));
    return t;
  };
  const native = run(setup.level);
  const js = run('js');
  check(sameTraining(native.opt, native.params, js.opt, js.params, `the TypeScript fallback (native level ${setup.level})`));
}

const updateArb = () =>
  fc.record({ name: fc.constantFrom(...OPT_NAMES), level: levelArb(), n: sizeArb(), seed: seedArb(), special: specialArb(), hyper: validOptionsByNameArb(), step: fc.integer({ min: 1, max: 9 }) })
    .map((x) => ({ ...x, hyper: x.hyper[x.name] }));

function updatePredicate({ name, level, n, seed, special, hyper, step }) {
  const u = OPTIMIZERS[name].update;
  const arrays = u.arrays.map((_, k) => values(seed + k, n, special));
  const h = { ...hyper, step, ...(name === 'NAdam' ? { muProduct: 0.9 } : {}) };
  const run = (lvl) => {
    activate(lvl);
    const a = arrays.map(plainCopy);
    const r = attempt(() => lib[u.fn](...a, h));
    if (!r.ok) fail(`${u.fn} threw ${errorText(r.error)} on ${lvl}`);
    return { a, value: r.value };
  };
  const native = run(level);
  const js = run('js');
  if (!Object.is(native.value, js.value)) fail(`${u.fn} returned ${fmt(native.value)} on ${level}, ${fmt(js.value)} on the fallback`);
  native.a.forEach((x, k) => check(diffArrays([[`${u.arrays[k]} (${level} vs the fallback)`, x, new Uint32Array(js.a[k].buffer)]])));
}

const clipArb = () =>
  fc.record({
    level: levelArb(),
    lengths: fc.array(sizeArb(), { maxLength: 4 }),
    seed: seedArb(),
    special: specialArb(),
    normType: fc.constantFrom(1, 2, Infinity),
    maxNorm: fc.constantFrom(0, 1e-3, 0.5, 1, 100),
    clip: fc.boolean(),
  });

function clipPredicate({ level, lengths, seed, special, normType, maxNorm, clip }) {
  const grads = lengths.map((n, i) => values(seed + i, n, special));
  const run = (lvl) => {
    activate(lvl);
    const g = grads.map(plainCopy);
    const value = clip ? lib.clipGradValue(g, maxNorm) : lib.clipGradNorm(g, maxNorm, { normType });
    return { g, value };
  };
  const native = run(level);
  const js = run('js');
  if (!Object.is(native.value, js.value) && !(Number.isNaN(native.value) && Number.isNaN(js.value))) {
    fail(`${clip ? 'clipGradValue' : `clipGradNorm (norm ${normType})`} returned ${fmt(native.value)} on ${level}, ${fmt(js.value)} on the fallback`);
  }
  native.g.forEach((x, k) => check(diffArrays([[`grads[${k}] (${level} vs the fallback)`, x, new Uint32Array(js.g[k].buffer)]])));
}

export const properties = BACKEND === 'native'
  ? [
      { name: 'backends.training', arbitrary: trainingArb(), predicate: trainingPredicate },
      { name: 'backends.updates', arbitrary: updateArb(), predicate: updatePredicate },
      { name: 'backends.gradients', arbitrary: clipArb(), predicate: clipPredicate },
    ]
  : [];
