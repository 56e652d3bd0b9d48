// Lion (Chen et al. 2023, "Symbolic Discovery of Optimization Algorithms"). Every line is one
// float32 operation; the TypeScript twin in lib/optimizers/lion.ts is the executable specification.
//
//   g = maximize ? -grad : grad
//   c = fma(g, 1 - beta1, m * beta1)
//   p = p * decayFactor                          (weightDecay != 0; fl(1 - lr*wd))
//   p = fma(sign(c), negLr, p)                   (sign: +-1, or c itself for +-0 and NaN)
//   m = fma(g, 1 - beta2, m * beta2)
//
// That is p <- p - lr (sign(c) + wd p) with the decay applied first, as PyTorch's AdamW does.
#include "kernels.h"
#include "simd.h"

namespace simd_optim {
namespace SIMD_OPTIM_NS {
namespace {

template <bool DecoupledDecay>
void lionTensor(const TensorTask& task) {
  using namespace lion;
  float* param = task.slot[kParam];
  const float* grad = task.slot[kGrad];
  float* expAvg = task.slot[kExpAvg];
  const float* s = task.scalars;
  const float beta1 = s[kBeta1], oneMinusBeta1 = s[kOneMinusBeta1];
  const float beta2 = s[kBeta2], oneMinusBeta2 = s[kOneMinusBeta2];
  const float decayFactor = s[kDecayFactor], negLr = s[kNegLr];
  const float gradSign = (task.flags & kFlagMaximize) ? -0.0f : 0.0f;

  forEachBlock(task.length, [&](auto tag, size_t i) {
    using V = typename decltype(tag)::type;
    prefetchWrite(tag, i, param);
    prefetchRead(tag, i, grad);
    prefetchWrite(tag, i, expAvg);
    V p = V::load(param + i);
    V g = xorBits(V::load(grad + i), V::broadcast(gradSign));
    V m = V::load(expAvg + i);
    V c = fma(g, V::broadcast(oneMinusBeta1), m * V::broadcast(beta1));
    if (DecoupledDecay) p = p * V::broadcast(decayFactor);
    p = fma(sign(c), V::broadcast(negLr), p);
    m = fma(g, V::broadcast(oneMinusBeta2), m * V::broadcast(beta2));
    m.store(expAvg + i);
    p.store(param + i);
  });
}

}  // namespace

void lionStep(const TensorTask& task) {
  withFlags(task.flags, [&](auto decoupled) { lionTensor<decltype(decoupled)::value>(task); }, kFlagDecoupledDecay);
}

}  // namespace SIMD_OPTIM_NS
}  // namespace simd_optim
