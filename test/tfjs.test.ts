// simd-optim/tfjs against TensorFlow.js's own optimizers on its cpu backend: the same trajectories
// within float32 tolerance over 100 steps, the same weights (in both directions), a tfjs-layers
// model fitted to the same loss, serialization, and bad input that changes nothing. Both projects
// run it: the adapter's kernels are the addon's or the TypeScript fallback's.
import { createRequire } from 'node:module';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';

import type * as TF from '@tensorflow/tfjs-core';
import type * as TFL from '@tensorflow/tfjs-layers';
import type * as Adapter from '../lib/adapters/tfjs.js';

const require = createRequire(import.meta.url);
const tf = require('@tensorflow/tfjs-core') as typeof TF;
require('@tensorflow/tfjs-backend-cpu');
const tfl = require('@tensorflow/tfjs-layers') as typeof TFL; // also registers the gradients
const { train, registerClasses, AdamOptimizer } = require('../dist/adapters/tfjs.js') as typeof Adapter;
// The backend module the adapter in dist/ uses (lib/'s, under vitest, would be another instance).
const backendModule = require('../dist/bridge/backend.js') as typeof import('../lib/bridge/backend.js');

type Maker = (t: typeof tf.train | typeof train) => TF.Optimizer;
// Small learning rates: 100 steps move the variables without reaching the optimum, where an
// adaptive step oscillates and float32 rounding (tfjs's own) decides the sign of each swing.
const CONFIGS: [string, Maker][] = [
  ['sgd', (t) => t.sgd(0.02)],
  ['momentum', (t) => t.momentum(0.01, 0.9)],
  ['momentum nesterov', (t) => t.momentum(0.01, 0.9, true)],
  ['adagrad', (t) => t.adagrad(0.05)],
  ['adagrad, accumulator 0', (t) => t.adagrad(0.05, 0)],
  ['adadelta', (t) => t.adadelta(1.0)],
  ['adadelta, defaults', (t) => t.adadelta()],
  ['rmsprop', (t) => t.rmsprop(0.002)],
  ['rmsprop momentum', (t) => t.rmsprop(0.002, 0.9, 0.5)],
  // Centered with tfjs's sign, sqrt(s - c^2 - eps): NaN where the variance is under eps, in both.
  ['rmsprop centered', (t) => t.rmsprop(0.002, 0.9, 0.3, 1e-7, true)],
  ['adam', (t) => t.adam(0.005)],
  ['adam, betas', (t) => t.adam(0.002, 0.5, 0.9, 1e-4)],
  ['adamax', (t) => t.adamax(0.005)],
  ['adamax, decay', (t) => t.adamax(0.005, 0.8, 0.99, 1e-3, 0.05)],
];

const SHAPES = [[7, 13], [1000], [1], [3, 2, 2]];

/** Deterministic values in [-1, 1). */
function values(n: number, seed: number): Float32Array {
  let s = seed >>> 0;
  return Float32Array.from({ length: n }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 31 - 1;
  });
}

interface Model {
  variables: TF.Variable[];
  /** sum(curvature (w - target)^2 / 2) + 0.1 sum(sin(3 w)), over every variable. */
  loss(): TF.Scalar;
  /** Its gradient, by tfjs ops. */
  grads(): TF.Tensor[];
}

let modelCount = 0;
function model(): Model {
  const id = modelCount++;
  const variables = SHAPES.map((shape, i) => tf.variable(tf.tensor(values(shape.reduce((a, b) => a * b, 1), 10 + i), shape), true, `m${id}/v${i}`));
  const targets = SHAPES.map((shape, i) => tf.tensor(values(shape.reduce((a, b) => a * b, 1), 20 + i), shape));
  const curvatures = SHAPES.map((shape, i) => tf.add(tf.abs(tf.tensor(values(shape.reduce((a, b) => a * b, 1), 30 + i), shape)), 0.1));
  return {
    variables,
    loss: () => tf.tidy(() => tf.addN(variables.map((v, i) => tf.add(
      tf.mul(tf.sum(tf.mul(curvatures[i]!, tf.square(tf.sub(v, targets[i]!)))), 0.5),
      tf.mul(tf.sum(tf.sin(tf.mul(v, 3))), 0.1)))) as TF.Scalar),
    grads: () => variables.map((v, i) => tf.tidy(() => tf.add(tf.mul(curvatures[i]!, tf.sub(v, targets[i]!)), tf.mul(tf.cos(tf.mul(v, 3)), 0.3)))),
  };
}

