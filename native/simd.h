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

#if defined(__GNUC__) || defined(__clang__)
#define SIMD_OPTIM_FLATTEN __attribute__((flatten))
#else
#define SIMD_OPTIM_FLATTEN
#endif

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <type_traits>

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

#include "exact.h"

namespace simd_optim {
namespace SIMD_OPTIM_NS {

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

// Whether this level's fma is an instruction (else the emulation above, slower than a division).
#if defined(__FP_FAST_FMAF)
constexpr bool kHasFma = true;
#else
constexpr bool kHasFma = false;
#endif

// a*b + c rounded once.
inline ScalarF fma(ScalarF a, ScalarF b, ScalarF c) {
#if defined(__FP_FAST_FMAF)
  return {__builtin_fmaf(a.v, b.v, c.v)};  // one instruction on FMA3, AVX-512 and AArch64
#else
  return {fmaEmulated(a.v, b.v, c.v)};
#endif
}

// Markstein's division by a constant: with y = RN(1/c), q = RN(x*y) and r = x - q*c (exact with an
// FMA), RN(q + r*y) is the correctly rounded x / c. It leaves the divider free for the divisions
// that have no constant divisor. It holds while nothing underflows or overflows: lanes outside
// [2^-96, 2^100] (and non-finite ones) take x / c itself, zeros are passed through (their sign could
// be lost), and a divisor outside [2^-60, 2^60] always divides. Checked against IEEE division for
// every float x in [2^-96, 2^100] and 136 divisors.
constexpr float kMarksteinLow = 0x1p-96f;
constexpr float kMarksteinHigh = 0x1p100f;

struct ConstantDivisor {
  float divisor;
  float reciprocal;  // RN(1 / divisor)
  bool markstein;    // the level has an FMA and the divisor is in range

