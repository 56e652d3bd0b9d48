// The benchmark's model rows: what a step costs for the shapes real models have, many tensors
// rather than one, through the public API (Adam, 'auto' threads, the native backend at its best
// level and the fallback). "per tensor", for the models of 640,000 elements, is the step's time
// beyond what one tensor of 640,000 costs, divided by the number of tensors: the per-tensor overhead.
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

import { measure } from './measure.mjs';

/** Tensors of the given lengths: separate arrays, or views of one ArrayBuffer (params and grads each). */
function tensors(lengths, views) {
  if (!views) return lengths.map((n) => new Float32Array(n).fill(0.5));
  const total = lengths.reduce((a, b) => a + b, 0);
  const buffer = new Float32Array(total).fill(0.5).buffer;
  let offset = 0;
  return lengths.map((n) => {
    const view = new Float32Array(buffer, 4 * offset, n);
    offset += n;
    return view;
  });
}

/** Transformer-like shapes: d = 256, 12 layers (attention and MLP weights and biases), two norms. */
function transformerShapes() {
  const d = 256, shapes = [];
  for (let layer = 0; layer < 12; layer++) {
    for (let k = 0; k < 4; k++) shapes.push(d * d, d);
    shapes.push(d * 4 * d, 4 * d, 4 * d * d, d);
  }
  shapes.push(d, d);
  return shapes;
}

export const MODELS = [
  { name: 'one tensor of 640,000', lengths: [640000] },
  { name: '10,000 × 64, views of one ArrayBuffer', lengths: new Array(10000).fill(64), views: true },
  { name: '10,000 × 64, separate arrays', lengths: new Array(10000).fill(64) },
  { name: 'MLP 784-256-128-10 (6 tensors)', lengths: [784 * 256, 256, 256 * 128, 128, 128 * 10, 10] },
  { name: `transformer shapes (${transformerShapes().length} tensors, ${(transformerShapes().reduce((a, b) => a + b) / 1e6).toFixed(1)}M)`, lengths: transformerShapes() },
  { name: 'one tensor of 1 element', lengths: [1] },
  // What a process that compares optimizers sees: the same step once every kind has stepped.
  { name: 'one tensor of 1 element, every optimizer kind stepped first', lengths: [1], everyKindFirst: true },
];

/** Steps every other optimizer kind a few hundred times, as a process comparing them would. */
function stepEveryKind(simd) {
  const kinds = [[simd.AdamW], [simd.SGD, { momentum: 0.9 }], [simd.RMSprop], [simd.Adagrad], [simd.Adadelta], [simd.Adamax], [simd.NAdam], [simd.RAdam], [simd.Lion]];
  for (const [Kind, options] of kinds) {
    const opt = new Kind([new Float32Array(64).fill(0.5)], options);
    const grads = [new Float32Array(64).fill(1e-3)];
    for (let i = 0; i < 300; i++) opt.step(grads);
  }
}

/** Prints the table; returns results by key `models|<name>|<backend>` ({ stepNs, nsPerElement, perTensorNs }). */
export function benchModels({ simd, useBackend, bestLevel, fmt }) {
  const results = {};
  const rows = [];
  for (const backend of ['native', 'js']) {
    backend === 'native' ? useBackend('native', bestLevel) : useBackend('js');
    let oneTensorNsPerElement = 0;
    for (const model of MODELS) {
      const params = tensors(model.lengths, model.views);
      const grads = tensors(model.lengths, model.views).map((g) => g.fill(1e-3));
      const elements = model.lengths.reduce((a, b) => a + b, 0);
      if (model.everyKindFirst) stepEveryKind(simd);
      const opt = new simd.Adam(params);
      const nsPerElement = measure(() => opt.step(grads), elements);
      if (model === MODELS[0]) oneTensorNsPerElement = nsPerElement;
      const stepNs = nsPerElement * elements;
      // Only against the same number of elements: a larger model is also further out of cache.
      const perTensorNs = model.lengths.length > 1 && elements === MODELS[0].lengths[0] ? (stepNs - oneTensorNsPerElement * elements) / model.lengths.length : null;
      results[`models|${model.name}|${backend}`] = { stepNs, nsPerElement, perTensorNs };
      rows.push(`| ${model.name} | ${backend === 'native' ? `native ${bestLevel}` : 'js fallback'} | ${fmt(stepNs / 1000, 1)} µs | ${fmt(nsPerElement, 3)} ns | ${perTensorNs === null ? '' : `${fmt(perTensorNs, 0)} ns`} |`);
    }
  }
  useBackend('native', bestLevel);
  console.log("## Models: Adam, 'auto' threads\n");
  console.log('| model | backend | per step | per element | per tensor (beyond one tensor of 640,000) |\n|---|---|---|---|---|');
  for (const row of rows) console.log(row);
  console.log('');
  return results;
}

/**
 * The model rows measured in a fresh process, where only the last row has seen the other
 * optimizer kinds: what V8 has learnt from the rest of the bench would otherwise be part of every
 * figure. (Before the step moved to one class, lib/optimizers/step-engine.ts, a 1-element Adam
 * step took 260 ns fresh and 470 ns once every kind had stepped.) Prints the table; returns the
 * results.
 */
export function benchModelsInChild(bestLevel) {
  const run = spawnSync(process.execPath, [fileURLToPath(import.meta.url), '--child', bestLevel], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  if (run.status !== 0) throw new Error(`bench/models.mjs exited with ${run.status}`);
  const lines = run.stdout.trimEnd().split('\n');
  console.log(lines.slice(0, -1).join('\n'));
  return JSON.parse(lines.at(-1));
}

if (process.argv[1] === fileURLToPath(import.meta.url) && process.argv[2] === '--child') {
  const require = createRequire(import.meta.url);
  const simd = require('../dist/index.js');
  const { useBackend } = require('../dist/bridge/backend.js');
  const fmt = (x, digits = 2) => (x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(digits));
  const results = benchModels({ simd, useBackend, bestLevel: process.argv[3], fmt });
  console.log(JSON.stringify(results));
}
