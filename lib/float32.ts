/**
 * Float32 arithmetic the specification needs beyond Math.fround of one float64 operation.
 * (For +, -, *, / and sqrt of float32 values, Math.fround of the float64 result is already the
 * correctly rounded float32 result: float64 carries more than 2*24 + 2 bits.)
 * @internal
 */

const FLT_MAX = 3.4028234663852886e38;
/** Halfway between FLT_MAX and 2^128: float64 sums at or beyond it round to infinity. */
const OVERFLOW_MIDPOINT = 3.4028235677973366e38;

/**
 * IEEE fusedMultiplyAdd in float32: a*b + c rounded once, for float32 a, b, c. Bit-identical to a
 * hardware FMA instruction (native/simd.h has the same algorithm for CPUs without one).
 *
 * a*b is exact in float64, so s = a*b + c has one float64 rounding, and Math.fround(s) is already
 * correct unless s lies exactly halfway between two floats: only then does the sign of s's own
 * rounding error (Knuth's TwoSum) decide which neighbour is right. A float32 midpoint has at most
 * 25 significant bits, so a Veltkamp split of s at 25 bits rules out the midpoint case in four
 * operations for almost every input.
 */
export function fmaf(a: number, b: number, c: number): number {
  const p = a * b;
  const s = p + c;
  const t = s * 268435457; // 2^28 + 1
  if (t - (t - s) !== s) return Math.fround(s); // more than 25 significant bits: not a midpoint
  // s is a float, a float midpoint, or in the subnormal or overflow range. When s is exact (as
  // for most sums of two floats of similar size), rounding it is rounding a*b + c.
  const bb = s - p;
  const e = p - (s - bb) + (c - bb); // s + e === a*b + c exactly
  if (e === 0) return Math.fround(s);
  const r = Math.fround(s);
  const d = s - r;
  if (d === 0) return r; // s is a float
  if (r === Infinity || r === -Infinity) {
    // Only a sum just short of the overflow midpoint stays finite.
    const below = s > 0 ? e < 0 : e > 0;
    return (s === OVERFLOW_MIDPOINT || s === -OVERFLOW_MIDPOINT) && below ? (s > 0 ? FLT_MAX : -FLT_MAX) : r;
  }
  const other = r + 2 * d; // the float on the other side of s, if s is a midpoint
  if (Math.fround(other) !== other) return r;
  const upper = other > r ? other : r;
  const lower = other > r ? r : other;
  return e > 0 ? upper : lower;
}
