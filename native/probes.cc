// The benchmark's same-traffic ceiling: a loop that moves exactly the bytes an optimizer step
// moves (it reads `reads` arrays and writes the first `writes` of them back, 1 <= writes <= reads)
// with one add per array instead of the optimizer's arithmetic. Out of cache, an optimizer kernel cannot beat it;
// bench/ reports each kernel as a percentage of it.
#include "kernels.h"
#include "simd.h"

namespace simd_optim {
namespace SIMD_OPTIM_NS {
namespace {

template <int Reads, int Writes>
void trafficTensor(const TensorTask& task) {
  static_assert(Writes <= Reads && Reads <= int(kMaxSlots), "slots out of range");
  float* const* slot = task.slot;
  const float offset = task.scalars[0];
  forEachBlock(task.length, [&](auto tag, size_t i) {
    using V = typename decltype(tag)::type;
    if (prefetchPays(Reads)) {  // the kernels' own rule, so the ceiling is what they could reach
      for (int r = 0; r < Writes; ++r) prefetchWrite(tag, i, slot[r]);
      for (int r = Writes; r < Reads; ++r) prefetchRead(tag, i, slot[r]);
    }
    V sum = V::broadcast(offset);
    for (int r = 0; r < Reads; ++r) sum = sum + V::load(slot[r] + i);
    for (int w = 0; w < Writes; ++w) sum.store(slot[w] + i);
  });
}

template <int Reads, int Writes = Reads>
void trafficDispatch(const TensorTask& task, uint32_t writes) {
  if (int(writes) == Writes) return trafficTensor<Reads, Writes>(task);
  if constexpr (Writes > 1) trafficDispatch<Reads, Writes - 1>(task, writes);
}

}  // namespace

void trafficStep(const TensorTask& task) {
  const uint32_t writes = traffic::writesOf(task.flags);
  switch (traffic::readsOf(task.flags)) {
    case 1: return trafficDispatch<1>(task, writes);
    case 2: return trafficDispatch<2>(task, writes);
    case 3: return trafficDispatch<3>(task, writes);
    case 4: return trafficDispatch<4>(task, writes);
    case 5: return trafficDispatch<5>(task, writes);
    default: return;
  }
}

// The level this library was compiled for, as its namespace says: what the binding reports as the
// ISA in use is read from the kernels themselves, so it cannot disagree with what runs.
const char* compiledLevel() {
#define SIMD_OPTIM_STRINGIFY(x) #x
#define SIMD_OPTIM_NAME(x) SIMD_OPTIM_STRINGIFY(x)
  return SIMD_OPTIM_NAME(SIMD_OPTIM_NS);
#undef SIMD_OPTIM_NAME
#undef SIMD_OPTIM_STRINGIFY
}

void fmaProbeStep(const TensorTask& task) {
  float* a = task.slot[0];
  const float* b = task.slot[1];
  const float* c = task.slot[2];
  forEachBlock(task.length, [&](auto tag, size_t i) {
    using V = typename decltype(tag)::type;
    fma(V::load(a + i), V::load(b + i), V::load(c + i)).store(a + i);
  });
}

}  // namespace SIMD_OPTIM_NS
}  // namespace simd_optim
