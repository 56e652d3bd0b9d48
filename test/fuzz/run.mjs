// Runs the fuzz properties in this process, on the backend SIMD_OPTIM_BACKEND selects (every
// native ISA level is drawn per run), and exits non-zero when one fails. test/fuzz.test.ts runs
// this as a child process, so that a crash in native code is seen as a signal, not lost.
//
//   node test/fuzz/run.mjs [module ...]        modules: see MODULES (default: all)
//
//   SIMD_OPTIM_FUZZ_SEED=n      the seed (default: random, printed); each property derives its own
//   SIMD_OPTIM_FUZZ_RUNS=n      runs per property (default 100, or 1000 when CI=true)
//   SIMD_OPTIM_FUZZ_ONLY=a,b    only the properties with these names (or name prefixes)
//   SIMD_OPTIM_FUZZ_PATH=p      with one property in SIMD_OPTIM_FUZZ_ONLY: replay fast-check's
//                               counterexample path p directly
//   SIMD_OPTIM_FUZZ_SHRINK_MS=n time spent shrinking a counterexample (default 2000, CI 30000)
//   SIMD_OPTIM_FUZZ_VERBOSE=1   print every case before running it (to find a crashing one)
//   SIMD_OPTIM_FUZZ_ALLOW_EMPTY=1  no property matching SIMD_OPTIM_FUZZ_ONLY is not an error
//                               (test/fuzz.test.ts sets it: it runs each module on its own)
import { performance } from 'node:perf_hooks';

import { CI_RUNS, CI_SHRINK_MS, MODULES, SHORT_RUNS, SHORT_SHRINK_MS, isCi } from './modules.mjs';
import { BACKEND, LEVELS, fc } from './support.mjs';

function positiveInteger(name, fallback) {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isSafeInteger(n) || n < 0) {
    console.error(`${name} must be a whole number, got '${raw}'`);
    process.exit(2);
  }
  return n;
}

function nameHash(name) {
  let h = 0x811c9dc5;
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

const ci = isCi();
const seed = positiveInteger('SIMD_OPTIM_FUZZ_SEED', Math.floor(Math.random() * 0x7fffffff));
const runs = positiveInteger('SIMD_OPTIM_FUZZ_RUNS', ci ? CI_RUNS : SHORT_RUNS);
const only = (process.env.SIMD_OPTIM_FUZZ_ONLY ?? '').split(',').map((s) => s.trim()).filter(Boolean);
const path = process.env.SIMD_OPTIM_FUZZ_PATH || undefined;
const verbose = Boolean(process.env.SIMD_OPTIM_FUZZ_VERBOSE);
const shrinkMs = positiveInteger('SIMD_OPTIM_FUZZ_SHRINK_MS', ci ? CI_SHRINK_MS : SHORT_SHRINK_MS);

const requested = process.argv.slice(2);
for (const m of requested) {
  if (!MODULES.includes(m)) {
    console.error(`unknown fuzz module '${m}' (known: ${MODULES.join(', ')})`);
    process.exit(2);
  }
}
const modules = requested.length ? requested : MODULES;

/** The command line that replays this run (one property, or the modules given). */
function replayCommand(property, counterexamplePath) {
  const env = [`SIMD_OPTIM_BACKEND=${BACKEND}`];
  if (process.env.SIMD_OPTIM_ISA) env.push(`SIMD_OPTIM_ISA=${process.env.SIMD_OPTIM_ISA}`);
  env.push(`SIMD_OPTIM_FUZZ_SEED=${seed}`, `SIMD_OPTIM_FUZZ_RUNS=${runs}`);
  if (property) env.push(`SIMD_OPTIM_FUZZ_ONLY=${property}`);
  if (counterexamplePath) env.push(`SIMD_OPTIM_FUZZ_PATH=${counterexamplePath}`);
  return `${env.join(' ')} node test/fuzz/run.mjs ${modules.join(' ')}`;
}

const selected = (name) => only.length === 0 || only.some((o) => name === o || name.startsWith(`${o}.`) || name.startsWith(o));

console.log(`fuzz: ${modules.join(' ')} on ${BACKEND} (${LEVELS.join(', ')}), seed ${seed}, ${runs} runs per property`);
const started = performance.now();
const failed = [];
let count = 0;

for (const module of modules) {
  const { properties } = await import(`./${module}.mjs`);
  for (const p of properties) {
    if (!selected(p.name)) continue;
    count++;
    const propertySeed = (seed ^ nameHash(p.name)) | 0;
    // Shrinking is bounded in time: once the budget is spent, every further candidate passes, so
    // fast-check stops at the smallest counterexample found so far.
    let failedAt = null;
    const shrinkOver = () => failedAt !== null && performance.now() - failedAt > shrinkMs;
    const noteFailure = (error) => {
      failedAt ??= performance.now();
      throw error;
    };
    const predicate = (...args) => {
      if (shrinkOver()) return true;
      if (verbose) console.log(`  case ${p.name}: ${fc.stringify(args)}`);
      try {
        const result = p.predicate(...args);
        return result instanceof Promise ? result.catch(noteFailure) : result;
      } catch (error) {
        return noteFailure(error);
      }
    };
    const property = p.async ? fc.asyncProperty(p.arbitrary, predicate) : fc.property(p.arbitrary, predicate);
    const t0 = performance.now();
    const numRuns = Math.max(1, Math.round(runs * (p.weight ?? 1)));
    const details = await fc.check(property, { seed: propertySeed, numRuns, path: only.length === 1 && p.name === only[0] ? path : undefined });
    const ms = Math.round(performance.now() - t0);
    if (!details.failed) {
      console.log(`ok   ${p.name} (${details.numRuns} runs, ${ms} ms)`);
      continue;
    }
    failed.push(p.name);
    console.log(`FAIL ${p.name} (${ms} ms)`);
    console.log(indent(fc.defaultReportMessage(details) ?? ''));
    const error = details.errorInstance;
    console.log(indent(`What happened: ${error instanceof Error ? error.message : String(error)}`));
    if (error instanceof Error && !error.message.includes('\n') && error.stack && !/^Error: /.test(error.message)) console.log(indent(error.stack));
    console.log(`  replay: ${replayCommand(p.name, details.counterexamplePath)}`);
  }
}

const seconds = ((performance.now() - started) / 1000).toFixed(1);
if (count === 0 && only.length && !process.env.SIMD_OPTIM_FUZZ_ALLOW_EMPTY) {
  console.log(`fuzz: no property matches SIMD_OPTIM_FUZZ_ONLY=${only.join(',')}`);
  process.exit(2);
}
console.log(`fuzz: ${count - failed.length} of ${count} properties passed in ${seconds} s (seed ${seed})${failed.length ? `; failed: ${failed.join(', ')}` : ''}`);
process.exitCode = failed.length ? 1 : 0;

function indent(text) {
  return text.split('\n').map((l) => `  ${l}`).join('\n');
}
