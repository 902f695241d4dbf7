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

bool WorkerPool::TrySubmit(std::function<void()> job) {
  {
    std::lock_guard lock(mu_);
    if (stopping_ || jobs_.size() >= max_queued_jobs_) {
      ++rejected_;
      return false;
    }
    jobs_.push_back(std::move(job));
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
  return jobs_.size();
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
      wake_.wait(lock, [this] { return stopping_ || !jobs_.empty(); });
      if (jobs_.empty()) return;  // stopping, and everything queued has run
      job = std::move(jobs_.front());
      jobs_.pop_front();
    }
    job();
  }
}

}  // namespace kvtier
