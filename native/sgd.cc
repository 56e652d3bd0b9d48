// SGD with momentum, dampening and Nesterov (torch.optim.SGD, single-tensor order). Every line is
// one float32 operation; the TypeScript twin in lib/optimizers/sgd.ts is the executable specification.
//
//   g   = maximize ? -grad : grad
//   g   = fma(p, weightDecay, g)                 (weightDecay != 0)
//   buf = g                                      (momentum != 0, first step: PyTorch clones)
//   buf = fma(g, 1 - dampening, buf * momentum)  (momentum != 0, later steps)
//   g   = nesterov ? fma(buf, momentum, g) : buf (momentum != 0)
//   p   = fma(g, negLr, p)
//
// fma(a, b, c) is a*b + c rounded once, where PyTorch's vectorized CPU kernels fuse it.
#include "kernels.h"
#include "simd.h"

namespace simd_optim {
namespace SIMD_OPTIM_NS {
namespace {

template <bool WithDecay, bool WithMomentum, bool Nesterov, bool FirstStep>
void sgdTensor(const TensorTask& task) {
  using namespace sgd;
  float* param = task.slot[kParam];
  const float* grad = task.slot[kGrad];
  float* momentumBuffer = task.slot[kMomentumBuffer];
  const float* s = task.scalars;
  const float weightDecay = s[kWeightDecay], momentum = s[kMomentum];
  const float oneMinusDampening = s[kOneMinusDampening], negLr = s[kNegLr];
  const float gradSign = (task.flags & kFlagMaximize) ? -0.0f : 0.0f;

  forEachBlock(task.length, [&](auto tag, size_t i) {
    using V = typename decltype(tag)::type;
    prefetchWrite(tag, i, param);
    prefetchRead(tag, i, grad);
    if (WithMomentum) prefetchWrite(tag, i, momentumBuffer);
    V p = V::load(param + i);
    V g = xorBits(V::load(grad + i), V::broadcast(gradSign));
    if (WithDecay) g = fma(p, V::broadcast(weightDecay), g);
    if (WithMomentum) {
      V buf = g;
      if (!FirstStep) {
        buf = fma(g, V::broadcast(oneMinusDampening), V::load(momentumBuffer + i) * V::broadcast(momentum));
      }
      buf.store(momentumBuffer + i);
      g = Nesterov ? fma(buf, V::broadcast(momentum), g) : buf;
    }
    p = fma(g, V::broadcast(negLr), p);
    p.store(param + i);
  });
}

}  // namespace

void sgdStep(const TensorTask& task) {
  withFlags(task.flags, [&](auto decay, auto momentum, auto nesterov, auto firstStep) {
    // Nesterov and the first step only mean something with momentum: fewer loops to compile.
    constexpr bool withMomentum = decltype(momentum)::value;
    sgdTensor<decltype(decay)::value, withMomentum, withMomentum && decltype(nesterov)::value,
              withMomentum && decltype(firstStep)::value>(task);
  }, kFlagWeightDecay, sgd::kFlagMomentum, sgd::kFlagNesterov, sgd::kFlagFirstStep);
}

}  // namespace SIMD_OPTIM_NS
}  // namespace simd_optim
