// The bench's plain JavaScript loops (bench/plain.mjs) claim to be the same update as the package's
// optimizer of their table, as a hand-written optimizer does it (float64 arithmetic, no fround):
// over 20 steps they must stay within float32 rounding of it, or the row compares unlike things.
import { describe, expect, test } from 'vitest';

// @ts-expect-error: a JavaScript module without types
import { OPTIMIZERS } from '../bench/tables.mjs';
// @ts-expect-error: a JavaScript module without types
import { plainLoops } from '../bench/plain.mjs';
import { normal, rng } from './helpers.js';

interface BenchConfig {
  name: string;
  make(params: Float32Array[], options: object): { step(grads: Float32Array[]): unknown; phases?(): string[] };
  reads: number;
  plain: string;
}

describe.each((OPTIMIZERS as BenchConfig[]).map((config) => [config.name, config] as const))('%s', (_name, config) => {
  test('the plain loop follows the package within float32 rounding', () => {
    const n = 257;
    const param = normal(rng(1), n);
    const state = Array.from({ length: config.reads - 2 }, () => new Float32Array(n));
    const plain = [param.slice(), new Float32Array(n), ...state];
    const opt = config.make([param], {});
    const loop = (plainLoops as Record<string, (arrays: Float32Array[], t: number) => unknown>)[config.plain]!;
    for (let t = 1; t <= 20; t++) {
      const grad = normal(rng(100 + t), n, 0.1);
      opt.step([grad]);
      plain[1]!.set(grad);
      loop(plain, t);
    }
    for (let i = 0; i < n; i++) expect(Math.abs(plain[0]![i]! - param[i]!)).toBeLessThanOrEqual(1e-5 * Math.max(1, Math.abs(param[i]!)));
    if (opt.phases) expect(opt.phases()).toEqual(['adam']); // the bench measures SWATS before a switch
  });
});
