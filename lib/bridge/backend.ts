/**
 * Loads the native addon (or not) and runs kernels on whichever backend is active.
 *
 * SIMD_OPTIM_BACKEND=js      always use the TypeScript fallback;
 * SIMD_OPTIM_BACKEND=native  use the addon, and throw at load time if it cannot be loaded;
 * unset                      use the addon when it loads; otherwise the fallback, with one warning
 *                            (code SIMD_OPTIM_NATIVE_UNAVAILABLE) saying why and what it costs.
 * SIMD_OPTIM_ISA=scalar|sse2|avx2|avx512|neon caps the instruction set of the native kernels.
 *
 * Both are read when this module is loaded, by each thread for itself: a Worker started with its
 * own `env` gets its own backend and level, and never changes another thread's (the addon keeps
 * its selection per module instance).
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import * as path from 'node:path';

import type { KernelFn, KernelId, ReduceFn, ReduceId, Slot } from './kernels.js';

/** The backend that runs the optimizer kernels. */
export type Backend = 'native' | 'js';

/** The instruction set the kernels run with; 'js' when the TypeScript fallback is in use. */
export type Isa = 'avx512' | 'avx2' | 'sse2' | 'neon' | 'scalar' | 'js';

/** The addon's interface (native/binding.cc). @internal */
export interface NativeAddon {
  step(kernel: KernelId, arrays: readonly Slot[], scalars: Float32Array, flags: Uint32Array, count: number, threads: number): void;
  reduce(reduction: ReduceId, arrays: readonly Slot[], count: number, threads: number): number;
  reduceAsync(reduction: ReduceId, arrays: readonly Slot[], count: number, threads: number): Promise<number>;
  stepAsync(
    kernel: KernelId, arrays: readonly Slot[], scalars: Float32Array, flags: Uint32Array, count: number, threads: number, checkFinite: boolean,
  ): Promise<boolean>;
  /** A step's arrays read once and kept (native/plan.cc): an opaque handle. */
  plan(kernel: KernelId, arrays: readonly Slot[], flags: Uint32Array, count: number, blocks: Uint32Array, scalars: Float32Array): NativePlan;
  /** step() over a plan's tensors, tensor t reading scalars block blocks[t]. */
  stepPlanned(plan: NativePlan, threads: number): void;
  /** StandardScaler's transform (inverse 0) or inverseTransform (1); shift and divisor hold columns + 16 entries (native/scaler.cc). */
  scaleColumns(inverse: 0 | 1, data: Float32Array, out: Float32Array, columns: number, shift: Float64Array, divisor: Float64Array): void;
  /** Welford's updates of data[i] into slot i % slots; the state arrays hold slots rounded up to 16 entries. */
  columnMoments(data: Float32Array, slots: number, mean: Float64Array, m2: Float64Array, count: Float64Array): void;
  /** How many threads the shared native pool runs now. */
  poolThreads(): number;
  /** Where a typed array's data starts, modulo 4096 (the low 12 bits of its address). */
  addressBits?(array: ArrayBufferView): number;
  availableIsas(): string[];
  selectIsa(isa: string): boolean;
  currentIsa(): string;
  layouts: Record<string, { id: number; slots: number; scalars: number }>;
}

/** A plan made by the addon (an External): only the addon looks inside. @internal */
export type NativePlan = { readonly __nativePlan: unique symbol };

/** Rank by vector width; a cap allows every level of lower or equal rank. */
const ISA_RANK: Record<string, number> = { scalar: 0, sse2: 1, neon: 1, avx2: 2, avx512: 3 };

function readBackendRequest(): Backend | undefined {
  const value = process.env['SIMD_OPTIM_BACKEND'];
  if (value === undefined || value === '') return undefined;
  if (value === 'js' || value === 'native') return value;
  throw new RangeError(`SIMD_OPTIM_BACKEND must be 'js' or 'native', got '${value}'`);
}

function readIsaCap(): string | undefined {
  const value = process.env['SIMD_OPTIM_ISA'];
  if (value === undefined || value === '') return undefined;
  if (ISA_RANK[value] === undefined) {
    throw new RangeError(`SIMD_OPTIM_ISA must be one of scalar, sse2, avx2, avx512, neon; got '${value}'`);
  }
  return value;
}

// lib/bridge/ (sources under vitest) and dist/bridge/ (the build) both sit two levels below the
// package root.
const root = path.resolve(__dirname, '..', '..');

