#pragma once

// The named workloads of kvtier-bench (see kvtier_bench.cc for the list).

#include <array>
#include <cstdint>
#include <string>

#include "bench/backend.h"
#include "bench/latency.h"
#include "bench/trace.h"

namespace kvtier::bench {

struct BenchOptions {
  Target target;
  std::string workload = "get";
  uint64_t value_size = 256 * 1024;
  uint64_t keys = 1024;          // distinct keys in the working set
  uint32_t batch = 1;            // keys per request
  uint32_t connections = 1;      // one worker thread each
  uint32_t depth = 1;            // requests in flight per connection
  double duration_s = 5;         // timed phase, unless ops is set
  uint64_t ops = 0;              // requests per connection (0: use duration)
  double warmup_s = 1;           // untimed phase before measuring
  double read_ratio = 0.9;       // mixed: share of gets
  uint32_t match_keys = 128;     // match: keys per MatchPrefix
  uint32_t prompt_blocks = 64;   // engine: blocks per prompt
  uint32_t shared_prefixes = 8;  // engine: distinct system prompts
  uint32_t shared_blocks = 32;   // engine: blocks of each system prompt
  std::string trace_path;        // trace: JSONL file; --value-size is the bytes per block
  double time_scale = 0;         // trace: 0 as fast as possible, 1 real time, 0.5 twice as fast
  uint64_t capacity_blocks = 0;  // trace: LRU simulation size (0: from the target's budget)
  bool verify = false;
  // Put values from buffers in the target's shared region (kvtier over
  // --unix: Client::AllocateShared), so the client copies nothing.
  bool in_place = false;
  bool json = false;
  uint64_t seed = 1;
};

struct BenchReport {
  std::array<OpStats, 3> by_kind;  // indexed by OpKind
  double seconds = 0;
  Status status;
  // trace only: the target's prefix hits and a prefix-LRU of the same size.
  bool traced = false;
  PrefixHits target_hits;
  PrefixHits lru_hits;
  PrefixHits belady_hits;  // the offline ceiling (prefix_sim.h) of the same capacity
  uint64_t capacity_blocks = 0;
};

// Bytes a block is assumed to cost in a target beyond its value, when the
// simulation's capacity is derived from the target's memory budget (the
// DRAM tier's block header and index entry, with the key).
inline constexpr uint64_t kSimulatedBlockOverhead = 256;

// Runs `options.workload`: a fill if the workload reads, a warm-up, then the
// timed phase on `connections` threads. `trace` replays the trace once on one
// connection, in timestamp order, without a warm-up.
BenchReport RunWorkload(const BenchOptions& options);

// The key of item i of the working set.
std::string BenchKey(uint64_t i);

}  // namespace kvtier::bench
