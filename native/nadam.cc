// NAdam (torch.optim.NAdam of PyTorch 2.x, single-tensor order). Every line is one float32
// operation; the TypeScript twin in lib/optimizers/nadam.ts is the executable specification.
//
//   g = maximize ? -grad : grad
//   p = p * decayFactor                          (decoupledWeightDecay; fl(1 - lr*wd))
//   g = fma(p, weightDecay, g)                   (weightDecay != 0, not decoupled)
//   m = fma(g, 1 - beta1, m * beta1)
//   v = fma((1 - beta2) * g, g, v * beta2)
//   d = sqrt(v / biasCorrection2) + eps
//   p = p + (gradCoefficient * g) / d
//   p = p + (expAvgCoefficient * m) / d
//
// With mu_t = beta1 (1 - 0.5 * 0.96^(t * momentumDecay)) and muProduct the running product of
// the mu's (kept per param in float32, as PyTorch does), the TypeScript side computes in float64:
// gradCoefficient = -lr (1 - mu_t) / (1 - muProduct), expAvgCoefficient =
// -lr mu_{t+1} / (1 - muProduct * mu_{t+1}), biasCorrection2 = 1 - beta2^t.
#include "kernels.h"
#include "moments.h"
#include "simd.h"

namespace simd_optim {
namespace SIMD_OPTIM_NS {
namespace {

template <bool CoupledDecay, bool DecoupledDecay>
void nadamTensor(const TensorTask& task) {
  using namespace nadam;
  float* param = task.slot[kParam];
  const float* grad = task.slot[kGrad];
  float* expAvg = task.slot[kExpAvg];
  float* expAvgSq = task.slot[kExpAvgSq];
  const float* s = task.scalars;
  const AdamMoments moments(task);
  const float eps = s[kEps];
  const float gradCoefficient = s[kGradCoefficient], expAvgCoefficient = s[kExpAvgCoefficient];
  const ConstantDivisor byBiasCorrection2(s[kBiasCorrection2]);

  forEachBlock(task.length, [&](auto tag, size_t i) {
    using V = typename decltype(tag)::type;
    prefetchWrite(tag, i, param);
    prefetchRead(tag, i, grad);
    prefetchWrite(tag, i, expAvg, expAvgSq);
    V p = V::load(param + i), g = V::load(grad + i), m = V::load(expAvg + i), v = V::load(expAvgSq + i);
    moments.update<CoupledDecay, DecoupledDecay>(p, g, m, v);
    V denom = sqrt(divideByConstant(v, byBiasCorrection2)) + V::broadcast(eps);
    p = p + (V::broadcast(gradCoefficient) * g) / denom;
    p = p + (V::broadcast(expAvgCoefficient) * m) / denom;
    m.store(expAvg + i);
    v.store(expAvgSq + i);
    p.store(param + i);
  });
}

}  // namespace

void nadamStep(const TensorTask& task) {
  withFlags(task.flags, [&](auto decoupled, auto coupled) {
    nadamTensor<decltype(coupled)::value && !decltype(decoupled)::value, decltype(decoupled)::value>(task);
  }, kFlagDecoupledDecay, kFlagWeightDecay);
}

}  // namespace SIMD_OPTIM_NS
}  // namespace simd_optim
