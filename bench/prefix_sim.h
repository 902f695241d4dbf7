#pragma once

// In-process prefix cache simulations for trace replay, beside the textbook
// prefix-LRU of trace.h:
//   - TierSimulator: the DRAM tier's own eviction order (EvictionOrder with
//     any EvictionPolicyKind, chains kept whole) over a capacity in blocks,
//     optionally over an NVMe tier that keeps demoted blocks in write order
//     (as NvmeTier drops its oldest segment; a block read in DRAM is
//     written again when evicted, as TierStack does), fed as kvtierd is fed: per
//     request, the cached prefix is read, the rest put as a chain.
//   - BeladySimulator: the offline ceiling, evicting the block whose next
//     use is farthest away (deepest first among equals; a block never used
//     again goes at once).
//   - DeadBlockOracleSimulator: what any policy that ranks blocks by what
//     it can learn of them could reach at most if it learned perfectly
//     whether a block will ever be used again (but not when): textbook
//     prefix-LRU that evicts blocks never used again first.
// Capacities count blocks; a request's hits are its leading cached blocks.

#include <cstdint>
#include <deque>
#include <list>
#include <memory>
#include <set>
#include <unordered_map>
#include <vector>

#include "bench/trace.h"
#include "tiers/dram/eviction_order.h"

namespace kvtier::bench {

// Whether the request's last block holds fewer than kTraceBlockTokens tokens.
bool LastBlockPartial(const TraceRequest& request);

// Which DRAM evictions the simulated NVMe tier takes (tiers.admission).
enum class SimAdmission { kAll, kReadOnce, kChain };

class TierSimulator {
 public:
  TierSimulator(tiers::EvictionPolicyKind policy, uint64_t dram_blocks, uint64_t nvme_blocks = 0,
                SimAdmission admission = SimAdmission::kAll);
  ~TierSimulator();
  // Leading blocks found in DRAM or NVMe; then the request's blocks are
  // read or put.
  uint64_t Access(const TraceRequest& request);

 private:
  struct Entry;
  void Insert(uint64_t id, uint64_t parent, bool partial);
  void Demote(Entry& entry);
  bool InNvme(uint64_t id) const { return nvme_.count(id) != 0; }

  uint64_t dram_blocks_;
  uint64_t nvme_blocks_;
  SimAdmission admission_;
  tiers::EvictionOrder order_;
  std::unordered_map<uint64_t, std::unique_ptr<Entry>> dram_;
  std::unordered_map<uint64_t, uint64_t> nvme_;            // id -> write number
  std::deque<std::pair<uint64_t, uint64_t>> nvme_writes_;  // (id, write number), oldest first
  uint64_t next_write_ = 0;
};

// Next use of each block of each request: next_use[r][i] is the next
// request after r that uses block i of request r, kNeverUsedAgain if none.
constexpr uint64_t kNeverUsedAgain = ~0ull;
std::vector<std::vector<uint64_t>> NextUses(const std::vector<TraceRequest>& requests);

class DeadBlockOracleSimulator {
 public:
  DeadBlockOracleSimulator(const std::vector<TraceRequest>& requests, uint64_t capacity_blocks);
  uint64_t Access(const TraceRequest& request);

 private:
  using Order = std::list<uint64_t>;  // most recent first
  uint64_t capacity_;
  size_t position_ = 0;
  std::vector<std::vector<uint64_t>> next_use_;
  Order live_;  // blocks used again later
  Order dead_;  // blocks never used again: evicted first
  std::unordered_map<uint64_t, std::pair<Order*, Order::iterator>> cached_;
};

class BeladySimulator {
 public:
  // `requests` is the whole trace, replayed in order by Access().
  BeladySimulator(const std::vector<TraceRequest>& requests, uint64_t capacity_blocks);
  uint64_t Access(const TraceRequest& request);

 private:
  uint64_t capacity_;
  size_t position_ = 0;
  // next_use_[r][i]: the next request after r using block i of request r.
  std::vector<std::vector<uint64_t>> next_use_;
  // (next use, depth, id), farthest first.
  std::set<std::tuple<uint64_t, uint32_t, uint64_t>, std::greater<>> order_;
  std::unordered_map<uint64_t, std::pair<uint64_t, uint32_t>> cached_;  // id -> (next use, depth)
};

}  // namespace kvtier::bench
