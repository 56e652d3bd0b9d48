// npm run bench [-- options]: the benchmark, and a regression check against a saved run.
//
//   --quick               Adam, AdamW, SGD momentum, RMSprop at 64K (in cache) and 4M (out of it), no peers
//   --sizes 1K,64K        sizes of the optimizer and gradient tables (default 1K,64K,1M,16M)
//   --only Adam,models    a part: optimizer names, 'gradients', 'models', 'threads', 'peers', 'tfjs' (simd-optim/tfjs in tfjs)
//   --rounds N            samples per row (default 5; twice as many for the default rows): one round per process
//   --save NAME           record this run (every sample, the machine's fingerprint) as bench/results/NAME.json
//   --compare NAME        compare this run with a saved one; exit 1 on a significant slowdown beyond --threshold
//   --threshold 10%       the slowdown that counts (default 10%); --alpha 0.05 the test's level
//   --json FILE           this run as JSON (the format --save writes)
//   --chart FILE.svg      the run's chart (default bench/results/last-run.svg; 'none' for no chart)
//   --no-peers            leave out TensorFlow.js and PyTorch
//   --no-recheck          with --compare: count what this run calls slower without measuring it again
//
// What each row and table measures: bench/README.md.
import { createRequire } from 'node:module';
import { writeFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { OPTIMIZERS, QUICK_OPTIMIZERS, fmt, gradientMeasurements, levels, optimizerMeasurements, printTables, useDefault } from './tables.mjs';
import { modelMeasurements, printModels } from './models.mjs';
import { benchEventLoop, printThreads, threadMeasurements } from './threads.mjs';
import { printTargets } from './targets.mjs';

const require = createRequire(import.meta.url);
const simd = require('../dist/index.js');
const backendModule = require('../dist/bridge/backend.js');
const { fingerprint } = require('../dist/bench/fingerprint.js');
const { isRoundProcess, runRoundsInProcesses, serveRound } = require('../dist/bench/processes.js');
const { median } = require('../dist/bench/measure.js');
const { compareRuns, formatComparison, parseAlpha, parseRounds, parseThreshold, sizeLabel, suspects, withRecheck } = require('../dist/bench/compare.js');
const { loadRun, runPath, saveRun } = require('../dist/bench/store.js');
const { KernelId } = require('../dist/bridge/kernels.js');

const here = path.dirname(fileURLToPath(import.meta.url));
const RESULTS = path.join(here, 'results');
// A bad option, a missing baseline or a crash exits 2: exit 1 means a regression, nothing else.
process.on('uncaughtException', (error) => {
  console.error(`bench: ${error.message}`);
  process.exit(2);
});
const args = parseArgs(process.argv.slice(2));
const quick = args.quick === true;
const only = typeof args.only === 'string' ? args.only.split(',') : null;
const wants = (part) => !only || only.includes(part);
const sizes = (args.sizes ?? (quick ? '64K,4M' : '1K,64K,1M,16M')).split(',').map(parseSize);
const optimizers = OPTIMIZERS.filter((o) => (quick ? QUICK_OPTIMIZERS.includes(o.name) : true) && wants(o.name));
// Every option is checked before minutes of measuring, not after.
const threshold = parseThreshold(args.threshold ?? '10%');
const alpha = parseAlpha(args.alpha ?? '0.05');
// Five samples a row, and ten for the default rows (below), --quick included: with five a side, one
// outlying sample pulls an interval's end to zero (its third smallest of 25 differences) and can
// hide a 30% slowdown; with ten the end is the 24th of 100. --quick had seven for every row, which
// with the default rows' extra processes took 75 s; five and ten take under a minute.
const rounds = parseRounds(args.rounds ?? '5');
const started = Date.now();

function parseArgs(list) {
  const flags = new Set(['quick', 'no-peers', 'no-recheck']);
  const valued = new Set(['sizes', 'only', 'rounds', 'save', 'compare', 'threshold', 'alpha', 'json', 'chart', 'thread-sizes']);
  const out = {};
  for (let i = 0; i < list.length; i++) {
    if (!list[i].startsWith('--')) throw new Error(`unexpected argument ${list[i]}`);
    const name = list[i].slice(2);
    // A mistyped option (--compre) must not pass as a run that compared nothing.
    if (!flags.has(name) && !valued.has(name)) throw new Error(`unknown option --${name} (see the top of bench/run.mjs)`);
    if (flags.has(name)) out[name] = true;
    else if (i + 1 >= list.length) throw new Error(`--${name} needs a value`);
    else out[name] = list[++i];
  }
  return out;
}

function parseSize(text) {
  const m = /^(\d+)([KM]?)$/.exec(text.trim());
  if (!m) throw new Error(`bad size '${text}' (use 1K, 64K, 1M, 16M or a number)`);
  return Number(m[1]) * (m[2] === 'K' ? 1024 : m[2] === 'M' ? 1024 * 1024 : 1);
}

// The measured rows. Each round is taken by a process of its own, this script again (see
// lib/bench/processes.ts); in one of those, serve the round and stop here.
// The models come first in a round, so that its 1-element row has seen Adam only (bench/models.mjs).
const bestLevel = levels()[0];
const threadSizes = (args['thread-sizes'] ?? '64K,256K,1M,4M,16M,64M').split(',').map(parseSize);
const { useBackend, nativeAddon, threadsFor, trafficPerElement } = backendModule;
const measurements = [
  ...(!quick && wants('models') && nativeAddon ? modelMeasurements({ simd, useBackend, bestLevel, sizeLabel }) : []),
  ...optimizers.flatMap((o) => optimizerMeasurements(o, sizes)),
  ...(wants('gradients') && !quick ? gradientMeasurements(sizes) : []),
  ...(!quick && wants('threads') && nativeAddon
    ? threadMeasurements({ simd, nativeAddon, useBackend, bestLevel, sizes: threadSizes, sizeLabel, threadsFor, trafficPerElement, trafficKernel: KernelId.Traffic })
    : []),
];
if (isRoundProcess()) {
  await serveRound(measurements);
  process.exit(0);
}

if (backendModule.backend !== 'native') {
  console.error('bench: the native addon did not load; run npm install (or unset SIMD_OPTIM_BACKEND)');
  process.exit(2);
}
const baselineFile = args.compare ? runPath(args.compare, RESULTS) : null;
const baseline = baselineFile ? loadRun(baselineFile) : null; // before an hour of measuring, not after

const machine = fingerprint();
const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => k.startsWith('SIMD_OPTIM_')));
console.log(`# simd-optim benchmark\n`);
console.log(`${machine.cpu}, ${machine.cores} cores, caches ${Object.entries(machine.caches).map(([k, v]) => `${k} ${v}`).join(' ') || 'unknown'}, Node ${machine.node}. ISA levels: ${levels().join(', ')}.`);
console.log(`Default configuration: ${backendModule.backend} ${backendModule.isa}, 'auto' threads${Object.keys(env).length ? ` (${Object.entries(env).map(([k, v]) => `${k}=${v}`).join(' ')})` : ''}.`);
console.log(`Each cell: the median of ${rounds} samples (${2 * rounds} for the default rows), ns/element · G elements/s · % of the same-traffic ceiling.\n`);

