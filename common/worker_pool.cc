#include "common/worker_pool.h"

#include <pthread.h>

namespace kvtier {

WorkerPool::WorkerPool(std::string name, uint32_t threads, uint32_t max_queued_jobs)
    : name_(std::move(name)), max_queued_jobs_(max_queued_jobs) {
  threads_.reserve(threads);
  for (uint32_t i = 0; i < threads; ++i) {
    threads_.emplace_back([this, i] {
      // Thread names show in top and gdb; Linux allows 15 characters.
      const std::string thread_name = (name_ + "-" + std::to_string(i)).substr(0, 15);
      pthread_setname_np(pthread_self(), thread_name.c_str());
      Run();
    });
  }
}

WorkerPool::~WorkerPool() { Shutdown(); }

bool WorkerPool::TrySubmit(std::function<void()> job, JobClass job_class) {
  {
    std::lock_guard lock(mu_);
    if (stopping_ || latency_jobs_.size() + bulk_jobs_.size() >= max_queued_jobs_) {
      ++rejected_;
      return false;
    }
    (job_class == JobClass::kBulk ? bulk_jobs_ : latency_jobs_).push_back(std::move(job));
  }
  wake_.notify_one();
  return true;
}

void WorkerPool::Shutdown() {
  {
    std::lock_guard lock(mu_);
    if (stopping_ && threads_.empty()) return;
    stopping_ = true;
  }
  wake_.notify_all();
  for (auto& thread : threads_) {
    if (thread.joinable()) thread.join();
  }
  threads_.clear();
}

uint64_t WorkerPool::queued() const {
  std::lock_guard lock(mu_);
  return latency_jobs_.size() + bulk_jobs_.size();
}

uint64_t WorkerPool::rejected() const {
  std::lock_guard lock(mu_);
  return rejected_;
}

void WorkerPool::Run() {
  for (;;) {
    std::function<void()> job;
    {
      std::unique_lock lock(mu_);
      wake_.wait(lock,
                 [this] { return stopping_ || !latency_jobs_.empty() || !bulk_jobs_.empty(); });
      if (latency_jobs_.empty() && bulk_jobs_.empty()) return;  // stopping, all run
      const bool take_bulk =
          !bulk_jobs_.empty() && (latency_jobs_.empty() || latency_run_ + 1 >= kBulkShare);
      auto& queue = take_bulk ? bulk_jobs_ : latency_jobs_;
      latency_run_ = take_bulk || bulk_jobs_.empty() ? 0 : latency_run_ + 1;
      job = std::move(queue.front());
      queue.pop_front();
    }
    job();
  }
}

}  // namespace kvtier
