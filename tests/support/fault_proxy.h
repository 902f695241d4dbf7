#pragma once

// A loopback TCP proxy that injects HTTP faults, for the Blob client's fault
// tests: each new connection is, by a deterministic schedule, relayed to the
// upstream service, answered "503 Service Unavailable" (with Retry-After: 0
// and Connection: close) after the request has been read, or reset (RST)
// after the request headers arrive. Faults act per connection: clients that
// should see them per request disable connection reuse.

#include <atomic>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include "common/result.h"

namespace kvtier::testing {

// kCutResponse: relayed, but reset once cut_after_bytes of the response
// (headers included) have passed: a body cut off in the middle.
enum class ProxyFault { kNone, kServiceUnavailable, kReset, kCutResponse };

class FaultProxy {
 public:
  // `schedule(n)` picks the fault for the n-th accepted connection (from 0).
  FaultProxy(uint16_t upstream_port, std::function<ProxyFault(uint64_t)> schedule);
  ~FaultProxy();  // stops accepting and joins every relay

  Status Start();
  void set_cut_after_bytes(uint64_t bytes) { cut_after_bytes_ = bytes; }
  uint16_t port() const { return port_; }
  uint64_t injected_503() const { return injected_503_.load(); }
  uint64_t injected_resets() const { return injected_resets_.load(); }

 private:
  void AcceptLoop();
  void Serve(int client, uint64_t index);

  const uint16_t upstream_port_;
  const std::function<ProxyFault(uint64_t)> schedule_;
  int listen_fd_ = -1;
  uint16_t port_ = 0;
  std::atomic<bool> stopping_{false};
  std::thread acceptor_;
  std::mutex threads_mu_;
  std::vector<std::thread> threads_;
  std::atomic<uint64_t> injected_503_{0};
  std::atomic<uint64_t> injected_resets_{0};
  uint64_t cut_after_bytes_ = 1 << 20;
};

}  // namespace kvtier::testing