// The default rows (what `import 'simd-optim'` runs, and what a capped ISA shows in) get twice
// the samples: after the rounds of every row, as many more processes measure only them. With five
// samples a side, one outlying sample pulls an interval's end to zero: an avx2-capped run was
// +34% [+9.0%, +50.5%] at Adam 1M (two threads, whose samples spread by 30%), not flagged.
const defaultKeys = measurements.filter((m) => m.series === 'default').map((m) => m.key);
// The rounds, each in a new process, with a progress bar on a terminal.
const bar = await progressBar();
const child = { script: fileURLToPath(import.meta.url), args: process.argv.slice(2) };
let sampled = 0;
const onSample = (_done, _total, m) => bar?.update(++sampled, { what: `${m.table}, ${m.series}, ${sizeLabel(m.elements)}` });
const rows = await measureRows(null);
bar?.stop();
useDefault();

const withPeers = wants('peers') && !args['no-peers'] && !quick;
if (withPeers && optimizers.length > 0) {
  const { benchPeers, TABLES } = await import('./peers.mjs');
  const peers = await benchPeers({ tables: optimizers.map((o) => o.name).filter((name) => TABLES.includes(name)), sizes, samples: rounds, log: (line) => process.stderr.isTTY && process.stderr.write(`\r\x1b[2Kpeers: ${line}`) });
  if (process.stderr.isTTY) process.stderr.write('\r\x1b[2K');
  for (const row of peers.rows) rows[`${row.table}|${row.series}|${sizeLabel(row.elements)}`] = row;
  if (peers.notes.length) console.log(`Peers: ${peers.notes.join('; ')}.\n`);
}
const modelRows = Object.fromEntries(Object.entries(rows).filter(([, r]) => r.table === 'models'));
const threadRows = Object.fromEntries(Object.entries(rows).filter(([, r]) => r.table.startsWith('threads · ')));
printTables(Object.fromEntries(Object.entries(rows).filter(([k]) => !(k in modelRows) && !(k in threadRows))));

