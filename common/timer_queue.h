#pragma once

// Runs callbacks at their deadlines on one thread of its own: for work that
// must be answered by a time even when what it waits for is late (prefix
// reads with a deadline). Callbacks must be short and must not block.
//
// Thread-safe. The destructor drops callbacks not yet due.

#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <thread>

namespace kvtier {

class TimerQueue {
 public:
  using Clock = std::chrono::steady_clock;

  TimerQueue();
  ~TimerQueue();
  TimerQueue(const TimerQueue&) = delete;
  TimerQueue& operator=(const TimerQueue&) = delete;

  // Calls `callback` at `deadline` (at once if it has passed).
  void Schedule(Clock::time_point deadline, std::function<void()> callback);

 private:
  void Loop();

  std::mutex mu_;
  std::condition_variable cv_;
  std::multimap<Clock::time_point, std::function<void()>> due_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace kvtier
