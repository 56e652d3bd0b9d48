// simd-optim/tfjs against TensorFlow.js's own optimizers, on tfjs's cpu and wasm backends: the time
// of one applyGradients (an MLP's variables, and one 1M tensor) and of one model.fit epoch of a
// tfjs-layers MLP. The whole-epoch figure is what a tfjs user gains: the optimizer's share of an
// epoch, which the forward and backward passes dilute.
//
//   node bench/tfjs.mjs        (also part of `npm run bench` when peers are measured)
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

import { loadTfjs, useTfjsBackend } from './peers.mjs';
import { randomValues as values } from './random.mjs';

const require = createRequire(import.meta.url);

/** MLP 784-128-10 shapes, as in the MNIST example: 101,770 parameters in 4 variables. */
const MLP_SHAPES = [[784, 128], [128], [128, 10], [10]];
const FIT = { samples: 2048, batchSize: 32, epochs: 3 };
const KINDS = {
  adam: (t) => t.adam(1e-3),
  momentum: (t) => t.momentum(1e-2, 0.9),
  rmsprop: (t) => t.rmsprop(1e-3),
};

const median = (list) => [...list].sort((a, b) => a - b)[Math.floor(list.length / 2)];

/** The median time of one applyGradients over `shapes`, in ms: batches of calls, timed. */
function timeApply(tf, make, shapes, samples) {
  const variables = shapes.map((shape, i) => tf.variable(tf.tensor(values(shape.reduce((a, b) => a * b, 1), 1 + i), shape)));
  const grads = variables.map((v, i) => ({ name: v.name, tensor: tf.tensor(values(v.size, 11 + i, 0.01), v.shape) }));
  const optimizer = make();
  const batch = () => {
    const start = performance.now();
    let calls = 0;
    while (performance.now() - start < 100 || calls < 3) {
      optimizer.applyGradients(grads);
      calls++;
    }
    return (performance.now() - start) / calls;
  };
  batch(); // warm-up: V8 compiles, tfjs creates the state
  const times = Array.from({ length: samples }, batch);
  optimizer.dispose();
  tf.dispose([...variables, ...grads.map((g) => g.tensor)]);
  return median(times);
}

/** The median time of one model.fit epoch, in ms, after a first epoch. */
async function timeFit(tf, tfl, optimizer) {
  const x = tf.tensor2d(values(FIT.samples * 784, 5), [FIT.samples, 784]);
  const labels = Array.from(values(FIT.samples, 6), (v) => Math.floor((v + 1) * 5) % 10);
  const y = tf.oneHot(tf.tensor1d(labels, 'int32'), 10);
  const model = tfl.sequential({
    layers: [
      tfl.layers.dense({ inputShape: [784], units: 128, activation: 'relu', kernelInitializer: tfl.initializers.glorotUniform({ seed: 1 }) }),
      tfl.layers.dense({ units: 10, activation: 'softmax', kernelInitializer: tfl.initializers.glorotUniform({ seed: 2 }) }),
    ],
  });
  model.compile({ optimizer, loss: 'categoricalCrossentropy' });
  const times = [];
  for (let epoch = 0; epoch <= FIT.epochs; epoch++) {
    const start = performance.now();
    await model.fit(x, y, { epochs: 1, batchSize: FIT.batchSize, shuffle: false, verbose: 0 });
    if (epoch > 0) times.push(performance.now() - start);
  }
  model.dispose();
  optimizer.dispose();
  tf.dispose([x, y]);
  return median(times);
}

/**
 * Measures every row. Returns { rows: [{ backend, what, kind, tfjsMs, oursMs }], notes }.
 * @param log - progress lines (one per row), or nothing.
 */
export async function benchTfjsAdapter({ samples = 5, log = () => {} } = {}) {
  const { tf } = loadTfjs(); // the cpu and wasm backends, wasm from node_modules, tfjs's warnings off
  const tfl = require('@tensorflow/tfjs-layers');
  const { train } = require('../dist/adapters/tfjs.js');
  const rows = [], notes = [];
  for (const backend of ['cpu', 'wasm']) {
    if (!(await useTfjsBackend(tf, backend))) {
      notes.push(`tfjs ${backend} did not start`);
      continue;
    }
    for (const [kind, make] of Object.entries(KINDS)) {
      for (const [what, shapes] of [['applyGradients, MLP 102K', MLP_SHAPES], ['applyGradients, 1M tensor', [[1 << 20]]]]) {
        log(`${backend} ${kind} ${what}`);
        const tfjsMs = timeApply(tf, () => make(tf.train), shapes, samples);
        const oursMs = timeApply(tf, () => make(train), shapes, samples);
        rows.push({ backend, what, kind, tfjsMs, oursMs });
      }
    }
    log(`${backend} model.fit`);
    const tfjsMs = await timeFit(tf, tfl, KINDS.adam(tf.train));
    const oursMs = await timeFit(tf, tfl, KINDS.adam(train));
    rows.push({ backend, what: `model.fit epoch, MLP 784-128-10, ${FIT.samples} samples, batch ${FIT.batchSize}`, kind: 'adam', tfjsMs, oursMs });
  }
  return { rows, notes, versions: `tfjs-core ${tf.version_core}, tfjs-layers ${tfl.version_layers}` };
}

/** The table, markdown. */
export function formatTfjsAdapter({ rows, notes, versions }) {
  const ms = (v) => (v >= 10 ? v.toFixed(1) : v >= 1 ? v.toFixed(2) : v.toFixed(3));
  const lines = [
    `## simd-optim/tfjs against tf.train (${versions})`,
    '',
    'Median ms; the speed-up is tfjs\'s time over the adapter\'s.',
    '',
    '| tfjs backend | what | optimizer | tf.train | simd-optim/tfjs | speed-up |',
    '|---|---|---|---|---|---|',
    ...rows.map((r) => `| ${r.backend} | ${r.what} | ${r.kind} | ${ms(r.tfjsMs)} ms | ${ms(r.oursMs)} ms | ${(r.tfjsMs / r.oursMs).toFixed(2)}x |`),
  ];
  if (notes.length) lines.push('', `Notes: ${notes.join('; ')}.`);
  return lines.join('\n') + '\n';
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const result = await benchTfjsAdapter({ log: (line) => process.stderr.isTTY && process.stderr.write(`\r\x1b[2K${line}`) });
  if (process.stderr.isTTY) process.stderr.write('\r\x1b[2K');
  console.log(formatTfjsAdapter(result));
}
