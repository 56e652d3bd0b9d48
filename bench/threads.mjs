// The threads section of the benchmark: one step split over the native pool, 1 thread, 2 threads
// and 'auto', against the same-traffic ceiling moved by one thread and by two (the traffic loop
// split the same way). Out of cache a step is memory-bound and the two-thread ceiling is the most
// two cores can reach; in cache, the second thread should nearly double the speed.
const CONFIGS = [
  { name: 'Adam', options: {}, reads: 4, writes: 3, slots: 5 }, // slots: the kernel's, as 'auto' counts them
  { name: 'SGD', options: { lr: 0.01, momentum: 0.9 }, reads: 3, writes: 2, slots: 3 },
];

function filled(n, value) {
  return new Float32Array(n).fill(value);
}

const seriesOf = (threads) => (threads === 'auto' ? 'auto' : `${threads} thread${threads > 1 ? 's' : ''}`);

/**
 * The threads rows as measurements, sampled in rounds with the rest: per optimizer of CONFIGS and
 * size, 1 thread, 2 threads and 'auto', beside the traffic loop on one thread and on two (table
 * 'threads · Adam', ...). Run at the best level.
 */
export function threadMeasurements({ simd, nativeAddon, useBackend, bestLevel, sizes, sizeLabel, threadsFor, trafficPerElement, trafficKernel }) {
  const list = [];
  for (const config of CONFIGS) {
    const table = `threads · ${config.name}`;
    for (const n of sizes) {
      const size = sizeLabel(n);
      const ceilingKey = (threads) => `${table}|${threads === 1 ? 'ceiling' : 'ceiling · 2 threads'}|${size}`;
      for (const threads of [1, 2]) {
        list.push({
          key: ceilingKey(threads), table, series: threads === 1 ? 'ceiling' : 'ceiling · 2 threads', kind: 'ceiling', elements: n, threads,
          prepare: () => {
            useBackend('native', bestLevel);
            const arrays = Array.from({ length: 5 }, (_, k) => (k < config.reads ? filled(n, 0.5 + k) : null));
            const scalars = new Float32Array([0]), flags = new Uint32Array([config.reads | (config.writes << 8)]);
            return () => nativeAddon.step(trafficKernel, arrays, scalars, flags, 1, threads);
          },
        });
      }
      for (const threads of [1, 2, 'auto']) {
        // What 'auto' chooses here: where it is one thread, its row and the first are the same configuration.
        const chosen = threads === 'auto' ? threadsFor('auto', n * trafficPerElement(config.slots)) : threads;
        list.push({
          key: `${table}|${seriesOf(threads)}|${size}`, table, series: seriesOf(threads), kind: 'package', elements: n, threads: chosen,
          ceilingKey: ceilingKey(chosen > 1 ? 2 : 1),
          prepare: () => {
            useBackend('native', bestLevel);
            const param = filled(n, 1), grads = [filled(n, 1e-3)];
            const opt = new simd[config.name]([param], { ...config.options, threads });
            return () => opt.step(grads);
          },
        });
      }
    }
  }
  return list;
}

/**
 * Prints the threads tables from the rows' medians. Returns the figures the targets read, by key
 * `threads|<name>|<row>|<size>` ({ ns, speedup, ceiling2Pct, threads }) and
 * `threads|<name>|ceiling|<size>` ({ ns1, ns2 }).
 */
export function printThreads({ rows, median, sizes, sizeLabel, fmt, availableThreads }) {
  const results = {};
  const ns = (table, series, n) => {
    const row = rows[`${table}|${series}|${sizeLabel(n)}`];
    return row ? median(row.samples) : null;
  };
  if (!CONFIGS.some((c) => ns(`threads · ${c.name}`, '1 thread', sizes[0]) !== null)) return results;
  console.log(`## Threads (the shared native pool; this machine offers ${availableThreads})\n`);
  console.log('Each cell: ns/element · speed-up over 1 thread · % of the two-thread ceiling.\n');
  for (const config of CONFIGS) {
    const table = `threads · ${config.name}`, lines = new Map();
    const add = (line, text) => (lines.has(line) ? lines.get(line).push(text) : lines.set(line, [text]));
    for (const n of sizes) {
      const c1 = ns(table, 'ceiling', n), c2 = ns(table, 'ceiling · 2 threads', n), one = ns(table, '1 thread', n);
      if (c1 === null || c2 === null || one === null) continue;
      for (const threads of [1, 2, 'auto']) {
        const series = seriesOf(threads), time = ns(table, series, n);
        const chosen = rows[`${table}|${series}|${sizeLabel(n)}`].threads;
        results[`threads|${config.name}|${series}|${sizeLabel(n)}`] = { ns: time, speedup: one / time, ceiling2Pct: (100 * c2) / time, threads: chosen };
        // Where 'auto' is one thread, its cell and the first row's are the same configuration, and
        // their ratio is the machine's noise.
        const same = threads === 'auto' && chosen === 1 ? ' (= 1 thread)' : '';
        add(series, `${fmt(time, 3)} ns · ${fmt(one / time)}× · ${fmt((100 * c2) / time, 0)}%${same}`);
      }
      results[`threads|${config.name}|ceiling|${sizeLabel(n)}`] = { ns1: c1, ns2: c2 };
      add('ceiling, 1 · 2 threads', `${fmt(c1, 3)} · ${fmt(c2, 3)} ns (${fmt(c1 / c2)}×)`);
    }
    console.log(`### ${config.name} (reads ${config.reads}, writes ${config.writes} arrays per element)\n`);
    console.log(`| | ${sizes.map(sizeLabel).join(' | ')} |`);
    console.log(`|---|${sizes.map(() => '---').join('|')}|`);
    for (const [line, cells] of lines) console.log(`| ${line} | ${cells.join(' | ')} |`);
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
