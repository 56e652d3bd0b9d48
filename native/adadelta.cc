// Adadelta (torch.optim.Adadelta, single-tensor order). Every line is one float32 operation; the
// TypeScript twin in lib/optimizers/adadelta.ts is the executable specification.
//
//   g     = maximize ? -grad : grad
//   g     = fma(p, weightDecay, g)                 (weightDecay != 0)
//   sq    = fma((1 - rho) * g, g, sq * rho)
//   std   = sqrt(sq + eps)                         (previousSquareAvg: sq before this step's update)
//   delta = (sqrt(acc + eps) / std) * g
//   acc   = fma((1 - rho) * delta, delta, acc * rho)
//   p     = fma(delta, negLr, p)
//
// fma(a, b, c) is a*b + c rounded once, where PyTorch's vectorized CPU kernels fuse it.
#include "kernels.h"
#include "simd.h"

namespace simd_optim {
namespace SIMD_OPTIM_NS {
namespace {

template <bool WithDecay, bool PreviousSquareAvg>
void adadeltaTensor(const TensorTask& task) {
  using namespace adadelta;
  float* param = task.slot[kParam];
  const float* grad = task.slot[kGrad];
  float* squareAvg = task.slot[kSquareAvg];
  float* accDelta = task.slot[kAccDelta];
  const float* s = task.scalars;
  const float rho = s[kRho], oneMinusRho = s[kOneMinusRho], weightDecay = s[kWeightDecay];
  const float negLr = s[kNegLr], eps = s[kEps];
  const float gradSign = (task.flags & kFlagMaximize) ? -0.0f : 0.0f;

  forEachBlock(task.length, [&](auto tag, size_t i) {
    using V = typename decltype(tag)::type;
    prefetchWrite(tag, i, param);
    prefetchRead(tag, i, grad);
    prefetchWrite(tag, i, squareAvg, accDelta);
    V p = V::load(param + i);
    V g = xorBits(V::load(grad + i), V::broadcast(gradSign));
    if (WithDecay) g = fma(p, V::broadcast(weightDecay), g);
    V sqBefore = V::load(squareAvg + i);
    V sq = fma(V::broadcast(oneMinusRho) * g, g, sqBefore * V::broadcast(rho));
    V std = sqrt((PreviousSquareAvg ? sqBefore : sq) + V::broadcast(eps));
    V acc = V::load(accDelta + i);
    V delta = (sqrt(acc + V::broadcast(eps)) / std) * g;
    acc = fma(V::broadcast(oneMinusRho) * delta, delta, acc * V::broadcast(rho));
    p = fma(delta, V::broadcast(negLr), p);
    sq.store(squareAvg + i);
    acc.store(accDelta + i);
    p.store(param + i);
  });
}

}  // namespace

void adadeltaStep(const TensorTask& task) {
  withFlags(task.flags, [&](auto decay, auto previous) {
    adadeltaTensor<decltype(decay)::value, decltype(previous)::value>(task);
  }, kFlagWeightDecay, adadelta::kFlagPreviousSquareAvg);
}

}  // namespace SIMD_OPTIM_NS
}  // namespace simd_optim
