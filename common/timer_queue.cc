#include "common/timer_queue.h"

namespace kvtier {

TimerQueue::TimerQueue() : thread_([this] { Loop(); }) {}

TimerQueue::~TimerQueue() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

void TimerQueue::Schedule(Clock::time_point deadline, std::function<void()> callback) {
  bool earliest = false;
  {
    std::lock_guard lock(mu_);
    earliest = due_.empty() || deadline < due_.begin()->first;
    due_.emplace(deadline, std::move(callback));
  }
  if (earliest) cv_.notify_one();
}

void TimerQueue::Loop() {
  std::unique_lock lock(mu_);
  while (!stopping_) {
    if (due_.empty()) {
      cv_.wait(lock);
      continue;
    }
    const Clock::time_point next = due_.begin()->first;  // a copy: Schedule may insert
    if (Clock::now() < next) {
      cv_.wait_until(lock, next);
      continue;
    }
    std::function<void()> callback = std::move(due_.begin()->second);
    due_.erase(due_.begin());
    lock.unlock();
    callback();
    lock.lock();
  }
}

}  // namespace kvtier
