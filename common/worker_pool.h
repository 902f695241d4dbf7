#pragma once

// A fixed set of threads running jobs from a bounded queue: where blocking
// work (disk, Blob) runs so network threads never wait on it.
//
// Two classes of jobs, each FIFO: latency jobs (KV reads an engine waits on)
// run before bulk jobs (dataset fan-out, large transfers), except that when
// both are waiting every kBulkShare-th job is a bulk one, so bulk work slows
// under load but never stops. The bound counts both classes.
//
// TrySubmit never blocks: over the bound, or after Shutdown, it refuses the
// job and the caller answers with a retryable error. Shutdown runs the jobs
// already queued, then joins the threads. Thread-safe.

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace kvtier {

enum class JobClass : uint8_t { kLatency, kBulk };

class WorkerPool {
 public:
  // One job in this many is a bulk one while both classes wait.
  static constexpr uint32_t kBulkShare = 8;

  WorkerPool(std::string name, uint32_t threads, uint32_t max_queued_jobs);
  ~WorkerPool();  // Shutdown()
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  // Queues `job`; false (and `job` is dropped unrun) when the queue already
  // holds max_queued_jobs or the pool is shut down.
  bool TrySubmit(std::function<void()> job, JobClass job_class = JobClass::kLatency);

  // Idempotent. Runs what is queued, then joins every thread.
  void Shutdown();

  uint32_t threads() const { return static_cast<uint32_t>(threads_.size()); }
  uint64_t queued() const;
  uint64_t rejected() const;

 private:
  void Run();

  const std::string name_;
  const uint32_t max_queued_jobs_;
  mutable std::mutex mu_;
  std::condition_variable wake_;
  std::deque<std::function<void()>> latency_jobs_;
  std::deque<std::function<void()>> bulk_jobs_;
  uint32_t latency_run_ = 0;  // latency jobs taken in a row while bulk ones waited
  bool stopping_ = false;
  uint64_t rejected_ = 0;
  std::vector<std::thread> threads_;
};

}  // namespace kvtier
