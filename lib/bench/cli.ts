#!/usr/bin/env node
/**
 * simd-optim-bench FILE [--save NAME] [--compare NAME] [--threshold 10%] [--rounds 7] [--chart FILE.svg]
 *
 * Runs the benchmarks a user's module exports (its default export: an array of { name, fn,
 * elements, readBytes?, writeBytes? }, or a function returning one), prints ns per element beside
 * the same-traffic ceiling, and saves or compares runs in .simd-optim-bench/ as `npm run bench` does.
 * @internal
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

import { compareRuns, formatComparison, parseAlpha, parseRounds, parseThreshold, sizeLabel, suspects, withRecheck } from './compare.js';
import { benchmarkMeasurements, runOf, type Benchmark } from './index.js';
import { median } from './measure.js';
import { isRoundProcess, runRoundsInProcesses, serveRound } from './processes.js';
import { loadRun, runPath, saveRun } from './store.js';

const USAGE = 'usage: simd-optim-bench FILE [--save NAME] [--compare NAME] [--threshold 10%] [--alpha 0.05] [--rounds 7] [--chart FILE.svg]';

const FLAGS = ['save', 'compare', 'threshold', 'alpha', 'rounds', 'chart'];

function parse(argv: string[]): { file: string; options: Record<string, string> } {
  const options: Record<string, string> = {};
  let file: string | null = null;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg.startsWith('--')) {
      // A mistyped flag (--compre) must not pass as a run that compared nothing.
      if (!FLAGS.includes(arg.slice(2))) throw new Error(`unknown option ${arg}\n${USAGE}`);
      const value = argv[++i];
      if (value === undefined) throw new Error(`${arg} needs a value\n${USAGE}`);
      options[arg.slice(2)] = value;
    } else if (file === null) file = arg;
    else throw new Error(`unexpected argument ${arg}\n${USAGE}`);
  }
  if (file === null) throw new Error(USAGE);
  return { file, options };
}

async function main(): Promise<number> {
  const { file, options } = parse(process.argv.slice(2));
  // Every option is checked before minutes of measuring, not after.
  const rounds = parseRounds(options['rounds'] ?? '7'); // seven: one outlier cannot hide a change (bench/README.md, 'Samples and comparisons')
  const threshold = parseThreshold(options['threshold'] ?? '10%'), alpha = parseAlpha(options['alpha'] ?? '0.05');
  const dir = path.resolve('.simd-optim-bench');
  const baselineFile = options['compare'] ? runPath(options['compare'], dir) : null;
  const baseline = baselineFile ? loadRun(baselineFile) : null;
  const loaded = (await import(pathToFileURL(path.resolve(file)).href)) as { default?: unknown };
  let list = loaded.default;
  if (typeof list === 'function') list = await (list as () => unknown)();
  if (!Array.isArray(list) || list.length === 0) throw new TypeError(`${file} must export default an array of { name, fn, elements } (or a function returning one), not empty`);
  const measurements = benchmarkMeasurements(list as Benchmark[]);
  // Each round in a new process of this command (lib/bench/processes.ts): there, serve it and stop.
  if (isRoundProcess()) {
    await serveRound(measurements);
    return 0;
  }
  const child = { script: process.argv[1]!, args: process.argv.slice(2) };
  const run = runOf(await runRoundsInProcesses(measurements, child, { rounds }));
  console.log(`| benchmark | elements | ns/element (median of ${rounds}) | ceiling | % of ceiling |\n|---|---|---|---|---|`);
  for (const row of Object.values(run.rows)) {
    if (row.kind !== 'package') continue;
    const ns = median(row.samples);
    const ceiling = row.ceilingNs === undefined ? '' : `${row.ceilingNs.toPrecision(3)} ns`;
    const pct = row.ceilingNs === undefined ? '' : `${((100 * row.ceilingNs) / ns).toFixed(0)}%`;
    console.log(`| ${row.table} | ${sizeLabel(row.elements)} | ${ns.toPrecision(3)} ns | ${ceiling} | ${pct} |`);
  }
  if (options['save']) {
    const target = runPath(options['save'], dir);
    saveRun(target, run);
    console.log(`\nSaved to ${path.relative(process.cwd(), target)}.`);
  }
  let status = 0;
  if (baseline && baselineFile) {
    let comparison = compareRuns(baseline, run, { threshold, alpha });
    // What this run calls slower is measured again before it counts (see withRecheck).
    const slower = suspects(comparison, measurements); // with their ceilings
    if (slower.length > 0) comparison = withRecheck(comparison, baseline, await runRoundsInProcesses(measurements, child, { rounds, keys: slower }));
    console.log('\n' + formatComparison(comparison, path.relative(process.cwd(), baselineFile)));
    if (comparison.rows.length === 0) throw new Error(`no benchmark of this run is in ${baselineFile}: nothing was compared`);
    if (options['chart']) writeFileSync(options['chart'].replace(/\.svg$/, '') + '-comparison.svg', await (await import('./chart.js')).comparisonChart(comparison));
    if (comparison.regressions.length > 0) status = 1;
  }
  if (options['chart']) writeFileSync(options['chart'], await (await import('./chart.js')).runChart(run));
  return status;
}

main().then(
  (status) => (process.exitCode = status),
  (error: unknown) => {
    console.error(error instanceof Error ? error.message : error);
    process.exitCode = 2;
  },
);
