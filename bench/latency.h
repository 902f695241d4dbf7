#pragma once

// Per-operation latency and volume, merged across workers. Percentiles come
// from the sorted samples (exact; runs are bounded in ops).

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

namespace kvtier::bench {

struct OpStats {
  std::vector<uint64_t> latencies_ns;
  uint64_t ops = 0;
  uint64_t keys = 0;
  uint64_t hits = 0;
  uint64_t bytes = 0;
  uint64_t errors = 0;
  uint64_t verify_failures = 0;

  void Merge(const OpStats& other) {
    latencies_ns.insert(latencies_ns.end(), other.latencies_ns.begin(), other.latencies_ns.end());
    ops += other.ops;
    keys += other.keys;
    hits += other.hits;
    bytes += other.bytes;
    errors += other.errors;
    verify_failures += other.verify_failures;
  }

  // The q-quantile in microseconds (q in [0, 1]); sorts in place.
  double PercentileUs(double q) {
    if (latencies_ns.empty()) return 0;
    std::sort(latencies_ns.begin(), latencies_ns.end());
    const size_t index = std::min(
        latencies_ns.size() - 1, static_cast<size_t>(q * static_cast<double>(latencies_ns.size())));
    return static_cast<double>(latencies_ns[index]) / 1000.0;
  }
};

}  // namespace kvtier::bench
