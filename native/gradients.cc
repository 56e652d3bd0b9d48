// Gradient utilities: the reductions behind clipGradNorm and the non-finite guard, and the
// elementwise scale and clamp that clip. lib/optimizers/gradients.ts is the executable specification.
//
//   sumSquares: lanes[i % 16] += double(x[i]) * double(x[i])   (the product is exact in float64)
//   sumAbs:     lanes[i % 16] += |double(x[i])|
//   maxAbs:     lanes[i % 16] = max(lanes[i % 16], |x[i]|)      (NaN-propagating, in float32)
//   dot:        lanes[i % 16] += double(x[i]) * double(y[i])    (exact too; SWATS's projection)
//   nonFinite:  whether any x[i] is NaN or infinite
//   scale:      x[i] = x[i] * factor
//   clamp:      x[i] = min(max(x[i], low), high)               (NaN stays NaN)
//
// The binding calls these once per block of kBlock elements of a tensor, with lanes from zero, and
// combines them with combineLanes; then it adds the blocks' sums in order (native/binding.cc).
#include "kernels.h"
#include "lanes.h"
#include "simd.h"

namespace simd_optim {
namespace SIMD_OPTIM_NS {

namespace {

// The float64 lane sums: the vector body through Lanes16, the tail one element at a time, both
// adding term(x[i]) to lane i % 16 in increasing i.
template <void (Lanes16::*AddBlock)(const float*), double (*Term)(float)>
void sumLanes(const float* x, size_t length, double* lanes) {
  Lanes16 acc(lanes);
  size_t i = 0;
  for (; i + 16 <= length; i += 16) {
    prefetchStreams<0>(i, x);
    (acc.*AddBlock)(x + i);
  }
  acc.store(lanes);
  for (; i < length; ++i) lanes[i % 16] = lanes[i % 16] + Term(x[i]);
}

double square(float x) { return double(x) * double(x); }
double magnitude(float x) { return __builtin_fabs(double(x)); }

}  // namespace

void sumSquares(const float* x, size_t length, double* lanes) { sumLanes<&Lanes16::addSquares, square>(x, length, lanes); }

void sumAbs(const float* x, size_t length, double* lanes) { sumLanes<&Lanes16::addAbs, magnitude>(x, length, lanes); }

void dotProducts(const float* x, const float* y, size_t length, double* lanes) {
  Lanes16 acc(lanes);
  size_t i = 0;
  for (; i + 16 <= length; i += 16) {
    prefetchStreams<0>(i, x, y);
    acc.addProducts(x + i, y + i);
  }
  acc.store(lanes);
  for (; i < length; ++i) lanes[i % 16] = lanes[i % 16] + double(x[i]) * double(y[i]);
}

void maxAbs(const float* x, size_t length, float* lanes) {
  constexpr size_t kVectors = 16 / VecF::kLanes;
  VecF acc[kVectors];
  for (size_t j = 0; j < kVectors; ++j) acc[j] = VecF::load(lanes + j * VecF::kLanes);
  size_t i = 0;
  for (; i + 16 <= length; i += 16) {
    prefetchStreams<0>(i, x);
    for (size_t j = 0; j < kVectors; ++j) acc[j] = maxJs(acc[j], abs(VecF::load(x + i + j * VecF::kLanes)));
  }
  for (size_t j = 0; j < kVectors; ++j) acc[j].store(lanes + j * VecF::kLanes);
  for (; i < length; ++i) lanes[i % 16] = maxJs(ScalarF{lanes[i % 16]}, abs(ScalarF{x[i]})).v;
}

// x - x is +0 for every finite x and NaN for NaN and infinities, and NaN sticks in a sum: one
// subtract and one add per vector, two accumulators to keep the adds from waiting on each other.
bool nonFinite(const float* x, size_t length) {
  VecF a = VecF::broadcast(0.0f), b = VecF::broadcast(0.0f);
  size_t i = 0;
  for (; i + 2 * VecF::kLanes <= length; i += 2 * VecF::kLanes) {
    prefetchStreams<0>(i, x);
    const VecF u = VecF::load(x + i), v = VecF::load(x + i + VecF::kLanes);
    a = a + (u - u);
    b = b + (v - v);
  }
  float lanes[VecF::kLanes];
  (a + b).store(lanes);
  float sum = 0.0f;
  for (size_t j = 0; j < VecF::kLanes; ++j) sum += lanes[j];
  for (; i < length; ++i) sum += x[i] - x[i];
  return sum != 0.0f;  // NaN != 0
}

// The benchmark's plain read pass: the non-finite check's traffic with one add per vector.
float readPass(const float* x, size_t length) {
  VecF a = VecF::broadcast(0.0f), b = VecF::broadcast(0.0f);
  size_t i = 0;
  for (; i + 2 * VecF::kLanes <= length; i += 2 * VecF::kLanes) {
    prefetchStreams<0>(i, x);
    a = a + VecF::load(x + i);
    b = b + VecF::load(x + i + VecF::kLanes);
  }
  float lanes[VecF::kLanes];
  (a + b).store(lanes);
  float sum = 0.0f;
  for (size_t j = 0; j < VecF::kLanes; ++j) sum += lanes[j];
  for (; i < length; ++i) sum += x[i];
  return sum;
}

void scaleStep(const TensorTask& task) {
  float* x = task.slot[0];
  const float factor = task.scalars[0];
  forEachBlock(task.length, [&](auto tag, size_t i) {
    using V = typename decltype(tag)::type;
    prefetchWrite(tag, i, x);
    (V::load(x + i) * V::broadcast(factor)).store(x + i);
  });
}

void clampStep(const TensorTask& task) {
  float* x = task.slot[0];
  const float low = task.scalars[0], high = task.scalars[1];
  forEachBlock(task.length, [&](auto tag, size_t i) {
    using V = typename decltype(tag)::type;
    prefetchWrite(tag, i, x);
    minJs(maxJs(V::load(x + i), V::broadcast(low)), V::broadcast(high)).store(x + i);
  });
}

}  // namespace SIMD_OPTIM_NS
}  // namespace simd_optim