// The figures the targets read, from the medians.
const results = {};
for (const [key, row] of Object.entries(rows)) {
  const ns = median(row.samples);
  results[key] = { ns, ...(row.ceilingNs ? { ceilingPct: (100 * row.ceilingNs) / ns } : {}) };
}
for (const o of optimizers) {
  for (const n of sizes) {
    const best = results[`${o.name}|native ${bestLevel}|${sizeLabel(n)}`], plain = results[`${o.name}|plain JS loop|${sizeLabel(n)}`];
    if (best && plain) best.vsPlain = plain.ns / best.ns;
  }
}
Object.assign(results, printModels({ rows: modelRows, median, bestLevel, sizeLabel, fmt }));
Object.assign(results, printThreads({ rows: threadRows, median, sizes: threadSizes, sizeLabel, fmt, availableThreads: backendModule.availableThreads }));
if (!quick && wants('threads')) {
  backendModule.useBackend('native', bestLevel);
  const loop = await benchEventLoop({ simd, fmt });
  results['eventLoop|stepAsync|16M'] = loop.async;
  results['eventLoop|step|16M'] = loop.sync;
  results['eventLoop|clipGradNormAsync+stepAsync|16M'] = loop.clipAsync;
  results['eventLoop|clipGradNorm+stepAsync|16M'] = loop.clip;
}
printTargets({ results, optimizers, bestLevel, fmt });
if (!quick && !args['no-peers'] && wants('tfjs')) {
  // simd-optim/tfjs inside tfjs: printed, not sampled into rows (its times are tfjs's as much as ours).
  const { benchTfjsAdapter, formatTfjsAdapter } = await import('./tfjs.mjs');
  const adapter = await benchTfjsAdapter({ log: (line) => process.stderr.isTTY && process.stderr.write(`\r\x1b[2Ktfjs adapter: ${line}`) });
  if (process.stderr.isTTY) process.stderr.write('\r\x1b[2K');
  console.log(formatTfjsAdapter(adapter));
  for (const r of adapter.rows) results[`tfjsAdapter|${r.backend}|${r.kind}|${r.what}`] = { tfjsMs: r.tfjsMs, oursMs: r.oursMs, speedup: r.tfjsMs / r.oursMs };
}

