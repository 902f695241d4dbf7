#include "tiers/dram/arc_policy.h"

#include <algorithm>

namespace kvtier::tiers {

void ArcPolicy::Ghosts::Add(uint64_t key_hash) {
  order.push_back(key_hash);
  ++counts[key_hash];
  ++live;
}

bool ArcPolicy::Ghosts::Take(uint64_t key_hash) {
  auto it = counts.find(key_hash);
  if (it == counts.end()) return false;
  // The stale hash in `order` is skipped when trimmed.
  if (--it->second == 0) counts.erase(it);
  --live;
  return true;
}

void ArcPolicy::Ghosts::TrimTo(size_t limit) {
  while (live > limit && !order.empty()) {
    const uint64_t oldest = order.front();
    order.pop_front();
    auto it = counts.find(oldest);
    if (it == counts.end()) continue;  // taken already
    if (--it->second == 0) counts.erase(it);
    --live;
  }
  // Hashes taken from the middle leave stale slots; keep them bounded too.
  while (order.size() > 2 * limit + 64) order.pop_front();
}

void ArcPolicy::RecordAccess(PolicyEntry& entry) {
  if (entry.reads.load(std::memory_order_relaxed) < 255) {
    entry.reads.fetch_add(1, std::memory_order_relaxed);
  }
}

void ArcPolicy::RecordInsert(PolicyEntry& entry) {
  entry.reads.store(0, std::memory_order_relaxed);
}

void ArcPolicy::PushFront(PolicyEntry* entry, Queue queue) {
  auto& list = queue == kT1 ? t1_ : t2_;
  list.push_front(entry);
  entry->position = list.begin();
  entry->queue = queue;
}

void ArcPolicy::Unlink(PolicyEntry* entry) {
  (entry->queue == kT1 ? t1_ : t2_).erase(entry->position);
  entry->queue = 0;
}

void ArcPolicy::OnInsert(PolicyEntry* entry, bool fresh) {
  if (!fresh) {
    PushFront(entry, kT2);
    return;
  }
  const double cached = static_cast<double>(t1_.size() + t2_.size() + 1);
  if (b1_.Take(entry->key_hash)) {
    // Evicted from T1 too early: T1 should be larger.
    const double step =
        std::max(1.0, static_cast<double>(b2_.live) / std::max<size_t>(1, b1_.live));
    target_t1_ = std::min(cached, target_t1_ + step);
    PushFront(entry, kT2);
  } else if (b2_.Take(entry->key_hash)) {
    const double step =
        std::max(1.0, static_cast<double>(b1_.live) / std::max<size_t>(1, b2_.live));
    target_t1_ = std::max(0.0, target_t1_ - step);
    PushFront(entry, kT2);
  } else {
    PushFront(entry, kT1);
  }
}

void ArcPolicy::OnRemove(PolicyEntry* entry) { Unlink(entry); }

PolicyEntry* ArcPolicy::PickVictim(const std::function<bool(const PolicyEntry&)>& can_evict) {
  // Each pass returns, clears a reference (at most once per read), or
  // rotates a refused entry; the budget keeps a fully pinned tier from
  // looping.
  size_t budget = 3 * (t1_.size() + t2_.size()) + 1;
  const size_t cached = t1_.size() + t2_.size();
  while (budget-- > 0 && cached > 0 && !(t1_.empty() && t2_.empty())) {
    const bool from_t1 = !t1_.empty() && (t2_.empty() || static_cast<double>(t1_.size()) >=
                                                             std::max(1.0, target_t1_));
    std::list<PolicyEntry*>& list = from_t1 ? t1_ : t2_;
    PolicyEntry* candidate = list.back();
    if (candidate->reads.load(std::memory_order_relaxed) > 0) {
      // Referenced: to the head of T2 with the reference cleared.
      candidate->reads.store(0, std::memory_order_relaxed);
      Unlink(candidate);
      PushFront(candidate, kT2);
      continue;
    }
    if (!can_evict(*candidate)) {
      list.splice(list.begin(), list, candidate->position);
      continue;
    }
    Ghosts& ghosts = from_t1 ? b1_ : b2_;
    ghosts.Add(candidate->key_hash);
    b1_.TrimTo(cached);
    b2_.TrimTo(cached);
    return candidate;
  }
  return nullptr;
}

}  // namespace kvtier::tiers
