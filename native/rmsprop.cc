// RMSprop (torch.optim.RMSprop, single-tensor order). Every line is one float32 operation; the
// TypeScript twin in lib/optimizers/rmsprop.ts is the executable specification.
//
//   g   = maximize ? -grad : grad
//   g   = fma(p, weightDecay, g)                 (weightDecay != 0)
//   sq  = fma((1 - alpha) * g, g, sq * alpha)
//   ga  = fma(g, 1 - alpha, ga * alpha)          (centered)
//   avg = sqrt(centered ? fma(-ga, ga, sq) : sq) + eps     (epsInsideSqrt: sqrt(... + eps))
//   buf = buf * momentum + g / avg;  p = fma(buf, negLr, p)   (momentum > 0)
//   p   = p + (negLr * g) / avg                                (momentum == 0)
//
// fma(a, b, c) is a*b + c rounded once, where PyTorch's vectorized CPU kernels fuse it.
#include "kernels.h"
#include "simd.h"

namespace simd_optim {
namespace SIMD_OPTIM_NS {
namespace {

template <bool WithDecay, bool Centered, bool WithMomentum, bool EpsInside>
void rmspropTensor(const TensorTask& task) {
  using namespace rmsprop;
  float* param = task.slot[kParam];
  const float* grad = task.slot[kGrad];
  float* squareAvg = task.slot[kSquareAvg];
  float* gradAvg = task.slot[kGradAvg];
  float* momentumBuffer = task.slot[kMomentumBuffer];
  const float* s = task.scalars;
  const float alpha = s[kAlpha], oneMinusAlpha = s[kOneMinusAlpha];
  const float weightDecay = s[kWeightDecay], momentum = s[kMomentum];
  const float negLr = s[kNegLr], eps = s[kEps];
  const float gradSign = (task.flags & kFlagMaximize) ? -0.0f : 0.0f;

  forEachBlock(task.length, [&](auto tag, size_t i) {
    using V = typename decltype(tag)::type;
    if (prefetchPays(3 + Centered + WithMomentum)) {
      prefetchWrite(tag, i, param);
      prefetchRead(tag, i, grad);
      prefetchWrite(tag, i, squareAvg);
      if (Centered) prefetchWrite(tag, i, gradAvg);
      if (WithMomentum) prefetchWrite(tag, i, momentumBuffer);
    }
    V p = V::load(param + i);
    V g = xorBits(V::load(grad + i), V::broadcast(gradSign));
    if (WithDecay) g = fma(p, V::broadcast(weightDecay), g);
    V sq = fma(V::broadcast(oneMinusAlpha) * g, g, V::load(squareAvg + i) * V::broadcast(alpha));
    sq.store(squareAvg + i);
    V avg = sq;
    if (Centered) {
      V ga = fma(g, V::broadcast(oneMinusAlpha), V::load(gradAvg + i) * V::broadcast(alpha));
      ga.store(gradAvg + i);
      avg = fma(xorBits(ga, V::broadcast(-0.0f)), ga, sq);
    }
    avg = EpsInside ? sqrt(avg + V::broadcast(eps)) : sqrt(avg) + V::broadcast(eps);
    if (WithMomentum) {
      V buf = V::load(momentumBuffer + i) * V::broadcast(momentum) + g / avg;
      buf.store(momentumBuffer + i);
      p = fma(buf, V::broadcast(negLr), p);
    } else {
      p = p + (V::broadcast(negLr) * g) / avg;
    }
    p.store(param + i);
  });
}

}  // namespace

void rmspropStep(const TensorTask& task) {
  withFlags(task.flags, [&](auto decay, auto centered, auto momentum, auto epsInside) {
    rmspropTensor<decltype(decay)::value, decltype(centered)::value, decltype(momentum)::value,
                  decltype(epsInside)::value>(task);
  }, kFlagWeightDecay, rmsprop::kFlagCentered, rmsprop::kFlagMomentum, kFlagEpsInsideSqrt);
}

}  // namespace SIMD_OPTIM_NS
}  // namespace simd_optim
