// Adagrad (torch.optim.Adagrad, dense single-tensor order). Every line is one float32 operation;
// the TypeScript twin in lib/optimizers/adagrad.ts is the executable specification.
//
//   g   = maximize ? -grad : grad
//   g   = fma(p, weightDecay, g)                 (weightDecay != 0)
//   sum = fma(g, g, sum)
//   std = sqrt(sum) + eps                        (epsInsideSqrt: sqrt(sum + eps))
//   p   = p + (negClr * g) / std
//
// negClr = fl(-lr / (1 + (t - 1) * lrDecay)) is computed in float64 and rounded once; fma(a, b, c)
// is a*b + c rounded once, where PyTorch's vectorized CPU kernels fuse it.
#include "kernels.h"
#include "simd.h"

namespace simd_optim {
namespace SIMD_OPTIM_NS {
namespace {

template <bool WithDecay, bool EpsInside>
void adagradTensor(const TensorTask& task) {
  using namespace adagrad;
  float* param = task.slot[kParam];
  const float* grad = task.slot[kGrad];
  float* sum = task.slot[kSum];
  const float* s = task.scalars;
  const float weightDecay = s[kWeightDecay], negClr = s[kNegClr], eps = s[kEps];
  const float gradSign = (task.flags & kFlagMaximize) ? -0.0f : 0.0f;

  forEachBlock(task.length, [&](auto tag, size_t i) {
    using V = typename decltype(tag)::type;
    prefetchWrite(tag, i, param);
    prefetchRead(tag, i, grad);
    prefetchWrite(tag, i, sum);
    V p = V::load(param + i);
    V g = xorBits(V::load(grad + i), V::broadcast(gradSign));
    if (WithDecay) g = fma(p, V::broadcast(weightDecay), g);
    V acc = fma(g, g, V::load(sum + i));
    V std = EpsInside ? sqrt(acc + V::broadcast(eps)) : sqrt(acc) + V::broadcast(eps);
    p = p + (V::broadcast(negClr) * g) / std;
    acc.store(sum + i);
    p.store(param + i);
  });
}

}  // namespace

void adagradStep(const TensorTask& task) {
  withFlags(task.flags, [&](auto decay, auto epsInside) {
    adagradTensor<decltype(decay)::value, decltype(epsInside)::value>(task);
  }, kFlagWeightDecay, kFlagEpsInsideSqrt);
}

}  // namespace SIMD_OPTIM_NS
}  // namespace simd_optim
