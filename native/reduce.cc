// reduce: one number from a list of Float32Arrays (the gradients' norm, the non-finite check),
// split over the pool. The reduction itself (reduceViews) makes no N-API call, so reduceAsync
// (native/async.cc) runs it on a libuv thread.
#include <limits>
#include <string>
#include <vector>

#include "binding.h"
#include "pool.h"

namespace simd_optim {
namespace binding {
namespace {

// What the parts of a reduction share: one result per chunk.
struct ReduceJob {
  ReduceId op;
  const Reductions* reductions;
  const Float32View* views;
  const Split* split;
  double* results;
};

// One chunk of a reduction: its block's lanes from zero, combined in the fixed tree.
void reduceChunk(const ReduceJob& job, size_t part) {
  const Chunk& chunk = job.split->chunks[part];
  const size_t length = chunk.end - chunk.begin;
  if (job.op == kDot) {  // task t is the pair of arrays 2t and 2t + 1
    double lanes[16] = {};
    job.reductions->dot(job.views[2 * chunk.task].data + chunk.begin, job.views[2 * chunk.task + 1].data + chunk.begin, length, lanes);
    job.results[part] = combineLanes(lanes);
    return;
  }
  const float* x = job.views[chunk.task].data + chunk.begin;
  switch (job.op) {
    case kSumSquares:
    case kSumAbs: {
      double lanes[16] = {};
      (job.op == kSumSquares ? job.reductions->sumSquares : job.reductions->sumAbs)(x, length, lanes);
      job.results[part] = combineLanes(lanes);
      break;
    }
    case kMaxAbs: {
      float lanes[16] = {};
      job.reductions->maxAbs(x, length, lanes);
      job.results[part] = combineMaxLanes(lanes);
      break;
    }
    case kNonFinite:
      job.results[part] = job.reductions->nonFinite(x, length) ? 1 : 0;
      break;
    default:
      job.results[part] = job.reductions->readPass(x, length);
      break;
  }
}

// One part of a reduction: each of its chunks (one result each, whatever part it fell in).
void reducePart(void* context, size_t part) {
  const ReduceJob& job = *static_cast<const ReduceJob*>(context);
  for (size_t c = job.split->parts[part]; c < job.split->parts[part + 1]; ++c) reduceChunk(job, c);
}

}  // namespace

// Reads reduce's arguments (reductionId, arrays, count, threads) into `args` and `views`; false
// when it has thrown (or the environment is going away).
bool readReduce(napi_env env, const char* name, napi_value* argv, ReduceArguments& args, std::vector<Float32View>& views) {
  const std::string where = name;
  uint32_t arrayLength = 0;
  Read read = readUint32(env, argv[0], &args.op);
  if (read == Read::kGone) return false;
  if (read == Read::kWrong || args.op >= kReduceCount) return fail(env, false, where + ": unknown reduction"), false;
  read = readUint32(env, argv[2], &args.count);
  if (read != Read::kOk) return read == Read::kWrong && (fail(env, true, where + ": count must be a number"), false);
  read = readUint32(env, argv[3], &args.threads);
  if (read == Read::kGone) return false;
  if (read == Read::kWrong || args.threads == 0) return fail(env, false, where + ": threads must be a whole number >= 1"), false;
  read = readArrayLength(env, argv[1], &arrayLength);
  if (read != Read::kOk) return read == Read::kWrong && (fail(env, true, where + ": arrays must be an Array"), false);
  const uint32_t count = args.count;
  if (arrayLength < count) return fail(env, false, where + ": arrays is too short"), false;
  views.resize(count);
  for (uint32_t t = 0; t < count; ++t) {
    Float32View view;  // a local: reading can run JavaScript that calls back in (see readStep)
    read = readElement(env, argv[1], t, &view);
    if (read == Read::kGone) return false;
    if (read == Read::kWrong) return fail(env, true, where + ": arrays[" + std::to_string(t) + "] must be a Float32Array"), false;
    if (views.size() != count) return fail(env, false, where + ": called again while reading its arrays"), false;
    views[t] = view;
  }
  if (args.op == kDot) {
    if (count % 2 != 0) return fail(env, false, where + ": a dot product takes its arrays in pairs"), false;
    for (uint32_t t = 0; t < count; t += 2) {
      if (views[t].length != views[t + 1].length) {
        return fail(env, false, where + ": arrays[" + std::to_string(t) + "] and arrays[" + std::to_string(t + 1) + "] differ in length"), false;
      }
    }
  }
  return true;
}

// One number from `views`, split over `threads` (split and results: scratch): a sum (per tensor,
// its block sums in order; then the tensors' sums in order), a maximum, or 1/0 for "any NaN or
// infinity". No N-API: stepAsync's sibling runs it on a libuv thread.
double reduceViews(const Reductions& reductions, ReduceId op, const std::vector<Float32View>& views, uint32_t threads,
                   Split& split, std::vector<double>& results) {
  const bool pairs = op == kDot;
  split.cut(uint32_t(pairs ? views.size() / 2 : views.size()), [&](uint32_t t) { return views[pairs ? 2 * t : t].length; });
  const std::vector<Chunk>& chunks = split.chunks;
  results.resize(chunks.size());
  ReduceJob job{op, &reductions, views.data(), &split, results.data()};
  runParts(threads, split.partCount(), reducePart, &job);
  // Combined in a fixed order, whatever ran where.
  double result = 0;
  switch (op) {
    case kSumSquares:
    case kSumAbs:
    case kDot: {
      double tensorSum = 0;
      for (size_t c = 0; c < chunks.size(); ++c) {
        tensorSum = tensorSum + results[c];
        if (c + 1 == chunks.size() || chunks[c + 1].task != chunks[c].task) {
          result = result + tensorSum;
          tensorSum = 0;
        }
      }
      break;
    }
    case kMaxAbs: {
      float lanes[2] = {0.0f, 0.0f};
      for (double r : results) {
        lanes[1] = float(r);
        lanes[0] = (lanes[0] != lanes[0] || lanes[1] != lanes[1]) ? lanes[0] + lanes[1] : (lanes[0] > lanes[1] ? lanes[0] : lanes[1]);
      }
      result = lanes[0];
      break;
    }
    case kNonFinite:
      for (double r : results) result = r != 0 ? 1 : result;
      break;
    default:
      for (double r : results) result += float(r);
      break;
  }
  // One NaN for every backend and level: the kernels' NaN may carry a sign or payload.
  if (result != result) result = std::numeric_limits<double>::quiet_NaN();
  return result;
}

// reduce(reductionId, arrays, count, threads): one number from the first `count` Float32Arrays of
// `arrays` (the gradients); see reduceViews.
napi_value Reduce(napi_env env, napi_callback_info info) {
  napi_value argv[4];
  Instance* instance = callArguments(env, info, argv, 4, "reduce");
  if (instance == nullptr) return nullptr;
  ReduceArguments args;
  if (!readReduce(env, "reduce", argv, args, instance->views)) return nullptr;
  const double result = reduceViews(instance->table->reductions, ReduceId(args.op), instance->views, args.threads, instance->split,
                                    instance->blockSums);
  napi_value number = nullptr;
  napi_create_double(env, result, &number);  // null (undefined) only if the environment is gone
  return number;
}

}  // namespace binding
}  // namespace simd_optim
