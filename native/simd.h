// Vector types for the optimizer kernels, one set per instruction-set level.
//
// Every kernel source is compiled once per level (see binding.gyp); the build defines exactly one
// SIMD_OPTIM_TARGET_* macro for it. All code here lives in a namespace named after that level, so
// the inline helpers compiled with -mavx512f can never be merged by the linker with the ones
// compiled for SSE2 (an ODR trap that would run AVX-512 instructions on a CPU without them).
//
// Each level provides two types with the same interface:
//   VecF    - as many float32 lanes as the level has (16 for AVX-512, 8 for AVX2, 4 for SSE2/NEON,
//             1 for the scalar level);
//   ScalarF - one float32, used for the tail of every loop.
// Kernels are written once as generic lambdas over these types (see forEachBlock), so the vector
// body and the scalar tail perform the same IEEE operations in the same order. No operation here
// is approximate: division and square root are the correctly rounded IEEE instructions. The build
// disables FMA contraction (-ffp-contract=off), so a*b+c is always two roundings; where the
// specification wants one rounding it says so with fma(), the IEEE fusedMultiplyAdd: a hardware
// instruction where the level has one, an exact emulation from float64 operations elsewhere.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

#if defined(SIMD_OPTIM_TARGET_AVX512)
#define SIMD_OPTIM_NS avx512
#include <immintrin.h>
#elif defined(SIMD_OPTIM_TARGET_AVX2)
#define SIMD_OPTIM_NS avx2
#include <immintrin.h>
#elif defined(SIMD_OPTIM_TARGET_SSE2)
#define SIMD_OPTIM_NS sse2
#include <emmintrin.h>
#elif defined(SIMD_OPTIM_TARGET_NEON)
#define SIMD_OPTIM_NS neon
#include <arm_neon.h>
#elif defined(SIMD_OPTIM_TARGET_SCALAR)
#define SIMD_OPTIM_NS scalar
#else
#error "binding.gyp must define one SIMD_OPTIM_TARGET_* macro for each kernel library"
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
  const float r = float(s);
  const double rd = r;
  const double d = s - rd;
  if (d == 0 || d != d) return r;  // s is a float, NaN or infinite
  const double bb = s - p;
  const double e = (p - (s - bb)) + (c - bb);  // s + e == a*b + c exactly
  if (rd - rd != 0) {  // r overflowed: only a sum just below the overflow midpoint stays finite
    const bool below = s > 0 ? e < 0 : e > 0;
    return (s == kOverflowMidpoint || s == -kOverflowMidpoint) && below ? float(s > 0 ? kFltMax : -kFltMax) : r;
  }
  const double other = rd + 2 * d;  // the float on the other side of s, if s is a midpoint
  if (double(float(other)) != other || e == 0) return r;
  const double upper = other > rd ? other : rd;
  const double lower = other > rd ? rd : other;
  return float(e > 0 ? upper : lower);
}

// One float32 lane. The vector types below reproduce exactly what these operations do.
struct ScalarF {
  static constexpr size_t kLanes = 1;
  float v;

  static ScalarF load(const float* p) { return {*p}; }
  static ScalarF broadcast(float x) { return {x}; }
  void store(float* p) const { *p = v; }
};

inline ScalarF operator+(ScalarF a, ScalarF b) { return {a.v + b.v}; }
inline ScalarF operator-(ScalarF a, ScalarF b) { return {a.v - b.v}; }
inline ScalarF operator*(ScalarF a, ScalarF b) { return {a.v * b.v}; }
inline ScalarF operator/(ScalarF a, ScalarF b) { return {a.v / b.v}; }
inline ScalarF sqrt(ScalarF a) { return {__builtin_sqrtf(a.v)}; }

// a*b + c rounded once.
inline ScalarF fma(ScalarF a, ScalarF b, ScalarF c) {
#if defined(__FP_FAST_FMAF)
  return {__builtin_fmaf(a.v, b.v, c.v)};  // one instruction on FMA3, AVX-512 and AArch64
#else
  return {fmaEmulated(a.v, b.v, c.v)};
#endif
}

// XOR of the bit patterns: with a mask of -0.0f it negates, with +0.0f it is the identity.
inline ScalarF xorBits(ScalarF a, ScalarF mask) {
  return {bitsFloat(floatBits(a.v) ^ floatBits(mask.v))};
}

// JavaScript's Math.max on two float32 values: NaN if either is NaN, +0 is larger than -0.
// (torch.maximum also propagates NaN; the vector versions below compute the same bits.)
inline ScalarF maxJs(ScalarF a, ScalarF b) {
  if (a.v != a.v || b.v != b.v) return {bitsFloat(0xFFFFFFFFu)};
  if (a.v == b.v) return {bitsFloat(floatBits(a.v) & floatBits(b.v))};
  return {a.v > b.v ? a.v : b.v};
}

#if defined(SIMD_OPTIM_TARGET_AVX512)