// The run as saved: every row with its samples, the machine, the environment.
const run = { format: 'simd-optim-bench/1', fingerprint: machine, date: new Date().toISOString(), env, rows };
if (args.save) {
  const file = runPath(args.save, RESULTS);
  saveRun(file, run);
  console.log(`Saved ${Object.keys(rows).length} rows to ${path.relative(process.cwd(), file)}.`);
}
if (args.json) writeFileSync(args.json, JSON.stringify({ ...run, results }, null, 1) + '\n');
const chartFile = args.chart ?? path.join(RESULTS, 'last-run.svg');
if (chartFile !== 'none') await writeChart(chartFile, (chart) => chart.runChart(run, { title: `simd-optim, ${machine.cpu}` }));

if (baseline) {
  let comparison = compareRuns(baseline, run, { threshold, alpha });
  if (comparison.rows.length === 0) throw new Error(`no row of this run is in ${baselineFile}: nothing was compared`);
  // What this run calls slower is measured again, in new processes, before it counts (withRecheck
  // in lib/bench/compare.ts): a slow stretch of a shared machine is not slower again.
  const slower = suspects(comparison, measurements); // with their same-traffic ceilings
  if (slower.length > 0 && !args['no-recheck']) {
    console.log(`Measuring the ${comparison.regressions.length} rows this run calls slower again, with their ceilings (${slower.length} rows), in new processes (${rounds} samples a row, ${2 * rounds} for the default rows).\n`);
    comparison = withRecheck(comparison, baseline, await measureRows(slower));
  }
  const name = path.relative(process.cwd(), baselineFile);
  if (comparison.machineDifferences.length > 0) {
    console.error(`\nWARNING: ${name} was recorded on another machine: ${comparison.machineDifferences.join('; ')}. Its figures do not compare with these.\n`);
  }
  console.log(formatComparison(comparison, name));
  // The chart shows the default rows and every row with a verdict; the table above has them all
  // (570 rows would make a chart 9,000 pixels tall).
  const charted = { ...comparison, rows: comparison.rows.filter((r) => r.series === 'default' || r.verdict !== 'no significant change') };
  if (chartFile !== 'none') await writeChart(chartFile.replace(/\.svg$/, '') + '-comparison.svg', (chart) => chart.comparisonChart(charted, { title: `now against ${name}: default rows and every change` }));
  if (comparison.regressions.length > 0) process.exitCode = 1;
}
console.log(`Took ${((Date.now() - started) / 1000).toFixed(0)} s.`);

/** Every row (keys null) or those of `keys`, `rounds` samples each in new processes, and as many more of the default rows. */
async function measureRows(keys) {
  const wanted = keys ?? measurements.map((m) => m.key);
  const progress = keys ? {} : { onSample }; // the bar is for the run's own rounds
  const measured = await runRoundsInProcesses(measurements, child, { rounds, ...progress, ...(keys ? { keys } : {}) });
  const defaults = wanted.filter((key) => defaultKeys.includes(key));
  if (defaults.length === 0) return measured;
  const more = await runRoundsInProcesses(measurements, child, { rounds, ...progress, keys: defaults });
  for (const key of defaults) measured[key] = { ...measured[key], samples: [...measured[key].samples, ...more[key].samples] };
  return measured;
}

async function progressBar() {
  if (!process.stderr.isTTY) return null;
  const { default: progress } = await import('cli-progress');
  const bar = new progress.SingleBar({ format: 'bench [{bar}] {percentage}% · {eta_formatted} left · {what}', stream: process.stderr, hideCursor: true, clearOnComplete: true }, progress.Presets.shades_classic);
  bar.start((measurements.length + defaultKeys.length) * rounds, 0, { what: '' });
  return bar;
}

async function writeChart(file, draw) {
  try {
    const chart = require('../dist/bench/chart.js');
    mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
    writeFileSync(file, await draw(chart));
    console.log(`Chart: ${path.relative(process.cwd(), path.resolve(file))}`);
  } catch (error) {
    console.log(`No chart: ${error.message}`);
  }
}
