// The thread pool that splits one step over several cores. It knows nothing of N-API or of the
// kernels: a job is `parts` calls of a function, part 0, 1, ... in any order on any thread.
//
// One pool per process, shared by every module instance (the main thread and each Worker): its
// threads are started when first needed and stopped when the last instance that used it goes away
// (a Worker's environment being torn down releases its share; see native/binding.cc). Jobs from
// several threads may run at once: the caller of run() works on its own job's parts too, so a job
// always finishes even when every pool thread is busy with another one.
#pragma once

#include <cstddef>

namespace simd_optim {

using PartFn = void (*)(void* context, size_t part);

// Runs fn(context, p) for p in [0, parts) on the calling thread and up to `threads - 1` pool
// threads, and returns when all have returned. `threads` <= 1 or `parts` <= 1 runs inline.
void runParts(size_t threads, size_t parts, PartFn fn, void* context);

// A module instance starts (acquire) or stops (release) being a user of the pool; the last
// release stops its threads and joins them.
void acquirePool();
void releasePool();

// How many pool threads are running now (for the tests: none before the first parallel step,
// none after the last user is gone).
size_t poolThreads();

}  // namespace simd_optim
