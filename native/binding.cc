// N-API binding. One call, step(), runs one optimizer step over all of an optimizer's tensors:
// it reads every typed array first, checks each is a Float32Array of its parameter's length, and
// only then runs a kernel, so a bad argument throws before any array has been written.
//
// The TypeScript side has validated everything already and produced better messages; the checks
// here are what keeps a bug there from becoming an out-of-bounds write here.
#include <napi.h>

#include <string>
#include <vector>

#include "dispatch.h"
#include "kernels.h"

namespace simd_optim {
namespace {

struct Float32View {
  float* data = nullptr;
  size_t length = 0;
};

// Only what the kernel needs: type, length and data pointer (which already includes the view's
// byteOffset). Asking for the ArrayBuffer too would create a handle per array per step.
bool readFloat32Array(napi_env env, napi_value value, Float32View* view) {
  napi_typedarray_type type;
  void* data = nullptr;
  if (napi_get_typedarray_info(env, value, &type, &view->length, &data, nullptr, nullptr) != napi_ok) {
    return false;
  }
  view->data = static_cast<float*>(data);
  return type == napi_float32_array;
}

template <class T, napi_typedarray_type kType>
bool readTypedArray(napi_env env, napi_value value, T** data, size_t* length) {
  napi_typedarray_type type;
  void* raw = nullptr;
  if (napi_get_typedarray_info(env, value, &type, length, &raw, nullptr, nullptr) != napi_ok) return false;
  *data = static_cast<T*>(raw);
  return type == kType;
}

Napi::Value fail(Napi::Env env, bool typeError, const std::string& message) {
  if (typeError) {
    Napi::TypeError::New(env, message).ThrowAsJavaScriptException();
  } else {
    Napi::RangeError::New(env, message).ThrowAsJavaScriptException();
  }
  return env.Undefined();
}

// step(kernelId, arrays, scalars, flags, count)
//   arrays:  Array, slots-per-tensor entries for each tensor (null where the flags need no slot)
//   scalars: Float32Array, scalars-per-tensor entries for each tensor
//   flags:   Uint32Array, one entry per tensor
Napi::Value Step(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  napi_env raw = env;
  if (info.Length() != 5) return fail(env, true, "step: expected 5 arguments");

  uint32_t kernelId = 0, count = 0;
  if (napi_get_value_uint32(raw, info[0], &kernelId) != napi_ok || kernelId >= kKernelCount) {
    return fail(env, false, "step: unknown kernel id");
  }
  if (napi_get_value_uint32(raw, info[4], &count) != napi_ok) return fail(env, true, "step: count must be a number");
  const KernelLayout& layout = kernelLayout(KernelId(kernelId));

  bool isArray = false;
  uint32_t arrayLength = 0;
  if (napi_is_array(raw, info[1], &isArray) != napi_ok || !isArray) return fail(env, true, "step: arrays must be an Array");
  napi_get_array_length(raw, info[1], &arrayLength);
  if (uint64_t(arrayLength) < uint64_t(count) * layout.slots) return fail(env, false, "step: arrays is too short");

  float* scalars = nullptr;
  size_t scalarsLength = 0;
  if (!readTypedArray<float, napi_float32_array>(raw, info[2], &scalars, &scalarsLength)) {
    return fail(env, true, "step: scalars must be a Float32Array");
  }
  if (uint64_t(scalarsLength) < uint64_t(count) * layout.scalars + layout.sharedScalars) {
    return fail(env, false, "step: scalars is too short");
  }

  uint32_t* flags = nullptr;
  size_t flagsLength = 0;
  if (!readTypedArray<uint32_t, napi_uint32_array>(raw, info[3], &flags, &flagsLength)) {
    return fail(env, true, "step: flags must be a Uint32Array");
  }
  if (flagsLength < count) return fail(env, false, "step: flags is too short");

  // Reused between calls: after the first steps of a model this never allocates.
  thread_local std::vector<TensorTask> tasks;
  tasks.resize(count);

  for (uint32_t t = 0; t < count; ++t) {
    TensorTask& task = tasks[t];
    task.flags = flags[t];
    task.scalars = scalars + size_t(t) * layout.scalars;
    const uint32_t required = layout.requiredSlots(task.flags);
    for (uint32_t k = 0; k < kMaxSlots; ++k) {
      task.slot[k] = nullptr;
      if (k >= layout.slots || !(required & (1u << k))) continue;
      const uint32_t index = t * layout.slots + k;
      napi_value element;
      Float32View view;
      if (napi_get_element(raw, info[1], index, &element) != napi_ok || !readFloat32Array(raw, element, &view)) {
        return fail(env, true, "step: arrays[" + std::to_string(index) + "] must be a Float32Array");
      }
      if (k == 0) {
        task.length = view.length;
      } else if (view.length != task.length) {
        return fail(env, false, "step: arrays[" + std::to_string(index) + "] has length " +
                                    std::to_string(view.length) + ", its parameter " + std::to_string(task.length));
      }
      task.slot[k] = view.data;
    }
  }

  const KernelFn kernel = kernelFor(KernelId(kernelId));
  for (uint32_t t = 0; t < count; ++t) {
    if (tasks[t].length > 0) kernel(tasks[t]);
  }
  return env.Undefined();
}

// reduce(reductionId, arrays, count): one number from the first `count` Float32Arrays of `arrays`
// (the gradients): a sum over the 16 float64 lanes, a maximum, or 1/0 for "any NaN or infinity".
Napi::Value Reduce(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  napi_env raw = env;
  if (info.Length() != 3) return fail(env, true, "reduce: expected 3 arguments");
  uint32_t op = 0, count = 0;
  if (napi_get_value_uint32(raw, info[0], &op) != napi_ok || op >= kReduceCount) {
    return fail(env, false, "reduce: unknown reduction");
  }
  if (napi_get_value_uint32(raw, info[2], &count) != napi_ok) return fail(env, true, "reduce: count must be a number");
  bool isArray = false;
  uint32_t arrayLength = 0;
  if (napi_is_array(raw, info[1], &isArray) != napi_ok || !isArray) return fail(env, true, "reduce: arrays must be an Array");
  napi_get_array_length(raw, info[1], &arrayLength);
  if (arrayLength < count) return fail(env, false, "reduce: arrays is too short");
  thread_local std::vector<Float32View> views;
  views.resize(count);
  for (uint32_t t = 0; t < count; ++t) {
    napi_value element;
    if (napi_get_element(raw, info[1], t, &element) != napi_ok || !readFloat32Array(raw, element, &views[t])) {
      return fail(env, true, "reduce: arrays[" + std::to_string(t) + "] must be a Float32Array");
    }
  }
  const Reductions& r = reductions();
  double result = 0;
  switch (ReduceId(op)) {
    case kSumSquares:
    case kSumAbs: {
      double lanes[16] = {};
      for (const Float32View& v : views) (op == kSumSquares ? r.sumSquares : r.sumAbs)(v.data, v.length, lanes);
      result = combineLanes(lanes);
      break;
    }
    case kMaxAbs: {
      float lanes[16] = {};
      for (const Float32View& v : views) r.maxAbs(v.data, v.length, lanes);
      result = combineMaxLanes(lanes);
      break;
    }
    case kNonFinite:
      for (const Float32View& v : views) {
        if (v.length > 0 && r.nonFinite(v.data, v.length)) {
          result = 1;
          break;
        }
      }
      break;
    case kReadPass:
      for (const Float32View& v : views) result += v.length > 0 ? r.readPass(v.data, v.length) : 0.0f;
      break;
    default:
      break;
  }
  return Napi::Number::New(env, result);
}

Napi::Value AvailableIsas(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Array names = Napi::Array::New(env);
  uint32_t n = 0;
  // Best first, so names[0] is what dispatch picks without a cap.
  for (uint32_t i = uint32_t(Isa::kCount); i-- > 0;) {
    if (availableIsas() & (1u << i)) names.Set(n++, Napi::String::New(env, isaName(Isa(i))));
  }
  return names;
}

Napi::Value SelectIsa(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() != 1 || !info[0].IsString()) return fail(env, true, "selectIsa: expected an ISA name");
  const std::string name = info[0].As<Napi::String>().Utf8Value();
  for (uint32_t i = 0; i < uint32_t(Isa::kCount); ++i) {
    if (name == isaName(Isa(i))) return Napi::Boolean::New(env, selectIsa(Isa(i)));
  }
  return Napi::Boolean::New(env, false);
}

Napi::Value CurrentIsa(const Napi::CallbackInfo& info) {
  return Napi::String::New(info.Env(), isaName(currentIsa()));
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("step", Napi::Function::New(env, Step, "step"));
  exports.Set("reduce", Napi::Function::New(env, Reduce, "reduce"));
  exports.Set("availableIsas", Napi::Function::New(env, AvailableIsas, "availableIsas"));
  exports.Set("selectIsa", Napi::Function::New(env, SelectIsa, "selectIsa"));
  exports.Set("currentIsa", Napi::Function::New(env, CurrentIsa, "currentIsa"));
  Napi::Object layouts = Napi::Object::New(env);
  for (uint32_t id = 0; id < kKernelCount; ++id) {
    const KernelLayout& layout = kernelLayout(KernelId(id));
    Napi::Object entry = Napi::Object::New(env);
    entry.Set("id", Napi::Number::New(env, id));
    entry.Set("slots", Napi::Number::New(env, layout.slots));
    entry.Set("scalars", Napi::Number::New(env, layout.scalars + layout.sharedScalars));
    layouts.Set(layout.name, entry);
  }
  exports.Set("layouts", layouts);
  return exports;
}

}  // namespace
}  // namespace simd_optim

static Napi::Object InitModule(Napi::Env env, Napi::Object exports) { return simd_optim::Init(env, exports); }

NODE_API_MODULE(simd_optim, InitModule)
