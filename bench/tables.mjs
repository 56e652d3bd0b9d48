// The measurements of the optimizer and gradient tables, and how they print. Every row is a
// measurement (lib/bench/runner.ts) sampled in rounds over the whole run; the tables show medians.
//
// Rows of an optimizer's table, at each size, one full opt.step([grad]) through the public API:
//   default        the configuration `import 'simd-optim'` runs with, the environment as it is
//                  (SIMD_OPTIM_BACKEND, SIMD_OPTIM_ISA) and 'auto' threads;
//   native <level> the addon at each ISA level the CPU has, one thread;
//   js fallback    the TypeScript kernels, one thread;
//   plain JS loop  the same update as a hand-written JavaScript optimizer does it (bench/plain.mjs);
//   ceiling        a native loop that reads and writes exactly the arrays the step does, with one
//                  add per array instead of the optimizer's arithmetic, at the best level: out of
//                  cache the step is memory-bound and this is the most it can reach;
//   peers          other libraries' optimizers (bench/peers.mjs), when asked for.
import { createRequire } from 'node:module';

import { plainGradients, plainLoops } from './plain.mjs';
import { randomValues } from './random.mjs';

const require = createRequire(import.meta.url);
const simd = require('../dist/index.js');
const { useBackend, availableIsas, availableThreads, nativeAddon, backend: loadedBackend, isa: loadedIsa } = require('../dist/bridge/backend.js');
const { allFinite } = require('../dist/optimizers/gradients.js');
const { median } = require('../dist/bench/measure.js');
const { sizeLabel } = require('../dist/bench/compare.js');
// The traffic loop (reads and writes arrays, one add each) and the plain read pass.
const { KernelId, ReduceId } = require('../dist/bridge/kernels.js');

/** The benchmarked configurations: constructor, options, and the arrays one step reads and writes. */
export const OPTIMIZERS = [
  { name: 'Adam', make: (p, o) => new simd.Adam(p, o), reads: 4, writes: 3, plain: 'adam' },
  { name: 'Adam amsgrad', make: (p, o) => new simd.Adam(p, { amsgrad: true, ...o }), reads: 5, writes: 4, plain: 'adamAmsgrad' },
  { name: 'AdamW', make: (p, o) => new simd.AdamW(p, o), reads: 4, writes: 3, plain: 'adamw' },
  { name: 'Adagrad', make: (p, o) => new simd.Adagrad(p, o), reads: 3, writes: 2, plain: 'adagrad' },
  { name: 'RMSprop', make: (p, o) => new simd.RMSprop(p, o), reads: 3, writes: 2, plain: 'rmsprop' },
  { name: 'RMSprop centered momentum', make: (p, o) => new simd.RMSprop(p, { centered: true, momentum: 0.9, ...o }), reads: 5, writes: 4, plain: 'rmspropCentered' },
  { name: 'SGD momentum', make: (p, o) => new simd.SGD(p, { lr: 0.01, momentum: 0.9, ...o }), reads: 3, writes: 2, plain: 'sgd' },
  { name: 'Adadelta', make: (p, o) => new simd.Adadelta(p, o), reads: 4, writes: 3, plain: 'adadelta' },
  { name: 'Adamax', make: (p, o) => new simd.Adamax(p, o), reads: 4, writes: 3, plain: 'adamax' },
  { name: 'NAdam', make: (p, o) => new simd.NAdam(p, o), reads: 4, writes: 3, plain: 'nadam' },
  { name: 'RAdam', make: (p, o) => new simd.RAdam(p, o), reads: 4, writes: 3, plain: 'radam' },
  { name: 'Lion', make: (p, o) => new simd.Lion(p, o), reads: 3, writes: 2, plain: 'lion' },
  // Before its switch (switchEps 0 keeps it there: on random gradients it switched within a few
  // steps): AdamW's update, written to a fourth state array as well, then the projection's two
  // sums read that array and the gradient again (3 more reads per element).
  { name: 'SWATS (Adam phase)', make: (p, o) => new simd.SWATS(p, { switchEps: 0, ...o }), reads: 4, writes: 4, extraReads: 3, plain: 'swatsAdamPhase' },
];

