// Writes cases.bin for harness.cc: inputs for every kernel and flag combination, with the outputs
// the TypeScript specification (the js fallback kernels) computes from them.
// Record: u32 kernelId, u32 flags, u32 length, u32 slots, u32 scalarCount, u32 presentMask,
//         f32 scalars[scalarCount], f32 inputs[slots][length] (absent slots: zeros), then
//         f32 expected[slots][length].
// Reductions (id 1000 + ReduceId) and StandardScaler's passes (2000 standardize, 2001
// unstandardize: columns in the flags word; 2002 slotMoments: slots in the flags word) are laid
// out as written below.
import { writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const dist = new URL('../../dist/', import.meta.url).pathname;
const { adamKernelJs } = require(dist + 'optimizers/adam.js');
const { adagradKernelJs } = require(dist + 'optimizers/adagrad.js');
const { rmspropKernelJs } = require(dist + 'optimizers/rmsprop.js');
const { sgdKernelJs } = require(dist + 'optimizers/sgd.js');
const { adadeltaKernelJs } = require(dist + 'optimizers/adadelta.js');
const { adamaxKernelJs } = require(dist + 'optimizers/adamax.js');
const { nadamKernelJs } = require(dist + 'optimizers/nadam.js');
const { radamKernelJs } = require(dist + 'optimizers/radam.js');
const { lionKernelJs } = require(dist + 'optimizers/lion.js');
const { swatsKernelJs } = require(dist + 'optimizers/swats.js');
const G = require(dist + 'optimizers/gradients.js');
const S = require(dist + 'preprocessing/standard-scaler.js');
const { fmaf } = require(dist + 'core/float32.js');
const K = require(dist + 'bridge/kernels.js');

let seed = 12345;
const random = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 4294967296);
const SPECIALS = [NaN, Infinity, -Infinity, 0, -0, 3.4028234663852886e38, 1.401298464324817e-45, -1.1754942106924411e-38, 1, -1];
function values(n, wild) {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    a[i] = wild && random() < 0.15 ? SPECIALS[Math.floor(random() * SPECIALS.length)]
      : (random() < 0.5 ? -1 : 1) * 10 ** (wild ? 60 * random() - 30 : 2 * random() - 1);
  }
  return a;
}

const EPS_INSIDE = K.FLAG_EPS_INSIDE_SQRT;
const every = (bits) => Array.from({ length: 1 << bits }, (_, f) => f);
const kernels = [
  { id: K.KernelId.Adam, js: adamKernelJs, L: K.ADAM, flags: [...every(4), ...every(4).map((f) => f | EPS_INSIDE)],
    scalars: () => [0.9, 0.1, 0.999, 0.001, 0.01, 0.99999, -0.001 / (1 - 0.9 ** 3), Math.sqrt(1 - 0.999 ** 3), 1e-8, 1 - 0.999 ** 3] },
  { id: K.KernelId.Adagrad, js: adagradKernelJs, L: K.ADAGRAD, flags: [0, 1, 2, 3, EPS_INSIDE, EPS_INSIDE | 3], scalars: () => [0.1, -0.01, 1e-10] },
  { id: K.KernelId.Rmsprop, js: rmspropKernelJs, L: K.RMSPROP, flags: [...every(4), ...every(4).map((f) => f | EPS_INSIDE)],
    scalars: () => [0.99, 0.01, 0.1, 0.9, -0.01, 1e-8] },
  { id: K.KernelId.Adadelta, js: adadeltaKernelJs, L: K.ADADELTA, flags: [...every(2), ...every(2).map((f) => f | K.ADADELTA.flagPreviousSquareAvg)], scalars: () => [0.9, 0.1, 0.1, -1, 1e-6] },
  { id: K.KernelId.Adamax, js: adamaxKernelJs, L: K.ADAMAX, flags: [...every(2), ...every(2).map((f) => f | K.ADAMAX.flagEpsOutsideMax)], scalars: () => [0.9, 0.1, 0.999, 0.1, -0.002 / (1 - 0.9 ** 2), 1e-8] },
  { id: K.KernelId.Nadam, js: nadamKernelJs, L: K.NADAM, flags: every(3), scalars: () => [0.9, 0.1, 0.999, 0.001, 0.1, 0.9998, 1 - 0.999 ** 2, 1e-8, -0.02, -0.3] },
  { id: K.KernelId.Radam, js: radamKernelJs, L: K.RADAM, flags: every(4), scalars: () => [0.9, 0.1, 0.999, 0.001, 0.1, 0.9999, 1 - 0.9 ** 7, 1e-3, 1e-8, Math.sqrt(1 - 0.999 ** 7), 0.12] },
  { id: K.KernelId.Lion, js: lionKernelJs, L: K.LION, flags: [0, 1, 4, 5], scalars: () => [0.9, 0.1, 0.99, 0.01, 0.99, -1e-4] },
  // SWATS: both phases (flag 8), with maximize (1) and decoupled decay (4).
  { id: K.KernelId.Swats, js: swatsKernelJs, L: K.SWATS, flags: [0, 1, 4, 5, 8, 9, 12, 13],
    scalars: () => [0.9, 0.1, 0.999, 0.001, 0.01, 0.99999, -0.001 / (1 - 0.9 ** 3), Math.sqrt(1 - 0.999 ** 3), 1e-9, -(0.1 * 0.004)] },
  { id: K.KernelId.Sgd, js: sgdKernelJs, L: K.SGD, flags: [0, 1, 2, 4, 4 | 8, 4 | 16, 4 | 8 | 16, 7],
    scalars: () => [0.1, 0.9, 0.7, -0.01] },
];

