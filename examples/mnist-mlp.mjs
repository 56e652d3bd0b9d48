// A small multilayer perceptron (784-64-10, ReLU, softmax cross-entropy) trained on MNIST digits
// by every optimizer of simd-optim, each from the same initial weights on the same mini-batches.
// The forward and backward passes are written by hand over typed arrays; gradcheck and
// checkDirectional verify the backward pass before any training starts. The example prints, per
// optimizer, the test accuracy, the training loss, the time per epoch and the share of that time
// spent in optimizer.step, and draws the loss curves to an SVG with vega-lite.
//
//   node examples/mnist-mlp.mjs                      (about 30 s; writes examples/figures/mnist-loss.svg)
//   node examples/mnist-mlp.mjs --quick [--out PATH]  (a few seconds: 3,000 digits, one epoch; SVG to PATH or the temp dir)
import { mkdirSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import * as os from 'node:os';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

import cliProgress from 'cli-progress';
import * as vega from 'vega';
import * as vegaLite from 'vega-lite';

import {
  Adadelta, Adagrad, Adam, Adamax, AdamW, Lion, NAdam, RAdam, RMSprop, SGD, SWATS,
  backend, checkDirectional, gradcheck, isa,
} from 'simd-optim';

import { seededRandom } from './lib/random.mjs';

const { values: args } = parseArgs({ options: { quick: { type: 'boolean', default: false }, out: { type: 'string' } } });
const QUICK = args.quick;
const SETTINGS = QUICK
  ? { trainCount: 3000, testCount: 500, epochs: 1, logEvery: 5 }
  : { trainCount: 8000, testCount: 2000, epochs: 5, logEvery: 25 };
const BATCH_SIZE = 32;
const INPUTS = 784, HIDDEN = 64, CLASSES = 10;
const OUT = args.out ?? (QUICK
  ? path.join(os.tmpdir(), 'mnist-loss-quick.svg')    // tests and trials leave the repository alone
  : fileURLToPath(new URL('./figures/mnist-loss.svg', import.meta.url)));

// Learning rates: PyTorch's defaults wherever they train this network well in a few epochs
// (Adam, AdamW, Adagrad, Adadelta, Adamax, NAdam, RAdam). The exceptions, and why:
// - RMSprop: 1e-3 (Keras's default), not 1e-2. RMSprop has no bias correction, so its first step
//   divides g by sqrt(1 - alpha) |g| = 0.1 |g| and moves every weight by 10 lr; at 1e-2 the loss
//   jumps from 2.4 to 29 after one step (it recovers, but the first epoch is wasted).
// - SGD: 0.1. Its default, 1e-3, reaches only ~70% test accuracy in 5 epochs. With momentum 0.9
//   the effective rate is lr / (1 - 0.9), so 0.01 gives the same 0.1.
// - Lion: 3e-4. It moves every weight by the full lr each step (the sign of its update), so its
//   paper advises a rate 3-10x smaller than AdamW's.
// - SWATS: Adam's 1e-3. It runs Adam until a tensor's projected SGD rate settles (the paper's
//   switchEps 1e-9), then SGD with momentum at that rate; the run prints which tensors switched.
// RAdam lags in short runs by design: its rectification term warms the rate up over the first
// few hundred steps (about a third of Adam's step size after 250 steps with beta2 = 0.999).
const OPTIMIZERS = [
  { name: 'Adam', lr: 1e-3, create: (p, lr) => new Adam(p, { lr }) },
  { name: 'AdamW', lr: 1e-3, create: (p, lr) => new AdamW(p, { lr }) },  // weightDecay 1e-2 (its default)
  { name: 'Adagrad', lr: 1e-2, create: (p, lr) => new Adagrad(p, { lr }) },
  { name: 'RMSprop', lr: 1e-3, create: (p, lr) => new RMSprop(p, { lr }) },
  { name: 'SGD', lr: 0.1, create: (p, lr) => new SGD(p, { lr }) },
  { name: 'SGD+momentum', lr: 0.01, create: (p, lr) => new SGD(p, { lr, momentum: 0.9 }) },
  { name: 'SGD+Nesterov', lr: 0.01, create: (p, lr) => new SGD(p, { lr, momentum: 0.9, nesterov: true }) },
  { name: 'Adadelta', lr: 1, create: (p, lr) => new Adadelta(p, { lr }) },
  { name: 'Adamax', lr: 2e-3, create: (p, lr) => new Adamax(p, { lr }) },
  { name: 'NAdam', lr: 2e-3, create: (p, lr) => new NAdam(p, { lr }) },
  { name: 'RAdam', lr: 1e-3, create: (p, lr) => new RAdam(p, { lr }) },
  { name: 'Lion', lr: 3e-4, create: (p, lr) => new Lion(p, { lr }) },
  { name: 'SWATS', lr: 1e-3, create: (p, lr) => new SWATS(p, { lr }) },
];

/** Fisher-Yates shuffle in place, driven by a seeded generator. */
function shuffle(array, random) {
  for (let i = array.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [array[i], array[j]] = [array[j], array[i]];
  }
  return array;
}

// ---------------------------------------------------------------------------------------------
// Data. The mnist package holds 10,000 digits (28 x 28 pixels in [0, 1]), about 1,000 of each.
// Its mnist.set(train, test) shuffles with Math.random (a different split every run) and takes the
// same count of every digit, so it returns fewer test digits than asked when a digit runs out
// (there are only 863 fives). Instead every digit is read by index and split by a seeded shuffle.

function loadDigits() {
  const mnist = createRequire(import.meta.url)('mnist');
  const samples = [];
  for (let digit = 0; digit < CLASSES; digit++) {
    for (let i = 0; i < mnist[digit].length; i++) samples.push({ pixels: mnist[digit].get(i), label: digit });
  }
  shuffle(samples, seededRandom(2024));
  const pack = (list) => {
    const images = new Float32Array(list.length * INPUTS), labels = new Uint8Array(list.length);
    list.forEach((sample, s) => { images.set(sample.pixels, s * INPUTS); labels[s] = sample.label; });
    return { images, labels, count: list.length };
  };
  const train = samples.slice(0, SETTINGS.trainCount);
  const test = samples.slice(SETTINGS.trainCount, SETTINGS.trainCount + SETTINGS.testCount);
  return { train: pack(train), test: pack(test) };
}

// ---------------------------------------------------------------------------------------------
// The network. Its four tensors lie end to end in one Float32Array, in the order the optimizer
// gets them, and so do their gradients: the optimizer then steps them as one block.
// W1 is stored input-major (W1[i * HIDDEN + j] joins pixel i to hidden unit j) so that the
// forward and backward passes can skip the ~80% of pixels that are 0 and still run their inner
// loops over contiguous memory.

function createNetwork(random) {
  const sizes = [INPUTS * HIDDEN, HIDDEN, HIDDEN * CLASSES, CLASSES];
  const total = sizes.reduce((a, b) => a + b, 0);
  const views = (buffer) => {
    let offset = 0;
    return sizes.map((n) => buffer.subarray(offset, (offset += n)));
  };
  const weights = new Float32Array(total), gradients = new Float32Array(total);
  const gradientSums = new Float64Array(total);  // accumulated in float64, rounded once per batch
  const params = views(weights);
  // He initialisation (normal, variance 2 / fan-in) for the weights; biases start at 0.
  const normal = () => Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
  params[0].forEach((_, k) => { params[0][k] = normal() * Math.sqrt(2 / INPUTS); });
  params[2].forEach((_, k) => { params[2][k] = normal() * Math.sqrt(2 / HIDDEN); });
  return {
    weights, params, grads: views(gradients), gradientSums, gradientSumViews: views(gradientSums),
    // Scratch for one sample, in float64: the loss is computed in float64 from float32 weights.
    hidden: new Float64Array(HIDDEN), hiddenGrad: new Float64Array(HIDDEN),
    logits: new Float64Array(CLASSES), logitsGrad: new Float64Array(CLASSES),
  };
}

/**
 * Mean softmax cross-entropy of the samples `indices` of `data`. With `gradsOut` (four arrays,
 * float32 or float64), also writes the gradient of that mean with respect to each tensor.
 * Returns { loss, correct } (correct: how many samples the network classifies right).
 */
function lossAndGradient(net, data, indices, gradsOut = null) {
  const [w1, b1, w2, b2] = net.params;
  const [gw1, gb1, gw2, gb2] = net.gradientSumViews;
  const { hidden, hiddenGrad, logits, logitsGrad } = net;
  if (gradsOut) net.gradientSums.fill(0);
  let lossSum = 0, correct = 0;
  for (const s of indices) {
    const x = data.images.subarray(s * INPUTS, (s + 1) * INPUTS), label = data.labels[s];
    // Forward: hidden = relu(b1 + x W1), logits = b2 + hidden W2.
    hidden.set(b1);
    for (let i = 0; i < INPUTS; i++) {
      const xi = x[i];
      if (xi === 0) continue;
      for (let j = 0, row = i * HIDDEN; j < HIDDEN; j++) hidden[j] += xi * w1[row + j];
    }
    for (let j = 0; j < HIDDEN; j++) if (hidden[j] < 0) hidden[j] = 0;
    logits.set(b2);
    for (let j = 0; j < HIDDEN; j++) {
      const hj = hidden[j];
      if (hj === 0) continue;
      for (let k = 0, row = j * CLASSES; k < CLASSES; k++) logits[k] += hj * w2[row + k];
    }
    // Cross-entropy through log-sum-exp, shifted by the largest logit so that exp cannot overflow.
    let best = 0;
    for (let k = 1; k < CLASSES; k++) if (logits[k] > logits[best]) best = k;
    let sumExp = 0;
    for (let k = 0; k < CLASSES; k++) sumExp += Math.exp(logits[k] - logits[best]);
    const logSumExp = logits[best] + Math.log(sumExp);
    lossSum += logSumExp - logits[label];
    if (best === label) correct++;
    if (!gradsOut) continue;
    // Backward: d loss / d logits = softmax - one-hot; then through W2, the ReLU and W1.
    for (let k = 0; k < CLASSES; k++) {
      logitsGrad[k] = Math.exp(logits[k] - logSumExp) - (k === label ? 1 : 0);
      gb2[k] += logitsGrad[k];
    }
    for (let j = 0; j < HIDDEN; j++) {
      let sum = 0;
      for (let k = 0, row = j * CLASSES; k < CLASSES; k++) {
        gw2[row + k] += hidden[j] * logitsGrad[k];
        sum += w2[row + k] * logitsGrad[k];
      }
      hiddenGrad[j] = hidden[j] > 0 ? sum : 0;  // the ReLU passes gradient only where it was active
      gb1[j] += hiddenGrad[j];
    }
    for (let i = 0; i < INPUTS; i++) {
      const xi = x[i];
      if (xi === 0) continue;
      for (let j = 0, row = i * HIDDEN; j < HIDDEN; j++) gw1[row + j] += xi * hiddenGrad[j];
    }
  }
  const n = indices.length;
  if (gradsOut) net.gradientSumViews.forEach((sum, t) => { for (let k = 0; k < sum.length; k++) gradsOut[t][k] = sum[k] / n; });
  return { loss: lossSum / n, correct };
}

const range = (n) => Array.from({ length: n }, (_, i) => i);

// ---------------------------------------------------------------------------------------------
// Check the backward pass before trusting it with twelve training runs.

const data = loadDigits();
const net = createNetwork(seededRandom(7));
const initialWeights = net.weights.slice();
console.log(`MNIST: ${data.train.count} training and ${data.test.count} test digits; MLP ${INPUTS}-${HIDDEN}-${CLASSES}; simd-optim on ${backend} (${isa})`);

{
  // Eight digits: enough to exercise every path, cheap enough to evaluate a few thousand times.
  // gradcheck probes the very arrays it is given (net.params) in place and restores them, so f
  // and grad can read the network as it stands and ignore their argument.
  const batch = range(8);
  const loss = () => lossAndGradient(net, data.train, batch).loss;
  const gradient = () => {
    const out = net.params.map((p) => new Float64Array(p.length));
    lossAndGradient(net, data.train, batch, out);
    return out;
  };
  // f computes in float64 from float32 weights: 'float64' makes the check much tighter. W1 has
  // 50,176 coordinates, so gradcheck probes a sample of each tensor (the largest gradients and
  // seeded random others); checkDirectional covers every coordinate along random directions.
  const options = { names: ['W1', 'b1', 'W2', 'b2'], precision: 'float64', sample: QUICK ? 16 : 32 };
  const report = gradcheck(loss, gradient, net.params, options);
  const directional = checkDirectional(loss, gradient, net.params, { precision: 'float64', directions: 4 });
  console.log(`gradcheck: ${report.ok ? 'passed' : 'FAILED'} (${report.checked} coordinates, ${report.kinks.length} ReLU kinks skipped, largest relative error ${report.maxRelError.toExponential(2)})`);
  console.log(`checkDirectional: ${directional.ok ? 'passed' : 'FAILED'} (${directional.directions.length} random directions through all ${net.weights.length} weights)`);
  if (!report.ok || !directional.ok) {
    console.log(report.toString());
    console.log(directional.toString());
    process.exit(1);
  }
}

// ---------------------------------------------------------------------------------------------
// Train: every optimizer from the same initial weights, on the same sequence of mini-batches.

const stepsPerEpoch = Math.ceil(data.train.count / BATCH_SIZE);
// A progress bar for the long run, in a terminal only: piped or redirected output stays plain.
const progress = process.stdout.isTTY && !QUICK
  ? new cliProgress.SingleBar({ stream: process.stdout, format: '{bar} {percentage}% | {optimizer} epoch {epoch} | ETA {eta_formatted}' }, cliProgress.Presets.shades_classic)
  : null;
progress?.start(OPTIMIZERS.length * SETTINGS.epochs * stepsPerEpoch, 0, { optimizer: '', epoch: 0 });

const results = [], curvePoints = [];
for (const spec of OPTIMIZERS) {
  net.weights.set(initialWeights);
  const optimizer = spec.create(net.params, spec.lr);
  let trainingMs = 0, stepMs = 0, step = 0, windowLoss = 0;
  for (let epoch = 0; epoch < SETTINGS.epochs; epoch++) {
    const order = shuffle(range(data.train.count), seededRandom(100 + epoch));  // same batches for all
    const epochStart = performance.now();
    for (let start = 0; start < order.length; start += BATCH_SIZE) {
      const { loss } = lossAndGradient(net, data.train, order.slice(start, start + BATCH_SIZE), net.grads);
      const stepStart = performance.now();
      optimizer.step(net.grads);  // the same gradient arrays every step: the optimizer reuses its plan
      stepMs += performance.now() - stepStart;
      step++;
      // The curve: the mean loss of the last logEvery batches (one batch's loss is too noisy).
      windowLoss += loss;
      if (step % SETTINGS.logEvery === 0) {
        curvePoints.push({ optimizer: spec.name, epoch: step / stepsPerEpoch, loss: windowLoss / SETTINGS.logEvery });
        windowLoss = 0;
      }
      progress?.increment({ optimizer: spec.name, epoch: epoch + 1 });
    }
    trainingMs += performance.now() - epochStart;
  }
  const trainLoss = lossAndGradient(net, data.train, range(data.train.count)).loss;
  const testAccuracy = lossAndGradient(net, data.test, range(data.test.count)).correct / data.test.count;
  const switches = optimizer instanceof SWATS ? net.params.map((p) => optimizer.state.get(p)) : null;
  results.push({ ...spec, testAccuracy, trainLoss, msPerEpoch: trainingMs / SETTINGS.epochs, stepShare: stepMs / trainingMs, switches });
}
progress?.stop();

// ---------------------------------------------------------------------------------------------
// Report: a table, then the loss curves as an SVG.

const table = [['optimizer', 'lr', 'test accuracy', 'train loss', 'time/epoch', 'in step()']];
for (const r of results) {
  table.push([r.name, String(r.lr), `${(100 * r.testAccuracy).toFixed(1)}%`, r.trainLoss.toFixed(4),
    `${(r.msPerEpoch / 1000).toFixed(2)} s`, `${(100 * r.stepShare).toFixed(1)}%`]);
}
const widths = table[0].map((_, c) => Math.max(...table.map((row) => row[c].length)));
console.log(`\n${SETTINGS.epochs} epoch(s) of ${stepsPerEpoch} mini-batches of ${BATCH_SIZE}; train loss over all training digits after the last epoch`);
for (const row of table) console.log(row.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]) : cell.padStart(widths[c]))).join('  '));
for (const r of results.filter((result) => result.switches)) {
  const names = ['w1', 'b1', 'w2', 'b2'];
  const told = r.switches.map((s, i) => (s.phase === 'sgd'
    ? `${names[i]} at step ${s.switchStep} (lr ${s.sgdLr.toPrecision(3)})`
    : `${names[i]} not (estimate ${Number.isFinite(s.lrEstimate) ? s.lrEstimate.toPrecision(3) : 'none'})`));
  console.log(`${r.name} switched to SGD: ${told.join(', ')}`);
}

