#include "tiers/dram/lru_policy.h"

namespace kvtier::tiers {

void LruPolicy::OnInsert(PolicyEntry* entry) {
  order_.push_front(entry);
  entry->position = order_.begin();
}

void LruPolicy::OnAccess(PolicyEntry* entry) {
  order_.splice(order_.begin(), order_, entry->position);
}

void LruPolicy::OnRemove(PolicyEntry* entry) { order_.erase(entry->position); }

PolicyEntry* LruPolicy::PickVictim(const std::function<bool(const PolicyEntry&)>& can_evict) {
  // Walk from the least recently used end; refused entries stay where they are.
  for (auto it = order_.rbegin(); it != order_.rend(); ++it) {
    if (can_evict(**it)) return *it;
  }
  return nullptr;
}

}  // namespace kvtier::tiers
