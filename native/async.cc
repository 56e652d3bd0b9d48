// stepAsync and reduceAsync: a step's update, or a reduction (clipGradNormAsync's norm), on a
// libuv thread, the promise settled back on the environment's thread. The arguments are read and
// checked as step() and reduce() read them, before the call returns; the work holds what it needs
// (a copy of the scalars, a reference that keeps the arrays alive) and passes the environment's
// gate, which an environment going away closes.
//
// A long job runs away from the CPU of the thread that queued it (the event loop's), when the
// thread may run elsewhere. uv_queue_work wakes a libuv thread, and on a 2-core KVM guest the
// kernel put it on the event loop's CPU, idle CPU or not: the event loop was preempted inside
// stepAsync for 3-5 ms every few steps, then waited behind the step whenever a timer woke it
// (a 16M-element Adam step: event-loop delay max 5 ms; moved away: 2-3 ms, the rest other
// processes). The thread's CPU mask is restored when the job is done.
#include "binding.h"

#ifdef __linux__
#include <sched.h>
#endif

namespace simd_optim {
namespace binding {
namespace {

// Jobs of fewer elements than this stay where the kernel put them: moving a thread costs about
// 10 us, and a job this short is over before the event loop would need its CPU back.
constexpr size_t kAwayElements = size_t(1) << 18;

// The CPU the calling thread is on, or -1 where that cannot be known (or the job is short).
int callerCpu(size_t elements) {
#ifdef __linux__
  return elements >= kAwayElements ? sched_getcpu() : -1;
#else
  (void)elements;
  return -1;
#endif
}

// For its lifetime, keeps the current thread off `cpu` (when it may run on another one).
class AwayFrom {
 public:
  explicit AwayFrom(int cpu) {
#ifdef __linux__
    if (cpu < 0 || cpu >= CPU_SETSIZE || sched_getaffinity(0, sizeof before_, &before_) != 0) return;
    if (!CPU_ISSET(cpu, &before_) || CPU_COUNT(&before_) < 2) return;
    cpu_set_t away = before_;
    CPU_CLR(cpu, &away);
    moved_ = sched_setaffinity(0, sizeof away, &away) == 0;
#else
    (void)cpu;
#endif
  }
  ~AwayFrom() {
#ifdef __linux__
    if (moved_) sched_setaffinity(0, sizeof before_, &before_);
#endif
  }
  AwayFrom(const AwayFrom&) = delete;
  AwayFrom& operator=(const AwayFrom&) = delete;