struct VecF {
  static constexpr size_t kLanes = 16;
  __m512 v;

  static VecF load(const float* p) { return {_mm512_loadu_ps(p)}; }
  static VecF broadcast(float x) { return {_mm512_set1_ps(x)}; }
  void store(float* p) const { _mm512_storeu_ps(p, v); }
};

inline VecF operator+(VecF a, VecF b) { return {_mm512_add_ps(a.v, b.v)}; }
inline VecF operator-(VecF a, VecF b) { return {_mm512_sub_ps(a.v, b.v)}; }
inline VecF operator*(VecF a, VecF b) { return {_mm512_mul_ps(a.v, b.v)}; }
inline VecF operator/(VecF a, VecF b) { return {_mm512_div_ps(a.v, b.v)}; }
inline VecF sqrt(VecF a) { return {_mm512_sqrt_ps(a.v)}; }
inline VecF fma(VecF a, VecF b, VecF c) { return {_mm512_fmadd_ps(a.v, b.v, c.v)}; }

// AVX-512F alone has no float XOR/AND (those are AVX-512DQ); the integer forms are equivalent.
inline VecF xorBits(VecF a, VecF mask) {
  return {_mm512_castsi512_ps(_mm512_xor_si512(_mm512_castps_si512(a.v), _mm512_castps_si512(mask.v)))};
}

inline VecF maxJs(VecF a, VecF b) {
  __m512 larger = _mm512_max_ps(a.v, b.v);  // a > b ? a : b
  __m512i both = _mm512_and_si512(_mm512_castps_si512(a.v), _mm512_castps_si512(b.v));
  __mmask16 equal = _mm512_cmp_ps_mask(a.v, b.v, _CMP_EQ_OQ);
  __mmask16 unordered = _mm512_cmp_ps_mask(a.v, b.v, _CMP_UNORD_Q);
  larger = _mm512_mask_blend_ps(equal, larger, _mm512_castsi512_ps(both));
  return {_mm512_mask_blend_ps(unordered, larger, _mm512_castsi512_ps(_mm512_set1_epi32(-1)))};
}

#elif defined(SIMD_OPTIM_TARGET_AVX2)

struct VecF {
  static constexpr size_t kLanes = 8;
  __m256 v;

  static VecF load(const float* p) { return {_mm256_loadu_ps(p)}; }
  static VecF broadcast(float x) { return {_mm256_set1_ps(x)}; }
  void store(float* p) const { _mm256_storeu_ps(p, v); }
};

inline VecF operator+(VecF a, VecF b) { return {_mm256_add_ps(a.v, b.v)}; }
inline VecF operator-(VecF a, VecF b) { return {_mm256_sub_ps(a.v, b.v)}; }
inline VecF operator*(VecF a, VecF b) { return {_mm256_mul_ps(a.v, b.v)}; }
inline VecF operator/(VecF a, VecF b) { return {_mm256_div_ps(a.v, b.v)}; }
inline VecF sqrt(VecF a) { return {_mm256_sqrt_ps(a.v)}; }
inline VecF fma(VecF a, VecF b, VecF c) { return {_mm256_fmadd_ps(a.v, b.v, c.v)}; }  // FMA3
inline VecF xorBits(VecF a, VecF mask) { return {_mm256_xor_ps(a.v, mask.v)}; }

inline VecF maxJs(VecF a, VecF b) {
  __m256 larger = _mm256_max_ps(a.v, b.v);  // a > b ? a : b
  __m256 equal = _mm256_cmp_ps(a.v, b.v, _CMP_EQ_OQ);
  __m256 unordered = _mm256_cmp_ps(a.v, b.v, _CMP_UNORD_Q);
  larger = _mm256_blendv_ps(larger, _mm256_and_ps(a.v, b.v), equal);
  return {_mm256_or_ps(larger, unordered)};  // all-ones lanes are NaN
}

#elif defined(SIMD_OPTIM_TARGET_SSE2)

struct VecF {
  static constexpr size_t kLanes = 4;
  __m128 v;

  static VecF load(const float* p) { return {_mm_loadu_ps(p)}; }
  static VecF broadcast(float x) { return {_mm_set1_ps(x)}; }
  void store(float* p) const { _mm_storeu_ps(p, v); }
};

inline VecF operator+(VecF a, VecF b) { return {_mm_add_ps(a.v, b.v)}; }
inline VecF operator-(VecF a, VecF b) { return {_mm_sub_ps(a.v, b.v)}; }
inline VecF operator*(VecF a, VecF b) { return {_mm_mul_ps(a.v, b.v)}; }
inline VecF operator/(VecF a, VecF b) { return {_mm_div_ps(a.v, b.v)}; }
inline VecF sqrt(VecF a) { return {_mm_sqrt_ps(a.v)}; }
inline VecF xorBits(VecF a, VecF mask) { return {_mm_xor_ps(a.v, mask.v)}; }

