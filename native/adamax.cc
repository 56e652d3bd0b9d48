// Adamax (torch.optim.Adamax, single-tensor order). Every line is one float32 operation; the
// TypeScript twin in lib/optimizers/adamax.ts is the executable specification.
//
//   g = maximize ? -grad : grad
//   g = fma(p, weightDecay, g)                   (weightDecay != 0)
//   m = fma(g, 1 - beta1, m * beta1)
//   u = max(u * beta2, |g| + eps)                (NaN-propagating, as torch.maximum)
//   p = p + (negClr * m) / u
// or, with epsOutsideMax (TensorFlow.js, Keras):
//   u = max(u * beta2, |g|)
//   p = p + (negClr * m) / (u + eps)
//
// negClr = fl(-lr / (1 - beta1^t)) is computed in float64 on the TypeScript side.
#include "kernels.h"
#include "simd.h"

namespace simd_optim {
namespace SIMD_OPTIM_NS {
namespace {

template <bool WithDecay, bool EpsOutsideMax>
void adamaxTensor(const TensorTask& task) {
  using namespace adamax;
  float* param = task.slot[kParam];
  const float* grad = task.slot[kGrad];
  float* expAvg = task.slot[kExpAvg];
  float* expInf = task.slot[kExpInf];
  const float* s = task.scalars;
  const float beta1 = s[kBeta1], oneMinusBeta1 = s[kOneMinusBeta1], beta2 = s[kBeta2];
  const float weightDecay = s[kWeightDecay], negClr = s[kNegClr], eps = s[kEps];
  const float gradSign = (task.flags & kFlagMaximize) ? -0.0f : 0.0f;

  forEachBlock(task.length, [&](auto tag, size_t i) {
    using V = typename decltype(tag)::type;
    prefetchWrite(tag, i, param);
    prefetchRead(tag, i, grad);
    prefetchWrite(tag, i, expAvg, expInf);
    V p = V::load(param + i);
    V g = xorBits(V::load(grad + i), V::broadcast(gradSign));
    if (WithDecay) g = fma(p, V::broadcast(weightDecay), g);
    V m = fma(g, V::broadcast(oneMinusBeta1), V::load(expAvg + i) * V::broadcast(beta1));
    V absG = EpsOutsideMax ? abs(g) : abs(g) + V::broadcast(eps);
    V u = maxJs(V::load(expInf + i) * V::broadcast(beta2), absG);
    V denom = EpsOutsideMax ? u + V::broadcast(eps) : u;
    p = p + (V::broadcast(negClr) * m) / denom;
    m.store(expAvg + i);
    u.store(expInf + i);
    p.store(param + i);
  });
}

}  // namespace

void adamaxStep(const TensorTask& task) {
  withFlags(task.flags, [&](auto decay, auto epsOutside) {
    adamaxTensor<decltype(decay)::value, decltype(epsOutside)::value>(task);
  }, kFlagWeightDecay, adamax::kFlagEpsOutsideMax);
}

}  // namespace SIMD_OPTIM_NS
}  // namespace simd_optim
