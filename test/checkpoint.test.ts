// Checkpoints: the safetensors layout (read back by Python), resuming with the same bits,
// atomic writes, and truncated or corrupted files refused without changing the optimizer.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';

import {
  Adam, NAdam, RMSprop, SGD, loadCheckpoint, loadCheckpointAsync, saveCheckpoint, saveCheckpointAsync,
} from '../lib/index.js';
import { backendsUnderTest, describeBitDifference, FIXTURES, normal, rng } from './helpers.js';

const dir = mkdtempSync(path.join(tmpdir(), 'simd-optim-checkpoint-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function setup(seed: number) {
  const random = rng(seed);
  const init = [normal(random, 40), normal(random, 3), normal(random, 0)];
  const grads = Array.from({ length: 10 }, () => init.map((p) => normal(random, p.length, 0.5)));
  const make = (params: Float32Array[]) =>
    new Adam([{ params: [params[0]!, params[1]!], amsgrad: true }, { params: [params[2]!], lr: 0.01 }], { weightDecay: 0.1 });
  return { init, grads, make };
}

const snapshot = (opt: { stateDict(): unknown }) => JSON.stringify(opt.stateDict(), (_k, v) => (v instanceof Float32Array ? Array.from(v) : v));

describe.each(backendsUnderTest())('on $label', ({ activate, label }) => {
  const tag = label.replace('/', '-');

  test.each(['sync', 'async'])('save after k steps, load, m more: the bits of k + m straight (%s)', async (mode) => {
    activate();
    const { init, grads, make } = setup(1);
    const straight = init.map((p) => p.slice());
    const a = make(straight);
    grads.forEach((g) => a.step(g));
    const resumed = init.map((p) => p.slice());
    const b = make(resumed);
    grads.slice(0, 4).forEach((g) => b.step(g));
    const file = path.join(dir, `resume-${tag}-${mode}.safetensors`);
    const c = make(resumed);
    if (mode === 'sync') {
      saveCheckpoint(file, b);
      loadCheckpoint(file, c);
    } else {
      await saveCheckpointAsync(file, b);
      await loadCheckpointAsync(file, c);
    }
    grads.slice(4).forEach((g) => c.step(g));
    resumed.forEach((p, k) => expect(describeBitDifference(`param ${k}`, p, straight[k]!)).toBeNull());
    expect(snapshot(c)).toBe(snapshot(a));
  });

  test('NAdam, RMSprop and SGD keep their extra state (mu_product, optional buffers)', () => {
    activate();
    const random = rng(2);
    for (const make of [
      (p: Float32Array[]) => new NAdam(p, { decoupledWeightDecay: true, weightDecay: 0.01 }),
      (p: Float32Array[]) => new RMSprop(p, { centered: true, momentum: 0.5 }),
      (p: Float32Array[]) => new SGD(p, { momentum: 0.9 }),
    ]) {
      const params = [normal(random, 17), normal(random, 2)];
      const opt = make(params);
      opt.step([normal(random, 17), null]); // the second param has no state yet
      const file = path.join(dir, `extra-${tag}.safetensors`);
      saveCheckpoint(file, opt);
      const fresh = make(params.map((p) => p.slice()));
      loadCheckpoint(file, fresh);
      expect(snapshot(fresh)).toBe(snapshot(opt));
    }
  });

  test('a truncated or corrupted file is refused, and the optimizer is unchanged', () => {
    activate();
    const { init, grads, make } = setup(3);
    const params = init.map((p) => p.slice());
    const source = make(params);
    grads.slice(0, 2).forEach((g) => source.step(g));
    const file = path.join(dir, `good-${tag}.safetensors`);
    saveCheckpoint(file, source);
    const good = readFileSync(file);
    const target = make(init.map((p) => p.slice()));
    target.step(grads[5]!);
    const before = snapshot(target);
    const headerLength = Number(good.readBigUInt64LE(0));
    const bad: [string, Buffer, RegExp][] = [
      ['empty', good.subarray(0, 0), /fewer than the 8/],
      ['cut in the header', good.subarray(0, 8 + (headerLength >> 1)), /header claims|not JSON/],
      ['cut in the data', good.subarray(0, good.length - 5), /truncated/],
      ['a flipped data bit', Buffer.concat([good.subarray(0, good.length - 3), Buffer.from([good[good.length - 3]! ^ 4]), good.subarray(good.length - 2)]), /sha256/],
      ['a bytes more', Buffer.concat([good, Buffer.from([0])]), /cover/],
      ['header garbage', Buffer.concat([good.subarray(0, 9), Buffer.from('x'), good.subarray(10)]), /not JSON/],
      ['another format', Buffer.from(good.toString('latin1').replace('simd-optim.optimizer/2', 'simd-optim.optimizer/9'), 'latin1'), /format/],
      ['a wrong dtype', Buffer.from(good.toString('latin1').replace('"F32"', '"F16"'), 'latin1'), /float32 vector/],
    ];
    for (const [what, bytes, message] of bad) {
      const broken = path.join(dir, `broken-${tag}.safetensors`);
      writeFileSync(broken, bytes);
      expect(() => loadCheckpoint(broken, target), what).toThrow(message);
      expect(snapshot(target), what).toBe(before);
    }
    // A valid checkpoint of another optimizer: the file is fine, the fit is not.
    const sgdFile = path.join(dir, `sgd-${tag}.safetensors`);
    const sgd = new SGD([new Float32Array(4)], { momentum: 0.9 });
    sgd.step([new Float32Array(4).fill(1)]);
    saveCheckpoint(sgdFile, sgd);
    expect(() => loadCheckpoint(sgdFile, target)).toThrow(/state dict is of SGD, not Adam/);
    expect(snapshot(target)).toBe(before);
  });
});

test('writes are atomic: no temporary file is left, a failed write leaves the old file', () => {
  const { init, grads, make } = setup(4);
  const opt = make(init.map((p) => p.slice()));
  opt.step(grads[0]!);
  const file = path.join(dir, 'atomic.safetensors');
  saveCheckpoint(file, opt);
  const first = readFileSync(file);
  opt.step(grads[1]!);
  saveCheckpoint(file, opt);
  expect(readFileSync(file).equals(first)).toBe(false);
  expect(readdirSync(dir).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  // The target is a non-empty directory: the rename fails; nothing is left behind.
  const blocked = path.join(dir, 'blocked');
  mkdirSync(path.join(blocked, 'inside'), { recursive: true });
  expect(() => saveCheckpoint(blocked, opt)).toThrow();
  expect(readdirSync(dir).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  expect(() => saveCheckpoint(path.join(dir, 'no', 'such', 'dir.safetensors'), opt)).toThrow(/ENOENT/);
});

test('Python reads the checkpoint (a standard-library reader that validates like safetensors)', () => {
  const { init, grads, make } = setup(5);
  const params = init.map((p) => p.slice());
  const opt = make(params);
  grads.slice(0, 3).forEach((g) => opt.step(g));
  const file = path.join(dir, 'python.safetensors');
  saveCheckpoint(file, opt);
  const run = spawnSync('python3', [path.join(FIXTURES, 'python', 'read_safetensors.py'), file], { encoding: 'utf8' });
  expect(run.stderr).toBe('');
  const { metadata, tensors } = JSON.parse(run.stdout) as {
    metadata: Record<string, string>;
    tensors: Record<string, { shape: number[]; values: number[] }>;
  };
  expect(metadata['optimizer']).toBe('Adam');
  expect(JSON.parse(metadata['state']!)).toEqual({ 0: { step: 3 }, 1: { step: 3 }, 2: { step: 3 } });
  expect(JSON.parse(metadata['param_groups']!)[1]).toMatchObject({ params: [2], lr: 0.01, amsgrad: false, weightDecay: 0.1 });
  const state = opt.state.get(params[0]!)!;
  expect(tensors['state.0.exp_avg']!.values).toEqual(Array.from(state.expAvg));
  expect(tensors['state.0.max_exp_avg_sq']!.shape).toEqual([40]);
  expect(tensors['state.2.exp_avg']!.shape).toEqual([0]);
  expect(Object.keys(tensors).sort()).toEqual([
    'state.0.exp_avg', 'state.0.exp_avg_sq', 'state.0.max_exp_avg_sq',
    'state.1.exp_avg', 'state.1.exp_avg_sq', 'state.1.max_exp_avg_sq',
    'state.2.exp_avg', 'state.2.exp_avg_sq',
  ]);
});
