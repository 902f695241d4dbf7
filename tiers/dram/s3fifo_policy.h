#pragma once

#include <deque>
#include <list>
#include <unordered_map>

#include "tiers/dram/eviction_policy.h"

namespace kvtier::tiers {

// S3-FIFO (Yang et al., SOSP 2023) over the candidates: a small FIFO that
// filters one-hit wonders, a main FIFO with lazy promotion by a 2-bit access
// counter (the entry's read count, capped), and a ghost FIFO of recently
// evicted key hashes that sends returning keys straight to main. Weighted by
// bytes: the small queue aims at 10% of the bytes the candidates hold. A
// parent that becomes a candidate again goes to main.
class S3FifoPolicy final : public EvictionPolicy {
 public:
  void RecordAccess(PolicyEntry& entry) override;
  void RecordInsert(PolicyEntry& entry) override;
  void OnInsert(PolicyEntry* entry, bool fresh) override;
  void OnRemove(PolicyEntry* entry) override;
  PolicyEntry* PickVictim(const std::function<bool(const PolicyEntry&)>& can_evict) override;

 private:
  enum Queue : uint8_t { kSmall = 1, kMain = 2 };
  static constexpr uint8_t kMaxFrequency = 3;

  void PushFront(PolicyEntry* entry, Queue queue);
  void Unlink(PolicyEntry* entry);
  void RememberGhost(uint64_t key_hash);
  bool TakeGhost(uint64_t key_hash);

  std::list<PolicyEntry*> small_;  // front: newest
  std::list<PolicyEntry*> main_;
  uint64_t small_bytes_ = 0;
  uint64_t main_bytes_ = 0;
  std::deque<uint64_t> ghost_order_;
  std::unordered_map<uint64_t, uint32_t> ghost_counts_;
};

}  // namespace kvtier::tiers
