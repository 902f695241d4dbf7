#pragma once

// Operational visibility: latency histograms, the Prometheus text rendering
// of the server's counters, and the HTTP endpoint that serves them
// (/metrics, /healthz, /readyz) on a port of its own.

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "common/status.h"
#include "protocol/messages.h"

namespace kvtier::server {

struct ServerStats;

// Bucket upper bounds: request latency in microseconds, and MatchPrefix
// hit depth in blocks.
inline constexpr std::array<uint64_t, 14> kLatencyBoundsUs = {
    10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 25000, 50000, 100000, 1000000};
inline constexpr std::array<uint64_t, 14> kDepthBounds = {0,  1,   2,   4,   8,    16,   32,
                                                          64, 128, 256, 512, 1024, 2048, 4096};

// A fixed-bucket histogram of integer samples, lock-free (relaxed adds); a
// last bucket takes everything above the highest bound.
template <const std::array<uint64_t, 14>& Bounds>
class FixedHistogram {
 public:
  static constexpr const std::array<uint64_t, 14>& kBounds = Bounds;

  void Record(uint64_t value) {
    size_t bucket = 0;
    while (bucket < Bounds.size() && value > Bounds[bucket]) ++bucket;
    buckets_[bucket].fetch_add(1, std::memory_order_relaxed);
    count_.fetch_add(1, std::memory_order_relaxed);
    sum_.fetch_add(value, std::memory_order_relaxed);
  }
  uint64_t count() const { return count_.load(std::memory_order_relaxed); }
  uint64_t sum() const { return sum_.load(std::memory_order_relaxed); }
  // Samples at or below Bounds[i] (cumulative, as Prometheus wants).
  uint64_t CumulativeAt(size_t i) const {
    uint64_t total = 0;
    for (size_t b = 0; b <= i && b < buckets_.size(); ++b) {
      total += buckets_[b].load(std::memory_order_relaxed);
    }
    return total;
  }

 private:
  std::array<std::atomic<uint64_t>, Bounds.size() + 1> buckets_{};
  std::atomic<uint64_t> count_{0};
  std::atomic<uint64_t> sum_{0};
};

// Request latency, recorded in microseconds.
class LatencyHistogram : public FixedHistogram<kLatencyBoundsUs> {
 public:
  void Record(std::chrono::nanoseconds elapsed) {
    FixedHistogram::Record(static_cast<uint64_t>(std::max<int64_t>(
        0, std::chrono::duration_cast<std::chrono::microseconds>(elapsed).count())));
  }
};

// How many leading blocks MatchPrefix found.
using DepthHistogram = FixedHistogram<kDepthBounds>;

// A histogram's samples, as the Stats snapshot does not carry them.
struct NamespaceHistograms {
  std::string name;
  const DepthHistogram* match_depth = nullptr;
};

// The Prometheus text exposition (version 0.0.4) of a stats snapshot and
// the latency histograms in `server`. Names: kvtier_<counter> for server
// counters, kvtier_requests_total{op}, kvtier_bad_input_total{kind},
// kvtier_tier_<counter>{tier}, kvtier_namespace_<counter>{namespace},
// kvtier_request_seconds{op,phase="service"|"transfer"} (docs/deploy.md).
// `namespaces` adds kvtier_match_depth_blocks{namespace}.
std::string RenderPrometheus(const protocol::StatsResponse& stats, const ServerStats& server,
                             const std::vector<NamespaceHistograms>& namespaces = {});

// A small HTTP/1.1 server on its own thread: GET /metrics, /healthz (the
// process is alive: always 200) and /readyz (200 when `ready` says so, else
// 503). One request per connection, each bounded by a 2 s socket timeout, so
// a stuck scraper delays the next scrape, never the cache.
class MetricsServer {
 public:
  MetricsServer(std::function<std::string()> render, std::function<bool()> ready);
  ~MetricsServer();  // Stop()
  MetricsServer(const MetricsServer&) = delete;
  MetricsServer& operator=(const MetricsServer&) = delete;

  // Binds host:port (port 0 picks one) and starts serving. kIoError naming
  // the address when it cannot be bound.
  Status Start(const std::string& host, uint16_t port);
  uint16_t port() const { return port_; }
  void Stop();

 private:
  struct State;
  void Serve();

  std::function<std::string()> render_;
  std::function<bool()> ready_;
  std::unique_ptr<State> state_;
  std::thread thread_;
  uint16_t port_ = 0;
};

}  // namespace kvtier::server
