// torch.optim reference trajectories (test/fixtures/golden, made with PyTorch; see its README):
// every case of these optimizers must match within |ours - torch| <= 1e-6 + 1e-5*|torch|, for the
// final params and for every state buffer, on each backend and ISA level. The specification fuses
// exactly the multiply-adds PyTorch's CPU kernels fuse, so it in fact reproduces these trajectories
// bit for bit; that is asserted too, so a change of operation order cannot slip in unnoticed. On
// the native run every level must also equal the fallback bit for bit.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { describe, expect, test } from 'vitest';

import { Adadelta, Adagrad, Adam, Adamax, AdamW, RAdam, RMSprop, SGD } from '../lib/index.js';
import { backend, useBackend } from '../lib/bridge/backend.js';
import { backendsUnderTest, describeBitDifference, FIXTURES, readF32 } from './helpers.js';

interface GoldenCase {
  optimizer: string;
  options: Record<string, unknown>;
  n: number;
  steps: number;
  gradient: 'stream' | 'quadratic';
  state: string[];
}

interface AnyOptimizer {
  step(grads: Float32Array[]): void;
  readonly state: ReadonlyMap<Float32Array, object>;
}

const OPTIMIZERS: Record<string, new (params: Float32Array[], options: never) => AnyOptimizer> = {
  Adam, AdamW, Adagrad, RMSprop, SGD, Adadelta, Adamax, RAdam,
};

/** PyTorch's state names and ours. */
const STATE_NAMES: Record<string, string> = {
  exp_avg: 'expAvg', exp_avg_sq: 'expAvgSq', max_exp_avg_sq: 'maxExpAvgSq', sum: 'sum',
  square_avg: 'squareAvg', grad_avg: 'gradAvg', momentum_buffer: 'momentumBuffer', acc_delta: 'accDelta',
  exp_inf: 'expInf',
};

const GOLDEN = path.join(FIXTURES, 'golden');
const cases = readdirSync(GOLDEN)
  .filter((name) => existsSync(path.join(GOLDEN, name, 'case.json')))
  .map((name) => ({ name, spec: JSON.parse(readFileSync(path.join(GOLDEN, name, 'case.json'), 'utf8')) as GoldenCase }))
  .filter(({ spec }) => spec.optimizer in OPTIMIZERS);

/** Runs a case on the active backend; returns the final params and the state buffers by torch name. */
function run(name: string, spec: GoldenCase): { final: Float32Array; state: Record<string, Float32Array> } {
  const dir = path.join(GOLDEN, name);
  const param = readF32(path.join(dir, 'init.f32'));
  const opt = new OPTIMIZERS[spec.optimizer]!([param], spec.options as never);
  const grad = new Float32Array(spec.n);
  const stream = spec.gradient === 'stream' ? readF32(path.join(dir, 'grads.f32')) : null;
  const a = stream ? null : readF32(path.join(dir, 'a.f32'));
  const t = stream ? null : readF32(path.join(dir, 't.f32'));
  for (let s = 0; s < spec.steps; s++) {
    if (stream) {
      grad.set(stream.subarray(s * spec.n, (s + 1) * spec.n));
    } else {
      for (let i = 0; i < spec.n; i++) grad[i] = Math.fround(a![i]! * Math.fround(param[i]! - t![i]!));
    }
    opt.step([grad]);
  }
  const record = opt.state.get(param) as Record<string, unknown>;
  const state: Record<string, Float32Array> = {};
  for (const torchName of spec.state) state[torchName] = record[STATE_NAMES[torchName]!] as Float32Array;
  return { final: param, state };
}

function worstViolation(ours: Float32Array, torch: Float32Array): string | null {
  for (let i = 0; i < torch.length; i++) {
    const tolerance = 1e-6 + 1e-5 * Math.abs(torch[i]!);
    if (!(Math.abs(ours[i]! - torch[i]!) <= tolerance)) return `[${i}] ours ${ours[i]} torch ${torch[i]}`;
  }
  return null;
}

test('every golden case in the fixtures is run', () => {
  expect(cases.map((c) => c.name).sort()).toEqual([
    'adadelta_default', 'adagrad_decay', 'adagrad_default', 'adam_amsgrad_wd', 'adam_default', 'adamax_default',
    'adamw_default', 'radam_default', 'rmsprop_centered_momentum', 'rmsprop_default', 'sgd_momentum_nesterov', 'sgd_plain',
  ]);
});

describe.each(cases)('golden $name', ({ name, spec }) => {
  test.each(backendsUnderTest())('matches torch.optim on $label', ({ activate }) => {
    activate();
    const ours = run(name, spec);
    const dir = path.join(GOLDEN, name);
    const torchFinal = readF32(path.join(dir, 'final.f32'));
    expect(worstViolation(ours.final, torchFinal)).toBeNull();
    expect(describeBitDifference('final', ours.final, torchFinal)).toBeNull();
    expect(Object.keys(ours.state).sort()).toEqual([...spec.state].sort());
    for (const torchName of spec.state) {
      expect(ours.state[torchName], torchName).toBeInstanceOf(Float32Array);
      const torchState = readF32(path.join(dir, `state_${torchName}.f32`));
      expect(worstViolation(ours.state[torchName]!, torchState), torchName).toBeNull();
      expect(describeBitDifference(torchName, ours.state[torchName]!, torchState)).toBeNull();
    }
    if (backend === 'native') {
      useBackend('js');
      const spec32 = run(name, spec);
      expect(describeBitDifference('final', ours.final, spec32.final)).toBeNull();
      for (const torchName of spec.state) {
        expect(describeBitDifference(torchName, ours.state[torchName]!, spec32.state[torchName]!)).toBeNull();
      }
    }
  });
});
