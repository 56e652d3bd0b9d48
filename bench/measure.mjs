// The single figure of the models and threads tables: the fastest of seven batches of >= 20 ms
// (lib/bench/measure.ts), the batch least disturbed by the rest of the machine.
import { createRequire } from 'node:module';

const { sample } = createRequire(import.meta.url)('../dist/bench/measure.js');

/** Nanoseconds per element of fn(), which processes n elements per call. */
export function measure(fn, n) {
  return sample(fn, n, 1, { batches: 7, minBatchNs: 20e6 })[0];
}
