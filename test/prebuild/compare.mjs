#!/usr/bin/env node
// Compares the outputs of test/prebuild/probe.cjs: every run must give the reference's bits.
//
//   node test/prebuild/compare.mjs reference.json other.json...   exit 1 on any difference
//
// Each file holds probe.cjs's JSON line (a label is taken from its platform, arch and isa).
import * as fs from 'node:fs';
import { fileURLToPath } from 'node:url';

const f32 = (h, i) => Buffer.from(h, 'hex').readFloatLE(4 * i);
const labelOf = (r) => r.label ?? `${r.platform ?? ''}${r.platform ? '-' : ''}${r.arch} ${r.isa}`;

/** Differences of `runs[1..]` from `runs[0]`, as sentences (at most five per run). */
export function compareRuns(runs) {
  const [reference, ...others] = runs;
  const problems = [];
  if (!(Number(reference.out['adam.clipped']) > 0 && Number(reference.out['sgd.clipped']) > 0)) {
    problems.push('the loop never clipped: the probe\'s data no longer exercise clipGradNorm');
  }
  for (const r of others) {
    let differing = 0;
    for (const [key, want] of Object.entries(reference.out)) {
      const got = r.out[key];
      if (got === want) continue;
      if (++differing > 5) continue;
      if (!/\.(norms|clipped)$/.test(key) && typeof got === 'string' && got.length === want.length) {
        const i = [...Array(want.length / 8).keys()].find((k) => want.slice(8 * k, 8 * k + 8) !== got.slice(8 * k, 8 * k + 8));
        const word = (h) => `${f32(h, i)} (0x${h.slice(8 * i, 8 * i + 8)} in memory order)`;
        problems.push(`${labelOf(r)}: ${key}[${i}] is ${word(got)}, ${labelOf(reference)} has ${word(want)}`);
      } else {
        problems.push(`${labelOf(r)}: ${key} is ${got}, ${labelOf(reference)} has ${want}`);
      }
    }
    if (differing > 5) problems.push(`${labelOf(r)}: ${differing} of ${Object.keys(reference.out).length} values differ in all`);
  }
  return problems;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const files = process.argv.slice(2);
  if (files.length < 2) {
    console.error('usage: node test/prebuild/compare.mjs reference.json other.json...');
    process.exit(2);
  }
  const runs = files.map((f) => JSON.parse(fs.readFileSync(f, 'utf8').trim().split('\n').pop()));
  const problems = compareRuns(runs);
  for (const [i, r] of runs.entries()) console.log(`compare: ${labelOf(r).padEnd(22)} backend ${r.backend}${r.loaded ? `, loaded ${r.loaded}` : ''}  (${files[i]})`);
  if (problems.length > 0) {
    for (const p of problems) console.error(`compare: ${p}`);
    process.exit(1);
  }
  console.log(`compare: ${runs.length} runs bit-identical`);
}
