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

#include "common/status.h"
#include "protocol/messages.h"

namespace kvtier::server {

struct ServerStats;

// A fixed-bucket latency histogram, lock-free (one relaxed add per sample).
class LatencyHistogram {
 public:
  // Upper bounds in microseconds; a last bucket takes everything above.
  static constexpr std::array<uint64_t, 14> kBoundsUs = {
      10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 25000, 50000, 100000, 1000000};

  void Record(std::chrono::nanoseconds elapsed);
  uint64_t count() const { return count_.load(std::memory_order_relaxed); }
  // Samples at or below kBoundsUs[i] (cumulative, as Prometheus wants).
  uint64_t CumulativeAt(size_t i) const;
  uint64_t sum_us() const { return sum_us_.load(std::memory_order_relaxed); }

 private:
  std::array<std::atomic<uint64_t>, kBoundsUs.size() + 1> buckets_{};
  std::atomic<uint64_t> count_{0};
  std::atomic<uint64_t> sum_us_{0};
};

// The Prometheus text exposition (version 0.0.4) of a stats snapshot and
// the latency histograms in `server`. Names: kvtier_<counter> for server
// counters, kvtier_requests_total{op}, kvtier_bad_input_total{kind},
// kvtier_tier_<counter>{tier}, kvtier_namespace_<counter>{namespace},
// kvtier_request_seconds{op,phase="service"|"transfer"} (docs/deploy.md).
std::string RenderPrometheus(const protocol::StatsResponse& stats, const ServerStats& server);

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
