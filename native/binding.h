// What the N-API binding's files share (binding.cc: step and the module; reduce.cc: reduce;
// plan.cc: step plans; async.cc: stepAsync and reduceAsync): one module instance's state,
// reading arguments, running a step. Nothing here is seen by the kernels.
#pragma once

#include <node_api.h>

#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "dispatch.h"
#include "kernels.h"

namespace simd_optim {
namespace binding {

struct Float32View {
  float* data = nullptr;
  size_t length = 0;
};

// A piece of one tensor: elements [begin, end) of tasks[task] (steps) or views[task] (reductions).
// A tensor is cut at every kBlock elements whatever the thread count, so a reduction adds the
// same block sums in the same order with 1 thread or 64.
struct Chunk {
  uint32_t task;
  size_t begin, end;
};

// What stepAsync's work on other threads shares with its environment: the environment waits,
// when it goes away (a Worker terminated), until no such work is running on its arrays, and work
// that had not started by then does not start. Held by the instance and by every work item.
struct AsyncGate {
  std::mutex mutex;
  std::condition_variable idle;
  int running = 0;
  bool closed = false;

  bool enter() {
    std::lock_guard<std::mutex> lock(mutex);
    if (closed) return false;
    ++running;
    return true;
  }
  void leave() {
    std::lock_guard<std::mutex> lock(mutex);
    if (--running == 0) idle.notify_all();
  }
  void close() {
    std::unique_lock<std::mutex> lock(mutex);
    closed = true;
    idle.wait(lock, [&] { return running == 0; });
  }
};

// The split of a step or a reduction over threads: its tensors cut into chunks of at most kBlock
// elements, in order, and the chunks grouped into parts of about kBlock elements (a part is what
// one thread takes at a time: handing out 10,000 chunks of 64 elements one by one cost more than
// computing them). part p is chunks[parts[p], parts[p + 1]).
struct Split {
  std::vector<Chunk> chunks;
  std::vector<size_t> parts;

  template <class LengthOf>
  void cut(uint32_t count, LengthOf lengthOf) {
    chunks.clear();
    parts.clear();
    size_t inPart = kBlock;  // elements in the part being filled: a full one to start a new part
    for (uint32_t t = 0; t < count; ++t) {
      const size_t length = lengthOf(t);
      for (size_t begin = 0; begin < length; begin += kBlock) {
        const size_t end = begin + kBlock < length ? begin + kBlock : length;
        if (inPart >= kBlock) parts.push_back(chunks.size()), inPart = 0;
        chunks.push_back(Chunk{t, begin, end});
        inPart += end - begin;
      }
    }
    parts.push_back(chunks.size());
  }
  size_t partCount() const { return parts.size() - 1; }
};

// One module instance's state, freed with its environment.
struct Instance {
  std::shared_ptr<AsyncGate> gate = std::make_shared<AsyncGate>();
  const KernelTable* table = nullptr;
  Isa isa = Isa::kScalar;
  // Reused between calls: after the first steps of a model a step never allocates.
  std::vector<TensorTask> tasks;
  std::vector<Float32View> views;
  Split split;
  std::vector<double> blockSums;
};

// What step and stepAsync read from their first six arguments.
struct StepArguments {
  uint32_t kernelId = 0, count = 0, threads = 1;
  float* scalars = nullptr;
  size_t scalarsLength = 0;
};

// The instance of the calling environment, or null if it is going away.
Instance* instanceOf(napi_env env);

// Throws unless throwing is impossible; returns the value a callback returns after a throw.
napi_value fail(napi_env env, bool typeError, const std::string& message);

// The outcome of reading an argument: ok, wrong (throw our error) or gone (return silently).
enum class Read { kOk, kWrong, kGone };
Read readStatus(napi_env env, napi_status status);

// Typed arguments: kWrong for a value of another type.
Read readFloat32Array(napi_env env, napi_value value, Float32View* view);
// Element `index` of the Array `array`, as a Float32Array.
Read readElement(napi_env env, napi_value array, uint32_t index, Float32View* view);
Read readFloat64Array(napi_env env, napi_value value, double** data, size_t* length);
Read readUint32Array(napi_env env, napi_value value, uint32_t** data, size_t* length);
Read readUint32(napi_env env, napi_value value, uint32_t* out);
Read readArrayLength(napi_env env, napi_value value, uint32_t* length);

// A callback's start: its `expected` arguments into argv and its instance; null when it has
// thrown (another number of arguments) or the environment is going away.
Instance* callArguments(napi_env env, napi_callback_info info, napi_value* argv, size_t expected, const char* name);

// Reads the arrays of `count` tensors from the Array `arrays` (layout.slots entries per tensor;
// only the slots flags[t] needs) into `tasks`, each checked to be a Float32Array of its param's
// length; the scalars are left null. False when it has thrown (or the environment is going away).
bool readTasks(napi_env env, const std::string& where, napi_value arrays, const uint32_t* flags, uint32_t count,
               const KernelLayout& layout, std::vector<TensorTask>& tasks);

// Reads step's arguments (kernelId, arrays, scalars, flags, count, threads) into `args` and
// `tasks`; false when it has thrown (or the environment is going away).
bool readStep(napi_env env, const char* name, napi_value* argv, StepArguments& args, std::vector<TensorTask>& tasks);

// Runs a step whose tasks are read: on this thread, or split over `threads` (split: scratch).
void runStep(KernelFn kernel, const std::vector<TensorTask>& tasks, uint32_t threads, Split& split);

// What reduce and reduceAsync read from their four arguments.
struct ReduceArguments {
  uint32_t op = 0, count = 0, threads = 1;
};

// Reads reduce's arguments (reductionId, arrays, count, threads) into `args` and `views`; false
// when it has thrown (or the environment is going away).
bool readReduce(napi_env env, const char* name, napi_value* argv, ReduceArguments& args, std::vector<Float32View>& views);

// One number from `views` (see native/binding.cc); no N-API, so any thread may run it.
double reduceViews(const Reductions& reductions, ReduceId op, const std::vector<Float32View>& views, uint32_t threads,
                   Split& split, std::vector<double>& results);

// reduce (native/reduce.cc) and reduceAsync (native/async.cc).
napi_value Reduce(napi_env env, napi_callback_info info);
napi_value ReduceAsync(napi_env env, napi_callback_info info);

// stepAsync (native/async.cc).
napi_value StepAsync(napi_env env, napi_callback_info info);

// scaleColumns and columnMoments: StandardScaler's passes (native/scaler-binding.cc).
napi_value ScaleColumns(napi_env env, napi_callback_info info);
napi_value ColumnMoments(napi_env env, napi_callback_info info);

// plan and stepPlanned (native/plan.cc).
napi_value MakePlan(napi_env env, napi_callback_info info);
napi_value StepPlanned(napi_env env, napi_callback_info info);

}  // namespace binding
}  // namespace simd_optim
