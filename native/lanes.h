// Sixteen float64 accumulators, one per residue of the element index mod 16: the fixed summation
// order of the gradient norms. Within one block of a tensor (kBlock elements, its lanes starting
// from zero), element i of the block is added to lane i % 16, in increasing i, so every level (and
// lib/optimizers/gradients.ts) adds the same numbers in the same order and the sums have the same
// bits; the block's lanes are combined in one fixed tree (see combineLanes), and the binding adds
// the blocks' sums in order.
#pragma once

#include "simd.h"

namespace simd_optim {
namespace SIMD_OPTIM_NS {

#if defined(SIMD_OPTIM_TARGET_AVX512)

struct Lanes16 {
  __m512d low, high;
  explicit Lanes16(const double* start) : low(_mm512_loadu_pd(start)), high(_mm512_loadu_pd(start + 8)) {}
  static __m512d abs(__m512d x) {
    return _mm512_castsi512_pd(_mm512_and_si512(_mm512_castpd_si512(x), _mm512_set1_epi64(0x7FFFFFFFFFFFFFFFll)));
  }
  void addSquares(const float* x) {
    const __m512d a = _mm512_cvtps_pd(_mm256_loadu_ps(x)), b = _mm512_cvtps_pd(_mm256_loadu_ps(x + 8));
    low = _mm512_add_pd(low, _mm512_mul_pd(a, a));
    high = _mm512_add_pd(high, _mm512_mul_pd(b, b));
  }
  void addAbs(const float* x) {
    low = _mm512_add_pd(low, abs(_mm512_cvtps_pd(_mm256_loadu_ps(x))));
    high = _mm512_add_pd(high, abs(_mm512_cvtps_pd(_mm256_loadu_ps(x + 8))));
  }
  void addProducts(const float* x, const float* y) {
    low = _mm512_add_pd(low, _mm512_mul_pd(_mm512_cvtps_pd(_mm256_loadu_ps(x)), _mm512_cvtps_pd(_mm256_loadu_ps(y))));
    high = _mm512_add_pd(high, _mm512_mul_pd(_mm512_cvtps_pd(_mm256_loadu_ps(x + 8)), _mm512_cvtps_pd(_mm256_loadu_ps(y + 8))));
  }
  void store(double* out) const {
    _mm512_storeu_pd(out, low);
    _mm512_storeu_pd(out + 8, high);
  }
};

#elif defined(SIMD_OPTIM_TARGET_AVX2)

struct Lanes16 {
  __m256d acc[4];
  explicit Lanes16(const double* start) {
    for (int j = 0; j < 4; ++j) acc[j] = _mm256_loadu_pd(start + 4 * j);
  }
  static __m256d abs(__m256d x) { return _mm256_andnot_pd(_mm256_set1_pd(-0.0), x); }
  void addSquares(const float* x) {
    for (int j = 0; j < 4; ++j) {
      const __m256d a = _mm256_cvtps_pd(_mm_loadu_ps(x + 4 * j));
      acc[j] = _mm256_add_pd(acc[j], _mm256_mul_pd(a, a));
    }
  }
  void addAbs(const float* x) {
    for (int j = 0; j < 4; ++j) acc[j] = _mm256_add_pd(acc[j], abs(_mm256_cvtps_pd(_mm_loadu_ps(x + 4 * j))));
  }
  void addProducts(const float* x, const float* y) {
    for (int j = 0; j < 4; ++j) {
      acc[j] = _mm256_add_pd(acc[j], _mm256_mul_pd(_mm256_cvtps_pd(_mm_loadu_ps(x + 4 * j)), _mm256_cvtps_pd(_mm_loadu_ps(y + 4 * j))));
    }
  }
  void store(double* out) const {
    for (int j = 0; j < 4; ++j) _mm256_storeu_pd(out + 4 * j, acc[j]);
  }
};

#elif defined(SIMD_OPTIM_TARGET_SSE2)

struct Lanes16 {
  __m128d acc[8];
  explicit Lanes16(const double* start) {
    for (int j = 0; j < 8; ++j) acc[j] = _mm_loadu_pd(start + 2 * j);
  }
  static __m128d abs(__m128d x) { return _mm_andnot_pd(_mm_set1_pd(-0.0), x); }
  template <class F>
  void each(const float* x, F f) {
    for (int j = 0; j < 4; ++j) {
      const __m128 v = _mm_loadu_ps(x + 4 * j);
      acc[2 * j] = f(acc[2 * j], _mm_cvtps_pd(v));
      acc[2 * j + 1] = f(acc[2 * j + 1], _mm_cvtps_pd(_mm_movehl_ps(v, v)));
    }
  }
  void addSquares(const float* x) {
    each(x, [](__m128d a, __m128d v) { return _mm_add_pd(a, _mm_mul_pd(v, v)); });
  }
  void addAbs(const float* x) {
    each(x, [](__m128d a, __m128d v) { return _mm_add_pd(a, abs(v)); });
  }
  void addProducts(const float* x, const float* y) {
    for (int j = 0; j < 4; ++j) {
      const __m128 u = _mm_loadu_ps(x + 4 * j), w = _mm_loadu_ps(y + 4 * j);
      acc[2 * j] = _mm_add_pd(acc[2 * j], _mm_mul_pd(_mm_cvtps_pd(u), _mm_cvtps_pd(w)));
      acc[2 * j + 1] = _mm_add_pd(acc[2 * j + 1], _mm_mul_pd(_mm_cvtps_pd(_mm_movehl_ps(u, u)), _mm_cvtps_pd(_mm_movehl_ps(w, w))));
    }
  }
  void store(double* out) const {
    for (int j = 0; j < 8; ++j) _mm_storeu_pd(out + 2 * j, acc[j]);
  }
};

#elif defined(SIMD_OPTIM_TARGET_NEON)

struct Lanes16 {
  float64x2_t acc[8];
  explicit Lanes16(const double* start) {
    for (int j = 0; j < 8; ++j) acc[j] = vld1q_f64(start + 2 * j);
  }
  void addSquares(const float* x) {
    for (int j = 0; j < 8; ++j) {
      const float64x2_t v = vcvt_f64_f32(vld1_f32(x + 2 * j));
      acc[j] = vaddq_f64(acc[j], vmulq_f64(v, v));
    }
  }
  void addAbs(const float* x) {
    for (int j = 0; j < 8; ++j) acc[j] = vaddq_f64(acc[j], vabsq_f64(vcvt_f64_f32(vld1_f32(x + 2 * j))));
  }
  void addProducts(const float* x, const float* y) {
    for (int j = 0; j < 8; ++j) acc[j] = vaddq_f64(acc[j], vmulq_f64(vcvt_f64_f32(vld1_f32(x + 2 * j)), vcvt_f64_f32(vld1_f32(y + 2 * j))));
  }
  void store(double* out) const {
    for (int j = 0; j < 8; ++j) vst1q_f64(out + 2 * j, acc[j]);
  }
};

#else  // scalar

struct Lanes16 {
  double acc[16];
  explicit Lanes16(const double* start) {
    for (int j = 0; j < 16; ++j) acc[j] = start[j];
  }
  void addSquares(const float* x) {
    for (int j = 0; j < 16; ++j) acc[j] = acc[j] + double(x[j]) * double(x[j]);
  }
  void addAbs(const float* x) {
    for (int j = 0; j < 16; ++j) acc[j] = acc[j] + __builtin_fabs(double(x[j]));
  }
  void addProducts(const float* x, const float* y) {
    for (int j = 0; j < 16; ++j) acc[j] = acc[j] + double(x[j]) * double(y[j]);
  }
  void store(double* out) const {
    for (int j = 0; j < 16; ++j) out[j] = acc[j];
  }
};

#endif

}  // namespace SIMD_OPTIM_NS
}  // namespace simd_optim
