// Runtime instruction-set dispatch: which kernel libraries this build has, which of them the CPU
// can run, and the table of kernels of each. Which table is in use is not decided here: each
// module instance (the main thread, every Worker) holds its own (native/binding.cc), so a Worker
// started with SIMD_OPTIM_ISA=scalar never changes the kernels of another thread.
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

// The best available level.
Isa bestIsa();

// The gradient reductions of one level (native/gradients.cc).
struct Reductions {
  void (*sumSquares)(const float* x, size_t length, double* lanes);
  void (*sumAbs)(const float* x, size_t length, double* lanes);
  void (*maxAbs)(const float* x, size_t length, float* lanes);
  bool (*nonFinite)(const float* x, size_t length);
  float (*readPass)(const float* x, size_t length);
  void (*dot)(const float* x, const float* y, size_t length, double* lanes);
};

// StandardScaler's passes of one level (native/scaler.cc).
struct Scaling {
  // y = (x - shift[c]) / divisor[c], or x * divisor[c] + shift[c]; shift and divisor hold columns + 16 entries.
  void (*standardize)(const float* x, float* y, size_t length, size_t columns, const double* shift, const double* divisor);
  void (*unstandardize)(const float* x, float* y, size_t length, size_t columns, const double* shift, const double* divisor);
  // Welford's updates of value i into slot i % slots; the state arrays hold slots rounded up to 16.
  void (*slotMoments)(const float* x, size_t length, size_t slots, double* mean, double* m2, double* count);
};

// Everything compiled for one level. Immutable, shared by every thread.
struct KernelTable {
  KernelFn fn[kKernelCount];
  Reductions reductions;
  Scaling scaling;
  // The level the library was compiled for, from inside it (native/probes.cc).
  const char* (*compiledLevel)();
};

// The table of `isa`, or null when this build or this CPU does not have it.
const KernelTable* kernelTable(Isa isa);

// The fixed combination of the 16 lanes: lanes[j] += lanes[j + w] for w = 8, 4, 2, 1.
double combineLanes(double* lanes);

// The same tree for the maximum of |x| (NaN if any lane is NaN).
float combineMaxLanes(float* lanes);

}  // namespace simd_optim
