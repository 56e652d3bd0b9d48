// Switching from Adam to SGD (SWATS, Keskar & Socher 2017), on a linear regression as the lecture
// notes set it up: Adam first, while it watches which plain-SGD learning rate its own steps amount
// to (the projection of each Adam step on the gradient); once that estimate has settled, SGD with
// momentum at that rate. The example trains the same model with Adam, with SGD + momentum and with
// SWATS, prints when SWATS switched and the SGD rate it chose, and the loss of each along the way.
//
//   node examples/swats.mjs            (300 epochs, about a second)
//   node examples/swats.mjs --quick    (60 epochs)
import { parseArgs } from 'node:util';

import { Adam, SGD, SWATS } from 'simd-optim';

import { seededRandom } from './lib/random.mjs';

const { values: args } = parseArgs({ options: { quick: { type: 'boolean', default: false } } });
const EPOCHS = args.quick ? 60 : 300;
const SAMPLES = 256, FEATURES = 16, BATCH = 32;

// y = x . wTrue + 0.1 noise, features uniform in [-1, 1].
const random = seededRandom(7);
const X = Float32Array.from({ length: SAMPLES * FEATURES }, () => 2 * random() - 1);
const wTrue = Array.from({ length: FEATURES }, () => 2 * random() - 1);
const y = Float32Array.from({ length: SAMPLES }, (_, i) => wTrue.reduce((s, w, j) => s + w * X[i * FEATURES + j], 0) + 0.1 * (2 * random() - 1));

/** Mean squared error over samples [from, to); with `grad`, writes its gradient. */
function loss(w, from, to, grad = null) {
  if (grad) grad.fill(0);
  let sum = 0;
  for (let i = from; i < to; i++) {
    let r = -y[i];
    for (let j = 0; j < FEATURES; j++) r += w[j] * X[i * FEATURES + j];
    sum += r * r;
    if (grad) for (let j = 0; j < FEATURES; j++) grad[j] += (2 / (to - from)) * r * X[i * FEATURES + j];
  }
  return sum / (to - from);
}

// switchEps: the paper's test is |estimate - latest projection| < eps with eps = 1e-9, which a
// model this small (16 weights, a noisy batch) rarely meets; 1e-5 is what several reproductions use.
const RUNS = [
  { label: 'Adam (lr 3e-3)', make: (w) => new Adam([w], { lr: 3e-3 }) },
  { label: 'SGD + momentum 0.9 (lr 3e-3)', make: (w) => new SGD([w], { lr: 3e-3, momentum: 0.9 }) },
  { label: 'SWATS (lr 3e-3, switchEps 1e-5)', make: (w) => new SWATS([w], { lr: 3e-3, switchEps: 1e-5 }) },
];

const REPORT_AT = [1, 10, 30, 60, 100, 200, 300].filter((e) => e <= EPOCHS);
console.log(`linear regression, ${SAMPLES} samples x ${FEATURES} features, batches of ${BATCH}, ${EPOCHS} epochs`);
console.log(['epoch', ...REPORT_AT].join('\t'));
for (const run of RUNS) {
  const w = new Float32Array(FEATURES), grad = new Float32Array(FEATURES);
  const opt = run.make(w);
  const row = [];
  let step = 0;
  for (let epoch = 1; epoch <= EPOCHS; epoch++) {
    for (let from = 0; from < SAMPLES; from += BATCH) {
      loss(w, from, from + BATCH, grad);
      opt.step([grad]);
      step++;
    }
    if (REPORT_AT.includes(epoch)) row.push(loss(w, 0, SAMPLES).toExponential(3));
  }
  console.log(`${run.label}\n\t${row.join('\t')}`);
  if (opt instanceof SWATS) {
    const state = opt.state.get(w);
    console.log(state.phase === 'sgd'
      ? `SWATS switched to SGD at step ${state.switchStep} (epoch ${Math.ceil(state.switchStep / (SAMPLES / BATCH))}) with lr ${state.sgdLr.toPrecision(4)} (momentum 0.9), after Adam with lr 3e-3`
      : `SWATS stayed with Adam for all ${step} steps (its estimate: ${(state.lrEstimate / (1 - 0.999 ** step)).toPrecision(4)})`);
  }
}