function loadAddon(): NativeAddon {
  const load = createRequire(__filename)('node-gyp-build') as (dir: string) => unknown;
  return load(root) as NativeAddon;
}

/**
 * Why the addon is missing, in words a user can act on: the reason the install step recorded when
 * its build failed (scripts/install.js), or what loading said.
 */
function unavailableReason(error: unknown): string {
  try {
    const recorded = JSON.parse(readFileSync(path.join(root, 'build', 'native-unavailable.json'), 'utf8')) as { reason?: unknown };
    if (typeof recorded.reason === 'string') return `its build failed when it was installed: ${recorded.reason}`;
  } catch {
    // No record: the install step did not run, or it succeeded and the binary is gone since.
  }
  const message = error instanceof Error ? error.message : String(error);
  if (/No native build was found/.test(message)) {
    return `there is no prebuilt binary for ${process.platform}-${process.arch} and it was not built (were install scripts skipped, as with npm --ignore-scripts or pnpm?)`;
  }
  return `it could not be loaded: ${message.split('\n')[0]}`;
}

/** Picks the best level the CPU has that the cap allows. */
function applyIsaCap(addon: NativeAddon, cap: string | undefined): void {
  if (cap === undefined) return;
  const capRank = ISA_RANK[cap] ?? 0;
  const allowed = addon.availableIsas().find((isa) => (ISA_RANK[isa] ?? 0) <= capRank) ?? 'scalar';
  addon.selectIsa(allowed);
}

const requested = readBackendRequest();
const isaCap = readIsaCap();
let addon: NativeAddon | null = null;
/** Why the addon did not load, when it did not. @internal */
export let loadError: unknown = null;

if (requested !== 'js') {
  try {
    addon = loadAddon();
    applyIsaCap(addon, isaCap);
  } catch (error) {
    if (requested === 'native') {
      throw new Error(`SIMD_OPTIM_BACKEND=native, but the native addon could not be loaded: ${String(error)}`, {
        cause: error,
      });
    }
    addon = null;
    loadError = error;
    // Once per thread, where the addon should have been: SIMD_OPTIM_BACKEND=js asks for the fallback.
    process.emitWarning(
      `simd-optim is using its TypeScript fallback, about 30x slower than the native addon: ${unavailableReason(error)}. ` +
        'To build the addon: `npm rebuild simd-optim` with python3, make and a C++17 compiler. ' +
        'Set SIMD_OPTIM_BACKEND=js to use the fallback without this warning.',
      { type: 'SimdOptimWarning', code: 'SIMD_OPTIM_NATIVE_UNAVAILABLE' },
    );
  }
}

/** The native addon, or null when the fallback is in use. @internal */
export const nativeAddon: NativeAddon | null = addon;

/** Which backend runs the optimizer kernels: 'native' (the SIMD addon) or 'js' (the fallback). */
export const backend: Backend = addon ? 'native' : 'js';

/** The instruction set the kernels were loaded with: 'avx512', 'avx2', 'sse2', 'neon', 'scalar' or 'js'. */
export const isa: Isa = addon ? (addon.currentIsa() as Isa) : 'js';

let active: Backend = backend;

/** How many threads the machine offers this process (os.availableParallelism()). @internal */
export const availableThreads = Math.max(1, availableParallelism());

/**
 * Below this many bytes of memory traffic per thread, another thread costs more than it saves.
 * Measured by the bench (bench/README.md) on a 2-core machine: in cache a second thread gained
 * little or lost (SGD, 20 bytes per element: 0.86-0.99x at 256K and 1M elements; Adam, 36 bytes:
 * 1.3x at 256K), and always gained from about 24 MiB a step (Adam 1M: 1.6-1.8x, SGD 4M: 1.7x).
 * The setting favours never being slower over the gains in between. @internal
 */
export const MIN_BYTES_PER_THREAD = 12 << 20;

/**
 * The threads a step that moves `bytes` bytes of memory uses: the setting, or 'auto's choice,
 * which leaves `reserve` of the machine's threads free (stepAsync leaves one to the event loop:
 * with every core computing, its timers waited for the scheduler, p99 4.9 ms instead of 1.7 ms on
 * 2 cores). @internal
 */
export function threadsFor(setting: number | 'auto', bytes: number, reserve = 0): number {
  if (setting !== 'auto') return setting;
  const useful = Math.floor(bytes / MIN_BYTES_PER_THREAD);
  return useful <= 1 ? 1 : Math.max(1, Math.min(useful, availableThreads - reserve));
}

