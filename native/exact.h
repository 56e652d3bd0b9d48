// Exact arithmetic the specification needs beyond single IEEE operations: the float32 fused
// multiply-add emulated from float64 operations, for levels without an FMA instruction (the same
// algorithm as lib/float32.ts). Included by simd.h, inside the namespace of the level.
#pragma once

#include <cstdint>
#include <cstring>

#if defined(SIMD_OPTIM_TARGET_SSE2)
#include <emmintrin.h>
#endif

namespace simd_optim {
namespace SIMD_OPTIM_NS {

inline uint32_t floatBits(float x) {
  uint32_t bits;
  std::memcpy(&bits, &x, sizeof bits);
  return bits;
}

inline float bitsFloat(uint32_t bits) {
  float x;
  std::memcpy(&x, &bits, sizeof x);
  return x;
}

// The float64 value halfway between FLT_MAX and 2^128: sums at or beyond it round to infinity.
constexpr double kOverflowMidpoint = 340282356779733661637539395458142568448.0;  // 2^128 - 2^103
constexpr double kFltMax = 340282346638528859811704183484516925440.0;

// The correctly rounded float32 of a*b + c, from float64 operations (the same algorithm as
// lib/float32.ts): a*b is exact in float64, so s = a*b + c carries one float64 rounding, and
// rounding s to float32 is already correct unless s lies exactly halfway between two floats. Only
// then does the sign of s's rounding error (Knuth's TwoSum) decide the direction.
inline float fmaEmulated(float af, float bf, float cf) {
  const double p = double(af) * double(bf);
  const double c = cf;
  const double s = p + c;
  // A float32 midpoint has at most 25 significant bits: a Veltkamp split at 25 bits rules it out
  // in four operations for almost every input.
  const double t = s * 268435457.0;  // 2^28 + 1
  if (t - (t - s) != s) return float(s);
  // s is a float, a float midpoint, or in the subnormal or overflow range. When s is exact (as
  // for most sums of two floats of similar size), rounding it is rounding a*b + c.
  const double bb = s - p;
  const double e = (p - (s - bb)) + (c - bb);  // s + e == a*b + c exactly
  if (e == 0) return float(s);
  const float r = float(s);
  const double rd = r;
  const double d = s - rd;
  if (d == 0) return r;  // s is a float
  if (rd - rd != 0) {  // r overflowed: only a sum just short of the overflow midpoint stays finite
    const bool below = s > 0 ? e < 0 : e > 0;
    return (s == kOverflowMidpoint || s == -kOverflowMidpoint) && below ? float(s > 0 ? kFltMax : -kFltMax) : r;
  }
  const double other = rd + 2 * d;  // the float on the other side of s, if s is a midpoint
  if (double(float(other)) != other) return r;
  const double upper = other > rd ? other : rd;
  const double lower = other > rd ? rd : other;
  return float(e > 0 ? upper : lower);
}

#if defined(SIMD_OPTIM_TARGET_SSE2)

inline __m128d selectPd(__m128d mask, __m128d yes, __m128d no) {
  return _mm_or_pd(_mm_and_pd(mask, yes), _mm_andnot_pd(mask, no));
}

// fmaEmulated on two lanes widened to float64, without branches.
inline __m128d fmaEmulatedPd(__m128d a, __m128d b, __m128d c) {
  const __m128d p = _mm_mul_pd(a, b);
  const __m128d s = _mm_add_pd(p, c);
  // The Veltkamp filter of fmaEmulated: lanes with more than 25 significant bits cannot be
  // midpoints, and when no lane can, s rounded once more is the answer.
  const __m128d t = _mm_mul_pd(s, _mm_set1_pd(268435457.0));
  const __m128d fewBits = _mm_cmpeq_pd(_mm_sub_pd(t, _mm_sub_pd(t, s)), s);
  if (_mm_movemask_pd(fewBits) == 0) return s;
  const __m128d bb = _mm_sub_pd(s, p);
  const __m128d e = _mm_add_pd(_mm_sub_pd(p, _mm_sub_pd(s, bb)), _mm_sub_pd(c, bb));
  const __m128d zero = _mm_setzero_pd();
  if (_mm_movemask_pd(_mm_and_pd(fewBits, _mm_cmpneq_pd(e, zero))) == 0) return s;  // exact sums
  const __m128d r = _mm_cvtps_pd(_mm_cvtpd_ps(s));
  const __m128d d = _mm_sub_pd(s, r);
  const __m128d other = _mm_add_pd(r, _mm_add_pd(d, d));
  // A midpoint: s is not a float, the float on its other side is, and s is inexact. NaN and
  // overflowed lanes fail the second test (other is NaN there).
  const __m128d midpoint = _mm_and_pd(_mm_and_pd(_mm_cmpneq_pd(d, zero), _mm_cmpneq_pd(e, zero)),
                                      _mm_cmpeq_pd(_mm_cvtps_pd(_mm_cvtpd_ps(other)), other));
  const __m128d otherAbove = _mm_cmpgt_pd(other, r);
  const __m128d upper = selectPd(otherAbove, other, r);
  const __m128d lower = selectPd(otherAbove, r, other);
  __m128d result = selectPd(midpoint, selectPd(_mm_cmpgt_pd(e, zero), upper, lower), r);
  // Just below the overflow midpoint: +-FLT_MAX instead of the infinity the conversion gave.
  const __m128d sign = _mm_set1_pd(-0.0);
  const __m128d atOverflow = _mm_and_pd(_mm_cmpeq_pd(_mm_andnot_pd(sign, s), _mm_set1_pd(kOverflowMidpoint)),
                                        _mm_cmplt_pd(_mm_mul_pd(e, s), zero));
  result = selectPd(atOverflow, _mm_or_pd(_mm_set1_pd(kFltMax), _mm_and_pd(sign, s)), result);
  return result;
}

#endif

}  // namespace SIMD_OPTIM_NS
}  // namespace simd_optim
