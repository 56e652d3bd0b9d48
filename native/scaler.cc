// Feature scaling: StandardScaler's passes over row-major data. lib/preprocessing/standard-scaler.ts
// is the executable specification; every operation here is a float64 one it performs too, in the
// same order, so every level gives its bits (the build forbids fma contraction).
//
//   standardize:    y[i] = float((double(x[i]) - shift[c]) / divisor[c])
//   unstandardize:  y[i] = float(double(x[i]) * divisor[c] + shift[c])    (two roundings)
//     c = i % columns. shift and divisor hold columns + 16 entries, entry j being column
//     j % columns's, so 16 consecutive values starting at column c read entries c .. c + 15.
//   slotMoments:    Welford's updates, one accumulator per slot: value i goes to slot i % slots,
//     in increasing i, NaN skipped. With k = count + 1 and d = x - mean:
//       mean' = mean + d / k,  m2' = m2 + d * (x - mean'),  count' = k
//     The slots of a column are combined on the TypeScript side. The state arrays hold slots
//     entries rounded up to a multiple of 16: the lanes past `slots` only ever see NaN.
#include <cstring>
#include <limits>

#include "kernels.h"
#include "simd.h"

namespace simd_optim {
namespace SIMD_OPTIM_NS {

namespace {

// Float64 lanes with the four operations, loads that widen float32 values and stores that round
// to float32 (to nearest even, as a Float32Array store), and a select on "x is not NaN".
#if defined(SIMD_OPTIM_TARGET_AVX512)

struct VecD {
  static constexpr size_t kLanes = 8;
  __m512d v;
  static VecD load(const double* p) { return {_mm512_loadu_pd(p)}; }
  static VecD widen(const float* p) { return {_mm512_cvtps_pd(_mm256_loadu_ps(p))}; }
  // The first `valid` floats at p, NaN in the other lanes (which are not read: no fault).
  static VecD widenFirst(const float* p, size_t valid) {
    // AVX-512F's masked load is 16 floats wide (the 8-wide one is AVX-512VL): lanes 8-15 stay masked off.
    const __mmask16 mask = __mmask16((1u << valid) - 1);
    const __m512 values = _mm512_mask_loadu_ps(_mm512_set1_ps(std::numeric_limits<float>::quiet_NaN()), mask, p);
    return {_mm512_cvtps_pd(_mm512_castps512_ps256(values))};
  }
  void store(double* p) const { _mm512_storeu_pd(p, v); }
  void narrow(float* p) const { _mm256_storeu_ps(p, _mm512_cvtpd_ps(v)); }
  // Lanes where x is a number take a, the others b.
  static VecD whereNumber(VecD x, VecD a, VecD b) {
    return {_mm512_mask_blend_pd(_mm512_cmp_pd_mask(x.v, x.v, _CMP_EQ_OQ), b.v, a.v)};
  }
};
inline VecD operator+(VecD a, VecD b) { return {_mm512_add_pd(a.v, b.v)}; }
inline VecD operator-(VecD a, VecD b) { return {_mm512_sub_pd(a.v, b.v)}; }
inline VecD operator*(VecD a, VecD b) { return {_mm512_mul_pd(a.v, b.v)}; }
inline VecD operator/(VecD a, VecD b) { return {_mm512_div_pd(a.v, b.v)}; }

#elif defined(SIMD_OPTIM_TARGET_AVX2)

struct VecD {
  static constexpr size_t kLanes = 4;
  __m256d v;
  static VecD load(const double* p) { return {_mm256_loadu_pd(p)}; }
  static VecD widen(const float* p) { return {_mm256_cvtps_pd(_mm_loadu_ps(p))}; }
  static VecD widenFirst(const float* p, size_t valid);
  void store(double* p) const { _mm256_storeu_pd(p, v); }
  void narrow(float* p) const { _mm_storeu_ps(p, _mm256_cvtpd_ps(v)); }
  static VecD whereNumber(VecD x, VecD a, VecD b) {
    return {_mm256_blendv_pd(b.v, a.v, _mm256_cmp_pd(x.v, x.v, _CMP_EQ_OQ))};
  }
};
inline VecD operator+(VecD a, VecD b) { return {_mm256_add_pd(a.v, b.v)}; }
inline VecD operator-(VecD a, VecD b) { return {_mm256_sub_pd(a.v, b.v)}; }
inline VecD operator*(VecD a, VecD b) { return {_mm256_mul_pd(a.v, b.v)}; }
inline VecD operator/(VecD a, VecD b) { return {_mm256_div_pd(a.v, b.v)}; }

#elif defined(SIMD_OPTIM_TARGET_SSE2)

struct VecD {
  static constexpr size_t kLanes = 2;
  __m128d v;
  static VecD load(const double* p) { return {_mm_loadu_pd(p)}; }
  // Two floats in and out through the unaligned 64-bit load and store.
  static VecD widen(const float* p) {
    return {_mm_cvtps_pd(_mm_castsi128_ps(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p))))};
  }
  static VecD widenFirst(const float* p, size_t valid);
  void store(double* p) const { _mm_storeu_pd(p, v); }
  void narrow(float* p) const { _mm_storel_epi64(reinterpret_cast<__m128i*>(p), _mm_castps_si128(_mm_cvtpd_ps(v))); }
  static VecD whereNumber(VecD x, VecD a, VecD b) {
    const __m128d number = _mm_cmpeq_pd(x.v, x.v);
    return {_mm_or_pd(_mm_and_pd(number, a.v), _mm_andnot_pd(number, b.v))};
  }
};
inline VecD operator+(VecD a, VecD b) { return {_mm_add_pd(a.v, b.v)}; }
inline VecD operator-(VecD a, VecD b) { return {_mm_sub_pd(a.v, b.v)}; }
inline VecD operator*(VecD a, VecD b) { return {_mm_mul_pd(a.v, b.v)}; }
inline VecD operator/(VecD a, VecD b) { return {_mm_div_pd(a.v, b.v)}; }

#elif defined(SIMD_OPTIM_TARGET_NEON)

struct VecD {
  static constexpr size_t kLanes = 2;
  float64x2_t v;
  static VecD load(const double* p) { return {vld1q_f64(p)}; }
  static VecD widen(const float* p) { return {vcvt_f64_f32(vld1_f32(p))}; }
  static VecD widenFirst(const float* p, size_t valid);
  void store(double* p) const { vst1q_f64(p, v); }
  void narrow(float* p) const { vst1_f32(p, vcvt_f32_f64(v)); }
  static VecD whereNumber(VecD x, VecD a, VecD b) { return {vbslq_f64(vceqq_f64(x.v, x.v), a.v, b.v)}; }
};
inline VecD operator+(VecD a, VecD b) { return {vaddq_f64(a.v, b.v)}; }
inline VecD operator-(VecD a, VecD b) { return {vsubq_f64(a.v, b.v)}; }
inline VecD operator*(VecD a, VecD b) { return {vmulq_f64(a.v, b.v)}; }
inline VecD operator/(VecD a, VecD b) { return {vdivq_f64(a.v, b.v)}; }

#else  // scalar

struct VecD {
  static constexpr size_t kLanes = 1;
  double v;
  static VecD load(const double* p) { return {*p}; }
  static VecD widen(const float* p) { return {double(*p)}; }
  static VecD widenFirst(const float* p, size_t) { return widen(p); }  // valid is always 1
  void store(double* p) const { *p = v; }
  void narrow(float* p) const { *p = float(v); }
  static VecD whereNumber(VecD x, VecD a, VecD b) { return x.v == x.v ? a : b; }
};
inline VecD operator+(VecD a, VecD b) { return {a.v + b.v}; }
inline VecD operator-(VecD a, VecD b) { return {a.v - b.v}; }
inline VecD operator*(VecD a, VecD b) { return {a.v * b.v}; }
inline VecD operator/(VecD a, VecD b) { return {a.v / b.v}; }

#endif

#if defined(SIMD_OPTIM_TARGET_AVX2) || defined(SIMD_OPTIM_TARGET_SSE2) || defined(SIMD_OPTIM_TARGET_NEON)
// Through a buffer: these levels have no masked float load that cannot fault past the array.
VecD VecD::widenFirst(const float* p, size_t valid) {
  float lanes[kLanes];
  for (size_t j = 0; j < kLanes; ++j) lanes[j] = std::numeric_limits<float>::quiet_NaN();
  std::memcpy(lanes, p, valid * sizeof(float));
  return widen(lanes);
}
#endif

// The tail's lane: the same operations on one double.
struct ScalarD {
  double v;
};
inline ScalarD operator+(ScalarD a, ScalarD b) { return {a.v + b.v}; }
inline ScalarD operator-(ScalarD a, ScalarD b) { return {a.v - b.v}; }
inline ScalarD operator*(ScalarD a, ScalarD b) { return {a.v * b.v}; }
inline ScalarD operator/(ScalarD a, ScalarD b) { return {a.v / b.v}; }

// 16 values per iteration whatever the level, so the column index steps by the same amount.
constexpr size_t kBlockValues = 16;
static_assert(kBlockValues % VecD::kLanes == 0, "a block is whole vectors");

// y[i] = op(x[i], shift[c], divisor[c]) over whole blocks, then one value at a time.
template <class Op>
void mapColumns(const float* x, float* y, size_t length, size_t columns, const double* shift, const double* divisor, Op op) {
  const size_t advance = kBlockValues % columns;  // the column 16 values further on, less c
  size_t i = 0, c = 0;
  for (; i + kBlockValues <= length; i += kBlockValues) {
    prefetchStreams<1>(i, x, y);
    for (size_t j = 0; j < kBlockValues; j += VecD::kLanes) {
      op(VecD::widen(x + i + j), VecD::load(shift + c + j), VecD::load(divisor + c + j)).narrow(y + i + j);
    }
    c += advance;
    if (c >= columns) c -= columns;
  }
  for (; i < length; ++i) {
    y[i] = float(op(ScalarD{double(x[i])}, ScalarD{shift[c]}, ScalarD{divisor[c]}).v);
    if (++c == columns) c = 0;
  }
}

}  // namespace