/** The bytes a kernel of `slots` arrays moves per element: it reads every slot and writes all but the gradient. @internal */
export function trafficPerElement(slots: number): number {
  return 4 * (2 * slots - 1);
}

/**
 * Runs one kernel on the active backend. `threads` (a whole number >= 1) is how many threads the
 * native backend may split the work over; the result is the same bits for every count. The
 * fallback runs on this thread. @internal
 */
export function runKernel(
  id: KernelId,
  js: KernelFn,
  arrays: readonly Slot[],
  scalars: Float32Array,
  flags: Uint32Array,
  count: number,
  lengths: readonly number[],
  threads = 1,
): void {
  if (active === 'native' && addon) {
    addon.step(id, arrays, scalars, flags, count, threads);
  } else {
    js(arrays, scalars, flags, count, lengths);
  }
}

/**
 * The native backend's step off the event loop: resolves to false when `checkFinite` found a NaN
 * or infinity in a gradient (slot 1), and nothing was written. Null on the fallback (which the
 * caller runs synchronously). The caller must leave `arrays` and the arrays in it alone until it
 * settles. @internal
 */
export function runKernelAsync(
  id: KernelId,
  arrays: readonly Slot[],
  scalars: Float32Array,
  flags: Uint32Array,
  count: number,
  threads: number,
  checkFinite: boolean,
): Promise<boolean> | null {
  return active === 'native' && addon ? addon.stepAsync(id, arrays, scalars, flags, count, threads, checkFinite) : null;
}

/** What runPlanned reads of a step plan (lib/optimizers/step-plan.ts). @internal */
export interface PlannedTasks {
  readonly arrays: readonly Slot[];
  readonly flags: Uint32Array;
  readonly blocks: Uint32Array;
  readonly count: number;
  readonly blockScalars: Float32Array;
  native: NativePlan | null;
}

/**
 * Runs a step plan's tasks on the native backend (the addon reads their arrays at the plan's first
 * native step and keeps them: the caller checks before each step that none has changed). False
 * on the fallback, which the caller runs with runKernel. @internal
 */
export function runPlanned(id: KernelId, plan: PlannedTasks, threads: number): boolean {
  if (active !== 'native' || !addon) return false;
  plan.native ??= addon.plan(id, plan.arrays, plan.flags, plan.count, plan.blocks, plan.blockScalars);
  addon.stepPlanned(plan.native, threads);
  return true;
}

/** Runs one reduction over the first `count` arrays on the active backend (see runKernel). @internal */
export function runReduce(id: ReduceId, js: ReduceFn, arrays: readonly Slot[], count: number, lengths: readonly number[], threads = 1): number {
  return active === 'native' && addon ? addon.reduce(id, arrays, count, threads) : js(arrays, count, lengths);
}

/**
 * runReduce off the event loop, on the native backend: null on the fallback (which the caller
 * runs synchronously). The caller must leave the arrays alone until it settles. @internal
 */
export function runReduceAsync(id: ReduceId, arrays: readonly Slot[], count: number, threads: number): Promise<number> | null {
  return active === 'native' && addon ? addon.reduceAsync(id, arrays, count, threads) : null;
}

/**
 * Where a typed array's data starts modulo 4 KiB, or null without the addon (then nothing is placed:
 * see lib/optimizers/state-placement.ts). Whichever backend is active: placement changes no value.
 * @internal
 */
export function addressBits(array: ArrayBufferView): number | null {
  return addon?.addressBits ? addon.addressBits(array) : null;
}

/** The addon's StandardScaler passes when the native backend is active; null on the fallback. @internal */
export function scalingAddon(): Pick<NativeAddon, 'scaleColumns' | 'columnMoments'> | null {
  return active === 'native' ? addon : null;
}

/**
 * Switches the backend, and for 'native' the instruction set, in this thread: for the tests and
 * the benchmark, which compare every level in one run. The exported `backend` and `isa` keep
 * describing what was selected at load time.
 * @internal
 */
export function useBackend(next: Backend, level?: string): void {
  if (next === 'native') {
    if (!addon) throw new Error('the native addon is not loaded');
    if (level !== undefined && !addon.selectIsa(level)) throw new RangeError(`ISA '${level}' is not available`);
  }
  active = next;
}

/** The ISA levels this machine can run natively, best first; empty without the addon. @internal */
export function availableIsas(): string[] {
  return addon ? addon.availableIsas() : [];
}