/** The tables with rows on two threads (bench/threads.mjs has more sizes and 'auto'). */
const TWO_THREAD_TABLES = ['Adam', 'SGD momentum'];

/** The headline optimizers of --quick. */
export const QUICK_OPTIMIZERS = ['Adam', 'AdamW', 'SGD momentum', 'RMSprop'];

const randomCache = new Map();

/**
 * Deterministic values in [-scale, scale) (their magnitudes with `abs`): a fresh copy of an array
 * made once per (n, seed, scale, abs): filling 16M values costs 50 ms (with Math.abs, 500), copying 5.
 */
export function randomArray(n, seed, scale = 1, abs = false) {
  const key = `${n}|${seed}|${scale}|${abs}`;
  if (!randomCache.has(key)) {
    const values = randomValues(n, seed, scale);
    if (abs) for (let i = 0; i < n; i++) values[i] = Math.abs(values[i]);
    randomCache.set(key, values);
  }
  return randomCache.get(key).slice();
}

/** Selects what the default row runs: the backend and level chosen at load. */
export function useDefault() {
  if (loadedBackend === 'native') useBackend('native', loadedIsa);
  else useBackend('js');
}

function useLevel(level) {
  if (level === 'js') useBackend('js');
  else useBackend('native', level);
}

/** The levels the per-level rows run (every level the CPU has) and the ceiling's level (the best). */
export function levels() {
  return availableIsas();
}

/** The traffic loop: reads `reads` arrays and writes `writes` of them back, on `threads` threads. */
function trafficStep(reads, writes, n, level, threads = 1) {
  const arrays = Array.from({ length: 5 }, (_, k) => (k < reads ? randomArray(n, k + 7) : null));
  const scalars = new Float32Array([0]), flags = new Uint32Array([reads | (writes << 8)]);
  return () => {
    useLevel(level);
    return () => nativeAddon.step(KernelId.Traffic, arrays, scalars, flags, 1, threads);
  };
}

/** The measurements of one optimizer's table at the given sizes. */
export function optimizerMeasurements(config, sizes) {
  const list = [], best = levels()[0];
  for (const n of sizes) {
    const size = sizeLabel(n), ceilingKey = `${config.name}|ceiling|${size}`;
    const row = (series, kind, prepare, extra = {}) => list.push({ key: `${config.name}|${series}|${size}`, table: config.name, series, kind, elements: n, prepare, ...extra });
    const stepOn = (select, threads) => () => {
      select();
      const opt = config.make([randomArray(n, 1)], threads === undefined ? {} : { threads });
      const grads = [randomArray(n, 2, 0.1)];
      return () => opt.step(grads);
    };
    row('ceiling', 'ceiling', () => {
      const traffic = trafficStep(config.reads, config.writes, n, best)();
      if (!config.extraReads) return traffic;
      const again = Array.from({ length: config.extraReads }, (_, k) => randomArray(n, k + 20));
      return () => {
        traffic();
        nativeAddon.reduce(ReduceId.ReadPass, again, again.length, 1);
      };
    });
    row('default', 'package', stepOn(useDefault), { ceilingKey });
    for (const level of levels()) row(`native ${level}`, 'package', stepOn(() => useLevel(level), 1), { ceilingKey, threads: 1 });
    if (TWO_THREAD_TABLES.includes(config.name) && availableThreads >= 2) {
      // The same step split over two threads of the pool, against the traffic loop split the same way.
      row('ceiling · 2 threads', 'ceiling', () => trafficStep(config.reads, config.writes, n, best, 2)(), { threads: 2 });
      row(`native ${best} · 2 threads`, 'package', stepOn(() => useLevel(best), 2), { ceilingKey: `${config.name}|ceiling · 2 threads|${size}`, threads: 2 });
    }
    row('js fallback', 'package', stepOn(() => useLevel('js'), 1), { ceilingKey, threads: 1 });
    row('plain JS loop', 'package', () => {
      const arrays = Array.from({ length: config.reads }, (_, k) => randomArray(n, k + 1, k === 1 ? 0.1 : 1, true));
      const loop = plainLoops[config.plain];
      let t = 0;
      return () => loop(arrays, ++t);
    }, { ceilingKey });
  }
  return list;
}

