// SWATS (Keskar & Socher 2017, "Improving Generalization Performance by Switching from Adam to
// SGD"). Every line is one float32 operation; the TypeScript twin in lib/optimizers/swats.ts is
// the executable specification.
//
// Adam phase, AdamW's arithmetic with Adam's step kept in the update slot for the projection:
//   g  = maximize ? -grad : grad
//   p  = p * decayFactor                          (weightDecay != 0; fl(1 - lr*wd))
//   m  = fma(g, 1 - beta1, m * beta1)
//   v  = fma((1 - beta2) * g, g, v * beta2)
//   d  = sqrt(v) / biasCorrection2Sqrt + eps
//   u  = (negStepSize * m) / d                    stored: the projection reads it
//   p  = p + u
//
// SGD phase (the update slot is SGD's momentum, zero at the switch):
//   g  = maximize ? -grad : grad
//   p  = p * decayFactor                          (weightDecay != 0)
//   u  = u * beta1 + g
//   p  = fma(u, negSgdLr, p)                      negSgdLr = fl(-(1 - beta1) * sgdLr)
//
// The projection and the switch (float64) live in lib/optimizers/swats.ts.
#include "kernels.h"
#include "moments.h"
#include "simd.h"

namespace simd_optim {
namespace SIMD_OPTIM_NS {
namespace {

static_assert(int(swats::kBeta1) == kMomentBeta1 && int(swats::kOneMinusBeta1) == kMomentOneMinusBeta1 &&
                  int(swats::kBeta2) == kMomentBeta2 && int(swats::kOneMinusBeta2) == kMomentOneMinusBeta2 &&
                  int(swats::kWeightDecay) == kMomentWeightDecay && int(swats::kDecayFactor) == kMomentDecayFactor,
              "swats scalars must start with the moment scalars");

template <bool DecoupledDecay>
void adamPhase(const TensorTask& task) {
  using namespace swats;
  float* param = task.slot[kParam];
  const float* grad = task.slot[kGrad];
  float* expAvg = task.slot[kExpAvg];
  float* expAvgSq = task.slot[kExpAvgSq];
  float* update = task.slot[kUpdate];
  const float* s = task.scalars;
  const AdamMoments moments(task);
  const float negStepSize = s[kNegStepSize], eps = s[kEps];
  const ConstantDivisor byBiasCorrection2Sqrt(s[kBiasCorrection2Sqrt]);

  forEachBlock(task.length, [&](auto tag, size_t i) {
    using V = typename decltype(tag)::type;
    if (prefetchPays(5)) {  // five arrays: no prefetch (see prefetchPays)
      prefetchWrite(tag, i, param);
      prefetchRead(tag, i, grad);
      prefetchWrite(tag, i, expAvg, expAvgSq, update);
    }
    V p = V::load(param + i), g = V::load(grad + i), m = V::load(expAvg + i), v = V::load(expAvgSq + i);
    moments.update<false, DecoupledDecay>(p, g, m, v);
    const V denom = divideByConstant(sqrt(v), byBiasCorrection2Sqrt) + V::broadcast(eps);
    const V u = (V::broadcast(negStepSize) * m) / denom;
    p = p + u;
    m.store(expAvg + i);
    v.store(expAvgSq + i);
    u.store(update + i);
    p.store(param + i);
  });
}

template <bool DecoupledDecay>
void sgdPhase(const TensorTask& task) {
  using namespace swats;
  float* param = task.slot[kParam];
  const float* grad = task.slot[kGrad];
  float* momentum = task.slot[kUpdate];
  const float* s = task.scalars;
  const float beta1 = s[kBeta1], decayFactor = s[kDecayFactor], negSgdLr = s[kNegSgdLr];
  const float gradSign = (task.flags & kFlagMaximize) ? -0.0f : 0.0f;

  forEachBlock(task.length, [&](auto tag, size_t i) {
    using V = typename decltype(tag)::type;
    prefetchWrite(tag, i, param, momentum);
    prefetchRead(tag, i, grad);
    V p = V::load(param + i);
    const V g = xorBits(V::load(grad + i), V::broadcast(gradSign));
    if (DecoupledDecay) p = p * V::broadcast(decayFactor);
    const V u = V::load(momentum + i) * V::broadcast(beta1) + g;
    p = fma(u, V::broadcast(negSgdLr), p);
    u.store(momentum + i);
    p.store(param + i);
  });
}

}  // namespace

void swatsStep(const TensorTask& task) {
  withFlags(task.flags, [&](auto decoupled, auto sgd) {
    if (decltype(sgd)::value) sgdPhase<decltype(decoupled)::value>(task);
    else adamPhase<decltype(decoupled)::value>(task);
  }, kFlagDecoupledDecay, swats::kFlagSgdPhase);
}

}  // namespace SIMD_OPTIM_NS
}  // namespace simd_optim
