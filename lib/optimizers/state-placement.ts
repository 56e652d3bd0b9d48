/**
 * Where new state buffers start in memory, modulo 4 KiB.
 *
 * A core decides whether a load may depend on an earlier store from the low 12 bits of their
 * addresses first ("4K aliasing"). A step loads param, grad and the state, and stores param and
 * the state, vector after vector. When a stored array starts a little ahead of a loaded one modulo
 * 4 KiB, each load looks like it reads a store still in flight, and waits. Fresh arrays land
 * wherever the allocator puts them, so the same Adam step at 1K elements took 0.58 ns/element for
 * some tensors and 0.86-0.99 for others in one process (and 64 to 192 bytes of stagger between the
 * state and the param made a 16K step 1.7x slower).
 *
 * So a step that creates state places each new buffer (or the arena of small ones, gatherNewState)
 * as far as it can, modulo 4 KiB, from the other arrays of its first tensor: param, grad and the
 * state placed before it. Params lying end to end with state end to end keep their offsets, so one
 * arena placed for its first tensor is placed for all of them. It costs one allocation of 4 KiB
 * more per buffer, once, and changes no value. Without the addon (no addresses to read) nothing
 * moves.
 * @internal
 */
import { addressBits } from '../bridge/backend.js';
import type { Slot } from '../bridge/kernels.js';
import { realBuffer, realByteOffset } from '../core/intrinsics.js';

const PAGE = 4096;
/** Candidate starts: cache lines. */
const LINE = 64;
/** Buffers below this many elements are left where they are: their loops are too short to stall long. */
export const PLACED_MIN_ELEMENTS = 256;

/** The shift (bytes, a multiple of LINE) from `base` that is farthest, modulo 4 KiB, from every one of `others`. */
export function farthestShift(base: number, others: readonly number[]): number {
  let best = 0, bestDistance = -1;
  for (let shift = 0; shift < PAGE; shift += LINE) {
    const at = (base + shift) % PAGE;
    let nearest = PAGE;
    for (const x of others) {
      const d = Math.abs(at - x);
      nearest = Math.min(nearest, d, PAGE - d);
    }
    if (nearest > bestDistance) bestDistance = nearest, best = shift;
  }
  return best;
}

/**
 * Places the state buffers a staged step has just created (those not in their record yet, after
 * gatherNewState): each distinct new buffer is copied into a slightly larger one at the start
 * farthest from its first tensor's other arrays. `arrays` holds `slots` entries per staged tensor.
 */
export function placeNewState(arrays: Slot[], count: number, slots: number, lengths: readonly number[], isNew: (t: number, k: number) => boolean): void {
  // Each buffer once: the arena of small state, or one tensor's own.
  const moved = new Map<ArrayBufferLike, { big: Float32Array; start: number }>();
  for (let t = 0; t < count; t++) {
    for (let k = 2; k < slots; k++) {
      const state = arrays[t * slots + k];
      if (!state || !isNew(t, k)) continue;
      const buffer = realBuffer(state);
      let target = moved.get(buffer);
      if (target === undefined) {
        const elements = buffer.byteLength / 4;
        if (elements < PLACED_MIN_ELEMENTS) continue;
        // This runs in commit, after the kernel: it must not throw half-way through attaching the
        // step's state. Without the memory, the buffer stays where it is.
        let big: Float32Array;
        try {
          big = new Float32Array(elements + PAGE / 4);
        } catch {
          continue;
        }
        const base = addressBits(big);
        if (base === null) return; // no addon: nothing can be placed
        // The first tensor's other arrays (this view starts that far into the buffer).
        const others: number[] = [];
        const into = realByteOffset(state);
        for (let j = 0; j < slots; j++) {
          const other = arrays[t * slots + j];
          // New state of a later slot is not placed yet: where it is now says nothing.
          if (j === k || !other || (j > k && isNew(t, j))) continue;
          const bits = addressBits(other);
          if (bits !== null) others.push((((bits - into) % PAGE) + PAGE) % PAGE);
        }
        const start = farthestShift(base, others) / 4;
        big.set(new Float32Array(buffer), start);
        target = { big, start };
        moved.set(buffer, target);
      }
      const from = target.start + realByteOffset(state) / 4;
      arrays[t * slots + k] = target.big.subarray(from, from + lengths[t]!);
    }
  }
}
