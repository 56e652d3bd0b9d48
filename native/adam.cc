// Adam and AdamW (torch.optim.Adam / AdamW, single-tensor order). Every line is one float32
// operation; the TypeScript twin in lib/optimizers/adam.ts is the executable specification.
//
//   g  = maximize ? -grad : grad
//   p  = p * decayFactor                         (AdamW only; decayFactor = fl(1 - lr*wd))
//   g  = fma(p, weightDecay, g)                  (Adam with weightDecay != 0)
//   m  = fma(g, 1 - beta1, m * beta1)
//   v  = fma((1 - beta2) * g, g, v * beta2)
//   vm = max(vm, v)                              (amsgrad; NaN-propagating, as torch.maximum)
//   d  = sqrt(amsgrad ? vm : v) / biasCorrection2Sqrt + eps
//   d  = sqrt((amsgrad ? vm : v) / biasCorrection2 + eps)       (epsInsideSqrt)
//   p  = p + (negStepSize * m) / d
//
// fma(a, b, c) is a*b + c rounded once, where PyTorch's vectorized CPU kernels fuse it.
// negStepSize = fl(-lr / (1 - beta1^t)), biasCorrection2 = fl(1 - beta2^t) and
// biasCorrection2Sqrt = fl(sqrt(1 - beta2^t)) are computed in float64 on the TypeScript side.
#include "kernels.h"
#include "moments.h"
#include "simd.h"

namespace simd_optim {
namespace SIMD_OPTIM_NS {
namespace {

template <bool CoupledDecay, bool DecoupledDecay, bool Amsgrad, bool EpsInside>
void adamTensor(const TensorTask& task) {
  using namespace adam;
  float* param = task.slot[kParam];
  const float* grad = task.slot[kGrad];
  float* expAvg = task.slot[kExpAvg];
  float* expAvgSq = task.slot[kExpAvgSq];
  float* maxExpAvgSq = task.slot[kMaxExpAvgSq];
  // Copied to locals so the compiler knows stores to the arrays cannot change them.
  const float* s = task.scalars;
  const AdamMoments moments(task);
  const float negStepSize = s[kNegStepSize], eps = s[kEps];
  // Divisions by these constants take Markstein's route where the level has an FMA.
  const ConstantDivisor byBiasCorrection2Sqrt(s[kBiasCorrection2Sqrt]);
  const ConstantDivisor byBiasCorrection2(s[kBiasCorrection2]);

  forEachBlock(task.length, [&](auto tag, size_t i) {
    using V = typename decltype(tag)::type;
    if (prefetchPays(Amsgrad ? 5 : 4)) {  // amsgrad's fifth array: none (see prefetchPays)
      prefetchWrite(tag, i, param);
      prefetchRead(tag, i, grad);
      prefetchWrite(tag, i, expAvg, expAvgSq);
    }
    V p = V::load(param + i), g = V::load(grad + i), m = V::load(expAvg + i), v = V::load(expAvgSq + i);
    moments.update<CoupledDecay, DecoupledDecay>(p, g, m, v);
    V vHat = v;
    if (Amsgrad) {
      vHat = maxJs(V::load(maxExpAvgSq + i), v);
      vHat.store(maxExpAvgSq + i);
    }
    V denom = EpsInside ? sqrt(divideByConstant(vHat, byBiasCorrection2) + V::broadcast(eps))
                        : divideByConstant(sqrt(vHat), byBiasCorrection2Sqrt) + V::broadcast(eps);
    p = p + (V::broadcast(negStepSize) * m) / denom;
    m.store(expAvg + i);
    v.store(expAvgSq + i);
    p.store(param + i);
  });
}

}  // namespace

void adamStep(const TensorTask& task) {
  withFlags(task.flags, [&](auto decoupled, auto coupled, auto amsgrad, auto epsInside) {
    // The optimizers set one kind of decay; should both be set, the decoupled one wins.
    adamTensor<decltype(coupled)::value && !decltype(decoupled)::value, decltype(decoupled)::value,
               decltype(amsgrad)::value, decltype(epsInside)::value>(task);
  }, kFlagDecoupledDecay, kFlagWeightDecay, adam::kFlagAmsgrad, kFlagEpsInsideSqrt);
}

}  // namespace SIMD_OPTIM_NS
}  // namespace simd_optim