/** The gradient utilities: the non-finite check and clipGradNorm, per level, against read passes. */
export function gradientMeasurements(sizes) {
  const list = [], best = levels()[0];
  for (const n of sizes) {
    const size = sizeLabel(n);
    const grads = () => [randomArray(n, 3, 0.1)];
    const add = (table, series, kind, prepare, ceilingKey) => list.push({ key: `${table}|${series}|${size}`, table, series, kind, elements: n, prepare, ...(ceilingKey ? { ceilingKey } : {}) });
    for (const table of ['non-finite check', 'clipGradNorm, no clip', 'clipGradNorm, clips']) {
      add(table, 'ceiling', 'ceiling', () => {
        const g = grads();
        useLevel(best);
        // A read pass; clipping also writes every element back (the traffic loop, 1 read 1 write).
        if (table !== 'clipGradNorm, clips') return () => nativeAddon.reduce(ReduceId.ReadPass, g, 1, 1);
        return trafficStep(1, 1, n, best)();
      }, null);
      const ceilingKey = `${table}|ceiling|${size}`;
      for (const level of ['default', ...levels(), 'js']) {
        const series = level === 'default' ? 'default' : level === 'js' ? 'js fallback' : `native ${level}`;
        add(table, series, 'package', () => {
          level === 'default' ? useDefault() : useLevel(level);
          const g = grads(), lengths = g.map((x) => x.length);
          if (table === 'non-finite check') return () => allFinite(g, g.length, lengths);
          // The default row runs clipGradNorm's default threads ('auto'); the per-level rows one.
          const options = level === 'default' ? {} : { threads: 1 };
          if (table === 'clipGradNorm, no clip') return () => simd.clipGradNorm(g, 1e30, options);
          // A max norm a little below the norm every call, so every call scales (by 0.99999: the
          // values shrink slowly enough never to reach the subnormals).
          let maxNorm = plainGradients.l2Norm(g);
          return () => simd.clipGradNorm(g, (maxNorm *= 0.99999), options);
        }, ceilingKey);
      }
      if (table !== 'clipGradNorm, clips') {
        add(table, 'plain JS loop', 'package', () => {
          const g = grads();
          return table === 'non-finite check' ? () => plainGradients.allFinite(g) : () => plainGradients.l2Norm(g);
        }, ceilingKey);
      }
    }
  }
  return list;
}

export const fmt = (x, digits = 2) => (x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(digits));

/** Prints every table of `rows` (by table, in order), each cell the median: ns/element · G/s · % of ceiling. */
export function printTables(rows) {
  const tables = new Map();
  for (const row of Object.values(rows)) {
    if (!tables.has(row.table)) tables.set(row.table, { sizes: [], series: new Map() });
    const t = tables.get(row.table);
    if (!t.sizes.includes(row.elements)) t.sizes.push(row.elements);
    if (!t.series.has(row.series)) t.series.set(row.series, new Map());
    t.series.get(row.series).set(row.elements, row);
  }
  for (const [name, { sizes, series }] of tables) {
    console.log(`## ${name}\n`);
    console.log(`| | ${sizes.map(sizeLabel).join(' | ')} |`);
    console.log(`|---|${sizes.map(() => '---').join('|')}|`);
    const ordered = [...series].sort(([, a], [, b]) => (a.values().next().value.kind === 'ceiling') - (b.values().next().value.kind === 'ceiling'));
    for (const [label, bySize] of ordered) {
      const cells = sizes.map((n) => {
        const row = bySize.get(n);
        if (!row) return '';
        const ns = median(row.samples);
        const pct = row.ceilingNs ? ` · ${fmt((100 * row.ceilingNs) / ns, 0)}%` : '';
        return `${fmt(ns, 3)} ns · ${fmt(1 / ns)} G/s${pct}`;
      });
      console.log(`| ${label} | ${cells.join(' | ')} |`);
    }
    console.log('');
  }
}