void standardize(const float* x, float* y, size_t length, size_t columns, const double* shift, const double* divisor) {
  mapColumns(x, y, length, columns, shift, divisor, [](auto value, auto mean, auto scale) { return (value - mean) / scale; });
}

void unstandardize(const float* x, float* y, size_t length, size_t columns, const double* shift, const double* divisor) {
  mapColumns(x, y, length, columns, shift, divisor, [](auto value, auto mean, auto scale) { return value * scale + mean; });
}

void slotMoments(const float* x, size_t length, size_t slots, double* mean, double* m2, double* count) {
  double ones[VecD::kLanes];
  for (size_t j = 0; j < VecD::kLanes; ++j) ones[j] = 1.0;
  const VecD unit = VecD::load(ones);
  for (size_t i = 0; i < length; i += slots) {
    const size_t chunk = length - i < slots ? length - i : slots;
    for (size_t j = 0; j < chunk; j += VecD::kLanes) {
      const size_t valid = chunk - j < VecD::kLanes ? chunk - j : VecD::kLanes;
      const VecD value = valid == VecD::kLanes ? VecD::widen(x + i + j) : VecD::widenFirst(x + i + j, valid);
      const VecD before = VecD::load(mean + j), squares = VecD::load(m2 + j), seen = VecD::load(count + j);
      const VecD k = seen + unit;
      const VecD deviation = value - before;
      const VecD after = before + deviation / k;
      VecD::whereNumber(value, after, before).store(mean + j);
      VecD::whereNumber(value, squares + deviation * (value - after), squares).store(m2 + j);
      VecD::whereNumber(value, k, seen).store(count + j);
    }
  }
}

}  // namespace SIMD_OPTIM_NS
}  // namespace simd_optim