 private:
#ifdef __linux__
  cpu_set_t before_;
  bool moved_ = false;
#endif
};

size_t elementsOf(const std::vector<TensorTask>& tasks) {
  size_t elements = 0;
  for (const TensorTask& task : tasks) elements += task.length;
  return elements;
}

size_t elementsOf(const std::vector<Float32View>& views) {
  size_t elements = 0;
  for (const Float32View& view : views) elements += view.length;
  return elements;
}

// Rejects `deferred` with an Error saying `message`.
void reject(napi_env env, napi_deferred deferred, const char* message) {
  napi_value text = nullptr, error = nullptr;
  napi_create_string_utf8(env, message, NAPI_AUTO_LENGTH, &text);
  napi_create_error(env, nullptr, text, &error);
  napi_reject_deferred(env, deferred, error);
}

// One stepAsync call: its tasks, a copy of its scalars, what keeps its arrays alive, its promise.
struct AsyncStep {
  std::shared_ptr<AsyncGate> gate;
  napi_async_work work = nullptr;
  napi_deferred deferred = nullptr;
  napi_ref arrays = nullptr;  // the Array of every slot: the arrays stay alive until it settles
  KernelFn kernel = nullptr;
  bool (*nonFinite)(const float*, size_t) = nullptr;
  std::vector<TensorTask> tasks;
  std::vector<float> scalars;
  Split split;
  uint32_t threads = 1;
  bool checkFinite = false;
  bool applied = true;  // false: a gradient was not finite, nothing was written
  int callerCpu = -1;   // the event loop's CPU when it queued a long step
};

// On a libuv thread: no N-API here. The check and the step, as step() and allFinite() do them.
void executeAsyncStep(napi_env, void* data) {
  AsyncStep& job = *static_cast<AsyncStep*>(data);
  const AwayFrom away(job.callerCpu);
  if (!job.gate->enter()) {
    job.applied = false;  // the environment is gone: nothing to write for
    return;
  }
  if (job.checkFinite) {
    for (const TensorTask& task : job.tasks) {
      if (task.length > 0 && task.slot[1] != nullptr && job.nonFinite(task.slot[1], task.length)) {
        job.applied = false;
        break;
      }
    }
  }
  if (job.applied) runStep(job.kernel, job.tasks, job.threads, job.split);
  job.gate->leave();
}

// Back on the environment's thread: settle the promise, release the arrays.
void completeAsyncStep(napi_env env, napi_status status, void* data) {
  std::unique_ptr<AsyncStep> job(static_cast<AsyncStep*>(data));
  napi_value value = nullptr;
  if (status == napi_ok) {
    napi_get_boolean(env, job->applied, &value);
    napi_resolve_deferred(env, job->deferred, value);
  } else {
    reject(env, job->deferred, "stepAsync: the step was cancelled");
  }
  napi_delete_reference(env, job->arrays);
  napi_delete_async_work(env, job->work);
}

// One reduceAsync call: its views, what keeps their arrays alive, its promise, its result.
struct AsyncReduce {
  std::shared_ptr<AsyncGate> gate;
  napi_async_work work = nullptr;
  napi_deferred deferred = nullptr;
  napi_ref arrays = nullptr;
  const Reductions* reductions = nullptr;
  ReduceArguments args;
  std::vector<Float32View> views;
  Split split;
  std::vector<double> results;
  double result = 0;
  int callerCpu = -1;
};

void executeAsyncReduce(napi_env, void* data) {
  AsyncReduce& job = *static_cast<AsyncReduce*>(data);
  const AwayFrom away(job.callerCpu);
  if (!job.gate->enter()) return;  // the environment is gone: nobody to answer
  job.result = reduceViews(*job.reductions, ReduceId(job.args.op), job.views, job.args.threads, job.split, job.results);
  job.gate->leave();
}

void completeAsyncReduce(napi_env env, napi_status status, void* data) {
  std::unique_ptr<AsyncReduce> job(static_cast<AsyncReduce*>(data));
  if (status == napi_ok) {
    napi_value value = nullptr;
    napi_create_double(env, job->result, &value);
    napi_resolve_deferred(env, job->deferred, value);
  } else {
    reject(env, job->deferred, "reduceAsync: the reduction was cancelled");
  }
  napi_delete_reference(env, job->arrays);
  napi_delete_async_work(env, job->work);
}

// Queues `job` (an AsyncStep or AsyncReduce) whose arguments are read: references `arrays`, makes
// the promise. Returns the promise, or null when it has thrown; on success the job is owned by its
// async work until its complete callback.
template <class Job>
napi_value queue(napi_env env, std::unique_ptr<Job>& job, napi_value arrays, const char* name, napi_async_execute_callback execute,
                 napi_async_complete_callback complete) {
  napi_value promise = nullptr, resourceName = nullptr;
  if (napi_create_reference(env, arrays, 1, &job->arrays) != napi_ok ||
      napi_create_string_utf8(env, name, NAPI_AUTO_LENGTH, &resourceName) != napi_ok ||
      napi_create_async_work(env, nullptr, resourceName, execute, complete, job.get(), &job->work) != napi_ok ||
      napi_create_promise(env, &job->deferred, &promise) != napi_ok) {
    if (job->work != nullptr) napi_delete_async_work(env, job->work);
    if (job->arrays != nullptr) napi_delete_reference(env, job->arrays);
    return fail(env, false, std::string(name) + ": could not queue the work");
  }
  if (napi_queue_async_work(env, job->work) != napi_ok) {
    // The promise exists: it is settled (rejected) and returned, not left pending, and no throw
    // leaves it unobserved (an unhandled rejection would end the process).
    reject(env, job->deferred, "could not queue the work");
    napi_delete_async_work(env, job->work);
    napi_delete_reference(env, job->arrays);
    return promise;
  }
  job.release();
  return promise;
}

}  // namespace

// stepAsync(kernelId, arrays, scalars, flags, count, threads, checkFinite): step()'s arguments,
// read and checked now; the update (after the non-finite check of the gradients, when asked)
// runs on a libuv thread. Returns a promise of true (applied) or false (a gradient was NaN or
// infinite: nothing was written). The caller must leave the arrays alone until it settles.
napi_value StepAsync(napi_env env, napi_callback_info info) {
  napi_value argv[7];
  Instance* instance = callArguments(env, info, argv, 7, "stepAsync");
  if (instance == nullptr) return nullptr;
  bool checkFinite = false;
  const Read read = readStatus(env, napi_get_value_bool(env, argv[6], &checkFinite));
  if (read != Read::kOk) return read == Read::kWrong ? fail(env, true, "stepAsync: checkFinite must be a boolean") : nullptr;
  auto job = std::make_unique<AsyncStep>();
  StepArguments args;
  if (!readStep(env, "stepAsync", argv, args, job->tasks)) return nullptr;
  // The scalars are copied: the caller's Float32Array is reused by its next step.
  job->scalars.assign(args.scalars, args.scalars + args.scalarsLength);
  for (TensorTask& task : job->tasks) task.scalars = job->scalars.data() + (task.scalars - args.scalars);
  job->gate = instance->gate;
  job->kernel = instance->table->fn[args.kernelId];
  job->nonFinite = instance->table->reductions.nonFinite;
  job->threads = args.threads;
  job->checkFinite = checkFinite;
  job->callerCpu = callerCpu(elementsOf(job->tasks));
  return queue(env, job, argv[1], "simd-optim.stepAsync", executeAsyncStep, completeAsyncStep);
}

// reduceAsync(reductionId, arrays, count, threads): reduce()'s arguments, read and checked now; the
// reduction runs on a libuv thread. Returns a promise of its number. The caller must not write,
// transfer or resize the arrays until it settles.
napi_value ReduceAsync(napi_env env, napi_callback_info info) {
  napi_value argv[4];
  Instance* instance = callArguments(env, info, argv, 4, "reduceAsync");
  if (instance == nullptr) return nullptr;
  auto job = std::make_unique<AsyncReduce>();
  if (!readReduce(env, "reduceAsync", argv, job->args, job->views)) return nullptr;
  job->gate = instance->gate;
  job->reductions = &instance->table->reductions;
  job->callerCpu = callerCpu(elementsOf(job->views));
  return queue(env, job, argv[1], "simd-optim.reduceAsync", executeAsyncReduce, completeAsyncReduce);
}

}  // namespace binding
}  // namespace simd_optim
