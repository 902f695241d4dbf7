#include "tiers/dram/eviction_order.h"

#include <algorithm>

namespace kvtier::tiers {

EvictionOrder::EvictionOrder(std::unique_ptr<EvictionPolicy> policy) : policy_(std::move(policy)) {}

void EvictionOrder::MakeCandidate(PolicyEntry* entry, bool fresh) {
  entry->candidate = true;
  policy_->OnInsert(entry, fresh);
}

void EvictionOrder::DropCandidate(PolicyEntry* entry) {
  entry->candidate = false;
  policy_->OnRemove(entry);
}

void EvictionOrder::Insert(PolicyEntry* entry) {
  entry->id = next_id_++;
  entry->candidate = false;
  entry->counted_in_parent = false;
  entry->cached_children = 0;
  entry->children_seen = 0;
  entry->shared_prefix.store(false, std::memory_order_relaxed);
  entry->lineage = 0;
  all_.push_back(entry);
  entry->all_position = std::prev(all_.end());
  // A second key with the same 64-bit hash keeps no links (eviction order
  // only; the index itself compares whole keys).
  entry->linked = by_hash_.try_emplace(entry->key_hash, entry).second;
  if (entry->linked) {
    auto children = cached_children_.find(entry->key_hash);
    if (children != cached_children_.end()) {
      entry->cached_children = children->second;
      entry->children_seen = children->second;
    }
  }
  if (entry->parent_hash != 0 && entry->parent_hash != entry->key_hash) {
    entry->counted_in_parent = true;
    ++cached_children_[entry->parent_hash];
    auto parent = by_hash_.find(entry->parent_hash);
    if (parent != by_hash_.end()) {
      PolicyEntry* p = parent->second;
      // A partial last block is no divergence: the next turn completes it
      // under another key.
      if (!entry->partial_tail && ++p->children_seen == 2) {
        p->shared_prefix.store(true, std::memory_order_relaxed);
      }
      if (!p->shared_prefix.load(std::memory_order_relaxed)) {
        const uint32_t reads =
            std::max<uint32_t>(p->reads.load(std::memory_order_relaxed), p->returned ? 1 : 0);
        entry->lineage = static_cast<uint8_t>(std::min<uint32_t>(p->lineage + reads, 255));
      }
      if (p->cached_children++ == 0 && p->candidate) DropCandidate(p);
    }
  }
  entry->returned = evicted_recently_.MayContain(entry->key_hash);
  policy_->OnCachedEntries(all_.size());
  policy_->RecordInsert(*entry);
  if (entry->cached_children == 0) MakeCandidate(entry, /*fresh=*/true);
}

void EvictionOrder::Remove(PolicyEntry* entry, bool evicted) {
  if (evicted) {
    policy_->OnEvict(entry);
    evicted_recently_.Add(entry->key_hash, all_.size());
    if (entry->cached_children > 0) ++chain_breaks_;
  }
  if (entry->candidate) DropCandidate(entry);
  all_.erase(entry->all_position);
  policy_->OnCachedEntries(all_.size());
  if (entry->linked) {
    by_hash_.erase(entry->key_hash);
    entry->linked = false;
  }
  if (!entry->counted_in_parent) return;
  entry->counted_in_parent = false;
  auto count = cached_children_.find(entry->parent_hash);
  if (count != cached_children_.end() && --count->second == 0) cached_children_.erase(count);
  auto parent = by_hash_.find(entry->parent_hash);
  if (parent == by_hash_.end()) return;
  PolicyEntry* p = parent->second;
  if (p->cached_children > 0 && --p->cached_children == 0 && !p->candidate) {
    MakeCandidate(p, /*fresh=*/false);
  }
}

PolicyEntry* EvictionOrder::PickVictim(const std::function<bool(const PolicyEntry&)>& can_evict) {
  if (PolicyEntry* victim = policy_->PickVictim(can_evict); victim != nullptr) return victim;
  // Every candidate is pinned (or links form a cycle): the oldest entry that
  // may go, children or not.
  for (PolicyEntry* entry : all_) {
    if (!entry->candidate && can_evict(*entry)) return entry;
  }
  return nullptr;
}

}  // namespace kvtier::tiers
