// Replacing a hand-written JavaScript Adam with simd-optim takes two lines: the line that sets up
// the optimizer's state and the line that steps it. This example trains a small MLP both ways
// (the same seeded data and initial weights), checks that the two agree within float32
// rounding, then times one optimizer step of each at several model sizes and prints the speed-up.
//
//   node examples/two-line-adam.mjs            (about 15 s; --quick: smaller sizes, a few seconds)
//
// The two lines that change (the rest of the training loop stays as it is):
//
//   before:  const adam = createAdamState(params);          ...  adamStep(params, grads, adam, { lr: LR });
//   after:   const optimizer = new Adam(params, { lr: LR }); ...  optimizer.step(grads);
//
// (and `import { Adam } from 'simd-optim'` at the top). The hand-written loop computes in float64
// and stores float32; the package computes PyTorch's float32 operations (with fused multiply-adds
// where PyTorch fuses). The results are therefore close but not bit-identical: the check below
// compares them within a tolerance.
import { Adam, backend, isa } from 'simd-optim';

import { seededRandom } from './lib/random.mjs';

const QUICK = process.argv.includes('--quick');
const LR = 0.01;
const TRAINING_STEPS = 200;           // cheap (1,153 params): the same check in --quick
const SIZES = QUICK ? [10_000, 1_000_000] : [10_000, 1_000_000, 16_000_000];
const REPETITIONS = QUICK ? 3 : 9;        // timed repetitions per size; the median is printed
const MIN_REPETITION_MS = QUICK ? 10 : 50; // each repetition runs enough steps to last this long
const TOLERANCE = 1e-4;                    // max relative difference allowed (see maxRelativeDifference)

// ---------------------------------------------------------------------------------------------
// The hand-written Adam, as it is commonly written: one m and one v buffer per param, bias
// correction computed per step, a plain loop over the elements (arithmetic in float64).
function createAdamState(params) {
  return { t: 0, m: params.map((p) => new Float32Array(p.length)), v: params.map((p) => new Float32Array(p.length)) };
}

