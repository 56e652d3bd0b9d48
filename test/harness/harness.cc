// Runs the kernel sources, built without Node (for arm64 under qemu, or natively: see run.sh), on
// the cases make-cases.mjs computed with the TypeScript specification, at every ISA level the
// build has, and reports every element whose bits differ (NaN matches any NaN).
#include <cstdio>
#include <cstring>
#include <vector>

#include "../../native/dispatch.h"
#include "../../native/kernels.h"

using namespace simd_optim;

static bool sameBits(float a, float b) {
  uint32_t x, y;
  std::memcpy(&x, &a, 4);
  std::memcpy(&y, &b, 4);
  return x == y || (a != a && b != b);
}

int main(int argc, char** argv) {
  FILE* f = std::fopen(argc > 1 ? argv[1] : "cases.bin", "rb");
  if (!f) { std::perror("cases.bin"); return 2; }
  std::vector<unsigned char> data;
  unsigned char buf[65536];
  size_t got;
  while ((got = std::fread(buf, 1, sizeof buf, f)) > 0) data.insert(data.end(), buf, buf + got);
  std::fclose(f);

  int failures = 0, records = 0, levels = 0;
  for (uint32_t level = 0; level < uint32_t(Isa::kCount); ++level) {
    const KernelTable* table = kernelTable(Isa(level));
    if (table == nullptr) continue;
    ++levels;
    size_t at = 0;
    auto word = [&]() { uint32_t v; std::memcpy(&v, &data[at], 4); at += 4; return v; };
    auto floats = [&](size_t n) {
      std::vector<float> v(n);
      if (n > 0) std::memcpy(v.data(), &data[at], n * 4);
      at += n * 4;
      return v;
    };
    while (at < data.size()) {
      const uint32_t id = word(), flags = word(), length = word(), slots = word(), scalarCount = word(), present = word();
      auto doubles = [&](size_t n) {
        std::vector<double> v(n);
        if (n > 0) std::memcpy(v.data(), &data[at], n * 8);
        at += n * 8;
        return v;
      };
      auto sameDouble = [](double a, double b) { return std::memcmp(&a, &b, 8) == 0 || (a != a && b != b); };
      if (id >= 2000) {  // StandardScaler: flags holds the columns (2000, 2001) or the slots (2002)
        const Scaling& s = table->scaling;
        if (id == 2002) {
          std::vector<float> x = floats(length);
          const size_t padded = (flags + 15) / 16 * 16;
          std::vector<double> want[3] = {doubles(padded), doubles(padded), doubles(padded)};
          std::vector<double> got[3] = {std::vector<double>(padded), std::vector<double>(padded), std::vector<double>(padded)};
          s.slotMoments(x.data(), length, flags, got[0].data(), got[1].data(), got[2].data());
          for (int k = 0; k < 3; ++k) {
            for (size_t j = 0; j < padded; ++j) {
              if (!sameDouble(got[k][j], want[k][j]) && failures++ < 20) {
                std::printf("%s slotMoments slots %u n %u state %d [%zu]: %a, spec %a\n", isaName(Isa(level)), flags, length, k, j,
                            got[k][j], want[k][j]);
              }
            }
          }
        } else {
          std::vector<double> shift = doubles(flags + 16), divisor = doubles(flags + 16);
          std::vector<float> x = floats(length), want = floats(length), got(length);
          (id == 2000 ? s.standardize : s.unstandardize)(x.data(), got.data(), length, flags, shift.data(), divisor.data());
          for (uint32_t i = 0; i < length; ++i) {
            if (!sameBits(got[i], want[i]) && failures++ < 20) {
              std::printf("%s scaler %u columns %u n %u [%u]: %a, spec %a\n", isaName(Isa(level)), id, flags, length, i, got[i], want[i]);
            }
          }
        }
        ++records;
        (void)slots; (void)scalarCount; (void)present;
        continue;
      }
      if (id >= 1000) {  // a reduction: one array, a float64 result
        std::vector<float> x = floats(length);
        // Dot takes a pair: its second array follows the first, before the result.
        std::vector<float> y = id - 1000 == kDot ? floats(length) : std::vector<float>();
        double expected;
        std::memcpy(&expected, &data[at], 8);
        at += 8;
        const Reductions& r = table->reductions;
        double got = 0;
        double lanes[16] = {};
        float maxLanes[16] = {};
        switch (id - 1000) {
          case kSumSquares: r.sumSquares(x.data(), length, lanes); got = combineLanes(lanes); break;
          case kSumAbs: r.sumAbs(x.data(), length, lanes); got = combineLanes(lanes); break;
          case kMaxAbs: r.maxAbs(x.data(), length, maxLanes); got = combineMaxLanes(maxLanes); break;
          case kNonFinite: got = length > 0 && r.nonFinite(x.data(), length) ? 1 : 0; break;
          case kDot: r.dot(x.data(), y.data(), length, lanes); got = combineLanes(lanes); break;
        }
        ++records;
        if (!(got == expected || (got != got && expected != expected)) && failures++ < 20) {
          std::printf("%s reduction %u n %u: %a, spec %a\n", isaName(Isa(level)), id - 1000, length, got, expected);
        }
        (void)flags; (void)slots; (void)scalarCount; (void)present;
        continue;
      }
      std::vector<float> scalars = floats(scalarCount);
      std::vector<std::vector<float>> arrays, expected;
      for (uint32_t k = 0; k < slots; ++k) arrays.push_back(floats(length));
      for (uint32_t k = 0; k < slots; ++k) expected.push_back(floats(length));
      TensorTask task{};
      for (uint32_t k = 0; k < slots; ++k) task.slot[k] = (present >> k & 1) ? arrays[k].data() : nullptr;
      task.length = length;
      task.scalars = scalars.data();
      task.flags = flags;
      if (length > 0) table->fn[id](task);
      ++records;
      for (uint32_t k = 0; k < slots; ++k) {
        for (uint32_t i = 0; i < length; ++i) {
          if (!sameBits(arrays[k][i], expected[k][i]) && failures++ < 20) {
            std::printf("%s kernel %u flags %u n %u slot %u [%u]: %a, spec %a\n", isaName(Isa(level)), id, flags,
                        length, k, i, arrays[k][i], expected[k][i]);
          }
        }
      }
    }
  }
  std::printf("%d ISA levels, %d cases, %d differing elements\n", levels, records, failures);
  return failures == 0 && levels > 0 ? 0 : 1;
}
