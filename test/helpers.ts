import { readFileSync } from 'node:fs';
import * as path from 'node:path';

import { availableIsas, backend, useBackend } from '../lib/bridge/backend.js';

export interface BackendUnderTest {
  label: string;
  activate(): void;
}

/** The backends this project's run covers: every native ISA level the CPU has, or the fallback. */
export function backendsUnderTest(): BackendUnderTest[] {
  if (backend === 'js') return [{ label: 'js', activate: () => useBackend('js') }];
  return availableIsas().map((level) => ({ label: `native/${level}`, activate: () => useBackend('native', level) }));
}

/** Runs `fn` with the fallback active, then restores the previous choice via the caller's activate. */
export function withFallback<T>(fn: () => T): T {
  useBackend('js');
  return fn();
}

/**
 * Index of the first element whose bits differ, or -1. NaN matches any NaN: ECMAScript lets an
 * engine store any NaN bit pattern into a Float32Array, so only NaN-ness is part of the spec.
 */
export function firstBitDifference(a: Float32Array, b: Float32Array): number {
  if (a.length !== b.length) return Math.min(a.length, b.length);
  const ua = new Uint32Array(a.buffer, a.byteOffset, a.length);
  const ub = new Uint32Array(b.buffer, b.byteOffset, b.length);
  for (let i = 0; i < a.length; i++) {
    if (ua[i] !== ub[i] && !(Number.isNaN(a[i]) && Number.isNaN(b[i]))) return i;
  }
  return -1;
}

export function hex(x: number): string {
  const u = new Uint32Array(new Float32Array([x]).buffer)[0]!;
  return `0x${u.toString(16).padStart(8, '0')}`;
}

/** A readable description of the first bitwise difference, or null when there is none. */
export function describeBitDifference(label: string, a: Float32Array, b: Float32Array): string | null {
  const i = firstBitDifference(a, b);
  if (i < 0) return null;
  return `${label}[${i}]: ${a[i]} (${hex(a[i]!)}) vs ${b[i]} (${hex(b[i]!)})`;
}

/** Little-endian float32 file into a Float32Array, whatever the host's byte order. */
export function readF32(file: string): Float32Array {
  const bytes = readFileSync(file);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out = new Float32Array(bytes.byteLength / 4);
  for (let i = 0; i < out.length; i++) out[i] = view.getFloat32(i * 4, true);
  return out;
}

export const FIXTURES = path.join(__dirname, 'fixtures');

export { rng } from './random.mjs';

export function gaussian(random: () => number): number {
  const u = 1 - random();
  const v = random();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
}

const FLT_MAX = 3.4028234663852886e38;
const SPECIALS = [
  NaN, -NaN, Infinity, -Infinity, 0, -0, FLT_MAX, -FLT_MAX,
  1.401298464324817e-45, -1.401298464324817e-45,   // smallest subnormal
  1.1754942106924411e-38, -5.877471754111438e-39,  // largest subnormal, a middle one
  1.1754943508222875e-38,                           // smallest normal
  1, -1, 1e-30, -1e30, 1e30,
];

/**
 * Values that exercise every IEEE path: ordinary values over 60 orders of magnitude, and with
 * probability `specialRate` NaN, infinities, signed zeros, subnormals and the largest floats.
 */
export function adversarial(random: () => number, n: number, specialRate = 0.15): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    if (random() < specialRate) {
      out[i] = SPECIALS[Math.floor(random() * SPECIALS.length)]!;
    } else {
      const magnitude = 10 ** (-30 + 60 * random());
      out[i] = (random() < 0.5 ? -1 : 1) * magnitude * (0.5 + random());
    }
  }
  return out;
}

/** Ordinary N(0, scale^2) values. */
export function normal(random: () => number, n: number, scale = 1): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = gaussian(random) * scale;
  return out;
}

/** A view of `n` floats starting `offset` floats into a fresh buffer, so SIMD loads are unaligned. */
export function unalignedCopy(source: Float32Array, offset: number): Float32Array {
  const buffer = new Float32Array(source.length + offset + 3);
  const view = buffer.subarray(offset, offset + source.length);
  view.set(source);
  return view;
}
