// N-API binding. One call, step(), runs one optimizer step over all of an optimizer's tensors:
// it reads every typed array first, checks each is a Float32Array of its parameter's length, and
// only then runs a kernel, so a bad argument throws before any array has been written.
//
// The TypeScript side has validated a snapshot of the user's arguments already and produced the
// messages users see; the checks here are what keeps a bug there from becoming an out-of-bounds
// write here.
//
// Two rules keep a server that recycles Workers alive:
// - Every module instance (the main thread, each Worker) has its own state, N-API instance data:
//   the kernel table it selected and its scratch vectors. Nothing here is process-wide but the
//   immutable kernel tables.
// - When an N-API call fails because JavaScript cannot run (a Worker being terminated mid-step, or
//   an exception already pending), the binding returns at once without throwing: a throw is
//   impossible then, and node-addon-api would abort the whole process trying
//   (NODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS in binding.gyp covers its own throw paths).
#include <napi.h>

#include <string>
#include <vector>

#include "dispatch.h"
#include "kernels.h"
#include "binding.h"
#include "pool.h"

namespace simd_optim {
namespace binding {

// What the parts of a parallel step share.
struct StepJob {
  KernelFn kernel;
  const TensorTask* tasks;
  const Split* split;
};

// One part of a step: the kernel on each of its chunks, elements [begin, end) of one tensor. Every
// kernel is elementwise, so a piece of a tensor is updated exactly as it is within the whole.
void stepPart(void* context, size_t part) {
  const StepJob& job = *static_cast<const StepJob*>(context);
  for (size_t c = job.split->parts[part]; c < job.split->parts[part + 1]; ++c) {
    const Chunk& chunk = job.split->chunks[c];
    TensorTask piece = job.tasks[chunk.task];
    for (size_t k = 0; k < kMaxSlots; ++k) {
      if (piece.slot[k] != nullptr) piece.slot[k] += chunk.begin;
    }
    piece.length = chunk.end - chunk.begin;
    job.kernel(piece);
  }
}

Instance* instanceOf(napi_env env) {
  void* data = nullptr;
  if (napi_get_instance_data(env, &data) != napi_ok) return nullptr;
  return static_cast<Instance*>(data);
}

// True when a failed call failed because JavaScript cannot run now (the environment is being
// torn down) or an exception is already pending: then nothing more may be thrown.
bool cannotThrow(napi_env env, napi_status status) {
  if (status == napi_pending_exception || status == napi_cannot_run_js) return true;
  bool pending = false;
  return napi_is_exception_pending(env, &pending) != napi_ok || pending;
}

// Throws unless throwing is impossible; returns the value a callback returns after a throw.
napi_value fail(napi_env env, bool typeError, const std::string& message) {
  if (!cannotThrow(env, napi_ok)) {
    // A failed throw (the environment went away in between) leaves nothing to do.
    if (typeError) {
      napi_throw_type_error(env, nullptr, message.c_str());
    } else {
      napi_throw_range_error(env, nullptr, message.c_str());
    }
  }
  return nullptr;
}

Read readStatus(napi_env env, napi_status status) {
  if (status == napi_ok) return Read::kOk;
  return cannotThrow(env, status) ? Read::kGone : Read::kWrong;
}

// Only what the kernel needs: type, length and data pointer (which already includes the view's
// byteOffset). Asking for the ArrayBuffer too would create a handle per array per step.
template <class T, napi_typedarray_type kType>
Read readTypedArray(napi_env env, napi_value value, T** data, size_t* length) {
  napi_typedarray_type type;
  void* raw = nullptr;
  const Read read = readStatus(env, napi_get_typedarray_info(env, value, &type, length, &raw, nullptr, nullptr));
  if (read != Read::kOk) return read;
  *data = static_cast<T*>(raw);
  return type == kType ? Read::kOk : Read::kWrong;
}

Read readFloat32Array(napi_env env, napi_value value, Float32View* view) {
  return readTypedArray<float, napi_float32_array>(env, value, &view->data, &view->length);
}

Read readFloat64Array(napi_env env, napi_value value, double** data, size_t* length) {
  return readTypedArray<double, napi_float64_array>(env, value, data, length);
}

Read readUint32Array(napi_env env, napi_value value, uint32_t** data, size_t* length) {
  return readTypedArray<uint32_t, napi_uint32_array>(env, value, data, length);
}

// Reads element `index` of `array` as a Float32Array.
Read readElement(napi_env env, napi_value array, uint32_t index, Float32View* view) {
  napi_value element;
  const Read read = readStatus(env, napi_get_element(env, array, index, &element));
  return read == Read::kOk ? readFloat32Array(env, element, view) : read;
}

// Reads a uint32 argument; kWrong for anything else.
Read readUint32(napi_env env, napi_value value, uint32_t* out) {
  return readStatus(env, napi_get_value_uint32(env, value, out));
}

// Reads the length of a JavaScript Array; kWrong for anything else.
Read readArrayLength(napi_env env, napi_value value, uint32_t* length) {
  bool isArray = false;
  const Read read = readStatus(env, napi_is_array(env, value, &isArray));
  if (read != Read::kOk) return read;
  if (!isArray) return Read::kWrong;
  return readStatus(env, napi_get_array_length(env, value, length));
}

Instance* callArguments(napi_env env, napi_callback_info info, napi_value* argv, size_t expected, const char* name) {
  size_t argc = expected;
  if (napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr) != napi_ok) return nullptr;
  Instance* instance = instanceOf(env);
  if (instance == nullptr) return nullptr;
  if (argc != expected) {
    fail(env, true, std::string(name) + ": expected " + std::to_string(expected) + " arguments");
    return nullptr;
  }
  return instance;
}

// Reads the arrays of `count` tensors from the Array `arrays` (layout.slots entries per tensor;
// only the slots flags[t] needs) into `tasks`, each checked to be a Float32Array of its param's
// length; the scalars are left null. False when it has thrown (or the environment is going away).
bool readTasks(napi_env env, const std::string& where, napi_value arrays, const uint32_t* flags, uint32_t count,
               const KernelLayout& layout, std::vector<TensorTask>& tasks) {
  // Each task is built in a local and stored after its reads: reading an element can run
  // JavaScript (an accessor on the Array), which could call back in and resize `tasks`.
  tasks.resize(count);
  for (uint32_t t = 0; t < count; ++t) {
    TensorTask task{};
    task.flags = flags[t];
    task.scalars = nullptr;
    task.length = 0;
    const uint32_t required = layout.requiredSlots(task.flags);
    for (uint32_t k = 0; k < kMaxSlots; ++k) {
      task.slot[k] = nullptr;
      if (k >= layout.slots || !(required & (1u << k))) continue;
      const uint32_t index = t * layout.slots + k;
      Float32View view;
      const Read read = readElement(env, arrays, index, &view);
      if (read == Read::kGone) return false;
      if (read == Read::kWrong) return fail(env, true, where + ": arrays[" + std::to_string(index) + "] must be a Float32Array"), false;
      if (k == 0) {
        task.length = view.length;
      } else if (view.length != task.length) {
        return fail(env, false, where + ": arrays[" + std::to_string(index) + "] has length " + std::to_string(view.length) +
                                    ", its parameter " + std::to_string(task.length)), false;
      }
      task.slot[k] = view.data;
    }
    if (tasks.size() != count) return fail(env, false, where + ": called again while reading its arrays"), false;
    tasks[t] = task;
  }
  return true;
}

// Reads step's arguments (kernelId, arrays, scalars, flags, count, threads) into `args` and
// `tasks`; false when it has thrown (or the environment is going away).
bool readStep(napi_env env, const char* name, napi_value* argv, StepArguments& args, std::vector<TensorTask>& tasks) {
  const std::string where = name;
  Read read = readUint32(env, argv[5], &args.threads);
  if (read == Read::kGone) return false;
  if (read == Read::kWrong || args.threads == 0) return fail(env, false, where + ": threads must be a whole number >= 1"), false;
  read = readUint32(env, argv[0], &args.kernelId);
  if (read == Read::kGone) return false;
  if (read == Read::kWrong || args.kernelId >= kKernelCount) return fail(env, false, where + ": unknown kernel id"), false;
  read = readUint32(env, argv[4], &args.count);
  if (read != Read::kOk) return read == Read::kWrong && (fail(env, true, where + ": count must be a number"), false);
  const uint32_t count = args.count;
  const KernelLayout& layout = kernelLayout(KernelId(args.kernelId));

  uint32_t arrayLength = 0;
  read = readArrayLength(env, argv[1], &arrayLength);
  if (read != Read::kOk) return read == Read::kWrong && (fail(env, true, where + ": arrays must be an Array"), false);
  if (uint64_t(arrayLength) < uint64_t(count) * layout.slots) return fail(env, false, where + ": arrays is too short"), false;

  read = readTypedArray<float, napi_float32_array>(env, argv[2], &args.scalars, &args.scalarsLength);
  if (read != Read::kOk) return read == Read::kWrong && (fail(env, true, where + ": scalars must be a Float32Array"), false);
  if (uint64_t(args.scalarsLength) < uint64_t(count) * layout.scalars + layout.sharedScalars) {
    return fail(env, false, where + ": scalars is too short"), false;
  }

  uint32_t* flags = nullptr;
  size_t flagsLength = 0;
  read = readTypedArray<uint32_t, napi_uint32_array>(env, argv[3], &flags, &flagsLength);
  if (read != Read::kOk) return read == Read::kWrong && (fail(env, true, where + ": flags must be a Uint32Array"), false);
  if (flagsLength < count) return fail(env, false, where + ": flags is too short"), false;

  if (!readTasks(env, where, argv[1], flags, count, layout, tasks)) return false;
  for (uint32_t t = 0; t < count; ++t) tasks[t].scalars = args.scalars + size_t(t) * layout.scalars;
  return true;
}

// Runs a step whose tasks are read: on this thread, or split over `threads` (split: scratch).
void runStep(KernelFn kernel, const std::vector<TensorTask>& tasks, uint32_t threads, Split& split) {
  if (threads <= 1) {
    for (const TensorTask& task : tasks) {
      if (task.length > 0) kernel(task);
    }
    return;
  }
  split.cut(uint32_t(tasks.size()), [&](uint32_t t) { return tasks[t].length; });
  StepJob job{kernel, tasks.data(), &split};
  runParts(threads, split.partCount(), stepPart, &job);
}

// step(kernelId, arrays, scalars, flags, count, threads)
//   arrays:  Array, slots-per-tensor entries for each tensor (null where the flags need no slot)
//   scalars: Float32Array, scalars-per-tensor entries for each tensor
//   flags:   Uint32Array, one entry per tensor
//   threads: how many threads may share the work (1: this one alone)
napi_value Step(napi_env env, napi_callback_info info) {
  napi_value argv[6];
  Instance* instance = callArguments(env, info, argv, 6, "step");
  if (instance == nullptr) return nullptr;
  StepArguments args;
  if (!readStep(env, "step", argv, args, instance->tasks)) return nullptr;
  runStep(instance->table->fn[args.kernelId], instance->tasks, args.threads, instance->split);
  return nullptr;
}

// The levels this CPU runs, best first, so names[0] is what an uncapped instance uses.
Napi::Value AvailableIsas(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Array names = Napi::Array::New(env);
  uint32_t n = 0;
  for (uint32_t i = uint32_t(Isa::kCount); i-- > 0;) {
    if (availableIsas() & (1u << i)) names.Set(n++, Napi::String::New(env, isaName(Isa(i))));
  }
  return names;
}

// selectIsa(name): switches this module instance (this thread) to `name`; false if unavailable.
Napi::Value SelectIsa(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Instance* instance = instanceOf(env);
  if (instance == nullptr) return env.Undefined();
  if (info.Length() != 1 || !info[0].IsString()) {
    fail(env, true, "selectIsa: expected an ISA name");
    return env.Undefined();
  }
  const std::string name = info[0].As<Napi::String>().Utf8Value();
  for (uint32_t i = 0; i < uint32_t(Isa::kCount); ++i) {
    const KernelTable* table = kernelTable(Isa(i));
    if (table != nullptr && name == isaName(Isa(i))) {
      instance->table = table;
      instance->isa = Isa(i);
      return Napi::Boolean::New(env, true);
    }
  }
  return Napi::Boolean::New(env, false);
}

// The level this instance's kernels were compiled for, as the kernel library itself says.
Napi::Value CurrentIsa(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Instance* instance = instanceOf(env);
  if (instance == nullptr) return env.Undefined();
  return Napi::String::New(env, instance->table->compiledLevel());
}

// The environment (the main thread's, or a Worker's) is going away: its share of the pool with it.
void deleteInstance(napi_env, void* data, void*) {
  Instance* instance = static_cast<Instance*>(data);
  instance->gate->close();  // no stepAsync work writes into this environment's arrays after this
  delete instance;
  releasePool();
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  Instance* instance = new Instance;
  acquirePool();
  instance->isa = bestIsa();
  instance->table = kernelTable(instance->isa);
  if (napi_set_instance_data(env, instance, deleteInstance, nullptr) != napi_ok) {
    delete instance;
    releasePool();
    NAPI_THROW(Napi::Error::New(env, "simd-optim: could not attach the module's instance data"), exports);
  }
  napi_value step, reduce;
  napi_create_function(env, "step", NAPI_AUTO_LENGTH, Step, nullptr, &step);
  napi_create_function(env, "reduce", NAPI_AUTO_LENGTH, Reduce, nullptr, &reduce);
  napi_value stepAsync;
  napi_create_function(env, "stepAsync", NAPI_AUTO_LENGTH, StepAsync, nullptr, &stepAsync);
  exports.Set("stepAsync", Napi::Value(env, stepAsync));
  napi_value reduceAsync;
  napi_create_function(env, "reduceAsync", NAPI_AUTO_LENGTH, ReduceAsync, nullptr, &reduceAsync);
  exports.Set("reduceAsync", Napi::Value(env, reduceAsync));
  napi_value plan, stepPlanned;
  napi_create_function(env, "plan", NAPI_AUTO_LENGTH, MakePlan, nullptr, &plan);
  napi_create_function(env, "stepPlanned", NAPI_AUTO_LENGTH, StepPlanned, nullptr, &stepPlanned);
  exports.Set("plan", Napi::Value(env, plan));
  exports.Set("stepPlanned", Napi::Value(env, stepPlanned));
  napi_value scaleColumns, columnMoments;
  napi_create_function(env, "scaleColumns", NAPI_AUTO_LENGTH, ScaleColumns, nullptr, &scaleColumns);
  napi_create_function(env, "columnMoments", NAPI_AUTO_LENGTH, ColumnMoments, nullptr, &columnMoments);
  exports.Set("scaleColumns", Napi::Value(env, scaleColumns));
  exports.Set("columnMoments", Napi::Value(env, columnMoments));
  exports.Set("step", Napi::Value(env, step));
  exports.Set("reduce", Napi::Value(env, reduce));
  // Where a typed array's data starts modulo 4 KiB: lib/optimizers/state-placement.ts places new
  // state away from the step's other arrays (4K aliasing). Reads no element.
  exports.Set("addressBits", Napi::Function::New(env, [](const Napi::CallbackInfo& info) -> Napi::Value {
    Napi::Env env = info.Env();
    if (info.Length() != 1 || !info[0].IsTypedArray()) {
      NAPI_THROW(Napi::TypeError::New(env, "addressBits: expected one typed array"), Napi::Value());
    }
    void* data = nullptr;
    napi_get_typedarray_info(env, info[0], nullptr, nullptr, &data, nullptr, nullptr);
    return Napi::Number::New(env, static_cast<double>(reinterpret_cast<uintptr_t>(data) & 4095u));
  }, "addressBits"));
  exports.Set("availableIsas", Napi::Function::New(env, AvailableIsas, "availableIsas"));
  exports.Set("selectIsa", Napi::Function::New(env, SelectIsa, "selectIsa"));
  exports.Set("currentIsa", Napi::Function::New(env, CurrentIsa, "currentIsa"));
  exports.Set("poolThreads", Napi::Function::New(env, [](const Napi::CallbackInfo& info) -> Napi::Value {
    return Napi::Number::New(info.Env(), double(poolThreads()));
  }, "poolThreads"));
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

}  // namespace binding
}  // namespace simd_optim

static Napi::Object InitModule(Napi::Env env, Napi::Object exports) { return simd_optim::binding::Init(env, exports); }

NODE_API_MODULE(simd_optim, InitModule)
