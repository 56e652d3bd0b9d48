// See pool.h. A job is an atomic counter of parts handed out and one of parts done; pool threads
// take parts from the oldest job that has any left. The pool grows to the largest number of
// threads any job has asked for (at most kMaxThreads - 1 pool threads) and shrinks only to zero.
//
// Waking a sleeping thread costs more than a part here: 16 us between back-to-back jobs, 30-70 us
// after a millisecond's pause, on a 2-core KVM guest (a futex wake and an inter-processor
// interrupt to a halted vCPU), where a 1M-element Adam step on two threads takes 200 us. So a
// pool thread that finds no work, and a caller waiting for its helpers' last parts, first spin for
// a while (kSpinMicroseconds by default, SIMD_OPTIM_SPIN_US to change it, 0 to never spin), as
// OpenMP runtimes do, and only then sleep. Steps in quick succession (a loop over many optimizers,
// or over the groups of one) then find their helpers awake; a thread spins at most that long after
// each job, and an idle pool costs nothing.
//
// Two things must never take the process down: a thread that cannot be created (a cgroup's
// pids.max, RLIMIT_NPROC, memory) just leaves the pool smaller, as the caller runs every part no
// helper takes; and the addon is built without C++ exceptions, so threads are created with
// pthread_create, whose failure is a return code (std::thread would throw, and terminate).
#include "pool.h"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <deque>
#include <mutex>
#include <cstdint>
#include <new>
#include <vector>

#ifdef _WIN32
#include <thread>
#else
#include <pthread.h>
#endif
#if defined(__x86_64__) || defined(__i386__) || defined(_M_X64)
#include <immintrin.h>
#endif

