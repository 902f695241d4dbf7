#pragma once

// Request traces in the public Mooncake JSONL format, one request a line:
//   {"timestamp": 27482, "input_length": 6955, "output_length": 52,
//    "hash_ids": [46, 47, 48, ...]}
// timestamp is in milliseconds; hash_ids has one id per block of
// kTraceBlockTokens tokens, prefix-chained (two requests share an id only if
// they share every block up to it).

#include <cstdint>
#include <list>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/result.h"

namespace kvtier::bench {

inline constexpr uint32_t kTraceBlockTokens = 512;

struct TraceRequest {
  uint64_t timestamp_ms = 0;
  uint64_t input_length = 0;
  uint64_t output_length = 0;
  std::vector<uint64_t> hash_ids;
};

// Parses one line. Fields may come in any order; unknown fields with number
// or number-array values are ignored. hash_ids is required.
Result<TraceRequest> ParseTraceLine(std::string_view line);

// Reads a whole file; blank lines are skipped; an error names the line.
Result<std::vector<TraceRequest>> LoadTrace(const std::string& path);

// Formats a request as one JSONL line (no newline).
std::string FormatTraceLine(const TraceRequest& request);

// Prefix hit accounting, block- and token-weighted. A request's hit tokens
// are its hit blocks times kTraceBlockTokens, capped at its input length.
struct PrefixHits {
  uint64_t requests = 0;
  uint64_t hit_blocks = 0;
  uint64_t total_blocks = 0;
  uint64_t hit_tokens = 0;
  uint64_t total_tokens = 0;

  void Add(const TraceRequest& request, uint64_t leading_hits);
  double BlockRatio() const;
  double TokenRatio() const;
};

// A textbook prefix-LRU cache of `capacity_blocks` blocks. Access() returns
// how many leading blocks of the request were cached, then makes every block
// of the request most recently used, inserting the missing ones. Blocks are
// touched last to first, so a request's first block ends most recent and a
// chain is evicted from its tail, never leaving a block without its prefix
// ahead of it in recency.
class PrefixLruSimulator {
 public:
  explicit PrefixLruSimulator(uint64_t capacity_blocks) : capacity_(capacity_blocks) {}
  uint64_t Access(const std::vector<uint64_t>& blocks);
  size_t size() const { return index_.size(); }

 private:
  uint64_t capacity_;
  std::list<uint64_t> order_;  // front: most recent
  std::unordered_map<uint64_t, std::list<uint64_t>::iterator> index_;
};

}  // namespace kvtier::bench