inline __m128d selectPd(__m128d mask, __m128d yes, __m128d no) {
  return _mm_or_pd(_mm_and_pd(mask, yes), _mm_andnot_pd(mask, no));
}

// fmaEmulated on two lanes widened to float64, without branches.
inline __m128d fmaEmulatedPd(__m128d a, __m128d b, __m128d c) {
  const __m128d p = _mm_mul_pd(a, b);
  const __m128d s = _mm_add_pd(p, c);
  const __m128d r = _mm_cvtps_pd(_mm_cvtpd_ps(s));
  const __m128d d = _mm_sub_pd(s, r);
  const __m128d other = _mm_add_pd(r, _mm_add_pd(d, d));
  const __m128d bb = _mm_sub_pd(s, p);
  const __m128d e = _mm_add_pd(_mm_sub_pd(p, _mm_sub_pd(s, bb)), _mm_sub_pd(c, bb));
  const __m128d zero = _mm_setzero_pd();
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

// SSE2 has no fused multiply-add: the exact emulation, two lanes at a time.
inline VecF fma(VecF a, VecF b, VecF c) {
  const __m128d low = fmaEmulatedPd(_mm_cvtps_pd(a.v), _mm_cvtps_pd(b.v), _mm_cvtps_pd(c.v));
  const __m128d high = fmaEmulatedPd(_mm_cvtps_pd(_mm_movehl_ps(a.v, a.v)), _mm_cvtps_pd(_mm_movehl_ps(b.v, b.v)),
                                     _mm_cvtps_pd(_mm_movehl_ps(c.v, c.v)));
  return {_mm_movelh_ps(_mm_cvtpd_ps(low), _mm_cvtpd_ps(high))};
}

inline VecF maxJs(VecF a, VecF b) {
  __m128 larger = _mm_max_ps(a.v, b.v);  // a > b ? a : b
  __m128 equal = _mm_cmpeq_ps(a.v, b.v);
  __m128 unordered = _mm_cmpunord_ps(a.v, b.v);
  larger = _mm_or_ps(_mm_and_ps(equal, _mm_and_ps(a.v, b.v)), _mm_andnot_ps(equal, larger));
  return {_mm_or_ps(larger, unordered)};  // all-ones lanes are NaN
}

#elif defined(SIMD_OPTIM_TARGET_NEON)

struct VecF {
  static constexpr size_t kLanes = 4;
  float32x4_t v;

  static VecF load(const float* p) { return {vld1q_f32(p)}; }
  static VecF broadcast(float x) { return {vdupq_n_f32(x)}; }
  void store(float* p) const { vst1q_f32(p, v); }
};

inline VecF operator+(VecF a, VecF b) { return {vaddq_f32(a.v, b.v)}; }
inline VecF operator-(VecF a, VecF b) { return {vsubq_f32(a.v, b.v)}; }
inline VecF operator*(VecF a, VecF b) { return {vmulq_f32(a.v, b.v)}; }
inline VecF operator/(VecF a, VecF b) { return {vdivq_f32(a.v, b.v)}; }
inline VecF sqrt(VecF a) { return {vsqrtq_f32(a.v)}; }
inline VecF fma(VecF a, VecF b, VecF c) { return {vfmaq_f32(c.v, a.v, b.v)}; }
inline VecF xorBits(VecF a, VecF mask) {
  return {vreinterpretq_f32_u32(veorq_u32(vreinterpretq_u32_f32(a.v), vreinterpretq_u32_f32(mask.v)))};
}

inline VecF maxJs(VecF a, VecF b) {
  uint32x4_t ordered = vandq_u32(vceqq_f32(a.v, a.v), vceqq_f32(b.v, b.v));
  // FMAX already orders -0 below +0; only the NaN bits are made to match the scalar version.
  return {vreinterpretq_f32_u32(vorrq_u32(vreinterpretq_u32_f32(vmaxq_f32(a.v, b.v)), vmvnq_u32(ordered)))};
}

#else  // scalar level: the "vector" is one lane

using VecF = ScalarF;

#endif

template <class T>
struct TypeTag {
  using type = T;
};

// Runs body(TypeTag<VecF>, i) over whole vectors and body(TypeTag<ScalarF>, i) over the rest.
// The body is one generic lambda, so both paths perform the same operations in the same order.
template <class Body>
inline void forEachBlock(size_t length, Body&& body) {
  constexpr size_t kLanes = VecF::kLanes;
  size_t i = 0;
  if (kLanes > 1) {
    // Two independent vectors per iteration keep the divider and the load ports busy.
    for (; i + 2 * kLanes <= length; i += 2 * kLanes) {
      body(TypeTag<VecF>{}, i);
      body(TypeTag<VecF>{}, i + kLanes);
    }
    for (; i + kLanes <= length; i += kLanes) body(TypeTag<VecF>{}, i);
  }
  for (; i < length; ++i) body(TypeTag<ScalarF>{}, i);
}

}  // namespace SIMD_OPTIM_NS
}  // namespace simd_optim
