// The contract between the N-API binding, the dispatcher and the kernels. Kernels know nothing
// about N-API: they receive raw pointers whose lengths the binding has already checked.
//
// The slot, scalar and flag layouts below are mirrored by lib/bridge/kernels.ts; the binding exports
// the slot and scalar counts so the test suite can check that both sides agree.
#pragma once

#include <cstddef>
#include <cstdint>

namespace simd_optim {

constexpr size_t kMaxSlots = 5;

// One tensor's worth of work: slot 0 is the parameter, slot 1 its gradient (read only), the other
// slots are optimizer state. All non-null slots hold `length` floats. `scalars` points at this
// tensor's float32 hyperparameters, already rounded from float64 by the TypeScript side.
struct TensorTask {
  float* slot[kMaxSlots];
  size_t length;
  const float* scalars;
  uint32_t flags;
};

using KernelFn = void (*)(const TensorTask& task);

enum KernelId : uint32_t {
  kAdam, kAdagrad, kRmsprop, kSgd, kTraffic, kFmaProbe, kAdadelta, kAdamax, kNadam, kRadam, kLion,
  kScale, kClamp, kSwats, kKernelCount
};

// Reductions over a list of arrays (native/gradients.cc), run by the binding's reduce().
// kDot takes its arrays in pairs (x0, y0, x1, y1, ...): the sum of x * y (SWATS's projection).
enum ReduceId : uint32_t { kSumSquares, kSumAbs, kMaxAbs, kNonFinite, kReadPass, kDot, kReduceCount };

// The block of the reductions and of the split of a step over threads: every tensor is cut at
// multiples of kBlock elements. A sum is the sum, in order, of each tensor's block sums (each
// block's 16 lanes combined), so it does not depend on how many threads computed the blocks.
// Mirrored by REDUCE_BLOCK in lib/bridge/kernels.ts.
constexpr size_t kBlock = size_t(1) << 15;

// Flags shared by every optimizer kernel.
constexpr uint32_t kFlagMaximize = 1u << 0;      // negate the gradient first
constexpr uint32_t kFlagWeightDecay = 1u << 1;   // g += weightDecay * p (L2, "coupled")
constexpr uint32_t kFlagDecoupledDecay = 1u << 2;  // p *= 1 - lr * weightDecay (AdamW, Lion, ...)
constexpr uint32_t kFlagEpsInsideSqrt = 1u << 7;   // sqrt(v + eps) instead of sqrt(v) + eps

namespace adam {
enum Slot { kParam, kGrad, kExpAvg, kExpAvgSq, kMaxExpAvgSq, kSlots };
enum Scalar {
  kBeta1, kOneMinusBeta1, kBeta2, kOneMinusBeta2, kWeightDecay, kDecayFactor, kNegStepSize,
  kBiasCorrection2Sqrt, kEps, kBiasCorrection2, kScalars
};
constexpr uint32_t kFlagAmsgrad = 1u << 3;
}  // namespace adam

namespace adagrad {
enum Slot { kParam, kGrad, kSum, kSlots };
enum Scalar { kWeightDecay, kNegClr, kEps, kScalars };
}  // namespace adagrad

namespace rmsprop {
enum Slot { kParam, kGrad, kSquareAvg, kGradAvg, kMomentumBuffer, kSlots };
enum Scalar { kAlpha, kOneMinusAlpha, kWeightDecay, kMomentum, kNegLr, kEps, kScalars };
constexpr uint32_t kFlagCentered = 1u << 2;
constexpr uint32_t kFlagMomentum = 1u << 3;
}  // namespace rmsprop

namespace sgd {
enum Slot { kParam, kGrad, kMomentumBuffer, kSlots };
enum Scalar { kWeightDecay, kMomentum, kOneMinusDampening, kNegLr, kScalars };
constexpr uint32_t kFlagMomentum = 1u << 2;
constexpr uint32_t kFlagNesterov = 1u << 3;
constexpr uint32_t kFlagFirstStep = 1u << 4;  // the momentum buffer starts as a copy of the grad
}  // namespace sgd

// The benchmark's same-traffic ceiling: reads the first `reads` slots, writes the first `writes`,
// with one add per array. flags = reads | writes << 8. Not an optimizer; it measures the memory.
namespace traffic {
enum Scalar { kScalars = 1 };
constexpr uint32_t readsOf(uint32_t flags) { return flags & 0xFF; }
constexpr uint32_t writesOf(uint32_t flags) { return (flags >> 8) & 0xFF; }
}  // namespace traffic

namespace adadelta {
enum Slot { kParam, kGrad, kSquareAvg, kAccDelta, kSlots };
enum Scalar { kRho, kOneMinusRho, kWeightDecay, kNegLr, kEps, kScalars };
constexpr uint32_t kFlagPreviousSquareAvg = 1u << 3;  // delta's denominator from sq before this step (TensorFlow.js)
}  // namespace adadelta

namespace adamax {
enum Slot { kParam, kGrad, kExpAvg, kExpInf, kSlots };
enum Scalar { kBeta1, kOneMinusBeta1, kBeta2, kWeightDecay, kNegClr, kEps, kScalars };
constexpr uint32_t kFlagEpsOutsideMax = 1u << 3;  // max(u * beta2, |g|), then / (u + eps) (TensorFlow.js, Keras)
}  // namespace adamax

namespace nadam {
enum Slot { kParam, kGrad, kExpAvg, kExpAvgSq, kSlots };
enum Scalar {
  kBeta1, kOneMinusBeta1, kBeta2, kOneMinusBeta2, kWeightDecay, kDecayFactor, kBiasCorrection2, kEps,
  kGradCoefficient, kExpAvgCoefficient, kScalars
};
}  // namespace nadam

namespace radam {
enum Slot { kParam, kGrad, kExpAvg, kExpAvgSq, kSlots };
enum Scalar {
  kBeta1, kOneMinusBeta1, kBeta2, kOneMinusBeta2, kWeightDecay, kDecayFactor, kBiasCorrection1, kLr, kEps,
  kBiasCorrection2Sqrt, kRect, kScalars
};
constexpr uint32_t kFlagRectified = 1u << 3;  // rho_t > 5: the adaptive, rectified update
}  // namespace radam

namespace lion {
enum Slot { kParam, kGrad, kExpAvg, kSlots };
enum Scalar { kBeta1, kOneMinusBeta1, kBeta2, kOneMinusBeta2, kDecayFactor, kNegLr, kScalars };
}  // namespace lion

// SWATS: Adam until its projected SGD rate settles, then SGD with momentum (native/swats.cc).
// The update slot holds Adam's step in the Adam phase (the projection reads it) and SGD's
// momentum in the SGD phase.
namespace swats {
enum Slot { kParam, kGrad, kExpAvg, kExpAvgSq, kUpdate, kSlots };
enum Scalar {
  kBeta1, kOneMinusBeta1, kBeta2, kOneMinusBeta2, kWeightDecay, kDecayFactor, kNegStepSize,
  kBiasCorrection2Sqrt, kEps, kNegSgdLr, kScalars
};
constexpr uint32_t kFlagSgdPhase = 1u << 3;
}  // namespace swats

// Gradient clipping: slot 0 = slot 0 * scalar 0 (scale), or clamped to [scalar 0, scalar 1]; the
// scalars are shared by all tensors of the call.
namespace scale {
enum Scalar { kFactor, kScalars };
}  // namespace scale
namespace clamp {
enum Scalar { kLow, kHigh, kScalars };
}  // namespace clamp

// For the tests: slot 0 = fma(slot 0, slot 1, slot 2), elementwise.
namespace fma_probe {
enum Slot { kA, kB, kC, kSlots };
}  // namespace fma_probe

struct KernelLayout {
  const char* name;
  uint32_t slots;
  uint32_t scalars;  // per tensor: tensor t's are at scalars + t * this
  uint32_t sharedScalars;  // when scalars is 0: how many at the start every tensor reads
  // Which slots must be present for these flags (bit i = slot i). Checked before any kernel runs.
  uint32_t (*requiredSlots)(uint32_t flags);
};

const KernelLayout& kernelLayout(KernelId id);

#define SIMD_OPTIM_DECLARE_KERNELS(ns)      \
  namespace ns {                            \
  void adamStep(const TensorTask& task);    \
  void adagradStep(const TensorTask& task); \
  void rmspropStep(const TensorTask& task); \
  void sgdStep(const TensorTask& task);     \
  void trafficStep(const TensorTask& task); \
  void fmaProbeStep(const TensorTask& task); \
  void adadeltaStep(const TensorTask& task); \
  void adamaxStep(const TensorTask& task);   \
  void nadamStep(const TensorTask& task);    \
  void radamStep(const TensorTask& task);    \
  void lionStep(const TensorTask& task);     \
  void scaleStep(const TensorTask& task);    \
  void clampStep(const TensorTask& task);    \
  void swatsStep(const TensorTask& task);    \
  void sumSquares(const float* x, size_t length, double* lanes); \
  void sumAbs(const float* x, size_t length, double* lanes);     \
  void maxAbs(const float* x, size_t length, float* lanes);      \
  bool nonFinite(const float* x, size_t length);                 \
  float readPass(const float* x, size_t length);                 \
  void dotProducts(const float* x, const float* y, size_t length, double* lanes); \
  void standardize(const float* x, float* y, size_t length, size_t columns, const double* shift, const double* divisor); \
  void unstandardize(const float* x, float* y, size_t length, size_t columns, const double* shift, const double* divisor); \
  void slotMoments(const float* x, size_t length, size_t slots, double* mean, double* m2, double* count); \
  const char* compiledLevel();                                   \
  }

SIMD_OPTIM_DECLARE_KERNELS(scalar)
#if defined(__x86_64__) || defined(_M_X64)
SIMD_OPTIM_DECLARE_KERNELS(sse2)
SIMD_OPTIM_DECLARE_KERNELS(avx2)
SIMD_OPTIM_DECLARE_KERNELS(avx512)
#elif defined(__aarch64__) || defined(_M_ARM64)
SIMD_OPTIM_DECLARE_KERNELS(neon)
#endif

}  // namespace simd_optim
