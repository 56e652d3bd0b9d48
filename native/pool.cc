// See pool.h. A job is an atomic counter of parts handed out and one of parts done; pool threads
// take parts from the oldest job that has any left. The pool grows to the largest number of
// threads any job has asked for (at most kMaxThreads - 1 pool threads) and shrinks only to zero.
//
// Two things must never take the process down: a thread that cannot be created (a cgroup's
// pids.max, RLIMIT_NPROC, memory) just leaves the pool smaller, as the caller runs every part no
// helper takes; and the addon is built without C++ exceptions, so threads are created with
// pthread_create, whose failure is a return code (std::thread would throw, and terminate).
#include "pool.h"

#include <atomic>
#include <condition_variable>
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

namespace simd_optim {
namespace {

constexpr size_t kMaxThreads = 256;

struct Job {
  PartFn fn;
  void* context;
  size_t parts;
  size_t helpers;                  // pool threads that may join this job
  std::atomic<size_t> next{0};     // the next part to hand out
  std::atomic<size_t> done{0};     // parts finished
  size_t joined = 0;               // pool threads that joined (under the pool's mutex)
  size_t active = 0;               // pool threads inside work(job) now (under the pool's mutex):
                                   // the job lives on its caller's stack until this is 0
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
      p.work.wait(lock);
      continue;
    }
    ++job->joined;
    ++job->active;
    lock.unlock();
    work(*job);
    lock.lock();
    --job->active;
    p.finished.notify_all();
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
  }
  p.work.notify_all();
  work(job);
  std::unique_lock<std::mutex> lock(p.mutex);
  // Every part has been handed out; wait for those still running on pool threads.
  p.finished.wait(lock, [&] { return job.done.load(std::memory_order_acquire) == job.parts && job.active == 0; });
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
