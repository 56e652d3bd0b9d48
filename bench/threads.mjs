// The threads section of the benchmark: one step split over the native pool, 1 thread, 2 threads
// and 'auto', against the same-traffic ceiling moved by one thread and by two (the traffic loop
// split the same way). Out of cache a step is memory-bound and the two-thread ceiling is the most
// two cores can reach; in cache, the second thread should nearly double the speed.
import { measure } from './measure.mjs';

const CONFIGS = [
  { name: 'Adam', options: {}, reads: 4, writes: 3 },
  { name: 'SGD', options: { lr: 0.01, momentum: 0.9 }, reads: 3, writes: 2 },
];

function filled(n, value) {
  return new Float32Array(n).fill(value);
}

/**
 * Prints the table and returns the results by key `threads|<name>|<row>|<size>` ({ ns, ... }).
 * `sizes`: element counts; `label(n)`: their names; `fmt`: number formatting.
 */
export function benchThreads({ simd, nativeAddon, sizes, label, fmt, availableThreads }) {
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
        results[key] = { ns, speedup: one / ns, ceiling2Pct: (100 * c2) / ns };
        add(key.split('|')[2], `${fmt(ns, 3)} ns · ${fmt(one / ns)}× · ${fmt((100 * c2) / ns, 0)}%`);
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
