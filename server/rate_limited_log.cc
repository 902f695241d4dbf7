#include "server/rate_limited_log.h"

namespace kvtier::server {

void RateLimitedLog::Warn(BadInput kind, std::string_view peer, std::string_view message) {
  Window& w = windows_[static_cast<size_t>(kind)];
  const int64_t now = std::chrono::duration_cast<std::chrono::seconds>(
                          std::chrono::steady_clock::now().time_since_epoch())
                          .count();
  int64_t second = w.second.load(std::memory_order_relaxed);
  if (second != now && w.second.compare_exchange_strong(second, now)) {
    w.lines.store(0, std::memory_order_relaxed);
  }
  if (w.lines.fetch_add(1, std::memory_order_relaxed) >= per_second_) {
    w.suppressed.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  const uint64_t suppressed = w.suppressed.exchange(0, std::memory_order_relaxed);
  if (suppressed > 0) {
    spdlog::warn("bad input [{}] from {}: {} ({} similar lines suppressed)", BadInputName(kind),
                 peer, message, suppressed);
  } else {
    spdlog::warn("bad input [{}] from {}: {}", BadInputName(kind), peer, message);
  }
}

}  // namespace kvtier::server
