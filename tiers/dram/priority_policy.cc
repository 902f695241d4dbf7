#include "tiers/dram/priority_policy.h"

#include <algorithm>

namespace kvtier::tiers {

PriorityPolicy::QueueKey PriorityPolicy::LiveKey(PolicyEntry* entry) const {
  return {Priority(*entry), entry->tick.load(std::memory_order_relaxed), entry->id, entry};
}

PriorityPolicy::QueueKey PriorityPolicy::QueuedKey(PolicyEntry* entry) const {
  return {entry->queued_priority, entry->position_tick, entry->id, entry};
}

void PriorityPolicy::Queue(PolicyEntry* entry) {
  const QueueKey key = LiveKey(entry);
  entry->queued_priority = key.priority;
  entry->position_tick = key.tick;
  queue_.insert(key);
}

void PriorityPolicy::OnInsert(PolicyEntry* entry, bool /*fresh*/) { Queue(entry); }

void PriorityPolicy::OnRemove(PolicyEntry* entry) { queue_.erase(QueuedKey(entry)); }

PolicyEntry* PriorityPolicy::PickVictim(const std::function<bool(const PolicyEntry&)>& can_evict) {
  // Each candidate is re-queued at most once per read since it was queued,
  // and refused ones are passed over, so this visits each a bounded number
  // of times.
  for (auto it = queue_.begin(); it != queue_.end();) {
    PolicyEntry* entry = it->entry;
    const QueueKey live = LiveKey(entry);
    if (it->priority < live.priority || it->tick < live.tick) {
      it = queue_.erase(it);
      Queue(entry);  // lands after `it`: visited again later
      continue;
    }
    if (can_evict(*entry)) return entry;
    ++it;
  }
  return nullptr;
}

void LruPolicy::RecordAccess(PolicyEntry& entry) {
  entry.tick.store(NextTick(), std::memory_order_relaxed);
}

uint64_t LruPolicy::Priority(const PolicyEntry& entry) const {
  return entry.tick.load(std::memory_order_relaxed);
}

void PrefixPolicy::RecordAccess(PolicyEntry& entry) {
  entry.stamp.store(inflation_.load(std::memory_order_relaxed), std::memory_order_relaxed);
  entry.tick.store(NextTick(), std::memory_order_relaxed);
  const uint8_t reads = entry.reads.load(std::memory_order_relaxed);
  if (reads < 255) entry.reads.store(reads + 1, std::memory_order_relaxed);
}

void PrefixPolicy::RecordInsert(PolicyEntry& entry) {
  entry.stamp.store(inflation_.load(std::memory_order_relaxed), std::memory_order_relaxed);
  entry.tick.store(NextTick(), std::memory_order_relaxed);
  entry.reads.store(0, std::memory_order_relaxed);
}

uint64_t PrefixPolicy::Value(const PolicyEntry& entry) {
  // A block stored again soon after its eviction counts as read once.
  const uint32_t reads =
      std::max<uint32_t>(entry.reads.load(std::memory_order_relaxed), entry.returned ? 1 : 0);
  if (entry.partial_tail && reads == 0) return static_cast<uint64_t>(kPartialValue * kUnit);
  const double value =
      1.0 + kReadWeight * std::min(reads, kMaxReads) +
      kChildWeight * std::min(entry.children_seen > 0 ? entry.children_seen - 1 : 0, kMaxChildren);
  return static_cast<uint64_t>(value * kUnit);
}

uint64_t PrefixPolicy::Priority(const PolicyEntry& entry) const {
  return entry.stamp.load(std::memory_order_relaxed) + Value(entry);
}

void PrefixPolicy::OnEvict(PolicyEntry* victim) {
  const uint64_t priority = Priority(*victim);
  if (priority > inflation_.load(std::memory_order_relaxed)) {
    inflation_.store(priority, std::memory_order_relaxed);
  }
}

}  // namespace kvtier::tiers
