// Checkpoint integrity: whatever a load installs is covered by the checksum (a flipped byte in the
// header is refused or loads exactly what was saved), files of other safetensors writers load and
// say they carry no checksum, format 1 files load and say their checksum covers the data only, and
// a forged header cannot make a load allocate more than the file holds.
import { createHash } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';

import { Adam, loadCheckpoint, loadCheckpointAsync, saveCheckpoint } from '../lib/index.js';
import { FIXTURES, normal, rng } from './helpers.js';

const dir = mkdtempSync(path.join(tmpdir(), 'simd-optim-integrity-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const json = (value: unknown) => JSON.stringify(value, (_k, v) => (v instanceof Float32Array ? Array.from(v) : v));

function make(seed = 1) {
  const random = rng(seed);
  const params = [normal(random, 6), normal(random, 3)];
  const opt = new Adam([{ params: [params[0]!], amsgrad: true }, { params: [params[1]!], lr: 0.01 }], { weightDecay: 0.1 });
  return { params, opt, random };
}

function saved(name: string): { file: string; bytes: Buffer; expected: string } {
  const { params, opt, random } = make();
  for (let k = 0; k < 3; k++) opt.step(params.map((p) => normal(random, p.length)));
  const file = path.join(dir, name);
  saveCheckpoint(file, opt);
  return { file, bytes: readFileSync(file), expected: json(opt.stateDict()) };
}

/** Loads `bytes` into a fresh optimizer: its state dict after the load, or the error. */
function attempt(bytes: Uint8Array, file: string): { state: string } | { error: unknown; unchanged: boolean } {
  writeFileSync(file, bytes);
  const { opt } = make(2);
  const before = json(opt.stateDict());
  try {
    loadCheckpoint(file, opt);
    return { state: json(opt.stateDict()) };
  } catch (error) {
    return { error, unchanged: json(opt.stateDict()) === before };
  }
}

/** The content checksum, as the format documents it (lib/io/checkpoint-format.ts). */
function canonicalSha(metadata: Record<string, string>, tensors: Record<string, { dtype: string; shape: number[]; data_offsets: number[] }>, data: Uint8Array): string {
  const meta = Object.keys(metadata).filter((k) => k !== 'sha256').sort().map((k) => [k, metadata[k]]);
  const names = Object.keys(tensors).sort();
  const hash = createHash('sha256').update(JSON.stringify([meta, names.map((k) => [k, tensors[k]!.dtype, tensors[k]!.shape])]));
  for (const k of names) hash.update(data.subarray(Math.max(0, tensors[k]!.data_offsets[0]!), Math.max(0, tensors[k]!.data_offsets[1]!)));
  return hash.digest('hex');
}

function fileOf(header: object, data: Uint8Array = new Uint8Array(0)): Buffer {
  let text = JSON.stringify(header);
  text += ' '.repeat((8 - (text.length % 8)) % 8);
  const length = Buffer.alloc(8);
  length.writeBigUInt64LE(BigInt(Buffer.byteLength(text)));
  return Buffer.concat([length, Buffer.from(text), data]);
}

function parse(bytes: Buffer) {
  const n = Number(bytes.readBigUInt64LE(0));
  const header = JSON.parse(bytes.subarray(8, 8 + n).toString()) as Record<string, unknown>;
  const { __metadata__: metadata, ...tensors } = header;
  return { metadata: metadata as Record<string, string>, tensors: tensors as never, data: bytes.subarray(8 + n), headerEnd: 8 + n };
}

describe('checkpoint integrity', () => {
  test('a flipped byte anywhere in the header is refused, or loads exactly what was saved', () => {
    const { file, bytes, expected } = saved('flip-source.safetensors');
    const { headerEnd } = parse(bytes);
    const target = path.join(dir, 'flip.safetensors');
    let refused = 0, same = 0;
    const different: string[] = [];
    for (let at = 0; at < headerEnd; at++) {
      for (const mask of [0x01, 0x04, 0x10]) {
        const copy = Buffer.from(bytes);
        copy[at] = copy[at]! ^ mask;
        const result = attempt(copy, target);
        if ('state' in result) {
          if (result.state === expected) same++;
          else different.push(`byte ${at} ^ ${mask}: '${String.fromCharCode(bytes[at]!)}' -> '${String.fromCharCode(copy[at]!)}'`);
        } else {
          refused++;
          expect(result.error, `byte ${at}`).toBeInstanceOf(RangeError);
          expect(result.unchanged).toBe(true);
        }
      }
    }
    expect(different).toEqual([]);
    expect(refused).toBeGreaterThan(3 * headerEnd * 0.9);
    void file;
  });

  test('a flipped byte in the data is refused', () => {
    const { bytes } = saved('data-source.safetensors');
    const { headerEnd } = parse(bytes);
    const target = path.join(dir, 'data-flip.safetensors');
    for (let at = headerEnd; at < bytes.length; at += 7) {
      const copy = Buffer.from(bytes);
      copy[at] = copy[at]! ^ 0x80;
      const result = attempt(copy, target);
      expect('error' in result && result.error instanceof RangeError && /sha256/.test((result.error as Error).message), `byte ${at}`).toBe(true);
    }
  });

  test('a file rewritten by another safetensors writer loads, and says it has no checksum', async () => {
    const { file, expected } = saved('foreign-source.safetensors');
    const foreign = path.join(dir, 'foreign.safetensors');
    const rewrite = (...extra: string[]) => {
      const run = spawnSync('python3', [path.join(FIXTURES, 'python', 'rewrite_safetensors.py'), file, foreign, ...extra], { encoding: 'utf8' });
      expect(run.stderr).toBe('');
    };
    rewrite('--drop', 'sha256');
    const { opt } = make(3);
    expect(loadCheckpoint(foreign, opt)).toEqual({ checksum: 'none', schedulers: 0 });
    expect(json(opt.stateDict())).toBe(expected);
    const strict = make(4).opt;
    const before = json(strict.stateDict());
    expect(() => loadCheckpoint(foreign, strict, { requireChecksum: true })).toThrow(/no checksum over its header.*another safetensors writer/);
    await expect(loadCheckpointAsync(foreign, strict, { requireChecksum: true })).rejects.toThrow(RangeError);
    expect(json(strict.stateDict())).toBe(before);
    // Laid out differently, tensors in another order, the checksum kept: it covers the content.
    rewrite('--reverse');
    expect(parse(readFileSync(foreign)).tensors).not.toEqual(parse(readFileSync(file)).tensors);
    expect(loadCheckpoint(foreign, make(5).opt, { requireChecksum: true })).toEqual({ checksum: 'all', schedulers: 0 });
  });

  test('format 1 files load, their checksum covering the data only', () => {
    const { bytes, expected } = saved('v1-source.safetensors');
    const { metadata, tensors, data } = parse(bytes);
    const v1 = fileOf({ __metadata__: { ...metadata, format: 'simd-optim.optimizer/1', sha256: createHash('sha256').update(data).digest('hex') }, ...(tensors as object) }, data);
    const file = path.join(dir, 'v1.safetensors');
    writeFileSync(file, v1);
    const { opt } = make(6);
    expect(loadCheckpoint(file, opt)).toEqual({ checksum: 'data', schedulers: 0 });
    expect(json(opt.stateDict())).toBe(expected);
    expect(() => loadCheckpoint(file, make(7).opt, { requireChecksum: true })).toThrow(/format 1/);
  });

  test('a header with a key twice is refused, whichever copy JSON.parse would keep', () => {
    const { bytes } = saved('twice-source.safetensors');
    const { metadata, tensors, data } = parse(bytes);
    const first = Object.keys(tensors as object)[0]!;
    const text = JSON.stringify({ __metadata__: metadata, ...(tensors as object) });
    const file = path.join(dir, 'twice.safetensors');
    for (const forged of [
      text.replace('{"__metadata__"', `{"${first}":${JSON.stringify((tensors as Record<string, unknown>)[first])},"__metadata__"`),
      text.replace('"format"', `"sha256":"0","format"`),
      text.replace(`"${first}"`, `"\\u0073tate${first.slice(5)}":{"dtype":"F32","shape":[0],"data_offsets":[0,0]},"${first}"`),
    ]) {
      const length = Buffer.alloc(8);
      length.writeBigUInt64LE(BigInt(Buffer.byteLength(forged)));
      writeFileSync(file, Buffer.concat([length, Buffer.from(forged), data]));
      expect(() => loadCheckpoint(file, make(10).opt)).toThrow(/has the key '.*' twice/);
    }
  });

  test('a forged header cannot make a load allocate more than the file holds', () => {
    const { bytes } = saved('forge-source.safetensors');
    const { metadata } = parse(bytes);
    const file = path.join(dir, 'forged.safetensors');
    // Two tensors whose offsets tile an empty data section: 2^30 floats, then -2^30.
    const tensors = {
      'state.0.exp_avg': { dtype: 'F32', shape: [2 ** 30], data_offsets: [0, 2 ** 32] },
      'state.0.exp_avg_sq': { dtype: 'F32', shape: [-(2 ** 30)], data_offsets: [2 ** 32, 0] },
    };
    const forged = [
      fileOf({ __metadata__: { ...metadata, format: 'simd-optim.optimizer/1', sha256: createHash('sha256').digest('hex') }, ...tensors }),
      fileOf({ __metadata__: { ...metadata, sha256: canonicalSha(metadata, tensors, new Uint8Array(0)) }, ...tensors }),
    ];
    for (const bytesForged of forged) {
      writeFileSync(file, bytesForged);
      const before = process.memoryUsage().arrayBuffers;
      const { opt } = make(8);
      expect(() => loadCheckpoint(file, opt)).toThrow(/not a valid simd-optim checkpoint: tensor 'state\.0\.exp_avg(_sq)?'/);
      expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(64 * 2 ** 20);
    }
    const huge = Buffer.alloc(16);
    huge.writeBigUInt64LE(2n ** 63n);
    writeFileSync(file, huge);
    expect(() => loadCheckpoint(file, make(9).opt)).toThrow(/header claims/);
  });
});
