/**
 * Float32 arithmetic the specification needs beyond Math.fround of one float64 operation.
 * (For +, -, *, / and sqrt of float32 values, Math.fround of the float64 result is already the
 * correctly rounded float32 result: float64 carries more than 2*24 + 2 bits.)
 * @internal
 */

const fround = Math.fround;
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
  // Written compactly on purpose: V8 inlines at most 920 bytes of bytecode into a function, and a
  // kernel loop with four fmaf calls must fit (each call not inlined costs a call per element).
  const p = a * b;
  const s = p + c;
  const t = s * 268435457; // 2^28 + 1: a Veltkamp split of s at 25 significant bits
  if (t - (t - s) !== s) return fround(s); // more bits (or NaN, infinity): not a midpoint
  // s is a float, a float midpoint, or subnormal or near overflow as a float32. If s is exact (as
  // for most sums of two floats of similar size), rounding it is rounding a*b + c.
  const bb = s - p;
  const e = p - (s - bb) + (c - bb); // s + e === a*b + c exactly (TwoSum)
  const r = fround(s);
  if (e === 0) return r;
  // r infinite: only a sum just short of the overflow midpoint (e and s of opposite signs) stays finite.
  if (r - r !== 0) return s * e < 0 && (s < 0 ? -s : s) === OVERFLOW_MIDPOINT ? (s > 0 ? FLT_MAX : -FLT_MAX) : r;
  const o = r + 2 * (s - r); // the float on the other side of s if s is a midpoint (r if s is a float)
  // Not a midpoint (or a float): r is right. A midpoint: the neighbour on the side of the error.
  return fround(o) !== o ? r : e > 0 === o > r ? o : r;
}
