// The benchmark's model rows: what a step costs for the shapes real models have, many tensors
// rather than one, through the public API (Adam, 'auto' threads, the native backend at its best
// level and the fallback).
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

const BACKENDS = ['native', 'js'];
const backendLabel = (backend, bestLevel) => (backend === 'native' ? `native ${bestLevel}` : 'js fallback');
const elementsOf = (model) => model.lengths.reduce((a, b) => a + b, 0);

/**
 * The model rows as measurements, sampled in rounds with the rest (table 'models', one series per
 * model and backend): Adam with 'auto' threads through the public API. They come first in each
 * round's process, so the 1-element row has seen Adam only and the row after it every kind.
 */
export function modelMeasurements({ simd, useBackend, bestLevel, sizeLabel }) {
  const list = [];
  for (const backend of BACKENDS) {
    for (const model of MODELS) {
      const elements = elementsOf(model), series = `${model.name} · ${backendLabel(backend, bestLevel)}`;
      list.push({
        key: `models|${series}|${sizeLabel(elements)}`, table: 'models', series, kind: 'package', elements,
        prepare: () => {
          if (model.everyKindFirst) stepEveryKind(simd);
          backend === 'native' ? useBackend('native', bestLevel) : useBackend('js');
          const params = tensors(model.lengths, model.views);
          const grads = tensors(model.lengths, model.views).map((g) => g.fill(1e-3));
          const opt = new simd.Adam(params);
          return () => opt.step(grads);
        },
      });
    }
  }
  return list;
}

/**
 * Prints the models table from the rows' medians. Returns the figures the targets read, by key
 * `models|<name>|<backend>`: { stepNs, nsPerElement, perTensorNs }. "per tensor", for the models of
 * 640,000 elements, is the step's time beyond what one tensor of 640,000 costs, divided by the
 * number of tensors: the per-tensor overhead.
 */
export function printModels({ rows, median, bestLevel, sizeLabel, fmt }) {
  const results = {}, lines = [];
  for (const backend of BACKENDS) {
    const nsOf = (model) => {
      const row = rows[`models|${model.name} · ${backendLabel(backend, bestLevel)}|${sizeLabel(elementsOf(model))}`];
      return row ? median(row.samples) : null;
    };
    const oneTensorNsPerElement = nsOf(MODELS[0]);
    for (const model of MODELS) {
      const nsPerElement = nsOf(model);
      if (nsPerElement === null) continue;
      const elements = elementsOf(model), stepNs = nsPerElement * elements;
      // Only against the same number of elements: a larger model is also further out of cache.
      const perTensorNs = model.lengths.length > 1 && elements === MODELS[0].lengths[0] && oneTensorNsPerElement !== null
        ? (stepNs - oneTensorNsPerElement * elements) / model.lengths.length : null;
      results[`models|${model.name}|${backend}`] = { stepNs, nsPerElement, perTensorNs };
      lines.push(`| ${model.name} | ${backendLabel(backend, bestLevel)} | ${fmt(stepNs / 1000, 1)} µs | ${fmt(nsPerElement, 3)} ns | ${perTensorNs === null ? '' : `${fmt(perTensorNs, 0)} ns`} |`);
    }
  }
  if (lines.length === 0) return results;
  console.log("## Models: Adam, 'auto' threads\n");
  console.log('| model | backend | per step | per element | per tensor (beyond one tensor of 640,000) |\n|---|---|---|---|---|');
  for (const line of lines) console.log(line);
  console.log('');
  return results;
}
