// The lecture notes' figures on gradient descent, drawn from runs of this package's optimizers and
// schedulers, as SVG files:
//   - trajectories of SGD, SGD with momentum, SGD with Nesterov momentum, Adagrad, RMSprop,
//     Adadelta and Adam over the contour lines of four 2-D functions: an elongated quadratic bowl,
//     Rosenbrock's valley, Beale's function and a saddle (who escapes it, who stays);
//   - gradient descent's loss with a learning rate too small, about right, too large and far too
//     large;
//   - the learning rate along four decay schedules (StepLR, InverseTimeLR, InverseSqrtLR,
//     ExponentialLR).
// Every optimizer steps a Float32Array of two parameters with the exact (analytic) gradient. The
// script prints where each run ended, and writes docs/figures/*.svg (or into --out DIR).
//
//   node examples/lecture-figures.mjs [--out DIR]    (a second or two)
import { mkdirSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

import * as vega from 'vega';
import * as vegaLite from 'vega-lite';
import {
  Adadelta, Adagrad, Adam, ExponentialLR, InverseSqrtLR, InverseTimeLR, RMSprop, SGD, StepLR,
} from 'simd-optim';

import { contourLines } from './lib/contours.mjs';

const { values: args } = parseArgs({ options: { out: { type: 'string' } } });
const OUT_DIR = args.out ?? fileURLToPath(new URL('../docs/figures/', import.meta.url));

// One colour per optimizer (d3's category10, in this order), the same in every figure, and a line
// width: paths drawn later cover earlier ones (SGD's three variants share their first steps on the
// saddle, the adaptive methods often share a path), so the earlier of such a group is drawn wider.
const OPTIMIZERS = [
  { name: 'SGD', colour: '#1f77b4', width: 2.8, create: (params, lr) => new SGD(params, { lr }) },
  { name: 'SGD+momentum', colour: '#ff7f0e', width: 2.2, create: (params, lr) => new SGD(params, { lr, momentum: 0.9 }) },
  { name: 'SGD+Nesterov', colour: '#2ca02c', width: 1.6, create: (params, lr) => new SGD(params, { lr, momentum: 0.9, nesterov: true }) },
  { name: 'Adagrad', colour: '#d62728', width: 3.4, create: (params, lr) => new Adagrad(params, { lr }) },
  { name: 'RMSprop', colour: '#9467bd', width: 2.4, create: (params, lr) => new RMSprop(params, { lr }) },
  { name: 'Adadelta', colour: '#8c564b', width: 2, create: (params, lr) => new Adadelta(params, { lr }) },
  { name: 'Adam', colour: '#e377c2', width: 1.5, create: (params, lr) => new Adam(params, { lr }) },
];

const range = (from, to, by) => Array.from({ length: Math.round((to - from) / by) + 1 }, (_, k) => from + k * by);

// The surfaces. Each has its function and gradient (computed in float64 from the float32
// parameters), a start, a number of steps, a learning rate per optimizer, the region drawn
// (the aspect ratio of width to height is that of the region, so that angles are true), and the
// levels of its contour lines. The rates are chosen for what each figure is meant to show, and
// are not tuned to make any optimizer win.
const SURFACES = [
  {
    // Condition number 25: the curvature across the valley (y) is 25 times that along it (x).
    // Plain gradient descent must keep lr below 2/25 = 0.08 to be stable across, which makes it
    // crawl along; at 0.07 it zigzags across the valley first. Momentum (lr 0.01, beta 0.9, an
    // effective rate of 0.1 once it has built up) overshoots along the valley. The adaptive
    // methods scale each coordinate by its own gradient history and head straight for the middle.
    // Adadelta keeps its default rate 1 on every surface (it is meant to need no tuning): its
    // steps start near sqrt(eps) = 1e-3, whatever the gradient, and grow slowly, so here it has
    // covered a tenth of the way after 150 steps. Larger rates make it arrive sooner, but then it
    // bounces across the valley ever wider (lr 50: |y| = 0.14 at step 150, 0.75 at step 1000):
    // near the minimum its step is about lr times the gradient, unstable across it for lr > 0.08.
    name: 'quadratic', title: 'An elongated bowl: f(x, y) = ½ (x² + 25 y²)',
    f: (x, y) => 0.5 * (x * x + 25 * y * y),
    gradient: (x, y) => [x, 25 * y],
    minimum: [0, 0], start: [-9, 3], steps: 150,
    lr: { SGD: 0.07, 'SGD+momentum': 0.01, 'SGD+Nesterov': 0.01, Adagrad: 1.5, RMSprop: 0.1, Adadelta: 1, Adam: 0.3 },
    view: { x: [-10, 4], y: [-3.5, 3.5], width: 600 }, labels: { start: 'above right', target: 'below right' },
    // Ellipses x² + 25 y² = r² for r = 2, 4, ..., 20: equally spaced along the x axis.
    contours: { levels: range(2, 20, 2).map((r) => 0.5 * r * r), describe: 'contours: x² + 25 y² = r², r = 2, 4, …, 20' },
  },
  {
    // The classic start (-1.2, 1). The valley floor is curved and its walls are steep (curvature
    // up to about 1000 near the minimum), so SGD must stay near lr 0.001 and is slow along the
    // floor; momentum at half that rate zigzags down a wall, then runs along the floor. Adagrad's
    // first step is lr in each coordinate whatever the gradient (it divides the gradient by its
    // own size), hence its jump up and back. Adadelta at its default rate 1 gets to about
    // (0.65, 0.45) by step 1000, then bounces from wall to wall (a two-step cycle) and gets no
    // further.
    name: 'rosenbrock', title: "Rosenbrock's valley: f(x, y) = (1 − x)² + 100 (y − x²)²",
    f: (x, y) => (1 - x) ** 2 + 100 * (y - x * x) ** 2,
    gradient: (x, y) => [-2 * (1 - x) - 400 * x * (y - x * x), 200 * (y - x * x)],
    minimum: [1, 1], start: [-1.2, 1], steps: 3000,
    lr: { SGD: 0.001, 'SGD+momentum': 0.0005, 'SGD+Nesterov': 0.0005, Adagrad: 0.5, RMSprop: 0.005, Adadelta: 1, Adam: 0.02 },
    view: { x: [-1.5, 1.5], y: [-0.5, 1.75], width: 560 }, labels: { start: 'below left', target: 'above right' },
    // f spans 0 to about 900 here: lines at f = 10^k for k = -1, -0.5, ..., 3, drawn on log10 f.
    contours: { logarithmic: true, levels: range(-1, 3, 0.5), describe: 'contours: f = 0.1, 0.32, 1, 3.2, …, 1000' },
  },
  {
    // From (-3, -1), the steepest way down leads into the flat valley that runs off to the upper
    // left (f falls slowly towards 0.45 as x goes to minus infinity, y to 1): SGD, both momentum
    // variants and Adadelta follow the gradient into it and stay. Adagrad, RMSprop and Adam scale
    // the coordinates separately, take a more direct path and reach the minimum at (3, 0.5).
    name: 'beale', title: "Beale's function: (1.5 − x + xy)² + (2.25 − x + xy²)² + (2.625 − x + xy³)²",
    f: (x, y) => (1.5 - x + x * y) ** 2 + (2.25 - x + x * y * y) ** 2 + (2.625 - x + x * y ** 3) ** 2,
    gradient: (x, y) => {
      const [a, b, c] = [1.5 - x + x * y, 2.25 - x + x * y * y, 2.625 - x + x * y ** 3];
      return [2 * (a * (y - 1) + b * (y * y - 1) + c * (y ** 3 - 1)), 2 * x * (a + 2 * b * y + 3 * c * y * y)];
    },
    minimum: [3, 0.5], start: [-3, -1], steps: 3000,
    lr: { SGD: 0.001, 'SGD+momentum': 0.0005, 'SGD+Nesterov': 0.0005, Adagrad: 0.5, RMSprop: 0.01, Adadelta: 1, Adam: 0.05 },
    // The usual square [-4.5, 4.5]² less its lower half, where no path goes.
    view: { x: [-4.5, 4.5], y: [-2, 2.5], width: 600 }, labels: { start: 'below right', target: 'above left' },
    contours: { logarithmic: true, levels: range(-1, 5, 0.5), describe: 'contours: f = 0.1, 0.32, 1, 3.2, …, 10⁵' },
  },
  {
    // f = x² − y² has a saddle at the origin: downhill along x towards it, then away along y. The
    // start is 0.001 off the x axis, so the gradient's y part starts tiny and grows only as
    // y (1 + 2 lr)^t under plain gradient descent: at lr 0.01, SGD needs about 350 steps to reach
    // |y| = 1 and is still at the saddle after 100. Momentum at the same lr, once built up,
    // grows y by about 10% a step instead of 2%; the adaptive methods divide the tiny gradient by
    // its own size and move away at their full step size at once. A run has escaped once |y| > 1.
    name: 'saddle', title: 'A saddle: f(x, y) = x² − y²',
    f: (x, y) => x * x - y * y,
    gradient: (x, y) => [2 * x, -2 * y],
    saddle: [0, 0], start: [1, 0.001], steps: 100, escapedAt: 1,
    lr: { SGD: 0.01, 'SGD+momentum': 0.01, 'SGD+Nesterov': 0.01, Adagrad: 0.1, RMSprop: 0.01, Adadelta: 1, Adam: 0.02 },
    view: { x: [-1.5, 1.5], y: [-1.5, 1.5], width: 440 }, labels: { start: 'below right', target: 'below left' },
    contours: { levels: range(-2, 2, 0.25), describe: 'contours: f = −2, −1.75, …, 2' },
  },
];

/** Runs an optimizer made by `create` for `steps` steps from `start`; returns every point passed. */
function descend({ gradient, start, steps }, create) {
  const point = Float32Array.from(start), grad = new Float32Array(2);
  const optimizer = create([point]);
  const path = [[point[0], point[1]]];
  for (let step = 1; step <= steps; step++) {
    grad.set(gradient(point[0], point[1]));
    optimizer.step([grad]);
    path.push([point[0], point[1]]);
  }
  return path;
}

const inView = ({ x, y }, [px, py]) => px >= x[0] && px <= x[1] && py >= y[0] && py <= y[1];

/**
 * The points of a polyline worth drawing (Ramer-Douglas-Peucker): the fewest that keep every
 * dropped point within `tolerance` pixels of the line drawn. 3,000 steps crawling along a valley,
 * or a contour sampled finer than the screen, would otherwise fill the SVG with invisible detail.
 */
function simplify(points, [pixelsPerX, pixelsPerY], tolerance) {
  const keep = new Uint8Array(points.length);
  keep[0] = keep[points.length - 1] = 1;
  const pixels = ({ x, y }) => [x * pixelsPerX, y * pixelsPerY];
  for (const pending = [[0, points.length - 1]]; pending.length > 0;) {
    const [first, last] = pending.pop();
    const [ax, ay] = pixels(points[first]), [bx, by] = pixels(points[last]);
    const [dx, dy] = [bx - ax, by - ay], lengthSquared = dx * dx + dy * dy;
    let farthest = -1, farthestDistance = tolerance;
    for (let k = first + 1; k < last; k++) {
      // The distance to the segment, not to its line: a path may double back along itself.
      const [px, py] = pixels(points[k]).map((v, axis) => v - [ax, ay][axis]);
      const t = lengthSquared > 0 ? Math.min(1, Math.max(0, (px * dx + py * dy) / lengthSquared)) : 0;
      const distance = Math.hypot(px - t * dx, py - t * dy);
      if (distance > farthestDistance) [farthest, farthestDistance] = [k, distance];
    }
    if (farthest >= 0) {
      keep[farthest] = 1;
      pending.push([first, farthest], [farthest, last]);
    }
  }
  return points.filter((_, k) => keep[k]);
}

/**
 * A path as points to draw: each with its step, up to the first point outside the view (an
 * escaped run's later points can be astronomically far; the line to that first point is drawn
 * clipped at the plot's edge), simplified to a quarter of a pixel.
 */
function drawablePath(path, view, scale) {
  const leaves = path.findIndex((point) => !inView(view, point));
  const points = (leaves < 0 ? path : path.slice(0, leaves + 1)).map(([x, y], step) => ({ step, x, y }));
  return simplify(points, scale, 0.25);
}

/** A number for the summary table: fixed point where that reads well, else scientific. */
function formatNumber(value) {
  if (value === 0 || (Math.abs(value) >= 1e-3 && Math.abs(value) < 1e4)) return value.toFixed(4);
  return value.toExponential(2);
}

/** Prints rows of cells, the first column left-aligned, the others right-aligned. */
function printTable(rows) {
  const widths = rows[0].map((_, c) => Math.max(...rows.map((row) => row[c].length)));
  for (const row of rows) console.log(`  ${row.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]) : cell.padStart(widths[c]))).join('  ')}`);
}

/** Renders a vega-lite spec to SVG headless and writes it; returns the file's path. */
async function writeSvg(fileName, spec) {
  const view = new vega.View(vega.parse(vegaLite.compile({ $schema: 'https://vega.github.io/schema/vega-lite/v6.json', ...spec }).spec), { renderer: 'none' });
  await view.runAsync();
  vega.resetSVGDefIds();  // clip-path ids restart at 0: the same runs give the same bytes
  const svg = await view.toSVG();
  view.finalize();
  const file = path.join(OUT_DIR, fileName);
  writeFileSync(file, svg);
  return file;
}

// A five-pointed star (an SVG path in vega's unit square) to mark a minimum.
const STAR = 'M0,-1L0.225,-0.309L0.951,-0.309L0.363,0.118L0.588,0.809L0,0.382L-0.588,0.809L-0.363,0.118L-0.951,-0.309L-0.225,-0.309Z';

// Where a marker's label goes: beside it, above or below, to whichever side the paths leave free.
const LABEL_PLACES = {
  'above right': { align: 'left', dx: 8, dy: -9 },
  'above left': { align: 'right', dx: -8, dy: -9 },
  'below right': { align: 'left', dx: 8, dy: 12 },
  'below left': { align: 'right', dx: -8, dy: 12 },
};

/**
 * A marker with a label beside it (the start, the minimum, the saddle point), as layers: the
 * label is drawn twice, a thick white outline under the black text, so that it stays legible
 * where a path runs behind it.
 */
function labelledMarker([x, y], label, mark, place) {
  const text = { type: 'text', fontSize: 11, clip: true, ...LABEL_PLACES[place] };
  return [
    { data: { values: [{ x, y }] }, mark: { type: 'point', color: 'black', opacity: 1, clip: true, ...mark } },
    ...[{ stroke: 'white', strokeWidth: 3, strokeJoin: 'round' }, { fill: 'black' }].map((paint) => (
      { data: { values: [{ x, y, label }] }, mark: { ...text, ...paint }, encoding: { text: { field: 'label' } } })),
  ];
}

mkdirSync(OUT_DIR, { recursive: true });
const written = [];

// ---------------------------------------------------------------------------------------------
// 1. Trajectories over contour lines, one figure per surface.

for (const surface of SURFACES) {
  const { view } = surface;
  const height = Math.round((view.width * (view.y[1] - view.y[0])) / (view.x[1] - view.x[0]));
  // Contours of log10 f where f spans decades; marching squares interpolates linearly, which
  // follows log f far better than f there. f is clamped away from 0 so the log stays finite.
  const contourValue = surface.contours.logarithmic ? (x, y) => Math.log10(Math.max(surface.f(x, y), 1e-12)) : surface.f;
  const scale = [view.width / (view.x[1] - view.x[0]), height / (view.y[1] - view.y[0])];  // pixels per unit
  const contourPoints = contourLines(contourValue, { ...view, cells: 300 }, surface.contours.levels)
    .flatMap(({ points }, line) => simplify(points.map(([x, y]) => ({ x, y })), scale, 0.25).map((point, order) => ({ line, order, ...point })));

  const trajectoryPoints = [], finalPoints = [], rows = [], stayed = [];
  for (const { name, width, create } of OPTIMIZERS) {
    const lr = surface.lr[name];
    const path = descend(surface, (params) => create(params, lr));
    trajectoryPoints.push(...drawablePath(path, view, scale).map((point) => ({ optimizer: name, width, ...point })));
    const [x, y] = path.at(-1);
    finalPoints.push({ optimizer: name, x, y });
    const row = [name, String(lr), formatNumber(x), formatNumber(y), formatNumber(surface.f(x, y))];
    if (surface.minimum) row.push(formatNumber(Math.hypot(x - surface.minimum[0], y - surface.minimum[1])));
    else {
      const escapeStep = path.findIndex(([, py]) => Math.abs(py) > surface.escapedAt);
      row.push(escapeStep < 0 ? 'no' : `at step ${escapeStep}`);
      if (escapeStep < 0) stayed.push(name);
    }
    rows.push(row);
  }

  const target = surface.minimum ? [surface.minimum, `minimum (${surface.minimum.join(', ')})`] : [surface.saddle, 'saddle point'];
  console.log(`${surface.name}: ${surface.title}; from (${surface.start.join(', ')}), ${surface.steps} steps`);
  printTable([['optimizer', 'lr', 'final x', 'final y', 'final f', surface.minimum ? 'distance to minimum' : `escaped (|y| > ${surface.escapedAt})`], ...rows]);
  console.log('');

  const legendLabels = Object.fromEntries(OPTIMIZERS.map(({ name }) => [name, `${name}, lr ${surface.lr[name]}`]));
  const axis = (field, domain) => ({ field, type: 'quantitative', title: field, scale: { domain, nice: false, zero: false }, axis: { grid: false } });
  const position = { x: axis('x', view.x), y: axis('y', view.y) };
  written.push(await writeSvg(`trajectories-${surface.name}.svg`, {
    title: {
      text: surface.title, anchor: 'start',
      subtitle: [`${surface.steps} steps of each optimizer from (${surface.start.join(', ')}); a dot marks where it ended`,
        `momentum 0.9, other options PyTorch's defaults; grey ${surface.contours.describe}`,
        ...(surface.minimum ? [] : [stayed.length > 0
          ? `still near the saddle after ${surface.steps} steps: ${stayed.join(', ')}; the others escaped (|y| > ${surface.escapedAt})`
          : `every optimizer escaped (|y| > ${surface.escapedAt})`])],
    },
    width: view.width, height,
    encoding: position,
    layer: [
      { data: { values: contourPoints }, mark: { type: 'line', color: '#c8c8c8', strokeWidth: 0.8, clip: true, aria: false },
        encoding: { detail: { field: 'line' }, order: { field: 'order' } } },
      { data: { values: trajectoryPoints }, mark: { type: 'line', clip: true },
        encoding: {
          color: { field: 'optimizer', type: 'nominal', title: 'optimizer', scale: { domain: OPTIMIZERS.map((o) => o.name), range: OPTIMIZERS.map((o) => o.colour) },
            legend: { labelExpr: `${JSON.stringify(legendLabels)}[datum.label]`, labelLimit: 200 } },
          // Widest first: where paths coincide, the ones drawn earlier still show as a border.
          strokeWidth: { field: 'width', type: 'quantitative', scale: null },
          order: { field: 'step' },
        } },
      { data: { values: finalPoints }, mark: { type: 'point', filled: true, size: 45, opacity: 1, clip: true },
        encoding: { color: { field: 'optimizer', type: 'nominal' } } },
      ...labelledMarker(surface.start, 'start', { shape: 'circle', filled: false, size: 70, strokeWidth: 1.5 }, surface.labels.start),
      ...labelledMarker(target[0], target[1], { shape: surface.minimum ? STAR : 'diamond', filled: true, size: 160 }, surface.labels.target),
    ],
    config: { legend: { orient: 'right' } },
  }));
}

// ---------------------------------------------------------------------------------------------
// 2. The learning rate of plain gradient descent (SGD without momentum) on the quadratic bowl.
// Its curvatures are 1 along x and 25 along y, and on a quadratic each coordinate is multiplied
// by (1 - lr * curvature) per step: stable only while lr < 2/25 = 0.08 (the steepest direction
// sets the limit). The rate that shrinks both coordinates equally fast, 2 / (1 + 25) ≈ 0.077, is
// about right; 0.01 is stable but shrinks x by only 1% a step; 0.079 is stable but y flips sign
// each step and shrinks by only 2.5%; 0.085 makes y grow by 12.5% a step: divergence.

const BOWL = SURFACES[0];
const LR_STEPS = 80;
const LOSS_CEILING = 1e5;  // the y axis ends here; a diverging run is drawn up to it and marked
const LEARNING_RATES = [
  { lr: 0.01, verdict: 'too small' },
  { lr: 0.077, verdict: 'about right' },
  { lr: 0.079, verdict: 'too large' },
  { lr: 0.085, verdict: 'far too large' },
];
const lrPoints = [], lrMarks = [], lrRows = [];
for (const { lr, verdict } of LEARNING_RATES) {
  const series = `lr ${lr}: ${verdict}`;
  const losses = descend({ ...BOWL, steps: LR_STEPS }, (params) => new SGD(params, { lr })).map(([x, y]) => BOWL.f(x, y));
  const crossesCeiling = losses.findIndex((loss) => loss > LOSS_CEILING);
  // A diverging run stops at its first point above the ceiling: the line leaves the plot there.
  const drawn = crossesCeiling < 0 ? losses : losses.slice(0, crossesCeiling + 1);
  lrPoints.push(...drawn.map((loss, step) => ({ series, step, loss })));
  if (crossesCeiling >= 0) lrMarks.push({ series, step: crossesCeiling, loss: LOSS_CEILING, label: `diverges (loss > 10⁵ at step ${crossesCeiling})` });
  lrRows.push([series, formatNumber(losses[10]), formatNumber(losses[40]), formatNumber(losses[LR_STEPS]), crossesCeiling < 0 ? 'no' : `at step ${crossesCeiling}`]);
}
console.log(`learning rates: SGD on f(x, y) = ½ (x² + 25 y²) from (${BOWL.start.join(', ')}), loss ${formatNumber(BOWL.f(...BOWL.start))} at step 0`);
printTable([['run', 'loss at 10', 'loss at 40', `loss at ${LR_STEPS}`, 'diverged'], ...lrRows]);
console.log('');

const lrSeries = LEARNING_RATES.map(({ lr, verdict }) => `lr ${lr}: ${verdict}`);
const lrColour = { field: 'series', type: 'nominal', title: 'learning rate', sort: lrSeries, scale: { domain: lrSeries, range: ['#1f77b4', '#2ca02c', '#ff7f0e', '#d62728'] }, legend: { labelLimit: 300 } };
written.push(await writeSvg('learning-rates.svg', {
  title: {
    text: 'Gradient descent with a learning rate too small, about right, too large and far too large', anchor: 'start',
    subtitle: [`SGD on f(x, y) = ½ (x² + 25 y²) from (${BOWL.start.join(', ')}): stable only for lr < 2/25 = 0.08, fastest at 2/(1 + 25) ≈ 0.077`,
      'too small crawls along x; too large zigzags across y, each step undoing most of the last; log-scale loss'],
  },
  width: 560, height: 320,
  layer: [
    { data: { values: lrPoints }, mark: { type: 'line', strokeWidth: 1.8, clip: true },
      encoding: {
        x: { field: 'step', type: 'quantitative', title: 'step', scale: { domain: [0, LR_STEPS], nice: false } },
        y: { field: 'loss', type: 'quantitative', title: 'loss f(x, y)', scale: { type: 'log', domain: [1e-5, LOSS_CEILING], nice: false } },
        color: lrColour,
      } },
    { data: { values: lrMarks }, mark: { type: 'text', align: 'left', dx: 6, dy: 12, fontSize: 11 },
      encoding: { x: { field: 'step', type: 'quantitative' }, y: { field: 'loss', type: 'quantitative' }, text: { field: 'label' }, color: lrColour } },
  ],
}));

// ---------------------------------------------------------------------------------------------
// 3. Decay schedules. A scheduler sets the lr of an optimizer's parameter groups; here each one
// gets an optimizer of its own (an SGD over one unused parameter) that only carries that lr, and
// the rate is read after every scheduler.step(), as a training loop would see it.

const BASE_LR = 0.1, SCHEDULE_STEPS = 100;
const SCHEDULES = [
  { name: 'StepLR: halved every 30 steps', create: (optimizer) => new StepLR(optimizer, { stepSize: 30, gamma: 0.5 }) },
  { name: 'InverseTimeLR: 0.1 / (1 + 0.1 t)', create: (optimizer) => new InverseTimeLR(optimizer, { k: 0.1 }) },
  { name: 'InverseSqrtLR: 0.1 / √(t + 1)', create: (optimizer) => new InverseSqrtLR(optimizer) },
  { name: 'ExponentialLR: 0.1 · 0.97ᵗ', create: (optimizer) => new ExponentialLR(optimizer, { gamma: 0.97 }) },
];
const schedulePoints = [], scheduleRows = [];
const REPORT_STEPS = [0, 1, 10, 29, 30, 99];
for (const { name, create } of SCHEDULES) {
  const optimizer = new SGD([new Float32Array(1)], { lr: BASE_LR });
  const scheduler = create(optimizer);
  const rates = [];
  for (let step = 0; step < SCHEDULE_STEPS; step++) {
    rates.push(optimizer.paramGroups[0].lr);  // the rate step `step` trains with
    scheduler.step();
  }
  schedulePoints.push(...rates.map((lr, step) => ({ schedule: name, step, lr })));
  scheduleRows.push([name.split(':')[0], ...REPORT_STEPS.map((step) => rates[step].toPrecision(4))]);
}
console.log(`schedules: lr at step t, from ${BASE_LR}`);
printTable([['schedule', ...REPORT_STEPS.map((step) => `t = ${step}`)], ...scheduleRows]);

written.push(await writeSvg('schedules.svg', {
  title: { text: 'Learning-rate decay schedules', anchor: 'start', subtitle: `the lr each step trains with, from ${BASE_LR}, read from the package's schedulers after each scheduler.step()` },
  width: 560, height: 300,
  data: { values: schedulePoints },
  mark: { type: 'line', strokeWidth: 1.8 },
  encoding: {
    x: { field: 'step', type: 'quantitative', title: 'step t', scale: { domain: [0, SCHEDULE_STEPS], nice: false } },
    y: { field: 'lr', type: 'quantitative', title: 'learning rate', scale: { domain: [0, BASE_LR] } },
    color: { field: 'schedule', type: 'nominal', title: 'schedule', sort: SCHEDULES.map((s) => s.name), scale: { range: ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728'] } },
  },
  config: { legend: { orient: 'top-right', labelLimit: 300 } },
}));

console.log(`\n${written.length} figures: ${written.map((file) => path.relative(process.cwd(), file)).join(', ')}`);
