#pragma once

#include <deque>
#include <list>
#include <unordered_map>

#include "tiers/dram/eviction_policy.h"

namespace kvtier::tiers {

// ARC (Megiddo and Modha, FAST 2003) in its CLOCK form, CAR (Bansal and
// Modha, FAST 2004), over the candidates: reads only set a reference (the
// entry's read count), so they need no lock. T1 holds blocks seen once, T2
// blocks seen again; ghost lists B1 and B2 remember the hashes recently
// evicted from each and move the target size of T1 (p) towards the list
// whose ghosts are hit. Counted in entries. A parent that becomes a
// candidate again goes to T2.
class ArcPolicy final : public EvictionPolicy {
 public:
  void RecordAccess(PolicyEntry& entry) override;
  void RecordInsert(PolicyEntry& entry) override;
  void OnInsert(PolicyEntry* entry, bool fresh) override;
  void OnRemove(PolicyEntry* entry) override;
  PolicyEntry* PickVictim(const std::function<bool(const PolicyEntry&)>& can_evict) override;

 private:
  enum Queue : uint8_t { kT1 = 1, kT2 = 2 };
  struct Ghosts {
    std::deque<uint64_t> order;  // back: newest; may hold stale hashes
    std::unordered_map<uint64_t, uint32_t> counts;
    size_t live = 0;
    void Add(uint64_t key_hash);
    bool Take(uint64_t key_hash);
    void TrimTo(size_t limit);
  };

  void PushFront(PolicyEntry* entry, Queue queue);
  void Unlink(PolicyEntry* entry);

  std::list<PolicyEntry*> t1_;  // front: newest
  std::list<PolicyEntry*> t2_;
  Ghosts b1_;
  Ghosts b2_;
  double target_t1_ = 0;  // p
};

}  // namespace kvtier::tiers