  explicit ConstantDivisor(float c)
      : divisor(c), reciprocal(1.0f / c), markstein(kHasFma && c >= 0x1p-60f && c <= 0x1p60f) {}
};

inline ScalarF divideByConstant(ScalarF x, const ConstantDivisor& d) {
#if defined(__FP_FAST_FMAF)
  const float q = x.v * d.reciprocal;
  if (d.markstein && __builtin_fabsf(x.v) >= kMarksteinLow && __builtin_fabsf(q) <= kMarksteinHigh) {
    const float r = __builtin_fmaf(-q, d.divisor, x.v);
    return {__builtin_fmaf(r, d.reciprocal, q)};
  }
#endif
  return {x.v / d.divisor};
}


// |x|: clears the sign bit (NaN stays NaN).
inline ScalarF abs(ScalarF a) { return {bitsFloat(floatBits(a.v) & 0x7FFFFFFFu)}; }

// 1 for x > 0, -1 for x < 0, x itself for +-0 and NaN (JavaScript's Math.sign).
inline ScalarF sign(ScalarF a) { return {a.v > 0 ? 1.0f : a.v < 0 ? -1.0f : a.v}; }

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

// JavaScript's Math.min: NaN if either is NaN, -0 is smaller than +0.
inline ScalarF minJs(ScalarF a, ScalarF b) {
  if (a.v != a.v || b.v != b.v) return {bitsFloat(0xFFFFFFFFu)};
  if (a.v == b.v) return {bitsFloat(floatBits(a.v) | floatBits(b.v))};
  return {a.v < b.v ? a.v : b.v};
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

// See the ScalarF version. Lanes outside the safe range take the division (rare: a branch).
inline VecF divideByConstant(VecF x, const ConstantDivisor& d) {
  const __m512 c = _mm512_set1_ps(d.divisor);
  if (!d.markstein) return {_mm512_div_ps(x.v, c)};
  const __m512 y = _mm512_set1_ps(d.reciprocal);
  const __m512 q = _mm512_mul_ps(x.v, y);
  __m512 result = _mm512_fmadd_ps(_mm512_fnmadd_ps(q, c, x.v), y, q);
  const __m512i absMask = _mm512_set1_epi32(0x7FFFFFFF);
  const __m512 ax = _mm512_castsi512_ps(_mm512_and_si512(_mm512_castps_si512(x.v), absMask));
  const __m512 aq = _mm512_castsi512_ps(_mm512_and_si512(_mm512_castps_si512(q), absMask));
  const __mmask16 zero = _mm512_cmp_ps_mask(x.v, _mm512_setzero_ps(), _CMP_EQ_OQ);
  result = _mm512_mask_blend_ps(zero, result, x.v);
  const __mmask16 safe = zero | (_mm512_cmp_ps_mask(ax, _mm512_set1_ps(kMarksteinLow), _CMP_GE_OQ) &
                                 _mm512_cmp_ps_mask(aq, _mm512_set1_ps(kMarksteinHigh), _CMP_LE_OQ));
  if (safe == 0xFFFF) return {result};
  return {_mm512_mask_blend_ps(safe, _mm512_div_ps(x.v, c), result)};
}

inline VecF abs(VecF a) {
  return {_mm512_castsi512_ps(_mm512_and_si512(_mm512_castps_si512(a.v), _mm512_set1_epi32(0x7FFFFFFF)))};
}

inline VecF sign(VecF a) {
  const __mmask16 positive = _mm512_cmp_ps_mask(a.v, _mm512_setzero_ps(), _CMP_GT_OQ);
  const __mmask16 negative = _mm512_cmp_ps_mask(a.v, _mm512_setzero_ps(), _CMP_LT_OQ);
  __m512 r = _mm512_mask_blend_ps(positive, a.v, _mm512_set1_ps(1.0f));
  return {_mm512_mask_blend_ps(negative, r, _mm512_set1_ps(-1.0f))};
}

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

inline VecF minJs(VecF a, VecF b) {
  __m512 smaller = _mm512_min_ps(a.v, b.v);  // a < b ? a : b
  __m512i either = _mm512_or_si512(_mm512_castps_si512(a.v), _mm512_castps_si512(b.v));
  __mmask16 equal = _mm512_cmp_ps_mask(a.v, b.v, _CMP_EQ_OQ);
  __mmask16 unordered = _mm512_cmp_ps_mask(a.v, b.v, _CMP_UNORD_Q);
  smaller = _mm512_mask_blend_ps(equal, smaller, _mm512_castsi512_ps(either));
  return {_mm512_mask_blend_ps(unordered, smaller, _mm512_castsi512_ps(_mm512_set1_epi32(-1)))};
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

// See the ScalarF version. Lanes outside the safe range take the division (rare: a branch).
inline VecF divideByConstant(VecF x, const ConstantDivisor& d) {
  const __m256 c = _mm256_set1_ps(d.divisor);
  if (!d.markstein) return {_mm256_div_ps(x.v, c)};
  const __m256 y = _mm256_set1_ps(d.reciprocal);
  const __m256 q = _mm256_mul_ps(x.v, y);
  __m256 result = _mm256_fmadd_ps(_mm256_fnmadd_ps(q, c, x.v), y, q);
  const __m256 absMask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7FFFFFFF));
  const __m256 zero = _mm256_cmp_ps(x.v, _mm256_setzero_ps(), _CMP_EQ_OQ);
  result = _mm256_blendv_ps(result, x.v, zero);
  const __m256 inRange = _mm256_and_ps(_mm256_cmp_ps(_mm256_and_ps(x.v, absMask), _mm256_set1_ps(kMarksteinLow), _CMP_GE_OQ),
                                       _mm256_cmp_ps(_mm256_and_ps(q, absMask), _mm256_set1_ps(kMarksteinHigh), _CMP_LE_OQ));
  const __m256 safe = _mm256_or_ps(zero, inRange);
  if (_mm256_movemask_ps(safe) == 0xFF) return {result};
  return {_mm256_blendv_ps(_mm256_div_ps(x.v, c), result, safe)};
}
inline VecF xorBits(VecF a, VecF mask) { return {_mm256_xor_ps(a.v, mask.v)}; }
inline VecF abs(VecF a) { return {_mm256_and_ps(a.v, _mm256_castsi256_ps(_mm256_set1_epi32(0x7FFFFFFF)))}; }

inline VecF sign(VecF a) {
  const __m256 positive = _mm256_cmp_ps(a.v, _mm256_setzero_ps(), _CMP_GT_OQ);
  const __m256 negative = _mm256_cmp_ps(a.v, _mm256_setzero_ps(), _CMP_LT_OQ);
  __m256 r = _mm256_blendv_ps(a.v, _mm256_set1_ps(1.0f), positive);
  return {_mm256_blendv_ps(r, _mm256_set1_ps(-1.0f), negative)};
}

inline VecF maxJs(VecF a, VecF b) {
  __m256 larger = _mm256_max_ps(a.v, b.v);  // a > b ? a : b
  __m256 equal = _mm256_cmp_ps(a.v, b.v, _CMP_EQ_OQ);
  __m256 unordered = _mm256_cmp_ps(a.v, b.v, _CMP_UNORD_Q);
  larger = _mm256_blendv_ps(larger, _mm256_and_ps(a.v, b.v), equal);
  return {_mm256_or_ps(larger, unordered)};  // all-ones lanes are NaN
}

inline VecF minJs(VecF a, VecF b) {
  __m256 smaller = _mm256_min_ps(a.v, b.v);  // a < b ? a : b
  __m256 equal = _mm256_cmp_ps(a.v, b.v, _CMP_EQ_OQ);
  __m256 unordered = _mm256_cmp_ps(a.v, b.v, _CMP_UNORD_Q);
  smaller = _mm256_blendv_ps(smaller, _mm256_or_ps(a.v, b.v), equal);
  return {_mm256_or_ps(smaller, unordered)};
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
inline VecF abs(VecF a) { return {_mm_and_ps(a.v, _mm_castsi128_ps(_mm_set1_epi32(0x7FFFFFFF)))}; }

inline VecF sign(VecF a) {
  const __m128 positive = _mm_cmpgt_ps(a.v, _mm_setzero_ps());
  const __m128 negative = _mm_cmplt_ps(a.v, _mm_setzero_ps());
  const __m128 unit = _mm_or_ps(_mm_and_ps(positive, _mm_set1_ps(1.0f)), _mm_and_ps(negative, _mm_set1_ps(-1.0f)));
  return {_mm_or_ps(unit, _mm_andnot_ps(_mm_or_ps(positive, negative), a.v))};
}


// Without an FMA the correction costs more than the division.
inline VecF divideByConstant(VecF x, const ConstantDivisor& d) { return {_mm_div_ps(x.v, _mm_set1_ps(d.divisor))}; }

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

inline VecF minJs(VecF a, VecF b) {
  __m128 smaller = _mm_min_ps(a.v, b.v);  // a < b ? a : b
  __m128 equal = _mm_cmpeq_ps(a.v, b.v);
  __m128 unordered = _mm_cmpunord_ps(a.v, b.v);
  smaller = _mm_or_ps(_mm_and_ps(equal, _mm_or_ps(a.v, b.v)), _mm_andnot_ps(equal, smaller));
  return {_mm_or_ps(smaller, unordered)};
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

// See the ScalarF version. Lanes outside the safe range take the division (rare: a branch).
inline VecF divideByConstant(VecF x, const ConstantDivisor& d) {
  const float32x4_t c = vdupq_n_f32(d.divisor);
  if (!d.markstein) return {vdivq_f32(x.v, c)};
  const float32x4_t y = vdupq_n_f32(d.reciprocal);
  const float32x4_t q = vmulq_f32(x.v, y);
  const float32x4_t r = vfmsq_f32(x.v, q, c);  // x - q*c, one rounding
  const uint32x4_t zero = vceqq_f32(x.v, vdupq_n_f32(0.0f));
  const float32x4_t result = vbslq_f32(zero, x.v, vfmaq_f32(q, r, y));
  const uint32x4_t inRange = vandq_u32(vcageq_f32(x.v, vdupq_n_f32(kMarksteinLow)), vcaleq_f32(q, vdupq_n_f32(kMarksteinHigh)));
  const uint32x4_t safe = vorrq_u32(zero, inRange);
  if (vminvq_u32(safe) == 0xFFFFFFFFu) return {result};
  return {vbslq_f32(safe, result, vdivq_f32(x.v, c))};
}
inline VecF xorBits(VecF a, VecF mask) {
  return {vreinterpretq_f32_u32(veorq_u32(vreinterpretq_u32_f32(a.v), vreinterpretq_u32_f32(mask.v)))};
}
inline VecF abs(VecF a) { return {vabsq_f32(a.v)}; }

inline VecF sign(VecF a) {
  const uint32x4_t positive = vcgtq_f32(a.v, vdupq_n_f32(0.0f));
  const uint32x4_t negative = vcltq_f32(a.v, vdupq_n_f32(0.0f));
  float32x4_t r = vbslq_f32(positive, vdupq_n_f32(1.0f), a.v);
  return {vbslq_f32(negative, vdupq_n_f32(-1.0f), r)};
}

inline VecF maxJs(VecF a, VecF b) {
  uint32x4_t ordered = vandq_u32(vceqq_f32(a.v, a.v), vceqq_f32(b.v, b.v));
  // FMAX already orders -0 below +0; only the NaN bits are made to match the scalar version.
  return {vreinterpretq_f32_u32(vorrq_u32(vreinterpretq_u32_f32(vmaxq_f32(a.v, b.v)), vmvnq_u32(ordered)))};
}

inline VecF minJs(VecF a, VecF b) {
  uint32x4_t ordered = vandq_u32(vceqq_f32(a.v, a.v), vceqq_f32(b.v, b.v));
  return {vreinterpretq_f32_u32(vorrq_u32(vreinterpretq_u32_f32(vminq_f32(a.v, b.v)), vmvnq_u32(ordered)))};
}

#else  // scalar level: the "vector" is one lane

using VecF = ScalarF;

#endif

// Software prefetch, kPrefetchDistance floats ahead, of each stream a loop walks: once per
// 64-byte line, from the vector path only. Out of cache it is worth several percent of bandwidth
// on top of the hardware prefetchers (bench/: Adam at 16M elements, 87% -> 98% of the ceiling),
// most of it from asking for the lines that will be written in exclusive state (PREFETCHW), which
// saves the ownership request a store would otherwise make. Issue them in the order the loop body
// reads the arrays (measured: param after grad cost Adam 7% at 16M). Prefetches never fault, so
// running past the end of an array is harmless.
constexpr size_t kPrefetchDistance = 1024;

// Whether a loop over this many arrays (read or written) prefetches at all. With five, the
// prefetched lines (5 x 4 KiB ahead) crowd the 32 KiB L1 the loop also works in: Adam with
// amsgrad at 16M elements took 1.54 ns per element with them and 0.86 without (bench/, AMD EPYC).
constexpr bool prefetchPays(size_t streams) { return streams <= 4; }

template <int Write, class... Streams>
inline void prefetchStreams(size_t i, const Streams*... streams) {
  if (i % 16 != 0) return;
  (__builtin_prefetch(reinterpret_cast<const char*>(reinterpret_cast<uintptr_t>(streams + i) +
                                                     kPrefetchDistance * sizeof(float)),
                      Write),
   ...);
}

// Turns run-time flag bits into compile-time constants: calls f(bool_constant<flags & bit0>,
// bool_constant<flags & bit1>, ...), so each combination gets its own loop without branches.
template <class F>
inline void withFlags(uint32_t, F&& f) {
  f();
}

template <class F, class... Bits>
inline void withFlags(uint32_t flags, F&& f, uint32_t bit, Bits... rest) {
  if (flags & bit) {
    withFlags(flags, [&](auto... more) { f(std::true_type{}, more...); }, rest...);
  } else {
    withFlags(flags, [&](auto... more) { f(std::false_type{}, more...); }, rest...);
  }
}

template <class T>
struct TypeTag {
  using type = T;
};

// Runs body(TypeTag<VecF>, i) over whole vectors and body(TypeTag<ScalarF>, i) over the rest.
// The body is one generic lambda, so both paths perform the same operations in the same order.
// Bodies call prefetchRead/prefetchWrite(tag, i, arrays...) first; they do nothing on the scalar path.
//
// Flattened: every call inside, the body's three vector calls included, is inlined. Left to its
// heuristics, GCC judged some bodies too big to inline three times and called them per vector, as
// a function that reloads and broadcasts every scalar each time: Adam at AVX2 ran 1.7x slower
// (0.87 ns per element at 64K instead of 0.52) after an unrelated edit tipped the decision, and
// RMSprop, RAdam, SGD and others had such calls at SSE2 (test/harness/run.sh checks for them).
template <class Body>
SIMD_OPTIM_FLATTEN inline void forEachBlock(size_t length, Body&& body) {
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

// Arrays the loop only reads.
template <class Tag, class... Streams>
inline void prefetchRead(Tag, size_t i, const Streams*... streams) {
  if (Tag::type::kLanes > 1) prefetchStreams<0>(i, streams...);
}

// Arrays the loop reads and writes back.
template <class Tag, class... Streams>
inline void prefetchWrite(Tag, size_t i, const Streams*... streams) {
  if (Tag::type::kLanes > 1) prefetchStreams<1>(i, streams...);
}

}  // namespace SIMD_OPTIM_NS
}  // namespace simd_optim
