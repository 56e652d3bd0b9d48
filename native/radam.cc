// RAdam (torch.optim.RAdam, single-tensor order). Every line is one float32 operation; the
// TypeScript twin in lib/optimizers/radam.ts is the executable specification.
//
//   g = maximize ? -grad : grad
//   p = p * decayFactor                          (decoupledWeightDecay; fl(1 - lr*wd))
//   g = fma(p, weightDecay, g)                   (weightDecay != 0, not decoupled)
//   m = fma(g, 1 - beta1, m * beta1)
//   v = fma((1 - beta2) * g, g, v * beta2)
//   b = m / biasCorrection1
//   rectified (rho_t > 5):
//     a = (1 / (sqrt(v) + eps)) * biasCorrection2Sqrt    (PyTorch: scalar / tensor = reciprocal * scalar)
//     p = p - ((b * lr) * a) * rect
//   otherwise:
//     p = p - b * lr
//
// biasCorrection1 = 1 - beta1^t, biasCorrection2Sqrt = sqrt(1 - beta2^t), rho_t and rect are
// computed in float64 on the TypeScript side and rounded once.
#include "kernels.h"
#include "moments.h"
#include "simd.h"

namespace simd_optim {
namespace SIMD_OPTIM_NS {
namespace {

template <bool CoupledDecay, bool DecoupledDecay, bool Rectified>
void radamTensor(const TensorTask& task) {
  using namespace radam;
  float* param = task.slot[kParam];
  const float* grad = task.slot[kGrad];
  float* expAvg = task.slot[kExpAvg];
  float* expAvgSq = task.slot[kExpAvgSq];
  const float* s = task.scalars;
  const AdamMoments moments(task);
  const float lr = s[kLr], eps = s[kEps], biasCorrection2Sqrt = s[kBiasCorrection2Sqrt], rect = s[kRect];
  const ConstantDivisor byBiasCorrection1(s[kBiasCorrection1]);

  forEachBlock(task.length, [&](auto tag, size_t i) {
    using V = typename decltype(tag)::type;
    prefetchWrite(tag, i, param);
    prefetchRead(tag, i, grad);
    prefetchWrite(tag, i, expAvg, expAvgSq);
    V p = V::load(param + i), g = V::load(grad + i), m = V::load(expAvg + i), v = V::load(expAvgSq + i);
    moments.update<CoupledDecay, DecoupledDecay>(p, g, m, v);
    V step = divideByConstant(m, byBiasCorrection1) * V::broadcast(lr);
    if (Rectified) {
      V adaptive = (V::broadcast(1.0f) / (sqrt(v) + V::broadcast(eps))) * V::broadcast(biasCorrection2Sqrt);
      step = (step * adaptive) * V::broadcast(rect);
    }
    p = p - step;
    m.store(expAvg + i);
    v.store(expAvgSq + i);
    p.store(param + i);
  });
}

}  // namespace

void radamStep(const TensorTask& task) {
  withFlags(task.flags, [&](auto decoupled, auto coupled, auto rectified) {
    radamTensor<decltype(coupled)::value && !decltype(decoupled)::value, decltype(decoupled)::value,
                decltype(rectified)::value>(task);
  }, kFlagDecoupledDecay, kFlagWeightDecay, radam::kFlagRectified);
}

}  // namespace SIMD_OPTIM_NS
}  // namespace simd_optim
