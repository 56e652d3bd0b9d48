// The issues' targets, judged from one run's figures (medians), printed as a table.
// `results`: by key `table|series|size` ({ ns, ceilingPct, vsPlain }), and the models', threads'
// and event-loop keys of bench/models.mjs and bench/threads.mjs.

export function printTargets({ results, optimizers, bestLevel, fmt }) {
  const get = (key) => results[key];
  const checks = [];
  const adam64 = get(`Adam|native ${bestLevel}|64K`);
  const adam16 = get(`Adam|native ${bestLevel}|16M`);
  if (adam64) {
    checks.push([`Adam, ${bestLevel}, 64K: ≤ 0.5 ns/element`, adam64.ns <= 0.5, `${fmt(adam64.ns, 3)} ns`]);
    checks.push([`Adam, ${bestLevel}, 64K: ≥ 10× the plain JS loop`, adam64.vsPlain >= 10, `${fmt(adam64.vsPlain, 1)}×`]);
  }
  if (adam16) checks.push([`Adam, ${bestLevel}, 16M: ≥ 90% of the ceiling`, adam16.ceilingPct >= 90, `${fmt(adam16.ceilingPct, 0)}%`]);
  const optimizers16 = optimizers.map((o) => [o.name, get(`${o.name}|native ${bestLevel}|16M`)]).filter(([, r]) => r);
  if (optimizers16.length > 1) {
    const worst = optimizers16.reduce((w, c) => (c[1].ceilingPct < w[1].ceilingPct ? c : w));
    checks.push([`every optimizer, ${bestLevel}, 16M: ≥ 90% of its ceiling`, worst[1].ceilingPct >= 90, `worst ${fmt(worst[1].ceilingPct, 0)}% (${worst[0]})`]);
  }
  const finite16 = get(`non-finite check|native ${bestLevel}|16M`);
  if (finite16) checks.push([`non-finite check, ${bestLevel}, 16M: ≥ 90% of a read pass`, finite16.ceilingPct >= 90, `${fmt(finite16.ceilingPct, 0)}%`]);
  // The fallback's target was set for the first five optimizers with their defaults (SGD with
  // momentum); the variants and the other optimizers are in the tables.
  const firstFive = ['Adam', 'AdamW', 'Adagrad', 'RMSprop', 'SGD momentum'];
  const fallbackWorst = Object.entries(results)
    .filter(([k]) => k.includes('|js fallback|') && firstFive.includes(k.split('|')[0]))
    .reduce((w, [k, v]) => (v.ns > w.ns ? { key: k, ns: v.ns } : w), { key: '', ns: 0 });
  if (fallbackWorst.key) checks.push([`js fallback, Adam, AdamW, Adagrad, RMSprop, SGD (defaults), every size: ≤ 16 ns/element`, fallbackWorst.ns <= 16, `worst ${fmt(fallbackWorst.ns)} ns (${fallbackWorst.key.replace(/\|/g, ', ')})`]);
  const two1M = get('threads|Adam|2 threads|1M');
  if (two1M) {
    // The second thread cannot move more bytes than the machine's two-thread ceiling allows: where
    // the same-traffic loop itself gains less than 1.8× (1M elements of Adam are 20 MB, in and out
    // of a shared L3 here), the kernel is judged by its share of that ceiling.
    const ceiling = get('threads|Adam|ceiling|1M');
    const loopGain = ceiling ? ceiling.ns1 / ceiling.ns2 : Infinity;
    const ok = two1M.speedup >= 1.8 || (loopGain < 1.8 && two1M.ceiling2Pct >= 90);
    const note = ceiling ? `; the same-traffic loop itself: ${fmt(loopGain)}×, 2 threads at ${fmt(two1M.ceiling2Pct, 0)}% of it` : '';
    checks.push(['Adam, 2 threads, 1M: ≥ 1.8× one thread, or ≥ 90% of the two-thread ceiling where the loop itself gains less', ok, `${fmt(two1M.speedup)}×${note}`]);
  }
  const model = (name, backend = 'native') => get(`models|${name}|${backend}`);
  const one = model('one tensor of 640,000'), views = model('10,000 × 64, views of one ArrayBuffer');
  const separate = model('10,000 × 64, separate arrays'), single = model('one tensor of 1 element');
  const singleAfterAll = model('one tensor of 1 element, every optimizer kind stepped first');
  if (one && views) checks.push(['Adam, 10,000 × 64 views of one buffer: ≤ 1.5× one tensor of 640,000', views.stepNs <= 1.5 * one.stepNs, `${fmt(views.stepNs / one.stepNs)}×`]);
  if (separate) checks.push(['Adam, 10,000 × 64 separate arrays: ≤ 150 ns per tensor', separate.perTensorNs <= 150, `${fmt(separate.perTensorNs, 0)} ns`]);
  if (single) checks.push(['Adam, a 1-element step: ≤ 300 ns', single.stepNs <= 300, `${fmt(single.stepNs, 0)} ns`]);
  if (singleAfterAll) checks.push(['Adam, a 1-element step once every optimizer kind has stepped: ≤ 300 ns', singleAfterAll.stepNs <= 300, `${fmt(singleAfterAll.stepNs, 0)} ns`]);
  const two64M = get('threads|Adam|2 threads|64M');
  if (two64M) checks.push(['Adam, 2 threads, 64M: ≥ 90% of the two-thread ceiling', two64M.ceiling2Pct >= 90, `${fmt(two64M.ceiling2Pct, 0)}%`]);
  // Only where 'auto' chose more than one thread: elsewhere it is the 1-thread row's configuration.
  const autos = Object.entries(results).filter(([k, r]) => k.startsWith('threads|') && k.includes('|auto|') && r.threads > 1);
  if (autos.length > 0) {
    const worst = autos.reduce((w, c) => (c[1].speedup < w[1].speedup ? c : w));
    checks.push(["'auto' threads, every size where it takes more than one: never slower than one thread (≥ 0.95×)", worst[1].speedup >= 0.95, `worst ${fmt(worst[1].speedup)}× (${worst[0].split('|').slice(1).join(', ')})`]);
  }
  const loop = get('eventLoop|stepAsync|16M');
  if (loop) checks.push(['awaiting stepAsync, Adam 16M: event-loop delay p99 ≤ 2 ms', loop.p99Ms <= 2, `${fmt(loop.p99Ms)} ms (step() with a yield: ${fmt(get('eventLoop|step|16M').p99Ms)} ms)`]);
  console.log('## Targets\n');
  console.log('| target | measured | met |\n|---|---|---|');
  for (const [what, ok, measured] of checks) console.log(`| ${what} | ${measured} | ${ok ? 'yes' : '**no**'} |`);
  console.log('');
}

