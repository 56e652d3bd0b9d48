// The threads section of the benchmark: one step split over the native pool, 1 thread, 2 threads
// and 'auto', against the same-traffic ceiling moved by one thread and by two (the traffic loop
// split the same way). Out of cache a step is memory-bound and the two-thread ceiling is the most
// two cores can reach; in cache, the second thread should nearly double the speed.
import { measure } from './measure.mjs';

const CONFIGS = [
  { name: 'Adam', options: {}, reads: 4, writes: 3, slots: 5 }, // slots: the kernel's, as 'auto' counts them
  { name: 'SGD', options: { lr: 0.01, momentum: 0.9 }, reads: 3, writes: 2, slots: 3 },
];

function filled(n, value) {
  return new Float32Array(n).fill(value);
}

/**
 * Prints the table and returns the results by key `threads|<name>|<row>|<size>` ({ ns, ... }).
 * `sizes`: element counts; `label(n)`: their names; `fmt`: number formatting.
 */
export function benchThreads({ simd, nativeAddon, sizes, label, fmt, availableThreads, threadsFor, trafficPerElement }) {
  const results = {};
  const ceiling = (reads, writes, n, threads) => {
    const arrays = Array.from({ length: 5 }, (_, k) => (k < reads ? filled(n, 0.5 + k) : null));
    const flags = new Uint32Array([reads | (writes << 8)]);
    return measure(() => nativeAddon.step(4, arrays, new Float32Array([0]), flags, 1, threads), n);
  };
  console.log(`## Threads (the shared native pool; this machine offers ${availableThreads})\n`);
  console.log('Each cell: ns/element · speed-up over 1 thread · % of the two-thread ceiling.\n');
  for (const config of CONFIGS) {
    const rows = new Map();
    const add = (row, text) => (rows.has(row) ? rows.get(row).push(text) : rows.set(row, [text]));
    for (const n of sizes) {
      const c1 = ceiling(config.reads, config.writes, n, 1);
      const c2 = ceiling(config.reads, config.writes, n, 2);
      let one = 0;
      for (const threads of [1, 2, 'auto']) {
        const param = filled(n, 1), grad = filled(n, 1e-3);
        const opt = new simd[config.name]([param], { ...config.options, threads });
        const ns = measure(() => opt.step([grad]), n);
        if (threads === 1) one = ns;
        const key = `threads|${config.name}|${threads === 'auto' ? 'auto' : `${threads} thread${threads > 1 ? 's' : ''}`}|${label(n)}`;
        // What 'auto' chose: where it is one thread, its cell and the first row's are the same
        // configuration, and their ratio is the machine's noise (marked "= 1 thread").
        const chosen = threads === 'auto' ? threadsFor('auto', n * trafficPerElement(config.slots)) : threads;
        results[key] = { ns, speedup: one / ns, ceiling2Pct: (100 * c2) / ns, threads: chosen };
        const same = threads === 'auto' && chosen === 1 ? ' (= 1 thread)' : '';
        add(key.split('|')[2], `${fmt(ns, 3)} ns · ${fmt(one / ns)}× · ${fmt((100 * c2) / ns, 0)}%${same}`);
      }
      results[`threads|${config.name}|ceiling|${label(n)}`] = { ns1: c1, ns2: c2 };
      add('ceiling, 1 · 2 threads', `${fmt(c1, 3)} · ${fmt(c2, 3)} ns (${fmt(c1 / c2)}×)`);
    }
    console.log(`### ${config.name} (reads ${config.reads}, writes ${config.writes} arrays per element)\n`);
    console.log(`| | ${sizes.map(label).join(' | ')} |`);
    console.log(`|---|${sizes.map(() => '---').join('|')}|`);
    for (const [row, cells] of rows) console.log(`| ${row} | ${cells.join(' | ')} |`);
    console.log('');
  }
  return results;
}

/**
 * The event loop while a training loop steps a 16M-element Adam: awaiting stepAsync, and calling
 * step with a yield (setImmediate) between steps. monitorEventLoopDelay's p99 and max, and the
 * time per step. Returns { async: {...}, sync: {...} }.
 */
export async function benchEventLoop({ simd, fmt, n = 1 << 24, steps = 60, threads = 'auto' } = {}) {
  const { monitorEventLoopDelay } = await import('node:perf_hooks');
  const { setImmediate: yieldToLoop } = await import('node:timers/promises');
  const grads = [new Float32Array(n).fill(1e-3)];
  const run = async (mode) => {
    const opt = new simd.Adam([new Float32Array(n)], { threads });
    await opt.stepAsync(grads); // state allocated, pages touched
    opt.step(grads);
    const histogram = monitorEventLoopDelay({ resolution: 1 });
    histogram.enable();
    const start = process.hrtime.bigint();
    for (let k = 0; k < steps; k++) {
      if (mode === 'async') await opt.stepAsync(grads);
      else if (mode === 'clip async') {
        await simd.clipGradNormAsync(grads, 1e9);
        await opt.stepAsync(grads);
      } else if (mode === 'clip') {
        simd.clipGradNorm(grads, 1e9);
        await opt.stepAsync(grads);
      } else {
        opt.step(grads);
        await yieldToLoop();
      }
    }
    const ms = Number(process.hrtime.bigint() - start) / 1e6 / steps;
    histogram.disable();
    return { stepMs: ms, p99Ms: histogram.percentile(99) / 1e6, maxMs: histogram.max / 1e6 };
  };
  const result = { async: await run('async'), sync: await run('sync'), clipAsync: await run('clip async'), clip: await run('clip') };
  console.log(`## The event loop while stepping Adam on ${n >> 20}M elements ('auto' threads)\n`);
  console.log('| | time per step | event-loop delay p99 | max |\n|---|---|---|---|');
  for (const [label, r] of [
    ['await stepAsync(grads)', result.async],
    ['step(grads), then setImmediate', result.sync],
    ['await clipGradNormAsync(grads), await stepAsync(grads)', result.clipAsync],
    ['clipGradNorm(grads), await stepAsync(grads)', result.clip],
  ]) {
    console.log(`| ${label} | ${fmt(r.stepMs)} ms | ${fmt(r.p99Ms)} ms | ${fmt(r.maxMs)} ms |`);
  }
  console.log('');
  return result;
}