const chart = {
  $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
  title: { text: 'MLP 784-64-10 on MNIST: training loss by optimizer', subtitle: `mean cross-entropy of each ${SETTINGS.logEvery} mini-batches of ${BATCH_SIZE}; same initial weights and batches for all`, anchor: 'start' },
  width: 560, height: 340,
  data: { values: curvePoints },
  mark: { type: 'line', strokeWidth: 1.5 },
  encoding: {
    x: { field: 'epoch', type: 'quantitative', title: 'epoch', scale: { nice: false } },
    // Log scale: the interesting differences are late, when the losses are small.
    y: { field: 'loss', type: 'quantitative', title: 'training loss', scale: { type: 'log', nice: false } },
    // Twelve lines: tableau20 has enough distinct colours; the legend keeps the table's order.
    color: { field: 'optimizer', type: 'nominal', sort: OPTIMIZERS.map((o) => o.name), scale: { scheme: 'tableau20' } },
  },
};
const view = new vega.View(vega.parse(vegaLite.compile(chart).spec), { renderer: 'none' });
await view.runAsync();
vega.resetSVGDefIds();  // clip-path ids restart at 0: the same losses give the same bytes
const svg = await view.toSVG();
view.finalize();
mkdirSync(path.dirname(OUT), { recursive: true });
writeFileSync(OUT, svg);
console.log(`\nloss curves: ${OUT}`);
