#pragma once

#include <list>

#include "tiers/dram/eviction_policy.h"

namespace kvtier::tiers {

// Textbook LRU: evicts the least recently inserted-or-read entry. Kept for
// comparison; a single scan flushes it, which S3-FIFO resists.
class LruPolicy final : public EvictionPolicy {
 public:
  void OnInsert(PolicyEntry* entry) override;
  void OnAccess(PolicyEntry* entry) override;
  void OnRemove(PolicyEntry* entry) override;
  PolicyEntry* PickVictim(const std::function<bool(const PolicyEntry&)>& can_evict) override;

 private:
  std::list<PolicyEntry*> order_;  // front: most recent
};

}  // namespace kvtier::tiers
