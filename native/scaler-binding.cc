// scaleColumns and columnMoments: StandardScaler's passes over row-major data (native/scaler.cc),
// on the calling thread. The TypeScript side (lib/preprocessing/standard-scaler.ts) has checked
// the user's arguments and made the messages users see; the checks here keep a bug there from
// becoming an out-of-bounds read or write.
#include <string>

#include "binding.h"

namespace simd_optim {
namespace binding {
namespace {

// The entries a per-slot or per-column array needs past `count`: the kernels read whole blocks.
constexpr size_t kPadding = 16;

// Reads argument `value` as a Float64Array of at least `needed` entries; false when it has thrown.
bool readDoubles(napi_env env, const char* where, const char* name, napi_value value, size_t needed, double** data) {
  size_t length = 0;
  const Read read = readFloat64Array(env, value, data, &length);
  if (read == Read::kGone) return false;
  if (read == Read::kWrong) return fail(env, true, std::string(where) + ": " + name + " must be a Float64Array"), false;
  if (length < needed) return fail(env, false, std::string(where) + ": " + name + " is too short"), false;
  return true;
}

// Reads a whole number >= 1; false when it has thrown.
bool readCount(napi_env env, const char* where, const char* name, napi_value value, uint32_t* out) {
  const Read read = readUint32(env, value, out);
  if (read == Read::kGone) return false;
  if (read == Read::kWrong || *out == 0) return fail(env, false, std::string(where) + ": " + name + " must be a whole number >= 1"), false;
  return true;
}

}  // namespace

// scaleColumns(inverse, data, out, columns, shift, divisor): out = (data - shift) / divisor per
// column, or data * divisor + shift when inverse is 1. out is data itself or apart from it.
napi_value ScaleColumns(napi_env env, napi_callback_info info) {
  constexpr const char* kWhere = "scaleColumns";
  napi_value argv[6];
  Instance* instance = callArguments(env, info, argv, 6, kWhere);
  if (instance == nullptr) return nullptr;
  uint32_t inverse = 0, columns = 0;
  Read read = readUint32(env, argv[0], &inverse);
  if (read == Read::kGone) return nullptr;
  if (read == Read::kWrong || inverse > 1) return fail(env, false, "scaleColumns: inverse must be 0 or 1");
  Float32View data, out;
  read = readFloat32Array(env, argv[1], &data);
  if (read != Read::kOk) return read == Read::kWrong ? fail(env, true, "scaleColumns: data must be a Float32Array") : nullptr;
  read = readFloat32Array(env, argv[2], &out);
  if (read != Read::kOk) return read == Read::kWrong ? fail(env, true, "scaleColumns: out must be a Float32Array") : nullptr;
  if (out.length != data.length) return fail(env, false, "scaleColumns: out and data differ in length");
  if (out.data != data.data && out.data < data.data + data.length && data.data < out.data + out.length) {
    return fail(env, false, "scaleColumns: out overlaps data without being data itself");
  }
  if (!readCount(env, kWhere, "columns", argv[3], &columns)) return nullptr;
  double *shift = nullptr, *divisor = nullptr;
  if (!readDoubles(env, kWhere, "shift", argv[4], size_t(columns) + kPadding, &shift)) return nullptr;
  if (!readDoubles(env, kWhere, "divisor", argv[5], size_t(columns) + kPadding, &divisor)) return nullptr;
  const Scaling& scaling = instance->table->scaling;
  (inverse ? scaling.unstandardize : scaling.standardize)(data.data, out.data, data.length, columns, shift, divisor);
  return nullptr;
}

// columnMoments(data, slots, mean, m2, count): Welford's updates of data[i] into slot i % slots
// (the state arrays hold slots rounded up to a multiple of 16, and carry on from what they hold).
napi_value ColumnMoments(napi_env env, napi_callback_info info) {
  constexpr const char* kWhere = "columnMoments";
  napi_value argv[5];
  Instance* instance = callArguments(env, info, argv, 5, kWhere);
  if (instance == nullptr) return nullptr;
  Float32View data;
  const Read read = readFloat32Array(env, argv[0], &data);
  if (read != Read::kOk) return read == Read::kWrong ? fail(env, true, "columnMoments: data must be a Float32Array") : nullptr;
  uint32_t slots = 0;
  if (!readCount(env, kWhere, "slots", argv[1], &slots)) return nullptr;
  const size_t needed = (size_t(slots) + kPadding - 1) / kPadding * kPadding;
  double *mean = nullptr, *m2 = nullptr, *count = nullptr;
  if (!readDoubles(env, kWhere, "mean", argv[2], needed, &mean)) return nullptr;
  if (!readDoubles(env, kWhere, "m2", argv[3], needed, &m2)) return nullptr;
  if (!readDoubles(env, kWhere, "count", argv[4], needed, &count)) return nullptr;
  if ((mean < m2 + needed && m2 < mean + needed) || (mean < count + needed && count < mean + needed) ||
      (m2 < count + needed && count < m2 + needed)) {
    return fail(env, false, "columnMoments: mean, m2 and count must not overlap");
  }
  instance->table->scaling.slotMoments(data.data, data.length, slots, mean, m2, count);
  return nullptr;
}

}  // namespace binding
}  // namespace simd_optim