function maxDifference(a: TF.Tensor[], b: TF.Tensor[]): number {
  let worst = 0;
  a.forEach((x, i) => {
    const da = x.dataSync(), db = b[i]!.dataSync();
    for (let e = 0; e < da.length; e++) {
      const d = Math.abs(da[e]! - db[e]!) / (1 + Math.abs(da[e]!));
      worst = Math.max(worst, Number.isNaN(d) ? (Number.isNaN(da[e]!) && Number.isNaN(db[e]!) ? 0 : Infinity) : d);
    }
  });
  return worst;
}

/** One step of either optimizer, through one of the three ways tfjs offers. */
function step(optimizer: TF.Optimizer, m: Model, way: number): void {
  if (way === 0) {
    const grads = m.grads();
    optimizer.applyGradients(grads.map((tensor, i) => ({ name: m.variables[i]!.name, tensor })));
    tf.dispose(grads);
  } else if (way === 1) {
    const grads = m.grads();
    optimizer.applyGradients(Object.fromEntries(grads.map((tensor, i) => [m.variables[i]!.name, tensor])));
    tf.dispose(grads);
  } else {
    optimizer.minimize(() => m.loss(), false, m.variables);
  }
}

beforeAll(async () => {
  tf.env().set('IS_TEST', true); // no "install tfjs-node" banner in the test output
  await tf.setBackend('cpu');
});

