#pragma once

// Read leases: a MatchPrefix that asks for one pins the matched blocks for a
// few milliseconds, so that a client which matched 40 blocks can read all 40
// although other writers keep evicting.
//
// A lease holds a handle to each block that was in memory when it was taken
// (in DRAM or waiting for its demotion). A held handle pins the block: DRAM
// eviction passes it over, so it is neither evicted nor demoted while the
// lease lives. A Get that names the lease is served from these handles: a
// lease is a snapshot of the matched blocks, unaffected by later puts and
// deletes of the same keys, until it ends.
//
// Matched blocks that were on NVMe are watched: when NVMe evicts one while
// the lease lives (OnNvmeEvicted), the lease keeps the evicted block's
// reader, which keeps its bytes readable (its segment file stays open), and
// a Get that names the lease reads them from there (ReaderFor).
//
// Leases end by Release, or at their deadline: a reaper thread drops expired
// leases without help from clients. Bounds: at most `max_leases` leases and
// `max_bytes` of leased blocks (the memory leases may keep from eviction);
// over either, Take fails with kResourceExhausted (retryable).
//
// Thread-safe.

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "common/result.h"
#include "tiers/block.h"
#include "tiers/tier.h"

namespace kvtier::tiers {

struct LeaseOptions {
  uint32_t default_ms = 0;  // for MatchPrefix requests that ask for none; 0: no lease
  uint32_t max_ms = 30'000;
  uint32_t max_leases = 65'536;
  uint64_t max_bytes = 0;  // 0: a quarter of the DRAM capacity (set by the server)

  Status Validate() const;
};

class LeaseTable {
 public:
  using Clock = std::chrono::steady_clock;
  struct Held {
    std::string key;
    BlockHandle block;
  };

  LeaseTable(uint32_t max_leases, uint64_t max_bytes);
  ~LeaseTable();  // stops the reaper; remaining leases end
  LeaseTable(const LeaseTable&) = delete;
  LeaseTable& operator=(const LeaseTable&) = delete;

  // Leases `blocks` of namespace `namespace_id` for `ttl`; returns the lease
  // id (never 0, hard to guess). Errors: kResourceExhausted when the lease
  // count or the leased bytes would pass their bound.
  Result<uint64_t> Take(uint32_t namespace_id, std::vector<Held> blocks,
                        std::vector<std::string> nvme_keys, std::chrono::milliseconds ttl);
  // The block of `key` that live lease `lease_id` of `namespace_id` holds.
  std::optional<BlockHandle> Find(uint64_t lease_id, uint32_t namespace_id,
                                  std::string_view key) const;
  using Reader = std::function<Result<BlockHandle>()>;
  // The reader of a watched NVMe block of live lease `lease_id` that NVMe
  // has evicted since; nullopt otherwise (read it from the tiers as usual).
  std::optional<Reader> ReaderFor(uint64_t lease_id, uint32_t namespace_id,
                                  std::string_view key) const;
  // NVMe evicted `key`: every live lease watching it keeps `read`. Never
  // blocks (called under NVMe's write lock).
  void OnNvmeEvicted(const BlockKey& key, const Reader& read);
  // Ends a lease early; false when there is none (expired or released).
  bool Release(uint64_t lease_id);

  // active, bytes, taken, released, expired, refused.
  void AddCounters(std::vector<TierCounter>& out) const;

 private:
  struct Lease {
    uint32_t namespace_id = 0;
    Clock::time_point deadline;
    uint64_t bytes = 0;
    std::unordered_map<std::string, BlockHandle> blocks;
    // Watched NVMe blocks by key: empty until NVMe evicts them.
    std::unordered_map<std::string, Reader> on_nvme;
  };

  // The lease if it is live and of `namespace_id`; requires mu_.
  const Lease* LiveLease(uint64_t lease_id, uint32_t namespace_id) const;
  void ReapLoop();
  // Removes lease `it` (mu_ held); its handles are moved to `released` so
  // that they are freed after mu_ is let go.
  void Drop(std::unordered_map<uint64_t, Lease>::iterator it, std::vector<Lease>& released);

  const uint32_t max_leases_;
  const uint64_t max_bytes_;

  mutable std::mutex mu_;
  std::condition_variable reaper_cv_;
  std::unordered_map<uint64_t, Lease> leases_;
  std::multimap<Clock::time_point, uint64_t> deadlines_;
  // Index key (tiers::EncodeIndexKey) -> leases watching it on NVMe.
  std::unordered_multimap<std::string, uint64_t> watched_;
  uint64_t bytes_ = 0;
  std::mt19937_64 ids_;
  bool stopping_ = false;
  uint64_t taken_ = 0;
  uint64_t released_ = 0;
  uint64_t expired_ = 0;
  uint64_t refused_ = 0;
  std::thread reaper_;
};

}  // namespace kvtier::tiers
