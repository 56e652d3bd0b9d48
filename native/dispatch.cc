// Runtime instruction-set dispatch and the kernel layouts the binding validates against.
#include "dispatch.h"


#if defined(__x86_64__) || defined(_M_X64)
#define SIMD_OPTIM_X86 1
#if defined(_MSC_VER)
#include <intrin.h>
#include <immintrin.h>
#else
#include <cpuid.h>
#endif
#elif defined(__aarch64__) || defined(_M_ARM64)
#define SIMD_OPTIM_ARM64 1
#endif

namespace simd_optim {
namespace {

#define SIMD_OPTIM_TABLE(ns)                                                                          \
  KernelTable {                                                                                       \
    {                                                                                                 \
      ns::adamStep, ns::adagradStep, ns::rmspropStep, ns::sgdStep, ns::trafficStep, ns::fmaProbeStep, \
          ns::adadeltaStep, ns::adamaxStep, ns::nadamStep, ns::radamStep, ns::lionStep,               \
          ns::scaleStep, ns::clampStep, ns::swatsStep                                                 \
    }                                                                                                 \
    , { ns::sumSquares, ns::sumAbs, ns::maxAbs, ns::nonFinite, ns::readPass, ns::dotProducts },     \
        { ns::standardize, ns::unstandardize, ns::slotMoments }, ns::compiledLevel                    \
  }

const KernelTable kScalarTable = SIMD_OPTIM_TABLE(scalar);
#if SIMD_OPTIM_X86
const KernelTable kSse2Table = SIMD_OPTIM_TABLE(sse2);
const KernelTable kAvx2Table = SIMD_OPTIM_TABLE(avx2);
const KernelTable kAvx512Table = SIMD_OPTIM_TABLE(avx512);
#elif SIMD_OPTIM_ARM64
const KernelTable kNeonTable = SIMD_OPTIM_TABLE(neon);
#endif

const KernelTable* tableFor(Isa isa) {
  switch (isa) {
    case Isa::kScalar: return &kScalarTable;
#if SIMD_OPTIM_X86
    case Isa::kSse2: return &kSse2Table;
    case Isa::kAvx2: return &kAvx2Table;
    case Isa::kAvx512: return &kAvx512Table;
#elif SIMD_OPTIM_ARM64
    case Isa::kNeon: return &kNeonTable;
#endif
    default: return nullptr;
  }
}

#if SIMD_OPTIM_X86
void cpuid(uint32_t leaf, uint32_t subleaf, uint32_t out[4]) {
#if defined(_MSC_VER)
  int regs[4];
  __cpuidex(regs, int(leaf), int(subleaf));
  for (int i = 0; i < 4; ++i) out[i] = uint32_t(regs[i]);
#else
  __cpuid_count(leaf, subleaf, out[0], out[1], out[2], out[3]);
#endif
}

// XCR0: which register files the OS saves on a context switch. A CPU flag alone is not enough:
// without OS support the first AVX instruction faults.
uint64_t xgetbv0() {
#if defined(_MSC_VER)
  return _xgetbv(0);
#else
  uint32_t eax, edx;
  __asm__ volatile("xgetbv" : "=a"(eax), "=d"(edx) : "c"(0));
  return (uint64_t(edx) << 32) | eax;
#endif
}

uint32_t detectIsas() {
  uint32_t mask = (1u << uint32_t(Isa::kScalar)) | (1u << uint32_t(Isa::kSse2));  // x86-64 baseline
  uint32_t r[4];
  cpuid(0, 0, r);
  const uint32_t maxLeaf = r[0];
  cpuid(1, 0, r);
  const bool fma = r[2] & (1u << 12);
  const bool osxsave = r[2] & (1u << 27);
  const bool avx = r[2] & (1u << 28);
  if (!osxsave || !avx || maxLeaf < 7) return mask;
  const uint64_t xcr0 = xgetbv0();
  const bool ymmState = (xcr0 & 0x6) == 0x6;     // SSE and AVX state
  const bool zmmState = (xcr0 & 0xE6) == 0xE6;   // plus opmask and both ZMM halves
  cpuid(7, 0, r);
  // The avx2 level also uses FMA3 (every AVX2 CPU from Intel and AMD has it).
  if (ymmState && fma && (r[1] & (1u << 5))) mask |= 1u << uint32_t(Isa::kAvx2);
  if (zmmState && (r[1] & (1u << 16))) mask |= 1u << uint32_t(Isa::kAvx512);
  return mask;
}
#elif SIMD_OPTIM_ARM64
uint32_t detectIsas() {  // Advanced SIMD is mandatory on AArch64
  return (1u << uint32_t(Isa::kScalar)) | (1u << uint32_t(Isa::kNeon));
}
#else
uint32_t detectIsas() { return 1u << uint32_t(Isa::kScalar); }
#endif

const uint32_t kAvailable = detectIsas();

Isa detectBest() {
  for (uint32_t i = uint32_t(Isa::kCount); i-- > 0;) {
    if (kAvailable & (1u << i)) return Isa(i);
  }
  return Isa::kScalar;
}

// Slot bit masks of what each kernel needs for the given flags.
constexpr uint32_t bit(uint32_t slot) { return 1u << slot; }

uint32_t adamSlots(uint32_t flags) {
  using namespace adam;
  uint32_t m = bit(kParam) | bit(kGrad) | bit(kExpAvg) | bit(kExpAvgSq);
  return (flags & kFlagAmsgrad) ? m | bit(kMaxExpAvgSq) : m;
}

uint32_t rmspropSlots(uint32_t flags) {
  using namespace rmsprop;
  uint32_t m = bit(kParam) | bit(kGrad) | bit(kSquareAvg);
  if (flags & kFlagCentered) m |= bit(kGradAvg);
  if (flags & kFlagMomentum) m |= bit(kMomentumBuffer);
  return m;
}

uint32_t sgdSlots(uint32_t flags) {
  using namespace sgd;
  uint32_t m = bit(kParam) | bit(kGrad);
  return (flags & kFlagMomentum) ? m | bit(kMomentumBuffer) : m;
}

uint32_t fmaProbeSlots(uint32_t) { return 0x7; }

// Kernels whose every slot is always used.
template <uint32_t Slots>
uint32_t allSlots(uint32_t) {
  return (1u << Slots) - 1;
}

uint32_t trafficSlots(uint32_t flags) {
  uint32_t reads = traffic::readsOf(flags);
  return reads > kMaxSlots ? (1u << kMaxSlots) - 1 : (1u << reads) - 1;
}

const KernelLayout kLayouts[kKernelCount] = {
    {"adam", adam::kSlots, adam::kScalars, 0, adamSlots},
    {"adagrad", adagrad::kSlots, adagrad::kScalars, 0, allSlots<adagrad::kSlots>},
    {"rmsprop", rmsprop::kSlots, rmsprop::kScalars, 0, rmspropSlots},
    {"sgd", sgd::kSlots, sgd::kScalars, 0, sgdSlots},
    {"traffic", kMaxSlots, traffic::kScalars, 0, trafficSlots},
    {"fmaProbe", fma_probe::kSlots, 0, 0, fmaProbeSlots},
    {"adadelta", adadelta::kSlots, adadelta::kScalars, 0, allSlots<adadelta::kSlots>},
    {"adamax", adamax::kSlots, adamax::kScalars, 0, allSlots<adamax::kSlots>},
    {"nadam", nadam::kSlots, nadam::kScalars, 0, allSlots<nadam::kSlots>},
    {"radam", radam::kSlots, radam::kScalars, 0, allSlots<radam::kSlots>},
    {"lion", lion::kSlots, lion::kScalars, 0, allSlots<lion::kSlots>},
    {"scale", 1, 0, scale::kScalars, allSlots<1>},
    {"clamp", 1, 0, clamp::kScalars, allSlots<1>},
    {"swats", swats::kSlots, swats::kScalars, 0, allSlots<swats::kSlots>},
};

}  // namespace

const KernelLayout& kernelLayout(KernelId id) { return kLayouts[id]; }

const char* isaName(Isa isa) {
  switch (isa) {
    case Isa::kScalar: return "scalar";
    case Isa::kSse2: return "sse2";
    case Isa::kNeon: return "neon";
    case Isa::kAvx2: return "avx2";
    case Isa::kAvx512: return "avx512";
    default: return "unknown";
  }
}

uint32_t availableIsas() { return kAvailable; }

Isa bestIsa() { return detectBest(); }

const KernelTable* kernelTable(Isa isa) {
  if (uint32_t(isa) >= uint32_t(Isa::kCount) || !(kAvailable & (1u << uint32_t(isa)))) return nullptr;
  return tableFor(isa);
}

float combineMaxLanes(float* lanes) {
  for (size_t width = 8; width >= 1; width /= 2) {
    for (size_t j = 0; j < width; ++j) {
      const float a = lanes[j], b = lanes[j + width];
      // Math.max: NaN wins, +0 over -0 (the lanes hold |x|, so only NaN matters).
      lanes[j] = (a != a || b != b) ? a + b : (a > b ? a : b);
    }
  }
  return lanes[0];
}

double combineLanes(double* lanes) {
  for (size_t width = 8; width >= 1; width /= 2) {
    for (size_t j = 0; j < width; ++j) lanes[j] = lanes[j] + lanes[j + width];
  }
  return lanes[0];
}

}  // namespace simd_optim
