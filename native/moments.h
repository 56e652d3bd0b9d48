// The first half of the Adam family's step (Adam, AdamW, NAdam, RAdam), one definition for the
// three kernels that share it, in PyTorch's fused CPU form:
//
//   g = maximize ? -grad : grad
//   p = p * decayFactor                 decoupled weight decay (AdamW, decoupledWeightDecay)
//   g = fma(p, weightDecay, g)          coupled weight decay
//   m = fma(g, 1 - beta1, m * beta1)
//   v = fma((1 - beta2) * g, g, v * beta2)
//
// Their scalar layouts all begin with the six scalars read here (checked below).
#pragma once

#include "kernels.h"
#include "simd.h"

namespace simd_optim {
namespace SIMD_OPTIM_NS {

constexpr int kMomentBeta1 = 0, kMomentOneMinusBeta1 = 1, kMomentBeta2 = 2, kMomentOneMinusBeta2 = 3;
constexpr int kMomentWeightDecay = 4, kMomentDecayFactor = 5;

#define SIMD_OPTIM_CHECK_MOMENT_LAYOUT(ns)                                                                 \
  static_assert(int(ns::kBeta1) == kMomentBeta1 && int(ns::kOneMinusBeta1) == kMomentOneMinusBeta1 &&     \
                    int(ns::kBeta2) == kMomentBeta2 && int(ns::kOneMinusBeta2) == kMomentOneMinusBeta2 && \
                    int(ns::kWeightDecay) == kMomentWeightDecay &&                                        \
                    int(ns::kDecayFactor) == kMomentDecayFactor,                                           \
                #ns " scalars must start with the moment scalars");
SIMD_OPTIM_CHECK_MOMENT_LAYOUT(adam)
SIMD_OPTIM_CHECK_MOMENT_LAYOUT(nadam)
SIMD_OPTIM_CHECK_MOMENT_LAYOUT(radam)
#undef SIMD_OPTIM_CHECK_MOMENT_LAYOUT

// Copied out of the task once per tensor, so stores to the arrays cannot change them.
struct AdamMoments {
  float gradSign, beta1, oneMinusBeta1, beta2, oneMinusBeta2, weightDecay, decayFactor;

  explicit AdamMoments(const TensorTask& task)
      : gradSign((task.flags & kFlagMaximize) ? -0.0f : 0.0f),
        beta1(task.scalars[kMomentBeta1]),
        oneMinusBeta1(task.scalars[kMomentOneMinusBeta1]),
        beta2(task.scalars[kMomentBeta2]),
        oneMinusBeta2(task.scalars[kMomentOneMinusBeta2]),
        weightDecay(task.scalars[kMomentWeightDecay]),
        decayFactor(task.scalars[kMomentDecayFactor]) {}

  // p, grad, m and v as loaded; on return p, m and v are updated and grad is the g used.
  template <bool CoupledDecay, bool DecoupledDecay, class V>
  void update(V& p, V& grad, V& m, V& v) const {
    V g = xorBits(grad, V::broadcast(gradSign));
    if (DecoupledDecay) p = p * V::broadcast(decayFactor);
    if (CoupledDecay) g = fma(p, V::broadcast(weightDecay), g);
    m = fma(g, V::broadcast(oneMinusBeta1), m * V::broadcast(beta1));
    v = fma(V::broadcast(oneMinusBeta2) * g, g, v * V::broadcast(beta2));
    grad = g;
  }
};

}  // namespace SIMD_OPTIM_NS
}  // namespace simd_optim