describe('trajectories against tf.train on the cpu backend', () => {
  test.each(CONFIGS)('%s: 100 steps, the same variables and weights within float32 tolerance', async (_name, make) => {
    const ours = make(train), theirs = make(tf.train);
    const a = model(), b = model();
    expect(ours).toBeInstanceOf(tf.Optimizer);
    expect(ours.getClassName()).toBe(theirs.getClassName());
    expect(ours.getConfig()).toEqual(theirs.getConfig());
    let worst = 0;
    for (let k = 0; k < 100; k++) {
      const way = k % 3;
      step(theirs, a, way);
      step(ours, b, way);
      worst = Math.max(worst, maxDifference(a.variables, b.variables));
    }
    // Centered RMSprop divides by sqrt(s - c^2 - eps), where s and c^2 nearly cancel once the
    // gradients settle: the kernel's fused s - c^2 (PyTorch's addcmul) and tfjs's two roundings
    // then differ by far more than an ulp of the result. Measured worst: 2.3e-4 there, 6e-6 elsewhere.
    const limit = _name === 'rmsprop centered' ? 1e-3 : 2e-5;
    expect(worst).toBeLessThan(limit);
    // And the variables moved: a test that cannot fail proves nothing.
    expect(maxDifference(a.variables, SHAPES.map((shape, i) => tf.tensor(values(shape.reduce((x, y) => x * y, 1), 10 + i), shape)))).toBeGreaterThan(1e-3);
    if (_name.startsWith('adamax')) return; // tfjs's own Adamax has no getWeights
    const [wa, wb] = [await theirs.getWeights(), await ours.getWeights()];
    const suffixes = (list: { name: string }[]) => list.map((w) => w.name.replace(/^m\d+\//, '')); // models a and b differ in prefix
    expect(suffixes(wb)).toEqual(suffixes(wa));
    expect(wb[0]!.tensor.dataSync()[0]).toBe(100);
    expect(maxDifference(wa.slice(1).map((w) => w.tensor), wb.slice(1).map((w) => w.tensor))).toBeLessThan(limit);
  });
});

test("the weights go both ways: tfjs's state continues in ours and ours in tfjs's", async () => {
  for (const [name, make] of CONFIGS.filter(([n]) => !n.startsWith('adamax'))) {
    for (const direction of ['tfjs to ours', 'ours to tfjs'] as const) {
      const [first, second] = direction === 'tfjs to ours' ? [make(tf.train), make(train)] : [make(train), make(tf.train)];
      const reference = make(tf.train);
      const a = model(), b = model();
      for (let k = 0; k < 30; k++) {
        step(first, a, 0);
        step(reference, b, 0);
      }
      // Hand the state over; tfjs's setWeights keeps the tensors it is given, so give it copies.
      await second.setWeights((await first.getWeights()).map((w) => ({ name: w.name, tensor: tf.clone(w.tensor) })));
      expect(second.iterations, `${name}, ${direction}`).toBe(30);
      for (let k = 0; k < 30; k++) {
        step(second, a, 0);
        step(reference, b, 0);
      }
      const limit = name === 'rmsprop centered' ? 1e-3 : 2e-5;
      expect(maxDifference(a.variables, b.variables), `${name}, ${direction}`).toBeLessThan(limit);
    }
  }
});

test("a tfjs-layers model fitted with ours reaches the loss of the same model fitted with tfjs's", async () => {
  const x = tf.tensor2d(values(256 * 4, 1), [256, 4]);
  const y = tf.tensor2d(Float32Array.from({ length: 256 }, (_, i) => {
    const r = x.dataSync().subarray(4 * i, 4 * i + 4);
    return Math.sin(r[0]!) + r[1]! * r[2]! - 0.5 * r[3]!;
  }), [256, 1]);
  const losses: number[] = [];
  for (const optimizer of [tf.train.adam(0.01), train.adam(0.01), tf.train.rmsprop(0.005, 0.9, 0.5), train.rmsprop(0.005, 0.9, 0.5)]) {
    const net = tfl.sequential({
      layers: [
        tfl.layers.dense({ inputShape: [4], units: 16, activation: 'tanh', kernelInitializer: tfl.initializers.glorotUniform({ seed: 7 }) }),
        tfl.layers.dense({ units: 1, kernelInitializer: tfl.initializers.glorotUniform({ seed: 8 }) }),
      ],
    });
    net.compile({ optimizer, loss: 'meanSquaredError' });
    const history = await net.fit(x, y, { epochs: 20, batchSize: 32, shuffle: false, verbose: 0 });
    losses.push(history.history['loss']!.at(-1) as number);
    net.dispose();
  }
  const [adamTheirs, adamOurs, rmsTheirs, rmsOurs] = losses as [number, number, number, number];
  expect(adamTheirs).toBeLessThan(0.5 * (history0(y)));
  expect(Math.abs(adamOurs - adamTheirs) / adamTheirs).toBeLessThan(1e-3);
  expect(Math.abs(rmsOurs - rmsTheirs) / rmsTheirs).toBeLessThan(1e-3);
});

/** The loss of predicting the mean: what a model that learned nothing reaches. */
function history0(y: TF.Tensor): number {
  const v = y.dataSync(), mean = v.reduce((a, b) => a + b, 0) / v.length;
  return v.reduce((a, b) => a + (b - mean) ** 2, 0) / v.length;
}

test("a model saved with its optimizer loads with ours once registered, and with tfjs's", async () => {
  const build = () => {
    const net = tfl.sequential({ layers: [tfl.layers.dense({ inputShape: [3], units: 2, kernelInitializer: tfl.initializers.glorotUniform({ seed: 1 }) })] });
    net.compile({ optimizer: train.adam(0.01, 0.8), loss: 'meanSquaredError' });
    return net;
  };
  const net = build();
  const x = tf.tensor2d(values(30, 3), [10, 3]), y = tf.tensor2d(values(20, 4), [10, 2]);
  await net.fit(x, y, { epochs: 3, batchSize: 5, verbose: 0 });
  let saved: TF.io.ModelArtifacts | undefined;
  await net.save(tf.io.withSaveHandler(async (artifacts) => {
    saved = artifacts;
    return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
  }), { includeOptimizer: true });
  expect(saved?.trainingConfig?.optimizer_config).toEqual({ class_name: 'Adam', config: { learningRate: 0.01, beta1: 0.8, beta2: 0.999, epsilon: 1e-7 } });

  const theirs = await tfl.loadLayersModel(tf.io.fromMemory(saved!));
  // instanceof cannot tell: tfjs's Optimizer answers it by duck typing, for every subclass.
  expect(theirs.optimizer.constructor).toBe(tf.AdamOptimizer);
  registerClasses();
  const ours = await tfl.loadLayersModel(tf.io.fromMemory(saved!));
  expect(ours.optimizer.constructor).toBe(AdamOptimizer);
  expect(ours.optimizer.iterations).toBe(6);
  const [w0, w1] = [await net.optimizer.getWeights(), await ours.optimizer.getWeights()];
  expect(maxDifference(w0.map((w) => w.tensor), w1.map((w) => w.tensor))).toBe(0);
});

test('bad input throws, naming it, and changes nothing: variables, state and iteration count', async () => {
  for (const [name, make] of CONFIGS) {
    const optimizer = make(train);
    const m = model();
    step(optimizer, m, 0);
    const before = m.variables.map((v) => v.dataSync().slice());
    const weightsBefore = (await optimizer.getWeights()).map((w) => w.tensor.dataSync().slice());
    // A new learning rate: RMSprop rescales its buffers for it, which must wait for a valid input
    // (by 0.3, not a power of two, whose rescaling would round nothing).
    const withLr = optimizer as unknown as { learningRate: number };
    const lr = withLr.learningRate;
    withLr.learningRate = lr * 0.3;
    const grads = m.grads();
    const named = grads.map((tensor, i) => ({ name: m.variables[i]!.name, tensor }));
    const bad: [unknown, RegExp][] = [
      [[...named.slice(0, 3), { name: m.variables[3]!.name, tensor: tf.zeros([12]) }], /shape \[12\], the variable \[3,2,2\]/],
      [[...named, { name: 'no such variable', tensor: grads[0] }], /no variable named 'no such variable'/],
      [[named[0], named[0]], /appears twice/],
      [[...named.slice(0, 3), { name: m.variables[3]!.name, tensor: tf.zeros([3, 2, 2], 'int32') }], /int32, not float32/],
      [[{ name: m.variables[1]!.name, tensor: grads[0] }], /shape \[7,13\], the variable \[1000\]|position 0 was made for shape \[7,13\]/],
    ];
    for (const [input, message] of bad) {
      expect(() => optimizer.applyGradients(input as never), name).toThrow(message);
    }
    const disposed = tf.zeros([1000]);
    disposed.dispose();
    expect(() => optimizer.applyGradients([named[0]!, { name: m.variables[1]!.name, tensor: disposed }]), name).toThrow(/disposed/);
    expect(optimizer.iterations, name).toBe(1);
    m.variables.forEach((v, i) => expect(v.dataSync(), name).toEqual(before[i]));
    withLr.learningRate = lr;
    (await optimizer.getWeights()).forEach((w, i) => expect(w.tensor.dataSync(), name).toEqual(weightsBefore[i]));
    tf.dispose(grads);
  }
});

test('tfjs\'s own variables stay untouched: the data a variable shares with its initial tensor is copied, not written', () => {
  const initial = tf.tensor1d([1, 2, 3]);
  const v = tf.variable(initial, true, 'shared-data');
  const optimizer = train.sgd(0.5);
  optimizer.applyGradients({ 'shared-data': tf.ones([3]) });
  expect(Array.from(v.dataSync())).toEqual([0.5, 1.5, 2.5]);
  expect(Array.from(initial.dataSync())).toEqual([1, 2, 3]);
});

/** Switches to the wasm backend (its binary read from node_modules); back to cpu with setBackend. */
async function useWasm(): Promise<void> {
  const wasm = require('@tensorflow/tfjs-backend-wasm') as { setWasmPaths(path: string): void };
  try { wasm.setWasmPaths(path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm')) + '/'); } catch { /* already set up */ }
  expect(await tf.setBackend('wasm')).toBe(true);
}

describe.each(['cpu', 'wasm'])('where a step writes, on the %s backend', (backendName) => {
  beforeAll(async () => {
    if (backendName === 'wasm') await useWasm();
  });
  afterAll(async () => {
    await tf.setBackend('cpu');
  });

  test('a variable that alone holds its data is updated in place: no new tensor per step', () => {
    const v = tf.variable(tf.tensor1d(values(1000, 1)), true, `in-place-${backendName}`);
    const theirs = tf.variable(tf.tensor1d(values(1000, 1)), true, `in-place-theirs-${backendName}`);
    const ours = train.adam(0.01), reference = tf.train.adam(0.01);
    const grads = [0, 1, 2, 3].map((k) => tf.tensor1d(values(1000, 50 + k)));
    ours.applyGradients({ [v.name]: grads[0]! }); // shares the initial tensor's data: a copy, assigned
    reference.applyGradients({ [theirs.name]: grads[0]! });
    const dataId = v.dataId, tensors = tf.memory().numTensors;
    for (const g of grads.slice(1)) {
      ours.applyGradients({ [v.name]: g });
      reference.applyGradients({ [theirs.name]: g });
    }
    expect(v.dataId).toBe(dataId);
    expect(tf.memory().numTensors).toBe(tensors);
    expect(maxDifference([v], [theirs])).toBeLessThan(2e-6);
    tf.dispose([v, theirs, ...grads]);
  });

  test('data another tensor shares (tf.clone, reshape) is copied, and that tensor keeps its values', () => {
    const optimizer = train.sgd(0.5);
    const v = tf.variable(tf.tensor1d([1, 2, 3, 4]), true, `shared-${backendName}`);
    optimizer.applyGradients({ [v.name]: tf.ones([4]) }); // from here v's data is its own
    const clone = tf.clone(v), reshaped = tf.reshape(v, [2, 2]);
    optimizer.applyGradients({ [v.name]: tf.ones([4]) });
    expect(Array.from(v.dataSync())).toEqual([0, 1, 2, 3]);
    expect(Array.from(clone.dataSync())).toEqual([0.5, 1.5, 2.5, 3.5]);
    expect(Array.from(reshaped.dataSync())).toEqual([0.5, 1.5, 2.5, 3.5]);
    tf.dispose([clone, reshaped]);
    optimizer.applyGradients({ [v.name]: tf.ones([4]) }); // its own again: in place
    expect(Array.from(v.dataSync())).toEqual([-0.5, 0.5, 1.5, 2.5]);
    v.dispose();
  });

  test('a step after the heap grew between steps reads and writes the right memory', () => {
    const optimizer = train.momentum(0.1, 0.9), reference = tf.train.momentum(0.1, 0.9);
    const v = tf.variable(tf.tensor1d(values(4096, 7)), true, `grow-${backendName}`);
    const w = tf.variable(tf.tensor1d(values(4096, 7)), true, `grow-theirs-${backendName}`);
    const held: TF.Tensor[] = [];
    for (let k = 0; k < 6; k++) {
      const g = tf.tensor1d(values(4096, 60 + k));
      optimizer.applyGradients({ [v.name]: g });
      reference.applyGradients({ [w.name]: g });
      g.dispose();
      held.push(tf.zeros([1 << (18 + k)])); // 1 MB, 2 MB, ... 32 MB: the wasm heap grows
    }
    expect(maxDifference([v], [w])).toBeLessThan(1e-6);
    tf.dispose([v, w, ...held]);
  });
});

test('a variable and gradient made on cpu before tf.setBackend(\'wasm\'): stepped from copies, the tensor the variable shares untouched', async () => {
  await tf.setBackend('cpu');
  const x = tf.tensor1d([1, 2, 3, 4]);
  const v = tf.variable(x, true, 'made-on-cpu');
  const g = tf.ones([4]);
  await useWasm();
  try {
    train.sgd(0.5).applyGradients({ 'made-on-cpu': g });
    expect(Array.from(v.dataSync())).toEqual([0.5, 1.5, 2.5, 3.5]);
    expect(Array.from(x.dataSync())).toEqual([1, 2, 3, 4]);
  } finally {
    await tf.setBackend('cpu');
    tf.dispose([x, v, g]);
  }
});

test('cpu: variables and gradients made from one Float32Array are copied, never updated through each other', () => {
  // tf.tensor(array) on the cpu backend keeps the array itself, so two tensors can share memory
  // without sharing a dataId: the refCount alone does not see it.
  const shared = values(64, 3);
  const a0 = tf.tensor1d(shared), b0 = tf.tensor1d(shared);
  const a = tf.variable(a0, true, 'one-array-a'), b = tf.variable(b0, true, 'one-array-b');
  tf.dispose([a0, b0]); // each variable now alone holds its dataId, both over the same array
  const optimizer = train.sgd(0.5);
  optimizer.applyGradients({ 'one-array-a': tf.ones([64]), 'one-array-b': tf.fill([64], 2) });
  expect(Array.from(a.dataSync())).toEqual(Array.from(values(64, 3), (x) => Math.fround(x - 0.5)));
  expect(Array.from(b.dataSync())).toEqual(Array.from(values(64, 3), (x) => Math.fround(x - 1)));
  expect(shared).toEqual(values(64, 3));
  // A gradient over the variable's own array: read as it was, not as the step rewrites it.
  const own = a.dataSync(), before = own.slice();
  const g = tf.tensor1d(own);
  optimizer.applyGradients({ 'one-array-a': g });
  expect(Array.from(a.dataSync())).toEqual(Array.from(before, (x) => Math.fround(x - Math.fround(0.5 * x))));
  tf.dispose([a, b, g]);
});

test('on the wasm backend too (whose reads are copies, where the cpu backend lends its arrays)', async () => {
  await useWasm();
  try {
    for (const [name, make] of CONFIGS.filter(([n]) => ['momentum', 'adam', 'rmsprop momentum'].includes(n))) {
      const ours = make(train), theirs = make(tf.train);
      const a = model(), b = model();
      for (let k = 0; k < 50; k++) {
        step(theirs, a, k % 3);
        step(ours, b, k % 3);
      }
      expect(maxDifference(a.variables, b.variables), name).toBeLessThan(2e-5);
    }
  } finally {
    await tf.setBackend('cpu');
  }
});

test.skipIf(backendModule.availableIsas().length === 0)('the same bits on the fallback, at every ISA level and with the threads a 1M variable gets', () => {
  const shapes = [[1 << 20], [7, 13], [1]];
  const grads = [0, 1, 2].map((k) => shapes.map((shape, i) => tf.tensor(values(shape.reduce((a, b) => a * b, 1), 100 + 10 * k + i), shape)));
  const run = (make: Maker) => {
    const optimizer = make(train);
    const variables = shapes.map((shape, i) => tf.variable(tf.tensor(values(shape.reduce((a, b) => a * b, 1), 40 + i), shape)));
    for (const step of grads) optimizer.applyGradients(step.map((tensor, i) => ({ name: variables[i]!.name, tensor })));
    const bits = variables.map((v) => new Uint32Array(v.dataSync().slice().buffer));
    tf.dispose(variables);
    optimizer.dispose();
    return bits;
  };
  // A 1M Adam step moves 36 MB: 'auto' splits it over 2 threads on a machine that has them.
  expect(backendModule.threadsFor('auto', (1 << 20) * backendModule.trafficPerElement(5))).toBe(Math.min(2, backendModule.availableThreads));
  try {
    for (const [name, make] of CONFIGS) {
      backendModule.useBackend('js');
      const reference = run(make);
      for (const level of backendModule.availableIsas()) {
        backendModule.useBackend('native', level);
        run(make).forEach((bits, i) => {
          const first = bits.findIndex((b, e) => b !== reference[i]![e]); // toEqual on 1M elements takes a minute
          expect(first, `${name} on ${level}, tensor ${i}: first differing element`).toBe(-1);
        });
      }
    }
  } finally {
    backendModule.useBackend('native');
    tf.dispose(grads.flat());
  }
});