function adamStep(params, grads, state, { lr, beta1 = 0.9, beta2 = 0.999, eps = 1e-8 }) {
  state.t += 1;
  const biasCorrection1 = 1 - beta1 ** state.t;
  const biasCorrection2 = 1 - beta2 ** state.t;
  for (let k = 0; k < params.length; k++) {
    const p = params[k], g = grads[k], m = state.m[k], v = state.v[k];
    for (let i = 0; i < p.length; i++) {
      m[i] = beta1 * m[i] + (1 - beta1) * g[i];
      v[i] = beta2 * v[i] + (1 - beta2) * g[i] * g[i];
      const mHat = m[i] / biasCorrection1;
      const vHat = v[i] / biasCorrection2;
      p[i] -= (lr * mHat) / (Math.sqrt(vHat) + eps);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Deterministic data: mulberry32 and Box-Muller, so that every run trains on the same numbers.
const gaussian = (random) => Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
const gaussianArray = (random, n, scale) => Float32Array.from({ length: n }, () => scale * gaussian(random));

// A regression task: 512 samples of 16 features, targets from a random "teacher" network plus noise.
const INPUTS = 16, HIDDEN = 64, SAMPLES = 512;

function makeDataset() {
  const random = seededRandom(1);
  const teacher = makeModel(seededRandom(2), 2.0);
  const x = gaussianArray(random, SAMPLES * INPUTS, 1), y = new Float32Array(SAMPLES);
  for (let s = 0; s < SAMPLES; s++) y[s] = forward(teacher, x, s).output + 0.05 * gaussian(random);
  return { x, y };
}

// An MLP 16 -> 64 (tanh) -> 1: four tensors, their gradients in arrays allocated once.
function makeModel(random, scale = 1) {
  const params = [
    gaussianArray(random, HIDDEN * INPUTS, scale / Math.sqrt(INPUTS)), // W1
    new Float32Array(HIDDEN),                                          // b1
    gaussianArray(random, HIDDEN, scale / Math.sqrt(HIDDEN)),          // w2
    new Float32Array(1),                                               // b2
  ];
  return { params, grads: params.map((p) => new Float32Array(p.length)), hidden: new Float64Array(HIDDEN) };
}

function forward({ params: [W1, b1, w2, b2], hidden }, x, s) {
  let output = b2[0];
  for (let h = 0; h < HIDDEN; h++) {
    let z = b1[h];
    for (let i = 0; i < INPUTS; i++) z += W1[h * INPUTS + i] * x[s * INPUTS + i];
    hidden[h] = Math.tanh(z);
    output += w2[h] * hidden[h];
  }
  return { output, hidden };
}

/** Mean squared error over the dataset; writes its gradient into model.grads (backprop by hand). */
function lossAndGradients(model, { x, y }) {
  const [gW1, gb1, gw2, gb2] = model.grads, w2 = model.params[2];
  for (const g of model.grads) g.fill(0);
  let loss = 0;
  for (let s = 0; s < SAMPLES; s++) {
    const { output, hidden } = forward(model, x, s);
    const error = output - y[s];
    loss += (error * error) / SAMPLES;
    const dOutput = (2 * error) / SAMPLES;
    gb2[0] += dOutput;
    for (let h = 0; h < HIDDEN; h++) {
      gw2[h] += dOutput * hidden[h];
      const dz = dOutput * w2[h] * (1 - hidden[h] * hidden[h]);
      gb1[h] += dz;
      for (let i = 0; i < INPUTS; i++) gW1[h * INPUTS + i] += dz * x[s * INPUTS + i];
    }
  }
  return loss;
}

// ---------------------------------------------------------------------------------------------
// The same training loop twice. Only the two lines marked before/after differ.
function trainHandWritten(data) {
  const model = makeModel(seededRandom(3));
  const adam = createAdamState(model.params);                               // before
  const losses = [];
  for (let step = 0; step < TRAINING_STEPS; step++) {
    losses.push(lossAndGradients(model, data));
    adamStep(model.params, model.grads, adam, { lr: LR });                  // before
  }
  return { params: model.params, losses };
}

function trainWithSimdOptim(data) {
  const model = makeModel(seededRandom(3));
  const optimizer = new Adam(model.params, { lr: LR });                     // after
  const losses = [];
  for (let step = 0; step < TRAINING_STEPS; step++) {
    losses.push(lossAndGradients(model, data));
    optimizer.step(model.grads);                                            // after
  }
  return { params: model.params, losses };
}

/**
 * The largest difference between the two runs' params, relative to the size of the tensor it is
 * in: max over tensors of max|a - b| / max|b|. (Element by element, a weight that happens to pass
 * near zero would make any two float32 implementations look far apart.) The two runs differ by
 * float32 rounding, about one unit in the last place per step; training carries those differences
 * forward, and Adam amplifies them once the gradients become small (m / sqrt(v) of tiny numbers):
 * here about 1e-6 after 200 steps, 1e-4 after 300 and 6e-4 after 500, as between any two float32
 * implementations of Adam (PyTorch on two devices, say).
 */
function maxRelativeDifference(as, bs) {
  let worst = 0;
  as.forEach((a, k) => {
    let largestDifference = 0, largest = 0;
    for (let i = 0; i < a.length; i++) {
      largestDifference = Math.max(largestDifference, Math.abs(a[i] - bs[k][i]));
      largest = Math.max(largest, Math.abs(bs[k][i]));
    }
    const relative = largestDifference / largest;
    if (!(relative <= worst)) worst = relative; // NaN counts as the worst
  });
  return worst;
}

// ---------------------------------------------------------------------------------------------
// Timing: a model of `total` elements in four tensors (as a network's layers would be), with a
// fixed gradient. Candidates take turns within each repetition, so a burst of load from other
// processes on the machine hits all of them rather than one.
function splitIntoTensors(total) {
  const sizes = [0.55, 0.3, 0.15].map((share) => Math.floor(total * share) - 16);
  return [...sizes, total - sizes.reduce((a, b) => a + b)];
}

function timeOneSize(total) {
  const random = seededRandom(total);
  const sizes = splitIntoTensors(total);
  const grads = sizes.map((n) => gaussianArray(random, n, 0.01));
  const initial = sizes.map((n) => gaussianArray(random, n, 0.1));
  const copy = () => initial.map((p) => p.slice());
  const hand = copy(), handState = createAdamState(hand);
  // threads: 'auto', the default, splits a step over the cores from 349,525 elements of Adam on;
  // one thread shows what the SIMD kernel alone gains.
  const singleThreaded = new Adam(copy(), { lr: LR, threads: 1 });
  const byDefault = new Adam(copy(), { lr: LR });
  const candidates = [
    { name: 'hand-written', step: () => adamStep(hand, grads, handState, { lr: LR }) },
    { name: 'threads 1', step: () => singleThreaded.step(grads) },
    { name: 'default', step: () => byDefault.step(grads) },
  ];
  for (const c of candidates) {
    // Warm-up: the JIT compiles the loops, the pages of the state buffers are touched, and the
    // step's duration tells how many steps make one repetition of MIN_REPETITION_MS.
    const start = performance.now();
    let steps = 0;
    do { c.step(); steps++; } while (steps < 3 || performance.now() - start < MIN_REPETITION_MS);
    c.stepsPerRepetition = Math.max(1, Math.ceil(MIN_REPETITION_MS / ((performance.now() - start) / steps)));
    c.msPerStep = [];
  }
  for (let r = 0; r < REPETITIONS; r++) {
    for (const c of candidates) {
      const start = performance.now();
      for (let s = 0; s < c.stepsPerRepetition; s++) c.step();
      c.msPerStep.push((performance.now() - start) / c.stepsPerRepetition);
    }
  }
  const median = (xs) => xs.slice().sort((a, b) => a - b)[xs.length >> 1];
  return Object.fromEntries(candidates.map((c) => [c.name, median(c.msPerStep)]));
}

// ---------------------------------------------------------------------------------------------
console.log('The two lines that change:');
console.log('  before: const adam = createAdamState(params);           adamStep(params, grads, adam, { lr: LR });');
console.log('  after:  const optimizer = new Adam(params, { lr: LR });  optimizer.step(grads);');
console.log('');

const data = makeDataset();
const handWritten = trainHandWritten(data), simdOptim = trainWithSimdOptim(data);
const last = TRAINING_STEPS - 1;
const difference = maxRelativeDifference(handWritten.params, simdOptim.params);
const agree = difference <= TOLERANCE;
console.log(`MLP 16-64-1 (${handWritten.params.reduce((n, p) => n + p.length, 0)} params), ${TRAINING_STEPS} full-batch Adam steps, lr ${LR}:`);
console.log(`  loss, hand-written: ${handWritten.losses[0].toFixed(5)} -> ${handWritten.losses[last].toFixed(5)}`);
console.log(`  loss, simd-optim:   ${simdOptim.losses[0].toFixed(5)} -> ${simdOptim.losses[last].toFixed(5)}`);
console.log(`  max relative difference of the params (per tensor, to its largest element): ${difference.toExponential(2)}`);
console.log(`  tolerance ${TOLERANCE}: ${agree ? 'agree' : 'DISAGREE'}`);
console.log('');

console.log(`Time per optimizer step, median of ${REPETITIONS} after warm-up, backend ${backend} (${isa}):`);
const columns = ['elements', 'hand-written JS', 'simd-optim, 1 thread', "simd-optim, threads 'auto'", 'speed-up (1 thread)', "speed-up ('auto')"];
const widths = columns.map((c) => Math.max(c.length, 10)); // rows are printed as they are measured
const row = (cells) => '  ' + cells.map((c, i) => String(c).padStart(widths[i])).join('  ');
console.log(row(columns));
for (const total of SIZES) {
  const ms = timeOneSize(total);
  const speedUp = (t) => `${(ms['hand-written'] / t).toFixed(1)}x`;
  const format = (t) => `${t.toFixed(t < 1 ? 4 : 2)} ms`;
  console.log(row([total.toLocaleString('en-US'), format(ms['hand-written']), format(ms['threads 1']), format(ms.default),
    speedUp(ms['threads 1']), speedUp(ms.default)]));
}
if (backend === 'js') {
  console.log('\nThis ran on the TypeScript fallback (SIMD_OPTIM_BACKEND=js or no addon): it reproduces the native');
  console.log('float32 bits with emulated fused multiply-adds, so it is not faster than a plain loop.');
}
process.exitCode = agree ? 0 : 1;
