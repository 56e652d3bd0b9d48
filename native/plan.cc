// A step plan: the arrays of a step read once and kept between steps, so that a step of thousands
// of small tensors costs one N-API call, not several per array (napi_get_element and
// napi_get_typedarray_info cost about 90 ns per array: 10,000 tensors of Adam spent 4 ms there).
//
// plan(kernelId, arrays, flags, count, blocks, scalars) reads and checks the arrays as step() does
// and returns an External holding each task's data pointers, length and flags, and the block of
// `scalars` it reads (tensors of one group at one step count share one). stepPlanned(plan,
// threads) then runs the kernel over those tasks with the scalars the caller wrote for this step
// (reading the scalars array again would cost a third of a 1-element step).
//
// What makes the kept pointers safe: the memory of an ArrayBuffer stays where it is until the
// buffer is detached or resized, and the caller (lib/optimizers/step-plan.ts) checks before every
// stepPlanned, through the intrinsic byteLength getters, that every buffer the plan touches (the
// scalars' included) still has the byte length it had when the plan was made (a detached buffer
// has 0), and that it holds those buffers alive as long as the plan. When one has changed it makes a new plan. The External
// is type-tagged: anything else given as a plan throws instead of being dereferenced.
#include "binding.h"

namespace simd_optim {
namespace binding {
namespace {

struct StepPlan {
  uint32_t kernelId = 0;
  std::vector<TensorTask> tasks;
  std::vector<uint32_t> blocks;  // the scalar block of each task
  uint32_t blockCount = 0;
};

constexpr napi_type_tag kPlanTag = {0x73696d642d6f7074ULL, 0x706c616e00000001ULL};

void deletePlan(napi_env, void* data, void*) { delete static_cast<StepPlan*>(data); }

}  // namespace

// plan(kernelId, arrays, flags, count, blocks, scalars)
//   arrays:  Array, slots-per-tensor entries for each tensor (null where the flags need no slot)
//   flags:   Uint32Array, one entry per tensor
//   blocks:  Uint32Array, one entry per tensor: which block of scalars it reads
//   scalars: Float32Array, the blocks' scalars, written by the caller before each stepPlanned
napi_value MakePlan(napi_env env, napi_callback_info info) {
  napi_value argv[6];
  if (callArguments(env, info, argv, 6, "plan") == nullptr) return nullptr;
  auto plan = std::make_unique<StepPlan>();
  uint32_t count = 0, arrayLength = 0;
  Read read = readUint32(env, argv[0], &plan->kernelId);
  if (read == Read::kGone) return nullptr;
  if (read == Read::kWrong || plan->kernelId >= kKernelCount) return fail(env, false, "plan: unknown kernel id");
  const KernelLayout& layout = kernelLayout(KernelId(plan->kernelId));
  read = readUint32(env, argv[3], &count);
  if (read != Read::kOk) return read == Read::kGone ? nullptr : fail(env, true, "plan: count must be a number");
  read = readArrayLength(env, argv[1], &arrayLength);
  if (read != Read::kOk) return read == Read::kGone ? nullptr : fail(env, true, "plan: arrays must be an Array");
  if (uint64_t(arrayLength) < uint64_t(count) * layout.slots) return fail(env, false, "plan: arrays is too short");
  uint32_t* flags = nullptr;
  uint32_t* blocks = nullptr;
  size_t flagsLength = 0, blocksLength = 0;
  read = readUint32Array(env, argv[2], &flags, &flagsLength);
  if (read != Read::kOk) return read == Read::kGone ? nullptr : fail(env, true, "plan: flags must be a Uint32Array");
  read = readUint32Array(env, argv[4], &blocks, &blocksLength);
  if (read != Read::kOk) return read == Read::kGone ? nullptr : fail(env, true, "plan: blocks must be a Uint32Array");
  if (flagsLength < count || blocksLength < count) return fail(env, false, "plan: flags or blocks is too short");
  // Copied before the arrays are read: reading an element can run JavaScript.
  std::vector<uint32_t> flagCopy(flags, flags + count);
  plan->blocks.assign(blocks, blocks + count);
  for (uint32_t block : plan->blocks) plan->blockCount = block + 1 > plan->blockCount ? block + 1 : plan->blockCount;
  if (!readTasks(env, "plan", argv[1], flagCopy.data(), count, layout, plan->tasks)) return nullptr;
  // Read after the arrays, whose reads can run JavaScript; nothing runs between this and its use.
  Float32View scalars;
  read = readFloat32Array(env, argv[5], &scalars);
  if (read != Read::kOk) return read == Read::kGone ? nullptr : fail(env, true, "plan: scalars must be a Float32Array");
  if (uint64_t(scalars.length) < uint64_t(plan->blockCount) * layout.scalars + layout.sharedScalars) {
    return fail(env, false, "plan: scalars is too short");
  }
  for (uint32_t t = 0; t < count; ++t) plan->tasks[t].scalars = scalars.data + size_t(plan->blocks[t]) * layout.scalars;
  napi_value external = nullptr;
  if (napi_create_external(env, plan.get(), deletePlan, nullptr, &external) != napi_ok) {
    return fail(env, false, "plan: could not create the plan");
  }
  plan.release();  // owned by the External from here: deletePlan frees it
  if (napi_type_tag_object(env, external, &kPlanTag) != napi_ok) return fail(env, false, "plan: could not tag the plan");
  return external;
}

// stepPlanned(plan, threads): one step over the plan's tasks, split over `threads`.
napi_value StepPlanned(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  Instance* instance = callArguments(env, info, argv, 2, "stepPlanned");
  if (instance == nullptr) return nullptr;
  bool isPlan = false;
  Read read = readStatus(env, napi_check_object_type_tag(env, argv[0], &kPlanTag, &isPlan));
  if (read == Read::kGone) return nullptr;
  if (read == Read::kWrong || !isPlan) return fail(env, true, "stepPlanned: plan must be a plan made by plan()");
  void* data = nullptr;
  read = readStatus(env, napi_get_value_external(env, argv[0], &data));
  if (read != Read::kOk) return read == Read::kGone ? nullptr : fail(env, true, "stepPlanned: plan must be a plan made by plan()");
  StepPlan& plan = *static_cast<StepPlan*>(data);
  uint32_t threads = 1;
  read = readUint32(env, argv[1], &threads);
  if (read == Read::kGone) return nullptr;
  if (read == Read::kWrong || threads == 0) return fail(env, false, "stepPlanned: threads must be a whole number >= 1");
  runStep(instance->table->fn[plan.kernelId], plan.tasks, threads, instance->split);
  return nullptr;
}

}  // namespace binding
}  // namespace simd_optim