namespace simd_optim {
namespace {

constexpr size_t kMaxThreads = 256;
constexpr long kSpinMicroseconds = 50;
constexpr long kMaxSpinMicroseconds = 100000;

using Clock = std::chrono::steady_clock;

// What a spinning thread does between two looks at the atomic it waits on.
inline void relax() {
#if defined(__x86_64__) || defined(__i386__) || defined(_M_X64)
  _mm_pause();
#elif defined(__aarch64__)
  __asm__ __volatile__("yield");
#endif
}

// SIMD_OPTIM_SPIN_US, read once: a whole number of microseconds up to kMaxSpinMicroseconds;
// anything else leaves the default.
Clock::duration spinTime() {
  long microseconds = kSpinMicroseconds;
  if (const char* text = std::getenv("SIMD_OPTIM_SPIN_US")) {
    char* end = nullptr;
    const long value = std::strtol(text, &end, 10);
    if (end != text && *end == '\0' && value >= 0 && value <= kMaxSpinMicroseconds) microseconds = value;
  }
  return std::chrono::microseconds(microseconds);
}

// Spins until done() or the spin time has passed; returns done().
template <class Done>
bool spinUntil(Clock::duration limit, Done done) {
  if (done()) return true;
  if (limit == Clock::duration::zero()) return false;
  const Clock::time_point end = Clock::now() + limit;
  for (;;) {
    for (int i = 0; i < 64; ++i) {
      relax();
      if (done()) return true;
    }
    if (Clock::now() >= end) return done();
  }
}

struct Job {
  PartFn fn;
  void* context;
  size_t parts;
  size_t helpers;                  // pool threads that may join this job
  std::atomic<size_t> next{0};     // the next part to hand out
  std::atomic<size_t> done{0};     // parts finished
  size_t joined = 0;               // pool threads that joined (under the pool's mutex)
  // Pool threads inside work(job) now: raised under the pool's mutex when one joins, lowered by
  // it as its last touch of the job. The job lives on its caller's stack until this is 0.
  std::atomic<size_t> active{0};
};

#ifdef _WIN32
using Thread = std::thread;  // MSVC builds keep exceptions (untested)
#else
using Thread = pthread_t;
#endif

struct Pool {
  std::mutex mutex;
  std::condition_variable work;    // a job was queued, or a generation ended
  std::condition_variable finished;  // a part of some job finished
  std::deque<Job*> jobs;
  std::vector<Thread> threads;     // this generation's
  size_t users = 0;
  // Threads of generation g leave once the pool has moved past g (the last user released it).
  // A counter, never reset: with a flag set and cleared, a release/acquire/release in quick
  // succession could clear it before a thread of the first release had seen it, and that thread
  // would wait forever while its releaser joined it.
  uint64_t generation = 0;
  // Raised (under the mutex) whenever a job is queued or a generation ends: what a spinning
  // thread watches instead of the mutex.
  std::atomic<uint64_t> signals{0};
  const Clock::duration spin = spinTime();
};

// Never destroyed: a process may exit with a Worker's instance still holding the pool, and the
// destructor of a vector of joinable std::threads would terminate the process.
Pool& pool() {
  static Pool* instance = new Pool;
  return *instance;
}

// Runs parts of `job` until none is left to hand out.
void work(Job& job) {
  for (size_t part; (part = job.next.fetch_add(1, std::memory_order_relaxed)) < job.parts;) {
    job.fn(job.context, part);
    job.done.fetch_add(1, std::memory_order_acq_rel);
  }
}

struct ThreadStart {
  Pool* pool;
  uint64_t generation;
};

void poolThread(Pool& p, uint64_t generation) {
  std::unique_lock<std::mutex> lock(p.mutex);
  // Only a thread that has just worked spins: one woken for a job it could not join (every job
  // wakes them all) goes back to sleep at once, so that a 2-thread job on a 32-core machine does
  // not keep 29 idle threads spinning.
  bool justWorked = false;
  for (;;) {
    Job* job = nullptr;
    for (Job* candidate : p.jobs) {
      if (candidate->joined < candidate->helpers && candidate->next.load(std::memory_order_relaxed) < candidate->parts) {
        job = candidate;
        break;
      }
    }
    if (job == nullptr) {
      if (p.generation != generation) return;
      // Nothing queued under the lock: spin for a new signal, then sleep until one comes.
      const uint64_t seen = p.signals.load(std::memory_order_relaxed);
      bool signalled = false;
      if (justWorked) {
        lock.unlock();
        signalled = spinUntil(p.spin, [&] { return p.signals.load(std::memory_order_acquire) != seen; });
        lock.lock();
      }
      justWorked = false;
      if (!signalled && p.signals.load(std::memory_order_relaxed) == seen) p.work.wait(lock);
      continue;
    }
    ++job->joined;
    job->active.fetch_add(1, std::memory_order_relaxed);
    lock.unlock();
    work(*job);
    job->active.fetch_sub(1, std::memory_order_release);  // the job may be gone after this
    // Taken before notifying, so that a caller that saw this thread active under the lock is
    // waiting by now and hears it.
    lock.lock();
    p.finished.notify_all();
    justWorked = true;
  }
}

#ifndef _WIN32
void* threadMain(void* argument) {
  const ThreadStart start = *static_cast<ThreadStart*>(argument);
  delete static_cast<ThreadStart*>(argument);
  poolThread(*start.pool, start.generation);
  return nullptr;
}
#endif

// Starts one more thread of the current generation (under the pool's mutex); false if it cannot.
bool startThread(Pool& p) {
#ifdef _WIN32
  p.threads.emplace_back(poolThread, std::ref(p), p.generation);
  return true;
#else
  ThreadStart* start = new (std::nothrow) ThreadStart{&p, p.generation};
  if (start == nullptr) return false;
  pthread_t thread;
  if (pthread_create(&thread, nullptr, threadMain, start) != 0) {
    delete start;
    return false;
  }
  p.threads.push_back(thread);
  return true;
#endif
}

void join(Thread& thread) {
#ifdef _WIN32
  thread.join();
#else
  pthread_join(thread, nullptr);
#endif
}

}  // namespace

void runParts(size_t threads, size_t parts, PartFn fn, void* context) {
  if (threads > kMaxThreads) threads = kMaxThreads;
  if (threads <= 1 || parts <= 1) {
    for (size_t part = 0; part < parts; ++part) fn(context, part);
    return;
  }
  Pool& p = pool();
  Job job;
  job.fn = fn;
  job.context = context;
  job.parts = parts;
  job.helpers = threads - 1;
  {
    std::lock_guard<std::mutex> lock(p.mutex);
    // Start the threads this job may use (an instance acquired the pool before calling); if the
    // system refuses one, the job runs on those there are.
    while (p.threads.size() < threads - 1 && startThread(p)) {
    }
    p.jobs.push_back(&job);
    p.signals.fetch_add(1, std::memory_order_release);
  }
  p.work.notify_all();
  work(job);
  // Every part has been handed out; wait for those still running on pool threads (at most one
  // part each): spinning first, as they are most likely about to finish.
  const auto finished = [&] {
    return job.done.load(std::memory_order_acquire) == job.parts && job.active.load(std::memory_order_acquire) == 0;
  };
  spinUntil(p.spin, finished);
  std::unique_lock<std::mutex> lock(p.mutex);
  p.finished.wait(lock, finished);
  for (auto it = p.jobs.begin(); it != p.jobs.end(); ++it) {
    if (*it == &job) {
      p.jobs.erase(it);
      break;
    }
  }
}

void acquirePool() {
  Pool& p = pool();
  std::lock_guard<std::mutex> lock(p.mutex);
  ++p.users;
}

void releasePool() {
  Pool& p = pool();
  std::vector<Thread> leaving;
  {
    std::lock_guard<std::mutex> lock(p.mutex);
    if (p.users == 0 || --p.users > 0) return;
    ++p.generation;  // this generation's threads leave once they find no work
    p.signals.fetch_add(1, std::memory_order_release);
    leaving.swap(p.threads);
  }
  p.work.notify_all();
  for (Thread& t : leaving) join(t);
}

size_t poolThreads() {
  Pool& p = pool();
  std::lock_guard<std::mutex> lock(p.mutex);
  return p.threads.size();
}

}  // namespace simd_optim
