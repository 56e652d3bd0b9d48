/** Runs saved as JSON files by name, written atomically and checked when read back. */
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';

import type { BenchRow, BenchRun } from './types.js';

/**
 * The file of a run named `name`: `name` itself when it is a path (has a slash or ends in .json),
 * else `<dir>/<name>.json`.
 */
export function runPath(name: string, dir: string): string {
  if (name === '') throw new RangeError('a run name must not be empty');
  return name.includes('/') || name.includes(path.sep) || name.endsWith('.json') ? path.resolve(name) : path.resolve(dir, `${name}.json`);
}

/** Writes a run to `file` (its directory created), whole or not at all: a temporary file renamed over it. */
export function saveRun(file: string, run: BenchRun): void {
  mkdirSync(path.dirname(file), { recursive: true });
  const temporary = `${file}.${process.pid}.tmp`;
  try {
    writeFileSync(temporary, JSON.stringify(run, null, 1) + '\n');
    renameSync(temporary, file);
  } catch (error) {
    rmSync(temporary, { force: true });
    throw error;
  }
}

function isRow(value: unknown): value is BenchRow {
  if (typeof value !== 'object' || value === null) return false;
  const row = value as Record<string, unknown>;
  return typeof row['table'] === 'string' && typeof row['series'] === 'string' && typeof row['elements'] === 'number' &&
    (row['kind'] === 'package' || row['kind'] === 'ceiling' || row['kind'] === 'peer') &&
    Array.isArray(row['samples']) && row['samples'].every((s) => typeof s === 'number' && s > 0 && Number.isFinite(s));
}

/** Reads a run saved by saveRun; throws naming the file when it is missing or not a run. */
export function loadRun(file: string): BenchRun {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new Error(`no saved run at ${file} (record one with --save first)`, { cause: error });
  }
  let run: unknown;
  try {
    run = JSON.parse(text);
  } catch (error) {
    throw new TypeError(`${file} is not JSON: ${(error as Error).message}`, { cause: error });
  }
  const r = run as Partial<BenchRun> | null;
  if (typeof r !== 'object' || r === null || r.format !== 'simd-optim-bench/1' || typeof r.fingerprint !== 'object' || r.fingerprint === null ||
    typeof r.rows !== 'object' || r.rows === null) {
    throw new TypeError(`${file} is not a saved benchmark run (format simd-optim-bench/1)`);
  }
  for (const [key, row] of Object.entries(r.rows)) {
    if (!isRow(row)) throw new TypeError(`${file}: row '${key}' is not a benchmark row (table, series, kind, elements, samples)`);
  }
  return r as BenchRun;
}
