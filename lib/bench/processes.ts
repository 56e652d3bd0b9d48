/**
 * Rounds in processes of their own: each round of a run is taken by a new Node process, which
 * builds the same measurements, takes one sample of each and sends them back.
 *
 * Why: the samples of one process share what the process happened to get: where its arrays and
 * code landed in memory and in the caches, what V8 learnt first and compiled, its thread pool.
 * Those differ from process to process by more than the samples within one differ (the same tree
 * measured 0.94 ns/element for RAdam at 1K in one run and 1.25 in the next, every sample of each
 * within 3%). A test over the samples of one process each then takes two processes for two
 * configurations and reports a change where there is none. With a process per round, what varies
 * between processes varies between the samples, and the interval of a change is as wide as it
 * should be (pyperf spawns worker processes for the same reason).
 * @internal
 */
import { fork } from 'node:child_process';

import { runRound, rowsOf, type Measurement, type RoundOptions } from './runner.js';
import type { BenchRow } from './types.js';

/** Set in a round's process: the script then serves one round instead of running. */
const CHILD = 'SIMD_OPTIM_BENCH_ROUND';

/** What the parent sends: the calls per batch calibrated by the first round, and which rows (default: all). */
interface RoundRequest {
  readonly iterations: Record<string, number>;
  readonly keys?: readonly string[];
}

/** What a round's process sends: a sample done (progress), then all of them. */
type RoundMessage =
  | { readonly type: 'sample'; readonly key: string }
  | { readonly type: 'done'; readonly samples: Record<string, number>; readonly iterations: Record<string, number> };

/** True in a process started by runRoundsInProcesses: it should call serveRound and do nothing else. */
export function isRoundProcess(): boolean {
  return process.env[CHILD] === '1' && typeof process.send === 'function';
}

/**
 * In a round's process: waits for the parent's request, takes one sample of every measurement,
 * sends them, and lets the process end.
 */
export function serveRound(measurements: readonly Measurement[], options: Omit<RoundOptions, 'rounds' | 'onSample'> = {}): Promise<void> {
  const send = (message: RoundMessage): void => void process.send!(message);
  return new Promise((resolve, reject) => {
    process.once('message', (request: RoundRequest) => {
      try {
        const iterations = new Map(Object.entries(request.iterations));
        const wanted = request.keys === undefined ? null : new Set(request.keys);
        const taken = runRound(wanted === null ? measurements : measurements.filter((m) => wanted.has(m.key)), iterations, options, (m) => send({ type: 'sample', key: m.key }));
        const done: RoundMessage = { type: 'done', samples: Object.fromEntries(taken), iterations: Object.fromEntries(iterations) };
        // Once sent, the channel closes and the process ends as soon as nothing else holds it.
        process.send!(done, undefined, undefined, () => {
          process.disconnect();
          resolve();
        });
      } catch (error) {
        reject(error);
      }
    });
  });
}

/** Where a round's process comes from: the script that builds the same measurements, and its arguments. */
export interface RoundProcess {
  readonly script: string;
  readonly args: readonly string[];
  /** Node's own options for it (default: this process's). */
  readonly execArgv?: readonly string[];
}

/**
 * Takes `rounds` samples of every measurement (or of those `keys` names), each round in a new
 * process of `child.script`, which must call serveRound with the same measurements (their keys
 * are checked). `measurements` here only describe the rows: their `prepare` is not called in this
 * process.
 */
export async function runRoundsInProcesses(
  allMeasurements: readonly Omit<Measurement, 'prepare'>[], child: RoundProcess,
  options: Pick<RoundOptions, 'rounds' | 'onSample'> & { readonly keys?: readonly string[] } = {},
): Promise<Record<string, BenchRow>> {
  const rounds = options.rounds ?? 5;
  if (!Number.isInteger(rounds) || rounds < 1) throw new RangeError(`rounds must be a whole number >= 1, got ${String(rounds)}`);
  const keys = options.keys === undefined ? undefined : [...options.keys];
  const wanted = keys === undefined ? null : new Set(keys);
  const measurements = wanted === null ? allMeasurements : allMeasurements.filter((m) => wanted.has(m.key));
  if (wanted !== null && measurements.length !== wanted.size) throw new RangeError('keys: every key must name one of the measurements');
  const byKey = new Map(measurements.map((m) => [m.key, m]));
  const samples = new Map<string, number[]>(measurements.map((m) => [m.key, []]));
  let iterations: Record<string, number> = {};
  const total = rounds * measurements.length;
  let done = 0;
  for (let round = 0; round < rounds; round++) {
    const result = await oneRound(child, { iterations, ...(keys === undefined ? {} : { keys }) }, (key) => {
      const m = byKey.get(key);
      if (m) options.onSample?.(++done, total, m as Measurement);
    });
    const measured = Object.keys(result.samples);
    if (measured.length !== measurements.length || measured.some((k) => !byKey.has(k))) {
      throw new Error(`round ${round + 1}: ${child.script} measured other rows than this run's (${measured.length} rows, expected ${measurements.length})`);
    }
    for (const key of measured) samples.get(key)!.push(result.samples[key]!);
    iterations = result.iterations;
  }
  return rowsOf(measurements, samples);
}

function oneRound(child: RoundProcess, request: RoundRequest, onSample: (key: string) => void): Promise<Extract<RoundMessage, { type: 'done' }>> {
  return new Promise((resolve, reject) => {
    const worker = fork(child.script, [...child.args], {
      env: { ...process.env, [CHILD]: '1' },
      execArgv: [...(child.execArgv ?? process.execArgv)],
      // The child's stdout is not this run's output (a user's module may print when loaded).
      stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
    });
    let result: Extract<RoundMessage, { type: 'done' }> | null = null;
    worker.on('message', (message: RoundMessage) => {
      if (message.type === 'sample') onSample(message.key);
      else result = message;
    });
    worker.once('error', reject);
    worker.once('exit', (code, signal) => {
      if (result !== null && code === 0) resolve(result);
      else reject(new Error(`a round's process (${child.script}) ${signal ? `was killed by ${signal}` : `exited with ${code}`} before sending its samples`));
    });
    worker.send(request);
  });
}