const chunks = [];
const u32 = (...xs) => chunks.push(new Uint8Array(new Uint32Array(xs).buffer));
const f32 = (a) => chunks.push(new Uint8Array(a.buffer.slice(a.byteOffset, a.byteOffset + a.byteLength)));
let records = 0;
for (const k of kernels) {
  for (const flags of k.flags) {
    for (const n of [0, 1, 3, 4, 5, 7, 8, 15, 16, 17, 33, 1003]) {
      for (const wild of [false, true]) {
        const scalars = new Float32Array(k.scalars());
        const arrays = Array.from({ length: k.L.slots }, () => values(n, wild));
        const present = (1 << k.L.slots) - 1;
        const inputs = arrays.map((a) => a.slice());
        k.js(arrays, scalars, new Uint32Array([flags]), 1, [n]);
        u32(k.id, flags, n, k.L.slots, k.L.scalars, present);
        f32(scalars);
        inputs.forEach(f32);
        arrays.forEach(f32);
        records++;
      }
    }
  }
}
// Clipping's scale and clamp (scalars shared by the tensors of a call).
for (const n of [1, 5, 16, 17, 1003]) {
  for (const wild of [false, true]) {
    const x = values(n, wild);
    const scaled = x.map((v) => Math.fround(v * Math.fround(0.3)));
    u32(K.KernelId.Scale, 0, n, 1, 1, 1);
    f32(new Float32Array([0.3]));
    [x, scaled].forEach(f32);
    const clamped = x.map((v) => Math.min(Math.max(v, -0.5), 0.5));
    u32(K.KernelId.Clamp, 0, n, 1, 2, 1);
    f32(new Float32Array([-0.5, 0.5]));
    [x, clamped].forEach(f32);
    records += 2;
  }
}
// The reductions (id 1000 + ReduceId): one array in (two for Dot), the float64 result out.
for (const n of [0, 1, 15, 16, 17, 33, 1003, 4099]) {
  for (const wild of [false, true]) {
    const x = values(n, wild);
    const results = [G.sumSquaresJs([x], 1, [n]), G.sumAbsJs([x], 1, [n]), G.maxAbsJs([x], 1, [n]), G.nonFiniteJs([x], 1, [n])];
    results.forEach((r, op) => {
      u32(1000 + op, 0, n, 1, 0, 1);
      f32(x);
      chunks.push(new Uint8Array(new Float64Array([r]).buffer));
      records++;
    });
    // Dot (SWATS's projection): a second array after the first.
    const y = values(n, wild);
    u32(1000 + K.ReduceId.Dot, 0, n, 2, 0, 3);
    [x, y].forEach(f32);
    chunks.push(new Uint8Array(new Float64Array([G.dotJs([x, y], 2, [n, n])]).buffer));
    records++;
  }
}
// StandardScaler: x, per-column shift and divisor (columns + 16 entries, float64) -> y; and fit's
// accumulators (slots rounded up to 16 entries each of mean, m2, count, float64).
const f64 = (a) => chunks.push(new Uint8Array(a.buffer.slice(a.byteOffset, a.byteOffset + a.byteLength)));
for (const columns of [1, 3, 4, 7, 16, 17, 33]) {
  for (const rows of [1, 2, 5, 31, 100]) {
    const n = rows * columns;
    const x = values(n, true);
    const shift = Float64Array.from({ length: columns + 16 }, (_, j) => [0, 1e-40, -3e38, 2.5, 1000][j % columns % 5]);
    const divisor = Float64Array.from({ length: columns + 16 }, (_, j) => [1, 1e-30, 3e-7, 7e36, 0.01][j % columns % 5]);
    for (const [id, spec] of [[2000, S.standardizeJs], [2001, S.unstandardizeJs]]) {
      const y = new Float32Array(n);
      spec(x, y, n, columns, shift, divisor);
      u32(id, columns, n, 0, 0, 0);
      [shift, divisor].forEach(f64);
      [x, y].forEach(f32);
      records++;
    }
    const finite = x.map((v) => (Number.isFinite(v) ? v : NaN)); // fit refuses infinities before its pass
    const slots = S.momentSlots(columns), padded = Math.ceil(slots / 16) * 16;
    const state = [new Float64Array(padded), new Float64Array(padded), new Float64Array(padded)];
    S.slotMomentsJs(finite, n, slots, ...state);
    u32(2002, slots, n, 0, 0, 0);
    f32(finite);
    state.forEach(f64);
    records++;
  }
}
// The fused multiply-add itself, through the probe kernel.
for (const n of [1, 4, 9, 1000]) {
  const a = values(n, true), b = values(n, true), c = values(n, true);
  const out = Float32Array.from(a, (x, i) => fmaf(x, b[i], c[i]));
  u32(K.KernelId.FmaProbe, 0, n, 3, 0, 7);
  [a, b, c, out, b, c].forEach(f32);
  records++;
}
writeFileSync(new URL('cases.bin', import.meta.url), Buffer.concat(chunks.map((c) => Buffer.from(c))));
console.log(`wrote ${records} cases`);
