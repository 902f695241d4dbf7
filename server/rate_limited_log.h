#pragma once

// Warnings about bad input are rate limited per kind: a client spraying
// garbage must not turn the log into a denial of service. At most
// `per_second` lines per kind each second; the next line allowed after a
// burst says how many were suppressed.

#include <spdlog/spdlog.h>

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <string_view>

#include "server/server_stats.h"

namespace kvtier::server {

class RateLimitedLog {
 public:
  explicit RateLimitedLog(uint32_t per_second = 5) : per_second_(per_second) {}

  // Logs at warn level if this kind is under its rate; thread-safe.
  void Warn(BadInput kind, std::string_view peer, std::string_view message);

 private:
  struct Window {
    std::atomic<int64_t> second{0};
    std::atomic<uint32_t> lines{0};
    std::atomic<uint64_t> suppressed{0};
  };
  const uint32_t per_second_;
  std::array<Window, static_cast<size_t>(BadInput::kCount)> windows_;
};

}  // namespace kvtier::server
