// Runtime instruction-set dispatch: which kernel libraries this build has, which of them the CPU
// can run, and which one is in use.
#pragma once

#include <cstddef>
#include <cstdint>

#include "kernels.h"

namespace simd_optim {

// Ordered by vector width: a cap of level L allows every level of lower or equal rank.
enum class Isa : uint32_t { kScalar, kSse2, kNeon, kAvx2, kAvx512, kCount };

const char* isaName(Isa isa);

// Bit i set when Isa(i) is compiled into this build and the CPU (and OS) can run it.
uint32_t availableIsas();

// The best available level; what is in use until selectIsa is called.
Isa bestIsa();

// Switches every kernel to `isa`; false (and no change) when it is not available.
bool selectIsa(Isa isa);

Isa currentIsa();

KernelFn kernelFor(KernelId id);

// The gradient reductions of the current level (native/gradients.cc).
struct Reductions {
  void (*sumSquares)(const float* x, size_t length, double* lanes);
  void (*sumAbs)(const float* x, size_t length, double* lanes);
  void (*maxAbs)(const float* x, size_t length, float* lanes);
  bool (*nonFinite)(const float* x, size_t length);
  float (*readPass)(const float* x, size_t length);
};

const Reductions& reductions();

// The fixed combination of the 16 lanes: lanes[j] += lanes[j + w] for w = 8, 4, 2, 1.
double combineLanes(double* lanes);

// The same tree for the maximum of |x| (NaN if any lane is NaN).
float combineMaxLanes(float* lanes);

}  // namespace simd_optim
