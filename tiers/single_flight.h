#pragma once

// Single-flight: concurrent misses of one key share one read below DRAM.
// The first caller for a key (the leader) runs the read; callers that
// arrive while it runs (joiners) wait for it and get a pin on the same
// block, or the same error. So N readers of a missing dataset block cause
// one origin read, and N engines matching one spilled prefix one Blob read.
//
// Thread-safe. A joiner blocks until the leader's read ends: call from
// worker threads only, like the reads it merges.

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

#include "common/result.h"
#include "tiers/block.h"

namespace kvtier::tiers {

enum class Location : uint8_t;

class SingleFlight {
 public:
  using Read = std::function<Result<BlockHandle>(Location* from)>;

  // Runs `read` for `key`, or joins the read of `key` in flight. `*from` is
  // what the read reported; `*joined`, when given, whether this call joined.
  Result<BlockHandle> Do(const std::string& key, const Read& read, Location* from,
                         bool* joined = nullptr);

  // Whether a read of `key` is in flight now.
  bool InFlight(const std::string& key) const;
  // Calls that joined another's read, since construction.
  uint64_t joins() const;

 private:
  struct Flight {
    std::mutex mu;
    std::condition_variable done_cv;
    bool done = false;
    Status status;
    BlockHandle block;
    Location from{};
  };

  mutable std::mutex mu_;
  std::unordered_map<std::string, std::shared_ptr<Flight>> flights_;
  uint64_t joins_ = 0;
};

}  // namespace kvtier::tiers
